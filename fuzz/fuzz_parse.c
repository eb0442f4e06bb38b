/*
 * libFuzzer: parse_request over any bytes, as connectd calls it, and the log
 * escaping of the target it returns.
 *
 * - The bytes are in a buffer of exactly their length (so AddressSanitizer
 *   sees a read one byte past the end), at most HEAD_MAX of them.
 * - A decision keeps the promises the rest of connectd relies on: a host
 *   that is a name, a canonical dotted quad or an IPv6 address, a port in
 *   1..65535, a head that ends with its blank line, a reason for a refusal.
 * - Bytes come in reads: connectd parses again after each one and stops at
 *   the first decision. A prefix that is already decided must be decided the
 *   same way as the whole (every prefix for short inputs, each line boundary
 *   and a few more for long ones), so no split of a head changes its answer.
 * - log_escape of the target: exactly what an independent reference of the
 *   rule in the man page (LOGGING) gives; in a smaller buffer, a clean cut of it and "...".
 */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"
#include "parse.h"

#define CHECK(c)	do { if (!(c)) __builtin_trap(); } while (0)
#define SHORT		128	/* inputs this long are parsed at every prefix */
#define PREFIXES	64	/* otherwise at most this many line boundaries */

int LLVMFuzzerTestOneInput(const uint8_t *, size_t);

/* parse_request over a copy of the first n bytes, in a buffer of n bytes. */
static enum status
parse(const uint8_t *data, size_t n, struct request *rq, char **copy)
{
	*copy = malloc(n ? n : 1);
	CHECK(*copy != NULL);
	memcpy(*copy, data, n);
	return parse_request(*copy, n, rq);
}

/* The log field as the man page (LOGGING) states it, written independently of log.c. */
static size_t
reference(char *out, const char *s, size_t n)
{
	static const char hex[] = "0123456789abcdef";
	size_t i, o = 0;

	for (i = 0; i < n && i < LOGTEXT_MAX; i++) {
		unsigned char c = (unsigned char)s[i];

		if (c >= 0x21 && c <= 0x7e && c != '"' && c != '\\') {
			out[o++] = (char)c;
		} else {
			out[o++] = '\\';
			out[o++] = 'x';
			out[o++] = hex[c >> 4];
			out[o++] = hex[c & 15];
		}
	}
	if (n > LOGTEXT_MAX) {
		memcpy(out + o, "...", 3);
		o += 3;
	}
	out[o] = '\0';
	return o;
}

/*
 * The target's log field: exactly the reference in connectd's buffer; in a
 * smaller one, a cut of it at an escape's boundary followed by "...".
 */
static void
escaped(const char *s, size_t n, size_t size)
{
	char out[LOGFIELD_SIZE], want[LOGFIELD_SIZE];
	size_t len, wlen, i;

	memset(out, 'Z', sizeof out);
	wlen = reference(want, s, n);
	log_escape(out, size, s, n);
	len = strnlen(out, size);
	CHECK(len < size);
	if (size == sizeof out) {
		CHECK(len == wlen && memcmp(out, want, len) == 0);
		return;
	}
	if (len == wlen && memcmp(out, want, len) == 0)
		return;
	CHECK(len >= 3 && memcmp(out + len - 3, "...", 3) == 0);
	CHECK(memcmp(out, want, len - 3) == 0);
	for (i = 0; i + 3 < len; i++)	/* no escape cut in two */
		if (out[i] == '\\')
			CHECK(i + 4 <= len - 3);
}

/* What a decision promises the rest of connectd. */
static void
promises(const char *buf, size_t n, enum status st, const struct request *rq)
{
	struct in6_addr a6;
	struct in_addr a4;
	size_t hl;

	CHECK(st == ST_MORE || st == ST_OK || st == ST_BAD || st == ST_METHOD ||
	    st == ST_TOOLARGE || st == ST_VERSION);
	if (st != ST_MORE && st != ST_OK)
		CHECK(rq->why != NULL && rq->why[0] != '\0');
	if (st == ST_TOOLARGE && rq->targetlen == 0)
		CHECK(n >= HEAD_MAX || strcmp(rq->why, "too many header fields") == 0);
	if (rq->targetlen > 0)
		CHECK(rq->target >= buf && rq->target + rq->targetlen <= buf + n);
	if (st != ST_OK)
		return;
	hl = strlen(rq->host);
	CHECK(rq->headlen > 0 && rq->headlen <= n && buf[rq->headlen - 1] == '\n');
	CHECK(rq->port >= 1 && rq->port <= 65535);
	CHECK(rq->minor == 0 || rq->minor == 1);
	CHECK(hl > 0 && hl <= HOST_MAX + 1);
	CHECK(memchr(rq->target, ' ', rq->targetlen) == NULL);
	if (rq->kind == HOST_V4)
		CHECK(inet_pton(AF_INET, rq->host, &a4) == 1);
	else if (rq->kind == HOST_V6)
		CHECK(inet_pton(AF_INET6, rq->host, &a6) == 1 && strchr(rq->host, '%') == NULL);
	else
		CHECK(rq->kind == HOST_NAME && inet_aton(rq->host, &a4) == 0 &&
		    strspn(rq->host, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_.") == hl);
}

/* A prefix that is decided is decided as the whole is. */
static void
prefix(const uint8_t *data, size_t k, enum status whole, const struct request *all)
{
	struct request rq;
	enum status st;
	char *copy;

	st = parse(data, k, &rq, &copy);
	promises(copy, k, st, &rq);
	if (st != ST_MORE) {
		CHECK(st == whole);
		CHECK(strcmp(rq.why ? rq.why : "", all->why ? all->why : "") == 0);
		if (st == ST_OK)
			CHECK(rq.headlen == all->headlen && rq.port == all->port &&
			    rq.kind == all->kind && strcmp(rq.host, all->host) == 0);
	}
	free(copy);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const size_t sizes[] = { 64, 128, LOGFIELD_SIZE };
	struct request rq;
	enum status st;
	size_t n = size < HEAD_MAX ? size : HEAD_MAX, k, done = 0, i;
	char *copy;

	st = parse(data, n, &rq, &copy);
	promises(copy, n, st, &rq);
	if (rq.targetlen > 0)
		for (i = 0; i < sizeof sizes / sizeof sizes[0]; i++)
			escaped(rq.target, rq.targetlen, sizes[i]);
	if (n <= SHORT) {
		for (k = 0; k < n; k++)
			prefix(data, k, st, &rq);
	} else {
		for (k = 0; k < n && done < PREFIXES; k++)
			if (data[k] == '\n') {
				prefix(data, k, st, &rq);
				prefix(data, k + 1, st, &rq);
				done++;
			}
		for (k = 1; k < 8; k++)
			prefix(data, n * k / 8, st, &rq);
	}
	free(copy);
	return 0;
}
