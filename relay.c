/*
 * Two directions, client to target and target to client, moved with select().
 * A direction reads only while it has room and writes only while it holds
 * bytes. After EOF it drains, then half-closes the far side: shutdown() on a
 * socket, close() on a pipe. The tunnel is done when both directions are.
 * An error (a reset) reading a socket is an EOF that names the tunnel's end;
 * nothing can be written to that socket any more either, so the direction
 * towards it is dropped, and the tunnel ends once the bytes read before the
 * error are delivered. An error writing drops the bytes that wait for it.
 *
 * When both ends of a direction are sockets, its bytes go through a pipe with
 * splice(), never copied through user space. The user-space buffer then holds
 * only what must go before the pipe's bytes: what the client sent after the
 * request head, and the bytes at a TCP urgent mark, where splice() stops
 * (urgent data is inline, SO_OOBINLINE, so recv() reads past the mark). A byte
 * enters the buffer only while the pipe is empty, so the buffer's bytes are
 * always older than the pipe's.
 *
 * A descriptor that select() says is ready but that moves nothing does not
 * make the loop spin: its direction is left out of the next waits for a time
 * that doubles, up to HOLD_MAX milliseconds, until it moves again.
 */
#define _GNU_SOURCE	/* splice, F_SETPIPE_SZ */
#include <sys/ioctl.h>
#include <sys/select.h>
#include <sys/socket.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "connectd.h"
#include "net.h"
#include "relay.h"

#define HOLD_MAX	256	/* ms: the longest a direction that moved nothing is left out */

struct dir {
	int rfd, wfd;
	int rsock, wsock;		/* the descriptor is a socket */
	int pipe[2];			/* splice()'s buffer, or -1 */
	size_t inpipe, cap;		/* bytes in the pipe; its size */
	int full;			/* the pipe took no more: wait for it to drain */
	int grown;			/* the pipe was offered RELAY_PIPE_BULK */
	char *buf;			/* bytes that go before the pipe's: buf[off..len) */
	size_t off, len;
	int eof, done;
	int sever;			/* a read error on rfd also ends the other direction */
	int broke;			/* reading rfd failed */
	unsigned holds;			/* rounds in a row that were ready and moved nothing */
	long long hold;			/* left out of the waits until then (ms), or 0 */
	unsigned long long *count;
};

/*
 * The whole state of the tunnel. A spliced tunnel never touches the
 * buffers; the directions come last, in the page of the small variables
 * that the next files and the C library put after them.
 */
static struct tunnel {
	char bufs[2][RELAY_BUF];
	struct dir d[2];
} tn __attribute__((aligned(4096)));

const char *const relay_endname[] = {
	[END_EOF] = "eof",
	[END_IDLE] = "idle",
	[END_RESET] = "reset",
	[END_ERROR] = "error",
	[END_SIGNAL] = "signal",
};

/* The first error names the tunnel's end. */
static void
failed(enum relay_end *end)
{
	if (*end == END_EOF)
		*end = (errno == ECONNRESET || errno == EPIPE) ? END_RESET : END_ERROR;
}

/* Nothing more can be written to d->wfd: drop what waits for it. */
static void
drop(struct dir *d)
{
	d->eof = 1;
	d->off = d->len = 0;
	d->inpipe = 0;
}

static size_t
waiting(const struct dir *d)
{
	return d->len - d->off + d->inpipe;
}

static int
room(const struct dir *d)
{
	return d->pipe[1] != -1 ? !d->full && d->inpipe < d->cap : d->len < RELAY_BUF;
}

/* Into the user-space buffer. */
static ssize_t
readbuf(struct dir *d)
{
	ssize_t n;

	if (d->rsock)
		n = recv(d->rfd, d->buf + d->len, RELAY_BUF - d->len, MSG_DONTWAIT);
	else
		n = read(d->rfd, d->buf + d->len, RELAY_BUF - d->len);
	if (n > 0)
		d->len += (size_t)n;
	return n;
}

/*
 * A pipe that one read filled: the direction carries bulk. Once, a pipe of
 * RELAY_PIPE_BULK, where the kernel's limit of pipe pages for the user
 * allows it (else it stays as it is).
 */
static void
grow(struct dir *d)
{
	int sz;

	if (d->grown)
		return;
	d->grown = 1;
	if ((sz = fcntl(d->pipe[1], F_SETPIPE_SZ, RELAY_PIPE_BULK)) > 0 && (size_t)sz > d->cap)
		d->cap = (size_t)sz;
}

/* Into the pipe; at an urgent mark, past it into the buffer. */
static ssize_t
readpipe(struct dir *d)
{
	ssize_t n;

	n = splice(d->rfd, NULL, d->pipe[1], NULL, d->cap - d->inpipe,
	    SPLICE_F_MOVE | SPLICE_F_NONBLOCK);
	if (n > 0) {
		if ((d->inpipe += (size_t)n) == d->cap)
			grow(d);
		return n;
	}
	if (n == -1 && errno != EAGAIN)
		return n;
	if (d->inpipe > 0)
		grow(d);	/* its slots ran out before its bytes did: bulk too */
	/*
	 * Out of pipe slots, at an urgent mark (EAGAIN; or 0 when an EOF is
	 * behind the mark), or at the EOF. With the pipe empty, recv() reads
	 * on, or says which it was; else wait for the pipe to drain.
	 */
	if (d->inpipe == 0 && d->len < RELAY_BUF)
		return readbuf(d);
	d->full = 1;
	errno = EAGAIN;
	return -1;
}

static int
fill(struct dir *d, enum relay_end *end)
{
	ssize_t n = d->pipe[1] != -1 ? readpipe(d) : readbuf(d);

	if (n == 0)
		d->eof = 1;
	else if (n == -1 && errno != EAGAIN && errno != EINTR) {
		failed(end);
		d->eof = d->broke = 1;	/* what was read before still goes on */
	}
	return n > 0;
}

static int
flush(struct dir *d, enum relay_end *end)
{
	size_t k = d->len - d->off;
	ssize_t n;

	if (!d->wsock && k > PIPE_BUF)
		k = PIPE_BUF;	/* a writable pipe takes this much without blocking */
	if (k == 0)
		n = splice(d->pipe[0], NULL, d->wfd, NULL, d->inpipe,
		    SPLICE_F_MOVE | SPLICE_F_NONBLOCK);
	else if (d->wsock)
		n = send(d->wfd, d->buf + d->off, k, MSG_DONTWAIT | MSG_NOSIGNAL);
	else
		n = write(d->wfd, d->buf + d->off, k);
	if (n > 0) {
		if (k == 0) {
			d->inpipe -= (size_t)n;	/* the pipe is a queue: its room grows back */
			d->full = 0;
		} else if ((d->off += (size_t)n) == d->len)
			d->off = d->len = 0;
		*d->count += (unsigned long long)n;
	} else if (n == -1 && errno != EINTR && errno != EAGAIN) {
		failed(end);
		drop(d);
	}
	return n > 0;
}

/* Drained after EOF: pass the EOF on. */
static void
finish(struct dir *d)
{
	if (d->done || !d->eof || waiting(d) > 0)
		return;
	d->done = 1;
	if (d->wsock)
		(void)shutdown(d->wfd, SHUT_WR);
	else
		(void)close(d->wfd);
}

static void
add(int fd, fd_set *set, int *max)
{
	FD_SET(fd, set);
	if (fd > *max)
		*max = fd;
}

/* select()'s sets for the directions that are not done or held; the highest fd + 1. */
static int
watch(fd_set *r, fd_set *w, long long now)
{
	struct dir *d;
	int max = -1;

	FD_ZERO(r);
	FD_ZERO(w);
	for (d = tn.d; d < tn.d + 2; d++) {
		if (d->done || d->hold > now)
			continue;
		if (!d->eof && room(d))
			add(d->rfd, r, &max);
		if (waiting(d) > 0)
			add(d->wfd, w, &max);
	}
	return max + 1;
}

/* The wait: until the idle timeout, or the end of the first hold; 0 when none. */
static int
timer(const struct relay *rl, long long last, long long now, struct timespec *ts)
{
	long long until = rl->idle > 0 ? last + (long long)rl->idle * 1000 : 0;
	const struct dir *d;

	for (d = tn.d; d < tn.d + 2; d++)
		if (!d->done && d->hold > now && (until == 0 || d->hold < until))
			until = d->hold;
	if (until == 0)
		return 0;
	until = until > now ? until - now : 0;
	ts->tv_sec = (time_t)(until / 1000);
	ts->tv_nsec = (long)(until % 1000) * 1000000;
	return 1;
}

/* Ready and moved nothing: leave the direction out for 1, 2, 4 ... HOLD_MAX ms. */
static void
hold(struct dir *d, long long now)
{
	long long ms = 1LL << (d->holds < 8 ? d->holds : 8);

	d->hold = now + (ms < HOLD_MAX ? ms : HOLD_MAX);
	d->holds++;
}

/* One direction's turn at what select() found ready: 1 when a byte moved. */
static int
turn(struct dir *d, fd_set *r, fd_set *w, enum relay_end *end, long long now)
{
	int ready = 0, moved = 0, eof = d->eof;

	if (d->done || d->hold > now)
		return 0;
	if (FD_ISSET(d->rfd, r)) {
		ready = 1;
		if ((moved = fill(d, end)) && d->pipe[0] != -1)
			FD_SET(d->wfd, w);	/* try at once: a socket says EAGAIN */
	}
	if (FD_ISSET(d->wfd, w) && waiting(d) > 0) {
		ready = 1;
		moved |= flush(d, end);
	}
	if (moved || !ready || d->eof != eof)
		d->holds = 0;
	else
		hold(d, now);
	return moved;
}

/* A descriptor made non-blocking, in one call: 0, or -1. */
static int
nonblock(int fd)
{
	int one = 1;

	return ioctl(fd, FIONBIO, &one);
}

/*
 * A pipe for splice() when both ends are sockets, else the user-space buffer.
 * The pipe keeps the size it is made with (RELAY_PIPE is that size, an upper
 * bound of what one splice() asks of it: a pipe the kernel made smaller
 * takes less); a test build sets a smaller one. Sockets go non-blocking: a
 * splice() into a blocking one can wait. Each socket is made so once (the
 * client's one socket on 0 and 1 is one file; the target's is non-blocking
 * from the start).
 */
static void
plumb(struct dir *d, int setrfd, int setwfd)
{
	int sz = RELAY_PIPE;

	d->pipe[0] = d->pipe[1] = -1;
	if (!d->rsock || !d->wsock || pipe2(d->pipe, O_NONBLOCK | O_CLOEXEC) == -1)
		return;
	if (RELAY_PIPE != PIPE_DEFAULT && (sz = fcntl(d->pipe[1], F_SETPIPE_SZ, RELAY_PIPE)) == -1)
		sz = fcntl(d->pipe[1], F_GETPIPE_SZ);
	if (sz <= 0 || (setrfd && nonblock(d->rfd) == -1) || (setwfd && nonblock(d->wfd) == -1)) {
		(void)close(d->pipe[0]);
		(void)close(d->pipe[1]);
		d->pipe[0] = d->pipe[1] = -1;
		return;
	}
	d->cap = (size_t)sz;
}

/*
 * Everything that needs a system call other than moving bytes, done before
 * the sandbox, each call once: the client's descriptors are looked at once
 * each, the target is a socket. Urgent data is inline on the target (the
 * client's socket on descriptor 0 has it so from the start).
 */
void
relay_init(struct relay *rl)
{
	int insock = net_issock(rl->in), outsock = net_issock(rl->out);
	int one = insock && outsock && net_samefile(rl->in, rl->out);

	tn.d[0] = (struct dir){ .rfd = rl->in, .wfd = rl->target, .count = &rl->up,
	    .rsock = insock, .wsock = 1, .sever = one, .buf = tn.bufs[0] };
	tn.d[1] = (struct dir){ .rfd = rl->target, .wfd = rl->out, .count = &rl->down,
	    .rsock = 1, .wsock = outsock, .sever = 1, .buf = tn.bufs[1] };
	if (insock && rl->in != 0)
		net_inline(rl->in);
	net_inline(rl->target);
	plumb(&tn.d[0], 1, 0);
	plumb(&tn.d[1], 0, !one || tn.d[0].pipe[0] == -1);
}

/* pre: bytes the client sent after the request head, for the target first. */
enum relay_end
relay_run(struct relay *rl, const char *pre, size_t prelen)
{
	struct timespec ts;
	fd_set r, w;
	enum relay_end end = END_EOF;
	long long now = net_now(), last = now;
	int i, n, moved;

	_Static_assert(HEAD_MAX <= RELAY_BUF, "the bytes after a head fit in a buffer");
	memcpy(tn.d[0].buf, pre, prelen);
	tn.d[0].len = prelen;
	while (!(tn.d[0].done && tn.d[1].done)) {
		n = watch(&r, &w, now);
		n = net_select(n, &r, &w, timer(rl, last, now, &ts) ? &ts : NULL);
		now = net_now();
		if (n == -1 && errno == EINTR && net_stopped())
			return END_SIGNAL;
		if (n == -1 && errno != EINTR)
			return END_ERROR;
		if (n == 0 && rl->idle > 0 && now - last >= (long long)rl->idle * 1000)
			return end == END_EOF ? END_IDLE : end;
		if (n <= 0)
			continue;
		moved = turn(&tn.d[0], &r, &w, &end, now);
		moved |= turn(&tn.d[1], &r, &w, &end, now);
		for (i = 0; i < 2; i++)
			if (tn.d[i].broke && tn.d[i].sever)
				drop(&tn.d[1 - i]);	/* its socket is broken */
		finish(&tn.d[0]);
		finish(&tn.d[1]);
		if (moved)
			last = now;
	}
	return end;
}
