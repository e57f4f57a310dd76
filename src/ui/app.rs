//! The TUI's state and the one place it changes: `update(&mut App, Msg) -> Action`.
//! Drawing reads `&App` only; the main loop carries out the returned actions on the
//! container (which needs the kernel) and feeds their results back as messages.

use std::collections::VecDeque;
use std::path::PathBuf;
use std::time::Duration;

use crossterm::event::{
    KeyCode, KeyEvent, KeyEventKind, KeyModifiers, MouseButton, MouseEvent, MouseEventKind,
};

use super::scroll::Move;

use crate::observe::mountinfo::{self, Mount};
use crate::observe::namespaces::{NsKind, NsLink};
use crate::observe::snapshot::Snapshot;
use crate::runtime::report::Report;
use crate::runtime::step::Step;

use super::theme::Theme;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Pane {
    Step,
    Syscalls,
    /// The embedded shell, while one is open.
    Shell,
    /// The shell that entered the container with setns, while one is open.
    Entered,
    /// A shell on the host (not in the container), while one is open.
    Host,
    Namespaces,
    Processes,
    Mounts,
    Memory,
}

impl Pane {
    pub const ALL: [Pane; 9] = [
        Pane::Step,
        Pane::Shell,
        Pane::Entered,
        Pane::Host,
        Pane::Syscalls,
        Pane::Namespaces,
        Pane::Processes,
        Pane::Mounts,
        Pane::Memory,
    ];

    pub fn title(self) -> &'static str {
        match self {
            Pane::Step => "Step",
            Pane::Syscalls => "Syscalls",
            Pane::Shell => "Shell",
            Pane::Entered => "Entered",
            Pane::Host => "Host",
            Pane::Namespaces => "Namespaces",
            Pane::Processes => "Processes",
            Pane::Mounts => "Mounts",
            Pane::Memory => "Memory",
        }
    }

    /// The next pane in focus order among those shown (a shell only while open, the
    /// syscalls only while no shell is).
    fn offset(self, by: isize, open: super::shell::Open) -> Pane {
        let shown: Vec<Pane> = Pane::ALL
            .iter()
            .copied()
            .filter(|p| match p {
                Pane::Syscalls => !open.any(),
                // Tab never goes into a shell: there it would be a key typed into the
                // shell, and Tab could not leave again. s, e, h (or a click) do.
                Pane::Shell | Pane::Entered | Pane::Host => false,
                _ => open.shows(*p),
            })
            .collect();
        let i = shown.iter().position(|p| *p == self).unwrap_or(0) as isize;
        let n = shown.len() as isize;
        shown[((i + by).rem_euclid(n)) as usize]
    }
}

pub use crate::session::event::{HostLine, Message};

/// What the last step changed, from the snapshots just before and just after it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Changes {
    pub ns: Vec<NsKind>,
    /// Mounts that appeared: by mount id when the step kept the mount namespace (ids
    /// are stable inside one namespace), else by (mount point, type, source).
    pub mounts_added: Vec<MountKey>,
    pub mounts_removed: usize,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum MountKey {
    Id(u32),
    Place(PathBuf, String, String),
}

impl MountKey {
    pub fn matches(&self, m: &Mount) -> bool {
        match self {
            MountKey::Id(id) => m.mount_id == *id,
            MountKey::Place(p, t, s) => m.mount_point == *p && m.fs_type == *t && m.source == *s,
        }
    }
}

impl Changes {
    pub fn mount_added(&self, m: &Mount) -> bool {
        self.mounts_added.iter().any(|k| k.matches(m))
    }
}

/// The memory graph's data.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct MemoryHistory {
    /// (seconds since start, bytes)
    pub points: VecDeque<(f64, f64)>,
    pub limit: Option<u64>,
    pub peak: Option<u64>,
    pub current: Option<u64>,
    pub oom_kills: u64,
    /// Times of the OOM kills seen.
    pub oom_marks: Vec<f64>,
    pub file_current: String,
    pub file_limit: String,
    pub file_oom: String,
}

/// Seconds of memory history kept (and shown).
pub const HISTORY_SECS: f64 = 60.0;

/// One check of the lesson, with its latest result.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CheckRow {
    pub id: String,
    pub say: String,
    /// `None` until evaluated.
    pub outcome: Option<crate::lesson::check::Outcome>,
}

/// The lesson being followed, if any.
#[derive(Debug, Clone)]
pub struct LessonView {
    pub id: String,
    pub title: String,
    pub order: u32,
    /// (step name, markdown); `None` for general sections.
    pub sections: Vec<(Option<String>, String)>,
    /// (command, what it shows)
    pub tries: Vec<(String, String)>,
    pub hints: Vec<String>,
    pub checks: Vec<CheckRow>,
    pub rootless_note: Option<String>,
}

impl LessonView {
    pub fn from_file(l: &crate::lesson::format::LessonFile) -> LessonView {
        let names = crate::runtime::plan::STEP_NAMES;
        LessonView {
            id: l.id().to_string(),
            title: l.front.title.clone(),
            order: l.front.order,
            sections: super::markdown::sections(&l.body, &names),
            tries: l
                .front
                .tries
                .iter()
                .map(|t| (t.command.clone(), t.explain.clone()))
                .collect(),
            hints: l.front.hints.clone(),
            checks: l
                .front
                .checks
                .iter()
                .map(|c| CheckRow {
                    id: c.id.get_ref().clone(),
                    say: c.say.clone(),
                    outcome: None,
                })
                .collect(),
            rootless_note: l.front.rootless_note.clone(),
        }
    }

    /// The text for where the learner is: the next step's section, or the general ones.
    pub fn section_for(&self, next: Option<&str>) -> String {
        if let Some(name) = next
            && let Some((_, text)) = self
                .sections
                .iter()
                .find(|(n, _)| n.as_deref() == Some(name))
        {
            return text.clone();
        }
        self.sections
            .iter()
            .filter(|(n, _)| n.is_none())
            .map(|(_, t)| t.as_str())
            .collect::<Vec<_>>()
            .join("\n")
    }

    /// The checks in one line: how many pass, and the first still to do.
    pub fn summary(&self) -> Option<String> {
        let total = self.checks.len();
        let passes = |c: &&CheckRow| c.outcome.as_ref().is_some_and(|o| o.passed);
        let passed = self.checks.iter().filter(passes).count();
        match self.checks.iter().find(|c| !passes(c)) {
            _ if total == 0 => None,
            None => Some(format!("all {total} checks pass: lesson passed")),
            Some(c) => Some(format!(
                "{passed} of {total} checks pass; still to do: {}",
                c.say
            )),
        }
    }

    pub fn all_passed(&self) -> bool {
        !self.checks.is_empty()
            && self
                .checks
                .iter()
                .all(|c| c.outcome.as_ref().is_some_and(|o| o.passed))
    }
}

#[derive(Debug, Clone)]
pub struct App {
    pub host: HostLine,
    pub steps: Vec<Step>,
    /// How many steps are done.
    pub done: usize,
    pub log: Vec<Report>,
    /// The report of the last step taken (the log also holds spawns and events).
    pub step_report: Option<Report>,
    pub host_ns: Vec<NsLink>,
    pub snap: Option<Snapshot>,
    pub changes: Changes,
    pub memory: MemoryHistory,
    pub focus: Pane,
    pub zoom: bool,
    pub help: bool,
    pub message: Option<Message>,
    /// The hog's pid inside while it runs.
    pub hog: Option<i32>,
    pub theme: Theme,
    pub should_quit: bool,
    pub lesson: Option<LessonView>,
    pub shell: Option<super::shell::ShellView>,
    /// The second shell, entered from outside with setns.
    pub entered: Option<super::shell::ShellView>,
    /// The shell on the host, with variables pointing at the container.
    pub host_shell: Option<super::shell::ShellView>,
    /// Set while replaying a recording (the footer says so).
    pub replay: Option<ReplayStatus>,
    /// Presenter mode (`--present`): big, few panes for a projector (see `present`).
    pub present: bool,
    /// Time since the session started, for the presenter's timer. The main loop sets
    /// it before drawing, so drawing stays a function of `&App`.
    pub clock: Duration,
    /// The pane brought forward since the last step, in presenter mode: by Tab, an
    /// opened shell, the memory hog. `None`: the pane the last step changed.
    pub present_pane: Option<Pane>,
    /// The presenter blanked the screen (a clicker's blank key).
    pub blank: bool,
    /// `--follow ADDR`: whom this session follows, and how that goes.
    pub follow: Option<super::follow::FollowStatus>,
    /// The cgroup step left out of this walk because its limits cannot be set here
    /// (doctor's verdict: not root, no delegated cgroup): the one line saying why and
    /// what gives it. The step pane shows it where the step would have been.
    pub cgroup_skipped: Option<String>,
    /// Panes scrolled by hand, and the first row each shows (see `scroll`). A step
    /// taken clears it: each pane then shows what the step changed.
    pub scroll: Vec<(Pane, usize)>,
    /// The terminal's size at the last draw (the main loop sets it): where the panes
    /// are, for scrolling by pages and for mouse clicks.
    pub viewport: Option<ratatui::layout::Rect>,
    /// The first row of the `?` help shown (it scrolls on a small screen).
    pub help_offset: usize,
}

/// Where a replay stands, for the footer.
#[derive(Debug, Clone, PartialEq)]
pub struct ReplayStatus {
    /// The recording's file name.
    pub file: String,
    /// The recorded time shown, and the recording's length.
    pub at: Duration,
    pub length: Duration,
    pub playing: bool,
    pub speed: f64,
}

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
    /// SIGTERM, SIGHUP or SIGINT arrived.
    Signal(i32),
    /// An embedded shell printed something.
    ShellOutput(super::shell::Slot, Vec<u8>),
    /// An embedded shell's terminal closed (the shell exited).
    ShellClosed(super::shell::Slot),
    /// News from the session this one follows (`--follow`).
    Follow(super::follow::Feed),
}

/// What the main loop must do to the container.
#[derive(Debug, Clone, PartialEq)]
pub enum Action {
    None,
    /// Apply (and record) this event.
    Emit(super::event::Event),
    /// The kernel's OOM killer fired: say so and sample the container now.
    Oom,
    /// A shell's terminal closed.
    ShellClosed(super::shell::Slot),
    Next,
    Back,
    Hog,
    Shell,
    /// Evaluate the lesson's checks now.
    Check,
    /// Bytes typed into an embedded shell.
    ShellInput(super::shell::Slot, Vec<u8>),
    /// A shell that enters the running container from outside with setns.
    Enter,
    /// A shell on the host, pointed at the container by its variables.
    HostShell,
    /// Go where the followed session is (its lesson, its number of steps).
    Follow(super::follow::Position),
    Quit,
}

impl App {
    pub fn new(host: HostLine, steps: Vec<Step>, host_ns: Vec<NsLink>, theme: Theme) -> App {
        App {
            host,
            steps,
            done: 0,
            log: Vec::new(),
            step_report: None,
            host_ns,
            snap: None,
            changes: Changes::default(),
            memory: MemoryHistory::default(),
            focus: Pane::Step,
            zoom: false,
            help: false,
            message: None,
            hog: None,
            theme,
            should_quit: false,
            lesson: None,
            shell: None,
            entered: None,
            host_shell: None,
            replay: None,
            present: false,
            clock: Duration::ZERO,
            present_pane: None,
            blank: false,
            follow: None,
            cgroup_skipped: None,
            scroll: Vec::new(),
            viewport: None,
            help_offset: 0,
        }
    }

    /// The first row of `pane` as scrolled by hand, if it was.
    pub fn scrolled(&self, pane: Pane) -> Option<usize> {
        self.scroll
            .iter()
            .find(|(p, _)| *p == pane)
            .map(|(_, o)| *o)
    }

    fn set_scroll(&mut self, pane: Pane, offset: usize) {
        self.scroll.retain(|(p, _)| *p != pane);
        self.scroll.push((pane, offset));
    }

    /// The screen as last drawn (80x24 before the first draw, as in tests).
    pub fn screen(&self) -> ratatui::layout::Rect {
        self.viewport
            .unwrap_or(ratatui::layout::Rect::new(0, 0, 80, 24))
    }

    /// Whether the screen is too small for the panes (then only quitting works).
    pub fn too_small(&self) -> bool {
        let s = self.screen();
        s.width < super::draw::MIN_WIDTH || s.height < super::draw::MIN_HEIGHT
    }

    /// Where each pane is on the screen as last drawn.
    pub fn pane_areas(&self) -> Vec<(Pane, ratatui::layout::Rect)> {
        super::draw::screen_layout(self, self.screen(), super::shell::Open::of(self))
    }

    /// Scrolls `pane` (when shown and longer than its room).
    pub fn scroll_pane(&mut self, pane: Pane, m: super::scroll::Move) {
        let Some(area) = self
            .pane_areas()
            .into_iter()
            .find(|(p, _)| *p == pane)
            .map(|(_, a)| a)
        else {
            return;
        };
        let Some(g) = super::draw::geometry(self, pane, area) else {
            return;
        };
        let from = g.offset(self.scrolled(pane));
        let to = super::scroll::moved(g, from, m);
        self.set_scroll(pane, to);
    }

    /// Where the skipped cgroup step would have come: after the steps that precede it
    /// in the launch order (`plan::STEP_NAMES`).
    pub fn cgroup_skipped_at(&self) -> usize {
        let names = crate::runtime::plan::STEP_NAMES;
        let cg = names.iter().position(|n| *n == "cgroup").unwrap_or(0);
        self.steps
            .iter()
            .take_while(|s| names.iter().position(|n| *n == s.name()).unwrap_or(0) < cg)
            .count()
    }

    /// Whether this launch sets cgroup limits at all (some lessons do not): without
    /// one the memory hog has no limit to hit.
    pub fn limits_memory(&self) -> bool {
        self.steps.iter().any(|s| matches!(s, Step::Cgroup { .. }))
    }

    pub fn next_step(&self) -> Option<&Step> {
        self.steps.get(self.done)
    }

    pub fn last_step(&self) -> Option<&Step> {
        self.done.checked_sub(1).and_then(|i| self.steps.get(i))
    }

    /// A message line. It may quote argv, a hostname or a file's bytes: control
    /// characters are shown escaped (ratatui would drop them silently).
    pub fn info(&mut self, text: impl Into<String>) {
        // The message line is the step pane's first: scrolled away, it would go unseen.
        self.scroll.retain(|(p, _)| *p != Pane::Step);
        self.message = Some(Message {
            text: crate::runtime::report::printable_lines(&text.into()),
            error: false,
        });
    }

    pub fn error(&mut self, text: impl Into<String>) {
        self.scroll.retain(|(p, _)| *p != Pane::Step);
        self.message = Some(Message {
            text: crate::runtime::report::printable_lines(&text.into()),
            error: true,
        });
    }

    /// Records what a step changed, comparing the snapshots around it.
    pub fn step_done(&mut self, report: Report, before: Option<&Snapshot>, after: Snapshot) {
        self.changes = changes(before, &after);
        self.step_report = Some(report.clone());
        self.log.push(report);
        self.done += 1;
        self.message = None;
        self.present_pane = None;
        self.scroll.clear();
        self.take_snapshot(after);
    }

    pub fn take_snapshot(&mut self, snap: Snapshot) {
        if let Some(m) = &snap.memory {
            let t = snap.at.as_secs_f64();
            let h = &mut self.memory;
            h.points.push_back((t, m.current as f64));
            while h
                .points
                .front()
                .is_some_and(|(t0, _)| t - t0 > HISTORY_SECS)
            {
                h.points.pop_front();
            }
            h.limit = m.limit;
            h.peak = m.peak;
            h.current = Some(m.current);
            if m.oom_kills > h.oom_kills {
                h.oom_marks.push(t);
            }
            h.oom_kills = h.oom_kills.max(m.oom_kills);
            h.file_current = m.files.current.to_string();
            h.file_limit = m.files.limit.to_string();
            h.file_oom = m.files.oom_kills.to_string();
        }
        self.snap = Some(snap);
    }

    /// The time of the latest snapshot, for the graph's x axis.
    pub fn now(&self) -> Duration {
        self.snap.as_ref().map(|s| s.at).unwrap_or_default()
    }

    /// Resets what belongs to the torn-down container (going back a step).
    pub fn reset_container(&mut self) {
        self.done = 0;
        self.log.clear();
        self.step_report = None;
        self.snap = None;
        self.changes = Changes::default();
        self.memory = MemoryHistory::default();
        self.hog = None;
        self.present_pane = None;
        self.scroll.clear();
    }
}

fn mount_key(m: &Mount) -> MountKey {
    MountKey::Place(m.mount_point.clone(), m.fs_type.clone(), m.source.clone())
}

fn ns_inode(links: &[NsLink], k: NsKind) -> Option<u64> {
    links.iter().find(|l| l.kind == k).and_then(|l| l.inode)
}

fn changes(before: Option<&Snapshot>, after: &Snapshot) -> Changes {
    let Some(before) = before else {
        return Changes::default();
    };
    let ns = NsKind::ALL
        .iter()
        .filter(|k| {
            let inode =
                |links: &[NsLink]| links.iter().find(|l| l.kind == **k).and_then(|l| l.inode);
            inode(&before.ns) != inode(&after.ns)
        })
        .copied()
        .collect();
    let same_mnt_ns = ns_inode(&before.ns, NsKind::Mnt).is_some()
        && ns_inode(&before.ns, NsKind::Mnt) == ns_inode(&after.ns, NsKind::Mnt);
    let (mounts_added, mounts_removed) = match (&before.mounts, &after.mounts) {
        (Ok(b), Ok(a)) if same_mnt_ns => {
            let had = |id: u32| b.iter().any(|m| m.mount_id == id);
            let has = |id: u32| a.iter().any(|m| m.mount_id == id);
            let added = a
                .iter()
                .filter(|m| !had(m.mount_id))
                .map(|m| MountKey::Id(m.mount_id))
                .collect();
            (added, b.iter().filter(|m| !has(m.mount_id)).count())
        }
        (Ok(b), Ok(a)) => {
            let d = mountinfo::diff(b, a);
            (d.added.iter().map(mount_key).collect(), d.removed.len())
        }
        _ => (Vec::new(), 0),
    };
    Changes {
        ns,
        mounts_added,
        mounts_removed,
    }
}

/// Turns a message into state changes and, for keys, an action.
pub fn update(app: &mut App, msg: Msg) -> Action {
    match msg {
        Msg::Key(key) => on_key(app, key),
        Msg::Mouse(ev) => on_mouse(app, ev),
        Msg::Resize => Action::None,
        Msg::Snapshot(snapshot) => Action::Emit(super::event::Event::Snapshot { snapshot }),
        Msg::Oom => Action::Oom,
        Msg::Signal(_) => Action::Quit,
        Msg::ShellOutput(slot, bytes) => {
            Action::Emit(super::event::Event::ShellOutput { slot, bytes })
        }
        Msg::ShellClosed(slot) => Action::ShellClosed(slot),
        Msg::Follow(feed) => super::follow::on_feed(app, feed),
    }
}

fn on_key(app: &mut App, key: KeyEvent) -> Action {
    if key.kind == KeyEventKind::Release {
        return Action::None;
    }
    // A focused shell gets every key but Ctrl-], which hands the focus back.
    let slot = super::event::slot_of(app.focus).filter(|s| super::shell::Open::of(app).has(*s));
    if let Some(slot) = slot {
        if super::shell::is_escape(&key) {
            app.focus = Pane::Step;
            return Action::None;
        }
        return Action::ShellInput(slot, super::shell::key_bytes(&key));
    }
    if key.modifiers.contains(KeyModifiers::CONTROL) && key.code == KeyCode::Char('c') {
        return Action::Quit;
    }
    // Behind "terminal too small" nothing is seen: no key may act unseen but q.
    if app.too_small() {
        return if key.code == KeyCode::Char('q') {
            Action::Quit
        } else {
            Action::None
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
            return Action::None;
        }
        app.help = false;
        app.help_offset = 0;
        return if key.code == KeyCode::Char('q') {
            Action::Quit
        } else {
            Action::None
        };
    }
    if app.present
        && let Some(action) = super::present::on_key(app, &key)
    {
        return action;
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
                app.info(if app.limits_memory() {
                    "all steps are done: press s for a shell, m for the memory hog, ← to go back"
                } else {
                    "all steps are done: press s for a shell, ← to go back"
                });
                Action::None
            } else {
                Action::Next
            }
        }
        KeyCode::Left | KeyCode::Char('b') | KeyCode::PageUp => {
            if app.done == 0 {
                app.info("this is the first step");
                Action::None
            } else {
                Action::Back
            }
        }
        KeyCode::Char('m') => Action::Hog,
        KeyCode::Char('s') if app.shell.is_some() => {
            app.focus = Pane::Shell;
            Action::None
        }
        KeyCode::Char('s') => Action::Shell,
        KeyCode::Char('e') if app.entered.is_some() => {
            app.focus = Pane::Entered;
            Action::None
        }
        KeyCode::Char('e') => Action::Enter,
        KeyCode::Char('h') if app.host_shell.is_some() => {
            app.focus = Pane::Host;
            Action::None
        }
        KeyCode::Char('h') => Action::HostShell,
        KeyCode::Tab => {
            app.focus = app.focus.offset(1, super::shell::Open::of(app));
            Action::None
        }
        KeyCode::BackTab => {
            app.focus = app.focus.offset(-1, super::shell::Open::of(app));
            Action::None
        }
        KeyCode::Char('z') => {
            app.zoom = !app.zoom;
            Action::None
        }
        KeyCode::Esc => {
            app.zoom = false;
            Action::None
        }
        KeyCode::Char('?') => {
            app.help = true;
            Action::None
        }
        KeyCode::Char('t') => {
            app.theme = app.theme.next();
            Action::None
        }
        KeyCode::Char('c') if app.lesson.is_some() => Action::Check,
        KeyCode::Char('q') => Action::Quit,
        _ => Action::None,
    }
}

fn scroll(app: &mut App, m: Move) -> Action {
    // The presenter's screen shows one big pane: that one scrolls.
    let pane = if app.present {
        super::present::main_pane(app, super::shell::Open::of(app))
    } else {
        app.focus
    };
    app.scroll_pane(pane, m);
    Action::None
}

/// The mouse: the wheel scrolls the pane under the pointer, a click focuses it.
fn on_mouse(app: &mut App, ev: MouseEvent) -> Action {
    if app.too_small() || app.help {
        return Action::None;
    }
    let at = ratatui::layout::Position::new(ev.column, ev.row);
    let Some(pane) = app
        .pane_areas()
        .into_iter()
        .find(|(_, a)| a.contains(at))
        .map(|(p, _)| p)
    else {
        return Action::None;
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
    Action::None
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ui::theme::ThemeKind;

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
        assert_eq!(update(&mut a, key(KeyCode::Right)), Action::Next);
        assert_eq!(update(&mut a, key(KeyCode::Char(' '))), Action::Next);
        assert_eq!(update(&mut a, key(KeyCode::Char('n'))), Action::Next);
        assert_eq!(
            update(&mut a, key(KeyCode::Left)),
            Action::None,
            "nothing to undo"
        );
        a.done = 1;
        assert_eq!(update(&mut a, key(KeyCode::Char('b'))), Action::Back);
        assert_eq!(update(&mut a, key(KeyCode::Char('m'))), Action::Hog);
        assert_eq!(update(&mut a, key(KeyCode::Char('s'))), Action::Shell);
        assert_eq!(update(&mut a, key(KeyCode::Char('q'))), Action::Quit);
        let ctrl_c = Msg::Key(KeyEvent::new(KeyCode::Char('c'), KeyModifiers::CONTROL));
        assert_eq!(update(&mut a, ctrl_c), Action::Quit);
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
    fn messages_show_control_characters_escaped() {
        let mut a = app();
        a.error("exec /no-such-\u{1b}]0;owned\u{7}: ENOENT");
        let text = &a.message.as_ref().unwrap().text;
        assert_eq!(text, "exec /no-such-\\u{1b}]0;owned\\u{7}: ENOENT");
    }

    #[test]
    fn h_opens_the_host_shell_then_focuses_it() {
        let mut a = app();
        assert_eq!(update(&mut a, key(KeyCode::Char('h'))), Action::HostShell);
        a.apply(crate::ui::event::Event::ShellOpened {
            slot: crate::ui::shell::Slot::Host,
            title: "HOST shell".into(),
            pid: 7,
            rows: 5,
            cols: 20,
        });
        assert_eq!(a.focus, Pane::Host);
        // Typing goes to the host shell; Ctrl-] leaves it; h comes back.
        assert!(matches!(
            update(&mut a, key(KeyCode::Char('x'))),
            Action::ShellInput(crate::ui::shell::Slot::Host, _)
        ));
        let esc = Msg::Key(KeyEvent::new(KeyCode::Char(']'), KeyModifiers::CONTROL));
        update(&mut a, esc);
        assert_eq!(a.focus, Pane::Step);
        assert_eq!(update(&mut a, key(KeyCode::Char('h'))), Action::None);
        assert_eq!(a.focus, Pane::Host);
    }

    #[test]
    fn help_overlay_swallows_the_next_key() {
        let mut a = app();
        update(&mut a, key(KeyCode::Char('?')));
        assert!(a.help);
        assert_eq!(update(&mut a, key(KeyCode::Right)), Action::None);
        assert!(!a.help);
    }

    #[test]
    fn next_after_the_last_step_explains_instead() {
        let mut a = app();
        a.done = 2;
        assert_eq!(update(&mut a, key(KeyCode::Right)), Action::None);
        assert!(a.message.as_ref().is_some_and(|m| m.text.contains("shell")));
    }

    #[test]
    fn the_check_summary_names_what_is_still_to_do() {
        let row = |id: &str, passed: Option<bool>| CheckRow {
            id: id.into(),
            say: format!("{id} is done"),
            outcome: passed.map(|passed| crate::lesson::check::Outcome {
                passed,
                detail: String::new(),
            }),
        };
        let mut v = LessonView {
            id: "x".into(),
            title: "X".into(),
            order: 1,
            sections: Vec::new(),
            tries: Vec::new(),
            hints: Vec::new(),
            checks: vec![row("a", Some(true)), row("b", None), row("c", Some(false))],
            rootless_note: None,
        };
        assert_eq!(
            v.summary().as_deref(),
            Some("1 of 3 checks pass; still to do: b is done")
        );
        for c in &mut v.checks {
            c.outcome = Some(crate::lesson::check::Outcome {
                passed: true,
                detail: String::new(),
            });
        }
        assert_eq!(
            v.summary().as_deref(),
            Some("all 3 checks pass: lesson passed")
        );
        v.checks.clear();
        assert_eq!(v.summary(), None);
    }

    #[test]
    fn signals_quit() {
        let mut a = app();
        assert_eq!(update(&mut a, Msg::Signal(15)), Action::Quit);
    }
}
