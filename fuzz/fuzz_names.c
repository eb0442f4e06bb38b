/*
 * libFuzzer: the name patterns of -A and -D and the matcher, against a
 * reference written apart from policy.c.
 *
 * The input is lines. "+PATTERN" is an -A rule, "-PATTERN" a -D rule, each
 * in a buffer of exactly its length plus the NUL (freed at once: the rules
 * must not point into it), given to policy_add_name. "@a" adds an -a rule.
 * Any other line is a target host, parsed by parse_request as connectd
 * does, then judged by policy_name.
 *
 * The reference splits a pattern and a host into label arrays, folds ASCII
 * case, drops one final dot and compares the label lists from the right:
 * the same verdict, the same first rule, its log text the pattern as given;
 * a name on no list refused only with some -A and no -a; an address target
 * never matched. The first valid patterns also bring hosts of their own to judge
 * (the name itself, names under it, in capitals, with a final dot, and near
 * misses across label boundaries). An address from the input's last bytes
 * checks that policy_check_named differs from policy_check only by opening
 * the default.
 */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "parse.h"
#include "policy.h"

#define CHECK(c)	do { if (!(c)) __builtin_trap(); } while (0)
#define LABELS		128	/* a 253-byte name has at most 127 labels */
#define DERIVED		16	/* the first rules bring hosts of their own (it costs rules x hosts) */
#define HOSTS		64	/* host lines judged, at most */

int LLVMFuzzerTestOneInput(const uint8_t *, size_t);

enum { EXACT, DOMAIN, UNDER };

/* A name as labels, each a pointer and a length into the caller's text. */
struct labels {
	const char *p[LABELS];
	size_t n[LABELS];
	size_t count;
};

/* The reference's view of a rule. */
struct ref {
	int allow, form;
	char text[PATTERN_MAX + 1];	/* the pattern as given */
	struct labels l;		/* into text */
};

static struct ref refs[NAMES_MAX];
static size_t nrefs;
static int ref_anyallowname, ref_anyallow;

/* Split s (n bytes) at every dot; empty labels included. */
static void
split(const char *s, size_t n, struct labels *l)
{
	size_t i, start = 0;

	l->count = 0;
	for (i = 0; i <= n && l->count < LABELS; i++)
		if (i == n || s[i] == '.') {
			l->p[l->count] = s + start;
			l->n[l->count++] = i - start;
			start = i + 1;
		}
}

static int
ldh(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-';
}

static int
digits(const char *s, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++)
		if (s[i] < '0' || s[i] > '9')
			return 0;
	return n > 0;
}

/* The pattern grammar, label by label: 1 and the rule (its text a copy), or 0. */
static int
ref_pattern(const char *s, struct ref *r)
{
	char name[PATTERN_MAX + 1];
	struct in_addr a;
	const char *rest = s;
	size_t n, i, j, total = strlen(s);

	r->form = EXACT;
	if (s[0] == '*' && s[1] == '.')
		r->form = UNDER, rest = s + 2;
	else if (s[0] == '.')
		r->form = DOMAIN, rest = s + 1;
	n = strlen(rest);
	if (n > 0 && rest[n - 1] == '.')
		n--;
	if (n < 1 || n > 253 || total > PATTERN_MAX)
		return 0;
	split(rest, n, &r->l);
	for (i = 0; i < r->l.count; i++) {
		if (r->l.n[i] < 1 || r->l.n[i] > 63)
			return 0;
		for (j = 0; j < r->l.n[i]; j++)
			if (!ldh(r->l.p[i][j]))
				return 0;
	}
	memcpy(name, rest, n);
	name[n] = '\0';
	if (digits(r->l.p[r->l.count - 1], r->l.n[r->l.count - 1]) || inet_aton(name, &a))
		return 0;
	memcpy(r->text, s, total + 1);
	split(r->text + (rest - s), n, &r->l);	/* into the copy */
	return 1;
}

static int
fold(char c)
{
	return c >= 'A' && c <= 'Z' ? c + 32 : c;
}

static int
same_label(const char *a, size_t an, const char *b, size_t bn)
{
	size_t i;

	if (an != bn)
		return 0;
	for (i = 0; i < an; i++)
		if (fold(a[i]) != fold(b[i]))
			return 0;
	return 1;
}

/* Label lists compared from the right. */
static int
ref_match(const struct ref *r, const struct labels *h)
{
	size_t i, np = r->l.count, nh = h->count;

	if (nh < np || (r->form == EXACT && nh != np) || (r->form == UNDER && nh == np))
		return 0;
	for (i = 1; i <= np; i++)
		if (!same_label(r->l.p[np - i], r->l.n[np - i], h->p[nh - i], h->n[nh - i]))
			return 0;
	return 1;
}

/* A host through parse_request, then policy_name against the reference. */
static void
judge(const struct policy *pl, const char *host, size_t n)
{
	char req[400];
	struct request rq;
	struct labels h;
	const char *why = NULL;
	enum policy_name v;
	size_t i, hn;
	int k;

	if (n > 300)
		return;
	k = snprintf(req, sizeof req, "CONNECT %.*s:443 HTTP/1.0\r\n\r\n", (int)n, host);
	if (k < 0 || (size_t)k >= sizeof req || parse_request(req, (size_t)k, &rq) != ST_OK)
		return;
	v = policy_name(pl, rq.host, rq.kind == HOST_NAME, &why);
	if (rq.kind != HOST_NAME) {
		CHECK(v == POLICY_NAME_NONE && why == NULL);
		return;
	}
	hn = strlen(rq.host);
	if (hn > 0 && rq.host[hn - 1] == '.')
		hn--;
	split(rq.host, hn, &h);
	for (i = 0; i < nrefs; i++)
		if (ref_match(&refs[i], &h)) {
			CHECK(v == (refs[i].allow ? POLICY_NAME_ALLOW : POLICY_NAME_DENY));
			CHECK(why != NULL && strncmp(why, refs[i].allow ? "allow-name:" : "deny-name:",
			    refs[i].allow ? 11 : 10) == 0);
			CHECK(strcmp(why + (refs[i].allow ? 11 : 10), refs[i].text) == 0);
			return;
		}
	if (ref_anyallowname && !ref_anyallow)
		CHECK(v == POLICY_NAME_DENY && why != NULL && strcmp(why, "default-deny") == 0);
	else
		CHECK(v == POLICY_NAME_NONE && why == NULL);
}

/* Hosts made from a valid pattern: itself, under it, and near misses. */
static void
derived(const struct policy *pl, const struct ref *r)
{
	static const char *const fmt[] = {
		"%s", "%s.", "x.%s", "X.Y.%s.", "not%s", "%s.evil.test", "x-%s", "%s-x", "_x.%s",
	};
	const char *name = r->l.p[0];
	size_t n = (size_t)(r->l.p[r->l.count - 1] + r->l.n[r->l.count - 1] - name), i;
	char host[300], low[260], up[260];
	int k;

	for (i = 0; i < n; i++) {
		low[i] = (char)fold(name[i]);
		up[i] = name[i] >= 'a' && name[i] <= 'z' ? (char)(name[i] - 32) : name[i];
	}
	low[n] = up[n] = '\0';
	for (i = 0; i < sizeof fmt / sizeof fmt[0]; i++) {
		k = snprintf(host, sizeof host, fmt[i], low);
		if (k > 0 && (size_t)k < sizeof host)
			judge(pl, host, (size_t)k);
		k = snprintf(host, sizeof host, fmt[i], up);
		if (k > 0 && (size_t)k < sizeof host)
			judge(pl, host, (size_t)k);
	}
	if (n > 1)
		judge(pl, name + 1, n - 1);	/* the name less its first byte */
}

/* One -A or -D pattern, through policy_add_name and the reference. */
static void
pattern(struct policy *pl, int allow, const uint8_t *p, size_t n)
{
	struct ref *r = &refs[nrefs];
	size_t before = pl->nnames;
	const char *err;
	char *arg;
	int ok;

	if (memchr(p, '\0', n) != NULL || (arg = malloc(n + 1)) == NULL)
		return;
	memcpy(arg, p, n);
	arg[n] = '\0';
	err = policy_add_name(pl, allow, arg);
	ok = before < NAMES_MAX && n <= PATTERN_MAX && ref_pattern(arg, r);
	free(arg);	/* the rule must not point into it */
	if (before == NAMES_MAX) {
		CHECK(err != NULL && pl->nnames == before);
		return;
	}
	CHECK((err == NULL) == ok);
	if (!ok) {
		CHECK(pl->nnames == before && err[0] != '\0');
		return;
	}
	CHECK(pl->nnames == before + 1 && nrefs == before);
	r->allow = allow;
	nrefs++;
	ref_anyallowname |= allow;
	if (nrefs <= DERIVED)
		derived(pl, r);
}

/* policy_check_named is policy_check with the default opened, nothing more. */
static void
opened(const struct policy *pl, const uint8_t *data, size_t size)
{
	struct sockaddr_storage ss;
	struct sockaddr_in *s4 = (struct sockaddr_in *)&ss;
	struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)&ss;
	const char *why = NULL, *nwhy = NULL;
	int r, nr, v6;

	memset(&ss, 0, sizeof ss);
	v6 = size > 0 && (data[size - 1] & 1);
	ss.ss_family = v6 ? AF_INET6 : AF_INET;
	if (v6)
		memcpy(&s6->sin6_addr, data + (size > 16 ? size - 16 : 0), size < 16 ? size : 16);
	else
		memcpy(&s4->sin_addr, data + (size > 4 ? size - 4 : 0), size < 4 ? size : 4);
	r = policy_check(pl, (const struct sockaddr *)&ss, &why);
	nr = policy_check_named(pl, (const struct sockaddr *)&ss, &nwhy);
	CHECK(why != NULL && nwhy != NULL);
	if (!r && strcmp(why, "default-deny") == 0) {
		CHECK(nr);
		return;
	}
	CHECK(r == nr && strcmp(why, nwhy) == 0);
	if (strcmp(why, "default-allow") == 0)
		CHECK(!ref_anyallow && !ref_anyallowname);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct policy pl;
	const uint8_t *p = data, *end = data + size, *nl;
	size_t n, hosts = 0;

	memset(&pl, 0, sizeof pl);
	nrefs = 0;
	ref_anyallowname = ref_anyallow = 0;
	while (p < end) {
		nl = memchr(p, '\n', (size_t)(end - p));
		n = nl ? (size_t)(nl - p) : (size_t)(end - p);
		if (n == 2 && memcmp(p, "@a", 2) == 0) {
			if (pl.nrules < RULES_MAX)
				CHECK(policy_add_rule(&pl, 1, "192.0.2.0/24") == NULL);
			ref_anyallow = 1;
		} else if (n > 0 && (p[0] == '+' || p[0] == '-'))
			pattern(&pl, p[0] == '+', p + 1, n - 1);
		else if (hosts++ < HOSTS)
			judge(&pl, (const char *)p, n);
		p += n + 1;
	}
	opened(&pl, data, size);
	return 0;
}
