//! The explorer's screen: the TUI's live panes laid out for a process we did not make,
//! the security pane, a header naming what is explored, the keys.

use ratatui::Frame;
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Clear, Paragraph, Wrap};

use super::{Explore, Focus};
use crate::observe::error::Unread;
use crate::observe::ptree::cap_names;
use crate::observe::security::Security;
use crate::ui::draw::{self, MIN_HEIGHT, MIN_WIDTH};
use crate::ui::scroll::{self, Geometry};
use crate::ui::theme::Theme;

/// The keys of the explorer, for its help.
pub const KEYS: [(&str, &str); 9] = [
    ("Tab  Shift-Tab", "move focus between panes"),
    ("↑ ↓  PgUp PgDn", "scroll the focused pane"),
    ("Home  End", "the focused pane's top / bottom"),
    ("z", "zoom the focused pane to the full screen"),
    ("p  Esc", "back to the list of containers"),
    ("t", "next colour theme"),
    ("?", "this help"),
    ("q  Ctrl-C", "quit (nothing is changed: explore only reads)"),
    (
        "",
        "host = PID 1's namespaces (or ours, when PID 1's are not readable)",
    ),
];

/// The screen without its header and footer lines.
pub fn body(screen: Rect) -> Rect {
    draw::body(screen)
}

/// Where each pane goes in the body.
pub fn areas(ex: &Explore, body: Rect) -> Vec<(Focus, Rect)> {
    if ex.app.zoom {
        return vec![(ex.focus, body)];
    }
    // The namespaces table needs 46 columns for its inodes; the rest goes right.
    let left_w = (body.width * 42 / 100).max(46).min(body.width / 2 + 6);
    let [left, right] =
        Layout::horizontal([Constraint::Length(left_w), Constraint::Fill(1)]).areas(body);
    // The namespaces as tall as their eight rows need (when there is room), the
    // security pane under them.
    let ns_rows = if body.height >= 30 { 13 } else { 11 };
    let [ns, sec] =
        Layout::vertical([Constraint::Length(ns_rows), Constraint::Fill(1)]).areas(left);
    let procs = ex.app.snap.as_ref().map(|s| s.tree.len()).unwrap_or(0) as u16;
    let short = body.height < 30;
    let [p, m, g] = Layout::vertical([
        Constraint::Length((procs + 3).clamp(5, (right.height / 3).max(5))),
        Constraint::Fill(1),
        Constraint::Length(if short { 8 } else { right.height * 2 / 5 }),
    ])
    .areas(right);
    vec![
        (Focus::Namespaces, ns),
        (Focus::Security, sec),
        (Focus::Processes, p),
        (Focus::Mounts, m),
        (Focus::Memory, g),
    ]
}

pub fn draw(f: &mut Frame, ex: &Explore) {
    let area = f.area();
    let t = ex.app.theme;
    f.render_widget(Block::default().style(t.text()), area);
    if area.width < MIN_WIDTH || area.height < MIN_HEIGHT {
        too_small(f, t, area);
        return;
    }
    let [header, body, footer] = crate::ui::draw::header_body_footer(area);
    draw_header(f, ex, header);
    for (focus, a) in areas(ex, body) {
        match focus.pane() {
            Some(crate::ui::app::Pane::Memory) if ex.app.memory.current.is_none() => {
                no_memory(f, ex, a)
            }
            Some(p) => draw::live_pane(f, &ex.app, p, a),
            None => security(f, ex, a),
        }
    }
    draw_footer(f, ex, footer);
    if ex.app.help {
        help(f, t, area, &KEYS, ex.reference_note.as_deref());
    }
}

/// A terminal below 80x24: say so (q still quits).
pub fn too_small(f: &mut Frame, t: Theme, area: Rect) {
    let text = format!(
        "underhood explore needs a terminal of at least {MIN_WIDTH}x{MIN_HEIGHT}; this one is {}x{}.\nMake the window larger. q quits.",
        area.width, area.height
    );
    f.render_widget(
        Paragraph::new(text)
            .style(t.error())
            .wrap(Wrap { trim: true }),
        area,
    );
}

fn draw_header(f: &mut Frame, ex: &Explore, area: Rect) {
    let t = ex.app.theme;
    let e = &ex.explored;
    let mut spans = vec![
        Span::styled(" underhood explore ", t.key()),
        Span::styled(format!(" pid {} ", e.pid), t.title()),
    ];
    match &ex.gone {
        Some(why) => spans.push(Span::styled(format!("· {why}"), t.error())),
        None => {
            let used: usize = spans.iter().map(|s| s.content.chars().count()).sum();
            let text = format!("· made by {} · {}", e.maker, e.command);
            let room = (area.width as usize).saturating_sub(used);
            spans.push(Span::raw(draw::fit_end(&text, room)));
        }
    }
    f.render_widget(Paragraph::new(Line::from(spans)), area);
}

fn draw_footer(f: &mut Frame, ex: &Explore, area: Rect) {
    let t = ex.app.theme;
    let mut keys: Vec<(&str, &str)> = vec![("Tab", "focus")];
    let hidden = areas(ex, body(f.area()))
        .into_iter()
        .find(|(p, _)| *p == ex.focus)
        .and_then(|(p, a)| match p.pane() {
            Some(pane) => draw::geometry(&ex.app, pane, a),
            None => Some(security_geometry(ex, a)),
        })
        .is_some_and(|g| g.total > g.visible);
    if hidden {
        keys.push(("↑↓", "scroll"));
    }
    keys.push(("z", if ex.app.zoom { "unzoom" } else { "zoom" }));
    keys.push(("p", "containers"));
    keys.push(("?", "help"));
    keys.push(("q", "quit"));
    let (mut spans, used) = draw::key_spans(t, &keys, area.width as usize);
    let note = "read only: nothing here changes the container";
    if used + note.len() < area.width as usize {
        spans.push(Span::styled(note, t.dim()));
    }
    f.render_widget(Paragraph::new(Line::from(spans)), area);
}

fn no_memory(f: &mut Frame, ex: &Explore, area: Rect) {
    let t = ex.app.theme;
    let text = match (&ex.cgroup_note, &ex.app.snap) {
        (Some(why), _) => format!("no memory graph: {why}"),
        (None, None) => "waiting for the first sample".to_string(),
        (None, Some(_)) => {
            "no memory controller in this process's cgroups (no memory file to read)".to_string()
        }
    };
    f.render_widget(
        Paragraph::new(Span::styled(text, t.dim()))
            .wrap(Wrap { trim: true })
            .block(block(ex, Focus::Memory, "Memory".into())),
        area,
    );
}

fn block(ex: &Explore, focus: Focus, title: String) -> Block<'static> {
    let t = ex.app.theme;
    Block::bordered()
        .border_style(t.border(ex.focus == focus))
        .title(Span::styled(format!(" {title} "), t.title()))
}

/// `kill, net_bind_service` (without the `cap_` every name starts with).
fn short_names(mask: u64) -> String {
    cap_names(mask)
        .iter()
        .map(|n| n.trim_start_matches("cap_").to_string())
        .collect::<Vec<_>>()
        .join(" ")
}

/// Words wrapped to `width` columns, every line after the first indented by `indent`.
fn hang(text: &str, width: usize, indent: usize) -> Vec<String> {
    crate::ui::draw::wrap_words(text, width.saturating_sub(indent).max(10))
}

/// The security pane's lines, for a pane `width` columns wide inside: a key column,
/// the values wrapped beside it.
pub fn security_lines(
    sec: &Result<Security, Unread>,
    t: Theme,
    width: usize,
) -> Vec<Line<'static>> {
    let raw = raw_security_lines(sec, t);
    let mut out = Vec::new();
    for (key, value, style) in raw {
        for (i, row) in hang(&value, width, KEY_W).into_iter().enumerate() {
            let k = if i == 0 { key.clone() } else { String::new() };
            out.push(Line::from(vec![
                Span::styled(format!("{k:<KEY_W$}"), t.title()),
                Span::styled(row, style),
            ]));
        }
    }
    out
}

const KEY_W: usize = 11;

fn raw_security_lines(
    sec: &Result<Security, Unread>,
    t: Theme,
) -> Vec<(String, String, ratatui::style::Style)> {
    let s = match sec {
        Ok(s) => s,
        Err(why) => return vec![(String::new(), why.to_string(), t.error())],
    };
    let key = |k: &str| k.to_string();
    let mut lines = Vec::new();
    let all = s.all_caps();
    let caps_line = |name: &str, mask: Option<u64>| {
        let text = match (mask, all) {
            (Some(m), Some(a)) if m & a == a => format!("all {}", a.count_ones()),
            (Some(0), _) => "none".to_string(),
            (Some(m), _) => format!("{}: {}", s.count(Some(m)), short_names(m)),
            (None, _) => "-".to_string(),
        };
        (key(name), text, t.text())
    };
    if let Some(u) = s.uid {
        let who = if u[1] == 0 { " (root)" } else { "" };
        lines.push((
            key("uid"),
            format!("{} {} {} {}{who}", u[0], u[1], u[2], u[3]),
            t.text(),
        ));
    }
    lines.push(caps_line("CapEff", s.cap_eff));
    lines.push(caps_line("CapBnd", s.cap_bnd));
    if s.cap_amb.is_some_and(|a| a != 0) {
        lines.push(caps_line("CapAmb", s.cap_amb));
    }
    let nnp = match s.no_new_privs {
        Some(true) => "1: execve cannot gain privileges (setuid bits ignored)",
        Some(false) => "0: a setuid binary can still gain privileges",
        None => "-",
    };
    lines.push((key("NoNewPrivs"), nnp.to_string(), t.text()));
    let seccomp_style = match s.seccomp {
        Some(crate::observe::ptree::SeccompMode::Disabled) => t.dim(),
        _ => t.isolated(),
    };
    lines.push((key("Seccomp"), s.seccomp_text(), seccomp_style));
    lines.push((key("LSM"), s.lsm.describe(), t.text()));
    lines
}

/// How the security pane's wrapped lines fit `area`.
pub fn security_geometry(ex: &Explore, area: Rect) -> Geometry {
    let inner = area.width.saturating_sub(2) as usize;
    let lines = security_lines(&ex.security, ex.app.theme, inner);
    Geometry {
        total: lines.len(),
        visible: area.height.saturating_sub(2) as usize,
        auto: 0,
    }
}

fn security(f: &mut Frame, ex: &Explore, area: Rect) {
    let t = ex.app.theme;
    let g = security_geometry(ex, area);
    let offset = g.offset(Some(ex.security_offset));
    let title = match &ex.security {
        Ok(s) => format!("Security (pid {})", s.pid),
        Err(_) => "Security".to_string(),
    };
    f.render_widget(
        Paragraph::new(security_lines(
            &ex.security,
            t,
            area.width.saturating_sub(2) as usize,
        ))
        .scroll((offset as u16, 0))
        .block(scroll::marked(
            block(ex, Focus::Security, title),
            g,
            offset,
            t,
        )),
        area,
    );
}

/// The help box over `area`, with a note under the keys.
pub fn help(f: &mut Frame, t: Theme, area: Rect, keys: &[(&str, &str)], note: Option<&str>) {
    let w = area.width.min(76);
    let inner = w.saturating_sub(2) as usize;
    let kw = keys
        .iter()
        .map(|(k, _)| k.chars().count())
        .max()
        .unwrap_or(0);
    let mut lines: Vec<Line> = keys
        .iter()
        .map(|(k, what)| {
            Line::from(vec![
                Span::styled(format!("{k:>kw$}  "), t.title()),
                Span::raw(what.to_string()),
            ])
        })
        .collect();
    if let Some(n) = note {
        lines.push(Line::from(Span::styled(n.to_string(), t.dim())));
    }
    lines.push(Line::from(Span::styled("any key closes this", t.dim())));
    let rows: usize = lines
        .iter()
        .map(|l| l.width().max(1).div_ceil(inner.max(1)))
        .sum();
    let h = (rows as u16 + 2).min(area.height);
    let r = Rect {
        x: area.x + (area.width - w) / 2,
        y: area.y + (area.height - h) / 2,
        width: w,
        height: h,
    };
    f.render_widget(Clear, r);
    f.render_widget(
        Paragraph::new(lines)
            .wrap(Wrap { trim: false })
            .style(t.text())
            .block(
                Block::bordered()
                    .border_style(t.border(true))
                    .title(Span::styled(" Keys ", t.title())),
            ),
        r,
    );
}
