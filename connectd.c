/*
 * connectd: an HTTP CONNECT proxy for one client connection, started by a
 * super-server with the client on descriptors 0 and 1.
 */
#define _GNU_SOURCE	/* setgroups */
#include <sys/socket.h>
#include <sys/stat.h>
#include <errno.h>
#include <grp.h>
#include <pwd.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "connectd.h"
#include "log.h"
#include "net.h"
#include "parse.h"
#include "policy.h"
#include "relay.h"
#include "sandbox.h"

#define USAGE "usage: connectd [-46] [-a cidr] [-d cidr] [-A name] [-D name] [-b address] " \
	"[-c secs] [-t secs] [-i secs] [-l auto|stderr|syslog] [-u user] [portspec ...]"

struct config {
	struct policy policy;
	struct sockaddr_storage from;	/* -b */
	int bind;
	const char *bindtext;
	unsigned connect, head, idle;	/* -c, -t, -i in seconds */
	const char *user;
};

/* Everything one request needs to be answered and logged. */
struct session {
	char client[128];
	char target[4 * LOGTEXT_MAX + 8];
	struct request rq;
	size_t len;		/* bytes read into buf */
	int eof;		/* the client closed before the head was done */
	char buf[HEAD_MAX];
};

static const char *const reason[] = {
	[ST_OK] = "Connection established",
	[ST_BAD] = "Bad Request",
	[ST_FORBIDDEN] = "Forbidden",
	[ST_METHOD] = "Method Not Allowed",
	[ST_TIMEOUT] = "Request Timeout",
	[ST_TOOLARGE] = "Request Header Fields Too Large",
	[ST_BADGATEWAY] = "Bad Gateway",
	[ST_GWTIMEOUT] = "Gateway Timeout",
	[ST_VERSION] = "HTTP Version Not Supported",
};

/* An unknown option or a missing argument: one line, naming it, with the usage. */
static void
usage(int opt, const char *why)
{
	log_line("connectd: -%c: %s; %s", opt, why, USAGE);
	exit(EXIT_USAGE);
}

/* A bad argument: one line naming it, exit 100. */
static void
bad(const char *what, const char *why, const char *arg)
{
	char text[4 * LOGTEXT_MAX + 8];

	log_escape(text, sizeof text, arg, strlen(arg));
	log_line("connectd: %s: %s: %s", what, why, text);
	exit(EXIT_USAGE);
}

static unsigned
seconds(const char *opt, const char *s, unsigned long min, unsigned long max)
{
	unsigned long v;

	if (parse_number(s, strlen(s), max, &v) == -1 || v < min)
		bad(opt, min ? "not a number of seconds in 1..3600" : "not a number of seconds in 0..86400", s);
	return (unsigned)v;
}

static void
options(int argc, char **argv, struct config *cf)
{
	static const char *const defports[] = { DEF_PORTS };
	const char *err;
	size_t i;
	int c;

	opterr = 0;
	while ((c = getopt(argc, argv, ":46A:a:b:c:D:d:i:l:t:u:")) != -1) {
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
		case 'u':
			cf->user = optarg;
			break;
		case ':':
			usage(optopt, "needs an argument");
			break;
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
}

/* Started as root: become the user, with no way back. Else nothing to do. */
static void
drop(const char *user)
{
	struct passwd *pw;

	if (geteuid() != 0)
		return;
	if ((pw = getpwnam(user)) == NULL)
		bad("-u", "no such user", user);
	if (pw->pw_uid == 0)
		bad("-u", "not an unprivileged user", user);
	if (setgroups(0, NULL) == -1 || setgid(pw->pw_gid) == -1 ||
	    setuid(pw->pw_uid) == -1 || setuid(0) != -1 || geteuid() == 0) {
		log_line("connectd: -u: cannot become %s: %s", user, strerror(errno));
		exit(EXIT_USAGE);
	}
}

/* The client's name, from the socket, else from what the super-server says. */
static void
client(struct session *s)
{
	struct sockaddr_storage ss;
	socklen_t len = sizeof ss;
	const char *ip = getenv("TCPREMOTEIP"), *port = getenv("TCPREMOTEPORT");
	const char *proto = getenv("PROTO"), *host = getenv("REMOTE_HOST");
	char a[64], b[64];

	if (getpeername(0, (struct sockaddr *)&ss, &len) == 0 &&
	    (ss.ss_family == AF_INET || ss.ss_family == AF_INET6)) {
		net_format((const struct sockaddr *)&ss, s->client, sizeof s->client);
		return;
	}
	if (ip != NULL && proto != NULL && strcmp(proto, "TCP") == 0) {
		log_escape(a, sizeof a, ip, strlen(ip));
		log_escape(b, sizeof b, port ? port : "-", port ? strlen(port) : 1);
		(void)snprintf(s->client, sizeof s->client,
		    strchr(ip, ':') ? "[%s]:%s" : "%s:%s", a, b);
	} else if (host != NULL) {
		log_escape(s->client, sizeof s->client, host, strlen(host));
	} else
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
	struct stat st;
	ssize_t n;

	if (s->eof)
		return;
	if (fstat(1, &st) == 0 && S_ISSOCK(st.st_mode))
		(void)shutdown(1, SHUT_WR);
	else
		(void)close(1);
	while (net_wait(0, 0, deadline) == 1)
		if ((n = read(0, sink, sizeof sink)) == 0 || (n == -1 && errno != EINTR))
			break;
}

/* A complete answer, a log line, the exit. Request bytes are never echoed. */
static void
refuse(struct session *s, enum status st, const char *type, const char *why, const char *more)
{
	char head[512];
	int n;

	n = snprintf(head, sizeof head, "HTTP/1.1 %d %s\r\n"
	    "Proxy-Status: connectd; error=%s; details=\"%s\"\r\n%s"
	    "Content-Type: text/plain\r\nContent-Length: %zu\r\nConnection: close\r\n\r\n%s\n",
	    st, reason[st], type, why, st == ST_METHOD ? "Allow: CONNECT\r\n" : "",
	    strlen(reason[st]) + 1, reason[st]);
	(void)writeall(1, head, (size_t)n);	/* the client may be gone: EPIPE */
	log_line("client=%s target=%s status=%d error=%s%s", s->client, s->target, st, type, more);
	linger(s);
	exit(st < 500 ? EXIT_CLIENT : EXIT_TEMP);
}

/* Read until the head is complete, bad, too large, or the deadline passes. */
static enum status
head(struct session *s, long long deadline)
{
	enum status st;
	ssize_t n;

	while ((st = parse_request(s->buf, s->len, &s->rq)) == ST_MORE) {
		if (net_wait(0, 0, deadline) != 1) {
			s->rq.why = "request head timeout";
			return ST_TIMEOUT;
		}
		n = read(0, s->buf + s->len, sizeof s->buf - s->len);
		if (n == -1 && errno == EINTR)
			continue;
		if (n <= 0) {
			s->eof = 1;
			s->rq.why = "incomplete request head";
			return ST_BAD;
		}
		s->len += (size_t)n;
	}
	return st;
}

/* The name rules, before any lookup: 403 for a name they refuse; 1 when an -A rule allowed it. */
static int
names(struct session *s, const struct policy *pl)
{
	const char *why;
	char more[sizeof " rule=" + NAMEWHY_MAX];
	enum policy_name v = policy_name(pl, s->rq.host, s->rq.kind, &why);

	if (v == POLICY_NAME_DENY) {
		(void)snprintf(more, sizeof more, " rule=%s", why);
		refuse(s, ST_FORBIDDEN, "http_request_denied", "host name not allowed", more);
	}
	return v == POLICY_NAME_ALLOW;
}

/*
 * Resolve once, keep the addresses that the rules allow (opened: the name was
 * allowed by an -A rule); 403 when none is left.
 */
static void
targets(struct session *s, const struct config *cf, int opened, long long deadline,
    struct addrs *ok)
{
	struct addrs all;
	struct neterr e;
	const char *why, *firstwhy = NULL;
	char addr[80], more[256];
	size_t i;

	if (s->rq.kind != HOST_NAME) {
		(void)net_numeric(s->rq.host, s->rq.port, &all.a[0]);
		all.n = 1;
	} else if (net_resolve(s->rq.host, s->rq.port, cf->policy.family, deadline, &all, &e) == -1)
		refuse(s, e.status, e.type, "name resolution failed", "");
	ok->n = 0;
	for (i = 0; i < all.n; i++) {
		const struct sockaddr *sa = (const struct sockaddr *)&all.a[i];

		if (opened ? policy_check_named(&cf->policy, sa, &why) :
		    policy_check(&cf->policy, sa, &why))
			ok->a[ok->n++] = all.a[i];
		else if (firstwhy == NULL) {
			firstwhy = why;
			net_format(sa, addr, sizeof addr);
		}
	}
	if (ok->n == 0 && firstwhy != NULL) {
		(void)snprintf(more, sizeof more, " addr=%s rule=%s", addr, firstwhy);
		refuse(s, ST_FORBIDDEN, "destination_ip_prohibited", "destination address denied", more);
	}
}

int
main(int argc, char **argv)
{
	static struct config cf = { .connect = DEF_CONNECT, .head = DEF_HEAD,
	    .idle = DEF_IDLE, .user = DEF_USER };
	static struct session s;
	static const char ok[] = "HTTP/1.1 200 Connection established\r\n\r\n";
	struct relay rl = { .in = 0, .out = 1 };
	struct sockaddr_storage peer, local;
	socklen_t plen = sizeof peer, llen = sizeof local;
	struct addrs as;
	struct neterr e;
	enum status st;
	enum relay_end end;
	long long start = net_now(), opened;
	int named;
	char addr[80];

	log_open(LOGTO_AUTO);
	options(argc, argv, &cf);
	(void)signal(SIGPIPE, SIG_IGN);
	client(&s);
	drop(cf.user);
	(void)snprintf(s.target, sizeof s.target, "-");

	st = head(&s, start + (long long)cf.head * 1000);
	if (s.rq.targetlen > 0)
		log_escape(s.target, sizeof s.target, s.rq.target, s.rq.targetlen);
	if (st != ST_OK)
		refuse(&s, st, "http_request_error", s.rq.why, "");
	if (!policy_port(&cf.policy, s.rq.port))
		refuse(&s, ST_FORBIDDEN, "http_request_denied", "port not allowed", "");
	named = names(&s, &cf.policy);

	start = net_now() + (long long)cf.connect * 1000;
	targets(&s, &cf, named, start, &as);
	if ((rl.target = net_connect(&as, cf.bind ? &cf.from : NULL, start, &e)) == -1)
		refuse(&s, e.status, e.type, "connection failed", "");
	if (getpeername(rl.target, (struct sockaddr *)&peer, &plen) == -1 ||
	    getsockname(rl.target, (struct sockaddr *)&local, &llen) == -1)
		refuse(&s, ST_BADGATEWAY, "connection_terminated", "connection failed", "");
	net_format((struct sockaddr *)&peer, addr, sizeof addr);
	log_line("client=%s target=%s addr=%s proxy-source-port=%u status=200",
	    s.client, s.target, addr, net_port((struct sockaddr *)&local));

	rl.idle = cf.idle;
	relay_init(&rl);
	if (sandbox_enter() == -1) {
		log_line("connectd: cannot enter the sandbox: %s", strerror(errno));
		refuse(&s, ST_BADGATEWAY, "proxy_internal_error", "sandbox failed", "");
	}
	opened = net_now();
	end = writeall(1, ok, sizeof ok - 1) == -1 ? END_RESET :
	    relay_run(&rl, s.buf + s.rq.headlen, s.len - s.rq.headlen);
	opened = net_now() - opened;
	log_line("client=%s target=%s status=200 up=%llu down=%llu secs=%lld.%03lld end=%s",
	    s.client, s.target, rl.up, rl.down, opened / 1000, opened % 1000, relay_endname[end]);
	return end == END_EOF || end == END_IDLE ? EXIT_DONE : EXIT_TEMP;
}
