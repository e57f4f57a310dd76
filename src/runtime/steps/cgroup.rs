//! The cgroup (cgroups(7)): done by the controller alone, from outside, so that the
//! contained process never sets its own limits: the directory (in the v1 hierarchies
//! or the v2 tree, see `runtime/cgroup.rs`), the limits, then the subject moved in.
//! It comes before the cgroup namespace and the PID fork, whose children inherit it.

use anyhow::{Result, anyhow};
use nix::errno::Errno;
use serde::{Deserialize, Serialize};

use super::{Inside, Outcome, Outside, Part, Shape};
use crate::ns::Ns;
use crate::runtime::cgroup::{self, Cgroup, Limits};
use crate::runtime::protocol::Reply;
use crate::runtime::report::Report;

/// Cgroup limits the controller writes from outside the container.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct LimitSpec {
    pub memory: Option<u64>,
    pub pids: Option<u64>,
    /// A fraction of one CPU, e.g. 0.5.
    pub cpus: Option<f64>,
}

pub struct CgroupStep<'a> {
    pub limits: &'a LimitSpec,
}

impl Part for CgroupStep<'_> {
    fn name(&self) -> &'static str {
        "cgroup"
    }

    fn title(&self) -> String {
        "cgroup limits (from outside)".into()
    }

    fn namespace(&self) -> Option<Ns> {
        None
    }

    fn shape(&self) -> Shape {
        Shape::Controller
    }

    /// Never asked: the subject refuses it.
    fn inside(&self, _cx: &mut Inside) -> Result<Outcome, Errno> {
        Err(Errno::ENOTSUP)
    }

    fn outside(&self, o: &mut Outside, report: &mut Report) -> Result<()> {
        if o.cgroup_host.is_none() {
            *o.cgroup_host = Some(cgroup::Host::detect(o.paths)?);
        }
        let host = o
            .cgroup_host
            .as_ref()
            .ok_or_else(|| anyhow!("no cgroup host"))?;
        let name = o.session.name();
        let l = Limits {
            memory: self.limits.memory,
            pids: self.limits.pids,
            cpus: self.limits.cpus,
        };
        // One record before any mkdir: the name, and every directory that may be made
        // (cleanup after a crash treats one not made as already gone).
        let planned = Cgroup::plan_for(host, &name, &o.cgroup_scope.controllers(&l))
            .map(|c| c.dirs())
            .unwrap_or_default();
        o.session.record(|s| {
            s.cgroup_name = Some(name.clone());
            s.cgroups = planned;
        })?;
        let cg = Cgroup::create_in(host, &name, &l, o.cgroup_scope, report)?;
        let res = cg.add_pid(*o.subject, report);
        *o.cgroup = Some(cg);
        res
    }

    fn after(&self, _o: &mut Outside, _reply: Reply) -> Result<()> {
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use crate::runtime::step::Step;
    use crate::runtime::steps::{Shape, of, testing::inside};
    use crate::runtime::sys::Recorder;
    use nix::errno::Errno;

    #[test]
    fn the_subject_never_does_the_cgroup_step() {
        let step = Step::Cgroup {
            limits: Default::default(),
        };
        assert_eq!(of(&step).shape(), Shape::Controller);
        let mut sys = Recorder::default();
        assert_eq!(inside(&step, &mut sys, false).1, Err(Errno::ENOTSUP));
        assert!(sys.calls.is_empty());
    }
}
