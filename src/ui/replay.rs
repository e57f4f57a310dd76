//! `underhood replay`: a recording played in the same UI, at its own pace or a step
//! at a time. Nothing here touches the kernel: the events carry every value the panes
//! show, so a replay needs neither root nor namespaces nor cgroups — the fallback on
//! stage when the venue's machine has none of them.

use std::time::{Duration, Instant};

use crossterm::event::{Event as TermEvent, KeyCode, KeyEvent, KeyEventKind, KeyModifiers};

use super::app::{App, Pane, ReplayStatus};
use super::draw;
use super::error::{Error, Result};
use super::event::Event;
use super::recording::Recording;
use super::tap::Tap;
use super::terminal::Input;
use super::theme::Theme;
use super::update::{Command, Msg, apply_emits, update};
use crate::session::follow::position::unix_ms_now;
use crate::session::follow::publish::Publisher;

#[derive(Debug, Clone, Default)]
pub struct ReplayOptions {
    /// Start paused; each "next" shows the next step's whole result.
    pub step: bool,
    pub speed: f64,
    /// The presenter's layout (also when the session was recorded in it).
    pub present: bool,
    /// Also publish where the replay is on TCP (`HOST:PORT`), as `--publish` does.
    pub publish: Option<String>,
}

/// Where a replay stands: the events applied so far, and the recorded time shown.
pub struct Player {
    rec: Recording,
    pub app: App,
    theme: Theme,
    /// Entries applied: `rec.entries[..cursor]`.
    cursor: usize,
    /// First entry index of each batch that starts a container or takes a step: the
    /// places a replay stops at.
    stops: Vec<usize>,
    /// The recorded time shown now.
    pos: Duration,
    /// While playing: the wall-clock instant `pos` was last set, to advance it.
    playing_since: Option<Instant>,
    speed: f64,
}

impl Player {
    pub fn new(rec: Recording, theme: Theme, opts: ReplayOptions) -> Player {
        let stops = stops(&rec);
        let mut app = fresh_app(&rec, theme);
        app.present = opts.present || rec.header.present;
        let mut p = Player {
            app,
            rec,
            theme,
            cursor: 0,
            stops,
            pos: Duration::ZERO,
            playing_since: None,
            speed: opts.speed,
        };
        if opts.step {
            // The first stop is the container before any step.
            p.seek(p.stop_end(0));
        } else {
            let first = p.rec.entries.first().map(|e| e.at()).unwrap_or_default();
            p.apply_until(first);
            p.play();
        }
        p.status();
        p
    }

    /// The index one past the last entry of stop `k` (where stop `k + 1` begins).
    fn stop_end(&self, k: usize) -> usize {
        self.stops
            .get(k + 1)
            .copied()
            .unwrap_or(self.rec.entries.len())
    }

    /// The stop the shown state belongs to.
    fn current_stop(&self) -> Option<usize> {
        self.stops.iter().rposition(|&s| s < self.cursor)
    }

    fn apply_one(&mut self) {
        let e = self.rec.entries[self.cursor].clone();
        self.pos = self.pos.max(e.at());
        self.app.apply(e.event);
        self.cursor += 1;
    }

    fn apply_until(&mut self, t: Duration) {
        while self.cursor < self.rec.entries.len() && self.rec.entries[self.cursor].at() <= t {
            self.apply_one();
        }
        self.pos = self.pos.max(t);
    }

    /// Shows the state after exactly `target` entries (rebuilding from the start when
    /// going backwards: events only go forwards).
    fn seek(&mut self, target: usize) {
        let target = target.min(self.rec.entries.len());
        if target < self.cursor {
            let ui = (
                self.app.focus,
                self.app.zoom,
                self.app.theme,
                self.app.present,
            );
            self.app = fresh_app(&self.rec, self.theme);
            (
                self.app.focus,
                self.app.zoom,
                self.app.theme,
                self.app.present,
            ) = ui;
            self.cursor = 0;
            self.pos = Duration::ZERO;
        }
        while self.cursor < target {
            self.apply_one();
        }
        if let Some(e) = self.cursor.checked_sub(1).map(|i| &self.rec.entries[i]) {
            self.pos = e.at();
        }
        if self.playing_since.is_some() {
            self.playing_since = Some(Instant::now());
        }
        // A focus on a shell that is not open (any more) goes back to the step.
        if !super::shell::Open::of(&self.app).shows(self.app.focus) {
            self.app.focus = Pane::Step;
        }
    }

    /// The next step: paused, its whole result up to the step after; playing, the
    /// step itself, and playing on from there.
    pub fn next(&mut self) {
        let Some(k) = self.stops.iter().position(|&s| s >= self.cursor) else {
            if self.cursor < self.rec.entries.len() {
                self.seek(self.rec.entries.len());
            } else {
                self.app
                    .info("the end of the recording: ← goes back, q quits");
            }
            return;
        };
        if self.playing_since.is_some() {
            // Through the end of the step's batch.
            let start = self.stops[k];
            let batch = self.rec.entries[start].batch;
            let end = self.rec.entries[start..]
                .iter()
                .position(|e| e.batch != batch)
                .map(|n| start + n)
                .unwrap_or(self.rec.entries.len());
            self.seek(end);
        } else {
            // A lesson's run of passed-through steps, as the live press took it.
            let n = self.app.steps_per_press();
            self.seek(self.stop_end(k + n - 1));
        }
    }

    /// The step before: the state just before the shown step was taken.
    pub fn back(&mut self) {
        match self.current_stop() {
            Some(k) if k > 0 => {
                let target = if self.playing_since.is_some() {
                    self.stops[k]
                } else {
                    self.stop_end(k - 1)
                };
                self.seek(target.min(self.stops[k]));
            }
            _ => self.app.info("this is the start of the recording"),
        }
    }

    pub fn play(&mut self) {
        if self.cursor >= self.rec.entries.len() {
            self.seek(0);
            self.app.info("playing again from the start");
        }
        self.playing_since = Some(Instant::now());
    }

    pub fn pause(&mut self) {
        self.advance();
        self.playing_since = None;
    }

    /// While playing: moves the recorded time on by the wall time passed.
    pub fn advance(&mut self) {
        if let Some(since) = self.playing_since {
            let now = Instant::now();
            let t = self.pos + now.duration_since(since).mul_f64(self.speed);
            self.playing_since = Some(now);
            self.apply_until(t);
            if self.cursor >= self.rec.entries.len() {
                self.playing_since = None;
                self.pos = self.length();
            }
        }
    }

    /// How long until the next entry is due (while playing).
    fn next_due(&self) -> Option<Duration> {
        let since = self.playing_since?;
        let next = self.rec.entries.get(self.cursor)?.at();
        let wait = next.saturating_sub(self.pos).div_f64(self.speed);
        Some(wait.saturating_sub(since.elapsed()))
    }

    fn length(&self) -> Duration {
        self.rec.entries.last().map(|e| e.at()).unwrap_or_default()
    }

    /// Tells the footer where the replay stands.
    pub fn status(&mut self) {
        let name = self
            .rec
            .path
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        // The presenter's timer shows the recorded time.
        self.app.clock = self.pos;
        self.app.replay = Some(ReplayStatus {
            file: name,
            at: self.pos,
            length: self.length(),
            playing: self.playing_since.is_some(),
            speed: self.speed,
        });
    }

    /// A key; false to quit.
    pub fn key(&mut self, key: KeyEvent) -> bool {
        if key.kind == KeyEventKind::Release {
            return true;
        }
        let ctrl = key.modifiers.contains(KeyModifiers::CONTROL);
        // The presenter's blank keys (a clicker's "b" / "."), not "back".
        let blank = self.app.present && matches!(key.code, KeyCode::Char('b') | KeyCode::Char('.'));
        match key.code {
            KeyCode::Char('c') if ctrl => return false,
            _ if blank || self.app.blank => {
                let cmds = update(&mut self.app, Msg::Key(key));
                apply_emits(&mut self.app, cmds);
            }
            KeyCode::Char('q') if !self.app.help => return false,
            // A presentation clicker sends PageDown / Right / Space.
            KeyCode::Right | KeyCode::PageDown | KeyCode::Char(' ') | KeyCode::Char('n')
                if !self.app.help =>
            {
                self.advance();
                self.next();
            }
            KeyCode::Left | KeyCode::PageUp | KeyCode::Char('b') if !self.app.help => {
                self.advance();
                self.back();
            }
            KeyCode::Char('p') | KeyCode::Enter if !self.app.help => {
                if self.playing_since.is_some() {
                    self.pause();
                } else {
                    self.play();
                }
            }
            KeyCode::Char('+') if !self.app.help => self.speed = (self.speed * 2.0).min(64.0),
            KeyCode::Char('-') if !self.app.help => self.speed = (self.speed / 2.0).max(0.125),
            _ => {
                let cmds = update(&mut self.app, Msg::Key(key));
                // What the viewer's keys say is shown, not recorded; what would need
                // a container is not done.
                match apply_emits(&mut self.app, cmds)[..] {
                    [] | [Command::ShellInput(..)] => {}
                    [Command::Quit] => return false,
                    _ => self.app.info(
                        "a replay: what happens is what was recorded (→ next step, p play/pause)",
                    ),
                }
            }
        }
        true
    }
}

/// The App as the recorded session began, before its first event.
fn fresh_app(rec: &Recording, theme: Theme) -> App {
    let h = &rec.header;
    let mut app = App::new(h.host.clone(), Vec::new(), h.host_ns.clone(), theme);
    app.cgroup_skipped = h.cgroup_skipped.clone();
    app
}

/// The first entry of each batch holding a `Started` or a `Step` event.
fn stops(rec: &Recording) -> Vec<usize> {
    let mut out: Vec<usize> = Vec::new();
    let mut batch_start = 0;
    for (i, e) in rec.entries.iter().enumerate() {
        if i == 0 || e.batch != rec.entries[i - 1].batch {
            batch_start = i;
        }
        if matches!(e.event, Event::Started { .. } | Event::Step { .. })
            && out.last() != Some(&batch_start)
        {
            out.push(batch_start);
        }
    }
    out
}

pub fn main(rec: Recording, opts: ReplayOptions) -> Result<()> {
    let present = opts.present || rec.header.present;
    let theme = Theme::from_env(rec.header.high_contrast || present);
    let cut = rec.cut_at_line;
    // Where the replay is, for `underhood notes` (and followers with `--publish`): the
    // replay stands in for the live session on stage.
    let mut publisher = Publisher::start(unix_ms_now(), opts.publish.as_deref())?;
    let mut player = Player::new(rec, theme, opts);
    if let Some(line) = cut {
        player.app.info(format!(
            "the recording ends early (line {line} is cut short: was the session killed?)"
        ));
    }
    let mut terminal =
        super::terminal::init().map_err(Error::terminal("setting up the terminal"))?;
    let result = run(&mut player, &mut publisher, &mut terminal);
    super::terminal::restore();
    drop(terminal);
    publisher.finish();
    result
}

fn run(
    p: &mut Player,
    publisher: &mut Publisher,
    terminal: &mut ratatui::DefaultTerminal,
) -> Result<()> {
    loop {
        p.advance();
        p.status();
        publisher.state(p.pos, &p.app);
        terminal.draw(|f| draw::draw(f, &p.app))?;
        if let Ok(size) = terminal.size() {
            p.app.viewport = Some(ratatui::layout::Rect::new(0, 0, size.width, size.height));
        }
        // Wake for the next event, or at least 4 times a second for the time shown.
        let wait = p
            .next_due()
            .unwrap_or(Duration::from_millis(250))
            .min(Duration::from_millis(250));
        match super::terminal::next(wait) {
            Input::Event(TermEvent::Key(k)) if !p.key(k) => return Ok(()),
            Input::Event(TermEvent::Mouse(m)) => {
                let cmds = update(&mut p.app, Msg::Mouse(m));
                apply_emits(&mut p.app, cmds);
            }
            Input::Event(_) | Input::Idle => {}
            // The terminal closed (and SIGHUP, if any, was ignored): nothing to
            // show the replay to.
            Input::Gone => return Ok(()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::runtime::report::Report;
    use crate::runtime::step::Step;
    use crate::ui::app::HostLine;
    use crate::ui::recording::{Entry, Header};
    use crate::ui::theme::ThemeKind;

    fn snap(ms: u64) -> Box<crate::observe::snapshot::Snapshot> {
        Box::new(crate::observe::snapshot::Snapshot {
            at: Duration::from_millis(ms),
            subject: 1,
            ..Default::default()
        })
    }

    /// Start, two steps (each with a later sample), as a live session records them.
    fn recording() -> Recording {
        let e = |t_ms, batch, event| Entry { t_ms, batch, event };
        let step = |ms| Event::Step {
            report: Report::new("a step"),
            before: None,
            after: snap(ms),
        };
        Recording {
            path: "rec.jsonl".into(),
            header: Header::new(HostLine::default(), Vec::new(), false, false),
            entries: vec![
                e(
                    0,
                    1,
                    Event::Started {
                        steps: vec![Step::Ipc, Step::Mount],
                    },
                ),
                e(1, 1, Event::Snapshot { snapshot: snap(1) }),
                e(1000, 2, step(1000)),
                e(
                    1200,
                    3,
                    Event::Snapshot {
                        snapshot: snap(1200),
                    },
                ),
                e(3000, 4, step(3000)),
                e(3100, 4, Event::Hog { pid: Some(4) }),
                e(3300, 5, Event::Hog { pid: None }),
            ],
            cut_at_line: None,
        }
    }

    fn theme() -> Theme {
        Theme {
            kind: ThemeKind::Default,
        }
    }

    fn stepped() -> Player {
        Player::new(
            recording(),
            theme(),
            ReplayOptions {
                step: true,
                speed: 1.0,
                ..ReplayOptions::default()
            },
        )
    }

    /// A rootless walk's skipped cgroup step is in the header, survives the file's JSON
    /// (and is absent from older headers), and the replay's step pane gets it back,
    /// also after stepping back (a fresh App).
    #[test]
    fn the_skipped_cgroup_line_is_recorded_and_replayed() {
        let line = "memory controller: v1 at /sys/fs/cgroup/memory, but you may not create \
                    a cgroup there; to get it: run as root (`sudo underhood`), or boot with \
                    cgroup v2";
        let mut rec = recording();
        rec.header.cgroup_skipped = Some(line.into());
        let json = serde_json::to_string(&rec.header).expect("header json");
        let back: Header = serde_json::from_str(&json).expect("header back");
        assert_eq!(back.cgroup_skipped.as_deref(), Some(line));
        let plain = serde_json::to_string(&recording().header).expect("json");
        assert!(!plain.contains("cgroup_skipped"), "{plain}");
        rec.header = back;
        let mut p = Player::new(
            rec,
            theme(),
            ReplayOptions {
                step: true,
                speed: 1.0,
                ..ReplayOptions::default()
            },
        );
        assert_eq!(p.app.cgroup_skipped.as_deref(), Some(line));
        p.next();
        p.back();
        assert_eq!(p.app.cgroup_skipped.as_deref(), Some(line));
    }

    #[test]
    fn stops_are_the_batches_that_start_or_step() {
        assert_eq!(stops(&recording()), vec![0, 2, 4]);
    }

    #[test]
    fn stepping_shows_each_steps_whole_result() {
        let mut p = stepped();
        assert_eq!(
            (p.app.done, p.cursor),
            (0, 2),
            "the container before any step"
        );
        p.next();
        assert_eq!(
            (p.app.done, p.cursor),
            (1, 4),
            "step 1 and the sample after it"
        );
        assert_eq!(p.app.now(), Duration::from_millis(1200));
        p.next();
        assert_eq!((p.app.done, p.cursor, p.app.hog), (2, 7, None));
        p.next();
        assert!(
            p.app
                .message
                .as_ref()
                .is_some_and(|m| m.text.contains("end"))
        );
        p.back();
        assert_eq!((p.app.done, p.cursor), (1, 4));
        p.back();
        assert_eq!((p.app.done, p.cursor), (0, 2));
        p.back();
        assert!(
            p.app
                .message
                .as_ref()
                .is_some_and(|m| m.text.contains("start"))
        );
    }

    #[test]
    fn going_back_rebuilds_the_same_state() {
        let mut p = stepped();
        p.next();
        let once = format!("{:?}", (p.app.done, &p.app.snap, &p.app.log));
        p.next();
        p.back();
        let again = format!("{:?}", (p.app.done, &p.app.snap, &p.app.log));
        assert_eq!(once, again);
    }

    #[test]
    fn playing_applies_what_is_due() {
        let mut p = Player::new(
            recording(),
            theme(),
            ReplayOptions {
                step: false,
                speed: 1.0,
                ..ReplayOptions::default()
            },
        );
        assert_eq!(p.cursor, 1, "only what is due at the start");
        p.apply_until(Duration::from_millis(3100));
        assert_eq!((p.app.done, p.app.hog), (2, Some(4)));
        // While playing, next goes through the step's batch only.
        let mut q = Player::new(
            recording(),
            theme(),
            ReplayOptions {
                step: false,
                speed: 1.0,
                ..ReplayOptions::default()
            },
        );
        q.next();
        assert_eq!(
            (q.app.done, q.cursor),
            (1, 3),
            "step 1, not the sample after it"
        );
        q.next();
        assert_eq!((q.app.done, q.cursor, q.app.hog), (2, 6, Some(4)));
    }

    #[test]
    fn container_keys_say_it_is_a_replay() {
        let mut p = stepped();
        assert!(p.key(KeyEvent::new(KeyCode::Char('m'), KeyModifiers::NONE)));
        assert!(
            p.app
                .message
                .as_ref()
                .is_some_and(|m| m.text.contains("replay"))
        );
        assert!(!p.key(KeyEvent::new(KeyCode::Char('q'), KeyModifiers::NONE)));
    }
}
