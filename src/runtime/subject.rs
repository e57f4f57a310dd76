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

use std::os::fd::{AsFd, FromRawFd, OwnedFd};
use std::os::unix::net::UnixStream;

use nix::errno::Errno;
use nix::poll::{PollFd, PollFlags, PollTimeout, poll};
use nix::sys::signal::{SigSet, Signal, kill};
use nix::sys::signalfd::{SfdFlags, SignalFd};
use nix::sys::wait::{WaitPidFlag, WaitStatus, waitpid};
use nix::unistd::{Pid, getpid, getppid};

use super::console;
use super::launch_error::{Ctx, Error, Result};
use super::protocol::{Console, Reply, Request, SUBJECT_FD, recv, send};
use super::report::Report;
use super::security;
use super::spawn;
use super::step::Step;
use super::steps::{self, Inside, Outcome};
use super::sys::{Linux, Sys};

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
    /// The cgroup step's `tasks` files (`Request::JoinCgroup`).
    join_cgroup: Vec<std::path::PathBuf>,
    /// The terminal the next process started on one gets (`Request::Console`).
    console: Option<Console>,
    /// Successful steps answer without their calls (`Request::Quiet`).
    quiet: bool,
    /// The kernel, as the steps call it (a recording double in the tests).
    sys: Box<dyn Sys>,
}

/// Entry point of `underhood __subject CONTROLLER_PID`. Never returns.
pub fn main(controller: i32) -> ! {
    finish(run(controller, false))
}

/// Entry point of a subject forked from the controller (`start.rs`), with our binary's
/// read-only handle at fd 4. Never returns.
pub fn main_forked(controller: i32) -> ! {
    finish(run(controller, true))
}

fn finish(res: Result<()>) -> ! {
    match res {
        Ok(()) => std::process::exit(0),
        Err(e) => {
            eprintln!("underhood subject: {e}");
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

fn run(controller: i32, forked: bool) -> Result<()> {
    // The controller set PR_SET_PDEATHSIG before exec; it fires when the parent
    // *thread* dies and races with the parent's exit, so check the parent now.
    if getppid().as_raw() != controller {
        return Err(Error::Gone(format!("controller {controller} is gone")));
    }
    // Whatever the caller of the controller left open and not close-on-exec came
    // along through its exec of us (`exec 7</some/dir; underhood run ...`): a door to
    // the host's files, usable from inside through /proc/self/fd/7. We opened nothing
    // yet, so everything above our control socket is such a leftover. A forked subject
    // also has every descriptor of the controller: closed the same way, our binary's
    // handle at fd 4 kept.
    let first_free = SUBJECT_FD + 1 + i32::from(forked);
    security::close_inherited_fds(first_free as u32)
        .ctx(|| "closing the descriptors inherited from the caller")?;
    // A session of our own, without a controlling terminal (setsid(2),
    // credentials(7)): no process of the container may share the caller's terminal,
    // where TIOCSTI would type into the caller's shell and /dev/tty would open it.
    if nix::unistd::getsid(None).ctx(|| "getsid")? != getpid() {
        nix::unistd::setsid().ctx(|| "setsid: leaving the caller's session")?;
    }
    // SAFETY: fd 3 was placed by the controller for us and nothing else owns it.
    let fd = unsafe { OwnedFd::from_raw_fd(SUBJECT_FD) };
    nix::fcntl::fcntl(
        &fd,
        nix::fcntl::FcntlArg::F_SETFD(nix::fcntl::FdFlag::FD_CLOEXEC),
    )
    .ctx(|| "marking the control socket close-on-exec")?;
    let _ = nix::sys::prctl::set_name(c"underhood-init");
    let set = signal_set();
    set.thread_block().ctx(|| "blocking signals")?;
    let signals = SignalFd::with_flags(&set, SfdFlags::SFD_NONBLOCK | SfdFlags::SFD_CLOEXEC)
        .ctx(|| "signalfd")?;
    let exe = if forked {
        // SAFETY: fd 4 was placed by start.rs for us and nothing else owns it.
        let fd = unsafe { OwnedFd::from_raw_fd(SUBJECT_FD + 1) };
        nix::fcntl::fcntl(
            &fd,
            nix::fcntl::FcntlArg::F_SETFD(nix::fcntl::FdFlag::FD_CLOEXEC),
        )
        .ctx(|| "marking our binary's handle close-on-exec")?;
        Some(fd)
    } else {
        nix::fcntl::open(
            c"/proc/self/exe",
            nix::fcntl::OFlag::O_RDONLY | nix::fcntl::OFlag::O_CLOEXEC,
            nix::sys::stat::Mode::empty(),
        )
        .ok()
    };
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
        join_cgroup: Vec::new(),
        console: None,
        quiet: false,
        sys: Box::new(Linux),
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
                    r => r.ctx(|| "poll")?,
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

    /// Does one step and replies; returns whether it succeeded. After the PID step's
    /// fork the parent never returns (it becomes the shim) and the child carries on.
    fn step(&mut self, step: Step) -> Result<bool> {
        let started = std::time::Instant::now();
        let mut r = Report::new(step.title());
        // The exec step's command on a terminal made here (`Request::Console`): on our
        // standard descriptors for the fork to pass on, or to keep across an execve in
        // place; ours are back when `_on_stdio` goes (never, after an execve).
        let _on_stdio = match (&step, self.console.take()) {
            (Step::Exec { .. }, Some(c)) => {
                let on = match self.make_console(&c, &mut r)? {
                    Some(slave) => console::onto_stdio(&slave, c.stdio, &mut r).ok(),
                    None => None,
                };
                if on.is_none() {
                    r.micros = started.elapsed().as_micros() as u64;
                    self.reply(&Reply::Done {
                        report: r,
                        ok: false,
                    })?;
                    return Ok(false);
                }
                on
            }
            (_, c) => {
                self.console = c;
                None
            }
        };
        let mut cx = Inside {
            sys: &mut *self.sys,
            report: &mut r,
            in_userns: self.in_userns,
            host_root: self.host_root,
            no_init: self.no_init,
            join_cgroup: &self.join_cgroup,
        };
        let res = steps::of(&step).inside(&mut cx);
        self.in_userns = cx.in_userns;
        r.micros = started.elapsed().as_micros() as u64;
        if self.quiet && res.is_ok() {
            r = r.without_calls();
        }
        let (reply, ok) = match res {
            Ok(Outcome::Done) => (
                Reply::Done {
                    report: r,
                    ok: true,
                },
                true,
            ),
            Err(_) => (
                Reply::Done {
                    report: r,
                    ok: false,
                },
                false,
            ),
            Ok(Outcome::Started(pid)) => {
                self.command = Some(Pid::from_raw(pid));
                (Reply::Started { report: r, pid }, true)
            }
            Ok(Outcome::Forked { child, gate }) => {
                self.reply(&Reply::Forked {
                    report: r,
                    pid: child,
                })?;
                // The go-ahead for PID 1 (see steps/pid.rs): our reply is on the socket.
                drop(gate);
                // The shim must not hold the control socket: the controller sees the
                // container end when PID 1's copy closes.
                // SAFETY: shim() never returns, so the UnixStream is never used or
                // closed again after this.
                unsafe { libc::close(std::os::fd::AsRawFd::as_raw_fd(&self.sock)) };
                let _ = nix::sys::prctl::set_name(c"underhood-shim");
                shim(Pid::from_raw(child))
            }
            Ok(Outcome::Pid1(res)) => {
                res.ctx(|| "PR_SET_PDEATHSIG")?;
                return Ok(true);
            }
            Ok(Outcome::ExecInPlace { path, argv, env }) => {
                // The reply goes first: the socket and the signalfd are O_CLOEXEC, so
                // the controller sees the socket close at the execve.
                self.reply(&Reply::Started {
                    report: r,
                    pid: getpid().as_raw(),
                })?;
                spawn::exec_in_place(&path, &argv, &env)
            }
        };
        self.reply(&reply)?;
        Ok(ok)
    }

    /// Makes the terminal `c` asks for here, in our mount namespace as it stands, and
    /// sends its master end to the controller (`Reply::Console`, then the descriptor);
    /// returns the slave end, or `None` when a call failed (the report names it).
    fn make_console(&mut self, c: &Console, r: &mut Report) -> Result<Option<OwnedFd>> {
        let Ok(pty) = console::open(c, r) else {
            return Ok(None);
        };
        self.reply(&Reply::Console)?;
        // The controller now waits for the descriptor: without it the stream is out of
        // step, so a failure here ends the subject.
        console::send_master(self.sock.as_fd(), pty.master, r)
            .ctx(|| "sendmsg SCM_RIGHTS (the terminal's master end)")?;
        Ok(Some(pty.slave))
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
                let ok = steps::net::configure_veth(&mut *self.sys, &mut r, &veth).is_ok();
                self.reply(&Reply::Done { report: r, ok })
            }
            Request::Run { spec, timeout_ms } => {
                let exe = if spec.own_tool {
                    self.exe.as_ref()
                } else {
                    None
                };
                let reply = spawn::run_captured(&spec, exe, timeout_ms);
                self.reply(&reply)
            }
            Request::NoInit => {
                self.no_init = true;
                Ok(())
            }
            Request::Quiet => {
                self.quiet = true;
                Ok(())
            }
            Request::JoinCgroup(tasks) => {
                self.join_cgroup = tasks;
                Ok(())
            }
            Request::Console(c) => {
                self.console = Some(c);
                Ok(())
            }
            Request::BecomeRoot { can_setgroups } => {
                let mut r = Report::new("user namespace (ids)");
                let ok = steps::user::become_root(&mut *self.sys, &mut r, can_setgroups).is_ok();
                self.reply(&Reply::Done { report: r, ok })
            }
            Request::Spawn(spec) => {
                let mut r = Report::new(format!("spawn {}", spec.argv.join(" ")));
                let tty = if spec.tty {
                    let c = self.console.take().unwrap_or_default();
                    match self.make_console(&c, &mut r)? {
                        Some(slave) => Some(slave),
                        None => {
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
                match spawn::spawn(&spec, exe, tty.as_ref(), &mut r) {
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

    /// Returns true when the subject should exit.
    fn on_signals(&mut self) -> Result<bool> {
        let mut child_changed = false;
        let mut stop = false;
        while let Some(info) = self.signals.read_signal().ctx(|| "reading signalfd")? {
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
                    Err(e) => return Err(e).ctx(|| "waitpid"),
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

/// Serves requests on `sock` as the subject does, its kernel calls made to `sys`, until
/// the controller closes the socket. Without signal handling or forks of its own: for
/// the tests of the launch's orchestration (`runtime/orchestration.rs`).
#[cfg(test)]
pub(crate) fn serve_with(sock: UnixStream, sys: Box<dyn Sys>) -> Result<()> {
    let signals =
        SignalFd::with_flags(&SigSet::empty(), SfdFlags::SFD_CLOEXEC).ctx(|| "signalfd")?;
    let mut s = Subject {
        sock,
        signals,
        command: None,
        spawned: Vec::new(),
        exe: None,
        in_userns: false,
        host_root: false,
        broken: false,
        no_init: false,
        join_cgroup: Vec::new(),
        console: None,
        quiet: false,
        sys,
    };
    while let Some(req) = recv(&mut s.sock)? {
        s.handle(req)?;
    }
    Ok(())
}
