//! See tests/ui_screens.rs. Driving the app as the TUI's main loop does: keys, the focus,
//! the shells, the theme, the step a stage was recorded after.

use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};

use underhood::runtime::step::Step;
use underhood::ui::app::{App, Pane};
use underhood::ui::theme::ThemeKind;
use underhood::ui::update::{Command, Msg};

use crate::recorded::{session, theme};

pub fn press(app: &mut App, code: KeyCode) -> Vec<Command> {
    update(app, Msg::Key(KeyEvent::new(code, KeyModifiers::NONE)))
}

/// Moves the focus to `pane` with Tab, as a learner would.
pub fn focus(app: &mut App, pane: Pane) {
    for _ in 0..Pane::ALL.len() {
        if app.focus == pane {
            return;
        }
        press(app, KeyCode::Tab);
    }
    panic!("Tab never reached {pane:?}");
}

/// As the main loop does for a key: the events it makes applied, the rest returned.
pub fn update(app: &mut App, msg: Msg) -> Vec<Command> {
    let cmds = underhood::ui::update::update(app, msg);
    underhood::ui::update::apply_emits(app, cmds)
}

/// Two shells open (the one inside, the one entered with setns), as the TUI shows them.
pub fn with_both_shells(mut app: App) -> App {
    use underhood::ui::event::Event;
    use underhood::ui::shell::Slot;
    let n = app.steps.len();
    for (slot, title, out) in [
        (
            Slot::Spawned,
            format!("Shell in the container (step {n}/{n})"),
            "/ # hostname\r\nunderhood\r\n/ # ",
        ),
        (
            Slot::Entered,
            "Entered with setns (pid 27491)".to_string(),
            "/ # id -u\r\n0\r\n/ # ",
        ),
    ] {
        app.apply(Event::ShellOpened {
            slot,
            title,
            pid: 1,
            rows: 3,
            cols: 30,
        });
        app.apply(Event::ShellOutput {
            slot,
            bytes: out.as_bytes().to_vec(),
        });
    }
    app
}

pub fn app_with_theme(app: &App, kind: ThemeKind) -> App {
    let mut a = app.clone();
    a.theme = theme(kind);
    a
}

/// The index of the pivot_root step (1-based: the stage recorded after it).
pub fn pivot_step() -> usize {
    session()
        .steps
        .iter()
        .position(|s| matches!(s, Step::EnterRoot { .. }))
        .expect("a pivot_root step")
        + 1
}
