//! Which process to explore, and its cgroup: from a pid, a runc container id, or a
//! cgroup directory. The panes then sample it like one of ours
//! ([`super::snapshot::Target`] works for any pid).
//!
//! Errors say what is missing: a pid with no `/proc/<pid>` (ENOENT), a pid whose
//! namespace links are not ours to read (EACCES: another user's process read without
//! root, proc(5) "ptrace access mode"), a runc id with no `state.json` in any root, a
//! cgroup with no process in it.

use std::path::{Path, PathBuf};

use super::error::{Error, Result};

use super::containers::{ProcEntry, parse_runc_state};
use super::fsread::errno_text;
use super::namespaces;
use super::ptree::parse_stat;
use super::snapshot::Target;
use crate::runtime::cgroup::{Cgroup, Host};

/// A process to explore, checked readable.
#[derive(Debug, Clone)]
pub struct Resolved {
    pub pid: i32,
    pub target: Target,
    /// Why there is no memory graph, when there is none.
    pub cgroup_note: Option<String>,
}

/// Checks that `pid` exists and that its namespace links can be read.
pub fn check_pid(proc_root: &Path, pid: i32) -> Result<()> {
    let dir = proc_root.join(pid.to_string());
    if pid <= 0 {
        return Err(Error::Refused(format!(
            "{pid} is not a process id: expected a positive number, as `ps` shows"
        )));
    }
    if let Err(e) = std::fs::metadata(&dir) {
        return Err(Error::NotFound(format!(
            "no process {pid}: {} ({}); `ps -e` lists the processes there are",
            dir.display(),
            errno_text(&e)
        )));
    }
    let links = namespaces::read_links(proc_root, pid);
    if links.iter().all(|l| l.inode.is_none()) {
        let first = links.iter().find(|l| l.error.is_some());
        let why = first
            .and_then(|l| l.error.clone())
            .unwrap_or_else(|| "no link readable".to_string());
        let refused = matches!(
            first.and_then(|l| l.errno()),
            Some(nix::errno::Errno::EACCES | nix::errno::Errno::EPERM)
        );
        let hint = if refused {
            "; another user's process can only be explored as root (sudo underhood explore ...)"
        } else {
            ""
        };
        return Err(Error::Unreadable(format!(
            "cannot read the namespaces of process {pid}: {why}{hint}"
        )));
    }
    Ok(())
}

/// The cgroup `pid` is in, in the hierarchies holding memory, pids or cpu; an error
/// saying why when it cannot be told.
pub fn cgroup_of(proc_root: &Path, host: Option<&Host>, pid: i32) -> Result<Cgroup> {
    let host =
        host.ok_or_else(|| Error::NotFound("no cgroup hierarchy found on this host".to_string()))?;
    let path = proc_root.join(pid.to_string()).join("cgroup");
    let text = std::fs::read_to_string(&path).map_err(|err| Error::Unread { path, err })?;
    Ok(Cgroup::observed(host, &text)?)
}

/// Everything the panes need for `pid`, after [`check_pid`].
pub fn resolve(proc_root: &Path, host: Option<&Host>, pid: i32) -> Result<Resolved> {
    check_pid(proc_root, pid)?;
    let (cgroup, cgroup_note) = match cgroup_of(proc_root, host, pid) {
        Ok(cg) => (Some(cg), None),
        Err(why) => (None, Some(why.to_string())),
    };
    Ok(Resolved {
        pid,
        target: Target {
            subject: pid,
            tree_root: pid,
            cgroup,
            learner_below: None,
        },
        cgroup_note,
    })
}

/// The runc roots asked by `--runc ID` when no `--runc-root` is given: runc's default as
/// root, then Docker's and containerd's.
pub fn default_runc_roots() -> Vec<PathBuf> {
    super::containers::Sources::host(Path::new("/nonexistent"), "").runc_roots
}

/// The init pid of runc container `id`, from `<root>/<id>/state.json` in the first root
/// that has it.
pub fn runc_pid(roots: &[PathBuf], id: &str) -> Result<i32> {
    if id.is_empty() || id.contains('/') || id == "." || id == ".." {
        return Err(Error::Refused(format!(
            "{id:?} is not a runc container id (`runc list` shows them)"
        )));
    }
    let mut tried = Vec::new();
    let mut refused = false;
    for root in roots {
        let file = root.join(id).join("state.json");
        match std::fs::read_to_string(&file) {
            Ok(text) => {
                let (pid, _) = parse_runc_state(&text).ok_or_else(|| {
                    Error::Malformed(format!(
                        "{}: no init_process_pid in runc's state",
                        file.display()
                    ))
                })?;
                return Ok(pid);
            }
            Err(e) => {
                refused |= e.raw_os_error() == Some(nix::libc::EACCES);
                tried.push(format!("{} ({})", file.display(), errno_text(&e)));
            }
        }
    }
    let hint = if refused {
        "; runc's state is root's: run as root"
    } else {
        "; `runc list` shows the containers (or give runc's --root with --runc-root)"
    };
    Err(Error::NotFound(format!(
        "no runc container {id:?}: tried {}{hint}",
        tried.join(", ")
    )))
}

/// The processes in a cgroup, from its `cgroup.procs`.
pub fn cgroup_pids(cg: &Cgroup) -> Result<Vec<i32>> {
    let file = cg
        .procs_file()
        .ok_or_else(|| Error::NotFound(format!("cgroup {} has no directory", cg.name())))?;
    let text = std::fs::read_to_string(&file).map_err(|err| Error::Unread { path: file, err })?;
    Ok(text.lines().filter_map(|l| l.trim().parse().ok()).collect())
}

/// Of the processes in a cgroup, the one to explore: the oldest whose parent is not in
/// the cgroup too (the one the others descend from).
pub fn top_process(entries: &[ProcEntry]) -> Option<i32> {
    entries
        .iter()
        .filter(|e| !entries.iter().any(|p| p.pid == e.ppid))
        .min_by_key(|e| (e.start_time, e.pid))
        .map(|e| e.pid)
}

/// `--cgroup PATH`: the cgroup and the process to explore in it.
pub fn by_cgroup(proc_root: &Path, host: &Host, path: &Path) -> Result<(i32, Cgroup)> {
    let cg = Cgroup::observed_path(host, path)?;
    let pids = cgroup_pids(&cg)?;
    let entries: Vec<ProcEntry> = pids
        .iter()
        .filter_map(|&pid| {
            let stat =
                std::fs::read_to_string(proc_root.join(pid.to_string()).join("stat")).ok()?;
            let s = parse_stat(&stat).ok()?;
            Some(ProcEntry {
                pid,
                ppid: s.ppid,
                comm: s.comm,
                start_time: s.start_time,
                cmdline: None,
                ns: Default::default(),
                cgroup: Vec::new(),
            })
        })
        .collect();
    match top_process(&entries) {
        Some(pid) => Ok((pid, cg)),
        None => Err(Error::NotFound(format!(
            "cgroup {} has no process in it ({} is empty): nothing to explore",
            path.display(),
            cg.procs_file()
                .map(|p| p.display().to_string())
                .unwrap_or_default()
        ))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn missing_and_bad_pids_say_what_is_missing() {
        let proc_root = Path::new("/proc");
        let e = check_pid(proc_root, i32::MAX).expect_err("no such pid");
        let text = format!("{e:#}");
        assert!(text.contains(&format!("/proc/{}", i32::MAX)), "{text}");
        assert!(text.contains("ENOENT"), "{text}");
        assert!(check_pid(proc_root, 0).is_err());
        check_pid(proc_root, std::process::id() as i32).expect("ourselves");
    }

    #[test]
    fn unreadable_links_name_the_errno_and_the_way_out() {
        // A fixture proc root whose ns directory holds nothing: every link is ENOENT.
        let dir = tempfile::tempdir().expect("tempdir");
        std::fs::create_dir_all(dir.path().join("42/ns")).expect("mkdir");
        let e = check_pid(dir.path(), 42).expect_err("unreadable");
        assert!(format!("{e:#}").contains("/42/ns/"), "{e:#}");
    }

    #[test]
    fn runc_ids_are_found_in_the_roots_in_order() {
        let dir = tempfile::tempdir().expect("tempdir");
        let a = dir.path().join("a");
        let b = dir.path().join("b");
        std::fs::create_dir_all(b.join("demo")).expect("mkdir");
        std::fs::write(
            b.join("demo/state.json"),
            r#"{"id":"demo","init_process_pid":4242,"init_process_start":1}"#,
        )
        .expect("write");
        assert_eq!(
            runc_pid(&[a.clone(), b.clone()], "demo").expect("found"),
            4242
        );
        let e = runc_pid(&[a, b], "other").expect_err("absent");
        let text = format!("{e:#}");
        assert!(
            text.contains("other/state.json") && text.contains("ENOENT"),
            "{text}"
        );
        assert!(runc_pid(&[], "../etc").is_err());
    }

    #[test]
    fn the_top_process_of_a_cgroup_is_the_oldest_root() {
        let e = |pid, ppid, start| ProcEntry {
            pid,
            ppid,
            comm: String::new(),
            start_time: start,
            cmdline: None,
            ns: Default::default(),
            cgroup: Vec::new(),
        };
        // runc's init 10 (parent runc, outside), its child 11; a process 20 moved in later.
        let entries = vec![e(11, 10, 6), e(10, 5, 5), e(20, 1, 9)];
        assert_eq!(top_process(&entries), Some(10));
        assert_eq!(top_process(&[]), None);
    }
}
