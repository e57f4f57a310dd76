//! Where we are, what the next step will do and why, and what the last one did.

use ratatui::Frame;
use ratatui::layout::Rect;
use ratatui::text::{Line, Span};
use ratatui::widgets::{Paragraph, Wrap};

use crate::runtime::explain;
use crate::ui::app::{App, Pane};

pub fn draw(f: &mut Frame, app: &App, area: Rect) {
    let t = app.theme;
    let total = app.steps.len();
    let mut lines: Vec<Line> = Vec::new();
    if let Some(m) = &app.message {
        let style = if m.error { t.error() } else { t.changed() };
        lines.push(Line::from(Span::styled(m.text.clone(), style)));
        if m.error
            && let Some(why) = m.text.split(" = ").nth(1).and_then(explain::errno)
        {
            lines.push(Line::from(Span::styled(format!("why: {why}"), t.error())));
        }
        lines.push(Line::raw(""));
    }
    if let Some(last) = app.last_step() {
        lines.push(Line::from(vec![
            Span::styled("done: ", t.ok()),
            Span::styled(last.title(), t.title()),
        ]));
        if let Some(r) = app.log.last() {
            for n in &r.notes {
                lines.push(Line::raw(format!("  · {n}")));
            }
        }
        lines.push(Line::raw(""));
    }
    match app.next_step() {
        Some(next) => {
            lines.push(Line::from(vec![
                Span::styled(format!("next ({}/{total}): ", app.done + 1), t.dim()),
                Span::styled(next.title(), t.title()),
            ]));
            lines.push(Line::raw(next.purpose()));
            lines.push(Line::from(Span::styled("press → to take it", t.dim())));
        }
        None => {
            lines.push(Line::from(Span::styled(
                format!("all {total} steps done: this is a container."),
                t.title(),
            )));
            lines.push(Line::raw(
                "Press s for a shell inside it (try hostname, ps, mount, id, ip link), m to run the memory hog into the limit, b to go back.",
            ));
        }
    }
    let title = format!("Step {}/{}", app.done, total);
    f.render_widget(
        Paragraph::new(lines)
            .wrap(Wrap { trim: false })
            .block(crate::ui::draw::block(app, Pane::Step, title)),
        area,
    );
}
