/*
 * Once the target is connected, connectd needs only to move bytes, log and
 * exit. It takes no new privileges and loads a seccomp-BPF filter, written
 * with the kernel headers alone, that kills the process on any other system
 * call, and on any call made for another architecture's ABI.
 *
 * The filter is built for x86_64 and i386 and proven on both: the unit test
 * and the tunnel tests run it on x86_64, and test/arch.bats runs them again
 * with a gcc -m32 build on the same kernel's 32-bit ABI. i386's C library
 * makes other calls for the same relay (send, recv and shutdown through
 * socketcall(2); sigreturn), found with strace on that build. Any other
 * architecture stops the build here until a port lists the calls its C
 * library makes and proves them the same way (qemu-user cannot: it refuses
 * to load a seccomp filter).
 *
 * Two test builds differ here, at compile time only; a production build
 * (make, make install) is neither and always loads the strict filter:
 *
 * - A sanitizer build (SANDBOX_SANITIZED, see sandbox.h; make check's second
 *   pass) loads the same filter with a few more calls let through, so that the
 *   sanitizer runtime can still report an error found in the relay. Each is
 *   named below with what needs it. The runtime's leak check, which at exit
 *   would stop the world with clone and ptrace, is run just before the filter
 *   instead: from then on connectd cannot allocate anyway (no brk, no mmap in
 *   production). Files stay shut: the runtime is told to keep its copy of
 *   /proc/self/maps, and its open() gets EACCES, so reports name modules and
 *   offsets (symbolize=0), which test/harness.py symbolizes afterwards.
 *
 * - A valgrind build (SANDBOX_VALGRIND; test/valgrind.bats): valgrind runs
 *   connectd on a virtual CPU and makes system calls of its own from the same
 *   process (the first, rt_sigprocmask around each of connectd's calls), so
 *   this filter kills valgrind itself. That build sets no new privileges,
 *   builds the same filter, and does not load it; the production pass of the
 *   tests shows that the relay makes no call outside the filter.
 */
#define _GNU_SOURCE	/* F_SETPIPE_SZ */
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <linux/audit.h>
#include <linux/filter.h>
#include <linux/net.h>
#include <linux/seccomp.h>
#include <errno.h>
#include <fcntl.h>
#include <stddef.h>
#include <unistd.h>

#include "sandbox.h"

#ifdef SANDBOX_SANITIZED
#include <sanitizer/common_interface_defs.h>
#include <sanitizer/lsan_interface.h>
#endif

#if defined(__x86_64__) && defined(__ILP32__)
#error "x32 is not supported: the filter is written for x86_64's own ABI"
#elif defined(__x86_64__)
#define ARCH AUDIT_ARCH_X86_64
#elif defined(__i386__) && defined(SANDBOX_SANITIZED)
#error "the seccomp filter of the sanitizer build is not checked on i386: build it on x86_64"
#elif defined(__i386__)
#define ARCH AUDIT_ARCH_I386
#elif defined(__aarch64__)
#error "the seccomp filter is not checked on aarch64: find the calls its relay makes, add them, prove them"
#elif defined(__arm__)
#error "the seccomp filter is not checked on arm: find the calls its relay makes (send, recv...), add them, prove them"
#elif defined(__riscv) && __riscv_xlen == 64
#error "the seccomp filter is not checked on riscv64: find the calls its relay makes, add them, prove them"
#else
#error "no seccomp filter for this architecture: add its AUDIT_ARCH, the calls its relay makes, and prove them"
#endif

#define KILL	BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_KILL_PROCESS)
#define ANSWER(nr, action) \
	BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, (nr), 0, 1), \
	BPF_STMT(BPF_RET | BPF_K, (action))
#define ALLOW(nr)	ANSWER(nr, SECCOMP_RET_ALLOW)
#define FAIL(nr, e)	ANSWER(nr, SECCOMP_RET_ERRNO | (e))

/*
 * Loading the filter costs the kernel more than running it. Since 5.11 it
 * builds, at each load, a cache of the calls that the filter always allows,
 * by running the filter on its own for every call number of both ABIs
 * (about 900 of them) until the filter reads a field that is not a constant
 * of the call: with the calls in one chain, some 14,000 steps. On a 2-core
 * virtual machine a forked child that loaded this chain spent 76 to 88 us of
 * CPU, one that loaded no filter 30 to 50. So the filter's first
 * instruction reads such a field (the caller's address, not used): the
 * cache is given up at once for every number (56 to 63 us), and the filter
 * runs, JIT-compiled, on each of the few calls that a tunnel makes (about
 * ten per setup, a few per MiB of bulk) instead. The decisions are the same
 * either way; the kernel does only less work.
 */
static struct sock_filter filter[] = {
	BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, instruction_pointer)),
	BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, arch)),
	BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, ARCH, 1, 0),
	KILL,
	BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, nr)),
#ifdef __X32_SYSCALL_BIT
	BPF_JUMP(BPF_JMP | BPF_JGE | BPF_K, __X32_SYSCALL_BIT, 0, 1),
	KILL,
#endif
	ALLOW(__NR_pselect6),		/* the relay's wait */
	ALLOW(__NR_splice),		/* bytes between two sockets, through a pipe */
	ALLOW(__NR_read),		/* bytes from a pipe */
	ALLOW(__NR_write),		/* bytes to a pipe, the 200, a log line to stderr */
	ALLOW(__NR_close),		/* passing an EOF on to a pipe */
	ALLOW(__NR_clock_gettime),	/* the idle timer (net_now) */
	ALLOW(__NR_restart_syscall),	/* the kernel's restart after a stop */
	ALLOW(__NR_exit_group),		/* the end */
	ALLOW(__NR_exit),
#ifdef __x86_64__
	ALLOW(__NR_recvfrom),		/* recv(): bytes from a socket */
	ALLOW(__NR_shutdown),		/* passing an EOF on to a socket */
	ALLOW(__NR_rt_sigreturn),	/* back from the SIGTERM and SIGHUP handler */
#else /* i386; socketcall below */
	ALLOW(__NR_sigreturn),		/* back from the handler (no SA_SIGINFO) */
	ALLOW(__NR_clock_gettime64),	/* the idle timer, when the vDSO can't answer */
	ALLOW(__NR_pselect6_time64),	/* the wait, by a C library built for kernels >= 5.1 */
	ALLOW(__NR_recvfrom),		/* recv(), by a C library built for kernels >= 4.3 */
	ALLOW(__NR_sendto),		/* send(), likewise */
	ALLOW(__NR_shutdown),		/* shutdown(), likewise */
#endif
#ifdef SANDBOX_SANITIZED
	/* Only in a sanitizer build: what its runtime needs to write a report. */
	ALLOW(__NR_mmap),		/* its internal allocator */
	ALLOW(__NR_munmap),
	ALLOW(__NR_getpid),		/* "==PID==" on each line of a report */
	ALLOW(__NR_futex),		/* its once-only initialisations */
	ALLOW(__NR_sigaltstack),	/* its _exit() takes down the signal stack */
#ifdef __NR_open
	FAIL(__NR_open, EACCES),	/* /proc/self/maps: it uses its copy */
#endif
	FAIL(__NR_openat, EACCES),
#endif
#ifdef __x86_64__
	/*
	 * sendto() only as send() makes it, with no address (bytes to a
	 * socket, a log line to syslog): one given could send a datagram from
	 * the syslog socket to any other on the machine. The address is 64
	 * bits, both halves zero.
	 */
	BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, __NR_sendto, 0, 6),
	BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, args[4])),
	BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, 0, 0, 2),
	BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, args[4]) + 4),
	BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, 0, 1, 0),
	KILL,
	BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW),
#endif
	/*
	 * fcntl() only to give a pipe that one read filled a larger size (the
	 * relay's bulk directions): the call number, then its command.
	 */
#ifdef __NR_fcntl64
	BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, __NR_fcntl64, 1, 0),	/* i386's C libraries */
#endif
	BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, __NR_fcntl, 0, 4),
	BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, args[1])),	/* command */
	BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, F_SETPIPE_SZ, 0, 1),
	BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW),
	KILL,
#ifdef __i386__
	/* Where glibc sends, receives and shuts down: socketcall(call, args). */
	BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, __NR_socketcall, 1, 0),
	KILL,
	BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, args[0])),	/* call */
	ALLOW(SYS_SEND),		/* send(): bytes to a socket, a log line to syslog */
	ALLOW(SYS_RECV),		/* recv(): bytes from a socket */
	ALLOW(SYS_SHUTDOWN),		/* passing an EOF on to a socket */
	ALLOW(SYS_SENDTO),		/* send() in a C library that makes it sendto() (musl) */
	ALLOW(SYS_RECVFROM),		/* recv() likewise */
#endif
	KILL,
};

/* A sanitizer build: what its runtime must do while it still may. */
static void
prepare(void)
{
#ifdef SANDBOX_SANITIZED
	__lsan_do_leak_check();	/* now, and not again at exit */
	__sanitizer_sandbox_on_notify(NULL);	/* keep a copy of the memory map */
#endif
}

int
sandbox_enter(void)
{
	struct sock_fprog prog = {
		.len = sizeof filter / sizeof filter[0],
		.filter = filter,
	};

	prepare();
	if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) == -1)
		return -1;
#ifdef SANDBOX_VALGRIND
	(void)prog;
	return 0;
#else
	return prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, &prog, 0, 0);
#endif
}
