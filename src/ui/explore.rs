//! `underhood explore`: the live panes on any process of the host, read only.
//!
//! Three screens: the picker (the host's containers, `observe::containers`' rule), the
//! explorer (the TUI's namespace, process, mount and memory panes on the chosen
//! process, plus a security pane), and the side-by-side comparison (`--compare`).
//!
//! The explorer keeps an [`App`] so the TUI's own pane drawings (`ui/draw/*`) draw it:
//! the observer's snapshots go in through [`App::take_snapshot`] as in a launch, and
//! the namespaces' "host" column is the reference's (PID 1's, or ours when PID 1's
//! links are unreadable). Nothing here reads or changes the kernel: the explore
//! session (`session::explore`) does, and `explore/driver.rs` turns its notices into
//! these screens and keys into its commands.

pub mod compare;
pub mod driver;
pub mod picker;
pub mod view;

use crossterm::event::{KeyCode, KeyEvent, KeyEventKind, KeyModifiers};
use ratatui::layout::Rect;

use crate::observe::error::Unread;
use crate::observe::namespaces::NsLink;
use crate::observe::security::Security;
use crate::observe::snapshot::Snapshot;

use super::app::{App, HostLine, Pane};
use super::scroll::{self, Move};
use super::theme::Theme;

/// The explorer's panes, in focus order.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Focus {
    Namespaces,
    Processes,
    Mounts,
    Memory,
    Security,
}

impl Focus {
    pub const ALL: [Focus; 5] = [
        Focus::Namespaces,
        Focus::Processes,
        Focus::Mounts,
        Focus::Memory,
        Focus::Security,
    ];

    /// The TUI pane that draws it (the security pane is the explorer's own).
    pub fn pane(self) -> Option<Pane> {
        match self {
            Focus::Namespaces => Some(Pane::Namespaces),
            Focus::Processes => Some(Pane::Processes),
            Focus::Mounts => Some(Pane::Mounts),
            Focus::Memory => Some(Pane::Memory),
            Focus::Security => None,
        }
    }

    fn step(self, by: isize) -> Focus {
        let i = Focus::ALL.iter().position(|f| *f == self).unwrap_or(0) as isize;
        Focus::ALL[(i + by).rem_euclid(Focus::ALL.len() as isize) as usize]
    }
}

/// What is explored, as the header names it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Explored {
    pub pid: i32,
    /// Who made it: `runc uhdemo`, `unshare`, `unknown`...
    pub maker: String,
    pub command: String,
}

/// The explorer's state.
#[derive(Debug, Clone)]
pub struct Explore {
    /// The TUI's state, for its pane drawings.
    pub app: App,
    pub explored: Explored,
    pub security: Result<Security, Unread>,
    pub focus: Focus,
    pub security_offset: usize,
    /// Set once the process is gone: the panes keep its last state.
    pub gone: Option<String>,
    /// Why there is no memory graph.
    pub cgroup_note: Option<String>,
    /// Why "host" is not PID 1.
    pub reference_note: Option<String>,
}

/// What a key asks of the driver.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Action {
    None,
    Quit,
    /// Explore this pid (the picker's Enter).
    Open(i32),
    /// Back to the picker.
    Picker,
    /// List the containers again.
    Rescan,
}

/// What every explore screen (picker, compare) does with a key before its own keys: a
/// key release is nothing, any key closes the help, Ctrl-C quits. `None`: the screen's
/// own keys decide.
pub(crate) fn common_key(k: &KeyEvent, help: &mut bool) -> Option<Action> {
    if k.kind == KeyEventKind::Release {
        return Some(Action::None);
    }
    if *help {
        *help = false;
        return Some(Action::None);
    }
    if k.modifiers.contains(KeyModifiers::CONTROL) && k.code == KeyCode::Char('c') {
        return Some(Action::Quit);
    }
    None
}

impl Explore {
    pub fn new(
        explored: Explored,
        reference: Vec<NsLink>,
        theme: Theme,
        cgroup_note: Option<String>,
        reference_note: Option<String>,
    ) -> Explore {
        let mut app = App::new(HostLine::default(), Vec::new(), reference, theme);
        app.focus = Pane::Namespaces;
        Explore {
            app,
            explored,
            security: Err(Unread::from("not read yet")),
            focus: Focus::Namespaces,
            security_offset: 0,
            gone: None,
            cgroup_note,
            reference_note,
        }
    }

    /// Takes one observer sample. A sample of a process that is no longer there
    /// (`session::explore::gone`) is not taken: the panes keep the last state and the header
    /// says the process exited.
    pub fn sample(&mut self, snap: Snapshot, security: Result<Security, Unread>) {
        if self.gone.is_some() {
            return;
        }
        if let Some(why) = crate::session::explore::gone(self.explored.pid, &snap) {
            self.gone = Some(why);
            return;
        }
        self.security = security;
        self.app.take_snapshot(snap);
    }

    fn set_focus(&mut self, f: Focus) {
        self.focus = f;
        // The TUI's panes light their border when `app.focus` is theirs; the Step pane
        // is never drawn here, so it stands for "none of them".
        self.app.focus = f.pane().unwrap_or(Pane::Step);
    }

    /// Scrolls the focused pane, laid out on `screen`.
    fn scroll(&mut self, m: Move, screen: Rect) {
        let Some(area) = view::areas(self, view::body(screen))
            .into_iter()
            .find(|(f, _)| *f == self.focus)
            .map(|(_, a)| a)
        else {
            return;
        };
        match self.focus.pane() {
            Some(p) => {
                let Some(g) = super::draw::geometry(&self.app, p, area) else {
                    return;
                };
                let to = scroll::moved(g, g.offset(self.app.scrolled(p)), m);
                self.app.scroll.retain(|(q, _)| *q != p);
                self.app.scroll.push((p, to));
            }
            None => {
                let g = view::security_geometry(self, area);
                self.security_offset = scroll::moved(g, g.offset(Some(self.security_offset)), m);
            }
        }
    }

    /// A key on the explorer screen of size `screen`.
    pub fn on_key(&mut self, k: KeyEvent, screen: Rect) -> Action {
        if k.kind == KeyEventKind::Release {
            return Action::None;
        }
        if self.app.help {
            self.app.help = false;
            return Action::None;
        }
        if k.modifiers.contains(KeyModifiers::CONTROL) && k.code == KeyCode::Char('c') {
            return Action::Quit;
        }
        match k.code {
            KeyCode::Char('q') => return Action::Quit,
            KeyCode::Char('p') | KeyCode::Backspace => return Action::Picker,
            KeyCode::Esc if self.app.zoom => self.app.zoom = false,
            KeyCode::Esc => return Action::Picker,
            KeyCode::Tab => self.set_focus(self.focus.step(1)),
            KeyCode::BackTab => self.set_focus(self.focus.step(-1)),
            KeyCode::Char('z') => self.app.zoom = !self.app.zoom,
            KeyCode::Char('?') => self.app.help = true,
            KeyCode::Char('t') => self.app.theme = self.app.theme.next(),
            code => {
                if let Some(m) = scroll_move(code) {
                    self.scroll(m, screen);
                }
            }
        }
        Action::None
    }
}

/// The scrolling keys.
pub fn scroll_move(code: KeyCode) -> Option<Move> {
    match code {
        KeyCode::Up | KeyCode::Char('k') => Some(Move::Up),
        KeyCode::Down | KeyCode::Char('j') => Some(Move::Down),
        KeyCode::PageUp => Some(Move::PageUp),
        KeyCode::PageDown | KeyCode::Char(' ') => Some(Move::PageDown),
        KeyCode::Home => Some(Move::Home),
        KeyCode::End => Some(Move::End),
        _ => None,
    }
}

#[cfg(test)]
mod tests;
