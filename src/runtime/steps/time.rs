//! The time namespace (time_namespaces(7)): unshare(CLONE_NEWTIME), then the clock
//! offsets written to /proc/self/timens_offsets. Offsets apply to the children that
//! enter time_for_children and can be written only before the first one does: this
//! step comes before the PID fork. The subject alone.

use std::path::Path;

use crate::runtime::launch_error::Result;
use nix::errno::Errno;

use super::{Inside, Outcome, Part, Shape, unshare};
use crate::ns::Ns;

pub struct Time {
    pub offset_secs: i64,
}

impl Part for Time {
    fn name(&self) -> &'static str {
        "time"
    }

    fn title(&self) -> String {
        "time namespace".into()
    }

    fn namespace(&self) -> Option<Ns> {
        Some(Ns::Time)
    }

    fn shape(&self) -> Shape {
        Shape::Subject
    }

    fn inside(&self, cx: &mut Inside) -> Result<Outcome, Errno> {
        let (sys, r) = (&mut *cx.sys, &mut *cx.report);
        let offset_secs = self.offset_secs;
        unshare(sys, r, Ns::Time)?;
        let content = format!("monotonic {offset_secs} 0\nboottime {offset_secs} 0\n");
        let path = Path::new("/proc/self/timens_offsets");
        let res = sys.write_file(path, &content);
        r.call(
            "write",
            format!("\"/proc/self/timens_offsets\", {content:?}"),
            res,
        )?;
        r.shell(format!(
            "unshare --time --monotonic {offset_secs} --boottime {offset_secs}"
        ));
        Ok(Outcome::Done)
    }
}

#[cfg(test)]
mod tests {
    use crate::ns::Ns;
    use crate::runtime::step::Step;
    use crate::runtime::steps::testing::inside;
    use crate::runtime::sys::{Call, Recorder};

    #[test]
    fn time_writes_offsets_after_unshare() {
        let mut sys = Recorder::default();
        inside(&Step::Time { offset_secs: 86400 }, &mut sys, false)
            .1
            .unwrap();
        assert_eq!(sys.calls[0], Call::Unshare(Ns::Time.flag()));
        assert_eq!(
            sys.calls[1],
            Call::WriteFile(
                "/proc/self/timens_offsets".into(),
                "monotonic 86400 0\nboottime 86400 0\n".into()
            )
        );
    }
}
