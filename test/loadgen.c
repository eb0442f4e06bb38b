/*
 * loadgen: many tunnels through connectd at once, every byte checked.
 *
 *   loadgen serve PORTFILE
 *	A target on 127.0.0.1, on a port the kernel chose (written to
 *	PORTFILE). Per connection it reads a 16-byte header (tunnel id and
 *	length N), then at once sends N bytes of the tunnel's down stream and
 *	checks the N - 16 bytes of its up stream that follow the header, then
 *	EOF. On SIGTERM it gives the open ones up to 10 s more to end, prints
 *	"conns=C ok=O bad=B open=K" and exits 0 if no connection was bad and
 *	none is open.
 *
 *   loadgen client PROXYPORT TARGETPORT TUNNELS PARALLEL BYTES SECS
 *	TUNNELS tunnels through the proxy on 127.0.0.1:PROXYPORT to
 *	127.0.0.1:TARGETPORT, PARALLEL at a time. Each: the CONNECT request,
 *	exactly "HTTP/1.1 200 Connection established\r\n\r\n" back, then BYTES
 *	up (header and stream) and BYTES down, each compared byte for byte
 *	with the stream it must be, then EOF both ways. Prints one line per
 *	failed tunnel and "tunnels=T ok=O failed=F secs=S"; exits 0 if all
 *	were ok within SECS seconds.
 *
 * The streams are windows into one pseudo-random block, at an offset that
 * depends on the tunnel and the direction, so bytes of another tunnel, or of
 * the other direction, or out of order, never compare equal. 127.0.0.1 only.
 */
#define _GNU_SOURCE
#include <sys/epoll.h>
#include <sys/socket.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define BLOCK	1048573		/* a prime: the stream's period */
#define CHUNK	262144		/* bytes per send or recv */
#define HEADER	16		/* tunnel id and length, big-endian */
#define OK200	"HTTP/1.1 200 Connection established\r\n\r\n"

static unsigned char *block;	/* the period, twice: any window is one slice */
static unsigned char rbuf[CHUNK];
static volatile sig_atomic_t stop;

struct conn {
	int fd;
	int state;		/* client: CONNECTING, HEAD, TUNNEL; serve: HEAD, TUNNEL */
	uint64_t id, len;	/* tunnel and its length in bytes each way */
	uint64_t sent, got;	/* stream positions */
	int shut, eof;		/* our EOF sent, theirs seen */
	size_t headgot;
	unsigned char head[64];
	const char *error;	/* why the tunnel failed */
};

enum { CONNECTING, HEAD, TUNNEL };

static void
die(const char *what)
{
	fprintf(stderr, "loadgen: %s: %s\n", what, strerror(errno));
	exit(111);
}

static void
makeblock(void)
{
	uint64_t x = 0x9e3779b97f4a7c15ULL;
	size_t i;

	if ((block = malloc(2 * (size_t)BLOCK)) == NULL)
		die("malloc");
	for (i = 0; i < BLOCK; i++) {
		x ^= x << 13;
		x ^= x >> 7;
		x ^= x << 17;
		block[i] = block[i + BLOCK] = (unsigned char)(x >> 32);
	}
}

/* Where stream position pos of tunnel id, direction dir, is in the block. */
static const unsigned char *
stream(uint64_t id, int dir, uint64_t pos)
{
	return block + (pos + (id * 2 + (uint64_t)dir) * 104729) % BLOCK;
}

/* Do n bytes at stream position pos match? */
static int
same(const unsigned char *p, size_t n, uint64_t id, int dir, uint64_t pos)
{
	size_t k;

	while (n > 0) {
		k = n < BLOCK ? n : BLOCK;
		if (memcmp(p, stream(id, dir, pos), k) != 0)
			return 0;
		p += k;
		pos += k;
		n -= k;
	}
	return 1;
}

static double
now(void)
{
	struct timespec ts;

	(void)clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void
watch(int ep, int op, struct conn *c)
{
	struct epoll_event ev = { .events = EPOLLIN, .data.ptr = c };

	if (c->state == CONNECTING || (c->state == TUNNEL && !c->shut))
		ev.events |= EPOLLOUT;
	if (epoll_ctl(ep, op, c->fd, &ev) == -1)
		die("epoll_ctl");
}

static struct sockaddr_in
loopback(int port)
{
	struct sockaddr_in sin = { .sin_family = AF_INET, .sin_port = htons((uint16_t)port) };

	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	return sin;
}

/* Send what is due from the stream (after the header, for the client). */
static void
pour(struct conn *c, int dir)
{
	unsigned char hdr[HEADER];
	size_t k;
	ssize_t n;
	int i;

	while (c->sent < c->len) {
		if (dir == 0 && c->sent < HEADER) {
			for (i = 0; i < 8; i++) {
				hdr[i] = (unsigned char)(c->id >> (56 - 8 * i));
				hdr[8 + i] = (unsigned char)(c->len >> (56 - 8 * i));
			}
			n = send(c->fd, hdr + c->sent, HEADER - c->sent, MSG_NOSIGNAL);
		} else {
			k = c->len - c->sent < CHUNK ? (size_t)(c->len - c->sent) : CHUNK;
			n = send(c->fd, stream(c->id, dir, c->sent), k, MSG_NOSIGNAL);
		}
		if (n == -1 && errno == EAGAIN)
			return;
		if (n <= 0) {
			c->error = "send failed";
			return;
		}
		c->sent += (uint64_t)n;
	}
	if (!c->shut && shutdown(c->fd, SHUT_WR) == -1)
		c->error = "shutdown failed";
	c->shut = 1;
}

/* Take in what came, checking it against the stream; 0 on EAGAIN. */
static int
drink(struct conn *c, int dir)
{
	ssize_t n = recv(c->fd, rbuf, sizeof rbuf, 0);

	if (n == -1 && errno == EAGAIN)
		return 0;
	if (n < 0) {
		c->error = errno == ECONNRESET ? "reset" : "recv failed";
		return 0;
	}
	if (n == 0) {
		c->eof = 1;
		if (c->got != c->len)
			c->error = "EOF before the end of the stream";
		return 0;
	}
	if (c->got + (uint64_t)n > c->len)
		c->error = "more bytes than the stream has";
	else if (!same(rbuf, (size_t)n, c->id, dir, c->got))
		c->error = "a byte differs from the stream";
	c->got += (uint64_t)n;
	return 1;
}

/* ------------------------------------------------------------ the target */

static void
onterm(int sig)
{
	(void)sig;
	stop = 1;
}

/* The target's header: the tunnel id and length; the rest is stream. */
static void
header(struct conn *c)
{
	ssize_t n = recv(c->fd, c->head + c->headgot, HEADER - c->headgot, 0);
	int i;

	if (n == -1 && errno == EAGAIN)
		return;
	if (n <= 0) {
		c->error = "no header";
		return;
	}
	c->headgot += (size_t)n;
	if (c->headgot < HEADER)
		return;
	c->id = c->len = 0;
	for (i = 0; i < 8; i++) {
		c->id = c->id << 8 | c->head[i];
		c->len = c->len << 8 | c->head[8 + i];
	}
	if (c->len < HEADER)
		c->error = "bad header";
	c->got = HEADER;
	c->state = TUNNEL;
}

static int
serve(const char *portfile)
{
	struct sockaddr_in sin = loopback(0);
	socklen_t len = sizeof sin;
	struct epoll_event evs[64];
	struct sigaction sa = { .sa_handler = onterm };
	unsigned long conns = 0, ok = 0, bad = 0, live = 0;
	int ls, ep, n, i, fd, one = 1, grace = 0;
	struct conn *c;
	FILE *f;

	if ((ls = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0)) == -1 ||
	    setsockopt(ls, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one) == -1 ||
	    bind(ls, (struct sockaddr *)&sin, sizeof sin) == -1 || listen(ls, 1024) == -1 ||
	    getsockname(ls, (struct sockaddr *)&sin, &len) == -1)
		die("listen");
	if ((ep = epoll_create1(EPOLL_CLOEXEC)) == -1)
		die("epoll_create1");
	if (epoll_ctl(ep, EPOLL_CTL_ADD, ls, &(struct epoll_event){ .events = EPOLLIN }) == -1)
		die("epoll_ctl");
	(void)sigaction(SIGTERM, &sa, NULL);
	if ((f = fopen(portfile, "w")) == NULL || fprintf(f, "%d\n", ntohs(sin.sin_port)) < 0 ||
	    fclose(f) != 0)
		die(portfile);
	/* After SIGTERM, up to 10 s more for EOFs still on their way. */
	while (!stop || (live > 0 && grace++ < 100)) {
		if ((n = epoll_wait(ep, evs, 64, stop ? 100 : 1000)) == -1) {
			if (errno == EINTR)
				continue;
			die("epoll_wait");
		}
		for (i = 0; i < n; i++) {
			c = evs[i].data.ptr;
			if (c == NULL) {
				while ((fd = accept4(ls, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC)) != -1) {
					if ((c = calloc(1, sizeof *c)) == NULL)
						die("calloc");
					c->fd = fd;
					c->state = HEAD;
					watch(ep, EPOLL_CTL_ADD, c);
					conns++;
					live++;
				}
				continue;
			}
			if (c->state == HEAD && (evs[i].events & (EPOLLIN | EPOLLHUP | EPOLLERR))) {
				header(c);
				if (c->state == TUNNEL)
					watch(ep, EPOLL_CTL_MOD, c);
			}
			if (c->state == TUNNEL && !c->error && (evs[i].events & EPOLLOUT)) {
				pour(c, 1);
				if (c->shut)
					watch(ep, EPOLL_CTL_MOD, c);
			}
			if (c->state == TUNNEL && !c->error && (evs[i].events & (EPOLLIN | EPOLLHUP | EPOLLERR)))
				(void)drink(c, 0);
			if (c->error || (c->eof && c->shut)) {
				if (c->error) {
					bad++;
					fprintf(stderr, "loadgen: target: tunnel %llu: %s at byte %llu\n",
					    (unsigned long long)c->id, c->error, (unsigned long long)c->got);
				} else
					ok++;
				(void)close(c->fd);
				free(c);
				live--;
			}
		}
	}
	printf("conns=%lu ok=%lu bad=%lu open=%lu\n", conns, ok, bad, live);
	return bad == 0 && live == 0 ? 0 : 1;
}

/* ------------------------------------------------------------ the client */

static struct conn *
dial(int ep, int pport, uint64_t id, uint64_t len)
{
	struct sockaddr_in sin = loopback(pport);
	struct conn *c;

	if ((c = calloc(1, sizeof *c)) == NULL)
		die("calloc");
	c->id = id;
	c->len = len;
	c->state = CONNECTING;
	if ((c->fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0)) == -1)
		die("socket");
	if (connect(c->fd, (struct sockaddr *)&sin, sizeof sin) == -1 && errno != EINPROGRESS)
		c->error = "connect failed";
	watch(ep, EPOLL_CTL_ADD, c);
	return c;
}

/* Connected: send the request. */
static void
request(int ep, struct conn *c, int tport)
{
	char req[128];
	int err = 0, k;
	socklen_t len = sizeof err;

	if (getsockopt(c->fd, SOL_SOCKET, SO_ERROR, &err, &len) == -1 || err != 0) {
		c->error = "connect failed";
		return;
	}
	k = snprintf(req, sizeof req, "CONNECT 127.0.0.1:%d HTTP/1.1\r\nHost: 127.0.0.1:%d\r\n\r\n",
	    tport, tport);
	if (send(c->fd, req, (size_t)k, MSG_NOSIGNAL) != k) {
		c->error = "request not sent whole";
		return;
	}
	c->state = HEAD;
	watch(ep, EPOLL_CTL_MOD, c);
}

/* The response head: exactly the 200, nothing else before the tunnel. */
static void
response(int ep, struct conn *c)
{
	size_t want = sizeof OK200 - 1;
	ssize_t n = recv(c->fd, c->head + c->headgot, want - c->headgot, 0);

	if (n == -1 && errno == EAGAIN)
		return;
	if (n <= 0) {
		c->error = "no 200";
		return;
	}
	c->headgot += (size_t)n;
	if (memcmp(c->head, OK200, c->headgot) != 0) {
		c->error = "not exactly the 200";
		return;
	}
	if (c->headgot == want) {
		c->state = TUNNEL;
		watch(ep, EPOLL_CTL_MOD, c);
	}
}

static void
client(int pport, int tport, unsigned long tunnels, unsigned long parallel, uint64_t len, double secs)
{
	struct epoll_event evs[64];
	struct conn **all;
	unsigned long started = 0, active = 0, ok = 0, failed = 0, i;
	double t0 = now(), deadline = t0 + secs;
	int ep, n, j;
	struct conn *c;

	if ((ep = epoll_create1(EPOLL_CLOEXEC)) == -1)
		die("epoll_create1");
	if ((all = calloc(parallel, sizeof *all)) == NULL)
		die("calloc");
	while ((started < tunnels || active > 0) && now() < deadline) {
		for (i = 0; i < parallel && started < tunnels; i++)
			if (all[i] == NULL) {
				all[i] = dial(ep, pport, started++, len);
				active++;
			}
		if ((n = epoll_wait(ep, evs, 64, 200)) == -1) {
			if (errno == EINTR)
				continue;
			die("epoll_wait");
		}
		for (j = 0; j < n; j++) {
			c = evs[j].data.ptr;
			if (c->state == CONNECTING && !c->error)
				request(ep, c, tport);
			else if (c->state == HEAD && !c->error)
				response(ep, c);
			if (c->state == TUNNEL && !c->error && (evs[j].events & EPOLLOUT)) {
				pour(c, 0);
				if (c->shut)
					watch(ep, EPOLL_CTL_MOD, c);
			}
			if (c->state == TUNNEL && !c->error && (evs[j].events & (EPOLLIN | EPOLLHUP | EPOLLERR)))
				(void)drink(c, 1);
		}
		for (i = 0; i < parallel; i++) {
			c = all[i];
			if (c == NULL || !(c->error || (c->eof && c->shut)))
				continue;
			if (c->error) {
				failed++;
				printf("tunnel %llu failed: %s (sent %llu, got %llu of %llu)\n",
				    (unsigned long long)c->id, c->error, (unsigned long long)c->sent,
				    (unsigned long long)c->got, (unsigned long long)c->len);
			} else
				ok++;
			(void)close(c->fd);
			free(c);
			all[i] = NULL;
			active--;
		}
	}
	for (i = 0; i < parallel; i++)
		if ((c = all[i]) != NULL) {
			failed++;
			printf("tunnel %llu failed: unfinished after %.0f s (state %d, sent %llu, got %llu of %llu)\n",
			    (unsigned long long)c->id, secs, c->state, (unsigned long long)c->sent,
			    (unsigned long long)c->got, (unsigned long long)c->len);
		}
	failed += tunnels - started;
	printf("tunnels=%lu ok=%lu failed=%lu secs=%.3f\n", tunnels, ok, failed, now() - t0);
	exit(failed == 0 && ok == tunnels ? 0 : 1);
}

static unsigned long
number(const char *s)
{
	char *end;
	unsigned long v;

	errno = 0;
	v = strtoul(s, &end, 10);
	if (errno != 0 || end == s || *end != '\0') {
		fprintf(stderr, "loadgen: not a number: %s\n", s);
		exit(100);
	}
	return v;
}

int
main(int argc, char **argv)
{
	makeblock();
	if (argc == 3 && strcmp(argv[1], "serve") == 0)
		return serve(argv[2]);
	if (argc == 8 && strcmp(argv[1], "client") == 0) {
		unsigned long len = number(argv[6]);

		if (len < HEADER || number(argv[5]) == 0) {
			fprintf(stderr, "loadgen: BYTES must be at least %d, PARALLEL at least 1\n", HEADER);
			return 100;
		}
		client((int)number(argv[2]), (int)number(argv[3]), number(argv[4]), number(argv[5]),
		    len, (double)number(argv[7]));
	}
	fprintf(stderr, "usage: loadgen serve PORTFILE | "
	    "loadgen client PROXYPORT TARGETPORT TUNNELS PARALLEL BYTES SECS\n");
	return 100;
}
