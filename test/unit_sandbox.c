/*
 * The seccomp filter, in child processes: what the relay calls works; any
 * other call, and a call through another ABI, kills the child with SIGSYS.
 */
#define _GNU_SOURCE
#include <linux/futex.h>
#include <sys/mman.h>
#include <sys/select.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "sandbox.h"
#include "unit.h"

static int sv[2], p[2];

/* The relay's own calls: all must work, and the child exits 0. */
static void
allowed(void)
{
	char c = 'x';
	struct timespec ts = { 0, 1000000 };
	fd_set r;

	FD_ZERO(&r);
	FD_SET(sv[1], &r);
	if (write(p[1], &c, 1) != 1 || read(p[0], &c, 1) != 1 ||
	    send(sv[0], &c, 1, MSG_NOSIGNAL) != 1 ||
	    pselect(sv[1] + 1, &r, NULL, NULL, &ts, NULL) != 1 ||
	    recv(sv[1], &c, 1, MSG_DONTWAIT) != 1 ||
	    clock_gettime(CLOCK_MONOTONIC, &ts) != 0 || syscall(SYS_clock_gettime, CLOCK_MONOTONIC, &ts) != 0 ||
	    shutdown(sv[0], SHUT_WR) != 0 || close(p[1]) != 0)
		_exit(3);
	_exit(0);
}

/* Killed; in a sanitizer build, fails with EACCES. */
static void
call_open(void)
{
	_exit(open("/dev/null", O_RDONLY) == -1 && errno == EACCES ? 0 : 3);
}

static void
call_futex(void)
{
	(void)syscall(SYS_futex, &sv[0], FUTEX_WAKE, 1, NULL, NULL, 0);
	_exit(0);
}

static void
call_sigaltstack(void)
{
	stack_t old;

	(void)sigaltstack(NULL, &old);
	_exit(0);
}

static void
call_socket(void)
{
	(void)socket(AF_INET, SOCK_STREAM, 0);
	_exit(0);
}

static void
call_execve(void)
{
	char *argv[] = { "true", NULL };

	(void)execve("/bin/true", argv, argv + 1);
	_exit(0);
}

static void
call_mmap(void)
{
	(void)mmap(NULL, 4096, PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	_exit(0);
}

static void
call_getpid(void)
{
	(void)syscall(SYS_getpid);
	_exit(0);
}

static void
call_connect(void)
{
	(void)connect(sv[0], NULL, 0);
	_exit(0);
}

#ifdef __x86_64__
/* read(2) through the x32 ABI's numbers: another ABI, same kernel. */
static void
call_x32(void)
{
	(void)syscall(SYS_read | 0x40000000, p[0], NULL, 0);
	_exit(0);
}
#endif

/* Run fn in a sandboxed child; its wait status. */
static int
child(void (*fn)(void))
{
	int status = -1;
	pid_t pid = fork();

	if (pid == 0) {
		if (sandbox_enter() == -1)
			_exit(2);
		fn();
	}
	if (pid == -1 || waitpid(pid, &status, 0) == -1)
		return -1;
	return status;
}

static int
killed(int status)
{
	return status != -1 && WIFSIGNALED(status) && WTERMSIG(status) == SIGSYS;
}

#ifdef SANDBOX_SANITIZED
static int
exited0(int status)
{
	return status != -1 && WIFEXITED(status) && WEXITSTATUS(status) == 0;
}
#endif

int
main(void)
{
	int st;

	if (socketpair(AF_UNIX, SOCK_STREAM, 0, sv) == -1 || pipe(p) == -1)
		return 2;
	st = child(allowed);
	CHECK(st != -1 && WIFEXITED(st) && WEXITSTATUS(st) == 0,
	    "read, write, send, recv, pselect, clock_gettime, shutdown, close, exit work in the sandbox (status %#x)", st);
#ifndef SANDBOX_SANITIZED
	CHECK(killed(child(call_open)), "open kills the process with SIGSYS");
	CHECK(killed(child(call_mmap)), "mmap kills the process with SIGSYS");
	CHECK(killed(child(call_getpid)), "getpid kills the process with SIGSYS");
	CHECK(killed(child(call_futex)), "futex kills the process with SIGSYS");
	CHECK(killed(child(call_sigaltstack)), "sigaltstack kills the process with SIGSYS");
#else
	/* What a sanitizer build lets its runtime do, and no more (sandbox.c). */
	CHECK(exited0(child(call_open)), "sanitizer build: open fails with EACCES");
	CHECK(exited0(child(call_mmap)), "sanitizer build: mmap is let through");
	CHECK(exited0(child(call_getpid)), "sanitizer build: getpid is let through");
	CHECK(exited0(child(call_futex)), "sanitizer build: futex is let through");
	CHECK(exited0(child(call_sigaltstack)), "sanitizer build: sigaltstack is let through");
#endif
	CHECK(killed(child(call_socket)), "socket kills the process with SIGSYS");
	CHECK(killed(child(call_execve)), "execve kills the process with SIGSYS");
	CHECK(killed(child(call_connect)), "connect kills the process with SIGSYS");
#ifdef __x86_64__
	CHECK(killed(child(call_x32)), "a call through the x32 ABI kills the process with SIGSYS");
#endif
	return DONE();
}
