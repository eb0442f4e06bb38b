/*
 * libFuzzer: the command-line parsers (port specs, -a and -d networks, the
 * numbers of -c, -t and -i) and the address rules they build.
 *
 * The input is lines: each is one argument, in a buffer of exactly its
 * length plus the NUL, given to policy_add_ports, to policy_add_rule (as -a
 * or -d by its length) and to number_parse. Each answer is compared with a
 * reference written from the rules that connectd.8 states, independently of
 * policy.c: digits only, ranges, N <= M, "address[/prefix]" by inet_pton.
 * Then addresses made of the input's bytes (IPv4, IPv6, and IPv6 carrying
 * IPv4 in each form, and next to each form) are judged by policy_check and
 * by a reference that works bit by bit from a table of the forms as the
 * RFCs write them: same verdict, and a named reason that fits.
 */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <limits.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "number.h"
#include "policy.h"

#define CHECK(c)	do { if (!(c)) __builtin_trap(); } while (0)

int LLVMFuzzerTestOneInput(const uint8_t *, size_t);

enum { NOMATCH, ALLOW, DENY };

/* Digits only, at least one, value at most max: 1 and *v, or 0. */
static int
ref_number(const char *s, size_t n, unsigned long max, unsigned long *v)
{
	unsigned __int128 x = 0;
	size_t i;

	if (n == 0)
		return 0;
	for (i = 0; i < n; i++) {
		if (s[i] < '0' || s[i] > '9')
			return 0;
		x = x * 10 + (unsigned)(s[i] - '0');
		if (x > max)
			return 0;
	}
	*v = (unsigned long)x;
	return 1;
}

/* "N" or "N-M", 1 <= N <= M <= 65535. */
static int
ref_ports(const char *s, unsigned long *lo, unsigned long *hi)
{
	const char *dash = strchr(s, '-');
	size_t n = strlen(s);

	if (!ref_number(s, dash ? (size_t)(dash - s) : n, 65535, lo))
		return 0;
	if (!dash)
		*hi = *lo;
	else if (!ref_number(dash + 1, n - (size_t)(dash - s) - 1, 65535, hi))
		return 0;
	return *lo >= 1 && *hi >= *lo;
}

/* "address" or "address/prefix". */
static int
ref_cidr(const char *s, int *family, unsigned char *addr, unsigned long *prefix)
{
	char text[64];
	const char *slash = strchr(s, '/');
	size_t n = slash ? (size_t)(slash - s) : strlen(s);

	if (n == 0 || n >= sizeof text)
		return 0;
	memcpy(text, s, n);
	text[n] = '\0';
	if (inet_pton(AF_INET, text, addr) == 1)
		*family = AF_INET;
	else if (inet_pton(AF_INET6, text, addr) == 1)
		*family = AF_INET6;
	else
		return 0;
	*prefix = *family == AF_INET ? 32 : 128;
	return !slash || ref_number(slash + 1, strlen(slash + 1), *prefix, prefix);
}

static int
bit(const unsigned char *a, unsigned i)
{
	return (a[i / 8] >> (7 - i % 8)) & 1;
}

static int
match(const struct cidr *c, int family, const unsigned char *a)
{
	unsigned i;

	if (c->family != family)
		return 0;
	for (i = 0; i < c->prefix; i++)
		if (bit(c->addr, i) != bit(a, i))
			return 0;
	return 1;
}

/* The built-in denials, as connectd.8 lists them. */
static const char *const builtin_text[] = {
	"0.0.0.0/8", "127.0.0.0/8", "169.254.0.0/16", "224.0.0.0/4", "255.255.255.255/32",
	"::/128", "::1/128", "fe80::/10", "ff00::/8",
};
static struct cidr builtin[sizeof builtin_text / sizeof builtin_text[0]];

static void
builtins(void)
{
	unsigned long prefix;
	size_t i;

	for (i = 0; i < sizeof builtin / sizeof builtin[0]; i++) {
		CHECK(ref_cidr(builtin_text[i], &builtin[i].family, builtin[i].addr, &prefix));
		builtin[i].prefix = (unsigned)prefix;
	}
}

/* First matching rule, then the built-ins; which rule (or -1 for a built-in). */
static int
ref_judge(const struct policy *pl, int family, const unsigned char *a, int *which)
{
	size_t i;

	for (i = 0; i < pl->nrules; i++)
		if (match(&pl->rules[i].net, family, a)) {
			*which = (int)i;
			return pl->rules[i].allow ? ALLOW : DENY;
		}
	for (i = 0; i < sizeof builtin / sizeof builtin[0]; i++)
		if (match(&builtin[i], family, a)) {
			*which = -1;
			return DENY;
		}
	return NOMATCH;
}

/* Does the reason name something that matches the address? */
static int
fits(const struct policy *pl, const char *why, int family, const unsigned char *a)
{
	size_t i;

	for (i = 0; i < pl->nrules; i++)
		if (strcmp(why, pl->rules[i].name) == 0 && match(&pl->rules[i].net, family, a))
			return 1;
	if (strncmp(why, "builtin:", 8) == 0)
		for (i = 0; i < sizeof builtin / sizeof builtin[0]; i++)
			if (match(&builtin[i], family, a))
				return 1;
	return 0;
}

/*
 * The IPv6 forms that carry an IPv4 address, as the RFCs write them: the
 * prefix in text, its length in bits, and the bit where the IPv4 address
 * starts. IPv4-compatible excludes :: and ::1 (RFC 4291 s2.5.5.1 leaves them
 * out; they are the unspecified and loopback addresses). The local-use NAT64
 * prefix is a /48 whose IPv4 address is taken from its last 32 bits.
 */
static const struct {
	const char *text;
	unsigned len, at;
} form_text[] = {
	{ "::ffff:0.0.0.0", 96, 96 },		/* IPv4-mapped, RFC 4291 s2.5.5.2 */
	{ "::ffff:0:0.0.0.0", 96, 96 },		/* IPv4-translated, RFC 2765 s2.1 */
	{ "::0.0.0.0", 96, 96 },		/* IPv4-compatible, RFC 4291 s2.5.5.1 */
	{ "64:ff9b::", 96, 96 },		/* well-known NAT64, RFC 6052 s2.1 */
	{ "64:ff9b:1::", 48, 96 },		/* local-use NAT64, RFC 8215 s2 */
	{ "2002::", 16, 16 },			/* 6to4, RFC 3056 s2 */
};
#define FORMS (sizeof form_text / sizeof form_text[0])
#define MAPPED 0
#define COMPAT 2
static unsigned char form[FORMS][16];

static void
forms(void)
{
	size_t i;

	for (i = 0; i < FORMS; i++)
		CHECK(inet_pton(AF_INET6, form_text[i].text, form[i]) == 1);
}

static void
setbit(unsigned char *a, unsigned i, int v)
{
	if (v)
		a[i / 8] |= (unsigned char)(0x80 >> (i % 8));
	else
		a[i / 8] &= (unsigned char)~(0x80 >> (i % 8));
}

/* Is a6 in form f (its prefix bits all equal)? */
static int
isform(size_t f, const unsigned char *a6)
{
	unsigned i;

	for (i = 0; i < form_text[f].len; i++)
		if (bit(form[f], i) != bit(a6, i))
			return 0;
	return 1;
}

/* An IPv6 address carrying an IPv4 one: 1 and a4, bit by bit, or 0. */
static int
carries(const unsigned char *a6, unsigned char *a4)
{
	size_t f;
	unsigned i;

	for (f = 0; f < FORMS; f++) {
		if (!isform(f, a6))
			continue;
		if (f == COMPAT && (IN6_IS_ADDR_UNSPECIFIED((const struct in6_addr *)(const void *)a6) ||
		    IN6_IS_ADDR_LOOPBACK((const struct in6_addr *)(const void *)a6)))
			return 0;
		for (i = 0; i < 32; i++)
			setbit(a4, i, bit(a6, form_text[f].at + i));
		return 1;
	}
	return 0;
}

/* Form f around a4, its other bits from a6: the address and its carried a4. */
static void
make(size_t f, const unsigned char *a6, const unsigned char *a4, unsigned char *c)
{
	unsigned i;

	memcpy(c, a6, 16);
	for (i = 0; i < form_text[f].len; i++)
		setbit(c, i, bit(form[f], i));
	for (i = 0; i < 32; i++)
		setbit(c, form_text[f].at + i, bit(a4, i));
}

static void
judge(const struct policy *pl, int family, const unsigned char *a)
{
	struct sockaddr_storage ss;
	struct sockaddr_in *s4 = (struct sockaddr_in *)&ss;
	struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)&ss;
	unsigned char a4[4];
	const char *why = NULL;
	int r, r4 = NOMATCH, which, which4, got, want, carried = 0;

	memset(&ss, 0, sizeof ss);
	ss.ss_family = (sa_family_t)family;
	if (family == AF_INET)
		memcpy(&s4->sin_addr, a, 4);
	else
		memcpy(&s6->sin6_addr, a, 16);
	got = policy_check(pl, (const struct sockaddr *)&ss, &why);
	CHECK(why != NULL);
	/* -4, -6: the other family, and under -6 IPv4-mapped (IPv4 on the wire). */
	if (pl->family != AF_UNSPEC && (pl->family != family ||
	    (family == AF_INET6 && isform(MAPPED, a)))) {
		CHECK(!got && strcmp(why, pl->family == AF_INET ? "family:-4" : "family:-6") == 0);
		return;
	}
	r = ref_judge(pl, family, a, &which);
	if (family == AF_INET6 && carries(a, a4)) {
		carried = 1;
		r4 = ref_judge(pl, AF_INET, a4, &which4);
	}
	if (r == DENY || r4 == DENY)
		want = 0;
	else if (r == ALLOW || r4 == ALLOW)
		want = 1;
	else
		want = !pl->anyallow;
	CHECK(got == want);
	if (r == NOMATCH && r4 == NOMATCH)
		CHECK(strcmp(why, pl->anyallow ? "default-deny" : "default-allow") == 0);
	else
		CHECK(fits(pl, why, family, a) || (carried && fits(pl, why, AF_INET, a4)));
	if (!got && strncmp(why, "allow:", 6) == 0)
		__builtin_trap();	/* a denial never names an allow rule */
	if (got && (strncmp(why, "deny:", 5) == 0 || strncmp(why, "builtin:", 8) == 0))
		__builtin_trap();
}

/* One argument through the three parsers, each against its reference. */
static void
argument(struct policy *pl, const char *arg, size_t n)
{
	static const unsigned long maxes[] = { 255, SECS_MAX, 65535, IDLE_MAX, ULONG_MAX };
	unsigned char addr[16];
	unsigned long v, w, lo, hi, prefix;
	size_t before, i;
	int family, ok;

	before = pl->nports;
	ok = policy_add_ports(pl, arg) == NULL;
	if (before == PORTS_MAX)
		CHECK(!ok);
	else if (ref_ports(arg, &lo, &hi))
		CHECK(ok && pl->ports[before].lo == (unsigned)lo && pl->ports[before].hi == (unsigned)hi);
	else
		CHECK(!ok && pl->nports == before);

	before = pl->nrules;
	ok = policy_add_rule(pl, n % 2, arg) == NULL;
	if (before == RULES_MAX)
		CHECK(!ok);
	else if (ref_cidr(arg, &family, addr, &prefix)) {
		CHECK(ok && pl->rules[before].net.family == family &&
		    pl->rules[before].net.prefix == (unsigned)prefix &&
		    memcmp(pl->rules[before].net.addr, addr, family == AF_INET ? 4 : 16) == 0);
		CHECK(pl->rules[before].allow == (int)(n % 2) && pl->rules[before].name != NULL);
		CHECK(strncmp(pl->rules[before].name, n % 2 ? "allow:" : "deny:", n % 2 ? 6 : 5) == 0);
	} else
		CHECK(!ok && pl->nrules == before);

	for (i = 0; i < sizeof maxes / sizeof maxes[0]; i++) {
		ok = ref_number(arg, n, maxes[i], &w);
		CHECK((number_parse(arg, n, maxes[i], &v) == 0) == ok);
		CHECK(!ok || v == w);
	}
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct policy pl;
	unsigned char a4[4] = { 0 }, a6[16] = { 0 }, c[16];
	const uint8_t *p = data, *end = data + size, *nl;
	size_t n, i;
	char *arg;

	if (builtin[0].family == 0) {
		builtins();
		forms();
	}
	memset(&pl, 0, sizeof pl);
	pl.family = size > 0 && data[0] == '4' ? AF_INET : size > 0 && data[0] == '6' ? AF_INET6 : AF_UNSPEC;
	while (p < end) {
		nl = memchr(p, '\n', (size_t)(end - p));
		n = nl ? (size_t)(nl - p) : (size_t)(end - p);
		if (memchr(p, '\0', n) == NULL && (arg = malloc(n + 1)) != NULL) {
			memcpy(arg, p, n);
			arg[n] = '\0';
			argument(&pl, arg, n);
			free(arg);
		}
		p += n + 1;
	}
	for (i = 0; i < pl.nports; i++)
		CHECK(policy_port(&pl, pl.ports[i].lo) && policy_port(&pl, pl.ports[i].hi));
	CHECK(!policy_port(&pl, 0));
	/* Addresses from the input's last bytes, in every form and next to it. */
	memcpy(a4, data + (size > 4 ? size - 4 : 0), size < 4 ? size : 4);
	memcpy(a6, data + (size > 16 ? size - 16 : 0), size < 16 ? size : 16);
	judge(&pl, AF_INET, a4);
	judge(&pl, AF_INET6, a6);
	for (i = 0; i < FORMS; i++) {
		make(i, a6, a4, c);
		judge(&pl, AF_INET6, c);
		setbit(c, a6[0] % form_text[i].len, !bit(c, a6[0] % form_text[i].len));
		judge(&pl, AF_INET6, c);	/* one prefix bit off */
	}
	return 0;
}
