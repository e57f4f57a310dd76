//! Removes what dead sessions left behind, from their state files only: processes
//! (by pid *and* start time), cgroups, veths, session directories. A live session,
//! or a process that merely reuses a recorded pid, is never touched.

use std::time::{Duration, Instant};

use nix::sys::signal::{Signal, kill};
use nix::unistd::Pid;

use super::cgroup;
use super::controller::delete_veth;
use super::paths::Paths;
use super::report::Report;
use super::state::{self, State};

#[derive(Debug, Default)]
pub struct Cleaned {
    /// Ids of the sessions removed.
    pub sessions: Vec<String>,
    /// What could not be removed, with why.
    pub errors: Vec<String>,
}

/// Cleans every stale session under `paths.state_dir`.
pub fn stale_sessions(paths: &Paths) -> Cleaned {
    let mut out = Cleaned::default();
    for (dir, st) in state::list(paths) {
        if !state::is_stale(paths, &dir, &st) {
            continue;
        }
        let id = dir
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        if let Ok(s) = &st {
            clean_recorded(paths, s, &mut out.errors);
        }
        match state::remove_session_dir(&dir) {
            Ok(()) => out.sessions.push(id),
            Err(e) => out.errors.push(format!("{e:#}")),
        }
    }
    state::remove_state_root(&paths.state_dir);
    out
}

fn clean_recorded(paths: &Paths, s: &State, errors: &mut Vec<String>) {
    let mut report = Report::new("cleanup");
    // Processes first: a cgroup with members cannot be removed.
    let live: Vec<_> = s
        .subjects
        .iter()
        .filter(|id| state::is_alive(&paths.proc_root, **id))
        .copied()
        .collect();
    for id in &live {
        let _ = kill(Pid::from_raw(id.pid), Signal::SIGKILL);
    }
    let start = Instant::now();
    while start.elapsed() < Duration::from_secs(2)
        && live.iter().any(|id| state::is_alive(&paths.proc_root, *id))
    {
        std::thread::sleep(Duration::from_millis(5));
    }
    let mut dirs = s.cgroups.clone();
    if let Some(name) = &s.cgroup_name {
        // A crash between mkdir and recording the dirs: find them by our exact name.
        if let Ok(host) = cgroup::Host::detect(paths) {
            for d in cgroup::ours(&host) {
                if d.file_name().is_some_and(|n| n.to_string_lossy() == *name) && !dirs.contains(&d)
                {
                    dirs.push(d);
                }
            }
        }
    }
    for d in dirs {
        if let Err(e) = cgroup::remove_dir(&d) {
            errors.push(format!("{e:#}"));
        }
    }
    for v in &s.veths {
        if let Err(e) = delete_veth(paths, v, &mut report) {
            errors.push(format!("{e:#}"));
        }
    }
}
