//! Fault injection (issue 5, "Must hold"): whatever happens to a launch — SIGKILL,
//! SIGTERM, SIGHUP or a panic after any step, a failing step, a shared host root, two
//! sessions at once, a stale state file naming a reused pid, bad input — the host is left
//! as it was: no mount, cgroup, veth, state directory or process of ours.
//!
//! Root only: as non-root every test is reported ignored. The crash points come from the
//! test-only switch `UNDERHOOD_FAULT=kill|term|hup|panic:N` of `underhood run`, which acts
//! right after step N (1-based) completes. The number of steps is read from `--trace`.
//!
//! Figures for the closing note are printed with eprintln (always shown: this harness,
//! `common::run`, does not capture output).
//! `UNDERHOOD_CYCLES` sets the number of launch/teardown cycles (default 200).
//!
//! One file per kind of fault under tests/faults/, in the order they run:
//! - `kills`: SIGKILL after every step (then cleanup, or the next start); SIGTERM,
//!   SIGHUP and a panic;
//! - `failing_steps`: a step that fails, pivot_root refused;
//! - `shared_root`: a host whose / is rshared;
//! - `cycles`: many launch/teardown cycles;
//! - `sessions`: two sessions at once; a stale state file naming a reused pid;
//! - `bad_input`: bad options, values, images and volume targets.

#[path = "faults/bad_input.rs"]
mod bad_input;
mod common;
#[path = "faults/cycles.rs"]
mod cycles;
#[path = "faults/failing_steps.rs"]
mod failing_steps;
#[path = "faults/kills.rs"]
mod kills;
#[path = "faults/sessions.rs"]
mod sessions;
#[path = "faults/shared_root.rs"]
mod shared_root;

use std::collections::BTreeSet;
use std::path::Path;
use std::process::{Command, ExitStatus, Stdio};

use common::*;

fn main() -> std::process::ExitCode {
    let mut all = kills::trials();
    all.extend(failing_steps::trials());
    all.extend(shared_root::trials());
    all.extend(cycles::trials());
    all.extend(sessions::trials());
    all.extend(bad_input::trials());
    run(all)
}

fn me() -> i32 {
    std::process::id() as i32
}

/// The titles of the steps a plain run with `args` goes through: the `== ` headers of
/// `--trace`, less the teardown.
fn steps_of(args: &[&str]) -> Vec<String> {
    let mut all = vec!["run", "--trace"];
    all.extend_from_slice(args);
    all.extend_from_slice(&["--", "true"]);
    let o = underhood(&all);
    assert_eq!(o.status.code(), Some(0), "{all:?}: {}", stderr(&o));
    let steps: Vec<String> = stderr(&o)
        .lines()
        .filter_map(|l| l.strip_prefix("== "))
        // Titles end with the step's duration: "pivot_root (228 µs)".
        .map(|t| match t.rfind(" (") {
            Some(i) if t.ends_with(" µs)") => &t[..i],
            _ => t,
        })
        .filter(|t| *t != "teardown")
        .map(str::to_string)
        .collect();
    assert!(steps.len() >= 8, "too few steps in the trace: {steps:?}");
    steps
}

/// Runs `underhood run ARGS -- CMD` with `UNDERHOOD_FAULT=fault`; stdout is discarded
/// and stderr goes to a file, so a process that outlived the controller cannot hold a
/// pipe open and hang the test (residue checks find such a process instead).
fn run_fault(fault: &str, args: &[&str], cmd: &[&str]) -> (ExitStatus, String) {
    let err = tempfile::NamedTempFile::new().expect("temp file");
    let status = Command::new(BIN)
        .arg("run")
        .args(args)
        .arg("--")
        .args(cmd)
        .env("UNDERHOOD_FAULT", fault)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(err.reopen().expect("reopen"))
        .status()
        .expect("running underhood");
    let text = std::fs::read_to_string(err.path()).unwrap_or_default();
    (status, text)
}

/// Session dirs that appeared since `before`, less other people's live sessions.
fn new_sessions(before: &BTreeSet<String>) -> Vec<String> {
    let foreign = foreign_live_sessions();
    session_ids()
        .difference(before)
        .filter(|id| !foreign.contains_key(*id))
        .cloned()
        .collect()
}

/// No process left below the test process (the controllers were all waited for).
fn assert_no_descendants(what: &str) {
    let left = descendants_of(me());
    assert!(
        left.is_empty(),
        "{what}: processes left below the test: {left:?}"
    );
}

/// A volume source for the launches: a directory with one file.
fn volume_dir() -> tempfile::TempDir {
    let d = tempfile::tempdir().expect("tempdir");
    std::fs::write(d.path().join("hello"), "hello\n").expect("write");
    d
}

/// Every kind of thing a session creates: a cgroup in each hierarchy, a veth pair,
/// a volume, an overlay, pivot_root.
fn full_config(vol: &Path) -> Vec<String> {
    [
        "--memory",
        "32M",
        "--pids",
        "64",
        "--net",
        "veth",
        "-v",
        &format!("{}:/data", vol.display()),
    ]
    .iter()
    .map(|s| s.to_string())
    .collect()
}

/// A user namespace (root inside is uid 100000 outside) and chroot instead of pivot_root.
fn userns_chroot_config() -> Vec<String> {
    ["--userns", "--chroot", "--memory", "32M"]
        .iter()
        .map(|s| s.to_string())
        .collect()
}

fn strs(v: &[String]) -> Vec<&str> {
    v.iter().map(String::as_str).collect()
}
