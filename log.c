/*
 * Log lines: key=value fields, one line per event, written whole in one
 * write(2) to stderr, or to syslog (facility daemon) when stderr is the
 * client's socket (inetd, xinetd) or closed, or when asked.
 */
#include <sys/stat.h>
#include <stdarg.h>
#include <stdio.h>
#include <syslog.h>
#include <unistd.h>

#include "connectd.h"
#include "log.h"

static int tosyslog;

/* Is descriptor 2 missing, or the same file as descriptor 0? */
static int
stderr_unusable(void)
{
	struct stat in, err;

	if (fstat(2, &err) == -1)
		return 1;
	return fstat(0, &in) == 0 && in.st_dev == err.st_dev && in.st_ino == err.st_ino;
}

void
log_open(enum logto where)
{
	tosyslog = where == LOGTO_SYSLOG || (where == LOGTO_AUTO && stderr_unusable());
	if (tosyslog)
		openlog("connectd", LOG_PID | LOG_NDELAY, LOG_DAEMON);
}

void
log_line(const char *fmt, ...)
{
	char line[2048];
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(line, sizeof line - 1, fmt, ap);
	va_end(ap);
	if (n < 0)
		return;
	if ((size_t)n > sizeof line - 2)
		n = sizeof line - 2;
	if (tosyslog) {
		syslog(LOG_INFO, "%s", line);
		return;
	}
	line[n++] = '\n';
	if (write(2, line, (size_t)n) == -1)
		return;		/* a lost log line must not stop the tunnel */
}

/*
 * Client bytes for a log field: at most LOGTEXT_MAX of them, every byte
 * outside printable ASCII, and every space, '"' and '\', as \xHH; "..." when
 * cut. dst needs 4 * LOGTEXT_MAX + 4 bytes.
 */
void
log_escape(char *dst, size_t size, const char *src, size_t n)
{
	static const char hex[] = "0123456789abcdef";
	size_t i, o = 0;

	for (i = 0; i < n && i < LOGTEXT_MAX && o + 8 < size; i++) {
		unsigned char c = (unsigned char)src[i];

		if (c > ' ' && c < 0x7f && c != '"' && c != '\\') {
			dst[o++] = (char)c;
			continue;
		}
		dst[o++] = '\\';
		dst[o++] = 'x';
		dst[o++] = hex[c >> 4];
		dst[o++] = hex[c & 15];
	}
	if (i < n)
		for (n = 0; n < 3; n++)
			dst[o++] = '.';
	dst[o] = '\0';
}
