//! Reading and writing cgroupfs files, each write recorded in a [`Report`] with its
//! errno, each error keeping the path, the value and the errno.
//!
//! cgroupfs files are written with a single `write(2)` of the whole value: the kernel
//! parses one write as one value (cgroup-v2.rst, "Interface Files"), so a value must
//! never be split across writes.

use std::fs::OpenOptions;
use std::io::{self, Write};
use std::path::Path;

use super::error::{Error, Result};

use crate::runtime::report::{Report, errno_text};

/// "EINVAL: Invalid argument" when the error carries an errno, else the error text.
pub fn errno_of(e: &io::Error) -> String {
    match e.raw_os_error() {
        Some(n) => errno_text(nix::errno::Errno::from_raw(n)),
        None => e.to_string(),
    }
}

/// What an errno usually means when a cgroupfs write fails, for the learner.
pub(super) fn hint(e: &io::Error) -> &'static str {
    match e.raw_os_error() {
        Some(libc::EBUSY) => {
            " (a v2 cgroup with processes in it cannot hand controllers to children: \
             the \"no internal processes\" rule, cgroup-v2.rst)"
        }
        Some(libc::EACCES) | Some(libc::EPERM) => {
            " (cgroupfs writes need root or a delegated cgroup)"
        }
        Some(libc::ENOENT) => {
            " (the kernel did not create this file: controller not enabled here?)"
        }
        _ => "",
    }
}

/// Writes `value` to an existing cgroupfs file, recording the write and the shell
/// equivalent. Opened like the shell's `>` but without O_CREAT: a missing interface file
/// is an error, not something to create. (cgroupfs ignores O_TRUNC; it matters only for
/// plain-file fixtures.)
pub fn write(report: &mut Report, path: &Path, value: &str) -> Result<()> {
    let res = OpenOptions::new()
        .write(true)
        .truncate(true)
        .open(path)
        .and_then(|mut f| f.write_all(value.as_bytes()));
    record_write(report, path, value, res)
}

/// Records a write done elsewhere (e.g. through cgroups-rs) and turns a failure into
/// an error naming the path, the value and the errno.
pub fn record_write(
    report: &mut Report,
    path: &Path,
    value: &str,
    res: io::Result<()>,
) -> Result<()> {
    let shown = path.display();
    report.shell(format!("echo {value} > {shown}"));
    report
        .io("write", format!("{shown} <- {value}"), res)
        .map_err(|err| Error::Write {
            path: path.to_path_buf(),
            value: value.to_string(),
            err,
        })
}

/// `mkdir(2)` of a cgroup directory, recorded. An existing directory is an error: it
/// would be a stale cgroup, possibly with processes and old limits in it.
pub fn mkdir(report: &mut Report, dir: &Path) -> Result<()> {
    let shown = dir.display();
    report.shell(format!("mkdir {shown}"));
    report
        .io("mkdir", format!("{shown}"), std::fs::create_dir(dir))
        .map_err(|err| Error::Mkdir {
            path: dir.to_path_buf(),
            err,
        })
}

/// Reads a whole cgroupfs file.
pub fn read(path: &Path) -> Result<String> {
    std::fs::read_to_string(path).map_err(|err| Error::Io {
        op: "reading",
        path: path.to_path_buf(),
        err,
    })
}

/// Parses a single-number file such as `memory.current` or `pids.max`; `max` (v2's
/// spelling of "no limit") gives `None`.
pub fn parse_max(text: &str) -> Result<Option<u64>> {
    let t = text.trim();
    if t == "max" {
        return Ok(None);
    }
    t.parse::<u64>()
        .map(Some)
        .map_err(|e| Error::Malformed(format!("expected a number or \"max\", found {t:?}: {e}")))
}

/// Reads a number-or-max file.
pub fn read_max(path: &Path) -> Result<Option<u64>> {
    parse_max(&read(path)?).map_err(|e| Error::Parse {
        path: path.to_path_buf(),
        what: e.to_string(),
    })
}

/// Reads a file that must hold a number.
pub fn read_u64(path: &Path) -> Result<u64> {
    read_max(path)?.ok_or_else(|| {
        Error::Malformed(format!(
            "{}: expected a number, found \"max\"",
            path.display()
        ))
    })
}

/// Looks a key up in a "flat keyed" file (`key value` per line: v2 `memory.events`,
/// v1 `memory.oom_control`). Lines are matched by key, never by position: the kernel
/// adds keys over time (`oom_kill` arrived in 4.13, `oom_group_kill` in 5.17).
pub fn keyed(text: &str, key: &str) -> Option<u64> {
    text.lines().find_map(|line| {
        let mut it = line.split_whitespace();
        (it.next() == Some(key)).then(|| it.next()?.parse().ok())?
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keyed_finds_by_name_not_position() {
        // Pasted from a 6.x kernel: /sys/fs/cgroup/<cg>/memory.events
        let events = "low 0\nhigh 0\nmax 1402\noom 3\noom_kill 2\noom_group_kill 0\n";
        assert_eq!(keyed(events, "oom_kill"), Some(2));
        assert_eq!(keyed(events, "oom"), Some(3));
        assert_eq!(keyed(events, "max"), Some(1402));
        assert_eq!(keyed(events, "missing"), None);
        assert_eq!(keyed("oom_kill x\n", "oom_kill"), None);
    }

    #[test]
    fn parse_max_reads_numbers_and_max() {
        assert_eq!(parse_max("max\n").ok(), Some(None));
        assert_eq!(parse_max("33554432\n").ok(), Some(Some(33554432)));
        assert!(parse_max("-1").is_err());
    }

    #[test]
    fn write_error_keeps_path_value_and_errno() {
        let mut report = Report::new("t");
        let path = Path::new("/nonexistent-underhood-dir/memory.max");
        let err = write(&mut report, path, "33554432")
            .err()
            .map(|e| e.to_string());
        let err = err.unwrap_or_default();
        assert!(
            err.starts_with(
                "writing \"33554432\" to /nonexistent-underhood-dir/memory.max: ENOENT"
            ),
            "{err}"
        );
        assert_eq!(report.calls[0].name, "write");
        assert!(report.calls[0].result.is_err());
        assert_eq!(
            report.shell,
            vec!["echo 33554432 > /nonexistent-underhood-dir/memory.max".to_string()]
        );
    }
}
