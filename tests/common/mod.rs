//! Shared helpers for the root integration tests: skipping honestly when not root,
//! running the real binary, and snapshots of host state to prove nothing is left.
#![allow(dead_code)]

use std::collections::BTreeSet;
use std::path::Path;
use std::process::{Command, Output};

pub const BIN: &str = env!("CARGO_BIN_EXE_underhood");

/// Root tests in one binary run one at a time: each compares the whole host's state
/// before and after, which another test's container would disturb.
static SERIAL: std::sync::Mutex<()> = std::sync::Mutex::new(());

/// Returns a guard holding the serial lock when the test may run (as root);
/// otherwise says so on stderr (visible in CI logs and with `--nocapture`) so a skip
/// is never mistaken for a pass.
pub fn root_or_skip(name: &str) -> Option<std::sync::MutexGuard<'static, ()>> {
    if nix::unistd::geteuid().is_root() {
        return Some(SERIAL.lock().unwrap_or_else(|e| e.into_inner()));
    }
    eprintln!("SKIPPED (needs root): {name}");
    None
}

pub fn underhood(args: &[&str]) -> Output {
    Command::new(BIN)
        .args(args)
        .output()
        .expect("running the underhood binary")
}

pub fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

pub fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

/// Everything of ours that could be left on the host.
#[derive(Debug, PartialEq, Eq, Clone)]
pub struct Residue {
    pub mounts: BTreeSet<String>,
    pub cgroups: BTreeSet<String>,
    pub links: BTreeSet<String>,
    pub state_dirs: BTreeSet<String>,
    pub processes: BTreeSet<String>,
    /// The host's hostname: a container must never change it.
    pub hostname: String,
}

impl Residue {
    /// Nothing here that `before` did not have.
    pub fn within(&self, before: &Residue) -> bool {
        self.mounts.is_subset(&before.mounts)
            && self.cgroups.is_subset(&before.cgroups)
            && self.links.is_subset(&before.links)
            && self.state_dirs.is_subset(&before.state_dirs)
            && self.processes.is_subset(&before.processes)
            && self.hostname == before.hostname
    }
}

fn dir_names(dir: &Path, keep: impl Fn(&str) -> bool) -> BTreeSet<String> {
    std::fs::read_dir(dir)
        .map(|rd| {
            rd.flatten()
                .map(|e| e.file_name().to_string_lossy().into_owned())
                .filter(|n| keep(n))
                .collect()
        })
        .unwrap_or_default()
}

/// Our cgroups live directly under each hierarchy's root as `underhood-*`.
fn cgroup_dirs() -> BTreeSet<String> {
    let mut out = BTreeSet::new();
    let root = Path::new("/sys/fs/cgroup");
    let mut roots = vec![root.to_path_buf()];
    if let Ok(rd) = std::fs::read_dir(root) {
        roots.extend(rd.flatten().map(|e| e.path()).filter(|p| p.is_dir()));
    }
    for r in roots {
        for n in dir_names(&r, |n| n.starts_with("underhood")) {
            out.insert(r.join(n).display().to_string());
        }
    }
    out
}

/// Processes whose command is one of ours (the subject names itself underhood-init).
fn our_processes() -> BTreeSet<String> {
    let mut out = BTreeSet::new();
    for pid in dir_names(Path::new("/proc"), |n| {
        n.bytes().all(|b| b.is_ascii_digit())
    }) {
        let comm = std::fs::read_to_string(format!("/proc/{pid}/comm")).unwrap_or_default();
        if comm.trim() == "underhood-init" {
            out.insert(format!("{pid} {}", comm.trim()));
        }
    }
    out
}

pub fn residue() -> Residue {
    let mounts = std::fs::read_to_string("/proc/self/mountinfo")
        .unwrap_or_default()
        .lines()
        .map(|l| {
            // Drop the mount id and parent id: they may be renumbered.
            l.split_whitespace().skip(2).collect::<Vec<_>>().join(" ")
        })
        .collect();
    Residue {
        mounts,
        cgroups: cgroup_dirs(),
        links: dir_names(Path::new("/sys/class/net"), |n| n.starts_with("uh")),
        state_dirs: dir_names(Path::new("/run/underhood"), |_| true),
        processes: our_processes(),
        hostname: nix::unistd::gethostname()
            .map(|h| h.to_string_lossy().into_owned())
            .unwrap_or_default(),
    }
}

/// Asserts the host is as `before`, allowing a moment for asynchronous teardown in
/// the kernel (a network namespace is freed by a workqueue).
///
/// Only what *appeared* counts: something that vanished was a stale leftover of an
/// earlier crashed run that `cleanup` (or a start) rightly removed. That cleanup never
/// touches a live session is checked by its own tests.
pub fn assert_no_residue(before: &Residue) {
    let mut after = residue();
    for _ in 0..100 {
        if after.within(before) {
            return;
        }
        std::thread::sleep(std::time::Duration::from_millis(20));
        after = residue();
    }
    panic!(
        "underhood left something behind:\n{}",
        describe(before, &after)
    );
}

/// Only what differs, one line each.
fn describe(before: &Residue, after: &Residue) -> String {
    let mut out = String::new();
    let mut sets = |what: &str, b: &BTreeSet<String>, a: &BTreeSet<String>| {
        for x in a.difference(b) {
            out.push_str(&format!("  + {what}: {x}\n"));
        }
        for x in b.difference(a) {
            out.push_str(&format!("  - {what}: {x}\n"));
        }
    };
    sets("mount", &before.mounts, &after.mounts);
    sets("cgroup", &before.cgroups, &after.cgroups);
    sets("link", &before.links, &after.links);
    sets("state dir", &before.state_dirs, &after.state_dirs);
    sets("process", &before.processes, &after.processes);
    if before.hostname != after.hostname {
        out.push_str(&format!(
            "  host hostname changed: {:?} -> {:?}\n",
            before.hostname, after.hostname
        ));
    }
    out
}

// ---- Added for the fault-injection and security tests (tests/faults.rs, tests/security.rs).
// Other developers may run live underhood sessions on the same machine while these tests
// run: the comparisons below leave out whatever belongs to a session whose controller is
// alive and not a descendant of this test process.

/// Runs the binary with extra environment variables.
pub fn underhood_env(args: &[&str], env: &[(&str, &str)]) -> Output {
    Command::new(BIN)
        .args(args)
        .envs(env.iter().copied())
        .output()
        .expect("running the underhood binary")
}

/// The parent pid of `pid`, from /proc/<pid>/stat (None once it is gone).
pub fn ppid_of(pid: i32) -> Option<i32> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    let rest = &stat[stat.rfind(')')? + 1..];
    rest.split_whitespace().nth(1)?.parse().ok()
}

/// `pid` itself and its ancestors up to (and including) pid 1.
pub fn ancestry(pid: i32) -> Vec<i32> {
    let mut out = vec![pid];
    let mut p = pid;
    while p > 1 {
        match ppid_of(p) {
            Some(pp) if pp > 0 && !out.contains(&pp) => {
                out.push(pp);
                p = pp;
            }
            _ => break,
        }
    }
    out
}

pub fn is_descendant_of(pid: i32, ancestor: i32) -> bool {
    pid != ancestor && ancestry(pid).contains(&ancestor)
}

/// Every process below `ancestor`: (pid, comm, state letter).
pub fn descendants_of(ancestor: i32) -> Vec<(i32, String, char)> {
    let mut out = Vec::new();
    for name in dir_names(Path::new("/proc"), |n| {
        n.bytes().all(|b| b.is_ascii_digit())
    }) {
        let Ok(pid) = name.parse::<i32>() else {
            continue;
        };
        if !is_descendant_of(pid, ancestor) {
            continue;
        }
        let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
        let Some(close) = stat.rfind(')') else {
            continue;
        };
        let comm = stat
            .get(stat.find('(').map_or(0, |i| i + 1)..close)
            .unwrap_or("")
            .to_string();
        let state = stat[close + 1..].trim_start().chars().next().unwrap_or('?');
        out.push((pid, comm, state));
    }
    out
}

/// Zombies on the whole host (state Z), for figures: other programs make some too.
pub fn zombies_on_host() -> usize {
    dir_names(Path::new("/proc"), |n| {
        n.bytes().all(|b| b.is_ascii_digit())
    })
    .iter()
    .filter(|pid| {
        let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
        stat.rfind(')')
            .and_then(|i| stat[i + 1..].trim_start().chars().next())
            == Some('Z')
    })
    .count()
}

/// The session directories under /run/underhood (8 hex digits each).
pub fn session_ids() -> BTreeSet<String> {
    dir_names(Path::new("/run/underhood"), |n| {
        n.len() == 8 && n.bytes().all(|b| b.is_ascii_hexdigit())
    })
}

/// Sessions that are not ours to judge: their controller runs and is neither this test
/// process nor one of its descendants. Each with every pid it recorded.
pub fn foreign_live_sessions() -> std::collections::BTreeMap<String, BTreeSet<i32>> {
    use underhood::runtime::{paths::Paths, state};
    let paths = Paths::host();
    let me = std::process::id() as i32;
    let mut out = std::collections::BTreeMap::new();
    for (dir, st) in state::list(&paths) {
        let Ok(st) = st else { continue };
        let Some(c) = st.controller else { continue };
        if !state::is_alive(&paths.proc_root, c) || c.pid == me || is_descendant_of(c.pid, me) {
            continue;
        }
        let id = dir
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        let mut pids: BTreeSet<i32> = st.subjects.iter().map(|s| s.pid).collect();
        pids.insert(c.pid);
        out.insert(id, pids);
    }
    out
}

/// The session id an item of a [`Residue`] belongs to, when its name says so: a state
/// dir `<id>`, a cgroup `.../underhood-<id>`, a veth `uh<id>h`/`uh<id>c`, a mount under
/// `/run/underhood/<id>`.
pub fn session_of(kind: &str, item: &str) -> Option<String> {
    let hex8 = |s: &str| {
        let s = s.get(..8)?;
        s.bytes()
            .all(|b| b.is_ascii_hexdigit())
            .then(|| s.to_string())
    };
    match kind {
        "state dir" => hex8(item),
        "cgroup" => item
            .rsplit('/')
            .next()
            .and_then(|n| n.strip_prefix("underhood-"))
            .and_then(hex8),
        "link" => item.strip_prefix("uh").and_then(hex8),
        "mount" => item
            .find("/run/underhood/")
            .and_then(|i| hex8(&item[i + "/run/underhood/".len()..])),
        _ => None,
    }
}

/// What changed between two snapshots that is ours to answer for, one line each
/// (`+` appeared, `-` vanished). Left out: what appeared and belongs to a live session
/// of someone else; what vanished and belonged to a session that has ended since (its
/// state dir is gone: it finished, or a cleanup removed it as stale); processes that
/// vanished (they come and go; tests that care look at their own).
pub fn residue_changes(before: &Residue, after: &Residue) -> Vec<String> {
    let foreign = foreign_live_sessions();
    let foreign_pids: BTreeSet<i32> = foreign.values().flatten().copied().collect();
    let sessions_now = session_ids();
    let mut out = Vec::new();
    let mut sets = |kind: &str, b: &BTreeSet<String>, a: &BTreeSet<String>| {
        for x in a.difference(b) {
            let foreign_item = match kind {
                "process" => x
                    .split_whitespace()
                    .next()
                    .and_then(|p| p.parse::<i32>().ok())
                    .is_some_and(|pid| ancestry(pid).iter().any(|p| foreign_pids.contains(p))),
                _ => session_of(kind, x).is_some_and(|id| foreign.contains_key(&id)),
            };
            if !foreign_item {
                out.push(format!("+ {kind}: {x}"));
            }
        }
        for x in b.difference(a) {
            let ended = kind == "process"
                || session_of(kind, x).is_some_and(|id| !sessions_now.contains(&id));
            if !ended {
                out.push(format!("- {kind}: {x}"));
            }
        }
    };
    sets("mount", &before.mounts, &after.mounts);
    sets("cgroup", &before.cgroups, &after.cgroups);
    sets("link", &before.links, &after.links);
    sets("state dir", &before.state_dirs, &after.state_dirs);
    sets("process", &before.processes, &after.processes);
    if before.hostname != after.hostname {
        out.push(format!(
            "host hostname changed: {:?} -> {:?}",
            before.hostname, after.hostname
        ));
    }
    out
}

/// Like [`assert_no_residue`], but robust to other people's live sessions on the same
/// machine (see [`residue_changes`]). Waits up to 2 s for asynchronous teardown.
pub fn assert_no_residue_of_ours(before: &Residue) {
    let mut changes = residue_changes(before, &residue());
    for _ in 0..100 {
        if changes.is_empty() {
            return;
        }
        std::thread::sleep(std::time::Duration::from_millis(20));
        changes = residue_changes(before, &residue());
    }
    panic!(
        "underhood left something behind:\n  {}",
        changes.join("\n  ")
    );
}

/// Running (not zombie) processes of ours — a controller's helpers `underhood-init` and
/// `underhood-shim` — that do not belong to someone else's live session. `residue()`
/// looks at `underhood-init` only, zombies included; a zombie whose parent is gone is
/// the host init's to reap and holds nothing.
pub fn live_underhood_processes() -> BTreeSet<String> {
    let foreign: BTreeSet<i32> = foreign_live_sessions()
        .values()
        .flatten()
        .copied()
        .collect();
    let mut out = BTreeSet::new();
    for name in dir_names(Path::new("/proc"), |n| {
        n.bytes().all(|b| b.is_ascii_digit())
    }) {
        let Ok(pid) = name.parse::<i32>() else {
            continue;
        };
        let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
        let (Some(open), Some(close)) = (stat.find('('), stat.rfind(')')) else {
            continue;
        };
        let comm = &stat[open + 1..close];
        let state = stat[close + 1..].trim_start().chars().next().unwrap_or('?');
        if !comm.starts_with("underhood-") || state == 'Z' {
            continue;
        }
        if ancestry(pid).iter().any(|p| foreign.contains(p)) {
            continue;
        }
        out.insert(format!("{pid} {comm}"));
    }
    out
}
