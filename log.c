/*
 * Log lines: key=value fields, one line per event, each written whole in one
 * call: to stderr, or to syslog (facility daemon) when stderr is the client's
 * socket (inetd, xinetd) or closed, or when asked. The syslog socket is
 * opened at the start, so that logging needs no system call but send() once
 * the sandbox is on.
 */
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "connectd.h"
#include "log.h"
#include "net.h"

#define SYSLOG_PATH	"/dev/log"
#define SYSLOG_PRI	(3 * 8 + 6)	/* daemon.info (RFC 5424 s6.2.1) */

static int logfd = 2;		/* stderr, the syslog socket, or -1: nowhere */
static int tosyslog INDATA;
static pid_t pid INDATA;

/* Is fd the null device? */
static int
isnull(const struct stat *st)
{
	struct stat null;

	return S_ISCHR(st->st_mode) && stat("/dev/null", &null) == 0 &&
	    S_ISCHR(null.st_mode) && st->st_rdev == null.st_rdev;
}

/* Is descriptor 2 nowhere (closed at the start, so now /dev/null), or the client's? */
static int
stderr_unusable(void)
{
	struct stat err;

	return net_stat(2, &err) == -1 || isnull(&err) || net_stderr_client();
}

static int
syslog_connect(void)
{
	struct sockaddr_un sun = { .sun_family = AF_UNIX, .sun_path = SYSLOG_PATH };
	int fd;

	if ((fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0)) == -1)
		return -1;
	if (connect(fd, (struct sockaddr *)&sun, sizeof sun) == -1) {
		(void)close(fd);
		return -1;
	}
	return fd;
}

void
log_open(enum logto where)
{
	struct tm tm;
	time_t t;

	if (tosyslog && logfd != -1)
		(void)close(logfd);
	tosyslog = where == LOGTO_SYSLOG || (where == LOGTO_AUTO && stderr_unusable());
	logfd = tosyslog ? syslog_connect() : 2;
	if (tosyslog) {
		pid = getpid();	/* for the header; a line to stderr has none */
		t = time(NULL);
		(void)localtime_r(&t, &tm);	/* reads the zone now, not in the sandbox */
	}
}

/* RFC 3164's header, as syslog(3) writes it: "<30>Nov 27 12:00:00 connectd[42]: " */
static size_t
header(char *buf, size_t size)
{
	time_t t = time(NULL);
	struct tm tm;
	size_t n;
	int k;

	n = snprintf(buf, size, "<%d>", SYSLOG_PRI) < 0 ? 0 : strlen(buf);
	if (localtime_r(&t, &tm) != NULL)
		n += strftime(buf + n, size - n, "%b %e %H:%M:%S ", &tm);
	k = snprintf(buf + n, size - n, "connectd[%ld]: ", (long)pid);
	return k < 0 ? n : n + (size_t)k;
}

void
log_line(const char *fmt, ...)
{
	static char line[2048] INDATA;	/* not on the stack, whose deepest page it would be */
	size_t n = 0;
	va_list ap;
	int k;

	if (logfd == -1)
		return;
	if (tosyslog)
		n = header(line, sizeof line);
	va_start(ap, fmt);
	k = vsnprintf(line + n, sizeof line - n - 1, fmt, ap);
	va_end(ap);
	if (k < 0)
		return;
	n += (size_t)k < sizeof line - n - 1 ? (size_t)k : sizeof line - n - 2;
	if (!tosyslog)
		line[n++] = '\n';
	/* A syslog daemon that does not read loses the line: it never stops the tunnel. */
	if ((tosyslog ? send(logfd, line, n, MSG_DONTWAIT | MSG_NOSIGNAL) : write(logfd, line, n)) == -1)
		return;
}

/*
 * Client bytes for a log field: at most LOGTEXT_MAX of them, every byte
 * outside printable ASCII, and every space, '"' and '\', as \xHH; "..." when
 * cut. dst needs LOGFIELD_SIZE bytes.
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
