/* sc_nsattack: the container raises its own cgroup limits (issue 11, items 1 and 6).
 *
 * clone(2) with CLONE_NEWUSER|CLONE_NEWNS|CLONE_NEWCGROUP gives the child every
 * capability in a new user namespace that owns a new mount and cgroup namespace
 * (user_namespaces(7)). It maps uid 0 to 0 (its own euid: allowed without
 * CAP_SETUID in the parent), mounts the v1 memory and pids hierarchies and the v2
 * unified one (whose root is the container's own cgroup, cgroup_namespaces(7)) and
 * writes their limits.
 * clone3(2) is tried with the same flags, unshare(2) too, and an ordinary fork and a
 * thread must keep working (glibc's pthread_create tries clone3 first and falls back
 * to clone on ENOSYS).
 *
 * Prints one `key=ok|ERRNO` line per attempt. Usage: sc_nsattack MEMORY PIDS, the
 * values written to memory.memsw.limit_in_bytes, memory.limit_in_bytes and pids.max
 * (v1), memory.max and pids.max (v2). */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <linux/sched.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "probe.h"

#define NS_FLAGS (CLONE_NEWUSER | CLONE_NEWNS | CLONE_NEWCGROUP)

static const char *memory_value, *pids_value;

static int write_file(const char *path, const char *text)
{
    int fd = open(path, O_WRONLY);
    if (fd < 0)
        return -1;
    ssize_t n = write(fd, text, strlen(text));
    int err = errno;
    close(fd);
    errno = err;
    return n < 0 ? -1 : 0;
}

/* What the child in the new namespaces does; each line is prefixed `child.`. */
static int attack(void *arg)
{
    const char *who = arg;
    char key[64];
#define STEP(name, call)                                   \
    do {                                                   \
        snprintf(key, sizeof key, "%s.%s", who, name);     \
        long rc_ = (call);                                 \
        report(key, rc_, errno);                           \
    } while (0)
    STEP("setgroups", write_file("/proc/self/setgroups", "deny"));
    STEP("uid_map", write_file("/proc/self/uid_map", "0 0 1"));
    STEP("gid_map", write_file("/proc/self/gid_map", "0 0 1"));
    mkdir("/sc_cg_memory", 0755);
    mkdir("/sc_cg_pids", 0755);
    STEP("mount_memory", mount("cgroup", "/sc_cg_memory", "cgroup", 0, "memory"));
    /* The swap limit first: v1 refuses a memory limit above memory+swap (EINVAL). */
    STEP("write_memsw", write_file("/sc_cg_memory/memory.memsw.limit_in_bytes", memory_value));
    STEP("write_memory", write_file("/sc_cg_memory/memory.limit_in_bytes", memory_value));
    STEP("mount_pids", mount("cgroup", "/sc_cg_pids", "cgroup", 0, "pids"));
    STEP("write_pids", write_file("/sc_cg_pids/pids.max", pids_value));
    /* cgroup v2 (the unified hierarchy: one mount, memory.max and pids.max side by
     * side; its root here is the container's own cgroup too). */
    mkdir("/sc_cg2", 0755);
    STEP("mount_cgroup2", mount("cgroup2", "/sc_cg2", "cgroup2", 0, NULL));
    STEP("write_memory_max", write_file("/sc_cg2/memory.max", memory_value));
    STEP("write_pids_max", write_file("/sc_cg2/pids.max", pids_value));
    return 0;
}

static void *thread_main(void *arg)
{
    return arg;
}

int main(int argc, char **argv)
{
    memory_value = argc > 1 ? argv[1] : "1073741824";
    pids_value = argc > 2 ? argv[2] : "max";

    /* clone(2) through glibc's wrapper, on a stack of our own. */
    static char stack[256 * 1024];
    pid_t pid = clone(attack, stack + sizeof stack, NS_FLAGS | SIGCHLD, "clone");
    TRY("clone_newuser", pid);
    if (pid > 0)
        waitpid(pid, NULL, 0);

    /* clone3(2): the flags sit in a struct in memory, which seccomp cannot read. */
    struct clone_args args;
    memset(&args, 0, sizeof args);
    args.flags = NS_FLAGS;
    args.exit_signal = SIGCHLD;
    long rc = syscall(SYS_clone3, &args, sizeof args);
    if (rc == 0) {
        attack("clone3");
        _exit(0);
    }
    TRY("clone3_newuser", rc);
    if (rc > 0)
        waitpid(rc, NULL, 0);

    /* CLONE_NEWTIME (0x80) cannot go through clone(2), whose low byte is the exit
     * signal; it goes through unshare(2) and clone3(2). */
    memset(&args, 0, sizeof args);
    args.flags = CLONE_NEWTIME;
    args.exit_signal = SIGCHLD;
    rc = syscall(SYS_clone3, &args, sizeof args);
    if (rc == 0)
        _exit(0);
    TRY("clone3_newtime", rc);
    if (rc > 0)
        waitpid(rc, NULL, 0);
    TRY("unshare_newuser", unshare(CLONE_NEWUSER));
    TRY("unshare_newtime", unshare(CLONE_NEWTIME));

    /* What must keep working: fork (clone with SIGCHLD only) and a thread. */
    pid = fork();
    if (pid == 0)
        _exit(0);
    TRY("fork", pid);
    if (pid > 0)
        waitpid(pid, NULL, 0);
    pthread_t t;
    int err = pthread_create(&t, NULL, thread_main, NULL);
    report("pthread_create", err ? -1 : 0, err);
    if (!err)
        pthread_join(t, NULL);
    return 0;
}
