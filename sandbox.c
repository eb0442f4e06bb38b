/*
 * Once the target is connected, connectd needs only to move bytes, log and
 * exit. It takes no new privileges and loads a seccomp-BPF filter, written
 * with the kernel headers alone, that kills the process on any other system
 * call, and on any call made for another architecture's ABI.
 */
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <linux/audit.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <errno.h>
#include <stddef.h>
#include <unistd.h>

#include "sandbox.h"

#if defined(__x86_64__) && defined(__ILP32__)
#error "x32 is not supported: the filter is written for x86_64's own ABI"
#elif defined(__x86_64__)
#define ARCH AUDIT_ARCH_X86_64
#elif defined(__aarch64__)
#define ARCH AUDIT_ARCH_AARCH64
#elif defined(__i386__)
#define ARCH AUDIT_ARCH_I386
#elif defined(__arm__) && defined(__ARMEL__)
#define ARCH AUDIT_ARCH_ARM
#elif defined(__riscv) && __riscv_xlen == 64
#define ARCH AUDIT_ARCH_RISCV64
#else
#error "no seccomp filter for this architecture: add its AUDIT_ARCH and check the calls"
#endif

#define KILL	BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_KILL_PROCESS)
#define ALLOW(nr) \
	BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, (nr), 0, 1), \
	BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW)

static struct sock_filter filter[] = {
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
	ALLOW(__NR_recvfrom),		/* recv(): bytes from a socket */
	ALLOW(__NR_sendto),		/* send(): bytes to a socket, a log line to syslog */
	ALLOW(__NR_shutdown),		/* passing an EOF on to a socket */
	ALLOW(__NR_close),		/* passing an EOF on to a pipe */
	ALLOW(__NR_clock_gettime),	/* the idle timer, when the vDSO can't answer */
	ALLOW(__NR_rt_sigreturn),	/* back from the SIGTERM and SIGHUP handler */
	ALLOW(__NR_restart_syscall),	/* the kernel's restart after a stop */
	ALLOW(__NR_exit_group),		/* the end */
	ALLOW(__NR_exit),
	KILL,
};

int
sandbox_enter(void)
{
	struct sock_fprog prog = {
		.len = sizeof filter / sizeof filter[0],
		.filter = filter,
	};

	if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) == -1)
		return -1;
	return prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, &prog, 0, 0);
}
