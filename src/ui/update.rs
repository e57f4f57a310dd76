//! The one message path of the TUI: `update(&mut App, Msg) -> Vec<Command>`. Keys,
//! the mouse, samples, shells' output, news from a followed session come in as a
//! `Msg`; what the viewer alone chooses (focus, zoom, help, scrolling) changes here,
//! and everything else comes out as commands: events to record and apply (the
//! message line included), or work for the session (a step, the hog, a shell). The
//! main loop (`run.rs`) and a replay (`replay.rs`) carry the commands out.
//!
//! Above `app`, `draw`, `pane`, `present` and `shell` in ui/: none of them imports it.

use crossterm::event::{
    KeyCode, KeyEvent, KeyEventKind, KeyModifiers, MouseButton, MouseEvent, MouseEventKind,
};

use crate::observe::snapshot::Snapshot;
use crate::session::event::{Event, Slot};

use super::app::App;
use super::draw;
use super::pane::{Open, Pane, slot_of};
use super::scroll::{self, Move};
use crate::session::follow::{Feed, Position};

mod feed;

/// Everything that can happen to the UI.
#[derive(Debug)]
pub enum Msg {
    Key(KeyEvent),
    /// A wheel turn or a click (the terminal reports them: mouse capture is on).
    Mouse(MouseEvent),
    Resize,
    Snapshot(Box<Snapshot>),
    /// The kernel signalled an OOM kill in our cgroup.
    Oom,
    /// The subject wrote something unasked (the main loop reads it after any message).
    Subject,
    /// SIGTERM, SIGHUP or SIGINT arrived.
    Signal(i32),
    /// An embedded shell printed something.
    ShellOutput(Slot, Vec<u8>),
    /// An embedded shell's terminal closed (the shell exited).
    ShellClosed(Slot),
    /// News from the session this one follows (`--follow`).
    Follow(Feed),
}

/// What the main loop must do: events to record and apply, and what needs the
/// container (the session).
#[derive(Debug, Clone, PartialEq)]
pub enum Command {
    /// Record (a recording, followers) and apply this event.
    Emit(Event),
    /// The kernel's OOM killer fired: say so and sample the container now.
    Oom,
    /// A shell's terminal closed.
    ShellClosed(Slot),
    Next,
    Back,
    Hog,
    Shell,
    /// Evaluate the lesson's checks now.
    Check,
    /// Bytes typed into an embedded shell.
    ShellInput(Slot, Vec<u8>),
    /// A shell that enters the running container from outside with setns.
    Enter,
    /// A shell on the host, pointed at the container by its variables.
    HostShell,
    /// Go where the followed session is (its lesson, its number of steps).
    Follow(Position),
    Quit,
}

/// Turns a message into what the main loop must do. What only the viewer chooses
/// (focus, zoom, help, theme, scrolling) changes here; everything else shown comes
/// back as a `Command::Emit` of an event, for the taps and `App::apply`.
pub fn update(app: &mut App, msg: Msg) -> Vec<Command> {
    match msg {
        Msg::Key(key) => on_key(app, key),
        Msg::Mouse(ev) => on_mouse(app, ev),
        Msg::Resize => Vec::new(),
        Msg::Snapshot(snapshot) if is_stale(app, &Msg::Snapshot(snapshot.clone())) => Vec::new(),
        Msg::Snapshot(snapshot) => vec![Command::Emit(Event::Snapshot { snapshot })],
        Msg::Oom => vec![Command::Oom],
        Msg::Subject => Vec::new(),
        Msg::Signal(_) => vec![Command::Quit],
        Msg::ShellOutput(slot, bytes) => {
            vec![Command::Emit(Event::ShellOutput { slot, bytes })]
        }
        Msg::ShellClosed(slot) => vec![Command::ShellClosed(slot)],
        Msg::Follow(feed) => feed::on_feed(app, feed),
    }
}

fn on_key(app: &mut App, key: KeyEvent) -> Vec<Command> {
    if key.kind == KeyEventKind::Release {
        return Vec::new();
    }
    // A focused shell gets every key but Ctrl-], which hands the focus back.
    let slot = slot_of(app.focus).filter(|s| Open::of(app).has(*s));
    if let Some(slot) = slot {
        if super::shell::is_escape(&key) {
            app.focus = Pane::Step;
            return Vec::new();
        }
        return vec![Command::ShellInput(slot, super::shell::key_bytes(&key))];
    }
    if key.modifiers.contains(KeyModifiers::CONTROL) && key.code == KeyCode::Char('c') {
        return vec![Command::Quit];
    }
    // Behind "terminal too small" nothing is seen: no key may act unseen but q.
    if app.too_small() {
        return if key.code == KeyCode::Char('q') {
            vec![Command::Quit]
        } else {
            Vec::new()
        };
    }
    if app.help {
        // The scrolling keys scroll it (it may not fit); any other key closes the
        // help overlay; q still quits.
        let m = match key.code {
            KeyCode::Up => Some(Move::Up),
            KeyCode::Down => Some(Move::Down),
            KeyCode::PageUp => Some(Move::PageUp),
            KeyCode::PageDown => Some(Move::PageDown),
            KeyCode::Home => Some(Move::Home),
            KeyCode::End => Some(Move::End),
            _ => None,
        };
        if let Some(m) = m {
            let keys = super::draw::help_keys(app);
            let (_, _, g) = super::draw::help_box(app, app.screen(), keys);
            app.help_offset = super::scroll::moved(g, g.offset(Some(app.help_offset)), m);
            return Vec::new();
        }
        app.help = false;
        app.help_offset = 0;
        return if key.code == KeyCode::Char('q') {
            vec![Command::Quit]
        } else {
            Vec::new()
        };
    }
    if app.present && super::present::on_key(app, &key) {
        return Vec::new();
    }
    match key.code {
        // PgUp/PgDn scroll, as everywhere else; a presenter's clicker sends them for
        // next and back, so the presenter layout keeps them for that.
        KeyCode::PageDown if !app.present => scroll(app, Move::PageDown),
        KeyCode::PageUp if !app.present => scroll(app, Move::PageUp),
        KeyCode::Up => scroll(app, Move::Up),
        KeyCode::Down => scroll(app, Move::Down),
        KeyCode::Home => scroll(app, Move::Home),
        KeyCode::End => scroll(app, Move::End),
        KeyCode::Right | KeyCode::Char(' ') | KeyCode::Char('n') | KeyCode::PageDown => {
            if app.done >= app.steps.len() {
                say(if app.limits_memory() {
                    "all steps are done: press s for a shell, m for the memory hog, ← to go back"
                } else {
                    "all steps are done: press s for a shell, ← to go back"
                })
            } else {
                vec![Command::Next]
            }
        }
        KeyCode::Left | KeyCode::Char('b') | KeyCode::PageUp => {
            if app.done == 0 {
                say("this is the first step")
            } else {
                vec![Command::Back]
            }
        }
        KeyCode::Char('m') => vec![Command::Hog],
        KeyCode::Char('s') if app.shell.is_some() => {
            app.focus = Pane::Shell;
            Vec::new()
        }
        KeyCode::Char('s') => vec![Command::Shell],
        KeyCode::Char('e') if app.entered.is_some() => {
            app.focus = Pane::Entered;
            Vec::new()
        }
        KeyCode::Char('e') => vec![Command::Enter],
        KeyCode::Char('h') if app.host_shell.is_some() => {
            app.focus = Pane::Host;
            Vec::new()
        }
        KeyCode::Char('h') => vec![Command::HostShell],
        KeyCode::Tab => {
            app.focus = app.focus.offset(1, Open::of(app));
            Vec::new()
        }
        KeyCode::BackTab => {
            app.focus = app.focus.offset(-1, Open::of(app));
            Vec::new()
        }
        KeyCode::Char('z') => {
            app.zoom = !app.zoom;
            Vec::new()
        }
        KeyCode::Esc => {
            app.zoom = false;
            Vec::new()
        }
        KeyCode::Char('?') => {
            app.help = true;
            Vec::new()
        }
        KeyCode::Char('t') => {
            app.theme = app.theme.next();
            Vec::new()
        }
        KeyCode::Char('c') if app.lesson.is_some() => vec![Command::Check],
        KeyCode::Char('q') => vec![Command::Quit],
        _ => Vec::new(),
    }
}

fn scroll(app: &mut App, m: Move) -> Vec<Command> {
    // The presenter's screen shows one big pane: that one scrolls.
    let pane = if app.present {
        super::present::main_pane(app, Open::of(app))
    } else {
        app.focus
    };
    app.scroll_pane(pane, m);
    Vec::new()
}

/// The mouse: the wheel scrolls the pane under the pointer, a click focuses it.
fn on_mouse(app: &mut App, ev: MouseEvent) -> Vec<Command> {
    if app.too_small() || app.help {
        return Vec::new();
    }
    let at = ratatui::layout::Position::new(ev.column, ev.row);
    let Some(pane) = app
        .pane_areas()
        .into_iter()
        .find(|(_, a)| a.contains(at))
        .map(|(p, _)| p)
    else {
        return Vec::new();
    };
    match ev.kind {
        MouseEventKind::ScrollUp => app.scroll_pane(pane, Move::WheelUp),
        MouseEventKind::ScrollDown => app.scroll_pane(pane, Move::WheelDown),
        MouseEventKind::Down(MouseButton::Left) => {
            app.focus = pane;
            if app.present {
                app.present_pane = Some(pane);
            }
        }
        _ => {}
    }
    Vec::new()
}

impl App {
    /// Whether the screen is too small for the panes (then only quitting works).
    pub fn too_small(&self) -> bool {
        let s = self.screen();
        s.width < draw::MIN_WIDTH || s.height < draw::MIN_HEIGHT
    }

    /// Where each pane is on the screen as last drawn.
    pub fn pane_areas(&self) -> Vec<(Pane, ratatui::layout::Rect)> {
        draw::screen_layout(self, self.screen(), Open::of(self))
    }

    /// Scrolls `pane` (when shown and longer than its room).
    pub fn scroll_pane(&mut self, pane: Pane, m: Move) {
        let Some(area) = self
            .pane_areas()
            .into_iter()
            .find(|(p, _)| *p == pane)
            .map(|(_, a)| a)
        else {
            return;
        };
        let Some(g) = draw::geometry(self, pane, area) else {
            return;
        };
        let from = g.offset(self.scrolled(pane));
        let to = scroll::moved(g, from, m);
        self.set_scroll(pane, to);
    }
}

/// The message line saying `text`.
fn say(text: &str) -> Vec<Command> {
    vec![Command::Emit(Event::info(text))]
}

/// Applies the events among `cmds` (where nothing is recorded: a replay, tests) and
/// returns the rest.
pub fn apply_emits(app: &mut App, cmds: Vec<Command>) -> Vec<Command> {
    cmds.into_iter()
        .filter_map(|c| match c {
            Command::Emit(ev) => {
                app.apply(ev);
                None
            }
            other => Some(other),
        })
        .collect()
}

/// Whether `msg` is a sample older than the one shown: taken before going back, it
/// arrives after the rebuilt container's, belongs to the torn-down one, and is dropped.
pub fn is_stale(app: &App, msg: &Msg) -> bool {
    matches!(msg, Msg::Snapshot(s) if app.snap.as_ref().is_some_and(|cur| cur.at > s.at))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::runtime::step::Step;
    use crate::ui::app::HostLine;
    use crate::ui::theme::{Theme, ThemeKind};

    fn app() -> App {
        App::new(
            HostLine::default(),
            vec![Step::Ipc, Step::Mount],
            Vec::new(),
            Theme {
                kind: ThemeKind::Default,
            },
        )
    }

    fn key(c: KeyCode) -> Msg {
        Msg::Key(KeyEvent::new(c, KeyModifiers::NONE))
    }

    #[test]
    fn keys_map_to_actions() {
        let mut a = app();
        assert_eq!(update(&mut a, key(KeyCode::Right)), vec![Command::Next]);
        assert_eq!(update(&mut a, key(KeyCode::Char(' '))), vec![Command::Next]);
        assert_eq!(update(&mut a, key(KeyCode::Char('n'))), vec![Command::Next]);
        let first = update(&mut a, key(KeyCode::Left));
        assert_eq!(apply_emits(&mut a, first), Vec::new(), "nothing to undo");
        assert_eq!(a.message.as_ref().unwrap().text, "this is the first step");
        a.done = 1;
        assert_eq!(update(&mut a, key(KeyCode::Char('b'))), vec![Command::Back]);
        assert_eq!(update(&mut a, key(KeyCode::Char('m'))), vec![Command::Hog]);
        assert_eq!(
            update(&mut a, key(KeyCode::Char('s'))),
            vec![Command::Shell]
        );
        assert_eq!(update(&mut a, key(KeyCode::Char('q'))), vec![Command::Quit]);
        let ctrl_c = Msg::Key(KeyEvent::new(KeyCode::Char('c'), KeyModifiers::CONTROL));
        assert_eq!(update(&mut a, ctrl_c), vec![Command::Quit]);
    }

    #[test]
    fn focus_cycles_and_zoom_toggles() {
        let mut a = app();
        update(&mut a, key(KeyCode::Tab));
        assert_eq!(a.focus, Pane::Syscalls);
        update(&mut a, key(KeyCode::BackTab));
        update(&mut a, key(KeyCode::BackTab));
        assert_eq!(a.focus, Pane::Memory);
        update(&mut a, key(KeyCode::Char('z')));
        assert!(a.zoom);
        update(&mut a, key(KeyCode::Esc));
        assert!(!a.zoom);
    }

    #[test]
    fn tab_never_enters_a_shell_and_hides_the_syscalls_behind_them() {
        use crate::ui::shell::Open;
        let open = |spawned, entered, host| Open {
            spawned,
            entered,
            host,
        };
        // A shell would take Tab as a key typed into it: s, e, h or a click go there.
        assert_eq!(
            Pane::Step.offset(1, open(true, true, false)),
            Pane::Namespaces
        );
        assert_eq!(Pane::Memory.offset(1, open(true, true, true)), Pane::Step);
        assert_eq!(
            Pane::Step.offset(-1, open(false, true, false)),
            Pane::Memory
        );
        assert_eq!(
            Pane::Step.offset(1, open(false, false, false)),
            Pane::Syscalls
        );
    }

    #[test]
    fn h_opens_the_host_shell_then_focuses_it() {
        let mut a = app();
        assert_eq!(
            update(&mut a, key(KeyCode::Char('h'))),
            vec![Command::HostShell]
        );
        a.apply(Event::ShellOpened {
            slot: Slot::Host,
            title: "HOST shell".into(),
            pid: 7,
            rows: 5,
            cols: 20,
        });
        assert_eq!(a.focus, Pane::Host);
        // Typing goes to the host shell; Ctrl-] leaves it; h comes back.
        assert!(matches!(
            update(&mut a, key(KeyCode::Char('x')))[..],
            [Command::ShellInput(Slot::Host, _)]
        ));
        let esc = Msg::Key(KeyEvent::new(KeyCode::Char(']'), KeyModifiers::CONTROL));
        update(&mut a, esc);
        assert_eq!(a.focus, Pane::Step);
        assert_eq!(
            update(&mut a, key(KeyCode::Char('h'))),
            Vec::<Command>::new()
        );
        assert_eq!(a.focus, Pane::Host);
    }

    #[test]
    fn help_overlay_swallows_the_next_key() {
        let mut a = app();
        update(&mut a, key(KeyCode::Char('?')));
        assert!(a.help);
        assert_eq!(update(&mut a, key(KeyCode::Right)), Vec::<Command>::new());
        assert!(!a.help);
    }

    #[test]
    fn next_after_the_last_step_explains_instead() {
        let mut a = app();
        a.done = 2;
        let cmds = update(&mut a, key(KeyCode::Right));
        assert!(matches!(cmds[..], [Command::Emit(Event::Message { .. })]));
        assert_eq!(apply_emits(&mut a, cmds), Vec::new());
        assert!(a.message.as_ref().is_some_and(|m| m.text.contains("shell")));
    }

    #[test]
    fn signals_quit() {
        let mut a = app();
        assert_eq!(update(&mut a, Msg::Signal(15)), vec![Command::Quit]);
    }

    fn snap_at(ms: u64) -> Msg {
        Msg::Snapshot(Box::new(Snapshot {
            at: std::time::Duration::from_millis(ms),
            ..Default::default()
        }))
    }

    #[test]
    fn a_sample_becomes_an_event_unless_older_than_the_one_shown() {
        let mut a = app();
        let cmds = update(&mut a, snap_at(500));
        assert!(matches!(cmds[..], [Command::Emit(Event::Snapshot { .. })]));
        apply_emits(&mut a, cmds);
        // Taken before going back, it belongs to the torn-down container.
        assert!(is_stale(&a, &snap_at(400)));
        assert_eq!(update(&mut a, snap_at(400)), Vec::new());
        assert!(!is_stale(&a, &snap_at(600)));
    }

    #[test]
    fn the_session_and_the_shells_come_in_as_events_or_commands() {
        let mut a = app();
        assert_eq!(update(&mut a, Msg::Subject), Vec::new());
        assert_eq!(update(&mut a, Msg::Oom), vec![Command::Oom]);
        assert_eq!(
            update(&mut a, Msg::ShellClosed(Slot::Entered)),
            vec![Command::ShellClosed(Slot::Entered)]
        );
        assert_eq!(
            update(&mut a, Msg::ShellOutput(Slot::Spawned, b"hi".to_vec())),
            vec![Command::Emit(Event::ShellOutput {
                slot: Slot::Spawned,
                bytes: b"hi".to_vec()
            })]
        );
        // Nothing above changed the state by itself: the main loop applies events.
        assert_eq!(a.message, None);
        assert!(a.snap.is_none());
    }

    #[test]
    fn c_checks_only_in_a_lesson_and_the_viewer_keys_change_no_container() {
        let mut a = app();
        assert_eq!(update(&mut a, key(KeyCode::Char('c'))), Vec::new());
        for k in ['z', '?', 't'] {
            let cmds = update(&mut a, key(KeyCode::Char(k)));
            assert_eq!(cmds, Vec::new(), "{k}");
        }
    }
}
