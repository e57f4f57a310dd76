//! A launch run start to end, without a screen: `underhood run` (every step, then the
//! command waited for) and `lessons run` (a lesson's steps, then its checks).

use std::os::fd::{AsFd, OwnedFd};
use std::path::PathBuf;
use std::time::{Duration, Instant};

use nix::poll::{PollFd, PollFlags, PollTimeout, poll};
use nix::sys::signal::Signal;
use nix::sys::signalfd::SignalFd;

use crate::lesson::format::LessonFile;
use crate::lesson::runner::{self, Mode, Results};
use crate::runtime::controller::{Launch, StepFailure};
use crate::runtime::launcher::{self, RootSource};
use crate::runtime::link::Exit;
use crate::runtime::paths::Paths;
use crate::runtime::plan::Options;
use crate::runtime::report::Report;
use crate::runtime::step::Step;

use super::error::{Error, Result, Source};

/// A step that failed, and which.
#[derive(Debug, thiserror::Error)]
#[error("{}", failure.message)]
pub struct Failed {
    pub step: Step,
    pub failure: StepFailure,
}

/// Why taking the steps stopped before the end.
#[derive(Debug)]
pub enum Stopped<T> {
    /// `before` asked to stop (a signal arrived).
    Asked(T),
    Failed(Box<Failed>),
}

/// The terminal a headless command runs on (`run`'s relay between our terminal and
/// the container's pty), waited on beside the command. Its errors are the front end's
/// own, shown whole ([`Error::Terminal`]).
pub trait Terminal {
    /// The command is about to run: start relaying.
    fn start(&mut self) -> Result<(), Source>;
    /// The descriptors to wait on, each with its slot in `pump`'s array.
    fn poll_fds(&self) -> Vec<(usize, PollFd<'_>)>;
    /// Some of them are ready.
    fn pump(&mut self, ready: [PollFlags; 2]) -> Result<(), Source>;
    /// Our window changed size (SIGWINCH).
    fn resize(&self);
    /// The command ended: relay what is left, for at most `bound`.
    fn finish(&mut self, bound: Duration);
}

/// How the command ended, and whether the kernel's OOM killer was seen.
#[derive(Debug)]
pub struct Ended {
    pub exit: Exit,
    /// An OOM event arrived while waiting.
    pub oom_seen: bool,
}

pub struct Headless {
    launch: Launch,
}

impl Headless {
    /// A pipelined launch for `opts` (see `launcher::start_pipelined`): the subject
    /// starts first, its start-up overlapping the preparation of the layers.
    pub fn start(opts: &Options, source: &RootSource, paths: &Paths) -> Result<Headless> {
        let launch = launcher::start_pipelined(opts, source, paths).map_err(Error::runtime)?;
        Ok(Headless { launch })
    }

    /// Like [`Headless::start`], for a caller that shows no step's report but a failed
    /// one's (`run` without --trace): the others come back with their title and time
    /// only ([`Launch::quiet`]), nothing encoded and decoded for nobody.
    pub fn start_untraced(opts: &Options, source: &RootSource, paths: &Paths) -> Result<Headless> {
        let launch = launcher::start_pipelined_with(opts, source, paths, true)?;
        Ok(Headless { launch })
    }

    /// The lesson's container, with every step of the lesson still to take.
    pub fn start_lesson(l: &LessonFile, paths: &Paths, source: &RootSource) -> Result<Headless> {
        let opts = crate::lesson::plan::options(l);
        let lower: Vec<PathBuf> = super::prepare::layers(source, paths)?;
        let mut launch = launcher::start(&opts, lower, paths).map_err(Error::runtime)?;
        let steps = std::mem::take(&mut launch.steps);
        launch.steps = crate::lesson::plan::filter(l, steps);
        Ok(Headless { launch })
    }

    /// The command becomes PID 1 itself, without our init (`run --no-init`).
    pub fn no_init(&mut self) -> Result<()> {
        self.launch.no_init().map_err(Error::runtime)
    }

    /// Takes every step. Before each, `before` may ask to stop (with its reason);
    /// after each, `each` sees its report.
    pub fn take_all<T>(
        &mut self,
        mut before: impl FnMut() -> Option<T>,
        mut each: impl FnMut(&Report),
    ) -> Result<(), Stopped<T>> {
        while !self.launch.done() {
            if let Some(t) = before() {
                return Err(Stopped::Asked(t));
            }
            let step = self.launch.steps[self.launch.next].clone();
            match self.launch.step() {
                Ok(report) => {
                    each(&report);
                    crate::runtime::fault::after_step(self.launch.next);
                }
                Err(failure) => return Err(Stopped::Failed(Box::new(Failed { step, failure }))),
            }
        }
        Ok(())
    }

    /// Takes every step of a lesson, saying each (or each run of passed-through steps)
    /// first, as `runner::announce` words it.
    fn take_announced(&mut self, l: &LessonFile, say: &mut dyn FnMut(&str)) -> Result<()> {
        while !self.launch.done() {
            let (line, n) = runner::announce(l, &self.launch.steps[self.launch.next..]);
            say(&line);
            for _ in 0..n {
                let step = self.launch.steps[self.launch.next].clone();
                self.launch
                    .step()
                    .map_err(|failure| Error::Step(Box::new(Failed { step, failure })))?;
                crate::runtime::fault::after_step(self.launch.next);
            }
        }
        Ok(())
    }

    /// Runs the lesson headless: every step, then what `mode` says (each check's
    /// `solve`, its `cheat`, or nothing), the checks evaluated, the host-side actions
    /// undone, and the container torn down.
    pub fn run_lesson(
        l: &LessonFile,
        paths: &Paths,
        source: &RootSource,
        mode: Mode,
        say: &mut dyn FnMut(&str),
    ) -> Result<Results> {
        let mut s = Headless::start_lesson(l, paths, source)?;
        let walked = s
            .take_announced(l, say)
            .and_then(|()| Ok(runner::act_and_evaluate(l, &mut s.launch, mode)?));
        let teardown = s.teardown();
        let results = walked?;
        teardown?;
        Ok(results)
    }

    /// The launch, for what reads it (a lesson's checks, the host-side variables).
    pub fn launch(&mut self) -> &mut Launch {
        &mut self.launch
    }

    /// Waits for the command to end, relaying `terminal` meanwhile and passing the
    /// signals read from `signals` on to the container: a command that ignores
    /// SIGTERM/SIGHUP gets 5 s, then SIGKILL. `watch_oom`: listen for the kernel's
    /// OOM events of the container's cgroup.
    pub fn wait(
        &mut self,
        signals: &SignalFd,
        mut terminal: Option<&mut dyn Terminal>,
        watch_oom: bool,
        no_init: bool,
    ) -> Result<Ended> {
        let launch = &mut self.launch;
        if let Some(r) = terminal.as_deref_mut() {
            r.start().map_err(Error::Terminal)?;
        }
        let mut oom = match &launch.cgroup {
            Some(cg) if watch_oom => Some(cg.oom_events()?),
            _ => None,
        };
        let mut oom_seen = false;
        let mut kill_at: Option<Instant> = None;
        let exited = if no_init {
            launch.first_pid().map(pidfd_open).transpose()?
        } else {
            None
        };
        let exit = loop {
            let timeout = match kill_at {
                Some(t) => PollTimeout::try_from(t.saturating_duration_since(Instant::now()))
                    .unwrap_or(PollTimeout::ZERO),
                None => PollTimeout::NONE,
            };
            let (sock, sig, oom_ready, relay_ready) = {
                // Without an init the socket closes at the execve, long before the end:
                // wait for the first subject's exit instead (readable pidfd,
                // pidfd_open(2)).
                let first = match &exited {
                    Some(fd) => fd.as_fd(),
                    None => launch.socket_fd(),
                };
                let mut fds = vec![
                    PollFd::new(first, PollFlags::POLLIN),
                    PollFd::new(signals.as_fd(), PollFlags::POLLIN),
                ];
                if let Some(o) = &oom {
                    fds.push(PollFd::new(o.as_fd(), PollFlags::POLLIN));
                }
                let relay_from = fds.len();
                let slots: Vec<usize> = match terminal.as_deref() {
                    Some(r) => r
                        .poll_fds()
                        .into_iter()
                        .map(|(slot, fd)| {
                            fds.push(fd);
                            slot
                        })
                        .collect(),
                    None => Vec::new(),
                };
                match poll(&mut fds, timeout) {
                    Err(nix::errno::Errno::EINTR) => continue,
                    r => r.map_err(|errno| Error::Sys {
                        what: "poll".into(),
                        errno,
                    })?,
                };
                let ready = |f: &PollFd| f.revents().is_some_and(|r| !r.is_empty());
                let mut relay_ready = [PollFlags::empty(); 2];
                for (i, slot) in slots.into_iter().enumerate() {
                    relay_ready[slot] = fds[relay_from + i].revents().unwrap_or(PollFlags::empty());
                }
                (
                    ready(&fds[0]),
                    ready(&fds[1]),
                    oom.is_some() && ready(&fds[2]),
                    relay_ready,
                )
            };
            if let Some(r) = terminal.as_deref_mut() {
                r.pump(relay_ready).map_err(Error::Terminal)?;
            }
            if oom_ready
                && let Some(o) = oom.as_mut()
                && o.read()? > 0
            {
                oom_seen = true;
            }
            if sig {
                while let Some(s) = pending_signal(signals) {
                    if s == Signal::SIGWINCH {
                        if let Some(r) = terminal.as_deref() {
                            r.resize();
                        }
                        continue;
                    }
                    launch.signal(s);
                    if matches!(s, Signal::SIGTERM | Signal::SIGHUP) && kill_at.is_none() {
                        kill_at = Some(Instant::now() + Duration::from_secs(5));
                    }
                }
            }
            if kill_at.is_some_and(|t| Instant::now() >= t) {
                launch.signal(Signal::SIGKILL);
                kill_at = None;
            }
            if sock && let Some(exit) = launch.poll_exit().map_err(Error::runtime)? {
                break exit;
            }
        };
        if let Some(r) = terminal {
            r.finish(Duration::from_secs(2));
        }
        Ok(Ended { exit, oom_seen })
    }

    /// Tears the container down (every exit path ends here).
    pub fn teardown(&mut self) -> Result<Report> {
        self.launch.teardown().map_err(Error::runtime)
    }
}

/// A signal read from a non-blocking signalfd, if one is pending.
pub fn pending_signal(signals: &SignalFd) -> Option<Signal> {
    match signals.read_signal() {
        Ok(Some(info)) => Signal::try_from(info.ssi_signo as i32).ok(),
        _ => None,
    }
}

/// A pidfd for our child `pid` (pidfd_open(2)): readable once it has exited.
fn pidfd_open(pid: i32) -> Result<OwnedFd> {
    crate::runtime::start::pidfd_open(pid).map_err(|errno| Error::Sys {
        what: format!("pidfd_open({pid}, 0)"),
        errno,
    })
}
