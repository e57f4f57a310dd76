//! The step pane of a lesson that passes steps through (`lesson::passing`), drawn
//! with ratatui's `TestBackend` from the recorded launch in `tests/fixtures/tui/`
//! (see `ui_screens.rs`), at 80x24 and 120x40.
//!
//! The recorded walk takes exactly the steps of the `together` lesson, which passes
//! every one through: its screens are whole and true to the recording. The `net`
//! lesson explains its first step and passes the four others through; its plan is the
//! recorded steps cut to the lesson's, and only its step pane is compared (the other
//! panes would show the recording's uts and ipc steps, which that lesson does not
//! take).

use underhood::lesson::format::LessonFile;
use underhood::lesson::set;
use underhood::ui::app::{App, LessonView};
use underhood::ui::theme::ThemeKind;

#[path = "fixtures/tui/app.rs"]
mod recorded;
#[path = "fixtures/tui/screen.rs"]
mod screen;

use recorded::{app_after, session};
use screen::{render, text};

const SIZES: [(u16, u16); 2] = [(80, 24), (120, 40)];

fn lesson(id: &str) -> LessonFile {
    set::builtin()
        .expect("the shipped lessons")
        .get(id)
        .unwrap_or_else(|| panic!("no lesson {id}"))
        .clone()
}

/// The recorded app after `done` steps, following lesson `id`.
fn in_lesson(id: &str, done: usize) -> App {
    let l = lesson(id);
    let mut app = app_after(done, ThemeKind::Default);
    app.lesson = Some(LessonView::from_file(&l));
    app
}

/// The step pane, borders included: the box whose top border holds the lesson's title.
fn step_pane(screen: &str) -> String {
    let lines: Vec<&str> = screen.lines().collect();
    let (top, col) = lines
        .iter()
        .enumerate()
        .find_map(|(i, l)| l.find("┌ Lesson ").map(|c| (i, c)))
        .unwrap_or_else(|| panic!("no lesson pane in\n{screen}"));
    let chars: Vec<char> = lines[top].chars().collect();
    let left = lines[top][..col].chars().count();
    let right = (left + 1..chars.len())
        .find(|&i| chars[i] == '┐')
        .expect("the pane's top right corner");
    let mut out = String::new();
    for l in &lines[top..] {
        let row: String = l.chars().skip(left).take(right + 1 - left).collect();
        out.push_str(&row);
        out.push('\n');
        if row.starts_with('└') {
            break;
        }
    }
    out
}

#[test]
fn together_passes_every_step_through_with_one_press() {
    let app = in_lesson("together", 0);
    assert_eq!(
        app.steps.len(),
        12,
        "the recorded walk is the lesson's plan"
    );
    // One press takes the 11 steps, not the exec.
    assert_eq!(app.steps_per_press(), 11);
    for (w, h) in SIZES {
        let screen = text(&render(&app, w, h));
        insta::assert_snapshot!(format!("together_start_{w}x{h}"), screen);
        assert!(
            screen.contains("next (1-11/12), passing through:"),
            "{screen}"
        );
    }
    // After the run, the exec is explained (by the lesson's general text): one step.
    let app = in_lesson("together", 11);
    assert_eq!(app.steps_per_press(), 1);
    assert!(app.pass_run_steps().is_empty());
}

#[test]
fn net_explains_its_step_then_passes_four_through() {
    let l = lesson("net");
    let steps = underhood::lesson::plan::filter(&l, session().steps);
    let names: Vec<&str> = steps.iter().map(|s| s.name()).collect();
    assert_eq!(
        names,
        ["net", "mount", "pid", "rootfs", "pivot_root", "exec"]
    );
    let mut app = in_lesson("net", 0);
    app.steps = steps;
    // Its own step first: one press, its section.
    assert_eq!(app.steps_per_press(), 1);
    let screen = text(&render(&app, 120, 40));
    assert!(screen.contains("next (1/6): network namespace"), "{screen}");
    // Then the scaffolding: one press for four steps, one line each.
    app.done = 1;
    assert_eq!(app.steps_per_press(), 4);
    let run: Vec<(&str, String)> = app
        .pass_run_steps()
        .into_iter()
        .map(|(n, _, to)| (n, to))
        .collect();
    assert_eq!(
        run,
        [
            ("mount", "mount".to_string()),
            ("pid", "pid".into()),
            ("rootfs", "chroot".into()),
            ("pivot_root", "pivot-root".into())
        ]
    );
    for (w, h) in SIZES {
        let pane = step_pane(&text(&render(&app, w, h)));
        insta::assert_snapshot!(format!("net_passing_{w}x{h}"), pane);
        assert!(pane.contains("passing through:"), "{pane}");
        assert!(pane.contains("  mount       lesson mount"), "{pane}");
        // No section of a passed-through step, nor the general text, mid-lesson.
        assert!(!pane.contains("## "), "{pane}");
    }
    // The exec at the end is one step again.
    app.done = 5;
    assert_eq!(app.steps_per_press(), 1);
}
