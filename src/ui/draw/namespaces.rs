//! The subject's /proc/<pid>/ns/* links beside the host's (ours): `≠` marks an
//! isolated namespace, and the ones the last step changed are highlighted.

use ratatui::Frame;
use ratatui::layout::{Constraint, Rect};
use ratatui::text::Span;
use ratatui::widgets::{Cell, Row, Table};

use crate::observe::namespaces::{NsFile, NsLink};
use crate::ui::app::{App, Pane};
use crate::ui::scroll::{self, Geometry};

fn inode(links: &[NsLink], k: NsFile) -> Option<u64> {
    links.iter().find(|l| l.kind == k).and_then(|l| l.inode)
}

/// One row per namespace type shown.
pub fn geometry(app: &App, area: Rect) -> Geometry {
    Geometry {
        total: kinds(app, area).len(),
        visible: area.height.saturating_sub(3) as usize,
        auto: 0,
    }
}

/// The types shown, in their order.
fn kinds(app: &App, area: Rect) -> Vec<NsFile> {
    let sub: &[NsLink] = app.snap.as_ref().map(|s| s.ns.as_slice()).unwrap_or(&[]);
    // pid_for_children and time_for_children only say something while they differ
    // from pid and time (between an unshare and the fork).
    let shown = |k: &NsFile| !k.for_children() || inode(sub, *k) != inode(sub, k.ns().into());
    // When the pane cannot show every row, what the last step changed comes first,
    // then what is isolated.
    let mut kinds: Vec<NsFile> = NsFile::ALL.iter().copied().filter(|k| shown(k)).collect();
    if (area.height.saturating_sub(3) as usize) < kinds.len() {
        let rank = |k: &NsFile| {
            let differs =
                matches!((inode(&app.host_ns, *k), inode(sub, *k)), (Some(a), Some(b)) if a != b);
            (!app.changes.ns.contains(k), !differs)
        };
        kinds.sort_by_key(rank);
    }
    kinds
}

pub fn draw(f: &mut Frame, app: &App, area: Rect) {
    let t = app.theme;
    let sub: &[NsLink] = app.snap.as_ref().map(|s| s.ns.as_slice()).unwrap_or(&[]);
    let mut isolated = 0;
    let kinds = kinds(app, area);
    let rows: Vec<Row> = kinds
        .iter()
        .map(|k| {
            let h = inode(&app.host_ns, *k);
            let s = inode(sub, *k);
            let differs = matches!((h, s), (Some(a), Some(b)) if a != b);
            if differs && !k.for_children() {
                isolated += 1;
            }
            let show = |v: Option<u64>| v.map(|i| i.to_string()).unwrap_or_else(|| "-".into());
            let sub_text = match (s, sub.iter().find(|l| l.kind == *k)) {
                (None, Some(l)) if l.error.is_some() => "unreadable".to_string(),
                _ => show(s),
            };
            let mark = if differs { "≠" } else { "=" };
            let mut style = if differs { t.isolated() } else { t.dim() };
            if app.changes.ns.contains(k) {
                style = t.changed();
            }
            Row::new(vec![
                Cell::from(k.file()),
                Cell::from(show(h)),
                Cell::from(Span::styled(mark, style)),
                Cell::from(Span::styled(sub_text, style)),
            ])
        })
        .collect();
    let g = geometry(app, area);
    let offset = g.offset(app.scrolled(Pane::Namespaces));
    let title = if app.waiting_for_by_hand() {
        // Made by hand: until the learner's container exists the panes show
        // underhood's idle process, which shares every namespace with the host.
        super::fitted(
            area,
            "Namespaces: none isolated yet: make your container in the host shell (h)",
            "Namespaces: none isolated yet",
        )
    } else {
        format!(
            "Namespaces: {isolated}/8 isolated (pid {})",
            app.snap.as_ref().map(|s| s.subject).unwrap_or(0)
        )
    };
    let table = Table::new(
        rows,
        [
            Constraint::Length(17),
            Constraint::Length(11),
            Constraint::Length(1),
            Constraint::Min(10),
        ],
    )
    .header(Row::new(vec!["/proc/<pid>/ns", "host", "", "container"]).style(t.title()))
    .block(scroll::marked(
        crate::ui::draw::block(app, Pane::Namespaces, title),
        g,
        offset,
        t,
    ));
    super::cache::table(f, "namespaces", table, offset, area, t.text());
}
