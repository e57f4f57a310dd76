//! Build-then-rename for everything under the cache directory, and the locks that tell a
//! cached tree in use, or a build under way, from one that may go.
//!
//! A cached tree (an assembled rootfs, the tools layer, an unpacked image) is built in a
//! temporary directory beside its final name and renamed into place only when complete.
//! `rename(2)` of a directory is atomic, and it fails when the destination already exists
//! and is not empty, so two concurrent first starts cannot corrupt each other: the loser
//! throws its copy away and uses the winner's. A failed build leaves nothing behind.
//!
//! A build killed half-way (SIGKILL, a power cut) cannot remove its own directory. Its
//! name says who built it, `.<final name>.tmp-<pid>-<start time>-<seq>` (the start time,
//! field 22 of /proc/<pid>/stat, tells a reused pid from the builder), and the builder
//! holds a shared flock(2) on it for as long as it lives (the kernel drops the lock when
//! the last descriptor closes, however the process ends). [`remove_abandoned`] removes
//! one only when both say the builder is gone.
//!
//! Every process that builds or finds a cached tree keeps a shared flock(2) on that
//! directory until it exits ([`HELD`]), so [`evict`] (`underhood cleanup --cache`, and
//! the cache's size cap) can tell a tree in use: it takes an exclusive lock without
//! waiting, and leaves the tree when that fails or when any mount table names it.
//!
//! Here: the error and the build-then-rename. Beside it: `lock` (the flocks), `abandoned`
//! (what a killed builder left), `evict` (entries, sizes, eviction and the size cap) and
//! `files` (removing a tree, a file's sha256, an entry's name).

mod abandoned;
mod evict;
mod files;
mod lock;
#[cfg(test)]
mod tests;

use std::ffi::OsStr;
use std::fs;
use std::io;
use std::os::fd::OwnedFd;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::sync::Mutex;

use nix::errno::Errno;

pub use abandoned::Removed;
pub(crate) use abandoned::{build_dirs, remove_abandoned};
use abandoned::{builder_mark, remove_stale_tmp};
pub use evict::Eviction;
pub(crate) use evict::{all_mount_tables, entries, evict, trim};
pub(crate) use files::{check_plain_name, hex, remove_tree, sha256_file};
pub(super) use lock::touch;
use lock::{flock, hold, lock_for_use, open_dir};

/// What the cache could not do. Messages are whole on their own (the path and the
/// errno in the text). Callers branch on [`Error::errno`]: ENOENT (no such tree yet),
/// EWOULDBLOCK (a lock someone holds).
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// A std file operation failed (`what`: "cannot remove PATH", ...).
    #[error("{what}: {err}")]
    Io { what: String, err: io::Error },
    /// A system call through nix failed (`what`: "cannot open PATH", "cannot flock PATH").
    #[error("{what}: {errno}")]
    Sys { what: String, errno: Errno },
    /// A name that cannot be a cache entry (it would leave the cache directory).
    #[error("{0}")]
    Refused(String),
    /// The tree went away while we used it (an eviction took it).
    #[error("{0}")]
    Gone(String),
}

impl Error {
    fn io(what: String) -> impl FnOnce(io::Error) -> Error {
        move |err| Error::Io { what, err }
    }

    /// The errno of the failed call.
    pub fn errno(&self) -> Option<Errno> {
        match self {
            Error::Io { err, .. } => err.raw_os_error().map(Errno::from_raw),
            Error::Sys { errno, .. } => Some(*errno),
            _ => None,
        }
    }
}

pub(crate) type Result<T, E = Error> = std::result::Result<T, E>;

/// Marks a directory under construction: `.<final name>.tmp-<pid>-<start time>-<seq>`.
/// Also the mark of a temporary file (`<name>.tmp-<pid>-...`).
const TMP_MARK: &str = ".tmp-";

/// Shared locks on the cached trees this process uses, held until it exits.
static HELD: Mutex<Vec<(PathBuf, OwnedFd)>> = Mutex::new(Vec::new());

/// Returns `final_dir` if it exists; otherwise runs `build` on an empty temporary directory
/// beside it and renames that into place. Either way this process keeps a shared lock on
/// it until it exits, so no eviction removes it under a container. The build's own
/// error comes back unchanged; the cache's own are turned into it.
pub(crate) fn build_atomically<E: From<Error>>(
    final_dir: &Path,
    build: impl FnOnce(&Path) -> Result<(), E>,
) -> Result<PathBuf, E> {
    Ok(build_atomically_fresh(final_dir, build)?.0)
}

/// [`build_atomically`], also saying whether this call built the tree (true) or found it.
pub(crate) fn build_atomically_fresh<E: From<Error>>(
    final_dir: &Path,
    build: impl FnOnce(&Path) -> Result<(), E>,
) -> Result<(PathBuf, bool), E> {
    if let Some(lock) = lock_for_use(final_dir)? {
        hold(final_dir, lock);
        touch(final_dir);
        return Ok((final_dir.to_path_buf(), false));
    }
    let parent = final_dir.parent().ok_or_else(|| {
        Error::Refused(format!("cache path {} has no parent", final_dir.display()))
    })?;
    let name = final_dir
        .file_name()
        .and_then(OsStr::to_str)
        .ok_or_else(|| {
            Error::Refused(format!(
                "cache path {} has no UTF-8 name",
                final_dir.display()
            ))
        })?;
    fs::create_dir_all(parent).map_err(Error::io(format!(
        "cannot create cache directory {}",
        parent.display()
    )))?;
    remove_stale_tmp(parent, name);

    let tmp = parent.join(format!(".{name}{TMP_MARK}{}", builder_mark()));
    fs::create_dir(&tmp).map_err(Error::io(format!(
        "cannot create temporary directory {}",
        tmp.display()
    )))?;
    // Whatever the umask, the tree must be readable by the container's users.
    fs::set_permissions(&tmp, fs::Permissions::from_mode(0o755))
        .map_err(Error::io(format!("cannot chmod 0755 {}", tmp.display())))?;
    // The builder's lock: held through the build, the rename and the use that follows
    // (the descriptor follows the directory across the rename).
    let lock = match open_dir(&tmp).and_then(|fd| flock(&fd, libc::LOCK_SH, &tmp).map(|()| fd)) {
        Ok(fd) => fd,
        Err(e) => {
            let _ = remove_tree(&tmp);
            return Err(e.into());
        }
    };

    if let Err(e) = build(&tmp) {
        // Best effort: the build error matters more than a failed cleanup.
        let _ = remove_tree(&tmp);
        return Err(e);
    }
    match fs::rename(&tmp, final_dir) {
        Ok(()) => {
            hold(final_dir, lock);
            Ok((final_dir.to_path_buf(), true))
        }
        Err(e) if final_dir.is_dir() => {
            // Another process finished first (ENOTEMPTY/EEXIST): use its copy.
            let _ = e;
            drop(lock);
            remove_tree(&tmp)?;
            let lock = lock_for_use(final_dir)?.ok_or_else(|| {
                Error::Gone(format!(
                    "{} was removed while it was being built; try again",
                    final_dir.display()
                ))
            })?;
            hold(final_dir, lock);
            Ok((final_dir.to_path_buf(), false))
        }
        Err(e) => {
            let _ = remove_tree(&tmp);
            Err(Error::Io {
                what: format!("cannot rename {} to {}", tmp.display(), final_dir.display()),
                err: e,
            }
            .into())
        }
    }
}
