//! The reports of the steps so far, newest at the bottom: each syscall with its
//! arguments and result, then the shell command that does the same.

use ratatui::Frame;
use ratatui::layout::Rect;
use ratatui::text::{Line, Span};
use ratatui::widgets::{Paragraph, Wrap};

use crate::runtime::report::{CallError, Report, SyscallRecord};
use crate::ui::app::{App, Pane};
use crate::ui::scroll::{self, Geometry};

pub fn draw(f: &mut Frame, app: &App, area: Rect) {
    draw_reports(f, app, area, &app.log, false);
}

/// The reports from the last step on (what the step did, and spawns since): what a
/// presenter talks through, without the earlier steps around it.
pub fn since_last_step(app: &App) -> &[Report] {
    let start = app
        .step_report
        .as_ref()
        .and_then(|s| app.log.iter().rposition(|r| r == s))
        .unwrap_or(app.log.len());
    &app.log[start..]
}

/// `presenting`: scroll no further than the newest report's first line (a presenter
/// talks through a step from its name down; the end may be cut). Runs of the same call
/// fold into one line (26 capability drops say one thing in a small pane), except in
/// the zoomed pane.
pub fn draw_reports(f: &mut Frame, app: &App, area: Rect, log: &[Report], presenting: bool) {
    let (shown, skip, offset, g) = built(app, area, log, presenting, |lines, g| {
        // The presenter's pane is not scrolled by hand (its keys are the clicker's).
        let offset = if presenting {
            g.offset(None)
        } else {
            g.offset(app.scrolled(Pane::Syscalls))
        };
        // Only the lines in view are drawn (the log grows to hundreds of lines; each
        // line wraps on its own, so the rows shown are the same).
        let (first, skip) = first_shown(lines, &g.rows, offset);
        let shown: Vec<Line<'static>> = lines
            .iter()
            .skip(first)
            .take(g.visible + 1)
            .cloned()
            .collect();
        (shown, skip, offset, g.geometry)
    });
    let p = Paragraph::new(shown)
        .wrap(Wrap { trim: false })
        .scroll((skip as u16, 0))
        .block(scroll::marked(
            crate::ui::draw::block(app, Pane::Syscalls, "Syscalls".into()),
            g,
            offset,
            app.theme,
        ));
    let slot = if presenting {
        "syscalls (presenting)"
    } else {
        "syscalls"
    };
    super::cache::widget(f, slot, p, area, app.theme.text());
}

/// The log's wrapped lines; not scrolled by hand, the newest at the bottom.
pub fn geometry(app: &App, area: Rect) -> Geometry {
    built(app, area, &app.log, false, |_, b| b.geometry)
}

/// What [`build`] made last, and from what: the log is wrapped again only when it,
/// the pane's size, the theme or the folding changed (most frames change none).
struct Memo {
    log: Vec<Report>,
    area: Rect,
    theme: crate::ui::theme::Theme,
    fold: bool,
    presenting: bool,
    lines: Vec<Line<'static>>,
    built: Built,
}

thread_local! {
    static MEMO: std::cell::RefCell<Vec<Memo>> = const { std::cell::RefCell::new(Vec::new()) };
}

/// Calls `with` on [`build`]'s result for these arguments, built again only if they
/// differ from a memo's (one memo each for the pane as drawn and as presented).
fn built<R>(
    app: &App,
    area: Rect,
    log: &[Report],
    presenting: bool,
    with: impl FnOnce(&[Line<'static>], &Built) -> R,
) -> R {
    let fold = folds(app, presenting);
    MEMO.with(|memo| {
        let mut memo = memo.borrow_mut();
        let hit = memo.iter().position(|m| {
            m.presenting == presenting
                && m.area == area
                && m.theme == app.theme
                && m.fold == fold
                && m.log == log
        });
        let i = match hit {
            Some(i) => i,
            None => {
                let (lines, built) = build(app, area, log, presenting);
                let m = Memo {
                    log: log.to_vec(),
                    area,
                    theme: app.theme,
                    fold,
                    presenting,
                    lines,
                    built,
                };
                match memo.iter().position(|m| m.presenting == presenting) {
                    Some(i) => memo[i] = m,
                    None => memo.push(m),
                }
                memo.iter()
                    .position(|m| m.presenting == presenting)
                    .unwrap_or(0)
            }
        };
        with(&memo[i].lines, &memo[i].built)
    })
}

/// Forgets what [`build`] made (for measuring a frame where the log changed).
pub fn forget() {
    MEMO.with(|m| m.borrow_mut().clear());
}

/// Runs of one call are folded unless this pane is zoomed: then every call shows
/// (which 26 capabilities went, one by one).
fn folds(app: &App, presenting: bool) -> bool {
    presenting || !(app.zoom && app.focus == Pane::Syscalls)
}

/// The geometry, and the screen rows each line takes once wrapped.
struct Built {
    geometry: Geometry,
    rows: Vec<usize>,
}

impl std::ops::Deref for Built {
    type Target = Geometry;
    fn deref(&self) -> &Geometry {
        &self.geometry
    }
}

/// The line that screen row `offset` falls in, and how many of its rows are above it.
fn first_shown(lines: &[Line], rows: &[usize], offset: usize) -> (usize, usize) {
    let mut above = 0;
    for (i, r) in rows.iter().enumerate().take(lines.len()) {
        if above + r > offset {
            return (i, offset - above);
        }
        above += r;
    }
    (lines.len(), 0)
}

fn build(app: &App, area: Rect, log: &[Report], presenting: bool) -> (Vec<Line<'static>>, Built) {
    let t = app.theme;
    let fold = folds(app, presenting);
    // Long calls wrap at word boundaries under their own indent, not at column 0.
    let width = area.width.saturating_sub(2).max(1) as usize;
    let mut lines: Vec<Line> = Vec::new();
    let push = |lines: &mut Vec<Line<'static>>, spans: Vec<Span<'static>>| {
        lines.extend(wrap_indented(spans, width, 4));
    };
    let last = log.len().saturating_sub(1);
    let mut newest = 0;
    for (i, r) in log.iter().enumerate() {
        let head = if i == last { t.changed() } else { t.title() };
        if i == last {
            newest = lines.len();
        }
        lines.push(Line::from(Span::styled(format!("▸ {}", r.step), head)));
        let mut calls = r.calls.as_slice();
        while let Some(c) = calls.first() {
            let run = if fold { same_call_run(calls) } else { 1 };
            let (res, style) = match &c.result {
                Ok(v) => (format!(" = {v}"), t.ok()),
                Err(e) => (format!(" = -1 {e}"), t.error()),
            };
            let text = if run > 1 {
                // The first argument is the run's own; the last call's others.
                let last = &calls[run - 1].args;
                let end = last
                    .split_once(", ")
                    .map_or(last.as_str(), |(_, rest)| rest);
                format!("  {}({} … {end})", c.name, c.args)
            } else {
                format!("  {}({})", c.name, c.args)
            };
            let mut spans = vec![Span::raw(text), Span::styled(res, style)];
            if run > 1 {
                spans.push(Span::styled(format!("  ×{run}"), t.title()));
            }
            push(&mut lines, spans);
            calls = &calls[run..];
        }
        for s in &r.shell {
            push(&mut lines, vec![Span::styled(format!("  $ {s}"), t.dim())]);
        }
        for n in &r.notes {
            push(&mut lines, vec![Span::styled(format!("  # {n}"), t.dim())]);
        }
    }
    if lines.is_empty() {
        lines.push(Line::from(Span::styled(
            "no syscalls yet: each step's calls appear here",
            t.dim(),
        )));
    }
    // Keep the newest in view: scroll so the last wrapped line is at the bottom.
    let inner_w = area.width.saturating_sub(2).max(1);
    let inner_h = area.height.saturating_sub(2) as usize;
    // Most lines are wrapped already (wrap_indented) and take one row: only a line
    // wider than the pane (a step's name) is measured by wrapping it.
    let rows: Vec<usize> = lines
        .iter()
        .map(|l| {
            if l.width() <= inner_w as usize {
                1
            } else {
                Paragraph::new(l.clone())
                    .wrap(Wrap { trim: false })
                    .line_count(inner_w)
            }
        })
        .collect();
    let above_newest: usize = rows[..newest].iter().sum();
    let total: usize = rows.iter().sum();
    let mut auto = total.saturating_sub(inner_h);
    if presenting {
        auto = auto.min(above_newest);
    }
    let geometry = Geometry {
        total,
        visible: inner_h,
        auto,
    };
    (lines, Built { geometry, rows })
}

/// One logical line as screen lines of at most `width` columns: broken after a space
/// or a comma where it can be, the rest indented by `indent` (a word longer than a
/// line is cut where it must be).
pub(crate) fn wrap_indented(
    spans: Vec<Span<'static>>,
    width: usize,
    indent: usize,
) -> Vec<Line<'static>> {
    // Most lines fit: the same line as the cell by cell way below makes (runs of one
    // style joined, empty spans gone), without taking it apart.
    if spans
        .iter()
        .map(|s| s.content.chars().count())
        .sum::<usize>()
        <= width
    {
        let mut out: Vec<Span<'static>> = Vec::with_capacity(spans.len());
        for s in spans.into_iter().filter(|s| !s.content.is_empty()) {
            match out.last_mut() {
                Some(last) if last.style == s.style => last.content.to_mut().push_str(&s.content),
                _ => out.push(Span::styled(s.content, s.style)),
            }
        }
        return vec![Line::from(out)];
    }
    // (char, style) cells, then words: runs ending after ' ' or ','.
    let cells: Vec<(char, ratatui::style::Style)> = spans
        .iter()
        .flat_map(|s| s.content.chars().map(move |c| (c, s.style)))
        .collect();
    let mut words: Vec<&[(char, ratatui::style::Style)]> = Vec::new();
    let mut start = 0;
    for (i, (c, _)) in cells.iter().enumerate() {
        if *c == ' ' || *c == ',' {
            words.push(&cells[start..=i]);
            start = i + 1;
        }
    }
    if start < cells.len() {
        words.push(&cells[start..]);
    }
    let indent = indent.min(width.saturating_sub(1));
    let mut rows: Vec<Vec<(char, ratatui::style::Style)>> = vec![Vec::new()];
    for word in words {
        let mut word = word;
        loop {
            let continued = rows.len() > 1;
            let row = rows.last_mut().expect("one row at least");
            let room = width.saturating_sub(row.len());
            if word.len() <= room {
                row.extend_from_slice(word);
                break;
            }
            let fresh = row.is_empty() || (continued && row.len() == indent);
            if fresh {
                // Longer than a whole line: cut it.
                row.extend_from_slice(&word[..room]);
                word = &word[room..];
            }
            let style = word.first().map(|w| w.1).unwrap_or_default();
            rows.push(vec![(' ', style); indent]);
            if word.is_empty() {
                break;
            }
        }
    }
    rows.into_iter()
        .map(|row| {
            // Back to spans: one per run of one style.
            let mut out: Vec<Span<'static>> = Vec::new();
            for (c, st) in row {
                match out.last_mut() {
                    Some(last) if last.style == st => last.content.to_mut().push(c),
                    _ => out.push(Span::styled(c.to_string(), st)),
                }
            }
            Line::from(out)
        })
        .collect()
}

/// How many calls from the first are the same call with the same first argument and
/// result (`prctl(PR_CAPBSET_DROP, …) = 0`); runs shorter than 3 are not folded.
fn same_call_run(calls: &[SyscallRecord]) -> usize {
    fn key(c: &SyscallRecord) -> (&str, &str, Result<&String, &CallError>) {
        let first = c.args.split(", ").next().unwrap_or_default();
        (c.name.as_str(), first, c.result.as_ref())
    }
    let Some(k) = calls.first().map(key) else {
        return 0;
    };
    let n = calls.iter().take_while(|c| key(c) == k).count();
    if n >= 3 { n } else { 1 }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::runtime::report::SyscallRecord;
    use crate::ui::app::HostLine;
    use crate::ui::theme::{Theme, ThemeKind};
    use ratatui::Terminal;
    use ratatui::backend::TestBackend;

    fn screen(app: &App) -> String {
        let mut t = Terminal::new(TestBackend::new(60, 12)).unwrap();
        t.draw(|f| draw(f, app, f.area())).unwrap();
        let buf = t.backend().buffer().clone();
        (0..12)
            .map(|y| (0..60).map(|x| buf[(x, y)].symbol()).collect::<String>())
            .collect::<Vec<_>>()
            .join("\n")
    }

    #[test]
    fn runs_of_one_call_fold_except_when_zoomed() {
        let theme = Theme {
            kind: ThemeKind::NoColor,
        };
        let mut app = App::new(HostLine::default(), Vec::new(), Vec::new(), theme);
        let mut r = Report::new("security");
        for cap in ["CAP_A", "CAP_B", "CAP_C", "CAP_D"] {
            r.calls.push(SyscallRecord {
                name: "prctl".into(),
                args: format!("PR_CAPBSET_DROP, {cap}"),
                result: Ok("0".into()),
            });
        }
        app.log.push(r);
        let folded = screen(&app);
        assert!(folded.contains("×4"), "{folded}");
        assert!(!folded.contains("CAP_B"), "{folded}");
        app.focus = Pane::Syscalls;
        app.zoom = true;
        let all = screen(&app);
        assert!(all.contains("CAP_B") && !all.contains("×4"), "{all}");
    }

    #[test]
    fn long_calls_wrap_under_their_indent() {
        let spans = vec![Span::raw(
            "  capset(effective={CAP_CHOWN,CAP_DAC_OVERRIDE,CAP_FOWNER}) = 0",
        )];
        let rows: Vec<String> = wrap_indented(spans, 30, 4)
            .iter()
            .map(|l| l.to_string())
            .collect();
        assert!(rows.iter().all(|r| r.chars().count() <= 30), "{rows:?}");
        assert_eq!(rows[0], "  capset(effective={CAP_CHOWN,");
        assert!(rows[1..].iter().all(|r| r.starts_with("    ")), "{rows:?}");
        assert_eq!(
            rows.concat().split_whitespace().collect::<String>(),
            "capset(effective={CAP_CHOWN,CAP_DAC_OVERRIDE,CAP_FOWNER})=0"
        );
        // A word longer than a line is cut, not lost.
        let long = wrap_indented(vec![Span::raw("x".repeat(25))], 10, 4);
        let text: String = long
            .iter()
            .map(|l| l.to_string().trim().to_string())
            .collect();
        assert_eq!(text, "x".repeat(25));
    }

    /// Drawing only the lines in view shows the same rows as wrapping the whole log,
    /// at every scroll position, with step names wider than the pane.
    #[test]
    fn the_lines_in_view_draw_as_the_whole_log_would() {
        let theme = Theme {
            kind: ThemeKind::NoColor,
        };
        let mut app = App::new(HostLine::default(), Vec::new(), Vec::new(), theme);
        for k in 0..12 {
            let mut r = Report::new(format!(
                "step {k} with a name long enough to wrap in a narrow pane, twice over"
            ));
            for c in 0..k {
                r.calls.push(SyscallRecord {
                    name: format!("call{c}"),
                    args: format!("ARG_{k}_{c}, a longer argument {}", "x".repeat(c * 7)),
                    result: Ok("0".into()),
                });
            }
            r.notes.push(format!("note {k}"));
            app.log.push(r);
        }
        let area = Rect::new(0, 0, 60, 12);
        let whole = |app: &App, offset: usize| {
            let (lines, g) = build(app, area, &app.log, false);
            let mut t = Terminal::new(TestBackend::new(60, 12)).unwrap();
            t.draw(|f| {
                f.render_widget(
                    Paragraph::new(lines)
                        .wrap(Wrap { trim: false })
                        .scroll((offset as u16, 0))
                        .block(scroll::marked(
                            crate::ui::draw::block(app, Pane::Syscalls, "Syscalls".into()),
                            g.geometry,
                            offset,
                            app.theme,
                        )),
                    area,
                )
            })
            .unwrap();
            let buf = t.backend().buffer().clone();
            (0..12)
                .map(|y| (0..60).map(|x| buf[(x, y)].symbol()).collect::<String>())
                .collect::<Vec<_>>()
                .join("\n")
        };
        let g = geometry(&app, area);
        assert!(g.total > 60, "a log of many screens: {}", g.total);
        for offset in 0..g.total.saturating_sub(g.visible) {
            app.scroll = vec![(Pane::Syscalls, offset)];
            assert_eq!(
                screen(&app),
                whole(&app, offset),
                "scrolled to row {offset}"
            );
        }
    }
}
