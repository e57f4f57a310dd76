//! One process read whole from its proc directory: stat, status, cmdline and id maps.

use std::path::Path;

use crate::observe::error::{Error, Result};
use crate::observe::fsread::{is_vanished, read_text};

use super::{IdMapRange, ProcState, Status, parse_id_map, parse_stat, parse_status};

/// Everything we show about one process.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Proc {
    /// The pid as the proc root's pid namespace sees it (the host pid, normally).
    pub pid: i32,
    pub ppid: i32,
    /// From `stat` (at most 15 bytes; what `ps -o comm` shows).
    pub comm: String,
    /// The argv from `cmdline`; `None` when empty (zombies, kernel threads) or unreadable.
    pub cmdline: Option<Vec<String>>,
    pub state: ProcState,
    pub start_time: u64,
    pub status: Status,
    /// `None` when unreadable.
    pub uid_map: Option<Vec<IdMapRange>>,
    pub gid_map: Option<Vec<IdMapRange>>,
}

impl Proc {
    /// The pid inside the innermost pid namespace (the last `NSpid` value); the host pid on
    /// kernels without `NSpid`.
    pub fn inner_pid(&self) -> i32 {
        self.status.ns_pid.last().copied().unwrap_or(self.pid)
    }

    /// How many pid namespaces deep the process is, counted from the proc root's (0 = same).
    pub fn pid_ns_depth(&self) -> usize {
        self.status.ns_pid.len().saturating_sub(1)
    }

    /// The command line joined with spaces, or `[comm]` like `ps` when there is none.
    pub fn command(&self) -> String {
        match &self.cmdline {
            Some(args) => args.join(" "),
            None => format!("[{}]", self.comm),
        }
    }

    pub fn is_zombie(&self) -> bool {
        self.state == ProcState::Zombie
    }
}

/// Parses `cmdline`: NUL-separated arguments, usually NUL-terminated. Empty means none.
pub fn parse_cmdline(bytes: &[u8]) -> Option<Vec<String>> {
    let trimmed = bytes.strip_suffix(b"\0").unwrap_or(bytes);
    if trimmed.is_empty() {
        return None;
    }
    Some(
        trimmed
            .split(|b| *b == 0)
            .map(|a| String::from_utf8_lossy(a).into_owned())
            .collect(),
    )
}

/// Reads an optional per-process file. `Err` only when the process is gone (its directory
/// no longer exists), so the caller can skip it; any other failure (EACCES under `hidepid`,
/// no `uid_map` on a kernel without user namespaces) just means "not shown".
fn read_optional(dir: &Path, file: &str) -> Result<Option<Vec<u8>>> {
    let path = dir.join(file);
    match std::fs::read(&path) {
        Ok(bytes) => Ok(Some(bytes)),
        Err(e) if is_vanished(&e) && !dir.exists() => Err(Error::read(&path, e)),
        Err(_) => Ok(None),
    }
}

/// Reads one process. Errors keep the path; a vanished process gives an error for which
/// [`Error::is_vanished`] is true.
pub fn read_proc(proc_root: &Path, pid: i32) -> Result<Proc> {
    let dir = proc_root.join(pid.to_string());
    let stat_path = dir.join("stat");
    let stat = parse_stat(&read_text(&stat_path)?).map_err(|e| Error::parse(&stat_path, e))?;
    let status = parse_status(&read_text(&dir.join("status"))?);
    let cmdline = read_optional(&dir, "cmdline")?.and_then(|b| parse_cmdline(&b));
    let id_map =
        |file: &str| -> Result<Option<Vec<IdMapRange>>> {
            Ok(read_optional(&dir, file)?
                .and_then(|b| parse_id_map(&String::from_utf8_lossy(&b)).ok()))
        };
    Ok(Proc {
        pid: stat.pid,
        ppid: stat.ppid,
        comm: stat.comm,
        cmdline,
        state: stat.state,
        start_time: stat.start_time,
        status,
        uid_map: id_map("uid_map")?,
        gid_map: id_map("gid_map")?,
    })
}
