//! A launch is an ordered list of `Step` values. Each carries every parameter it needs,
//! so a plan can be printed, recorded, sent to the subject and replayed.

use std::path::PathBuf;

use serde::{Deserialize, Serialize};

use super::steps;
use crate::ns::Ns;
// Each step's data lives in its file under `steps/`; these are its names here too.
pub use super::steps::cgroup::LimitSpec;
pub use super::steps::enter_root::RootMode;
pub use super::steps::net::Veth;
pub use super::steps::rootfs::{RootfsSpec, Volume};
pub use super::steps::user::IdMap;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum Step {
    /// unshare(CLONE_NEWUSER); the controller then writes uid_map/gid_map.
    User { uid: IdMap, gid: IdMap },
    /// unshare(CLONE_NEWUTS) + sethostname.
    Uts { hostname: String },
    /// unshare(CLONE_NEWIPC).
    Ipc,
    /// unshare(CLONE_NEWNET), `lo` up; with a veth the controller adds the host end.
    Net { veth: Option<Veth> },
    /// unshare(CLONE_NEWNS) and make every mount a slave, so nothing leaks to the host.
    Mount,
    /// The controller creates the cgroup, writes the limits and moves the subject in.
    Cgroup { limits: LimitSpec },
    /// unshare(CLONE_NEWCGROUP): the cgroup joined above becomes `/` inside.
    CgroupNs,
    /// unshare(CLONE_NEWTIME) and write the clock offsets for the children.
    Time { offset_secs: i64 },
    /// unshare(CLONE_NEWPID) then fork: the child is PID 1 and the new subject.
    Pid,
    /// overlayfs, volumes, /proc, /dev and /tmp under `merged`.
    Rootfs(RootfsSpec),
    /// pivot_root (or chroot) into `merged`.
    EnterRoot { mode: RootMode, new_root: PathBuf },
    /// Capabilities dropped to `keep`, no_new_privs, a seccomp filter answering
    /// EPERM to the syscalls in `deny`.
    Security {
        keep: Vec<String>,
        deny: Vec<String>,
    },
    /// fork + execve of the command; the subject stays as PID 1 and reaps.
    Exec {
        argv: Vec<String>,
        env: Vec<(String, String)>,
    },
}

impl Step {
    /// The step's name in lesson files (`plan::STEP_NAMES`).
    pub fn name(&self) -> &'static str {
        steps::of(self).name()
    }

    /// A short title for logs and the TUI.
    pub fn title(&self) -> String {
        steps::of(self).title()
    }

    /// What the step does and why, in plain words, with the man page to read.
    pub fn purpose(&self) -> &'static str {
        match self {
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

    /// The namespace this step creates, if it is a namespace step.
    pub fn namespace(&self) -> Option<Ns> {
        steps::of(self).namespace()
    }
}
