//! The subject's mount table (its mountinfo): mount point, type, source, propagation.
//! Rows the last step added are highlighted; a count says how many it removed.

use ratatui::Frame;
use ratatui::layout::{Constraint, Rect};
use ratatui::text::Span;
use ratatui::widgets::{Cell, Paragraph, Row, Table, TableState};

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
    // Wide enough panes get the per-mount options too (`rw,nosuid,...`).
    let wide = area.width >= 90;
    let rows: Vec<Row> = mounts
        .iter()
        .map(|m| {
            let style = if app.changes.mount_added(m) {
                t.changed()
            } else {
                t.text()
            };
            let mut cells = vec![
                Cell::from(m.mount_point.display().to_string()),
                Cell::from(m.fs_type.clone()),
                Cell::from(m.source.clone()),
            ];
            if wide {
                cells.push(Cell::from(m.mount_options.join(",")));
            }
            cells.push(Cell::from(m.propagation.to_string()));
            Row::new(cells).style(style)
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
    let mut widths = vec![
        Constraint::Fill(3),
        Constraint::Length(9),
        Constraint::Fill(2),
    ];
    let mut header = vec!["mount point", "type", "source"];
    if wide {
        widths.push(Constraint::Fill(2));
        header.push("options");
    }
    widths.push(Constraint::Length(12));
    header.push("propagation");
    let table = Table::new(rows, widths)
        .header(Row::new(header).style(t.title()))
        .block(crate::ui::draw::block(app, Pane::Mounts, title));
    // Scroll so the rows the last step added are in view (they are what to look at).
    let visible = area.height.saturating_sub(3) as usize;
    let first_new = mounts.iter().position(|m| app.changes.mount_added(m));
    let offset = match first_new {
        Some(i) if i + 1 > visible => i.min(mounts.len().saturating_sub(visible)),
        _ => 0,
    };
    let mut state = TableState::default().with_offset(offset);
    f.render_stateful_widget(table, area, &mut state);
}
