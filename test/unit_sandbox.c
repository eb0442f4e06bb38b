/*
 * The seccomp filter, in child processes: what the relay calls works; any
 * other call, and a call through another ABI, kills the child with SIGSYS.
 * Built for x86_64 (make check) and for i386 (make m32-build, test/arch.bats),
 * where send, recv and shutdown go through socketcall(2).
 */
#define _GNU_SOURCE
#include <linux/futex.h>
#include <linux/net.h>
#include <sys/mman.h>
#include <sys/select.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "sandbox.h"
#include "unit.h"

static int sv[2], p[2], ready[2];
static volatile sig_atomic_t caught;

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
	    shutdown(sv[0], SHUT_WR) != 0 || fcntl(p[1], F_SETPIPE_SZ, 65536) < 65536 || close(p[1]) != 0)
		_exit(3);
	_exit(0);
}

/* fcntl() for anything but a pipe's size. */
static void
call_fcntl_getfl(void)
{
	(void)fcntl(p[0], F_GETFL);
	_exit(0);
}

static void
on_term(int sig)
{
	(void)sig;
	caught = 1;
}

/* Waits for the parent's SIGTERM; the handler's return must work. */
static void
wait_signal(void)
{
	char c = 'r';
	sigset_t none;

	(void)sigemptyset(&none);
	if (write(ready[1], &c, 1) != 1)
		_exit(3);
	while (!caught)
		(void)pselect(0, NULL, NULL, NULL, NULL, &none);
	_exit(0);
}

#ifdef __i386__
/* socketcall(2): what i386's glibc makes of send(), recv(), shutdown()... */
static long
socketcall(int call, long a, long b, long c, long d)
{
	long args[6] = { a, b, c, d, 0, 0 };

	return syscall(SYS_socketcall, call, args);
}

/* The sub-calls the relay's C library may make, and the calls of their own. */
static void
allowed_i386(void)
{
	char c = 'x';
	long long ts[2] = { 0, 0 };	/* struct __kernel_timespec */

	if (socketcall(SYS_SENDTO, sv[1], (long)&c, 1, MSG_NOSIGNAL) != 1 ||
	    socketcall(SYS_RECVFROM, sv[0], (long)&c, 1, MSG_DONTWAIT) != 1 ||
	    socketcall(SYS_SEND, sv[1], (long)&c, 1, MSG_NOSIGNAL) != 1 ||
	    socketcall(SYS_RECV, sv[0], (long)&c, 1, MSG_DONTWAIT) != 1 ||
	    syscall(SYS_sendto, sv[1], &c, 1, MSG_NOSIGNAL, NULL, 0) != 1 ||
	    syscall(SYS_recvfrom, sv[0], &c, 1, MSG_DONTWAIT, NULL, NULL) != 1 ||
	    syscall(SYS_pselect6_time64, 0, NULL, NULL, NULL, ts, NULL) != 0 ||
	    syscall(SYS_clock_gettime64, CLOCK_MONOTONIC, ts) != 0 ||
	    socketcall(SYS_SHUTDOWN, sv[1], SHUT_WR, 0, 0) != 0 ||
	    syscall(SYS_shutdown, sv[0], SHUT_WR) != 0)
		_exit(3);
	_exit(0);
}

static void
call_socketcall_socket(void)
{
	(void)socketcall(SYS_SOCKET, AF_INET, SOCK_STREAM, 0, 0);
	_exit(0);
}

static void
call_socketcall_sendmsg(void)
{
	(void)socketcall(SYS_SENDMSG, sv[1], 0, 0, 0);
	_exit(0);
}

static void
call_socketcall_unknown(void)
{
	(void)socketcall(99, 0, 0, 0, 0);
	_exit(0);
}

static void
call_direct_socket(void)
{
	(void)syscall(SYS_socket, AF_INET, SOCK_STREAM, 0);
	_exit(0);
}

static void
call_direct_connect(void)
{
	(void)syscall(SYS_connect, sv[0], NULL, 0);
	_exit(0);
}
#endif

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
/* sendto() with an address: only send()'s form, with none, is let through. */
static void
call_sendto_addr(void)
{
	struct sockaddr_un sun = { .sun_family = AF_UNIX };
	char c = 'x';

	(void)sendto(sv[0], &c, 1, MSG_NOSIGNAL, (struct sockaddr *)&sun, sizeof sun);
	_exit(0);
}

/* sendto() with an address whose low 32 bits are zero. */
static void
call_sendto_high(void)
{
	char c = 'x';

	(void)syscall(SYS_sendto, sv[0], &c, 1, MSG_NOSIGNAL, 1UL << 32, 16);
	_exit(0);
}

/* read(2) through the x32 ABI's numbers: another ABI, same kernel. */
static void
call_x32(void)
{
	(void)syscall(SYS_read | 0x40000000, p[0], NULL, 0);
	_exit(0);
}
#endif

#ifdef __x86_64__
/* getpid(2) through the i386 ABI (int $0x80) from a 64-bit process. */
static void
call_int80(void)
{
	long r;

	__asm__ volatile ("int $0x80" : "=a"(r) : "a"(20L) : "memory");
	_exit(r > 0 ? 0 : 3);
}

/* Can this kernel take an i386 call at all (IA32 emulation)? */
static int
has_i386_abi(void)
{
	int status = -1;
	pid_t pid = fork();

	if (pid == 0)
		call_int80();
	if (pid == -1 || waitpid(pid, &status, 0) == -1)
		return 0;
	return WIFEXITED(status) && WEXITSTATUS(status) == 0;
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

/* A sandboxed child waits in pselect(); SIGTERM it; its wait status. */
static int
signalled(void)
{
	int status = -1;
	char c;
	pid_t pid = fork();

	if (pid == 0) {
		if (sandbox_enter() == -1)
			_exit(2);
		wait_signal();
	}
	if (pid == -1)
		return -1;
	if (read(ready[0], &c, 1) != 1)
		(void)kill(pid, SIGKILL);
	else
		(void)kill(pid, SIGTERM);
	if (waitpid(pid, &status, 0) == -1)
		return -1;
	return status;
}

static int
exited0(int status)
{
	return status != -1 && WIFEXITED(status) && WEXITSTATUS(status) == 0;
}

static int
killed(int status)
{
	return status != -1 && WIFSIGNALED(status) && WTERMSIG(status) == SIGSYS;
}

int
main(void)
{
	int st;

	struct sigaction sa = { .sa_handler = on_term };

	if (socketpair(AF_UNIX, SOCK_STREAM, 0, sv) == -1 || pipe(p) == -1 || pipe(ready) == -1 ||
	    sigaction(SIGTERM, &sa, NULL) == -1)
		return 2;
	st = child(allowed);
	CHECK(exited0(st),
	    "read, write, send, recv, pselect, clock_gettime, shutdown, fcntl(F_SETPIPE_SZ), close, exit work in the sandbox (status %#x)", st);
	st = signalled();
	CHECK(exited0(st), "a signal handler returns in the sandbox (status %#x)", st);
#ifdef __i386__
	if (socketpair(AF_UNIX, SOCK_STREAM, 0, sv) == -1)
		return 2;
	st = child(allowed_i386);
	CHECK(exited0(st), "i386: socketcall's SEND, RECV, SENDTO, RECVFROM, SHUTDOWN, the calls sendto, "
	    "recvfrom, shutdown, pselect6_time64, clock_gettime64 work (status %#x)", st);
	CHECK(killed(child(call_socketcall_socket)), "socketcall(SYS_SOCKET) kills the process with SIGSYS");
	CHECK(killed(child(call_socketcall_sendmsg)), "socketcall(SYS_SENDMSG) kills the process with SIGSYS");
	CHECK(killed(child(call_socketcall_unknown)), "socketcall(99), no such sub-call, kills the process with SIGSYS");
	CHECK(killed(child(call_direct_socket)), "i386's own socket call kills the process with SIGSYS");
	CHECK(killed(child(call_direct_connect)), "i386's own connect call kills the process with SIGSYS");
#endif
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
	CHECK(killed(child(call_fcntl_getfl)), "fcntl(F_GETFL), any fcntl but F_SETPIPE_SZ, kills the process with SIGSYS");
	CHECK(killed(child(call_execve)), "execve kills the process with SIGSYS");
	CHECK(killed(child(call_connect)), "connect kills the process with SIGSYS");
#ifdef __x86_64__
	CHECK(killed(child(call_sendto_addr)), "sendto with an address kills the process with SIGSYS");
	CHECK(killed(child(call_sendto_high)), "sendto with an address above 4 GiB (low half zero) kills the process with SIGSYS");
	CHECK(killed(child(call_x32)), "a call through the x32 ABI kills the process with SIGSYS");
	if (has_i386_abi())
		CHECK(killed(child(call_int80)), "a call through the i386 ABI (int $0x80) kills the process with SIGSYS");
	else
		CHECK(1, "a call through the i386 ABI kills the process # SKIP this kernel has no i386 ABI");
#endif
	return DONE();
}
