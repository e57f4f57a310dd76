//! The controller: starts the subject, sends it one step at a time, and does from
//! *outside* what must not be left to the container: writing its uid/gid maps,
//! creating its cgroup and limits, plugging in its veth, and cleaning up.

use std::os::fd::{AsFd, BorrowedFd, OwnedFd};
use std::os::unix::net::UnixStream;
use std::time::{Duration, Instant};

use nix::sys::signal::{Signal, kill};
use nix::unistd::Pid;

use super::cgroup::{self, Cgroup};
use super::launch_error::{Ctx, Error, Result};
use super::link::Link;
use super::paths::Paths;
use super::protocol::{Console, Reply, Request, SpawnSpec, recv, send};
use super::report::Report;
use super::state::{self, Session};
use super::step::Step;
use super::steps::net::delete_veth;
use super::steps::{self, Outside, Shape};
use super::sys::{Linux, Sys};

pub use super::start::Spawned;

pub use super::link::Exit;

/// What a command run with `Launch::run_captured` did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Captured {
    pub exit: Exit,
    pub output: String,
    pub timed_out: bool,
}

/// A step that failed: its report says which call and which errno; `cause`, when
/// there is one, is the error that stopped it (the subject gone, a reply out of step,
/// a controller's part refused), kept with its kind.
#[derive(Debug, thiserror::Error)]
#[error("{message}")]
pub struct StepFailure {
    pub report: Box<Report>,
    pub message: String,
    pub cause: Option<Error>,
}

impl StepFailure {
    fn new(report: Report, message: String, cause: Option<Error>) -> StepFailure {
        StepFailure {
            report: Box::new(report),
            message,
            cause,
        }
    }

    /// The errno of the first failed call, when the failure was a kernel's answer:
    /// the report's, else the cause's.
    pub fn errno(&self) -> Option<nix::errno::Errno> {
        self.report
            .errno()
            .or_else(|| self.cause.as_ref().and_then(Error::errno))
    }
}

/// `WHAT failed: call(args) = ERRNO`, naming the first failed call of the report.
fn failure_message(what: &str, report: &Report, otherwise: &str) -> String {
    match report.failure() {
        Some(c) => format!(
            "{what} failed: {}({}) = {}",
            c.name,
            c.args,
            c.result.as_ref().err().cloned().unwrap_or_default()
        ),
        None if otherwise.is_empty() => format!("{what} failed"),
        None => format!("{what} failed: {otherwise}"),
    }
}

/// A spawn the subject refused (`Done`: its report names the failed call) or answered
/// out of step.
fn refused(title: &str, reply: Reply) -> StepFailure {
    match reply {
        Reply::Done { report, .. } => {
            let message = failure_message(title, &report, "");
            let cause = Error::reported(message.clone(), &report);
            StepFailure::new(report, message, Some(cause))
        }
        other => {
            let message = format!("{title}: unexpected reply {other:?}");
            let cause = Error::Protocol(message.clone());
            StepFailure::new(Report::new(title), message, Some(cause))
        }
    }
}

/// One container being built.
pub struct Launch {
    pub paths: Paths,
    pub session: Session,
    pub steps: Vec<Step>,
    /// Index of the next step to run.
    pub next: usize,
    first: Option<super::start::SubjectProc>,
    sock: UnixStream,
    /// Host pid of the current subject (PID 1 inside after the PID step).
    pub subject: i32,
    cgroup_host: Option<cgroup::Host>,
    pub cgroup: Option<Cgroup>,
    /// The command's pid inside its PID namespace, once started.
    pub command: Option<i32>,
    pub exit: Option<Exit>,
    /// Spawned processes that ended, as PID 1 reported them (pid inside, exit).
    pub reaped: Vec<(i32, Exit)>,
    torn_down: bool,
    /// Send runs of steps ahead instead of one at a time (see [`Launch::pipelined`]).
    pipeline: bool,
    /// Steps before this index were sent to the subject already (pipelining).
    sent: usize,
    /// Controller parts done ahead of their step's turn (pipelining), by step index.
    ahead: std::collections::HashMap<usize, (Report, Result<()>)>,
    /// Which hierarchies the cgroup step makes a directory in.
    cgroup_scope: cgroup::Scope,
    /// The kernel, as the controller's parts of the steps and teardown call it.
    sys: Box<dyn Sys + Send>,
    /// The read-only layers this launch was planned with, top first (`UH_LAYERS`: what
    /// a learner mounts an overlay of by hand).
    pub layers: Vec<std::path::PathBuf>,
    /// The master end of the last terminal PID 1 made (runtime/console.rs).
    console: Option<nix::Result<OwnedFd>>,
}

impl Launch {
    /// Starts the subject for a launch taken step by step, its standard descriptors
    /// /dev/null (`Spawned::start_detached`). Nothing is done to the kernel yet.
    pub fn start(paths: Paths, session: Session, steps: Vec<Step>) -> Result<Launch> {
        let spawned = Spawned::start_detached(&paths)?;
        Launch::adopt(paths, session, steps, spawned)
    }

    /// A launch around a subject started ahead; records it unless the session's first
    /// record did.
    pub fn adopt(
        paths: Paths,
        mut session: Session,
        steps: Vec<Step>,
        mut spawned: Spawned,
    ) -> Result<Launch> {
        let child = spawned
            .child
            .take()
            .ctx(|| "the subject was adopted twice")?;
        let pid = child.id() as i32;
        if let Some(id) = spawned.id
            && !session.state.subjects.contains(&id)
        {
            session.record(|s| s.subjects.push(id))?;
        }
        let sock = spawned
            .sock
            .take()
            .ctx(|| "the subject's socket was taken twice")?;
        Ok(Launch {
            paths,
            session,
            steps,
            next: 0,
            first: Some(child),
            sock,
            subject: pid,
            cgroup_host: None,
            cgroup: None,
            command: None,
            exit: None,
            reaped: Vec::new(),
            torn_down: false,
            pipeline: false,
            sent: 0,
            ahead: std::collections::HashMap::new(),
            cgroup_scope: cgroup::Scope::Every,
            sys: Box::new(Linux),
            layers: Vec::new(),
            console: None,
        })
    }

    /// For a launch run start to end without pauses (`run`): runs of steps are sent to
    /// the subject at once, and the controller does its own parts (the cgroup, the
    /// rootfs directories) while the subject works, instead of one request, one reply,
    /// one step at a time. Each step still gets its report, in order, and a failed step
    /// stops the subject before the next (it refuses the rest of what was sent). The
    /// cgroup is made only in the hierarchies of the limits asked for
    /// ([`cgroup::Scope::Limited`]). Not for a learner stepping through a launch: the
    /// subject would run ahead of the step shown.
    pub fn pipelined(mut self) -> Launch {
        self.pipeline = true;
        self.cgroup_scope = cgroup::Scope::Limited;
        self
    }

    /// Asks the subject to execve(2) the command in its own place at the exec step, so
    /// the command is PID 1 with no init (`run --no-init`). Call before the exec step
    /// is sent. Afterwards nothing can be started inside (no one is left to fork it),
    /// and the end of the command is learned from the first subject's exit.
    pub fn no_init(&mut self) -> Result<()> {
        send(&mut self.sock, &Request::NoInit)
    }

    /// Asks the subject to answer each step that succeeds with its title and time only
    /// (`Request::Quiet`): for a caller that shows no report but a failed one's. Call
    /// before the steps are sent.
    pub fn quiet(&mut self) -> Result<()> {
        send(&mut self.sock, &Request::Quiet)
    }

    /// Asks PID 1 to start the exec step's command on a terminal it makes inside, as
    /// `console` says (runtime/console.rs); [`Launch::take_console`] has its master end
    /// once the exec step is done. Call before the exec step is sent.
    pub fn console(&mut self, console: Console) -> Result<()> {
        send(&mut self.sock, &Request::Console(console))
    }

    /// The master end of the terminal PID 1 made last, received with its `Started`.
    pub fn take_console(&mut self) -> Result<OwnedFd> {
        match self.console.take() {
            Some(Ok(fd)) => Ok(fd),
            Some(Err(errno)) => Err(Error::Call {
                call: "recvmsg SCM_RIGHTS (the terminal's master end)".into(),
                errno,
            }),
            None => Err(Error::Missing(
                "the container's terminal was never sent".into(),
            )),
        }
    }

    /// The kernel calls of the controller's parts and of teardown go to `sys` (a
    /// recording double in the orchestration tests).
    #[cfg(test)]
    pub(crate) fn with_sys(mut self, sys: Box<dyn Sys + Send>) -> Launch {
        self.sys = sys;
        self
    }

    /// The environment the plan gives the container's command (PATH, HOME, TERM...),
    /// for other processes started inside.
    pub fn exec_env(&self) -> Vec<(String, String)> {
        self.steps
            .iter()
            .find_map(|s| match s {
                Step::Exec { env, .. } => Some(env.clone()),
                _ => None,
            })
            .unwrap_or_default()
    }

    /// The first subject's host pid (the shim once the PID step forked PID 1).
    pub fn first_pid(&self) -> Option<i32> {
        self.first.as_ref().map(|c| c.id() as i32)
    }

    pub fn done(&self) -> bool {
        self.next >= self.steps.len()
    }

    /// The control socket, for poll(2) while the command runs.
    pub fn socket_fd(&self) -> BorrowedFd<'_> {
        self.sock.as_fd()
    }

    fn link(&mut self) -> Link<'_> {
        Link {
            sock: &mut self.sock,
            reaped: &mut self.reaped,
            exit: &mut self.exit,
            console: &mut self.console,
        }
    }

    fn ask(&mut self, req: &Request) -> Result<Reply> {
        self.link().ask(req)
    }

    /// What the controller's part of step `index` works with.
    fn outside(&mut self, index: usize) -> Outside<'_> {
        Outside {
            sys: &mut *self.sys,
            link: Link {
                sock: &mut self.sock,
                reaped: &mut self.reaped,
                exit: &mut self.exit,
                console: &mut self.console,
            },
            paths: &self.paths,
            session: &mut self.session,
            subject: &mut self.subject,
            cgroup_host: &mut self.cgroup_host,
            cgroup: &mut self.cgroup,
            cgroup_scope: self.cgroup_scope,
            earlier: &self.steps[..index.min(self.steps.len())],
            command: &mut self.command,
            pipelined: self.pipeline,
        }
    }

    /// Starts another process in the container as it stands (PID 1 forks it).
    /// Returns its pid inside.
    pub fn spawn(&mut self, spec: SpawnSpec) -> Result<(i32, Report), StepFailure> {
        let title = format!("spawn {}", spec.argv.join(" "));
        match self.ask(&Request::Spawn(spec)) {
            Ok(Reply::Started { report, pid }) => Ok((pid, report)),
            Ok(reply) => Err(refused(&title, reply)),
            Err(e) => Err(StepFailure::new(
                Report::new(&title),
                format!("{title}: {e}"),
                Some(e),
            )),
        }
    }

    /// Starts a process inside on a new pseudo-terminal, which PID 1 makes in its own
    /// mount namespace (runtime/console.rs: the slave end is then a terminal of the
    /// container's devpts, named there); returns its pid inside and the terminal's
    /// master end (read its output, write its input).
    pub fn spawn_pty(
        &mut self,
        mut spec: SpawnSpec,
        rows: u16,
        cols: u16,
    ) -> Result<(i32, OwnedFd, Report), StepFailure> {
        let title = format!("spawn {} on a terminal", spec.argv.join(" "));
        spec.tty = true;
        let console = Console {
            rows,
            cols,
            modes: None,
            stdio: [true; 3],
        };
        self.console = None;
        let reply = self
            .console(console)
            .and_then(|()| self.ask(&Request::Spawn(spec)));
        // Whatever the reply, a master that came is ours to close if not handed on.
        let master = self.take_console();
        match reply {
            Ok(Reply::Started { report, pid }) => match master {
                Ok(master) => Ok((pid, master, report)),
                Err(e) => Err(StepFailure::new(report, format!("{title}: {e}"), Some(e))),
            },
            Ok(reply) => Err(refused(&title, reply)),
            Err(e) => Err(StepFailure::new(
                Report::new(&title),
                format!("{title}: {e}"),
                Some(e),
            )),
        }
    }

    /// Runs a short command inside the container as it stands and returns its exit
    /// and output (lesson checks use this).
    pub fn run_captured(&mut self, spec: SpawnSpec, timeout: Duration) -> Result<Captured> {
        let timeout_ms = timeout.as_millis() as u64;
        match self.ask(&Request::Run { spec, timeout_ms })? {
            Reply::Ran {
                code,
                signal,
                output,
                timed_out,
            } => Ok(Captured {
                exit: Exit { code, signal },
                output,
                timed_out,
            }),
            other => Err(Error::Protocol(format!(
                "unexpected reply to a run request: {other:?}"
            ))),
        }
    }

    /// Reads unasked messages that are waiting, without blocking (for a UI loop).
    /// Returns false when the subject is gone.
    pub fn pump(&mut self) -> Result<bool> {
        loop {
            let mut fds = [nix::poll::PollFd::new(
                self.sock.as_fd(),
                nix::poll::PollFlags::POLLIN,
            )];
            let n = nix::poll::poll(&mut fds, nix::poll::PollTimeout::ZERO).ctx(|| "poll")?;
            if n == 0 {
                return Ok(true);
            }
            match recv::<Reply>(&mut self.sock)? {
                Some(reply) => {
                    self.link().note_event(&reply);
                }
                None => return Ok(false),
            }
        }
    }

    /// Runs the next step; on failure the report names the failed call.
    pub fn step(&mut self) -> Result<Report, StepFailure> {
        let Some(step) = self.steps.get(self.next).cloned() else {
            return Err(StepFailure::new(
                Report::new("none"),
                "no step left".into(),
                None,
            ));
        };
        // A step whose controller part comes between two of the subject's (id maps, a
        // veth moved in) goes one at a time.
        let alone = steps::of(&step).shape() == Shape::ControllerBetween;
        let (report, res) = if self.pipeline && !alone {
            if self.next >= self.sent {
                self.send_ahead(self.steps.len());
            }
            self.finish_sent(&step)
        } else {
            let mut report = Report::new(step.title());
            let started = Instant::now();
            let res = self.run_step(self.next, &step, &mut report);
            report.micros = started.elapsed().as_micros() as u64;
            (report, res)
        };
        match res {
            Ok(()) => {
                self.next += 1;
                Ok(report)
            }
            Err(e) => {
                let message =
                    failure_message(&format!("step '{}'", step.title()), &report, &e.to_string());
                Err(StepFailure::new(report, message, Some(e)))
            }
        }
    }

    /// Pipelining: sends the steps from `next` on that can go ahead, doing the
    /// controller's parts on the way. The cgroup (the subject must be in it before
    /// CgroupNs and the PID fork) is made while the subject works on what was sent
    /// before it; the rootfs directories just before the rootfs step is sent. Stops at
    /// the first controller part that fails: the steps after it are never sent.
    fn send_ahead(&mut self, until: usize) {
        let mut batch = Vec::new();
        let mut i = self.next.max(self.sent);
        while let Some(step) = self.steps.get(i).filter(|_| i < until).cloned() {
            let part = steps::of(&step);
            let shape = part.shape();
            match shape {
                Shape::ControllerBetween => break,
                Shape::Subject => {
                    batch.push(step.clone());
                    i += 1;
                    continue;
                }
                // What is gathered goes now, so that the subject works on it while
                // the controller does its part (the cgroup's mkdir and limits while
                // the subject makes its namespaces).
                Shape::Controller | Shape::ControllerFirst => self.send_batch(&mut batch),
            }
            let mut report = Report::new(step.title());
            let started = Instant::now();
            let res = part.outside(&mut self.outside(i), &mut report);
            report.micros = started.elapsed().as_micros() as u64;
            let failed = res.is_err();
            self.ahead.insert(i, (report, res));
            i += 1;
            if failed {
                break;
            }
            if shape == Shape::ControllerFirst {
                batch.push(step.clone());
            }
        }
        self.send_batch(&mut batch);
        self.sent = i;
    }

    /// Pipelining: sends the steps before `until` ahead now, before the first call to
    /// [`Launch::step`], so that the subject works on them while the caller prepares
    /// what the later steps need (`launcher::start_pipelined`: the read-only layers).
    /// Nothing more is sent once a controller part has failed.
    pub fn send_ahead_until(&mut self, until: usize) {
        let failed = self.ahead.values().any(|(_, res)| res.is_err());
        if self.pipeline && !failed {
            self.send_ahead(until);
        }
    }

    /// Sends `batch` (emptying it) as one request. A send error shows up as the
    /// subject's silence when its replies are read.
    fn send_batch(&mut self, batch: &mut Vec<Step>) {
        if !batch.is_empty() {
            let _ = send(&mut self.sock, &Request::Batch(std::mem::take(batch)));
        }
    }

    /// Pipelining: the report of a step sent ahead: the controller's part done ahead,
    /// then the subject's reply, then what the controller records after it.
    fn finish_sent(&mut self, step: &Step) -> (Report, Result<()>) {
        let (mut report, done) = match self.ahead.remove(&self.next) {
            Some((report, res)) => (report, Some(res)),
            None => (Report::new(step.title()), None),
        };
        let part = steps::of(step);
        match done {
            Some(Err(e)) => return (report, Err(e)),
            Some(Ok(())) if part.shape() == Shape::Controller => return (report, Ok(())),
            _ => {}
        }
        let reply = self.link().reply();
        let res = reply.and_then(|reply| {
            if let Some(r) = reply.report() {
                // The subject timed its own part: that is the step's time here, as the
                // replies of steps sent together arrive back to back.
                report.micros += r.micros;
                report.extend(r.clone());
            }
            if let Reply::Done { ok: false, report } = &reply {
                return Err(Error::reported("the subject reported a failure", report));
            }
            part.after(&mut self.outside(self.next), reply)
        });
        (report, res)
    }

    /// A step not sent ahead: its parts in the order its shape says.
    fn run_step(&mut self, index: usize, step: &Step, report: &mut Report) -> Result<()> {
        let part = steps::of(step);
        let shape = part.shape();
        match shape {
            Shape::Controller => return part.outside(&mut self.outside(index), report),
            Shape::ControllerFirst => part.outside(&mut self.outside(index), report)?,
            Shape::Subject | Shape::ControllerBetween => {}
        }
        let mut o = self.outside(index);
        let reply = o.link.ask_into(
            &Request::Step(step.clone()),
            report,
            "the subject reported a failure",
        )?;
        if shape == Shape::ControllerBetween {
            part.outside(&mut o, report)?;
        }
        part.after(&mut o, reply)
    }

    /// Reads the subject's next message while the command runs (call when the socket
    /// is readable). Returns the exit once the command has ended.
    pub fn poll_exit(&mut self) -> Result<Option<Exit>> {
        match recv::<Reply>(&mut self.sock)? {
            Some(Reply::Exited { code, signal }) => {
                let e = Exit { code, signal };
                self.exit = Some(e);
                Ok(Some(e))
            }
            Some(r @ Reply::Reaped { .. }) => {
                self.link().note_event(&r);
                Ok(None)
            }
            Some(other) => Err(Error::Protocol(format!(
                "unexpected message from the subject: {other:?}"
            ))),
            None => {
                // PID 1 died without a word: killed (SIGKILL, OOM) or crashed.
                let e = self.reap_first().unwrap_or(Exit {
                    code: None,
                    signal: Some(9),
                });
                self.exit = Some(e);
                Ok(Some(e))
            }
        }
    }

    fn reap_first(&mut self) -> Option<Exit> {
        let child = self.first.as_mut()?;
        let status = child.wait().ok()?;
        use std::os::unix::process::ExitStatusExt;
        Some(match (status.code(), status.signal()) {
            (Some(c), _) if c > 128 && self.subject != child.id() as i32 => Exit {
                code: None,
                signal: Some(c - 128),
            },
            (c, s) => Exit { code: c, signal: s },
        })
    }

    /// Sends a signal to the command (through PID 1, which forwards it).
    pub fn signal(&self, sig: Signal) {
        let _ = kill(Pid::from_raw(self.subject), sig);
    }

    /// Kills everything of this session and removes what it created, in reverse
    /// order: processes, cgroup, veth, directories. Safe to call twice.
    pub fn teardown(&mut self) -> Result<Report> {
        let mut report = Report::new("teardown");
        let started = Instant::now();
        if self.torn_down {
            return Ok(report);
        }
        self.torn_down = true;
        let mut errors = Vec::new();
        // SIGKILL to PID 1 takes the whole PID namespace with it (pid_namespaces(7)).
        // The first subject, once the PID step made it the shim, is spared: it waits
        // for PID 1 and exits as soon as PID 1 is reaped, so its exit, which we wait
        // for, says the whole container is gone (no polling). Still the subject itself
        // (no PID step), it is killed like the others.
        let first = self.first.as_ref().map(|c| c.id() as i32);
        let shim = first.is_some_and(|f| f != self.subject);
        for id in self.session.state.subjects.clone().iter().rev() {
            if shim && Some(id.pid) == first {
                continue;
            }
            if state::is_alive(&self.paths.proc_root, *id) {
                let res = self.sys.kill(id.pid, Signal::SIGKILL);
                let _ = report.call("kill", format!("{}, SIGKILL", id.pid), res);
            }
        }
        if let Some(mut child) = self.first.take() {
            // A shim whose PID 1 does not end (a process of the container stuck in
            // the kernel keeps the namespace's last exit waiting) is killed after a
            // while: its PID 1 then comes to us, the subreaper.
            if shim && !child.exited_within(Duration::from_secs(2)) {
                let res = self.sys.kill(child.id() as i32, Signal::SIGKILL);
                let _ = report.call("kill", format!("{}, SIGKILL", child.id()), res);
            }
            let _ = child.wait();
        }
        self.wait_gone(Duration::from_secs(2));
        // What the learner made by hand from the host shell (its processes, its
        // cgroups, a mount leaked under the session directory), before our own cgroup
        // and the directory go. A pipelined launch (`run`) has no host shell and no
        // lesson: it is spared the scan of /proc.
        if !self.pipeline {
            let by_hand = super::by_hand::clean(&self.paths, &self.session, &mut report);
            errors.extend(by_hand.into_iter().map(Error::Failed));
        }
        if let Some(Err(e)) = self.cgroup.take().map(|cg| cg.remove(&mut report)) {
            errors.push(e.into());
        }
        for veth in self.session.state.veths.clone() {
            if let Err(e) = delete_veth(&mut *self.sys, &veth, &mut report) {
                errors.push(e);
            }
        }
        if let Err(e) = self.session.remove_dir() {
            errors.push(e);
        }
        report.micros = started.elapsed().as_micros() as u64;
        if errors.is_empty() {
            Ok(report)
        } else {
            Err(Error::Cleanup(errors))
        }
    }

    /// Waits until no recorded subject process is left, reaping the ones re-parented
    /// to us (we are a subreaper): on each one still running, a pidfd that becomes
    /// readable when it exits (pidfd_open(2)), never a sleep in a loop.
    fn wait_gone(&self, limit: Duration) {
        let deadline = Instant::now() + limit;
        loop {
            for id in &self.session.state.subjects {
                let _ = nix::sys::wait::waitpid(
                    Pid::from_raw(id.pid),
                    Some(nix::sys::wait::WaitPidFlag::WNOHANG),
                );
            }
            let alive = self
                .session
                .state
                .subjects
                .iter()
                .find(|id| state::is_alive(&self.paths.proc_root, **id));
            let left = deadline.saturating_duration_since(Instant::now());
            match alive {
                Some(id) if !left.is_zero() => super::start::wait_exit(id.pid, left),
                _ => return,
            }
        }
    }
}

impl Drop for Launch {
    fn drop(&mut self) {
        if let Err(e) = self.teardown() {
            eprintln!("underhood: {e}");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::runtime::step::Step;

    /// A step asked of a subject that is gone fails with the kind of its cause kept
    /// (`StepFailure::cause`), and its errno is the kernel's answer to the send.
    #[test]
    fn a_step_of_a_subject_gone_keeps_its_cause() {
        let tmp = tempfile::tempdir().unwrap();
        let paths = Paths {
            proc_root: "/proc".into(),
            cgroup_root: tmp.path().join("cgroup"),
            state_dir: tmp.path().join("state"),
            cache_dir: tmp.path().join("cache"),
        };
        let steps = vec![Step::Uts {
            hostname: "box".into(),
        }];
        let d = super::super::double::launch(&paths, steps, None, None).unwrap();
        let mut launch = d.launch;
        // The subject reads the end of the stream and returns: its end closes.
        nix::sys::socket::shutdown(
            std::os::fd::AsRawFd::as_raw_fd(&launch.socket_fd()),
            nix::sys::socket::Shutdown::Write,
        )
        .unwrap();
        d.subject.join().unwrap();
        let f = launch.step().unwrap_err();
        let cause = f.cause.as_ref().expect("a cause");
        assert!(cause.is_gone(), "{cause:?}");
        assert_eq!(
            f.message,
            format!("step 'UTS namespace (hostname box)' failed: {cause}")
        );
        assert!(f.report.errno().is_none(), "no call of the step failed");
        assert_eq!(f.errno(), cause.errno());
        assert!(f.errno().is_some());
        launch.teardown().unwrap();
    }
}
