/*
 * Two directions, client to target and target to client, moved with select().
 * A direction reads only while its buffer has room and writes only while it
 * holds bytes. After EOF it drains, then half-closes the far side: shutdown()
 * on a socket, close() on a pipe. The tunnel is done when both directions are.
 * An error (a reset) reading a socket is an EOF that names the tunnel's end;
 * nothing can be written to that socket any more either, so the direction
 * towards it is dropped, and the tunnel ends once the bytes read before the
 * error are delivered. An error writing drops the bytes that wait for it.
 * When both ends of a direction are sockets, its buffer is a pipe and the
 * bytes move with splice(), never copied through user space.
 */
#define _GNU_SOURCE	/* splice, F_SETPIPE_SZ */
#include <sys/select.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "connectd.h"
#include "relay.h"

const char *const relay_endname[] = {
	[END_EOF] = "eof",
	[END_IDLE] = "idle",
	[END_RESET] = "reset",
	[END_ERROR] = "error",
	[END_SIGNAL] = "signal",
};

struct dir {
	int rfd, wfd;
	int rsock, wsock;		/* descriptor is a socket */
	int pipe[2];			/* the buffer, for splice(); else -1 */
	int eof, done;
	int sever;			/* a read error on rfd also ends the other direction */
	int broke;			/* reading rfd failed */
	int full;			/* the pipe took no more: wait for it to drain */
	size_t off, len, cap;		/* waiting: buf[off..len), or len bytes in the pipe */
	unsigned long long *count;
	char *buf;			/* bufs[i]: apart, so that setting up a dir writes none of it */
};

static volatile sig_atomic_t stopped;

static void
stop(int sig)
{
	(void)sig;
	stopped = 1;
}

static int
issock(int fd)
{
	struct stat st;

	return fstat(fd, &st) == 0 && S_ISSOCK(st.st_mode);
}

/* Are the two descriptors one socket (a super-server's client)? */
static int
onesocket(int a, int b)
{
	struct stat sa, sb;

	return fstat(a, &sa) == 0 && fstat(b, &sb) == 0 && S_ISSOCK(sa.st_mode) &&
	    sa.st_dev == sb.st_dev && sa.st_ino == sb.st_ino;
}

static long long
now(void)
{
	struct timespec ts;

	(void)clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

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
}

static int
fill(struct dir *d, enum relay_end *end)
{
	ssize_t n;

	if (d->pipe[1] != -1)
		n = splice(d->rfd, NULL, d->pipe[1], NULL, d->cap - d->len,
		    SPLICE_F_MOVE | SPLICE_F_NONBLOCK);
	else if (d->rsock)
		n = recv(d->rfd, d->buf + d->len, d->cap - d->len, MSG_DONTWAIT);
	else
		n = read(d->rfd, d->buf + d->len, d->cap - d->len);
	if (n > 0)
		d->len += (size_t)n;
	else if (n == 0)
		d->eof = 1;
	else if (errno == EAGAIN)
		d->full = d->pipe[1] != -1 && d->len > 0;	/* out of pipe slots */
	else if (errno != EINTR) {
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
	if (d->pipe[0] != -1)
		n = splice(d->pipe[0], NULL, d->wfd, NULL, k, SPLICE_F_MOVE | SPLICE_F_NONBLOCK);
	else if (d->wsock)
		n = send(d->wfd, d->buf + d->off, k, MSG_DONTWAIT | MSG_NOSIGNAL);
	else
		n = write(d->wfd, d->buf + d->off, k);
	if (n > 0) {
		if (d->pipe[0] != -1)
			d->len -= (size_t)n;	/* the pipe is a queue: its room grows back */
		else
			d->off += (size_t)n;
		*d->count += (unsigned long long)n;
		d->full = 0;
		if (d->off == d->len)
			d->off = d->len = 0;
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
	if (d->done || !d->eof || d->off != d->len)
		return;
	d->done = 1;
	if (d->wsock)
		(void)shutdown(d->wfd, SHUT_WR);
	else
		(void)close(d->wfd);
}

/* select()'s sets for the directions that are not done; the highest fd + 1. */
static int
watch(struct dir *d, size_t n, fd_set *r, fd_set *w)
{
	int max = -1;
	size_t i;

	FD_ZERO(r);
	FD_ZERO(w);
	for (i = 0; i < n; i++) {
		if (d[i].done)
			continue;
		if (!d[i].eof && !d[i].full && d[i].len < d[i].cap) {
			FD_SET(d[i].rfd, r);
			max = d[i].rfd > max ? d[i].rfd : max;
		}
		if (d[i].off < d[i].len) {
			FD_SET(d[i].wfd, w);
			max = d[i].wfd > max ? d[i].wfd : max;
		}
	}
	return max + 1;
}

static int
timer(const struct relay *rl, long long last, struct timespec *ts)
{
	long long left = last + (long long)rl->idle * 1000 - now();

	if (left < 0)
		left = 0;
	ts->tv_sec = (time_t)(left / 1000);
	ts->tv_nsec = (long)(left % 1000) * 1000000;
	return rl->idle > 0;
}

/*
 * A pipe for splice() when both ends are sockets, else the user-space buffer.
 * Sockets go non-blocking: a splice() into a blocking one can wait.
 */
static void
plumb(struct dir *d)
{
	int sz;

	d->rsock = issock(d->rfd);
	d->wsock = issock(d->wfd);
	d->pipe[0] = d->pipe[1] = -1;
	d->cap = RELAY_BUF;
	if (!d->rsock || !d->wsock || pipe2(d->pipe, O_NONBLOCK | O_CLOEXEC) == -1)
		return;
	if ((sz = fcntl(d->pipe[1], F_SETPIPE_SZ, RELAY_PIPE)) == -1)
		sz = fcntl(d->pipe[1], F_GETPIPE_SZ);
	if (sz <= 0 || fcntl(d->rfd, F_SETFL, fcntl(d->rfd, F_GETFL) | O_NONBLOCK) == -1 ||
	    fcntl(d->wfd, F_SETFL, fcntl(d->wfd, F_GETFL) | O_NONBLOCK) == -1) {
		(void)close(d->pipe[0]);
		(void)close(d->pipe[1]);
		d->pipe[0] = d->pipe[1] = -1;
		return;
	}
	d->cap = (size_t)sz;
}

static struct dir d[2];
static char bufs[2][RELAY_BUF];	/* untouched, so never resident, while splicing */
static sigset_t waitmask;	/* pselect's mask: SIGTERM and SIGHUP let through */

/* Everything that needs a system call other than moving bytes, done before the sandbox. */
void
relay_init(struct relay *rl)
{
	struct sigaction sa = { .sa_handler = stop };
	sigset_t block;
	size_t i;

	d[0] = (struct dir){ .rfd = rl->in, .wfd = rl->target, .count = &rl->up,
	    .sever = onesocket(rl->in, rl->out), .buf = bufs[0] };
	d[1] = (struct dir){ .rfd = rl->target, .wfd = rl->out, .count = &rl->down, .sever = 1,
	    .buf = bufs[1] };
	for (i = 0; i < 2; i++)
		plumb(&d[i]);
	(void)sigemptyset(&block);
	(void)sigaddset(&block, SIGTERM);
	(void)sigaddset(&block, SIGHUP);
	(void)sigprocmask(SIG_BLOCK, &block, &waitmask);
	(void)sigaction(SIGTERM, &sa, NULL);
	(void)sigaction(SIGHUP, &sa, NULL);
	(void)sigdelset(&waitmask, SIGTERM);
	(void)sigdelset(&waitmask, SIGHUP);
}

/* pre: bytes the client sent after the request head, for the target first. */
enum relay_end
relay_run(struct relay *rl, const char *pre, size_t prelen)
{
	struct timespec ts;
	fd_set r, w;
	enum relay_end end = END_EOF;
	long long last = now();
	int nfds, n, moved;
	size_t i;

	d[0].len = prelen < d[0].cap ? prelen : d[0].cap;
	if (d[0].pipe[1] == -1)
		memcpy(d[0].buf, pre, d[0].len);
	else if (d[0].len > 0 && write(d[0].pipe[1], pre, d[0].len) != (ssize_t)d[0].len)
		return END_ERROR;
	while (!(d[0].done && d[1].done)) {
		nfds = watch(d, 2, &r, &w);
		n = pselect(nfds, &r, &w, NULL, timer(rl, last, &ts) ? &ts : NULL, &waitmask);
		if (n == -1 && errno == EINTR && stopped)
			return END_SIGNAL;
		if (n == -1 && errno != EINTR)
			return END_ERROR;
		if (n == 0)
			return end == END_EOF ? END_IDLE : end;
		if (n == -1)
			continue;
		moved = 0;
		for (i = 0; i < 2; i++) {
			if (!d[i].done && FD_ISSET(d[i].rfd, &r) && fill(&d[i], &end)) {
				moved = 1;
				if (d[i].pipe[0] != -1)
					FD_SET(d[i].wfd, &w);	/* try at once: a socket says EAGAIN */
			}
			if (!d[i].done && FD_ISSET(d[i].wfd, &w) && d[i].off < d[i].len)
				moved |= flush(&d[i], &end);
		}
		for (i = 0; i < 2; i++)
			if (d[i].broke && d[i].sever)
				drop(&d[1 - i]);	/* its socket is broken */
		for (i = 0; i < 2; i++)
			finish(&d[i]);
		if (moved)
			last = now();
	}
	return end;
}
