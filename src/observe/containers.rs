//! Which processes of the host are containers, and what made them.
//!
//! The rule (issue 14): a process is a container's *first process* when its set of
//! namespaces differs from the reference's (PID 1's by default) and its parent's does not.
//! Its children share its namespaces (or go deeper) and are inside the same container;
//! its parent is still on the host side. `unshare --pid --fork` shows why the first process
//! is the one that matters: `unshare` itself is in the new UTS/IPC/mount namespaces, its
//! child (PID 1 inside) also in the new PID namespace, and the first process is `unshare`.
//!
//! Only the eight namespaces a process is *in* count (`/proc/<pid>/ns/{cgroup,ipc,mnt,net,
//! pid,time,user,uts}`), not the `*_for_children` views: a process that called
//! `unshare(CLONE_NEWPID)` is not yet in a container of its own, its next child is
//! (pid_namespaces(7)). A kind that cannot be read on either side (no time namespaces
//! before Linux 5.6) is "unknown", never "different".
//!
//! What made a container is told, where it can be, from (most specific first):
//! - our own session records (`<state_dir>/<session>/state.json`, `runtime/state.rs`) and
//!   cgroup names (`underhood-<session>`);
//! - the engines' cgroup names in `/proc/<pid>/cgroup`: Docker (`/docker/<id>`,
//!   `docker-<id>.scope`), podman (`libpod-<id>`), containerd (`cri-containerd-<id>`,
//!   `/containerd/`), Kubernetes (`kubepods`);
//! - the low-level runtimes' state directories: runc (`/run/runc/<id>/state.json`,
//!   `init_process_pid`), crun (`/run/crun/<id>/status`, `pid`);
//! - a bare `unshare(1)`: the first process is `unshare` itself (or its parent is), or,
//!   without `--fork`, the program unshare exec'd, whose environment's `_` (set by bash
//!   to the command it ran) still names unshare. Without that trace (dash, busybox sh,
//!   an environment not ours to read) it stays "unknown": nothing else in /proc tells
//!   an unshare that exec'd from a program that called unshare(2) itself.
//!
//! Parsing (`parse_*`, [`first_processes`], [`containers`], [`newest_under`]) is pure and
//! tested on fixture text; reading ([`scan`], [`runtime_states`], [`list`]) opens files.

use std::collections::{BTreeMap, HashMap};
use std::path::Path;

use super::error::{Error, Result};

use super::namespaces::{self, NsLink};
use super::ptree::{parse_cmdline, parse_stat};
use crate::ns::Ns;

mod maker;
pub use maker::{
    Maker, RuntimeState, Sources, maker_from_cgroup, maker_from_environ, maker_of,
    parse_crun_status, parse_ours_state, parse_runc_state, ran_by_shell, runtime_states,
};

/// The inodes of the namespaces a process is in, for the kinds that could be read.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct NsSet {
    pub inodes: BTreeMap<Ns, u64>,
}

impl NsSet {
    /// Keeps the readable links of the namespaces the process is in (not the
    /// `*_for_children` views).
    pub fn from_links(links: &[NsLink]) -> NsSet {
        NsSet {
            inodes: links
                .iter()
                .filter(|l| !l.kind.for_children())
                .filter_map(|l| Some((l.kind.ns(), l.inode?)))
                .collect(),
        }
    }

    pub fn is_empty(&self) -> bool {
        self.inodes.is_empty()
    }

    /// The types known on both sides whose inodes differ, in [`Ns::BY_FILE`] order.
    pub fn differs_from(&self, other: &NsSet) -> Vec<Ns> {
        Ns::BY_FILE
            .into_iter()
            .filter(|k| matches!((self.inodes.get(k), other.inodes.get(k)), (Some(a), Some(b)) if a != b))
            .collect()
    }
}

/// One line of `/proc/<pid>/cgroup`: `hierarchy-ID:controller-list:cgroup-path` (cgroups(7));
/// on v2 the line is `0::/path`.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct CgroupLine {
    pub hierarchy: u32,
    /// Comma-separated controllers (`memory`, `cpu,cpuacct`, `name=systemd`); empty on v2.
    pub controllers: String,
    pub path: String,
}

/// Parses `/proc/<pid>/cgroup`. Malformed lines are skipped.
pub fn parse_proc_cgroup(text: &str) -> Vec<CgroupLine> {
    text.lines()
        .filter_map(|line| {
            let (id, rest) = line.split_once(':')?;
            let (controllers, path) = rest.split_once(':')?;
            Some(CgroupLine {
                hierarchy: id.parse().ok()?,
                controllers: controllers.to_string(),
                path: path.to_string(),
            })
        })
        .collect()
}

/// What the scan learned of one process.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct ProcEntry {
    pub pid: i32,
    pub ppid: i32,
    pub comm: String,
    pub start_time: u64,
    pub cmdline: Option<Vec<String>>,
    /// Empty when no link could be read (EACCES: not ours to read).
    pub ns: NsSet,
    pub cgroup: Vec<CgroupLine>,
}

impl ProcEntry {
    /// The command line, or `[comm]` as `ps` shows a process without one.
    pub fn command(&self) -> String {
        match &self.cmdline {
            Some(args) => args.join(" "),
            None => format!("[{}]", self.comm),
        }
    }
}

/// Every process the proc root lists, and how many of them could not be looked into.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Scan {
    pub entries: Vec<ProcEntry>,
    /// Processes whose namespace links could not be read, with the first error (EACCES
    /// as non-root for other users' processes, proc(5) "ptrace access mode").
    pub unreadable: Vec<(i32, String)>,
}

/// PF_KTHREAD in the flags field (9) of `stat` (proc(5), include/linux/sched.h): kernel
/// threads such as `kdevtmpfs` have namespaces of their own but are no containers.
pub fn is_kernel_thread(stat: &str) -> bool {
    const PF_KTHREAD: u64 = 0x0020_0000;
    stat.rfind(')')
        .and_then(|i| stat[i + 1..].split_whitespace().nth(9 - 3))
        .and_then(|f| f.parse::<u64>().ok())
        .is_some_and(|f| f & PF_KTHREAD != 0)
}

/// Lists `/proc/<pid>` for every pid except kernel threads: stat, cmdline, ns links,
/// cgroup. A process that exits during the scan is left out.
pub fn scan(proc_root: &Path) -> Result<Scan> {
    let dir = std::fs::read_dir(proc_root).map_err(|e| Error::list(proc_root, e))?;
    let mut out = Scan::default();
    for e in dir.flatten() {
        let Some(pid) = e.file_name().to_str().and_then(|n| n.parse::<i32>().ok()) else {
            continue;
        };
        let base = e.path();
        let Ok(text) = std::fs::read_to_string(base.join("stat")) else {
            continue;
        };
        let Ok(stat) = parse_stat(&text) else {
            continue;
        };
        if is_kernel_thread(&text) {
            continue;
        }
        let links = namespaces::read_links(proc_root, pid);
        let ns = NsSet::from_links(&links);
        if ns.is_empty() {
            if !base.exists() {
                continue;
            }
            let why = links
                .iter()
                .find_map(|l| l.error.clone())
                .unwrap_or_else(|| "no namespace link readable".to_string());
            out.unreadable.push((pid, why));
        }
        out.entries.push(ProcEntry {
            pid,
            ppid: stat.ppid,
            comm: stat.comm,
            start_time: stat.start_time,
            cmdline: std::fs::read(base.join("cmdline"))
                .ok()
                .and_then(|b| parse_cmdline(&b)),
            ns,
            cgroup: std::fs::read_to_string(base.join("cgroup"))
                .map(|t| parse_proc_cgroup(&t))
                .unwrap_or_default(),
        });
    }
    out.entries.sort_by_key(|e| e.pid);
    out.unreadable.sort();
    Ok(out)
}

/// "The host's" namespaces: a process's set, and the pids taken to be on the host side
/// even when their links cannot be read (PID 1, whose links a root without every
/// capability of PID 1's may not read: proc(5), ptrace access mode checking).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Reference {
    pub pid: i32,
    pub set: NsSet,
    pub host_side: Vec<i32>,
}

impl Reference {
    /// `pid`'s set; `pid` and PID 1 are on the host side.
    pub fn new(pid: i32, set: NsSet) -> Reference {
        let mut host_side = vec![1, pid];
        host_side.dedup();
        Reference {
            pid,
            set,
            host_side,
        }
    }

    /// Whether a process is in the reference's namespaces.
    fn holds(&self, e: &ProcEntry) -> bool {
        if e.ns.is_empty() {
            return self.host_side.contains(&e.pid);
        }
        e.ns.differs_from(&self.set).is_empty()
    }
}

/// The first processes of containers: namespaces differ from the reference's, the
/// parent's do not. A process whose parent was not seen (pid 0, or exited mid-scan) is
/// not one.
pub fn first_processes<'a>(entries: &'a [ProcEntry], reference: &Reference) -> Vec<&'a ProcEntry> {
    let by_pid: HashMap<i32, &ProcEntry> = entries.iter().map(|e| (e.pid, e)).collect();
    entries
        .iter()
        .filter(|e| !e.ns.is_empty() && !reference.holds(e))
        .filter(|e| by_pid.get(&e.ppid).is_some_and(|p| reference.holds(p)))
        .collect()
}

/// One row of the picker.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Container {
    /// The first process (host pid).
    pub pid: i32,
    pub ppid: i32,
    pub start_time: u64,
    pub comm: String,
    pub command: String,
    pub maker: Maker,
    /// The namespaces it does not share with the reference.
    pub isolated: Vec<Ns>,
}

impl Container {
    /// The row for first process `e`, made by `maker`, isolated from `reference`.
    pub fn of(e: &ProcEntry, maker: Maker, reference: &NsSet) -> Container {
        Container {
            pid: e.pid,
            ppid: e.ppid,
            start_time: e.start_time,
            comm: e.comm.clone(),
            command: e.command(),
            maker,
            isolated: e.ns.differs_from(reference),
        }
    }
}

/// Every container, oldest first (by start time, then pid).
pub fn containers(
    entries: &[ProcEntry],
    reference: &Reference,
    states: &[RuntimeState],
    ours_prefix: &str,
) -> Vec<Container> {
    let mut out: Vec<Container> = first_processes(entries, reference)
        .into_iter()
        .map(|e| Container::of(e, maker_of(e, entries, states, ours_prefix), &reference.set))
        .collect();
    out.sort_by_key(|c| (c.start_time, c.pid));
    out
}

/// Whether `pid` is `root` or a descendant of it, following ppids through `entries`.
pub fn is_under(entries: &[ProcEntry], pid: i32, root: i32) -> bool {
    let ppid: HashMap<i32, i32> = entries.iter().map(|e| (e.pid, e.ppid)).collect();
    let mut at = pid;
    for _ in 0..=entries.len() {
        if at == root {
            return true;
        }
        match ppid.get(&at) {
            Some(&p) if p > 0 => at = p,
            _ => return false,
        }
    }
    false
}

/// The newest container whose first process is `root` or below it: "the container the
/// learner just made from the host shell".
pub fn newest_under<'a>(
    found: &'a [Container],
    entries: &[ProcEntry],
    root: i32,
) -> Option<&'a Container> {
    found
        .iter()
        .filter(|c| is_under(entries, c.pid, root))
        .max_by_key(|c| (c.start_time, c.pid))
}

/// The reference namespace set: `pid`'s. PID 1's links can be unreadable even to root
/// (a PID 1 with capabilities we lack fails the ptrace access check, proc(5)); then the
/// caller decides what to fall back to.
pub fn reference_set(proc_root: &Path, pid: i32) -> Result<NsSet> {
    let links = namespaces::read_links(proc_root, pid);
    let set = NsSet::from_links(&links);
    if set.is_empty() {
        let why = links
            .iter()
            .find_map(|l| l.error.clone())
            .unwrap_or_default();
        return Err(Error::Unreadable(format!(
            "cannot read the namespaces of pid {pid}: {why}"
        )));
    }
    Ok(set)
}

/// The host's containers as the picker lists them.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Listing {
    pub reference: Reference,
    /// Why the reference is not PID 1, when it is not.
    pub reference_note: Option<String>,
    pub containers: Vec<Container>,
    pub unreadable: Vec<(i32, String)>,
    pub entries: Vec<ProcEntry>,
}

/// PID 1's namespaces, or, when its links cannot be read, the calling process's (with a
/// note saying why).
pub fn host_reference(proc_root: &Path) -> Result<(Reference, Option<String>)> {
    match reference_set(proc_root, 1) {
        Ok(set) => Ok((Reference::new(1, set), None)),
        Err(e) => {
            let me = std::process::id() as i32;
            let set = reference_set(proc_root, me)?;
            Ok((
                Reference::new(me, set),
                Some(format!("{e:#}; comparing with this process ({me}) instead")),
            ))
        }
    }
}

/// Scans the host against [`host_reference`].
pub fn list(proc_root: &Path, sources: &Sources) -> Result<Listing> {
    let (reference, note) = host_reference(proc_root)?;
    let mut l = list_against(proc_root, sources, reference)?;
    l.reference_note = note;
    Ok(l)
}

/// Like [`list`], against a given reference.
pub fn list_against(proc_root: &Path, sources: &Sources, reference: Reference) -> Result<Listing> {
    let scan = scan(proc_root)?;
    let states = runtime_states(sources);
    let mut containers = containers(&scan.entries, &reference, &states, &sources.ours_prefix);
    // What nothing above told: an unshare without --fork may still be named by the
    // environment (read only for these few: environ can be large).
    for c in containers.iter_mut().filter(|c| c.maker == Maker::Unknown) {
        if let Some(m) = std::fs::read(proc_root.join(c.pid.to_string()).join("environ"))
            .ok()
            .and_then(|e| maker_from_environ(&e))
        {
            c.maker = m;
        }
    }
    Ok(Listing {
        reference,
        reference_note: None,
        containers,
        unreadable: scan.unreadable,
        entries: scan.entries,
    })
}

/// The newest container at or below `root` (a host shell's pid), against
/// [`host_reference`].
pub fn newest_under_pid(
    proc_root: &Path,
    sources: &Sources,
    root: i32,
) -> Result<Option<Container>> {
    let l = list(proc_root, sources)?;
    Ok(newest_under(&l.containers, &l.entries, root).cloned())
}

#[cfg(test)]
mod tests;
