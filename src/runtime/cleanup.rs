//! Removes what dead sessions left behind, from their state files (and, for what a
//! learner made by hand from the host shell, the session id: `runtime::by_hand`): processes
//! (by pid *and* start time), cgroups, veths, session directories. A live session,
//! or a process that merely reuses a recorded pid, is never touched.
//!
//! Also what dead *builds* left in the cache (a partial tree of an unpack killed half-way,
//! a temporary file: [`abandoned_builds`]) and, when asked, the cached trees no live
//! process uses ([`cache`]).

use std::path::PathBuf;
use std::time::{Duration, Instant};

use nix::sys::signal::{Signal, kill};
use nix::unistd::Pid;

use super::assemble::cache::{self as build_cache, Eviction};
use super::cgroup;
use super::paths::Paths;
use super::report::Report;
use super::state::{self, State};
use super::steps::net::delete_veth;
use super::sys::Linux;

#[derive(Debug, Default)]
pub struct Cleaned {
    /// Ids of the sessions removed.
    pub sessions: Vec<String>,
    /// What could not be removed, with why.
    pub errors: Vec<String>,
}

/// What [`abandoned_builds`] and [`cache`] removed.
#[derive(Debug, Default)]
pub struct CacheCleaned {
    /// Partial build directories and stale temporary files removed.
    pub partial: Vec<PathBuf>,
    /// Cached trees removed, with the bytes each took.
    pub evicted: Vec<(PathBuf, u64)>,
    /// Cached trees kept because a live process uses them.
    pub in_use: Vec<PathBuf>,
    /// What could not be removed, with why.
    pub errors: Vec<String>,
}

/// Removes from the cache what builds whose process has died left: `.NAME.tmp-PID-...`
/// directories (a tree half unpacked when Ctrl-C or SIGKILL came) and `*.tmp-PID-...`
/// files. A build under way (its process alive, or a lock held on its directory) is
/// never touched.
pub fn abandoned_builds(paths: &Paths) -> CacheCleaned {
    let removed =
        build_cache::remove_abandoned(&build_cache::build_dirs(&paths.cache_dir), &paths.proc_root);
    CacheCleaned {
        partial: removed.paths,
        errors: removed.errors,
        ..Default::default()
    }
}

/// `cleanup --cache`: removes every cached tree (unpacked images, assembled rootfs,
/// tools layers) that no live process holds and no mount table names, after the
/// abandoned builds; they are rebuilt at their next use.
pub fn cache(paths: &Paths) -> CacheCleaned {
    let mut out = abandoned_builds(paths);
    for dir in build_cache::entries(&paths.cache_dir) {
        match build_cache::evict(&dir, &paths.proc_root) {
            Ok(Eviction::Removed(bytes)) => out.evicted.push((dir, bytes)),
            Ok(Eviction::InUse) => out.in_use.push(dir),
            Err(e) => out.errors.push(format!("{e:#}")),
        }
    }
    // Shortcuts to images that are gone (`images/by-stat`) only cost a failed lookup, but
    // they are litter.
    let by_stat = paths.cache_dir.join("images").join("by-stat");
    if let Ok(links) = std::fs::read_dir(&by_stat) {
        for link in links.flatten() {
            let p = link.path();
            if std::fs::metadata(&p).is_err() && std::fs::remove_file(&p).is_ok() {
                out.partial.push(p);
            }
        }
    }
    out
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
    // What the learner made by hand from the dead session's host shell: found by the
    // session's id (its processes' UH_SESSION, its cgroups' names), as at teardown.
    super::by_hand::kill_marked(&paths.proc_root, &s.session_id, &mut report);
    errors.extend(super::by_hand::remove_cgroups(
        paths,
        &s.session_id,
        &mut report,
    ));
    for v in &s.veths {
        if let Err(e) = delete_veth(&mut Linux, v, &mut report) {
            errors.push(format!("{e:#}"));
        }
    }
}
