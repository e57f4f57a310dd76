//! Starting the subject: our own binary, run from a handle the container cannot write
//! through, as `underhood __subject` on one end of a socketpair.

use std::io::Write as _;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::os::unix::net::UnixStream;
use std::os::unix::process::CommandExt;
use std::process::{Child, Command};
use std::sync::OnceLock;

use anyhow::{Context, Result, anyhow};

use super::paths::Paths;
use super::protocol::SUBJECT_FD;
use super::state;

/// A subject started before its session exists, so that its start-up (an execve of our
/// binary: loading, relocation, libc's start) overlaps the controller's own preparation
/// (layers, the session record). Nothing is done to the kernel by it until asked. It
/// dies with us (PR_SET_PDEATHSIG) and exits when the socket closes, so a crash before
/// the session records it leaves nothing behind; dropped unused, it is killed and reaped.
pub struct Spawned {
    pub(super) child: Option<Child>,
    pub(super) sock: Option<UnixStream>,
    pub(super) id: Option<state::ProcId>,
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
