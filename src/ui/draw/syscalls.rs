//! The reports of the steps so far, newest at the bottom: each syscall with its
//! arguments and result, then the shell command that does the same.

use ratatui::Frame;
use ratatui::layout::Rect;
use ratatui::text::{Line, Span};
use ratatui::widgets::{Paragraph, Wrap};

use crate::runtime::report::Report;
use crate::ui::app::{App, Pane};

pub fn draw(f: &mut Frame, app: &App, area: Rect) {
    draw_reports(f, app, area, &app.log);
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

pub fn draw_reports(f: &mut Frame, app: &App, area: Rect, log: &[Report]) {
    let t = app.theme;
    let mut lines: Vec<Line> = Vec::new();
    let last = log.len().saturating_sub(1);
    for (i, r) in log.iter().enumerate() {
        let head = if i == last { t.changed() } else { t.title() };
        lines.push(Line::from(Span::styled(format!("▸ {}", r.step), head)));
        for c in &r.calls {
            let (res, style) = match &c.result {
                Ok(v) => (format!(" = {v}"), t.ok()),
                Err(e) => (format!(" = -1 {e}"), t.error()),
            };
            lines.push(Line::from(vec![
                Span::raw(format!("  {}({})", c.name, c.args)),
                Span::styled(res, style),
            ]));
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
    let para = Paragraph::new(lines).wrap(Wrap { trim: false });
    let scroll = para.line_count(inner_w).saturating_sub(inner_h) as u16;
    f.render_widget(
        para.scroll((scroll, 0)).block(crate::ui::draw::block(
            app,
            Pane::Syscalls,
            "Syscalls".into(),
        )),
        area,
    );
}
