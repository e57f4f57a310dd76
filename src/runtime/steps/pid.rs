//! The PID namespace (pid_namespaces(7)). unshare(CLONE_NEWPID) applies to children
//! only, so the subject forks at once: the child is PID 1 and becomes the subject; the
//! parent stays behind as a shim that waits for it and exits with its status.
//!
//! The parent answers `Forked` (only it knows the child's host pid); the child waits
//! until that answer is on the socket before it goes on, or its own reply to a step
//! sent ahead (`Request::Batch`) could overtake it. The parent closing its end of a
//! pipe (or dying) is the go-ahead: the child's read(2) then returns 0. The child dies
//! with the shim (PR_SET_PDEATHSIG), and so with the controller; the usual getppid()
//! re-check cannot work here, as the parent lives outside the new PID namespace
//! (getppid() is 0 whether it lives or not): the control socket covers that race
//! instead (if the controller is gone, the next read returns end-of-file).
//! The controller records the new subject's pid from the reply.

use crate::runtime::launch_error::{Error, Result};
use nix::errno::Errno;

use super::{Inside, Outcome, Outside, Part, Shape};
use crate::ns::Ns;
use crate::runtime::protocol::Reply;
use crate::runtime::state;
use crate::runtime::sys::Fork;

pub struct Pid;

impl Part for Pid {
    fn name(&self) -> &'static str {
        "pid"
    }

    fn title(&self) -> String {
        "PID namespace".into()
    }

    fn namespace(&self) -> Option<Ns> {
        Some(Ns::Pid)
    }

    fn shape(&self) -> Shape {
        Shape::Subject
    }

    fn inside(&self, cx: &mut Inside) -> Result<Outcome, Errno> {
        let (sys, r) = (&mut *cx.sys, &mut *cx.report);
        let res = sys.unshare(Ns::Pid.flag());
        r.call("unshare", Ns::Pid.flag_name(), res)?;
        let gate = match sys.gate() {
            Ok(g) => g,
            Err(e) => return r.call("pipe2", "O_CLOEXEC", Err(e)),
        };
        match sys.fork() {
            Err(e) => r.call("fork", "", Err(e)),
            Ok(Fork::Parent(child)) => {
                let _ = r.call("fork", "", Ok(child));
                r.shell("unshare --pid --fork");
                r.note(format!(
                    "the child is PID 1 in the new namespace and {child} on the host"
                ));
                Ok(Outcome::Forked {
                    child,
                    gate: gate.hold(),
                })
            }
            Ok(Fork::Child) => {
                if let Err(e) = sys.die_with_parent() {
                    return Ok(Outcome::Pid1(Err(e)));
                }
                sys.wait_gate(gate);
                Ok(Outcome::Pid1(Ok(())))
            }
        }
    }

    fn after(&self, o: &mut Outside, reply: Reply) -> Result<()> {
        let Reply::Forked { pid, .. } = reply else {
            return Err(Error::Protocol(format!(
                "unexpected reply to the PID step: {reply:?}"
            )));
        };
        *o.subject = pid;
        if let Some(id) = state::proc_id(&o.paths.proc_root, pid) {
            o.session.record(|s| s.subjects.push(id))?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::runtime::report::Report;
    use crate::runtime::step::Step;
    use crate::runtime::steps::{Inside, of};
    use crate::runtime::sys::{Call, Recorder};

    fn run(sys: &mut Recorder) -> (Report, Result<Outcome, Errno>) {
        let mut r = Report::new("pid");
        let mut cx = Inside {
            sys,
            report: &mut r,
            in_userns: false,
            host_root: false,
            no_init: false,
            join_cgroup: &[],
        };
        let res = of(&Step::Pid).inside(&mut cx);
        (r, res)
    }

    #[test]
    fn the_parent_unshares_forks_and_hands_over_the_childs_pid() {
        let mut sys = Recorder::default();
        let (r, res) = run(&mut sys);
        assert!(matches!(res, Ok(Outcome::Forked { child: 4242, .. })));
        assert_eq!(
            sys.calls,
            vec![Call::Unshare(Ns::Pid.flag()), Call::Gate, Call::Fork]
        );
        assert_eq!(r.shell, vec!["unshare --pid --fork"]);
        assert_eq!(r.calls.len(), 2, "the pipe is not shown: {:?}", r.calls);
    }

    #[test]
    fn the_child_dies_with_its_parent_then_waits_for_the_go_ahead() {
        let mut sys = Recorder {
            fork_as: Fork::Child,
            ..Default::default()
        };
        let (_, res) = run(&mut sys);
        assert!(matches!(res, Ok(Outcome::Pid1(Ok(())))));
        assert_eq!(sys.calls[3..], [Call::DieWithParent, Call::WaitGate]);
    }

    #[test]
    fn no_fork_after_a_failed_unshare() {
        let mut sys = Recorder {
            fail: Some((|c| matches!(c, Call::Unshare(_)), Errno::EINVAL)),
            ..Default::default()
        };
        let (r, res) = run(&mut sys);
        assert_eq!(res.unwrap_err(), Errno::EINVAL);
        assert_eq!(sys.calls.len(), 1);
        assert!(r.render().contains("unshare(CLONE_NEWPID) = -1 EINVAL"));
    }
}
