//! The explorer's front end: keys become commands, the explore session's notices
//! become what the screens show, and a redraw follows when something changed.
//!
//! What reads the host is the session's (`session::explore`): listing the
//! containers, opening a process, the observer that samples it (paced as a launch's,
//! closely after an OOM event) and noticing that it has exited. Three threads feed one
//! channel, as in the TUI (`ui/run.rs`): the keys, the exit signals (so that the
//! terminal is always restored), and the session's observer.

use std::os::fd::AsFd;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::{self, Receiver, RecvTimeoutError, Sender};
use std::time::{Duration, Instant};

use crossterm::event::{Event as TermEvent, KeyEvent};
use nix::poll::{PollFd, PollFlags, PollTimeout, poll};

use super::compare::{self, Compare};
use super::picker::{self, Picker};
use super::{Action, Explore, Explored, view};
use crate::session::explore::{Explorer, Opened, Scope, Seen};
use crate::session::observer::{self, Notice, Sink};
use crate::session::prepare;
use crate::ui::error::{Error, Result};
use crate::ui::terminal::{self, Input};
use crate::ui::theme::Theme;

/// How often the picker looks for containers again.
pub const RESCAN: Duration = Duration::from_secs(2);

/// What the driver needs from the command line.
pub struct Setup {
    pub scope: Scope,
    pub theme: Theme,
    pub start: Start,
}

pub enum Start {
    Picker,
    Explore { opened: Opened, explored: Explored },
    Compare(Box<Compare>),
}

enum Screen {
    Picker(Picker),
    Explore(Box<Live>),
    Compare(Box<Compare>),
}

/// The explorer's screen and the session watching its process.
struct Live {
    ex: Explore,
    session: Explorer,
    /// Which explorer this is: notices of an earlier one, still in the channel after
    /// going back to the picker, are dropped.
    generation: u64,
}

/// What wakes the loop.
enum Msg {
    Key(KeyEvent),
    Resize,
    /// The terminal closed: as its SIGHUP would.
    Hangup,
    /// A notice of the explorer of this generation (0: the signal thread's).
    Notice(u64, Notice),
}

/// Runs the explorer until q (or a signal, or the terminal closes).
pub fn run(setup: Setup) -> Result<()> {
    // Before any thread: the signals are taken by ours with sigwait(2).
    let sigs = prepare::block_signals(&[])?;
    let (tx, rx) = mpsc::channel();
    observer::spawn_signal_thread(sigs, sink(&tx, 0));
    let mut d = Driver {
        setup,
        tx,
        stash: None,
        generation: 0,
    };
    let mut screen = d.first_screen()?;
    let mut term = terminal::init().map_err(Error::terminal("setting up the terminal"))?;
    let stop = Arc::new(AtomicBool::new(false));
    spawn_input_thread(stop.clone(), d.tx.clone());
    let result = d.run_loop(&mut screen, &mut term, &rx);
    stop.store(true, Ordering::SeqCst);
    drop(screen);
    terminal::restore();
    drop(term);
    result
}

/// Notices into the loop's channel, tagged with their explorer's generation.
fn sink(tx: &Sender<Msg>, generation: u64) -> Sink {
    let tx = tx.clone();
    Arc::new(move |n: Notice| tx.send(Msg::Notice(generation, n)).is_ok())
}

struct Driver {
    setup: Setup,
    tx: Sender<Msg>,
    /// The picker as it was left, for going back to it.
    stash: Option<Picker>,
    generation: u64,
}

impl Driver {
    fn first_screen(&mut self) -> Result<Screen> {
        let start = std::mem::replace(&mut self.setup.start, Start::Picker);
        Ok(match start {
            Start::Picker => {
                Screen::Picker(Picker::new(&self.setup.scope.list()?, self.setup.theme))
            }
            Start::Explore { opened, explored } => self.explore(opened, explored),
            Start::Compare(c) => Screen::Compare(c),
        })
    }

    fn explore(&mut self, o: Opened, explored: Explored) -> Screen {
        self.generation += 1;
        let session = Explorer::start(
            &self.setup.scope,
            &o.resolved,
            sink(&self.tx, self.generation),
        );
        let ex = Explore::new(
            explored,
            o.reference,
            self.setup.theme,
            o.resolved.cgroup_note,
            o.reference_note,
        );
        Screen::Explore(Box::new(Live {
            ex,
            session,
            generation: self.generation,
        }))
    }

    fn run_loop(
        &mut self,
        screen: &mut Screen,
        term: &mut ratatui::DefaultTerminal,
        rx: &Receiver<Msg>,
    ) -> Result<()> {
        let mut rescan = Instant::now() + RESCAN;
        let mut dirty = true;
        loop {
            if dirty {
                term.draw(|f| match &*screen {
                    Screen::Picker(p) => picker::draw(f, p),
                    Screen::Explore(l) => view::draw(f, &l.ex),
                    Screen::Compare(c) => compare::draw(f, c),
                })
                .map_err(Error::terminal("drawing"))?;
                dirty = false;
            }
            let msg = match screen {
                Screen::Picker(_) => {
                    match rx.recv_timeout(rescan.saturating_duration_since(Instant::now())) {
                        Ok(m) => m,
                        Err(RecvTimeoutError::Timeout) => {
                            dirty |= self.rescan(screen);
                            rescan = Instant::now() + RESCAN;
                            continue;
                        }
                        Err(RecvTimeoutError::Disconnected) => return Ok(()),
                    }
                }
                _ => match rx.recv() {
                    Ok(m) => m,
                    Err(_) => return Ok(()),
                },
            };
            let key = match msg {
                Msg::Key(k) => k,
                Msg::Resize => {
                    dirty = true;
                    continue;
                }
                Msg::Hangup => return Ok(()),
                Msg::Notice(_, Notice::Signal(_)) => return Ok(()),
                Msg::Notice(g, n) => {
                    dirty |= take(screen, g, n);
                    continue;
                }
            };
            dirty = true;
            let size = term.size().map(|s| s.into()).unwrap_or_default();
            let action = match screen {
                Screen::Picker(p) => p.on_key(key, size),
                Screen::Explore(l) => l.ex.on_key(key, size),
                Screen::Compare(c) => c.on_key(key, size),
            };
            match action {
                Action::None => {}
                Action::Quit => return Ok(()),
                Action::Rescan => {
                    self.rescan(screen);
                    rescan = Instant::now() + RESCAN;
                }
                Action::Open(pid) => {
                    let Screen::Picker(p) = screen else { continue };
                    match self.setup.scope.open(pid) {
                        Ok(o) => {
                            let explored = p
                                .rows
                                .iter()
                                .find(|c| c.pid == pid)
                                .map(|c| Explored {
                                    pid,
                                    maker: c.maker.label(),
                                    command: c.command.clone(),
                                })
                                .unwrap_or(Explored {
                                    pid,
                                    maker: "unknown".into(),
                                    command: String::new(),
                                });
                            let mut back = p.clone();
                            back.message = None;
                            self.stash = Some(back);
                            *screen = self.explore(o, explored);
                        }
                        Err(e) => p.message = Some(format!("{e:#}")),
                    }
                }
                Action::Picker => {
                    let listing = self.setup.scope.list()?;
                    let p = match self.stash.take() {
                        Some(mut p) => {
                            p.refresh(&listing);
                            p
                        }
                        None => Picker::new(&listing, self.setup.theme),
                    };
                    // The explorer's session ends with its screen.
                    *screen = Screen::Picker(p);
                    rescan = Instant::now() + RESCAN;
                }
            }
        }
    }

    /// The picker looks for containers again; whether to redraw.
    fn rescan(&self, screen: &mut Screen) -> bool {
        let Screen::Picker(p) = screen else {
            return false;
        };
        match self.setup.scope.list() {
            Ok(listing) => {
                let before = p.clone();
                p.refresh(&listing);
                *p != before
            }
            Err(e) => {
                p.message = Some(format!("{e:#}"));
                true
            }
        }
    }
}

/// A notice of explorer `generation`, shown if it is the one on the screen; whether
/// to redraw.
fn take(screen: &mut Screen, generation: u64, n: Notice) -> bool {
    let Screen::Explore(l) = screen else {
        return false;
    };
    if l.generation != generation || l.ex.gone.is_some() {
        return false;
    }
    match l.session.take(n) {
        Seen::Sample { snapshot, security } => {
            l.ex.sample(*snapshot, security);
            true
        }
        Seen::Signal(_) | Seen::Nothing => false,
    }
}

/// How long the keyboard thread waits in one poll(2): a resize (crossterm's SIGWINCH
/// pipe, not stdin) is seen within it.
const KEY_WAIT: Duration = Duration::from_millis(250);

/// Waits up to `timeout` for a key (or the terminal's end) in one poll(2) on stdin,
/// so that an idle explorer's keyboard thread wakes 4 times a second, not at
/// `terminal::next`'s 50 ms slices. Keys crossterm already holds come first.
fn next_key(timeout: Duration) -> Input {
    match terminal::next(Duration::ZERO) {
        Input::Idle => {}
        other => return other,
    }
    let stdin = std::io::stdin();
    if !nix::unistd::isatty(stdin.as_fd()).unwrap_or(false) {
        // Keys come from elsewhere (crossterm opens /dev/tty): let it wait.
        return terminal::next(timeout.min(Duration::from_millis(20)));
    }
    let ms = u16::try_from(timeout.as_millis()).unwrap_or(u16::MAX);
    let mut fds = [PollFd::new(stdin.as_fd(), PollFlags::POLLIN)];
    match poll(&mut fds, PollTimeout::from(ms)) {
        Ok(0) | Err(nix::errno::Errno::EINTR) => Input::Idle,
        // Readable or hung up: crossterm reads it, `next` tells a hangup.
        _ => terminal::next(Duration::ZERO),
    }
}

/// Keys and resizes into the channel, from a thread of their own.
fn spawn_input_thread(stop: Arc<AtomicBool>, tx: Sender<Msg>) {
    crate::session::spawn_named("uh-keys", move || {
        while !stop.load(Ordering::SeqCst) {
            let msg = match next_key(KEY_WAIT) {
                Input::Event(TermEvent::Key(k)) => Msg::Key(k),
                Input::Event(TermEvent::Resize(..)) => Msg::Resize,
                Input::Event(_) | Input::Idle => continue,
                Input::Gone => {
                    let _ = tx.send(Msg::Hangup);
                    return;
                }
            };
            if tx.send(msg).is_err() {
                return;
            }
        }
    });
}
