//! One immutable sample of everything the panes show about a container: its namespace
//! links, its processes, its mount table and its cgroup's memory. An observer thread
//! takes these at a steady rate; the UI compares consecutive ones to highlight changes.

use std::path::Path;
use std::time::Duration;

use crate::runtime::cgroup::{Cgroup, MemoryUsage};

use super::mountinfo::{self, Mount};
use super::namespaces::{self, NsLink};
use super::ptree::{self, ProcNode};

/// What to sample: the subject's pid (it changes at the PID step), the root of the
/// process tree to show, and the cgroup once the controller made one.
#[derive(Debug, Clone, Default)]
pub struct Target {
    pub subject: i32,
    pub tree_root: i32,
    pub cgroup: Option<Cgroup>,
    /// In a lesson made by hand (`observe = "host-shell"`): the pid below which the
    /// learner's newest container is looked for again at every sample
    /// ([`super::by_hand::newest`]); once there is one, it replaces the three above.
    pub learner_below: Option<i32>,
}

impl Target {
    /// The target as it stands now: the learner's newest container when following one
    /// and it exists (its PID 1, the tree from the process that made it, its memory
    /// cgroup when it is one of ours), else as set.
    pub fn resolve(&self, proc_root: &Path) -> Target {
        let Some(root) = self.learner_below else {
            return self.clone();
        };
        match super::by_hand::newest(proc_root, root, std::process::id() as i32) {
            Some(l) => Target {
                subject: l.pid1,
                tree_root: l.first,
                cgroup: super::by_hand::memory_of(proc_root, l.pid1),
                learner_below: self.learner_below,
            },
            None => self.clone(),
        }
    }
}

#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Snapshot {
    /// Time since the session started, for the memory graph's x axis.
    pub at: Duration,
    pub subject: i32,
    pub ns: Vec<NsLink>,
    pub tree: Vec<ProcNode>,
    /// Why not, when unreadable (the subject is gone): the text and its errno
    /// (recorded as the text alone, as before).
    pub mounts: Result<Vec<Mount>, super::error::Unread>,
    pub memory: Option<MemoryUsage>,
    pub pids_current: Option<u64>,
}

/// An empty sample: nothing seen yet (the mount table read as empty, not failed).
impl Default for Snapshot {
    fn default() -> Self {
        Snapshot {
            at: Duration::ZERO,
            subject: 0,
            ns: Vec::new(),
            tree: Vec::new(),
            mounts: Ok(Vec::new()),
            memory: None,
            pids_current: None,
        }
    }
}

impl Snapshot {
    /// Whether anything a pane shows differs from `other` (the time aside).
    pub fn same_view(&self, other: &Snapshot) -> bool {
        self.subject == other.subject
            && self.ns == other.ns
            && self.tree == other.tree
            && self.mounts == other.mounts
            && self.memory == other.memory
            && self.pids_current == other.pids_current
    }
}

/// Reads one snapshot. Never fails as a whole: each part says what it could not read.
pub fn sample(proc_root: &Path, target: &Target, at: Duration) -> Snapshot {
    let target = &target.resolve(proc_root);
    let tree = ptree::tree(proc_root, target.tree_root).unwrap_or_default();
    let mounts =
        mountinfo::read_mountinfo(proc_root, target.subject).map_err(super::error::Unread::from);
    let (memory, pids_current) = match &target.cgroup {
        Some(cg) => (cg.memory().ok(), cg.pids_current().ok().flatten()),
        None => (None, None),
    };
    Snapshot {
        at,
        subject: target.subject,
        ns: namespaces::read_links(proc_root, target.subject),
        tree,
        mounts,
        memory,
        pids_current,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn samples_our_own_process() {
        let me = std::process::id() as i32;
        let t = Target {
            subject: me,
            tree_root: me,
            cgroup: None,
            learner_below: None,
        };
        let s = sample(Path::new("/proc"), &t, Duration::ZERO);
        assert_eq!(s.ns.len(), 10);
        assert!(s.ns.iter().any(|l| l.inode.is_some()));
        assert_eq!(s.tree.first().map(|n| n.proc.pid), Some(me));
        assert!(s.mounts.as_ref().is_ok_and(|m| !m.is_empty()));
        let later = sample(Path::new("/proc"), &t, Duration::from_secs(1));
        assert!(s.same_view(&later) || s.tree != later.tree);
    }

    #[test]
    fn a_vanished_subject_is_a_snapshot_not_an_error() {
        let t = Target {
            subject: i32::MAX - 1,
            tree_root: i32::MAX - 1,
            cgroup: None,
            learner_below: None,
        };
        let s = sample(Path::new("/proc"), &t, Duration::ZERO);
        assert!(s.tree.is_empty());
        assert!(s.mounts.is_err());
        assert!(s.ns.iter().all(|l| l.inode.is_none()));
    }
}
