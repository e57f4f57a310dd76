//! What a learner made by hand from the host shell, removed with the session: in the
//! lessons made by hand (`observe = "host-shell"`) the learner runs `unshare`, mounts
//! an overlay, makes a cgroup. None of it is recorded by a step, so it is found by
//! what names it ours:
//!
//! - processes: every process whose environment holds `UH_SESSION=<id>` (the host
//!   shell, `host_solve` and `host_cheat` get it, and `unshare`, `nsenter`, `sh` pass
//!   it on to what they start). SIGKILL to the PID 1 of a PID namespace kills the
//!   namespace (pid_namespaces(7)); a process that re-parented to us (a subreaper,
//!   `runtime::start`) is reaped. Their mount namespaces, and the mounts made in them,
//!   end with their last process (mount_namespaces(7)).
//! - cgroups: the directories named `<prefix>-<id>-*` directly under each hierarchy's
//!   root (`UH_NEW_CGROUP` names one so), removed like ours (kill, rmdir).
//! - mounts: a mount left in *our* mount namespace under the session directory (an
//!   overlay made without `--make-rslave` on a host whose `/` is shared propagates
//!   here) is detached, deepest first, so the directory can go.
//!
//! Nothing else is touched: each of the three is named by the session's own id.

use std::path::Path;
use std::time::{Duration, Instant};

use nix::sys::signal::{Signal, kill};
use nix::sys::wait::{WaitPidFlag, waitpid};
use nix::unistd::Pid;

use super::cgroup::{self, Host};
use super::paths::{PREFIX, Paths};
use super::report::Report;
use super::state::Session;

/// The environment entry that marks the session's host-side processes.
pub fn marker(session_id: &str) -> String {
    format!("UH_SESSION={session_id}")
}

/// The name of the cgroup a learner makes by hand (`UH_NEW_CGROUP`).
pub fn cgroup_name(session_id: &str) -> String {
    format!("{PREFIX}-{session_id}-mine")
}

/// Pids (not ours) whose environment holds `entry`.
fn marked(proc_root: &Path, entry: &str) -> Vec<i32> {
    let me = std::process::id() as i32;
    let Ok(dir) = std::fs::read_dir(proc_root) else {
        return Vec::new();
    };
    dir.flatten()
        .filter_map(|e| e.file_name().to_str()?.parse::<i32>().ok())
        .filter(|pid| *pid != me)
        .filter(|pid| {
            std::fs::read(proc_root.join(pid.to_string()).join("environ"))
                .is_ok_and(|b| b.split(|c| *c == 0).any(|e| e == entry.as_bytes()))
        })
        .collect()
}

/// Alive and not a zombie (`stat`'s third field, proc(5)).
fn running(proc_root: &Path, pid: i32) -> bool {
    std::fs::read_to_string(proc_root.join(pid.to_string()).join("stat"))
        .ok()
        .and_then(|s| {
            s.rsplit_once(')')
                .map(|(_, rest)| rest.trim_start().to_string())
        })
        .is_some_and(|rest| !rest.starts_with('Z'))
}

/// Kills the processes marked with the session's id and waits (2 s at most) for them
/// to be gone, reaping those that are our children.
pub fn kill_marked(proc_root: &Path, session_id: &str, report: &mut Report) {
    let entry = marker(session_id);
    let start = Instant::now();
    let mut pids = marked(proc_root, &entry);
    if pids.is_empty() {
        return;
    }
    report.note(format!(
        "{} process(es) the learner started from the host shell ({entry})",
        pids.len()
    ));
    for pid in &pids {
        let res = kill(Pid::from_raw(*pid), Signal::SIGKILL);
        let _ = report.call("kill", format!("{pid}, SIGKILL"), res);
    }
    while start.elapsed() < Duration::from_secs(2) {
        for pid in &pids {
            let _ = waitpid(Pid::from_raw(*pid), Some(WaitPidFlag::WNOHANG));
        }
        pids.retain(|p| running(proc_root, *p));
        // A child that forked while we killed its parent carries the mark too.
        for pid in marked(proc_root, &entry) {
            if !pids.contains(&pid) && running(proc_root, pid) {
                let _ = kill(Pid::from_raw(pid), Signal::SIGKILL);
                pids.push(pid);
            }
        }
        if pids.is_empty() {
            return;
        }
        std::thread::sleep(Duration::from_millis(5));
    }
}

/// Removes the cgroups named `<prefix>-<id>-*` under each hierarchy's root.
pub fn remove_cgroups(paths: &Paths, session_id: &str, report: &mut Report) -> Vec<String> {
    let Ok(host) = Host::detect(paths) else {
        return Vec::new();
    };
    let start = format!("{PREFIX}-{session_id}-");
    cgroup::ours(&host)
        .into_iter()
        .filter(|d| {
            d.file_name()
                .is_some_and(|n| n.to_string_lossy().starts_with(&start))
        })
        .filter_map(|d| {
            cgroup::remove_recorded(&d, report)
                .err()
                .map(|e| format!("{e:#}"))
        })
        .collect()
}

/// Detaches the mounts of our mount namespace under `dir`, deepest first
/// (umount2(2) MNT_DETACH).
pub fn detach_under(proc_root: &Path, dir: &Path, report: &mut Report) -> Vec<String> {
    // runtime/ reads the table itself (sys::mount_points_below): observe/ is a sibling.
    let me = std::process::id().to_string();
    let table = std::fs::read_to_string(proc_root.join(me).join("mountinfo")).unwrap_or_default();
    let mut points = crate::runtime::sys::mount_points_below(&table, dir);
    points.sort_by_key(|p| std::cmp::Reverse(p.components().count()));
    let mut errors = Vec::new();
    for p in points {
        let res = nix::mount::umount2(&p, nix::mount::MntFlags::MNT_DETACH);
        if let Err(e) = report.call("umount2", format!("{:?}, MNT_DETACH", p), res) {
            errors.push(format!("umount2({}, MNT_DETACH): {e}", p.display()));
        }
    }
    errors
}

/// All three, for a session being torn down; the errors, each with its path.
pub fn clean(paths: &Paths, session: &Session, report: &mut Report) -> Vec<String> {
    kill_marked(&paths.proc_root, session.id(), report);
    let mut errors = remove_cgroups(paths, session.id(), report);
    errors.extend(detach_under(&paths.proc_root, &session.dir, report));
    errors
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_carry_the_session_id() {
        assert_eq!(marker("0a1b"), "UH_SESSION=0a1b");
        assert_eq!(cgroup_name("0a1b"), "underhood-0a1b-mine");
    }

    #[test]
    fn a_marked_child_is_killed_and_reaped() {
        let id = format!("test{}", std::process::id());
        let mut child = std::process::Command::new("sleep")
            .arg("30")
            .env("UH_SESSION", &id)
            .spawn()
            .expect("sleep");
        let pid = child.id() as i32;
        let proc_root = Path::new("/proc");
        // Until its execve(2) the child's environment is still ours.
        let start = Instant::now();
        while marked(proc_root, &marker(&id)).is_empty() && start.elapsed().as_secs() < 5 {
            std::thread::sleep(Duration::from_millis(5));
        }
        assert_eq!(marked(proc_root, &marker(&id)), vec![pid]);
        assert!(!marked(proc_root, &marker("other")).contains(&pid));
        let mut r = Report::new("t");
        kill_marked(proc_root, &id, &mut r);
        assert!(!running(proc_root, pid));
        // Reaped by kill_marked already, or now.
        let _ = child.wait();
        assert!(marked(proc_root, &marker(&id)).is_empty());
    }
}
