/* number: the decimal numbers of requests, headers and the command line. Pure. */
#ifndef NUMBER_H
#define NUMBER_H

#include <stddef.h>

int	number_parse(const char *, size_t, unsigned long, unsigned long *);

#endif
