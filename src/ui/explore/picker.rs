//! The picker: the host's containers (every first process whose namespaces differ
//! from the host's, `observe::containers`), with what made each, its command and the
//! namespaces it has of its own. Enter explores one.

use crossterm::event::{KeyCode, KeyEvent};
use ratatui::Frame;
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Cell, Paragraph, Row, Table, TableState, Wrap};

use super::Action;
use crate::ns::Ns;
use crate::observe::containers::{Container, Listing};
use crate::ui::draw::{self, MIN_HEIGHT, MIN_WIDTH};
use crate::ui::scroll::{self, Geometry, Move};
use crate::ui::theme::Theme;

#[derive(Debug, Clone, PartialEq)]
pub struct Picker {
    pub rows: Vec<Container>,
    pub selected: usize,
    pub reference_pid: i32,
    pub reference_note: Option<String>,
    /// How many processes could not be looked into (not root).
    pub unreadable: usize,
    /// A line for the footer: why the last Enter did nothing, say.
    pub message: Option<String>,
    pub help: bool,
    pub theme: Theme,
}

impl Picker {
    pub fn new(listing: &Listing, theme: Theme) -> Picker {
        Picker {
            rows: listing.containers.clone(),
            selected: 0,
            reference_pid: listing.reference.pid,
            reference_note: listing.reference_note.clone(),
            unreadable: listing.unreadable.len(),
            message: None,
            help: false,
            theme,
        }
    }

    /// A new listing, keeping the selection on the same pid when it is still there.
    pub fn refresh(&mut self, listing: &Listing) {
        let pid = self.rows.get(self.selected).map(|c| c.pid);
        let keep = Picker::new(listing, self.theme);
        self.rows = keep.rows;
        self.reference_pid = keep.reference_pid;
        self.reference_note = keep.reference_note;
        self.unreadable = keep.unreadable;
        self.selected = pid
            .and_then(|p| self.rows.iter().position(|c| c.pid == p))
            .unwrap_or(self.selected)
            .min(self.rows.len().saturating_sub(1));
    }

    pub fn on_key(&mut self, k: KeyEvent, screen: Rect) -> Action {
        if let Some(a) = super::common_key(&k, &mut self.help) {
            return a;
        }
        self.message = None;
        match k.code {
            KeyCode::Char('q') | KeyCode::Esc => Action::Quit,
            KeyCode::Char('r') => Action::Rescan,
            KeyCode::Char('?') => {
                self.help = true;
                Action::None
            }
            KeyCode::Char('t') => {
                self.theme = self.theme.next();
                Action::None
            }
            KeyCode::Enter => match self.rows.get(self.selected) {
                Some(c) => Action::Open(c.pid),
                None => {
                    self.message = Some("no container to explore yet: r looks again".into());
                    Action::None
                }
            },
            code => {
                if let Some(m) = super::scroll_move(code) {
                    let page = table_area(screen).height.saturating_sub(3).max(1) as usize;
                    let last = self.rows.len().saturating_sub(1);
                    self.selected = match m {
                        Move::Up | Move::WheelUp => self.selected.saturating_sub(1),
                        Move::Down | Move::WheelDown => (self.selected + 1).min(last),
                        Move::PageUp => self.selected.saturating_sub(page),
                        Move::PageDown => (self.selected + page).min(last),
                        Move::Home => 0,
                        Move::End => last,
                    };
                }
                Action::None
            }
        }
    }
}

/// `ipc mnt net pid uts`: the namespace files a container has of its own.
pub fn ns_words(kinds: &[Ns]) -> String {
    Ns::BY_FILE
        .iter()
        .filter(|k| kinds.contains(k))
        .map(|k| k.proc_file())
        .collect::<Vec<_>>()
        .join(" ")
}

/// The table's area on a screen: all but the header, the details and the footer.
fn table_area(screen: Rect) -> Rect {
    let [_, table, _, _] = split(screen);
    table
}

fn split(screen: Rect) -> [Rect; 4] {
    let details = if screen.height >= 30 { 6 } else { 5 };
    Layout::vertical([
        Constraint::Length(1),
        Constraint::Min(4),
        Constraint::Length(details),
        Constraint::Length(1),
    ])
    .areas(screen)
}

/// One sentence about the selected container.
pub fn details(p: &Picker) -> Vec<Line<'static>> {
    let t = p.theme;
    let Some(c) = p.rows.get(p.selected) else {
        return vec![
            Line::from(
                "No containers here: no process has namespaces of its own (apart from the host's).",
            ),
            Line::from(Span::styled(
                "Make one in another terminal: unshare --uts --pid --fork --mount sleep 600 & (or runc run, or underhood run -- sleep 600); r looks again.",
                t.dim(),
            )),
        ];
    };
    let shared: Vec<&str> = Ns::BY_FILE
        .iter()
        .filter(|k| !c.isolated.contains(k))
        .map(|k| k.proc_file())
        .collect();
    let labels: Vec<&str> = c.isolated.iter().map(|k| k.label()).collect();
    vec![
        Line::from(vec![
            Span::styled(format!("pid {} ", c.pid), t.title()),
            Span::raw(format!(
                "(parent {}), made by {}: {}",
                c.ppid,
                c.maker.label(),
                c.command
            )),
        ]),
        Line::from(format!(
            "own namespaces: {}; shared with the host: {}",
            labels.join(", "),
            if shared.is_empty() {
                "none".to_string()
            } else {
                shared.join(" ")
            }
        )),
        Line::from(Span::styled(
            "Enter explores it: its namespaces, processes, mounts, memory and privileges, live.",
            t.dim(),
        )),
    ]
}

pub fn draw(f: &mut Frame, p: &Picker) {
    let area = f.area();
    let t = p.theme;
    f.render_widget(Block::default().style(t.text()), area);
    if area.width < MIN_WIDTH || area.height < MIN_HEIGHT {
        super::view::too_small(f, t, area);
        return;
    }
    let [header, table, info, footer] = split(area);
    let mut head = vec![
        Span::styled(" underhood explore ", t.key()),
        Span::styled(format!(" {} containers ", p.rows.len()), t.title()),
    ];
    let host = match &p.reference_note {
        None => {
            "· processes whose namespaces differ from PID 1's (their parent's do not)".to_string()
        }
        Some(_) => format!(
            "· processes whose namespaces differ from pid {}'s (PID 1's are unreadable)",
            p.reference_pid
        ),
    };
    let used: usize = head.iter().map(|s| s.content.chars().count()).sum();
    head.push(Span::styled(
        draw::fit_end(&host, (area.width as usize).saturating_sub(used)),
        t.dim(),
    ));
    f.render_widget(Paragraph::new(Line::from(head)), header);

    let wide = area.width >= 110;
    let rows: Vec<Row> = p
        .rows
        .iter()
        .map(|c| {
            Row::new(vec![
                Cell::from(c.pid.to_string()),
                Cell::from(c.maker.label()),
                Cell::from(Span::styled(ns_words(&c.isolated), t.isolated())),
                Cell::from(c.command.clone()),
            ])
        })
        .collect();
    let g = Geometry {
        total: p.rows.len(),
        visible: table.height.saturating_sub(3) as usize,
        auto: p
            .selected
            .saturating_sub(table.height.saturating_sub(4) as usize),
    };
    let offset = g.offset(None);
    let block = Block::bordered()
        .border_style(t.border(true))
        .title(Span::styled(
            " Containers (↑↓ choose, Enter explore) ",
            t.title(),
        ));
    let widths = [
        Constraint::Length(8),
        Constraint::Length(if wide { 24 } else { 17 }),
        Constraint::Length(if wide { 32 } else { 20 }),
        Constraint::Fill(1),
    ];
    let tbl = Table::new(rows, widths)
        .header(Row::new(vec!["pid", "made by", "own namespaces", "command"]).style(t.title()))
        .row_highlight_style(t.key())
        .block(scroll::marked(block, g, offset, t));
    let mut state = TableState::default()
        .with_offset(offset)
        .with_selected((!p.rows.is_empty()).then_some(p.selected));
    f.render_stateful_widget(tbl, table, &mut state);

    let mut lines = details(p);
    if p.unreadable > 0 {
        lines.push(Line::from(Span::styled(
            format!(
                "{} processes could not be read (not root?): containers among them are not listed",
                p.unreadable
            ),
            t.error(),
        )));
    }
    f.render_widget(
        Paragraph::new(lines).wrap(Wrap { trim: true }).block(
            Block::bordered()
                .border_style(t.border(false))
                .title(Span::styled(" Selected ", t.title())),
        ),
        info,
    );
    let keys = [
        ("Enter", "explore"),
        ("↑↓", "choose"),
        ("r", "look again"),
        ("?", "help"),
        ("q", "quit"),
    ];
    let (mut spans, used) = draw::key_spans(t, &keys, footer.width as usize);
    if let Some(m) = &p.message {
        spans.push(Span::styled(
            draw::fit_end(m, (footer.width as usize).saturating_sub(used)),
            t.error(),
        ));
    }
    f.render_widget(Paragraph::new(Line::from(spans)), footer);
    if p.help {
        super::view::help(f, t, area, &KEYS, p.reference_note.as_deref());
    }
}

/// The picker's keys, for its help.
pub const KEYS: [(&str, &str); 7] = [
    ("↑ ↓  PgUp PgDn", "choose a container"),
    ("Enter", "explore it: the live panes on its first process"),
    ("r", "look for containers again (also every 2 s)"),
    ("t", "next colour theme"),
    ("?", "this help"),
    ("q  Esc  Ctrl-C", "quit"),
    (
        "",
        "made by: runc/crun state dirs, docker/podman/containerd cgroups, unshare, ours",
    ),
];
