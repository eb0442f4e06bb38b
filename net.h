/* net: name resolution and connection, each bounded by a deadline. */
#ifndef NET_H
#define NET_H

#include <sys/select.h>
#include <sys/socket.h>
#include <signal.h>
#include <stddef.h>

#include "connectd.h"

struct addrs {
	struct sockaddr_storage a[ADDRS_MAX];
	size_t n;
};

/* What went wrong, for the status and the Proxy-Status error type. */
struct neterr {
	enum status status;
	const char *type;
};

long long	 net_now(void);
int		 net_numeric(const char *, unsigned, struct sockaddr_storage *);
int		 net_resolve(const char *, unsigned, int, long long, struct addrs *, struct neterr *);
int		 net_connect(const struct addrs *, const struct sockaddr_storage *, long long,
		    struct neterr *);
unsigned	 net_port(const struct sockaddr *);
void		 net_format(const struct sockaddr *, char *, size_t);
int		 net_wait(int, int, long long);
int		 net_select(int, fd_set *, fd_set *, const struct timespec *);
void		 net_catch(void);
int		 net_stopped(void);
const sigset_t	*net_waitmask(void);
int		 net_issock(int);
int		 net_samefile(int, int);
void		 net_inline(int);

#endif
