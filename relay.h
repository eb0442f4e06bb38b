/* relay: the tunnel loop. Descriptors, buffers and a timer; no HTTP. */
#ifndef RELAY_H
#define RELAY_H

#include <stddef.h>

enum relay_end { END_EOF, END_IDLE, END_RESET, END_ERROR, END_SIGNAL };

struct relay {
	int in, out;		/* the client: one socket twice, or two pipes */
	int target;		/* the connected target socket, non-blocking */
	unsigned idle;		/* seconds without a byte moving; 0 = none */
	unsigned long long up, down;	/* bytes delivered to the target, to the client */
};

void		 relay_init(struct relay *);
enum relay_end	 relay_run(struct relay *, const char *, size_t);
extern const char *const relay_endname[];

#endif
