//! The cgroup namespace (cgroup_namespaces(7)): unshare(CLONE_NEWCGROUP) after the
//! cgroup step moved the subject into its cgroup, which then looks like `/` inside.
//! The subject alone.

use crate::runtime::launch_error::Result;
use nix::errno::Errno;

use super::{Inside, Outcome, Part, Shape, unshare};
use crate::ns::Ns;

pub struct CgroupNs;

impl Part for CgroupNs {
    fn name(&self) -> &'static str {
        "cgroupns"
    }

    fn title(&self) -> String {
        "cgroup namespace".into()
    }

    fn namespace(&self) -> Option<Ns> {
        Some(Ns::Cgroup)
    }

    fn shape(&self) -> Shape {
        Shape::Subject
    }

    fn inside(&self, cx: &mut Inside) -> Result<Outcome, Errno> {
        unshare(cx.sys, cx.report, Ns::Cgroup)?;
        cx.report
            .note("/proc/self/cgroup now shows the container's cgroup as /");
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
    fn cgroupns_is_one_unshare() {
        let mut sys = Recorder::default();
        let (r, res) = inside(&Step::CgroupNs, &mut sys, false);
        res.unwrap();
        assert_eq!(sys.calls, vec![Call::Unshare(CloneFlags::CLONE_NEWCGROUP)]);
        assert_eq!(r.shell, vec!["unshare --cgroup"]);
    }
}
