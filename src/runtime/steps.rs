//! One file per step. Each file under `steps/` holds what its step does: the part done
//! *inside* by the subject (through the [`Sys`] seam), the part done from *outside* by
//! the controller (id maps, cgroup, veth, directories), and what the controller keeps
//! of the subject's reply; its syscall-sequence tests sit beside it.
//!
//! The controller (`controller.rs`) and the subject (`subject.rs`) keep only the state
//! machine and the protocol: they look a step up with [`of`] and follow its [`Shape`].
//! Adding a step: a variant of `Step` (`step.rs`, with its `purpose` prose), its file
//! here, one arm in [`of`], and its place in `plan.rs` (the order and `STEP_NAMES`).
//!
//! | step (lesson name)      | file            |
//! |-------------------------|-----------------|
//! | `user`                  | `user.rs`       |
//! | `uts`                   | `uts.rs`        |
//! | `ipc`                   | `ipc.rs`        |
//! | `net`                   | `net.rs`        |
//! | `mount`                 | `mount.rs`      |
//! | `cgroup`                | `cgroup.rs`     |
//! | `cgroupns`              | `cgroupns.rs`   |
//! | `time`                  | `time.rs`       |
//! | `pid`                   | `pid.rs`        |
//! | `rootfs`                | `rootfs.rs`     |
//! | `pivot_root`, `chroot`  | `enter_root.rs` |
//! | `security`              | `security.rs`   |
//! | `exec`                  | `exec.rs`       |

pub mod cgroup;
pub mod cgroupns;
pub mod enter_root;
pub mod exec;
pub mod ipc;
pub mod mount;
pub mod net;
pub mod pid;
pub mod rootfs;
pub mod security;
pub mod time;
pub mod user;
pub mod uts;

use crate::runtime::launch_error::Result;
use nix::errno::Errno;

use super::cgroup::{Cgroup, Host, Scope};
use super::link::Link;
use super::paths::Paths;
use super::protocol::Reply;
use super::report::Report;
use super::state::Session;
use super::step::Step;
use super::sys::{Gate, Sys};
use crate::ns::{Ns, flag_names};

/// Who does a step, in which order.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Shape {
    /// The subject alone (the controller may keep something of its reply).
    Subject,
    /// The controller alone: the subject is never asked.
    Controller,
    /// The controller first (it may do so ahead, while the subject works on earlier
    /// steps), then the subject.
    ControllerFirst,
    /// The subject, then the controller, then the subject again (through its own
    /// requests): such a step is never sent ahead.
    ControllerBetween,
}

/// What the subject has while it does its part of a step.
pub struct Inside<'a> {
    pub sys: &'a mut dyn Sys,
    pub report: &'a mut Report,
    /// A user namespace was made earlier in this launch (overlayfs needs to know).
    pub in_userns: bool,
    /// The subject was started by the host's root.
    pub host_root: bool,
    /// The exec step replaces the subject with the command (`run --no-init`,
    /// `Request::NoInit`).
    pub no_init: bool,
    /// The v1 `tasks` files the cgroup step writes "0" into (`Request::JoinCgroup`).
    pub join_cgroup: &'a [std::path::PathBuf],
}

/// How the subject's part ended (a failure is an `Err(errno)`, named in the report).
#[derive(Debug)]
pub enum Outcome {
    /// Done; the subject replies `Done`.
    Done,
    /// The PID step's parent: it replies `Forked` with the child's host pid, lets the
    /// child go on (by dropping `gate`) and stays behind as the shim.
    Forked { child: i32, gate: Gate },
    /// The PID step's child: PID 1, carrying on as the subject (it replies nothing:
    /// its parent did). An error here ends the subject.
    Pid1(nix::Result<()>),
    /// The exec step: the command runs with this pid inside.
    Started(i32),
    /// The exec step without an init: the subject replies `Started` with its own pid,
    /// then becomes the command (execve(2) in place).
    ExecInPlace {
        path: std::ffi::CString,
        argv: Vec<std::ffi::CString>,
        env: Vec<std::ffi::CString>,
    },
}

/// What the controller has while it does its part of a step.
pub struct Outside<'a> {
    pub sys: &'a mut dyn Sys,
    /// The subject, across the control socket.
    pub link: Link<'a>,
    pub paths: &'a Paths,
    pub session: &'a mut Session,
    /// Host pid of the current subject (PID 1 inside after the PID step).
    pub subject: &'a mut i32,
    pub cgroup_host: &'a mut Option<Host>,
    pub cgroup: &'a mut Option<Cgroup>,
    /// Which hierarchies the cgroup step makes a directory in.
    pub cgroup_scope: Scope,
    /// The steps planned before this one.
    pub earlier: &'a [Step],
    /// The command's pid inside, once the exec step started it.
    pub command: &'a mut Option<i32>,
    /// The launch runs start to end with no one watching its steps (`run`): the
    /// quickest way is taken where the TUI shows the lessons' way.
    pub pipelined: bool,
}

/// One step's parts. Every method is written out in each file (no defaults), so a
/// reader sees in one place all that a step does.
pub trait Part {
    /// The step's name in lesson files (`plan::STEP_NAMES`).
    fn name(&self) -> &'static str;
    /// A short title for logs and the TUI.
    fn title(&self) -> String;
    /// The namespace the step creates, if it is a namespace step.
    fn namespace(&self) -> Option<Ns>;
    fn shape(&self) -> Shape;
    /// The subject's part.
    fn inside(&self, cx: &mut Inside) -> Result<Outcome, Errno>;
    /// The controller's part, done when [`Part::shape`] says; none for a step the
    /// subject does alone.
    fn outside(&self, _o: &mut Outside, _r: &mut Report) -> Result<()> {
        Ok(())
    }
    /// What the controller keeps of the subject's reply; most steps keep nothing.
    fn after(&self, _o: &mut Outside, _reply: Reply) -> Result<()> {
        Ok(())
    }
}

/// The parts of `step`: the one list of steps.
pub fn of(step: &Step) -> Box<dyn Part + '_> {
    match step {
        Step::User { uid, gid } => Box::new(user::User { uid, gid }),
        Step::Uts { hostname } => Box::new(uts::Uts { hostname }),
        Step::Ipc => Box::new(ipc::Ipc),
        Step::Net { veth } => Box::new(net::Net {
            veth: veth.as_ref(),
        }),
        Step::Mount => Box::new(mount::Mount),
        Step::Cgroup { limits } => Box::new(cgroup::CgroupStep { limits }),
        Step::CgroupNs => Box::new(cgroupns::CgroupNs),
        Step::Time { offset_secs } => Box::new(time::Time {
            offset_secs: *offset_secs,
        }),
        Step::Pid => Box::new(pid::Pid),
        Step::Rootfs(spec) => Box::new(rootfs::Rootfs { spec }),
        Step::EnterRoot { mode, new_root } => Box::new(enter_root::EnterRoot {
            mode: *mode,
            new_root,
        }),
        Step::Security { keep, deny } => Box::new(security::Security { keep, deny }),
        Step::Exec { argv, env } => Box::new(exec::Exec { argv, env }),
    }
}

/// unshare(2) of one namespace type, recorded with its unshare(1) equivalent.
pub fn unshare(sys: &mut dyn Sys, r: &mut Report, ns: Ns) -> nix::Result<()> {
    let res = sys.unshare(ns.flag());
    r.call("unshare", flag_names(ns.flag()), res)?;
    r.shell(format!("unshare {}", ns.unshare_option()));
    Ok(())
}

#[cfg(test)]
pub(crate) mod testing {
    //! Runs a step's inside part against the recording double.

    use super::*;
    use crate::runtime::sys::Recorder;

    pub fn inside(step: &Step, sys: &mut Recorder, in_userns: bool) -> (Report, Result<(), Errno>) {
        let mut r = Report::new(step.title());
        let mut cx = Inside {
            sys,
            report: &mut r,
            in_userns,
            host_root: false,
            no_init: false,
            join_cgroup: &[],
        };
        let res = of(step).inside(&mut cx).map(drop);
        (r, res)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::runtime::plan::{STEP_NAMES, veth_for};
    use crate::runtime::step::{IdMap, RootMode, RootfsSpec};

    #[test]
    fn every_step_has_its_lesson_name_title_and_namespace() {
        let map = IdMap {
            inside: 0,
            outside: 0,
            count: 1,
        };
        let rootfs = RootfsSpec {
            lower: Vec::new(),
            upper: "/u".into(),
            work: "/w".into(),
            merged: "/m".into(),
            volumes: Vec::new(),
            scratch: None,
        };
        let table = [
            (
                Step::User { uid: map, gid: map },
                "user",
                "user namespace",
                Some(Ns::User),
            ),
            (
                Step::Uts {
                    hostname: "box".into(),
                },
                "uts",
                "UTS namespace (hostname box)",
                Some(Ns::Uts),
            ),
            (Step::Ipc, "ipc", "IPC namespace", Some(Ns::Ipc)),
            (
                Step::Net { veth: None },
                "net",
                "network namespace",
                Some(Ns::Net),
            ),
            (
                Step::Net {
                    veth: Some(veth_for("0a0b0c0d")),
                },
                "net",
                "network namespace + veth pair",
                Some(Ns::Net),
            ),
            (Step::Mount, "mount", "mount namespace", Some(Ns::Mount)),
            (
                Step::Cgroup {
                    limits: Default::default(),
                },
                "cgroup",
                "cgroup limits (from outside)",
                None,
            ),
            (
                Step::CgroupNs,
                "cgroupns",
                "cgroup namespace",
                Some(Ns::Cgroup),
            ),
            (
                Step::Time { offset_secs: 1 },
                "time",
                "time namespace",
                Some(Ns::Time),
            ),
            (Step::Pid, "pid", "PID namespace", Some(Ns::Pid)),
            (
                Step::Rootfs(rootfs),
                "rootfs",
                "root filesystem (overlay, volumes, /proc, /dev)",
                None,
            ),
            (
                Step::EnterRoot {
                    mode: RootMode::PivotRoot,
                    new_root: "/m".into(),
                },
                "pivot_root",
                "pivot_root",
                None,
            ),
            (
                Step::EnterRoot {
                    mode: RootMode::Chroot,
                    new_root: "/m".into(),
                },
                "chroot",
                "chroot",
                None,
            ),
            (
                Step::Security {
                    keep: Vec::new(),
                    deny: Vec::new(),
                },
                "security",
                "security (capabilities, no_new_privs, seccomp)",
                None,
            ),
            (
                Step::Exec {
                    argv: vec!["/bin/sh".into(), "-c".into()],
                    env: Vec::new(),
                },
                "exec",
                "exec /bin/sh -c",
                None,
            ),
        ];
        for (step, name, title, ns) in &table {
            assert_eq!(step.name(), *name);
            assert_eq!(step.title(), *title);
            assert_eq!(step.namespace(), *ns, "{name}");
            assert!(STEP_NAMES.contains(name), "{name}");
        }
        for name in STEP_NAMES {
            assert!(table.iter().any(|t| t.1 == name), "{name} has no step");
        }
    }
}
