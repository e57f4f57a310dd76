//! Security, last (the earlier steps need the power it gives up): capabilities dropped
//! to `keep` (capabilities(7)), no_new_privs, a seccomp filter answering EPERM to the
//! syscalls in `deny` (seccomp(2)); the sequence is `runtime/security.rs`' `apply`.
//! When the host's root started us, PID 1 then makes itself non-dumpable. The subject
//! alone.

use crate::runtime::launch_error::Result;
use nix::errno::Errno;

use super::{Inside, Outcome, Part, Shape};
use crate::ns::Ns;
use crate::runtime::report::Report;
use crate::runtime::security;

pub struct Security<'a> {
    pub keep: &'a [String],
    pub deny: &'a [String],
}

impl Part for Security<'_> {
    fn name(&self) -> &'static str {
        "security"
    }

    fn title(&self) -> String {
        "security (capabilities, no_new_privs, seccomp)".into()
    }

    fn namespace(&self) -> Option<Ns> {
        None
    }

    fn shape(&self) -> Shape {
        Shape::Subject
    }

    fn inside(&self, cx: &mut Inside) -> Result<Outcome, Errno> {
        let r = &mut *cx.report;
        let keep = match security::parse_caps(self.keep) {
            Ok(k) => k,
            Err(e) => {
                r.note(e.to_string());
                return Err(Errno::EINVAL);
            }
        };
        let program = match security::filter(self.deny) {
            Ok(p) => p,
            Err(e) => {
                r.note(e.to_string());
                return Err(Errno::EINVAL);
            }
        };
        security::apply(cx.sys, r, &keep, &program, self.deny)?;
        if cx.host_root {
            undumpable(r)?;
        }
        Ok(Outcome::Done)
    }
}

/// PID 1 holds the control socket to the controller on the host and runs as the same
/// user as the container's processes, so without this they could ptrace(2) it (and
/// read /proc/1/mem, /proc/1/fd): take it over, or leave it stopped so that `run`
/// waits forever. A non-dumpable process may be traced only with CAP_SYS_PTRACE in
/// the user namespace its memory belongs to (ptrace(2), "Ptrace access mode
/// checking"; prctl(2) PR_SET_DUMPABLE): ours was made by the host's exec of us, so
/// that is the host's, where only the host's root has it. The command keeps its own
/// flag: execve(2) makes it dumpable again. Only when we were started by root: a
/// rootless controller (same user, no capability on the host) could then no longer
/// read /proc/<pid>/ns of its own container either.
fn undumpable(r: &mut Report) -> nix::Result<()> {
    let res = nix::sys::prctl::set_dumpable(false);
    r.call("prctl", "PR_SET_DUMPABLE, 0", res)?;
    r.note("PID 1 is not dumpable: the container's processes cannot ptrace it or read its /proc/1/mem and /proc/1/fd");
    Ok(())
}

#[cfg(test)]
mod tests {
    use crate::runtime::step::Step;
    use crate::runtime::steps::testing::inside;
    use crate::runtime::sys::{Call, Recorder};
    use nix::errno::Errno;

    #[test]
    fn an_unknown_capability_is_refused_before_any_call() {
        let step = Step::Security {
            keep: vec!["CAP_NOPE".into()],
            deny: Vec::new(),
        };
        let mut sys = Recorder::default();
        let (r, res) = inside(&step, &mut sys, false);
        assert_eq!(res, Err(Errno::EINVAL));
        assert!(sys.calls.is_empty(), "{:?}", sys.calls);
        assert!(
            r.notes.iter().any(|n| n.contains("CAP_NOPE")),
            "{:?}",
            r.notes
        );
    }

    #[test]
    fn capabilities_then_no_new_privs_then_the_filter_last() {
        let step = Step::Security {
            keep: vec!["CAP_KILL".into()],
            deny: vec!["keyctl".into()],
        };
        let mut sys = Recorder::default();
        inside(&step, &mut sys, false).1.unwrap();
        let at = |want: fn(&Call) -> bool| sys.calls.iter().position(want).unwrap();
        let caps = at(|c| matches!(c, Call::SetCaps(_)));
        let nnp = at(|c| matches!(c, Call::NoNewPrivs));
        let filter = at(|c| matches!(c, Call::Seccomp(_)));
        assert!(caps < nnp && nnp < filter, "{:?}", sys.calls);
        assert_eq!(filter, sys.calls.len() - 1);
    }
}
