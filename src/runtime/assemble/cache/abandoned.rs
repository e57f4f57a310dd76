//! Builds killed half-way: the builder's mark in a temporary name (pid and start time),
//! and the removal of what a builder that is gone left behind.

use std::ffi::OsStr;
use std::fs;
use std::io;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

use crate::runtime::state;

use super::files::remove_tree;
use super::lock::try_lock_exclusive;
use super::{Error, Result, TMP_MARK};

/// `<pid>-<start time>-<seq>`: who builds (see [`builder_is_gone`]), and a per-process
/// counter (threads of one process).
pub(super) fn builder_mark() -> String {
    static SEQ: AtomicU64 = AtomicU64::new(0);
    let seq = SEQ.fetch_add(1, Ordering::Relaxed);
    let pid = std::process::id() as i32;
    let start = state::proc_id(Path::new("/proc"), pid).map_or(0, |id| id.start_time);
    format!("{pid}-{start}-{seq}")
}

/// Whether the process named by a temporary name's mark (`<pid>-<start time>-<seq>`, or
/// the older `<pid>-<seq>` without a start time) has ended. A name we cannot read is
/// never called gone.
pub(super) fn builder_is_gone(proc_root: &Path, mark: &str) -> bool {
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
pub(super) fn tmp_mark(name: &str) -> Option<&str> {
    let at = name.rfind(TMP_MARK)?;
    Some(&name[at + TMP_MARK.len()..])
}

/// Removes temporary directories left by builds of `name` whose builder has died
/// (a crash, or a kill during the first start).
pub(super) fn remove_stale_tmp(parent: &Path, name: &str) {
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
pub(super) fn remove_if_abandoned(path: &Path, proc_root: &Path) -> Result<bool> {
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
