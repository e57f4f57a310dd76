//! Screen snapshots of `underhood class` (the instructor's grid), drawn with ratatui's
//! `TestBackend` from a class built with the same updates the live view gets (the
//! session's position, then one entry per learner), at 80x24 and 120x40. A change to
//! a screen fails here with a diff; accept it with `cargo insta review` after looking.

use ratatui::Terminal;
use ratatui::backend::TestBackend;

use underhood::session::follow::learner::{CheckState, Entry, Progress, State};
use underhood::session::follow::position::{LessonRef, Position, StepRef};
use underhood::session::follow::{Feed, position};
use underhood::ui::class::{ClassView, draw};

fn position(lesson: &str, title: &str, done: usize, of: usize) -> Position {
    Position {
        v: position::VERSION,
        lesson: Some(LessonRef {
            id: lesson.into(),
            title: title.into(),
        }),
        done,
        of,
        last: Some(StepRef {
            name: "pid".into(),
            title: "PID namespace".into(),
        }),
        next: None,
        started_ms: 0,
        pid: 4242,
        following: None,
    }
}

fn check(id: &str, state: State, why: Option<&str>) -> CheckState {
    CheckState {
        id: id.into(),
        state,
        why: why.map(str::to_string),
    }
}

/// Twenty learners of the OOM lesson: most along, some behind, one on another lesson,
/// one who sent an escape sequence for a name, two gone.
fn class() -> ClassView {
    let set = underhood::lesson::set::builtin().expect("the shipped lessons");
    let mut v = ClassView::new("unix:@underhood/4242".into());
    v.on_feed(Feed::Connected { again: false }, &set, 0);
    v.on_feed(
        Feed::Position(position("oom", "The OOM kill", 5, 5)),
        &set,
        0,
    );
    for i in 1..=20u64 {
        let name = match i {
            7 => "\u{1b}[2J\u{1b}]0;pwned\u{7}eve".to_string(),
            _ => format!("learner{i:02}@lab-{i}"),
        };
        let (done, step) = if i % 5 == 0 {
            (3, "pid")
        } else {
            (5, "pivot_root")
        };
        let killed = if i % 3 == 0 {
            check("oom-killed", State::NotYet, None)
        } else {
            check("oom-killed", State::Passed, None)
        };
        let read = match i % 4 {
            0 => check("counter-read", State::Passed, None),
            1 => check(
                "counter-read",
                State::Failed,
                Some("you wrote: nothing; the cgroup counts oom_kill 1"),
            ),
            _ => check("counter-read", State::NotYet, None),
        };
        let lesson = if i == 11 { "cgroups" } else { "oom" };
        let gone = match i {
            13 => Some("disconnected".to_string()),
            17 => Some("sent garbage: not JSON: expected value at line 1 column 1".to_string()),
            _ => None,
        };
        let e = Entry {
            id: i,
            name,
            gone,
            progress: Some(Progress {
                lesson: Some(lesson.into()),
                done,
                of: 5,
                step: Some(step.into()),
                checks: vec![killed, read, check("container-alive", State::Passed, None)],
            }),
        };
        v.on_feed(Feed::Learner(e), &set, 0);
    }
    v
}

fn screen(v: &ClassView, w: u16, h: u16) -> String {
    let mut t = Terminal::new(TestBackend::new(w, h)).unwrap();
    t.draw(|f| draw(f, v)).unwrap();
    let buf = t.backend().buffer();
    let mut out = String::new();
    for y in 0..h {
        for x in 0..w {
            out.push_str(buf[(x, y)].symbol());
        }
        out.push('\n');
    }
    out
}

#[test]
fn twenty_learners_at_80x24() {
    insta::assert_snapshot!(screen(&class(), 80, 24));
}

#[test]
fn twenty_learners_at_120x40() {
    insta::assert_snapshot!(screen(&class(), 120, 40));
}

#[test]
fn scrolled_at_80x24_the_rest_of_the_class_and_who_is_gone() {
    let mut v = class();
    v.scroll = 100;
    let s = screen(&v, 80, 24);
    assert!(s.contains("gone: disconnected"), "{s}");
    insta::assert_snapshot!(s);
}

#[test]
fn the_counts_are_of_the_learners_present_on_the_lesson() {
    let v = class();
    // 18 present; oom-killed passed by those not divisible by 3, on oom, present:
    // 1..=20 minus {3,6,9,12,15,18}, minus 11 (other lesson), 13 and 17 (gone).
    assert_eq!(v.counts(), vec![11, 5, 17]);
    let s = screen(&v, 120, 40);
    assert!(s.contains("11 of 18 have oom-killed"), "{s}");
    assert!(!s.contains('\u{1b}'), "an escape reached the screen");
}

#[test]
fn before_any_position_and_on_the_full_walk() {
    let set = underhood::lesson::set::builtin().expect("the shipped lessons");
    let mut v = ClassView::new("unix:@underhood/1".into());
    assert!(screen(&v, 80, 24).contains("waiting for the session's position"));
    let mut walk = position("x", "x", 2, 12);
    walk.lesson = None;
    v.on_feed(Feed::Position(walk), &set, 0);
    let s = screen(&v, 80, 24);
    assert!(s.contains("no lesson (the full walk)"), "{s}");
}
