/* parse: the CONNECT request head, and the numbers of the command line. Pure. */
#ifndef PARSE_H
#define PARSE_H

#include <stddef.h>

#include "connectd.h"

enum host_kind { HOST_NAME, HOST_V4, HOST_V6 };

struct request {
	size_t headlen;		/* bytes of the head, blank line included */
	const char *target;	/* the authority as sent, in the caller's buffer */
	size_t targetlen;
	char host[HOST_MAX + 2];	/* NUL-terminated, without brackets */
	enum host_kind kind;
	unsigned port;
	int minor;		/* HTTP/1.minor */
	const char *auth;	/* the first Proxy-Authorization value, in the caller's buffer */
	size_t authlen;		/* its length, without the whitespace around it */
	int nauth;		/* how many Proxy-Authorization fields came */
	const char *why;	/* fixed text: what was wrong, for Proxy-Status */
};

enum status	parse_request(const char *, size_t, struct request *);

#endif
