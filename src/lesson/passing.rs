//! Steps a lesson only passes through: taken, because the container needs them, but
//! explained in another lesson.
//!
//! ```text
//! [launch]
//! steps = ["net", "mount", "pid", "rootfs", "pivot_root"]
//! introduces = ["net"]
//! pass_through = { mount = "mount", pid = "pid", rootfs = "chroot", pivot_root = "pivot-root" }
//! ```
//!
//! Each passed-through step names the lesson that introduces it. The TUI takes a run
//! of consecutive passed-through steps with one key press and one line per step
//! (`ui/draw/step.rs`); `lessons run` prints one line for the run. A lesson *explains*
//! every other step it takes. A track marked `introduced_first` lets no lesson explain
//! a step before the lesson that introduces it ([`track_order`]).

use std::collections::HashMap;

use crate::runtime::plan::STEP_NAMES;

use super::format::{LessonFile, Problem};

/// `(step, id of the lesson that introduces it)` for every step the lesson passes
/// through, in launch order.
pub fn pointers(l: &LessonFile) -> Vec<(String, String)> {
    let mut v: Vec<(String, String)> = l
        .front
        .launch
        .pass_through
        .iter()
        .map(|(k, v)| (k.get_ref().clone(), v.get_ref().clone()))
        .collect();
    v.sort_by_key(|(s, _)| STEP_NAMES.iter().position(|n| n == s));
    v
}

/// Whether the lesson takes `step` and explains it (does not pass it through).
pub fn explains(l: &LessonFile, step: &str) -> bool {
    let la = &l.front.launch;
    la.steps.iter().any(|s| s.get_ref() == step)
        && !la.pass_through.keys().any(|k| k.get_ref() == step)
}

pub fn introduces(l: &LessonFile, step: &str) -> bool {
    l.front
        .launch
        .introduces
        .iter()
        .any(|s| s.get_ref() == step)
}

/// How many of `names` (the step names from the next one on), from the first, are
/// passed through: the steps one key press takes (0 when the next is explained).
pub fn run_len(pointers: &[(String, String)], names: &[&str]) -> usize {
    names
        .iter()
        .take_while(|n| pointers.iter().any(|(s, _)| s == *n))
        .count()
}

/// The run of passed-through steps that starts at `step`, by name in launch order:
/// what one key press takes from there (empty when the lesson explains `step`).
pub fn run_from(l: &LessonFile, step: &str) -> Vec<String> {
    let mut taken: Vec<&str> = l
        .front
        .launch
        .steps
        .iter()
        .map(|s| s.get_ref().as_str())
        .collect();
    taken.sort_by_key(|s| STEP_NAMES.iter().position(|n| n == s));
    let passed = |s: &str| l.front.launch.pass_through.keys().any(|k| k.get_ref() == s);
    taken
        .iter()
        .skip_while(|s| **s != step)
        .take_while(|s| passed(s))
        .map(|s| s.to_string())
        .collect()
}

/// The one line for a run of passed-through steps:
/// `mount, pid, rootfs — see lessons mount, pid, chroot`.
pub fn line(run: &[(&str, &str)]) -> String {
    let steps: Vec<&str> = run.iter().map(|(s, _)| *s).collect();
    let mut lessons: Vec<&str> = Vec::new();
    for (_, l) in run {
        if !lessons.contains(l) {
            lessons.push(l);
        }
    }
    format!(
        "{} — see lesson{} {}",
        steps.join(", "),
        if lessons.len() == 1 { "" } else { "s" },
        lessons.join(", ")
    )
}

/// The `introduces` and `pass_through` of one lesson, against the set: each names a
/// step the lesson takes, no step is both, and each pointer names a lesson that
/// introduces that step.
pub fn validate(l: &LessonFile, ids: &HashMap<&str, &LessonFile>, out: &mut Vec<Problem>) {
    let la = &l.front.launch;
    let taken: Vec<&str> = la.steps.iter().map(|s| s.get_ref().as_str()).collect();
    let not_taken = |what: &str, name: &str| {
        if STEP_NAMES.contains(&name) {
            format!(
                "{what} names step {name:?}, which this lesson does not take (its steps: {})",
                taken.join(", ")
            )
        } else {
            format!(
                "{what} names an unknown step {name:?}: expected one of {}",
                STEP_NAMES.join(", ")
            )
        }
    };
    for (i, s) in la.introduces.iter().enumerate() {
        let name = s.get_ref().as_str();
        if !taken.contains(&name) {
            out.push(l.problem(s.span(), not_taken("introduces", name)));
        } else if la.introduces[..i].iter().any(|o| o.get_ref() == name) {
            out.push(l.problem(s.span(), format!("step {name:?} is introduced twice")));
        } else if la.pass_through.keys().any(|k| k.get_ref() == name) {
            out.push(l.problem(
                s.span(),
                format!("step {name:?} is both introduced and passed through: pick one"),
            ));
        }
    }
    for (step, to) in &la.pass_through {
        let name = step.get_ref().as_str();
        if !taken.contains(&name) {
            out.push(l.problem(step.span(), not_taken("pass_through", name)));
            continue;
        }
        let id = to.get_ref().as_str();
        match ids.get(id) {
            _ if id == l.id() => out.push(l.problem(
                to.span(),
                format!("{name:?} is passed through to this very lesson: explain it here instead (leave it out of pass_through)"),
            )),
            None => out.push(l.problem(
                to.span(),
                format!("pass_through points {name:?} at {id:?}, which no lesson has as its id"),
            )),
            Some(other) if !introduces(other, name) => out.push(l.problem(
                to.span(),
                format!(
                    "pass_through points {name:?} at {id:?}, which does not introduce it (its introduces: {}); name the lesson that does",
                    list(&other.front.launch.introduces)
                ),
            )),
            Some(_) => {}
        }
    }
}

fn list(v: &[toml::Spanned<String>]) -> String {
    if v.is_empty() {
        return "none".into();
    }
    v.iter()
        .map(|s| s.get_ref().as_str())
        .collect::<Vec<_>>()
        .join(", ")
}

/// For a track marked `introduced_first`: the lesson at `j` of `order` explains no step
/// that neither it nor a lesson before it introduces. Returns one message per such
/// step (the caller places them at the track's entry).
pub fn track_order(order: &[&LessonFile], j: usize, set: &[LessonFile]) -> Vec<String> {
    let l = order[j];
    let mut out = Vec::new();
    for s in &l.front.launch.steps {
        let step = s.get_ref().as_str();
        if !explains(l, step) || order[..=j].iter().any(|o| introduces(o, step)) {
            continue;
        }
        let by: Vec<&str> = set
            .iter()
            .filter(|o| introduces(o, step))
            .map(|o| o.id())
            .collect();
        let fix = match by.first() {
            Some(first) => format!(
                "introduced by {}: pass it through (pass_through = {{ {step} = \"{first}\" }}) or put {first} before it in the track",
                by.join(", ")
            ),
            None => "no lesson introduces it: add it to the `introduces` of the lesson that explains it first".into(),
        };
        out.push(format!(
            "lesson {:?} explains step {step:?} before it is introduced ({fix})",
            l.id()
        ));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::lesson::format::parse;

    fn lesson(id: &str, launch: &str) -> LessonFile {
        parse(
            &format!("{id}.md"),
            &format!("+++\nid = \"{id}\"\ntitle = \"t\"\norder = 1\n[launch]\n{launch}+++\n"),
        )
        .unwrap()
    }

    fn set() -> Vec<LessonFile> {
        vec![
            lesson("mount", "steps = [\"mount\"]\nintroduces = [\"mount\"]\n"),
            lesson(
                "root",
                "steps = [\"mount\", \"rootfs\", \"pivot_root\"]\nintroduces = [\"rootfs\", \"pivot_root\"]\npass_through = { mount = \"mount\" }\n",
            ),
            lesson(
                "net",
                "steps = [\"net\", \"mount\", \"rootfs\", \"pivot_root\"]\nintroduces = [\"net\"]\npass_through = { pivot_root = \"root\", mount = \"mount\", rootfs = \"root\" }\n",
            ),
        ]
    }

    fn problems(set: &[LessonFile]) -> Vec<String> {
        let ids = set.iter().map(|l| (l.id(), l)).collect();
        let mut out = Vec::new();
        for l in set {
            validate(l, &ids, &mut out);
        }
        out.iter().map(|p| p.to_string()).collect()
    }

    #[test]
    fn pointers_in_launch_order_and_the_run_a_press_takes() {
        let s = set();
        let p = pointers(&s[2]);
        assert_eq!(
            p,
            [
                ("mount".to_string(), "mount".to_string()),
                ("rootfs".into(), "root".into()),
                ("pivot_root".into(), "root".into())
            ]
        );
        assert!(explains(&s[2], "net") && !explains(&s[2], "rootfs"));
        assert_eq!(run_from(&s[2], "mount"), ["mount", "rootfs", "pivot_root"]);
        assert_eq!(run_from(&s[2], "rootfs"), ["rootfs", "pivot_root"]);
        assert!(run_from(&s[2], "net").is_empty());
        assert_eq!(run_len(&p, &["net", "mount", "rootfs", "exec"]), 0);
        assert_eq!(run_len(&p, &["mount", "rootfs", "pivot_root", "exec"]), 3);
        let run: Vec<(&str, &str)> = p.iter().map(|(a, b)| (a.as_str(), b.as_str())).collect();
        assert_eq!(
            line(&run),
            "mount, rootfs, pivot_root — see lessons mount, root"
        );
        assert_eq!(line(&run[1..]), "rootfs, pivot_root — see lesson root");
        assert_eq!(problems(&s), Vec::<String>::new());
    }

    #[test]
    fn each_problem_at_its_place() {
        let mut s = set();
        s.push(lesson(
            "bad",
            "steps = [\"uts\", \"mount\"]\nintroduces = [\"uts\", \"ipc\", \"uts\", \"mount\"]\npass_through = { mount = \"mount\", pid = \"x\", uts = \"bad\" }\n",
        ));
        s.push(lesson(
            "bad2",
            "steps = [\"mount\", \"rootfs\"]\npass_through = { mount = \"net\", rootfs = \"nope\" }\n",
        ));
        assert_eq!(
            problems(&s),
            [
                "bad.md:7:15: step \"uts\" is both introduced and passed through: pick one",
                "bad.md:7:22: introduces names step \"ipc\", which this lesson does not take (its steps: uts, mount)",
                "bad.md:7:29: step \"uts\" is introduced twice",
                "bad.md:7:36: step \"mount\" is both introduced and passed through: pick one",
                "bad.md:8:35: pass_through names step \"pid\", which this lesson does not take (its steps: uts, mount)",
                "bad.md:8:52: \"uts\" is passed through to this very lesson: explain it here instead (leave it out of pass_through)",
                "bad2.md:7:26: pass_through points \"mount\" at \"net\", which does not introduce it (its introduces: net); name the lesson that does",
                "bad2.md:7:42: pass_through points \"rootfs\" at \"nope\", which no lesson has as its id",
            ]
        );
    }

    #[test]
    fn an_ordered_track_explains_nothing_before_it_is_introduced() {
        let s = set();
        // net explains net only (it introduces it); root explains rootfs and
        // pivot_root, which it introduces: any order is fine for these two...
        let order: Vec<&LessonFile> = vec![&s[2], &s[1], &s[0]];
        assert!((0..3).all(|j| track_order(&order, j, &s).is_empty()));
        // ...but a lesson that explains the mount step it does not introduce needs
        // the mount lesson first.
        let m = lesson("m2", "steps = [\"mount\", \"uts\"]\n");
        let order: Vec<&LessonFile> = vec![&m, &s[0]];
        assert_eq!(
            track_order(&order, 0, &s),
            [
                "lesson \"m2\" explains step \"mount\" before it is introduced (introduced by mount: pass it through (pass_through = { mount = \"mount\" }) or put mount before it in the track)",
                "lesson \"m2\" explains step \"uts\" before it is introduced (no lesson introduces it: add it to the `introduces` of the lesson that explains it first)",
            ]
        );
        let order: Vec<&LessonFile> = vec![&s[0], &m];
        assert_eq!(
            track_order(&order, 1, &s).len(),
            1,
            "uts is still unintroduced"
        );
    }
}
