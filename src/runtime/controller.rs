//! The controller: starts the subject, sends it one step at a time, and does from
//! *outside* what must not be left to the container: writing its uid/gid maps,
//! creating its cgroup and limits, plugging in its veth, and cleaning up.

use std::io::Write as _;
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, FromRawFd, OwnedFd};
use std::os::unix::net::UnixStream;
use std::os::unix::process::CommandExt;
use std::path::Path;
use std::process::{Child, Command};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use anyhow::{Context, Result, anyhow, bail};
use nix::sys::signal::{Signal, kill};
use nix::unistd::Pid;

use super::cgroup::{self, Cgroup, Limits};
use super::paths::Paths;
use super::protocol::{Reply, Request, SUBJECT_FD, SpawnSpec, recv, send};
use super::report::Report;
use super::state::{self, Session};
use super::step::{IdMap, LimitSpec, RootfsSpec, Step, Veth};

/// How a command ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Exit {
    pub code: Option<i32>,
    pub signal: Option<i32>,
}

impl Exit {
    /// The shell convention: the exit code, or 128 + the signal number.
    pub fn status(&self) -> i32 {
        match (self.code, self.signal) {
            (Some(c), _) => c,
            (None, Some(s)) => 128 + s,
            (None, None) => 1,
        }
    }
}

/// What a command run with `Launch::run_captured` did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Captured {
    pub exit: Exit,
    pub output: String,
    pub timed_out: bool,
}

/// A step that failed: its report says which call and which errno.
#[derive(Debug)]
pub struct StepFailure {
    pub report: Box<Report>,
    pub message: String,
}

impl std::fmt::Display for StepFailure {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for StepFailure {}

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

/// One container being built.
pub struct Launch {
    pub paths: Paths,
    pub session: Session,
    pub steps: Vec<Step>,
    /// Index of the next step to run.
    pub next: usize,
    first: Option<Child>,
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
}

/// A subject started before its session exists, so that its start-up (an execve of our
/// binary: loading, relocation, libc's start) overlaps the controller's own preparation
/// (layers, the session record). Nothing is done to the kernel by it until asked. It
/// dies with us (PR_SET_PDEATHSIG) and exits when the socket closes, so a crash before
/// the session records it leaves nothing behind; dropped unused, it is killed and reaped.
pub struct Spawned {
    child: Option<Child>,
    sock: Option<UnixStream>,
    id: Option<state::ProcId>,
}

impl Spawned {
    /// Becomes a subreaper (see [`Launch::start`]) and starts the subject.
    pub fn start(paths: &Paths) -> Result<Spawned> {
        // PID 1 is the shim's child; if the shim dies first, PID 1 is re-parented to
        // the nearest subreaper. Being that subreaper (prctl(2)) lets teardown reap it
        // instead of leaving a zombie for the host's init.
        nix::sys::prctl::set_child_subreaper(true).context("PR_SET_CHILD_SUBREAPER")?;
        let (child, sock) = spawn_subject()?;
        let id = state::proc_id(&paths.proc_root, child.id() as i32);
        Ok(Spawned {
            child: Some(child),
            sock: Some(sock),
            id,
        })
    }

    /// The subject's pid and start time, for the session record.
    pub fn id(&self) -> Option<state::ProcId> {
        self.id
    }
}

impl Drop for Spawned {
    fn drop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

/// Whether a step can be sent ahead: the subject does it alone, or the controller's
/// part can be done before the subject's (cgroup, rootfs directories) or after it
/// (recording a pid). A user namespace (id maps between two subject parts) and a veth
/// (moved in between) need the controller in the middle: those go one at a time.
fn can_pipeline(step: &Step) -> bool {
    !matches!(step, Step::User { .. } | Step::Net { veth: Some(_) })
}

/// The executable the subject (and `__enter`) run from, so that a process inside the
/// container that opens /proc/1/exe cannot write our binary on the host (the
/// CVE-2019-5736 class, which runc fixes the same two ways):
/// - as root, a read-only bind mount of our binary that is attached nowhere
///   (open_tree(2) with OPEN_TREE_CLONE, then mount_setattr(2) MOUNT_ATTR_RDONLY):
///   writes through it fail with EROFS, and nothing is copied;
/// - otherwise a sealed in-memory copy (memfd_create(2) + F_SEAL_WRITE...).
fn subject_exe() -> Result<&'static OwnedFd> {
    static EXE: OnceLock<OwnedFd> = OnceLock::new();
    if let Some(fd) = EXE.get() {
        return Ok(fd);
    }
    let fd = match readonly_bind_of_self() {
        Ok(fd) => fd,
        Err(_) => sealed_copy_of_self()?,
    };
    let _ = EXE.set(fd);
    EXE.get().ok_or_else(|| anyhow!("executable handle lost"))
}

fn readonly_bind_of_self() -> nix::Result<OwnedFd> {
    // SAFETY: plain syscalls with valid pointers; the returned fd is ours to own.
    let fd = unsafe {
        libc::syscall(
            libc::SYS_open_tree,
            libc::AT_FDCWD,
            c"/proc/self/exe".as_ptr(),
            libc::OPEN_TREE_CLONE | libc::OPEN_TREE_CLOEXEC,
        )
    };
    let fd = nix::errno::Errno::result(fd)? as i32;
    // SAFETY: open_tree returned a new descriptor.
    let fd = unsafe { OwnedFd::from_raw_fd(fd) };
    let attr = libc::mount_attr {
        attr_set: libc::MOUNT_ATTR_RDONLY | libc::MOUNT_ATTR_NOSUID | libc::MOUNT_ATTR_NODEV,
        attr_clr: 0,
        propagation: 0,
        userns_fd: 0,
    };
    // SAFETY: as above; attr lives across the call.
    let rc = unsafe {
        libc::syscall(
            libc::SYS_mount_setattr,
            fd.as_raw_fd(),
            c"".as_ptr(),
            libc::AT_EMPTY_PATH,
            &attr as *const libc::mount_attr,
            std::mem::size_of::<libc::mount_attr>(),
        )
    };
    nix::errno::Errno::result(rc)?;
    Ok(fd)
}

fn sealed_copy_of_self() -> Result<OwnedFd> {
    let mut src = std::fs::File::open("/proc/self/exe").context("opening /proc/self/exe")?;
    let fd = nix::sys::memfd::memfd_create(
        c"underhood",
        nix::sys::memfd::MFdFlags::MFD_CLOEXEC | nix::sys::memfd::MFdFlags::MFD_ALLOW_SEALING,
    )
    .context("memfd_create")?;
    let mut dst = std::fs::File::from(fd);
    std::io::copy(&mut src, &mut dst).context("copying /proc/self/exe into a memfd")?;
    dst.flush().ok();
    let seals = nix::fcntl::SealFlag::F_SEAL_SEAL
        | nix::fcntl::SealFlag::F_SEAL_SHRINK
        | nix::fcntl::SealFlag::F_SEAL_GROW
        | nix::fcntl::SealFlag::F_SEAL_WRITE;
    nix::fcntl::fcntl(&dst, nix::fcntl::FcntlArg::F_ADD_SEALS(seals))
        .context("sealing the memfd")?;
    Ok(OwnedFd::from(dst))
}

fn spawn_subject() -> Result<(Child, UnixStream)> {
    let (ours, theirs) = UnixStream::pair().context("socketpair")?;
    let exe = subject_exe()?;
    let controller = std::process::id();
    let theirs_fd = theirs.as_raw_fd();
    let mut cmd = Command::new(format!("/proc/self/fd/{}", exe.as_raw_fd()));
    cmd.arg0("underhood-init")
        .arg("__subject")
        .arg(controller.to_string());
    // SAFETY: the closure runs between fork and exec and only makes async-signal-safe
    // calls (dup2, fcntl, prctl) on integers captured by value.
    unsafe {
        cmd.pre_exec(move || {
            if theirs_fd == SUBJECT_FD {
                // dup2 onto itself keeps FD_CLOEXEC: clear it instead.
                if libc::fcntl(SUBJECT_FD, libc::F_SETFD, 0) < 0 {
                    return Err(std::io::Error::last_os_error());
                }
            } else if libc::dup2(theirs_fd, SUBJECT_FD) < 0 {
                return Err(std::io::Error::last_os_error());
            }
            // Die with us: the subject must never outlive its controller.
            if libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL) < 0 {
                return Err(std::io::Error::last_os_error());
            }
            Ok(())
        });
    }
    let child = cmd.spawn().context("starting the subject process")?;
    drop(theirs);
    Ok((child, ours))
}

impl Launch {
    /// Starts the subject for a planned launch. Nothing is done to the kernel yet.
    pub fn start(paths: Paths, session: Session, steps: Vec<Step>) -> Result<Launch> {
        let spawned = Spawned::start(&paths)?;
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
            .ok_or_else(|| anyhow!("the subject was adopted twice"))?;
        let pid = child.id() as i32;
        if let Some(id) = spawned.id
            && !session.state.subjects.contains(&id)
        {
            session.record(|s| s.subjects.push(id))?;
        }
        let sock = spawned
            .sock
            .take()
            .ok_or_else(|| anyhow!("the subject's socket was taken twice"))?;
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

    fn ask(&mut self, req: &Request) -> Result<Reply> {
        send(&mut self.sock, req)?;
        loop {
            let reply: Reply =
                recv(&mut self.sock)?.ok_or_else(|| anyhow!("the subject process died"))?;
            if !self.note_event(&reply) {
                return Ok(reply);
            }
        }
    }

    /// Keeps unasked messages; returns true when `reply` was one.
    fn note_event(&mut self, reply: &Reply) -> bool {
        match reply {
            Reply::Reaped { pid, code, signal } => {
                self.reaped.push((
                    *pid,
                    Exit {
                        code: *code,
                        signal: *signal,
                    },
                ));
                true
            }
            Reply::Exited { code, signal } => {
                self.exit = Some(Exit {
                    code: *code,
                    signal: *signal,
                });
                true
            }
            _ => false,
        }
    }

    /// Starts another process in the container as it stands (PID 1 forks it).
    /// Returns its pid inside.
    pub fn spawn(&mut self, spec: SpawnSpec) -> Result<(i32, Report), StepFailure> {
        let title = format!("spawn {}", spec.argv.join(" "));
        let fail = |report: Report, message: String| StepFailure {
            report: Box::new(report),
            message,
        };
        match self.ask(&Request::Spawn(spec)) {
            Ok(Reply::Started { report, pid }) => Ok((pid, report)),
            Ok(Reply::Done { report, .. }) => {
                let msg = failure_message(&title, &report, "");
                Err(fail(report, msg))
            }
            Ok(other) => Err(fail(
                Report::new(&title),
                format!("{title}: unexpected reply {other:?}"),
            )),
            Err(e) => Err(fail(Report::new(&title), format!("{title}: {e:#}"))),
        }
    }

    /// Starts a process inside on a new pseudo-terminal; returns its pid inside and the
    /// terminal's master end (read its output, write its input).
    pub fn spawn_pty(
        &mut self,
        mut spec: SpawnSpec,
        rows: u16,
        cols: u16,
    ) -> Result<(i32, OwnedFd, Report), StepFailure> {
        let title = format!("spawn {} on a terminal", spec.argv.join(" "));
        let fail = |report: Report, message: String| StepFailure {
            report: Box::new(report),
            message,
        };
        let ws = nix::pty::Winsize {
            ws_row: rows,
            ws_col: cols,
            ws_xpixel: 0,
            ws_ypixel: 0,
        };
        let pty = nix::pty::openpty(&ws, None)
            .map_err(|e| fail(Report::new(&title), format!("{title}: openpty: {e}")))?;
        spec.tty = true;
        let sent = send(&mut self.sock, &Request::Spawn(spec)).and_then(|()| {
            super::fdpass::send_fd(self.sock.as_raw_fd(), &pty.slave)
                .map_err(|e| anyhow!("sendmsg SCM_RIGHTS: {e}"))
        });
        if let Err(e) = sent {
            return Err(fail(Report::new(&title), format!("{title}: {e:#}")));
        }
        drop(pty.slave);
        let reply = loop {
            match recv::<Reply>(&mut self.sock) {
                Ok(Some(r)) if self.note_event(&r) => continue,
                Ok(Some(r)) => break r,
                Ok(None) => {
                    return Err(fail(Report::new(&title), "the subject process died".into()));
                }
                Err(e) => return Err(fail(Report::new(&title), format!("{e:#}"))),
            }
        };
        match reply {
            Reply::Started { report, pid } => Ok((pid, pty.master, report)),
            Reply::Done { report, .. } => {
                let msg = failure_message(&title, &report, "");
                Err(fail(report, msg))
            }
            other => Err(fail(
                Report::new(&title),
                format!("{title}: unexpected reply {other:?}"),
            )),
        }
    }

    /// Enters the running container from outside, as nsenter does: a new process of
    /// ours (`__enter`) setns()es into each of PID 1's namespaces, joins the cgroup,
    /// forks and execs `argv` on a new pseudo-terminal. Returns the process, the
    /// terminal's master end and the report of the calls it made.
    pub fn enter_pty(
        &mut self,
        argv: Vec<String>,
        env: Vec<(String, String)>,
        rows: u16,
        cols: u16,
    ) -> Result<(Child, OwnedFd, Report)> {
        let secure = self.steps[..self.next].iter().find_map(|s| match s {
            Step::Security { keep, deny } => Some((keep.clone(), deny.clone())),
            _ => None,
        });
        let args = super::enter::EnterArgs {
            target: self.subject,
            cgroups: self.cgroup.as_ref().map(Cgroup::dirs).unwrap_or_default(),
            secure,
            argv,
            env,
        };
        let ws = nix::pty::Winsize {
            ws_row: rows,
            ws_col: cols,
            ws_xpixel: 0,
            ws_ypixel: 0,
        };
        let pty = nix::pty::openpty(&ws, None).context("openpty")?;
        let (rd, wr) = nix::unistd::pipe2(nix::fcntl::OFlag::O_CLOEXEC).context("pipe2")?;
        let exe = subject_exe()?;
        let mut cmd = Command::new(format!("/proc/self/fd/{}", exe.as_raw_fd()));
        cmd.arg0("underhood-enter")
            .arg("__enter")
            .arg(serde_json::to_string(&args)?);
        let slave = pty.slave.as_raw_fd();
        let report_fd = wr.as_raw_fd();
        // SAFETY: between fork and exec only async-signal-safe calls on integers.
        unsafe {
            cmd.pre_exec(move || {
                // A session of its own with the pty as controlling terminal, the pty
                // as stdio, the report pipe as fd 3 (tty_ioctl(4), credentials(7)).
                if libc::setsid() < 0
                    || libc::ioctl(slave, libc::TIOCSCTTY, 0) < 0
                    || libc::dup2(slave, 0) < 0
                    || libc::dup2(slave, 1) < 0
                    || libc::dup2(slave, 2) < 0
                    || libc::dup2(report_fd, 3) < 0
                    || libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL) < 0
                {
                    return Err(std::io::Error::last_os_error());
                }
                Ok(())
            });
        }
        let child = cmd.spawn().context("starting underhood __enter")?;
        drop(pty.slave);
        drop(wr);
        let mut body = Vec::new();
        std::io::Read::read_to_end(&mut std::fs::File::from(rd), &mut body)
            .context("reading the enter report")?;
        let report: Report = serde_json::from_slice(&body).unwrap_or_else(|_| {
            let mut r = Report::new("enter the running container");
            r.note("the enter helper sent no report (see its terminal)");
            r
        });
        Ok((child, pty.master, report))
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
            other => bail!("unexpected reply to a run request: {other:?}"),
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
            let n = nix::poll::poll(&mut fds, nix::poll::PollTimeout::ZERO).context("poll")?;
            if n == 0 {
                return Ok(true);
            }
            match recv::<Reply>(&mut self.sock)? {
                Some(reply) => {
                    self.note_event(&reply);
                }
                None => return Ok(false),
            }
        }
    }

    /// Runs the next step; on failure the report names the failed call.
    pub fn step(&mut self) -> Result<Report, StepFailure> {
        let Some(step) = self.steps.get(self.next).cloned() else {
            return Err(StepFailure {
                report: Box::new(Report::new("none")),
                message: "no step left".into(),
            });
        };
        let (report, res) = if self.pipeline && can_pipeline(&step) {
            if self.next >= self.sent {
                self.send_ahead();
            }
            self.finish_sent(&step)
        } else {
            let mut report = Report::new(step.title());
            let started = Instant::now();
            let res = self.run_step(&step, &mut report);
            report.micros = started.elapsed().as_micros() as u64;
            (report, res)
        };
        match res {
            Ok(()) => {
                self.next += 1;
                Ok(report)
            }
            Err(e) => {
                let message = failure_message(
                    &format!("step '{}'", step.title()),
                    &report,
                    &format!("{e:#}"),
                );
                Err(StepFailure {
                    report: Box::new(report),
                    message,
                })
            }
        }
    }

    /// Pipelining: sends the steps from `next` on that can go ahead, doing the
    /// controller's parts on the way. The cgroup (the subject must be in it before
    /// CgroupNs and the PID fork) is made while the subject works on what was sent
    /// before it; the rootfs directories just before the rootfs step is sent. Stops at
    /// the first controller part that fails: the steps after it are never sent.
    fn send_ahead(&mut self) {
        let mut batch = Vec::new();
        let mut i = self.next;
        while let Some(step) = self.steps.get(i).cloned() {
            if !can_pipeline(&step) {
                break;
            }
            let mut report = Report::new(step.title());
            let started = Instant::now();
            let res = match &step {
                Step::Cgroup { limits } => {
                    self.send_batch(&mut batch);
                    self.cgroup_step(limits, &mut report)
                }
                Step::Rootfs(spec) => self.rootfs_dirs(i, spec, &mut report),
                _ => {
                    batch.push(step);
                    i += 1;
                    continue;
                }
            };
            report.micros = started.elapsed().as_micros() as u64;
            let failed = res.is_err();
            self.ahead.insert(i, (report, res));
            i += 1;
            if failed {
                break;
            }
            if let Step::Rootfs(_) = step {
                batch.push(step);
            }
        }
        self.send_batch(&mut batch);
        self.sent = i;
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
        match done {
            Some(Err(e)) => return (report, Err(e)),
            Some(Ok(())) if matches!(step, Step::Cgroup { .. }) => return (report, Ok(())),
            _ => {}
        }
        let reply = loop {
            match recv::<Reply>(&mut self.sock) {
                Ok(Some(r)) if self.note_event(&r) => continue,
                Ok(Some(r)) => break Ok(r),
                Ok(None) => break Err(anyhow!("the subject process died")),
                Err(e) => break Err(e),
            }
        };
        let res = reply.and_then(|reply| {
            if let Some(r) = reply.report() {
                // The subject timed its own part: that is the step's time here, as the
                // replies of steps sent together arrive back to back.
                report.micros += r.micros;
                report.extend(r.clone());
            }
            if let Reply::Done { ok: false, .. } = reply {
                bail!("the subject reported a failure");
            }
            self.after_reply(step, reply)
        });
        (report, res)
    }

    /// What the controller does once the subject has done its part of a step.
    fn after_reply(&mut self, step: &Step, reply: Reply) -> Result<()> {
        match (step, reply) {
            (Step::Pid, Reply::Forked { pid, .. }) => {
                self.subject = pid;
                if let Some(id) = state::proc_id(&self.paths.proc_root, pid) {
                    self.session.record(|s| s.subjects.push(id))?;
                }
                Ok(())
            }
            (Step::Pid, other) => bail!("unexpected reply to the PID step: {other:?}"),
            (Step::Exec { .. }, Reply::Started { pid, .. }) => {
                self.command = Some(pid);
                Ok(())
            }
            (Step::Exec { .. }, other) => bail!("unexpected reply to the exec step: {other:?}"),
            _ => Ok(()),
        }
    }

    /// The rootfs step's part outside: the writable layer's directories (owned by
    /// root inside when a user namespace planned before step `index` maps it).
    fn rootfs_dirs(&self, index: usize, spec: &RootfsSpec, report: &mut Report) -> Result<()> {
        let owner = self.userns_root_owner(index);
        if let Some(gid) = owner {
            // The session directory is 0700: let root inside (this gid outside) through
            // to its layers, and no one else.
            let res = state::let_group_enter(&self.session.dir, gid);
            report.io("chown", format!("{:?}, -1, {gid}", self.session.dir), res)?;
            report.shell(format!(
                "chgrp {gid} {0} && chmod 0710 {0}",
                self.session.dir.display()
            ));
        }
        for dir in [&spec.upper, &spec.work, &spec.merged] {
            let res = std::fs::create_dir_all(dir);
            report.io("mkdir", format!("{dir:?}"), res)?;
            if let Some(uid) = owner {
                // Root inside a user namespace is this uid outside: it must own
                // its writable layer.
                let res = std::os::unix::fs::chown(dir, Some(uid), Some(uid));
                report.io("chown", format!("{dir:?}, {uid}, {uid}"), res)?;
            }
        }
        Ok(())
    }

    fn subject_part(&mut self, step: &Step, report: &mut Report) -> Result<Reply> {
        self.ask_into(
            &Request::Step(step.clone()),
            report,
            "the subject reported a failure",
        )
    }

    /// Asks, appends the subject's report to `report`, and fails when it says so.
    fn ask_into(&mut self, req: &Request, report: &mut Report, failure: &str) -> Result<Reply> {
        let reply = self.ask(req)?;
        if let Some(r) = reply.report() {
            report.extend(r.clone());
        }
        if let Reply::Done { ok: false, .. } = reply {
            bail!("{failure}");
        }
        Ok(reply)
    }

    fn run_step(&mut self, step: &Step, report: &mut Report) -> Result<()> {
        match step {
            Step::User { uid, gid } => {
                self.subject_part(step, report)?;
                self.write_id_maps(*uid, *gid, report)?;
                let can_setgroups = nix::unistd::geteuid().is_root();
                self.ask_into(
                    &Request::BecomeRoot { can_setgroups },
                    report,
                    "becoming root in the user namespace failed",
                )
                .map(drop)
            }
            Step::Net { veth: Some(v) } => {
                self.subject_part(step, report)?;
                self.add_veth(v, report)?;
                self.ask_into(
                    &Request::ConfigureVeth(v.clone()),
                    report,
                    "configuring eth0 inside failed",
                )
                .map(drop)
            }
            Step::Cgroup { limits } => self.cgroup_step(limits, report),
            Step::Rootfs(spec) => {
                self.rootfs_dirs(self.next, spec, report)?;
                self.subject_part(step, report).map(drop)
            }
            Step::Pid | Step::Exec { .. } => {
                let reply = self.subject_part(step, report)?;
                self.after_reply(step, reply)
            }
            _ => self.subject_part(step, report).map(drop),
        }
    }

    /// The host uid that owns files made by root inside, when a user namespace among
    /// the steps before `index` maps root to someone else and we are root outside.
    fn userns_root_owner(&self, index: usize) -> Option<u32> {
        if !nix::unistd::geteuid().is_root() {
            return None;
        }
        self.steps[..index].iter().find_map(|s| match s {
            Step::User { uid, .. } => Some(uid.outside),
            _ => None,
        })
    }

    /// user_namespaces(7): the maps are written once, by a process with the right
    /// capabilities in the parent namespace, i.e. from outside. An unprivileged
    /// writer must first deny setgroups(2) before it may write gid_map.
    fn write_id_maps(&mut self, uid: IdMap, gid: IdMap, report: &mut Report) -> Result<()> {
        let dir = self.paths.proc_root.join(self.subject.to_string());
        let write = |report: &mut Report, file: &str, content: String| -> Result<()> {
            let path = dir.join(file);
            let res = std::fs::write(&path, &content);
            report.io("write", format!("{path:?}, {content:?}"), res)?;
            report.shell(format!(
                "echo '{}' > {}",
                content.trim_end(),
                path.display()
            ));
            Ok(())
        };
        if !nix::unistd::geteuid().is_root() {
            write(report, "setgroups", "deny".into())?;
        }
        write(
            report,
            "uid_map",
            format!("{} {} {}\n", uid.inside, uid.outside, uid.count),
        )?;
        write(
            report,
            "gid_map",
            format!("{} {} {}\n", gid.inside, gid.outside, gid.count),
        )?;
        report.note(format!(
            "uid {} inside is uid {} on the host",
            uid.inside, uid.outside
        ));
        Ok(())
    }

    fn add_veth(&mut self, v: &Veth, report: &mut Report) -> Result<()> {
        self.session.record(|s| s.veths.push(v.host_name.clone()))?;
        let pid = self.subject.to_string();
        let host_cidr = format!("{}/{}", v.host_addr, v.prefix);
        let cmds: [Vec<&str>; 3] = [
            vec![
                "link",
                "add",
                &v.host_name,
                "type",
                "veth",
                "peer",
                "name",
                &v.peer_name,
                "netns",
                &pid,
            ],
            vec!["addr", "add", &host_cidr, "dev", &v.host_name],
            vec!["link", "set", &v.host_name, "up"],
        ];
        for args in cmds {
            let shown = format!("ip {}", args.join(" "));
            // netlink by way of iproute2: creating a veth has no ioctl.
            let out = Command::new("ip").args(&args).output();
            let res = match out {
                Ok(o) if o.status.success() => Ok(()),
                Ok(o) => Err(std::io::Error::other(
                    String::from_utf8_lossy(&o.stderr).trim().to_string(),
                )),
                Err(e) => Err(e),
            };
            report.shell(shown.clone());
            report
                .io("netlink", shown, res)
                .context("creating the veth pair (is iproute2 installed?)")?;
        }
        Ok(())
    }

    fn cgroup_step(&mut self, limits: &LimitSpec, report: &mut Report) -> Result<()> {
        if self.cgroup_host.is_none() {
            self.cgroup_host = Some(cgroup::Host::detect(&self.paths)?);
        }
        let host = self
            .cgroup_host
            .as_ref()
            .ok_or_else(|| anyhow!("no cgroup host"))?;
        let name = self.session.name();
        let l = Limits {
            memory: limits.memory,
            pids: limits.pids,
            cpus: limits.cpus,
        };
        // One record before any mkdir: the name, and every directory that may be made
        // (cleanup after a crash treats one not made as already gone).
        let planned = Cgroup::plan_for(host, &name, &self.cgroup_scope.controllers(&l))
            .map(|c| c.dirs())
            .unwrap_or_default();
        self.session.record(|s| {
            s.cgroup_name = Some(name.clone());
            s.cgroups = planned;
        })?;
        let cg = Cgroup::create_in(host, &name, &l, self.cgroup_scope, report)?;
        let res = cg.add_pid(self.subject, report);
        self.cgroup = Some(cg);
        res
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
                self.note_event(&r);
                Ok(None)
            }
            Some(other) => bail!("unexpected message from the subject: {other:?}"),
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
        for id in self.session.state.subjects.clone().iter().rev() {
            if state::is_alive(&self.paths.proc_root, *id) {
                let res = kill(Pid::from_raw(id.pid), Signal::SIGKILL);
                let _ = report.call("kill", format!("{}, SIGKILL", id.pid), res);
            }
        }
        if let Some(mut child) = self.first.take() {
            let _ = child.wait();
        }
        self.wait_gone(Duration::from_secs(2));
        if let Some(Err(e)) = self.cgroup.take().map(|cg| cg.remove(&mut report)) {
            errors.push(format!("{e:#}"));
        }
        for veth in self.session.state.veths.clone() {
            if let Err(e) = delete_veth(&self.paths, &veth, &mut report) {
                errors.push(format!("{e:#}"));
            }
        }
        if let Err(e) = self.session.remove_dir() {
            errors.push(format!("{e:#}"));
        }
        report.micros = started.elapsed().as_micros() as u64;
        if errors.is_empty() {
            Ok(report)
        } else {
            bail!("cleanup was incomplete: {}", errors.join("; "))
        }
    }

    /// Waits until no recorded subject process is left, reaping the ones re-parented
    /// to us (we are a subreaper).
    fn wait_gone(&self, limit: Duration) {
        let start = Instant::now();
        while start.elapsed() < limit {
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
                .any(|id| state::is_alive(&self.paths.proc_root, *id));
            if !alive {
                return;
            }
            std::thread::sleep(Duration::from_millis(2));
        }
    }
}

impl Drop for Launch {
    fn drop(&mut self) {
        if let Err(e) = self.teardown() {
            eprintln!("underhood: {e:#}");
        }
    }
}

/// Deletes a host-side veth of ours if it still exists (it usually vanishes with the
/// container's network namespace).
pub fn delete_veth(paths: &Paths, name: &str, report: &mut Report) -> Result<()> {
    if !name.starts_with("uh") {
        bail!("refusing to delete link {name:?}: not one of ours");
    }
    let _ = paths;
    let gone = || !Path::new("/sys/class/net").join(name).exists();
    if gone() {
        return Ok(());
    }
    let out = Command::new("ip").args(["link", "del", name]).output();
    let res = match out {
        Ok(o) if o.status.success() => Ok(()),
        // The kernel deletes the pair itself when the container's network namespace
        // goes away, which may happen between our check and `ip link del`.
        Ok(_) if gone() => return Ok(()),
        Ok(o) => Err(std::io::Error::other(
            String::from_utf8_lossy(&o.stderr).trim().to_string(),
        )),
        Err(e) => Err(e),
    };
    report.shell(format!("ip link del {name}"));
    report
        .io("netlink", format!("ip link del {name}"), res)
        .with_context(|| format!("deleting veth {name}"))?;
    Ok(())
}
