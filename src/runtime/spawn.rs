//! Starting processes inside the container from PID 1: fork + execve with the
//! command's own PATH, a pipe that carries execve's errno back, and the standard
//! descriptors it is given (the command's, /dev/null, a capture pipe, a terminal).
//! Used by the exec step, `Request::Spawn` and `Request::Run`.

use std::ffi::CString;
use std::io::Read;
use std::os::fd::{AsFd, OwnedFd};
use std::path::Path;

use nix::errno::Errno;
use nix::poll::{PollFd, PollFlags, PollTimeout, poll};
use nix::sys::signal::{SigSet, SigmaskHow, Signal, kill};
use nix::sys::wait::{WaitStatus, waitpid};
use nix::unistd::{ForkResult, Pid, fork};

use super::protocol::{Reply, SpawnSpec};
use super::report::Report;

/// Runs a command with its output in a pipe, waits at most `timeout_ms`, and returns
/// what it printed (for lesson checks: short commands only).
pub fn run_captured(spec: &SpawnSpec, exe: Option<&OwnedFd>, timeout_ms: u64) -> Reply {
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

/// Finds `name` the way execvp(3) does, but in the container's PATH rather than ours.
pub(crate) fn resolve(name: &str, env: &[(String, String)]) -> Option<CString> {
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
pub fn spawn(
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

/// Becomes the command (execve(2) in this process), with what [`spawn`] gives a forked
/// command: no blocked signals and SIGPIPE at its default. The caller has already said
/// "started"; if the execve fails all that is left is to say why and exit 127.
pub fn exec_in_place(path: &CString, argv: &[CString], env: &[CString]) -> ! {
    let _ = nix::sys::signal::sigprocmask(
        nix::sys::signal::SigmaskHow::SIG_SETMASK,
        Some(&nix::sys::signal::SigSet::empty()),
        None,
    );
    // SAFETY: resetting a disposition to SIG_DFL is always sound.
    unsafe {
        let _ = nix::sys::signal::signal(
            nix::sys::signal::Signal::SIGPIPE,
            nix::sys::signal::SigHandler::SigDfl,
        );
    }
    // As `spawn` gives the command with inherited stdio: a terminal there (the one
    // `run` had made inside: runtime/console.rs) becomes its controlling terminal in a
    // session of its own (setsid(2) fails harmlessly where we lead one already;
    // TIOCSCTTY fails with EPERM on a terminal another session has, tty_ioctl(4)).
    // SAFETY: plain syscalls on our own descriptors.
    unsafe {
        if libc::isatty(0) == 1 {
            libc::setsid();
            libc::ioctl(0, libc::TIOCSCTTY, 0);
        }
    }
    let err = nix::unistd::execve(path, argv, env).unwrap_err();
    eprintln!("underhood: execve {path:?}: {err}");
    std::process::exit(127)
}
