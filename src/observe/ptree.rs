//! The processes of a container as a tree: each with its host pid beside the pid it has inside
//! its pid namespace, its state (zombies included), its uids and its privileges.
//!
//! Sources, all under the proc root (proc(5)):
//! - `/proc/<pid>/stat`: comm, state, ppid, start time. Parsed by `procfs`, which copes with a
//!   comm containing spaces or parentheses.
//! - `/proc/<pid>/status`: `NSpid`, `Uid`, `Cap*`, `NoNewPrivs`, `Seccomp`. Parsed here, key by
//!   key, because a field missing on an older kernel must not lose the others.
//! - `/proc/<pid>/cmdline`: empty for zombies and kernel threads.
//! - `/proc/<pid>/uid_map`, `gid_map`: how ids inside the process's user namespace map to ids
//!   in the *reader's* user namespace (user_namespaces(7)). The `Uid:` line of `status` shows
//!   ids as the reader sees them, so a process that is root inside a user namespace shows the
//!   unprivileged host uid there; the map is what relates the two.
//!
//! Children are found through `/proc/<pid>/task/<tid>/children` when the kernel has it
//! (CONFIG_PROC_CHILDREN), and otherwise by scanning every `/proc/<pid>/stat` for its ppid.
//! proc(5) warns the children file is only exact when the children are stopped; a child
//! forked during a read shows up on the next sample, which is all an observer needs.

use std::collections::{HashMap, HashSet};
use std::fmt;
use std::path::Path;

use super::error::{Error, Result};
use procfs::FromRead;

use super::fsread::{is_vanished, read_text};

/// Process state, the letter in `stat` and `status` (proc(5)).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
pub enum ProcState {
    /// R
    Running,
    /// S: interruptible sleep, waiting for an event.
    Sleeping,
    /// D: uninterruptible sleep, usually I/O.
    DiskSleep,
    /// Z: exited, waiting for its parent to reap it with wait(2). A pid 1 that does not reap
    /// leaves these behind.
    Zombie,
    /// T: stopped by a signal (SIGSTOP, SIGTSTP...).
    Stopped,
    /// t: stopped by a debugger.
    TracingStop,
    /// X or x: dead (never normally seen).
    Dead,
    /// I: idle kernel thread.
    Idle,
    /// P: parked kernel thread.
    Parked,
    /// W (waking, or paging before 2.6.0), K (wakekill): short-lived kernel states.
    Waking,
    Wakekill,
    Unknown(char),
}

impl ProcState {
    pub fn from_char(c: char) -> ProcState {
        match c {
            'R' => ProcState::Running,
            'S' => ProcState::Sleeping,
            'D' => ProcState::DiskSleep,
            'Z' => ProcState::Zombie,
            'T' => ProcState::Stopped,
            't' => ProcState::TracingStop,
            'X' | 'x' => ProcState::Dead,
            'I' => ProcState::Idle,
            'P' => ProcState::Parked,
            'W' => ProcState::Waking,
            'K' => ProcState::Wakekill,
            other => ProcState::Unknown(other),
        }
    }

    /// The letter `ps` shows.
    pub fn letter(&self) -> char {
        match self {
            ProcState::Running => 'R',
            ProcState::Sleeping => 'S',
            ProcState::DiskSleep => 'D',
            ProcState::Zombie => 'Z',
            ProcState::Stopped => 'T',
            ProcState::TracingStop => 't',
            ProcState::Dead => 'X',
            ProcState::Idle => 'I',
            ProcState::Parked => 'P',
            ProcState::Waking => 'W',
            ProcState::Wakekill => 'K',
            ProcState::Unknown(c) => *c,
        }
    }

    /// A readable name.
    pub fn name(&self) -> &'static str {
        match self {
            ProcState::Running => "running",
            ProcState::Sleeping => "sleeping",
            ProcState::DiskSleep => "disk sleep",
            ProcState::Zombie => "zombie",
            ProcState::Stopped => "stopped",
            ProcState::TracingStop => "tracing stop",
            ProcState::Dead => "dead",
            ProcState::Idle => "idle",
            ProcState::Parked => "parked",
            ProcState::Waking => "waking",
            ProcState::Wakekill => "wakekill",
            ProcState::Unknown(_) => "unknown",
        }
    }
}

impl fmt::Display for ProcState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} ({})", self.letter(), self.name())
    }
}

/// The `Seccomp:` field of `status` (proc(5), seccomp(2)).
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub enum SeccompMode {
    /// 0: no filter.
    Disabled,
    /// 1: SECCOMP_MODE_STRICT, only read/write/_exit/sigreturn.
    Strict,
    /// 2: SECCOMP_MODE_FILTER, a BPF program decides.
    Filter,
    /// 3: SECCOMP_MODE_DEAD, which the kernel sets on a seccomp'd task as it exits (seen on
    /// zombies since Linux 5.17).
    Dead,
    Unknown(u32),
}

impl SeccompMode {
    pub fn from_number(n: u32) -> SeccompMode {
        match n {
            0 => SeccompMode::Disabled,
            1 => SeccompMode::Strict,
            2 => SeccompMode::Filter,
            3 => SeccompMode::Dead,
            other => SeccompMode::Unknown(other),
        }
    }

    pub fn name(&self) -> &'static str {
        match self {
            SeccompMode::Disabled => "disabled",
            SeccompMode::Strict => "strict",
            SeccompMode::Filter => "filter",
            SeccompMode::Dead => "dead",
            SeccompMode::Unknown(_) => "unknown",
        }
    }
}

/// The fields of `/proc/<pid>/status` that the lessons show. Every field is optional: older
/// kernels lack some (`NSpid` before 4.1, `Seccomp_filters` before 5.9), and a malformed
/// value is shown as absent rather than hiding the rest.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Status {
    pub name: Option<String>,
    pub state: Option<ProcState>,
    pub tgid: Option<i32>,
    pub pid: Option<i32>,
    pub ppid: Option<i32>,
    /// `Uid:` real, effective, saved, filesystem, as the reader's user namespace sees them.
    pub uid: Option<[u32; 4]>,
    /// `Gid:` real, effective, saved, filesystem.
    pub gid: Option<[u32; 4]>,
    /// `NSpid:` the pid in each pid namespace the process is in, from the namespace of this
    /// proc mount (first) to the innermost one (last). pid_namespaces(7).
    pub ns_pid: Vec<i32>,
    pub threads: Option<u32>,
    pub cap_inh: Option<u64>,
    pub cap_prm: Option<u64>,
    pub cap_eff: Option<u64>,
    pub cap_bnd: Option<u64>,
    pub cap_amb: Option<u64>,
    pub no_new_privs: Option<bool>,
    pub seccomp: Option<SeccompMode>,
    /// Number of seccomp filters attached (since 5.9).
    pub seccomp_filters: Option<u32>,
}

fn ids4(value: &str) -> Option<[u32; 4]> {
    let v: Vec<u32> = value
        .split_whitespace()
        .map(str::parse)
        .collect::<Result<_, _>>()
        .ok()?;
    v.try_into().ok()
}

/// Parses the text of `/proc/<pid>/status`. Never fails: unknown keys are ignored and a field
/// that is missing or malformed stays `None` (or empty).
pub fn parse_status(text: &str) -> Status {
    let mut s = Status::default();
    for line in text.lines() {
        let Some((key, value)) = line.split_once(':') else {
            continue;
        };
        let value = value.trim();
        let hex = || u64::from_str_radix(value, 16).ok();
        match key {
            "Name" => s.name = Some(value.to_string()),
            "State" => s.state = value.chars().next().map(ProcState::from_char),
            "Tgid" => s.tgid = value.parse().ok(),
            "Pid" => s.pid = value.parse().ok(),
            "PPid" => s.ppid = value.parse().ok(),
            "Uid" => s.uid = ids4(value),
            "Gid" => s.gid = ids4(value),
            "NSpid" => {
                s.ns_pid = value
                    .split_whitespace()
                    .map(str::parse)
                    .collect::<Result<_, _>>()
                    .unwrap_or_default()
            }
            "Threads" => s.threads = value.parse().ok(),
            "CapInh" => s.cap_inh = hex(),
            "CapPrm" => s.cap_prm = hex(),
            "CapEff" => s.cap_eff = hex(),
            "CapBnd" => s.cap_bnd = hex(),
            "CapAmb" => s.cap_amb = hex(),
            "NoNewPrivs" => {
                s.no_new_privs = match value {
                    "0" => Some(false),
                    "1" => Some(true),
                    _ => None,
                }
            }
            "Seccomp" => s.seccomp = value.parse().ok().map(SeccompMode::from_number),
            "Seccomp_filters" => s.seccomp_filters = value.parse().ok(),
            _ => {}
        }
    }
    s
}

/// Names the capabilities set in a mask, lowercase as capabilities(7) and `capsh` write them:
/// `0x200000` -> `["cap_sys_admin"]`. Bits newer than the `caps` crate knows are named
/// `cap_<bit>`.
pub fn cap_names(mask: u64) -> Vec<String> {
    let mut known: Vec<caps::Capability> = caps::all().into_iter().collect();
    known.sort_by_key(|c| c.index());
    (0..64u8)
        .filter(|bit| mask & (1u64 << bit) != 0)
        .map(|bit| match known.iter().find(|c| c.index() == bit) {
            Some(cap) => cap.to_string().to_lowercase(),
            None => format!("cap_{bit}"),
        })
        .collect()
}

/// The fields of `/proc/<pid>/stat` the tree needs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StatLine {
    pub pid: i32,
    pub comm: String,
    pub state: ProcState,
    pub ppid: i32,
    /// Clock ticks after boot when the process started: with the pid, names a process
    /// uniquely even after pid reuse.
    pub start_time: u64,
}

/// Parses one `/proc/<pid>/stat` line with `procfs` (the comm may contain `)` and spaces).
pub fn parse_stat(text: &str) -> Result<StatLine> {
    let stat = procfs::process::Stat::from_read(text.as_bytes())
        .map_err(|e| Error::Malformed(format!("malformed stat line {text:?}: {e}")))?;
    Ok(StatLine {
        pid: stat.pid,
        comm: stat.comm,
        state: ProcState::from_char(stat.state),
        ppid: stat.ppid,
        start_time: stat.starttime,
    })
}

/// One line of `uid_map`/`gid_map`: ids `inside..inside+count` in the process's user
/// namespace are `outside..outside+count` in the reader's (user_namespaces(7)).
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct IdMapRange {
    pub inside: u32,
    pub outside: u32,
    pub count: u32,
}

/// Parses `uid_map`/`gid_map` text: lines of three numbers.
pub fn parse_id_map(text: &str) -> Result<Vec<IdMapRange>> {
    text.lines()
        .enumerate()
        .filter(|(_, l)| !l.trim().is_empty())
        .map(|(i, line)| {
            let nums: Vec<u32> = line
                .split_whitespace()
                .map(str::parse)
                .collect::<Result<_, _>>()
                .map_err(|e| Error::Malformed(format!("id map line {}: {line:?}: {e}", i + 1)))?;
            match nums[..] {
                [inside, outside, count] => Ok(IdMapRange {
                    inside,
                    outside,
                    count,
                }),
                _ => Err(Error::Malformed(format!(
                    "id map line {}: {line:?}: expected 3 numbers, got {}",
                    i + 1,
                    nums.len()
                ))),
            }
        })
        .collect()
}

/// The id inside the namespace that the reader's id `outside` maps to, if any.
pub fn map_to_inside(map: &[IdMapRange], outside: u32) -> Option<u32> {
    map.iter().find_map(|r| {
        let offset = outside.checked_sub(r.outside)?;
        (offset < r.count).then(|| r.inside + offset)
    })
}

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

/// One process in a depth-first walk: `depth` 0 is the root pid.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct ProcNode {
    pub depth: usize,
    pub proc: Proc,
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

/// Parses a `children` file: space-separated pids.
pub fn parse_children(text: &str) -> Vec<i32> {
    text.split_whitespace()
        .filter_map(|p| p.parse().ok())
        .collect()
}

/// Where children come from during one walk.
enum ChildSource {
    /// `/proc/<pid>/task/<tid>/children` exists (CONFIG_PROC_CHILDREN).
    ChildrenFiles,
    /// Parent pid -> child pids, from one scan of every `/proc/<pid>/stat`.
    Scanned(HashMap<i32, Vec<i32>>),
}

fn is_pid_dir(name: &std::ffi::OsStr) -> Option<i32> {
    name.to_str()?.parse().ok()
}

/// Every process's ppid, from one pass over `/proc/*/stat`. Processes that exit during the
/// scan are skipped.
fn scan_ppids(proc_root: &Path) -> Result<HashMap<i32, Vec<i32>>> {
    let mut children: HashMap<i32, Vec<i32>> = HashMap::new();
    let entries = std::fs::read_dir(proc_root).map_err(|e| Error::list(proc_root, e))?;
    for entry in entries {
        let entry = entry.map_err(|e| Error::list(proc_root, e))?;
        let Some(pid) = is_pid_dir(&entry.file_name()) else {
            continue;
        };
        let path = entry.path().join("stat");
        let text = match std::fs::read_to_string(&path) {
            Ok(t) => t,
            Err(e) if is_vanished(&e) => continue,
            Err(e) => return Err(Error::read(&path, e)),
        };
        let stat = parse_stat(&text).map_err(|e| Error::parse(&path, e))?;
        children.entry(stat.ppid).or_default().push(pid);
    }
    for list in children.values_mut() {
        list.sort_unstable();
    }
    Ok(children)
}

/// The children of `pid` as the union over its threads' `children` files: a child belongs to
/// the thread that forked it.
fn children_from_files(proc_root: &Path, pid: i32) -> Result<Vec<i32>> {
    let task_dir = proc_root.join(pid.to_string()).join("task");
    let tasks = match std::fs::read_dir(&task_dir) {
        Ok(t) => t,
        Err(e) if is_vanished(&e) => return Ok(Vec::new()),
        Err(e) => return Err(Error::list(&task_dir, e)),
    };
    let mut all = Vec::new();
    for task in tasks {
        let task = task.map_err(|e| Error::list(&task_dir, e))?;
        let path = task.path().join("children");
        match std::fs::read_to_string(&path) {
            Ok(text) => all.extend(parse_children(&text)),
            // A thread that exits mid-walk takes its file with it.
            Err(e) if is_vanished(&e) => {}
            Err(e) => return Err(Error::read(&path, e)),
        }
    }
    all.sort_unstable();
    all.dedup();
    Ok(all)
}

/// The processes under `root_pid` (itself included, at depth 0), depth-first with children in
/// pid order. A descendant that exits during the walk is left out; a pid reused by a process
/// that is not a child of the expected parent is left out too. Fails if the root itself cannot
/// be read (e.g. it has exited), or on an unexpected error, with the path.
pub fn tree(proc_root: &Path, root_pid: i32) -> Result<Vec<ProcNode>> {
    let root = read_proc(proc_root, root_pid).map_err(|e| {
        if e.is_vanished() {
            Error::Gone {
                pid: root_pid,
                err: Box::new(e),
            }
        } else {
            e
        }
    })?;
    let probe = proc_root
        .join(root_pid.to_string())
        .join("task")
        .join(root_pid.to_string())
        .join("children");
    let source = match probe.try_exists() {
        Ok(true) => ChildSource::ChildrenFiles,
        Ok(false) => ChildSource::Scanned(scan_ppids(proc_root)?),
        Err(err) => {
            return Err(Error::Io {
                op: "checking",
                path: probe,
                err,
            });
        }
    };
    let children_of = |pid: i32| -> Result<Vec<i32>> {
        match &source {
            ChildSource::ChildrenFiles => children_from_files(proc_root, pid),
            ChildSource::Scanned(map) => Ok(map.get(&pid).cloned().unwrap_or_default()),
        }
    };

    let mut out = Vec::new();
    let mut seen = HashSet::from([root_pid]);
    // (pid, expected parent, depth); pushed in reverse so the smallest pid is visited first.
    let mut stack: Vec<(i32, i32, usize)> = children_of(root_pid)?
        .into_iter()
        .rev()
        .map(|c| (c, root_pid, 1))
        .collect();
    out.push(ProcNode {
        depth: 0,
        proc: root,
    });
    while let Some((pid, parent, depth)) = stack.pop() {
        if !seen.insert(pid) {
            continue;
        }
        let proc = match read_proc(proc_root, pid) {
            Ok(p) => p,
            Err(e) if e.is_vanished() => continue,
            Err(e) => return Err(e),
        };
        if proc.ppid != parent {
            continue;
        }
        stack.extend(
            children_of(pid)?
                .into_iter()
                .rev()
                .map(|c| (c, pid, depth + 1)),
        );
        out.push(ProcNode { depth, proc });
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::PathBuf;
    use std::time::Duration;

    /// `cat /proc/self/status` on the development machine: root, no namespaces of its own.
    /// Note CapEff lacks bit 24 (cap_sys_resource): the sandbox drops it.
    const SELF_STATUS: &str = "Name:\tcat
Umask:\t0022
State:\tR (running)
Tgid:\t5712
Ngid:\t0
Pid:\t5712
PPid:\t5710
TracerPid:\t0
Uid:\t0\t0\t0\t0
Gid:\t0\t0\t0\t0
FDSize:\t256
Groups:\t 
NStgid:\t5712
NSpid:\t5712
NSpgid:\t5710
NSsid:\t4600
Kthread:\t0
VmPeak:\t    3060 kB
VmSize:\t    3060 kB
VmLck:\t       0 kB
VmPin:\t       0 kB
VmHWM:\t    1736 kB
VmRSS:\t    1736 kB
RssAnon:\t     112 kB
RssFile:\t    1624 kB
RssShmem:\t       0 kB
VmData:\t     360 kB
VmStk:\t     132 kB
VmExe:\t      20 kB
VmLib:\t    1528 kB
VmPTE:\t      48 kB
VmSwap:\t       0 kB
HugetlbPages:\t       0 kB
CoreDumping:\t0
THP_enabled:\t1
untag_mask:\t0xffffffffffffffff
Threads:\t1
SigQ:\t0/96364
SigPnd:\t0000000000000000
ShdPnd:\t0000000000000000
SigBlk:\t0000000000000000
SigIgn:\t0000000000000000
SigCgt:\t0000000000000000
CapInh:\t0000000000000000
CapPrm:\t000001fffeffffff
CapEff:\t000001fffeffffff
CapBnd:\t000001fffeffffff
CapAmb:\t0000000000000000
NoNewPrivs:\t0
Seccomp:\t0
Seccomp_filters:\t0
Speculation_Store_Bypass:\tvulnerable
SpeculationIndirectBranch:\talways enabled
Cpus_allowed:\t3
Cpus_allowed_list:\t0-1
Mems_allowed:\t00000000,00000001
Mems_allowed_list:\t0
voluntary_ctxt_switches:\t0
nonvoluntary_ctxt_switches:\t0
";

    /// A `sleep` started by `unshare --user --map-user=1000 --map-group=1000 --pid --fork
    /// setpriv --no-new-privs ... sleep 3`, read from the host (memory lines cut). Host uid 0
    /// shows in `Uid:`; `uid_map` says that is uid 1000 inside; NSpid says pid 1 inside.
    const NESTED_STATUS: &str = "Name:\tsleep
State:\tS (sleeping)
Tgid:\t8557
Pid:\t8557
PPid:\t8555
Uid:\t0\t0\t0\t0
Gid:\t0\t0\t0\t0
NStgid:\t8557\t1
NSpid:\t8557\t1
NSpgid:\t8553\t0
NSsid:\t4600\t0
Threads:\t1
CapInh:\t0000000000000000
CapPrm:\t0000000000000000
CapEff:\t0000000000000000
CapBnd:\t000001ffffffffff
CapAmb:\t0000000000000000
NoNewPrivs:\t1
Seccomp:\t0
Seccomp_filters:\t0
";
    const NESTED_UID_MAP: &str = "      1000          0          1\n";
    const NESTED_STAT: &str = "8557 (sleep) S 8555 8553 4600 0 -1 4194560 191 0 0 0 0 0 0 0 20 0 1 0 42224 2990080 410 18446744073709551615 94375307685888 94375307703817 140727012888640 0 0 0 0 6 0 1 0 0 17 1 0 0 0 0 0 94375307717904 94375307719168 94375985172480 140727012895464 140727012895472 140727012895472 140727012896745 0\n";

    /// A python child that set no_new_privs and SECCOMP_MODE_STRICT, after it exited and
    /// before it was reaped: the kernel shows the mode as 3 (dead) on the zombie.
    const ZOMBIE_STATUS: &str = "Name:\tpython3
State:\tZ (zombie)
Tgid:\t8796
Pid:\t8796
PPid:\t8755
Uid:\t0\t0\t0\t0
NSpid:\t8796
Threads:\t1
CapEff:\t000001fffeffffff
NoNewPrivs:\t1
Seccomp:\t3
Seccomp_filters:\t0
";
    const ZOMBIE_STAT: &str = "8685 (python3) Z 8644 8637 4600 0 -1 4227148 225 0 0 0 0 0 0 0 20 0 1 0 42814 0 0 18446744073709551615 0 0 0 0 0 0 0 16781312 2 1 0 0 17 1 0 0 0 0 0 0 0 0 0 0 0 0 0\n";

    #[test]
    fn parses_real_self_status() {
        let s = parse_status(SELF_STATUS);
        assert_eq!(s.name.as_deref(), Some("cat"));
        assert_eq!(s.state, Some(ProcState::Running));
        assert_eq!(
            (s.pid, s.ppid, s.tgid),
            (Some(5712), Some(5710), Some(5712))
        );
        assert_eq!(s.uid, Some([0; 4]));
        assert_eq!(s.ns_pid, [5712]);
        assert_eq!(s.cap_eff, Some(0x1fffeffffff));
        assert_eq!(s.cap_amb, Some(0));
        assert_eq!(s.no_new_privs, Some(false));
        assert_eq!(s.seccomp, Some(SeccompMode::Disabled));
        assert_eq!(s.seccomp_filters, Some(0));
        assert_eq!(s.threads, Some(1));
        let names = cap_names(s.cap_eff.unwrap_or_default());
        assert_eq!(names.len(), 40);
        assert_eq!(names[0], "cap_chown");
        assert!(names.contains(&"cap_sys_admin".to_string()));
        assert!(!names.contains(&"cap_sys_resource".to_string()));
        assert_eq!(
            names.last().map(String::as_str),
            Some("cap_checkpoint_restore")
        );
    }

    #[test]
    fn parses_real_nested_status_and_uid_map() {
        let s = parse_status(NESTED_STATUS);
        assert_eq!(s.ns_pid, [8557, 1]);
        assert_eq!(s.uid, Some([0; 4]), "Uid: shows the host view");
        assert_eq!(s.cap_eff, Some(0));
        assert!(cap_names(0).is_empty());
        assert_eq!(s.no_new_privs, Some(true));
        let map = parse_id_map(NESTED_UID_MAP).expect("real uid_map");
        assert_eq!(
            map,
            [IdMapRange {
                inside: 1000,
                outside: 0,
                count: 1
            }]
        );
        assert_eq!(map_to_inside(&map, 0), Some(1000));
        assert_eq!(map_to_inside(&map, 1), None);

        let stat = parse_stat(NESTED_STAT).expect("real stat");
        assert_eq!((stat.pid, stat.ppid, stat.start_time), (8557, 8555, 42224));
        assert_eq!(stat.comm, "sleep");
        assert_eq!(stat.state, ProcState::Sleeping);
    }

    #[test]
    fn parses_real_zombie() {
        let s = parse_status(ZOMBIE_STATUS);
        assert_eq!(s.state, Some(ProcState::Zombie));
        assert_eq!(s.seccomp, Some(SeccompMode::Dead));
        let stat = parse_stat(ZOMBIE_STAT).expect("zombie stat");
        assert_eq!(stat.state, ProcState::Zombie);
        assert_eq!(stat.state.to_string(), "Z (zombie)");
    }

    #[test]
    fn names_capabilities_and_modes() {
        // CapEff inside `unshare --user --map-root-user setpriv --bounding-set
        // -all,+sys_admin,+net_admin`, as the process itself read it.
        assert_eq!(cap_names(0x201000), ["cap_net_admin", "cap_sys_admin"]);
        assert_eq!(cap_names(1 << 63), ["cap_63"]);
        for (line, mode) in [
            ("Seccomp:\t1", SeccompMode::Strict),
            ("Seccomp:\t2", SeccompMode::Filter),
            ("Seccomp:\t7", SeccompMode::Unknown(7)),
        ] {
            assert_eq!(parse_status(line).seccomp, Some(mode));
        }
        let odd = parse_status("CapEff:\tzz\nUid:\t1\t2\nNoNewPrivs:\t5\nNSpid:\t1 x\nbogus");
        assert_eq!(odd, Status::default(), "malformed fields stay absent");
    }

    #[test]
    fn parses_awkward_stat_and_cmdline() {
        let line = "4242 (a) b (c)) S 1 4242 4242 0 -1 4194560 191 0 0 0 0 0 0 0 20 0 1 0 7 2990080 410 18446744073709551615 1 1 1 0 0 0 0 6 0 1 0 0 17 1 0 0 0 0 0 1 1 1 1 1 1 1 0";
        let stat = parse_stat(line).expect("comm with spaces and parens");
        assert_eq!(stat.comm, "a) b (c)");
        assert_eq!((stat.ppid, stat.start_time), (1, 7));
        let err = parse_stat("not a stat line").map(|_| ()).unwrap_err();
        assert!(format!("{err:#}").contains("malformed stat line"));

        assert_eq!(
            parse_cmdline(b"sleep\x005\x00"),
            Some(vec!["sleep".to_string(), "5".to_string()])
        );
        assert_eq!(parse_cmdline(b""), None);
        assert_eq!(parse_cmdline(b"x"), Some(vec!["x".to_string()]));
        assert_eq!(parse_children("101 102 \n"), [101, 102]);
        assert_eq!(parse_children(""), Vec::<i32>::new());
    }

    #[test]
    fn id_map_errors_name_the_line() {
        let full = parse_id_map("         0          0 4294967295\n").expect("real host map");
        assert_eq!(full[0].count, u32::MAX);
        assert_eq!(map_to_inside(&full, 12345), Some(12345));
        let err = format!("{:#}", parse_id_map("0 0 1\n0 0\n").unwrap_err());
        assert!(err.contains("line 2") && err.contains("3 numbers"), "{err}");
        let err = format!("{:#}", parse_id_map("0 x 1\n").unwrap_err());
        assert!(err.contains("line 1"), "{err}");
    }

    /// A directory laid out like /proc, removed on drop.
    struct FakeProc(PathBuf);

    impl FakeProc {
        fn new(name: &str) -> FakeProc {
            let dir =
                std::env::temp_dir().join(format!("underhood-ptree-{name}-{}", std::process::id()));
            let _ = std::fs::remove_dir_all(&dir);
            std::fs::create_dir_all(&dir).expect("creating fixture dir");
            FakeProc(dir)
        }

        /// Adds a process; `children` = Some(..) writes a task/<pid>/children file.
        fn add(&self, pid: i32, ppid: i32, state: char, comm: &str, children: Option<&str>) {
            let dir = self.0.join(pid.to_string());
            let task = dir.join("task").join(pid.to_string());
            std::fs::create_dir_all(&task).expect("fixture task dir");
            let stat = format!(
                "{pid} ({comm}) {state} {ppid} 8553 4600 0 -1 4194560 191 0 0 0 0 0 0 0 20 0 1 0 42224 2990080 410 18446744073709551615 1 1 1 0 0 0 0 6 0 1 0 0 17 1 0 0 0 0 0 1 1 1 1 1 1 1 0\n"
            );
            let status = format!(
                "Name:\t{comm}\nState:\t{state}\nPid:\t{pid}\nPPid:\t{ppid}\nNSpid:\t{pid}\t{}\n",
                pid - 99
            );
            std::fs::write(dir.join("stat"), stat).expect("fixture stat");
            std::fs::write(dir.join("status"), status).expect("fixture status");
            let cmdline = if state == 'Z' {
                String::new()
            } else {
                format!("{comm}\0--flag\0")
            };
            std::fs::write(dir.join("cmdline"), cmdline).expect("fixture cmdline");
            std::fs::write(dir.join("uid_map"), NESTED_UID_MAP).expect("fixture uid_map");
            if let Some(kids) = children {
                std::fs::write(task.join("children"), kids).expect("fixture children");
            }
        }
    }

    impl Drop for FakeProc {
        fn drop(&mut self) {
            let _ = std::fs::remove_dir_all(&self.0);
        }
    }

    fn summary(nodes: &[ProcNode]) -> Vec<(usize, i32, i32, char)> {
        nodes
            .iter()
            .map(|n| {
                (
                    n.depth,
                    n.proc.pid,
                    n.proc.inner_pid(),
                    n.proc.state.letter(),
                )
            })
            .collect()
    }

    /// 100 -> {101 -> {103 (zombie), 104}, 102 (listed, but gone), 105 (pid reused: its
    /// ppid is 1 now)}; 200 is unrelated.
    fn build(fake: &FakeProc, with_children_files: bool) {
        let kids = |s| with_children_files.then_some(s);
        fake.add(100, 1, 'S', "init", kids("105 102 101 "));
        fake.add(101, 100, 'S', "sh", kids("104 103 "));
        fake.add(103, 101, 'Z', "sleep", kids(""));
        fake.add(104, 101, 'R', "yes", kids(""));
        fake.add(105, 1, 'S', "other", kids(""));
        fake.add(200, 1, 'S', "unrelated", kids(""));
    }

    #[test]
    fn tree_from_children_files_skips_vanished_and_reused() {
        let fake = FakeProc::new("children");
        build(&fake, true);
        let nodes = tree(&fake.0, 100).expect("fixture tree");
        assert_eq!(
            summary(&nodes),
            [
                (0, 100, 1, 'S'),
                (1, 101, 2, 'S'),
                (2, 103, 4, 'Z'),
                (2, 104, 5, 'R')
            ]
        );
        let zombie = &nodes[2].proc;
        assert!(zombie.is_zombie());
        assert_eq!(zombie.cmdline, None);
        assert_eq!(zombie.command(), "[sleep]");
        assert_eq!(nodes[1].proc.command(), "sh --flag");
        assert_eq!(nodes[1].proc.pid_ns_depth(), 1);
        assert_eq!(
            nodes[1]
                .proc
                .uid_map
                .as_deref()
                .and_then(|m| map_to_inside(m, 0)),
            Some(1000)
        );
    }

    #[test]
    fn tree_by_scanning_stat_without_children_files() {
        let fake = FakeProc::new("scan");
        build(&fake, false);
        let nodes = tree(&fake.0, 100).expect("fixture tree");
        assert_eq!(
            summary(&nodes),
            [
                (0, 100, 1, 'S'),
                (1, 101, 2, 'S'),
                (2, 103, 4, 'Z'),
                (2, 104, 5, 'R')
            ]
        );
        let err = format!("{:#}", tree(&fake.0, 999).unwrap_err());
        assert!(err.contains("process 999 does not exist"), "{err}");
        assert!(err.contains("999/stat"), "{err}");
    }

    /// A `sh` whose child `sleep` must not outlive the test: on SIGTERM the shell's trap kills
    /// and reaps the sleep itself, then exits, and we reap the shell. (Killing both instead
    /// would orphan the sleep to pid 1, which need not reap it promptly.)
    struct Shell(std::process::Child);

    impl Drop for Shell {
        fn drop(&mut self) {
            let pid = nix::unistd::Pid::from_raw(self.0.id() as i32);
            let _ = nix::sys::signal::kill(pid, nix::sys::signal::Signal::SIGTERM);
            let _ = self.0.wait();
        }
    }

    /// Polls `f` until it returns Some; a bound, not a timing assertion.
    fn eventually<T>(what: &str, mut f: impl FnMut() -> Option<T>) -> T {
        for _ in 0..500 {
            if let Some(v) = f() {
                return v;
            }
            std::thread::sleep(Duration::from_millis(10));
        }
        panic!("gave up waiting for {what}");
    }

    #[test]
    fn live_tree_of_a_shell_and_its_child() {
        // `wait` with no operand also covers a SIGTERM that lands before `p` is set.
        let script = "trap 'kill $p 2>/dev/null; wait; exit 0' TERM; sleep 5 & p=$!; wait";
        let child = std::process::Command::new("sh")
            .args(["-c", script])
            .spawn()
            .expect("spawning sh");
        let shell = Shell(child);
        let sh = shell.0.id() as i32;
        let nodes = eventually("sh to fork sleep", || {
            let nodes = tree(Path::new("/proc"), sh).expect("live tree");
            // The root too: on a slow machine it may not have exec'd `sh` yet.
            (nodes.len() == 2 && nodes[0].proc.comm == "sh" && nodes[1].proc.comm == "sleep")
                .then_some(nodes)
        });
        let (top, sleep) = (&nodes[0], &nodes[1]);
        assert_eq!(
            (top.depth, top.proc.pid, top.proc.comm.as_str()),
            (0, sh, "sh")
        );
        assert_eq!((sleep.depth, sleep.proc.ppid), (1, sh));
        assert_eq!(
            sleep.proc.cmdline,
            Some(vec!["sleep".to_string(), "5".to_string()])
        );
        // No pid namespace of its own: the pid inside is the host pid.
        assert_eq!(sleep.proc.inner_pid(), sleep.proc.pid);
        assert_eq!(sleep.proc.status.ns_pid, [sleep.proc.pid]);
        assert!(sleep.proc.status.uid.is_some());
        assert!(sleep.proc.status.cap_bnd.is_some());
        assert!(sleep.proc.uid_map.as_ref().is_some_and(|m| !m.is_empty()));

        let sleep_pid = sleep.proc.pid;
        drop(shell);
        // The shell reaped its sleep before exiting: no zombie is left to pid 1.
        let gone = !Path::new(&format!("/proc/{sleep_pid}")).exists()
            || parse_status(
                &std::fs::read_to_string(format!("/proc/{sleep_pid}/status")).unwrap_or_default(),
            )
            .ppid
                != Some(1);
        assert!(gone, "sleep {sleep_pid} outlived its shell");
    }

    #[test]
    fn live_zombie_child_is_shown_as_zombie() {
        let mut child = std::process::Command::new("true")
            .spawn()
            .expect("spawning true");
        let pid = child.id() as i32;
        let me = std::process::id() as i32;
        // Not waited for yet, so once it exits it stays a zombie under this test process.
        let zombie = eventually("true to exit", || {
            let nodes = tree(Path::new("/proc"), me).expect("live tree of self");
            nodes
                .into_iter()
                .find(|n| n.proc.pid == pid && n.proc.is_zombie())
        });
        assert_eq!(zombie.depth, 1);
        assert_eq!(zombie.proc.cmdline, None, "a zombie has no command line");
        assert_eq!(zombie.proc.status.state, Some(ProcState::Zombie));
        child.wait().expect("reaping the zombie");
        let nodes = tree(Path::new("/proc"), me).expect("live tree of self");
        assert!(nodes.iter().all(|n| n.proc.pid != pid), "reaped, so gone");
    }
}
