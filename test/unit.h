/* A few lines of TAP for the C unit tests: ok N - name / not ok N - name, then 1..N. */
#ifndef UNIT_H
#define UNIT_H

#include <stdio.h>

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

#define DONE() (printf("1..%d\n", unit_count), unit_failed != 0)

#endif
