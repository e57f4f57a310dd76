//! The VM tier, from `cargo test`: each test boots Debian's kernel under qemu with
//! `vm/run.sh` (see vm/README.md) and runs the privileged tests inside, with cgroup v2
//! or the cgroup v1 layout. It takes minutes, needs root and apt, so it runs only with
//! `UNDERHOOD_VM=1`; without it each test is reported ignored with that reason, never as
//! passed.
//!
//! ```sh
//! sudo -E UNDERHOOD_VM=1 cargo test --test vm -- --nocapture
//! ```

mod common;

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Mutex;

/// One VM at a time: two would halve each other's 2 CPUs (vm/run.sh also takes a lock).
static ONE_VM_AT_A_TIME: Mutex<()> = Mutex::new(());

fn main() -> std::process::ExitCode {
    common::run(common::trials![
        unless_enabled();
        vm_cgroup_v2_tier,
        vm_cgroup_v1_tier,
    ])
}

/// Why the VM tier does not run: it was not asked for.
fn unless_enabled() -> Option<String> {
    if std::env::var_os("UNDERHOOD_VM").is_some_and(|v| v == "1") {
        return None;
    }
    Some("set UNDERHOOD_VM=1 to boot the VM tier".to_string())
}

/// Runs `vm/run.sh <layout>` and fails with its verdict and summary unless it passed.
fn boot(name: &str, layout: &str) {
    let _one = ONE_VM_AT_A_TIME
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner());
    let repo = Path::new(env!("CARGO_MANIFEST_DIR"));
    let work = std::env::var_os("UNDERHOOD_VM_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| repo.join("target/vm"));
    // The script's output (build, serial console, summary) goes straight to ours.
    let status = Command::new("bash")
        .arg(repo.join("vm/run.sh"))
        .arg(layout)
        .current_dir(repo)
        .status()
        .unwrap_or_else(|e| panic!("{name}: cannot run bash vm/run.sh: {e}"));
    if status.success() {
        return;
    }
    let why = match status.code() {
        Some(1) => "a check failed inside the VM",
        Some(2) => "the VM could not boot, or died before it reported a result",
        Some(3) => "the VM timed out",
        Some(4) => "the harness failed before the VM booted (root? apt? cargo build?)",
        _ => "vm/run.sh ended abnormally",
    };
    let summary_file = work.join(format!("summary-{layout}.txt"));
    let summary = std::fs::read_to_string(&summary_file)
        .unwrap_or_else(|e| format!("(no {}: {e})", summary_file.display()));
    panic!(
        "{name}: {why} (vm/run.sh {layout}: {status})\n{summary}\nfull serial log: {}",
        work.join(format!("serial-{layout}.log")).display()
    );
}

fn vm_cgroup_v2_tier() {
    boot("vm_cgroup_v2_tier", "v2");
}

fn vm_cgroup_v1_tier() {
    boot("vm_cgroup_v1_tier", "v1");
}
