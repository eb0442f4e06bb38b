/* policy: -A and -D name patterns (the parser and its messages), the matcher, the order, the defaults. */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <string.h>

#include "parse.h"
#include "policy.h"
#include "unit.h"

static struct policy pl;

/* Rules from a string "A:.example.com D:bad.example.com a:10.0.0.0/8 d:...". */
static void
rules(const char *spec)
{
	char buf[512], *w, *save;

	memset(&pl, 0, sizeof pl);
	strcpy(buf, spec);
	for (w = strtok_r(buf, " ", &save); w != NULL; w = strtok_r(NULL, " ", &save))
		if (strcmp(w, "-4") == 0)
			pl.family = AF_INET;
		else if (w[0] == 'A' || w[0] == 'D')
			CHECK(policy_add_name(&pl, w[0] == 'A', w + 2) == NULL, "pattern '%s' is good", w + 2);
		else
			CHECK(policy_add_rule(&pl, w[0] == 'a', w + 2) == NULL, "rule '%s' is good", w + 2);
}

static const char *
vname(enum policy_name v)
{
	return v == POLICY_NAME_ALLOW ? "allow" : v == POLICY_NAME_DENY ? "deny" : "none";
}

/* The name rules of spec for host (a name), and what decided. */
static void
named(const char *spec, const char *host, enum policy_name want, const char *why)
{
	const char *got = NULL;
	enum policy_name v;

	rules(spec);
	v = policy_name(&pl, host, 1, &got);
	CHECK(v == want && (why == NULL ? v == POLICY_NAME_NONE : got != NULL && strcmp(got, why) == 0),
	    "[%s] %s: %s by %s (got %s by %s)", spec, host, vname(want), why ? why : "-",
	    vname(v), v == POLICY_NAME_NONE ? "-" : got);
}

/* A pattern that is refused, with exactly this reason. */
static void
refused(const char *pattern, const char *why)
{
	const char *got;

	memset(&pl, 0, sizeof pl);
	got = policy_add_name(&pl, 1, pattern);
	CHECK(got != NULL && strcmp(got, why) == 0 && pl.nnames == 0 && !pl.anyallowname,
	    "pattern '%s' is refused: %s (got %s)", pattern, why, got ? got : "accepted");
	got = policy_add_name(&pl, 0, pattern);
	CHECK(got != NULL && strcmp(got, why) == 0 && pl.nnames == 0,
	    "pattern '%s' is refused as -D too", pattern);
}

/* A pattern that is good: its form, the name's length, and the log text as given. */
static void
good(const char *pattern, enum name_form form, size_t len)
{
	const struct namerule *r = &pl.namerules[0];
	char why[NAMEWHY_MAX];

	memset(&pl, 0, sizeof pl);
	(void)snprintf(why, sizeof why, "deny-name:%s", pattern);
	CHECK(policy_add_name(&pl, 0, pattern) == NULL && pl.nnames == 1 && r->form == form &&
	    r->len == len && strcmp(r->why, why) == 0 && !r->allow && !pl.anyallowname,
	    "pattern '%.40s%s' is good: form %d, a name of %zu", pattern,
	    strlen(pattern) > 40 ? "..." : "", (int)form, len);
}

/* A string of n bytes: labels of 'a' of at most label bytes, joined by dots. */
static const char *
long_name(size_t n, size_t label)
{
	static char buf[600];
	size_t i;

	for (i = 0; i < n; i++)
		buf[i] = (i + 1) % (label + 1) == 0 ? '.' : 'a';
	buf[n] = '\0';
	return buf;
}

static void
patterns(void)
{
	char buf[700];

	good("example.com", NAME_EXACT, 11);
	good(".example.com", NAME_DOMAIN, 11);
	good("*.example.com", NAME_UNDER, 11);
	good("Example.COM.", NAME_EXACT, 11);
	good(".Example.COM.", NAME_DOMAIN, 11);
	good("*.example.com.", NAME_UNDER, 11);
	good("localhost", NAME_EXACT, 9);
	good(".com", NAME_DOMAIN, 3);
	good("a", NAME_EXACT, 1);
	good("xn--bcher-kva.example", NAME_EXACT, 21);
	good("a-b.c-d.e", NAME_EXACT, 9);
	good("1.2.3.example", NAME_EXACT, 13);
	good("example.c0m", NAME_EXACT, 11);
	good("0x7f.example", NAME_EXACT, 12);
	good(long_name(63, 63), NAME_EXACT, 63);
	good(long_name(253, 63), NAME_EXACT, 253);
	(void)snprintf(buf, sizeof buf, "%s.", long_name(253, 63));
	good(buf, NAME_EXACT, 253);
	(void)snprintf(buf, sizeof buf, "*.%s.", long_name(253, 63));
	good(buf, NAME_UNDER, 253);
	(void)snprintf(buf, sizeof buf, ".%s", long_name(253, 40));
	good(buf, NAME_DOMAIN, 253);

	refused("", "an empty name");
	refused(".", "an empty name");
	refused("*.", "an empty name");
	refused("*", "a * other than a leading *.");
	refused("a*.b", "a * other than a leading *.");
	refused("*a.b", "a * other than a leading *.");
	refused("**.b", "a * other than a leading *.");
	refused(".*.b", "a * other than a leading *.");
	refused("*.*.b", "a * other than a leading *.");
	refused("a.*", "a * other than a leading *.");
	refused("a..b", "an empty label");
	refused("..b", "an empty label");
	refused("*..b", "an empty label");
	refused("b..", "an empty label");
	refused("example.com..", "an empty label");
	refused("127.0.0.1", "an IP address, not a name");
	refused(".127.0.0.1", "an IP address, not a name");
	refused("*.10.0.0.1", "an IP address, not a name");
	refused("127.0.0.1.", "an IP address, not a name");
	refused("1.2.3", "an IP address, not a name");
	refused("example.123", "an IP address, not a name");
	refused("2130706433", "an IP address, not a name");
	refused("0x7f000001", "an IP address, not a name");
	refused("0x7f.1", "an IP address, not a name");
	refused("a_b.example", "a character other than a letter, digit, hyphen or dot");
	refused("a b", "a character other than a letter, digit, hyphen or dot");
	refused("b\xc3\xbc\x63her.example", "a character other than a letter, digit, hyphen or dot");
	refused("::1", "a character other than a letter, digit, hyphen or dot");
	refused("[::1]", "a character other than a letter, digit, hyphen or dot");
	refused("example.com:443", "a character other than a letter, digit, hyphen or dot");
	refused("a/b", "a character other than a letter, digit, hyphen or dot");
	refused(long_name(64, 64), "a label longer than 63");
	(void)snprintf(buf, sizeof buf, "*.%s.example", long_name(64, 64));
	refused(buf, "a label longer than 63");
	refused(long_name(254, 63), "a name longer than 253");
	(void)snprintf(buf, sizeof buf, ".%s", long_name(254, 63));
	refused(buf, "a name longer than 253");
	refused(long_name(500, 63), "a name longer than 253");
}

static void
limits(void)
{
	char buf[32];
	const char *why = NULL;
	size_t i;

	memset(&pl, 0, sizeof pl);
	for (i = 0; i < NAMES_MAX; i++) {
		(void)snprintf(buf, sizeof buf, "h%zu.example", i);
		if (policy_add_name(&pl, 1, buf) != NULL)
			break;
	}
	CHECK(i == NAMES_MAX && NAMES_MAX >= 256, "%d name rules are accepted", NAMES_MAX);
	CHECK(policy_add_name(&pl, 1, "one.more") != NULL &&
	    strcmp(policy_add_name(&pl, 0, "one.more"), "too many name rules") == 0 &&
	    pl.nnames == NAMES_MAX, "one more is refused: too many name rules");
	(void)snprintf(buf, sizeof buf, "H%d.EXAMPLE.", NAMES_MAX - 1);
	CHECK(policy_name(&pl, buf, 1, &why) == POLICY_NAME_ALLOW && why != NULL &&
	    strcmp(why, "allow-name:h255.example") == 0, "the last of them matches %s", buf);
}

static void
forms(void)
{
	/* example.com: exactly that name, in any case, with or without a final dot. */
	named("A:example.com", "example.com", POLICY_NAME_ALLOW, "allow-name:example.com");
	named("A:example.com", "EXAMPLE.COM", POLICY_NAME_ALLOW, "allow-name:example.com");
	named("A:example.com", "Example.Com.", POLICY_NAME_ALLOW, "allow-name:example.com");
	named("A:EXAMPLE.com.", "example.COM", POLICY_NAME_ALLOW, "allow-name:EXAMPLE.com.");
	named("A:example.com.", "example.com.", POLICY_NAME_ALLOW, "allow-name:example.com.");
	named("A:example.com", "www.example.com", POLICY_NAME_DENY, "default-deny");
	named("A:example.com", "notexample.com", POLICY_NAME_DENY, "default-deny");
	named("A:example.com", "example.com.evil.net", POLICY_NAME_DENY, "default-deny");
	named("A:example.com", "example.co", POLICY_NAME_DENY, "default-deny");
	named("A:example.com", "example.comm", POLICY_NAME_DENY, "default-deny");
	named("A:example.com", "exampleXcom", POLICY_NAME_DENY, "default-deny");
	named("A:example.com", "com", POLICY_NAME_DENY, "default-deny");

	/* .example.com: that name and every name under it. */
	named("A:.example.com", "example.com", POLICY_NAME_ALLOW, "allow-name:.example.com");
	named("A:.example.com", "a.example.com", POLICY_NAME_ALLOW, "allow-name:.example.com");
	named("A:.example.com", "a.b.example.com", POLICY_NAME_ALLOW, "allow-name:.example.com");
	named("A:.example.com", "A.B.EXAMPLE.COM.", POLICY_NAME_ALLOW, "allow-name:.example.com");
	named("A:.example.com", "_sip.example.com", POLICY_NAME_ALLOW, "allow-name:.example.com");
	named("A:.example.com", "example.com.", POLICY_NAME_ALLOW, "allow-name:.example.com");
	named("A:.example.com", "notexample.com", POLICY_NAME_DENY, "default-deny");
	named("A:.example.com", "a.notexample.com", POLICY_NAME_DENY, "default-deny");
	named("A:.example.com", "example.com.evil.net", POLICY_NAME_DENY, "default-deny");
	named("A:.example.com", "www.example.com.evil.net", POLICY_NAME_DENY, "default-deny");
	named("A:.example.com", "example.comx", POLICY_NAME_DENY, "default-deny");
	named("A:.example.com", "xample.com", POLICY_NAME_DENY, "default-deny");
	named("A:.example.com", "a-example.com", POLICY_NAME_DENY, "default-deny");
	named("A:.example.com", "com", POLICY_NAME_DENY, "default-deny");
	named("A:.com", "example.com", POLICY_NAME_ALLOW, "allow-name:.com");
	named("A:.com", "example.co", POLICY_NAME_DENY, "default-deny");

	/* *.example.com: every name under it, not the name itself. */
	named("A:*.example.com", "a.example.com", POLICY_NAME_ALLOW, "allow-name:*.example.com");
	named("A:*.example.com", "a.b.example.com.", POLICY_NAME_ALLOW, "allow-name:*.example.com");
	named("A:*.Example.Com.", "WWW.EXAMPLE.COM", POLICY_NAME_ALLOW, "allow-name:*.Example.Com.");
	named("A:*.example.com", "example.com", POLICY_NAME_DENY, "default-deny");
	named("A:*.example.com", "example.com.", POLICY_NAME_DENY, "default-deny");
	named("A:*.example.com", "EXAMPLE.COM", POLICY_NAME_DENY, "default-deny");
	named("A:*.example.com", "notexample.com", POLICY_NAME_DENY, "default-deny");
	named("A:*.example.com", "a.notexample.com", POLICY_NAME_DENY, "default-deny");
	named("A:*.example.com", "a.example.com.evil.net", POLICY_NAME_DENY, "default-deny");

	/* Punycode is ASCII: it matches as written. */
	named("A:xn--bcher-kva.example", "XN--BCHER-KVA.example", POLICY_NAME_ALLOW,
	    "allow-name:xn--bcher-kva.example");
	named("A:xn--bcher-kva.example", "bcher-kva.example", POLICY_NAME_DENY, "default-deny");

	/* The same for -D. */
	named("D:.example.com", "WWW.Example.COM.", POLICY_NAME_DENY, "deny-name:.example.com");
	named("D:.example.com", "notexample.com", POLICY_NAME_NONE, NULL);
	named("D:*.example.com", "example.com", POLICY_NAME_NONE, NULL);
	named("D:example.com", "www.example.com", POLICY_NAME_NONE, NULL);
}

static void
order(void)
{
	named("D:.bad.example A:.example", "www.bad.example", POLICY_NAME_DENY, "deny-name:.bad.example");
	named("D:.bad.example A:.example", "bad.example", POLICY_NAME_DENY, "deny-name:.bad.example");
	named("D:.bad.example A:.example", "www.good.example", POLICY_NAME_ALLOW, "allow-name:.example");
	named("A:.example D:.bad.example", "www.bad.example", POLICY_NAME_ALLOW, "allow-name:.example");
	named("A:www.bad.example D:.bad.example", "www.bad.example", POLICY_NAME_ALLOW,
	    "allow-name:www.bad.example");
	named("A:www.bad.example D:.bad.example", "ftp.bad.example", POLICY_NAME_DENY,
	    "deny-name:.bad.example");
	named("D:.Bad.Example. A:.example", "WWW.BAD.EXAMPLE.", POLICY_NAME_DENY,
	    "deny-name:.Bad.Example.");

	/* A name on no list: refused by default only with some -A and no -a. */
	named("A:a.example", "b.example", POLICY_NAME_DENY, "default-deny");
	named("A:a.example d:10.0.0.0/8", "b.example", POLICY_NAME_DENY, "default-deny");
	named("A:a.example a:127.0.0.1", "b.example", POLICY_NAME_NONE, NULL);
	named("a:127.0.0.1 A:a.example", "b.example", POLICY_NAME_NONE, NULL);
	named("D:a.example", "b.example", POLICY_NAME_NONE, NULL);
	named("", "b.example", POLICY_NAME_NONE, NULL);
}

/* An address target is never matched by a name rule, nor refused as a name. */
static void
addresses(void)
{
	const char *why = NULL;

	rules("D:.example A:localhost");
	CHECK(policy_name(&pl, "127.0.0.1", 0, &why) == POLICY_NAME_NONE && why == NULL,
	    "an IPv4 target is not judged by name rules");
	CHECK(policy_name(&pl, "::1", 0, &why) == POLICY_NAME_NONE && why == NULL,
	    "an IPv6 target is not judged by name rules");
	CHECK(policy_name(&pl, "localhost", 0, &why) == POLICY_NAME_NONE && why == NULL,
	    "the kind decides, not the text");
	CHECK(policy_name(&pl, "www.example", 1, &why) == POLICY_NAME_DENY,
	    "the same rules do judge a name");
}

/* policy_check (opened 0) or policy_check_named (1) over spec's rules. */
static void
judged(const char *spec, int opened, const char *addr, int want, const char *why)
{
	const char *got = "";
	int r;

	rules(spec);
	r = opened ? policy_check_named(&pl, unit_addr(addr), &got) : policy_check(&pl, unit_addr(addr), &got);
	CHECK(r == want && strcmp(got, why) == 0, "[%s]%s %s is %s by %s (got %s by %s)", spec,
	    opened ? " an -A name's" : "", addr, want ? "allowed" : "denied", why,
	    r ? "allowed" : "denied", got);
}

static void
defaults(void)
{
	/* The address default: closed once -a or -A is given, opened for an -A name. */
	judged("", 0, "192.0.2.1", 1, "default-allow");
	judged("D:a.example", 0, "192.0.2.1", 1, "default-allow");
	judged("A:a.example", 0, "192.0.2.1", 0, "default-deny");
	judged("a:10.0.0.0/8", 0, "192.0.2.1", 0, "default-deny");
	judged("A:a.example", 1, "192.0.2.1", 1, "allow-name");
	judged("A:a.example", 1, "2001:db8::1", 1, "allow-name");
	judged("A:a.example a:10.0.0.0/8", 1, "192.0.2.1", 1, "allow-name");
	judged("A:a.example a:10.0.0.0/8", 0, "192.0.2.1", 0, "default-deny");

	/* An -A name's addresses still meet -d and the built-in denials. */
	judged("A:a.example", 1, "127.0.0.1", 0, "builtin:loopback");
	judged("A:a.example", 1, "::1", 0, "builtin:loopback");
	judged("A:a.example", 1, "::ffff:127.0.0.1", 0, "builtin:loopback");
	judged("A:a.example", 1, "169.254.169.254", 0, "builtin:link-local");
	judged("A:a.example", 1, "0.0.0.0", 0, "builtin:unspecified");
	judged("A:a.example d:10.0.0.0/8", 1, "10.1.2.3", 0, "deny:10.0.0.0/8");
	judged("A:a.example d:10.0.0.0/8", 1, "::ffff:10.1.2.3", 0, "deny:10.0.0.0/8");
	judged("A:a.example -4", 1, "2001:db8::1", 0, "family:-4");

	/* ... unless an -a that comes first in its own list allows the address. */
	judged("A:a.example a:127.0.0.1", 1, "127.0.0.1", 1, "allow:127.0.0.1");
	judged("A:a.example a:10.1.2.3 d:10.0.0.0/8", 1, "10.1.2.3", 1, "allow:10.1.2.3");
	judged("A:a.example d:10.0.0.0/8 a:10.1.2.3", 1, "10.1.2.3", 0, "deny:10.0.0.0/8");
}

/* Names that the request parser refuses never reach the name rules. */
static void
parsed(void)
{
	static const char *const bad[] = {
		"CONNECT b\xc3\xbc\x63her.example:443 HTTP/1.0\r\n\r\n",
		"CONNECT example.com..:443 HTTP/1.0\r\n\r\n",
		"CONNECT .example.com:443 HTTP/1.0\r\n\r\n",
		"CONNECT *.example.com:443 HTTP/1.0\r\n\r\n",
	};
	static const char ok[] = "CONNECT WWW.Example.COM.:443 HTTP/1.0\r\n\r\n";
	struct request rq;
	const char *why = NULL;
	size_t i;

	for (i = 0; i < sizeof bad / sizeof bad[0]; i++)
		CHECK(parse_request(bad[i], strlen(bad[i]), &rq) == ST_BAD,
		    "the request parser refuses the host of request %zu", i);
	rules("A:.example.com");
	CHECK(parse_request(ok, strlen(ok), &rq) == ST_OK && rq.kind == HOST_NAME &&
	    policy_name(&pl, rq.host, rq.kind == HOST_NAME, &why) == POLICY_NAME_ALLOW,
	    "a parsed WWW.Example.COM. is matched by .example.com");
}

int
main(void)
{
	patterns();
	limits();
	forms();
	order();
	addresses();
	defaults();
	parsed();
	return DONE();
}
