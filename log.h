/* log: one line per event, to stderr or syslog. */
#ifndef LOG_H
#define LOG_H

#include <stddef.h>

enum logto { LOGTO_AUTO, LOGTO_STDERR, LOGTO_SYSLOG };

void	log_open(enum logto);
void	log_line(const char *, ...) __attribute__((format(printf, 1, 2)));
void	log_escape(char *, size_t, const char *, size_t);

#endif
