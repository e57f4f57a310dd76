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

impl Step {
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
