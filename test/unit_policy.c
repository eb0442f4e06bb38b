/* policy: port specs, rules, built-in denials, order, carried IPv4, families. */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <string.h>

#include "policy.h"
#include "unit.h"

/* Rules from a string "a:10.0.0.0/8 d:::1 ...", then the verdict and the rule named. */
static void
verdict(const char *rules, const char *target, int want, const char *why)
{
	static struct policy pl;
	char buf[256], *w, *save;
	const char *got = "";
	int r;

	memset(&pl, 0, sizeof pl);
	strcpy(buf, rules);
	for (w = strtok_r(buf, " ", &save); w != NULL; w = strtok_r(NULL, " ", &save))
		if (strcmp(w, "-4") == 0 || strcmp(w, "-6") == 0)
			pl.family = w[1] == '4' ? AF_INET : AF_INET6;
		else
			(void)policy_add_rule(&pl, w[0] == 'a', w + 2);
	r = policy_check(&pl, unit_addr(target), &got);
	CHECK(r == want && strcmp(got, why) == 0, "[%s] %s is %s by %s (got %s by %s)",
	    rules, target, want ? "allowed" : "denied", why, r ? "allowed" : "denied", got);
}

static void
ports(void)
{
	static const struct {
		const char *spec;
		int ok;
	} specs[] = {
		{ "443", 1 }, { "1", 1 }, { "65535", 1 }, { "1-65535", 1 }, { "3-5", 1 }, { "7-7", 1 },
		{ "0", 0 }, { "65536", 0 }, { "99999999999", 0 }, { "5-3", 0 }, { "0-5", 0 },
		{ "-5", 0 }, { "5-", 0 }, { "", 0 }, { "a", 0 }, { "1-2-3", 0 }, { " 443", 0 },
		{ "+443", 0 }, { "443 ", 0 }, { "1-65536", 0 },
	};
	struct policy pl;
	size_t i;

	for (i = 0; i < sizeof specs / sizeof specs[0]; i++) {
		memset(&pl, 0, sizeof pl);
		CHECK((policy_add_ports(&pl, specs[i].spec) == NULL) == specs[i].ok,
		    "port spec '%s' is %s", specs[i].spec, specs[i].ok ? "good" : "refused");
	}
	memset(&pl, 0, sizeof pl);
	(void)policy_add_ports(&pl, "443");
	(void)policy_add_ports(&pl, "8000-8080");
	CHECK(policy_port(&pl, 443) && policy_port(&pl, 8000) && policy_port(&pl, 8080) &&
	    policy_port(&pl, 8042), "ports and range ends are allowed");
	CHECK(!policy_port(&pl, 442) && !policy_port(&pl, 444) && !policy_port(&pl, 7999) &&
	    !policy_port(&pl, 8081) && !policy_port(&pl, 0), "ports next to them are not");
	memset(&pl, 0, sizeof pl);
	for (i = 0; i < PORTS_MAX; i++)
		(void)policy_add_ports(&pl, "1");
	CHECK(policy_add_ports(&pl, "1") != NULL, "more than PORTS_MAX port specs are refused");
}

static void
cidrs(void)
{
	static const char *const bad[] = {
		"10.0.0.0/33", "::/129", "10.0.0.0/", "x", "1.2.3", "10.0.0.0/8/8", "",
		"/8", "10.0.0.0/-1", "10.0.0.0/ 8", "0177.0.0.1", "::1%lo", "1.2.3.4:80",
		"2001:db8::/+32", "256.1.1.1",
	};
	static const char *const good[] = {
		"10.0.0.0/8", "10.1.2.3", "::1", "2001:db8::/32", "0.0.0.0/0", "::/0",
		"::ffff:127.0.0.1", "192.0.2.1/32", "fe80::/10",
	};
	struct policy pl;
	size_t i;

	for (i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		memset(&pl, 0, sizeof pl);
		CHECK(policy_add_rule(&pl, 1, bad[i]) != NULL, "rule '%s' is refused", bad[i]);
	}
	for (i = 0; i < sizeof good / sizeof good[0]; i++) {
		memset(&pl, 0, sizeof pl);
		CHECK(policy_add_rule(&pl, 0, good[i]) == NULL, "rule '%s' is good", good[i]);
	}
	memset(&pl, 0, sizeof pl);
	for (i = 0; i < RULES_MAX; i++)
		(void)policy_add_rule(&pl, 0, "::1");
	CHECK(policy_add_rule(&pl, 0, "::1") != NULL, "more than RULES_MAX rules are refused");
}

static void
defaults(void)
{
	verdict("", "93.184.216.34", 1, "default-allow");
	verdict("", "2606:2800:220:1:248:1893:25c8:1946", 1, "default-allow");
	verdict("", "127.0.0.1", 0, "builtin:loopback");
	verdict("", "127.255.255.254", 0, "builtin:loopback");
	verdict("", "0.0.0.0", 0, "builtin:unspecified");
	verdict("", "0.1.2.3", 0, "builtin:unspecified");
	verdict("", "169.254.169.254", 0, "builtin:link-local");
	verdict("", "224.0.0.1", 0, "builtin:multicast");
	verdict("", "239.255.255.250", 0, "builtin:multicast");
	verdict("", "240.0.0.1", 1, "default-allow");
	verdict("", "255.255.255.255", 0, "builtin:broadcast");
	verdict("", "::1", 0, "builtin:loopback");
	verdict("", "::", 0, "builtin:unspecified");
	verdict("", "fe80::1", 0, "builtin:link-local");
	verdict("", "febf::1", 0, "builtin:link-local");
	verdict("", "fec0::1", 1, "default-allow");
	verdict("", "ff02::1", 0, "builtin:multicast");
	verdict("", "::ffff:127.0.0.1", 0, "builtin:loopback");
	verdict("", "::ffff:169.254.169.254", 0, "builtin:link-local");
	verdict("", "64:ff9b::7f00:1", 0, "builtin:loopback");
	verdict("", "2002:7f00:1::", 0, "builtin:loopback");
	verdict("", "2002:a9fe:a9fe::1", 0, "builtin:link-local");
	verdict("", "::127.0.0.1", 0, "builtin:loopback");
	verdict("", "::ffff:93.184.216.34", 1, "default-allow");
	verdict("", "2002:5db8:d822::1", 1, "default-allow");
}

static void
rules(void)
{
	verdict("a:127.0.0.1", "127.0.0.1", 1, "allow:127.0.0.1");
	verdict("a:127.0.0.1", "127.0.0.2", 0, "builtin:loopback");
	verdict("a:127.0.0.1", "93.184.216.34", 0, "default-deny");
	verdict("a:127.0.0.1", "::ffff:127.0.0.1", 1, "allow:127.0.0.1");
	verdict("a:127.0.0.0/8", "64:ff9b::7f00:1", 1, "allow:127.0.0.0/8");
	verdict("a:::1", "::1", 1, "allow:::1");
	verdict("a:::1", "127.0.0.1", 0, "builtin:loopback");
	verdict("a:10.0.0.0/8 d:10.1.0.0/16", "10.1.2.3", 1, "allow:10.0.0.0/8");
	verdict("d:10.1.0.0/16 a:10.0.0.0/8", "10.1.2.3", 0, "deny:10.1.0.0/16");
	verdict("d:10.1.0.0/16 a:10.0.0.0/8", "10.2.0.1", 1, "allow:10.0.0.0/8");
	verdict("d:93.184.216.0/24", "93.184.216.34", 0, "deny:93.184.216.0/24");
	verdict("d:93.184.216.0/24", "93.184.217.1", 1, "default-allow");
	verdict("d:172.16.0.0/12", "172.31.255.255", 0, "deny:172.16.0.0/12");
	verdict("d:172.16.0.0/12", "172.32.0.0", 1, "default-allow");
	verdict("d:172.16.0.0/12", "172.15.255.255", 1, "default-allow");
	verdict("d:10.0.0.0/8", "::ffff:10.1.1.1", 0, "deny:10.0.0.0/8");
	verdict("d:10.0.0.0/8", "2002:a01:101::", 0, "deny:10.0.0.0/8");
	verdict("d:2001:db8::/32", "2001:db8:1::1", 0, "deny:2001:db8::/32");
	verdict("d:2001:db8::/33", "2001:db8:8000::1", 1, "default-allow");
	verdict("a:::ffff:0:0/96", "::ffff:127.0.0.1", 0, "builtin:loopback");
	verdict("a:0.0.0.0/0", "8.8.8.8", 1, "allow:0.0.0.0/0");
	verdict("a:0.0.0.0/0", "::1", 0, "builtin:loopback");
	verdict("a:::/0", "2001:db8::1", 1, "allow:::/0");
	verdict("-4", "::1", 0, "family:-4");
	verdict("-4", "93.184.216.34", 1, "default-allow");
	verdict("-6", "93.184.216.34", 0, "family:-6");
	verdict("-6 a:127.0.0.1", "127.0.0.1", 0, "family:-6");
}

/* Each IPv6 form that carries an IPv4 address is judged also as that address. */
static void
carriers(void)
{
	static const struct {
		const char *form, *loopback, *denied, *allowed;
	} forms[] = {
		{ "IPv4-mapped", "::ffff:127.0.0.1", "::ffff:10.1.1.1", "::ffff:192.0.2.1" },
		{ "IPv4-translated", "::ffff:0:127.0.0.1", "::ffff:0:a01:101", "::ffff:0:c000:201" },
		{ "IPv4-compatible", "::127.0.0.1", "::a01:101", "::c000:201" },
		{ "NAT64", "64:ff9b::7f00:1", "64:ff9b::a01:101", "64:ff9b::c000:201" },
		{ "local NAT64", "64:ff9b:1::7f00:1", "64:ff9b:1:ffff:ffff:ffff:a01:101",
		    "64:ff9b:1:1234::c000:201" },
		{ "6to4", "2002:7f00:1::", "2002:a01:101:ffff::1", "2002:c000:201::" },
	};
	size_t i;

	for (i = 0; i < sizeof forms / sizeof forms[0]; i++) {
		printf("# %s\n", forms[i].form);
		verdict("", forms[i].loopback, 0, "builtin:loopback");
		verdict("a:::/0", forms[i].loopback, 0, "builtin:loopback");
		verdict("d:10.0.0.0/8", forms[i].denied, 0, "deny:10.0.0.0/8");
		verdict("a:::/0 d:10.0.0.0/8", forms[i].denied, 0, "deny:10.0.0.0/8");
		verdict("d:10.0.0.0/8", forms[i].allowed, 1, "default-allow");
		verdict("a:192.0.2.1", forms[i].allowed, 1, "allow:192.0.2.1");
		verdict("a:192.0.2.2", forms[i].allowed, 0, "default-deny");
		verdict("a:127.0.0.1", forms[i].loopback, 1, "allow:127.0.0.1");
	}
	/* Next to them, addresses that carry nothing. */
	verdict("a:127.0.0.1", "::ffff:1:7f00:1", 0, "default-deny");
	verdict("a:127.0.0.1", "::fffe:7f00:1", 0, "default-deny");
	verdict("a:127.0.0.1", "::1:ffff:0:7f00:1", 0, "default-deny");
	verdict("a:127.0.0.1", "64:ff9b:2::7f00:1", 0, "default-deny");
	verdict("a:127.0.0.1", "64:ff9b:0:1::7f00:1", 0, "default-deny");
	verdict("a:127.0.0.1", "64:ff9a:1::7f00:1", 0, "default-deny");
	verdict("a:127.0.0.1", "2003:7f00:1::", 0, "default-deny");
	verdict("", "::2", 0, "builtin:unspecified");	/* IPv4-compatible 0.0.0.2 */
}

/* -4 and -6 are the family on the wire: IPv4-mapped is IPv4 there. */
static void
families(void)
{
	verdict("-6", "::ffff:127.0.0.1", 0, "family:-6");
	verdict("-6 a:127.0.0.1", "::ffff:127.0.0.1", 0, "family:-6");
	verdict("-6", "::ffff:192.0.2.1", 0, "family:-6");
	verdict("-6 a:::ffff:0:0/96", "::ffff:192.0.2.1", 0, "family:-6");
	verdict("-6 a:::/0", "::ffff:7f00:1", 0, "family:-6");
	verdict("-6", "::ffff:0:192.0.2.1", 1, "default-allow");
	verdict("-6", "::ffff:0:127.0.0.1", 0, "builtin:loopback");
	verdict("-6", "64:ff9b::c000:201", 1, "default-allow");
	verdict("-6", "2001:db8::1", 1, "default-allow");
	verdict("-6 a:::1", "::1", 1, "allow:::1");
	verdict("-4", "::ffff:192.0.2.1", 0, "family:-4");
	verdict("-4 a:127.0.0.1", "::ffff:127.0.0.1", 0, "family:-4");
	verdict("-4", "192.0.2.1", 1, "default-allow");
}

int
main(void)
{
	ports();
	cidrs();
	defaults();
	rules();
	carriers();
	families();
	return DONE();
}
