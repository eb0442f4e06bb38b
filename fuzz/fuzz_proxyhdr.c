/*
 * libFuzzer: proxyhdr_parse as connectd calls it, over any bytes and over
 * valid headers built from them.
 *
 * - Any bytes, in a buffer of exactly their length (so AddressSanitizer sees
 *   a read one byte past the end), at most HEAD_MAX of them. A decision
 *   keeps the promises the rest of connectd relies on (below), and every
 *   prefix is either MORE or decided as the whole is: connectd parses again
 *   after each read, so no split of the bytes into reads changes the answer.
 * - A valid header built from the bytes by the text of proxy-protocol.txt,
 *   written independently of proxyhdr.c: v1 TCP4, TCP6 or UNKNOWN, v2 TCP4
 *   or TCP6 (with any bytes as TLVs) or LOCAL (any family, any address
 *   bytes), followed by the rest of the input as the request. It parses OK,
 *   exactly its own length, with exactly the addresses it was built from,
 *   whatever follows it; and each of its shorter prefixes is MORE.
 */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "proxyhdr.h"

#define CHECK(c)	do { if (!(c)) __builtin_trap(); } while (0)
#define SHORT		320	/* inputs this long are parsed at every prefix */
#define SAMPLES		16	/* otherwise this many more prefixes */

int LLVMFuzzerTestOneInput(const uint8_t *, size_t);

static const char v2sig[12] = "\r\n\r\n\0\r\nQUIT\n";

/* proxyhdr_parse over a copy of the first n bytes, in a buffer of n bytes. */
static enum proxyhdr_status
parse(const void *data, size_t n, struct proxyhdr *ph)
{
	char *copy = malloc(n ? n : 1);
	enum proxyhdr_status st;

	CHECK(copy != NULL);
	memcpy(copy, data, n);
	st = proxyhdr_parse(copy, n, ph);
	free(copy);
	return st;
}

static int
begins(const uint8_t *b, size_t n, const void *sig, size_t len)
{
	return n >= len && memcmp(b, sig, len) == 0;
}

/* A v1 line: "PROXY ", printable bytes, the one CRLF at its end. */
static void
v1promises(const uint8_t *b, const struct proxyhdr *ph)
{
	size_t i;

	CHECK(ph->len >= 15 && ph->len <= PROXY_V1_MAX && begins(b, ph->len, "PROXY ", 6));
	CHECK(b[ph->len - 2] == '\r' && b[ph->len - 1] == '\n');
	for (i = 0; i + 2 < ph->len; i++)
		CHECK(b[i] >= 0x20 && b[i] <= 0x7e);
	CHECK(ph->local == begins(b, ph->len, "PROXY UNKNOWN", 13));
}

/* A v2 header: its length is 16 and what its length field says. */
static void
v2promises(const uint8_t *b, const struct proxyhdr *ph)
{
	CHECK(begins(b, ph->len, v2sig, 12) && b[12] >> 4 == 2 && (b[12] & 15) <= 1);
	CHECK(ph->len == PROXY_V2_FIXED + (size_t)(b[14] << 8 | b[15]));
	CHECK(ph->local == ((b[12] & 15) == 0 || (b[13] != 0x11 && b[13] != 0x21)));
	if (!ph->local && b[13] == 0x11)
		CHECK(memcmp(&((const struct sockaddr_in *)&ph->src)->sin_addr, b + 16, 4) == 0 &&
		    memcmp(&((const struct sockaddr_in *)&ph->dst)->sin_addr, b + 20, 4) == 0);
}

/* What a decision promises the rest of connectd. */
static void
promises(const uint8_t *b, size_t n, enum proxyhdr_status st, const struct proxyhdr *ph)
{
	CHECK(st == PROXYHDR_MORE || st == PROXYHDR_OK || st == PROXYHDR_MISSING ||
	    st == PROXYHDR_INVALID);
	if (st == PROXYHDR_MISSING || st == PROXYHDR_INVALID)
		CHECK(ph->why != NULL && ph->why[0] != '\0');
	if (st == PROXYHDR_MISSING)
		CHECK(n > 0 && !begins(b, n, "PROXY", 5) && !begins(b, n, v2sig, 12));
	if (st == PROXYHDR_MORE)
		CHECK(n < HEAD_MAX && (n == 0 || b[0] != 'P' || n < PROXY_V1_MAX));
	if (st != PROXYHDR_OK)
		return;
	CHECK(ph->why == NULL && ph->len > 0 && ph->len <= n && ph->len <= HEAD_MAX);
	CHECK(ph->version == (b[0] == 'P' ? 1 : 2));
	if (ph->version == 1)
		v1promises(b, ph);
	else
		v2promises(b, ph);
	if (!ph->local)
		CHECK((ph->src.ss_family == AF_INET || ph->src.ss_family == AF_INET6) &&
		    ph->dst.ss_family == ph->src.ss_family);
}

static int
samehdr(const struct proxyhdr *a, const struct proxyhdr *b)
{
	return a->len == b->len && a->local == b->local && a->version == b->version &&
	    strcmp(a->why ? a->why : "", b->why ? b->why : "") == 0 &&
	    memcmp(&a->src, &b->src, sizeof a->src) == 0 && memcmp(&a->dst, &b->dst, sizeof a->dst) == 0;
}

/* A prefix that is decided is decided as the whole is. */
static void
prefix(const uint8_t *data, size_t k, enum proxyhdr_status whole, const struct proxyhdr *all)
{
	struct proxyhdr ph;
	enum proxyhdr_status st = parse(data, k, &ph);

	promises(data, k, st, &ph);
	if (st != PROXYHDR_MORE)
		CHECK(st == whole && samehdr(&ph, all));
}

static void
raw(const uint8_t *data, size_t size)
{
	struct proxyhdr ph;
	enum proxyhdr_status st;
	size_t n = size < HEAD_MAX ? size : HEAD_MAX, k;

	st = parse(data, n, &ph);
	promises(data, n, st, &ph);
	for (k = 0; k < n && k <= SHORT; k++)
		prefix(data, k, st, &ph);
	for (k = 1; n > SHORT && k < SAMPLES; k++)
		prefix(data, SHORT + (n - SHORT) * k / SAMPLES, st, &ph);
	if (st == PROXYHDR_OK) {
		prefix(data, ph.len, st, &ph);
		prefix(data, ph.len - 1, st, &ph);
	}
}

/* The input, taken a byte at a time; zeros once it runs out. */
struct input {
	const uint8_t *p;
	size_t n;
};

static unsigned
take(struct input *in)
{
	if (in->n == 0)
		return 0;
	in->n--;
	return *in->p++;
}

static void
takes(struct input *in, uint8_t *out, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++)
		out[i] = (uint8_t)take(in);
}

/* What a built header must parse to. */
struct want {
	size_t len;
	int local, family;
	uint8_t src[16], dst[16];
	unsigned sport, dport;
};

/* v1: TCP4, TCP6 (addresses as inet_ntop writes them) or UNKNOWN with printable bytes after it. */
static size_t
build1(struct input *in, int kind, uint8_t *h, struct want *w)
{
	char s[INET6_ADDRSTRLEN], d[INET6_ADDRSTRLEN];
	size_t n, i, k;
	int r;

	if (kind == 2) {
		w->local = 1;
		n = 13;
		memcpy(h, "PROXY UNKNOWN", n);
		if ((k = take(in) % 93) > 0) {
			h[n++] = ' ';
			for (i = 1; i < k; i++)
				h[n++] = (uint8_t)(0x20 + take(in) % 95);
		}
		memcpy(h + n, "\r\n", 2);
		return n + 2;
	}
	w->family = kind == 0 ? AF_INET : AF_INET6;
	takes(in, w->src, kind == 0 ? 4 : 16);
	takes(in, w->dst, kind == 0 ? 4 : 16);
	w->sport = take(in) << 8;
	w->sport |= take(in);
	w->dport = take(in) << 8;
	w->dport |= take(in);
	CHECK(inet_ntop(w->family, w->src, s, sizeof s) && inet_ntop(w->family, w->dst, d, sizeof d));
	r = snprintf((char *)h, PROXY_V1_MAX + 1, "PROXY TCP%c %s %s %u %u\r\n", kind == 0 ? '4' : '6',
	    s, d, w->sport, w->dport);
	CHECK(r > 0 && r <= PROXY_V1_MAX);
	return (size_t)r;
}

/* v2: PROXY TCP4 or TCP6 with any TLV bytes, or LOCAL with anything as its block. */
static size_t
build2(struct input *in, int kind, uint8_t *h, struct want *w)
{
	size_t alen = kind == 3 ? 12 : 36, k = alen / 2 - 2, extra = take(in) % 64;

	memcpy(h, v2sig, 12);
	h[12] = kind == 5 ? 0x20 : 0x21;
	h[13] = (uint8_t)(kind == 3 ? 0x11 : kind == 4 ? 0x21 : take(in));
	if (kind == 5) {
		w->local = 1;
		alen = take(in) % 64;
	}
	h[14] = (uint8_t)((alen + extra) >> 8);
	h[15] = (uint8_t)(alen + extra);
	takes(in, h + 16, alen + extra);
	if (kind != 5) {
		w->family = kind == 3 ? AF_INET : AF_INET6;
		memcpy(w->src, h + 16, k);
		memcpy(w->dst, h + 16 + k, k);
		w->sport = (unsigned)(h[16 + 2 * k] << 8 | h[17 + 2 * k]);
		w->dport = (unsigned)(h[18 + 2 * k] << 8 | h[19 + 2 * k]);
	}
	return 16 + alen + extra;
}

static void
address(const struct sockaddr_storage *ss, int family, const uint8_t *a, unsigned port)
{
	const struct sockaddr_in *s4 = (const struct sockaddr_in *)ss;
	const struct sockaddr_in6 *s6 = (const struct sockaddr_in6 *)ss;

	CHECK(ss->ss_family == family);
	if (family == AF_INET)
		CHECK(memcmp(&s4->sin_addr, a, 4) == 0 && ntohs(s4->sin_port) == port);
	else
		CHECK(memcmp(&s6->sin6_addr, a, 16) == 0 && ntohs(s6->sin6_port) == port);
}

static void
built(const uint8_t *data, size_t size)
{
	static uint8_t buf[HEAD_MAX];
	struct input in = { data, size };
	struct want w = { 0 };
	struct proxyhdr ph;
	int kind = (int)(take(&in) % 6);
	size_t len, rest, k;

	len = kind < 3 ? build1(&in, kind, buf, &w) : build2(&in, kind, buf, &w);
	rest = in.n < sizeof buf - len ? in.n : sizeof buf - len;
	memcpy(buf + len, in.p, rest);
	for (k = 0; k < len; k++)
		CHECK(parse(buf, k, &ph) == PROXYHDR_MORE);
	CHECK(parse(buf, len, &ph) == PROXYHDR_OK && ph.len == len && ph.local == w.local);
	CHECK(ph.version == (kind < 3 ? 1 : 2));
	if (!w.local) {
		address(&ph.src, w.family, w.src, w.sport);
		address(&ph.dst, w.family, w.dst, w.dport);
	}
	CHECK(parse(buf, len + rest, &ph) == PROXYHDR_OK && ph.len == len);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	raw(data, size);
	built(data, size);
	return 0;
}
