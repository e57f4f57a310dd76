//! Screen snapshots of `underhood explore`'s picker and comparison, drawn with
//! ratatui's `TestBackend` from captured fixtures (no root, no kernel feature):
//!
//! - `fixtures/explore/picker.json`: `underhood explore --json` on the development
//!   machine with a runc container, two unshare(1) containers and one of ours running;
//! - `fixtures/explore/compare_runc.json`: `underhood explore --compare PID --json` on
//!   the runc container (runc 1.1.5, `runc spec`'s config, busybox rootfs) beside the
//!   container of ours made with the same options.
//!
//! - `fixtures/explore/runc_sample.json`: `underhood explore --runc uhdemo --json`, one
//!   sample of that runc container as the explorer's panes draw it.
//!
//! A change to a screen fails here with a diff; accept it with `cargo insta review`
//! (or `INSTA_UPDATE=always cargo test --test explore_screens`) after looking at it.

use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};
use ratatui::Terminal;
use ratatui::backend::TestBackend;
use ratatui::layout::Rect;

use underhood::observe::containers::{Container, Listing, NsSet, Reference};
use underhood::observe::facts::Facts;
use underhood::observe::namespaces::NsLink;
use underhood::observe::security::Security;
use underhood::observe::snapshot::Snapshot;
use underhood::ui::explore::compare::{self, Compare};
use underhood::ui::explore::picker::{self, Picker};
use underhood::ui::explore::{Action, Explore, Explored, view};
use underhood::ui::theme::{Theme, ThemeKind};

#[path = "fixtures/tui/screen.rs"]
#[allow(dead_code)] // its `render` draws the TUI; the explore screens draw their own
mod screen;
use screen::text;

const SIZES: [(u16, u16); 2] = [(80, 24), (120, 40)];

fn theme() -> Theme {
    Theme {
        kind: ThemeKind::Default,
    }
}

fn fixture(name: &str) -> serde_json::Value {
    let path = format!(
        "{}/tests/fixtures/explore/{name}",
        env!("CARGO_MANIFEST_DIR")
    );
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path}: {e}"));
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("{path}: {e}"))
}

fn listing() -> Listing {
    let v = fixture("picker.json");
    let containers: Vec<Container> =
        serde_json::from_value(v["containers"].clone()).expect("containers");
    let unreadable = v["unreadable"].as_u64().unwrap_or(0) as usize;
    Listing {
        reference: Reference::new(
            v["reference_pid"].as_i64().unwrap_or(1) as i32,
            NsSet::default(),
        ),
        reference_note: v["reference_note"].as_str().map(str::to_string),
        containers,
        unreadable: vec![(0, String::new()); unreadable],
        entries: Vec::new(),
    }
}

fn draw_picker(p: &Picker, w: u16, h: u16) -> String {
    let mut t = Terminal::new(TestBackend::new(w, h)).expect("terminal");
    t.draw(|f| picker::draw(f, p)).expect("draw");
    text(t.backend().buffer())
}

fn draw_compare(c: &Compare, w: u16, h: u16) -> String {
    let mut t = Terminal::new(TestBackend::new(w, h)).expect("terminal");
    t.draw(|f| compare::draw(f, c)).expect("draw");
    text(t.backend().buffer())
}

fn key(code: KeyCode) -> KeyEvent {
    KeyEvent::new(code, KeyModifiers::NONE)
}

#[test]
fn picker_lists_the_captured_containers() {
    let l = listing();
    assert!(l.containers.len() >= 3, "{:?}", l.containers);
    for (w, h) in SIZES {
        let p = Picker::new(&l, theme());
        let screen = draw_picker(&p, w, h);
        for c in &l.containers {
            assert!(screen.contains(&c.pid.to_string()), "{}: {screen}", c.pid);
        }
        insta::assert_snapshot!(format!("picker_{w}x{h}"), screen);
    }
}

#[test]
fn picker_enter_explores_the_selected_one() {
    let l = listing();
    let mut p = Picker::new(&l, theme());
    let screen = Rect::new(0, 0, 80, 24);
    p.on_key(key(KeyCode::Down), screen);
    let second = l.containers[1].pid;
    assert_eq!(p.on_key(key(KeyCode::Enter), screen), Action::Open(second));
    p.on_key(key(KeyCode::End), screen);
    assert_eq!(p.selected, l.containers.len() - 1);
    insta::assert_snapshot!("picker_last_selected_80x24", draw_picker(&p, 80, 24));
    assert_eq!(p.on_key(key(KeyCode::Char('q')), screen), Action::Quit);
}

#[test]
fn picker_with_nothing_to_pick_says_how_to_make_one() {
    let mut l = listing();
    l.containers.clear();
    let mut p = Picker::new(&l, theme());
    let screen = draw_picker(&p, 80, 24);
    assert!(screen.contains("unshare --uts --pid --fork"), "{screen}");
    assert_eq!(
        p.on_key(key(KeyCode::Enter), Rect::new(0, 0, 80, 24)),
        Action::None
    );
    assert!(p.message.is_some());
    insta::assert_snapshot!("picker_empty_80x24", draw_picker(&p, 80, 24));
}

fn compare_fixture() -> Compare {
    let v = fixture("compare_runc.json");
    let left: Facts = serde_json::from_value(v["left"].clone()).expect("left");
    let right: Facts = serde_json::from_value(v["right"].clone()).expect("right");
    let reference: Vec<NsLink> = serde_json::from_value(v["reference"].clone()).expect("ref");
    Compare::new(left, right, reference, theme())
}

#[test]
fn compare_marks_what_differs() {
    let c = compare_fixture();
    let differs: Vec<(&str, &str)> = c
        .rows
        .iter()
        .filter(|r| r.differs)
        .map(|r| (r.section, r.what.as_str()))
        .collect();
    // What runc's `runc spec` does differently from us, on this machine: /sys (we mount
    // none), the root's flags (runc's read-only bind, our overlay), capabilities (3 kept
    // against our 13), seccomp (none against our filter).
    for want in [
        ("masked paths", "/sys/firmware"),
        ("mounts", "/"),
        ("mounts", "/sys"),
        ("security", "CapEff"),
        ("security", "seccomp"),
    ] {
        assert!(differs.contains(&want), "{want:?} not in {differs:?}");
    }
    // Same options: the namespaces isolated are the same on both sides.
    assert!(
        !differs.iter().any(|(s, _)| *s == "namespaces"),
        "{differs:?}"
    );
    for (w, h) in SIZES {
        insta::assert_snapshot!(format!("compare_{w}x{h}"), draw_compare(&c, w, h));
    }
}

#[test]
fn compare_can_show_only_the_differences() {
    let mut c = compare_fixture();
    let screen = Rect::new(0, 0, 80, 24);
    c.on_key(key(KeyCode::Char('d')), screen);
    assert!(c.only_differences);
    assert!(c.shown().iter().all(|r| r.differs));
    insta::assert_snapshot!("compare_differences_80x24", draw_compare(&c, 80, 24));
    c.on_key(key(KeyCode::End), screen);
    assert_eq!(c.on_key(key(KeyCode::Char('q')), screen), Action::Quit);
}

fn explore_fixture() -> Explore {
    let v = fixture("runc_sample.json");
    let host: Vec<NsLink> = serde_json::from_value(v["host_ns"].clone()).expect("host_ns");
    let snap: Snapshot = serde_json::from_value(v["snapshot"].clone()).expect("snapshot");
    let sec: Result<Security, underhood::observe::error::Unread> =
        serde_json::from_value(v["security"].clone()).expect("security");
    let mut ex = Explore::new(
        Explored {
            pid: v["pid"].as_i64().expect("pid") as i32,
            maker: v["maker"].as_str().expect("maker").to_string(),
            command: v["command"].as_str().expect("command").to_string(),
        },
        host,
        theme(),
        None,
        v["reference_note"].as_str().map(str::to_string),
    );
    ex.sample(snap, sec);
    ex
}

fn draw_explore(ex: &Explore, w: u16, h: u16) -> String {
    let mut t = Terminal::new(TestBackend::new(w, h)).expect("terminal");
    t.draw(|f| view::draw(f, ex)).expect("draw");
    text(t.backend().buffer())
}

#[test]
fn explorer_shows_runc_s_container() {
    let ex = explore_fixture();
    for (w, h) in SIZES {
        let screen = draw_explore(&ex, w, h);
        assert!(screen.contains("5/8 isolated"), "{screen}");
        assert!(screen.contains("3 of 41"), "{screen}");
        assert!(screen.contains("memory.usage_in_bytes"), "{screen}");
        insta::assert_snapshot!(format!("explore_runc_{w}x{h}"), screen);
    }
}

#[test]
fn explorer_says_when_the_process_is_gone() {
    let mut ex = explore_fixture();
    ex.sample(
        Snapshot {
            mounts: Err("ENOENT".into()),
            ..Default::default()
        },
        Err("ENOENT".into()),
    );
    let screen = draw_explore(&ex, 80, 24);
    assert!(screen.contains("exited"), "{screen}");
    assert!(
        screen.contains("5/8 isolated"),
        "the last state stays: {screen}"
    );
    insta::assert_snapshot!("explore_gone_80x24", screen);
}
