//! The cache's entries, their size on disk, and evicting them (least recently used first
//! under the size cap), never a tree in use or named by any mount table.

use std::ffi::OsStr;
use std::fs;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::time::SystemTime;

use super::abandoned::builder_mark;
use super::files::remove_tree;
use super::lock::try_lock_exclusive;
use super::{Error, Result, TMP_MARK};

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
pub(super) fn mounted_anywhere(proc_root: &Path, dir: &Path) -> bool {
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
