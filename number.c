/* number: a decimal number over a whole string, with its bound. Pure. */
#include "number.h"

/* Digits only, over the whole string, no more than max. */
int
number_parse(const char *s, size_t n, unsigned long max, unsigned long *v)
{
	unsigned long x = 0;
	size_t i;

	if (n == 0)
		return -1;
	for (i = 0; i < n; i++) {
		if (s[i] < '0' || s[i] > '9')
			return -1;
		if (x > (max - (unsigned long)(s[i] - '0')) / 10)
			return -1;
		x = x * 10 + (unsigned long)(s[i] - '0');
	}
	*v = x;
	return 0;
}
