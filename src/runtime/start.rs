//! Starting the subject, on one end of a socketpair: either our own binary, run from a
//! handle the container cannot write through, as `underhood __subject`, or (headless
//! `run`, see [`Spawned::fork`]) a fork of the controller that never execs.

use std::io::Write as _;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::os::unix::net::UnixStream;
use std::os::unix::process::CommandExt;
use std::os::unix::process::ExitStatusExt;
use std::process::{Command, ExitStatus};
use std::sync::OnceLock;

use super::launch_error::{Ctx, Result};

use super::paths::Paths;
use super::protocol::SUBJECT_FD;
use super::state;

/// A subject started before its session exists, so that its start-up (an execve of our
/// binary: loading, relocation, libc's start) overlaps the controller's own preparation
/// (layers, the session record). Nothing is done to the kernel by it until asked. It
/// dies with us (PR_SET_PDEATHSIG) and exits when the socket closes, so a crash before
/// the session records it leaves nothing behind; dropped unused, it is killed and reaped.
pub struct Spawned {
    pub(super) child: Option<SubjectProc>,
    pub(super) sock: Option<UnixStream>,
    pub(super) id: Option<state::ProcId>,
}

impl Spawned {
    /// Becomes a subreaper (see [`Launch::start`]) and starts the subject, which
    /// inherits our standard descriptors (`run`: a command's output redirected by
    /// the caller goes where the caller said).
    pub fn start(paths: &Paths) -> Result<Spawned> {
        Spawned::start_with(paths, Stdio::Inherit)
    }

    /// Like [`Spawned::start`], but the subject's stdin, stdout and stderr are
    /// /dev/null: for a launch taken step by step (the TUI, `lessons run`), whose
    /// output goes through reports and terminals made inside (runtime/console.rs).
    /// Inherited, they would be the learner's own terminal: PID 1 and the command
    /// could read the keys typed to underhood and write escape sequences to it.
    pub fn start_detached(paths: &Paths) -> Result<Spawned> {
        Spawned::start_with(paths, Stdio::Null)
    }

    fn start_with(paths: &Paths, stdio: Stdio) -> Result<Spawned> {
        // PID 1 is the shim's child; if the shim dies first, PID 1 is re-parented to
        // the nearest subreaper. Being that subreaper (prctl(2)) lets teardown reap it
        // instead of leaving a zombie for the host's init.
        nix::sys::prctl::set_child_subreaper(true).ctx(|| "PR_SET_CHILD_SUBREAPER")?;
        let (child, sock) = spawn_subject(stdio)?;
        Ok(Spawned::around(paths, child, sock))
    }

    /// Like [`Spawned::start`], but the subject is a fork(2) of this process that goes
    /// straight to the subject's loop: no execve, so no second loading of our binary
    /// (ld.so, relocations, page faults over all of it: most of a launch's time).
    /// Sound only in a process that has no other thread yet (the child of a threaded
    /// process may find a lock held forever, and unshare(CLONE_NEWUSER) would be
    /// refused anyway): this checks /proc/self/status and re-executes otherwise.
    pub fn fork(paths: &Paths) -> Result<Spawned> {
        if threads()? != 1 {
            return Spawned::start(paths);
        }
        nix::sys::prctl::set_child_subreaper(true).ctx(|| "PR_SET_CHILD_SUBREAPER")?;
        let (child, sock) = fork_subject()?;
        Ok(Spawned::around(paths, child, sock))
    }

    fn around(paths: &Paths, child: SubjectProc, sock: UnixStream) -> Spawned {
        let id = state::proc_id(&paths.proc_root, child.id() as i32);
        Spawned {
            child: Some(child),
            sock: Some(sock),
            id,
        }
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

/// The first subject, our child: its pid and, once waited for, how it ended (a
/// `std::process::Child` cannot be made for a forked process).
pub struct SubjectProc {
    pid: i32,
    status: Option<ExitStatus>,
}

impl From<std::process::Child> for SubjectProc {
    /// Waited for by pid from now on (dropping a Child neither kills nor reaps it).
    fn from(child: std::process::Child) -> SubjectProc {
        SubjectProc {
            pid: child.id() as i32,
            status: None,
        }
    }
}

impl SubjectProc {
    pub fn id(&self) -> u32 {
        self.pid as u32
    }

    /// waitpid(2) for it; a second call gives the first answer again.
    pub fn wait(&mut self) -> std::io::Result<ExitStatus> {
        if let Some(s) = self.status {
            return Ok(s);
        }
        let mut raw = 0;
        loop {
            // SAFETY: waitpid writes the status into `raw`, which lives across the call.
            let rc = unsafe { libc::waitpid(self.pid, &mut raw, 0) };
            if rc == self.pid {
                let s = ExitStatus::from_raw(raw);
                self.status = Some(s);
                return Ok(s);
            }
            let e = std::io::Error::last_os_error();
            if e.kind() != std::io::ErrorKind::Interrupted {
                return Err(e);
            }
        }
    }

    /// Whether it ends within `limit` (true too where that cannot be watched: the
    /// caller's wait(2) then blocks as it always did). It is not reaped here.
    pub fn exited_within(&self, limit: std::time::Duration) -> bool {
        if self.status.is_some() {
            return true;
        }
        match pidfd_open(self.pid) {
            Ok(fd) => readable_within(&fd, limit),
            Err(_) => true,
        }
    }

    pub fn kill(&mut self) -> std::io::Result<()> {
        if self.status.is_some() {
            return Ok(());
        }
        nix::sys::signal::kill(
            nix::unistd::Pid::from_raw(self.pid),
            nix::sys::signal::SIGKILL,
        )
        .map_err(std::io::Error::from)
    }
}

/// The executable the subject (and `__enter`) run from, so that a process inside the
/// container that opens /proc/1/exe cannot write our binary on the host (the
/// CVE-2019-5736 class, which runc fixes the same two ways):
/// - as root, a read-only bind mount of our binary that is attached nowhere
///   (open_tree(2) with OPEN_TREE_CLONE, then mount_setattr(2) MOUNT_ATTR_RDONLY):
///   writes through it fail with EROFS, and nothing is copied;
/// - otherwise a sealed in-memory copy (memfd_create(2) + F_SEAL_WRITE...).
pub(super) fn subject_exe() -> Result<&'static OwnedFd> {
    static EXE: OnceLock<OwnedFd> = OnceLock::new();
    if let Some(fd) = EXE.get() {
        return Ok(fd);
    }
    let fd = match readonly_bind_of_self() {
        Ok(fd) => fd,
        Err(_) => sealed_copy_of_self()?,
    };
    let _ = EXE.set(fd);
    EXE.get().ctx(|| "executable handle lost")
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
    let mut src = std::fs::File::open("/proc/self/exe").ctx(|| "opening /proc/self/exe")?;
    let fd = nix::sys::memfd::memfd_create(
        c"underhood",
        nix::sys::memfd::MFdFlags::MFD_CLOEXEC | nix::sys::memfd::MFdFlags::MFD_ALLOW_SEALING,
    )
    .ctx(|| "memfd_create")?;
    let mut dst = std::fs::File::from(fd);
    std::io::copy(&mut src, &mut dst).ctx(|| "copying /proc/self/exe into a memfd")?;
    dst.flush().ok();
    let seals = nix::fcntl::SealFlag::F_SEAL_SEAL
        | nix::fcntl::SealFlag::F_SEAL_SHRINK
        | nix::fcntl::SealFlag::F_SEAL_GROW
        | nix::fcntl::SealFlag::F_SEAL_WRITE;
    nix::fcntl::fcntl(&dst, nix::fcntl::FcntlArg::F_ADD_SEALS(seals))
        .ctx(|| "sealing the memfd")?;
    Ok(OwnedFd::from(dst))
}

/// What the subject's standard descriptors are.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Stdio {
    Inherit,
    Null,
}

fn spawn_subject(stdio: Stdio) -> Result<(SubjectProc, UnixStream)> {
    let (ours, theirs) = UnixStream::pair().ctx(|| "socketpair")?;
    let exe = subject_exe()?;
    let controller = std::process::id();
    let theirs_fd = theirs.as_raw_fd();
    let mut cmd = Command::new(format!("/proc/self/fd/{}", exe.as_raw_fd()));
    cmd.arg0("underhood-init")
        .arg("__subject")
        .arg(controller.to_string());
    if stdio == Stdio::Null {
        cmd.stdin(std::process::Stdio::null())
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null());
    }
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
    let child = cmd.spawn().ctx(|| "starting the subject process")?;
    drop(theirs);
    Ok((child.into(), ours))
}

/// How many threads this process has (the `Threads:` line of /proc/self/status).
fn threads() -> Result<usize> {
    let status =
        std::fs::read_to_string("/proc/self/status").ctx(|| "reading /proc/self/status")?;
    status
        .lines()
        .find_map(|l| l.strip_prefix("Threads:"))
        .and_then(|n| n.trim().parse().ok())
        .ctx(|| "no Threads: line in /proc/self/status")
}

/// fork(2) a subject: the child puts its end of the socket at fd 3 and the read-only
/// handle of our binary (for `own_tool` spawns, see [`subject_exe`]) at fd 4, and runs
/// the subject's loop. Its /proc/self/exe stays our binary on the host, which the
/// caller allows only where no process inside can open it (see launcher.rs).
/// The caller has checked that this process has one thread.
fn fork_subject() -> Result<(SubjectProc, UnixStream)> {
    let (ours, theirs) = UnixStream::pair().ctx(|| "socketpair")?;
    let exe = subject_exe()?;
    let controller = std::process::id() as i32;
    let (sock_fd, exe_fd) = (theirs.as_raw_fd(), exe.as_raw_fd());
    // SAFETY: this process has one thread (checked by the caller), so the child's copy of
    // memory is consistent; it never returns from subject::main_forked.
    match unsafe { nix::unistd::fork() }.ctx(|| "fork")? {
        nix::unistd::ForkResult::Child => {
            // SAFETY: plain syscalls on integers. Both are first moved above 4 so that
            // neither dup2 overwrites the other's source.
            unsafe {
                let s = libc::fcntl(sock_fd, libc::F_DUPFD_CLOEXEC, 10);
                let e = libc::fcntl(exe_fd, libc::F_DUPFD_CLOEXEC, 10);
                if s < 0
                    || e < 0
                    || libc::dup2(s, SUBJECT_FD) < 0
                    || libc::dup2(e, SUBJECT_FD + 1) < 0
                    // Die with the controller, as the exec'd subject does.
                    || libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL) < 0
                {
                    libc::_exit(1);
                }
            }
            super::subject::main_forked(controller)
        }
        nix::unistd::ForkResult::Parent { child } => {
            drop(theirs);
            Ok((
                SubjectProc {
                    pid: child.as_raw(),
                    status: None,
                },
                ours,
            ))
        }
    }
}

/// A pidfd for `pid` (pidfd_open(2), Linux 5.3): readable once the process has exited.
pub(crate) fn pidfd_open(pid: i32) -> nix::Result<OwnedFd> {
    // SAFETY: pidfd_open takes a pid and flags, and returns a new descriptor or -1.
    let fd = unsafe { libc::syscall(libc::SYS_pidfd_open, pid, 0) };
    let fd = nix::errno::Errno::result(fd)?;
    // SAFETY: a descriptor just returned to us, owned by nothing else.
    Ok(unsafe { OwnedFd::from_raw_fd(fd as i32) })
}

/// poll(2) for POLLIN on `fd` for at most `limit`.
fn readable_within(fd: &OwnedFd, limit: std::time::Duration) -> bool {
    use nix::poll::{PollFd, PollFlags, PollTimeout, poll};
    use std::os::fd::AsFd;
    let deadline = std::time::Instant::now() + limit;
    loop {
        let left = deadline.saturating_duration_since(std::time::Instant::now());
        let timeout = PollTimeout::try_from(left).unwrap_or(PollTimeout::MAX);
        let mut fds = [PollFd::new(fd.as_fd(), PollFlags::POLLIN)];
        match poll(&mut fds, timeout) {
            Ok(n) if n > 0 => return true,
            Err(nix::errno::Errno::EINTR) => continue,
            _ if !left.is_zero() && std::time::Instant::now() < deadline => continue,
            _ => return false,
        }
    }
}

/// Waits at most `limit` for process `pid` (any, not only a child) to exit; returns
/// at once if it is gone. Without pidfds (Linux before 5.3) a millisecond's sleep,
/// for the caller's loop to look again.
pub(crate) fn wait_exit(pid: i32, limit: std::time::Duration) {
    match pidfd_open(pid) {
        Ok(fd) => {
            readable_within(&fd, limit);
        }
        Err(nix::errno::Errno::ESRCH) => {}
        Err(_) => std::thread::sleep(limit.min(std::time::Duration::from_millis(1))),
    }
}
