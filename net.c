/*
 * Resolving and connecting, both against one absolute deadline (-c).
 * getaddrinfo(3) has no timeout, so a child process resolves and the parent
 * waits for its answer no longer than the deadline allows.
 */
#define _GNU_SOURCE	/* pipe2 */
#include <sys/prctl.h>
#include <sys/select.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "net.h"

#ifndef IP_BIND_ADDRESS_NO_PORT
#define IP_BIND_ADDRESS_NO_PORT 24
#endif

/*
 * Milliseconds on the monotonic clock. On x86_64 by the system call itself:
 * the vDSO's first use (its symbols looked up, two or three pages faulted in)
 * costs a process more than the dozen calls a tunnel makes.
 */
long long
net_now(void)
{
	struct timespec ts;

#ifdef __x86_64__
	(void)syscall(SYS_clock_gettime, CLOCK_MONOTONIC, &ts);
#else
	(void)clock_gettime(CLOCK_MONOTONIC, &ts);
#endif
	return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static socklen_t
salen(const struct sockaddr *sa)
{
	return sa->sa_family == AF_INET ? sizeof(struct sockaddr_in) : sizeof(struct sockaddr_in6);
}

unsigned
net_port(const struct sockaddr *sa)
{
	if (sa->sa_family == AF_INET)
		return ntohs(((const struct sockaddr_in *)(const void *)sa)->sin_port);
	return ntohs(((const struct sockaddr_in6 *)(const void *)sa)->sin6_port);
}

/* "192.0.2.1:443" or "[2001:db8::1]:443" */
void
net_format(const struct sockaddr *sa, char *buf, size_t size)
{
	char text[INET6_ADDRSTRLEN];
	const void *a;

	if (sa->sa_family == AF_INET)
		a = &((const struct sockaddr_in *)(const void *)sa)->sin_addr;
	else
		a = &((const struct sockaddr_in6 *)(const void *)sa)->sin6_addr;
	if (inet_ntop(sa->sa_family, a, text, sizeof text) == NULL)
		(void)snprintf(text, sizeof text, "?");
	(void)snprintf(buf, size, sa->sa_family == AF_INET ? "%s:%u" : "[%s]:%u",
	    text, net_port(sa));
}

/* A numeric IPv4 or IPv6 address, with a port. */
int
net_numeric(const char *s, unsigned port, struct sockaddr_storage *ss)
{
	struct sockaddr_in *s4 = (struct sockaddr_in *)ss;
	struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)ss;

	memset(ss, 0, sizeof *ss);
	if (inet_pton(AF_INET, s, &s4->sin_addr) == 1) {
		s4->sin_family = AF_INET;
		s4->sin_port = htons((unsigned short)port);
		return 0;
	}
	if (inet_pton(AF_INET6, s, &s6->sin6_addr) == 1) {
		s6->sin6_family = AF_INET6;
		s6->sin6_port = htons((unsigned short)port);
		return 0;
	}
	return -1;
}

static volatile sig_atomic_t stopped INDATA;
static sigset_t waitmask INDATA;	/* the mask inside the waits: SIGTERM and SIGHUP let through */

static void
stop(int sig)
{
	(void)sig;
	stopped = 1;
}

/*
 * SIGTERM and SIGHUP are blocked from now on but inside the waits, which they
 * end (EINTR), so that one arriving anywhere is seen at the next wait at the
 * latest and the connection still gets its log line.
 */
void
net_catch(void)
{
	struct sigaction sa = { .sa_handler = stop };
	sigset_t block;

	(void)sigemptyset(&block);
	(void)sigaddset(&block, SIGTERM);
	(void)sigaddset(&block, SIGHUP);
	(void)sigprocmask(SIG_BLOCK, &block, &waitmask);
	(void)sigaction(SIGTERM, &sa, NULL);
	(void)sigaction(SIGHUP, &sa, NULL);
	(void)sigdelset(&waitmask, SIGTERM);
	(void)sigdelset(&waitmask, SIGHUP);
}

/* A SIGTERM or SIGHUP came. */
int
net_stopped(void)
{
	return stopped;
}

/* The mask that the waits unblock: for a child that must start without it. */
const sigset_t *
net_waitmask(void)
{
	return &waitmask;
}

/* pselect() with SIGTERM and SIGHUP let through; a descriptor it cannot hold is EBADF. */
int
net_select(int nfds, fd_set *r, fd_set *w, const struct timespec *ts)
{
	if (nfds > FD_SETSIZE) {
		errno = EBADF;
		return -1;
	}
	return pselect(nfds, r, w, NULL, ts, &waitmask);
}

/*
 * Wait until fd is readable (or writable) or the deadline passes: 1, 0, or -1
 * (a signal ended the wait, or fd is beyond what select() can hold).
 */
int
net_wait(int fd, int wr, long long deadline)
{
	fd_set set;
	struct timespec ts;
	long long left;
	int n;

	if (fd >= FD_SETSIZE)
		return -1;
	do {
		if ((left = deadline - net_now()) < 0)
			left = 0;
		ts.tv_sec = (time_t)(left / 1000);
		ts.tv_nsec = (long)(left % 1000) * 1000000;
		FD_ZERO(&set);
		FD_SET(fd, &set);
		n = net_select(fd + 1, wr ? NULL : &set, wr ? &set : NULL, &ts);
	} while (n == -1 && errno == EINTR && !stopped);
	return n;
}

/*
 * Descriptors 0, 1 and 2 are connectd's for its whole life, once the start
 * has opened any closed one on /dev/null: each is looked at once, by
 * net_look(), and what it was is the answer from then on.
 */
static struct stat std[3] INDATA;
static int looked INDATA;

void
net_look(void)
{
	int fd;

	for (fd = 0; fd < 3; fd++)
		if (fstat(fd, &std[fd]) == -1)
			std[fd].st_mode = 0;	/* no file: neither a socket nor the same as another */
	looked = 1;
}

/* fstat(), from what net_look() saw for descriptors 0 to 2. */
int
net_stat(int fd, struct stat *st)
{
	if (!looked || fd < 0 || fd > 2)
		return fstat(fd, st);
	*st = std[fd];
	return st->st_mode == 0 ? -1 : 0;
}

/* Is fd a socket? */
int
net_issock(int fd)
{
	struct stat st;

	return net_stat(fd, &st) == 0 && S_ISSOCK(st.st_mode);
}

/* Are the two descriptors one file (one socket, one pipe)? */
int
net_samefile(int a, int b)
{
	struct stat sa, sb;

	return net_stat(a, &sa) == 0 && net_stat(b, &sb) == 0 &&
	    sa.st_dev == sb.st_dev && sa.st_ino == sb.st_ino;
}

/*
 * Is descriptor 2 the client's: the file of descriptor 0 or 1 (inetd's
 * socket, a wrapper's 2>&1; but not a terminal, which is no client: a
 * person typing), or a network socket (inetd's, when a wrapper put pipes on
 * 0 and 1)? Then neither a log line nor a checker may write to it.
 */
int
net_stderr_client(void)
{
	struct sockaddr_storage ss;
	socklen_t len = sizeof ss;
	struct stat err;

	if ((net_samefile(0, 2) || net_samefile(1, 2)) && !isatty(2))
		return 1;
	return net_stat(2, &err) == 0 && S_ISSOCK(err.st_mode) &&
	    getsockname(2, (struct sockaddr *)&ss, &len) == 0 &&
	    (ss.ss_family == AF_INET || ss.ss_family == AF_INET6);
}

/* TCP urgent data stays in the stream, an ordinary byte (RFC 6093 s5). */
void
net_inline(int fd)
{
	int one = 1;

	(void)setsockopt(fd, SOL_SOCKET, SO_OOBINLINE, &one, sizeof one);
}

/*
 * One address of the target, judged by q->keep: kept while there is room
 * (the first ADDRS_MAX), or else counted, and the first refused one noted.
 */
void
net_add(const struct query *q, const struct sockaddr *sa, struct addrs *as)
{
	if (q->keep(sa, q->arg)) {
		if (as->n < ADDRS_MAX)
			memcpy(&as->a[as->n++], sa, salen(sa));
	} else if (as->nrefused++ == 0)
		memcpy(&as->refused, sa, salen(sa));
}

/* What the resolving child sends back: getaddrinfo's error and the addresses. */
struct answer {
	int error;
	struct addrs as;
};

/*
 * In the child: resolve, judge every address, write {error, addresses} to
 * fd, exit. It dies with connectd (a signal from the super-server), not
 * minutes after it.
 */
_Noreturn static void
lookup(int fd, const struct query *q, pid_t parent)
{
	struct addrinfo hints = { .ai_family = q->family, .ai_socktype = SOCK_STREAM }, *res, *ai;
	struct answer out = { 0 };
	struct sockaddr_storage ss;
	ssize_t w;

	if (prctl(PR_SET_PDEATHSIG, SIGKILL, 0, 0, 0) == -1 || getppid() != parent)
		_exit(1);
	out.error = getaddrinfo(q->host, NULL, &hints, &res);
	for (ai = out.error ? NULL : res; ai != NULL; ai = ai->ai_next) {
		if ((ai->ai_family != AF_INET && ai->ai_family != AF_INET6) ||
		    ai->ai_addrlen > sizeof ss)
			continue;
		memcpy(&ss, ai->ai_addr, ai->ai_addrlen);
		((struct sockaddr_in *)&ss)->sin_port = htons((unsigned short)q->port);
		net_add(q, (const struct sockaddr *)&ss, &out.as);
	}
	if (out.error == 0)
		freeaddrinfo(res);
	w = write(fd, &out, sizeof out);
	_exit(w == (ssize_t)sizeof out ? 0 : 1);
}

static int
neterr(struct neterr *e, enum status st, const char *type)
{
	e->status = st;
	e->type = type;
	return -1;
}

/* Read the child's whole answer before the deadline. */
static int
answer(int fd, long long deadline, void *buf, size_t size)
{
	size_t got = 0;
	ssize_t n;

	while (got < size) {
		if (net_wait(fd, 0, deadline) != 1)
			return -1;
		n = read(fd, (char *)buf + got, size - got);
		if (n == -1 && errno == EINTR)
			continue;
		if (n <= 0)
			return n == 0 && got == 0 ? -2 : -1;
		got += (size_t)n;
	}
	return 0;
}

/*
 * Resolve q->host and keep the addresses that q->keep allows. 0 when the
 * resolver gave any address (as->n may be 0: every one refused), or -1.
 */
int
net_resolve(const struct query *q, long long deadline, struct addrs *as, struct neterr *e)
{
	struct answer in;
	int p[2], r;
	pid_t pid, parent = getpid();

	if (pipe2(p, O_CLOEXEC) == -1 || (pid = fork()) == -1)
		return neterr(e, ST_BADGATEWAY, "proxy_internal_error");
	if (pid == 0) {
		(void)close(p[0]);
		lookup(p[1], q, parent);
	}
	(void)close(p[1]);
	r = answer(p[0], deadline, &in, sizeof in);
	(void)close(p[0]);
	if (r != 0)
		(void)kill(pid, SIGKILL);
	while (waitpid(pid, NULL, 0) == -1 && errno == EINTR)
		;
	if (r == -1)
		return neterr(e, ST_GWTIMEOUT, "dns_timeout");
	if (r == -2 || in.error == EAI_AGAIN || in.error == EAI_SYSTEM || in.error == EAI_MEMORY)
		return neterr(e, ST_BADGATEWAY, "dns_error");
	if (in.error != 0 || in.as.n > ADDRS_MAX || in.as.n + in.as.nrefused == 0)
		return neterr(e, ST_BADGATEWAY, "dns_error");
	*as = in.as;
	return 0;
}

/*
 * The address as it goes on the wire: an IPv4-mapped one becomes the IPv4
 * address it maps, so that the IPv6 sockets can all be IPV6_V6ONLY.
 */
static const struct sockaddr *
wire(const struct sockaddr *sa, struct sockaddr_in *s4)
{
	const struct sockaddr_in6 *s6 = (const struct sockaddr_in6 *)(const void *)sa;

	if (sa->sa_family != AF_INET6 || !IN6_IS_ADDR_V4MAPPED(&s6->sin6_addr))
		return sa;
	memset(s4, 0, sizeof *s4);
	s4->sin_family = AF_INET;
	s4->sin_port = s6->sin6_port;
	memcpy(&s4->sin_addr, s6->sin6_addr.s6_addr + 12, 4);
	return (const struct sockaddr *)s4;
}

/*
 * A socket for the target's family: an IPv6 one is IPV6_V6ONLY, so that
 * the kernel never carries it over IPv4. fd, or -1 and errno.
 */
static int
sock(int family)
{
	int fd, one = 1;

	if ((fd = socket(family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0)) == -1)
		return -1;
	if (family == AF_INET6 &&
	    setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof one) == -1) {
		one = errno;
		(void)close(fd);
		errno = one;
		return -1;
	}
	return fd;
}

/* What an attempt's errno says to the client: the last attempt to fail names the answer. */
static void
failure(struct neterr *e, int err)
{
	if (err == -1)
		neterr(e, ST_BADGATEWAY, "proxy_configuration_error");
	else if (err == ETIMEDOUT)
		neterr(e, ST_GWTIMEOUT, "connection_timeout");
	else if (err == ECONNREFUSED)
		neterr(e, ST_BADGATEWAY, "connection_refused");
	else if (err == ENETUNREACH || err == EHOSTUNREACH || err == EADDRNOTAVAIL)
		neterr(e, ST_BADGATEWAY, "destination_ip_unroutable");
	else if (err == EMFILE)
		neterr(e, ST_BADGATEWAY, "proxy_internal_error");
	else
		neterr(e, ST_BADGATEWAY, "destination_unavailable");
}

/*
 * Start one non-blocking connect: the socket (connecting, or connected at
 * once: *done), or -1 and *err: an errno value, or -1 when -b's address
 * cannot be used, which is never ignored.
 */
static int
start(const struct sockaddr *to, const struct sockaddr *from, int *done, int *err)
{
	int fd, one = 1;

	*done = 0;
	if ((fd = sock(to->sa_family)) == -1) {
		*err = errno;
		return -1;
	}
	if (fd >= FD_SETSIZE)	/* select() cannot hold it */
		*err = EMFILE;
	else if (from != NULL && (from->sa_family != to->sa_family ||
	    setsockopt(fd, IPPROTO_IP, IP_BIND_ADDRESS_NO_PORT, &one, sizeof one) == -1 ||
	    bind(fd, from, salen(from)) == -1))
		*err = -1;
	else if (connect(fd, to, salen(to)) == 0)
		return *done = 1, fd;
	else if (errno == EINPROGRESS)
		return fd;
	else
		*err = errno;
	(void)close(fd);
	return -1;
}

/*
 * The order of the attempts (RFC 8305 s4): the resolver's order, the two
 * families taking turns, starting with the family of the first address.
 */
static size_t
interleave(const struct addrs *as, size_t *order)
{
	size_t i, k = 0, next[2] = { 0, 0 };
	int fam[2], turn = 0;

	fam[0] = as->n > 0 ? as->a[0].sa.sa_family : AF_INET;
	fam[1] = fam[0] == AF_INET ? AF_INET6 : AF_INET;
	while (k < as->n) {
		for (i = next[turn]; i < as->n && as->a[i].sa.sa_family != fam[turn]; i++)
			;
		next[turn] = i + 1;
		if (i < as->n)
			order[k++] = i;
		turn = 1 - turn;
	}
	return k;
}

/* The attempts under way: their sockets and when each gives up. */
struct race {
	int fd[ATTEMPTS_MAX];
	long long until[ATTEMPTS_MAX];
	size_t n;
};

static void
lose(struct race *rc, size_t k)
{
	if (rc->fd[k] != -1)	/* the winner's slot */
		(void)close(rc->fd[k]);
	rc->fd[k] = rc->fd[--rc->n];
	rc->until[k] = rc->until[rc->n];
}

/* Wait until an attempt is decided, or until the time given; then the decided one, or -1. */
static int
settle(struct race *rc, long long until, int *err, int *fd)
{
	struct timespec ts;
	fd_set w;
	long long left;
	socklen_t len = sizeof *err;
	size_t k;
	int max = -1;

	FD_ZERO(&w);
	for (k = 0; k < rc->n; k++) {
		FD_SET(rc->fd[k], &w);
		max = rc->fd[k] > max ? rc->fd[k] : max;
		until = rc->until[k] < until ? rc->until[k] : until;
	}
	left = until - net_now();
	left = left > 0 ? left : 0;
	ts.tv_sec = (time_t)(left / 1000);
	ts.tv_nsec = (long)(left % 1000) * 1000000;
	if (net_select(max + 1, NULL, &w, &ts) <= 0)
		FD_ZERO(&w);
	for (k = 0; k < rc->n; k++) {
		if (FD_ISSET(rc->fd[k], &w)) {
			if (getsockopt(rc->fd[k], SOL_SOCKET, SO_ERROR, err, &len) == -1)
				*err = errno;
		} else if (rc->until[k] <= net_now())
			*err = ETIMEDOUT;
		else
			continue;
		*fd = rc->fd[k];
		return (int)k;
	}
	return -1;
}

/*
 * Happy Eyeballs (RFC 8305): the addresses in interleaved order, a new
 * attempt every delay ms (or at once when the newest fails), at most
 * ATTEMPTS_MAX under way; the first connected wins, the others are closed.
 * With delay 0, one attempt at a time, each given an equal share of the
 * time that is left. Returns the connected descriptor, or -1 with *e
 * naming the last failure (504 when time ran out with attempts under way).
 */
int
net_connect(const struct addrs *as, const struct sockaddr_storage *from, long long deadline,
    unsigned delay, struct neterr *e)
{
	struct race rc = { .n = 0 };
	struct sockaddr_in to4, src4;
	const struct sockaddr *src = from ? wire((const struct sockaddr *)from, &src4) : NULL;
	size_t order[ADDRS_MAX], n = interleave(as, order), next = 0;
	long long now, at = net_now();
	int fd = -1, k, done, err, newest = -1;

	neterr(e, ST_BADGATEWAY, "proxy_internal_error");
	while (fd == -1 && !stopped && (now = net_now()) < deadline && (next < n || rc.n > 0)) {
		if (next < n && rc.n < ATTEMPTS_MAX && (now >= at || rc.n == 0)) {
			fd = start(wire(&as->a[order[next]].sa, &to4), src,
			    &done, &err);
			next++;
			if (fd != -1 && done)
				break;
			if (fd == -1) {
				failure(e, err);
				continue;	/* the newest failed: the next at once */
			}
			rc.fd[rc.n] = fd;
			rc.until[rc.n] = delay ? deadline : now + (deadline - now) / (long long)(n - next + 1);
			newest = fd;
			rc.n++;
			fd = -1;
			at = delay ? now + delay : deadline;
			continue;
		}
		if ((k = settle(&rc, next < n && rc.n < ATTEMPTS_MAX ? at : deadline, &err, &fd)) == -1)
			continue;
		rc.fd[k] = -1;	/* settled: not closed with the losers */
		if (err == 0)
			break;
		failure(e, err);
		if (fd == newest)
			at = now;	/* the newest failed: the next at once */
		(void)close(fd);
		fd = -1;
		rc.fd[k] = rc.fd[--rc.n];
		rc.until[k] = rc.until[rc.n];
	}
	while (rc.n > 0)
		lose(&rc, rc.n - 1);
	if (fd == -1 && net_now() >= deadline)
		neterr(e, ST_GWTIMEOUT, "connection_timeout");
	return fd;
}
