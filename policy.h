/* policy: which ports, target names and target addresses may be reached. Pure. */
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

/* The three forms of a name pattern of -A and -D. */
enum name_form {
	NAME_EXACT,			/* example.com: that name */
	NAME_DOMAIN,			/* .example.com: that name and every name under it */
	NAME_UNDER			/* *.example.com: every name under it */
};

/* A name rule's log text, "deny-name:.example.com": the pattern as given. */
#define NAMEWHY_MAX	(sizeof "allow-name:" + PATTERN_MAX)

/* Small: connectd touches a page per 256 rules, more only for long patterns. */
struct namerule {
	const char *why;		/* the log text, in the policy's nametext */
	unsigned short at, len;		/* the name in why, without prefix or final dot */
	unsigned char allow;
	unsigned char form;		/* enum name_form */
};

/* What the name rules say of a target, before any lookup. */
enum policy_name {
	POLICY_NAME_NONE,		/* no name rule decides: judge the addresses */
	POLICY_NAME_ALLOW,		/* an -A rule matched: judge the addresses, opened */
	POLICY_NAME_DENY		/* refused: by a -D rule, or by default */
};

struct policy {
	struct portrange ports[PORTS_MAX];
	size_t nports;
	struct rule rules[RULES_MAX];
	size_t nrules;
	int anyallow;			/* some -a was given: deny what none matches */
	int family;			/* AF_UNSPEC, or the only family allowed (-4, -6) */
	char names[RULES_MAX][64];
	struct namerule namerules[NAMES_MAX];
	size_t nnames;
	int anyallowname;		/* some -A was given */
	size_t nametextlen;		/* bytes used in nametext */
	char nametext[NAMES_MAX * NAMEWHY_MAX];	/* the rules' log texts, one after another */
};

const char	*policy_add_ports(struct policy *, const char *);
const char	*policy_add_rule(struct policy *, int, const char *);
int		 policy_cidr(const char *, struct cidr *);
int		 policy_inside(const struct cidr *, int, const unsigned char *);
int		 policy_port(const struct policy *, unsigned);
int		 policy_check(const struct policy *, const struct sockaddr *, const char **);
const char	*policy_add_name(struct policy *, int, const char *);
enum policy_name policy_name(const struct policy *, const char *, int, const char **);
int		 policy_check_named(const struct policy *, const struct sockaddr *, const char **);

#endif
