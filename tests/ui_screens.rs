//! Screen snapshots of the TUI, drawn with ratatui's `TestBackend` from a recorded
//! launch, so they need no root and no kernel feature: `tests/fixtures/tui/` holds what
//! the observer read from /proc at each step of a real run (see its README.md), and
//! the screens are built from it with the same readers and parsers the TUI uses
//! (`snapshot::sample` over the recorded proc tree) and the same `App` updates.
//!
//! Times and the memory history come from the recording, so every run draws the same
//! screens. A change to a screen fails here with a diff; accept it with
//! `cargo insta review` (or `INSTA_UPDATE=always cargo test --test ui_screens`) after
//! looking at it. The helpers are beside it in tests/ui_screens/: `drive` (keys, focus,
//! shells, as the main loop does) and `buffer` (styles and one pane's text of a drawn
//! screen).

use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};
use ratatui::style::{Color, Modifier, Style};

use underhood::observe::namespaces;
use underhood::runtime::step::Step;
use underhood::ui::app::{App, Pane};
use underhood::ui::theme::ThemeKind;
use underhood::ui::update::{Command, Msg};

#[path = "ui_screens/buffer.rs"]
mod buffer;
#[path = "ui_screens/drive.rs"]
mod drive;
#[path = "fixtures/tui/app.rs"]
mod recorded;
#[path = "fixtures/tui/screen.rs"]
mod screen;

use screen::{render, text};

use buffer::{pane_text, styles};
use drive::{app_with_theme, focus, pivot_step, press, update, with_both_shells};

use recorded::{app_after, app_after_oom, fixtures, load, session, stage_name};

const SIZES: [(u16, u16); 2] = [(80, 24), (160, 48)];

fn snap_both(name: &str, app: &App) -> Vec<String> {
    SIZES
        .iter()
        .map(|&(w, h)| {
            let screen = text(&render(app, w, h));
            insta::assert_snapshot!(format!("{name}_{w}x{h}"), screen);
            screen
        })
        .collect()
}

// ---------------------------------------------------------------- the fixtures themselves

/// A fixture the readers cannot read would draw "unreadable" and "-" everywhere and
/// still give a stable snapshot: check that every stage reads whole.
#[test]
fn every_recorded_stage_reads_whole() {
    let s = session();
    let host = namespaces::read_links(&fixtures().join("host/proc"), s.host_pid);
    assert!(host.iter().all(|l| l.inode.is_some()), "{host:?}");
    let mut names: Vec<String> = (0..=s.steps.len()).map(stage_name).collect();
    names.push("hog-running".into());
    names.push("hog-killed".into());
    for name in names {
        let (stage, snap) = load(&name);
        assert!(
            snap.ns.iter().all(|l| l.inode.is_some()),
            "{name}: {:?}",
            snap.ns
        );
        assert!(!snap.tree.is_empty(), "{name}: no processes");
        assert!(
            snap.mounts.as_ref().is_ok_and(|m| !m.is_empty()),
            "{name}: {:?}",
            snap.mounts
        );
        assert_eq!(snap.tree[0].proc.pid, stage.tree_root, "{name}");
    }
}

// ---------------------------------------------------------------- the screens

#[test]
fn start() {
    let app = app_after(0, ThemeKind::Default);
    for screen in snap_both("start", &app) {
        // The pane title, not the header: at 80 columns the header's step counter is
        // cut off (it comes last).
        assert!(screen.contains("Step 0/12"), "{screen}");
        assert!(screen.contains("0/8 isolated"), "{screen}");
        assert!(screen.contains("next (1/12): UTS namespace"), "{screen}");
    }
}

#[test]
fn namespaces_after_all_steps() {
    let n = session().steps.len();
    let mut app = app_after(n, ThemeKind::Default);
    focus(&mut app, Pane::Namespaces);
    for screen in snap_both("namespaces_all_steps", &app) {
        assert!(screen.contains(&format!("Step {n}/{n}")), "{screen}");
        // As root without --userns, every namespace but the user namespace.
        assert!(screen.contains("7/8 isolated"), "{screen}");
    }
    // Zoomed, every type shows even at 80x24 (the *_for_children links only while they
    // differ from pid and time, i.e. between an unshare and the fork).
    press(&mut app, KeyCode::Char('z'));
    let buf = render(&app, 80, 24);
    insta::assert_snapshot!("namespaces_all_steps_zoomed_80x24", text(&buf));
    let pane = pane_text(&buf, "Namespaces");
    for k in namespaces::NsFile::ALL {
        let for_children = k.for_children();
        assert_eq!(
            pane.contains(k.file()),
            !for_children,
            "{}:\n{pane}",
            k.file()
        );
    }
    // Seven of the eight types; the user namespace stays the host's (root without
    // --userns).
    assert_eq!(pane.matches('≠').count(), 7, "{pane}");
    let user = pane
        .lines()
        .find(|l| l.contains("│user "))
        .expect("a user row");
    assert!(user.contains('='), "{user}");
}

#[test]
fn mounts_before_pivot_root() {
    let mut app = app_after(pivot_step() - 1, ThemeKind::Default);
    focus(&mut app, Pane::Mounts);
    press(&mut app, KeyCode::Char('z'));
    for screen in snap_both("mounts_before_pivot", &app) {
        // The host's mounts are all still there, and the new root waits under our
        // session directory.
        // The pane scrolls to what the step added: the new root, waiting under our
        // session directory, and the mounts on it.
        assert!(screen.contains("/run/underhood/"), "{screen}");
        assert!(screen.contains("last step +11"), "{screen}");
    }
    // With room for the whole table, the host's mounts are all still there.
    let big = text(&render(&app, 160, 48));
    assert!(big.contains("ext4"), "{big}");
    assert!(big.contains("/sys/fs/cgroup"), "{big}");
}

#[test]
fn mounts_after_pivot_root() {
    let mut app = app_after(pivot_step(), ThemeKind::Default);
    focus(&mut app, Pane::Mounts);
    press(&mut app, KeyCode::Char('z'));
    for screen in snap_both("mounts_after_pivot", &app) {
        assert!(!screen.contains("ext4"), "{screen}");
        assert!(!screen.contains("/run/underhood/"), "{screen}");
        assert!(!screen.contains("/sys/fs/cgroup"), "{screen}");
        assert!(screen.contains("overlay"), "{screen}");
        assert!(screen.contains("last step +"), "{screen}");
    }
}

#[test]
fn oom_kill_on_the_memory_graph() {
    let mut app = app_after_oom(ThemeKind::Default);
    focus(&mut app, Pane::Memory);
    for (w, h) in SIZES {
        let buf = render(&app, w, h);
        let screen = text(&buf);
        insta::assert_snapshot!(format!("oom_{w}x{h}"), screen);
        // "Memory ..." on wide screens, "Mem ..." on narrow ones.
        let pane = pane_text(&buf, "Mem");
        // At 80x24 the pane's title is cut before its OOM counter; the step pane says it.
        if w >= 160 {
            assert!(screen.contains("OOM kills 1"), "{screen}");
        }
        assert!(pane.contains('█'), "no OOM mark on the graph:\n{pane}");
        assert!(
            screen.contains("OOM kill: the hog hit the limit"),
            "{screen}"
        );
    }
    // The mark is drawn in the error style, on the limit line.
    let buf = render(&app, 160, 48);
    let marks: Vec<Style> = buf
        .content()
        .iter()
        .filter(|c| c.symbol() == "█")
        .map(|c| c.style())
        .collect();
    assert!(!marks.is_empty());
    assert!(marks.iter().all(|s| s.fg == Some(Color::Red)), "{marks:?}");
    // Zoomed for a projector.
    press(&mut app, KeyCode::Char('z'));
    insta::assert_snapshot!("oom_zoomed_160x48", text(&render(&app, 160, 48)));
}

#[test]
fn help_overlay() {
    let mut app = app_after(3, ThemeKind::Default);
    press(&mut app, KeyCode::Char('?'));
    for screen in snap_both("help", &app) {
        assert!(screen.contains(" Keys "), "{screen}");
        assert!(screen.contains("any other key closes this"), "{screen}");
        assert!(screen.contains("memory-hog demo"), "{screen}");
        // Whole at 80x24 too: its last key, and how to leave a shell, not cut.
        assert!(screen.contains("Ctrl-]  a shell has the keys"), "{screen}");
        assert!(screen.contains("(the container is removed)"), "{screen}");
        assert!(screen.contains("a clicker's keys)"), "{screen}");
    }
    // The scrolling keys do not close it.
    press(&mut app, KeyCode::Down);
    assert!(app.help);
    press(&mut app, KeyCode::Char('x'));
    assert!(!app.help);
}

#[test]
fn terminal_too_small() {
    let app = app_after(0, ThemeKind::Default);
    let screen = text(&render(&app, 60, 20));
    insta::assert_snapshot!("too_small_60x20", screen);
    assert!(screen.contains("at least 80x24"), "{screen}");
    assert!(screen.contains("60x20"), "{screen}");
    // And exactly the minimum draws the full screen.
    assert!(text(&render(&app, 80, 24)).contains("Namespaces"));
}

/// NO_COLOR: text as in the default theme, emphasis by bold and reverse only.
#[test]
fn no_color_theme() {
    let n = session().steps.len();
    let mut app = app_after(n, ThemeKind::NoColor);
    focus(&mut app, Pane::Namespaces);
    let buf = render(&app, 80, 24);
    let colored: Vec<(u16, u16, Style)> = buf
        .content()
        .iter()
        .enumerate()
        .map(|(i, c)| {
            let (x, y) = buf.pos_of(i);
            (x, y, c.style())
        })
        .filter(|(_, _, s)| {
            s.fg.is_some_and(|c| c != Color::Reset) || s.bg.is_some_and(|c| c != Color::Reset)
        })
        .collect();
    assert!(colored.is_empty(), "colours with NO_COLOR: {colored:?}");
    // Something must still stand out: the focused border and the keys are bold.
    assert!(
        buf.content()
            .iter()
            .any(|c| c.style().add_modifier.contains(Modifier::BOLD))
    );
    insta::assert_snapshot!(
        "no_color_80x24",
        format!("{}\n-- styles --\n{}", text(&buf), styles(&buf))
    );
}

/// The projector theme: the same text, white on black, yellow focus and changes.
#[test]
fn high_contrast_theme() {
    // The root filesystem step: it adds mounts, highlighted as changes.
    let mut app = app_after(pivot_step() - 1, ThemeKind::HighContrast);
    focus(&mut app, Pane::Mounts);
    let buf = render(&app, 80, 24);
    let default = render(&app_with_theme(&app, ThemeKind::Default), 80, 24);
    assert_eq!(text(&buf), text(&default), "a theme changes colours only");
    assert!(
        buf.content()
            .iter()
            .any(|c| c.style().bg == Some(Color::Yellow)),
        "the changed rows stand out in yellow"
    );
    insta::assert_snapshot!(
        "high_contrast_80x24",
        format!("{}\n-- styles --\n{}", text(&buf), styles(&buf))
    );
}

/// `t` cycles the themes: default, high contrast, none, default.
#[test]
fn t_cycles_the_themes() {
    let mut app = app_after(1, ThemeKind::Default);
    let kinds: Vec<ThemeKind> = (0..3)
        .map(|_| {
            press(&mut app, KeyCode::Char('t'));
            app.theme.kind
        })
        .collect();
    assert_eq!(
        kinds,
        [
            ThemeKind::HighContrast,
            ThemeKind::NoColor,
            ThemeKind::Default
        ]
    );
}

/// The host shell's pane (`h`): titled HOST, framed in the host colour (light red,
/// which no container pane uses), its own prompt; the container's shell beside it keeps
/// the usual frame. Colours are part of the snapshot.
#[test]
fn the_host_shell_is_framed_and_titled_host() {
    use underhood::ui::event::Event;
    use underhood::ui::shell::Slot;
    let mut app = app_after(12, ThemeKind::Default);
    for (slot, title, out) in [
        (Slot::Spawned, "Shell in the container (step 12/12)", "/ # "),
        (
            Slot::Host,
            "shell, outside the container (UH_PID=4242)",
            "HOST /root # echo $UH_PID\r\n4242\r\nHOST /root # ",
        ),
    ] {
        app.apply(Event::ShellOpened {
            slot,
            title: title.into(),
            pid: 1,
            rows: 8,
            cols: 40,
        });
        app.apply(Event::ShellOutput {
            slot,
            bytes: out.as_bytes().to_vec(),
        });
    }
    assert_eq!(app.focus, Pane::Host, "the new shell has the focus");
    let buf = render(&app, 120, 40);
    let screen = text(&buf);
    assert!(
        screen.contains(" HOST  Ctrl-] leaves · shell, outside the cont"),
        "{screen}"
    );
    // The border of the host pane is light red; the container shell's is not.
    let row = screen
        .lines()
        .position(|l| l.contains(" HOST "))
        .expect("the host pane's title row") as u16;
    assert_eq!(buf[(0, row)].style().fg, Some(Color::LightRed), "{screen}");
    let shell_row = screen
        .lines()
        .position(|l| l.contains("Shell in the container"))
        .expect("the container shell's title row") as u16;
    assert_ne!(buf[(0, shell_row)].style().fg, Some(Color::LightRed));
    insta::assert_snapshot!(
        "host_shell_120x40",
        format!("{screen}\n-- styles --\n{}", styles(&buf))
    );
}

/// Rootless where the memory controller cannot be used (this hybrid v1 host): the walk
/// has no cgroup step; the step pane says so at the start, then where the step would
/// have been, why and what gives it; the hog is not offered.
#[test]
fn a_rootless_walk_shows_the_skipped_cgroup_step() {
    let why = "memory controller: v1 at /sys/fs/cgroup/memory, but you may not create a cgroup there; to get it: run as root (`sudo underhood`)";
    let at = session()
        .steps
        .iter()
        .position(|s| matches!(s, Step::Cgroup { .. }))
        .expect("a cgroup step");
    let without = |mut app: App| {
        app.steps.retain(|s| !matches!(s, Step::Cgroup { .. }));
        app.cgroup_skipped = Some(why.to_string());
        app
    };
    let app = without(app_after(0, ThemeKind::Default));
    assert_eq!(app.cgroup_skipped_at(), at);
    let step = pane_text(&render(&app, 120, 40), "Step ");
    assert!(
        step.contains(&format!("cgroup step skipped (why: after step {at})")),
        "{step}"
    );
    let app = without(app_after(at, ThemeKind::Default));
    let buf = render(&app, 120, 40);
    let step = pane_text(&buf, "Step ");
    assert!(step.contains("cgroup limits skipped"), "{step}");
    assert!(step.contains("run as root"), "{step}");
    let screen = text(&buf);
    assert!(screen.contains("the cgroup step is skipped"), "{screen}");
    assert!(!screen.contains(" m  hog"), "{screen}");
}

/// Every long pane scrolls when focused: End shows its last row, Home its first, and a
/// marker says how much is out of sight; PgUp scrolls, never takes a step back; the
/// wheel scrolls the pane under the pointer and a click focuses it.
#[test]
fn long_panes_scroll_and_say_what_is_out_of_sight() {
    use crossterm::event::{MouseButton, MouseEvent, MouseEventKind};
    let n = pivot_step() - 1;
    let mut app = app_after(n, ThemeKind::Default);
    app.viewport = Some(ratatui::layout::Rect::new(0, 0, 80, 24));
    let (_, snap) = load(&stage_name(n));
    let mounts = snap.mounts.expect("mounts");
    let last = mounts
        .last()
        .expect("a mount")
        .mount_point
        .display()
        .to_string();
    focus(&mut app, Pane::Mounts);
    press(&mut app, KeyCode::Home);
    let pane = pane_text(&render(&app, 80, 24), "Mounts");
    assert!(pane.contains("/proc"), "{pane}");
    let screen = text(&render(&app, 80, 24));
    assert!(screen.contains(" more ┘"), "{screen}");
    press(&mut app, KeyCode::End);
    let screen = text(&render(&app, 80, 24));
    let tail: String = last
        .chars()
        .rev()
        .take(10)
        .collect::<Vec<_>>()
        .into_iter()
        .rev()
        .collect();
    assert!(screen.contains(&tail), "{tail} not in\n{screen}");
    assert!(screen.contains(" above ┘"), "{screen}");
    // PgUp scrolls the focused pane; the container stays where it was.
    let action = press(&mut app, KeyCode::PageUp);
    assert_eq!(action, Vec::<Command>::new());
    assert_eq!(app.done, n);
    // The wheel over the Syscalls pane scrolls it, whatever has the focus.
    let areas = app.pane_areas();
    let (_, sys) = areas
        .iter()
        .find(|(p, _)| *p == Pane::Syscalls)
        .copied()
        .expect("a syscalls pane");
    let before = text(&render(&app, 80, 24));
    let wheel = |kind| MouseEvent {
        kind,
        column: sys.x + 2,
        row: sys.y + 2,
        modifiers: KeyModifiers::NONE,
    };
    update(&mut app, Msg::Mouse(wheel(MouseEventKind::ScrollUp)));
    assert_ne!(before, text(&render(&app, 80, 24)));
    assert_eq!(app.focus, Pane::Mounts);
    update(
        &mut app,
        Msg::Mouse(wheel(MouseEventKind::Down(MouseButton::Left))),
    );
    assert_eq!(app.focus, Pane::Syscalls);
    // A step taken gives each pane back its own choice.
    assert!(!app.scroll.is_empty());
}

/// Behind "terminal too small" no key acts: → does not take a step unseen.
#[test]
fn keys_behind_terminal_too_small_do_nothing() {
    let mut app = app_after(0, ThemeKind::Default);
    app.viewport = Some(ratatui::layout::Rect::new(0, 0, 60, 20));
    assert_eq!(press(&mut app, KeyCode::Right), Vec::<Command>::new());
    assert_eq!(press(&mut app, KeyCode::Char('s')), Vec::<Command>::new());
    assert_eq!(press(&mut app, KeyCode::Char('q')), vec![Command::Quit]);
    app.viewport = Some(ratatui::layout::Rect::new(0, 0, 80, 24));
    assert_eq!(press(&mut app, KeyCode::Right), vec![Command::Next]);
}

const THREE_SIZES: [(u16, u16); 3] = [(80, 24), (120, 40), (200, 50)];

/// The screens a newcomer meets, at the smallest size, a laptop's and a big one: every
/// pane shows its title and at least three rows (a table its header too), and the
/// memory graph five rows when it is watched.
#[test]
fn every_pane_readable_at_three_sizes() {
    let n = session().steps.len();
    let mut oom = app_after_oom(ThemeKind::Default);
    focus(&mut oom, Pane::Memory);
    let mut help = app_after(3, ThemeKind::Default);
    press(&mut help, KeyCode::Char('?'));
    let screens: Vec<(&str, App)> = vec![
        ("start", app_after(0, ThemeKind::Default)),
        ("step9", app_after(9, ThemeKind::Default)),
        ("oom", oom),
        (
            "both_shells",
            with_both_shells(app_after(n, ThemeKind::Default)),
        ),
        ("help", help),
    ];
    for (name, app) in &screens {
        for (w, h) in THREE_SIZES {
            let screen = text(&render(app, w, h));
            insta::assert_snapshot!(format!("sized_{name}_{w}x{h}"), screen);
            let areas = underhood::ui::draw::screen_layout(
                app,
                ratatui::layout::Rect::new(0, 0, w, h),
                underhood::ui::shell::Open::of(app),
            );
            for (p, r) in areas {
                let table = matches!(p, Pane::Namespaces | Pane::Processes | Pane::Mounts);
                let least = if table { 6 } else { 5 };
                assert!(
                    r.height >= least,
                    "{name} {w}x{h}: {p:?} is {r:?}\n{screen}"
                );
                if p == Pane::Memory && app.focus == Pane::Memory {
                    assert!(
                        r.height >= 7,
                        "{name} {w}x{h}: the graph is {r:?}\n{screen}"
                    );
                }
            }
            // The header is shortened, not cut: it ends on a whole word.
            let header = screen.lines().next().unwrap_or_default().trim_end();
            assert!(
                header.ends_with("allowed")
                    || header.ends_with("restricted")
                    || header.ends_with("root")
                    || header.ends_with("rootless"),
                "{name} {w}x{h}: {header}"
            );
        }
    }
}

/// With a shell open: Tab moves between the panes and never into a shell; while a
/// shell has the keys the footer says how to give them back; one cursor, in the shell
/// that has the keys.
#[test]
fn the_keys_are_always_clear_with_shells_open() {
    let n = session().steps.len();
    let mut app = with_both_shells(app_after(n, ThemeKind::Default));
    assert_eq!(app.focus, Pane::Entered, "the newest shell has the keys");
    let screen = text(&render(&app, 80, 24));
    let footer = screen.lines().last().unwrap_or_default().to_string();
    assert!(footer.contains("Ctrl-]"), "{footer}");
    assert!(footer.contains("gives the keys back"), "{footer}");
    // One block cursor on the screen, in the entered shell's pane.
    let cursors: Vec<&str> = screen.lines().filter(|l| l.contains('█')).collect();
    assert_eq!(cursors.len(), 1, "{screen}");
    assert!(cursors[0].contains("/ # █"), "{screen}");
    // Ctrl-] gives the keys back; then Tab goes round the panes, never into a shell.
    update(
        &mut app,
        Msg::Key(KeyEvent::new(KeyCode::Char(']'), KeyModifiers::CONTROL)),
    );
    assert_eq!(app.focus, Pane::Step);
    for _ in 0..12 {
        assert_eq!(press(&mut app, KeyCode::Tab), Vec::<Command>::new());
        assert!(
            !matches!(app.focus, Pane::Shell | Pane::Entered | Pane::Host),
            "{:?}",
            app.focus
        );
    }
    let screen = text(&render(&app, 80, 24));
    assert!(
        !screen.contains('█') || !screen.contains("/ # █"),
        "{screen}"
    );
    let footer = screen.lines().last().unwrap_or_default();
    assert!(footer.contains("Tab"), "{footer}");
}

/// The limit's label is on the limit line's row, and no legend sits over the data: the
/// file names are on the bottom border, in their lines' colours.
#[test]
fn the_limit_label_is_on_the_limit_line_and_the_legend_off_the_data() {
    let mut app = app_after_oom(ThemeKind::Default);
    focus(&mut app, Pane::Memory);
    press(&mut app, KeyCode::Char('z'));
    let buf = render(&app, 160, 48);
    let screen = text(&buf);
    let row = screen
        .lines()
        .find(|l| l.contains("100 MiB│"))
        .unwrap_or_else(|| panic!("a 100 MiB label\n{screen}"));
    assert!(
        row.contains('⠉'),
        "the limit line is not on its label's row:\n{screen}"
    );
    let named: Vec<&str> = screen
        .lines()
        .filter(|l| l.contains("memory.usage_in_bytes"))
        .collect();
    assert_eq!(named.len(), 1, "{screen}");
    assert!(named[0].starts_with('└'), "{screen}");
}

/// A new message shows even when the step pane was scrolled down (it is its first line).
#[test]
fn a_message_brings_the_step_pane_back_to_its_top() {
    let mut app = app_after(9, ThemeKind::Default);
    app.viewport = Some(ratatui::layout::Rect::new(0, 0, 80, 24));
    press(&mut app, KeyCode::End);
    assert!(app.scrolled(Pane::Step).is_some_and(|o| o > 0));
    app.info("the hog is already running: watch the memory pane");
    let pane = pane_text(&render(&app, 80, 24), "Step ");
    assert!(pane.contains("the hog is already"), "{pane}");
}
