//! Presenter mode (`--present`): which pane a projector shows, the presenter's keys and
//! the timer. One big pane at a time: the one the last step changed, unless something
//! since (Tab, an opened shell, the memory hog) brought another forward. Drawing is in
//! `draw/present.rs`.

use std::time::Duration;

use crossterm::event::{KeyCode, KeyEvent};

use crate::runtime::step::Step;

use super::app::{App, Pane};

/// The pane the last step changed: where the audience should look.
pub fn changed_pane(app: &App) -> Pane {
    let Some(step) = app.last_step() else {
        // Before any step: the namespace table, every row still equal to the host's.
        return Pane::Namespaces;
    };
    match step {
        // PID 1 inside with a big pid outside; the command that became PID 1.
        Step::Pid | Step::Exec { .. } => Pane::Processes,
        // The mount namespace's point is the propagation column (slave, not shared).
        Step::Mount | Step::Rootfs(_) | Step::EnterRoot { .. } => Pane::Mounts,
        Step::Cgroup { .. } => Pane::Memory,
        // Capabilities, no_new_privs and seccomp show as the calls that set them.
        Step::Security { .. } => Pane::Syscalls,
        _ => Pane::Namespaces,
    }
}

/// The big pane: brought forward since the last step (if still open), else the one
/// the last step changed. `open` says which shells exist.
pub fn main_pane(app: &App, open: super::shell::Open) -> Pane {
    match app.present_pane {
        Some(p) if !open.shows(p) => changed_pane(app),
        Some(p) => p,
        None => changed_pane(app),
    }
}

/// The smaller pane beside the big one, on screens with room for two: the calls the
/// step made (what the presenter talks through), or the processes when the calls are
/// the big pane.
pub fn second_pane(main: Pane) -> Pane {
    match main {
        Pane::Syscalls => Pane::Processes,
        _ => Pane::Syscalls,
    }
}

/// The panes Tab steps through, in order.
fn cycle(app: &App) -> Vec<Pane> {
    let mut out = vec![
        Pane::Namespaces,
        Pane::Processes,
        Pane::Mounts,
        Pane::Memory,
        Pane::Syscalls,
        Pane::Step,
    ];
    if app.shell.is_some() {
        out.push(Pane::Shell);
    }
    if app.entered.is_some() {
        out.push(Pane::Entered);
    }
    if app.host_shell.is_some() {
        out.push(Pane::Host);
    }
    out
}

/// The presenter's own keys (they change only what is shown); false leaves the key
/// to the usual mapping.
pub fn on_key(app: &mut App, key: &KeyEvent) -> bool {
    if app.blank {
        // Any key brings the screen back, and does nothing else: a presenter who
        // blanked the screen should not step by accident when waking it.
        app.blank = false;
        return true;
    }
    let by = match key.code {
        // Clickers' "blank screen" button sends `.` or `b` (as presentation programs
        // take them). `b` goes back outside presenter mode; here a blank is harmless
        // where a step back would tear the container down. Back is ← or PgUp.
        KeyCode::Char('.') | KeyCode::Char('b') => {
            app.blank = true;
            return true;
        }
        KeyCode::Tab => 1,
        KeyCode::BackTab => -1,
        _ => return false,
    };
    let panes = cycle(app);
    let shown = main_pane(app, super::shell::Open::of(app));
    let i = panes.iter().position(|p| *p == shown).unwrap_or(0) as isize;
    let next = panes[(i + by).rem_euclid(panes.len() as isize) as usize];
    app.present_pane = Some(next);
    // The focus follows, so that a shell brought forward takes the keys as in the
    // usual layout (Ctrl-] hands them back).
    app.focus = next;
    true
}

/// The timer: `mm:ss`, or `h:mm:ss` past an hour.
pub fn timer(d: Duration) -> String {
    let s = d.as_secs();
    if s >= 3600 {
        format!("{}:{:02}:{:02}", s / 3600, s / 60 % 60, s % 60)
    } else {
        format!("{:02}:{:02}", s / 60, s % 60)
    }
}

/// The first sentence of a step's purpose: a line on what the step does, for the
/// audience (the rest is for the speaker).
pub fn first_sentence(text: &str) -> &str {
    match text.find(". ") {
        Some(i) => &text[..=i],
        None => text,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ui::app::HostLine;
    use crate::ui::theme::{Theme, ThemeKind};
    use crate::ui::update::{Command, Msg, update};

    fn app(steps: Vec<Step>) -> App {
        let mut a = App::new(
            HostLine::default(),
            steps,
            Vec::new(),
            Theme {
                kind: ThemeKind::HighContrast,
            },
        );
        a.present = true;
        a
    }

    fn press(a: &mut App, code: KeyCode) -> Vec<Command> {
        let key = KeyEvent::new(code, crossterm::event::KeyModifiers::NONE);
        update(a, Msg::Key(key))
    }

    #[test]
    fn the_timer_reads_minutes_then_hours() {
        assert_eq!(timer(Duration::from_secs(0)), "00:00");
        assert_eq!(timer(Duration::from_millis(201_900)), "03:21");
        assert_eq!(timer(Duration::from_secs(3599)), "59:59");
        assert_eq!(timer(Duration::from_secs(3600 + 62)), "1:01:02");
    }

    #[test]
    fn each_step_brings_its_pane_forward() {
        let mut a = app(vec![
            Step::Ipc,
            Step::Pid,
            Step::Mount,
            Step::Exec {
                argv: vec!["sleep".into()],
                env: Vec::new(),
            },
        ]);
        assert_eq!(changed_pane(&a), Pane::Namespaces, "before any step");
        let want = [
            Pane::Namespaces,
            Pane::Processes,
            Pane::Mounts,
            Pane::Processes,
        ];
        for (done, pane) in want.iter().enumerate() {
            a.done = done + 1;
            assert_eq!(
                main_pane(&a, Default::default()),
                *pane,
                "after step {}",
                done + 1
            );
        }
    }

    #[test]
    fn tab_overrides_the_pane_until_the_next_step() {
        let mut a = app(vec![Step::Ipc, Step::Pid]);
        a.done = 1;
        assert_eq!(press(&mut a, KeyCode::Tab), Vec::<Command>::new());
        assert_eq!(main_pane(&a, Default::default()), Pane::Processes);
        press(&mut a, KeyCode::BackTab);
        press(&mut a, KeyCode::BackTab);
        assert_eq!(
            main_pane(&a, Default::default()),
            Pane::Step,
            "wraps around"
        );
        let snap = crate::observe::snapshot::Snapshot {
            subject: 1,
            ..Default::default()
        };
        a.step_done(crate::runtime::report::Report::new("pid"), None, snap);
        assert_eq!(
            main_pane(&a, Default::default()),
            Pane::Processes,
            "the step's pane"
        );
    }

    #[test]
    fn a_closed_shell_gives_way_to_the_steps_pane() {
        let mut a = app(vec![Step::Ipc]);
        a.done = 1;
        a.present_pane = Some(Pane::Shell);
        let open = |spawned| crate::ui::shell::Open {
            spawned,
            ..Default::default()
        };
        assert_eq!(main_pane(&a, open(true)), Pane::Shell);
        assert_eq!(main_pane(&a, open(false)), Pane::Namespaces);
    }

    #[test]
    fn blank_keys_blank_and_any_key_wakes_without_acting() {
        let mut a = app(vec![Step::Ipc, Step::Pid]);
        a.done = 1;
        for k in [KeyCode::Char('.'), KeyCode::Char('b')] {
            assert_eq!(press(&mut a, k), Vec::<Command>::new());
            assert!(a.blank);
            assert_eq!(
                press(&mut a, KeyCode::Right),
                Vec::<Command>::new(),
                "wakes only"
            );
            assert!(!a.blank);
        }
        // The clicker's forward and back buttons.
        assert_eq!(press(&mut a, KeyCode::PageDown), vec![Command::Next]);
        assert_eq!(press(&mut a, KeyCode::Right), vec![Command::Next]);
        assert_eq!(press(&mut a, KeyCode::Char(' ')), vec![Command::Next]);
        assert_eq!(press(&mut a, KeyCode::PageUp), vec![Command::Back]);
        assert_eq!(press(&mut a, KeyCode::Left), vec![Command::Back]);
        assert_eq!(press(&mut a, KeyCode::Char('q')), vec![Command::Quit]);
    }

    #[test]
    fn first_sentences() {
        assert_eq!(first_sentence("One. Two."), "One.");
        assert_eq!(first_sentence("Only one."), "Only one.");
        assert_eq!(
            first_sentence(crate::lesson::purpose::purpose(&Step::Pid)),
            "A PID namespace numbers processes from 1."
        );
    }
}
