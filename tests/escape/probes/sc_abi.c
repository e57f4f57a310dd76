/* sc_abi: system calls a filter keyed on x86_64 numbers could miss (issue 11, item 6),
 * and io_uring, whose operations bypass per-syscall filtering altogether.
 *
 * - x32: the same entry point with __X32_SYSCALL_BIT (0x40000000) set in the number
 *   (seccomp(2)); a kernel built without x32 answers ENOSYS itself, so the errno says
 *   whether the filter or the kernel refused;
 * - i386: `int $0x80` from a 64-bit process (audit arch AUDIT_ARCH_I386), in a child,
 *   whose fate is reported (a filter that checks the arch kills it with SIGSYS);
 * - io_uring_setup(2) with a NULL params pointer: EFAULT when allowed (nothing is
 *   set up), the filter's errno when refused.
 *
 * Prints one `key=ok|ERRNO|signal=N` line each. */
#define _GNU_SOURCE
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "probe.h"

#define X32_SYSCALL_BIT 0x40000000L

int main(void)
{
#if defined(__x86_64__)
    TRY("x32_getpid", syscall(X32_SYSCALL_BIT | SYS_getpid));
    /* unshare through the x32 table: the number a filter blocks, with the bit set. */
    TRY("x32_unshare", syscall(X32_SYSCALL_BIT | SYS_unshare, 0x10000000 /* CLONE_NEWUSER */));
    pid_t pid = fork();
    if (pid == 0) {
        long ret;
        /* getpid is 20 in the i386 table. */
        __asm__ volatile("int $0x80" : "=a"(ret) : "a"(20L) : "memory");
        _exit(ret > 0 ? 0 : 1);
    }
    int status = 0;
    waitpid(pid, &status, 0);
    if (WIFSIGNALED(status))
        printf("i386_getpid=signal=%d\n", WTERMSIG(status));
    else
        printf("i386_getpid=%s\n", WEXITSTATUS(status) == 0 ? "ok" : "failed");
#endif
    TRY("io_uring_setup", syscall(SYS_io_uring_setup, 1, NULL));
    TRY("io_uring_enter", syscall(SYS_io_uring_enter, -1, 0, 0, 0, NULL, 0));
    TRY("io_uring_register", syscall(SYS_io_uring_register, -1, 0, NULL, 0));
    return 0;
}
