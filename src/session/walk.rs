//! The TUI's kind of session: one container walked a step at a time, forward
//! (`next`), back (a teardown and a replay of the first steps on a fresh container),
//! with the memory hog, shells started inside, entered from outside or on the host,
//! and a lesson's checks and saved progress.
//!
//! A `Walk` owns the `Launch` and the observer; it is driven on the thread that
//! started the subject (PR_SET_PDEATHSIG follows the *thread* that forked it). Each
//! command adds what happened to the outbox as [`Event`]s stamped with the time since
//! the session started; the front end takes them with [`Walk::events`], in order, and
//! applies, records and publishes them. Errors are events too (the message line).

use std::path::PathBuf;
use std::time::{Duration, Instant};

use crate::lesson::format::LessonFile;
use crate::observe::kmsg::KernelLog;
use crate::observe::snapshot::{Snapshot, Target};
use crate::runtime::cgroup;
use crate::runtime::controller::Launch;
use crate::runtime::launcher::{self, RootSource};
use crate::runtime::paths::Paths;
use crate::runtime::plan::Options;
use crate::runtime::report::Report;
use crate::runtime::step::{LimitSpec, Step};

use super::error::{Error, Result};
use super::event::{Event, LessonSource};
use super::observer::{Observer, Sink, SubjectWatch};

pub mod follow;
mod hog;
mod lesson;
mod shells;

pub use lesson::check_summary;
pub use shells::Opened;

/// What a walk launches.
#[derive(Debug, Clone)]
pub struct WalkOptions {
    /// Follow this lesson (its steps and checks) instead of the full launch.
    pub lesson: Option<LessonFile>,
    pub source: RootSource,
    pub memory: u64,
    pub hog_rate: u64,
    /// The cgroup controllers this user may not use here, each with doctor's line on
    /// why and what gives it. Their limits are left out of the plan rather than
    /// failing the walk on EACCES.
    pub unusable: Vec<(cgroup::Controller, String)>,
}

impl Default for WalkOptions {
    fn default() -> Self {
        WalkOptions {
            lesson: None,
            source: RootSource::Default,
            memory: 100 << 20,
            hog_rate: 16 << 20,
            unusable: Vec::new(),
        }
    }
}

/// The full walk's plan: limits, and a command that waits, so the learner can explore.
pub fn options(o: &WalkOptions) -> Options {
    Options {
        limits: LimitSpec {
            memory: Some(o.memory),
            pids: Some(128),
            cpus: None,
        },
        argv: vec!["sleep".into(), "2147483647".into()],
        ..Options::default()
    }
}

/// Leaves out of the plan the limits whose controller this user may not use, and says
/// why when that removes the memory limit (the one the walk is about): the walk then
/// goes on past the cgroup step instead of failing it with EACCES on every →.
pub fn without_unusable(
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

/// In a lesson made by hand (`observe = "host-shell"`), the panes follow the learner's
/// newest container below us (the host shell is our child), found again at each sample
/// (`observe::snapshot::Target::resolve`).
fn learner_below(lesson: Option<&LessonFile>) -> Option<i32> {
    lesson
        .filter(|l| l.by_hand())
        .map(|_| std::process::id() as i32)
}

/// Doctor's line on why the cgroup step is left out of this walk, and what gives it;
/// `None` when it is taken.
pub fn cgroup_skipped(o: &WalkOptions) -> Option<String> {
    plan_options(o).1
}

/// The plan for the options: the lesson's, or the full walk's.
fn plan_options(o: &WalkOptions) -> (Options, Option<String>) {
    let plan = match &o.lesson {
        Some(l) => crate::lesson::plan::options(l),
        None => options(o),
    };
    without_unusable(plan, &o.unusable)
}

/// How a walk gets its containers: the read-only layers once, then a started launch
/// (a subject, no step taken) for each container, the first and each rebuild. The
/// seam that lets the walk's orchestration be tested without root: [`Launcher`] is the
/// real one; the tests' launches run on recording doubles (`runtime::double`). What
/// the runtime says when it cannot is [`Error::Runtime`].
pub trait Starter: Send {
    /// The read-only layers, top first (see `runtime::launcher::layers`).
    fn layers(&mut self, source: &RootSource, paths: &Paths) -> Result<Vec<PathBuf>>;
    /// A session and its subject for `plan`; nothing done to the kernel yet.
    fn launch(&mut self, plan: &Options, lower: &[PathBuf], paths: &Paths) -> Result<Launch>;
}

/// The real [`Starter`]: prepares the layers (`session::prepare`) and starts the
/// subject (`runtime::launcher::start`).
pub struct Launcher;

impl Starter for Launcher {
    fn layers(&mut self, source: &RootSource, paths: &Paths) -> Result<Vec<PathBuf>> {
        super::prepare::layers(source, paths)
    }

    fn launch(&mut self, plan: &Options, lower: &[PathBuf], paths: &Paths) -> Result<Launch> {
        launcher::start(plan, lower.to_vec(), paths).map_err(Error::runtime)
    }
}

/// Starts a container for the plan, cut to the lesson's steps when following one.
fn start_launch(
    starter: &mut dyn Starter,
    lesson: Option<&LessonFile>,
    plan: &Options,
    lower: &[PathBuf],
    paths: &Paths,
) -> Result<Launch> {
    let mut launch = starter.launch(plan, lower, paths)?;
    if let Some(l) = lesson {
        let steps = std::mem::take(&mut launch.steps);
        launch.steps = crate::lesson::plan::filter(l, steps);
    }
    Ok(launch)
}

pub struct Walk {
    launch: Launch,
    paths: Paths,
    lower: Vec<PathBuf>,
    plan: Options,
    opts: WalkOptions,
    cgroup_skipped: Option<String>,
    observer: std::sync::Arc<Observer>,
    sink: Sink,
    started: Instant,
    kmsg: Option<KernelLog>,
    /// The hog's pid inside while it runs.
    hog: Option<i32>,
    /// Wakes the front end when the subject writes unasked (from `begin` on).
    watch: Option<SubjectWatch>,
    /// PID 1 is gone (its socket hung up): nothing more will come from it.
    gone: bool,
    shells: shells::Shells,
    out: Vec<(Duration, Event)>,
    /// Last: dropped after the launch.
    starter: Box<dyn Starter>,
}

impl Walk {
    /// Prepares the layers and starts the subject (no step taken, no thread yet).
    /// Notices of the observer, OOM watcher and signal thread will go to `sink`.
    pub fn start(opts: WalkOptions, paths: Paths, sink: Sink) -> Result<Walk> {
        Walk::start_with(opts, paths, sink, Box::new(Launcher))
    }

    /// [`Walk::start`] with its containers from `starter`.
    pub fn start_with(
        opts: WalkOptions,
        paths: Paths,
        sink: Sink,
        mut starter: Box<dyn Starter>,
    ) -> Result<Walk> {
        let lower = starter.layers(&opts.source, &paths)?;
        let (plan, cgroup_skipped) = plan_options(&opts);
        let launch = start_launch(&mut *starter, opts.lesson.as_ref(), &plan, &lower, &paths)?;
        let observer = Observer::new(Target {
            subject: launch.subject,
            tree_root: launch.subject,
            cgroup: None,
            learner_below: learner_below(opts.lesson.as_ref()),
        });
        Ok(Walk {
            launch,
            paths,
            lower,
            plan,
            opts,
            cgroup_skipped,
            observer,
            sink,
            started: Instant::now(),
            kmsg: KernelLog::open(),
            hog: None,
            watch: None,
            gone: false,
            shells: shells::Shells::default(),
            out: Vec::new(),
            starter,
        })
    }

    /// Starts watching, and says what the session is: its steps, its lesson.
    pub fn begin(&mut self) {
        self.started = Instant::now();
        self.observer
            .start(self.paths.clone(), self.started, self.sink.clone());
        self.watch = Some(SubjectWatch::start(
            self.observer.clone(),
            self.sink.clone(),
        ));
        self.arm();
        let steps = self.launch.steps.clone();
        self.emit(Event::Started { steps });
        let lesson = self.opts.lesson.as_ref().map(LessonSource::of);
        self.emit(Event::Lesson { lesson });
    }

    /// What happened since the last call, in order.
    pub fn events(&mut self) -> std::vec::Drain<'_, (Duration, Event)> {
        self.out.drain(..)
    }

    pub fn started(&self) -> Instant {
        self.started
    }

    pub fn steps(&self) -> &[Step] {
        &self.launch.steps
    }

    /// How many steps are taken.
    pub fn done(&self) -> usize {
        self.launch.next
    }

    pub fn lesson(&self) -> Option<&LessonFile> {
        self.opts.lesson.as_ref()
    }

    /// Why the cgroup step is left out of this walk, if it is.
    pub fn cgroup_skipped(&self) -> Option<&String> {
        self.cgroup_skipped.as_ref()
    }

    fn emit(&mut self, ev: Event) {
        self.out.push((self.started.elapsed(), ev));
    }

    fn info(&mut self, text: impl Into<String>) {
        self.emit(Event::info(text));
    }

    fn error(&mut self, text: impl Into<String>) {
        self.emit(Event::error(text));
    }

    /// A step, a replayed step or a process inside that failed: its report to the log,
    /// its message (with the errno of the failed call) to the message line.
    fn failed(&mut self, f: crate::runtime::controller::StepFailure, prefix: &str) {
        let errno = f.errno();
        self.emit(Event::Log { report: *f.report });
        self.emit(Event::failed(format!("{prefix}{}", f.message), errno));
    }

    fn sample(&self) -> Snapshot {
        self.observer
            .sample(&self.paths.proc_root, self.started.elapsed())
    }

    /// A sample now, not at the observer's next tick.
    pub fn sample_now(&mut self) {
        let snapshot = Box::new(self.sample());
        self.emit(Event::Snapshot { snapshot });
    }

    /// Points the observer at the container as it stands, and an OOM watcher at a
    /// new cgroup.
    fn retarget(&self) {
        let target = Target {
            subject: self.launch.subject,
            tree_root: self.launch.first_pid().unwrap_or(self.launch.subject),
            cgroup: self.launch.cgroup.clone(),
            learner_below: learner_below(self.lesson()),
        };
        if self.observer.set_target(target)
            && let Some(cg) = self.launch.cgroup.clone()
        {
            self.observer.watch_oom(cg, self.sink.clone());
        }
    }

    /// Takes the next step; false when it failed (the error is shown).
    pub fn step(&mut self) -> bool {
        let before = self.sample();
        match self.launch.step() {
            Ok(report) => {
                self.retarget();
                let after = Box::new(self.sample());
                let before = Some(Box::new(before));
                self.emit(Event::Step {
                    report,
                    before,
                    after,
                });
                self.save_position();
                self.check_after_step();
                self.refresh_host_shell();
                crate::runtime::fault::after_step(self.launch.next);
                true
            }
            Err(f) => {
                self.failed(f, "");
                false
            }
        }
    }

    /// Going back one step: tear the container down and replay every step but the last.
    pub fn back(&mut self) {
        self.back_to(self.done().saturating_sub(1));
    }

    /// Going back to `target` steps done (one step, or a lesson's run of
    /// passed-through steps undone in one press): the container torn down and a fresh
    /// one with those steps replayed.
    pub fn back_to(&mut self, target: usize) {
        if self.rebuild(target) {
            let (done, of) = (self.done(), self.launch.steps.len());
            self.info(format!(
                "went back: {done} of {of} steps replayed on a fresh container"
            ));
        }
    }

    /// Tears the container down and starts a fresh one with `target` steps taken.
    /// False when that failed (the error is shown).
    pub fn rebuild(&mut self, target: usize) -> bool {
        self.observer.forget_oom();
        self.hog = None;
        self.observer.fast(false);
        if let Err(e) = self.launch.teardown() {
            self.error(format!("{e:#}"));
        }
        let lesson = self.opts.lesson.as_ref();
        let starter = &mut *self.starter;
        let launch = match start_launch(starter, lesson, &self.plan, &self.lower, &self.paths) {
            Ok(l) => l,
            Err(e) => {
                self.error(format!("starting again failed: {e:#}"));
                return false;
            }
        };
        self.launch = launch;
        self.gone = false;
        self.arm();
        self.refresh_host_shell();
        let steps = self.launch.steps.clone();
        self.emit(Event::Started { steps });
        self.retarget();
        let mut before = self.sample();
        for _ in 0..target {
            match self.launch.step() {
                Ok(report) => {
                    self.retarget();
                    let after = self.sample();
                    self.emit(Event::Step {
                        report,
                        before: Some(Box::new(before)),
                        after: Box::new(after.clone()),
                    });
                    before = after;
                }
                Err(f) => {
                    self.failed(f, "replaying: ");
                    return false;
                }
            }
        }
        if self.done() == 0 {
            self.sample_now();
        }
        true
    }

    /// Switches to another lesson (or, with `None`, to the full walk): the container
    /// is torn down and the new one started, no step taken.
    pub fn open_lesson(&mut self, lesson: Option<LessonFile>) -> bool {
        self.opts.lesson = lesson;
        let (plan, skipped) = plan_options(&self.opts);
        self.plan = plan;
        self.cgroup_skipped = skipped;
        let ok = self.rebuild(0);
        let lesson = self.opts.lesson.as_ref().map(LessonSource::of);
        self.emit(Event::Lesson { lesson });
        ok
    }

    /// The kernel's OOM killer fired: say so, and show it now rather than at the
    /// observer's next sample.
    pub fn oom(&mut self) {
        self.info("the kernel's OOM killer fired in the container's cgroup");
        self.sample_now();
    }

    /// Watches the subject's socket again, unless PID 1 is gone (a hung-up socket
    /// would report at once, again and again).
    fn arm(&self) {
        if let Some(w) = &self.watch
            && !self.gone
        {
            w.arm(self.launch.socket_fd());
        }
    }

    /// Reads what the subject reported unasked (a process reaped, PID 1 gone); true
    /// when something was emitted. Front ends call it after each message (a step may
    /// have read a report on the way) and on `Notice::Subject`.
    pub fn pump(&mut self) -> bool {
        let pumped = self.launch.pump();
        self.gone = matches!(pumped, Ok(false) | Err(_));
        self.arm();
        match pumped {
            Ok(true) => {}
            Ok(false) => {
                self.error("the container's PID 1 is gone; press ← to go back and rebuild it");
                return true;
            }
            Err(e) => {
                self.error(format!("{e:#}"));
                return true;
            }
        }
        let reaped: Vec<_> = self.launch.reaped.drain(..).collect();
        let mut changed = false;
        for (pid, exit) in reaped {
            changed |= self.reaped(pid, exit);
        }
        changed
    }

    /// Stops the threads and tears the container down (every exit path ends here).
    pub fn teardown(&mut self) -> Result<Report> {
        self.observer.stop();
        self.launch.teardown().map_err(Error::runtime)
    }
}

#[cfg(test)]
mod tests;

#[cfg(test)]
mod plan_tests {
    use super::*;
    use crate::runtime::cgroup::Controller;

    #[test]
    fn an_unusable_memory_controller_takes_the_cgroup_step_out_and_says_why() {
        let why = "memory controller: v1 at /sys/fs/cgroup/memory, but you may not create a cgroup there; to get it: run as root (`sudo underhood`)";
        let unusable = vec![
            (Controller::Memory, why.to_string()),
            (Controller::Pids, "pids controller: ...".to_string()),
        ];
        let (o, skipped) = without_unusable(options(&WalkOptions::default()), &unusable);
        assert_eq!(o.limits.memory, None);
        assert_eq!(o.limits.pids, None);
        assert_eq!(skipped.as_deref(), Some(why));
        // Every controller usable: nothing changes.
        let (o, skipped) = without_unusable(options(&WalkOptions::default()), &[]);
        assert_eq!(o.limits.memory, Some(100 << 20));
        assert_eq!(o.limits.pids, Some(128));
        assert_eq!(skipped, None);
        // Memory usable, pids not: the step stays (for memory), nothing is skipped.
        let (o, skipped) = without_unusable(
            options(&WalkOptions::default()),
            &[(Controller::Pids, "pids".into())],
        );
        assert_eq!(o.limits.memory, Some(100 << 20));
        assert_eq!(o.limits.pids, None);
        assert_eq!(skipped, None);
    }
}
