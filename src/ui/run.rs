//! The TUI's main loop, a client of the session floor (`session::walk`). One channel
//! carries every message (keys, the session's notices: samples, OOM events, signals;
//! shells' output, news from a followed session) to the main thread, which owns the
//! state and the walk; threads only read. The walk runs on the main thread, the one
//! that started the subject, because PR_SET_PDEATHSIG follows the *thread* that forked
//! it. What the walk did comes back as events, which the loop records, publishes and
//! applies, in order.

use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::{self, Receiver, RecvTimeoutError, Sender};
use std::time::Duration;

use crossterm::event::Event as TermEvent;
use nix::sys::signal::Signal;
use ratatui::layout::Rect;

use crate::observe::namespaces;
use crate::runtime::cgroup;
use crate::runtime::launcher::RootSource;
use crate::runtime::paths::Paths;
use crate::session::event::{Event, Slot};
use crate::session::follow::Position;
use crate::session::observer::{self, Notice, Sink};
use crate::session::prepare;
use crate::session::walk::follow::{Follower, Stage};
use crate::session::walk::{Walk, WalkOptions};

use super::app::App;
use super::draw;
use super::error::{Error, Result};
use super::event::pane_of;
use super::recording::{Header, Recorder};
use super::shell::ShellSession;
use super::tap::Taps;
use super::terminal::Input;
use super::theme::Theme;
use super::update::{self, Command, Msg};

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
    pub follow: Option<crate::session::follow::Following>,
    /// The cgroup controllers this user may not use here, each with doctor's line on
    /// why and what gives it (`underhood doctor` decides; main fills it in). Their
    /// limits are left out of the plan rather than failing the walk on EACCES.
    pub unusable: Vec<(cgroup::Controller, String)>,
    /// `--lesson` without an id: the steps to take on opening, and what to say.
    pub resume: Option<super::resume::Resume>,
}

impl Default for TuiOptions {
    fn default() -> Self {
        let w = WalkOptions::default();
        TuiOptions {
            lesson: w.lesson,
            source: w.source,
            memory: w.memory,
            hog_rate: w.hog_rate,
            high_contrast: false,
            record: None,
            present: false,
            publish: None,
            follow: None,
            unusable: w.unusable,
            resume: None,
        }
    }
}

impl TuiOptions {
    fn walk(&self) -> WalkOptions {
        WalkOptions {
            lesson: self.lesson.clone(),
            source: self.source.clone(),
            memory: self.memory,
            hog_rate: self.hog_rate,
            unusable: self.unusable.clone(),
        }
    }
}

impl From<Notice> for Msg {
    fn from(n: Notice) -> Msg {
        match n {
            Notice::Snapshot(s) => Msg::Snapshot(s),
            Notice::Oom => Msg::Oom,
            Notice::Signal(s) => Msg::Signal(s),
            Notice::Subject => Msg::Subject,
        }
    }
}

pub fn main(opts: TuiOptions) -> Result<i32> {
    let paths = Paths::host();
    prepare::clean_stale(&paths, super::terminal::say);
    // Before any thread exists: these signals are taken by a thread of ours with
    // sigwait(2), so that every exit path tears the container down.
    let sigs = prepare::block_signals(&[])?;
    // Where we are, for `underhood notes` and followers; before the container exists,
    // so that a `--publish` address already taken stops us with nothing to undo.
    let publisher = crate::session::follow::publish::Publisher::start(
        crate::session::follow::position::unix_ms_now(),
        opts.publish.as_deref(),
    )?;

    let host = prepare::host_line(&paths);
    let host_ns = namespaces::read_links(&paths.proc_root, std::process::id() as i32);
    // The recording's file first: a path that cannot be written stops us before any
    // container exists.
    // The cgroup step's skip line (doctor's why and what gives it) goes in the header, so
    // that a replay's step pane shows it too.
    let cgroup_skipped = crate::session::walk::cgroup_skipped(&opts.walk());
    let mut taps = Taps::default();
    if let Some(path) = &opts.record {
        let mut header = Header::new(
            host.clone(),
            host_ns.clone(),
            opts.present,
            opts.high_contrast,
        );
        header.cgroup_skipped = cgroup_skipped.clone();
        taps.add(Box::new(Recorder::create(path, &header)?));
    }
    super::terminal::say(
        "underhood: preparing the root filesystem (the first time takes a few seconds)...",
    );
    let (tx, rx) = mpsc::channel();
    let sink: Sink = {
        let tx = tx.clone();
        Arc::new(move |n: Notice| tx.send(Msg::from(n)).is_ok())
    };
    let walk = Walk::start(opts.walk(), paths, sink.clone())?;
    let mut app = App::new(
        host,
        walk.steps().to_vec(),
        host_ns,
        Theme::from_env(opts.high_contrast || opts.present),
    );
    app.present = opts.present;
    app.cgroup_skipped = walk.cgroup_skipped().cloned();

    if let Some(f) = &opts.follow {
        let tx = tx.clone();
        // Following, and telling the instructor's class view where we stand.
        taps.add(super::follow::follow(f, move |feed| {
            tx.send(Msg::Follow(feed)).is_ok()
        }));
    }
    observer::spawn_signal_thread(sigs, sink);
    let stop = Arc::new(AtomicBool::new(false));
    spawn_input_thread(stop.clone(), tx.clone());

    let mut ctl = Driver {
        walk,
        tx,
        shells: [None, None, None],
        follower: opts.follow.as_ref().map(Follower::new),
        taps,
    };
    ctl.taps.begin();
    ctl.walk.begin();
    ctl.flush(&mut app);
    if let Some(f) = &opts.follow {
        let addr = Some(f.addr.to_string());
        ctl.emit(&mut app, Event::Follow { addr, lost: None });
    }
    if let Some(w) = publisher.warnings.first() {
        ctl.emit(&mut app, Event::error(w.clone()));
    }
    ctl.taps.add(Box::new(publisher));
    if let Some(r) = opts.resume.clone() {
        // Back where the learner was: the saved steps taken again on a new container.
        for _ in 0..r.step.min(app.steps.len()) {
            ctl.walk.step();
        }
        ctl.flush(&mut app);
        ctl.emit(&mut app, Event::info(r.note));
    }
    // Publish the first position now, not after the first message.
    ctl.taps.state(ctl.walk.started().elapsed(), &app);
    let mut terminal = super::terminal::init().map_err(Error::terminal("setting up the terminal"));
    let result = match terminal.as_mut() {
        Ok(t) => ctl.run(&mut app, t, &rx),
        Err(_) => Ok(()),
    };
    // The container first: whatever happened to the terminal (closed, EIO), nothing
    // stays behind. Then the terminal, which restores without ever panicking, and
    // only then ratatui's own drop (its cursor write must not fail: terminal::restore
    // points a dead terminal's stdout and stderr at /dev/null).
    stop.store(true, Ordering::SeqCst);
    let teardown = ctl.walk.teardown();
    super::terminal::restore();
    // Dropped here (or the error of setting it up kept, reported first).
    let opened = terminal.map(drop);
    ctl.taps.finish();
    opened?;
    result?;
    teardown?;
    Ok(0)
}

struct Driver {
    walk: Walk,
    tx: Sender<Msg>,
    /// The shells' terminals, by slot (`Slot::ALL`'s order).
    shells: [Option<ShellSession>; 3],
    /// `--follow`: whom, the lessons to switch between, where we last went.
    follower: Option<Follower>,
    /// Where events go besides the screen (a recording, followers).
    taps: Taps,
}

/// An event to the taps and the screen (a message equal to the one shown is dropped).
fn emit_to(taps: &mut Taps, app: &mut App, at: Duration, ev: Event) {
    if let Event::Message { message } = &ev
        && *message == app.message
    {
        return;
    }
    taps.event(at, &ev);
    app.apply(ev);
}

/// What the walk did, in order, to the taps and the screen.
fn deliver(taps: &mut Taps, app: &mut App, walk: &mut Walk) {
    for (at, ev) in walk.events() {
        emit_to(taps, app, at, ev);
    }
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

fn index(slot: Slot) -> usize {
    match slot {
        Slot::Spawned => 0,
        Slot::Entered => 1,
        Slot::Host => 2,
    }
}

impl Driver {
    fn run(
        &mut self,
        app: &mut App,
        terminal: &mut ratatui::DefaultTerminal,
        rx: &Receiver<Msg>,
    ) -> Result<()> {
        self.walk.sample_now();
        self.flush(app);
        let mut dirty = true;
        loop {
            if dirty {
                app.clock = self.walk.started().elapsed();
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
                        if self.shell(slot).is_some_and(|sh| sh.resize(rows, cols)) {
                            self.emit(app, Event::ShellResized { slot, rows, cols });
                        }
                    }
                }
            }
            self.taps.begin();
            // Asleep until a message: the session's threads wake us (a sample, the
            // subject's socket, an OOM event, a signal), as do keys and shells. Only
            // the presenter's timer needs a tick, at the next second.
            let wait = if app.present {
                let elapsed = self.walk.started().elapsed();
                Duration::from_secs(elapsed.as_secs() + 1).saturating_sub(elapsed)
            } else {
                Duration::from_secs(3600)
            };
            match rx.recv_timeout(wait) {
                Ok(msg) => {
                    // A key's release changes nothing shown, nor does a sample that
                    // is dropped as stale (update::is_stale), nor the subject's
                    // wake-up (the pump below says): no frame for them.
                    let release = matches!(&msg, Msg::Key(k)
                        if k.kind == crossterm::event::KeyEventKind::Release);
                    let quiet = matches!(msg, Msg::Subject);
                    dirty = !(release || quiet || update::is_stale(app, &msg));
                    for cmd in update::update(app, msg) {
                        match cmd {
                            Command::Emit(ev) => self.emit(app, ev),
                            Command::Oom => self.walk.oom(),
                            Command::ShellClosed(slot) => {
                                self.shells[index(slot)] = None;
                                self.walk.shell_closed(slot);
                            }
                            Command::Quit => return Ok(()),
                            Command::Next => {
                                // A lesson's run of passed-through steps: one press
                                // (ui/pass.rs); a failed step ends the run.
                                for _ in 0..app.steps_per_press() {
                                    if !self.walk.step() {
                                        break;
                                    }
                                }
                            }
                            // A run of passed-through steps is undone in one
                            // press, as it was taken (ui/pass.rs).
                            Command::Back => self.walk.back_to(app.back_target()),
                            Command::Hog => self.walk.hog(),
                            Command::Shell => self.open(app, terminal, Slot::Spawned)?,
                            Command::Enter => self.open(app, terminal, Slot::Entered)?,
                            Command::HostShell => self.open(app, terminal, Slot::Host)?,
                            Command::ShellInput(slot, bytes) => {
                                if let Some(sh) = self.shell(slot) {
                                    sh.write(&bytes);
                                }
                                dirty = false;
                            }
                            Command::Check => self.walk.check(),
                            Command::Follow(p) => self.follow(app, &p, &mut |a| {
                                let _ = terminal.draw(|f| draw::draw(f, a));
                            }),
                        }
                        self.flush(app);
                    }
                }
                Err(RecvTimeoutError::Timeout) => {}
                Err(RecvTimeoutError::Disconnected) => return Ok(()),
            }
            if self.walk.pump() {
                dirty = true;
            }
            self.flush(app);
            if dirty {
                self.taps.state(self.walk.started().elapsed(), app);
            }
            // The presenter's timer shows seconds: draw again when the second changes.
            if app.present && self.walk.started().elapsed().as_secs() != app.clock.as_secs() {
                dirty = true;
            }
        }
    }

    fn shell(&mut self, slot: Slot) -> Option<&mut ShellSession> {
        self.shells[index(slot)].as_mut()
    }

    /// Every change to the container's side of the screen: to the taps, then
    /// applied. A message line saying again what it says changes nothing.
    fn emit(&mut self, app: &mut App, ev: Event) {
        let at = self.walk.started().elapsed();
        self.emit_at(app, at, ev);
    }

    fn emit_at(&mut self, app: &mut App, at: Duration, ev: Event) {
        emit_to(&mut self.taps, app, at, ev);
    }

    /// Goes where the followed session is (`Follower::go`), showing each step of a
    /// jump as it is taken: `redraw` draws the screen, and the taps (the instructor's
    /// class view) hear of each step.
    fn follow(&mut self, app: &mut App, p: &Position, redraw: &mut dyn FnMut(&App)) {
        let Some(follower) = self.follower.as_mut() else {
            return;
        };
        let taps = &mut self.taps;
        follower.go(&mut self.walk, p, &mut |walk, stage| {
            deliver(taps, app, walk);
            match stage {
                Stage::Taking => redraw(app),
                Stage::Took => taps.state(walk.started().elapsed(), app),
            }
        });
    }

    /// What the walk did, in order.
    fn flush(&mut self, app: &mut App) {
        deliver(&mut self.taps, app, &mut self.walk);
    }

    /// Opens the shell of `slot` with the size its pane will have, and puts its
    /// terminal in the pane.
    fn open(
        &mut self,
        app: &mut App,
        terminal: &mut ratatui::DefaultTerminal,
        slot: Slot,
    ) -> Result<()> {
        let size = terminal.size()?;
        let (rows, cols) = shell_size(app, Rect::new(0, 0, size.width, size.height), slot);
        let opened = self.walk.open_shell(slot, rows, cols);
        self.flush(app);
        let Some(o) = opened else {
            return Ok(());
        };
        let tx = self.tx.clone();
        let out = move |bytes: Option<Vec<u8>>| {
            let msg = match bytes {
                Some(b) => Msg::ShellOutput(slot, b),
                None => Msg::ShellClosed(slot),
            };
            tx.send(msg).is_ok()
        };
        match ShellSession::new(o.master, rows, cols, out) {
            Ok(session) => {
                self.shells[index(slot)] = Some(session);
                self.walk.shell_attached(slot, true);
                let ev = Event::ShellOpened {
                    slot,
                    title: o.title,
                    pid: o.pid,
                    rows,
                    cols,
                };
                self.emit(app, ev);
            }
            Err(e) => {
                self.walk.shell_attached(slot, false);
                self.emit(
                    app,
                    Event::error(format!("opening the shell's terminal: {e}")),
                );
            }
        }
        Ok(())
    }
}

fn spawn_input_thread(stop: Arc<AtomicBool>, tx: Sender<Msg>) {
    crate::session::spawn_named("uh-keys", move || {
        while !stop.load(Ordering::SeqCst) {
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
