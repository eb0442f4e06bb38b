/* auth: Basic credentials (pure), and the checker that judges them. */
#ifndef AUTH_H
#define AUTH_H

#include <stddef.h>

#include "connectd.h"

/* "user:password", decoded; wiped once the checker has it. */
struct credentials {
	char text[AUTH_B64_MAX / 4 * 3];
	size_t len;
	size_t userlen;		/* bytes before the first colon; 0: no user name known */
};

enum auth_verdict { AUTH_ACCEPTED, AUTH_REJECTED, AUTH_FAILED };

const char		*auth_basic(const char *, size_t, struct credentials *);
const char		*auth_challenge(const char *, char *, size_t);
int			 auth_stderr(void);
enum auth_verdict	 auth_check(const char *, struct credentials *, unsigned, int, char *, size_t);

#endif
