/*
 * auth_basic and auth_challenge over byte arrays: every rule of the Basic
 * credentials and of the realm, and their limits; auth_check with the
 * simplest checkers there are, true and false, and that it wipes what it got.
 */
#include <stdlib.h>
#include <string.h>

#include "auth.h"
#include "unit.h"

static const struct {
	const char *name, *value;
	int ok;			/* well formed */
	const char *user;	/* the user name known, or NULL */
	const char *text;	/* user:password, when ok */
} cases[] = {
	{ "user and password", "Basic YWxpY2U6c2VjcmV0", 1, "alice", "alice:secret" },
	{ "the scheme in lower case", "basic YWxpY2U6c2VjcmV0", 1, "alice", "alice:secret" },
	{ "the scheme in mixed case", "bAsIC YWxpY2U6c2VjcmV0", 1, "alice", "alice:secret" },
	{ "more than one space after the scheme", "Basic   YWxpY2U6c2VjcmV0", 1, "alice", "alice:secret" },
	{ "a password with colons", "Basic Ym9iOnBhOnNzOndvcmQ=", 1, "bob", "bob:pa:ss:word" },
	{ "an empty password", "Basic dTo=", 1, "u", "u:" },
	{ "UTF-8 in both parts", "Basic asO8cmdlbjpww6Rzc3fDtnJk", 1, "j\xc3\xbcrgen",
	    "j\xc3\xbcrgen:p\xc3\xa4ssw\xc3\xb6rd" },
	{ "one padding byte", "Basic dTpwd3g=", 1, "u", "u:pwx" },

	{ "no value", "", 0, NULL, NULL },
	{ "another scheme", "Bearer YWxpY2U6c2VjcmV0", 0, NULL, NULL },
	{ "Digest", "Digest username=\"alice\", realm=\"connectd\"", 0, NULL, NULL },
	{ "the scheme alone", "Basic", 0, NULL, NULL },
	{ "the scheme and a space", "Basic ", 0, NULL, NULL },
	{ "no space after the scheme", "BasicYWxpY2U6c2VjcmV0", 0, NULL, NULL },
	{ "a tab after the scheme", "Basic\tYWxpY2U6c2VjcmV0", 0, NULL, NULL },
	{ "a shorter scheme", "Basi YWxpY2U6c2VjcmV0", 0, NULL, NULL },
	{ "missing padding", "Basic dTpwdw", 0, NULL, NULL },
	{ "a length that is not a multiple of 4", "Basic dTpwdw=", 0, NULL, NULL },
	{ "too much padding", "Basic dTpwdw===", 0, NULL, NULL },
	{ "padding in the middle", "Basic dTp=dTpw", 0, NULL, NULL },
	{ "padding alone", "Basic ====", 0, NULL, NULL },
	{ "base64url's '-'", "Basic dTp-dw==", 0, NULL, NULL },
	{ "base64url's '_'", "Basic dTp_dw==", 0, NULL, NULL },
	{ "a space inside", "Basic dTpw dw==", 0, NULL, NULL },
	{ "auth-params after the token", "Basic dTpw, realm=x", 0, NULL, NULL },
	{ "non-zero bits under two padding bytes", "Basic dTpwdx==", 0, NULL, NULL },
	{ "non-zero bits under one padding byte", "Basic dTpwd3h=", 0, NULL, NULL },
	{ "no colon: no user name known (it might be the password)", "Basic bm9jb2xvbg==", 0, NULL, NULL },
	{ "an empty user name", "Basic OnB3", 0, NULL, NULL },
	{ "a control byte in the password", "Basic dTpwAQ==", 0, "u", NULL },
	{ "DEL in the password", "Basic dTpwfw==", 0, "u", NULL },
	{ "a line feed in the password", "Basic dTpwCg==", 0, "u", NULL },
	{ "NUL in the password", "Basic dTpwAA==", 0, "u", NULL },
	{ "a tab in the user name", "Basic dQl4OnA=", 0, "u\tx", NULL },
};

static void
table(void)
{
	struct credentials c;
	const char *why;
	size_t i, ulen;
	int good;

	for (i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		why = auth_basic(cases[i].value, strlen(cases[i].value), &c);
		ulen = cases[i].user ? strlen(cases[i].user) : 0;
		good = (why == NULL) == cases[i].ok && c.userlen == ulen &&
		    (ulen == 0 || memcmp(c.text, cases[i].user, ulen) == 0);
		if (cases[i].ok)
			good = good && c.len == strlen(cases[i].text) &&
			    memcmp(c.text, cases[i].text, c.len) == 0;
		CHECK(good, "%s: %s (got %s, user of %zu bytes)", cases[i].name,
		    cases[i].ok ? "well formed" : "refused", why ? why : "well formed", c.userlen);
	}
}

/* Strict base64 of n bytes, for the limits. */
static void
encode(const unsigned char *in, size_t n, char *out)
{
	static const char b64[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
	unsigned long v;
	size_t i;

	for (i = 0; i < n; i += 3) {
		v = (unsigned long)in[i] << 16 | (i + 1 < n ? (unsigned long)in[i + 1] << 8 : 0) |
		    (i + 2 < n ? in[i + 2] : 0);
		*out++ = b64[v >> 18 & 63];
		*out++ = b64[v >> 12 & 63];
		*out++ = i + 1 < n ? b64[v >> 6 & 63] : '=';
		*out++ = i + 2 < n ? b64[v & 63] : '=';
	}
	*out = '\0';
}

/* "Basic " and the base64 of "user:" and n - 5 bytes of password. */
static size_t
sized(char *value, size_t n)
{
	unsigned char plain[1024];

	memcpy(plain, "user:", 5);
	memset(plain + 5, 'p', n - 5);
	memcpy(value, "Basic ", 6);
	encode(plain, n, value + 6);
	return strlen(value);
}

static void
limits(void)
{
	struct credentials c;
	char v[2048];

	CHECK(auth_basic(v, sized(v, AUTH_MAX), &c) == NULL && c.len == AUTH_MAX && c.userlen == 4,
	    "user and password of AUTH_MAX (%d) bytes together are well formed", AUTH_MAX);
	CHECK(strlen(v) - 6 == AUTH_B64_MAX, "and their base64 is AUTH_B64_MAX (%d) long", AUTH_B64_MAX);
	CHECK(auth_basic(v, sized(v, AUTH_MAX + 1), &c) != NULL && c.userlen == 4,
	    "AUTH_MAX + 1 bytes are too long; the user is still known");
	CHECK(auth_basic(v, sized(v, AUTH_MAX + 3), &c) != NULL && c.userlen == 0,
	    "a base64 text longer than AUTH_B64_MAX is not even decoded");
	CHECK(AUTH_MAX + 2 + 10 + 1 <= CHECK_INPUT,
	    "user, password, a 10-digit time and three NULs fit the checker's %d bytes", CHECK_INPUT);
}

/* Only the length given is read: no terminating NUL is needed. */
static void
bounded(void)
{
	static const char v[] = "Basic YWxpY2U6c2VjcmV0dW5yZWFk";
	struct credentials c;
	char *copy = malloc(22);

	if (copy == NULL)
		return;
	memcpy(copy, v, 22);	/* san/unit_auth sees a read past it */
	CHECK(auth_basic(copy, 22, &c) == NULL && c.len == 12 && memcmp(c.text, "alice:secret", 12) == 0,
	    "only the length given is read");
	free(copy);
}

static void
challenge(void)
{
	char out[2 * REALM_MAX + 40], realm[REALM_MAX + 2];

	CHECK(auth_challenge("connectd", out, sizeof out) == NULL &&
	    strcmp(out, "Proxy-Authenticate: Basic realm=\"connectd\"\r\n") == 0,
	    "the default realm makes the header line");
	CHECK(auth_challenge("say \"hi\" \\ bye", out, sizeof out) == NULL &&
	    strcmp(out, "Proxy-Authenticate: Basic realm=\"say \\\"hi\\\" \\\\ bye\"\r\n") == 0,
	    "'\"' and '\\' are escaped as a quoted-string says, spaces kept");
	memset(realm, '~', REALM_MAX);
	realm[REALM_MAX] = '\0';
	CHECK(auth_challenge(realm, out, sizeof out) == NULL, "a realm of REALM_MAX (%d) is fine", REALM_MAX);
	memset(realm, '"', REALM_MAX);
	CHECK(auth_challenge(realm, out, sizeof out) == NULL && strlen(out) == 2 * REALM_MAX + 36,
	    "and one of REALM_MAX quotes, each escaped, fits the buffer");
	realm[REALM_MAX] = 'x';
	realm[REALM_MAX + 1] = '\0';
	CHECK(auth_challenge(realm, out, sizeof out) != NULL, "a realm of REALM_MAX + 1 is not");
	CHECK(auth_challenge("", out, sizeof out) != NULL, "an empty realm is not");
	CHECK(auth_challenge("a\tb", out, sizeof out) != NULL, "a tab is not printable ASCII");
	CHECK(auth_challenge("a\r\nX: y", out, sizeof out) != NULL, "nor a line break: no header can be forged");
	CHECK(auth_challenge("caf\xc3\xa9", out, sizeof out) != NULL, "nor a byte over 0x7e");
	CHECK(auth_challenge("a\x7f", out, sizeof out) != NULL, "nor DEL");
}

static int
wiped(const struct credentials *c)
{
	size_t i;

	for (i = 0; i < sizeof c->text; i++)
		if (c->text[i] != 0)
			return 0;
	return 1;
}

/* true exits 0 and false 1: the two verdicts; the credentials are gone after. */
static void
checkers(void)
{
	struct credentials c;
	char why[128] = "";

	(void)auth_basic("Basic YWxpY2U6c2VjcmV0", 22, &c);
	CHECK(auth_check("/bin/true", &c, 5, 0, why, sizeof why) == AUTH_ACCEPTED && wiped(&c),
	    "a checker that exits 0 accepts, and the credentials are wiped");
	(void)auth_basic("Basic YWxpY2U6c2VjcmV0", 22, &c);
	CHECK(auth_check("/bin/false", &c, 5, 0, why, sizeof why) == AUTH_REJECTED && wiped(&c),
	    "a checker that exits 1 rejects, and the credentials are wiped");
	(void)auth_basic("Basic YWxpY2U6c2VjcmV0", 22, &c);
	CHECK(auth_check("/nonexistent/checker", &c, 5, 0, why, sizeof why) == AUTH_FAILED &&
	    strcmp(why, "the checker exited with 127") == 0 && wiped(&c),
	    "a checker that cannot be run fails (%s)", why);
	memset(&c, 0, sizeof c);
	c.len = AUTH_MAX + 1;
	memset(c.text, 'x', sizeof c.text);
	CHECK(auth_check("/bin/true", &c, 5, 0, why, sizeof why) == AUTH_FAILED && wiped(&c),
	    "credentials over the limit are never passed on, and are wiped (%s)", why);
}

int
main(void)
{
	table();
	limits();
	bounded();
	challenge();
	checkers();
	return DONE();
}
