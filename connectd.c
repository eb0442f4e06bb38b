/*
 * connectd: an HTTP CONNECT proxy for one client connection, started by a
 * super-server with the client on descriptors 0 and 1.
 */
#define _GNU_SOURCE
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pwd.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "auth.h"
#include "connectd.h"
#include "log.h"
#include "net.h"
#include "number.h"
#include "parse.h"
#include "policy.h"
#include "proxyhdr.h"
#include "relay.h"
#include "sandbox.h"

#define USAGE "usage: connectd [-46] [-a cidr] [-d cidr] [-A name] [-D name] [-b address] " \
	"[-c secs] [-e msecs] [-H cidr] [-i secs] [-l auto|stderr|syslog] [-P checker] " \
	"[-r realm] [-t secs] [-u user] [portspec ...]"

/*
 * The small fields first, then the policy, whose counts and first rules
 * lead it, then what only -H uses: what every connection reads or writes
 * here lies in the page that the config starts on (the policy's name texts,
 * 69 KiB, are touched only with -A and -D).
 */
struct config {
	struct sockaddr_storage from;	/* -b */
	int bind;
	const char *bindtext;
	unsigned connect, head, idle;	/* -c, -t, -i in seconds */
	unsigned delay;			/* -e in milliseconds */
	const char *user;		/* -u: a name, or "uid:gid" */
	int numeric;			/* -u was uid:gid: no lookup */
	uid_t uid;
	gid_t gid;
	const char *checker;		/* -P; NULL: no authentication */
	const char *realm;		/* -r */
	char challenge[2 * REALM_MAX + 40];	/* its Proxy-Authenticate line */
	int stderr_ok;			/* a checker may have descriptor 2 */
	size_t nbalancers;
	struct policy policy;
	struct cidr balancers[BALANCERS_MAX];	/* -H: who may send a PROXY header */
};

/*
 * A step of main's with locals of its own (addresses, texts, a struct
 * stat): kept out of main's frame, which stays under every later call (the
 * log line's, the relay's), so that the stack stays in as few pages as it
 * can (each is a page of memory per connection).
 */
#define OWNFRAME	__attribute__((noinline))

/* A refusal that a step of the request decided, for main to send. */
struct verdict {
	enum status st;
	const char *type, *why;		/* the Proxy-Status error and details */
	char more[sizeof " addr= rule=" + ADDRTEXT_MAX + NAMEWHY_MAX];	/* more log fields */
};

/*
 * Everything one request needs to be answered and logged. What every
 * connection reads or writes (up to the start of buf, where a head is)
 * fits in the page that the session starts on.
 */
struct session {
	char client[192];	/* what follows client= in a log line: the client [via=balancer] */
	char target[LOGFIELD_SIZE];
	char user[LOGFIELD_SIZE + 8];	/* " user=NAME", or empty */
	const char *challenge;		/* the header line of a 407 */
	struct request rq;
	size_t off;		/* bytes of the PROXY header at the start of buf; the head follows */
	size_t len;		/* bytes read into buf */
	int eof;		/* the client closed before the head was done */
	char buf[HEAD_MAX];
};

static const char *const reason[] = {
	[ST_OK] = "Connection established",
	[ST_BAD] = "Bad Request",
	[ST_FORBIDDEN] = "Forbidden",
	[ST_METHOD] = "Method Not Allowed",
	[ST_AUTH] = "Proxy Authentication Required",
	[ST_TIMEOUT] = "Request Timeout",
	[ST_TOOLARGE] = "Request Header Fields Too Large",
	[ST_INTERNAL] = "Internal Server Error",
	[ST_BADGATEWAY] = "Bad Gateway",
	[ST_GWTIMEOUT] = "Gateway Timeout",
	[ST_VERSION] = "HTTP Version Not Supported",
};

/* An unknown option or a missing argument: one line, naming it, with the usage. */
_Noreturn static void
usage(int opt, const char *why)
{
	log_line("connectd: -%c: %s; %s", opt, why, USAGE);
	exit(EXIT_USAGE);
}

/* A bad argument: one line naming it, exit 100. */
_Noreturn static void
bad(const char *what, const char *why, const char *arg)
{
	char text[LOGFIELD_SIZE];

	log_escape(text, sizeof text, arg, strlen(arg));
	log_line("connectd: %s: %s: %s", what, why, text);
	exit(EXIT_USAGE);
}

static unsigned
seconds(const char *opt, const char *s, unsigned long min, unsigned long max)
{
	unsigned long v;
	char why[64];

	if (number_parse(s, strlen(s), max, &v) == -1 || v < min) {
		(void)snprintf(why, sizeof why, "not a number of seconds in %lu..%lu", min, max);
		bad(opt, why, s);
	}
	return (unsigned)v;
}

/* -e: 0, or DELAY_MIN..DELAY_MAX milliseconds. */
static unsigned
msecs(const char *s)
{
	unsigned long v;
	char why[64];

	if (number_parse(s, strlen(s), DELAY_MAX, &v) == -1 || (v > 0 && v < DELAY_MIN)) {
		(void)snprintf(why, sizeof why, "not 0 or a number of milliseconds in %d..%d",
		    DELAY_MIN, DELAY_MAX);
		bad("-e", why, s);
	}
	return (unsigned)v;
}

/* -H: a network in the syntax of -a and -d, read by the same parser. */
static void
balancer(struct config *cf, const char *arg)
{
	if (cf->nbalancers == BALANCERS_MAX)
		bad("-H", "too many networks", arg);
	if (policy_cidr(arg, &cf->balancers[cf->nbalancers]) == -1)
		bad("-H", "bad address or network", arg);
	cf->nbalancers++;
}

/* -u: a user name, or uid:gid in numbers, which needs no lookup of the user database. */
static void
ids(struct config *cf, const char *arg)
{
	const char *colon = strchr(arg, ':');
	unsigned long u, g;

	cf->user = arg;
	cf->numeric = colon != NULL;
	if (colon == NULL)
		return;
	if (number_parse(arg, (size_t)(colon - arg), ID_MAX, &u) == -1 ||
	    number_parse(colon + 1, strlen(colon + 1), ID_MAX, &g) == -1)
		bad("-u", "not a user name or uid:gid", arg);
	cf->uid = (uid_t)u;
	cf->gid = (gid_t)g;
}

OWNFRAME static void
options(int argc, char **argv, struct config *cf)
{
	static const char *const defports[] = { DEF_PORTS };
	const char *err;
	size_t i;
	int c;

	cf->connect = DEF_CONNECT;
	cf->delay = DEF_DELAY;
	cf->head = DEF_HEAD;
	cf->idle = DEF_IDLE;
	cf->user = DEF_USER;
	opterr = 0;
	while ((c = getopt(argc, argv, ":46A:a:b:c:D:d:e:H:i:l:P:r:t:u:")) != -1) {
		switch (c) {
		case '4':
			cf->policy.family = AF_INET;
			break;
		case '6':
			cf->policy.family = AF_INET6;
			break;
		case 'a':
		case 'd':
			if ((err = policy_add_rule(&cf->policy, c == 'a', optarg)) != NULL)
				bad(c == 'a' ? "-a" : "-d", err, optarg);
			break;
		case 'A':
		case 'D':
			if ((err = policy_add_name(&cf->policy, c == 'A', optarg)) != NULL)
				bad(c == 'A' ? "-A" : "-D", err, optarg);
			break;
		case 'b':
			if (net_numeric(optarg, 0, &cf->from) == -1)
				bad("-b", "not a numeric address", optarg);
			cf->bind = 1;
			cf->bindtext = optarg;
			break;
		case 'c':
			cf->connect = seconds("-c", optarg, 1, SECS_MAX);
			break;
		case 'e':
			cf->delay = msecs(optarg);
			break;
		case 'H':
			balancer(cf, optarg);
			break;
		case 't':
			cf->head = seconds("-t", optarg, 1, SECS_MAX);
			break;
		case 'i':
			cf->idle = seconds("-i", optarg, 0, IDLE_MAX);
			break;
		case 'l':
			if (strcmp(optarg, "auto") == 0)
				log_open(LOGTO_AUTO);
			else if (strcmp(optarg, "stderr") == 0)
				log_open(LOGTO_STDERR);
			else if (strcmp(optarg, "syslog") == 0)
				log_open(LOGTO_SYSLOG);
			else
				bad("-l", "not auto, stderr or syslog", optarg);
			break;
		case 'P':
			cf->checker = optarg;
			break;
		case 'r':
			cf->realm = optarg;
			break;
		case 'u':
			ids(cf, optarg);
			break;
		case ':':
			usage(optopt, "needs an argument");
		default:
			usage(optopt, "unknown option");
		}
	}
	for (i = (size_t)optind; i < (size_t)argc; i++)
		if ((err = policy_add_ports(&cf->policy, argv[i])) != NULL)
			bad("port", err, argv[i]);
	if (cf->policy.nports == 0)
		for (i = 0; i < sizeof defports / sizeof defports[0]; i++)
			(void)policy_add_ports(&cf->policy, defports[i]);
	if (cf->bind && cf->policy.family != AF_UNSPEC && cf->from.ss_family != cf->policy.family)
		bad("-b", "not of the family of -4 or -6", cf->bindtext);
	if (cf->realm != NULL && cf->checker == NULL)
		bad("-r", "given without -P", cf->realm);
	if (cf->realm == NULL)
		cf->realm = DEF_REALM;
	if ((err = auth_challenge(cf->realm, cf->challenge, sizeof cf->challenge)) != NULL)
		bad("-r", err, cf->realm);
}

/* -P, once the user is the one that will run it: a file that it may run. */
OWNFRAME static void
executable(const char *path)
{
	struct stat st;

	if (stat(path, &st) == -1)
		bad("-P", errno == ENOENT ? "no such file" : "cannot be looked up", path);
	if (!S_ISREG(st.st_mode))
		bad("-P", "not a regular file", path);
	if (access(path, X_OK) == -1)
		bad("-P", "not executable", path);
}

/*
 * The calls themselves: connectd has one thread, and musl's wrappers would
 * first stop every other thread, at three more calls each. i386's calls of
 * 32-bit ids are the ones whose names end in 32.
 */
#ifdef SYS_setresuid32
#define SETGROUPS	SYS_setgroups32
#define SETRESGID	SYS_setresgid32
#define SETRESUID	SYS_setresuid32
#else
#define SETGROUPS	SYS_setgroups
#define SETRESGID	SYS_setresgid
#define SETRESUID	SYS_setresuid
#endif

/* Started as root: become the -u user, with no way back. Else nothing to do. */
OWNFRAME static void
drop(const struct config *cf)
{
	struct passwd *pw;
	uid_t uid = cf->uid;
	gid_t gid = cf->gid;

	if (geteuid() != 0)
		return;
	if (!cf->numeric) {
		if ((pw = getpwnam(cf->user)) == NULL)
			bad("-u", "no such user", cf->user);
		uid = pw->pw_uid;
		gid = pw->pw_gid;
	}
	if (uid == 0)
		bad("-u", "not an unprivileged user", cf->user);
	if (syscall(SETGROUPS, 0, NULL) == -1 || syscall(SETRESGID, gid, gid, gid) == -1 ||
	    syscall(SETRESUID, uid, uid, uid) == -1 || syscall(SETRESUID, 0, 0, 0) != -1 ||
	    geteuid() == 0) {
		log_line("connectd: -u: cannot become %s: %s", cf->user, strerror(errno));
		exit(EXIT_USAGE);
	}
}

/* The peer on descriptor 0, when it is an IP socket. */
static int
peer(struct sockaddr_storage *ss)
{
	socklen_t len = sizeof *ss;

	return getpeername(0, (struct sockaddr *)ss, &len) == 0 &&
	    (ss->ss_family == AF_INET || ss->ss_family == AF_INET6);
}

/* An address and a port from the environment, escaped: "ip:port", "[ip6]:port". */
static void
hostport(struct session *s, const char *ip, const char *port)
{
	char a[64], b[64];

	log_escape(a, sizeof a, ip, strlen(ip));
	log_escape(b, sizeof b, port ? port : "-", port ? strlen(port) : 1);
	(void)snprintf(s->client, sizeof s->client, strchr(ip, ':') ? "[%s]:%s" : "%s:%s", a, b);
}

/*
 * The client's name: what the super-server says of the connection it
 * accepted, which stays right when a front-end (stunnel) stands between it
 * and descriptor 0; else the peer of descriptor 0; else xinetd's address.
 */
OWNFRAME static void
client(struct session *s)
{
	const char *ip = getenv("TCPREMOTEIP"), *proto = getenv("PROTO");
	const char *addr = getenv("REMOTE_ADDR"), *port = getenv("REMOTE_PORT");
	const char *host = getenv("REMOTE_HOST");
	struct sockaddr_storage ss;

	if (ip != NULL && proto != NULL && strcmp(proto, "TCP") == 0)
		hostport(s, ip, getenv("TCPREMOTEPORT"));	/* ucspi-tcp, s6-tcpserver */
	else if (addr != NULL && port != NULL)
		hostport(s, addr, port);	/* systemd, Accept=yes */
	else if (host != NULL && port != NULL)
		hostport(s, host, port);	/* stunnel's exec */
	else if (peer(&ss))
		net_format((const struct sockaddr *)&ss, s->client, sizeof s->client);
	else if (host != NULL)
		log_escape(s->client, sizeof s->client, host, strlen(host));
	else
		(void)snprintf(s->client, sizeof s->client, "-");
}

static int
writeall(int fd, const char *p, size_t n)
{
	ssize_t w;

	while (n > 0) {
		if ((w = write(fd, p, n)) == -1) {
			if (errno == EINTR)
				continue;
			return -1;
		}
		p += w;
		n -= (size_t)w;
	}
	return 0;
}

/* After a refusal: let the client read the answer before the socket closes. */
static void
linger(const struct session *s)
{
	long long deadline = net_now() + LINGER_SECS * 1000;
	char sink[4096];
	ssize_t n;

	if (s->eof)
		return;
	if (net_issock(1))
		(void)shutdown(1, SHUT_WR);
	else
		(void)close(1);
	while (net_wait(0, 0, deadline) == 1)
		if ((n = read(0, sink, sizeof sink)) == 0 || (n == -1 && errno != EINTR))
			break;
}

/*
 * Before anything else: descriptors 0, 1 and 2 open, every other one closed
 * (a wrapper's leftovers would push connectd's own past what select() holds).
 * A closed 2 is /dev/null from now on; a closed 0 or 1 means there is no client.
 */
OWNFRAME static void
descriptors(void)
{
	struct pollfd pf[3] = { { .fd = 0 }, { .fd = 1 }, { .fd = 2 } };
	int fd, closed = 0, polled = poll(pf, 3, 0) != -1;	/* one call: POLLNVAL is a closed one */

	for (fd = 0; fd <= 2; fd++)
		if (polled ? (pf[fd].revents & POLLNVAL) != 0 : fcntl(fd, F_GETFD) == -1 && errno == EBADF) {
			if (open("/dev/null", O_RDWR) != fd)
				exit(EXIT_TEMP);	/* nowhere to say so */
			closed |= fd < 2;
		}
#ifdef SYS_close_range
	if (syscall(SYS_close_range, 3U, ~0U, 0U) == -1)
#endif
		for (fd = 3; fd < FD_SETSIZE * 4; fd++)
			(void)close(fd);
	net_look();
	log_open(LOGTO_AUTO);
	if (closed) {
		log_line("connectd: descriptor 0 or 1 is closed: no client to serve");
		exit(EXIT_USAGE);
	}
	if (net_issock(0))
		net_inline(0);	/* an urgent byte in the head is read, not skipped */
}

/* A SIGTERM or SIGHUP before the tunnel: the decision line says so, the exit. */
static void
interrupted(const struct session *s)
{
	if (!net_stopped())
		return;
	log_line("client=%s%s target=%s status=- end=signal", s->client, s->user, s->target);
	exit(EXIT_TEMP);
}

/* A complete answer, a log line, the exit. Request bytes are never echoed. */
_Noreturn static void
refuse(struct session *s, enum status st, const char *type, const char *why, const char *more)
{
	const char *field = st == ST_METHOD ? "Allow: CONNECT\r\n" : st == ST_AUTH ? s->challenge : "";
	char head[1024];
	int n;

	n = snprintf(head, sizeof head, "HTTP/1.1 %d %s\r\n"
	    "Proxy-Status: connectd; error=%s; details=\"%s\"\r\n%s"
	    "Content-Type: text/plain\r\nContent-Length: %zu\r\nConnection: close\r\n\r\n%s\n",
	    st, reason[st], type, why, field, strlen(reason[st]) + 1, reason[st]);
	(void)writeall(1, head, (size_t)n);	/* the client may be gone: EPIPE */
	log_line("client=%s%s target=%s status=%d error=%s%s", s->client, s->user, s->target,
	    st, type, more);
	linger(s);
	exit(st < 500 ? EXIT_CLIENT : EXIT_TEMP);
}

/*
 * One read into the head's buffer before the deadline: 1; 0 at the deadline;
 * -1 at EOF. A socket is read first and waited for only when it has nothing
 * (a client's head is most often there before connectd starts).
 */
static int
more(struct session *s, long long deadline)
{
	ssize_t n = -1;
	int again = 1;

	if (net_issock(0)) {
		n = recv(0, s->buf + s->len, sizeof s->buf - s->len, MSG_DONTWAIT);
		again = n == -1 && (errno == EAGAIN || errno == EINTR);
	}
	while (again) {
		if (net_wait(0, 0, deadline) != 1)
			return 0;
		n = read(0, s->buf + s->len, sizeof s->buf - s->len);
		again = n == -1 && errno == EINTR;
	}
	if (n <= 0) {
		s->eof = 1;
		return -1;
	}
	s->len += (size_t)n;
	return 1;
}

/* Read until the head is complete, bad, too large, or the deadline passes. */
static enum status
head(struct session *s, long long deadline)
{
	enum status st;
	int r;

	while ((st = parse_request(s->buf + s->off, s->len - s->off, &s->rq)) == ST_MORE) {
		if (s->len == sizeof s->buf) {	/* a PROXY header took its share */
			s->rq.why = "request head too large";
			return ST_TOOLARGE;
		}
		if ((r = more(s, deadline)) != 1) {
			s->rq.why = r == 0 ? "request head timeout" : "incomplete request head";
			return r == 0 ? ST_TIMEOUT : ST_BAD;
		}
	}
	return st;
}

/* No trusted balancer, or no valid header from it: no one to answer; close. */
_Noreturn static void
unproxied(struct session *s, const char *type)
{
	log_line("client=%s target=%s status=- error=%s", s->client, s->target, type);
	linger(s);
	exit(EXIT_CLIENT);
}

/*
 * With -H: the peer must be in a -H network, and the connection must begin
 * with its PROXY header, read under the head's deadline. A header that
 * carries a client other than the balancer itself names it, and the
 * balancer after it.
 */
OWNFRAME static void
proxied(struct session *s, const struct config *cf, long long deadline)
{
	struct sockaddr_storage bal;
	struct proxyhdr ph;
	enum proxyhdr_status st;
	char src[ADDRTEXT_MAX], via[ADDRTEXT_MAX];

	if (!peer(&bal) || !proxyhdr_trusted(cf->balancers, cf->nbalancers, (struct sockaddr *)&bal))
		unproxied(s, "proxy_peer_untrusted");
	while ((st = proxyhdr_parse(s->buf, s->len, &ph)) == PROXYHDR_MORE)
		if (more(s, deadline) != 1) {
			interrupted(s);
			unproxied(s, s->len == 0 ? "proxy_header_missing" : "proxy_header_invalid");
		}
	if (st != PROXYHDR_OK)
		unproxied(s, st == PROXYHDR_MISSING ? "proxy_header_missing" : "proxy_header_invalid");
	s->off = ph.len;
	if (proxyhdr_own(&ph, (struct sockaddr *)&bal))
		return;	/* a health check: the balancer is the client */
	net_format((const struct sockaddr *)&ph.src, src, sizeof src);
	net_format((const struct sockaddr *)&bal, via, sizeof via);
	(void)snprintf(s->client, sizeof s->client, "%s via=%s", src, via);
}

/* A refusal for main to send: -1. */
static int
deny(struct verdict *v, enum status st, const char *type, const char *why)
{
	v->st = st;
	v->type = type;
	v->why = why;
	v->more[0] = '\0';
	return -1;
}

/*
 * With -P: 0 for credentials that the checker accepts, or -1 and a 407 (a 400
 * for two fields; a 500 when the checker fails). Their text in the head is
 * wiped once decoded, the decoded password once the checker has it. The user
 * name is logged from here on. Its 1 KiB name stays out of main's frame
 * (OWNFRAME).
 */
OWNFRAME static int
authenticate(struct session *s, const struct config *cf, struct verdict *v)
{
	static struct credentials c;
	char name[LOGFIELD_SIZE], why[128];
	const char *err;
	enum auth_verdict av;

	if (s->rq.nauth > 1)
		return deny(v, ST_BAD, "http_request_error", "two Proxy-Authorization fields");
	if (s->rq.nauth == 0)
		return deny(v, ST_AUTH, "http_request_denied", "credentials required");
	err = auth_basic(s->rq.auth, s->rq.authlen, &c);
	explicit_bzero(s->buf + (s->rq.auth - s->buf), s->rq.authlen);
	if (c.userlen > 0) {
		log_escape(name, sizeof name, c.text, c.userlen);
		(void)snprintf(s->user, sizeof s->user, " user=%s", name);
	}
	if (err != NULL) {
		explicit_bzero(&c, sizeof c);
		return deny(v, ST_AUTH, "http_request_denied", err);
	}
	av = auth_check(cf->checker, &c, cf->connect, cf->stderr_ok, why, sizeof why);
	interrupted(s);
	if (av == AUTH_REJECTED)
		return deny(v, ST_AUTH, "http_request_denied", "credentials rejected");
	if (av == AUTH_FAILED) {
		log_line("connectd: -P: %s", why);
		return deny(v, ST_INTERNAL, "proxy_internal_error", "credential check failed");
	}
	return 0;
}

/*
 * The name rules, before any lookup: -1 and a 403 for a name they refuse;
 * else 0, and *opened when an -A rule allowed it.
 */
static int
names(const struct session *s, const struct policy *pl, int *opened, struct verdict *v)
{
	const char *why;
	enum policy_name pn = policy_name(pl, s->rq.host, s->rq.kind == HOST_NAME, &why);

	*opened = pn == POLICY_NAME_ALLOW;
	if (pn != POLICY_NAME_DENY)
		return 0;
	(void)deny(v, ST_FORBIDDEN, "http_request_denied", "host name not allowed");
	(void)snprintf(v->more, sizeof v->more, " rule=%s", why);
	return -1;
}


/* For the resolver: whether the rules allow an address; of a name that an -A rule allowed. */
static int
allowed(const struct sockaddr *sa, const void *pl)
{
	const char *why;

	return policy_check(pl, sa, &why);
}

static int
allowed_named(const struct sockaddr *sa, const void *pl)
{
	const char *why;

	return policy_check_named(pl, sa, &why);
}

/*
 * Resolve once, judge every address (opened: the name was allowed by an -A
 * rule), keep the first ADDRS_MAX that the rules allow: 0; or -1 and a 502 or
 * 504 when the name does not resolve, a 403 naming the first denied address
 * when none is left.
 */
static int
targets(const struct session *s, const struct config *cf, int opened, long long deadline,
    struct addrs *ok, struct verdict *v)
{
	const struct query q = { s->rq.host, s->rq.port, cf->policy.family,
	    opened ? allowed_named : allowed, &cf->policy };
	const struct sockaddr *refused = &ok->refused.sa;
	struct sockaddr_storage ss;
	struct neterr e;
	const char *why = "-";
	char addr[ADDRTEXT_MAX];

	ok->n = ok->nrefused = 0;
	if (s->rq.kind != HOST_NAME) {
		(void)net_numeric(s->rq.host, s->rq.port, &ss);
		net_add(&q, (const struct sockaddr *)&ss, ok);
	} else if (net_resolve(&q, deadline, ok, &e) == -1)
		return deny(v, e.status, e.type, "name resolution failed");
	if (ok->n > 0)
		return 0;
	if (opened)
		(void)policy_check_named(&cf->policy, refused, &why);
	else
		(void)policy_check(&cf->policy, refused, &why);
	net_format(refused, addr, sizeof addr);
	(void)deny(v, ST_FORBIDDEN, "destination_ip_prohibited", "destination address denied");
	(void)snprintf(v->more, sizeof v->more, " addr=%s rule=%s", addr, why);
	return -1;
}

/*
 * Resolve once, judge every address, connect, under -c: the target's
 * socket, or the refusal. The addresses (0.5 KiB) live in this frame, not
 * in main's (OWNFRAME).
 */
OWNFRAME static int
reach(struct session *s, const struct config *cf, int opened)
{
	static struct verdict v;	/* a refusal's, off the stack like main's */
	struct addrs as;
	struct neterr e;
	long long connectby = net_now() + (long long)cf->connect * 1000;
	int fd;

	if (targets(s, cf, opened, connectby, &as, &v) == -1) {
		interrupted(s);
		refuse(s, v.st, v.type, v.why, v.more);
	}
	if ((fd = net_connect(&as, cf->bind ? &cf->from : NULL, connectby, cf->delay, &e)) == -1) {
		interrupted(s);
		refuse(s, e.status, e.type, "connection failed", "");
	}
	return fd;
}

int
main(int argc, char **argv)
{
	static struct config cf __attribute__((aligned(4096)));	/* zero, not initialised data: see struct config */
	static struct session s __attribute__((aligned(4096)));	/* a page of its own, see above */
	static const char ok[] = "HTTP/1.1 200 Connection established\r\n\r\n";
	struct relay rl = { .in = 0, .out = 1 };
	static struct verdict v;	/* a refusal's: out of the frame that every call goes below */
	union netaddr peer, local;	/* the target's socket's ends */
	socklen_t plen = sizeof peer, llen = sizeof local;
	enum status st;
	enum relay_end end;
	long long begun = net_now();	/* -t counts from here */
	long long headby;		/* the deadline of -t */
	long long since, ms;		/* when the tunnel opened; how long it ran */
	int opened;			/* an -A rule allowed the name */
	char addr[ADDRTEXT_MAX];

	descriptors();
	net_catch();
	options(argc, argv, &cf);
	if (cf.checker != NULL)
		cf.stderr_ok = auth_stderr();
	(void)signal(SIGPIPE, SIG_IGN);
	client(&s);
	drop(&cf);
	if (cf.checker != NULL)
		executable(cf.checker);
	(void)snprintf(s.target, sizeof s.target, "-");
	s.challenge = cf.challenge;

	headby = begun + (long long)cf.head * 1000;
	if (cf.nbalancers > 0)
		proxied(&s, &cf, headby);
	st = head(&s, headby);
	if (s.rq.targetlen > 0)
		log_escape(s.target, sizeof s.target, s.rq.target, s.rq.targetlen);
	interrupted(&s);
	if (st != ST_OK)
		refuse(&s, st, "http_request_error", s.rq.why, "");
	if (cf.checker != NULL && authenticate(&s, &cf, &v) == -1)
		refuse(&s, v.st, v.type, v.why, v.more);
	if (!policy_port(&cf.policy, s.rq.port))
		refuse(&s, ST_FORBIDDEN, "http_request_denied", "port not allowed", "");
	if (names(&s, &cf.policy, &opened, &v) == -1)
		refuse(&s, v.st, v.type, v.why, v.more);

	rl.target = reach(&s, &cf, opened);
	if (getpeername(rl.target, &peer.sa, &plen) == -1 || getsockname(rl.target, &local.sa, &llen) == -1)
		refuse(&s, ST_BADGATEWAY, "connection_terminated", "connection failed", "");
	net_format(&peer.sa, addr, sizeof addr);
	log_line("client=%s%s target=%s addr=%s proxy-source-port=%u status=200",
	    s.client, s.user, s.target, addr, net_port(&local.sa));

	rl.idle = cf.idle;
	relay_init(&rl);
	if (sandbox_enter() == -1) {
		log_line("connectd: cannot enter the sandbox: %s", strerror(errno));
		refuse(&s, ST_BADGATEWAY, "proxy_internal_error", "sandbox failed", "");
	}
	since = net_now();
	end = writeall(1, ok, sizeof ok - 1) == -1 ? END_RESET :
	    relay_run(&rl, s.buf + s.off + s.rq.headlen, s.len - s.off - s.rq.headlen);
	ms = net_now() - since;
	log_line("client=%s%s target=%s status=200 up=%llu down=%llu secs=%lld.%03lld end=%s",
	    s.client, s.user, s.target, rl.up, rl.down, ms / 1000, ms % 1000, relay_endname[end]);
	/* Nothing is buffered and no handler registered: the end touches no new page. */
	_exit(end == END_EOF || end == END_IDLE ? EXIT_DONE : EXIT_TEMP);
}
