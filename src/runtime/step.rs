//! A launch is an ordered list of `Step` values. Each carries every parameter it needs,
//! so a plan can be printed, recorded, sent to the subject and replayed.

use std::net::Ipv4Addr;
use std::path::PathBuf;

use serde::{Deserialize, Serialize};

use super::namespaces::Ns;

/// A host directory bound into the container: `--volume HOST:PATH[:ro]`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Volume {
    pub host: PathBuf,
    pub target: PathBuf,
    pub read_only: bool,
}

/// How the container's root is entered.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum RootMode {
    /// pivot_root(2) and unmount the old root: nothing of the host stays reachable.
    PivotRoot,
    /// chroot(2) only: the old root is still there, and a process with CAP_SYS_CHROOT
    /// can climb out (the classic escape a lesson shows).
    Chroot,
}

/// The root filesystem, assembled with overlayfs.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RootfsSpec {
    /// Read-only layers, top first (overlayfs `lowerdir` order).
    pub lower: Vec<PathBuf>,
    /// This container's writable layer, and overlayfs' scratch dir on the same fs.
    pub upper: PathBuf,
    pub work: PathBuf,
    /// Where the merged tree is mounted (an empty directory of ours on the host).
    pub merged: PathBuf,
    pub volumes: Vec<Volume>,
}

/// A veth pair between the host and the container, `/30` addresses on both ends.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Veth {
    pub host_name: String,
    /// The peer's name while it is created on the host; renamed to `eth0` inside.
    pub peer_name: String,
    pub host_addr: Ipv4Addr,
    pub container_addr: Ipv4Addr,
    pub prefix: u8,
}

/// uid_map/gid_map content: `inside outside count`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct IdMap {
    pub inside: u32,
    pub outside: u32,
    pub count: u32,
}

/// Cgroup limits the controller writes from outside the container.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct LimitSpec {
    pub memory: Option<u64>,
    pub pids: Option<u64>,
    /// A fraction of one CPU, e.g. 0.5.
    pub cpus: Option<f64>,
}

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

impl Volume {
    /// Parses `HOST:PATH[:ro|:rw]`. PATH must be absolute and free of `..`; with
    /// `check_host`, HOST must exist and is made absolute.
    pub fn parse(s: &str, check_host: bool) -> Result<Volume, String> {
        let parts: Vec<&str> = s.split(':').collect();
        let (host, target, read_only) = match parts.as_slice() {
            [h, t] => (*h, *t, false),
            [h, t, "ro"] => (*h, *t, true),
            [h, t, "rw"] => (*h, *t, false),
            _ => {
                return Err(format!(
                    "invalid volume {s:?}: expected HOST:PATH or HOST:PATH:ro"
                ));
            }
        };
        if host.is_empty() || !target.starts_with('/') {
            return Err(format!(
                "invalid volume {s:?}: HOST must be given and PATH must be absolute"
            ));
        }
        if target.split('/').any(|c| c == "..") {
            return Err(format!("invalid volume {s:?}: PATH may not contain '..'"));
        }
        if target.split('/').all(|c| c.is_empty() || c == ".") {
            return Err(format!("invalid volume {s:?}: PATH cannot be / itself"));
        }
        let host = if check_host {
            std::fs::canonicalize(host).map_err(|e| format!("invalid volume {s:?}: {host}: {e}"))?
        } else {
            PathBuf::from(host)
        };
        Ok(Volume {
            host,
            target: PathBuf::from(target),
            read_only,
        })
    }
}

impl Step {
    /// The step's name in lesson files (`plan::STEP_NAMES`).
    pub fn name(&self) -> &'static str {
        match self {
            Step::User { .. } => "user",
            Step::Uts { .. } => "uts",
            Step::Ipc => "ipc",
            Step::Net { .. } => "net",
            Step::Mount => "mount",
            Step::Cgroup { .. } => "cgroup",
            Step::CgroupNs => "cgroupns",
            Step::Time { .. } => "time",
            Step::Pid => "pid",
            Step::Rootfs(_) => "rootfs",
            Step::EnterRoot {
                mode: RootMode::PivotRoot,
                ..
            } => "pivot_root",
            Step::EnterRoot {
                mode: RootMode::Chroot,
                ..
            } => "chroot",
            Step::Security { .. } => "security",
            Step::Exec { .. } => "exec",
        }
    }

    /// A short title for logs and the TUI.
    pub fn title(&self) -> String {
        match self {
            Step::User { .. } => "user namespace".into(),
            Step::Uts { hostname } => format!("UTS namespace (hostname {hostname})"),
            Step::Ipc => "IPC namespace".into(),
            Step::Net { veth: None } => "network namespace".into(),
            Step::Net { veth: Some(_) } => "network namespace + veth pair".into(),
            Step::Mount => "mount namespace".into(),
            Step::Cgroup { .. } => "cgroup limits (from outside)".into(),
            Step::CgroupNs => "cgroup namespace".into(),
            Step::Time { .. } => "time namespace".into(),
            Step::Pid => "PID namespace".into(),
            Step::Rootfs(_) => "root filesystem (overlay, volumes, /proc, /dev)".into(),
            Step::EnterRoot {
                mode: RootMode::PivotRoot,
                ..
            } => "pivot_root".into(),
            Step::EnterRoot {
                mode: RootMode::Chroot,
                ..
            } => "chroot".into(),
            Step::Security { .. } => "security (capabilities, no_new_privs, seccomp)".into(),
            Step::Exec { argv, .. } => format!("exec {}", argv.join(" ")),
        }
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
        Some(match self {
            Step::User { .. } => Ns::User,
            Step::Uts { .. } => Ns::Uts,
            Step::Ipc => Ns::Ipc,
            Step::Net { .. } => Ns::Net,
            Step::Mount => Ns::Mount,
            Step::CgroupNs => Ns::Cgroup,
            Step::Time { .. } => Ns::Time,
            Step::Pid => Ns::Pid,
            _ => return None,
        })
    }

    /// Whether the subject process does (part of) this step; the cgroup step is
    /// done by the controller alone.
    pub fn runs_in_subject(&self) -> bool {
        !matches!(self, Step::Cgroup { .. })
    }
}
