//! The TUI's main loop. One channel carries every message (keys, snapshots, OOM
//! events, signals) to the main thread, which owns the state and the container;
//! threads only read (keyboard, observer, OOM fd, signals). The container's steps run
//! on the main thread, the one that started the subject, because PR_SET_PDEATHSIG
//! follows the *thread* that forked it.

use std::os::fd::AsFd;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::mpsc::{self, Receiver, RecvTimeoutError, Sender};
use std::sync::{Arc, Mutex};
use std::thread;
use std::time::{Duration, Instant};

use anyhow::{Context, Result};
use crossterm::event::Event as TermEvent;
use nix::sys::signal::{SigSet, Signal};

use crate::observe::host::{HostRoots, Overlay, read_host_facts};
use crate::observe::kmsg::KernelLog;
use crate::observe::namespaces;
use crate::observe::snapshot::{self, Target};
use crate::runtime::cgroup::{self, Cgroup};
use crate::runtime::cleanup;
use crate::runtime::controller::Launch;
use crate::runtime::launcher::{self, RootSource};
use crate::runtime::paths::Paths;
use crate::runtime::plan::Options;
use crate::runtime::protocol::SpawnSpec;
use crate::runtime::report::Report;
use crate::runtime::step::{LimitSpec, Step};
use crate::units::format_size;

use super::app::{self, Action, App, HostLine, Msg};
use super::draw;
use super::event::{Event, LessonSource, pane_of};
use super::recording::{Header, Recorder};
use super::shell::{ShellSession, Slot};
use super::tap::Taps;
use super::terminal::Input;
use super::theme::Theme;
use ratatui::layout::Rect;

mod follow;

/// What the TUI launches.
#[derive(Debug, Clone)]
pub struct TuiOptions {
    /// Follow this lesson (its steps, text and checks) instead of the full launch.
    pub lesson: Option<crate::lesson::format::LessonFile>,
    pub source: RootSource,
    pub memory: u64,
    pub hog_rate: u64,
    pub high_contrast: bool,
    /// Save the session's events to this file (`underhood replay` plays it).
    pub record: Option<PathBuf>,
    /// Presenter mode: big panes for a projector, a timer (implies high contrast).
    pub present: bool,
    /// `--publish HOST:PORT`: also publish where we are on TCP (for a classroom).
    pub publish: Option<String>,
    /// `--follow ADDR`: go where that session goes.
    pub follow: Option<super::follow::Following>,
    /// The cgroup controllers this user may not use here, each with doctor's line on
    /// why and what gives it (`underhood doctor` decides; main fills it in). Their
    /// limits are left out of the plan rather than failing the walk on EACCES.
    pub unusable: Vec<(cgroup::Controller, String)>,
    /// `--lesson` without an id: the steps to take on opening, and what to say.
    pub resume: Option<super::resume::Resume>,
}

impl Default for TuiOptions {
    fn default() -> Self {
        TuiOptions {
            lesson: None,
            source: RootSource::Default,
            memory: 100 << 20,
            hog_rate: 16 << 20,
            high_contrast: false,
            record: None,
            present: false,
            publish: None,
            follow: None,
            unusable: Vec::new(),
            resume: None,
        }
    }
}

/// Leaves out of the plan the limits whose controller this user may not use, and says
/// why when that removes the memory limit (the one the walk is about): the walk then
/// goes on past the cgroup step instead of failing it with EACCES on every →.
fn without_unusable(
    mut opts: Options,
    unusable: &[(cgroup::Controller, String)],
) -> (Options, Option<String>) {
    let mut why = None;
    for (c, line) in unusable {
        match c {
            cgroup::Controller::Memory => {
                if opts.limits.memory.take().is_some() {
                    why = Some(line.clone());
                }
            }
            cgroup::Controller::Pids => opts.limits.pids = None,
            cgroup::Controller::Cpu => opts.limits.cpus = None,
        }
    }
    // Only the memory limit dropped, others kept: the step stays for them.
    let still =
        opts.limits.memory.is_some() || opts.limits.pids.is_some() || opts.limits.cpus.is_some();
    (opts, if still { None } else { why })
}

/// Observer rates: 4 Hz idle, 10 Hz while the hog climbs.
const IDLE_PERIOD: Duration = Duration::from_millis(250);
const HOG_PERIOD: Duration = Duration::from_millis(100);
/// The longest the memory graph goes without a sample while the container lives.
const HEARTBEAT: Duration = Duration::from_secs(1);

fn options(o: &TuiOptions) -> Options {
    Options {
        limits: LimitSpec {
            memory: Some(o.memory),
            pids: Some(128),
            cpus: None,
        },
        // The container's command: something that waits, so the learner can explore.
        argv: vec!["sleep".into(), "2147483647".into()],
        ..Options::default()
    }
}

fn host_line(paths: &Paths) -> HostLine {
    let facts = read_host_facts(&HostRoots::from_proc_root(&paths.proc_root));
    let cgroup = match cgroup::Host::detect(paths) {
        Ok(h) => h.to_string(),
        Err(_) => "no cgroups".to_string(),
    };
    HostLine {
        root: facts.is_root,
        cgroup,
        overlay: match facts.overlay {
            Overlay::Available => "yes".into(),
            Overlay::Module => "(module, not loaded)".into(),
            Overlay::Missing => "missing".into(),
        },
        userns: if facts.userns_verdict().is_allowed() {
            "allowed".into()
        } else {
            "restricted".into()
        },
    }
}

/// Shared with the observer thread.
struct Observer {
    target: Mutex<Target>,
    period_ms: AtomicU64,
    stop: AtomicBool,
    /// Bumped for each new cgroup: an OOM watcher of an older one stops.
    oom_generation: AtomicU64,
    /// Host pids whose children are in the container but not under its PID 1: the
    /// `e` shell's entering process (setns, then fork: the shell is its child).
    extra_roots: Mutex<Vec<i32>>,
}

/// A sample of the container: the observer's, plus the processes that entered it from
/// outside (they are the container's too: `ps` inside lists them).
fn sample_all(proc_root: &std::path::Path, shared: &Observer, at: Duration) -> snapshot::Snapshot {
    let target = shared.target.lock().map(|t| t.clone()).unwrap_or_default();
    let mut snap = snapshot::sample(proc_root, &target, at);
    let extra = shared
        .extra_roots
        .lock()
        .map(|e| e.clone())
        .unwrap_or_default();
    for root in extra {
        // The entering process itself stays outside (the host's PID namespace): its
        // children, one level up.
        if let Ok(nodes) = crate::observe::ptree::tree(proc_root, root) {
            snap.tree.extend(nodes.into_iter().skip(1).map(|mut n| {
                n.depth = n.depth.saturating_sub(1);
                n
            }));
        }
    }
    snap
}

pub fn main(opts: TuiOptions) -> Result<i32> {
    let paths = Paths::host();
    let cleaned = cleanup::stale_sessions(&paths);
    for s in &cleaned.sessions {
        super::terminal::say(&format!("underhood: removed stale session {s}"));
    }
    // Before any thread exists: these signals are taken by a thread of ours with
    // sigwait(2), so that every exit path tears the container down.
    let mut sigs = SigSet::empty();
    for s in [
        Signal::SIGTERM,
        Signal::SIGHUP,
        Signal::SIGINT,
        Signal::SIGQUIT,
    ] {
        sigs.add(s);
    }
    sigs.thread_block().context("blocking signals")?;
    // Where we are, for `underhood notes` and followers; before the container exists,
    // so that a `--publish` address already taken stops us with nothing to undo.
    let publisher = super::follow::publish::Publisher::start(
        super::follow::position::unix_ms_now(),
        opts.publish.as_deref(),
    )?;

    let host = host_line(&paths);
    let host_ns = namespaces::read_links(&paths.proc_root, std::process::id() as i32);
    // The recording's file first: a path that cannot be written stops us before any
    // container exists.
    let mut taps = Taps::default();
    if let Some(path) = &opts.record {
        let header = Header::new(
            host.clone(),
            host_ns.clone(),
            opts.present,
            opts.high_contrast,
        );
        taps.add(Box::new(Recorder::create(path, &header)?));
    }
    super::terminal::say(
        "underhood: preparing the root filesystem (the first time takes a few seconds)...",
    );
    let lower = launcher::layers(&opts.source, &paths)?;
    let (plan_opts, cgroup_skipped) = without_unusable(
        match &opts.lesson {
            Some(l) => crate::lesson::plan::options(l),
            None => options(&opts),
        },
        &opts.unusable,
    );
    let launch = start_launch(&opts, &plan_opts, &lower, &paths)?;
    let mut app = App::new(
        host,
        launch.steps.clone(),
        host_ns,
        Theme::from_env(opts.high_contrast || opts.present),
    );
    app.present = opts.present;
    app.cgroup_skipped = cgroup_skipped;

    let (tx, rx) = mpsc::channel();
    if let Some(f) = &opts.follow {
        app.follow = Some(super::follow::FollowStatus::new(f.addr.to_string()));
        let tx = tx.clone();
        super::follow::subscribe::spawn(f.addr.clone(), move |feed| {
            tx.send(Msg::Follow(feed)).is_ok()
        });
    }
    let shared = Arc::new(Observer {
        target: Mutex::new(Target {
            subject: launch.subject,
            tree_root: launch.subject,
            cgroup: None,
            // A lesson made by hand: the panes follow the learner's newest container
            // below us (the host shell is our child), found again at each sample.
            learner_below: opts
                .lesson
                .as_ref()
                .filter(|l| l.by_hand())
                .map(|_| std::process::id() as i32),
        }),
        period_ms: AtomicU64::new(IDLE_PERIOD.as_millis() as u64),
        stop: AtomicBool::new(false),
        oom_generation: AtomicU64::new(0),
        extra_roots: Mutex::new(Vec::new()),
    });
    spawn_signal_thread(sigs, tx.clone());
    spawn_input_thread(shared.clone(), tx.clone());
    let started = Instant::now();
    spawn_observer(shared.clone(), paths.clone(), started, tx.clone());

    let mut ctl = Driver {
        launch,
        paths,
        lower,
        plan_opts,
        opts,
        shared,
        tx,
        started,
        kmsg: KernelLog::open(),
        shell: None,
        entered: None,
        enter_child: None,
        host: None,
        host_child: None,
        host_env: Vec::new(),
        host_closed_why: None,
        taps,
    };
    ctl.taps.begin();
    ctl.emit(
        &mut app,
        Event::Started {
            steps: ctl.launch.steps.clone(),
        },
    );
    let lesson = ctl.opts.lesson.as_ref().map(LessonSource::of);
    ctl.emit(&mut app, Event::Lesson { lesson });
    if let Some(w) = publisher.warnings.first() {
        app.error(w.clone());
    }
    ctl.taps.add(Box::new(publisher));
    if let Some(r) = ctl.opts.resume.clone() {
        // Back where the learner was: the saved steps taken again on a new container.
        for _ in 0..r.step.min(app.steps.len()) {
            ctl.next(&mut app);
        }
        app.info(r.note);
    }
    // Publish the first position now, not after the first message.
    ctl.taps.state(ctl.started.elapsed(), &app);
    let mut terminal = super::terminal::init();
    let result = match terminal.as_mut() {
        Ok(t) => ctl.run(&mut app, t, &rx),
        Err(e) => Err(anyhow::anyhow!("setting up the terminal: {e}")),
    };
    // The container first: whatever happened to the terminal (closed, EIO), nothing
    // stays behind. Then the terminal, which restores without ever panicking, and
    // only then ratatui's own drop (its cursor write must not fail: terminal::restore
    // points a dead terminal's stdout and stderr at /dev/null).
    ctl.shared.stop.store(true, Ordering::SeqCst);
    let teardown = ctl.launch.teardown();
    super::terminal::restore();
    drop(terminal);
    ctl.taps.finish();
    result?;
    teardown?;
    Ok(0)
}

/// Starts a container for the plan, cut to the lesson's steps when following one.
fn start_launch(
    opts: &TuiOptions,
    plan_opts: &Options,
    lower: &[PathBuf],
    paths: &Paths,
) -> Result<Launch> {
    let mut launch = launcher::start(plan_opts, lower.to_vec(), paths)?;
    if let Some(l) = &opts.lesson {
        let steps = std::mem::take(&mut launch.steps);
        launch.steps = crate::lesson::plan::filter(l, steps);
    }
    Ok(launch)
}

struct Driver {
    launch: Launch,
    paths: Paths,
    lower: Vec<PathBuf>,
    plan_opts: Options,
    opts: TuiOptions,
    shared: Arc<Observer>,
    tx: Sender<Msg>,
    started: Instant,
    kmsg: Option<KernelLog>,
    shell: Option<ShellSession>,
    /// The shell that entered the container with setns, and the `__enter` process
    /// behind it (reaped when it closes).
    entered: Option<ShellSession>,
    enter_child: Option<std::process::Child>,
    /// The shell on the host (`h`), and its process (reaped when it closes).
    host: Option<ShellSession>,
    host_child: Option<std::process::Child>,
    /// The variables the host shell was given (runtime::host_shell::env).
    host_env: Vec<(String, String)>,
    /// Why the host shell is being closed, for when its end arrives.
    host_closed_why: Option<String>,
    /// Where events go besides the screen (a recording, followers).
    taps: Taps,
}

/// Rows and columns inside a shell pane's border for a screen of `size`, as the
/// layout is (or will be, once that shell is open).
fn shell_size(app: &App, size: Rect, slot: Slot) -> (u16, u16) {
    let open = super::shell::Open::of(app).with(slot);
    draw::screen_layout(app, size, open)
        .into_iter()
        .find(|(p, _)| *p == pane_of(slot))
        .map(|(_, r)| {
            (
                r.height.saturating_sub(2).max(1),
                r.width.saturating_sub(2).max(1),
            )
        })
        .unwrap_or((24, 80))
}

impl Driver {
    fn run(
        &mut self,
        app: &mut App,
        terminal: &mut ratatui::DefaultTerminal,
        rx: &Receiver<Msg>,
    ) -> Result<()> {
        let snapshot = Box::new(self.sample());
        self.emit(app, Event::Snapshot { snapshot });
        let mut dirty = true;
        loop {
            if dirty {
                app.clock = self.started.elapsed();
                // A terminal that is gone (SIGHUP) cannot be drawn on: leave and clean up.
                if terminal.draw(|f| draw::draw(f, app)).is_err() {
                    return Ok(());
                }
                dirty = false;
                if let Ok(size) = terminal.size() {
                    let screen = Rect::new(0, 0, size.width, size.height);
                    app.viewport = Some(screen);
                    for slot in Slot::ALL {
                        let (rows, cols) = shell_size(app, screen, slot);
                        if self.session(slot).is_some_and(|sh| sh.resize(rows, cols)) {
                            self.emit(app, Event::ShellResized { slot, rows, cols });
                        }
                    }
                }
            }
            self.taps.begin();
            match rx.recv_timeout(Duration::from_millis(100)) {
                Ok(msg) => {
                    // A key's release changes nothing shown: no frame is built for it.
                    let release = matches!(&msg, Msg::Key(k)
                        if k.kind == crossterm::event::KeyEventKind::Release);
                    let action = app::update(app, msg);
                    dirty = !release;
                    match action {
                        Action::None => {}
                        // A sample taken before going back arrives after the
                        // rebuilt container's: it belongs to the torn-down one, is
                        // dropped, and changes nothing to draw.
                        Action::Emit(Event::Snapshot { snapshot })
                            if app.snap.as_ref().is_some_and(|s| s.at > snapshot.at) =>
                        {
                            dirty = false;
                        }
                        Action::Emit(ev) => self.emit(app, ev),
                        Action::Oom => {
                            app.info("the kernel's OOM killer fired in the container's cgroup");
                            // Show the kill now, not at the observer's next sample.
                            let snapshot = Box::new(self.sample());
                            self.emit(app, Event::Snapshot { snapshot });
                        }
                        Action::ShellClosed(slot) => {
                            match slot {
                                Slot::Spawned => self.shell = None,
                                Slot::Entered => {
                                    self.entered = None;
                                    if let Some(mut c) = self.enter_child.take() {
                                        let _ = c.wait();
                                    }
                                    self.set_extra_roots();
                                }
                                Slot::Host => {
                                    self.host = None;
                                    if let Some(mut c) = self.host_child.take() {
                                        let _ = c.wait();
                                    }
                                }
                            }
                            self.emit(app, Event::ShellClosed { slot });
                            match self.host_closed_why.take().filter(|_| slot == Slot::Host) {
                                Some(why) => app.info(why),
                                None => app.info("the shell exited"),
                            }
                            self.check(app);
                        }
                        Action::Quit => return Ok(()),
                        Action::Next => self.next(app),
                        Action::Back => self.back(app),
                        Action::Hog => self.hog(app),
                        Action::Shell => {
                            let size = terminal.size()?;
                            self.shell(app, Rect::new(0, 0, size.width, size.height));
                        }
                        Action::Enter => {
                            let size = terminal.size()?;
                            self.enter(app, Rect::new(0, 0, size.width, size.height));
                        }
                        Action::HostShell => {
                            let size = terminal.size()?;
                            self.host_shell(app, Rect::new(0, 0, size.width, size.height));
                        }
                        Action::ShellInput(slot, bytes) => {
                            if let Some(sh) = self.session(slot) {
                                sh.write(&bytes);
                            }
                            dirty = false;
                        }
                        Action::Check => self.check(app),
                        Action::Follow(p) => self.follow(app, &p),
                    }
                }
                Err(RecvTimeoutError::Timeout) => {}
                Err(RecvTimeoutError::Disconnected) => return Ok(()),
            }
            if self.pump(app) {
                dirty = true;
            }
            if dirty {
                self.taps.state(self.started.elapsed(), app);
            }
            // The presenter's timer shows seconds: draw again when the second changes.
            if app.present && self.started.elapsed().as_secs() != app.clock.as_secs() {
                dirty = true;
            }
        }
    }

    fn session(&mut self, slot: Slot) -> Option<&mut ShellSession> {
        match slot {
            Slot::Spawned => self.shell.as_mut(),
            Slot::Entered => self.entered.as_mut(),
            Slot::Host => self.host.as_mut(),
        }
    }

    /// Every change to the container's side of the screen: to the taps, then applied.
    fn emit(&mut self, app: &mut App, ev: Event) {
        self.taps.event(self.started.elapsed(), &ev);
        app.apply(ev);
    }

    fn step_event(
        &mut self,
        app: &mut App,
        report: Report,
        before: snapshot::Snapshot,
        after: snapshot::Snapshot,
    ) {
        let ev = Event::Step {
            report,
            before: Some(Box::new(before)),
            after: Box::new(after),
        };
        self.emit(app, ev);
    }

    fn sample(&self) -> snapshot::Snapshot {
        sample_all(&self.paths.proc_root, &self.shared, self.started.elapsed())
    }

    /// The observer follows the `e` shell's processes while it is open.
    fn set_extra_roots(&self) {
        if let Ok(mut e) = self.shared.extra_roots.lock() {
            *e = self.enter_child.iter().map(|c| c.id() as i32).collect();
        }
    }

    fn retarget(&self) {
        let new_cgroup = self.launch.cgroup.clone();
        if let Ok(mut t) = self.shared.target.lock() {
            let cgroup_changed =
                t.cgroup.as_ref().map(Cgroup::dirs) != new_cgroup.as_ref().map(Cgroup::dirs);
            t.subject = self.launch.subject;
            t.tree_root = self.launch.first_pid().unwrap_or(self.launch.subject);
            t.cgroup = new_cgroup.clone();
            if cgroup_changed {
                let generation = self.shared.oom_generation.fetch_add(1, Ordering::SeqCst) + 1;
                if let Some(cg) = new_cgroup {
                    spawn_oom_watcher(cg, generation, self.shared.clone(), self.tx.clone());
                }
            }
        }
    }

    fn next(&mut self, app: &mut App) {
        let before = self.sample();
        match self.launch.step() {
            Ok(report) => {
                self.retarget();
                let after = self.sample();
                self.step_event(app, report, before, after);
                self.save_position(app);
                self.check_after_step(app);
                self.refresh_host_shell(app);
                crate::runtime::fault::after_step(self.launch.next);
            }
            Err(f) => {
                self.emit(app, Event::Log { report: *f.report });
                app.error(f.message);
            }
        }
    }

    /// Going back: tear the container down and replay every step but the last.
    fn back(&mut self, app: &mut App) {
        if self.rebuild(app, app.done.saturating_sub(1)) {
            app.info(format!(
                "went back: {} of {} steps replayed on a fresh container",
                app.done,
                app.steps.len()
            ));
        }
    }

    /// Tears the container down and starts a fresh one with `target` steps taken.
    /// False when that failed (the error is shown).
    fn rebuild(&mut self, app: &mut App, target: usize) -> bool {
        // Before the teardown: removing a v1 memory cgroup signals its OOM eventfd
        // (cgroup-v1/memory.txt), which must not read as a kill in the new container.
        self.shared.oom_generation.fetch_add(1, Ordering::SeqCst);
        if let Err(e) = self.launch.teardown() {
            app.error(format!("{e:#}"));
        }
        let launch = match start_launch(&self.opts, &self.plan_opts, &self.lower, &self.paths) {
            Ok(l) => l,
            Err(e) => {
                app.error(format!("starting again failed: {e:#}"));
                return false;
            }
        };
        self.launch = launch;
        self.refresh_host_shell(app);
        let steps = self.launch.steps.clone();
        self.emit(app, Event::Started { steps });
        self.retarget();
        let mut before = self.sample();
        for _ in 0..target {
            match self.launch.step() {
                Ok(report) => {
                    self.retarget();
                    let after = self.sample();
                    self.step_event(app, report, before, after.clone());
                    before = after;
                }
                Err(f) => {
                    self.emit(app, Event::Log { report: *f.report });
                    app.error(format!("replaying: {}", f.message));
                    return false;
                }
            }
        }
        if app.done == 0 {
            let snapshot = Box::new(self.sample());
            self.emit(app, Event::Snapshot { snapshot });
        }
        true
    }

    /// After a step that is not the last, only the checks that start no process inside
    /// (`Kind::runs_inside`): a check's `/bin/sh` would take a pid in the container
    /// (the command would then not be PID 2) and, before the mount and PID steps, run
    /// on the host itself. The rest wait for the last step, `c`, or a shell's end.
    fn check_after_step(&mut self, app: &mut App) {
        if app.done >= app.steps.len() {
            return self.check(app);
        }
        let Some(lf) = self.opts.lesson.clone() else {
            return;
        };
        let outcomes = crate::lesson::runner::evaluate_quiet(&lf, &mut self.launch);
        self.emit(app, Event::Checks { outcomes });
    }

    /// In a lesson, where the learner is (`--lesson` alone comes back here).
    fn save_position(&mut self, app: &mut App) {
        let Some(id) = self.opts.lesson.as_ref().map(|l| l.id().to_string()) else {
            return;
        };
        let path = crate::lesson::progress::default_path();
        let mut progress = crate::lesson::progress::Progress::load(&path);
        progress.current = Some((id, app.done));
        if let Err(e) = progress.save(&path) {
            app.error(format!("saving progress: {e:#}"));
        }
    }

    /// Evaluates the lesson's checks against the live container and records progress.
    fn check(&mut self, app: &mut App) {
        let Some(lf) = self.opts.lesson.clone() else {
            return;
        };
        let results = crate::lesson::runner::evaluate_all(&lf, &mut self.launch);
        let outcomes = results.into_iter().map(|(_, o)| Some(o)).collect();
        self.emit(app, Event::Checks { outcomes });
        let Some(view) = app.lesson.as_ref() else {
            return;
        };
        let (id, passed, summary) = (view.id.clone(), view.all_passed(), view.summary());
        // On the message line too: with a shell open the check list may be out of
        // sight in a small pane.
        if let Some(text) = summary {
            app.info(text);
        }
        let path = crate::lesson::progress::default_path();
        let mut progress = crate::lesson::progress::Progress::load(&path);
        progress.current = Some((id.clone(), app.done));
        if passed {
            progress.passed.insert(id);
        }
        if let Err(e) = progress.save(&path) {
            app.error(format!("saving progress: {e:#}"));
        }
    }

    fn hog(&mut self, app: &mut App) {
        if app.hog.is_some() {
            app.info("the hog is already running: watch the memory pane");
            return;
        }
        if self.launch.cgroup.is_none() {
            let at = self
                .launch
                .steps
                .iter()
                .position(|s| matches!(s, Step::Cgroup { .. }))
                .map(|i| i + 1);
            match (at, &app.cgroup_skipped) {
                (Some(at), _) => app.info(format!(
                    "the memory hog needs the memory limit first: take the steps up to step {at} (cgroup limits)"
                )),
                (None, Some(why)) => app.info(format!(
                    "the memory hog needs a memory limit, and this walk has none: {why}"
                )),
                (None, None) => app.info(
                    "this container gets no memory limit, so the hog has nothing to hit: the OOM lesson shows it (underhood --lesson oom)",
                ),
            }
            return;
        }
        let rate = format_size(self.opts.hog_rate)
            .replace(' ', "")
            .replace("iB", "");
        // Once the container has its own root, run the copy of hog in it (the kernel's
        // log then names `hog`); before that, our own in-memory binary.
        let rooted = self.launch.steps[..self.launch.next]
            .iter()
            .any(|s| matches!(s, Step::EnterRoot { .. }));
        let spec = SpawnSpec {
            argv: vec!["hog".into(), "--rate".into(), rate],
            env: self.launch.exec_env(),
            inherit_stdio: false,
            tty: false,
            own_tool: !rooted,
        };
        match self.launch.spawn(spec) {
            Ok((pid, report)) => {
                self.emit(app, Event::Hog { pid: Some(pid) });
                self.emit(app, Event::Log { report });
                self.shared
                    .period_ms
                    .store(HOG_PERIOD.as_millis() as u64, Ordering::SeqCst);
                app.info(format!(
                    "hog (pid {pid} inside) grows by {}/s towards the {} limit",
                    format_size(self.opts.hog_rate),
                    format_size(self.opts.memory)
                ));
            }
            Err(f) => {
                self.emit(app, Event::Log { report: *f.report });
                app.error(f.message);
            }
        }
    }

    /// Reads what the subject reported unasked; true when the screen must change.
    fn pump(&mut self, app: &mut App) -> bool {
        match self.launch.pump() {
            Ok(true) => {}
            Ok(false) => {
                app.error("the container's PID 1 is gone; press ← to go back and rebuild it");
                return true;
            }
            Err(e) => {
                app.error(format!("{e:#}"));
                return true;
            }
        }
        let reaped: Vec<_> = self.launch.reaped.drain(..).collect();
        let mut changed = false;
        for (pid, exit) in reaped {
            if Some(pid) != app.hog {
                continue;
            }
            changed = true;
            self.emit(app, Event::Hog { pid: None });
            self.shared
                .period_ms
                .store(IDLE_PERIOD.as_millis() as u64, Ordering::SeqCst);
            let mut r = Report::new("hog ended");
            let snap = self.sample();
            let kills = snap.memory.as_ref().map(|m| m.oom_kills).unwrap_or(0);
            match exit.signal {
                Some(9) => {
                    r.note(format!(
                        "the kernel killed hog with SIGKILL at the {} limit; {} OOM kill{} counted",
                        format_size(self.opts.memory),
                        kills,
                        if kills == 1 { "" } else { "s" }
                    ));
                    app.info("OOM kill: the hog hit the limit and the kernel killed it; the container carries on");
                }
                _ => r.note(format!("hog exited with status {}", exit.status())),
            }
            if let (Some(k), Some(cg)) = (self.kmsg.as_mut(), self.launch.cgroup.as_ref()) {
                let lines = k.read_new();
                for line in crate::observe::kmsg::kills_in(&lines, cg.name()) {
                    r.note(format!("kernel: {line}"));
                }
            }
            self.emit(app, Event::Log { report: r });
            let snapshot = Box::new(snap);
            self.emit(app, Event::Snapshot { snapshot });
        }
        changed
    }

    /// Opens a shell that enters the running container from outside with setns(2).
    fn enter(&mut self, app: &mut App, size: Rect) {
        if app.done == 0 {
            app.info("take a step first: there is nothing to enter yet");
            return;
        }
        let mut env = self.launch.exec_env();
        env.push(("TERM".into(), "xterm-256color".into()));
        let (rows, cols) = shell_size(app, size, Slot::Entered);
        let argv = vec!["/bin/sh".into(), "-l".into()];
        match self.launch.enter_pty(argv, env, rows, cols) {
            Ok((child, master, report)) => {
                let failed = report.failure().is_some();
                self.emit(app, Event::Log { report });
                if failed {
                    app.error("entering failed: see the syscalls pane");
                }
                let title = "Entered with setns (like nsenter)".to_string();
                let pid = child.id() as i32;
                if self.attach(app, Slot::Entered, master, pid, title, (rows, cols)) {
                    self.enter_child = Some(child);
                    self.set_extra_roots();
                }
            }
            Err(e) => app.error(format!("entering the container: {e:#}")),
        }
    }

    /// Puts a started shell's terminal in its pane and gives it the focus. False when
    /// the terminal could not be wrapped (the error is shown).
    fn attach(
        &mut self,
        app: &mut App,
        slot: Slot,
        master: std::os::fd::OwnedFd,
        pid: i32,
        title: String,
        (rows, cols): (u16, u16),
    ) -> bool {
        match ShellSession::new(slot, master, rows, cols, self.tx.clone()) {
            Ok(session) => {
                match slot {
                    Slot::Spawned => self.shell = Some(session),
                    Slot::Entered => self.entered = Some(session),
                    Slot::Host => self.host = Some(session),
                }
                let ev = Event::ShellOpened {
                    slot,
                    title,
                    pid,
                    rows,
                    cols,
                };
                self.emit(app, ev);
                true
            }
            Err(e) => {
                app.error(format!("opening the shell's terminal: {e}"));
                false
            }
        }
    }

    /// Opens a shell on the host, framed HOST, whose variables (UH_PID, UH_CGROUP,
    /// UH_ROOT...: runtime::host_shell) point at the container as it stands.
    fn host_shell(&mut self, app: &mut App, size: Rect) {
        let (rows, cols) = shell_size(app, size, Slot::Host);
        match crate::runtime::host_shell::spawn(&self.launch, rows, cols) {
            Ok((child, master)) => {
                let mut r = Report::new("a shell on the host");
                self.host_env = crate::runtime::host_shell::env(&self.launch);
                for (k, v) in &self.host_env {
                    r.shell(format!("export {k}={v}"));
                }
                r.note("this shell runs on the HOST, outside every namespace of the container");
                self.emit(app, Event::Log { report: r });
                // The pane's frame adds the HOST label before it.
                let title = format!(
                    "shell, outside the container (UH_PID={})",
                    self.launch.subject
                );
                let pid = child.id() as i32;
                if self.attach(app, Slot::Host, master, pid, title, (rows, cols)) {
                    self.host_child = Some(child);
                } else {
                    let mut child = child;
                    let _ = child.kill();
                    let _ = child.wait();
                }
            }
            Err(e) => app.error(format!("opening a shell on the host: {e:#}")),
        }
    }

    /// The host shell's variables point at the container as it was when it opened:
    /// when a step changes them (the PID step makes a new PID 1, the cgroup step the
    /// cgroup) or going back rebuilds another container, the shell is closed rather
    /// than left pointing at what is gone; `h` opens one with the new values.
    fn refresh_host_shell(&mut self, app: &mut App) {
        let Some(child) = &self.host_child else {
            return;
        };
        let now = crate::runtime::host_shell::env(&self.launch);
        if now == self.host_env {
            return;
        }
        let changed: Vec<&str> = now
            .iter()
            .filter(|v| !self.host_env.contains(v))
            .map(|(k, _)| k.as_str())
            .collect();
        {
            // The shell leads its own session and process group (setsid in spawn):
            // SIGHUP to the group, as a closed terminal would (credentials(7)).
            let _ = nix::sys::signal::killpg(
                nix::unistd::Pid::from_raw(child.id() as i32),
                Signal::SIGHUP,
            );
            let why = format!(
                "the host shell closed: {} changed; h opens one with the new values",
                changed.join(", ")
            );
            app.info(why.clone());
            // Said again when its end arrives (the usual "the shell exited" would
            // hide the reason).
            self.host_closed_why = Some(why);
        }
    }

    /// Opens the embedded shell: a login shell inside the container as it stands, on
    /// a pseudo-terminal whose slave end PID 1 makes its controlling terminal.
    fn shell(&mut self, app: &mut App, size: Rect) {
        if app.done == 0 {
            // No namespace yet: a shell now would be a root shell on the host itself.
            app.info("take a step first: before any step, a shell would be the host's own");
            return;
        }
        let mut env = self.launch.exec_env();
        env.push(("TERM".into(), "xterm-256color".into()));
        let spec = SpawnSpec {
            argv: vec!["/bin/sh".into(), "-l".into()],
            env,
            inherit_stdio: false,
            tty: true,
            own_tool: false,
        };
        // Open it with the size its pane will have.
        let (rows, cols) = shell_size(app, size, Slot::Spawned);
        match self.launch.spawn_pty(spec, rows, cols) {
            Ok((pid, master, report)) => {
                self.emit(app, Event::Log { report });
                let title = format!(
                    "Shell in the container (step {}/{})",
                    app.done,
                    app.steps.len()
                );
                self.attach(app, Slot::Spawned, master, pid, title, (rows, cols));
            }
            Err(f) => {
                self.emit(app, Event::Log { report: *f.report });
                app.error(f.message);
            }
        }
    }
}

fn spawn_signal_thread(sigs: SigSet, tx: Sender<Msg>) {
    thread::spawn(move || {
        while let Ok(sig) = sigs.wait() {
            if tx.send(Msg::Signal(sig as i32)).is_err() {
                return;
            }
        }
    });
}

fn spawn_input_thread(shared: Arc<Observer>, tx: Sender<Msg>) {
    thread::spawn(move || {
        while !shared.stop.load(Ordering::SeqCst) {
            let msg = match super::terminal::next(Duration::from_millis(250)) {
                Input::Event(TermEvent::Key(k)) => Msg::Key(k),
                Input::Event(TermEvent::Mouse(m)) => Msg::Mouse(m),
                Input::Event(TermEvent::Resize(..)) => Msg::Resize,
                Input::Event(_) | Input::Idle => continue,
                // The terminal closed: as its SIGHUP would (a wrapper may ignore that
                // signal), quit and tear down.
                Input::Gone => {
                    let _ = tx.send(Msg::Signal(Signal::SIGHUP as i32));
                    return;
                }
            };
            if tx.send(msg).is_err() {
                return;
            }
        }
    });
}

/// Which samples the observer sends: what changed (an idle container costs few
/// redraws), and at least one a second while memory is measured, so that the graph's
/// time axis moves at the clock's pace. Before a change, the last unchanged sample goes
/// too: the graph then shows the value flat up to the change, not a slow slope drawn
/// from a point long before it.
#[derive(Default)]
struct Pacer {
    last: Option<snapshot::Snapshot>,
    /// The latest sample not sent because nothing had changed.
    unsent: Option<snapshot::Snapshot>,
}

impl Pacer {
    fn offer(&mut self, snap: snapshot::Snapshot) -> Vec<snapshot::Snapshot> {
        let changed = self.last.as_ref().is_none_or(|l| !l.same_view(&snap));
        let heartbeat = snap.memory.is_some()
            && self
                .last
                .as_ref()
                .is_some_and(|l| snap.at.saturating_sub(l.at) >= HEARTBEAT);
        if !(changed || heartbeat) {
            self.unsent = Some(snap);
            return Vec::new();
        }
        let mut out = Vec::new();
        if let Some(u) = self.unsent.take()
            && changed
        {
            out.push(u);
        }
        self.last = Some(snap.clone());
        out.push(snap);
        out
    }
}

fn spawn_observer(shared: Arc<Observer>, paths: Paths, started: Instant, tx: Sender<Msg>) {
    thread::spawn(move || {
        let mut pacer = Pacer::default();
        while !shared.stop.load(Ordering::SeqCst) {
            let snap = sample_all(&paths.proc_root, &shared, started.elapsed());
            for s in pacer.offer(snap) {
                if tx.send(Msg::Snapshot(Box::new(s))).is_err() {
                    return;
                }
            }
            thread::sleep(Duration::from_millis(
                shared.period_ms.load(Ordering::SeqCst),
            ));
        }
    });
}

fn spawn_oom_watcher(cg: Cgroup, generation: u64, shared: Arc<Observer>, tx: Sender<Msg>) {
    thread::spawn(move || {
        let Ok(events) = cg.oom_events() else {
            return;
        };
        loop {
            if shared.stop.load(Ordering::SeqCst)
                || shared.oom_generation.load(Ordering::SeqCst) != generation
            {
                return;
            }
            let mut fds = [nix::poll::PollFd::new(
                events.as_fd(),
                nix::poll::PollFlags::POLLIN,
            )];
            match nix::poll::poll(&mut fds, nix::poll::PollTimeout::from(1000u16)) {
                Ok(n) if n > 0 => {
                    let _ = events.read();
                    if shared.oom_generation.load(Ordering::SeqCst) != generation {
                        return;
                    }
                    if tx.send(Msg::Oom).is_err() {
                        return;
                    }
                }
                Ok(_) | Err(nix::errno::Errno::EINTR) => {}
                Err(_) => return,
            }
        }
    });
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::runtime::cgroup::Controller;

    fn snap(ms: u64, current: u64) -> snapshot::Snapshot {
        let memory = crate::runtime::cgroup::MemoryUsage {
            current,
            limit: Some(100 << 20),
            peak: None,
            oom_kills: 0,
            files: crate::runtime::cgroup::MemoryFiles {
                current: "memory.usage_in_bytes",
                limit: "memory.limit_in_bytes",
                peak: "memory.max_usage_in_bytes",
                oom_kills: "memory.oom_control",
            },
        };
        snapshot::Snapshot {
            at: Duration::from_millis(ms),
            memory: Some(memory),
            ..Default::default()
        }
    }

    #[test]
    fn the_memory_graph_gets_a_steady_clock_and_the_flat_before_a_rise() {
        let mut p = Pacer::default();
        let at =
            |v: Vec<snapshot::Snapshot>| v.iter().map(|s| s.at.as_millis()).collect::<Vec<_>>();
        assert_eq!(at(p.offer(snap(0, 100))), vec![0]);
        // Idle: nothing until a second has passed, then a sample anyway.
        assert_eq!(at(p.offer(snap(250, 100))), Vec::<u128>::new());
        assert_eq!(at(p.offer(snap(500, 100))), Vec::<u128>::new());
        assert_eq!(at(p.offer(snap(1000, 100))), vec![1000]);
        assert_eq!(at(p.offer(snap(1250, 100))), Vec::<u128>::new());
        // The hog starts: the flat sample just before the rise goes first.
        assert_eq!(at(p.offer(snap(1500, 100 << 20))), vec![1250, 1500]);
        assert_eq!(at(p.offer(snap(1600, 101 << 20))), vec![1600]);
    }

    #[test]
    fn an_unusable_memory_controller_takes_the_cgroup_step_out_and_says_why() {
        let why = "memory controller: v1 at /sys/fs/cgroup/memory, but you may not create a cgroup there; to get it: run as root (`sudo underhood`)";
        let unusable = vec![
            (Controller::Memory, why.to_string()),
            (Controller::Pids, "pids controller: ...".to_string()),
        ];
        let (o, skipped) = without_unusable(options(&TuiOptions::default()), &unusable);
        assert_eq!(o.limits.memory, None);
        assert_eq!(o.limits.pids, None);
        assert_eq!(skipped.as_deref(), Some(why));
        // Every controller usable: nothing changes.
        let (o, skipped) = without_unusable(options(&TuiOptions::default()), &[]);
        assert_eq!(o.limits.memory, Some(100 << 20));
        assert_eq!(o.limits.pids, Some(128));
        assert_eq!(skipped, None);
        // Memory usable, pids not: the step stays (for memory), nothing is skipped.
        let (o, skipped) = without_unusable(
            options(&TuiOptions::default()),
            &[(Controller::Pids, "pids".into())],
        );
        assert_eq!(o.limits.memory, Some(100 << 20));
        assert_eq!(o.limits.pids, None);
        assert_eq!(skipped, None);
    }
}
