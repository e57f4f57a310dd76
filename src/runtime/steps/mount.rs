//! The mount namespace (mount_namespaces(7)): unshare(CLONE_NEWNS), then every mount
//! made a slave (`mount --make-rslave /`), so that nothing mounted inside propagates
//! back to a host whose `/` is shared. The subject alone.

use crate::runtime::launch_error::Result;
use nix::errno::Errno;

use super::{Inside, Outcome, Part, Shape, unshare};
use crate::ns::Ns;
use crate::runtime::mounts;

pub struct Mount;

impl Part for Mount {
    fn name(&self) -> &'static str {
        "mount"
    }

    fn title(&self) -> String {
        "mount namespace".into()
    }

    fn namespace(&self) -> Option<Ns> {
        Some(Ns::Mount)
    }

    fn shape(&self) -> Shape {
        Shape::Subject
    }

    fn inside(&self, cx: &mut Inside) -> Result<Outcome, Errno> {
        unshare(cx.sys, cx.report, Ns::Mount)?;
        mounts::make_rslave(cx.sys, cx.report)?;
        Ok(Outcome::Done)
    }
}

#[cfg(test)]
mod tests {
    use std::path::Path;

    use crate::runtime::step::Step;
    use crate::runtime::steps::testing::inside;
    use crate::runtime::sys::{Call, Recorder};
    use nix::sched::CloneFlags;

    #[test]
    fn mount_step_makes_the_tree_rslave() {
        let mut sys = Recorder::default();
        inside(&Step::Mount, &mut sys, false).1.unwrap();
        assert_eq!(sys.calls[0], Call::Unshare(CloneFlags::CLONE_NEWNS));
        match &sys.calls[1] {
            Call::Mount { target, flags, .. } => {
                assert_eq!(target, Path::new("/"));
                assert!(
                    flags.contains(nix::mount::MsFlags::MS_SLAVE | nix::mount::MsFlags::MS_REC)
                );
            }
            other => panic!("{other:?}"),
        }
    }
}
