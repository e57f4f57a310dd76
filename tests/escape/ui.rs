//! See tests/escape.rs. The TUI and what it prints, from the host around it: a
//! terminal that closes under a live session (items 9), a classroom's worth of idle
//! connections to `--publish` (10), escape sequences smuggled into what we print
//! (14), `--record` through another user's symlink (16).

use std::io::{BufRead, BufReader, Read};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use crate::common::tmux::{HEIGHT, Tui, WIDTH, fraction_after, unless_tmux};
use crate::common::{Trial, residue_after_cleanup, trial, unless_root, wait_gone};

pub fn trials() -> Vec<Trial> {
    let root_tmux = || unless_root().or_else(unless_tmux);
    vec![
        trial(
            "ui_a_closed_terminal_tears_the_tui_down",
            root_tmux(),
            a_closed_terminal_tears_the_tui_down,
        ),
        trial(
            "ui_a_closed_terminal_tears_a_lesson_down",
            root_tmux(),
            a_closed_terminal_tears_a_lesson_down,
        ),
        trial(
            "ui_a_closed_terminal_tears_a_follower_down",
            root_tmux(),
            a_closed_terminal_tears_a_follower_down,
        ),
        trial(
            "ui_replay_ignoring_sighup_exits_when_its_terminal_closes",
            unless_tmux(),
            replay_ignoring_sighup_exits_when_its_terminal_closes,
        ),
        trial(
            "ui_publish_refuses_clients_past_its_limit_and_keeps_working",
            root_tmux(),
            publish_refuses_clients_past_its_limit_and_keeps_working,
        ),
        trial(
            "ui_replay_prints_no_raw_escape_from_a_recording",
            None,
            replay_prints_no_raw_escape_from_a_recording,
        ),
        trial(
            "ui_replay_refuses_an_oversize_line_with_file_and_line",
            None,
            replay_refuses_an_oversize_line_with_file_and_line,
        ),
        trial(
            "ui_trace_and_step_failures_print_no_raw_escape_from_argv",
            unless_root(),
            trace_and_step_failures_print_no_raw_escape_from_argv,
        ),
        trial(
            "ui_hostnames_with_a_slash_a_newline_or_an_escape_are_refused",
            unless_root(),
            hostnames_with_a_slash_a_newline_or_an_escape_are_refused,
        ),
        trial(
            "ui_record_refuses_a_symlink_and_leaves_its_target_alone",
            root_tmux(),
            record_refuses_a_symlink_and_leaves_its_target_alone,
        ),
    ]
}

/// `step k/n` from the header line (the full launch and a lesson both show it).
fn step_counter(screen: &str) -> Option<(usize, usize)> {
    fraction_after(screen.lines().next()?, "step ")
}

/// Waits for the first screen; the number of steps.
fn started(tui: &Tui) -> usize {
    tui.first_step(step_counter).1
}

fn take_steps(tui: &Tui, upto: usize) {
    for k in 1..=upto {
        tui.step(k, step_counter);
    }
}

/// Item 9: the terminal closes (tmux kills the session: the pty's master closes, the
/// kernel hangs the tty up) while the TUI runs with stderr on that terminal, as a
/// person's does. It must tear the container down and exit, not abort on EIO.
fn closed_terminal(test: &str, args: &str) {
    let before = residue_after_cleanup();
    {
        let tui = Tui::launch_stderr_on_terminal(test, "", args, (WIDTH, HEIGHT));
        let n = started(&tui);
        take_steps(&tui, n.min(4));
        let pid = tui.pid();
        let out = tui.tmux(&["kill-session", "-t", "uh"]);
        assert!(out.status.success(), "{out:?}");
        wait_gone(pid, "the TUI", Duration::from_secs(30));
    }
    crate::common::assert_no_residue_of_ours(&before);
}

fn a_closed_terminal_tears_the_tui_down() {
    closed_terminal("hup-tty", "");
}

fn a_closed_terminal_tears_a_lesson_down() {
    closed_terminal("hup-lesson", "--lesson pid");
}

/// A follower (`--follow`) whose session is not there: it keeps its own container and
/// retries the link every second.
fn a_closed_terminal_tears_a_follower_down() {
    let port = free_port();
    closed_terminal("hup-follow", &format!("--follow 127.0.0.1:{port}"));
}

fn fixture(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/recordings")
        .join(name)
}

/// Item 9: `replay` under a wrapper that ignores SIGHUP (nohup, su, sudo): when its
/// terminal closes, reads give EOF forever; it must exit, not spin on them.
fn replay_ignoring_sighup_exits_when_its_terminal_closes() {
    let rec = fixture("v1-uts.jsonl");
    let tui = Tui::launch(
        "rp-hup",
        "trap '' HUP;",
        &format!("replay {}", rec.display()),
        (WIDTH, HEIGHT),
    );
    tui.wait_for("the replay's screen", Duration::from_secs(30), |s| {
        s.contains("REPLAY")
    });
    let pid = tui.pid();
    let sigign = std::fs::read_to_string(format!("/proc/{pid}/status"))
        .unwrap_or_default()
        .lines()
        .find_map(|l| l.strip_prefix("SigIgn:").map(|m| m.trim().to_string()))
        .and_then(|m| u64::from_str_radix(&m, 16).ok())
        .unwrap_or(0);
    assert!(
        sigign & (1 << (libc::SIGHUP - 1)) != 0,
        "SIGHUP not ignored"
    );
    let out = tui.tmux(&["kill-session", "-t", "uh"]);
    assert!(out.status.success(), "{out:?}");
    wait_gone(pid, "the replay", Duration::from_secs(20));
}

/// A free loopback port.
fn free_port() -> u16 {
    let l = TcpListener::bind("127.0.0.1:0").expect("bind 127.0.0.1:0");
    l.local_addr().expect("its address").port()
}

/// The first line a client of the session reads (bounded by its read timeout).
fn first_line(s: &TcpStream, k: usize) -> String {
    s.set_read_timeout(Some(Duration::from_secs(10)))
        .expect("SO_RCVTIMEO");
    let mut line = String::new();
    let r = BufReader::new(s).read_line(&mut line);
    assert!(
        r.is_ok() && !line.is_empty(),
        "client {k} got no line (neither served nor refused): {r:?}"
    );
    line
}

/// Item 10: many idle clients of `--publish` (more than the TUI's file descriptors,
/// `ulimit -n 256`): the extras are refused with a reason, the session's steps still
/// work, and once some clients leave a new one is served again.
fn publish_refuses_clients_past_its_limit_and_keeps_working() {
    const LIMIT: usize = 64;
    const EXTRA: usize = 300;
    let before = residue_after_cleanup();
    {
        let port = free_port();
        let addr = format!("127.0.0.1:{port}");
        let tui = Tui::launch(
            "publish",
            "ulimit -n 256;",
            &format!("--publish {addr}"),
            (WIDTH, HEIGHT),
        );
        started(&tui);
        let mut served = Vec::new();
        let mut refused = 0;
        for k in 0..LIMIT + EXTRA {
            let sa = addr.parse().expect("an address");
            let s = TcpStream::connect_timeout(&sa, Duration::from_secs(10))
                .unwrap_or_else(|e| panic!("client {k}: connect: {e}"));
            let line = first_line(&s, k);
            if let Some(why) = line.strip_prefix("refused: ") {
                assert!(why.contains("64"), "the refusal states the limit: {line}");
                let mut rest = Vec::new();
                // Closed after the reason: EOF (bounded by the read timeout).
                let n = (&s).read_to_end(&mut rest);
                assert!(matches!(n, Ok(0)), "client {k}: not closed: {n:?} {rest:?}");
                refused += 1;
            } else {
                assert!(line.starts_with('{'), "client {k}: {line}");
                served.push(s);
            }
        }
        assert_eq!(
            (served.len(), refused),
            (LIMIT, EXTRA),
            "served and refused clients"
        );
        // The session still works: a step (fds for its syscalls).
        take_steps(&tui, 2);
        // Ten leave; a follower gets in again.
        served.truncate(LIMIT - 10);
        let s = TcpStream::connect(&addr).expect("connecting again");
        let line = first_line(&s, LIMIT + EXTRA);
        assert!(line.starts_with('{'), "not served after some left: {line}");
        drop(served);
        tui.keys("q");
        let status = tui.wait_exit(Duration::from_secs(30));
        assert_eq!(status, "0", "stderr:\n{}", tui.stderr());
    }
    crate::common::assert_no_residue_of_ours(&before);
}

/// A header line as `underhood --record` writes it, with `underhood` set to `version`.
fn header(version: &str) -> String {
    let rec = std::fs::read_to_string(fixture("v1-uts.jsonl")).expect("the fixture");
    let first = rec.lines().next().expect("a header line");
    let mut v: serde_json::Value = serde_json::from_str(first).expect("JSON");
    v["underhood"] = serde_json::Value::String(version.into());
    serde_json::to_string(&v).expect("JSON")
}

fn no_raw_escape(what: &str, bytes: &[u8]) {
    assert!(
        !bytes.iter().any(|&b| b == 0x1b || b == 0x07 || b == 0x9b),
        "{what} carries raw control bytes: {:?}",
        String::from_utf8_lossy(bytes)
    );
}

/// `underhood replay FILE`, which must refuse FILE (exit status 2): its stderr.
fn replay_refused(file: &Path) -> Vec<u8> {
    let out = std::process::Command::new(crate::common::BIN)
        .arg("replay")
        .arg(file)
        .output()
        .expect("running replay");
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{err}");
    out.stderr
}

/// Item 14: a recording whose own strings are escape sequences (a variant name, the
/// recording version, its file name): replay's error shows them escaped, never raw.
fn replay_prints_no_raw_escape_from_a_recording() {
    let dir = tempfile::tempdir().expect("a temp dir");
    let evil = "\u{1b}]0;owned\u{7}\u{1b}[2J";
    let file = dir.path().join(format!("rec{evil}.jsonl"));
    let entry = serde_json::json!({"t_ms": 0, "batch": 1, "event": {"kind": evil}});
    std::fs::write(&file, format!("{}\n{entry}\n", header(evil))).expect("writing");
    let bytes = replay_refused(&file);
    let err = String::from_utf8_lossy(&bytes);
    no_raw_escape("replay's stderr", &bytes);
    assert!(err.contains(":2:"), "FILE:LINE: {err}");
    assert!(
        err.contains("\\u{1b}]0;owned\\u{7}"),
        "escaped, visibly: {err}"
    );
}

/// Item 14: one enormous line (5 MiB here; 300 MB took 11 GB) is refused with FILE:LINE
/// and the limit, before it is parsed.
fn replay_refuses_an_oversize_line_with_file_and_line() {
    let dir = tempfile::tempdir().expect("a temp dir");
    let file = dir.path().join("big.jsonl");
    let note = "x".repeat(5 << 20);
    let entry = serde_json::json!({"t_ms": 0, "batch": 1, "event": {"kind": "log",
        "report": {"step": "s", "calls": [], "shell": [], "notes": [note]}}});
    std::fs::write(&file, format!("{}\n{entry}\n", header("0.1.0"))).expect("writing");
    let bytes = replay_refused(&file);
    let err = String::from_utf8_lossy(&bytes);
    assert!(
        err.contains(&format!("{}:2:", file.display())),
        "FILE:LINE: {err}"
    );
    assert!(err.contains("longer than 4 MiB"), "the limit: {err}");
}

/// Item 14: escapes in the command's argv reach neither `--trace` nor the step's
/// failure message raw.
fn trace_and_step_failures_print_no_raw_escape_from_argv() {
    let before = residue_after_cleanup();
    let evil = "\u{1b}]0;owned\u{7}\u{1b}[2J";
    let out = crate::common::underhood(&["run", "--trace", "--", "/bin/true", evil]);
    assert_eq!(out.status.code(), Some(0), "{out:?}");
    no_raw_escape("--trace", &out.stderr);
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("\\u{1b}]0;owned"),
        "{out:?}"
    );
    let missing = format!("/no-such-{evil}");
    let out = crate::common::underhood(&["run", "--", &missing]);
    assert_eq!(out.status.code(), Some(127), "{out:?}");
    no_raw_escape("the step's failure", &out.stderr);
    crate::common::assert_no_residue_of_ours(&before);
}

/// Item 14: sethostname(2) takes any 64 bytes; we take RFC 1123 names only.
fn hostnames_with_a_slash_a_newline_or_an_escape_are_refused() {
    let before = residue_after_cleanup();
    for bad in ["a/b", "a\nfake: line", "\u{1b}[31mred", "x\u{1b}]0;t\u{7}"] {
        let out = crate::common::underhood(&["run", "--hostname", bad, "--", "true"]);
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{bad:?}: {out:?}");
        assert!(err.contains("invalid hostname"), "{bad:?}: {err}");
        no_raw_escape("the refusal", &out.stderr);
        assert_eq!(err.lines().count(), 1, "one line: {err}");
    }
    crate::common::assert_no_residue_of_ours(&before);
}

/// Item 16: another user's symlink where root records (a sticky world-writable dir):
/// `--record` refuses it, and the file it points at keeps its bytes.
fn record_refuses_a_symlink_and_leaves_its_target_alone() {
    use std::os::unix::fs::PermissionsExt;
    let before = residue_after_cleanup();
    let dir = tempfile::tempdir().expect("a temp dir");
    let shared = dir.path().join("tmp");
    std::fs::create_dir(&shared).expect("mkdir");
    std::fs::set_permissions(&shared, std::fs::Permissions::from_mode(0o1777)).expect("chmod");
    let target = dir.path().join("secret");
    std::fs::write(&target, "root's own bytes\n").expect("writing the target");
    std::fs::set_permissions(&target, std::fs::Permissions::from_mode(0o600)).expect("chmod");
    let link = shared.join("session.jsonl");
    std::os::unix::fs::symlink(&target, &link).expect("symlink");
    // The link belongs to another user, as in /tmp.
    std::os::unix::fs::lchown(&link, Some(65534), Some(65534)).expect("lchown");
    {
        let tui = Tui::launch(
            "record",
            "",
            &format!("--record {}", link.display()),
            (WIDTH, HEIGHT),
        );
        let start = Instant::now();
        while tui.status().is_none() && step_counter(&tui.screen()).is_none() {
            assert!(
                start.elapsed() < Duration::from_secs(120),
                "{}",
                tui.screen()
            );
            std::thread::sleep(Duration::from_millis(50));
        }
        if tui.status().is_none() {
            tui.keys("q");
        }
        let status = tui.wait_exit(Duration::from_secs(30));
        assert_eq!(
            std::fs::read_to_string(&target).expect("the target"),
            "root's own bytes\n",
            "the target was written through the link"
        );
        assert_ne!(status, "0", "a refused recording is an error");
        let err = tui.stderr();
        assert!(
            err.contains("--record") && err.contains("already there"),
            "{err}"
        );
    }
    assert!(
        std::fs::symlink_metadata(&link).is_ok_and(|m| m.file_type().is_symlink()),
        "the link stays a link"
    );
    crate::common::assert_no_residue_of_ours(&before);
}
