/* A few lines of TAP for the C unit tests: ok N - name / not ok N - name, then 1..N. */
#ifndef UNIT_H
#define UNIT_H

#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <string.h>

static int unit_count, unit_failed;

#define CHECK(cond, ...) do {						\
	int unit_ok_ = (cond);						\
	unit_count++;							\
	if (!unit_ok_)							\
		unit_failed++;						\
	printf("%s %d - ", unit_ok_ ? "ok" : "not ok", unit_count);	\
	printf(__VA_ARGS__);						\
	putchar('\n');							\
} while (0)

/* The address of a numeric IPv4 or IPv6 text, as a sockaddr (in one static buffer). */
static inline const struct sockaddr *
unit_addr(const char *s)
{
	static struct sockaddr_storage ss;
	struct sockaddr_in *s4 = (struct sockaddr_in *)&ss;
	struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)&ss;

	memset(&ss, 0, sizeof ss);
	if (inet_pton(AF_INET, s, &s4->sin_addr) == 1)
		s4->sin_family = AF_INET;
	else if (inet_pton(AF_INET6, s, &s6->sin6_addr) == 1)
		s6->sin6_family = AF_INET6;
	return (const struct sockaddr *)&ss;
}

#define DONE() (printf("1..%d\n", unit_count), unit_failed != 0)

#endif
