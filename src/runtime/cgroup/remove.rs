//! Removing a cgroup: kill what is still inside, then `rmdir` it.
//!
//! A cgroup directory can be removed once it has no processes and no child cgroups
//! (its interface files do not count). Right after SIGKILL the processes may still be
//! exiting and the kernel answers EBUSY, so `rmdir` is retried for a bounded time, as
//! runc and cgroups-rs do.

use std::collections::HashSet;
use std::path::{Component, Path, PathBuf};
use std::time::{Duration, Instant};

use super::error::{Error, Result};
use nix::errno::Errno;
use nix::sys::signal::{Signal, kill};
use nix::unistd::Pid;

use super::files;
use super::layout::Host;
use crate::runtime::paths::PREFIX;
use crate::runtime::report::Report;

/// How long `rmdir` is retried while the kernel answers EBUSY.
const RMDIR_PATIENCE: Duration = Duration::from_secs(2);

/// Refuses anything that is not one of our cgroup directories: the final component
/// must start with [`PREFIX`], and `..` is not allowed anywhere.
pub fn check_ours(dir: &Path) -> Result<()> {
    let name = dir.file_name().map(|n| n.to_string_lossy().into_owned());
    let ok = name.as_deref().is_some_and(|n| n.starts_with(PREFIX))
        && !dir.components().any(|c| c == Component::ParentDir);
    if !ok {
        return Err(Error::Refused(format!(
            "refusing to remove {}: not an underhood cgroup (its name must start with {PREFIX:?})",
            dir.display()
        )));
    }
    Ok(())
}

/// For crash cleanup: removes a recorded cgroup directory the same way as
/// `Cgroup::remove` (kill, then rmdir with EBUSY retries). A directory already gone is
/// fine.
pub fn remove_dir(dir: &Path) -> Result<()> {
    remove_recorded(dir, &mut Report::new("remove cgroup"))
}

/// Removes `dir` (one of ours), recording every kill and rmdir in `report`.
pub fn remove_recorded(dir: &Path, report: &mut Report) -> Result<()> {
    check_ours(dir)?;
    if !dir.exists() {
        report.note(format!("{} is already gone", dir.display()));
        return Ok(());
    }
    remove_tree(dir, report)
}

/// Child cgroups (made by something inside the container) go first, deepest first.
fn remove_tree(dir: &Path, report: &mut Report) -> Result<()> {
    let children = std::fs::read_dir(dir).map_err(|err| Error::Io {
        op: "listing",
        path: dir.to_path_buf(),
        err,
    })?;
    for entry in children.flatten() {
        if entry.file_type().map(|t| t.is_dir()).unwrap_or(false) {
            remove_tree(&entry.path(), report)?;
        }
    }
    kill_and_rmdir(dir, report)
}

fn kill_and_rmdir(dir: &Path, report: &mut Report) -> Result<()> {
    let shown = dir.display().to_string();
    let deadline = Instant::now() + RMDIR_PATIENCE;
    let mut delay = Duration::from_millis(10);
    let mut signalled = HashSet::new();
    let mut busy = 0u32;
    kill_all(dir, report, &mut signalled, true)?;
    loop {
        match std::fs::remove_dir(dir) {
            Err(e) if e.raw_os_error() == Some(libc::EBUSY) && Instant::now() < deadline => {
                busy += 1;
                std::thread::sleep(delay);
                delay = (delay * 2).min(Duration::from_millis(200));
                // A process may have forked before it died (v1 has no cgroup.kill).
                kill_all(dir, report, &mut signalled, false)?;
            }
            res => {
                if busy > 0 {
                    report.note(format!(
                        "rmdir {shown} answered EBUSY {busy} time(s) while the killed processes exited"
                    ));
                }
                report.shell(format!("rmdir {shown}"));
                return match report.io("rmdir", shown.clone(), res) {
                    Ok(()) => Ok(()),
                    Err(e) if e.raw_os_error() == Some(libc::ENOENT) => Ok(()),
                    Err(err) => Err(Error::Io {
                        op: "removing cgroup",
                        path: dir.to_path_buf(),
                        err,
                    }),
                };
            }
        }
    }
}

/// Kills every process in the cgroup: `cgroup.kill` (v2, Linux 5.14+) kills them all at
/// once, forks included; otherwise SIGKILL each pid listed in `cgroup.procs`, once.
fn kill_all(
    dir: &Path,
    report: &mut Report,
    signalled: &mut HashSet<i32>,
    first: bool,
) -> Result<()> {
    let procs = dir.join("cgroup.procs");
    let pids = match std::fs::read_to_string(&procs) {
        Ok(text) => parse_pids(&text),
        // No cgroup.procs: nothing runs there (or it is gone already).
        Err(_) => return Ok(()),
    };
    let kill_file = dir.join("cgroup.kill");
    if kill_file.exists() {
        if first && !pids.is_empty() {
            files::write(report, &kill_file, "1")?;
        }
        return Ok(());
    }
    for pid in pids {
        if !signalled.insert(pid) {
            continue;
        }
        report.shell(format!("kill -KILL {pid}"));
        match report.call(
            "kill",
            format!("{pid}, SIGKILL"),
            kill(Pid::from_raw(pid), Signal::SIGKILL),
        ) {
            Ok(()) | Err(Errno::ESRCH) => {}
            Err(errno) => {
                return Err(Error::Kill {
                    pid,
                    procs: procs.clone(),
                    errno,
                });
            }
        }
    }
    Ok(())
}

/// Pids from `cgroup.procs`, one per line. Only positive numbers: kill(0) or kill(-1)
/// would signal our own process group or every process.
fn parse_pids(text: &str) -> Vec<i32> {
    text.lines()
        .filter_map(|l| l.trim().parse::<i32>().ok())
        .filter(|p| *p > 0)
        .collect()
}

/// Our cgroup directories (name starting with [`PREFIX`]) directly under the root of
/// every hierarchy (and, rootless, under the delegated node we use), for residue
/// checks and `cleanup`.
pub fn ours(host: &Host) -> Vec<PathBuf> {
    let mut found: Vec<PathBuf> = host
        .hierarchies
        .iter()
        .map(|h| h.mount.clone())
        .chain(host.delegated.iter().map(|d| d.base.clone()))
        .filter_map(|dir| std::fs::read_dir(dir).ok())
        .flat_map(|entries| entries.flatten())
        .filter(|e| e.file_type().map(|t| t.is_dir()).unwrap_or(false))
        .filter(|e| e.file_name().to_string_lossy().starts_with(PREFIX))
        .map(|e| e.path())
        .collect();
    found.sort();
    found.dedup();
    found
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::runtime::cgroup::fixture::Fixture;
    use std::process::{Command, Stdio};

    #[test]
    fn refuses_paths_that_are_not_ours() {
        for bad in [
            "/sys/fs/cgroup/memory",
            "/sys/fs/cgroup/memory/user.slice",
            "/",
            "/sys/fs/cgroup/memory/../underhood-x",
        ] {
            let err = remove_dir(Path::new(bad))
                .err()
                .map(|e| e.to_string())
                .unwrap_or_default();
            assert!(err.starts_with("refusing to remove"), "{bad}: {err}");
        }
    }

    #[test]
    fn gone_dir_is_fine_and_empty_dir_is_removed() {
        let fx = Fixture::v1();
        let dir = fx.root().join("memory/underhood-gone");
        assert!(remove_dir(&dir).is_ok());
        std::fs::create_dir_all(dir.join("nested-child")).expect("mkdir");
        let mut r = Report::new("t");
        remove_recorded(&dir, &mut r).expect("removed");
        assert!(!dir.exists());
        let rmdirs: Vec<_> = r
            .calls
            .iter()
            .filter(|c| c.name == "rmdir")
            .map(|c| c.args.clone())
            .collect();
        assert_eq!(
            rmdirs,
            vec![
                dir.join("nested-child").display().to_string(),
                dir.display().to_string()
            ]
        );
    }

    #[test]
    fn non_busy_rmdir_error_is_reported_at_once() {
        let fx = Fixture::v2();
        fx.v2_child("underhood-full");
        let dir = fx.root().join("underhood-full");
        let start = Instant::now();
        let err = remove_dir(&dir)
            .err()
            .map(|e| e.to_string())
            .unwrap_or_default();
        assert!(err.contains("underhood-full: ENOTEMPTY"), "{err}");
        assert!(start.elapsed() < RMDIR_PATIENCE, "only EBUSY is retried");
    }

    #[test]
    fn kills_listed_pids_or_writes_cgroup_kill() {
        // v1 style: a real child of ours listed in a fixture cgroup.procs gets SIGKILL.
        let fx = Fixture::v1();
        let mut child = Command::new("sleep")
            .arg("30")
            .stdin(Stdio::null())
            .spawn()
            .expect("sleep");
        fx.file(
            "memory/underhood-k/cgroup.procs",
            &format!("{}\n0\n-1\nbogus\n", child.id()),
        );
        let dir = fx.root().join("memory/underhood-k");
        let mut r = Report::new("t");
        kill_all(&dir, &mut r, &mut HashSet::new(), true).expect("kill");
        let status = child.wait().expect("wait");
        use std::os::unix::process::ExitStatusExt;
        assert_eq!(status.signal(), Some(libc::SIGKILL));
        assert_eq!(
            r.calls.len(),
            1,
            "only the positive pid is signalled: {:?}",
            r.calls
        );
        assert_eq!(r.calls[0].args, format!("{}, SIGKILL", child.id()));

        // v2 style: cgroup.kill present, so one write of "1" and no kill(2).
        fx.v2_child("underhood-v2");
        fx.file("underhood-v2/cgroup.procs", "4194304\n");
        let mut r = Report::new("t");
        kill_all(
            &fx.root().join("underhood-v2"),
            &mut r,
            &mut HashSet::new(),
            true,
        )
        .expect("kill");
        assert_eq!(fx.read("underhood-v2/cgroup.kill"), "1");
        assert!(r.calls.iter().all(|c| c.name == "write"), "{:?}", r.calls);
    }

    #[test]
    fn ours_lists_prefixed_dirs_in_every_hierarchy() {
        let fx = Fixture::hybrid();
        for d in [
            "memory/underhood-a",
            "pids/underhood-a",
            "unified/underhood-b",
            "memory/user.slice",
        ] {
            std::fs::create_dir_all(fx.root().join(d)).expect("mkdir");
        }
        let host = Host::from_files(fx.root()).expect("host");
        let found = ours(&host);
        let expected: Vec<PathBuf> = [
            "memory/underhood-a",
            "pids/underhood-a",
            "unified/underhood-b",
        ]
        .iter()
        .map(|d| fx.root().join(d))
        .collect();
        assert_eq!(found, expected);
    }
}
