/*
 * relay: the bench's ceiling of the process-per-connection model, the least
 * that a CONNECT proxy started by a super-server for each connection can
 * do. It is no part of connectd and must never serve anyone: no checks, no
 * limits but the head's buffer, no timeouts, no log.
 *
 * With the client on descriptors 0 and 1 (one socket, as a super-server
 * gives it), it reads a head "CONNECT a.b.c.d:port ...\r\n\r\n" (a numeric
 * IPv4 target only), connects to it, answers 200, and splices bytes both
 * ways through a 1 MiB pipe per direction, up to 1 MiB at a time, until both
 * directions have seen their EOF; each EOF is passed on with shutdown().
 * Exit 0 when the tunnel ended so, 1 on a bad request, 111 on a failure.
 */
#define _GNU_SOURCE	/* splice, F_SETPIPE_SZ */
#include <sys/socket.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define PIPE_SIZE	(1 << 20)	/* each direction's pipe, and the most one splice() moves */
#define HEAD_SIZE	8192

static const char ok[] = "HTTP/1.1 200 Connection established\r\n\r\n";

struct dir {
	int in, out, pipe[2];
	size_t inpipe, cap;	/* bytes in the pipe; its size */
	int full;		/* the pipe took nothing more: wait until it drains */
	int eof, done;
};

/* The head, whole: its length in buf (bytes after it follow), or exit. */
static size_t
head(char *buf, size_t *len)
{
	char *end;
	ssize_t n;

	for (;;) {
		buf[*len] = '\0';
		if ((end = strstr(buf, "\r\n\r\n")) != NULL)
			return (size_t)(end + 4 - buf);
		if (*len == HEAD_SIZE - 1)
			exit(1);
		if ((n = read(0, buf + *len, HEAD_SIZE - 1 - *len)) <= 0)
			exit(1);
		*len += (size_t)n;
	}
}

/* "CONNECT a.b.c.d:port ": the target, or exit. */
static struct sockaddr_in
target(char *buf)
{
	struct sockaddr_in sin = { .sin_family = AF_INET };
	char *host = buf + 8, *colon, *end;
	unsigned long port;

	if (strncmp(buf, "CONNECT ", 8) != 0 || (colon = strchr(host, ':')) == NULL)
		exit(1);
	*colon = '\0';
	port = strtoul(colon + 1, &end, 10);
	if (inet_pton(AF_INET, host, &sin.sin_addr) != 1 || *end != ' ' || port == 0 || port > 65535)
		exit(1);
	sin.sin_port = htons((unsigned short)port);
	return sin;
}

static void
writeall(int fd, const char *p, size_t n)
{
	ssize_t w;

	for (; n > 0; p += w, n -= (size_t)w)
		if ((w = write(fd, p, n)) <= 0)
			exit(111);
}

static void
plumb(struct dir *d, int in, int out)
{
	int sz;

	d->in = in;
	d->out = out;
	if (pipe2(d->pipe, O_NONBLOCK | O_CLOEXEC) == -1)
		exit(111);
	if ((sz = fcntl(d->pipe[1], F_SETPIPE_SZ, PIPE_SIZE)) == -1)
		sz = fcntl(d->pipe[1], F_GETPIPE_SZ);	/* the default: still a relay */
	if (sz <= 0 || fcntl(in, F_SETFL, O_NONBLOCK | O_RDWR) == -1)
		exit(111);
	d->cap = (size_t)sz;
}

/* One direction's turn: in to the pipe, then the pipe to out; the EOF passed on. */
static void
turn(struct dir *d, short rev, short wev)
{
	ssize_t n;

	if (rev && !d->eof) {
		n = splice(d->in, NULL, d->pipe[1], NULL, d->cap - d->inpipe, SPLICE_F_MOVE | SPLICE_F_NONBLOCK);
		if (n > 0)
			d->inpipe += (size_t)n;
		else if (n == 0 || errno != EAGAIN)
			d->eof = 1;
		else if (d->inpipe > 0)
			d->full = 1;	/* readable, but no room left in the pipe */
	}
	if ((rev || wev) && d->inpipe > 0) {
		n = splice(d->pipe[0], NULL, d->out, NULL, d->inpipe, SPLICE_F_MOVE | SPLICE_F_NONBLOCK);
		if (n > 0) {
			d->inpipe -= (size_t)n;
			d->full = 0;
		} else if (n == -1 && errno != EAGAIN)
			exit(111);
	}
	if (d->eof && d->inpipe == 0 && !d->done) {
		(void)shutdown(d->out, SHUT_WR);
		d->done = 1;
	}
}

int
main(void)
{
	static char buf[HEAD_SIZE];
	struct sockaddr_in sin;
	struct pollfd pf[4];
	struct dir d[2] = { { 0 }, { 0 } };
	size_t len = 0, hl = head(buf, &len);
	int t, i;

	sin = target(buf);
	if ((t = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0)) == -1 ||
	    connect(t, (struct sockaddr *)&sin, sizeof sin) == -1)
		exit(111);
	writeall(1, ok, sizeof ok - 1);
	writeall(t, buf + hl, len - hl);
	plumb(&d[0], 0, t);
	plumb(&d[1], t, 1);
	while (!d[0].done || !d[1].done) {
		for (i = 0; i < 2; i++) {
			pf[2 * i] = (struct pollfd){ .fd = d[i].eof || d[i].full || d[i].inpipe == d[i].cap ? -1 : d[i].in,
			    .events = POLLIN };
			pf[2 * i + 1] = (struct pollfd){ .fd = d[i].inpipe ? d[i].out : -1, .events = POLLOUT };
		}
		if (poll(pf, 4, -1) == -1) {
			if (errno == EINTR)
				continue;
			exit(111);
		}
		for (i = 0; i < 2; i++)
			turn(&d[i], pf[2 * i].revents, pf[2 * i + 1].revents);
	}
	return 0;
}
