/*
 * Ports and target addresses: Apache's AllowCONNECT, then -a and -d rules in
 * order, then the addresses that are never a remote site. No I/O.
 * Target names: -A and -D patterns in order, before any lookup.
 */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <string.h>

#include "number.h"
#include "policy.h"

enum { NOMATCH, ALLOW, DENY };

static const char default_deny[] = "default-deny";

/* Addresses that are never a remote site, denied after the -a and -d rules. */
static const struct {
	struct cidr net;
	const char *name;
} builtin[] = {
	{ { AF_INET, { 0 }, 8 }, "builtin:unspecified" },
	{ { AF_INET, { 127 }, 8 }, "builtin:loopback" },
	{ { AF_INET, { 169, 254 }, 16 }, "builtin:link-local" },
	{ { AF_INET, { 224 }, 4 }, "builtin:multicast" },
	{ { AF_INET, { 255, 255, 255, 255 }, 32 }, "builtin:broadcast" },
	{ { AF_INET6, { 0 }, 128 }, "builtin:unspecified" },
	{ { AF_INET6, { [15] = 1 }, 128 }, "builtin:loopback" },
	{ { AF_INET6, { 0xfe, 0x80 }, 10 }, "builtin:link-local" },
	{ { AF_INET6, { 0xff }, 8 }, "builtin:multicast" },
};

const char *
policy_add_ports(struct policy *pl, const char *s)
{
	const char *dash = strchr(s, '-');
	size_t n = strlen(s);
	unsigned long lo, hi;

	if (pl->nports == PORTS_MAX)
		return "too many port specs";
	if (number_parse(s, dash ? (size_t)(dash - s) : n, 65535, &lo) == -1 ||
	    (dash && number_parse(dash + 1, n - (size_t)(dash - s) - 1, 65535, &hi) == -1))
		return "not a port or range N-M of 1..65535";
	if (!dash)
		hi = lo;
	if (lo == 0 || lo > hi)
		return "not a port or range N-M of 1..65535";
	pl->ports[pl->nports++] = (struct portrange){ (unsigned)lo, (unsigned)hi };
	return NULL;
}

int
policy_port(const struct policy *pl, unsigned port)
{
	size_t i;

	for (i = 0; i < pl->nports; i++)
		if (port >= pl->ports[i].lo && port <= pl->ports[i].hi)
			return 1;
	return 0;
}

/* "10.0.0.0/8", "2001:db8::/32" or a bare address. */
int
policy_cidr(const char *s, struct cidr *c)
{
	char text[INET6_ADDRSTRLEN];
	const char *slash = strchr(s, '/');
	size_t n = slash ? (size_t)(slash - s) : strlen(s);
	unsigned long prefix;

	if (n == 0 || n >= sizeof text)
		return -1;
	memcpy(text, s, n);
	text[n] = '\0';
	c->family = strchr(text, ':') ? AF_INET6 : AF_INET;
	if (inet_pton(c->family, text, c->addr) != 1)
		return -1;
	prefix = c->family == AF_INET ? 32 : 128;
	if (slash && number_parse(slash + 1, strlen(slash + 1), prefix, &prefix) == -1)
		return -1;
	c->prefix = (unsigned)prefix;
	return 0;
}

const char *
policy_add_rule(struct policy *pl, int allow, const char *s)
{
	struct rule *r = &pl->rules[pl->nrules];

	if (pl->nrules == RULES_MAX)
		return "too many rules";
	if (policy_cidr(s, &r->net) == -1)
		return "bad address or network";
	r->allow = allow;
	(void)snprintf(pl->names[pl->nrules], sizeof pl->names[0], "%s:%s",
	    allow ? "allow" : "deny", s);
	r->name = pl->names[pl->nrules++];
	pl->anyallow |= allow;
	return NULL;
}

/* Is the address (of the family, network byte order) in the network? */
int
policy_inside(const struct cidr *c, int family, const unsigned char *a)
{
	unsigned bytes = c->prefix / 8, bits = c->prefix % 8;

	if (c->family != family || memcmp(c->addr, a, bytes) != 0)
		return 0;
	return bits == 0 || ((c->addr[bytes] ^ a[bytes]) & (0xff00 >> bits)) == 0;
}

/* The first -a or -d rule that matches, then the built-in denials. */
static int
judge(const struct policy *pl, int family, const unsigned char *a, const char **why)
{
	size_t i;

	for (i = 0; i < pl->nrules; i++)
		if (policy_inside(&pl->rules[i].net, family, a)) {
			*why = pl->rules[i].name;
			return pl->rules[i].allow ? ALLOW : DENY;
		}
	for (i = 0; i < sizeof builtin / sizeof builtin[0]; i++)
		if (policy_inside(&builtin[i].net, family, a)) {
			*why = builtin[i].name;
			return DENY;
		}
	return NOMATCH;
}

/*
 * IPv6 networks whose addresses carry an IPv4 address, and the byte where it
 * starts. The networks do not overlap.
 */
static const struct {
	struct cidr net;
	unsigned at;
} carriers[] = {
	{ { AF_INET6, { [10] = 0xff, [11] = 0xff }, 96 }, 12 },	/* IPv4-mapped, RFC 4291 s2.5.5.2 */
	{ { AF_INET6, { [8] = 0xff, [9] = 0xff }, 96 }, 12 },	/* IPv4-translated, RFC 2765 s2.1 */
	{ { AF_INET6, { 0, 0x64, 0xff, 0x9b }, 96 }, 12 },	/* NAT64, RFC 6052 s2.1 */
	{ { AF_INET6, { 0, 0x64, 0xff, 0x9b, 0, 1 }, 48 }, 12 },	/* local NAT64, RFC 8215: last 32 bits */
	{ { AF_INET6, { 0x20, 0x02 }, 16 }, 2 },		/* 6to4, RFC 3056 s2 */
	{ { AF_INET6, { 0 }, 96 }, 12 },			/* IPv4-compatible, RFC 4291 s2.5.5.1 */
};

/* The IPv4 address that an IPv6 one carries: 1 and a4, or 0. */
static int
carried(const unsigned char *a6, unsigned char *a4)
{
	static const unsigned char zero[15];
	size_t i;

	if (memcmp(a6, zero, 15) == 0 && a6[15] <= 1)
		return 0;	/* :: and ::1 are not IPv4-compatible */
	for (i = 0; i < sizeof carriers / sizeof carriers[0]; i++)
		if (policy_inside(&carriers[i].net, AF_INET6, a6)) {
			memcpy(a4, a6 + carriers[i].at, 4);
			return 1;
		}
	return 0;
}

/*
 * With -4 or -6: an address of the other family, or under -6 an IPv4-mapped
 * one, which reaches an IPv4 host.
 */
static int
otherfamily(const struct policy *pl, const struct sockaddr *sa)
{
	const struct sockaddr_in6 *s6 = (const struct sockaddr_in6 *)(const void *)sa;

	if (pl->family == AF_UNSPEC)
		return 0;
	return sa->sa_family != pl->family ||
	    (sa->sa_family == AF_INET6 && IN6_IS_ADDR_V4MAPPED(&s6->sin6_addr));
}

/* 1 when the address may be connected to; *why names what decided. */
int
policy_check(const struct policy *pl, const struct sockaddr *sa, const char **why)
{
	const unsigned char *a;
	unsigned char a4[4];
	const char *why4 = NULL;
	int r, r4 = NOMATCH;

	if (otherfamily(pl, sa)) {
		*why = pl->family == AF_INET ? "family:-4" : "family:-6";
		return 0;
	}
	if (sa->sa_family == AF_INET)
		a = (const unsigned char *)&((const struct sockaddr_in *)(const void *)sa)->sin_addr;
	else
		a = ((const struct sockaddr_in6 *)(const void *)sa)->sin6_addr.s6_addr;
	r = judge(pl, sa->sa_family, a, why);
	if (sa->sa_family == AF_INET6 && carried(a, a4))
		r4 = judge(pl, AF_INET, a4, &why4);
	if (r4 == DENY || (r4 == ALLOW && r == NOMATCH))
		*why = why4;
	if (r == DENY || r4 == DENY)
		return 0;
	if (r == ALLOW || r4 == ALLOW)
		return 1;
	*why = pl->anyallow || pl->anyallowname ? default_deny : "default-allow";
	return !pl->anyallow && !pl->anyallowname;
}

/*
 * An address of a name that an -A rule allowed: judged as by policy_check,
 * but allowed where no -a or -d rule and no built-in denial decides.
 */
int
policy_check_named(const struct policy *pl, const struct sockaddr *sa, const char **why)
{
	if (policy_check(pl, sa, why))
		return 1;
	if (strcmp(*why, default_deny) != 0)
		return 0;
	*why = "allow-name";
	return 1;
}

/* 1 when the name (n bytes, no final dot) is one the request parser reads as an address. */
static int
address(const char *s, size_t n)
{
	char text[HOST_MAX + 1];
	struct in_addr a;
	size_t i = n;

	while (i > 0 && s[i - 1] >= '0' && s[i - 1] <= '9')
		i--;
	if (i < n && (i == 0 || s[i - 1] == '.'))
		return 1;	/* a last label of digits: an address or malformed */
	memcpy(text, s, n);
	text[n] = '\0';
	return inet_aton(text, &a) != 0;
}

/* A DNS name of letters, digits and hyphens, one final dot allowed: NULL and its length, or why not. */
static const char *
hostname(const char *s, size_t *len)
{
	size_t n = strlen(s), i, label = 0;

	if (n > 0 && s[n - 1] == '.')
		n--;
	if (n == 0)
		return "an empty name";
	if (n > HOST_MAX)
		return "a name longer than 253";
	for (i = 0; i < n; i++) {
		unsigned char c = (unsigned char)s[i];

		if (c == '.') {
			if (label == 0)
				return "an empty label";
			label = 0;
		} else if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
		    (c >= '0' && c <= '9') || c == '-') {
			if (++label > LABEL_MAX)
				return "a label longer than 63";
		} else
			return c == '*' ? "a * other than a leading *." :
			    "a character other than a letter, digit, hyphen or dot";
	}
	if (label == 0)
		return "an empty label";
	if (address(s, n))
		return "an IP address, not a name";
	*len = n;
	return NULL;
}

/* "example.com", ".example.com" or "*.example.com", as -A (allow) or -D. */
const char *
policy_add_name(struct policy *pl, int allow, const char *s)
{
	struct namerule *r = &pl->namerules[pl->nnames];
	enum name_form form;
	const char *err, *tag = allow ? "allow-name:" : "deny-name:";
	size_t skip, len, n = strlen(tag), k = strlen(s);
	char *text;

	if (pl->nnames == NAMES_MAX)
		return "too many name rules";
	form = s[0] == '.' ? NAME_DOMAIN : s[0] == '*' && s[1] == '.' ? NAME_UNDER : NAME_EXACT;
	skip = form == NAME_DOMAIN ? 1 : form == NAME_UNDER ? 2 : 0;
	if ((err = hostname(s + skip, &len)) != NULL)
		return err;
	if (n + k >= NAMEWHY_MAX || pl->nametextlen + n + k + 1 > sizeof pl->nametext)
		return "too many name rules";	/* cannot be: NAMES_MAX texts of NAMEWHY_MAX fit */
	text = pl->nametext + pl->nametextlen;
	memcpy(text, tag, n);
	memcpy(text + n, s, k + 1);
	pl->nametextlen += n + k + 1;
	r->why = text;
	r->allow = (unsigned char)allow;
	r->form = (unsigned char)form;
	r->at = (unsigned short)(n + skip);
	r->len = (unsigned short)len;
	pl->nnames++;
	pl->anyallowname |= allow;
	return NULL;
}

/* ASCII letters to lower case; every other byte as it is (no locale). */
static int
lower(unsigned char c)
{
	return c >= 'A' && c <= 'Z' ? c - 'A' + 'a' : c;
}

static int
same(const char *a, const char *b, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++)
		if (lower((unsigned char)a[i]) != lower((unsigned char)b[i]))
			return 0;
	return 1;
}

/* Does the rule match the host (n bytes, no final dot)? On label boundaries only. */
static int
matches(const struct namerule *r, const char *host, size_t n)
{
	const char *name = r->why + r->at;
	size_t m = r->len;

	if (n == m)
		return r->form != NAME_UNDER && same(host, name, m);
	if (r->form == NAME_EXACT || n < m + 2 || host[n - m - 1] != '.')
		return 0;
	return same(host + n - m, name, m);
}

/*
 * The name rules for a target host: the first -A or -D rule that matches
 * decides; a name that none matches is refused when some -A and no -a was
 * given. An address target (isname 0) is never matched by a name rule.
 */
enum policy_name
policy_name(const struct policy *pl, const char *host, int isname, const char **why)
{
	size_t i, n = strlen(host);

	if (!isname)
		return POLICY_NAME_NONE;
	if (n > 0 && host[n - 1] == '.')
		n--;
	for (i = 0; i < pl->nnames; i++)
		if (matches(&pl->namerules[i], host, n)) {
			*why = pl->namerules[i].why;
			return pl->namerules[i].allow ? POLICY_NAME_ALLOW : POLICY_NAME_DENY;
		}
	if (pl->anyallowname && !pl->anyallow) {
		*why = default_deny;
		return POLICY_NAME_DENY;
	}
	return POLICY_NAME_NONE;
}
