/* parse_request and number_parse over byte arrays: every status and boundary. */
#include <stdlib.h>
#include <string.h>

#include "number.h"
#include "parse.h"
#include "unit.h"

#define H11 " HTTP/1.1\r\nHost: x\r\n\r\n"

static const struct {
	const char *name, *head;
	enum status st;
	const char *host;
	unsigned port;
} cases[] = {
	{ "a name and port", "CONNECT example.com:443" H11, ST_OK, "example.com", 443 },
	{ "HTTP/1.0 without Host", "CONNECT example.com:443 HTTP/1.0\r\n\r\n", ST_OK, "example.com", 443 },
	{ "HTTP/1.0 with one Host", "CONNECT a:443 HTTP/1.0\r\nHost: a\r\n\r\n", ST_OK, "a", 443 },
	{ "bare LF line ends", "CONNECT a.b:443 HTTP/1.1\nHost: a.b\n\n", ST_OK, "a.b", 443 },
	{ "empty lines before the request line", "\r\n\nCONNECT a:443" H11, ST_OK, "a", 443 },
	{ "a dotted quad", "CONNECT 192.0.2.1:443" H11, ST_OK, "192.0.2.1", 443 },
	{ "0.0.0.0 is a canonical quad", "CONNECT 0.0.0.0:443" H11, ST_OK, "0.0.0.0", 443 },
	{ "an IPv6 address", "CONNECT [2001:db8::1]:443" H11, ST_OK, "2001:db8::1", 443 },
	{ "an IPv4-mapped IPv6 address", "CONNECT [::ffff:127.0.0.1]:443" H11, ST_OK, "::ffff:127.0.0.1", 443 },
	{ "port 1", "CONNECT a:1" H11, ST_OK, "a", 1 },
	{ "port 65535", "CONNECT a:65535" H11, ST_OK, "a", 65535 },
	{ "port with leading zeros, 5 digits", "CONNECT a:00443" H11, ST_OK, "a", 443 },
	{ "a final dot", "CONNECT example.com.:443" H11, ST_OK, "example.com.", 443 },
	{ "underscores and digits in labels", "CONNECT _srv.1e100.net:443" H11, ST_OK, "_srv.1e100.net", 443 },
	{ "header values with tabs and obs-text", "CONNECT a:443 HTTP/1.1\r\nHost: a\r\nX: \t\x80\xff\r\n\r\n", ST_OK, "a", 443 },
	{ "field names of any case", "CONNECT a:443 HTTP/1.1\r\nhOsT: a\r\n\r\n", ST_OK, "a", 443 },

	{ "port 0", "CONNECT a:0" H11, ST_BAD, NULL, 0 },
	{ "port 65536", "CONNECT a:65536" H11, ST_BAD, NULL, 0 },
	{ "port 99999999999", "CONNECT a:99999999999" H11, ST_BAD, NULL, 0 },
	{ "port of 6 digits", "CONNECT a:000443" H11, ST_BAD, NULL, 0 },
	{ "port with a sign", "CONNECT a:+443" H11, ST_BAD, NULL, 0 },
	{ "an empty port", "CONNECT a:" H11, ST_BAD, NULL, 0 },
	{ "no port", "CONNECT a" H11, ST_BAD, NULL, 0 },
	{ "a port with letters", "CONNECT a:44x" H11, ST_BAD, NULL, 0 },
	{ "userinfo", "CONNECT user@a:443" H11, ST_BAD, NULL, 0 },
	{ "userinfo with password", "CONNECT u:p@a:443" H11, ST_BAD, NULL, 0 },
	{ "127.1", "CONNECT 127.1:443" H11, ST_BAD, NULL, 0 },
	{ "2130706433", "CONNECT 2130706433:443" H11, ST_BAD, NULL, 0 },
	{ "0x7f000001", "CONNECT 0x7f000001:443" H11, ST_BAD, NULL, 0 },
	{ "0x7f.1", "CONNECT 0x7f.1:443" H11, ST_BAD, NULL, 0 },
	{ "0177.0.0.1", "CONNECT 0177.0.0.1:443" H11, ST_BAD, NULL, 0 },
	{ "256.0.0.1", "CONNECT 256.0.0.1:443" H11, ST_BAD, NULL, 0 },
	{ "five parts", "CONNECT 1.2.3.4.5:443" H11, ST_BAD, NULL, 0 },
	{ "a quad with a final dot", "CONNECT 127.0.0.1.:443" H11, ST_BAD, NULL, 0 },
	{ "a numeric last label", "CONNECT example.123:443" H11, ST_BAD, NULL, 0 },
	{ "an empty label", "CONNECT a..b:443" H11, ST_BAD, NULL, 0 },
	{ "an empty host", "CONNECT :443" H11, ST_BAD, NULL, 0 },
	{ "a space in the target", "CONNECT a b:443" H11, ST_BAD, NULL, 0 },
	{ "an IPv6 zone id", "CONNECT [fe80::1%eth0]:443" H11, ST_BAD, NULL, 0 },
	{ "IPv6 without brackets", "CONNECT ::1:443" H11, ST_BAD, NULL, 0 },
	{ "IPv6 without a port", "CONNECT [::1]" H11, ST_BAD, NULL, 0 },
	{ "IPvFuture", "CONNECT [v1.x]:443" H11, ST_BAD, NULL, 0 },
	{ "a bad IPv6 address", "CONNECT [1:2:3:4:5:6:7:8:9]:443" H11, ST_BAD, NULL, 0 },
	{ "an absolute URI", "CONNECT http://a:443/" H11, ST_BAD, NULL, 0 },
	{ "no version", "CONNECT a:443\r\n\r\n", ST_BAD, NULL, 0 },
	{ "two spaces", "CONNECT  a:443" H11, ST_BAD, NULL, 0 },
	{ "a trailing space", "CONNECT a:443 HTTP/1.1 \r\nHost: a\r\n\r\n", ST_BAD, NULL, 0 },
	{ "a lowercase version", "CONNECT a:443 http/1.1\r\n\r\n", ST_BAD, NULL, 0 },
	{ "a version without minor", "CONNECT a:443 HTTP/1\r\n\r\n", ST_BAD, NULL, 0 },
	{ "a method that is not a token", "CON(NECT a:443" H11, ST_BAD, NULL, 0 },
	{ "GET", "GET / HTTP/1.1\r\nHost: a\r\n\r\n", ST_METHOD, NULL, 0 },
	{ "a lowercase connect", "connect a:443" H11, ST_METHOD, NULL, 0 },
	{ "HTTP/2.0", "CONNECT a:443 HTTP/2.0\r\n\r\n", ST_VERSION, NULL, 0 },
	{ "HTTP/1.2", "CONNECT a:443 HTTP/1.2\r\n\r\n", ST_VERSION, NULL, 0 },
	{ "HTTP/0.9", "CONNECT a:443 HTTP/0.9\r\n\r\n", ST_VERSION, NULL, 0 },
	{ "HTTP/1.1 without Host", "CONNECT a:443 HTTP/1.1\r\n\r\n", ST_BAD, NULL, 0 },
	{ "two Hosts", "CONNECT a:443 HTTP/1.1\r\nHost: a\r\nHost: a\r\n\r\n", ST_BAD, NULL, 0 },
	{ "HTTP/1.0 with two Hosts", "CONNECT a:443 HTTP/1.0\r\nHost: a\r\nHost: a\r\n\r\n", ST_BAD, NULL, 0 },
	{ "Content-Length", "CONNECT a:443 HTTP/1.1\r\nHost: a\r\nContent-Length: 0\r\n\r\n", ST_BAD, NULL, 0 },
	{ "Transfer-Encoding", "CONNECT a:443 HTTP/1.1\r\nHost: a\r\ntransfer-encoding: chunked\r\n\r\n", ST_BAD, NULL, 0 },
	{ "a field without a colon", "CONNECT a:443 HTTP/1.1\r\nHost: a\r\nX\r\n\r\n", ST_BAD, NULL, 0 },
	{ "a space before the colon", "CONNECT a:443 HTTP/1.1\r\nHost : a\r\n\r\n", ST_BAD, NULL, 0 },
	{ "an empty field name", "CONNECT a:443 HTTP/1.1\r\nHost: a\r\n: x\r\n\r\n", ST_BAD, NULL, 0 },
	{ "obs-fold", "CONNECT a:443 HTTP/1.1\r\nHost: a\r\n x\r\n\r\n", ST_BAD, NULL, 0 },
	{ "obs-fold with a tab", "CONNECT a:443 HTTP/1.1\r\nHost: a\r\n\tx\r\n\r\n", ST_BAD, NULL, 0 },
	{ "a bare CR in a field", "CONNECT a:443 HTTP/1.1\r\nHost: a\rb\r\n\r\n", ST_BAD, NULL, 0 },
	{ "a bare CR in the request line", "CONNECT a:443\r HTTP/1.1\r\nHost: a\r\n\r\n", ST_BAD, NULL, 0 },
	{ "a control byte in a field", "CONNECT a:443 HTTP/1.1\r\nHost: a\x01\r\n\r\n", ST_BAD, NULL, 0 },
	{ "a DEL-free control: escape", "CONNECT a:443 HTTP/1.1\r\nHost: a\x1b[m\r\n\r\n", ST_BAD, NULL, 0 },
	{ "incomplete", "CONNECT a:443 HTTP/1.1\r\nHost: a\r\n", ST_MORE, NULL, 0 },
	{ "nothing yet", "", ST_MORE, NULL, 0 },
	{ "only empty lines", "\r\n\r\n", ST_MORE, NULL, 0 },
};

static void
table(void)
{
	struct request rq;
	enum status st;
	size_t i;

	for (i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		st = parse_request(cases[i].head, strlen(cases[i].head), &rq);
		if (cases[i].host == NULL)
			CHECK(st == cases[i].st, "%s gets %d (got %d)", cases[i].name, cases[i].st, st);
		else
			CHECK(st == cases[i].st && strcmp(rq.host, cases[i].host) == 0 &&
			    rq.port == cases[i].port && rq.headlen == strlen(cases[i].head),
			    "%s gets %d, host %s, port %u (got %d %s %u)", cases[i].name,
			    cases[i].st, cases[i].host, cases[i].port, st, rq.host, rq.port);
	}
}

/* A NUL can't stand in a C string table. */
static void
nul(void)
{
	static const char h[] = "CONNECT a:443 HTTP/1.1\r\nHost: a\0b\r\n\r\n";
	struct request rq;

	CHECK(parse_request(h, sizeof h - 1, &rq) == ST_BAD, "a NUL in a field gets 400");
	CHECK(parse_request("CONNECT a\0:443" H11, 14 + sizeof H11 - 1, &rq) == ST_BAD,
	    "a NUL in the request line gets 400");
}

/* Every prefix of a good head wants more; the whole one is OK; the rest is the tunnel's. */
static void
split(void)
{
	static const char h[] = "CONNECT example.com:443 HTTP/1.1\r\nHost: example.com\r\n\r\n\x16\x03\x01";
	size_t head = sizeof h - 1 - 3, i, more = 0;
	struct request rq;

	for (i = 0; i < head; i++)
		more += parse_request(h, i, &rq) == ST_MORE;
	CHECK(more == head, "every one of %zu prefixes of a head gets ST_MORE (%zu did)", head, more);
	CHECK(parse_request(h, sizeof h - 1, &rq) == ST_OK && rq.headlen == head,
	    "bytes after the head are left for the tunnel (headlen %zu)", rq.headlen);
	CHECK(rq.target == h + 8 && rq.targetlen == 15, "the target is the authority as sent");
	CHECK(parse_request("GET / HTTP/1.1\r\n", 16, &rq) == ST_METHOD,
	    "a bad request line is answered before the head is complete");
}

/*
 * Bytes come in reads: a prefix of any case, in a buffer of exactly its
 * length (san/unit_parse sees a read past it), is undecided or decided as
 * the whole case is.
 */
static void
prefixes(void)
{
	struct request rq;
	enum status whole, st;
	size_t i, k, n, bad = 0;
	const char *first = "";
	char *copy;

	for (i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		n = strlen(cases[i].head);
		whole = parse_request(cases[i].head, n, &rq);
		for (k = 0; k < n; k++) {
			if ((copy = malloc(k ? k : 1)) == NULL)
				return;
			memcpy(copy, cases[i].head, k);
			st = parse_request(copy, k, &rq);
			free(copy);
			if (st != ST_MORE && st != whole && bad++ == 0)
				first = cases[i].name;
		}
	}
	CHECK(bad == 0, "every prefix of every case is undecided or decided as the whole (%zu not; first: %s)",
	    bad, first);
}

/* A head of n bytes in all: request line, Host, filler fields, blank line. */
static size_t
sized(char *buf, size_t n, int complete)
{
	static const char start[] = "CONNECT a:443 HTTP/1.1\r\nHost: a\r\nX: ";
	size_t k = sizeof start - 1;

	memcpy(buf, start, k);
	memset(buf + k, 'x', n - k - 4);
	memcpy(buf + n - 4, complete ? "\r\n\r\n" : "xxxx", 4);
	return n;
}

static void
limits(void)
{
	static char buf[HEAD_MAX + 64];
	struct request rq;
	char fields[64 * 8 + 64], *p;
	int i;

	CHECK(parse_request(buf, sized(buf, HEAD_MAX, 1), &rq) == ST_OK && rq.headlen == HEAD_MAX,
	    "a head of exactly HEAD_MAX (%d) bytes is OK", HEAD_MAX);
	CHECK(parse_request(buf, sized(buf, HEAD_MAX, 0), &rq) == ST_TOOLARGE,
	    "HEAD_MAX bytes with no end of head (a head of HEAD_MAX + 1 or more) gets 431");
	CHECK(parse_request(buf, sized(buf, HEAD_MAX - 1, 0), &rq) == ST_MORE,
	    "HEAD_MAX - 1 bytes with no end of head wants more");
	p = fields + sprintf(fields, "CONNECT a:443 HTTP/1.1\r\nHost: a\r\n");
	for (i = 1; i < FIELDS_MAX; i++)
		p += sprintf(p, "X: %d\r\n", i % 10);
	strcpy(p, "\r\n");
	CHECK(parse_request(fields, strlen(fields), &rq) == ST_OK, "FIELDS_MAX (%d) fields are OK", FIELDS_MAX);
	strcpy(p, "X: y\r\n\r\n");
	CHECK(parse_request(fields, strlen(fields), &rq) == ST_TOOLARGE, "FIELDS_MAX + 1 fields get 431");
}

static void
names(void)
{
	char h[HEAD_MAX];
	char host[300];
	struct request rq;

	memset(host, 'a', sizeof host);
	memcpy(host + 63, ".", 1);
	host[63 + 1 + 63] = '\0';
	snprintf(h, sizeof h, "CONNECT %s:443" H11, host);
	CHECK(parse_request(h, strlen(h), &rq) == ST_OK, "a label of 63 is OK");
	memset(host, 'a', 64);
	host[64] = '\0';
	snprintf(h, sizeof h, "CONNECT %s:443" H11, host);
	CHECK(parse_request(h, strlen(h), &rq) == ST_BAD, "a label of 64 gets 400");
	for (size_t i = 0; i < 253; i++)
		host[i] = i % 2 ? '.' : 'a';
	host[252] = 'b';
	host[253] = '\0';
	snprintf(h, sizeof h, "CONNECT %s:443" H11, host);
	CHECK(parse_request(h, strlen(h), &rq) == ST_OK, "a name of 253 is OK");
	snprintf(h, sizeof h, "CONNECT %s.:443" H11, host);
	CHECK(parse_request(h, strlen(h), &rq) == ST_OK, "a name of 253 and a final dot is OK");
	snprintf(h, sizeof h, "CONNECT a.%s:443" H11, host);
	CHECK(parse_request(h, strlen(h), &rq) == ST_BAD, "a name of 255 gets 400");
}

/* Proxy-Authorization: the first value, trimmed, in the buffer, and how many came. */
static void
authorization(void)
{
	static const char one[] = "CONNECT a:443 HTTP/1.1\r\nHost: a\r\n"
	    "proxy-AUTHORIZATION: \t Basic dTpw \t\r\n\r\n";
	static const char two[] = "CONNECT a:443 HTTP/1.1\r\nProxy-Authorization: Basic dTpw\r\n"
	    "Host: a\r\nProxy-Authorization: Basic eDp5\r\n\r\n";
	static const char empty[] = "CONNECT a:443 HTTP/1.0\r\nProxy-Authorization:\r\n\r\n";
	static const char other[] = "CONNECT a:443 HTTP/1.0\r\nProxy-Authorization-X: y\r\n\r\n";
	struct request rq;

	CHECK(parse_request(one, sizeof one - 1, &rq) == ST_OK && rq.nauth == 1 &&
	    rq.authlen == 10 && rq.auth == one + 56 && memcmp(rq.auth, "Basic dTpw", 10) == 0,
	    "a Proxy-Authorization field of any case: its value without the whitespace around it");
	CHECK(parse_request(two, sizeof two - 1, &rq) == ST_OK && rq.nauth == 2 &&
	    rq.authlen == 10 && memcmp(rq.auth, "Basic dTpw", 10) == 0,
	    "two Proxy-Authorization fields are counted, the first one kept (the caller decides)");
	CHECK(parse_request(empty, sizeof empty - 1, &rq) == ST_OK && rq.nauth == 1 && rq.authlen == 0,
	    "an empty Proxy-Authorization value is one field of length 0");
	CHECK(parse_request("CONNECT a:443" H11, sizeof "CONNECT a:443" H11 - 1, &rq) == ST_OK &&
	    rq.nauth == 0 && rq.auth == NULL && rq.authlen == 0, "no Proxy-Authorization: none counted");
	CHECK(parse_request(other, sizeof other - 1, &rq) == ST_OK && rq.nauth == 0,
	    "a field whose name only begins with Proxy-Authorization is another field");
}

static void
numbers(void)
{
	unsigned long v = 7;

	CHECK(number_parse("65535", 5, 65535, &v) == 0 && v == 65535, "65535 within 65535");
	CHECK(number_parse("65536", 5, 65535, &v) == -1, "65536 over 65535");
	CHECK(number_parse("0", 1, 65535, &v) == 0 && v == 0, "0 is a number");
	CHECK(number_parse("", 0, 65535, &v) == -1, "the empty string is not");
	CHECK(number_parse("99999999999999999999999", 23, (unsigned long)-1, &v) == -1,
	    "no wrap past the largest unsigned long");
	CHECK(number_parse("18446744073709551615", 20, (unsigned long)-1, &v) == 0 && v == (unsigned long)-1,
	    "the largest unsigned long itself");
	CHECK(number_parse("-1", 2, 65535, &v) == -1 && number_parse(" 1", 2, 65535, &v) == -1 &&
	    number_parse("1 ", 2, 65535, &v) == -1, "no sign, no spaces");
	CHECK(number_parse("12", 1, 65535, &v) == 0 && v == 1, "only the length given is read");
}

int
main(void)
{
	table();
	nul();
	split();
	prefixes();
	limits();
	names();
	authorization();
	numbers();
	return DONE();
}
