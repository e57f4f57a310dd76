//! Entering the root: `pivot_root` (pivot_root(2): the overlay becomes `/`, the old
//! root is unmounted, nothing of the host stays reachable) or `chroot` (chroot(2): only
//! the lookup root changes, and a process with CAP_SYS_CHROOT can climb back out, the
//! escape a lesson shows). The sequence is `runtime/mounts.rs`' `enter_root`, tested
//! there. The subject alone.

use std::path::Path;

use crate::runtime::launch_error::Result;
use nix::errno::Errno;
use serde::{Deserialize, Serialize};

use super::{Inside, Outcome, Part, Shape};
use crate::ns::Ns;
use crate::runtime::mounts;

/// How the container's root is entered.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum RootMode {
    /// pivot_root(2) and unmount the old root: nothing of the host stays reachable.
    PivotRoot,
    /// chroot(2) only: the old root is still there, and a process with CAP_SYS_CHROOT
    /// can climb out (the classic escape a lesson shows).
    Chroot,
}

pub struct EnterRoot<'a> {
    pub mode: RootMode,
    pub new_root: &'a Path,
}

impl Part for EnterRoot<'_> {
    fn name(&self) -> &'static str {
        match self.mode {
            RootMode::PivotRoot => "pivot_root",
            RootMode::Chroot => "chroot",
        }
    }

    fn title(&self) -> String {
        self.name().into()
    }

    fn namespace(&self) -> Option<Ns> {
        None
    }

    fn shape(&self) -> Shape {
        Shape::Subject
    }

    fn inside(&self, cx: &mut Inside) -> Result<Outcome, Errno> {
        mounts::enter_root(cx.sys, cx.report, self.mode, self.new_root)?;
        Ok(Outcome::Done)
    }
}

#[cfg(test)]
mod tests {
    use crate::runtime::step::{RootMode, Step};
    use crate::runtime::steps::testing::inside;
    use crate::runtime::sys::{Call, Recorder};

    fn calls(mode: RootMode) -> Vec<Call> {
        let step = Step::EnterRoot {
            mode,
            new_root: "/s/merged".into(),
        };
        let mut sys = Recorder::default();
        inside(&step, &mut sys, false).1.unwrap();
        sys.calls
    }

    #[test]
    fn pivot_root_pivots_and_chroot_only_chroots() {
        let pivot = calls(RootMode::PivotRoot);
        assert_eq!(pivot[0], Call::Chdir("/s/merged".into()));
        assert!(pivot.iter().any(|c| matches!(c, Call::PivotRoot(..))));
        assert!(!pivot.iter().any(|c| matches!(c, Call::Chroot(_))));
        let chroot = calls(RootMode::Chroot);
        assert!(chroot.iter().any(|c| matches!(c, Call::Chroot(_))));
        assert!(!chroot.iter().any(|c| matches!(c, Call::PivotRoot(..))));
    }
}
