//! The UTS namespace (uts_namespaces(7)): unshare(CLONE_NEWUTS), then sethostname(2).
//! The subject alone; the host keeps its own name.

use crate::runtime::launch_error::Result;
use nix::errno::Errno;

use super::{Inside, Outcome, Part, Shape, unshare};
use crate::ns::Ns;

pub struct Uts<'a> {
    pub hostname: &'a str,
}

impl Part for Uts<'_> {
    fn name(&self) -> &'static str {
        "uts"
    }

    fn title(&self) -> String {
        format!("UTS namespace (hostname {})", self.hostname)
    }

    fn namespace(&self) -> Option<Ns> {
        Some(Ns::Uts)
    }

    fn shape(&self) -> Shape {
        Shape::Subject
    }

    fn inside(&self, cx: &mut Inside) -> Result<Outcome, Errno> {
        let (sys, r) = (&mut *cx.sys, &mut *cx.report);
        let hostname = self.hostname;
        unshare(sys, r, Ns::Uts)?;
        let res = sys.sethostname(hostname);
        r.call("sethostname", format!("{hostname:?}"), res)?;
        r.shell(format!("hostname {hostname}"));
        r.note("the host keeps its own name: only this namespace changed");
        Ok(Outcome::Done)
    }
}

#[cfg(test)]
mod tests {
    use crate::runtime::step::Step;
    use crate::runtime::steps::testing::inside;
    use crate::runtime::sys::{Call, Recorder};
    use nix::sched::CloneFlags;

    #[test]
    fn uts_unshares_then_sets_the_name() {
        let mut sys = Recorder::default();
        let step = Step::Uts {
            hostname: "box".into(),
        };
        let (r, res) = inside(&step, &mut sys, false);
        res.unwrap();
        assert_eq!(
            sys.calls,
            vec![
                Call::Unshare(CloneFlags::CLONE_NEWUTS),
                Call::SetHostname("box".into())
            ]
        );
        assert_eq!(r.shell, vec!["unshare --uts", "hostname box"]);
    }
}
