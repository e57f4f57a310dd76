//! The cgroup (cgroups(7)): made by the controller, from outside, so that the contained
//! process never sets its own limits: the directory (in the v1 hierarchies or the v2
//! tree, see `runtime/cgroup.rs`), the limits, then the subject moved in. In a v1
//! hierarchy, when the host's root runs a launch start to end (`run`) without a user
//! namespace, the subject joins by itself at the controller's word, writing "0" (itself) into the `tasks` file the
//! controller names: the same result without the global lock a write of its pid takes
//! (`Cgroup::v1_tasks`). It comes before the cgroup namespace and the PID fork, whose
//! children inherit it.

use crate::runtime::launch_error::{Ctx, Result};
use nix::errno::Errno;
use serde::{Deserialize, Serialize};

use super::{Inside, Outcome, Outside, Part, Shape};
use crate::ns::Ns;
use crate::runtime::cgroup::{self, Cgroup, Limits};
use crate::runtime::protocol::Request;
use crate::runtime::report::Report;
use crate::runtime::step::Step;

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
        Shape::ControllerFirst
    }

    /// Joins the cgroup's v1 hierarchies the controller named, if any (cgroups(7):
    /// "writing the value 0 ... moves the writing thread").
    fn inside(&self, cx: &mut Inside) -> Result<Outcome, Errno> {
        for tasks in cx.join_cgroup {
            let res = cx.sys.write_file(tasks, "0");
            cx.report
                .call("write", format!("{:?}, \"0\"", tasks.display()), res)?;
            cx.report.shell(format!("echo 0 > {}", tasks.display()));
        }
        Ok(Outcome::Done)
    }

    fn outside(&self, o: &mut Outside, report: &mut Report) -> Result<()> {
        if o.cgroup_host.is_none() {
            *o.cgroup_host = Some(cgroup::Host::detect(o.paths)?);
        }
        let host = o.cgroup_host.as_ref().ctx(|| "no cgroup host")?;
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
        // In a user namespace the subject may not open the host's cgroup files. The
        // TUI keeps the lessons' way (lessons/12-cgroups.md: the parent writes the pid).
        let userns = o.earlier.iter().any(|s| matches!(s, Step::User { .. }));
        let res = if o.pipelined && o.sys.is_root() && !userns {
            o.link.tell(&Request::JoinCgroup(cg.v1_tasks()))?;
            cg.add_pid_v2(*o.subject, report)
        } else {
            cg.add_pid(*o.subject, report)
        };
        *o.cgroup = Some(cg);
        Ok(res?)
    }
}

#[cfg(test)]
mod tests {
    use std::path::PathBuf;

    use crate::runtime::report::Report;
    use crate::runtime::step::Step;
    use crate::runtime::steps::{Inside, Shape, of};
    use crate::runtime::sys::{Call, Recorder};

    fn subject_part(join: &[PathBuf], sys: &mut Recorder) -> Report {
        let step = Step::Cgroup {
            limits: Default::default(),
        };
        let mut r = Report::new(step.title());
        let mut cx = Inside {
            sys,
            report: &mut r,
            in_userns: false,
            host_root: true,
            no_init: false,
            join_cgroup: join,
        };
        assert!(of(&step).inside(&mut cx).is_ok());
        r
    }

    #[test]
    fn the_subject_only_joins_the_v1_hierarchies_it_is_told_of() {
        let step = Step::Cgroup {
            limits: Default::default(),
        };
        // The controller makes the cgroup and writes the limits before the subject's part.
        assert_eq!(of(&step).shape(), Shape::ControllerFirst);
        let mut sys = Recorder::default();
        subject_part(&[], &mut sys);
        assert!(sys.calls.is_empty(), "told nothing, does nothing");
        let tasks = PathBuf::from("/sys/fs/cgroup/memory/underhood-x/tasks");
        let r = subject_part(std::slice::from_ref(&tasks), &mut sys);
        assert_eq!(sys.calls, vec![Call::WriteFile(tasks, "0".into())]);
        assert_eq!(r.calls.len(), 1);
    }
}
