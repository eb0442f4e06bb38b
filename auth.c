/*
 * Proxy authentication: Basic credentials (RFC 7617), judged by a separate
 * program through the checkpassword interface (cr.yp.to/checkpwd/interface.html),
 * so that connectd holds no password store.
 *
 * auth_basic and auth_challenge are pure: bytes in, a result out. auth_check
 * runs the checker; the whole life of that process is in it.
 */
#define _GNU_SOURCE	/* pipe2, environ */
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/select.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

#include "auth.h"
#include "net.h"

#define FDS_MAX	65536	/* descriptors closed one by one where close_range is missing */

/* The value of one base64 character (RFC 4648 s4), or -1. */
static int
sextet(unsigned char c)
{
	if (c >= 'A' && c <= 'Z')
		return c - 'A';
	if (c >= 'a' && c <= 'z')
		return c - 'a' + 26;
	if (c >= '0' && c <= '9')
		return c - '0' + 52;
	if (c == '+')
		return 62;
	return c == '/' ? 63 : -1;
}

/*
 * Strict base64: whole groups of four, '=' only as the padding of the last
 * one, no other byte, and the bits that the padding drops all zero, so that
 * one text is the only encoding of its bytes. The length, or -1.
 */
static long
unbase64(const char *s, size_t n, char *out, size_t size)
{
	unsigned long acc = 0;
	size_t i, o = 0, pad = 0;
	int v;

	if (n == 0 || n % 4 != 0 || n / 4 * 3 > size)
		return -1;
	if (s[n - 1] == '=')
		pad = s[n - 2] == '=' ? 2 : 1;
	for (i = 0; i < n - pad; i++) {
		if ((v = sextet((unsigned char)s[i])) < 0)
			return -1;
		acc = acc << 6 | (unsigned long)v;
		if (i % 4 == 3) {
			out[o++] = (char)(acc >> 16 & 255);
			out[o++] = (char)(acc >> 8 & 255);
			out[o++] = (char)(acc & 255);
			acc = 0;
		}
	}
	if (pad == 1 && (acc & 3) == 0) {
		out[o++] = (char)(acc >> 10 & 255);
		out[o++] = (char)(acc >> 2 & 255);
	} else if (pad == 2 && (acc & 15) == 0)
		out[o++] = (char)(acc >> 4 & 255);
	else if (pad != 0)
		return -1;
	return (long)o;
}

/*
 * A Proxy-Authorization value: "Basic" in any case (RFC 9110 s11.1), spaces,
 * then user:password in strict base64; the user is what comes before the
 * first colon and is not empty, the password may hold colons, neither holds
 * a control character, and both together are at most AUTH_MAX bytes.
 * NULL when they are so, else why not. c->userlen is set whenever the user
 * name is known, well formed or not, so that it can be logged. The caller
 * wipes *c (auth_check does, once the checker has it).
 */
const char *
auth_basic(const char *v, size_t n, struct credentials *c)
{
	const char *sp = memchr(v, ' ', n), *colon;
	size_t k = sp != NULL ? (size_t)(sp - v) : n, i;
	long len;

	memset(c, 0, sizeof *c);
	if (k != 5 || strncasecmp(v, "Basic", 5) != 0)
		return "credentials not of the Basic scheme";
	while (k < n && v[k] == ' ')
		k++;
	if (n - k > AUTH_B64_MAX)
		return "credentials too long";
	if ((len = unbase64(v + k, n - k, c->text, sizeof c->text)) == -1)
		return "credentials not in strict base64";
	c->len = (size_t)len;
	if ((colon = memchr(c->text, ':', c->len)) == NULL)
		return "credentials without a colon";
	if ((c->userlen = (size_t)(colon - c->text)) == 0)
		return "credentials with an empty user name";
	if (c->len > AUTH_MAX)
		return "credentials too long";
	for (i = 0; i < c->len; i++)
		if ((unsigned char)c->text[i] < 0x20 || c->text[i] == 0x7f)
			return "control character in credentials";
	return NULL;
}

/*
 * -r: the header line "Proxy-Authenticate: Basic realm=\"...\"\r\n" in out,
 * the realm a quoted-string (RFC 9110 s5.6.4): 1 to REALM_MAX printable
 * ASCII characters, '"' and '\' escaped. NULL, or why the realm will not do.
 */
const char *
auth_challenge(const char *realm, char *out, size_t size)
{
	static const char head[] = "Proxy-Authenticate: Basic realm=\"";
	size_t i, o = sizeof head - 1, n = strlen(realm);

	if (n == 0 || n > REALM_MAX)
		return "not 1 to 128 characters";
	if (size < sizeof head + 2 * n + 3)
		return "too long";
	memcpy(out, head, o);
	for (i = 0; i < n; i++) {
		if (realm[i] < 0x20 || realm[i] > 0x7e)
			return "not printable ASCII";
		if (realm[i] == '"' || realm[i] == '\\')
			out[o++] = '\\';
		out[o++] = realm[i];
	}
	memcpy(out + o, "\"\r\n", 4);
	return NULL;
}

/* May a checker have descriptor 2? Only when it is open and not the client's. */
int
auth_stderr(void)
{
	struct stat err;

	return net_stat(2, &err) == 0 && !net_stderr_client();
}

static enum auth_verdict failed(char *, size_t, const char *, ...)
    __attribute__((format(printf, 3, 4)));

static enum auth_verdict
failed(char *why, size_t size, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	(void)vsnprintf(why, size, fmt, ap);
	va_end(ap);
	return AUTH_FAILED;
}

/*
 * "user\0password\0timestamp\0" (the time in decimal seconds) into a new
 * pipe, whose reading end is left in p[0]; then wiped, with the credentials.
 * At most CHECK_INPUT bytes, less than PIPE_BUF: one write into the empty
 * pipe takes them all, before any reader is there.
 */
static int
feed(int p[2], struct credentials *c)
{
	char in[CHECK_INPUT];
	size_t n = sizeof in + 1;	/* nothing to send, unless set below */
	ssize_t w = -1;
	int k, e = EINVAL;

	if (c->len <= AUTH_MAX && c->userlen < c->len) {
		memcpy(in, c->text, c->len);
		in[c->userlen] = '\0';
		in[c->len] = '\0';
		k = snprintf(in + c->len + 1, sizeof in - c->len - 1, "%lld", (long long)time(NULL));
		if (k > 0)
			n = c->len + 1 + (size_t)k + 1;
	}
	if (n <= sizeof in && pipe2(p, O_CLOEXEC) == 0) {
		while ((w = write(p[1], in, n)) == -1 && errno == EINTR)
			;
		e = w == -1 ? errno : EIO;
		(void)close(p[1]);
		if (w != (ssize_t)n)
			(void)close(p[0]);
	} else if (n <= sizeof in)
		e = errno;
	explicit_bzero(in, sizeof in);
	explicit_bzero(c->text, sizeof c->text);
	errno = e;
	return w == (ssize_t)n ? 0 : -1;
}

/* Every descriptor from 4 up closed. */
static void
closefrom4(void)
{
	struct rlimit rl;
	rlim_t fd, max = FDS_MAX;

#ifdef SYS_close_range
	if (syscall(SYS_close_range, 4U, ~0U, 0U) == 0)
		return;
#endif
	if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < max)
		max = rl.rlim_cur;
	for (fd = 4; fd < max; fd++)
		(void)close((int)fd);
}

/*
 * In the child: a process group of its own, death with connectd, default
 * signals; descriptors 0 and 1 /dev/null, 2 connectd's stderr (err) or
 * /dev/null, 3 the credentials, no other; then the checker, with connectd's
 * environment and one argument. Never returns.
 */
_Noreturn static void
run(const char *checker, int in, int err, pid_t parent)
{
	char *argv[] = { (char *)checker, (char *)CHECK_NEXT, NULL };
	sigset_t none;
	int null;

	(void)setpgid(0, 0);
	if (prctl(PR_SET_PDEATHSIG, SIGKILL, 0, 0, 0) == -1 || getppid() != parent)
		_exit(111);
	(void)signal(SIGPIPE, SIG_DFL);
	(void)sigemptyset(&none);
	if (sigprocmask(SIG_SETMASK, &none, NULL) == -1 ||
	    (null = open("/dev/null", O_RDWR)) == -1 ||
	    (null = fcntl(null, F_DUPFD, 10)) == -1 || (in = fcntl(in, F_DUPFD, 10)) == -1 ||
	    dup2(null, 0) == -1 || dup2(null, 1) == -1 || (!err && dup2(null, 2) == -1) ||
	    dup2(in, 3) == -1)
		_exit(111);
	closefrom4();
	(void)execve(checker, argv, environ);
	_exit(127);
}

/* SIGCHLD's handler: it only ends the wait. */
static void
woken(int sig)
{
	(void)sig;
}

/*
 * Wait until the child has exited, without reaping it (so that its process
 * group cannot be gone and taken again), until the deadline, or until a
 * SIGTERM or SIGHUP came. SIGCHLD, blocked but in the wait, is not lost when
 * it comes between a look and the wait. 1: exited; 0: not by the deadline,
 * or stopped by a signal; -1: waitid failed.
 */
static int
exited(pid_t pid, long long deadline)
{
	sigset_t mask = *net_waitmask();
	struct timespec ts;
	siginfo_t si;
	long long left;

	(void)sigdelset(&mask, SIGCHLD);
	for (;;) {
		si.si_pid = 0;
		if (waitid(P_PID, (id_t)pid, &si, WEXITED | WNOHANG | WNOWAIT) == -1 && errno != EINTR)
			return -1;
		if (si.si_pid == pid)
			return 1;
		if (net_stopped() || (left = deadline - net_now()) <= 0)
			return 0;
		ts.tv_sec = (time_t)(left / 1000);
		ts.tv_nsec = (long)(left % 1000 * 1000000);
		(void)pselect(0, NULL, NULL, NULL, &ts, &mask);	/* a signal, or the time */
	}
}

/*
 * Run the checker on the credentials, which are wiped once it has them,
 * for at most secs seconds. Its exit 0 is AUTH_ACCEPTED, 1 AUTH_REJECTED;
 * anything else, death by a signal, or no exit in time (it is killed then)
 * is AUTH_FAILED, with why in why. Whatever it leaves running in its process
 * group is killed when it ends.
 */
enum auth_verdict
auth_check(const char *checker, struct credentials *c, unsigned secs, int err,
    char *why, size_t size)
{
	struct sigaction sa = { .sa_handler = woken, .sa_flags = SA_NOCLDSTOP }, oldsa;
	long long deadline = net_now() + (long long)secs * 1000;
	sigset_t chld, old;
	pid_t pid, parent = getpid();
	int p[2], status = 0, done;

	if (feed(p, c) == -1)
		return failed(why, size, "cannot pass the credentials: %s", strerror(errno));
	(void)sigemptyset(&chld);
	(void)sigaddset(&chld, SIGCHLD);
	(void)sigemptyset(&sa.sa_mask);
	if (sigprocmask(SIG_BLOCK, &chld, &old) == -1 || sigaction(SIGCHLD, &sa, &oldsa) == -1 ||
	    (pid = fork()) == -1) {
		(void)close(p[0]);
		return failed(why, size, "cannot run the checker: %s", strerror(errno));
	}
	if (pid == 0)
		run(checker, p[0], err, parent);
	(void)close(p[0]);
	(void)setpgid(pid, pid);	/* as the child does: whichever comes first */
	done = exited(pid, deadline);
	(void)kill(-pid, SIGKILL);	/* what it left behind, or all of it when late */
	(void)kill(pid, SIGKILL);	/* a zombie by now, unless late */
	while (waitpid(pid, &status, 0) == -1 && errno == EINTR)
		;
	(void)sigaction(SIGCHLD, &oldsa, NULL);
	(void)sigprocmask(SIG_SETMASK, &old, NULL);
	if (done == 0 && net_stopped())
		return failed(why, size, "stopped by a signal");
	if (done == 0)
		return failed(why, size, "the checker did not exit within %u s; killed", secs);
	if (done == -1)
		return failed(why, size, "cannot wait for the checker");
	if (WIFEXITED(status) && WEXITSTATUS(status) <= 1)
		return WEXITSTATUS(status) == 0 ? AUTH_ACCEPTED : AUTH_REJECTED;
	if (WIFEXITED(status))
		return failed(why, size, "the checker exited with %d", WEXITSTATUS(status));
	return failed(why, size, "the checker was killed by signal %d", WTERMSIG(status));
}
