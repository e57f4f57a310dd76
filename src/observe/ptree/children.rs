//! The children of a process: from `/proc/<pid>/task/<tid>/children` when the kernel has it
//! (CONFIG_PROC_CHILDREN), otherwise from one scan of every `/proc/<pid>/stat`.

use std::collections::HashMap;
use std::path::Path;

use crate::observe::error::{Error, Result};
use crate::observe::fsread::is_vanished;

use super::parse_stat;

/// Parses a `children` file: space-separated pids.
pub fn parse_children(text: &str) -> Vec<i32> {
    text.split_whitespace()
        .filter_map(|p| p.parse().ok())
        .collect()
}

/// Where children come from during one walk.
pub(super) enum ChildSource {
    /// `/proc/<pid>/task/<tid>/children` exists (CONFIG_PROC_CHILDREN).
    ChildrenFiles,
    /// Parent pid -> child pids, from one scan of every `/proc/<pid>/stat`.
    Scanned(HashMap<i32, Vec<i32>>),
}

pub(super) fn is_pid_dir(name: &std::ffi::OsStr) -> Option<i32> {
    name.to_str()?.parse().ok()
}

/// Every process's ppid, from one pass over `/proc/*/stat`. Processes that exit during the
/// scan are skipped.
pub(super) fn scan_ppids(proc_root: &Path) -> Result<HashMap<i32, Vec<i32>>> {
    let mut children: HashMap<i32, Vec<i32>> = HashMap::new();
    let entries = std::fs::read_dir(proc_root).map_err(|e| Error::list(proc_root, e))?;
    for entry in entries {
        let entry = entry.map_err(|e| Error::list(proc_root, e))?;
        let Some(pid) = is_pid_dir(&entry.file_name()) else {
            continue;
        };
        let path = entry.path().join("stat");
        let text = match std::fs::read_to_string(&path) {
            Ok(t) => t,
            Err(e) if is_vanished(&e) => continue,
            Err(e) => return Err(Error::read(&path, e)),
        };
        let stat = parse_stat(&text).map_err(|e| Error::parse(&path, e))?;
        children.entry(stat.ppid).or_default().push(pid);
    }
    for list in children.values_mut() {
        list.sort_unstable();
    }
    Ok(children)
}

/// The children of `pid` as the union over its threads' `children` files: a child belongs to
/// the thread that forked it.
pub(super) fn children_from_files(proc_root: &Path, pid: i32) -> Result<Vec<i32>> {
    let task_dir = proc_root.join(pid.to_string()).join("task");
    let tasks = match std::fs::read_dir(&task_dir) {
        Ok(t) => t,
        Err(e) if is_vanished(&e) => return Ok(Vec::new()),
        Err(e) => return Err(Error::list(&task_dir, e)),
    };
    let mut all = Vec::new();
    for task in tasks {
        let task = task.map_err(|e| Error::list(&task_dir, e))?;
        let path = task.path().join("children");
        match std::fs::read_to_string(&path) {
            Ok(text) => all.extend(parse_children(&text)),
            // A thread that exits mid-walk takes its file with it.
            Err(e) if is_vanished(&e) => {}
            Err(e) => return Err(Error::read(&path, e)),
        }
    }
    all.sort_unstable();
    all.dedup();
    Ok(all)
}
