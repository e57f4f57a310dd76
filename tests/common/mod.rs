//! Shared helpers for the root integration tests: a harness that reports a test it cannot
//! run here as *ignored* (never as passed), running the real binary, and snapshots of host
//! state to prove nothing is left.
//!
//! A test binary that has root-only tests sets `harness = false` in Cargo.toml and lists
//! its tests in its own `main` (libtest-mimic: same command line, same output and closing
//! line as libtest, so `cargo test NAME`, `--exact`, `--skip`, `--list` keep working):
//!
//! ```ignore
//! mod common;
//! use common::*;
//!
//! fn main() -> std::process::ExitCode {
//!     run(root_trials![root_first_test, root_second_test])
//! }
//!
//! fn root_first_test() { /* no #[test], no root check: the harness does both */ }
//! ```
//!
//! A test with another requirement uses [`trial`] with its own reason. Output is never
//! captured (libtest-mimic has no capture), so `--nocapture` changes nothing.
#![allow(dead_code, unused_macros)]

pub mod pty;
pub mod running;
pub mod tmux;

#[allow(unused_imports)]
pub use running::{Running, read_state};

use std::cell::Cell;
use std::collections::BTreeSet;
use std::panic::{AssertUnwindSafe, catch_unwind, resume_unwind};
use std::path::Path;
use std::process::{Command, ExitCode, Output};
use std::sync::{Mutex, MutexGuard};

pub use libtest_mimic::Trial;
use libtest_mimic::{Arguments, Completion};

pub const BIN: &str = env!("CARGO_BIN_EXE_underhood");

/// Root tests in one binary run one at a time: each compares the whole host's state
/// before and after, which another test's container would disturb.
static SERIAL: Mutex<()> = Mutex::new(());

thread_local! {
    /// Whether this thread holds [`SERIAL`], so that taking it again cannot deadlock.
    static HOLDING_SERIAL: Cell<bool> = const { Cell::new(false) };
}

/// Holds the serial lock (see [`serial`]) until dropped.
pub struct Serial(Option<MutexGuard<'static, ()>>);

impl Drop for Serial {
    fn drop(&mut self) {
        if self.0.is_some() {
            HOLDING_SERIAL.set(false);
        }
    }
}

/// Waits until no other test of this binary runs, and keeps it so while the returned
/// value lives. Every [`trial`] runs with it held; taking it again on the same thread
/// returns at once.
pub fn serial() -> Serial {
    if HOLDING_SERIAL.get() {
        return Serial(None);
    }
    let guard = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    HOLDING_SERIAL.set(true);
    Serial(Some(guard))
}

/// Why this process cannot run a root-only test, or `None` when it is root.
pub fn unless_root() -> Option<String> {
    let uid = nix::unistd::geteuid();
    (!uid.is_root()).then(|| format!("needs root, running as uid {uid}"))
}

/// A test that needs root: reported ignored, with the reason, when not run as root.
/// Otherwise like [`trial`].
pub fn root_trial(name: &str, test: impl FnOnce() + Send + 'static) -> Trial {
    trial(name, unless_root(), test)
}

/// A test that runs only when `unmet` is `None`; otherwise it is reported *ignored* with
/// `unmet` as the reason (`test NAME ... ignored (REASON)`), never run and never counted
/// as passed. It runs with the [`serial`] lock held; a panic fails it; [`skip`] inside it
/// reports it ignored.
pub fn trial(name: &str, unmet: Option<String>, test: impl FnOnce() + Send + 'static) -> Trial {
    Trial::ignorable_test(name, move || {
        if let Some(why) = unmet {
            return Ok(Completion::ignored_with(why));
        }
        let _serial = serial();
        match catch_unwind(AssertUnwindSafe(test)) {
            Ok(()) => Ok(Completion::Completed),
            Err(payload) => match payload.downcast::<Skip>() {
                Ok(skip) => Ok(Completion::ignored_with(skip.0)),
                // A failure: libtest-mimic reports the panic's message.
                Err(payload) => resume_unwind(payload),
            },
        }
    })
}

/// `trials![unmet; a, b]` is `vec![trial("a", unmet.clone(), a), trial("b", ...)]`: tests
/// that share one requirement (`unmet`, an `Option<String>` as for [`trial`]), each listed
/// under its function's name.
macro_rules! trials {
    ($unmet:expr; $($test:ident),* $(,)?) => {{
        let unmet: Option<String> = $unmet;
        vec![$($crate::common::trial(stringify!($test), unmet.clone(), $test)),*]
    }};
}
/// `root_trials![a, b]`: tests that need root (see [`root_trial`]), each listed under its
/// function's name.
macro_rules! root_trials {
    ($($test:ident),* $(,)?) => {
        $crate::common::trials![$crate::common::unless_root(); $($test),*]
    };
}
#[allow(unused_imports)]
pub(crate) use {root_trials, trials};

/// The payload of [`skip`].
struct Skip(String);

/// Ends the running [`trial`] as ignored with `why`: for a check this machine cannot make
/// (a missing host feature found only while testing). Unwinds without the panic message.
pub fn skip(why: impl Into<String>) -> ! {
    resume_unwind(Box::new(Skip(why.into())))
}

/// The `main` of a test binary with `harness = false`: reads libtest's command line
/// (filters, `--exact`, `--skip`, `--list`, `--ignored`, `--test-threads`, `--format`;
/// `RUST_TEST_THREADS` too), runs `trials` and ends with libtest's closing line
/// (`test result: ok. N passed; N failed; N ignored; ...`) and exit status.
///
/// One test at a time, in the order listed, unless told otherwise: each holds the
/// [`serial`] lock anyway, and uncaptured output then sits under its test's name.
pub fn run(trials: Vec<Trial>) -> ExitCode {
    let mut args = Arguments::from_args();
    args.test_threads = args
        .test_threads
        .or_else(|| {
            std::env::var("RUST_TEST_THREADS")
                .ok()
                .and_then(|n| n.parse().ok())
                .filter(|n| *n > 0)
        })
        .or(Some(1));
    libtest_mimic::run(&args, trials).exit_code()
}

/// For a test file still on libtest's own harness (`#[test]`): the [`serial`] lock, when
/// root. When not root it panics, a failure, never a silent pass: list the test with
/// [`root_trial`] instead and it is reported ignored. Inside a [`trial`] it is harmless.
pub fn root_or_skip(name: &str) -> Option<Serial> {
    if let Some(why) = unless_root() {
        panic!("{name} {why}: list it with common::root_trial to have it reported ignored");
    }
    Some(serial())
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
    /// Whether /run/underhood itself exists (it goes with its last session).
    pub state_root: bool,
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
            && (before.state_root || !self.state_root)
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
        state_root: Path::new("/run/underhood").exists(),
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
    if after.state_root && !before.state_root {
        out.push_str("  + the state directory /run/underhood itself\n");
    }
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

/// Gone, or a zombie waiting for its parent to reap it (state `Z` after the comm in
/// /proc/PID/stat, proc(5)).
pub fn gone(pid: i32) -> bool {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
    stat.is_empty()
        || stat
            .rsplit(')')
            .next()
            .is_some_and(|r| r.trim_start().starts_with('Z'))
}

/// Polls until `pid` is [`gone`]; fails, naming `what` and its last /proc/PID/stat,
/// when it is still there after `limit` (a hang bound, not a timing).
pub fn wait_gone(pid: i32, what: &str, limit: std::time::Duration) {
    let start = std::time::Instant::now();
    while !gone(pid) {
        let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
        assert!(
            start.elapsed() < limit,
            "{what} (pid {pid}) still there after {limit:?}: {stat}"
        );
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
}

/// The host before a TUI test: stale sessions (a dead controller's) removed first, as
/// the TUI does when it starts, so that a comparison sees only what the test did.
pub fn residue_after_cleanup() -> Residue {
    let out = underhood(&["cleanup"]);
    assert!(out.status.success(), "underhood cleanup: {out:?}");
    residue()
}

/// `major minor` of the block device holding the host's `/` (mountinfo's field 3 of
/// the mount at `/`, proc(5)), if root on the host may open its node in /dev: where it
/// may not, a refusal inside a container proves nothing.
pub fn host_root_device() -> Option<(u64, u64)> {
    use std::os::unix::fs::{FileTypeExt, MetadataExt};
    let mi = std::fs::read_to_string("/proc/self/mountinfo").ok()?;
    let line = mi
        .lines()
        .find(|l| l.split_whitespace().nth(4) == Some("/"))?;
    let (maj, min) = line.split_whitespace().nth(2)?.split_once(':')?;
    let (maj, min): (u64, u64) = (maj.parse().ok()?, min.parse().ok()?);
    for e in std::fs::read_dir("/dev").ok()?.flatten() {
        let Ok(m) = e.metadata() else { continue };
        if m.file_type().is_block_device()
            && nix::sys::stat::major(m.rdev()) == maj
            && nix::sys::stat::minor(m.rdev()) == min
        {
            return std::fs::File::open(e.path()).ok().map(|_| (maj, min));
        }
    }
    None
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

/// Why the busybox rootfs flavour cannot be built here (no executable `busybox` in
/// `$PATH` or the standard directories, where the assembler looks), or `None`. A test
/// of that flavour is reported ignored with this reason (.ci/run installs
/// busybox-static, so CI runs it); the host-tools flavour is tested everywhere.
pub fn no_busybox() -> Option<String> {
    use std::os::unix::fs::PermissionsExt;
    let path = std::env::var_os("PATH").unwrap_or_default();
    let standard = [
        "/usr/local/sbin",
        "/usr/local/bin",
        "/usr/sbin",
        "/usr/bin",
        "/sbin",
        "/bin",
    ];
    let found = std::env::split_paths(&path)
        .chain(standard.iter().map(std::path::PathBuf::from))
        .map(|d| d.join("busybox"))
        .any(|p| {
            std::fs::metadata(p).is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
        });
    (!found).then(|| {
        "no busybox on this host for the busybox flavour (apt-get install busybox-static)"
            .to_string()
    })
}
