//! The subject's mount table (its mountinfo): mount point, type, source, propagation.
//! Rows the last step added are highlighted; a count says how many it removed.

use ratatui::Frame;
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::text::Span;
use ratatui::widgets::{Cell, Paragraph, Row, Table};

use crate::ui::app::{App, Pane};
use crate::ui::scroll::{self, Geometry};

/// One row per mount; not scrolled by hand, the rows the last step added are in view
/// (they are what to look at).
pub fn geometry(app: &App, area: Rect) -> Geometry {
    let mounts = match app.snap.as_ref().map(|s| &s.mounts) {
        Some(Ok(m)) => m.as_slice(),
        _ => &[],
    };
    let visible = area.height.saturating_sub(3) as usize;
    let first_new = mounts.iter().position(|m| app.changes.mount_added(m));
    let auto = match first_new {
        Some(i) if i + 1 > visible => i.min(mounts.len().saturating_sub(visible)),
        _ => 0,
    };
    Geometry {
        total: mounts.len(),
        visible,
        auto,
    }
}

pub fn draw(f: &mut Frame, app: &App, area: Rect) {
    let t = app.theme;
    let mounts =
        match app.snap.as_ref().map(|s| &s.mounts) {
            Some(Ok(m)) => m.as_slice(),
            Some(Err(e)) => {
                f.render_widget(
                    Paragraph::new(Span::styled(e.to_string(), t.dim()))
                        .block(crate::ui::draw::block(app, Pane::Mounts, "Mounts".into())),
                    area,
                );
                return;
            }
            None => &[],
        };
    // Wide enough panes get the per-mount options too (`rw,nosuid,...`).
    let wide = area.width >= 90;
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
    // The mount point column's width, as the table will lay it out (inside the
    // borders, one space between columns).
    let inner = Rect {
        width: area.width.saturating_sub(2),
        ..area
    };
    let columns = Layout::horizontal(widths.clone()).spacing(1).split(inner);
    let column_width = |i: usize| columns.get(i).map(|r| r.width as usize).unwrap_or(0);
    let point_width = column_width(0);
    let options_width = column_width(3);
    let g = geometry(app, area);
    let offset = g.offset(app.scrolled(Pane::Mounts));
    // Only the rows in view are made (the table would skip the others anyway: one
    // screen row each, from `offset` on).
    let rows: Vec<Row> = mounts
        .iter()
        .skip(offset)
        .take(g.visible)
        .map(|m| {
            let style = if app.changes.mount_added(m) {
                t.changed()
            } else {
                t.text()
            };
            let mut cells = vec![
                Cell::from(fit_path(&m.mount_point.display().to_string(), point_width)),
                Cell::from(m.fs_type.clone()),
                Cell::from(m.source.clone()),
            ];
            if wide {
                cells.push(Cell::from(fit_end(
                    &m.mount_options.join(","),
                    options_width,
                )));
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
    let table = Table::new(rows, widths)
        .header(Row::new(header).style(t.title()))
        .block(scroll::marked(
            crate::ui::draw::block(app, Pane::Mounts, title),
            g,
            offset,
            t,
        ));
    super::cache::table(f, "mounts", table, 0, area, t.text());
}

/// A path cut to `width` columns from the front, where the part that differs is (a
/// new root's mounts all start `/run/underhood/<id>/merged/`): `…/merged/proc/sys`,
/// cut at a `/` when that fits.
fn fit_path(path: &str, width: usize) -> String {
    let n = path.chars().count();
    if n <= width || width < 2 {
        return path.to_string();
    }
    let keep = width - 1;
    let tail: String = path.chars().skip(n - keep).collect();
    let cut = match tail.find('/') {
        Some(i) if i > 0 => &tail[i..],
        _ => tail.as_str(),
    };
    format!("…{cut}")
}

/// Text cut to `width` columns at its end, with `…` where it was cut.
fn fit_end(text: &str, width: usize) -> String {
    if text.chars().count() <= width || width < 2 {
        return text.to_string();
    }
    let kept: String = text.chars().take(width - 1).collect();
    format!("{kept}…")
}

#[cfg(test)]
mod tests {
    use super::{fit_end, fit_path};

    #[test]
    fn long_options_say_they_are_cut() {
        assert_eq!(fit_end("rw,relatime", 20), "rw,relatime");
        assert_eq!(
            fit_end("rw,nosuid,nodev,noexec,relatime", 12),
            "rw,nosuid,n…"
        );
    }

    #[test]
    fn long_paths_keep_their_end() {
        assert_eq!(fit_path("/proc", 10), "/proc");
        let p = "/run/underhood/9b5a0352/merged/proc/sys";
        assert_eq!(fit_path(p, 32), "…/9b5a0352/merged/proc/sys");
        assert_eq!(fit_path(p, 12), "…/proc/sys");
        assert_eq!(fit_path("/abcdefghijkl", 6), "…hijkl");
        assert!(fit_path(p, 20).chars().count() <= 20);
    }
}
