//! Drawing: pure functions of `&App`. Layout, header, footer, help overlay; each pane
//! lives in its own file.

mod big_digits;
mod cache;
mod memory;
mod mounts;
mod namespaces;
mod present;
mod processes;
mod shell;
mod step;
mod syscalls;

use ratatui::Frame;
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Clear, Paragraph, Wrap};

use super::app::{App, Pane};
use super::shell::{Open, Slot};

/// The smallest terminal we draw a full screen in.
pub const MIN_WIDTH: u16 = 80;
pub const MIN_HEIGHT: u16 = 24;

pub fn draw(f: &mut Frame, app: &App) {
    let area = f.area();
    let t = app.theme;
    cache::fill(f.buffer_mut(), t.text());
    if area.width < MIN_WIDTH || area.height < MIN_HEIGHT {
        too_small(f, app, area);
        return;
    }
    if app.present {
        present::draw(f, app);
        return;
    }
    let [header, body, footer] = header_body_footer(area);
    draw_header(f, app, header);
    draw_footer(f, app, footer);
    for (p, a) in panes(app, body) {
        pane(f, app, p, a);
    }
    if app.help {
        help(f, app, area, help_keys(app));
    }
}

/// Forgets the panes as last rendered and the syscall log as last wrapped, so that
/// the next frame lays out everything again (what a frame after a step costs).
pub fn forget_memos() {
    cache::clear();
    syscalls::forget();
}

/// Where each pane goes on a whole screen, in either layout, with or without the
/// shell panes (the main loop sizes the shells' terminals by it).
pub fn screen_layout(app: &App, screen: Rect, open: Open) -> Vec<(Pane, Rect)> {
    if app.present {
        present::areas(app, screen, open)
    } else {
        layout(app, body(screen), open)
    }
}

/// Where each pane goes in the body (all of the screen but the header and footer).
/// The main loop uses it too, to size the embedded shell's terminal.
pub fn panes(app: &App, body: Rect) -> Vec<(Pane, Rect)> {
    layout(app, body, Open::of(app))
}

/// The layout with or without the shell panes (to size a shell before it opens).
pub fn layout(app: &App, body: Rect, open: Open) -> Vec<(Pane, Rect)> {
    let focus_shown = open.shows(app.focus);
    if app.zoom && focus_shown {
        return vec![(app.focus, body)];
    }
    let mut out = Vec::new();
    let [left, right] =
        Layout::horizontal([Constraint::Percentage(42), Constraint::Percentage(58)]).areas(body);
    // The pane that should catch the eye grows: the focused one, else the one the
    // last step changed (the memory graph while the hog climbs).
    let grows = if app.hog.is_some() && app.focus == Pane::Step {
        Pane::Memory
    } else if app.focus == Pane::Step {
        super::present::changed_pane(app)
    } else {
        app.focus
    };
    // The left column: the step, then the open shells (sharing the space), or the
    // syscalls when no shell is open.
    let lower_shells = [Slot::Spawned, Slot::Entered, Slot::Host];
    let mut lower: Vec<Pane> = lower_shells
        .into_iter()
        .filter(|s| open.has(*s))
        .map(crate::ui::event::pane_of)
        .collect();
    let shells = lower.len();
    let top_share = match (shells, body.height >= 40) {
        (0, false) => 45,
        (0, true) => 35,
        (1, _) => 35,
        _ => 25,
    };
    if lower.is_empty() {
        lower.push(Pane::Syscalls);
    }
    // A short screen cannot give four table panes on the right their title, header
    // and three rows each: the memory graph goes under the left column.
    let short = body.height < 30;
    let memory_left = short;
    let mut constraints = if memory_left {
        // Shares of what the graph leaves, each pane at least its title and three rows.
        vec![Constraint::Fill(1)]
    } else {
        vec![Constraint::Percentage(top_share)]
    };
    constraints.extend(lower.iter().map(|_| Constraint::Fill(1)));
    if memory_left {
        // A graph five rows high while the hog climbs or the pane has the focus (and
        // its axis under it), else three.
        let watched = app.hog.is_some() || app.focus == Pane::Memory;
        constraints.push(Constraint::Length(if watched { 9 } else { 7 }));
    }
    let areas = Layout::vertical(constraints).split(left);
    out.push((Pane::Step, areas[0]));
    for (p, a) in lower.iter().zip(areas.iter().skip(1)) {
        out.push((*p, *a));
    }
    if memory_left {
        out.push((Pane::Memory, areas[areas.len() - 1]));
    }
    let right_panes: &[Pane] = if memory_left {
        &[Pane::Namespaces, Pane::Processes, Pane::Mounts]
    } else {
        &[
            Pane::Namespaces,
            Pane::Processes,
            Pane::Mounts,
            Pane::Memory,
        ]
    };
    // Tall screens: the namespace table gets its 8 rows (+ header and borders), the
    // mount table (17 to 30 rows) the most of the rest.
    let constraints: Vec<Constraint> = right_panes
        .iter()
        .map(|&p| {
            if !short {
                let procs = app.snap.as_ref().map(|s| s.tree.len()).unwrap_or(0) as u16;
                return match p {
                    Pane::Namespaces => Constraint::Length(11.min(right.height / 3)),
                    // As tall as its rows need (a container has few processes).
                    Pane::Processes => {
                        Constraint::Length((procs + 4).clamp(6, (right.height / 3).max(6)))
                    }
                    Pane::Mounts if grows == p => Constraint::Fill(6),
                    Pane::Mounts => Constraint::Fill(4),
                    _ if grows == p => Constraint::Fill(4),
                    _ => Constraint::Fill(2),
                };
            }
            if grows == p {
                Constraint::Fill(3)
            } else {
                Constraint::Fill(2)
            }
        })
        .collect();
    let areas = Layout::vertical(constraints).split(right);
    for (p, a) in right_panes.iter().zip(areas.iter()) {
        out.push((*p, *a));
    }
    out
}

/// How long `pane` is against its room at `area`, for scrolling; `None` for panes
/// that do not scroll (the graph, the shells: their terminals keep their own).
pub fn geometry(app: &App, p: Pane, area: Rect) -> Option<super::scroll::Geometry> {
    Some(match p {
        Pane::Step => step::geometry(app, area),
        Pane::Syscalls => syscalls::geometry(app, area),
        Pane::Namespaces => namespaces::geometry(app, area),
        Pane::Processes => processes::geometry(app, area),
        Pane::Mounts => mounts::geometry(app, area),
        Pane::Shell | Pane::Entered | Pane::Host | Pane::Memory => return None,
    })
}

/// The body area of a full screen.
pub fn body(area: Rect) -> Rect {
    let [_, body, _] = Layout::vertical([
        Constraint::Length(1),
        Constraint::Min(0),
        Constraint::Length(1),
    ])
    .areas(area);
    body
}

/// The long title where it fits in the pane's top border, else the short one.
pub(crate) fn fitted(area: Rect, long: &str, short: &str) -> String {
    let room = area.width.saturating_sub(4) as usize;
    if long.chars().count() <= room {
        long
    } else {
        short
    }
    .to_string()
}

/// A bordered block for a pane, its border bright when focused.
pub(crate) fn block(app: &App, p: Pane, title: String) -> Block<'static> {
    let focused = app.focus == p;
    Block::bordered()
        .border_style(app.theme.border(focused))
        .title(Span::styled(format!(" {title} "), app.theme.title()))
}

fn pane(f: &mut Frame, app: &App, p: Pane, area: Rect) {
    match p {
        Pane::Step => step::draw(f, app, area),
        Pane::Syscalls => syscalls::draw(f, app, area),
        Pane::Shell => shell::draw(f, app, area, Pane::Shell),
        Pane::Entered => shell::draw(f, app, area, Pane::Entered),
        Pane::Host => shell::draw(f, app, area, Pane::Host),
        Pane::Namespaces => namespaces::draw(f, app, area),
        Pane::Processes => processes::draw(f, app, area),
        Pane::Mounts => mounts::draw(f, app, area),
        Pane::Memory => memory::draw(f, app, area),
    }
}

/// One pane drawn alone at `area`, for screens that lay the live panes out their own
/// way (`ui/explore`).
pub fn live_pane(f: &mut Frame, app: &App, p: Pane, area: Rect) {
    pane(f, app, p, area);
}

fn draw_header(f: &mut Frame, app: &App, area: Rect) {
    let t = app.theme;
    let h = &app.host;
    let who = if h.root { "root" } else { "rootless" };
    // The step counter first: on a narrow screen the host facts are what gets cut.
    let mut spans = vec![
        Span::styled(" underhood ", t.key()),
        Span::styled(
            format!(" step {}/{} ", app.done, app.steps.len()),
            t.title(),
        ),
    ];
    if let Some(fs) = &app.follow {
        let style = if fs.lost.is_some() {
            t.error()
        } else {
            t.title()
        };
        spans.push(Span::styled(format!("· {} ", fs.label()), style));
    }
    // The host facts in as many words as fit: shortened, never cut mid-word.
    let used: usize = spans.iter().map(|s| s.content.chars().count()).sum();
    let room = (area.width as usize).saturating_sub(used);
    let cgroup_short = h.cgroup.split(" (").next().unwrap_or(&h.cgroup);
    let candidates = [
        format!(
            "· {who} · {} · overlayfs {} · user ns {}",
            h.cgroup, h.overlay, h.userns
        ),
        format!(
            "· {who} · {} · overlay {} · userns {}",
            h.cgroup, h.overlay, h.userns
        ),
        format!(
            "· {who} · cgroup {cgroup_short} · overlay {} · userns {}",
            h.overlay, h.userns
        ),
        format!("· {who} · cgroup {cgroup_short}"),
        format!("· {who}"),
    ];
    if let Some(c) = candidates.iter().find(|c| c.chars().count() <= room) {
        spans.push(Span::raw(c.clone()));
    }
    let line = Line::from(spans);
    cache::widget(f, "header", Paragraph::new(line), area, t.text());
}

/// The keys that matter now, most important first, as many as fit.
fn draw_footer(f: &mut Frame, app: &App, area: Rect) {
    if let Some(r) = &app.replay {
        return replay_footer(f, app, r, area);
    }
    let t = app.theme;
    // A shell has the keys: say how to give them back, and nothing else.
    if super::event::slot_of(app.focus).is_some_and(|s| Open::of(app).has(s)) {
        let keys = [
            ("Ctrl-]", "gives the keys back to underhood"),
            ("exit", "closes the shell"),
        ];
        let (mut spans, used) = key_spans(t, &keys, area.width as usize);
        let rest = "every other key goes to the shell";
        if used + rest.len() <= area.width as usize {
            spans.push(Span::styled(rest, t.dim()));
        }
        f.render_widget(Paragraph::new(Line::from(spans)), area);
        return;
    }
    let mut keys: Vec<(&str, &str)> = Vec::new();
    if app.done < app.steps.len() {
        keys.push(("→", "next"));
    }
    if app.done > 0 {
        keys.push(("←", "back"));
    }
    if app.limits_memory() {
        keys.push((
            "m",
            if app.hog.is_some() {
                "hog running"
            } else {
                "hog"
            },
        ));
    }
    // A lesson made by hand is done in the host shell: its key comes first.
    if app.lesson.as_ref().is_some_and(|l| l.by_hand) {
        keys.push(("h", "host shell"));
    }
    keys.push(("s", "shell"));
    keys.push(("e", "enter"));
    // The focused pane has rows out of sight: say how to reach them.
    let hidden = screen_layout(app, f.area(), Open::of(app))
        .into_iter()
        .find(|(p, _)| *p == app.focus)
        .and_then(|(p, a)| geometry(app, p, a))
        .is_some_and(|g| g.total > g.visible);
    if hidden {
        keys.push(("↑↓", "scroll"));
    }
    if app.lesson.is_some() {
        keys.push(("c", "check"));
    }
    keys.push(("?", "help"));
    keys.push(("q", "quit"));
    keys.push(("Tab", "focus"));
    keys.push(("z", if app.zoom { "unzoom" } else { "zoom" }));
    let (spans, _) = key_spans(t, &keys, area.width as usize);
    cache::widget(
        f,
        "footer",
        Paragraph::new(Line::from(spans)),
        area,
        t.text(),
    );
}

/// ` k  what  ` pairs, as many as fit in `room` columns, most important first; and the
/// columns they take.
pub(crate) fn key_spans(
    t: super::theme::Theme,
    keys: &[(&str, &str)],
    room: usize,
) -> (Vec<Span<'static>>, usize) {
    // Two spaces after each pair; none (the key's colour still sets the pairs apart)
    // when that lets more of them show.
    let width = |gap: usize| -> usize {
        keys.iter()
            .map(|(k, w)| k.chars().count() + 3 + w.chars().count() + gap)
            .sum()
    };
    let gap = if width(2) > room { 0 } else { 2 };
    let mut spans = Vec::new();
    let mut used = 0usize;
    for (k, what) in keys {
        let w = k.chars().count() + 3 + what.chars().count() + gap;
        if used + w > room {
            break;
        }
        used += w;
        spans.push(Span::styled(format!(" {k} "), t.key()));
        spans.push(Span::raw(format!(" {what}{}", " ".repeat(gap))));
    }
    (spans, used)
}

/// "REPLAY 0:12/1:05 ▶ x2" and the replay's keys, as many as fit.
fn replay_footer(f: &mut Frame, app: &App, r: &super::app::ReplayStatus, area: Rect) {
    let t = app.theme;
    let mmss = |d: std::time::Duration| format!("{}:{:02}", d.as_secs() / 60, d.as_secs() % 60);
    let state = if r.playing { "▶" } else { "❚❚" };
    let speed = if (r.speed - 1.0).abs() > f64::EPSILON {
        format!(" x{}", r.speed)
    } else {
        String::new()
    };
    let mut spans = vec![
        Span::styled(" REPLAY ", t.key()),
        Span::raw(format!(
            " {}/{} {state}{speed}  ",
            mmss(r.at),
            mmss(r.length)
        )),
    ];
    let status: usize = spans.iter().map(|s| s.content.chars().count()).sum();
    let keys = [
        ("→", "next step"),
        ("←", "back"),
        ("p", if r.playing { "pause" } else { "play" }),
        ("q", "quit"),
        ("+/-", "speed"),
        ("?", "help"),
    ];
    let room = (area.width as usize).saturating_sub(status);
    let (key_spans, used) = key_spans(t, &keys, room);
    spans.extend(key_spans);
    let used = status + used;
    if used + r.file.chars().count() < area.width as usize {
        spans.push(Span::styled(r.file.clone(), t.dim()));
    }
    f.render_widget(Paragraph::new(Line::from(spans)), area);
}

fn too_small(f: &mut Frame, app: &App, area: Rect) {
    let text = format!(
        "underhood needs a terminal of at least {MIN_WIDTH}x{MIN_HEIGHT}; this one is {}x{}.\nMake the window larger (or the font smaller). q quits.",
        area.width, area.height
    );
    f.render_widget(
        Paragraph::new(text)
            .style(app.theme.error())
            .wrap(Wrap { trim: true }),
        area,
    );
}

pub const KEYS: [(&str, &str); 18] = [
    ("→  Space  n", "take the next step"),
    ("←  b", "go back one step (tear down, replay the others)"),
    (
        "↑ ↓  PgUp PgDn",
        "scroll the focused pane (the wheel: the pane under it)",
    ),
    ("Home  End", "the focused pane's top / bottom"),
    (
        "m",
        "memory-hog demo: climb to the limit until the OOM kill",
    ),
    ("s", "a shell inside the container as it stands now"),
    (
        "e",
        "enter the running container from outside with setns (as nsenter does)",
    ),
    ("h", "a shell on the HOST, outside the container"),
    ("Ctrl-]", "a shell has the keys: this gives them back"),
    ("Tab  Shift-Tab", "move focus between panes (a click too)"),
    ("z", "zoom the focused pane to the full screen"),
    ("Esc", "leave zoom"),
    ("t", "next colour theme (default, high contrast, none)"),
    ("c", "in a lesson: check your progress now"),
    ("?", "this help"),
    ("q  Ctrl-C", "quit (the container is removed)"),
    ("", "NO_COLOR=1 turns colours off"),
    ("", "presenter layout: PgDn / PgUp step (a clicker's keys)"),
];

/// The keys of `underhood replay`.
pub const REPLAY_KEYS: [(&str, &str); 10] = [
    ("→  Space  PgDn", "the next step (paused: its whole result)"),
    ("←  PgUp  b", "the step before"),
    ("p  Enter", "play / pause at the recorded pace"),
    ("+  -", "play faster / slower"),
    ("Tab  Shift-Tab", "move focus between panes"),
    ("z", "zoom the focused pane to the full screen"),
    ("Esc", "leave zoom"),
    ("t", "next colour theme"),
    ("?", "this help"),
    ("q  Ctrl-C", "quit"),
];

/// The help's lines for a box `width` columns wide inside: the keys in a column as
/// wide as the longest, each explanation wrapped beside it.
pub fn help_lines(app: &App, keys: &[(&str, &str)], width: usize) -> Vec<Line<'static>> {
    let t = app.theme;
    let kw = keys
        .iter()
        .map(|(k, _)| k.chars().count())
        .max()
        .unwrap_or(0);
    let room = width.saturating_sub(kw + 2).max(10);
    let mut lines = Vec::new();
    for (k, what) in keys {
        for (i, r) in wrap_words(what, room).into_iter().enumerate() {
            let key = if i == 0 { *k } else { "" };
            lines.push(Line::from(vec![
                Span::styled(format!("{key:>kw$}  "), t.title()),
                Span::raw(r),
            ]));
        }
    }
    lines
}

/// A screen's rows: a header line, the body, a footer line.
pub(crate) fn header_body_footer(area: Rect) -> [Rect; 3] {
    Layout::vertical([
        Constraint::Length(1),
        Constraint::Min(0),
        Constraint::Length(1),
    ])
    .areas(area)
}

/// `text` cut at spaces into rows of at most `room` columns (a longer word gets a row
/// of its own).
pub(crate) fn wrap_words(text: &str, room: usize) -> Vec<String> {
    let mut rows: Vec<String> = vec![String::new()];
    for word in text.split(' ') {
        let last = rows.last_mut().expect("a row");
        let n = last.chars().count();
        if n > 0 && n + 1 + word.chars().count() > room {
            rows.push(word.to_string());
        } else {
            if n > 0 {
                last.push(' ');
            }
            last.push_str(word);
        }
    }
    rows
}

/// The help's keys: the replay's, or the TUI's.
pub fn help_keys(app: &App) -> &'static [(&'static str, &'static str)] {
    if app.replay.is_some() {
        &REPLAY_KEYS
    } else if app.present {
        &present::KEYS
    } else {
        &KEYS
    }
}

/// Where the help box goes on `area`, its lines and how they fit.
pub fn help_box(
    app: &App,
    area: Rect,
    keys: &[(&str, &str)],
) -> (Rect, Vec<Line<'static>>, super::scroll::Geometry) {
    let t = app.theme;
    // As wide as the longest line needs, within the screen.
    let kw = keys
        .iter()
        .map(|(k, _)| k.chars().count())
        .max()
        .unwrap_or(0);
    let widest = keys
        .iter()
        .map(|(_, w)| w.chars().count())
        .max()
        .unwrap_or(0);
    let w = area.width.min((kw + 2 + widest + 2) as u16);
    let inner_w = w.saturating_sub(2) as usize;
    let mut lines = help_lines(app, keys, inner_w);
    lines.push(Line::from(Span::styled(
        "any other key closes this",
        t.dim(),
    )));
    let h = (lines.len() as u16 + 2).min(area.height);
    let r = Rect {
        x: area.x + (area.width - w) / 2,
        y: area.y + (area.height - h) / 2,
        width: w,
        height: h,
    };
    let g = super::scroll::Geometry {
        total: lines.len(),
        visible: h.saturating_sub(2) as usize,
        auto: 0,
    };
    (r, lines, g)
}

fn help(f: &mut Frame, app: &App, area: Rect, keys: &[(&str, &str)]) {
    let t = app.theme;
    let (r, lines, g) = help_box(app, area, keys);
    let offset = g.offset(Some(app.help_offset));
    let block = Block::bordered()
        .border_style(t.border(true))
        .title(Span::styled(" Keys (↑↓ scroll) ", t.title()));
    f.render_widget(Clear, r);
    f.render_widget(
        Paragraph::new(lines)
            .style(t.text())
            .scroll((offset as u16, 0))
            .block(super::scroll::marked(block, g, offset, t)),
        r,
    );
}

/// Text cut to `width` columns at its end, with `…` where it was cut.
pub(crate) fn fit_end(text: &str, width: usize) -> String {
    if text.chars().count() <= width || width < 2 {
        return text.to_string();
    }
    let kept: String = text.chars().take(width - 1).collect();
    format!("{kept}…")
}

/// A drawn buffer as text, a line per row (for unit tests of the drawing).
#[cfg(test)]
pub(crate) fn buffer_text(buf: &ratatui::buffer::Buffer) -> String {
    let mut out = String::new();
    for y in 0..buf.area.height {
        for x in 0..buf.area.width {
            out.push_str(buf[(x, y)].symbol());
        }
        out.push('\n');
    }
    out
}
