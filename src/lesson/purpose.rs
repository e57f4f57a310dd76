//! The teaching words for each launch step: what it does and why, in plain words,
//! with the man page to read. Prose lives with the lessons, not in `runtime/`, which
//! only does the step (`runtime/steps/`).

use crate::runtime::step::{RootMode, Step};

/// What the step does and why, in plain words, with the man page to read.
pub fn purpose(step: &Step) -> &'static str {
    match step {
        Step::User { .. } => {
            "A user namespace gives the container its own user and group ids: root (uid 0) inside is an ordinary uid outside. The controller writes uid_map and gid_map from outside. Everything rootless containers do rests on this. Read user_namespaces(7)."
        }
        Step::Uts { .. } => {
            "The UTS namespace holds the hostname and domain name. After unshare(CLONE_NEWUTS) the container may rename itself; the host keeps its name. Read uts_namespaces(7)."
        }
        Step::Ipc => {
            "The IPC namespace separates System V message queues, semaphores and shared memory (and POSIX queues): the host's objects vanish from view. Read ipc_namespaces(7)."
        }
        Step::Net { .. } => {
            "A network namespace has its own interfaces, routes and firewall. A new one holds only a loopback device, down; we bring it up. With a veth pair, one end stays on the host. Read network_namespaces(7)."
        }
        Step::Mount => {
            "A mount namespace gets a private copy of the mount table. On many hosts / is 'shared', so mounts would still leak out: we make every mount a slave first. Read mount_namespaces(7)."
        }
        Step::Cgroup { .. } => {
            "The controller, outside the container, creates a cgroup, writes the limits and moves the container's process in. The process inside cannot raise its own limits. Read cgroups(7)."
        }
        Step::CgroupNs => {
            "The cgroup namespace makes the container's own cgroup look like the root: /proc/self/cgroup shows '/'. It hides the host's layout. Read cgroup_namespaces(7)."
        }
        Step::Time { .. } => {
            "The time namespace offsets the monotonic and boot-time clocks for the processes that enter it (children only), so uptime can differ inside. Read time_namespaces(7)."
        }
        Step::Pid => {
            "A PID namespace numbers processes from 1. unshare(CLONE_NEWPID) affects only children, so we fork: the child is PID 1 inside, with a big pid on the host. PID 1 must reap orphans. Read pid_namespaces(7)."
        }
        Step::Rootfs(_) => {
            "The root filesystem is an overlay: read-only image layers below, this container's writable layer on top (copy-on-write). Then volumes, a fresh /proc, a minimal /dev and /tmp. Read mount(8) and the overlayfs docs."
        }
        Step::EnterRoot {
            mode: RootMode::PivotRoot,
            ..
        } => {
            "pivot_root makes the overlay the new / and moves the old root aside; unmounting it leaves no path back to the host's files. Read pivot_root(2)."
        }
        Step::EnterRoot {
            mode: RootMode::Chroot,
            ..
        } => {
            "chroot only changes where path lookups start. The host's mounts stay in the table, and a process with CAP_SYS_CHROOT can climb back out. Read chroot(2)."
        }
        Step::Security { .. } => {
            "Last, the container gives up power: capabilities dropped to a short list (no CAP_SYS_ADMIN), no_new_privs so setuid binaries gain nothing, and a seccomp filter that blocks dangerous syscalls. Read capabilities(7), seccomp(2)."
        }
        Step::Exec { .. } => {
            "PID 1 forks the container's command and execs it; PID 1 stays to reap orphans and forward signals. Read execve(2)."
        }
    }
}
