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

    /// The namespace this step creates, if it is a namespace step.
    pub fn namespace(&self) -> Option<Ns> {
        steps::of(self).namespace()
    }
}
