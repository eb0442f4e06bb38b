/* policy: which ports and target addresses may be reached. Pure. */
#ifndef POLICY_H
#define POLICY_H

#include <sys/socket.h>
#include <stddef.h>

#include "connectd.h"

struct portrange {
	unsigned lo, hi;
};

struct cidr {
	int family;			/* AF_INET or AF_INET6 */
	unsigned char addr[16];		/* network byte order */
	unsigned prefix;
};

struct rule {
	int allow;
	struct cidr net;
	const char *name;		/* for the log: "deny:10.0.0.0/8" */
};

struct policy {
	struct portrange ports[PORTS_MAX];
	size_t nports;
	struct rule rules[RULES_MAX];
	size_t nrules;
	int anyallow;			/* some -a was given: deny what none matches */
	int family;			/* AF_UNSPEC, or the only family allowed (-4, -6) */
	char names[RULES_MAX][64];
};

const char	*policy_add_ports(struct policy *, const char *);
const char	*policy_add_rule(struct policy *, int, const char *);
int		 policy_port(const struct policy *, unsigned);
int		 policy_check(const struct policy *, const struct sockaddr *, const char **);

#endif
