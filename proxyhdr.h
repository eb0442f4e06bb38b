/* proxyhdr: the PROXY protocol header of a load balancer, and who may send one. Pure. */
#ifndef PROXYHDR_H
#define PROXYHDR_H

#include <sys/socket.h>
#include <stddef.h>

#include "connectd.h"
#include "policy.h"

enum proxyhdr_status {
	PROXYHDR_MORE,		/* a prefix of a header: read more */
	PROXYHDR_OK,		/* a whole, valid header of len bytes */
	PROXYHDR_MISSING,	/* the bytes do not begin with a PROXY signature */
	PROXYHDR_INVALID	/* a PROXY signature, then not a valid header */
};

struct proxyhdr {
	size_t len;		/* bytes of the header; the request follows */
	int version;		/* 1 or 2, once the signature is known */
	int local;		/* the balancer's own connection: v1 UNKNOWN, v2 LOCAL, no TCP client */
	struct sockaddr_storage src;	/* unless local: the client */
	struct sockaddr_storage dst;	/* unless local: the address the client reached */
	const char *why;	/* fixed text: what was wrong */
};

enum proxyhdr_status	proxyhdr_parse(const char *, size_t, struct proxyhdr *);
int			proxyhdr_own(const struct proxyhdr *, const struct sockaddr *);
int			proxyhdr_trusted(const struct cidr *, size_t, const struct sockaddr *);

#endif
