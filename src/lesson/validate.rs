//! Checks a whole lesson set at once and reports every problem with its position:
//! unknown steps or parameters, broken `builds_on` references, checks that name
//! nothing or lack what their kind needs, duplicate ids.

use std::collections::{HashMap, HashSet};

use crate::ns::Ns;
use crate::runtime::plan::STEP_NAMES;
use crate::runtime::step::Volume;
use crate::units::parse_size;

use super::check::{self, Kind};
use super::format::{LessonFile, OBSERVE_CONTAINER, OBSERVE_HOST_SHELL, Problem};

/// Every problem in the set, sorted by file and position.
pub fn validate(lessons: &[LessonFile]) -> Vec<Problem> {
    let mut out = Vec::new();
    let mut ids: HashMap<&str, &LessonFile> = HashMap::new();
    for l in lessons {
        if let Some(first) = ids.insert(l.id(), l) {
            out.push(l.problem(
                l.front.id.span(),
                format!("lesson id {:?} is already used by {}", l.id(), first.path),
            ));
        }
    }
    for l in lessons {
        for dep in &l.front.builds_on {
            if !ids.contains_key(dep.get_ref().as_str()) {
                out.push(l.problem(
                    dep.span(),
                    format!(
                        "builds_on names {:?}, which no lesson has as its id",
                        dep.get_ref()
                    ),
                ));
            } else if dep.get_ref() == l.id() {
                out.push(l.problem(dep.span(), "a lesson cannot build on itself"));
            }
        }
        launch(l, &mut out);
        super::passing::validate(l, &ids, &mut out);
        observe(l, &mut out);
        checks(l, &mut out);
        notes(l, &mut out);
    }
    out.sort_by(|a, b| {
        (&a.path, a.pos.line, a.pos.column).cmp(&(&b.path, b.pos.line, b.pos.column))
    });
    out
}

fn launch(l: &LessonFile, out: &mut Vec<Problem>) {
    let la = &l.front.launch;
    let mut seen = HashSet::new();
    for s in &la.steps {
        let name = s.get_ref().as_str();
        if !STEP_NAMES.contains(&name) {
            out.push(l.problem(
                s.span(),
                format!(
                    "unknown step {name:?}: expected one of {}",
                    STEP_NAMES.join(", ")
                ),
            ));
        } else if !seen.insert(name) {
            out.push(l.problem(s.span(), format!("step {name:?} is listed twice")));
        }
    }
    let has = |n: &str| seen.contains(n);
    // (the step that is wrong, whether it is, why)
    let rules = [
        (
            "chroot",
            has("pivot_root"),
            "pivot_root and chroot exclude each other: pick one",
        ),
        (
            "pivot_root",
            !has("rootfs"),
            "pivot_root needs the rootfs step before it",
        ),
        (
            "chroot",
            !has("rootfs"),
            "chroot needs the rootfs step before it",
        ),
        (
            "rootfs",
            !has("mount"),
            "rootfs needs the mount step (its own mount namespace)",
        ),
    ];
    for (name, wrong, why) in rules {
        if let Some(s) = la.steps.iter().find(|s| s.get_ref() == name)
            && wrong
        {
            out.push(l.problem(s.span(), why));
        }
    }
    if let Some(m) = &la.memory
        && let Err(e) = parse_size(m.get_ref())
    {
        out.push(l.problem(m.span(), e.to_string()));
    }
    if let Some(n) = &la.net
        && !["none", "veth"].contains(&n.get_ref().as_str())
    {
        out.push(l.problem(
            n.span(),
            format!("net is {:?}: expected \"none\" or \"veth\"", n.get_ref()),
        ));
    }
    for d in &la.seccomp_deny {
        if crate::runtime::security::syscall_number(d.get_ref()).is_none() {
            out.push(l.problem(
                d.span(),
                format!("unknown syscall {:?} for seccomp_deny", d.get_ref()),
            ));
        }
    }
    for c in la.keep_caps.iter().flatten() {
        if crate::runtime::security::parse_caps(std::slice::from_ref(c.get_ref())).is_err() {
            out.push(l.problem(c.span(), format!("unknown capability {:?}", c.get_ref())));
        }
    }
    for v in &la.volumes {
        if let Err(e) = Volume::parse(v.get_ref(), false) {
            out.push(l.problem(v.span(), e.to_string()));
        }
    }
}

/// `observe` names a known mode; a lesson made by hand (`host-shell`) takes no step
/// (its container is the learner's) and has the learner act in the host shell:
/// `host_solve` and `host_cheat`, not `solve` and `cheat`, which run inside a container
/// the lesson does not build.
fn observe(l: &LessonFile, out: &mut Vec<Problem>) {
    let Some(o) = &l.front.observe else {
        return;
    };
    if ![OBSERVE_CONTAINER, OBSERVE_HOST_SHELL].contains(&o.get_ref().as_str()) {
        out.push(l.problem(
            o.span(),
            format!(
                "observe is {:?}: expected {OBSERVE_CONTAINER:?} or {OBSERVE_HOST_SHELL:?}",
                o.get_ref()
            ),
        ));
        return;
    }
    if !l.by_hand() {
        return;
    }
    if let Some(s) = l.front.launch.steps.first() {
        out.push(l.problem(
            s.span(),
            "a lesson with observe = \"host-shell\" takes no step: the learner makes the container in the host shell",
        ));
    }
    for c in &l.front.checks {
        for (field, set) in [("solve", c.solve.is_some()), ("cheat", c.cheat.is_some())] {
            if set {
                out.push(l.problem(
                    c.id.span(),
                    format!(
                        "check {:?}: in a lesson made by hand the learner types in the host shell: use `host_{field}`, not `{field}`",
                        c.id.get_ref()
                    ),
                ));
            }
        }
    }
}

/// Per-step speaker notes name steps the lesson takes (those listed, and the final
/// `exec` every launch ends with), and say something.
fn notes(l: &LessonFile, out: &mut Vec<Problem>) {
    let taken: Vec<&str> = l
        .front
        .launch
        .steps
        .iter()
        .map(|s| s.get_ref().as_str())
        .chain(["exec"])
        .collect();
    for (step, note) in &l.front.notes {
        let name = step.get_ref().as_str();
        if !STEP_NAMES.contains(&name) {
            out.push(l.problem(
                step.span(),
                format!(
                    "[notes] names an unknown step {name:?}: expected one of {}",
                    STEP_NAMES.join(", ")
                ),
            ));
        } else if !taken.contains(&name) {
            out.push(l.problem(
                step.span(),
                format!(
                    "[notes] has a note for step {name:?}, which this lesson does not take (its steps: {})",
                    taken.join(", ")
                ),
            ));
        }
        if note.get_ref().trim().is_empty() {
            out.push(l.problem(note.span(), format!("the note for {name:?} is empty")));
        }
    }
}

fn checks(l: &LessonFile, out: &mut Vec<Problem>) {
    let mut ids = HashSet::new();
    for c in &l.front.checks {
        if !ids.insert(c.id.get_ref().as_str()) {
            out.push(l.problem(
                c.id.span(),
                format!("check id {:?} is used twice", c.id.get_ref()),
            ));
        }
        if c.say.trim().is_empty() {
            out.push(l.problem(
                c.id.span(),
                "the check says nothing: `say` tells the learner what to achieve",
            ));
        }
        let Some(kind) = Kind::parse(c.kind.get_ref()) else {
            out.push(l.problem(
                c.kind.span(),
                format!(
                    "unknown check kind {:?}: expected one of {}",
                    c.kind.get_ref(),
                    check::KINDS.join(", ")
                ),
            ));
            continue;
        };
        if (c.cheat.is_some() || c.host_cheat.is_some())
            && c.solve.is_none()
            && c.host_solve.is_none()
        {
            out.push(l.problem(
                c.id.span(),
                "a cheat must leave red a check that needs the learner: give it a `solve` or a `host_solve`",
            ));
        }
        let missing = |what: &str| format!("a {} check needs `{what}`", c.kind.get_ref());
        match kind {
            Kind::NsDiffers | Kind::NsSame => match &c.ns {
                None => out.push(l.problem(c.kind.span(), missing("ns"))),
                Some(ns) => {
                    if let Err(e) = Ns::parse(ns.get_ref()) {
                        out.push(l.problem(ns.span(), e.to_string()));
                    }
                }
            },
            Kind::Command | Kind::HostCommand => {
                match &c.command {
                    None => out.push(l.problem(c.kind.span(), missing("command"))),
                    Some(cmd) if cmd.get_ref().trim().is_empty() => {
                        out.push(l.problem(cmd.span(), "the command is empty"))
                    }
                    Some(_) => {}
                }
                if let Some(e) = &c.expect
                    && !["success", "failure"].contains(&e.get_ref().as_str())
                {
                    out.push(l.problem(
                        e.span(),
                        format!(
                            "expect is {:?}: expected \"success\" or \"failure\"",
                            e.get_ref()
                        ),
                    ));
                }
            }
            Kind::UpperHas | Kind::LowerLacks | Kind::ContainerMount => match &c.path {
                None => out.push(l.problem(c.kind.span(), missing("path"))),
                Some(p) if !p.get_ref().starts_with('/') => {
                    out.push(l.problem(p.span(), "path must be absolute (inside the container)"))
                }
                Some(_) => {}
            },
            Kind::Pid1 => {
                if c.comm.is_none() {
                    out.push(l.problem(c.kind.span(), missing("comm")));
                }
            }
            Kind::OomKills | Kind::HostnameDiffers | Kind::IpcHidden => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::lesson::format::parse;

    fn lesson(path: &str, front: &str) -> LessonFile {
        parse(path, &format!("+++\n{front}+++\nbody\n")).unwrap()
    }

    #[test]
    fn a_good_set_has_no_problems() {
        let a = lesson("a.md", "id = \"a\"\ntitle = \"A\"\norder = 1\n");
        let b = lesson(
            "b.md",
            "id = \"b\"\ntitle = \"B\"\norder = 2\nbuilds_on = [\"a\"]\n[launch]\nsteps = [\"uts\", \"mount\", \"rootfs\", \"pivot_root\"]\nmemory = \"64M\"\n[[check]]\nid = \"c\"\nsay = \"x\"\nkind = \"ns_differs\"\nns = \"uts\"\n",
        );
        assert_eq!(validate(&[a, b]), vec![]);
    }

    #[test]
    fn every_problem_is_reported_with_its_position() {
        let a = lesson(
            "a.md",
            "id = \"a\"\ntitle = \"A\"\norder = 1\nbuilds_on = [\"nope\"]\n[launch]\nsteps = [\"uts\", \"warp\"]\nmemory = \"12Q\"\n[[check]]\nid = \"c\"\nsay = \"x\"\nkind = \"telepathy\"\n[[check]]\nid = \"d\"\nsay = \"y\"\nkind = \"ns_differs\"\n",
        );
        let problems = validate(&[a]);
        let text: Vec<String> = problems.iter().map(|p| p.to_string()).collect();
        assert_eq!(problems.len(), 5, "{text:#?}");
        assert!(
            text[0].starts_with("a.md:5:14: builds_on names \"nope\""),
            "{text:#?}"
        );
        assert!(
            text[1].starts_with("a.md:7:17: unknown step \"warp\""),
            "{text:#?}"
        );
        assert!(text[2].starts_with("a.md:8:10: "), "{text:#?}");
        assert!(
            text[3].contains("unknown check kind \"telepathy\""),
            "{text:#?}"
        );
        assert!(text[4].contains("needs `ns`"), "{text:#?}");
    }

    #[test]
    fn step_notes_name_steps_the_lesson_takes() {
        let a = lesson(
            "a.md",
            "id = \"a\"\ntitle = \"A\"\norder = 1\n[notes]\nuts = \"Ask the room.\"\nexec = \"Last.\"\npid = \"Not taken.\"\nwarp = \"No such step.\"\nipc = \" \"\n[launch]\nsteps = [\"uts\", \"ipc\"]\n",
        );
        assert_eq!(a.step_note("uts"), Some("Ask the room."));
        assert_eq!(a.step_note("mount"), None);
        let text: Vec<String> = validate(&[a]).iter().map(|p| p.to_string()).collect();
        assert_eq!(text.len(), 3, "{text:#?}");
        assert!(
            text[0].starts_with("a.md:8:1: [notes] has a note for step \"pid\", which this lesson does not take (its steps: uts, ipc, exec)"),
            "{text:#?}"
        );
        assert!(
            text[1].starts_with("a.md:9:1: [notes] names an unknown step \"warp\""),
            "{text:#?}"
        );
        assert!(
            text[2].starts_with("a.md:10:7: the note for \"ipc\" is empty"),
            "{text:#?}"
        );
    }

    #[test]
    fn a_lesson_made_by_hand_takes_no_step_and_solves_on_the_host() {
        let a = lesson(
            "a.md",
            "id = \"a\"\ntitle = \"A\"\norder = 1\nobserve = \"host-shell\"\n[launch]\nsteps = [\"uts\"]\n[[check]]\nid = \"c\"\nsay = \"x\"\nkind = \"ns_differs\"\nns = \"uts\"\nsolve = \"hostname x\"\nhost_cheat = \"true\"\n",
        );
        assert!(a.by_hand());
        let text: Vec<String> = validate(&[a]).iter().map(|p| p.to_string()).collect();
        assert_eq!(text.len(), 2, "{text:#?}");
        assert!(
            text[0].starts_with("a.md:7:10: a lesson with observe = \"host-shell\" takes no step"),
            "{text:#?}"
        );
        assert!(
            text[1].starts_with("a.md:9:6: check \"c\": in a lesson made by hand the learner types in the host shell: use `host_solve`"),
            "{text:#?}"
        );
        let b = lesson(
            "b.md",
            "id = \"b\"\ntitle = \"B\"\norder = 1\nobserve = \"shell\"\n",
        );
        assert!(!b.by_hand());
        let text: Vec<String> = validate(&[b]).iter().map(|p| p.to_string()).collect();
        assert_eq!(
            text,
            ["b.md:5:11: observe is \"shell\": expected \"container\" or \"host-shell\""]
        );
    }

    #[test]
    fn duplicate_ids_name_the_other_file() {
        let a = lesson("a.md", "id = \"x\"\ntitle = \"A\"\norder = 1\n");
        let b = lesson("b.md", "id = \"x\"\ntitle = \"B\"\norder = 2\n");
        let p = validate(&[a, b]);
        assert_eq!(p.len(), 1);
        assert!(
            p[0].to_string()
                .starts_with("b.md:2:6: lesson id \"x\" is already used by a.md"),
            "{}",
            p[0]
        );
    }
}
