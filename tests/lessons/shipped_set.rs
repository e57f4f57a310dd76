//! See tests/lessons.rs. The shipped set: valid, covering the syllabus, complete and
//! consistent, the scaffolding passed through rather than repeated.

use std::collections::{BTreeMap, BTreeSet};

use underhood::lesson::passing;
use underhood::lesson::set;

use crate::common::*;
use crate::{code, manifest, shipped};

pub fn trials() -> Vec<Trial> {
    trials![None;
        shipped_lessons_pass_check,
        every_syllabus_row_has_a_lesson,
        every_lesson_is_complete_and_consistent,
        the_scaffolding_is_passed_through_not_repeated,
    ]
}

fn shipped_lessons_pass_check() {
    let files = std::fs::read_dir(manifest().join("lessons"))
        .unwrap()
        .flatten()
        .filter(|e| {
            let n = e.file_name().to_string_lossy().into_owned();
            n.ends_with(".md") && n != "README.md"
        })
        .count();
    let want = format!("underhood: {files} lessons, no problems");
    // The set compiled into the binary, and the directory it was compiled from.
    let dir = manifest().join("lessons");
    for args in [
        vec!["lessons", "check"],
        vec!["lessons", "check", dir.to_str().unwrap()],
    ] {
        let o = underhood(&args);
        assert_eq!(code(&o), Some(0), "{args:?}: {}", stderr(&o));
        assert_eq!(stdout(&o).trim(), want, "{args:?}");
        assert_eq!(stderr(&o), "", "{args:?}");
    }
}

fn every_syllabus_row_has_a_lesson() {
    let lessons = shipped();
    let orders: BTreeSet<u32> = lessons.iter().map(|l| l.front.order).collect();
    // 18 to 20: the lessons made by hand in the host shell.
    assert_eq!(orders, (0..=20).collect::<BTreeSet<u32>>());
}

fn every_lesson_is_complete_and_consistent() {
    let lessons = shipped();
    let order: BTreeMap<&str, u32> = lessons.iter().map(|l| (l.id(), l.front.order)).collect();
    for l in &lessons {
        let id = l.id();
        let f = &l.front;
        assert!(!f.summary.is_empty(), "{id}: no summary");
        assert!(!f.man.is_empty(), "{id}: no man page to read");
        assert!(!f.hints.is_empty(), "{id}: no hints");
        assert!(!f.tries.is_empty(), "{id}: nothing to try");
        assert!(l.body.len() > 500, "{id}: the body explains too little");
        if f.order > 0 {
            assert!(
                !f.builds_on.is_empty(),
                "{id}: says nothing of what it builds on"
            );
        }
        for dep in &f.builds_on {
            let d = dep.get_ref().as_str();
            assert!(
                order[d] <= f.order,
                "{id} (order {}) builds on {d}, which comes later ({})",
                f.order,
                order[d]
            );
        }
        // Every step it explains has a `## step: ...` section; a step it only passes
        // through has none (the TUI shows one line for it, never a section).
        let heads: BTreeSet<&str> = l
            .body
            .lines()
            .filter_map(|line| line.strip_prefix("## "))
            .filter_map(|h| h.split_once(':').map(|(name, _)| name))
            .collect();
        for s in &f.launch.steps {
            let step = s.get_ref().as_str();
            if passing::explains(l, step) {
                assert!(heads.contains(step), "{id}: no `## {step}: ...` section");
            } else {
                assert!(
                    !heads.contains(step),
                    "{id}: passes {step} through, yet has a `## {step}: ...` section that would never show"
                );
            }
        }
        // What needs root says what a learner without root can do.
        let steps: BTreeSet<&str> = f
            .launch
            .steps
            .iter()
            .map(|s| s.get_ref().as_str())
            .collect();
        let veth = f.launch.net.as_ref().is_some_and(|n| n.get_ref() == "veth");
        if steps.contains("cgroup") || veth {
            assert!(
                f.rootless_note.is_some(),
                "{id}: needs root but has no rootless_note"
            );
        }
        for c in &f.checks {
            let cid = c.id.get_ref();
            assert!(
                c.host_undo.is_none() || c.host_solve.is_some(),
                "{id}/{cid}: host_undo without host_solve never runs"
            );
            // A cheat is tested against a check that stays red until the learner acts;
            // on one that passes from the steps alone it would prove nothing.
            assert!(
                (c.cheat.is_none() && c.host_cheat.is_none())
                    || c.solve.is_some()
                    || c.host_solve.is_some(),
                "{id}/{cid}: a cheat on a check that needs no action proves nothing"
            );
        }
        // Every lesson leaves the learner something to do (issue 12).
        assert!(
            f.checks
                .iter()
                .any(|c| c.solve.is_some() || c.host_solve.is_some()),
            "{id}: no check needs the learner's action"
        );
    }
}

/// Issue 17: the mount/pid/rootfs/pivot_root scaffolding that most lessons take is
/// explained once, by the lessons that introduce it, and passed through elsewhere; the
/// self-study track explains nothing before it is introduced (`lessons check` enforces
/// the rule: here, that the shipped tracks ask for it).
fn the_scaffolding_is_passed_through_not_repeated() {
    let lessons = shipped();
    let mut explained = 0;
    let mut passed = 0;
    for l in &lessons {
        for s in &l.front.launch.steps {
            if passing::explains(l, s.get_ref()) {
                explained += 1;
            } else {
                passed += 1;
            }
        }
        // No section left that only points elsewhere ("As in lesson 9").
        for line in l.body.lines().filter(|x| x.starts_with("## ")) {
            let lower = line.to_lowercase();
            assert!(
                !lower.contains(": as in lesson") && !lower.ends_with(": pid 1"),
                "{}: {line}",
                l.id()
            );
        }
    }
    eprintln!("steps taken by the lessons: {explained} explained, {passed} passed through");
    assert!(passed >= 40, "{passed} steps passed through");
    let tracks = set::builtin().unwrap().tracks;
    let strict: Vec<&str> = tracks
        .iter()
        .filter(|t| t.introduced_first)
        .map(|t| t.name())
        .collect();
    assert_eq!(strict, ["workshop", "self-study"]);
    // The rule bites: the namespaces lesson explaining rootfs (as it did before it
    // passed it through) is reported at its place in the self-study track.
    let mut changed = lessons.clone();
    let ns = changed.iter_mut().find(|l| l.id() == "namespaces").unwrap();
    let text = ns.text.replace(
        "pass_through = { rootfs = \"chroot\", pivot_root = \"pivot-root\" }\n",
        "",
    );
    *ns = underhood::lesson::format::parse(&ns.path, &text).unwrap();
    let tracks_text = std::fs::read_to_string(manifest().join("lessons/tracks.toml")).unwrap();
    let problems: Vec<String> =
        underhood::lesson::track::load("tracks.toml", &tracks_text, &changed)
            .unwrap_err()
            .iter()
            .map(|p| p.to_string())
            .collect();
    assert!(
        problems.iter().any(|p| p.contains(
            "lesson \"namespaces\" explains step \"rootfs\" before it is introduced (introduced by chroot"
        )),
        "{problems:#?}"
    );
}
