//! Watching a container from beside it: the observer thread samples a target pid
//! (namespace links, process tree, mountinfo, the cgroup's memory) at a pace, the OOM
//! watcher waits for the kernel's OOM event, the signal thread takes the exit signals.
//! Each reports a [`Notice`] to a sink (the front end's channel); none of them touches
//! the container.
//!
//! The target is whatever the session says it is now (`set_target` after each step),
//! or, for a session with no launch of its own, what a resolver finds each tick (a
//! container started by hand, found again after it is replaced).

use std::os::fd::AsFd;
use std::path::Path;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::thread;
use std::time::{Duration, Instant};

use nix::sys::signal::SigSet;

use crate::observe::snapshot::{self, Snapshot, Target};
use crate::runtime::cgroup::Cgroup;
use crate::runtime::paths::Paths;

/// What the session's threads report.
#[derive(Debug)]
pub enum Notice {
    /// A sample of the target.
    Snapshot(Box<Snapshot>),
    /// The kernel signalled an OOM kill in the target's cgroup.
    Oom,
    /// SIGTERM, SIGHUP, SIGINT or SIGQUIT arrived (see `prepare::block_signals`).
    Signal(i32),
    /// The subject wrote something unasked (a process reaped, its end): the session
    /// should read it (`Walk::pump`), which arms the watch again.
    Subject,
}

/// Where notices go; false when nobody listens any more (the thread then ends).
pub type Sink = Arc<dyn Fn(Notice) -> bool + Send + Sync>;

/// Finds the target again, each tick (an observe-only session).
pub type Resolver = Box<dyn FnMut() -> Option<Target> + Send>;

/// Observer rates: 4 Hz idle, 10 Hz while the hog climbs.
pub const IDLE_PERIOD: Duration = Duration::from_millis(250);
pub const FAST_PERIOD: Duration = Duration::from_millis(100);
/// The rate of a burst (see [`Observer::burst`]).
pub const BURST_PERIOD: Duration = Duration::from_millis(10);
/// The longest the memory graph goes without a sample while the container lives.
const HEARTBEAT: Duration = Duration::from_secs(1);

/// Shared by the session and its threads.
pub struct Observer {
    target: Mutex<Target>,
    resolve: Mutex<Option<Resolver>>,
    period_ms: AtomicU64,
    stop: AtomicBool,
    /// Bumped for each new cgroup: an OOM watcher of an older one stops.
    oom_generation: AtomicU64,
    /// Host pids whose children are in the container but not under its PID 1: the
    /// `e` shell's entering process (setns, then fork: the shell is its child).
    extra_roots: Mutex<Vec<i32>>,
    /// Until when samples are taken at [`BURST_PERIOD`] (see [`Observer::burst`]).
    burst_until: Mutex<Option<Instant>>,
    /// The sampling thread, woken early by a burst.
    sampler: Mutex<Option<thread::Thread>>,
}

impl Observer {
    pub fn new(target: Target) -> Arc<Observer> {
        Arc::new(Observer {
            target: Mutex::new(target),
            resolve: Mutex::new(None),
            period_ms: AtomicU64::new(IDLE_PERIOD.as_millis() as u64),
            stop: AtomicBool::new(false),
            oom_generation: AtomicU64::new(0),
            extra_roots: Mutex::new(Vec::new()),
            burst_until: Mutex::new(None),
            sampler: Mutex::new(None),
        })
    }

    /// Starts the sampling thread: samples go to `sink` when something changed (see
    /// [`Pacer`]), times counted from `started`.
    pub fn start(self: &Arc<Self>, paths: Paths, started: Instant, sink: Sink) {
        let shared = self.clone();
        let handle = super::spawn_named("uh-observer", move || {
            let mut pacer = Pacer::default();
            while !shared.stopped() {
                shared.resolve_target();
                let snap = shared.sample(&paths.proc_root, started.elapsed());
                for s in pacer.offer(snap) {
                    if !sink(Notice::Snapshot(Box::new(s))) {
                        return;
                    }
                }
                // Parked, not slept: a burst wakes it at once (a spurious wake-up
                // only takes a sample early).
                thread::park_timeout(shared.period());
            }
        });
        if let Ok(mut s) = self.sampler.lock() {
            *s = Some(handle.thread().clone());
        }
    }

    fn period(&self) -> Duration {
        let burst = self
            .burst_until
            .lock()
            .map(|b| b.is_some_and(|t| Instant::now() < t))
            .unwrap_or(false);
        if burst {
            BURST_PERIOD
        } else {
            Duration::from_millis(self.period_ms.load(Ordering::SeqCst))
        }
    }

    /// Samples at once, then every [`BURST_PERIOD`] for `span`: after an OOM event,
    /// which v1 signals as the cgroup goes under OOM, a moment before the kill is
    /// counted (cgroup-v1/memory.rst, 10).
    pub fn burst(&self, span: Duration) {
        if let Ok(mut b) = self.burst_until.lock() {
            *b = Some(Instant::now() + span);
        }
        if let Ok(s) = self.sampler.lock()
            && let Some(t) = s.as_ref()
        {
            t.unpark();
        }
    }

    /// From now on the target is what `resolve` finds before each sample (kept as it
    /// was when it finds nothing).
    pub fn resolve_with(&self, resolve: Resolver) {
        if let Ok(mut r) = self.resolve.lock() {
            *r = Some(resolve);
        }
    }

    fn resolve_target(&self) {
        let found = match self.resolve.lock() {
            Ok(mut r) => r.as_mut().and_then(|f| f()),
            Err(_) => None,
        };
        if let (Some(t), Ok(mut cur)) = (found, self.target.lock()) {
            *cur = t;
        }
    }

    pub fn stopped(&self) -> bool {
        self.stop.load(Ordering::SeqCst)
    }

    /// Every thread of this observer ends at its next tick.
    pub fn stop(&self) {
        self.stop.store(true, Ordering::SeqCst);
        if let Ok(s) = self.sampler.lock()
            && let Some(t) = s.as_ref()
        {
            t.unpark();
        }
    }

    /// Samples faster (while the hog climbs) or back at the idle pace.
    pub fn fast(&self, fast: bool) {
        let p = if fast { FAST_PERIOD } else { IDLE_PERIOD };
        self.period_ms.store(p.as_millis() as u64, Ordering::SeqCst);
    }

    /// The processes entered from outside, followed besides the tree of PID 1.
    pub fn set_extra_roots(&self, roots: Vec<i32>) {
        if let Ok(mut e) = self.extra_roots.lock() {
            *e = roots;
        }
    }

    /// A new target; true when its cgroup is another one (an OOM watcher of the old
    /// one then stops, see [`Observer::watch_oom`]).
    pub fn set_target(&self, target: Target) -> bool {
        let Ok(mut t) = self.target.lock() else {
            return false;
        };
        let changed =
            t.cgroup.as_ref().map(Cgroup::dirs) != target.cgroup.as_ref().map(Cgroup::dirs);
        *t = target;
        if changed {
            self.forget_oom();
        }
        changed
    }

    /// Stops listening to the current cgroup's OOM events. Before a teardown:
    /// removing a v1 memory cgroup signals its OOM eventfd (cgroup-v1/memory.txt),
    /// which must not read as a kill in the next container.
    pub fn forget_oom(&self) {
        self.oom_generation.fetch_add(1, Ordering::SeqCst);
    }

    /// A sample of the target now: the observer's, plus the processes that entered
    /// it from outside (they are the container's too: `ps` inside lists them).
    pub fn sample(&self, proc_root: &Path, at: Duration) -> Snapshot {
        let target = self.target.lock().map(|t| t.clone()).unwrap_or_default();
        let mut snap = snapshot::sample(proc_root, &target, at);
        let extra = self
            .extra_roots
            .lock()
            .map(|e| e.clone())
            .unwrap_or_default();
        for root in extra {
            // The entering process itself stays outside (the host's PID namespace):
            // its children, one level up.
            if let Ok(nodes) = crate::observe::ptree::tree(proc_root, root) {
                snap.tree.extend(nodes.into_iter().skip(1).map(|mut n| {
                    n.depth = n.depth.saturating_sub(1);
                    n
                }));
            }
        }
        snap
    }

    /// Waits for OOM events of `cg` on a thread of its own (v2: inotify on
    /// `memory.events`; v1: an eventfd on `memory.oom_control`), until the cgroup is
    /// forgotten or the observer stops.
    pub fn watch_oom(self: &Arc<Self>, cg: Cgroup, sink: Sink) {
        let generation = self.oom_generation.load(Ordering::SeqCst);
        let shared = self.clone();
        super::spawn_named("uh-oom", move || {
            let Ok(events) = cg.oom_events() else {
                return;
            };
            let current =
                || shared.oom_generation.load(Ordering::SeqCst) == generation && !shared.stopped();
            while current() {
                let mut fds = [nix::poll::PollFd::new(
                    events.as_fd(),
                    nix::poll::PollFlags::POLLIN,
                )];
                match nix::poll::poll(&mut fds, nix::poll::PollTimeout::from(1000u16)) {
                    Ok(n) if n > 0 => {
                        let _ = events.read();
                        if !current() || !sink(Notice::Oom) {
                            return;
                        }
                    }
                    Ok(_) | Err(nix::errno::Errno::EINTR) => {}
                    Err(_) => return,
                }
            }
        });
    }
}

/// Waits for the subject's control socket to become readable, on a thread of its
/// own, so that a front end can sleep until something happens instead of polling it.
/// Armed with a socket, it reports one `Notice::Subject` when the socket is readable
/// (or hung up), then waits to be armed again: the session reads what came first, so
/// a socket that stays readable cannot make it spin.
pub struct SubjectWatch {
    arm: std::sync::mpsc::Sender<std::os::fd::OwnedFd>,
}

impl SubjectWatch {
    /// Starts the thread; it ends when `observer` stops or the watch is dropped.
    pub fn start(observer: Arc<Observer>, sink: Sink) -> SubjectWatch {
        let (arm, armed) = std::sync::mpsc::channel::<std::os::fd::OwnedFd>();
        super::spawn_named("uh-subject", move || {
            use std::sync::mpsc::{RecvTimeoutError, TryRecvError};
            // The stop flag is looked at this often.
            const TICK: Duration = Duration::from_secs(1);
            let mut socket = None;
            while !observer.stopped() {
                // The newest socket armed wins (a rebuilt container has another).
                loop {
                    match armed.try_recv() {
                        Ok(fd) => socket = Some(fd),
                        Err(TryRecvError::Empty) => break,
                        Err(TryRecvError::Disconnected) => return,
                    }
                }
                let Some(fd) = &socket else {
                    match armed.recv_timeout(TICK) {
                        Ok(fd) => socket = Some(fd),
                        Err(RecvTimeoutError::Timeout) => {}
                        Err(RecvTimeoutError::Disconnected) => return,
                    }
                    continue;
                };
                let mut fds = [nix::poll::PollFd::new(
                    fd.as_fd(),
                    nix::poll::PollFlags::POLLIN,
                )];
                let tick =
                    nix::poll::PollTimeout::try_from(TICK).unwrap_or(nix::poll::PollTimeout::NONE);
                match nix::poll::poll(&mut fds, tick) {
                    Ok(n) if n > 0 => {
                        socket = None;
                        if !sink(Notice::Subject) {
                            return;
                        }
                    }
                    Ok(_) | Err(nix::errno::Errno::EINTR) => {}
                    Err(_) => socket = None,
                }
            }
        });
        SubjectWatch { arm }
    }

    /// Watches `socket` (a copy of it) until it is readable.
    pub fn arm(&self, socket: std::os::fd::BorrowedFd<'_>) {
        if let Ok(fd) = socket.try_clone_to_owned() {
            let _ = self.arm.send(fd);
        }
    }
}

/// Takes the blocked exit signals with sigwait(2) on a thread of its own.
pub fn spawn_signal_thread(sigs: SigSet, sink: Sink) {
    super::spawn_named("uh-signals", move || {
        while let Ok(sig) = sigs.wait() {
            if !sink(Notice::Signal(sig as i32)) {
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
pub struct Pacer {
    last: Option<Snapshot>,
    /// The latest sample not sent because nothing had changed.
    unsent: Option<Snapshot>,
}

impl Pacer {
    pub fn offer(&mut self, snap: Snapshot) -> Vec<Snapshot> {
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

#[cfg(test)]
mod tests {
    use super::*;

    fn snap(ms: u64, current: u64) -> Snapshot {
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
        Snapshot {
            at: Duration::from_millis(ms),
            memory: Some(memory),
            ..Default::default()
        }
    }

    #[test]
    fn the_memory_graph_gets_a_steady_clock_and_the_flat_before_a_rise() {
        let mut p = Pacer::default();
        let at = |v: Vec<Snapshot>| v.iter().map(|s| s.at.as_millis()).collect::<Vec<_>>();
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
    fn a_resolver_moves_the_target_each_tick_and_a_miss_keeps_it() {
        let o = Observer::new(Target {
            subject: 1,
            tree_root: 1,
            cgroup: None,
            learner_below: None,
        });
        let mut n = 0;
        o.resolve_with(Box::new(move || {
            n += 1;
            (n == 1).then_some(Target {
                subject: 42,
                tree_root: 42,
                cgroup: None,
                learner_below: None,
            })
        }));
        o.resolve_target();
        assert_eq!(o.target.lock().unwrap().subject, 42);
        o.resolve_target();
        assert_eq!(o.target.lock().unwrap().subject, 42, "kept on a miss");
    }
}
