//! The explorer's one loop: keys in, samples of the explored process on a timer,
//! a redraw when something changed. Single-threaded but for a thread that turns
//! SIGTERM/SIGHUP/SIGINT/SIGQUIT into a flag (so the terminal is always restored).
//!
//! It reuses the TUI's pieces: `observe::snapshot::sample` for the panes (the same
//! sample a launch's observer takes, a quarter second apart, sent on when the view
//! changed or, while memory is graphed, once a second), `ui::terminal` for the terminal
//! and its hang-up. It is kept alone in this file so that the session floor can take
//! it over (issue 13): nothing else here starts a loop or touches the kernel.

use std::os::fd::AsFd;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use anyhow::{Context, Result};
use crossterm::event::Event as TermEvent;
use nix::poll::{PollFd, PollFlags, PollTimeout, poll};
use nix::sys::signal::{SigSet, Signal};

use super::compare::{self, Compare};
use super::picker::{self, Picker};
use super::{Action, Explore, Explored, view};
use crate::observe::containers::{self, Sources};
use crate::observe::namespaces;
use crate::observe::security;
use crate::observe::snapshot::{self, Snapshot, Target};
use crate::observe::target;
use crate::runtime::cgroup::{Host, OomEvents};
use crate::runtime::paths::Paths;
use crate::ui::terminal::{self, Input};
use crate::ui::theme::Theme;

/// How often the explored process is sampled: as the live TUI's observer.
pub const PERIOD: Duration = Duration::from_millis(250);
/// While memory is graphed, a sample goes to the screen at least this often.
pub const HEARTBEAT: Duration = Duration::from_secs(1);
/// How often the picker looks for containers again.
pub const RESCAN: Duration = Duration::from_secs(2);

/// What the driver needs from the command line.
pub struct Setup {
    pub paths: Paths,
    pub host: Option<Host>,
    pub sources: Sources,
    pub theme: Theme,
    pub start: Start,
}

pub enum Start {
    Picker,
    Explore {
        resolved: target::Resolved,
        explored: Explored,
    },
    Compare(Box<Compare>),
}

enum Screen {
    Picker(Picker),
    Explore(Box<Live>),
    Compare(Box<Compare>),
}

/// The explorer with what it samples and the last sample taken.
struct Live {
    ex: Explore,
    target: Target,
    last: Option<Snapshot>,
    /// The kernel's word on an OOM kill in the explored cgroup (inotify on v2's
    /// memory.events, an eventfd registered for v1's memory.oom_control, as the live
    /// TUI's watcher): a kill is sampled at once, not at the next quarter second. On v1
    /// the registration is a write to the cgroup's `cgroup.event_control`, which
    /// changes no limit and ends when the eventfd is closed (cgroup-v1/memory.rst, 9).
    oom: Option<OomEvents>,
}

/// After an OOM event, how long and how often the explored process is sampled.
const OOM_BURST: Duration = Duration::from_millis(500);
const OOM_PERIOD: Duration = Duration::from_millis(10);

/// What ended a wait.
enum Wake {
    Timeout,
    Oom,
    Input(Input),
}

/// Waits up to `timeout` for a key (or the terminal's end) and for the OOM source, in
/// one poll(2) on both, so that an idle explorer wakes only to sample. The timeout is
/// rounded up to whole milliseconds: rounded down, poll would return just short of it
/// and be called again at once with 0 (a spin). Keys crossterm already holds are taken
/// first, without waiting.
fn wait(timeout: Duration, oom: Option<&OomEvents>) -> Wake {
    match terminal::next(Duration::ZERO) {
        Input::Idle => {}
        other => return Wake::Input(other),
    }
    let stdin = std::io::stdin();
    if !nix::unistd::isatty(stdin.as_fd()).unwrap_or(false) {
        // Keys come from elsewhere (crossterm opens /dev/tty): let it wait.
        return Wake::Input(terminal::next(timeout.min(Duration::from_millis(20))));
    }
    let ms = u16::try_from(timeout.as_micros().div_ceil(1000)).unwrap_or(u16::MAX);
    let mut fds = vec![PollFd::new(stdin.as_fd(), PollFlags::POLLIN)];
    if let Some(o) = oom {
        fds.push(PollFd::new(o.as_fd(), PollFlags::POLLIN));
    }
    match poll(&mut fds, PollTimeout::from(ms)) {
        Ok(0) | Err(nix::errno::Errno::EINTR) => return Wake::Timeout,
        Ok(_) => {}
        Err(_) => return Wake::Input(terminal::next(Duration::ZERO)),
    }
    let ready = |f: &PollFd| f.revents().is_some_and(|r| !r.is_empty());
    if fds.get(1).is_some_and(ready) {
        return Wake::Oom;
    }
    Wake::Input(terminal::next(Duration::ZERO))
}

/// Runs the explorer until q (or a signal, or the terminal closes).
pub fn run(setup: Setup) -> Result<()> {
    // Before any thread: the signals are taken by ours with sigwait(2).
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
    let stop = Arc::new(AtomicBool::new(false));
    let flag = stop.clone();
    std::thread::spawn(move || {
        if sigs.wait().is_ok() {
            flag.store(true, Ordering::SeqCst);
        }
    });
    let mut screen = first_screen(&setup)?;
    let mut term = terminal::init().context("setting up the terminal")?;
    let result = run_loop(&setup, &mut screen, &mut term, &stop);
    terminal::restore();
    drop(term);
    result
}

fn first_screen(setup: &Setup) -> Result<Screen> {
    Ok(match &setup.start {
        Start::Picker => Screen::Picker(Picker::new(
            &containers::list(&setup.paths.proc_root, &setup.sources)?,
            setup.theme,
        )),
        Start::Explore { resolved, explored } => explore(setup, resolved.clone(), explored.clone()),
        Start::Compare(c) => Screen::Compare(c.clone()),
    })
}

fn explore(setup: &Setup, r: target::Resolved, explored: Explored) -> Screen {
    let (reference, note) = match containers::host_reference(&setup.paths.proc_root) {
        Ok((re, note)) => (re.pid, note),
        Err(e) => (std::process::id() as i32, Some(format!("{e:#}"))),
    };
    let links = namespaces::read_links(&setup.paths.proc_root, reference);
    let ex = Explore::new(explored, links, setup.theme, r.cgroup_note, note);
    let oom = r.target.cgroup.as_ref().and_then(|cg| cg.oom_events().ok());
    Screen::Explore(Box::new(Live {
        ex,
        target: r.target,
        last: None,
        oom,
    }))
}

fn run_loop(
    setup: &Setup,
    screen: &mut Screen,
    term: &mut ratatui::DefaultTerminal,
    stop: &AtomicBool,
) -> Result<()> {
    let started = Instant::now();
    let mut stash: Option<Picker> = None;
    let mut due = Instant::now();
    let mut dirty = true;
    let mut fast_until: Option<Instant> = None;
    while !stop.load(Ordering::SeqCst) {
        if Instant::now() >= due {
            dirty |= tick(setup, screen, started.elapsed());
            let fast = fast_until.is_some_and(|t| Instant::now() < t);
            due = Instant::now()
                + match screen {
                    Screen::Picker(_) => RESCAN,
                    _ if fast => OOM_PERIOD,
                    _ => PERIOD,
                };
        }
        if dirty {
            term.draw(|f| match &*screen {
                Screen::Picker(p) => picker::draw(f, p),
                Screen::Explore(l) => view::draw(f, &l.ex),
                Screen::Compare(c) => compare::draw(f, c),
            })
            .context("drawing")?;
            dirty = false;
        }
        let size = term.size().map(|s| s.into()).unwrap_or_default();
        let oom = match &*screen {
            Screen::Explore(l) => l.oom.as_ref(),
            _ => None,
        };
        let input = match wait(due.saturating_duration_since(Instant::now()), oom) {
            Wake::Timeout => continue,
            Wake::Oom => {
                if let Some(o) = oom {
                    let _ = o.read();
                }
                // v1 signals the eventfd as the cgroup goes under OOM, a moment before
                // the kill is counted: sample closely for a while.
                fast_until = Some(Instant::now() + OOM_BURST);
                due = Instant::now();
                continue;
            }
            Wake::Input(i) => i,
        };
        let key = match input {
            Input::Event(TermEvent::Key(k)) => k,
            Input::Event(TermEvent::Resize(..)) => {
                dirty = true;
                continue;
            }
            Input::Event(_) | Input::Idle => continue,
            Input::Gone => return Ok(()),
        };
        dirty = true;
        let action = match screen {
            Screen::Picker(p) => p.on_key(key, size),
            Screen::Explore(l) => l.ex.on_key(key, size),
            Screen::Compare(c) => c.on_key(key, size),
        };
        match action {
            Action::None => {}
            Action::Quit => return Ok(()),
            Action::Rescan => due = Instant::now(),
            Action::Open(pid) => {
                let Screen::Picker(p) = screen else { continue };
                match target::resolve(&setup.paths.proc_root, setup.host.as_ref(), pid) {
                    Ok(r) => {
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
                        stash = Some(back);
                        *screen = explore(setup, r, explored);
                        due = Instant::now();
                    }
                    Err(e) => p.message = Some(format!("{e:#}")),
                }
            }
            Action::Picker => {
                let listing = containers::list(&setup.paths.proc_root, &setup.sources)?;
                let p = match stash.take() {
                    Some(mut p) => {
                        p.refresh(&listing);
                        p
                    }
                    None => Picker::new(&listing, setup.theme),
                };
                *screen = Screen::Picker(p);
                due = Instant::now() + RESCAN;
            }
        }
    }
    Ok(())
}

/// One sample (explorer) or one look for containers (picker); whether to redraw.
fn tick(setup: &Setup, screen: &mut Screen, at: Duration) -> bool {
    let proc_root = &setup.paths.proc_root;
    match screen {
        Screen::Picker(p) => match containers::list(proc_root, &setup.sources) {
            Ok(listing) => {
                let before = p.clone();
                p.refresh(&listing);
                *p != before
            }
            Err(e) => {
                p.message = Some(format!("{e:#}"));
                true
            }
        },
        Screen::Explore(l) => {
            let Live {
                ex, target, last, ..
            } = &mut **l;
            if ex.gone.is_some() {
                return false;
            }
            let snap = snapshot::sample(proc_root, target, at);
            let sec = security::read(proc_root, target.subject).map_err(|e| format!("{e:#}"));
            let changed = last.as_ref().is_none_or(|l| !l.same_view(&snap))
                || ex.security.as_ref().ok() != sec.as_ref().ok();
            let heartbeat = snap.memory.is_some()
                && last
                    .as_ref()
                    .is_some_and(|l| snap.at.saturating_sub(l.at) >= HEARTBEAT);
            if !(changed || heartbeat) {
                return false;
            }
            *last = Some(snap.clone());
            ex.sample(snap, sec);
            true
        }
        Screen::Compare(_) => false,
    }
}
