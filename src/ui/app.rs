//! The TUI's state. It changes in two places only: `update` (ui/update.rs: what the
//! viewer chooses, and the commands for the rest) and `App::apply` (ui/event.rs: the
//! session's events). Drawing reads `&App` only.

use std::collections::VecDeque;
use std::path::PathBuf;
use std::time::Duration;

use crate::ns::Ns;
use crate::observe::mountinfo::{self, Mount};
use crate::observe::namespaces::{NsFile, NsLink};
use crate::observe::snapshot::Snapshot;
use crate::runtime::report::Report;
use crate::runtime::step::Step;

use super::pane::Open;
use super::shell::ShellView;
use super::theme::Theme;
use crate::session::event::Event;

pub use super::pane::Pane;
pub use crate::session::event::{HostLine, Message};

/// What the last step changed, from the snapshots just before and just after it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Changes {
    pub ns: Vec<NsFile>,
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
    /// (step, lesson that introduces it) for the steps only passed through (ui/pass.rs).
    pub passing: Vec<(String, String)>,
    /// Made by hand (`observe = "host-shell"`): no steps, the learner works in the host
    /// shell (h), so that is where the text points.
    pub by_hand: bool,
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
            passing: crate::lesson::passing::pointers(l),
            by_hand: l.by_hand(),
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
        crate::session::walk::check_summary(
            self.checks
                .iter()
                .map(|c| (c.say.as_str(), c.outcome.as_ref().map(|o| o.passed))),
        )
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
    pub shell: Option<ShellView>,
    /// The second shell, entered from outside with setns.
    pub entered: Option<ShellView>,
    /// The shell on the host, with variables pointing at the container.
    pub host_shell: Option<ShellView>,
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
    pub follow: Option<FollowStatus>,
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

/// Where a following session stands, for the header.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FollowStatus {
    /// The address as the learner wrote it.
    pub addr: String,
    /// Why the connection was lost, while it is.
    pub lost: Option<String>,
}

impl FollowStatus {
    pub fn new(addr: String) -> FollowStatus {
        FollowStatus { addr, lost: None }
    }

    /// The header's words.
    pub fn label(&self) -> String {
        match &self.lost {
            None => format!("following {}", self.addr),
            Some(_) => format!("on your own: lost {}, retrying", self.addr),
        }
    }
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

    pub(crate) fn set_scroll(&mut self, pane: Pane, offset: usize) {
        self.scroll.retain(|(p, _)| *p != pane);
        self.scroll.push((pane, offset));
    }

    /// The screen as last drawn (80x24 before the first draw, as in tests).
    pub fn screen(&self) -> ratatui::layout::Rect {
        self.viewport
            .unwrap_or(ratatui::layout::Rect::new(0, 0, 80, 24))
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

    /// A lesson made by hand whose learner has no container yet: the panes show
    /// underhood's idle process, which shares every namespace with the host (the
    /// target becomes the learner's newest container as soon as one exists).
    pub fn waiting_for_by_hand(&self) -> bool {
        if !self.lesson.as_ref().is_some_and(|l| l.by_hand) {
            return false;
        }
        let Some(snap) = self.snap.as_ref() else {
            return true;
        };
        !snap.ns.iter().any(|l| {
            !l.kind.for_children()
                && l.inode.is_some()
                && self
                    .host_ns
                    .iter()
                    .find(|h| h.kind == l.kind)
                    .is_some_and(|h| h.inode.is_some() && h.inode != l.inode)
        })
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

    /// The message line says `text`, as the event would (replays and tests: a live
    /// session's messages come as events, see `update`).
    pub fn info(&mut self, text: impl Into<String>) {
        self.apply(Event::info(text));
    }

    pub fn error(&mut self, text: impl Into<String>) {
        self.apply(Event::error(text));
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

fn ns_inode(links: &[NsLink], k: NsFile) -> Option<u64> {
    links.iter().find(|l| l.kind == k).and_then(|l| l.inode)
}

fn changes(before: Option<&Snapshot>, after: &Snapshot) -> Changes {
    let Some(before) = before else {
        return Changes::default();
    };
    let ns = NsFile::ALL
        .iter()
        .filter(|k| {
            let inode =
                |links: &[NsLink]| links.iter().find(|l| l.kind == **k).and_then(|l| l.inode);
            inode(&before.ns) != inode(&after.ns)
        })
        .copied()
        .collect();
    let same_mnt_ns = ns_inode(&before.ns, NsFile::of(Ns::Mount)).is_some()
        && ns_inode(&before.ns, NsFile::of(Ns::Mount))
            == ns_inode(&after.ns, NsFile::of(Ns::Mount));
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

impl Open {
    /// The shells open in `app`.
    pub fn of(app: &App) -> Open {
        Open {
            spawned: app.shell.is_some(),
            entered: app.entered.is_some(),
            host: app.host_shell.is_some(),
        }
    }
}

/// A lesson view for tests: id "x", no text, no checks, nothing passed through.
#[cfg(test)]
impl LessonView {
    pub(crate) fn bare() -> LessonView {
        LessonView {
            id: "x".into(),
            title: "X".into(),
            order: 1,
            sections: Vec::new(),
            tries: Vec::new(),
            hints: Vec::new(),
            checks: Vec::new(),
            rootless_note: None,
            passing: Vec::new(),
            by_hand: false,
        }
    }
}

/// An app for tests: no host facts, the default theme, these steps.
#[cfg(test)]
impl App {
    pub(crate) fn for_tests(steps: Vec<Step>) -> App {
        App::new(
            HostLine::default(),
            steps,
            Vec::new(),
            Theme {
                kind: crate::ui::theme::ThemeKind::Default,
            },
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn app() -> App {
        App::for_tests(vec![Step::Ipc, Step::Mount])
    }

    #[test]
    fn messages_show_control_characters_escaped() {
        let mut a = app();
        a.error("exec /no-such-\u{1b}]0;owned\u{7}: ENOENT");
        let text = &a.message.as_ref().unwrap().text;
        assert_eq!(text, "exec /no-such-\\u{1b}]0;owned\\u{7}: ENOENT");
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
            checks: vec![row("a", Some(true)), row("b", None), row("c", Some(false))],
            ..LessonView::bare()
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
}
