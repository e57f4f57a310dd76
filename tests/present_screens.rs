//! Presenter mode's screens (`underhood --present`), drawn with ratatui's `TestBackend`
//! from the recorded launch in `tests/fixtures/tui/` (see `ui_screens.rs`), at the
//! sizes a projector with a big font gives: 80x24 and 100x30.
//!
//! Besides the snapshots, each screen must show the step's title, the title of the pane
//! the step changed and the clicker's key hint whole: a projector's audience reads
//! them, and a cut title says nothing.

use std::time::Duration;

use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};
use ratatui::style::Color;

use underhood::runtime::step::Step;
use underhood::ui::app::App;
use underhood::ui::theme::ThemeKind;
use underhood::ui::update::{Command, Msg};

#[path = "fixtures/tui/app.rs"]
mod recorded;
#[path = "fixtures/tui/screen.rs"]
mod screen;

use screen::{render, text};

use recorded::{app_after, app_after_oom, session};

const SIZES: [(u16, u16); 2] = [(80, 24), (100, 30)];

/// What `--present` sets up: presenter mode, the high-contrast theme, and a clock the
/// test chooses (3 min 21 s into the talk).
fn presenting(mut app: App) -> App {
    app.present = true;
    app.clock = Duration::from_secs(201);
    app
}

fn at_step(done: usize) -> App {
    presenting(app_after(done, ThemeKind::HighContrast))
}

fn press(app: &mut App, code: KeyCode) -> Vec<Command> {
    update(app, Msg::Key(KeyEvent::new(code, KeyModifiers::NONE)))
}

/// The 1-based index of the first step matching `is`.
fn step_index(is: impl Fn(&Step) -> bool) -> usize {
    session().steps.iter().position(is).expect("such a step") + 1
}

/// The pane whose title starts with `prefix`, its title whole: a bordered pane's
/// title that does not fit is cut at the corner, with no border after it.
fn assert_pane_title_whole(screen: &str, prefix: &str) {
    let line = screen
        .lines()
        .find(|l| l.contains(&format!("┌ {prefix}")))
        .unwrap_or_else(|| panic!("no pane titled {prefix:?} in\n{screen}"));
    let rest = &line[line.find(prefix).unwrap_or(0)..];
    let end = rest.find('┐').unwrap_or(rest.len());
    assert!(
        rest[..end].ends_with('─'),
        "the title of {prefix:?} is cut: {line}\n{screen}"
    );
}

/// The title, the changed pane's title and the key hint, each whole, at both sizes;
/// the screens go to snapshots named `name_WxH`.
fn check(name: &str, app: &App, title: &str, pane: &str) -> Vec<String> {
    SIZES
        .iter()
        .map(|&(w, h)| {
            let screen = text(&render(app, w, h));
            insta::assert_snapshot!(format!("{name}_{w}x{h}"), screen);
            assert!(
                screen.lines().any(|l| l.contains(title)),
                "{w}x{h}: title {title:?} not whole in\n{screen}"
            );
            assert_pane_title_whole(&screen, pane);
            let footer = screen.lines().last().unwrap_or_default();
            assert!(footer.contains("timer 03:21"), "{w}x{h}: {footer}");
            if app.done < app.steps.len() {
                assert!(footer.contains("→ Space PgDn  next"), "{w}x{h}: {footer}");
            }
            if app.done > 0 {
                assert!(footer.contains("← PgUp  back"), "{w}x{h}: {footer}");
            }
            // No header: the host facts are not for the audience.
            assert!(!screen.contains(" · user ns "), "{w}x{h}:\n{screen}");
            screen
        })
        .collect()
}

#[test]
fn before_any_step_the_namespaces_equal_the_hosts() {
    let app = at_step(0);
    let n = app.steps.len();
    let screens = check(
        "start",
        &app,
        &format!("{n} steps from a process to a container"),
        "Namespaces: 0/8 isolated",
    );
    for s in &screens {
        assert!(s.contains("Next: UTS namespace"), "{s}");
    }
}

#[test]
fn a_namespace_step_brings_the_namespaces_forward() {
    let app = at_step(1);
    let title = format!("Step 1 of {} · {}", app.steps.len(), app.steps[0].title());
    let screens = check("uts", &app, &title, "Namespaces: 1/8 isolated");
    // The big screen adds the step's syscalls below.
    assert!(screens[1].contains("┌ Syscalls"), "{}", screens[1]);
    assert!(screens[1].contains("sethostname"), "{}", screens[1]);
    assert!(!screens[0].contains("┌ Syscalls"), "{}", screens[0]);
}

#[test]
fn the_pid_step_brings_the_processes_forward() {
    let k = step_index(|s| matches!(s, Step::Pid));
    let app = at_step(k);
    let title = format!("Step {k} of {} · PID namespace", app.steps.len());
    check("pid", &app, &title, "Processes");
}

#[test]
fn pivot_root_brings_the_mounts_forward() {
    let k = step_index(|s| matches!(s, Step::EnterRoot { .. }));
    let app = at_step(k);
    let title = format!("Step {k} of {} · pivot_root", app.steps.len());
    for s in check("pivot_root", &app, &title, "Mounts (") {
        assert!(s.contains("overlay"), "{s}");
        assert!(s.contains("last step +0 −19"), "{s}");
    }
}

#[test]
fn the_oom_kill_keeps_the_memory_graph_forward() {
    let app = presenting(app_after_oom(ThemeKind::HighContrast));
    let n = app.steps.len();
    let title = format!("Step {n} of {n} · {}", app.steps[n - 1].title());
    for s in check("oom", &app, &title, "Memory") {
        assert!(s.contains("OOM kills 1"), "{s}");
        assert!(s.contains("OOM kill: the hog hit the limit"), "{s}");
        assert!(s.contains("All 12 steps done"), "{s}");
        // All steps done: the footer offers the shell and the hog instead of next.
        let footer = s.lines().last().unwrap_or_default();
        assert!(footer.contains("s  shell"), "{footer}");
    }
}

#[test]
fn tab_shows_another_pane_until_the_next_step() {
    let mut app = at_step(1);
    press(&mut app, KeyCode::Tab);
    let s = text(&render(&app, 80, 24));
    assert!(s.contains("┌ Processes"), "{s}");
    assert!(!s.contains("┌ Namespaces"), "{s}");
}

#[test]
fn z_leaves_the_pane_alone_and_blank_leaves_nothing() {
    let mut app = at_step(1);
    press(&mut app, KeyCode::Char('z'));
    let s = text(&render(&app, 80, 24));
    insta::assert_snapshot!("uts_zoomed_80x24", s);
    assert!(s.starts_with("┌ Namespaces"), "{s}");
    press(&mut app, KeyCode::Char('z'));
    press(&mut app, KeyCode::Char('.'));
    let s = text(&render(&app, 80, 24));
    assert!(s.trim().is_empty(), "blank:\n{s}");
    assert_eq!(press(&mut app, KeyCode::PageDown), Vec::<Command>::new());
    assert!(text(&render(&app, 80, 24)).contains("Step 1 of"));
}

#[test]
fn the_help_lists_the_presenter_keys() {
    let mut app = at_step(1);
    press(&mut app, KeyCode::Char('?'));
    let s = text(&render(&app, 80, 24));
    insta::assert_snapshot!("help_80x24", s);
    assert!(s.contains("a clicker's forward button"), "{s}");
    assert!(s.contains("blank the screen"), "{s}");
}

#[test]
fn the_timer_passes_an_hour() {
    let mut app = at_step(1);
    app.clock = Duration::from_secs(3600 + 5 * 60 + 7);
    let s = text(&render(&app, 80, 24));
    assert!(s.contains("timer 1:05:07"), "{s}");
    assert!(s.contains("→ Space PgDn  next"), "{s}");
}

/// The projector theme: white on black, the title a bar, the step's change in yellow.
#[test]
fn high_contrast_for_the_projector() {
    let app = at_step(1);
    let buf = render(&app, 80, 24);
    assert_eq!(buf[(0, 0)].style().bg, Some(Color::White), "the title bar");
    assert!(
        buf.content()
            .iter()
            .any(|c| c.style().bg == Some(Color::Yellow)),
        "the changed namespace row stands out"
    );
}

#[test]
fn the_security_step_brings_its_calls_forward_from_the_top() {
    let k = step_index(|s| matches!(s, Step::Security { .. }));
    let app = at_step(k);
    let title = format!(
        "Step {k} of {} · {}",
        app.steps.len(),
        app.steps[k - 1].title()
    );
    let screens = check("security", &app, &title, "Syscalls");
    for s in &screens {
        // Only this step's calls, from its name down: no earlier step's.
        assert!(s.contains("▸ security"), "{s}");
        assert!(!s.contains("▸ pivot_root"), "{s}");
    }
    assert!(screens[1].contains("┌ Processes"), "{}", screens[1]);
}

/// NO_COLOR (with `--present` too): no colours at all, the title still a bar.
#[test]
fn no_color_keeps_the_title_a_bar() {
    let app = presenting(app_after(1, ThemeKind::NoColor));
    let buf = render(&app, 80, 24);
    let colored = buf.content().iter().any(|c| {
        let s = c.style();
        s.fg.is_some_and(|c| c != Color::Reset) || s.bg.is_some_and(|c| c != Color::Reset)
    });
    assert!(!colored, "colours with NO_COLOR");
    assert!(
        buf[(0, 0)]
            .style()
            .add_modifier
            .contains(ratatui::style::Modifier::REVERSED)
    );
}

/// A title longer than the screen is wide wraps onto more rows: never cut.
#[test]
fn a_long_title_wraps_whole() {
    let mut app = at_step(session().steps.len());
    let argv: Vec<String> =
        "python3 -m http.server --bind 0.0.0.0 --directory /srv/www/public 8080"
            .split(' ')
            .map(String::from)
            .collect();
    let last = app.steps.len() - 1;
    app.steps[last] = Step::Exec {
        argv,
        env: Vec::new(),
    };
    let title = format!("Step 12 of 12 · {}", app.steps[last].title());
    assert!(title.chars().count() > 80, "{title}");
    for (w, h) in SIZES {
        let screen = text(&render(&app, w, h));
        // The title's rows, joined as the wrap split them (at a space).
        let rows: Vec<&str> = screen.lines().take(4).map(str::trim).collect();
        assert!(rows.join(" ").contains(&title), "{w}x{h}:\n{screen}");
    }
}

/// Rootless where no cgroup can be written: the presenter's screen says the cgroup step
/// was skipped where it would have come.
#[test]
fn the_skipped_cgroup_step_is_said_in_the_presenter_layout() {
    use underhood::runtime::step::Step;
    let at = session()
        .steps
        .iter()
        .position(|s| matches!(s, Step::Cgroup { .. }))
        .expect("a cgroup step");
    let mut app = at_step(at);
    app.steps.retain(|s| !matches!(s, Step::Cgroup { .. }));
    app.cgroup_skipped = Some("memory controller: ...".into());
    let s = text(&render(&app, 100, 30));
    assert!(s.contains("The cgroup step is skipped"), "{s}");
}

/// The big pane scrolls with ↑/↓ (PgUp/PgDn stay the clicker's back and next).
#[test]
fn the_big_pane_scrolls() {
    let mut app = at_step(step_index(|s| matches!(s, Step::Rootfs(_))));
    app.viewport = Some(ratatui::layout::Rect::new(0, 0, 80, 24));
    // It opens on what the step added, at the bottom of the mount table.
    let before = text(&render(&app, 80, 24));
    assert!(before.contains(" above ┘"), "{before}");
    press(&mut app, KeyCode::Up);
    let after = text(&render(&app, 80, 24));
    assert_ne!(before, after);
    assert!(after.contains("↓ 1 more"), "{after}");
    press(&mut app, KeyCode::Home);
    let top = text(&render(&app, 80, 24));
    assert!(!top.contains(" above"), "{top}");
    let done = app.done;
    assert_eq!(press(&mut app, KeyCode::PageDown), vec![Command::Next]);
    assert_eq!(app.done, done);
}

/// As the main loop does for a key: the events it makes applied, the rest returned.
fn update(app: &mut App, msg: Msg) -> Vec<Command> {
    let cmds = underhood::ui::update::update(app, msg);
    underhood::ui::update::apply_emits(app, cmds)
}
