//! A lesson's launch: its `[launch]` table turned into run options, and the full
//! plan cut down to the steps the lesson names (plus what the kernel requires: the
//! user namespace when not root, and the final exec).

use std::collections::BTreeSet;

use crate::ns::Ns;
use crate::runtime::plan::{NetMode, Options};
use crate::runtime::step::{LimitSpec, RootMode, Step, Volume};
use crate::units::parse_size;

use super::format::LessonFile;

/// The step names a lesson asked for.
pub fn names(l: &LessonFile) -> BTreeSet<String> {
    l.front
        .launch
        .steps
        .iter()
        .map(|s| s.get_ref().clone())
        .collect()
}

fn ns_step_name(ns: Ns) -> &'static str {
    match ns {
        Ns::Mount => "mount",
        Ns::Cgroup => "cgroupns",
        other => other.name(),
    }
}

/// Run options for the lesson (validated input: bad values fall back to defaults).
pub fn options(l: &LessonFile) -> Options {
    let la = &l.front.launch;
    let wanted = names(l);
    let share = Ns::ALL
        .into_iter()
        .filter(|ns| *ns != Ns::User && !wanted.contains(ns_step_name(*ns)))
        .collect();
    let cgroup = wanted.contains("cgroup");
    Options {
        hostname: la.hostname.clone().unwrap_or_else(|| "underhood".into()),
        limits: LimitSpec {
            memory: if cgroup {
                la.memory
                    .as_ref()
                    .and_then(|m| parse_size(m.get_ref()).ok())
                    .or(Some(100 << 20))
            } else {
                None
            },
            pids: if cgroup { la.pids } else { None },
            cpus: if cgroup { la.cpus } else { None },
        },
        volumes: la
            .volumes
            .iter()
            .filter_map(|v| Volume::parse(v.get_ref(), true).ok())
            .collect(),
        net: match la.net.as_ref().map(|n| n.get_ref().as_str()) {
            Some("veth") => NetMode::Veth,
            _ => NetMode::None,
        },
        share,
        userns: la.userns.unwrap_or(false) || wanted.contains("user"),
        root_mode: if wanted.contains("chroot") {
            RootMode::Chroot
        } else {
            RootMode::PivotRoot
        },
        time_offset_secs: la.time_offset.unwrap_or(0),
        extra_deny: la
            .seccomp_deny
            .iter()
            .map(|d| d.get_ref().clone())
            .collect(),
        keep_caps: la
            .keep_caps
            .as_ref()
            .map(|k| k.iter().map(|c| c.get_ref().clone()).collect()),
        argv: la
            .command
            .clone()
            .unwrap_or_else(|| vec!["sleep".into(), "2147483647".into()]),
    }
}

/// Keeps the steps the lesson names, the user namespace when the plan has one
/// (rootless needs it for everything else), and the exec; none in a lesson made by
/// hand.
pub fn filter(l: &LessonFile, steps: Vec<Step>) -> Vec<Step> {
    // A lesson made by hand takes no step at all, not even the exec: the container is
    // the learner's, and a "next: exec sleep" would only invite a key to no purpose.
    if l.by_hand() {
        return Vec::new();
    }
    let wanted = names(l);
    steps
        .into_iter()
        .filter(|s| {
            let n = s.name();
            wanted.contains(n) || n == "user" || n == "exec"
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::lesson::format::parse;
    use crate::runtime::plan::{self, Context};

    fn lesson(launch: &str) -> LessonFile {
        parse(
            "l.md",
            &format!("+++\nid = \"l\"\ntitle = \"t\"\norder = 1\n[launch]\n{launch}+++\n"),
        )
        .unwrap()
    }

    fn ctx(euid: u32) -> Context {
        Context {
            session_id: "0a1b2c3d".into(),
            euid,
            egid: euid,
            lower: vec!["/l".into()],
            upper: "/u".into(),
            work: "/w".into(),
            merged: "/m".into(),
            term: None,
        }
    }

    fn plan_names(l: &LessonFile, euid: u32) -> Vec<&'static str> {
        filter(l, plan::build(&options(l), &ctx(euid)))
            .iter()
            .map(|s| s.name())
            .collect()
    }

    #[test]
    fn a_uts_lesson_is_uts_then_exec() {
        let l = lesson("steps = [\"uts\"]\nhostname = \"box\"\n");
        assert_eq!(plan_names(&l, 0), ["uts", "exec"]);
        assert_eq!(options(&l).hostname, "box");
        // Rootless keeps the user namespace everything else needs.
        assert_eq!(plan_names(&l, 1000), ["user", "uts", "exec"]);
    }

    #[test]
    fn chroot_and_limits() {
        let l = lesson(
            "steps = [\"mount\", \"cgroup\", \"pid\", \"rootfs\", \"chroot\"]\nmemory = \"32M\"\n",
        );
        assert_eq!(
            plan_names(&l, 0),
            ["mount", "cgroup", "pid", "rootfs", "chroot", "exec"]
        );
        assert_eq!(options(&l).limits.memory, Some(32 << 20));
    }
}
