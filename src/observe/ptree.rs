//! The processes of a container as a tree: each with its host pid beside the pid it has inside
//! its pid namespace, its state (zombies included), its uids and its privileges.
//!
//! Sources, all under the proc root (proc(5)):
//! - `/proc/<pid>/stat`: comm, state, ppid, start time. Parsed by `procfs`, which copes with a
//!   comm containing spaces or parentheses.
//! - `/proc/<pid>/status`: `NSpid`, `Uid`, `Cap*`, `NoNewPrivs`, `Seccomp`. Parsed here, key by
//!   key, because a field missing on an older kernel must not lose the others.
//! - `/proc/<pid>/cmdline`: empty for zombies and kernel threads.
//! - `/proc/<pid>/uid_map`, `gid_map`: how ids inside the process's user namespace map to ids
//!   in the *reader's* user namespace (user_namespaces(7)). The `Uid:` line of `status` shows
//!   ids as the reader sees them, so a process that is root inside a user namespace shows the
//!   unprivileged host uid there; the map is what relates the two.
//!
//! Children are found through `/proc/<pid>/task/<tid>/children` when the kernel has it
//! (CONFIG_PROC_CHILDREN), and otherwise by scanning every `/proc/<pid>/stat` for its ppid.
//! proc(5) warns the children file is only exact when the children are stopped; a child
//! forked during a read shows up on the next sample, which is all an observer needs.
//!
//! One file per source beside this one: `stat`, `status`, `id_map`, `children`, and `proc`
//! (one process read whole); the walk over them, [`tree`], is here.

mod children;
mod id_map;
mod proc;
mod stat;
mod status;
#[cfg(test)]
mod tests;

use std::collections::HashSet;
use std::path::Path;

use super::error::{Error, Result};

pub use children::parse_children;
use children::{ChildSource, children_from_files, scan_ppids};
pub use id_map::{IdMapRange, map_to_inside, parse_id_map};
pub use proc::{Proc, parse_cmdline, read_proc};
pub use stat::{ProcState, StatLine, parse_stat};
pub use status::{SeccompMode, Status, cap_names, parse_status};

/// One process in a depth-first walk: `depth` 0 is the root pid.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct ProcNode {
    pub depth: usize,
    pub proc: Proc,
}

/// The processes under `root_pid` (itself included, at depth 0), depth-first with children in
/// pid order. A descendant that exits during the walk is left out; a pid reused by a process
/// that is not a child of the expected parent is left out too. Fails if the root itself cannot
/// be read (e.g. it has exited), or on an unexpected error, with the path.
pub fn tree(proc_root: &Path, root_pid: i32) -> Result<Vec<ProcNode>> {
    let root = read_proc(proc_root, root_pid).map_err(|e| {
        if e.is_vanished() {
            Error::Gone {
                pid: root_pid,
                err: Box::new(e),
            }
        } else {
            e
        }
    })?;
    let probe = proc_root
        .join(root_pid.to_string())
        .join("task")
        .join(root_pid.to_string())
        .join("children");
    let source = match probe.try_exists() {
        Ok(true) => ChildSource::ChildrenFiles,
        Ok(false) => ChildSource::Scanned(scan_ppids(proc_root)?),
        Err(err) => {
            return Err(Error::Io {
                op: "checking",
                path: probe,
                err,
            });
        }
    };
    let children_of = |pid: i32| -> Result<Vec<i32>> {
        match &source {
            ChildSource::ChildrenFiles => children_from_files(proc_root, pid),
            ChildSource::Scanned(map) => Ok(map.get(&pid).cloned().unwrap_or_default()),
        }
    };

    let mut out = Vec::new();
    let mut seen = HashSet::from([root_pid]);
    // (pid, expected parent, depth); pushed in reverse so the smallest pid is visited first.
    let mut stack: Vec<(i32, i32, usize)> = children_of(root_pid)?
        .into_iter()
        .rev()
        .map(|c| (c, root_pid, 1))
        .collect();
    out.push(ProcNode {
        depth: 0,
        proc: root,
    });
    while let Some((pid, parent, depth)) = stack.pop() {
        if !seen.insert(pid) {
            continue;
        }
        let proc = match read_proc(proc_root, pid) {
            Ok(p) => p,
            Err(e) if e.is_vanished() => continue,
            Err(e) => return Err(e),
        };
        if proc.ppid != parent {
            continue;
        }
        stack.extend(
            children_of(pid)?
                .into_iter()
                .rev()
                .map(|c| (c, pid, depth + 1)),
        );
        out.push(ProcNode { depth, proc });
    }
    Ok(out)
}
