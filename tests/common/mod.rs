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
