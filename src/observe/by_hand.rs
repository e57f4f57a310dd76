//! The container a learner made by hand in the host shell (`unshare ...`), found
//! again on every look: the panes and the checks of an `observe = "host-shell"`
//! lesson follow it, not the container underhood made.
//!
//! The rule is the container picker's (`observe::containers`): a process whose
//! namespace set differs from its reference's (the host's: ours, since the host shell
//! is a child of ours) and whose parent's does not is a container's *first* process
//! (`unshare` itself, which called unshare(2) and forked). Only processes below `root` count (the underhood process:
//! the host shell is its child, and as a subreaper, see `runtime::start`, it adopts
//! what the learner's commands leave behind), and of several the newest wins (by start
//! time): the one the learner made last.
//!
//! `unshare --pid --fork` leaves the first process in the host's PID namespace, with
//! only its `pid_for_children` new (pid_namespaces(7)): its child is the container's
//! PID 1, which the panes and the checks then look at.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use crate::runtime::cgroup::{Cgroup, Controller, Host, Version};
use crate::runtime::paths::Paths;

use super::containers::{self, Container, NsSet, ProcEntry, Reference};
use super::namespaces::{NsFile, NsLink, read_links};
use super::ptree;
use crate::ns::Ns;

/// Marks the processes a check starts (`nsenter` into the learner's container): they
/// join its namespaces for a moment and must not be taken for a newer container.
pub const PROBE_MARK: &str = "UH_PROBE=1";

/// The learner's container as the host sees it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Learner {
    /// The process that made it (`unshare`): its namespaces differ from the host's and
    /// its parent's do not.
    pub first: i32,
    /// Its PID 1 (the first process's child in the new PID namespace), or the first
    /// process itself when it made no PID namespace.
    pub pid1: i32,
}

fn environ_has(proc_root: &Path, pid: i32, entry: &str) -> bool {
    std::fs::read(proc_root.join(pid.to_string()).join("environ"))
        .map(|b| b.split(|c| *c == 0).any(|e| e == entry.as_bytes()))
        .unwrap_or(false)
}

/// The newest container at or below `root` whose namespaces differ from
/// `reference`'s: the picker's rule ([`containers::first_processes`],
/// [`containers::newest_under`]) over `root`'s process tree only (a handful of
/// processes, not the whole host, at every sample); `None` when the learner has made
/// none (or it is gone).
pub fn newest(proc_root: &Path, root: i32, reference: i32) -> Option<Learner> {
    let nodes = ptree::tree(proc_root, root).ok()?;
    let links: HashMap<i32, Vec<NsLink>> = nodes
        .iter()
        .map(|n| (n.proc.pid, read_links(proc_root, n.proc.pid)))
        .collect();
    let entries: Vec<ProcEntry> = nodes
        .iter()
        .filter(|n| !n.proc.is_zombie())
        .map(|n| ProcEntry {
            pid: n.proc.pid,
            ppid: n.proc.ppid,
            comm: n.proc.comm.clone(),
            start_time: n.proc.start_time,
            cmdline: n.proc.cmdline.clone(),
            ns: NsSet::from_links(links.get(&n.proc.pid).map_or(&[][..], |l| l)),
            cgroup: Vec::new(),
        })
        .collect();
    let set = NsSet::from_links(&read_links(proc_root, reference));
    let reference = Reference::new(reference, set.clone());
    let found: Vec<Container> = containers::first_processes(&entries, &reference)
        .into_iter()
        // A check's own nsenter joins the container for a moment: not the learner's.
        .filter(|e| !environ_has(proc_root, e.pid, PROBE_MARK))
        .map(|e| Container::of(e, containers::Maker::Unshare, &set))
        .collect();
    let first = containers::newest_under(&found, &entries, root)?.pid;
    // With `--pid --fork` the first process's children are born in a new PID
    // namespace (its pid_for_children): the one there is the container's PID 1.
    let own = links.get(&first)?;
    let inode = |l: &[NsLink], k: NsFile| l.iter().find(|x| x.kind == k).and_then(|x| x.inode);
    let children_ns = inode(own, NsFile::PID_FOR_CHILDREN)
        .filter(|c| Some(*c) != inode(own, NsFile::of(Ns::Pid)));
    let pid1 = children_ns
        .and_then(|want| {
            entries.iter().find(|e| {
                e.ppid == first
                    && links
                        .get(&e.pid)
                        .is_some_and(|l| inode(l, NsFile::of(Ns::Pid)) == Some(want))
            })
        })
        .map_or(first, |e| e.pid);
    Some(Learner { first, pid1 })
}

/// The directory of `pid`'s memory cgroup, from `/proc/<pid>/cgroup` (cgroups(7)): the
/// v1 line naming `memory`, else the v2 line `0::PATH`, joined to `mount`, the memory
/// hierarchy's mount point.
pub fn memory_cgroup(proc_root: &Path, pid: i32, mount: &Path, v1: bool) -> Option<PathBuf> {
    let text = std::fs::read_to_string(proc_root.join(pid.to_string()).join("cgroup")).ok()?;
    memory_cgroup_in(&text, mount, v1)
}

/// [`memory_cgroup`] on the text of a `/proc/<pid>/cgroup` file.
pub fn memory_cgroup_in(text: &str, mount: &Path, v1: bool) -> Option<PathBuf> {
    text.lines().find_map(|l| {
        let mut f = l.splitn(3, ':');
        let (id, controllers, path) = (f.next()?, f.next()?, f.next()?);
        let ours = if v1 {
            controllers.split(',').any(|c| c == "memory")
        } else {
            id == "0" && controllers.is_empty()
        };
        ours.then(|| mount.join(path.trim_start_matches('/')))
    })
}

/// The learner's memory cgroup as a [`Cgroup`] the memory pane can read, when it is one
/// of ours (named with our prefix, directly under the memory hierarchy's root, as the
/// lessons made by hand name it: `UH_NEW_CGROUP`).
pub fn memory_of(proc_root: &Path, pid: i32) -> Option<Cgroup> {
    static HOST: OnceLock<Option<Host>> = OnceLock::new();
    let host = HOST
        .get_or_init(|| {
            let mut paths = Paths::host();
            paths.proc_root = proc_root.to_path_buf();
            Host::detect(&paths).ok()
        })
        .as_ref()?;
    let h = host.hierarchy(Controller::Memory)?;
    let dir = memory_cgroup(proc_root, pid, &h.mount, h.version == Version::V1)?;
    if dir.parent() != Some(h.mount.as_path()) {
        return None;
    }
    let name = dir.file_name()?.to_str()?;
    Cgroup::plan_for(host, name, &[Controller::Memory]).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn memory_cgroup_lines_of_v1_and_v2() {
        let v1 = "12:pids:/user.slice\n5:memory:/underhood-ab-mine\n0::/user.slice/x\n";
        assert_eq!(
            memory_cgroup_in(v1, Path::new("/sys/fs/cgroup/memory"), true),
            Some(PathBuf::from("/sys/fs/cgroup/memory/underhood-ab-mine"))
        );
        assert_eq!(
            memory_cgroup_in(v1, Path::new("/sys/fs/cgroup"), false),
            Some(PathBuf::from("/sys/fs/cgroup/user.slice/x"))
        );
        assert_eq!(memory_cgroup_in("0::/\n", Path::new("/m"), true), None);
    }

    #[test]
    fn no_container_below_a_process_that_made_none() {
        let me = std::process::id() as i32;
        assert_eq!(newest(Path::new("/proc"), me, me), None);
    }
}
