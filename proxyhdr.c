/*
 * The PROXY protocol header that a load balancer sends before its client's
 * bytes (HAProxy's proxy-protocol.txt, versions 1 and 2), and the rule of who
 * may send one. Bytes and a length in, a status and the addresses out: no
 * I/O, no allocation. The caller keeps adding bytes and calling again until
 * the status is not PROXYHDR_MORE. A status other than PROXYHDR_MORE depends
 * only on the bytes it was decided on, so more bytes never change it.
 */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <string.h>

#include "number.h"
#include "proxyhdr.h"

#define V1_SIG		"PROXY"
#define V1_SIGLEN	5
#define V2_SIGLEN	12
#define V2_CMD_LOCAL	0x0
#define V2_CMD_PROXY	0x1
#define V2_TCP4		0x11	/* AF_INET, STREAM (s2.2) */
#define V2_TCP6		0x21	/* AF_INET6, STREAM */
#define V2_TCP4_LEN	12	/* two addresses of 4 bytes, two ports */
#define V2_TCP6_LEN	36	/* two addresses of 16 bytes, two ports */

static const unsigned char v2sig[V2_SIGLEN] = {
	0x0d, 0x0a, 0x0d, 0x0a, 0x00, 0x0d, 0x0a, 0x51, 0x55, 0x49, 0x54, 0x0a
};

static enum proxyhdr_status
fail(struct proxyhdr *ph, enum proxyhdr_status st, const char *why)
{
	ph->why = why;
	return st;
}

/* The first n bytes against a signature: 1 all of it, 0 a prefix of it, -1 not it. */
static int
signature(const char *buf, size_t n, const void *sig, size_t len)
{
	size_t k = n < len ? n : len;

	if (memcmp(buf, sig, k) != 0)
		return -1;
	return k == len;
}

static void
sockaddr(struct sockaddr_storage *ss, int family, const void *addr, unsigned port)
{
	struct sockaddr_in *s4 = (struct sockaddr_in *)ss;
	struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)ss;

	memset(ss, 0, sizeof *ss);
	if (family == AF_INET) {
		s4->sin_family = AF_INET;
		memcpy(&s4->sin_addr, addr, 4);
		s4->sin_port = htons((unsigned short)port);
	} else {
		s6->sin6_family = AF_INET6;
		memcpy(&s6->sin6_addr, addr, 16);
		s6->sin6_port = htons((unsigned short)port);
	}
}

/* A v1 port: decimal 0..65535, no leading zero (s2.1). */
static int
port(const char *s, size_t n, unsigned *v)
{
	unsigned long x;

	if (n == 0 || n > 5 || (n > 1 && s[0] == '0') || number_parse(s, n, 65535, &x) == -1)
		return -1;
	*v = (unsigned)x;
	return 0;
}

/*
 * A v1 address of the family: inet_pton() takes a dotted quad only with no
 * leading zero (an octal reading), and IPv6 text without a zone or brackets.
 */
static int
address(int family, const char *s, size_t n, unsigned char *a)
{
	char text[INET6_ADDRSTRLEN];

	if (n == 0 || n >= sizeof text)
		return -1;
	memcpy(text, s, n);
	text[n] = '\0';
	return inet_pton(family, text, a) == 1 ? 0 : -1;
}

/* Split a line at single spaces into at most max fields; -1 for an empty field. */
static int
fields(const char *l, size_t n, const char **f, size_t *fl, int max)
{
	const char *end = l + n, *sp;
	int k = 0;

	while (k < max) {
		sp = memchr(l, ' ', (size_t)(end - l));
		f[k] = l;
		fl[k] = sp ? (size_t)(sp - l) : (size_t)(end - l);
		if (fl[k++] == 0)
			return -1;
		if (sp == NULL)
			return k;
		l = sp + 1;
	}
	return -1;
}

/* PROXY TCP4|TCP6 src dst sport dport, the CRLF taken off. */
static enum proxyhdr_status
v1tcp(const char *l, size_t n, struct proxyhdr *ph)
{
	const char *f[7];
	size_t fl[7];
	unsigned char src[16], dst[16];
	unsigned sport, dport;
	int family;

	if (fields(l, n, f, fl, 7) != 6)
		return fail(ph, PROXYHDR_INVALID, "not six fields");
	family = f[1][3] == '4' ? AF_INET : AF_INET6;
	if (address(family, f[2], fl[2], src) == -1 || address(family, f[3], fl[3], dst) == -1)
		return fail(ph, PROXYHDR_INVALID, "an address not of its family");
	if (port(f[4], fl[4], &sport) == -1 || port(f[5], fl[5], &dport) == -1)
		return fail(ph, PROXYHDR_INVALID, "a bad port");
	sockaddr(&ph->src, family, src, sport);
	sockaddr(&ph->dst, family, dst, dport);
	return PROXYHDR_OK;
}

/* Does the line begin with the word w, followed by a space or its end? */
static int
word(const char *l, size_t n, const char *w)
{
	size_t k = strlen(w);

	return n >= k && memcmp(l, w, k) == 0 && (n == k || l[k] == ' ');
}

/*
 * Version 1 (s2.1): one line of printable US-ASCII, at most 107 bytes with
 * its CRLF; nothing but CRLF ends it. UNKNOWN may be followed by anything
 * printable, which is ignored.
 */
static enum proxyhdr_status
v1(const char *buf, size_t n, struct proxyhdr *ph)
{
	const char *lf = memchr(buf, '\n', n < PROXY_V1_MAX ? n : PROXY_V1_MAX);
	size_t len, i;

	ph->version = 1;
	if (lf == NULL)
		return n >= PROXY_V1_MAX ? fail(ph, PROXYHDR_INVALID, "no CRLF in 107 bytes") :
		    PROXYHDR_MORE;
	if (lf[-1] != '\r')
		return fail(ph, PROXYHDR_INVALID, "a bare LF");
	len = (size_t)(lf - buf) - 1;
	for (i = 0; i < len; i++)
		if ((unsigned char)buf[i] < 0x20 || (unsigned char)buf[i] > 0x7e)
			return fail(ph, PROXYHDR_INVALID, "a control byte");
	ph->len = len + 2;
	if (word(buf + 6, len - 6, "UNKNOWN")) {
		ph->local = 1;
		return PROXYHDR_OK;
	}
	if (word(buf + 6, len - 6, "TCP4") || word(buf + 6, len - 6, "TCP6"))
		return v1tcp(buf, len, ph);
	return fail(ph, PROXYHDR_INVALID, "not TCP4, TCP6 or UNKNOWN");
}

/* The client and the address it reached, from a v2 address block (s2.2). */
static void
v2addrs(const unsigned char *a, int family, struct proxyhdr *ph)
{
	size_t k = family == AF_INET ? 4 : 16;

	sockaddr(&ph->src, family, a, (unsigned)(a[2 * k] << 8 | a[2 * k + 1]));
	sockaddr(&ph->dst, family, a + k, (unsigned)(a[2 * k + 2] << 8 | a[2 * k + 3]));
}

/*
 * Version 2 (s2.2): the signature, version and command, family and
 * protocol, the length of the rest; the rest holds the addresses, then TLVs,
 * which are skipped. LOCAL ignores the family; a PROXY that carries no TCP
 * over IPv4 or IPv6 is the balancer's own too.
 */
static enum proxyhdr_status
v2(const unsigned char *b, size_t n, struct proxyhdr *ph)
{
	size_t rest;
	unsigned cmd;

	ph->version = 2;
	if (n <= V2_SIGLEN)
		return PROXYHDR_MORE;
	cmd = b[12] & 0x0f;
	if (b[12] >> 4 != 2)
		return fail(ph, PROXYHDR_INVALID, "not version 2");
	if (cmd != V2_CMD_LOCAL && cmd != V2_CMD_PROXY)
		return fail(ph, PROXYHDR_INVALID, "neither LOCAL nor PROXY");
	if (n < 14)
		return PROXYHDR_MORE;
	if (cmd == V2_CMD_PROXY && ((b[13] >> 4) > 3 || (b[13] & 0x0f) > 2))
		return fail(ph, PROXYHDR_INVALID, "an unknown family or protocol");
	if (n < PROXY_V2_FIXED)
		return PROXYHDR_MORE;
	rest = (size_t)(b[14] << 8 | b[15]);
	if (PROXY_V2_FIXED + rest > HEAD_MAX)
		return fail(ph, PROXYHDR_INVALID, "longer than the head may be");
	if (cmd == V2_CMD_PROXY && ((b[13] == V2_TCP4 && rest < V2_TCP4_LEN) ||
	    (b[13] == V2_TCP6 && rest < V2_TCP6_LEN)))
		return fail(ph, PROXYHDR_INVALID, "too short for its addresses");
	if (n < PROXY_V2_FIXED + rest)
		return PROXYHDR_MORE;
	ph->len = PROXY_V2_FIXED + rest;
	if (cmd == V2_CMD_LOCAL || (b[13] != V2_TCP4 && b[13] != V2_TCP6)) {
		ph->local = 1;
		return PROXYHDR_OK;
	}
	v2addrs(b + PROXY_V2_FIXED, b[13] == V2_TCP4 ? AF_INET : AF_INET6, ph);
	return PROXYHDR_OK;
}

/*
 * The header at the start of buf. As the specification detects a version:
 * "PROXY" is version 1 and the 12-byte signature version 2; bytes that begin
 * neither are no header at all (MISSING). Decided at the first byte that
 * settles it: a request that came without a header is known at once.
 */
enum proxyhdr_status
proxyhdr_parse(const char *buf, size_t n, struct proxyhdr *ph)
{
	int r;

	memset(ph, 0, sizeof *ph);
	if (n == 0)
		return PROXYHDR_MORE;
	if (buf[0] == V1_SIG[0]) {
		if ((r = signature(buf, n, V1_SIG, V1_SIGLEN)) == -1)
			return fail(ph, PROXYHDR_MISSING, "no PROXY signature");
		if (r == 0 || n == V1_SIGLEN)
			return PROXYHDR_MORE;
		if (buf[V1_SIGLEN] != ' ')
			return fail(ph, PROXYHDR_INVALID, "no space after PROXY");
		return v1(buf, n, ph);
	}
	if ((r = signature(buf, n, v2sig, V2_SIGLEN)) == -1)
		return fail(ph, PROXYHDR_MISSING, "no PROXY signature");
	return r == 0 ? PROXYHDR_MORE : v2((const unsigned char *)buf, n, ph);
}

/* An IP address, as IPv4 when it is IPv4-mapped: its 4 or 16 bytes, family and port. */
static const unsigned char *
plain(const struct sockaddr *sa, int *family, unsigned *port)
{
	static const unsigned char mapped[12] = { [10] = 0xff, [11] = 0xff };
	const struct sockaddr_in *s4 = (const struct sockaddr_in *)(const void *)sa;
	const struct sockaddr_in6 *s6 = (const struct sockaddr_in6 *)(const void *)sa;

	*family = sa->sa_family;
	if (sa->sa_family == AF_INET) {
		*port = ntohs(s4->sin_port);
		return (const unsigned char *)&s4->sin_addr;
	}
	*port = ntohs(s6->sin6_port);
	if (memcmp(s6->sin6_addr.s6_addr, mapped, sizeof mapped) != 0)
		return s6->sin6_addr.s6_addr;
	*family = AF_INET;
	return s6->sin6_addr.s6_addr + 12;
}

/*
 * Does the header name the peer itself as the client? Version 1 has no
 * LOCAL: a balancer's own connection (a health check) names the addresses
 * it used (s2.1), so that it is the balancer's own too. The peer may be
 * IPv4-mapped where the header's address is IPv4.
 */
int
proxyhdr_own(const struct proxyhdr *ph, const struct sockaddr *peer)
{
	const unsigned char *a, *b;
	unsigned pa, pb;
	int fa, fb;

	if (ph->local)
		return 1;
	if (peer->sa_family != AF_INET && peer->sa_family != AF_INET6)
		return 0;
	a = plain((const struct sockaddr *)&ph->src, &fa, &pa);
	b = plain(peer, &fb, &pb);
	return fa == fb && pa == pb && memcmp(a, b, fa == AF_INET ? 4 : 16) == 0;
}

/*
 * May this peer send a PROXY header: is it in one of the networks? An
 * IPv4-mapped peer (a dual-stack socket took an IPv4 connection) is judged
 * as the IPv4 address it is, and as itself.
 */
int
proxyhdr_trusted(const struct cidr *nets, size_t n, const struct sockaddr *peer)
{
	const unsigned char *a, *raw;
	unsigned port;
	int family;
	size_t i;

	if (peer->sa_family != AF_INET && peer->sa_family != AF_INET6)
		return 0;
	a = plain(peer, &family, &port);
	raw = peer->sa_family == AF_INET ? a :
	    ((const struct sockaddr_in6 *)(const void *)peer)->sin6_addr.s6_addr;
	for (i = 0; i < n; i++)
		if (policy_inside(&nets[i], family, a) || policy_inside(&nets[i], peer->sa_family, raw))
			return 1;
	return 0;
}
