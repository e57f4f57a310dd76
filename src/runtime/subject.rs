//! The subject: the single-threaded helper process that becomes the container.
//!
//! Several namespace operations fail with EINVAL in a multi-threaded process
//! (unshare(CLONE_NEWUSER), setns into a mount namespace: see unshare(2), setns(2)),
//! and the controller (a TUI) has threads. So the controller re-executes our binary
//! as `underhood __subject`, which obeys one typed request at a time on fd 3 and
//! answers each with a report. After the PID step its child, PID 1 inside, carries
//! on as the subject; after the exec step PID 1 stays as a tiny init that reaps
//! orphans and forwards signals to the command (pid_namespaces(7): PID 1 gets no
//! signal it has no handler for, so someone must pass them on).

use std::ffi::CString;
use std::io::Read;
use std::os::fd::{AsFd, FromRawFd, OwnedFd};
use std::os::unix::net::UnixStream;
use std::path::Path;

use anyhow::{Context, Result};
use nix::errno::Errno;
use nix::poll::{PollFd, PollFlags, PollTimeout, poll};
use nix::sys::signal::{SigSet, SigmaskHow, Signal, kill};
use nix::sys::signalfd::{SfdFlags, SignalFd};
use nix::sys::wait::{WaitPidFlag, WaitStatus, waitpid};
use nix::unistd::{ForkResult, Pid, fork, getpid, getppid};

use super::inside;
use super::protocol::{Reply, Request, SUBJECT_FD, SpawnSpec, recv, send};
use super::report::Report;
use super::security;
use super::step::Step;
use super::sys::Linux;

/// Signals PID 1 passes on to the command.
const FORWARDED: [Signal; 6] = [
    Signal::SIGTERM,
    Signal::SIGINT,
    Signal::SIGHUP,
    Signal::SIGQUIT,
    Signal::SIGUSR1,
    Signal::SIGUSR2,
];

struct Subject {
    sock: UnixStream,
    signals: SignalFd,
    command: Option<Pid>,
    /// Processes started with `Request::Spawn`, reported when reaped.
    spawned: Vec<Pid>,
    /// Our own executable (the controller's sealed memfd), for `own_tool` spawns.
    exe: Option<OwnedFd>,
    in_userns: bool,
    /// Started by the host's root: after the security step PID 1 makes itself
    /// non-dumpable (see `Subject::step`).
    host_root: bool,
    /// A batched step failed: later batches are refused, never run.
    broken: bool,
    /// The exec step replaces us with the command (`Request::NoInit`).
    no_init: bool,
}

/// Entry point of `underhood __subject CONTROLLER_PID`. Never returns.
pub fn main(controller: i32) -> ! {
    match run(controller) {
        Ok(()) => std::process::exit(0),
        Err(e) => {
            eprintln!("underhood subject: {e:#}");
            std::process::exit(1)
        }
    }
}

fn signal_set() -> SigSet {
    let mut set = SigSet::empty();
    set.add(Signal::SIGCHLD);
    for s in FORWARDED {
        set.add(s);
    }
    set
}

fn run(controller: i32) -> Result<()> {
    // The controller set PR_SET_PDEATHSIG before exec; it fires when the parent
    // *thread* dies and races with the parent's exit, so check the parent now.
    if getppid().as_raw() != controller {
        anyhow::bail!("controller {controller} is gone");
    }
    // Whatever the caller of the controller left open and not close-on-exec came
    // along through its exec of us (`exec 7</some/dir; underhood run ...`): a door to
    // the host's files, usable from inside through /proc/self/fd/7. We opened nothing
    // yet, so everything above our control socket is such a leftover.
    security::close_inherited_fds(SUBJECT_FD as u32 + 1)
        .context("closing the descriptors inherited from the caller")?;
    // A session of our own, without a controlling terminal (setsid(2),
    // credentials(7)): no process of the container may share the caller's terminal,
    // where TIOCSTI would type into the caller's shell and /dev/tty would open it.
    if nix::unistd::getsid(None).context("getsid")? != getpid() {
        nix::unistd::setsid().context("setsid: leaving the caller's session")?;
    }
    // SAFETY: fd 3 was placed by the controller for us and nothing else owns it.
    let fd = unsafe { OwnedFd::from_raw_fd(SUBJECT_FD) };
    nix::fcntl::fcntl(
        &fd,
        nix::fcntl::FcntlArg::F_SETFD(nix::fcntl::FdFlag::FD_CLOEXEC),
    )
    .context("marking the control socket close-on-exec")?;
    let _ = nix::sys::prctl::set_name(c"underhood-init");
    let set = signal_set();
    set.thread_block().context("blocking signals")?;
    let signals = SignalFd::with_flags(&set, SfdFlags::SFD_NONBLOCK | SfdFlags::SFD_CLOEXEC)
        .context("signalfd")?;
    let exe = nix::fcntl::open(
        c"/proc/self/exe",
        nix::fcntl::OFlag::O_RDONLY | nix::fcntl::OFlag::O_CLOEXEC,
        nix::sys::stat::Mode::empty(),
    )
    .ok();
    let mut s = Subject {
        sock: UnixStream::from(fd),
        signals,
        command: None,
        spawned: Vec::new(),
        exe,
        in_userns: false,
        host_root: nix::unistd::geteuid().is_root(),
        broken: false,
        no_init: false,
    };
    s.serve()
}

impl Subject {
    fn serve(&mut self) -> Result<()> {
        loop {
            let (sock_ready, sig_ready) = {
                let mut fds = [
                    PollFd::new(self.sock.as_fd(), PollFlags::POLLIN),
                    PollFd::new(self.signals.as_fd(), PollFlags::POLLIN),
                ];
                match poll(&mut fds, PollTimeout::NONE) {
                    Err(Errno::EINTR) => continue,
                    r => r.context("poll")?,
                };
                let ready = |f: &PollFd| f.revents().is_some_and(|r| !r.is_empty());
                (ready(&fds[0]), ready(&fds[1]))
            };
            if sig_ready && self.on_signals()? {
                return Ok(());
            }
            if sock_ready {
                let req: Option<Request> = recv(&mut self.sock)?;
                match req {
                    // The controller is gone: as PID 1 our exit takes the container down.
                    None => return Ok(()),
                    Some(req) => self.handle(req)?,
                }
            }
        }
    }

    fn reply(&mut self, reply: &Reply) -> Result<()> {
        send(&mut self.sock, reply)
    }

    /// Does one step and replies; returns whether it succeeded.
    fn step(&mut self, step: Step) -> Result<bool> {
        match step {
            Step::Pid => self.pid_step(),
            Step::Exec { argv, env } => self.exec_step(&argv, &env),
            step => {
                let started = std::time::Instant::now();
                let mut r = Report::new(step.title());
                let mut ok = inside::perform(&mut Linux, &mut r, &step, self.in_userns).is_ok();
                if ok && matches!(step, Step::User { .. }) {
                    self.in_userns = true;
                }
                if ok && self.host_root && matches!(step, Step::Security { .. }) {
                    ok = undumpable(&mut r).is_ok();
                }
                r.micros = started.elapsed().as_micros() as u64;
                self.reply(&Reply::Done { report: r, ok })?;
                Ok(ok)
            }
        }
    }

    fn handle(&mut self, req: Request) -> Result<()> {
        match req {
            Request::Step(step) => self.step(step).map(drop),
            Request::Batch(steps) => {
                // After a failure the rest was sent before the controller knew: doing it
                // would build on a step that did not happen (a mount outside the new
                // mount namespace, say). Its replies are not awaited.
                for step in steps {
                    if self.broken {
                        break;
                    }
                    if !self.step(step)? {
                        self.broken = true;
                    }
                }
                Ok(())
            }
            Request::ConfigureVeth(veth) => {
                let mut r = Report::new("veth (inside)");
                let ok = inside::configure_veth(&mut Linux, &mut r, &veth).is_ok();
                self.reply(&Reply::Done { report: r, ok })
            }
            Request::Run { spec, timeout_ms } => {
                let exe = if spec.own_tool {
                    self.exe.as_ref()
                } else {
                    None
                };
                let reply = run_captured(&spec, exe, timeout_ms);
                self.reply(&reply)
            }
            Request::NoInit => {
                self.no_init = true;
                Ok(())
            }
            Request::BecomeRoot { can_setgroups } => {
                let mut r = Report::new("user namespace (ids)");
                let ok = inside::become_root(&mut Linux, &mut r, can_setgroups).is_ok();
                self.reply(&Reply::Done { report: r, ok })
            }
            Request::Spawn(spec) => {
                let mut r = Report::new(format!("spawn {}", spec.argv.join(" ")));
                let tty = if spec.tty {
                    let res = super::fdpass::recv_fd(std::os::fd::AsRawFd::as_raw_fd(&self.sock));
                    match r.call("recvmsg", "SCM_RIGHTS (the terminal)", res) {
                        Ok(fd) => Some(fd),
                        Err(_) => {
                            return self.reply(&Reply::Done {
                                report: r,
                                ok: false,
                            });
                        }
                    }
                } else {
                    None
                };
                let exe = if spec.own_tool {
                    self.exe.as_ref()
                } else {
                    None
                };
                match spawn(&spec, exe, tty.as_ref(), &mut r) {
                    Ok(pid) => {
                        self.spawned.push(pid);
                        self.reply(&Reply::Started {
                            report: r,
                            pid: pid.as_raw(),
                        })
                    }
                    Err(_) => self.reply(&Reply::Done {
                        report: r,
                        ok: false,
                    }),
                }
            }
        }
    }

    /// unshare(CLONE_NEWPID) applies to children only (pid_namespaces(7)), so fork at
    /// once: the child is PID 1 and becomes the subject; the parent stays behind as a
    /// shim that waits for it and exits with its status.
    fn pid_step(&mut self) -> Result<bool> {
        let started = std::time::Instant::now();
        let mut r = Report::new(Step::Pid.title());
        let res = nix::sched::unshare(nix::sched::CloneFlags::CLONE_NEWPID);
        if r.call("unshare", "CLONE_NEWPID", res).is_err() {
            self.reply(&Reply::Done {
                report: r,
                ok: false,
            })?;
            return Ok(false);
        }
        let parent = getpid();
        // The parent answers Forked (only it knows the child's host pid); the child
        // waits until that answer is on the socket before it goes on, or its own reply to
        // a step sent ahead (Request::Batch) could overtake it. The parent closing its
        // end of this pipe (or dying) is the go-ahead: read(2) then returns 0.
        let (go_rd, go_wr) = match nix::unistd::pipe2(nix::fcntl::OFlag::O_CLOEXEC) {
            Ok(p) => p,
            Err(e) => {
                let _ = r.call::<()>("pipe2", "O_CLOEXEC", Err(e));
                self.reply(&Reply::Done {
                    report: r,
                    ok: false,
                })?;
                return Ok(false);
            }
        };
        // SAFETY: the subject is single-threaded, so the child may run any code.
        match unsafe { fork() } {
            Err(e) => {
                let _ = r.call::<()>("fork", "", Err(e));
                self.reply(&Reply::Done {
                    report: r,
                    ok: false,
                })?;
                Ok(false)
            }
            Ok(ForkResult::Parent { child }) => {
                let _ = r.call("fork", "", Ok(child.as_raw()));
                r.shell("unshare --pid --fork");
                r.note(format!(
                    "the child is PID 1 in the new namespace and {} on the host",
                    child
                ));
                r.micros = started.elapsed().as_micros() as u64;
                drop(go_rd);
                self.reply(&Reply::Forked {
                    report: r,
                    pid: child.as_raw(),
                })?;
                drop(go_wr);
                // The shim must not hold the control socket: the controller sees the
                // container end when PID 1's copy closes.
                // SAFETY: shim() never returns, so the UnixStream is never used or
                // closed again after this.
                unsafe { libc::close(std::os::fd::AsRawFd::as_raw_fd(&self.sock)) };
                let _ = nix::sys::prctl::set_name(c"underhood-shim");
                shim(child)
            }
            Ok(ForkResult::Child) => {
                // Die with the shim, and so with the controller. The usual getppid()
                // re-check cannot work here: the parent lives outside our new PID
                // namespace, so getppid() is 0 whether it lives or not. The control
                // socket covers that race instead: if the controller is gone, the
                // next read returns end-of-file and we exit.
                nix::sys::prctl::set_pdeathsig(Signal::SIGKILL).context("PR_SET_PDEATHSIG")?;
                let _ = parent;
                drop(go_wr);
                let mut byte = [0u8; 1];
                while let Err(Errno::EINTR) = nix::unistd::read(&go_rd, &mut byte) {}
                Ok(true)
            }
        }
    }

    fn exec_step(&mut self, argv: &[String], env: &[(String, String)]) -> Result<bool> {
        if self.no_init {
            return self.exec_in_place(argv, env);
        }
        let started = std::time::Instant::now();
        let mut r = Report::new(format!("exec {}", argv.join(" ")));
        let spec = SpawnSpec {
            argv: argv.to_vec(),
            env: env.to_vec(),
            inherit_stdio: true,
            tty: false,
            own_tool: false,
        };
        match spawn(&spec, None, None, &mut r) {
            Ok(pid) => {
                self.command = Some(pid);
                r.shell(format!("exec {}", argv.join(" ")));
                r.micros = started.elapsed().as_micros() as u64;
                self.reply(&Reply::Started {
                    report: r,
                    pid: pid.as_raw(),
                })?;
                Ok(true)
            }
            Err(_) => {
                self.reply(&Reply::Done {
                    report: r,
                    ok: false,
                })?;
                Ok(false)
            }
        }
    }

    /// The exec step without an init: execve(2) the command in this process, so that it
    /// is PID 1 itself (after the PID step). The kernel then drops every signal sent to
    /// it, from inside its namespace or from the host, that it has no handler for,
    /// SIGKILL and SIGSTOP from an ancestor namespace excepted (pid_namespaces(7)): the
    /// `docker stop` problem an init solves. The reply goes first; the socket and the
    /// signalfd are O_CLOEXEC, so the controller sees the socket close at the execve.
    fn exec_in_place(&mut self, argv: &[String], env: &[(String, String)]) -> Result<bool> {
        let mut r = Report::new(format!("exec {} (as PID 1, no init)", argv.join(" ")));
        let Some(path) = argv.first().and_then(|a| resolve(a, env)) else {
            let _ = r.call::<()>(
                "execve",
                format!("{:?} (not found in the container's PATH)", argv.first()),
                Err(Errno::ENOENT),
            );
            self.reply(&Reply::Done {
                report: r,
                ok: false,
            })?;
            return Ok(false);
        };
        let args: Vec<CString> = argv
            .iter()
            .map(|a| CString::new(a.as_str()).unwrap_or_default())
            .collect();
        let envs: Vec<CString> = env
            .iter()
            .map(|(k, v)| CString::new(format!("{k}={v}")).unwrap_or_default())
            .collect();
        r.shell(format!("exec {}", argv.join(" ")));
        let _ = r.call("execve", format!("{path:?}, [{}]", argv.join(", ")), Ok(()));
        self.reply(&Reply::Started {
            report: r,
            pid: nix::unistd::getpid().as_raw(),
        })?;
        // What spawn() gives a forked command: no blocked signals, SIGPIPE as default.
        let _ =
            nix::sys::signal::sigprocmask(SigmaskHow::SIG_SETMASK, Some(&SigSet::empty()), None);
        // SAFETY: resetting a disposition to SIG_DFL is always sound.
        unsafe {
            let _ = nix::sys::signal::signal(Signal::SIGPIPE, nix::sys::signal::SigHandler::SigDfl);
        }
        let err = nix::unistd::execve(&path, &args, &envs).unwrap_err();
        // The controller already heard "started": all we can do is say why and die.
        eprintln!("underhood: execve {path:?}: {err}");
        std::process::exit(127)
    }

    /// Returns true when the subject should exit.
    fn on_signals(&mut self) -> Result<bool> {
        let mut child_changed = false;
        let mut stop = false;
        while let Some(info) = self.signals.read_signal().context("reading signalfd")? {
            let Ok(sig) = Signal::try_from(info.ssi_signo as i32) else {
                continue;
            };
            if sig == Signal::SIGCHLD {
                child_changed = true;
            } else if let Some(cmd) = self.command {
                let _ = kill(cmd, sig);
            } else if matches!(sig, Signal::SIGTERM | Signal::SIGINT | Signal::SIGHUP) {
                stop = true;
            }
        }
        if child_changed {
            // Reap every child: orphans re-parented to PID 1 included.
            loop {
                let (pid, code, signal) = match waitpid(None, Some(WaitPidFlag::WNOHANG)) {
                    Ok(WaitStatus::Exited(pid, code)) => (pid, Some(code), None),
                    Ok(WaitStatus::Signaled(pid, sig, _)) => (pid, None, Some(sig as i32)),
                    Ok(WaitStatus::StillAlive) | Err(Errno::ECHILD) => break,
                    Ok(_) | Err(Errno::EINTR) => continue,
                    Err(e) => return Err(e).context("waitpid"),
                };
                if Some(pid) == self.command {
                    self.reply(&Reply::Exited { code, signal })?;
                    return Ok(true);
                }
                if let Some(i) = self.spawned.iter().position(|p| *p == pid) {
                    self.spawned.swap_remove(i);
                    self.reply(&Reply::Reaped {
                        pid: pid.as_raw(),
                        code,
                        signal,
                    })?;
                }
            }
        }
        Ok(stop)
    }
}

/// PID 1 holds the control socket to the controller on the host and runs as the same
/// user as the container's processes, so without this they could ptrace(2) it (and
/// read /proc/1/mem, /proc/1/fd): take it over, or leave it stopped so that `run`
/// waits forever. A non-dumpable process may be traced only with CAP_SYS_PTRACE in
/// the user namespace its memory belongs to (ptrace(2), "Ptrace access mode
/// checking"; prctl(2) PR_SET_DUMPABLE): ours was made by the host's exec of us, so
/// that is the host's, where only the host's root has it. The command keeps its own
/// flag: execve(2) makes it dumpable again. Only when we were started by root: a
/// rootless controller (same user, no capability on the host) could then no longer
/// read /proc/<pid>/ns of its own container either.
fn undumpable(r: &mut Report) -> nix::Result<()> {
    let res = nix::sys::prctl::set_dumpable(false);
    r.call("prctl", "PR_SET_DUMPABLE, 0", res)?;
    r.note("PID 1 is not dumpable: the container's processes cannot ptrace it or read its /proc/1/mem and /proc/1/fd");
    Ok(())
}

/// Runs a command with its output in a pipe, waits at most `timeout_ms`, and returns
/// what it printed (for lesson checks: short commands only).
fn run_captured(spec: &SpawnSpec, exe: Option<&OwnedFd>, timeout_ms: u64) -> Reply {
    const LIMIT: usize = 64 << 10;
    let failed = |output: String| Reply::Ran {
        code: None,
        signal: None,
        output,
        timed_out: false,
    };
    let Ok((rd, wr)) = nix::unistd::pipe2(nix::fcntl::OFlag::O_CLOEXEC) else {
        return failed("pipe2 failed".into());
    };
    let mut r = Report::new("run");
    let pid = match spawn(spec, exe, Some(&wr), &mut r) {
        Ok(pid) => pid,
        Err(e) => return failed(format!("{}: {}", spec.argv.join(" "), e.desc())),
    };
    drop(wr);
    let deadline = std::time::Instant::now() + std::time::Duration::from_millis(timeout_ms);
    let mut out = Vec::new();
    let mut file = std::fs::File::from(rd);
    let mut timed_out = false;
    loop {
        let left = deadline.saturating_duration_since(std::time::Instant::now());
        if left.is_zero() {
            timed_out = true;
            break;
        }
        let mut fds = [PollFd::new(file.as_fd(), PollFlags::POLLIN)];
        let ms = u16::try_from(left.as_millis()).unwrap_or(u16::MAX);
        match poll(&mut fds, PollTimeout::from(ms)) {
            Ok(0) => continue,
            Ok(_) => {}
            Err(Errno::EINTR) => continue,
            Err(_) => break,
        }
        let mut buf = [0u8; 4096];
        match file.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => {
                if out.len() < LIMIT {
                    out.extend_from_slice(&buf[..n.min(LIMIT - out.len())]);
                }
            }
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
            Err(_) => break,
        }
    }
    if timed_out {
        let _ = kill(pid, Signal::SIGKILL);
    }
    let (code, signal) = loop {
        match waitpid(pid, None) {
            Ok(WaitStatus::Exited(_, c)) => break (Some(c), None),
            Ok(WaitStatus::Signaled(_, s, _)) => break (None, Some(s as i32)),
            Err(Errno::EINTR) | Ok(_) => continue,
            Err(_) => break (None, None),
        }
    };
    Reply::Ran {
        code,
        signal,
        output: String::from_utf8_lossy(&out).into_owned(),
        timed_out,
    }
}

/// The old subject after the PID fork: wait for PID 1 and exit the way it did.
fn shim(child: Pid) -> ! {
    loop {
        match waitpid(child, None) {
            Ok(WaitStatus::Exited(_, code)) => std::process::exit(code),
            Ok(WaitStatus::Signaled(_, sig, _)) => std::process::exit(128 + sig as i32),
            Err(Errno::EINTR) | Ok(_) => continue,
            Err(_) => std::process::exit(1),
        }
    }
}

/// Finds `name` the way execvp(3) does, but in the container's PATH rather than ours.
fn resolve(name: &str, env: &[(String, String)]) -> Option<CString> {
    if name.contains('/') {
        return CString::new(name).ok();
    }
    let path = env
        .iter()
        .find(|(k, _)| k == "PATH")
        .map(|(_, v)| v.as_str())
        .unwrap_or("/usr/local/bin:/usr/bin:/bin");
    for dir in path.split(':').filter(|d| !d.is_empty()) {
        let candidate = Path::new(dir).join(name);
        if nix::unistd::access(&candidate, nix::unistd::AccessFlags::X_OK).is_ok() {
            return CString::new(candidate.as_os_str().as_encoded_bytes()).ok();
        }
    }
    None
}

/// fork + execve with a close-on-exec pipe that carries execve's errno back, so a
/// missing program is reported as ENOENT instead of a mysterious exit 127.
/// With `exe`, our own binary is run through fexecve(3) instead of a path lookup.
/// With `output`, the child's stdout and stderr go there and its stdin is /dev/null.
fn spawn(
    spec: &SpawnSpec,
    exe: Option<&OwnedFd>,
    output: Option<&OwnedFd>,
    r: &mut Report,
) -> Result<Pid, Errno> {
    let argv = &spec.argv;
    let env = &spec.env;
    let Some(first) = argv.first() else {
        return r.call("execve", "no command", Err(Errno::EINVAL));
    };
    let path = match exe {
        Some(_) => None,
        None => match resolve(first, env) {
            Some(p) => Some(p),
            None => {
                return r.call(
                    "execve",
                    format!("{first:?} (not found in the container's PATH)"),
                    Err(Errno::ENOENT),
                );
            }
        },
    };
    let args: Vec<CString> = argv
        .iter()
        .map(|a| CString::new(a.as_str()).unwrap_or_default())
        .collect();
    let envs: Vec<CString> = env
        .iter()
        .map(|(k, v)| CString::new(format!("{k}={v}")).unwrap_or_default())
        .collect();
    let null = if spec.inherit_stdio && output.is_none() {
        None
    } else {
        let fd = nix::fcntl::open(
            c"/dev/null",
            nix::fcntl::OFlag::O_RDWR | nix::fcntl::OFlag::O_CLOEXEC,
            nix::sys::stat::Mode::empty(),
        );
        let shown = fd
            .as_ref()
            .map(std::os::fd::AsRawFd::as_raw_fd)
            .map_err(|e| *e);
        r.call("open", "\"/dev/null\", O_RDWR", shown)?;
        fd.ok()
    };
    let (rd, wr) = nix::unistd::pipe2(nix::fcntl::OFlag::O_CLOEXEC)
        .map_err(|e| r.call::<()>("pipe2", "O_CLOEXEC", Err(e)).unwrap_err())?;
    // SAFETY: single-threaded process; the child only calls async-signal-safe functions
    // (sigprocmask, signal, dup2, execve, write, _exit) on data prepared before the fork.
    match unsafe { fork() } {
        Err(e) => r.call("fork", "", Err(e)),
        Ok(ForkResult::Child) => {
            drop(rd);
            let _ = nix::sys::signal::sigprocmask(
                SigmaskHow::SIG_SETMASK,
                Some(&SigSet::empty()),
                None,
            );
            // Die with PID 1: without a PID namespace of its own nothing else would
            // take the command down with the container (prctl(2) PR_SET_PDEATHSIG).
            // SAFETY: prctl is async-signal-safe.
            unsafe { libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL) };
            // Rust ignores SIGPIPE at start-up; the command expects the default.
            // SAFETY: resetting a disposition to SIG_DFL is always sound.
            unsafe {
                let _ =
                    nix::sys::signal::signal(Signal::SIGPIPE, nix::sys::signal::SigHandler::SigDfl);
            }
            if spec.inherit_stdio && output.is_none() {
                // The container's command: a session of its own (setsid(2)). When
                // `run` gave it a terminal of its own (the caller's stdin was one), it
                // becomes the controlling terminal; the caller's own terminal cannot
                // (TIOCSCTTY fails with EPERM on a terminal another session has,
                // tty_ioctl(4)), and then the command has none.
                // SAFETY: plain syscalls on this child's own descriptors.
                unsafe {
                    libc::setsid();
                    if libc::isatty(0) == 1 {
                        libc::ioctl(0, libc::TIOCSCTTY, 0);
                    }
                }
            }
            if let Some(null) = &null {
                for target in 0..3 {
                    // SAFETY: dup2 onto the standard descriptors of this child only.
                    unsafe { libc::dup2(std::os::fd::AsRawFd::as_raw_fd(null), target) };
                }
            }
            if let Some(out) = output {
                let fd = std::os::fd::AsRawFd::as_raw_fd(out);
                if spec.tty {
                    // A new session whose controlling terminal is the pty (credentials(7),
                    // tty_ioctl(4) TIOCSCTTY), so job control and Ctrl-C work in it.
                    // SAFETY: plain syscalls on this child's own descriptors.
                    unsafe {
                        libc::setsid();
                        libc::ioctl(fd, libc::TIOCSCTTY, 0);
                        libc::dup2(fd, 0);
                    }
                }
                for target in 1..3 {
                    // SAFETY: as above.
                    unsafe { libc::dup2(fd, target) };
                }
            }
            // Only stdin, stdout and stderr cross the exec: every other descriptor is
            // marked close-on-exec (close_range(2) CLOSE_RANGE_CLOEXEC; ours all are
            // already, this is for any that is not). Older kernels: EINVAL, ignored.
            // SAFETY: close_range only changes flags of this child's descriptors.
            unsafe {
                libc::syscall(
                    libc::SYS_close_range,
                    3u32,
                    u32::MAX,
                    libc::CLOSE_RANGE_CLOEXEC,
                )
            };
            let err = match (exe, &path) {
                (Some(fd), _) => nix::unistd::fexecve(fd, &args, &envs).unwrap_err(),
                (None, Some(p)) => nix::unistd::execve(p, &args, &envs).unwrap_err(),
                (None, None) => Errno::ENOENT,
            };
            let _ = nix::unistd::write(&wr, &(err as i32).to_le_bytes());
            // SAFETY: _exit is async-signal-safe and skips Rust's atexit work.
            unsafe { libc::_exit(127) }
        }
        Ok(ForkResult::Parent { child }) => {
            drop(wr);
            let mut buf = [0u8; 4];
            let mut f = std::fs::File::from(rd);
            let n = f.read(&mut buf).unwrap_or(0);
            let (call, shown) = match &path {
                Some(p) => ("execve", format!("{:?}, [{}]", p, argv.join(", "))),
                None => (
                    "fexecve",
                    format!("<our own binary>, [{}]", argv.join(", ")),
                ),
            };
            if n == 4 {
                let errno = Errno::from_raw(i32::from_le_bytes(buf));
                let _ = waitpid(child, None);
                return r.call(call, shown, Err(errno));
            }
            let _ = r.call("fork", "", Ok(child.as_raw()));
            r.call(call, shown, Ok(())).map(|()| child)
        }
    }
}
