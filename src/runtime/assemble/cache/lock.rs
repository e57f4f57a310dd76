//! The flock(2)s on cached trees: a shared lock for as long as this process uses a tree
//! ([`HELD`](super::HELD)), an exclusive one tried without waiting before an eviction.

use std::fs;
use std::os::fd::{AsRawFd, OwnedFd};
use std::os::unix::fs::MetadataExt;
use std::path::Path;

use nix::errno::Errno;
use nix::fcntl::{OFlag, open};
use nix::sys::stat::Mode;

use super::{Error, HELD, Result};

/// A shared lock on `dir`, if it exists and is still `dir` once locked (an eviction
/// renames a tree away under its exclusive lock before removing it: then None).
pub(super) fn lock_for_use(dir: &Path) -> Result<Option<OwnedFd>> {
    let fd = match open_dir(dir) {
        Ok(fd) => fd,
        Err(e) if e.errno() == Some(Errno::ENOENT) => return Ok(None),
        Err(e) => return Err(e),
    };
    // Blocks only while an eviction removes it, which holds the lock exclusively.
    flock(&fd, libc::LOCK_SH, dir)?;
    let locked = nix::sys::stat::fstat(&fd).map_err(|errno| Error::Sys {
        what: format!("cannot stat {}", dir.display()),
        errno,
    })?;
    Ok(match fs::symlink_metadata(dir) {
        Ok(m) if m.is_dir() && m.dev() == locked.st_dev && m.ino() == locked.st_ino => Some(fd),
        _ => None,
    })
}

pub(super) fn hold(dir: &Path, fd: OwnedFd) {
    let mut held = HELD.lock().unwrap_or_else(|e| e.into_inner());
    if !held.iter().any(|(p, _)| p == dir) {
        held.push((dir.to_path_buf(), fd));
    }
}

/// Records the last use in the directory's mtime (for least-recently-used eviction).
pub(in crate::runtime::assemble) fn touch(dir: &Path) {
    let now = nix::sys::time::TimeSpec::UTIME_NOW;
    let _ = nix::sys::stat::utimensat(
        nix::fcntl::AT_FDCWD,
        dir,
        &now,
        &now,
        nix::sys::stat::UtimensatFlags::NoFollowSymlink,
    );
}

pub(super) fn open_dir(dir: &Path) -> Result<OwnedFd> {
    open(
        dir,
        OFlag::O_RDONLY | OFlag::O_DIRECTORY | OFlag::O_NOFOLLOW | OFlag::O_CLOEXEC,
        Mode::empty(),
    )
    .map_err(|errno| Error::Sys {
        what: format!("cannot open {}", dir.display()),
        errno,
    })
}

/// flock(2) on a directory descriptor; `how` is LOCK_SH or LOCK_EX, maybe | LOCK_NB.
pub(super) fn flock(fd: &OwnedFd, how: libc::c_int, dir: &Path) -> Result<()> {
    loop {
        // SAFETY: flock(2) on a descriptor we own; no memory is passed.
        if unsafe { libc::flock(fd.as_raw_fd(), how) } == 0 {
            return Ok(());
        }
        match Errno::last() {
            Errno::EINTR => continue,
            errno => {
                return Err(Error::Sys {
                    what: format!("cannot flock {}", dir.display()),
                    errno,
                });
            }
        }
    }
}

/// An exclusive lock on `dir` if nobody holds any lock on it, without waiting.
pub(super) fn try_lock_exclusive(dir: &Path) -> Result<Option<OwnedFd>> {
    let fd = open_dir(dir)?;
    match flock(&fd, libc::LOCK_EX | libc::LOCK_NB, dir) {
        Ok(()) => Ok(Some(fd)),
        Err(e) if e.errno() == Some(Errno::EWOULDBLOCK) => Ok(None),
        Err(e) => Err(e),
    }
}
