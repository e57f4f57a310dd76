//! Record and replay. A root session in tmux records every step (`--record`); the same
//! file replayed a step at a time by an unprivileged user (uid 65534, through setpriv)
//! must draw the same screens at each recorded step. Only the footer differs: it says
//! REPLAY and lists the replay's keys.
//!
//! And without root: a recording committed under tests/fixtures/recordings (made by
//! the first recording format) must still play, to the same snapshot screens: old
//! recordings keep working, or this test says which one broke. The second format's
//! fixture (snapshots written as changes: a live session, every step, then the memory
//! hog until the OOM kill) plays to its own snapshot screens, through the kill.

mod common;
#[path = "fixtures/tui/screen.rs"]
mod screen;

use std::path::Path;
use std::time::{Duration, Instant};

use common::tmux::{HEIGHT, Tui, WIDTH, unless_tmux};
use common::{assert_no_residue_of_ours, residue, trial, unless_root};
use screen::{render, text};
use underhood::ui::recording;
use underhood::ui::replay::{Player, ReplayOptions};
use underhood::ui::theme::{Theme, ThemeKind};

fn main() -> std::process::ExitCode {
    let live = unless_root().or_else(unless_tmux);
    common::run(vec![
        trial(
            "a_root_recording_replays_the_same_screens_without_root",
            live,
            a_root_recording_replays_the_same_screens_without_root,
        ),
        trial(
            "the_first_format_still_plays_to_the_same_screens",
            None,
            the_first_format_still_plays_to_the_same_screens,
        ),
        trial(
            "the_second_format_plays_its_snapshots_whole",
            None,
            the_second_format_plays_its_snapshots_whole,
        ),
        trial(
            "what_cannot_be_played_is_refused_with_why",
            None,
            what_cannot_be_played_is_refused_with_why,
        ),
    ])
}

/// Waits for the header to say `step k/n`, then until the screen stops changing
/// (two captures 400 ms apart alike): samples that come after a step are part of it.
fn settled(tui: &Tui, k: usize, n: usize) -> String {
    let header = format!("step {k}/{n}");
    tui.wait_for(&header, Duration::from_secs(30), |s| {
        s.lines().next().is_some_and(|l| l.contains(&header))
    });
    let start = Instant::now();
    let mut last = tui.screen();
    loop {
        std::thread::sleep(Duration::from_millis(400));
        let now = tui.screen();
        if now == last {
            return now;
        }
        assert!(
            start.elapsed() < Duration::from_secs(15),
            "the screen at {header} never settled; last:\n{now}"
        );
        last = now;
    }
}

/// All of a screen but its last line (the footer: keys, and REPLAY in a replay).
fn body(screen: &str) -> String {
    let lines: Vec<&str> = screen.lines().collect();
    lines[..lines.len().saturating_sub(1)].join("\n")
}

/// The number of steps, from the header's `step 0/N`.
fn steps_in(screen: &str) -> usize {
    let head = screen.lines().next().unwrap_or_default();
    let after = head.split("step 0/").nth(1).unwrap_or_else(|| {
        panic!("no `step 0/N` in the header: {head}");
    });
    let digits: String = after.chars().take_while(|c| c.is_ascii_digit()).collect();
    digits.parse().expect("a step count")
}

fn a_root_recording_replays_the_same_screens_without_root() {
    let before = residue();
    let dir = tempfile::tempdir().expect("a temp dir");
    // The unprivileged replay must be able to read it.
    std::fs::set_permissions(
        dir.path(),
        std::os::unix::fs::PermissionsExt::from_mode(0o755),
    )
    .expect("chmod 755 the recording's directory");
    let file = dir.path().join("session.jsonl");

    let mut live = Vec::new();
    {
        let tui = Tui::launch(
            "rec",
            "",
            &format!("--record {}", file.display()),
            (WIDTH, HEIGHT),
        );
        let first = tui.wait_for("the first screen", Duration::from_secs(120), |s| {
            s.contains("step 0/")
        });
        let n = steps_in(&first);
        assert!(n >= 10, "the full launch has every step: {n}");
        live.push(settled(&tui, 0, n));
        for k in 1..=n {
            tui.keys("Right");
            live.push(settled(&tui, k, n));
        }
        tui.keys("q");
        let status = tui.wait_exit(Duration::from_secs(30));
        assert_eq!(status, "0", "stderr:\n{}", tui.stderr());
        assert!(tui.stderr().contains("recorded to"), "{}", tui.stderr());
    }
    assert_no_residue_of_ours(&before);
    let rec = recording::read(&file).expect("the recording reads back");
    assert!(rec.cut_at_line.is_none());

    let tui = Tui::launch(
        "replay",
        "setpriv --reuid=65534 --regid=65534 --clear-groups",
        &format!("replay --step {}", file.display()),
        (WIDTH, HEIGHT),
    );
    let n = live.len() - 1;
    for (k, want) in live.iter().enumerate() {
        if k > 0 {
            tui.keys("Right");
        }
        let got = settled(&tui, k, n);
        assert!(
            got.lines().last().is_some_and(|l| l.contains("REPLAY")),
            "the footer says it is a replay:\n{got}"
        );
        assert_eq!(
            body(&got),
            body(want),
            "step {k}: the replay draws another screen than the live session did"
        );
    }
    // It really ran without root.
    let status = std::fs::read_to_string(format!("/proc/{}/status", tui.pid())).unwrap();
    let uid = status.lines().find(|l| l.starts_with("Uid:")).unwrap();
    assert!(
        uid.split_whitespace().skip(1).all(|u| u == "65534"),
        "{uid}"
    );
    tui.keys("q");
    assert_eq!(
        tui.wait_exit(Duration::from_secs(10)),
        "0",
        "{}",
        tui.stderr()
    );
    assert_no_residue_of_ours(&before);
}

/// The screens of a recording, one per stop, as `underhood replay --step` shows them.
fn stepped_screens(path: &Path, (w, h): (u16, u16)) -> Vec<String> {
    let rec = recording::read(path).unwrap_or_else(|e| panic!("{e:#}"));
    let theme = Theme {
        kind: ThemeKind::NoColor,
    };
    let mut p = Player::new(
        rec,
        theme,
        ReplayOptions {
            step: true,
            speed: 1.0,
            ..ReplayOptions::default()
        },
    );
    let mut out = Vec::new();
    let mut last_done = usize::MAX;
    // One screen per step until the end of the recording.
    for _ in 0..64 {
        if p.app.done == last_done {
            break;
        }
        last_done = p.app.done;
        p.status();
        out.push(text(&render(&p.app, w, h)));
        p.next();
    }
    out
}

fn the_first_format_still_plays_to_the_same_screens() {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/recordings/v1-uts.jsonl");
    let screens = stepped_screens(&path, (100, 30));
    assert!(screens.len() >= 3, "start, uts, exec: {}", screens.len());
    for (k, s) in screens.iter().enumerate() {
        insta::assert_snapshot!(format!("replay_v1_uts_{k}"), s);
    }
}

fn the_second_format_plays_its_snapshots_whole() {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/recordings/v2-hog.jsonl");
    let text = std::fs::read_to_string(&path).expect("the fixture");
    assert!(text.starts_with("{\"format\":\"underhood-recording\",\"version\":2,"));
    let changes = text.matches("\"since_previous\"").count();
    assert!(changes > 20, "snapshots written as changes: {changes}");
    // Every snapshot reads back whole: each has the container's mount table.
    let rec = recording::read(&path).unwrap_or_else(|e| panic!("{e:#}"));
    let mut whole = 0;
    for e in &rec.entries {
        use underhood::ui::event::Event;
        let snaps = match &e.event {
            Event::Snapshot { snapshot } => vec![snapshot],
            Event::Step { before, after, .. } => before.iter().chain([after]).collect(),
            _ => continue,
        };
        for s in snaps {
            if let Ok(m) = &s.mounts {
                assert!(
                    !m.is_empty() || s.subject == 0,
                    "at {} ms: no mounts",
                    e.t_ms
                );
            }
            assert!(
                s.ns.len() >= 8,
                "at {} ms: {} namespace links",
                e.t_ms,
                s.ns.len()
            );
            whole += 1;
        }
    }
    assert!(
        whole > changes,
        "{whole} snapshots, {changes} written as changes"
    );
    let mut screens = stepped_screens(&path, (100, 30));
    assert!(screens.len() >= 10, "every step: {}", screens.len());
    // And the end, after the hog's OOM kill.
    let rec = recording::read(&path).unwrap();
    let mut p = Player::new(
        rec,
        Theme {
            kind: ThemeKind::NoColor,
        },
        ReplayOptions {
            step: true,
            speed: 1.0,
            ..ReplayOptions::default()
        },
    );
    for _ in 0..64 {
        p.next();
    }
    p.status();
    screens.push(text_of(&p));
    for (k, s) in screens.iter().enumerate() {
        insta::assert_snapshot!(format!("replay_v2_hog_{k}"), s);
    }
}

fn text_of(p: &Player) -> String {
    text(&render(&p.app, 100, 30))
}

/// `underhood replay` on files it cannot play: exit 2 and a line that says why, before
/// the terminal is touched.
fn what_cannot_be_played_is_refused_with_why() {
    let dir = tempfile::tempdir().expect("a temp dir");
    let fixture =
        Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/recordings/v1-uts.jsonl");
    let header = std::fs::read_to_string(&fixture)
        .unwrap()
        .lines()
        .next()
        .unwrap()
        .to_string();
    let newer = header.replacen("\"version\":1", "\"version\":7", 1);
    assert_ne!(newer, header);
    let cases = [
        ("header-only.jsonl", format!("{header}\n"), "no events"),
        (
            "passwd",
            "root:x:0:0:root:/root:/bin/sh\n".to_string(),
            "not an underhood recording",
        ),
        ("newer.jsonl", format!("{newer}\n"), "recording format 7"),
    ];
    for (name, text, why) in cases {
        let p = dir.path().join(name);
        std::fs::write(&p, text).unwrap();
        let out = common::underhood(&["replay", p.to_str().unwrap()]);
        let err = common::stderr(&out);
        assert_eq!(out.status.code(), Some(2), "{name}: {err}");
        assert!(err.contains(why), "{name}: {err}");
    }
    let missing = dir.path().join("missing.jsonl");
    let out = common::underhood(&["replay", missing.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(2));
    assert!(common::stderr(&out).contains("missing.jsonl"));
}
