/* net: name resolution and connection, each bounded by a deadline. */
#ifndef NET_H
#define NET_H

#include <sys/select.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <netinet/in.h>
#include <signal.h>
#include <stddef.h>

#include "connectd.h"

/* A name to resolve, and which of its addresses to keep. */
struct query {
	const char *host;
	unsigned port;
	int family;				/* AF_UNSPEC, AF_INET or AF_INET6 */
	int (*keep)(const struct sockaddr *, const void *);	/* 1: keep it */
	const void *arg;			/* keep's second argument */
};

/* The addresses kept, in the resolver's order, and the first one refused. */
/* An IPv4 or IPv6 address and port, in the room of the larger (not 128 bytes). */
union netaddr {
	struct sockaddr sa;
	struct sockaddr_in in;
	struct sockaddr_in6 in6;
};

struct addrs {
	union netaddr a[ADDRS_MAX];
	size_t n;
	union netaddr refused;	/* when nrefused > 0 */
	size_t nrefused;
};

/* What went wrong, for the status and the Proxy-Status error type. */
struct neterr {
	enum status status;
	const char *type;
};

long long	 net_now(void);
int		 net_numeric(const char *, unsigned, struct sockaddr_storage *);
void		 net_add(const struct query *, const struct sockaddr *, struct addrs *);
int		 net_resolve(const struct query *, long long, struct addrs *, struct neterr *);
int		 net_connect(const struct addrs *, const struct sockaddr_storage *, long long, unsigned,
		    struct neterr *);
unsigned	 net_port(const struct sockaddr *);
void		 net_format(const struct sockaddr *, char *, size_t);
int		 net_wait(int, int, long long);
int		 net_select(int, fd_set *, fd_set *, const struct timespec *);
void		 net_catch(void);
int		 net_stopped(void);
const sigset_t	*net_waitmask(void);
void		 net_look(void);
int		 net_stat(int, struct stat *);
int		 net_issock(int);
int		 net_samefile(int, int);
int		 net_stderr_client(void);
void		 net_inline(int);

#endif
