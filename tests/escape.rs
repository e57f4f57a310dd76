//! The escape suite (issue 11): each test runs a real attack from inside a real
//! container (or from the host around it, as another user would) and fails when the
//! guarantee the lessons teach breaks. Grouped by what they attack:
//!
//! - `seccomp`: the syscall filter, namespaces made with clone(2)/clone3(2), x32
//!   numbers, TIOCSTI into the caller's terminal, inherited file descriptors, ptrace
//!   of PID 1;
//! - `fs`: the state directory and the upper layer seen from the host, device nodes,
//!   read-only volumes and their submounts, masked paths, hostile image symlinks;
//! - `image`: the image cache and unpacking bounds;
//! - `iso`: the host's System V IPC objects and processes, seen from inside;
//! - `ui`: the TUI and its files and sockets (closed terminals, `--record`,
//!   `--publish`, escapes in what we print).
//!
//! Probes are small static C programs (see `probe`) bound into the container read-only,
//! so they work on every rootfs flavour. Root only: as non-root every test is reported
//! ignored, never passed. Extend it as new probes are thought of, and list each probe
//! and its result in README.md's security section.

mod common;

#[path = "escape/fs.rs"]
mod fs;
#[path = "escape/image.rs"]
mod image;
#[path = "escape/iso.rs"]
mod iso;
#[path = "escape/probe.rs"]
mod probe;
#[path = "escape/seccomp.rs"]
mod seccomp;
#[path = "escape/ui.rs"]
mod ui;

fn main() -> std::process::ExitCode {
    let mut all = seccomp::trials();
    all.extend(fs::trials());
    all.extend(image::trials());
    all.extend(ui::trials());
    all.extend(iso::trials());
    common::run(all)
}
