//! Root integration tests of the container's terminal (runtime/console.rs): `underhood
//! run` on a terminal gives its command a terminal of the container's own devpts,
//! named there (/dev/pts/0), on both rootfs flavours and without an init; a stdout
//! that was not a terminal stays as it was; the terminal's master end is held by the
//! controller alone. Each runs `run` on a pseudo-terminal of ours, as a person's shell
//! does. Not as root, each is reported ignored (`common::root_trial`), never passed.

mod common;

use common::pty::{OnTty, masters_below, masters_held};
use common::*;

fn main() -> std::process::ExitCode {
    let mut all = root_trials![
        root_run_on_a_terminal_names_it_inside_on_host_tools,
        root_without_an_init_the_command_has_its_terminal_too,
        root_a_stdout_that_is_not_the_terminal_stays_as_it_is,
        root_only_the_controller_holds_the_master,
    ];
    // The busybox flavour needs a busybox on the host (CI installs busybox-static).
    all.insert(
        1,
        trial(
            "root_run_on_a_terminal_names_it_inside_on_busybox",
            unless_root().or_else(no_busybox),
            || named_inside(&[], "busybox"),
        ),
    );
    run(all)
}

/// tty_nr of /dev/pts/0 (proc(5) /proc/PID/stat field 7): major 136, minor 0.
const PTS0_TTY_NR: &str = "34816";

/// What the command says of its terminal: its name (tty(1): ttyname(3) on stdin),
/// whether stdin is one, whether that name exists inside as a character device, what
/// stdout is, the controlling terminal (`cut` reads its own, its shell's session's),
/// and the size (`stty`, which the host-tools flavour does not have).
const ASK: &str = "tty; [ -t 0 ] && echo stdin-is-a-terminal; \
    [ -c \"$(tty)\" ] && echo its-name-exists; readlink /proc/self/fd/1; \
    cut -d' ' -f7 /proc/self/stat; stty size 2>/dev/null || echo no-stty";

fn root_run_on_a_terminal_names_it_inside_on_host_tools() {
    named_inside(&[], "host-tools");
}

/// `run --no-init`: the shell is PID 1 itself, and the terminal is its controlling
/// terminal all the same.
fn root_without_an_init_the_command_has_its_terminal_too() {
    named_inside(&["--no-init"], "host-tools");
}

fn named_inside(options: &[&str], flavour: &str) {
    let before = residue();
    let mut args = vec!["run"];
    args.extend(options);
    args.extend(["--", "/bin/sh", "-c", ASK]);
    let env = [("UNDERHOOD_ROOTFS_FLAVOUR", flavour)];
    let (code, out) = OnTty::start(&args, &env, (31, 97), None).finish();
    let what = format!("{flavour} {options:?}");
    assert_eq!(code, Some(0), "{what}:\n{out}");
    let lines: Vec<&str> = out.lines().map(str::trim).collect();
    for want in [
        "/dev/pts/0",
        "stdin-is-a-terminal",
        "its-name-exists",
        PTS0_TTY_NR,
    ] {
        assert!(lines.contains(&want), "{what}: no line {want:?} in:\n{out}");
    }
    // tty(1) on stdin and readlink of stdout: the same terminal, named inside.
    let named = lines.iter().filter(|l| **l == "/dev/pts/0").count();
    assert_eq!(named, 2, "{what}:\n{out}");
    // The caller's size, set by PID 1 before the command started.
    if flavour == "busybox" || !lines.contains(&"no-stty") {
        assert!(lines.contains(&"31 97"), "{what}: size not 31 97:\n{out}");
    }
    assert_no_residue(&before);
}

/// Only stdin and stderr are our terminal: stdout, a file, stays the file.
fn root_a_stdout_that_is_not_the_terminal_stays_as_it_is() {
    let before = residue();
    let dir = tempfile::tempdir().expect("a temp dir");
    let file = dir.path().join("out");
    let f = std::fs::File::create(&file).expect("creating the output file");
    let script = "tty; [ -t 1 ] || echo stdout-is-not-a-terminal; [ -t 2 ] && echo err-is >&2";
    let (code, shown) = OnTty::start(
        &["run", "--", "/bin/sh", "-c", script],
        &[],
        (24, 80),
        Some(f),
    )
    .finish();
    let written = std::fs::read_to_string(&file).unwrap_or_default();
    assert_eq!(code, Some(0), "terminal:\n{shown}\nfile:\n{written}");
    assert_eq!(
        written, "/dev/pts/0\nstdout-is-not-a-terminal\n",
        "terminal:\n{shown}"
    );
    assert!(shown.contains("err-is"), "{shown}");
    assert_no_residue(&before);
}

/// Thinking as an attacker inside: the master end of the container's terminal reads
/// and types everything on it. While the command runs, no process below the controller
/// (the shim, PID 1, the command) holds it; the controller does, as one descriptor.
fn root_only_the_controller_holds_the_master() {
    let before = residue();
    let mut t = OnTty::start(
        &[
            "run",
            "--",
            "/bin/sh",
            "-c",
            "tty; echo READY; read x; echo GOT-$x",
        ],
        &[],
        (24, 80),
        None,
    );
    t.wait_for("READY");
    let controller = t.child.id() as i32;
    let below = masters_below(controller);
    let own = masters_held(controller);
    t.type_in(b"typed\r");
    let (code, out) = t.finish();
    assert_eq!(code, Some(0), "{out}");
    assert!(out.contains("GOT-typed"), "{out}");
    assert!(
        below.is_empty(),
        "a process of the container holds a pty master: {below:?}"
    );
    assert_eq!(own.len(), 1, "the controller's masters: {own:?}");
    assert_no_residue(&before);
}
