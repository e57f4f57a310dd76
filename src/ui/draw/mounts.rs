//! The subject's mount table (its mountinfo): mount point, type, source, propagation.
//! Rows the last step added are highlighted; a count says how many it removed.

use ratatui::Frame;
use ratatui::layout::{Constraint, Rect};
use ratatui::text::Span;
use ratatui::widgets::{Cell, Paragraph, Row, Table};

use crate::ui::app::{App, Pane};

pub fn draw(f: &mut Frame, app: &App, area: Rect) {
    let t = app.theme;
    let mounts = match app.snap.as_ref().map(|s| &s.mounts) {
        Some(Ok(m)) => m.as_slice(),
        Some(Err(e)) => {
            f.render_widget(
                Paragraph::new(Span::styled(e.clone(), t.dim())).block(crate::ui::draw::block(
                    app,
                    Pane::Mounts,
                    "Mounts".into(),
                )),
                area,
            );
            return;
        }
        None => &[],
    };
    let rows: Vec<Row> = mounts
        .iter()
        .map(|m| {
            let key = (m.mount_point.clone(), m.fs_type.clone(), m.source.clone());
            let style = if app.changes.mounts_added.contains(&key) {
                t.changed()
            } else {
                t.text()
            };
            Row::new(vec![
                Cell::from(m.mount_point.display().to_string()),
                Cell::from(m.fs_type.clone()),
                Cell::from(m.source.clone()),
                Cell::from(m.propagation.to_string()),
            ])
            .style(style)
        })
        .collect();
    let c = &app.changes;
    let mut title = format!("Mounts ({})", mounts.len());
    if !c.mounts_added.is_empty() || c.mounts_removed > 0 {
        title.push_str(&format!(
            ": last step +{} −{}",
            c.mounts_added.len(),
            c.mounts_removed
        ));
    }
    let table = Table::new(
        rows,
        [
            Constraint::Fill(3),
            Constraint::Length(9),
            Constraint::Fill(2),
            Constraint::Length(12),
        ],
    )
    .header(Row::new(vec!["mount point", "type", "source", "propagation"]).style(t.title()))
    .block(crate::ui::draw::block(app, Pane::Mounts, title));
    f.render_widget(table, area);
}
