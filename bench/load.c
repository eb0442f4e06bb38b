/*
 * load: the bench's client and target, in C, so that neither is the limit
 * of what the bench measures. 127.0.0.1 only.
 *
 *   load target STREAM PORTFILE
 *	Listens on a port the kernel chose (written to PORTFILE). Each
 *	connection sends a 24-byte header: how many bytes it wants back
 *	(DOWN), how many it sends (UP) and a stream offset (OFF), 8 bytes
 *	each, big-endian. The target sends DOWN bytes of the stream from OFF
 *	while it reads UP bytes and checks them against the stream from
 *	OFF + UPSHIFT, then one byte, its verdict (1: every byte right, 0:
 *	not), and closes. No side needs a proxy to relay a half-close, which
 *	Squid and tinyproxy do not do (each ends the tunnel at the first EOF).
 *	A wrong byte or a short upload is printed on stderr.
 *
 *   load setups STREAM [-h HOST] [-a AUTH] [-d] PORT TPORT N
 *	N tunnel setups one after another: connect, CONNECT HOST:TPORT (with
 *	a Proxy-Authorization of AUTH), the 200, one byte each way and the
 *	verdict, close. -d: straight to the target, no CONNECT. Prints
 *	"rate=R p50=MS p99=MS": setups per second (N over the sum of their
 *	times) and the latency percentiles.
 *
 *   load bulk STREAM [-h HOST] [-d] PORT TPORT UP DOWN
 *	One tunnel moving UP bytes to the target and DOWN back at once.
 *	Prints "secs=S mibps=R": from its first byte to its verdict.
 *
 *   load conc STREAM [-h HOST] [-d] PORT TPORT TUNNELS BYTES
 *	TUNNELS tunnels at once, BYTES each way in each. Once every one is
 *	open (its 200 read) it prints "open" and waits for a line on its
 *	input before any moves a byte; then prints "secs=S", the time from
 *	that line to the last verdict.
 *
 * STREAM is a file holding one period of the bench's byte stream (as
 * test/common.py makes it): byte i of the stream is byte i % period of
 * the file. Every byte that the client or the target gets is checked
 * against it, in every figure. Tunnel k of a run uses offset k * TUNSHIFT,
 * so that the bytes of another tunnel, or of the other direction, differ.
 * A client that finds anything wrong prints what and exits 1; 111 on a
 * system failure; 100 on a usage error.
 */
#define _GNU_SOURCE
#include <sys/socket.h>
#include <sys/stat.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define CHUNK		(1 << 20)	/* at most this much per send and per recv */
#define HEADER		24		/* DOWN, UP, OFF */
#define UPSHIFT		7919		/* the upload's offset from the download's */
#define TUNSHIFT	104729		/* one tunnel's offset from the next */
#define TIMEOUT_MS	60000		/* no progress for this long: a failure */
#define CONC_MAX	4096

static unsigned char *block;	/* the period, then CHUNK bytes more of the stream */
static size_t period;
static unsigned char rbuf[CHUNK];

struct conn {
	int fd, state;
	uint64_t up, down, off;		/* this tunnel's transfer */
	uint64_t sent, got;		/* the header and upload sent; download and verdict read */
	size_t headlen;
	char head[1024];
	const char *err;
};

enum { CONNECTING, HEAD, OPEN, TUNNEL, DONE };

struct client {
	const char *host, *auth;
	int direct, port, tport;
};

static void
die(const char *what)
{
	fprintf(stderr, "load: %s: %s\n", what, strerror(errno));
	exit(111);
}

static double
now(void)
{
	struct timespec ts;

	(void)clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static unsigned long long
number(const char *s)
{
	unsigned long long v;
	char *end;

	errno = 0;
	v = strtoull(s, &end, 10);
	if (errno != 0 || end == s || *end != '\0' || *s == '-') {
		fprintf(stderr, "load: not a number: %s\n", s);
		exit(100);
	}
	return v;
}

static void
loadstream(const char *path)
{
	struct stat st;
	size_t got = 0;
	ssize_t n;
	int fd;

	if ((fd = open(path, O_RDONLY | O_CLOEXEC)) == -1 || fstat(fd, &st) == -1)
		die(path);
	period = (size_t)st.st_size;
	if (period == 0 || (block = malloc(period + CHUNK)) == NULL) {
		fprintf(stderr, "load: %s: not a stream's period\n", path);
		exit(100);
	}
	while (got < period) {
		if ((n = read(fd, block + got, period - got)) <= 0)
			die(path);
		got += (size_t)n;
	}
	for (; got < period + CHUNK; got++)
		block[got] = block[got - period];
	(void)close(fd);
}

/* Where the stream's byte pos is; up to CHUNK bytes from there are contiguous. */
static const unsigned char *
stream(uint64_t pos)
{
	return block + pos % period;
}

static void
put64(unsigned char *p, uint64_t v)
{
	int i;

	for (i = 0; i < 8; i++)
		p[i] = (unsigned char)(v >> (56 - 8 * i));
}

static uint64_t
get64(const unsigned char *p)
{
	uint64_t v = 0;
	int i;

	for (i = 0; i < 8; i++)
		v = v << 8 | p[i];
	return v;
}

static struct sockaddr_in
loopback(int port)
{
	struct sockaddr_in sin = { .sin_family = AF_INET, .sin_port = htons((uint16_t)port) };

	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	return sin;
}

/* --------------------------------------------------------------- the target */

struct peer {
	int fd;
	unsigned char hdr[HEADER];
	size_t hgot;
	uint64_t up, down, off, got, sent;
	int bad, verdict;
};

/* Take in what came; 0 when the peer is to be closed. */
static int
takein(struct peer *p)
{
	ssize_t n = recv(p->fd, rbuf, CHUNK, 0);
	size_t k, at = 0;

	if (n == -1 && errno == EAGAIN)
		return 1;
	if (n <= 0) {
		if (p->hgot == HEADER || p->hgot > 0)
			fprintf(stderr, "load: target: %s after %llu of %llu bytes of the upload\n",
			    n == 0 ? "EOF" : strerror(errno), (unsigned long long)p->got,
			    (unsigned long long)p->up);
		return 0;
	}
	if (p->hgot < HEADER) {
		k = (size_t)n < HEADER - p->hgot ? (size_t)n : HEADER - p->hgot;
		memcpy(p->hdr + p->hgot, rbuf, k);
		p->hgot += k;
		at = k;
		if (p->hgot == HEADER) {
			p->down = get64(p->hdr);
			p->up = get64(p->hdr + 8);
			p->off = get64(p->hdr + 16);
		}
	}
	k = (size_t)n - at;
	if (k > p->up - p->got) {
		fprintf(stderr, "load: target: more than the %llu bytes of the upload\n",
		    (unsigned long long)p->up);
		return 0;
	}
	if (k > 0 && !p->bad && memcmp(rbuf + at, stream(p->off + UPSHIFT + p->got), k) != 0) {
		fprintf(stderr, "load: target: a byte of the upload in %zu at %llu is not the stream's\n",
		    k, (unsigned long long)p->got);
		p->bad = 1;
	}
	p->got += k;
	return 1;
}

/* Send what is due: the download, then the verdict; 0 when the peer is to be closed. */
static int
giveout(struct peer *p)
{
	unsigned char v;
	uint64_t left;
	ssize_t n;

	while ((left = p->down - p->sent) > 0) {
		n = send(p->fd, stream(p->off + p->sent), left < CHUNK ? left : CHUNK, MSG_NOSIGNAL);
		if (n == -1 && errno == EAGAIN)
			return 1;
		if (n <= 0)
			return 0;
		p->sent += (uint64_t)n;
	}
	if (p->got < p->up)
		return 1;
	v = !p->bad;
	n = send(p->fd, &v, 1, MSG_NOSIGNAL);
	if (n == -1 && errno == EAGAIN)
		return 1;
	return 0;	/* sent (or failed): done either way */
}

_Noreturn static void
target(const char *portfile)
{
	struct sockaddr_in sin = loopback(0);
	socklen_t len = sizeof sin;
	struct pollfd *pf;
	struct peer **ps;
	size_t np = 0, i, j;
	int ls, one = 1, fd;
	FILE *f;

	if ((pf = calloc(CONC_MAX + 1, sizeof *pf)) == NULL || (ps = calloc(CONC_MAX, sizeof *ps)) == NULL)
		die("calloc");
	if ((ls = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0)) == -1 ||
	    setsockopt(ls, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one) == -1 ||
	    bind(ls, (struct sockaddr *)&sin, sizeof sin) == -1 || listen(ls, 4096) == -1 ||
	    getsockname(ls, (struct sockaddr *)&sin, &len) == -1)
		die("listen");
	if ((f = fopen(portfile, "w")) == NULL || fprintf(f, "%d\n", ntohs(sin.sin_port)) < 0 ||
	    fclose(f) != 0)
		die(portfile);
	for (;;) {
		pf[0] = (struct pollfd){ .fd = np < CONC_MAX ? ls : -1, .events = POLLIN };
		for (i = 0; i < np; i++) {
			pf[i + 1] = (struct pollfd){ .fd = ps[i]->fd, .events = POLLIN };
			if (ps[i]->hgot == HEADER && (ps[i]->sent < ps[i]->down || ps[i]->got == ps[i]->up))
				pf[i + 1].events |= POLLOUT;
		}
		if (poll(pf, np + 1, -1) == -1) {
			if (errno == EINTR)
				continue;
			die("poll");
		}
		for (i = j = 0; i < np; i++) {
			struct peer *p = ps[i];
			int live = 1;

			if (pf[i + 1].revents & (POLLIN | POLLHUP | POLLERR))
				live = takein(p);
			if (live && p->hgot == HEADER && (pf[i + 1].revents & POLLOUT))
				live = giveout(p);
			if (live)
				ps[j++] = p;
			else {
				(void)close(p->fd);
				free(p);
			}
		}
		np = j;
		while (pf[0].revents && np < CONC_MAX &&
		    (fd = accept4(ls, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC)) != -1) {
			(void)setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
			if ((ps[np] = calloc(1, sizeof **ps)) == NULL)
				die("calloc");
			ps[np++]->fd = fd;
		}
	}
}

/* --------------------------------------------------------------- the client */

static void
fail(struct conn *c, const char *why)
{
	if (c->err == NULL)
		c->err = why;
}

/* The connection, or the request on it: sent whole (the socket is fresh). */
static void
request(struct conn *c, const struct client *cl)
{
	char req[2048];
	int k;

	if (cl->direct) {
		c->state = OPEN;
		return;
	}
	k = snprintf(req, sizeof req, "CONNECT %s:%d HTTP/1.1\r\nHost: %s:%d\r\n%s%s%s\r\n",
	    cl->host, cl->tport, cl->host, cl->tport, cl->auth ? "Proxy-Authorization: " : "",
	    cl->auth ? cl->auth : "", cl->auth ? "\r\n" : "");
	if (k <= 0 || (size_t)k >= sizeof req || send(c->fd, req, (size_t)k, MSG_NOSIGNAL) != k)
		fail(c, "the request was not sent whole");
	c->state = HEAD;
}

/* The proxy's answer: a 200 and its head, and nothing after it. */
static void
answer(struct conn *c)
{
	ssize_t n = recv(c->fd, c->head + c->headlen, sizeof c->head - 1 - c->headlen, 0);
	char *end;

	if (n == -1 && errno == EAGAIN)
		return;
	if (n <= 0) {
		fail(c, "no whole answer from the proxy");
		return;
	}
	c->headlen += (size_t)n;
	c->head[c->headlen] = '\0';
	if ((end = strstr(c->head, "\r\n\r\n")) == NULL) {
		if (c->headlen == sizeof c->head - 1)
			fail(c, "an answer head too long");
		return;
	}
	if (strncmp(c->head, "HTTP/1.", 7) != 0 || strncmp(c->head + 8, " 200 ", 5) != 0)
		fail(c, "not a 200");
	else if (end + 4 != c->head + c->headlen)
		fail(c, "bytes after the answer, before the tunnel");
	c->state = OPEN;
}

static void
pour(struct conn *c)
{
	unsigned char hdr[HEADER];
	uint64_t left;
	ssize_t n;

	while (c->sent < HEADER + c->up) {
		if (c->sent < HEADER) {
			put64(hdr, c->down);
			put64(hdr + 8, c->up);
			put64(hdr + 16, c->off);
			n = send(c->fd, hdr + c->sent, HEADER - c->sent, MSG_NOSIGNAL);
		} else {
			left = HEADER + c->up - c->sent;
			n = send(c->fd, stream(c->off + UPSHIFT + c->sent - HEADER),
			    left < CHUNK ? left : CHUNK, MSG_NOSIGNAL);
		}
		if (n == -1 && errno == EAGAIN)
			return;
		if (n <= 0) {
			fail(c, "send failed");
			return;
		}
		c->sent += (uint64_t)n;
	}
}

/* The download, checked, then the verdict, then the EOF. */
static void
drink(struct conn *c)
{
	ssize_t n = recv(c->fd, rbuf, CHUNK, 0);
	size_t k;

	if (n == -1 && errno == EAGAIN)
		return;
	if (n < 0) {
		fail(c, errno == ECONNRESET ? "reset" : "recv failed");
		return;
	}
	if (n == 0) {
		if (c->got < c->down)
			fail(c, "EOF before the end of the download");
		else if (c->got == c->down)
			fail(c, "EOF before the target's verdict");
		c->state = DONE;
		return;
	}
	k = c->got < c->down ? (size_t)n < c->down - c->got ? (size_t)n : (size_t)(c->down - c->got) : 0;
	if (k > 0 && memcmp(rbuf, stream(c->off + c->got), k) != 0)
		fail(c, "a byte of the download is not the stream's");
	c->got += k;
	if ((size_t)n > k) {
		if (c->got > c->down || (size_t)n > k + 1)
			fail(c, "bytes after the verdict");
		else if (rbuf[k] != 1)
			fail(c, "the target's verdict: the upload was not exact (its reason is on its stderr)");
		c->got += (size_t)n - k;
	}
}

static void
dial(struct conn *c, int port)
{
	struct sockaddr_in sin;
	int one = 1;

	if ((c->fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0)) == -1)
		die("socket");
	(void)setsockopt(c->fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
	c->state = CONNECTING;
	c->sent = c->got = c->headlen = 0;
	c->err = NULL;
	sin = loopback(port);
	if (connect(c->fd, (struct sockaddr *)&sin, sizeof sin) == -1 && errno != EINPROGRESS)
		fail(c, "connect failed");
}

/* Each conn one step on from what poll() said; the number of them not yet in state. */
static size_t
step(struct conn *cs, size_t n, const struct client *cl, int until)
{
	struct pollfd pf[CONC_MAX];
	size_t i, left = 0;
	int err, r;
	socklen_t len = sizeof err;

	for (i = 0; i < n; i++) {
		pf[i] = (struct pollfd){ .fd = cs[i].state >= until || cs[i].err ? -1 : cs[i].fd,
		    .events = cs[i].state == CONNECTING ? POLLOUT : POLLIN };
		if (cs[i].state == TUNNEL && cs[i].sent < HEADER + cs[i].up)
			pf[i].events |= POLLOUT;
	}
	if ((r = poll(pf, n, TIMEOUT_MS)) == -1 && errno != EINTR)
		die("poll");
	for (i = 0; i < n; i++) {
		struct conn *c = &cs[i];

		if (r == 0 && pf[i].fd != -1)
			fail(c, "no progress for 60 s");
		if (c->err || c->state >= until)
			continue;
		if (c->state == CONNECTING && pf[i].revents) {
			if (getsockopt(c->fd, SOL_SOCKET, SO_ERROR, &err, &len) == -1 || err != 0)
				fail(c, "connect failed");
			else
				request(c, cl);
		} else if (c->state == HEAD && pf[i].revents)
			answer(c);
		else if (c->state == TUNNEL) {
			if (pf[i].revents & POLLOUT)
				pour(c);
			if (pf[i].revents & (POLLIN | POLLHUP | POLLERR))
				drink(c);
		}
		left += c->state < until && !c->err;
	}
	return left;
}

/* Up to state until, every conn (or one fails): 0, or 1 after printing what failed. */
static int
run(struct conn *cs, size_t n, const struct client *cl, int until)
{
	size_t i;
	int bad = 0;

	while (step(cs, n, cl, until) > 0)
		;
	for (i = 0; i < n; i++)
		if (cs[i].err) {
			printf("tunnel %zu failed: %s (sent %llu of %llu, got %llu of %llu)\n", i, cs[i].err,
			    (unsigned long long)(cs[i].sent > HEADER ? cs[i].sent - HEADER : 0),
			    (unsigned long long)cs[i].up, (unsigned long long)cs[i].got,
			    (unsigned long long)cs[i].down);
			bad = 1;
		}
	return bad;
}

static struct conn *
conns(size_t n, uint64_t up, uint64_t down)
{
	struct conn *cs;
	size_t i;

	if (n == 0 || n > CONC_MAX) {
		fprintf(stderr, "load: 1 to %d tunnels\n", CONC_MAX);
		exit(100);
	}
	if ((cs = calloc(n, sizeof *cs)) == NULL)
		die("calloc");
	for (i = 0; i < n; i++) {
		cs[i].up = up;
		cs[i].down = down;
		cs[i].off = i * TUNSHIFT;
		cs[i].fd = -1;
	}
	return cs;
}

static void
opened(struct conn *cs, size_t n, const struct client *cl)
{
	size_t i;

	for (i = 0; i < n; i++)
		dial(&cs[i], cl->port);
	if (run(cs, n, cl, OPEN))
		exit(1);
	for (i = 0; i < n; i++)
		cs[i].state = TUNNEL;
}

static int
ascending(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

static int
setups(const struct client *cl, unsigned long long n)
{
	struct conn c = { .up = 1, .down = 1 };
	double *lat, t0, sum = 0;
	unsigned long long i;

	if (n == 0 || (lat = calloc(n, sizeof *lat)) == NULL)
		die("setups");
	for (i = 0; i < n; i++) {
		c.off = i * TUNSHIFT;
		t0 = now();
		dial(&c, cl->port);
		if (run(&c, 1, cl, OPEN))
			return 1;
		c.state = TUNNEL;
		if (run(&c, 1, cl, DONE))
			return 1;
		lat[i] = now() - t0;
		sum += lat[i];
		(void)close(c.fd);
	}
	qsort(lat, n, sizeof *lat, ascending);
	printf("rate=%.1f p50=%.3f p99=%.3f\n", (double)n / sum, lat[n / 2] * 1e3,
	    lat[n * 99 / 100 < n ? n * 99 / 100 : n - 1] * 1e3);
	return 0;
}

static int
bulk(const struct client *cl, uint64_t up, uint64_t down)
{
	struct conn *c = conns(1, up, down);
	double t0, secs;

	opened(c, 1, cl);
	t0 = now();
	if (run(c, 1, cl, DONE))
		return 1;
	secs = now() - t0;
	printf("secs=%.4f mibps=%.1f\n", secs, (double)(up + down) / (1 << 20) / secs);
	return 0;
}

static int
conc(const struct client *cl, size_t n, uint64_t bytes)
{
	struct conn *cs = conns(n, bytes, bytes);
	char line[16];
	double t0;

	opened(cs, n, cl);
	printf("open\n");
	if (fflush(stdout) == EOF || fgets(line, sizeof line, stdin) == NULL)
		die("waiting for the go");
	t0 = now();
	if (run(cs, n, cl, DONE))
		return 1;
	printf("secs=%.4f\n", now() - t0);
	return 0;
}

static void
usage(void)
{
	fprintf(stderr, "usage: load target STREAM PORTFILE\n"
	    "       load setups STREAM [-h host] [-a auth] [-d] PORT TPORT N\n"
	    "       load bulk STREAM [-h host] [-d] PORT TPORT UP DOWN\n"
	    "       load conc STREAM [-h host] [-d] PORT TPORT TUNNELS BYTES\n");
	exit(100);
}

int
main(int argc, char **argv)
{
	struct client cl = { .host = "127.0.0.1" };
	const char *role;
	int c;

	if (argc < 3)
		usage();
	role = argv[1];
	loadstream(argv[2]);
	(void)signal(SIGPIPE, SIG_IGN);
	if (strcmp(role, "target") == 0 && argc == 4)
		target(argv[3]);
	argc -= 2;
	argv += 2;
	while ((c = getopt(argc, argv, "a:dh:")) != -1)
		switch (c) {
		case 'a':
			cl.auth = optarg;
			break;
		case 'd':
			cl.direct = 1;
			break;
		case 'h':
			cl.host = optarg;
			break;
		default:
			usage();
		}
	argc -= optind;
	argv += optind;
	if (argc < 3)
		usage();
	cl.port = (int)number(argv[0]);
	cl.tport = (int)number(argv[1]);
	if (strcmp(role, "setups") == 0 && argc == 3)
		return setups(&cl, number(argv[2]));
	if (strcmp(role, "bulk") == 0 && argc == 4)
		return bulk(&cl, number(argv[2]), number(argv[3]));
	if (strcmp(role, "conc") == 0 && argc == 4)
		return conc(&cl, (size_t)number(argv[2]), number(argv[3]));
	usage();
	return 100;
}
