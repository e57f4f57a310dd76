//! Root tests of the default root filesystem and the tools layer: each is entered with
//! chroot(8), which needs root. Moved from `src/runtime/assemble/tests.rs` so that, not as
//! root, each is reported ignored rather than passed (see `tests/common`).

mod common;

use std::path::{Path, PathBuf};
use std::process::Command;

use common::{Trial, root_trials, run, trial, unless_root};
use underhood::runtime::assemble::{Flavour, assemble_flavour, tools_layer};
use underhood::runtime::paths::Paths;

fn main() -> std::process::ExitCode {
    let mut trials: Vec<Trial> = root_trials![
        root_chroot_runs_the_shell_of_host_tools,
        root_tools_layer_runs_in_a_chroot,
    ];
    // The busybox flavour needs a busybox on the host (.ci/run installs busybox-static).
    let no_busybox = unless_root().or_else(common::no_busybox);
    trials.push(trial(
        "root_chroot_runs_the_shell_of_busybox",
        no_busybox,
        || chroot_runs_the_shell(Flavour::Busybox),
    ));
    run(trials)
}

fn temp_paths(t: &Path) -> Paths {
    Paths {
        proc_root: PathBuf::from("/proc"),
        cgroup_root: t.join("cgroup"),
        state_dir: t.join("state"),
        cache_dir: t.join("cache"),
    }
}

/// The host's chroot(8), found whatever the test's environment: `$PATH`, then the
/// standard directories (as the assembler searches).
fn chroot_cmd() -> Command {
    let path = std::env::var_os("PATH").unwrap_or_default();
    let standard = [
        "/usr/local/sbin",
        "/usr/local/bin",
        "/usr/sbin",
        "/usr/bin",
        "/sbin",
        "/bin",
    ];
    let chroot = std::env::split_paths(&path)
        .chain(standard.iter().map(PathBuf::from))
        .filter(|d| d.is_absolute())
        .map(|d| d.join("chroot"))
        .find(|p| {
            use std::os::unix::fs::PermissionsExt;
            std::fs::metadata(p).is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
        })
        .expect("chroot(8) on the host");
    Command::new(chroot)
}

fn root_chroot_runs_the_shell_of_host_tools() {
    chroot_runs_the_shell(Flavour::HostTools);
}

fn chroot_runs_the_shell(flavour: Flavour) {
    let t = tempfile::tempdir().unwrap();
    let a = assemble_flavour(&temp_paths(t.path()), flavour).unwrap();
    let want = if flavour == Flavour::Busybox {
        "busybox"
    } else {
        "host tools"
    };
    assert_eq!(a.source, want);
    let out = chroot_cmd()
        .arg(&a.dir)
        .args([
            "/bin/sh",
            "-c",
            // Never `hostname NAME` here: a chroot shares the host's UTS namespace.
            "echo hi; ls /; id; cat /etc/hostname",
        ])
        .env_clear()
        .env("PATH", "/usr/local/bin:/usr/bin:/bin:/usr/sbin:/sbin")
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "stdout: {stdout}\nstderr: {stderr}");
    assert!(stdout.starts_with("hi\n"), "{stdout}");
    for name in ["bin", "etc", "proc", "usr", "tmp"] {
        assert!(
            stdout.lines().any(|l| l == name),
            "no {name} in ls /: {stdout}"
        );
    }
    assert!(stdout.contains("uid=0(root)"), "{stdout}");
    assert!(stdout.contains("underhood"), "{stdout}");

    // bash, when copied, starts and reads the profile as a login shell.
    if a.shell == "/bin/bash" {
        let out = chroot_cmd()
            .arg(&a.dir)
            .args(["/bin/bash", "-lc", "echo $PATH"])
            .env_clear()
            .output()
            .unwrap();
        assert_eq!(
            String::from_utf8_lossy(&out.stdout).trim(),
            "/usr/local/bin:/usr/bin:/bin:/usr/sbin:/sbin",
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
}

fn root_tools_layer_runs_in_a_chroot() {
    let t = tempfile::tempdir().unwrap();
    let dir = tools_layer(&temp_paths(t.path())).unwrap();
    // The copy is this test binary: asking it to list its tests proves that the
    // interpreter and every library it needs are in the layer.
    let out = chroot_cmd()
        .arg(&dir)
        .args(["/usr/local/bin/hog", "--list"])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(String::from_utf8_lossy(&out.stdout).contains("root_tools_layer_runs_in_a_chroot"));
}
