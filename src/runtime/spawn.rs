//! Starting processes inside the container from PID 1: clone + execve with the
//! command's own PATH, a pipe that carries execve's errno back, and the standard
//! descriptors it is given (the command's, /dev/null, a capture pipe, a terminal).
//! Used by the exec step, `Request::Spawn` and `Request::Run`.

use std::ffi::CString;
use std::io::Read;
use std::os::fd::{AsFd, OwnedFd};
use std::path::Path;

use nix::errno::Errno;
use nix::poll::{PollFd, PollFlags, PollTimeout, poll};
use nix::sys::signal::{Signal, kill};
use nix::sys::wait::{WaitStatus, waitpid};
use nix::unistd::Pid;

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

/// clone + execve with a close-on-exec pipe that carries execve's errno back, so a
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
    // The child's whole life, prepared here: it shares our memory until its execve
    // and must not allocate (see `child`).
    let argv_ptrs: Vec<*const libc::c_char> = args
        .iter()
        .map(|a| a.as_ptr())
        .chain(std::iter::once(std::ptr::null()))
        .collect();
    let envp_ptrs: Vec<*const libc::c_char> = envs
        .iter()
        .map(|e| e.as_ptr())
        .chain(std::iter::once(std::ptr::null()))
        .collect();
    let raw = |fd: Option<&OwnedFd>| fd.map_or(-1, std::os::fd::AsRawFd::as_raw_fd);
    let mut plan = ChildPlan {
        path: path.as_ref().map_or(std::ptr::null(), |p| p.as_ptr()),
        exe: raw(exe),
        argv: argv_ptrs.as_ptr(),
        envp: envp_ptrs.as_ptr(),
        own_session: spec.inherit_stdio && output.is_none(),
        null: raw(null.as_ref()),
        output: raw(output),
        tty: spec.tty,
        errno_to: std::os::fd::AsRawFd::as_raw_fd(&wr),
    };
    // clone(2) with CLONE_VM|CLONE_VFORK, as posix_spawn(3) does: the child runs on a
    // stack of its own in our memory, and we wait until its execve (or _exit). No
    // copy of our page tables and no copy-on-write fault in either process, where a
    // fork(2) of this process (which maps all of our binary) costs both.
    //
    // A kernel before 6.x's change to timens refuses CLONE_VM with EINVAL while our
    // time namespace for children differs from our own (kernel/nsproxy.c,
    // copy_namespaces: a shared mm cannot have two vvar pages): after the time step
    // without a fork after it (`--share pid`: no PID step). Debian 12's 6.1 does. There
    // the child is a plain copy (flags SIGCHLD alone, as fork(2)): it runs the same
    // `child` on its own copy of the stack and the plan, and the errno pipe still
    // tells us how its execve went.
    let mut stack = vec![0u8; CHILD_STACK];
    let mut flags = (
        libc::CLONE_VM | libc::CLONE_VFORK | libc::SIGCHLD,
        "CLONE_VM|CLONE_VFORK|SIGCHLD",
    );
    let pid = loop {
        // SAFETY: the stack grows down from its end, 16-byte aligned; `plan` and all
        // it points to outlive the child's use of them (CLONE_VFORK: we are suspended
        // until it execs or exits; without CLONE_VM the child has its own copies);
        // `child` makes only async-signal-safe calls, no allocation.
        let pid = unsafe {
            let top = stack.as_mut_ptr().add(CHILD_STACK) as usize & !15;
            libc::clone(
                child,
                top as *mut libc::c_void,
                flags.0,
                (&mut plan as *mut ChildPlan).cast(),
            )
        };
        if pid < 0 && Errno::last() == Errno::EINVAL && flags.0 & libc::CLONE_VM != 0 {
            // A note, not a failed call: the report's first failed call is the step's
            // failure (Report::errno), and this one is recovered from.
            r.note(
                "clone(CLONE_VM|CLONE_VFORK) = EINVAL: this kernel refuses a shared mm \
                 across time namespaces; a plain copy (fork) instead",
            );
            flags = (libc::SIGCHLD, "SIGCHLD");
            continue;
        }
        break pid;
    };
    drop(stack);
    if pid < 0 {
        return r.call("clone", flags.1, Err(Errno::last()));
    }
    let child = Pid::from_raw(pid);
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
    let _ = r.call("clone", flags.1, Ok(pid));
    r.call(call, shown, Ok(())).map(|()| child)
}

/// The child's stack: what [`child`] needs up to its execve, with room to spare.
const CHILD_STACK: usize = 64 << 10;

/// What [`child`] does, as plain descriptors and C pointers.
struct ChildPlan {
    /// The program's path in the container, or null for `exe`.
    path: *const libc::c_char,
    /// Our own binary, for fexecve(3), or -1.
    exe: libc::c_int,
    argv: *const *const libc::c_char,
    envp: *const *const libc::c_char,
    /// The container's command: a session of its own (setsid(2)), and the terminal
    /// on its stdin as controlling terminal when it has one.
    own_session: bool,
    /// /dev/null for stdin, stdout and stderr, or -1.
    null: libc::c_int,
    /// stdout and stderr (stdin too on a terminal), or -1.
    output: libc::c_int,
    /// `output` is a terminal to make the controlling one.
    tty: bool,
    /// The close-on-exec pipe that carries execve's errno back.
    errno_to: libc::c_int,
}

/// The child of [`spawn`] until its execve: it shares our memory, so only plain
/// syscalls on what the plan holds; nothing allocated, no lock taken.
extern "C" fn child(arg: *mut libc::c_void) -> libc::c_int {
    // SAFETY: `arg` is the parent's ChildPlan, alive while the parent waits for us;
    // every call below is async-signal-safe and works on this child's own descriptors,
    // signal mask and dispositions (none of CLONE_FILES, CLONE_SIGHAND is shared).
    unsafe {
        let p = &*(arg as *const ChildPlan);
        let mut empty: libc::sigset_t = std::mem::zeroed();
        libc::sigemptyset(&mut empty);
        libc::sigprocmask(libc::SIG_SETMASK, &empty, std::ptr::null_mut());
        // Die with PID 1: without a PID namespace of its own nothing else would
        // take the command down with the container (prctl(2) PR_SET_PDEATHSIG).
        libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL);
        // Rust ignores SIGPIPE at start-up; the command expects the default.
        libc::signal(libc::SIGPIPE, libc::SIG_DFL);
        if p.own_session {
            // The container's command: a session of its own (setsid(2)). When `run`
            // gave it a terminal of its own (the caller's stdin was one), it becomes
            // the controlling terminal; the caller's own terminal cannot (TIOCSCTTY
            // fails with EPERM on a terminal another session has, tty_ioctl(4)), and
            // then the command has none.
            libc::setsid();
            if libc::isatty(0) == 1 {
                libc::ioctl(0, libc::TIOCSCTTY, 0);
            }
        }
        if p.null >= 0 {
            for target in 0..3 {
                libc::dup2(p.null, target);
            }
        }
        if p.output >= 0 {
            if p.tty {
                // A new session whose controlling terminal is the pty (credentials(7),
                // tty_ioctl(4) TIOCSCTTY), so job control and Ctrl-C work in it.
                libc::setsid();
                libc::ioctl(p.output, libc::TIOCSCTTY, 0);
                libc::dup2(p.output, 0);
            }
            for target in 1..3 {
                libc::dup2(p.output, target);
            }
        }
        // Only stdin, stdout and stderr cross the exec: every other descriptor is
        // marked close-on-exec (close_range(2) CLOSE_RANGE_CLOEXEC; ours all are
        // already, this is for any that is not). Older kernels: EINVAL, ignored.
        libc::syscall(
            libc::SYS_close_range,
            3u32,
            u32::MAX,
            libc::CLOSE_RANGE_CLOEXEC,
        );
        if p.exe >= 0 {
            libc::fexecve(p.exe, p.argv, p.envp);
        } else if !p.path.is_null() {
            libc::execve(p.path, p.argv, p.envp);
        } else {
            *libc::__errno_location() = libc::ENOENT;
        }
        let err = (*libc::__errno_location()).to_le_bytes();
        libc::write(p.errno_to, err.as_ptr().cast(), 4);
        libc::_exit(127)
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

#[cfg(test)]
mod tests {
    use super::*;

    fn status_line(pid: Pid, key: &str) -> String {
        let s = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
        s.lines()
            .find_map(|l| l.strip_prefix(key))
            .unwrap()
            .trim()
            .to_string()
    }

    #[test]
    fn the_command_gets_no_blocked_signal_and_sigpipe_at_its_default() {
        // As PID 1 does: the signals it forwards are blocked (it reads a signalfd).
        let mut set = nix::sys::signal::SigSet::empty();
        set.add(Signal::SIGINT);
        set.add(Signal::SIGTERM);
        set.thread_block().unwrap();
        let spec = SpawnSpec {
            argv: vec!["sleep".into(), "30".into()],
            env: vec![("PATH".into(), "/usr/bin:/bin".into())],
            inherit_stdio: false,
            tty: false,
            own_tool: false,
        };
        let mut r = Report::new("spawn");
        let pid = spawn(&spec, None, None, &mut r).unwrap();
        set.thread_unblock().unwrap();
        let blocked = status_line(pid, "SigBlk:");
        let ignored = u64::from_str_radix(&status_line(pid, "SigIgn:"), 16).unwrap();
        let _ = kill(pid, Signal::SIGKILL);
        let _ = waitpid(pid, None);
        assert_eq!(u64::from_str_radix(&blocked, 16).unwrap(), 0, "{blocked}");
        assert_eq!(ignored & (1 << (libc::SIGPIPE - 1)), 0, "SIGPIPE ignored");
        assert_eq!(r.calls[1].name, "clone", "{:?}", r.calls);
    }

    #[test]
    fn a_missing_program_is_enoent_and_reaped() {
        let spec = SpawnSpec {
            argv: vec!["/no/such/program".into()],
            env: Vec::new(),
            inherit_stdio: false,
            tty: false,
            own_tool: false,
        };
        let mut r = Report::new("spawn");
        assert_eq!(spawn(&spec, None, None, &mut r), Err(Errno::ENOENT));
    }
}
