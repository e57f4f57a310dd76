//! The IPC namespace (ipc_namespaces(7)): unshare(CLONE_NEWIPC). The subject alone.

use crate::runtime::launch_error::Result;
use nix::errno::Errno;

use super::{Inside, Outcome, Part, Shape, unshare};
use crate::ns::Ns;

pub struct Ipc;

impl Part for Ipc {
    fn name(&self) -> &'static str {
        "ipc"
    }

    fn title(&self) -> String {
        "IPC namespace".into()
    }

    fn namespace(&self) -> Option<Ns> {
        Some(Ns::Ipc)
    }

    fn shape(&self) -> Shape {
        Shape::Subject
    }

    fn inside(&self, cx: &mut Inside) -> Result<Outcome, Errno> {
        unshare(cx.sys, cx.report, Ns::Ipc)?;
        cx.report.note(
            "System V message queues, semaphores and shared memory of the host are gone from view",
        );
        Ok(Outcome::Done)
    }
}

#[cfg(test)]
mod tests {
    use crate::runtime::step::Step;
    use crate::runtime::steps::testing::inside;
    use crate::runtime::sys::{Call, Recorder};
    use nix::errno::Errno;

    #[test]
    fn an_unshare_failure_is_reported_with_its_errno() {
        let mut sys = Recorder {
            fail: Some((|c| matches!(c, Call::Unshare(_)), Errno::EPERM)),
            ..Default::default()
        };
        let (r, res) = inside(&Step::Ipc, &mut sys, false);
        assert_eq!(res, Err(Errno::EPERM));
        assert_eq!(r.calls[0].args, "CLONE_NEWIPC");
        assert!(r.render().contains("-1 EPERM"));
        assert!(r.shell.is_empty(), "no shell line for a call that failed");
    }
}
