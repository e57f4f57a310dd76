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

use std::ffi::OsStr;
use std::fs;
use std::io;
use std::os::fd::{AsRawFd, OwnedFd};
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::SystemTime;

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
use nix::errno::Errno;
use nix::fcntl::{OFlag, open};
use nix::sys::stat::Mode;
use sha2::{Digest, Sha256};

use crate::runtime::state;

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

/// A shared lock on `dir`, if it exists and is still `dir` once locked (an eviction
/// renames a tree away under its exclusive lock before removing it: then None).
fn lock_for_use(dir: &Path) -> Result<Option<OwnedFd>> {
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

fn hold(dir: &Path, fd: OwnedFd) {
    let mut held = HELD.lock().unwrap_or_else(|e| e.into_inner());
    if !held.iter().any(|(p, _)| p == dir) {
        held.push((dir.to_path_buf(), fd));
    }
}

/// Records the last use in the directory's mtime (for least-recently-used eviction).
fn touch(dir: &Path) {
    let now = nix::sys::time::TimeSpec::UTIME_NOW;
    let _ = nix::sys::stat::utimensat(
        nix::fcntl::AT_FDCWD,
        dir,
        &now,
        &now,
        nix::sys::stat::UtimensatFlags::NoFollowSymlink,
    );
}

fn open_dir(dir: &Path) -> Result<OwnedFd> {
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
fn flock(fd: &OwnedFd, how: libc::c_int, dir: &Path) -> Result<()> {
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
fn try_lock_exclusive(dir: &Path) -> Result<Option<OwnedFd>> {
    let fd = open_dir(dir)?;
    match flock(&fd, libc::LOCK_EX | libc::LOCK_NB, dir) {
        Ok(()) => Ok(Some(fd)),
        Err(e) if e.errno() == Some(Errno::EWOULDBLOCK) => Ok(None),
        Err(e) => Err(e),
    }
}

/// `<pid>-<start time>-<seq>`: who builds (see [`builder_is_gone`]), and a per-process
/// counter (threads of one process).
fn builder_mark() -> String {
    static SEQ: AtomicU64 = AtomicU64::new(0);
    let seq = SEQ.fetch_add(1, Ordering::Relaxed);
    let pid = std::process::id() as i32;
    let start = state::proc_id(Path::new("/proc"), pid).map_or(0, |id| id.start_time);
    format!("{pid}-{start}-{seq}")
}

/// Whether the process named by a temporary name's mark (`<pid>-<start time>-<seq>`, or
/// the older `<pid>-<seq>` without a start time) has ended. A name we cannot read is
/// never called gone.
fn builder_is_gone(proc_root: &Path, mark: &str) -> bool {
    let mut parts = mark.split('-');
    let Some(pid) = parts.next().and_then(|p| p.parse::<i32>().ok()) else {
        return false;
    };
    if pid <= 0 {
        return false;
    }
    let start = parts.next().and_then(|s| s.parse::<u64>().ok());
    let has_seq = parts.next().is_some();
    match start {
        // A start time 0 means it could not be read: go by the pid alone.
        Some(start_time) if has_seq && start_time != 0 => {
            !state::is_alive(proc_root, state::ProcId { pid, start_time })
        }
        _ => !proc_root.join(pid.to_string()).exists(),
    }
}

/// The mark of a temporary name: `.NAME.tmp-MARK` or `NAME.tmp-MARK`, or `.tmp-MARK`.
fn tmp_mark(name: &str) -> Option<&str> {
    let at = name.rfind(TMP_MARK)?;
    Some(&name[at + TMP_MARK.len()..])
}

/// Removes temporary directories left by builds of `name` whose builder has died
/// (a crash, or a kill during the first start).
fn remove_stale_tmp(parent: &Path, name: &str) {
    let prefix = format!(".{name}{TMP_MARK}");
    let Ok(entries) = fs::read_dir(parent) else {
        return;
    };
    for entry in entries.flatten() {
        let file_name = entry.file_name();
        if file_name.to_str().is_some_and(|n| n.starts_with(&prefix)) {
            let _ = remove_if_abandoned(&entry.path(), Path::new("/proc"));
        }
    }
}

/// Removes `path`, a temporary directory or file, when its builder is gone and (for a
/// directory) nobody holds a lock on it. Ok(true) when removed.
fn remove_if_abandoned(path: &Path, proc_root: &Path) -> Result<bool> {
    let Some(name) = path.file_name().and_then(OsStr::to_str) else {
        return Ok(false);
    };
    let Some(mark) = tmp_mark(name) else {
        return Ok(false);
    };
    if !builder_is_gone(proc_root, mark) {
        return Ok(false);
    }
    let meta = match fs::symlink_metadata(path) {
        Ok(m) => m,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(false),
        Err(e) => return Err(Error::io(format!("cannot stat {}", path.display()))(e)),
    };
    if !meta.is_dir() {
        fs::remove_file(path).map_err(Error::io(format!("cannot remove {}", path.display())))?;
        return Ok(true);
    }
    // A process that inherited the builder's descriptor (or reuses its pid and start
    // time, which cannot be) still holds the lock: leave it.
    let Some(_lock) = try_lock_exclusive(path)? else {
        return Ok(false);
    };
    remove_tree(path)?;
    Ok(true)
}

/// What [`remove_abandoned`] did.
#[derive(Debug, Default)]
pub struct Removed {
    /// Partial build directories and stale temporary files removed.
    pub paths: Vec<PathBuf>,
    /// What could not be removed, with why.
    pub errors: Vec<String>,
}

/// Removes, in each of `dirs`, the build directories (`.NAME.tmp-...`) and temporary
/// files (`NAME.tmp-...`) of processes that have ended: what a build killed half-way,
/// or a failed write, left. A build under way is never touched.
pub(crate) fn remove_abandoned(dirs: &[PathBuf], proc_root: &Path) -> Removed {
    let mut out = Removed::default();
    for dir in dirs {
        let Ok(entries) = fs::read_dir(dir) else {
            continue;
        };
        for entry in entries.flatten() {
            let path = entry.path();
            match remove_if_abandoned(&path, proc_root) {
                Ok(true) => out.paths.push(path),
                Ok(false) => {}
                Err(e) => out.errors.push(format!("{e:#}")),
            }
        }
    }
    out
}

/// The directories of the cache where builds and temporary files happen.
pub(crate) fn build_dirs(cache_dir: &Path) -> Vec<PathBuf> {
    vec![
        cache_dir.to_path_buf(),
        cache_dir.join("images"),
        cache_dir.join("images").join("by-stat"),
    ]
}

/// The cached trees: `rootfs-*` and `tools-*` in the cache directory, `images/<sha256>`.
pub(crate) fn entries(cache_dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let dirs = |dir: &Path, keep: &dyn Fn(&str) -> bool| -> Vec<PathBuf> {
        fs::read_dir(dir)
            .map(|rd| {
                rd.flatten()
                    .filter(|e| e.file_type().is_ok_and(|t| t.is_dir()))
                    .filter(|e| e.file_name().to_str().is_some_and(keep))
                    .map(|e| e.path())
                    .collect()
            })
            .unwrap_or_default()
    };
    out.extend(dirs(cache_dir, &|n| {
        n.starts_with("rootfs-") || n.starts_with("tools-")
    }));
    out.extend(dirs(&cache_dir.join("images"), &|n| {
        n.len() == 64 && n.bytes().all(|b| b.is_ascii_hexdigit())
    }));
    out.sort();
    out
}

/// Bytes a tree takes on disk (st_blocks), never following symlinks.
pub(crate) fn disk_usage(path: &Path) -> u64 {
    let Ok(meta) = fs::symlink_metadata(path) else {
        return 0;
    };
    let mut total = meta.blocks() * 512;
    if meta.is_dir()
        && let Ok(entries) = fs::read_dir(path)
    {
        for e in entries.flatten() {
            total += disk_usage(&e.path());
        }
    }
    total
}

/// What [`evict`] found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Eviction {
    /// Removed; it took this many bytes.
    Removed(u64),
    /// A process holds it (a session, a build) or a mount table names it: kept.
    InUse,
}

/// Removes the cached tree `dir` unless it is in use. Under an exclusive lock it is first
/// renamed to a temporary name (a crash half-way leaves a partial tree that
/// [`remove_abandoned`] takes, never a damaged tree under its final name), then removed.
pub(crate) fn evict(dir: &Path, proc_root: &Path) -> Result<Eviction> {
    let Some(lock) = try_lock_exclusive(dir)? else {
        return Ok(Eviction::InUse);
    };
    if mounted_anywhere(proc_root, dir) {
        return Ok(Eviction::InUse);
    }
    let parent = dir
        .parent()
        .ok_or_else(|| Error::Refused(format!("{} has no parent", dir.display())))?;
    let name = dir
        .file_name()
        .and_then(OsStr::to_str)
        .ok_or_else(|| Error::Refused(format!("{} has no UTF-8 name", dir.display())))?;
    let doomed = parent.join(format!(".{name}{TMP_MARK}{}", builder_mark()));
    let bytes = disk_usage(dir);
    fs::rename(dir, &doomed).map_err(Error::io(format!(
        "cannot rename {} to {}",
        dir.display(),
        doomed.display()
    )))?;
    // Gone from its name: a process waiting for the lock now finds that, and builds anew
    // rather than wait for the removal. The new name carries our mark, so nobody else
    // removes it while we do.
    drop(lock);
    remove_tree(&doomed)?;
    Ok(Eviction::Removed(bytes))
}

/// Evicts least recently used trees (by the mtime [`build_atomically`] sets at each use)
/// until the cache takes at most `cap` bytes; trees in use stay. Returns what went.
pub(crate) fn trim(cache_dir: &Path, cap: u64, proc_root: &Path) -> Vec<(PathBuf, u64)> {
    let mut sized: Vec<(PathBuf, u64, SystemTime)> = entries(cache_dir)
        .into_iter()
        .map(|p| {
            let used = fs::metadata(&p)
                .and_then(|m| m.modified())
                .unwrap_or(SystemTime::UNIX_EPOCH);
            let bytes = disk_usage(&p);
            (p, bytes, used)
        })
        .collect();
    let mut total: u64 = sized.iter().map(|e| e.1).sum();
    sized.sort_by_key(|e| e.2);
    let mut gone = Vec::new();
    for (path, bytes, _) in sized {
        if total <= cap {
            break;
        }
        if let Ok(Eviction::Removed(_)) = evict(&path, proc_root) {
            total = total.saturating_sub(bytes);
            gone.push((path, bytes));
        }
    }
    gone
}

/// Whether any mount table we can see names `dir` (a container's overlayfs lists its
/// lower layers in its mount options).
fn mounted_anywhere(proc_root: &Path, dir: &Path) -> bool {
    let Some(needle) = dir.to_str() else {
        return true;
    };
    all_mount_tables(proc_root).contains(needle)
}

/// The mount tables of every mount namespace we can see, concatenated (one read per
/// namespace, not per process).
pub(crate) fn all_mount_tables(proc_root: &Path) -> String {
    let mut seen = std::collections::HashSet::new();
    let mut all = String::new();
    let Ok(entries) = fs::read_dir(proc_root) else {
        return all;
    };
    for entry in entries.flatten() {
        let name = entry.file_name();
        if !name
            .to_str()
            .is_some_and(|n| n.bytes().all(|b| b.is_ascii_digit()))
        {
            continue;
        }
        let ns = fs::read_link(entry.path().join("ns/mnt")).ok();
        if let Some(ns) = &ns
            && !seen.insert(ns.clone())
        {
            continue;
        }
        if let Ok(table) = fs::read_to_string(entry.path().join("mountinfo")) {
            all.push_str(&table);
        }
    }
    all
}

/// `rm -rf` that also works as non-root on trees holding read-only directories (images
/// keep their modes, and a 0555 directory refuses the removal of its entries).
/// Never follows symlinks.
pub(crate) fn remove_tree(path: &Path) -> Result<()> {
    match fs::remove_dir_all(path) {
        Ok(()) => return Ok(()),
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(()),
        Err(e) if e.kind() == io::ErrorKind::PermissionDenied => {}
        Err(e) => return Err(Error::io(format!("cannot remove {}", path.display()))(e)),
    }
    make_dirs_writable(path);
    fs::remove_dir_all(path).map_err(Error::io(format!("cannot remove {}", path.display())))
}

fn make_dirs_writable(dir: &Path) {
    let Ok(meta) = fs::symlink_metadata(dir) else {
        return;
    };
    if !meta.is_dir() {
        return;
    }
    let _ = fs::set_permissions(dir, fs::Permissions::from_mode(0o700));
    if let Ok(entries) = fs::read_dir(dir) {
        for entry in entries.flatten() {
            make_dirs_writable(&entry.path());
        }
    }
}

/// Lowercase hex of a SHA-256 digest.
pub(crate) fn hex(digest: &[u8]) -> String {
    digest.iter().map(|b| format!("{b:02x}")).collect()
}

/// SHA-256 of a file's contents, streamed.
pub(crate) fn sha256_file(path: &Path) -> Result<String> {
    let mut file =
        fs::File::open(path).map_err(Error::io(format!("cannot open {}", path.display())))?;
    let mut hasher = Sha256::new();
    io::copy(&mut file, &mut hasher)
        .map_err(Error::io(format!("cannot read {}", path.display())))?;
    Ok(hex(&hasher.finalize()))
}

/// Rejects names that could leave the cache directory when joined to it.
pub(crate) fn check_plain_name(name: &str) -> Result<()> {
    if name.is_empty() || name.contains('/') || name == "." || name == ".." {
        return Err(Error::Refused(format!("invalid cache entry name {name:?}")));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use anyhow::bail;

    /// A build step's result, as the real builders (anyhow at this level) give it.
    type R = anyhow::Result<()>;

    #[test]
    fn builds_once_and_reuses() {
        let t = tempfile::tempdir().unwrap();
        let target = t.path().join("cache/thing-1");
        let mut calls = 0;
        let got = build_atomically(&target, |tmp| -> R {
            calls += 1;
            fs::write(tmp.join("a"), "1")?;
            Ok(())
        })
        .unwrap();
        assert_eq!(got, target);
        assert_eq!(fs::read_to_string(target.join("a")).unwrap(), "1");
        let again = build_atomically(&target, |_| -> R { panic!("must not rebuild") }).unwrap();
        assert_eq!(again, target);
        assert_eq!(calls, 1);
        // Nothing but the final directory is left beside it.
        let names: Vec<_> = fs::read_dir(t.path().join("cache"))
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .collect();
        assert_eq!(names, vec![std::ffi::OsString::from("thing-1")]);
    }

    #[test]
    fn failed_build_leaves_nothing() {
        let t = tempfile::tempdir().unwrap();
        let target = t.path().join("thing");
        let err = build_atomically(&target, |tmp| -> R {
            fs::create_dir(tmp.join("sub"))?;
            fs::set_permissions(tmp.join("sub"), fs::Permissions::from_mode(0o555))?;
            bail!("boom")
        })
        .unwrap_err();
        assert!(err.to_string().contains("boom"));
        assert_eq!(fs::read_dir(t.path()).unwrap().count(), 0);
    }

    #[test]
    fn stale_tmp_of_dead_process_is_removed() {
        let t = tempfile::tempdir().unwrap();
        // pid_max is at most 2^22, so this pid cannot be alive.
        let stale = t.path().join(".thing.tmp-99999999-1");
        fs::create_dir(&stale).unwrap();
        let live = t
            .path()
            .join(format!(".thing.tmp-{}-live", std::process::id()));
        fs::create_dir(&live).unwrap();
        build_atomically(&t.path().join("thing"), |_| -> R { Ok(()) }).unwrap();
        assert!(!stale.exists());
        assert!(live.exists(), "a live process's build must not be touched");
    }

    #[test]
    fn concurrent_builders_agree() {
        let t = tempfile::tempdir().unwrap();
        let target = t.path().join("thing");
        let handles: Vec<_> = (0..4)
            .map(|i| {
                let target = target.clone();
                std::thread::spawn(move || {
                    build_atomically(&target, |tmp| -> R {
                        std::thread::sleep(std::time::Duration::from_millis(20));
                        fs::write(tmp.join("who"), format!("{i}"))?;
                        Ok(())
                    })
                    .unwrap()
                })
            })
            .collect();
        for h in handles {
            assert_eq!(h.join().unwrap(), target);
        }
        let who: u32 = fs::read_to_string(target.join("who"))
            .unwrap()
            .parse()
            .unwrap();
        assert!(who < 4);
        assert_eq!(fs::read_dir(t.path()).unwrap().count(), 1);
    }

    fn set_mtime(path: &Path, secs: i64) {
        let t = nix::sys::time::TimeSpec::new(secs, 0);
        nix::sys::stat::utimensat(
            nix::fcntl::AT_FDCWD,
            path,
            &t,
            &t,
            nix::sys::stat::UtimensatFlags::NoFollowSymlink,
        )
        .unwrap();
    }

    /// Issue 11, item 13: a partial build whose builder is dead (its pid and start time
    /// name no process) is removed and reported, with a stale temporary file; a build
    /// under way (this process's mark, or a lock held on it) is not.
    #[test]
    fn abandoned_builds_and_temp_files_are_removed_live_ones_kept() {
        let t = tempfile::tempdir().unwrap();
        let images = t.path().join("images");
        fs::create_dir_all(images.join("by-stat")).unwrap();
        let proc_root = Path::new("/proc");
        // pid_max is at most 2^22, so this pid cannot be alive.
        let dead = images.join(format!(".{}.tmp-99999999-12345-0", "a".repeat(64)));
        fs::create_dir_all(dead.join("staging/usr/bin")).unwrap();
        fs::write(dead.join("staging/usr/bin/half"), "half a file").unwrap();
        fs::set_permissions(dead.join("staging/usr"), fs::Permissions::from_mode(0o555)).unwrap();
        // Our own pid with another start time: a reused pid, the builder is gone.
        let me = std::process::id();
        let reused = t
            .path()
            .join(format!(".rootfs-0123456789abcdef.tmp-{me}-1-0"));
        fs::create_dir(&reused).unwrap();
        let tmp_file = images.join("by-stat").join(".tmp-99999999-ThreadId(1)");
        std::os::unix::fs::symlink("../x", &tmp_file).unwrap();
        let idx_tmp = t.path().join("default-rootfs.idx.tmp-99999999-3");
        fs::write(&idx_tmp, "x").unwrap();
        // Live: our mark as builder_mark() writes it.
        let live = t.path().join(format!(".rootfs-1.tmp-{}", builder_mark()));
        fs::create_dir(&live).unwrap();
        // A dead mark, but a lock held (a process that inherited the descriptor).
        let locked = images.join(format!(".{}.tmp-99999999-1-0", "b".repeat(64)));
        fs::create_dir(&locked).unwrap();
        let lock = open_dir(&locked).unwrap();
        flock(&lock, libc::LOCK_SH, &locked).unwrap();
        // A finished tree is not a partial one.
        let done = t.path().join("rootfs-0123456789abcdef");
        fs::create_dir(&done).unwrap();

        let removed = remove_abandoned(&build_dirs(t.path()), proc_root);
        assert!(removed.errors.is_empty(), "{:?}", removed.errors);
        let mut got = removed.paths.clone();
        got.sort();
        let mut want = vec![
            dead.clone(),
            reused.clone(),
            tmp_file.clone(),
            idx_tmp.clone(),
        ];
        want.sort();
        assert_eq!(got, want);
        for p in &want {
            assert!(fs::symlink_metadata(p).is_err(), "{} left", p.display());
        }
        assert!(live.exists() && locked.exists() && done.exists());
        drop(lock);
        let removed = remove_abandoned(&build_dirs(t.path()), proc_root);
        assert_eq!(removed.paths, vec![locked.clone()], "the lock is gone now");
        assert!(live.exists());
    }

    /// Issue 11, item 12: eviction leaves trees in use (a shared lock held, as every
    /// process that uses one holds it) and trims the rest, least recently used first,
    /// down to the cap.
    #[test]
    fn trim_evicts_least_recently_used_and_keeps_what_is_in_use() {
        let t = tempfile::tempdir().unwrap();
        let cache = t.path();
        let proc_root = Path::new("/proc");
        let img = |c: char| cache.join("images").join(c.to_string().repeat(64));
        let make = |dir: &Path, kib: usize, age: i64| {
            fs::create_dir_all(dir.join("layers/0")).unwrap();
            fs::write(dir.join("layers/0/data"), vec![1u8; kib << 10]).unwrap();
            set_mtime(dir, 1_700_000_000 + age);
        };
        let (a, b, c, d) = (
            img('a'),
            img('b'),
            img('c'),
            cache.join("rootfs-0123456789abcdef"),
        );
        make(&a, 400, 1); // oldest
        make(&b, 400, 2);
        make(&c, 400, 3);
        make(&d, 400, 4); // newest
        fs::create_dir_all(cache.join("images/by-stat")).unwrap();
        assert_eq!(
            entries(cache),
            vec![a.clone(), b.clone(), c.clone(), d.clone()]
        );
        let each = disk_usage(&a);
        assert!(each >= 400 << 10, "{each}");
        // `a` is in use by someone: it stays, and `b` and `c` go instead.
        let user = open_dir(&a).unwrap();
        flock(&user, libc::LOCK_SH, &a).unwrap();
        assert_eq!(evict(&a, proc_root).unwrap(), Eviction::InUse);
        let gone = trim(cache, 2 * each, proc_root);
        let gone: Vec<_> = gone.into_iter().map(|g| g.0).collect();
        assert_eq!(gone, vec![b.clone(), c.clone()]);
        assert!(a.exists() && d.exists() && !b.exists() && !c.exists());
        // Nothing else is left beside them (no renamed-away tree).
        let names: Vec<_> = fs::read_dir(cache.join("images"))
            .unwrap()
            .map(|e| e.unwrap().file_name().into_string().unwrap())
            .collect();
        assert_eq!(names.len(), 2, "{names:?}");
        drop(user);
        assert!(matches!(evict(&a, proc_root).unwrap(), Eviction::Removed(n) if n >= 400 << 10));
        assert!(!a.exists());
    }

    /// A tree this process built or found stays locked while the process lives.
    #[test]
    fn used_trees_are_locked_for_the_life_of_the_process() {
        let t = tempfile::tempdir().unwrap();
        let target = t.path().join("images").join("e".repeat(64));
        build_atomically(&target, |tmp| -> R {
            fs::write(tmp.join("a"), "1")?;
            Ok(())
        })
        .unwrap();
        assert_eq!(evict(&target, Path::new("/proc")).unwrap(), Eviction::InUse);
        assert!(target.join("a").exists());
    }
}
