/*
 * proxyhdr_parse over byte arrays: every rule of both versions, each with the
 * reason it is refused for; every prefix of each valid header is "more", and
 * bytes after a header never change it. proxyhdr_own and proxyhdr_trusted
 * over addresses.
 */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <string.h>

#include "policy.h"
#include "proxyhdr.h"
#include "unit.h"

#define B(s)	s, sizeof s - 1
#define SIG	"\r\n\r\n\0\r\nQUIT\n"
#define A4	"\xc6\x33\x64\x07" "\xcb\x00\x71\x09" "\xc8\x22" "\x0c\x38"	/* 198.51.100.7 203.0.113.9 51234 3128 */
#define A6	"\x20\x01\x0d\xb8\0\0\0\0\0\0\0\0\0\0\0\x07" \
		"\x20\x01\x0d\xb8\0\0\0\0\0\0\0\0\0\0\0\x01" "\xc8\x22" "\x01\xbb"	/* 2001:db8::7 2001:db8::1 51234 443 */
#define TLVS	"\x04\0\x03xyz" "\x05\0\x04" "abcd" "\xe0\0\0"	/* NOOP, UNIQUE_ID, a custom empty one */
#define F39	"ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff"
#define REQ	"CONNECT a:443 HTTP/1.1\r\nHost: a\r\n\r\n"

static const struct {
	const char *name, *b;
	size_t n;
	enum proxyhdr_status st;
	const char *why;	/* for MISSING and INVALID */
	size_t len;		/* for OK */
	int local;
	const char *src, *dst;	/* for OK, unless local */
} cases[] = {
	{ "v1 TCP4", B("PROXY TCP4 198.51.100.7 203.0.113.9 51234 3128\r\n"), PROXYHDR_OK, NULL, 48, 0,
	  "198.51.100.7:51234", "203.0.113.9:3128" },
	{ "v1 TCP4 and the request in the same bytes", B("PROXY TCP4 198.51.100.7 203.0.113.9 51234 3128\r\n" REQ),
	  PROXYHDR_OK, NULL, 48, 0, "198.51.100.7:51234", "203.0.113.9:3128" },
	{ "v1 TCP4 at its longest, 56 bytes", B("PROXY TCP4 255.255.255.255 255.255.255.255 65535 65535\r\n"),
	  PROXYHDR_OK, NULL, 56, 0, "255.255.255.255:65535", "255.255.255.255:65535" },
	{ "v1 TCP4 of zeros, port 0", B("PROXY TCP4 0.0.0.0 10.0.0.1 0 1\r\n"), PROXYHDR_OK, NULL, 33, 0,
	  "0.0.0.0:0", "10.0.0.1:1" },
	{ "v1 TCP6", B("PROXY TCP6 2001:db8::7 2001:db8::1 51234 443\r\n"), PROXYHDR_OK, NULL, 46, 0,
	  "[2001:db8::7]:51234", "[2001:db8::1]:443" },
	{ "v1 TCP6 at its longest, 104 bytes", B("PROXY TCP6 " F39 " " F39 " 65535 65535\r\n"), PROXYHDR_OK,
	  NULL, 104, 0, "[ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff]:65535",
	  "[ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff]:65535" },
	{ "v1 TCP6 in capitals and with leading zeros", B("PROXY TCP6 2001:DB8:0:0::07 ::1 1 2\r\n"), PROXYHDR_OK,
	  NULL, 37, 0, "[2001:db8::7]:1", "[::1]:2" },
	{ "v1 TCP6 with an IPv4-mapped address", B("PROXY TCP6 ::ffff:192.0.2.1 ::1 1 2\r\n"), PROXYHDR_OK,
	  NULL, 37, 0, "[::ffff:192.0.2.1]:1", "[::1]:2" },
	{ "v1 UNKNOWN, short", B("PROXY UNKNOWN\r\n" REQ), PROXYHDR_OK, NULL, 15, 1, NULL, NULL },
	{ "v1 UNKNOWN at the longest, 107 bytes", B("PROXY UNKNOWN " F39 " " F39 " 65535 65535\r\n"),
	  PROXYHDR_OK, NULL, 107, 1, NULL, NULL },
	{ "v1 UNKNOWN with anything printable after it", B("PROXY UNKNOWN  what ~ ever  \r\n"), PROXYHDR_OK,
	  NULL, 30, 1, NULL, NULL },

	{ "nothing yet", B(""), PROXYHDR_MORE, NULL, 0, 0, NULL, NULL },
	{ "v1: P", B("P"), PROXYHDR_MORE, NULL, 0, 0, NULL, NULL },
	{ "v1: PROXY", B("PROXY"), PROXYHDR_MORE, NULL, 0, 0, NULL, NULL },
	{ "v1: a line without its LF yet", B("PROXY TCP4 1.2.3.4 5.6.7.8 1 2\r"), PROXYHDR_MORE, NULL, 0, 0,
	  NULL, NULL },
	{ "v1: 106 bytes without an LF", B("PROXY UNKNOWN " F39 " " F39 " 65535 65535\r"), PROXYHDR_MORE,
	  NULL, 0, 0, NULL, NULL },

	{ "v1: a bare LF", B("PROXY TCP4 1.2.3.4 5.6.7.8 1 2\n" REQ), PROXYHDR_INVALID, "a bare LF", 0, 0,
	  NULL, NULL },
	{ "v1 UNKNOWN: a bare LF", B("PROXY UNKNOWN\n"), PROXYHDR_INVALID, "a bare LF", 0, 0, NULL, NULL },
	{ "v1: a bare CR in the line", B("PROXY TCP4 1.2.3.4\r5.6.7.8 1 2\r\n"), PROXYHDR_INVALID,
	  "a control byte", 0, 0, NULL, NULL },
	{ "v1: a NUL in the line", B("PROXY UNKNOWN \0\r\n"), PROXYHDR_INVALID, "a control byte", 0, 0,
	  NULL, NULL },
	{ "v1: a tab for a space", B("PROXY TCP4\t1.2.3.4 5.6.7.8 1 2\r\n"), PROXYHDR_INVALID,
	  "a control byte", 0, 0, NULL, NULL },
	{ "v1: a byte over 0x7e", B("PROXY UNKNOWN \x80\r\n"), PROXYHDR_INVALID, "a control byte", 0, 0,
	  NULL, NULL },
	{ "v1: a DEL", B("PROXY UNKNOWN \x7f\r\n"), PROXYHDR_INVALID, "a control byte", 0, 0, NULL, NULL },
	{ "v1: 107 bytes and no CRLF", B("PROXY UNKNOWN " F39 " " F39 " 65535 6553555"), PROXYHDR_INVALID,
	  "no CRLF in 107 bytes", 0, 0, NULL, NULL },
	{ "v1: a 108-byte line", B("PROXY UNKNOWN " F39 " " F39 " 65535 655355\r\n"), PROXYHDR_INVALID,
	  "no CRLF in 107 bytes", 0, 0, NULL, NULL },
	{ "v1: no space after PROXY", B("PROXYTCP4"), PROXYHDR_INVALID, "no space after PROXY", 0, 0,
	  NULL, NULL },
	{ "v1: nothing after PROXY", B("PROXY \r\n"), PROXYHDR_INVALID, "not TCP4, TCP6 or UNKNOWN", 0, 0,
	  NULL, NULL },
	{ "v1: TCP5", B("PROXY TCP5 1.2.3.4 5.6.7.8 1 2\r\n"), PROXYHDR_INVALID, "not TCP4, TCP6 or UNKNOWN",
	  0, 0, NULL, NULL },
	{ "v1: tcp4 in lower case", B("PROXY tcp4 1.2.3.4 5.6.7.8 1 2\r\n"), PROXYHDR_INVALID,
	  "not TCP4, TCP6 or UNKNOWN", 0, 0, NULL, NULL },
	{ "v1: UNKNOWNX", B("PROXY UNKNOWNX\r\n"), PROXYHDR_INVALID, "not TCP4, TCP6 or UNKNOWN", 0, 0,
	  NULL, NULL },
	{ "v1: two spaces", B("PROXY TCP4  1.2.3.4 5.6.7.8 1 2\r\n"), PROXYHDR_INVALID, "not six fields", 0, 0,
	  NULL, NULL },
	{ "v1: a space before the CRLF", B("PROXY TCP4 1.2.3.4 5.6.7.8 1 2 \r\n"), PROXYHDR_INVALID,
	  "not six fields", 0, 0, NULL, NULL },
	{ "v1: no ports", B("PROXY TCP4 1.2.3.4 5.6.7.8\r\n"), PROXYHDR_INVALID, "not six fields", 0, 0,
	  NULL, NULL },
	{ "v1: one field too many", B("PROXY TCP4 1.2.3.4 5.6.7.8 1 2 3\r\n"), PROXYHDR_INVALID,
	  "not six fields", 0, 0, NULL, NULL },
	{ "v1 TCP4: an IPv6 address", B("PROXY TCP4 ::1 5.6.7.8 1 2\r\n"), PROXYHDR_INVALID,
	  "an address not of its family", 0, 0, NULL, NULL },
	{ "v1 TCP6: an IPv4 address", B("PROXY TCP6 ::1 5.6.7.8 1 2\r\n"), PROXYHDR_INVALID,
	  "an address not of its family", 0, 0, NULL, NULL },
	{ "v1 TCP4: a leading zero", B("PROXY TCP4 1.2.3.4 5.06.7.8 1 2\r\n"), PROXYHDR_INVALID,
	  "an address not of its family", 0, 0, NULL, NULL },
	{ "v1 TCP4: a leading zero first", B("PROXY TCP4 01.2.3.4 5.6.7.8 1 2\r\n"), PROXYHDR_INVALID,
	  "an address not of its family", 0, 0, NULL, NULL },
	{ "v1 TCP4: three parts", B("PROXY TCP4 1.2.3 5.6.7.8 1 2\r\n"), PROXYHDR_INVALID,
	  "an address not of its family", 0, 0, NULL, NULL },
	{ "v1 TCP4: a part over 255", B("PROXY TCP4 1.2.3.256 5.6.7.8 1 2\r\n"), PROXYHDR_INVALID,
	  "an address not of its family", 0, 0, NULL, NULL },
	{ "v1 TCP4: a name", B("PROXY TCP4 localhost 5.6.7.8 1 2\r\n"), PROXYHDR_INVALID,
	  "an address not of its family", 0, 0, NULL, NULL },
	{ "v1 TCP6: a zone", B("PROXY TCP6 fe80::1%eth0 ::1 1 2\r\n"), PROXYHDR_INVALID,
	  "an address not of its family", 0, 0, NULL, NULL },
	{ "v1 TCP6: in brackets", B("PROXY TCP6 [::1] ::1 1 2\r\n"), PROXYHDR_INVALID,
	  "an address not of its family", 0, 0, NULL, NULL },
	{ "v1 TCP6: nine groups", B("PROXY TCP6 1:2:3:4:5:6:7:8:9 ::1 1 2\r\n"), PROXYHDR_INVALID,
	  "an address not of its family", 0, 0, NULL, NULL },
	{ "v1: a port with a leading zero", B("PROXY TCP4 1.2.3.4 5.6.7.8 0443 2\r\n"), PROXYHDR_INVALID,
	  "a bad port", 0, 0, NULL, NULL },
	{ "v1: port 65536", B("PROXY TCP4 1.2.3.4 5.6.7.8 1 65536\r\n"), PROXYHDR_INVALID, "a bad port", 0, 0,
	  NULL, NULL },
	{ "v1: a port of six digits", B("PROXY TCP4 1.2.3.4 5.6.7.8 1 100000\r\n"), PROXYHDR_INVALID,
	  "a bad port", 0, 0, NULL, NULL },
	{ "v1: a port with a sign", B("PROXY TCP4 1.2.3.4 5.6.7.8 +1 2\r\n"), PROXYHDR_INVALID, "a bad port",
	  0, 0, NULL, NULL },
	{ "v1: a port in hex", B("PROXY TCP4 1.2.3.4 5.6.7.8 0x1 2\r\n"), PROXYHDR_INVALID, "a bad port",
	  0, 0, NULL, NULL },

	{ "a request without a header", B(REQ), PROXYHDR_MISSING, "no PROXY signature", 0, 0, NULL, NULL },
	{ "one byte that begins no header", B("C"), PROXYHDR_MISSING, "no PROXY signature", 0, 0, NULL, NULL },
	{ "PROXZ", B("PROXZ"), PROXYHDR_MISSING, "no PROXY signature", 0, 0, NULL, NULL },
	{ "an empty line, then a request", B("\r\n" REQ), PROXYHDR_MISSING, "no PROXY signature", 0, 0,
	  NULL, NULL },
	{ "a TLS ClientHello", B("\x16\x03\x01\x02\x00\x01"), PROXYHDR_MISSING, "no PROXY signature", 0, 0,
	  NULL, NULL },
	{ "v2: a signature one byte off", B("\r\n\r\n\0\r\nQUIT\r\x21\x11\0\x0c" A4), PROXYHDR_MISSING,
	  "no PROXY signature", 0, 0, NULL, NULL },
	{ "v2: a signature without its NUL", B("\r\n\r\n\r\nQUIT\n\x21\x11\0\x0c" A4), PROXYHDR_MISSING,
	  "no PROXY signature", 0, 0, NULL, NULL },

	{ "v2 TCP4", B(SIG "\x21\x11\0\x0c" A4), PROXYHDR_OK, NULL, 28, 0, "198.51.100.7:51234",
	  "203.0.113.9:3128" },
	{ "v2 TCP4 and the request in the same bytes", B(SIG "\x21\x11\0\x0c" A4 REQ), PROXYHDR_OK, NULL, 28, 0,
	  "198.51.100.7:51234", "203.0.113.9:3128" },
	{ "v2 TCP4 with TLVs", B(SIG "\x21\x11\0\x1c" A4 TLVS REQ), PROXYHDR_OK, NULL, 44, 0,
	  "198.51.100.7:51234", "203.0.113.9:3128" },
	{ "v2 TCP6", B(SIG "\x21\x21\0\x24" A6), PROXYHDR_OK, NULL, 52, 0, "[2001:db8::7]:51234",
	  "[2001:db8::1]:443" },
	{ "v2 TCP6 with TLVs", B(SIG "\x21\x21\0\x34" A6 TLVS REQ), PROXYHDR_OK, NULL, 68, 0,
	  "[2001:db8::7]:51234", "[2001:db8::1]:443" },
	{ "v2 TCP4 with bytes after its addresses that are no TLV", B(SIG "\x21\x11\0\x0e" A4 "\xff\xff" REQ),
	  PROXYHDR_OK, NULL, 30, 0, "198.51.100.7:51234", "203.0.113.9:3128" },
	{ "v2 LOCAL, nothing more", B(SIG "\x20\x00\0\0" REQ), PROXYHDR_OK, NULL, 16, 1, NULL, NULL },
	{ "v2 LOCAL with dummy TCP4 address bytes", B(SIG "\x20\x11\0\x0c" "\0\0\0\0\0\0\0\0\0\0\0\0" REQ),
	  PROXYHDR_OK, NULL, 28, 1, NULL, NULL },
	{ "v2 LOCAL with real-looking addresses and TLVs", B(SIG "\x20\x11\0\x1c" A4 TLVS REQ), PROXYHDR_OK,
	  NULL, 44, 1, NULL, NULL },
	{ "v2 LOCAL ignores even an unknown family", B(SIG "\x20\xff\0\x02" "ab"), PROXYHDR_OK, NULL, 18, 1,
	  NULL, NULL },
	{ "v2 PROXY of UNSPEC", B(SIG "\x21\x00\0\0"), PROXYHDR_OK, NULL, 16, 1, NULL, NULL },
	{ "v2 PROXY of UDP over IPv4", B(SIG "\x21\x12\0\x0c" A4), PROXYHDR_OK, NULL, 28, 1, NULL, NULL },
	{ "v2 PROXY of TCP over an unspecified family", B(SIG "\x21\x01\0\0"), PROXYHDR_OK, NULL, 16, 1,
	  NULL, NULL },
	{ "v2 PROXY of a UNIX stream, addresses short", B(SIG "\x21\x31\0\x02" "ab"), PROXYHDR_OK, NULL, 18, 1,
	  NULL, NULL },

	{ "v2: the signature alone", B(SIG), PROXYHDR_MORE, NULL, 0, 0, NULL, NULL },
	{ "v2: no length yet", B(SIG "\x21\x11\0"), PROXYHDR_MORE, NULL, 0, 0, NULL, NULL },
	{ "v2 TCP4: one address byte short", B(SIG "\x21\x11\0\x0c" "\xc6\x33\x64\x07\xcb\x00\x71\x09\xc8\x22\x0c"),
	  PROXYHDR_MORE, NULL, 0, 0, NULL, NULL },
	{ "v2 TCP4: a TLV byte short", B(SIG "\x21\x11\0\x1c" A4 "\x04\0\x03xyz\x05\0\x04" "abcd\xe0\0"),
	  PROXYHDR_MORE, NULL, 0, 0, NULL, NULL },

	{ "v2: version 1", B(SIG "\x11\x11\0\x0c" A4), PROXYHDR_INVALID, "not version 2", 0, 0, NULL, NULL },
	{ "v2: version 3", B(SIG "\x31\x11\0\x0c" A4), PROXYHDR_INVALID, "not version 2", 0, 0, NULL, NULL },
	{ "v2: version 0 LOCAL", B(SIG "\x00"), PROXYHDR_INVALID, "not version 2", 0, 0, NULL, NULL },
	{ "v2: command 2", B(SIG "\x22\x11\0\x0c" A4), PROXYHDR_INVALID, "neither LOCAL nor PROXY", 0, 0,
	  NULL, NULL },
	{ "v2: command 15", B(SIG "\x2f"), PROXYHDR_INVALID, "neither LOCAL nor PROXY", 0, 0, NULL, NULL },
	{ "v2 PROXY: family 4", B(SIG "\x21\x41"), PROXYHDR_INVALID, "an unknown family or protocol", 0, 0,
	  NULL, NULL },
	{ "v2 PROXY: protocol 3", B(SIG "\x21\x13\0\x0c" A4), PROXYHDR_INVALID,
	  "an unknown family or protocol", 0, 0, NULL, NULL },
	{ "v2 TCP4: 11 address bytes", B(SIG "\x21\x11\0\x0b" A4), PROXYHDR_INVALID,
	  "too short for its addresses", 0, 0, NULL, NULL },
	{ "v2 TCP6: 35 address bytes", B(SIG "\x21\x21\0\x23" A6), PROXYHDR_INVALID,
	  "too short for its addresses", 0, 0, NULL, NULL },
	{ "v2 TCP4: no address bytes", B(SIG "\x21\x11\0\0"), PROXYHDR_INVALID, "too short for its addresses",
	  0, 0, NULL, NULL },
	{ "v2: a length past the head's 8192 bytes", B(SIG "\x21\x11\x1f\xf1"), PROXYHDR_INVALID,
	  "longer than the head may be", 0, 0, NULL, NULL },
	{ "v2 LOCAL: a length of 65535", B(SIG "\x20\x00\xff\xff"), PROXYHDR_INVALID,
	  "longer than the head may be", 0, 0, NULL, NULL },
};

static const char *
statusname(enum proxyhdr_status st)
{
	static const char *const names[] = {
		[PROXYHDR_MORE] = "MORE", [PROXYHDR_OK] = "OK",
		[PROXYHDR_MISSING] = "MISSING", [PROXYHDR_INVALID] = "INVALID",
	};

	return names[st];
}

/* "a.b.c.d:port" or "[v6]:port", as connectd logs it. */
static const char *
fmt(const struct sockaddr_storage *ss, char *buf, size_t size)
{
	const struct sockaddr_in *s4 = (const struct sockaddr_in *)ss;
	const struct sockaddr_in6 *s6 = (const struct sockaddr_in6 *)ss;
	char text[INET6_ADDRSTRLEN];

	if (ss->ss_family == AF_INET) {
		(void)inet_ntop(AF_INET, &s4->sin_addr, text, sizeof text);
		(void)snprintf(buf, size, "%s:%u", text, ntohs(s4->sin_port));
	} else if (ss->ss_family == AF_INET6) {
		(void)inet_ntop(AF_INET6, &s6->sin6_addr, text, sizeof text);
		(void)snprintf(buf, size, "[%s]:%u", text, ntohs(s6->sin6_port));
	} else
		(void)snprintf(buf, size, "family %d", ss->ss_family);
	return buf;
}

static int
same(const char *a, const char *b)
{
	return strcmp(a ? a : "", b ? b : "") == 0;
}

/* Each case as a whole: status, reason, length, addresses. */
static void
whole(size_t i)
{
	struct proxyhdr ph;
	enum proxyhdr_status st = proxyhdr_parse(cases[i].b, cases[i].n, &ph);
	char s[80], d[80];
	int ok = st == cases[i].st;

	if (st == PROXYHDR_MISSING || st == PROXYHDR_INVALID)
		ok &= same(ph.why, cases[i].why);
	if (ok && st == PROXYHDR_OK) {
		ok &= ph.len == cases[i].len && ph.local == cases[i].local && ph.why == NULL;
		ok &= ph.version == (cases[i].b[0] == 'P' ? 1 : 2);
		if (!ph.local)
			ok &= same(fmt(&ph.src, s, sizeof s), cases[i].src) &&
			    same(fmt(&ph.dst, d, sizeof d), cases[i].dst);
	}
	CHECK(ok, "%s: %s%s%s (got %s, %s, len %zu, local %d)", cases[i].name, statusname(cases[i].st),
	    cases[i].why ? ", " : "", cases[i].why ? cases[i].why : "", statusname(st),
	    ph.why ? ph.why : "-", ph.len, ph.local);
}

/*
 * A valid header read in any split: every shorter prefix of it is MORE, so
 * whatever the reads, connectd sees MORE until the last of its bytes.
 */
static void
prefixes(size_t i)
{
	struct proxyhdr ph;
	size_t k, bad = 0, at = 0;

	if (cases[i].st != PROXYHDR_OK)
		return;
	for (k = 0; k < cases[i].len; k++)
		if (proxyhdr_parse(cases[i].b, k, &ph) != PROXYHDR_MORE && bad++ == 0)
			at = k;
	CHECK(bad == 0, "%s: each of its %zu shorter prefixes is MORE (first that is not: %zu)",
	    cases[i].name, cases[i].len, at);
}

/* A refused header is refused the same way however much more comes after it. */
static void
refused_with_more(size_t i)
{
	char buf[256];
	struct proxyhdr ph;
	enum proxyhdr_status st;

	if ((cases[i].st != PROXYHDR_INVALID && cases[i].st != PROXYHDR_MISSING) ||
	    cases[i].n + sizeof REQ > sizeof buf)
		return;
	memcpy(buf, cases[i].b, cases[i].n);
	memcpy(buf + cases[i].n, REQ, sizeof REQ - 1);
	st = proxyhdr_parse(buf, cases[i].n + sizeof REQ - 1, &ph);
	CHECK(st == cases[i].st && same(ph.why, cases[i].why), "%s, then a request: still %s",
	    cases[i].name, statusname(cases[i].st));
}

/* The longest v2 header the head allows, 8192 bytes, is whole; a byte short is MORE. */
static void
longest(void)
{
	static char buf[HEAD_MAX];
	struct proxyhdr ph;

	memset(buf, 0, sizeof buf);
	memcpy(buf, SIG "\x21\x11\x1f\xf0" A4, 28);
	CHECK(proxyhdr_parse(buf, sizeof buf - 1, &ph) == PROXYHDR_MORE,
	    "v2 of 8192 bytes: 8191 of them are MORE");
	CHECK(proxyhdr_parse(buf, sizeof buf, &ph) == PROXYHDR_OK && ph.len == HEAD_MAX && !ph.local,
	    "v2 of 8192 bytes: OK, all of it the header");
}

static struct sockaddr_storage
sap(const char *text, unsigned port)
{
	struct sockaddr_storage ss;
	struct sockaddr_in *s4 = (struct sockaddr_in *)&ss;
	struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)&ss;

	memset(&ss, 0, sizeof ss);
	if (inet_pton(AF_INET, text, &s4->sin_addr) == 1) {
		s4->sin_family = AF_INET;
		s4->sin_port = htons((unsigned short)port);
	} else if (inet_pton(AF_INET6, text, &s6->sin6_addr) == 1) {
		s6->sin6_family = AF_INET6;
		s6->sin6_port = htons((unsigned short)port);
	} else
		ss.ss_family = AF_UNIX;
	return ss;
}

static struct sockaddr_storage
sa(const char *text)
{
	return sap(text, 0);
}

/* A header that names the peer itself, as HAProxy's v1 health checks do, is the balancer's own. */
static void
own(void)
{
	static const struct {
		const char *hdr, *peer;
		unsigned port;
		int want;
	} cases[] = {
		{ "PROXY TCP4 127.0.0.1 127.0.0.1 50114 3128\r\n", "127.0.0.1", 50114, 1 },
		{ "PROXY TCP4 127.0.0.1 127.0.0.1 50114 3128\r\n", "::ffff:127.0.0.1", 50114, 1 },
		{ "PROXY TCP4 127.0.0.1 127.0.0.1 50114 3128\r\n", "127.0.0.1", 50115, 0 },
		{ "PROXY TCP4 127.0.0.1 127.0.0.1 50114 3128\r\n", "127.0.0.2", 50114, 0 },
		{ "PROXY TCP4 127.0.0.1 127.0.0.1 50114 3128\r\n", "::1", 50114, 0 },
		{ "PROXY TCP4 127.0.0.1 127.0.0.1 50114 3128\r\n", "not an address", 50114, 0 },
		{ "PROXY TCP4 198.51.100.7 127.0.0.1 50114 3128\r\n", "127.0.0.1", 50114, 0 },
		{ "PROXY TCP6 ::1 ::1 50114 3128\r\n", "::1", 50114, 1 },
		{ "PROXY TCP6 ::ffff:127.0.0.1 ::1 50114 3128\r\n", "127.0.0.1", 50114, 1 },
		{ "PROXY TCP6 2001:db8::7 ::1 50114 3128\r\n", "::1", 50114, 0 },
		{ "PROXY UNKNOWN\r\n", "198.51.100.7", 1, 1 },
	};
	struct sockaddr_storage ss;
	struct proxyhdr ph;
	size_t i;

	for (i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		ss = sap(cases[i].peer, cases[i].port);
		CHECK(proxyhdr_parse(cases[i].hdr, strlen(cases[i].hdr), &ph) == PROXYHDR_OK &&
		    proxyhdr_own(&ph, (struct sockaddr *)&ss) == cases[i].want,
		    "%.*s from %s port %u: %sthe balancer's own", (int)strlen(cases[i].hdr) - 2, cases[i].hdr,
		    cases[i].peer, cases[i].port, cases[i].want ? "" : "not ");
	}
}

/* The networks of -H, read by the parser of -a and -d. */
static void
trusted(void)
{
	static const char *const nets[] = { "127.0.0.1", "10.0.0.0/8", "192.0.2.0/25", "2001:db8::/32",
	    "::ffff:203.0.113.0/120" };
	static const struct {
		const char *peer;
		int want;
	} peers[] = {
		{ "127.0.0.1", 1 }, { "127.0.0.2", 0 }, { "10.0.0.0", 1 }, { "10.255.255.255", 1 },
		{ "11.0.0.1", 0 }, { "9.255.255.255", 0 }, { "192.0.2.127", 1 }, { "192.0.2.128", 0 },
		{ "2001:db8::1", 1 }, { "2001:db8:ffff::1", 1 }, { "2001:db9::1", 0 }, { "::1", 0 },
		{ "::ffff:127.0.0.1", 1 }, { "::ffff:10.1.2.3", 1 }, { "::ffff:11.0.0.1", 0 },
		{ "::127.0.0.1", 0 }, { "64:ff9b::127.0.0.1", 0 }, { "::ffff:203.0.113.9", 1 },
		{ "203.0.113.9", 0 }, { "not an address", 0 },
	};
	struct policy pl = { 0 };
	struct cidr c[sizeof nets / sizeof nets[0]];
	struct sockaddr_storage ss;
	size_t i;

	for (i = 0; i < sizeof nets / sizeof nets[0]; i++) {
		CHECK(policy_add_rule(&pl, 1, nets[i]) == NULL, "-H %s is a network", nets[i]);
		c[i] = pl.rules[i].net;
	}
	for (i = 0; i < sizeof peers / sizeof peers[0]; i++) {
		ss = sa(peers[i].peer);
		CHECK(proxyhdr_trusted(c, sizeof c / sizeof c[0], (struct sockaddr *)&ss) == peers[i].want,
		    "a peer at %s is %strusted", peers[i].peer, peers[i].want ? "" : "not ");
	}
	ss = sa("127.0.0.1");
	CHECK(proxyhdr_trusted(c, 0, (struct sockaddr *)&ss) == 0, "no network: no peer is trusted");
	CHECK(policy_add_rule(&pl, 1, "0.0.0.0/0") == NULL, "-H 0.0.0.0/0 is a network");
	ss = sa("198.51.100.1");
	CHECK(proxyhdr_trusted(&pl.rules[pl.nrules - 1].net, 1, (struct sockaddr *)&ss) == 1,
	    "0.0.0.0/0 trusts every IPv4 peer");
}

int
main(void)
{
	size_t i;

	for (i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		whole(i);
		prefixes(i);
		refused_with_more(i);
	}
	longest();
	own();
	trusted();
	return DONE();
}
