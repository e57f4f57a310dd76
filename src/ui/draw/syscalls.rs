//! The reports of the steps so far, newest at the bottom: each syscall with its
//! arguments and result, then the shell command that does the same.

use ratatui::Frame;
use ratatui::layout::Rect;
use ratatui::text::{Line, Span};
use ratatui::widgets::{Paragraph, Wrap};

use crate::runtime::report::{Report, SyscallRecord};
use crate::ui::app::{App, Pane};

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
/// talks through a step from its name down; the end may be cut), and fold runs of
/// the same call into one line (23 capability drops say one thing on a projector).
pub fn draw_reports(f: &mut Frame, app: &App, area: Rect, log: &[Report], presenting: bool) {
    let t = app.theme;
    let mut lines: Vec<Line> = Vec::new();
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
            let run = if presenting { same_call_run(calls) } else { 1 };
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
            lines.push(Line::from(spans));
            calls = &calls[run..];
        }
        for s in &r.shell {
            lines.push(Line::from(Span::styled(format!("  $ {s}"), t.dim())));
        }
        for n in &r.notes {
            lines.push(Line::from(Span::styled(format!("  # {n}"), t.dim())));
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
    let above_newest = Paragraph::new(lines[..newest].to_vec())
        .wrap(Wrap { trim: false })
        .line_count(inner_w);
    let para = Paragraph::new(lines).wrap(Wrap { trim: false });
    let mut scroll = para.line_count(inner_w).saturating_sub(inner_h);
    if presenting {
        scroll = scroll.min(above_newest);
    }
    let scroll = scroll as u16;
    f.render_widget(
        para.scroll((scroll, 0)).block(crate::ui::draw::block(
            app,
            Pane::Syscalls,
            "Syscalls".into(),
        )),
        area,
    );
}

/// How many calls from the first are the same call with the same first argument and
/// result (`prctl(PR_CAPBSET_DROP, …) = 0`); runs shorter than 3 are not folded.
fn same_call_run(calls: &[SyscallRecord]) -> usize {
    let key = |c: &SyscallRecord| {
        let first = c.args.split(", ").next().unwrap_or_default().to_string();
        (c.name.clone(), first, c.result.clone())
    };
    let Some(k) = calls.first().map(key) else {
        return 0;
    };
    let n = calls.iter().take_while(|c| key(c) == k).count();
    if n >= 3 { n } else { 1 }
}
