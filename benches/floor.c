/* The kernel floor of one `underhood run --memory 100M -- /bin/true`.
 *
 * The same kernel work as `run`, in the same processes, in the same order, and
 * nothing of ours: no controller protocol, no session record on disk, no start-up of
 * our 7 MB binary. What `run` cannot go below while it keeps every feature.
 * benches/launch.sh builds it (cc -O2, dynamic glibc like unshare(1)) and times it
 * next to `run` and unshare(1).
 *
 * Usage (root): underhood-floor LOWERDIRS [COMMAND ARGS...]   (default /bin/true)
 *   LOWERDIRS: overlayfs "lowerdir=" value, as `run --trace` prints it.
 *
 * The processes, as `run` has them:
 *   P, the caller (run's controller): makes the memory cgroup and sets its limit from
 *     outside, forks S, arms the OOM notification, waits for S, removes the cgroup.
 *   S (run's subject, then its "shim"): its own session; unshares UTS, IPC, network
 *     (loopback up), mount (every mount made a slave), joins the cgroup, unshares
 *     cgroup, time and PID, forks PID 1 and waits for it.
 *   I, PID 1 of the new PID namespace (run's "underhood-init"): the root filesystem
 *     (tmpfs scratch, overlay, /proc, /dev, /dev/pts, /tmp, runc's read-only and
 *     masked paths), pivot_root, the security step, then forks the command like
 *     posix_spawn (clone CLONE_VM|CLONE_VFORK), in its own session, and waits.
 *
 * System call sequences, by man page:
 *   namespaces(7), unshare(2): one unshare per namespace as `run` does them (each
 *     is a step of its own in the TUI); CLONE_NEWPID applies to the next child only,
 *     hence the fork after it. time_namespaces(7): the offsets are written before
 *     the first process enters the namespace. No user namespace: `run` as root
 *     makes none (only with --userns).
 *   netdevice(7): SIOCGIFFLAGS/SIOCSIFFLAGS to bring "lo" up in the new namespace.
 *   mount_namespaces(7), mount(2): MS_REC|MS_SLAVE on "/" so that nothing we mount
 *     propagates back to the host; overlayfs (filesystems/overlayfs in the kernel's
 *     docs) with upper and work on a tmpfs; proc(5); tmpfs(5); devpts with
 *     newinstance; MS_BIND then MS_REMOUNT|MS_BIND|MS_RDONLY to make a bind mount
 *     read-only (a bind's flags change only by remount).
 *   pivot_root(2): pivot_root(".", ".") then umount2(".", MNT_DETACH), the
 *     man page's own sequence for a new root without a put_old directory.
 *   capabilities(7), prctl(2): PR_CAPBSET_DROP of every capability not kept, then
 *     PR_CAP_AMBIENT_CLEAR_ALL, then capset(2) of the effective, permitted and
 *     inheritable sets to the 13 that `run` keeps (Docker's default set).
 *   prctl(2) PR_SET_NO_NEW_PRIVS, then seccomp(2) SECCOMP_SET_MODE_FILTER with
 *     `run`'s own BPF program (floor-filter.h, generated from run's strace by
 *     benches/floor-filter.sh), then PR_SET_DUMPABLE 0 (ptrace(2) "access mode").
 *   cgroups(7): cgroup v1 memory controller when it is mounted at
 *     /sys/fs/cgroup/memory (memory.limit_in_bytes, memory.memsw.limit_in_bytes,
 *     join by writing 0 to "tasks", OOM through cgroup.event_control and an
 *     eventfd(2)), else cgroup v2 (memory.max, memory.swap.max, cgroup.procs);
 *     rmdir(2) once empty. cgroup_namespaces(7) for CLONE_NEWCGROUP after joining.
 *
 * What it leaves out, being ours alone: the session directory and state.json under
 * /run/underhood (we make one directory, /run/underhood-floor-<pid>, as the scratch
 * mount point, which `run`'s session directory also is), the socket pair and its
 * messages, signalfds, the read-only bind of our binary (open_tree/mount_setattr),
 * PR_SET_NAME, the symlink-safe resolution of the masked paths (one stat(2) each
 * here instead of a statx per component), the repeated capget/capset and
 * PR_SET_NO_NEW_PRIVS of run's security step (one each here), the utimensat of the
 * rootfs cache, the final reads of /proc and of the cgroup before its rmdir.
 *
 * Everything is named underhood-floor-<pid>; the mounts live only in the new mount
 * namespace and go with it; P removes the cgroup and the directory, also on errors.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <linux/capability.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <net/if.h>
#include <sched.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/ioctl.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "floor-filter.h"

#ifndef CLONE_NEWTIME
#define CLONE_NEWTIME 0x00000080
#endif
#ifndef CLOSE_RANGE_CLOEXEC
#define CLOSE_RANGE_CLOEXEC (1U << 2)
#endif

#define LIMIT "104857600" /* --memory 100M */

static char name[64];  /* underhood-floor-<pid> */
static char scratch[256]; /* /run/underhood-floor-<pid>: tmpfs mount point */
static char cgroup[256];  /* the memory cgroup's directory */
static int v1;            /* memory controller on cgroup v1 */
static pid_t subject;

/* Errors keep the call, the path and errno. */
static void fail(const char *fmt, ...)
{
    int e = errno;
    va_list ap;
    fprintf(stderr, "underhood-floor: ");
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fprintf(stderr, ": %s (errno %d)\n", strerror(e), e);
}

static void path(char *buf, size_t n, const char *a, const char *b)
{
    if ((size_t)snprintf(buf, n, "%s%s", a, b) >= n) {
        fprintf(stderr, "underhood-floor: path too long: %s%s\n", a, b);
        _exit(1);
    }
}

static int write_file(const char *p, const char *s)
{
    int fd = open(p, O_WRONLY | O_CLOEXEC);
    if (fd < 0) {
        fail("open(%s, O_WRONLY)", p);
        return -1;
    }
    ssize_t w = write(fd, s, strlen(s));
    if (w != (ssize_t)strlen(s)) {
        fail("write(%s, \"%s\")", p, s);
        close(fd);
        return -1;
    }
    close(fd);
    return 0;
}

static int do_mount(const char *src, const char *dst, const char *type, unsigned long flags,
                    const char *data)
{
    if (mount(src, dst, type, flags, data) < 0) {
        fail("mount(%s, %s, %s, %#lx, %s)", src ? src : "NULL", dst, type ? type : "NULL",
             flags, data ? data : "NULL");
        return -1;
    }
    return 0;
}

#define TRY(x)                                                                                \
    do {                                                                                      \
        if ((x) < 0)                                                                          \
            _exit(1);                                                                         \
    } while (0)

static void mkdir_ok(const char *p, int eexist_ok)
{
    if (mkdir(p, 0777) < 0 && !(eexist_ok && errno == EEXIST)) {
        fail("mkdir(%s)", p);
        _exit(1);
    }
}

/* The root filesystem step of runtime/mounts.rs, in its order. */
static void rootfs(const char *lower)
{
    char merged[300], p[400], opts[8192];
    TRY(do_mount("tmpfs", scratch, "tmpfs", MS_NOSUID | MS_NODEV, "mode=0700,size=10%"));
    path(p, sizeof p, scratch, "/upper");
    mkdir_ok(p, 0);
    path(p, sizeof p, scratch, "/work");
    mkdir_ok(p, 0);
    path(merged, sizeof merged, scratch, "/merged");
    mkdir_ok(merged, 0);
    if ((size_t)snprintf(opts, sizeof opts, "lowerdir=%s,upperdir=%s/upper,workdir=%s/work,volatile",
                         lower, scratch, scratch) >= sizeof opts) {
        fprintf(stderr, "underhood-floor: overlay options too long\n");
        _exit(1);
    }
    TRY(do_mount("overlay", merged, "overlay", MS_NOSUID | MS_NODEV, opts));

    path(p, sizeof p, merged, "/proc");
    mkdir_ok(p, 1);
    TRY(do_mount("proc", p, "proc", MS_NOSUID | MS_NODEV | MS_NOEXEC, NULL));
    path(p, sizeof p, merged, "/dev");
    mkdir_ok(p, 1);
    TRY(do_mount("tmpfs", p, "tmpfs", MS_NOSUID | MS_NODEV, "mode=755,size=65536k"));
    static const char *devs[] = {"null", "zero", "full", "random", "urandom", "tty"};
    for (size_t i = 0; i < sizeof devs / sizeof *devs; i++) {
        char src[64];
        snprintf(src, sizeof src, "/dev/%s", devs[i]);
        snprintf(p, sizeof p, "%s%s", merged, src);
        /* A bind mount needs a file to cover. */
        int fd = open(p, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0666);
        if (fd < 0) {
            fail("open(%s, O_CREAT)", p);
            _exit(1);
        }
        close(fd);
        TRY(do_mount(src, p, NULL, MS_BIND, NULL));
    }
    path(p, sizeof p, merged, "/dev/pts");
    mkdir_ok(p, 0);
    TRY(do_mount("devpts", p, "devpts", MS_NOSUID | MS_NOEXEC,
                 "newinstance,ptmxmode=0666,mode=0620"));
    static const char *links[][2] = {{"pts/ptmx", "/dev/ptmx"},
                                     {"/proc/self/fd", "/dev/fd"},
                                     {"/proc/self/fd/0", "/dev/stdin"},
                                     {"/proc/self/fd/1", "/dev/stdout"},
                                     {"/proc/self/fd/2", "/dev/stderr"}};
    for (size_t i = 0; i < sizeof links / sizeof *links; i++) {
        path(p, sizeof p, merged, links[i][1]);
        if (symlink(links[i][0], p) < 0) {
            fail("symlink(%s, %s)", links[i][0], p);
            _exit(1);
        }
    }
    path(p, sizeof p, merged, "/dev/shm");
    mkdir_ok(p, 0);
    path(p, sizeof p, merged, "/tmp");
    mkdir_ok(p, 1);
    TRY(do_mount("tmpfs", p, "tmpfs", MS_NOSUID | MS_NODEV, "mode=1777"));

    /* runc's readonlyPaths: bound onto themselves, remounted read-only; absent: skipped. */
    static const char *ro[] = {"/proc/bus", "/proc/fs", "/proc/irq", "/proc/sys",
                               "/proc/sysrq-trigger"};
    for (size_t i = 0; i < sizeof ro / sizeof *ro; i++) {
        path(p, sizeof p, merged, ro[i]);
        if (mount(p, p, NULL, MS_BIND | MS_REC, NULL) < 0) {
            if (errno == ENOENT)
                continue;
            fail("mount(%s, MS_BIND|MS_REC)", p);
            _exit(1);
        }
        TRY(do_mount(NULL, p, NULL,
                     MS_BIND | MS_REMOUNT | MS_RDONLY | MS_NOSUID | MS_NODEV | MS_NOEXEC, NULL));
    }
    /* runc's maskedPaths: a directory behind an empty read-only tmpfs, a file behind
     * /dev/null, an absent path skipped. */
    static const char *masked[] = {"/proc/acpi",        "/proc/asound",      "/proc/kcore",
                                   "/proc/keys",        "/proc/latency_stats", "/proc/timer_list",
                                   "/proc/timer_stats", "/proc/sched_debug", "/sys/firmware",
                                   "/proc/scsi",        "/sys/devices/virtual/tpm"};
    for (size_t i = 0; i < sizeof masked / sizeof *masked; i++) {
        struct stat st;
        path(p, sizeof p, merged, masked[i]);
        if (lstat(p, &st) < 0)
            continue;
        if (S_ISDIR(st.st_mode))
            TRY(do_mount("tmpfs", p, "tmpfs", MS_RDONLY, NULL));
        else
            TRY(do_mount("/dev/null", p, NULL, MS_BIND, NULL));
    }

    /* pivot_root(2): the new root on top of the old, then the old detached. */
    if (chdir(merged) < 0) {
        fail("chdir(%s)", merged);
        _exit(1);
    }
    if (syscall(SYS_pivot_root, ".", ".") < 0) {
        fail("pivot_root(\".\", \".\") in %s", merged);
        _exit(1);
    }
    if (umount2(".", MNT_DETACH) < 0) {
        fail("umount2(\".\", MNT_DETACH)");
        _exit(1);
    }
    if (chdir("/") < 0) {
        fail("chdir(/)");
        _exit(1);
    }
}

/* The 13 capabilities `run` keeps (Docker's default set). */
#define CAP(c) (1ULL << (c))
static const unsigned long long kept =
    CAP(CAP_AUDIT_WRITE) | CAP(CAP_CHOWN) | CAP(CAP_DAC_OVERRIDE) | CAP(CAP_FOWNER) |
    CAP(CAP_FSETID) | CAP(CAP_KILL) | CAP(CAP_NET_BIND_SERVICE) | CAP(CAP_NET_RAW) |
    CAP(CAP_SETFCAP) | CAP(CAP_SETGID) | CAP(CAP_SETPCAP) | CAP(CAP_SETUID) |
    CAP(CAP_SYS_CHROOT);

static void security(void)
{
    for (int c = 0; c < 64; c++) {
        if (kept & CAP(c))
            continue;
        if (prctl(PR_CAPBSET_DROP, c, 0, 0, 0) < 0) {
            if (errno == EINVAL) /* beyond the kernel's last capability */
                break;
            fail("prctl(PR_CAPBSET_DROP, %d)", c);
            _exit(1);
        }
    }
    if (prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0) < 0) {
        fail("prctl(PR_CAP_AMBIENT_CLEAR_ALL)");
        _exit(1);
    }
    struct __user_cap_header_struct h = {_LINUX_CAPABILITY_VERSION_3, 0};
    struct __user_cap_data_struct d[2];
    for (int i = 0; i < 2; i++) {
        __u32 w = (__u32)(kept >> (32 * i));
        d[i].effective = d[i].permitted = d[i].inheritable = w;
    }
    if (syscall(SYS_capset, &h, d) < 0) {
        fail("capset(13 capabilities)");
        _exit(1);
    }
    if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0) {
        fail("prctl(PR_SET_NO_NEW_PRIVS)");
        _exit(1);
    }
    struct sock_fprog prog = {FLOOR_FILTER_LEN, floor_filter};
    if (syscall(SYS_seccomp, SECCOMP_SET_MODE_FILTER, 0, &prog) < 0) {
        fail("seccomp(SECCOMP_SET_MODE_FILTER, %d instructions)", FLOOR_FILTER_LEN);
        _exit(1);
    }
    if (prctl(PR_SET_DUMPABLE, 0, 0, 0, 0) < 0) {
        fail("prctl(PR_SET_DUMPABLE, 0)");
        _exit(1);
    }
}

static int status_code(int st)
{
    return WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
}

/* PID 1: the root filesystem, the security step, then the command, waited for. */
static void pid1(const char *lower, char **argv)
{
    prctl(PR_SET_PDEATHSIG, SIGKILL, 0, 0, 0);
    rootfs(lower);
    security();
    static char *env[] = {"PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
                          "HOME=/root", "HOSTNAME=underhood", "container=underhood",
                          "TERM=xterm", NULL};
    /* As posix_spawn: clone(CLONE_VM|CLONE_VFORK), raw system calls only in the child. */
    pid_t c = vfork();
    if (c == 0) {
        syscall(SYS_prctl, PR_SET_PDEATHSIG, SIGKILL, 0, 0, 0);
        syscall(SYS_setsid);
        syscall(SYS_close_range, 3, ~0U, CLOSE_RANGE_CLOEXEC);
        execve(argv[0], argv, env);
        static const char m[] = "underhood-floor: execve of the command failed\n";
        syscall(SYS_write, 2, m, sizeof m - 1);
        _exit(127);
    }
    if (c < 0) {
        fail("vfork");
        _exit(1);
    }
    int st;
    while (waitpid(c, &st, 0) < 0)
        if (errno != EINTR) {
            fail("waitpid(%d)", c);
            _exit(1);
        }
    _exit(status_code(st));
}

/* The subject: namespaces one by one, the cgroup joined from inside, then PID 1. */
static void subject_main(int ready, const char *lower, char **argv)
{
    prctl(PR_SET_PDEATHSIG, SIGKILL, 0, 0, 0);
    if (setsid() < 0)
        fail("setsid");
    if (unshare(CLONE_NEWUTS) < 0 || sethostname("underhood", 9) < 0) {
        fail("unshare(CLONE_NEWUTS)/sethostname");
        _exit(1);
    }
    if (unshare(CLONE_NEWIPC) < 0) {
        fail("unshare(CLONE_NEWIPC)");
        _exit(1);
    }
    if (unshare(CLONE_NEWNET) < 0) {
        fail("unshare(CLONE_NEWNET)");
        _exit(1);
    }
    int s = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    struct ifreq ifr = {0};
    strcpy(ifr.ifr_name, "lo");
    if (s < 0 || ioctl(s, SIOCGIFFLAGS, &ifr) < 0 ||
        (ifr.ifr_flags |= IFF_UP, ioctl(s, SIOCSIFFLAGS, &ifr) < 0)) {
        fail("bringing lo up (SIOCSIFFLAGS)");
        _exit(1);
    }
    close(s);
    if (unshare(CLONE_NEWNS) < 0) {
        fail("unshare(CLONE_NEWNS)");
        _exit(1);
    }
    TRY(do_mount(NULL, "/", NULL, MS_REC | MS_SLAVE, NULL));
    /* The cgroup exists and has its limit once P writes a byte (run: a message). */
    char b;
    if (read(ready, &b, 1) != 1) {
        fprintf(stderr, "underhood-floor: the cgroup was not made; stopping\n");
        _exit(1);
    }
    close(ready);
    char p[300];
    path(p, sizeof p, cgroup, v1 ? "/tasks" : "/cgroup.procs");
    TRY(write_file(p, "0"));
    if (unshare(CLONE_NEWCGROUP) < 0) {
        fail("unshare(CLONE_NEWCGROUP)");
        _exit(1);
    }
    if (unshare(CLONE_NEWTIME) < 0) {
        fail("unshare(CLONE_NEWTIME)");
        _exit(1);
    }
    TRY(write_file("/proc/self/timens_offsets", "monotonic 0 0\nboottime 0 0\n"));
    if (unshare(CLONE_NEWPID) < 0) {
        fail("unshare(CLONE_NEWPID)");
        _exit(1);
    }
    pid_t init = fork();
    if (init == 0)
        pid1(lower, argv);
    if (init < 0) {
        fail("fork (PID 1)");
        _exit(1);
    }
    int st;
    while (waitpid(init, &st, 0) < 0)
        if (errno != EINTR) {
            fail("waitpid(%d)", init);
            _exit(1);
        }
    _exit(status_code(st));
}

static int make_cgroup(const char *dir)
{
    char p[300];
    if (mkdir(dir, 0755) < 0) {
        fail("mkdir(%s)", dir);
        return -1;
    }
    strcpy(cgroup, dir);
    if (v1) {
        path(p, sizeof p, cgroup, "/memory.limit_in_bytes");
        if (write_file(p, LIMIT) < 0)
            return -1;
        /* memsw exists only with swap accounting; run skips it likewise. */
        path(p, sizeof p, cgroup, "/memory.memsw.limit_in_bytes");
        if (access(p, F_OK) == 0 && write_file(p, LIMIT) < 0)
            return -1;
    } else {
        path(p, sizeof p, cgroup, "/memory.max");
        if (write_file(p, LIMIT) < 0)
            return -1;
        path(p, sizeof p, cgroup, "/memory.swap.max");
        if (access(p, F_OK) == 0 && write_file(p, "0") < 0)
            return -1;
    }
    return 0;
}

/* cgroup v1's OOM notification (cgroups(7), the kernel's memory.txt): an eventfd
 * registered on memory.oom_control through cgroup.event_control, as run's controller
 * arms it once the command has started. */
static int arm_oom(void)
{
    if (!v1)
        return -1;
    char p[300], line[32];
    int efd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
    path(p, sizeof p, cgroup, "/memory.oom_control");
    int ofd = open(p, O_RDONLY | O_CLOEXEC);
    if (efd < 0 || ofd < 0) {
        fail("eventfd/open(%s)", p);
        return -1;
    }
    snprintf(line, sizeof line, "%d %d", efd, ofd);
    path(p, sizeof p, cgroup, "/cgroup.event_control");
    write_file(p, line);
    close(ofd);
    return efd;
}

int main(int argc, char **argv)
{
    if (geteuid() != 0) {
        fprintf(stderr, "underhood-floor: needs root (it makes a cgroup, namespaces and "
                        "mounts, as `underhood run` does); euid is %d\n",
                (int)geteuid());
        return 2;
    }
    if (argc < 2) {
        fprintf(stderr, "usage: underhood-floor LOWERDIRS [COMMAND ARGS...]\n"
                        "  LOWERDIRS: overlayfs lowerdir= value (underhood run --trace shows it)\n");
        return 2;
    }
    const char *lower = argv[1];
    static char *dflt[] = {"/bin/true", NULL};
    char **cmd = argc > 2 ? argv + 2 : dflt;
    snprintf(name, sizeof name, "underhood-floor-%d", (int)getpid());
    snprintf(scratch, sizeof scratch, "/run/%s", name);
    /* Where the memory controller is (before the fork: the subject joins there). */
    struct stat st;
    v1 = stat("/sys/fs/cgroup/memory/memory.limit_in_bytes", &st) == 0;
    snprintf(cgroup, sizeof cgroup, "%s/%s", v1 ? "/sys/fs/cgroup/memory" : "/sys/fs/cgroup",
             name);

    prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0);
    if (mkdir(scratch, 0700) < 0) {
        fail("mkdir(%s)", scratch);
        return 1;
    }
    int ready[2];
    if (pipe2(ready, O_CLOEXEC) < 0) {
        fail("pipe2");
        rmdir(scratch);
        return 1;
    }
    /* As run: the subject starts on its namespaces while the cgroup is made. */
    subject = fork();
    if (subject == 0) {
        close(ready[1]);
        subject_main(ready[0], lower, cmd);
    }
    close(ready[0]);
    int code = 1, efd = -1, made = 0;
    char dir[sizeof cgroup];
    strcpy(dir, cgroup);
    cgroup[0] = 0; /* set again once made: what to remove */
    if (subject < 0) {
        fail("fork (subject)");
    } else if (make_cgroup(dir) < 0) {
        kill(subject, SIGKILL);
    } else {
        made = 1;
        if (write(ready[1], "c", 1) != 1)
            fail("write(ready)");
        efd = arm_oom();
    }
    close(ready[1]);
    if (subject > 0) {
        int st;
        while (waitpid(subject, &st, 0) < 0 && errno == EINTR)
            ;
        if (made)
            code = status_code(st);
    }
    if (efd >= 0)
        close(efd);
    if (cgroup[0] && rmdir(cgroup) < 0) {
        fail("rmdir(%s)", cgroup);
        code = 1;
    }
    if (rmdir(scratch) < 0) {
        fail("rmdir(%s)", scratch);
        code = 1;
    }
    return code;
}
