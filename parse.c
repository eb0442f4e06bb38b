/*
 * The request head of RFC 9112, CONNECT only (RFC 9110 s9.3.6).
 * Bytes and a length in, a status and a struct request out: no I/O, no allocation.
 * The caller keeps adding bytes and calling again until the status is not ST_MORE.
 */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <string.h>
#include <strings.h>

#include "number.h"
#include "parse.h"

enum { LINE_MORE, LINE_OK, LINE_BAD };

static enum status
fail(struct request *rq, enum status st, const char *why)
{
	rq->why = why;
	return st;
}

/* RFC 9110 s5.6.2 tchar */
static int
tchar(unsigned char c)
{
	if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9'))
		return 1;
	return c != '\0' && strchr("!#$%&'*+-.^_`|~", c) != NULL;
}

static int
token(const char *s, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++)
		if (!tchar((unsigned char)s[i]))
			return 0;
	return n > 0;
}

/* One line ending in LF or CRLF (RFC 9112 s2.2); a bare CR or a NUL is bad. */
static int
line(const char **pp, const char *end, const char **l, size_t *n)
{
	const char *p = *pp, *lf = memchr(p, '\n', (size_t)(end - p));
	size_t k;

	if (lf == NULL)
		return LINE_MORE;
	k = (size_t)(lf - p);
	if (k > 0 && p[k - 1] == '\r')
		k--;
	if (memchr(p, '\r', k) != NULL || memchr(p, '\0', k) != NULL)
		return LINE_BAD;
	*l = p;
	*n = k;
	*pp = lf + 1;
	return LINE_OK;
}

/* 1 when s is a dotted quad with no leading zeros, each part 0..255. */
static int
dotquad(const char *s, size_t n)
{
	unsigned long v;
	size_t i = 0, j, parts = 0;

	while (i <= n && parts < 4) {
		for (j = i; j < n && s[j] != '.'; j++)
			;
		if (j - i > 3 || (j - i > 1 && s[i] == '0') ||
		    number_parse(s + i, j - i, 255, &v) == -1)
			return 0;
		parts++;
		i = j + 1;
	}
	return parts == 4 && i == n + 1;
}

/* A DNS name: labels of letters, digits, '-' and '_'; one final dot allowed. */
static int
dnsname(const char *s, size_t n)
{
	size_t i, label = 0;

	if (n > 0 && s[n - 1] == '.')
		n--;
	if (n == 0 || n > HOST_MAX)
		return 0;
	for (i = 0; i < n; i++) {
		unsigned char c = (unsigned char)s[i];

		if (c == '.') {
			if (label == 0)
				return 0;
			label = 0;
		} else if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
		    (c >= '0' && c <= '9') || c == '-' || c == '_') {
			if (++label > LABEL_MAX)
				return 0;
		} else
			return 0;
	}
	return label > 0;
}

/*
 * A name that the C library could read as an address (127.1, 2130706433,
 * 0x7f.1, 0177.0.0.1) must be a canonical dotted quad, or it is refused.
 */
static int
numeric(const char *host, size_t n)
{
	struct in_addr a;
	size_t i;

	if (n > 0 && host[n - 1] == '.')
		n--;
	i = n;
	while (i > 0 && host[i - 1] >= '0' && host[i - 1] <= '9')
		i--;
	if (i < n && (i == 0 || host[i - 1] == '.'))
		return 1;
	return inet_aton(host, &a) != 0;
}

static enum status
hostport(struct request *rq, const char *s, size_t n)
{
	const char *colon;
	unsigned long port;
	size_t hn;

	if (n > 0 && s[0] == '[') {
		const char *rb = memchr(s, ']', n);

		if (rb == NULL || (hn = (size_t)(rb - s - 1)) == 0 || hn > V6TEXT_MAX ||
		    hn + 2 >= n || rb[1] != ':')
			return fail(rq, ST_BAD, "malformed target");
		memcpy(rq->host, s + 1, hn);
		rq->host[hn] = '\0';
		if (strspn(rq->host, "0123456789abcdefABCDEF:.") != hn ||
		    inet_pton(AF_INET6, rq->host, &(struct in6_addr){ 0 }) != 1)
			return fail(rq, ST_BAD, "malformed target");
		rq->kind = HOST_V6;
		colon = rb + 1;
	} else {
		if ((colon = memchr(s, ':', n)) == NULL)
			return fail(rq, ST_BAD, "malformed target");
		hn = (size_t)(colon - s);
		if (!dnsname(s, hn))
			return fail(rq, ST_BAD, "malformed target");
		memcpy(rq->host, s, hn);
		rq->host[hn] = '\0';
		rq->kind = HOST_NAME;
		if (numeric(rq->host, hn)) {
			if (!dotquad(s, hn))
				return fail(rq, ST_BAD, "non-canonical numeric host");
			rq->kind = HOST_V4;
		}
	}
	colon++;
	if ((size_t)(s + n - colon) > 5 ||
	    number_parse(colon, (size_t)(s + n - colon), 65535, &port) == -1 || port == 0)
		return fail(rq, ST_BAD, "malformed target port");
	rq->port = (unsigned)port;
	return ST_OK;
}

/* CONNECT SP authority SP HTTP/1.x (RFC 9112 s3) */
static enum status
request_line(struct request *rq, const char *l, size_t n)
{
	const char *sp1 = memchr(l, ' ', n), *sp2, *v;
	size_t vn;

	if (sp1 == NULL || (sp2 = memchr(sp1 + 1, ' ', (size_t)(l + n - sp1 - 1))) == NULL)
		return fail(rq, ST_BAD, "malformed request line");
	rq->target = sp1 + 1;
	rq->targetlen = (size_t)(sp2 - sp1 - 1);
	if (!token(l, (size_t)(sp1 - l)))
		return fail(rq, ST_BAD, "malformed request line");
	if ((size_t)(sp1 - l) != 7 || memcmp(l, "CONNECT", 7) != 0)
		return fail(rq, ST_METHOD, "method not allowed");
	v = sp2 + 1;
	vn = (size_t)(l + n - v);
	if (vn != 8 || memcmp(v, "HTTP/", 5) != 0 || v[6] != '.' ||
	    v[5] < '0' || v[5] > '9' || v[7] < '0' || v[7] > '9')
		return fail(rq, ST_BAD, "malformed request line");
	if (v[5] != '1' || (v[7] != '0' && v[7] != '1'))
		return fail(rq, ST_VERSION, "HTTP version not supported");
	rq->minor = v[7] - '0';
	return hostport(rq, rq->target, rq->targetlen);
}

static int
named(const char *l, size_t n, const char *name)
{
	size_t k = strlen(name);

	return n == k && strncasecmp(l, name, k) == 0;
}

/* A field value without the whitespace around it (RFC 9112 s5.1). */
static void
value(const char *s, size_t n, const char **v, size_t *vn)
{
	while (n > 0 && (s[0] == ' ' || s[0] == '\t')) {
		s++;
		n--;
	}
	while (n > 0 && (s[n - 1] == ' ' || s[n - 1] == '\t'))
		n--;
	*v = s;
	*vn = n;
}

/* field-line of RFC 9112 s5; returns ST_OK or why not. */
static enum status
field(struct request *rq, const char *l, size_t n, int *hosts)
{
	const char *colon = memchr(l, ':', n);
	size_t i, k;

	if (n > 0 && (l[0] == ' ' || l[0] == '\t'))
		return fail(rq, ST_BAD, "obsolete line folding");
	if (colon == NULL || !token(l, k = (size_t)(colon - l)))
		return fail(rq, ST_BAD, "malformed header field");
	for (i = k + 1; i < n; i++)
		if ((unsigned char)l[i] < 0x20 && l[i] != '\t')
			return fail(rq, ST_BAD, "malformed header field");
	if (named(l, k, "content-length") || named(l, k, "transfer-encoding"))
		return fail(rq, ST_BAD, "CONNECT with a body");
	if (named(l, k, "host"))
		(*hosts)++;
	if (named(l, k, "proxy-authorization")) {
		if (rq->nauth == 0)
			value(l + k + 1, n - k - 1, &rq->auth, &rq->authlen);
		rq->nauth++;
	}
	return ST_OK;
}

enum status
parse_request(const char *buf, size_t len, struct request *rq)
{
	const char *p = buf, *end = buf + len, *l;
	size_t n;
	int r, fields = 0, hosts = 0;
	enum status st;

	memset(rq, 0, sizeof *rq);
	while ((r = line(&p, end, &l, &n)) == LINE_OK && n == 0)
		;	/* RFC 9112 s2.2: empty lines before the request line */
	if (r == LINE_OK && (st = request_line(rq, l, n)) != ST_OK)
		return st;
	while (r == LINE_OK && (r = line(&p, end, &l, &n)) == LINE_OK && n > 0) {
		if (++fields > FIELDS_MAX)
			return fail(rq, ST_TOOLARGE, "too many header fields");
		if ((st = field(rq, l, n, &hosts)) != ST_OK)
			return st;
	}
	if (r == LINE_BAD)
		return fail(rq, ST_BAD, "bare CR or NUL in the head");
	if (r == LINE_MORE)
		return len >= HEAD_MAX ? fail(rq, ST_TOOLARGE, "request head too large") : ST_MORE;
	if (hosts > 1 || (rq->minor == 1 && hosts != 1))
		return fail(rq, ST_BAD, "HTTP/1.1 needs exactly one Host");
	rq->headlen = (size_t)(p - buf);
	return ST_OK;
}
