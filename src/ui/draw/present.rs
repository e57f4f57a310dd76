//! Presenter mode's screen, for a projector: a large step title, one line on what the
//! step does, then the one pane the step changed, big (a second, smaller pane when
//! the screen has room), and a footer with the clicker's keys and a timer. No header:
//! the host facts are for the learner at a desk, not for an audience.
//!
//! Nothing is cut: the title and the line under it wrap; the footer drops its least
//! needed keys first and always keeps next, back and the timer.

use ratatui::Frame;
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::style::Modifier;
use ratatui::text::{Line, Span};
use ratatui::widgets::{Paragraph, Wrap};

use crate::ui::app::{App, Pane};
use crate::ui::event::pane_of;
use crate::ui::present;
use crate::ui::shell::{Open, Slot};
use crate::ui::theme::ThemeKind;

/// From this size on, a second pane fits under the big one.
pub const ROOMY_WIDTH: u16 = 100;
pub const ROOMY_HEIGHT: u16 = 30;

/// The presenter's keys, for the help overlay.
pub const KEYS: [(&str, &str); 14] = [
    ("→  Space  PgDn", "next step (a clicker's forward button)"),
    ("←  PgUp", "back one step (a clicker's back button)"),
    ("Tab  Shift-Tab", "show another pane, until the next step"),
    ("↑ ↓  Home End", "scroll the pane (the wheel too)"),
    ("z", "the pane alone (no title), and back"),
    (".  b", "blank the screen; any key brings it back"),
    ("m", "memory hog: grow to the limit until the OOM kill"),
    ("s", "a shell inside the container (Ctrl-] leaves it)"),
    ("e", "enter the running container from outside with setns"),
    ("h", "a shell on the HOST, outside the container"),
    ("t", "next colour theme (high contrast, none, default)"),
    ("?", "this help"),
    ("q  Ctrl-C", "quit (the container is removed)"),
    ("", "the timer counts from the start of the session"),
];

/// Where the parts of the screen go.
struct Parts {
    title: Rect,
    about: Rect,
    main: Rect,
    second: Option<Rect>,
    footer: Rect,
}

/// The title: which step of how many, and its name.
fn title(app: &App) -> String {
    let total = app.steps.len();
    // A lesson's run of passed-through steps was one press: name the whole run.
    let start = app.back_target();
    if app.done > start + 1 {
        let names: Vec<&str> = app.steps[start..app.done]
            .iter()
            .map(|s| s.name())
            .collect();
        return format!(
            "Steps {}–{} of {total} · passed through: {}",
            start + 1,
            app.done,
            names.join(", ")
        );
    }
    match app.last_step() {
        Some(s) => format!("Step {} of {total} · {}", app.done, s.title()),
        None if total == 1 => "1 step from a process to a container".to_string(),
        None => format!("{total} steps from a process to a container"),
    }
}

/// Under the title: what the step does in one sentence, and the message line.
fn about(app: &App) -> Vec<Line<'static>> {
    let t = app.theme;
    let total = app.steps.len();
    let mut lines = Vec::new();
    match (app.last_step(), app.next_step()) {
        (None, Some(next)) => lines.push(Line::raw(format!(
            "Nothing is isolated yet: this process shares every namespace with the host. Next: {}.",
            next.title()
        ))),
        (Some(last), _) => lines.push(Line::raw(present::first_sentence(
            crate::lesson::purpose::purpose(last),
        ))),
        (None, None) => {}
    }
    if total > 0 && app.done == total {
        // A launch of the exec alone (the host-view lesson) isolates nothing.
        let bare = app
            .steps
            .iter()
            .all(|s| matches!(s, crate::runtime::step::Step::Exec { .. }));
        let done = match (total, bare) {
            (_, true) => "The command runs: an ordinary host process, not a container.".into(),
            (1, false) => "The step is done: this is a container.".to_string(),
            _ => format!("All {total} steps done: this is a container."),
        };
        lines.push(Line::from(Span::styled(done, t.ok())));
    }
    // Rootless without a usable cgroup: said where the step would have been.
    if app.cgroup_skipped.is_some() && app.done > 0 && app.done == app.cgroup_skipped_at() {
        lines.push(Line::from(Span::styled(
            "The cgroup step is skipped: its limits cannot be set here (`underhood doctor` says why).",
            t.error(),
        )));
    }
    lines.extend(crate::ui::draw::step::message_lines(app));
    lines
}

/// Whether a screen has room for a second pane and big digits.
fn roomy(screen: Rect) -> bool {
    screen.width >= ROOMY_WIDTH && screen.height >= ROOMY_HEIGHT
}

/// The title as a bar: on a roomy screen with the width for it, the step counter in
/// big digits beside the title; else the title alone, wrapped.
fn title_widget(app: &App, screen: Rect) -> Paragraph<'static> {
    let mut style = app.theme.key().add_modifier(Modifier::BOLD);
    if app.theme.kind == ThemeKind::NoColor {
        // Without colours, a bar still: reversed, as the changes are.
        style = style.add_modifier(Modifier::REVERSED);
    }
    let title = title(app);
    let counter = format!("{}/{}", app.done, app.steps.len());
    let big = super::big_digits::rows(&counter).filter(|_| {
        let w = 1 + super::big_digits::width(&counter) + 3 + title.chars().count();
        app.done > 0 && roomy(screen) && w <= screen.width as usize
    });
    let lines = match big {
        Some([top, middle, bottom]) => vec![
            Line::from(format!(" {top}")),
            Line::from(format!(" {middle}   {title}")),
            Line::from(format!(" {bottom}")),
        ],
        None => vec![Line::from(format!(" {title}"))],
    };
    Paragraph::new(lines)
        .style(style)
        .wrap(Wrap { trim: false })
}

fn about_widget(app: &App) -> Paragraph<'static> {
    Paragraph::new(about(app))
        .style(app.theme.text())
        .wrap(Wrap { trim: true })
}

fn parts(app: &App, screen: Rect) -> Parts {
    let [body, footer] =
        Layout::vertical([Constraint::Min(0), Constraint::Length(1)]).areas(screen);
    if app.zoom {
        return Parts {
            title: Rect::default(),
            about: Rect::default(),
            main: body,
            second: None,
            footer,
        };
    }
    let w = body.width;
    let title_h = title_widget(app, screen).line_count(w) as u16;
    // A blank row under the title, then the sentence, with a margin of one column.
    let about_h = about_widget(app).line_count(w.saturating_sub(2)) as u16 + 1;
    let [title, about, rest] = Layout::vertical([
        Constraint::Length(title_h),
        Constraint::Length(about_h),
        Constraint::Min(0),
    ])
    .areas(body);
    let about = Rect {
        x: about.x + 1,
        y: about.y + 1,
        width: about.width.saturating_sub(2),
        height: about.height.saturating_sub(1),
    };
    let (main, second) = if roomy(screen) {
        // The changed pane stays the big one, even when its list is short: where
        // the eye goes first.
        let [main, second] =
            Layout::vertical([Constraint::Fill(3), Constraint::Fill(2)]).areas(rest);
        (main, Some(second))
    } else {
        (rest, None)
    };
    Parts {
        title,
        about,
        main,
        second,
        footer,
    }
}

/// The panes shown on a screen of `screen` (the main loop sizes the shells by it).
/// An open shell that is not shown is sized as the big pane, where it will show.
pub fn areas(app: &App, screen: Rect, open: Open) -> Vec<(Pane, Rect)> {
    let p = parts(app, screen);
    let main = present::main_pane(app, open);
    let mut out = vec![(main, p.main)];
    if let Some(r) = p.second {
        out.push((present::second_pane(main), r));
    }
    for slot in Slot::ALL.into_iter().filter(|s| open.has(*s)) {
        let shell = pane_of(slot);
        if !out.iter().any(|(q, _)| *q == shell) {
            out.push((shell, p.main));
        }
    }
    out
}

pub fn draw(f: &mut Frame, app: &App) {
    let screen = f.area();
    if app.blank {
        // The background only (drawn by the caller): the audience looks at the speaker.
        return;
    }
    let p = parts(app, screen);
    if !app.zoom {
        f.render_widget(title_widget(app, screen), p.title);
        f.render_widget(about_widget(app), p.about);
    }
    let main = present::main_pane(app, Open::of(app));
    pane(f, app, main, p.main);
    if let Some(r) = p.second {
        pane(f, app, present::second_pane(main), r);
    }
    footer(f, app, p.footer);
    if app.help {
        super::help(f, app, screen, super::help_keys(app));
    }
}

/// A pane as in the usual layout, but the calls only from the last step on.
fn pane(f: &mut Frame, app: &App, p: Pane, area: Rect) {
    match p {
        Pane::Syscalls => {
            let log = super::syscalls::since_last_step(app);
            super::syscalls::draw_reports(f, app, area, log, true)
        }
        _ => super::pane(f, app, p, area),
    }
}

/// The clicker's keys, then the others as they fit, and the timer at the right.
fn footer(f: &mut Frame, app: &App, area: Rect) {
    if let Some(r) = &app.replay {
        return replay_footer(f, app, r, area);
    }
    let t = app.theme;
    let timer = format!(" timer {} ", present::timer(app.clock));
    let mut keys: Vec<(&str, &str)> = Vec::new();
    // As `on_key` routes them: a focused shell takes every key but Ctrl-].
    let typing = crate::ui::event::slot_of(app.focus)
        .is_some_and(|s| crate::ui::shell::Open::of(app).has(s));
    if typing {
        keys.push(("Ctrl-]", "leave the shell"));
    } else {
        if app.done < app.steps.len() {
            keys.push(("→ Space PgDn", "next"));
        }
        if app.done > 0 {
            keys.push(("← PgUp", "back"));
        }
        if app.done == app.steps.len() {
            keys.push(("s", "shell"));
            if app.limits_memory() {
                let hog = if app.hog.is_some() {
                    "hog running"
                } else {
                    "hog"
                };
                keys.push(("m", hog));
            }
        }
        keys.push(("Tab", "pane"));
        keys.push(("?", "keys"));
        keys.push(("q", "quit"));
    }
    let room = (area.width as usize).saturating_sub(timer.chars().count());
    let (spans, _) = crate::ui::draw::key_spans(t, &keys, room);
    f.render_widget(Paragraph::new(Line::from(spans)), area);
    let w = timer.chars().count() as u16;
    let right = Rect {
        x: area.right().saturating_sub(w),
        width: w.min(area.width),
        ..area
    };
    f.render_widget(Paragraph::new(Span::styled(timer, t.title())), right);
}

/// A replay says so first (with no header, the footer is the only place): "REPLAY
/// 0:12/1:05 ❚❚", then the keys a replay takes; no shell or hog keys, which a replay
/// cannot act on.
fn replay_footer(f: &mut Frame, app: &App, r: &crate::ui::app::ReplayStatus, area: Rect) {
    let t = app.theme;
    let mmss = |d: std::time::Duration| format!("{}:{:02}", d.as_secs() / 60, d.as_secs() % 60);
    let state = if r.playing { "▶" } else { "❚❚" };
    let mut spans = vec![
        Span::styled(" REPLAY ", t.key().add_modifier(Modifier::BOLD)),
        Span::raw(format!(" {}/{} {state}  ", mmss(r.at), mmss(r.length))),
    ];
    let status: usize = spans.iter().map(|s| s.content.chars().count()).sum();
    let mut keys: Vec<(&str, &str)> = Vec::new();
    if app.done < app.steps.len() {
        keys.push(("→ PgDn", "next"));
    }
    if app.done > 0 {
        keys.push(("← PgUp", "back"));
    }
    keys.push(("p", if r.playing { "pause" } else { "play" }));
    keys.push(("?", "keys"));
    keys.push(("q", "quit"));
    let room = (area.width as usize).saturating_sub(status);
    let (key_spans, _) = crate::ui::draw::key_spans(t, &keys, room);
    spans.extend(key_spans);
    f.render_widget(Paragraph::new(Line::from(spans)), area);
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::runtime::step::Step;
    use crate::ui::app::{HostLine, ReplayStatus};
    use crate::ui::theme::Theme;
    use ratatui::Terminal;
    use ratatui::backend::TestBackend;
    use std::time::Duration;

    fn screen(app: &App) -> String {
        let mut t = Terminal::new(TestBackend::new(80, 24)).unwrap();
        t.draw(|f| draw(f, app)).unwrap();
        crate::ui::draw::buffer_text(t.backend().buffer())
    }

    fn exec_only() -> App {
        let exec = Step::Exec {
            argv: vec!["sleep".into(), "1".into()],
            env: vec![],
        };
        let mut app = App::new(
            HostLine::default(),
            vec![exec],
            vec![],
            Theme {
                kind: ThemeKind::NoColor,
            },
        );
        app.present = true;
        app
    }

    #[test]
    fn a_run_of_passed_through_steps_is_named_whole_in_the_title() {
        let mut app = crate::ui::pass::passing_fixture(4);
        app.present = true;
        assert_eq!(
            title(&app),
            "Steps 2–4 of 5 · passed through: mount, cgroupns, time"
        );
        app.done = 5;
        assert!(title(&app).starts_with("Step 5 of 5 · "), "{}", title(&app));
        app.done = 1;
        assert!(title(&app).starts_with("Step 1 of 5 · "), "{}", title(&app));
    }

    #[test]
    fn one_step_is_a_step_and_the_exec_alone_is_not_a_container() {
        let mut app = exec_only();
        assert!(screen(&app).contains("1 step from a process to a container"));
        app.done = 1;
        let s = screen(&app);
        assert!(s.contains("not a container"), "{s}");
        assert!(!s.contains("this is a container"), "{s}");
    }

    #[test]
    fn a_replay_says_so_in_the_footer_and_offers_no_shell() {
        let mut app = exec_only();
        app.done = 1;
        app.replay = Some(ReplayStatus {
            file: "talk.jsonl".into(),
            at: Duration::from_secs(12),
            length: Duration::from_secs(65),
            playing: false,
            speed: 1.0,
        });
        let s = screen(&app);
        let footer = s.lines().last().unwrap();
        assert!(footer.starts_with(" REPLAY  0:12/1:05"), "{footer}");
        assert!(!footer.contains("shell"), "{footer}");
    }
}
