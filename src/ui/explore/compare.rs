//! Two containers column by column (`underhood explore --compare PID`): the explored
//! one, and a fresh underhood container made with the same options (the namespaces it
//! shares, its limits), read while it runs and torn down at once. Each row says what
//! one side has and the other; a differing row is marked.
//!
//! The rows are a pure function of the two sides' [`Facts`], so a captured pair is a
//! fixture for the screen's snapshot tests.

use std::collections::BTreeSet;

use crossterm::event::{KeyCode, KeyEvent};
use ratatui::Frame;
use ratatui::layout::Constraint;
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Cell, Paragraph, Row, Table, TableState};

use super::Action;
use crate::ns::Ns;
use crate::observe::containers::NsSet;
use crate::observe::facts::{Facts, Hidden, hidden, mount_flags, read_only};
use crate::observe::namespaces::NsLink;
use crate::observe::ptree::cap_names;
use crate::runtime::plan::Options;
use crate::runtime::step::LimitSpec;
use crate::ui::draw::{self, MIN_HEIGHT, MIN_WIDTH};
use crate::ui::scroll::{self, Geometry};
use crate::ui::theme::Theme;
use crate::units::format_size;

/// One line of the comparison.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CompareRow {
    pub section: &'static str,
    pub what: String,
    pub left: String,
    pub right: String,
    pub differs: bool,
}

fn row(section: &'static str, what: impl Into<String>, left: String, right: String) -> CompareRow {
    CompareRow {
        section,
        what: what.into(),
        differs: left != right,
        left,
        right,
    }
}

/// Which namespace types a side does not share with the reference.
fn isolated(ns: &[NsLink], reference: &[NsLink]) -> Vec<Ns> {
    NsSet::from_links(ns).differs_from(&NsSet::from_links(reference))
}

/// The options of a fresh underhood container like `left`: the namespaces it shares
/// with the host are shared, a user namespace when it has one, its limits; the command
/// sleeps so that it can be read.
pub fn peer_options(left: &Facts, reference: &[NsLink]) -> Options {
    let own = isolated(&left.ns, reference);
    let share: BTreeSet<Ns> = Ns::BY_FILE
        .into_iter()
        .filter(|k| !own.contains(k) && *k != Ns::User)
        .collect();
    let limits = left.limits.clone().unwrap_or_default();
    Options {
        share,
        userns: own.contains(&Ns::User),
        limits: LimitSpec {
            memory: limits.memory,
            pids: limits.pids,
            cpus: limits.cpu.map(|(q, p)| q as f64 / p as f64),
        },
        argv: vec!["sleep".into(), "100000".into()],
        ..Options::default()
    }
}

/// The paths runc's default spec masks and makes read-only, as our rootfs step does.
pub use crate::runtime::mounts::{MASKED_PATHS, READ_ONLY_PATHS};

/// Every path whose absence the comparison reports.
pub fn probed_paths() -> Vec<&'static str> {
    MASKED_PATHS
        .iter()
        .chain(READ_ONLY_PATHS.iter())
        .copied()
        .collect()
}

/// Every row, section by section.
pub fn rows(left: &Facts, right: &Facts, reference: &[NsLink]) -> Vec<CompareRow> {
    let mut out = Vec::new();
    let (li, ri) = (
        isolated(&left.ns, reference),
        isolated(&right.ns, reference),
    );
    for k in Ns::BY_FILE {
        let word = |own: &[Ns]| {
            if own.contains(&k) {
                "isolated"
            } else {
                "shared"
            }
        };
        out.push(row(
            "namespaces",
            k.proc_file(),
            word(&li).into(),
            word(&ri).into(),
        ));
    }
    let no_mounts = Vec::new();
    let lm = left.mounts.as_ref().unwrap_or(&no_mounts);
    let rm = right.mounts.as_ref().unwrap_or(&no_mounts);
    let absent = |f: &Facts, p: &str| f.absent.iter().any(|a| a == p);
    for p in MASKED_PATHS {
        let text = |f: &Facts, m| match hidden(m, p) {
            Hidden::No if absent(f, p) => "absent".to_string(),
            h => h.text().to_string(),
        };
        out.push(row("masked paths", p, text(left, lm), text(right, rm)));
    }
    for p in READ_ONLY_PATHS {
        let text = |f: &Facts, m| {
            if absent(f, p) {
                "absent"
            } else if read_only(m, p) {
                "read-only"
            } else {
                "writable"
            }
            .to_string()
        };
        out.push(row("read-only paths", p, text(left, lm), text(right, rm)));
    }
    for p in ["/", "/proc", "/dev", "/sys"] {
        out.push(row("mounts", p, mount_flags(lm, p), mount_flags(rm, p)));
    }
    security_rows(&mut out, left, right);
    let limit = |f: &Facts, which: u8| -> String {
        let Some(l) = &f.limits else {
            return "no cgroup".into();
        };
        match which {
            0 => l.memory.map(format_size).unwrap_or_else(|| "max".into()),
            1 => l
                .pids
                .map(|n| n.to_string())
                .unwrap_or_else(|| "max".into()),
            _ => l
                .cpu
                .map(|(q, p)| format!("{:.2} CPU", q as f64 / p as f64))
                .unwrap_or_else(|| "max".into()),
        }
    };
    for (i, what) in ["memory", "pids", "cpu"].into_iter().enumerate() {
        out.push(row(
            "cgroup limits",
            what,
            limit(left, i as u8),
            limit(right, i as u8),
        ));
    }
    out
}

fn security_rows(out: &mut Vec<CompareRow>, left: &Facts, right: &Facts) {
    let (l, r) = match (&left.security, &right.security) {
        (Ok(l), Ok(r)) => (l, r),
        (l, r) => {
            let text = |s: &Result<_, crate::observe::error::Unread>| {
                s.as_ref()
                    .map(|_| "read".to_string())
                    .unwrap_or_else(|e| e.to_string())
            };
            out.push(row("security", "status", text(l), text(r)));
            return;
        }
    };
    out.push(row(
        "security",
        "CapEff",
        l.count(l.cap_eff),
        r.count(r.cap_eff),
    ));
    out.push(row(
        "security",
        "CapBnd",
        l.count(l.cap_bnd),
        r.count(r.cap_bnd),
    ));
    let (lb, rb) = (l.cap_bnd.unwrap_or(0), r.cap_bnd.unwrap_or(0));
    let names = |m: u64| {
        let n: Vec<String> = cap_names(m)
            .into_iter()
            .map(|c| c.trim_start_matches("cap_").to_string())
            .collect();
        if n.is_empty() {
            "-".to_string()
        } else {
            n.join(" ")
        }
    };
    out.push(CompareRow {
        section: "security",
        what: "bounding only here".into(),
        left: names(lb & !rb),
        right: names(rb & !lb),
        differs: lb != rb,
    });
    out.push(row(
        "security",
        "seccomp",
        l.seccomp_text(),
        r.seccomp_text(),
    ));
    let nnp = |v: Option<bool>| match v {
        Some(true) => "1".to_string(),
        Some(false) => "0".to_string(),
        None => "-".to_string(),
    };
    out.push(row(
        "security",
        "no_new_privs",
        nnp(l.no_new_privs),
        nnp(r.no_new_privs),
    ));
    out.push(row(
        "security",
        "LSM label",
        l.lsm.describe(),
        r.lsm.describe(),
    ));
    let uid = |s: &crate::observe::security::Security| {
        s.uid
            .map(|u| u[1].to_string())
            .unwrap_or_else(|| "-".into())
    };
    out.push(row("security", "euid (host)", uid(l), uid(r)));
}

/// The comparison screen's state.
#[derive(Debug, Clone, PartialEq)]
pub struct Compare {
    pub left: Facts,
    pub right: Facts,
    pub reference: Vec<NsLink>,
    pub rows: Vec<CompareRow>,
    pub only_differences: bool,
    pub offset: usize,
    pub help: bool,
    pub theme: Theme,
}

impl Compare {
    pub fn new(left: Facts, right: Facts, reference: Vec<NsLink>, theme: Theme) -> Compare {
        let rows = rows(&left, &right, &reference);
        Compare {
            left,
            right,
            reference,
            rows,
            only_differences: false,
            offset: 0,
            help: false,
            theme,
        }
    }

    /// The rows shown (all, or the differing ones), with their section headings.
    pub fn shown(&self) -> Vec<&CompareRow> {
        self.rows
            .iter()
            .filter(|r| !self.only_differences || r.differs)
            .collect()
    }

    pub fn differences(&self) -> usize {
        self.rows.iter().filter(|r| r.differs).count()
    }

    pub fn on_key(&mut self, k: KeyEvent, screen: ratatui::layout::Rect) -> Action {
        if let Some(a) = super::common_key(&k, &mut self.help) {
            return a;
        }
        match k.code {
            KeyCode::Char('q') | KeyCode::Esc => return Action::Quit,
            KeyCode::Char('d') => {
                self.only_differences = !self.only_differences;
                self.offset = 0;
            }
            KeyCode::Char('?') => self.help = true,
            KeyCode::Char('t') => self.theme = self.theme.next(),
            code => {
                if let Some(m) = super::scroll_move(code) {
                    let g = self.geometry(screen);
                    self.offset = scroll::moved(g, g.offset(Some(self.offset)), m);
                }
            }
        }
        Action::None
    }

    fn geometry(&self, screen: ratatui::layout::Rect) -> Geometry {
        Geometry {
            total: lines(self).len(),
            visible: screen.height.saturating_sub(2 + 3) as usize,
            auto: 0,
        }
    }
}

/// A line of the table: a section's heading, or one of its rows.
enum Shown<'a> {
    Section(&'static str),
    Row(&'a CompareRow),
}

/// The table's lines: each section's heading before its first row shown.
fn lines(c: &Compare) -> Vec<Shown<'_>> {
    let mut out = Vec::new();
    let mut last = "";
    for r in c.shown() {
        if r.section != last {
            out.push(Shown::Section(r.section));
            last = r.section;
        }
        out.push(Shown::Row(r));
    }
    out
}

pub const KEYS: [(&str, &str); 6] = [
    ("↑ ↓  PgUp PgDn", "scroll"),
    ("d", "only the rows that differ / every row"),
    ("t", "next colour theme"),
    ("?", "this help"),
    ("q  Esc  Ctrl-C", "quit"),
    (
        "",
        "right: made with the explored one's namespaces and limits, read, then removed",
    ),
];

pub fn draw(f: &mut Frame, c: &Compare) {
    let area = f.area();
    let t = c.theme;
    f.render_widget(Block::default().style(t.text()), area);
    if area.width < MIN_WIDTH || area.height < MIN_HEIGHT {
        super::view::too_small(f, t, area);
        return;
    }
    let [header, body, footer] = crate::ui::draw::header_body_footer(area);
    let n = c.differences();
    let head = Line::from(vec![
        Span::styled(" underhood explore --compare ", t.key()),
        Span::styled(format!(" {n} of {} rows differ ", c.rows.len()), t.title()),
    ]);
    f.render_widget(Paragraph::new(head), header);
    let lines = lines(c);
    let g = Geometry {
        total: lines.len(),
        visible: body.height.saturating_sub(3) as usize,
        auto: 0,
    };
    let offset = g.offset(Some(c.offset));
    let rows: Vec<Row> = lines
        .iter()
        .map(|l| match l {
            Shown::Section(s) => Row::new(vec![Cell::from(Span::styled(*s, t.title()))]),
            Shown::Row(r) => {
                let style = if r.differs { t.changed() } else { t.text() };
                Row::new(vec![
                    Cell::from(format!("  {}", r.what)),
                    Cell::from(Span::styled(if r.differs { "≠" } else { "" }, t.changed())),
                    Cell::from(Span::styled(r.left.clone(), style)),
                    Cell::from(Span::styled(r.right.clone(), style)),
                ])
            }
        })
        .collect();
    let wide = area.width >= 110;
    let widths = [
        Constraint::Length(if wide { 28 } else { 22 }),
        Constraint::Length(1),
        Constraint::Fill(1),
        Constraint::Fill(1),
    ];
    let block = Block::bordered()
        .border_style(t.border(true))
        .title(Span::styled(
            if c.only_differences {
                " Only the rows that differ "
            } else {
                " Side by side "
            },
            t.title(),
        ));
    let table = Table::new(rows, widths)
        .header(
            Row::new(vec![
                Cell::from(""),
                Cell::from(""),
                Cell::from(c.left.label.clone()),
                Cell::from(c.right.label.clone()),
            ])
            .style(t.title()),
        )
        .block(scroll::marked(block, g, offset, t));
    let mut state = TableState::default().with_offset(offset);
    f.render_stateful_widget(table, body, &mut state);
    let keys = [
        (
            "d",
            if c.only_differences {
                "all rows"
            } else {
                "differences"
            },
        ),
        ("↑↓", "scroll"),
        ("?", "help"),
        ("q", "quit"),
    ];
    let (mut spans, used) = draw::key_spans(t, &keys, footer.width as usize);
    let note = "≠ marks a difference; the right-hand container is already removed";
    spans.push(Span::styled(
        draw::fit_end(note, (footer.width as usize).saturating_sub(used)),
        t.dim(),
    ));
    f.render_widget(Paragraph::new(Line::from(spans)), footer);
    if c.help {
        super::view::help(f, t, area, &KEYS, None);
    }
}
