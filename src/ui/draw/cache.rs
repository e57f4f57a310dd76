//! A memo of the panes as last rendered: a pane whose widget is the same as last frame
//! (same text, styles, block, scroll offset, area and background) is copied cell by
//! cell from the buffer it was rendered into then, instead of being laid out again
//! (wrapping, grapheme widths, a style per cell: most of a frame's time).
//!
//! The key is a hash of the widget itself (ratatui's widgets derive `Hash`), not of
//! the `App`: whatever a pane shows is in its widget, so a change anywhere that
//! reaches the screen changes the key, and nothing can be shown stale. One entry per
//! slot (a pane, the header, the footer); a different widget replaces it.

use std::cell::RefCell;
use std::hash::{DefaultHasher, Hash, Hasher};

use ratatui::Frame;
use ratatui::buffer::Buffer;
use ratatui::layout::Rect;
use ratatui::style::Style;
use ratatui::widgets::{StatefulWidget, Table, TableState, Widget};

struct Entry {
    slot: &'static str,
    key: u64,
    /// The pane's cells as rendered over the background style, at the key's area.
    cells: Buffer,
}

thread_local! {
    static PANES: RefCell<Vec<Entry>> = const { RefCell::new(Vec::new()) };
}

/// Renders `widget` at `area` (over cells of style `base`), or copies it from the
/// memo when it is the same as last time in this slot (a pane, the header, the footer).
pub fn widget<W: Widget + Hash>(
    f: &mut Frame,
    slot: &'static str,
    widget: W,
    area: Rect,
    base: Style,
) {
    let key = key_of(&widget, area, base, 0);
    render(f, slot, key, area, base, |buf| widget.render(area, buf));
}

/// As [`widget`], for a table scrolled to `offset`.
pub fn table(
    f: &mut Frame,
    slot: &'static str,
    table: Table,
    offset: usize,
    area: Rect,
    base: Style,
) {
    let key = key_of(&table, area, base, offset);
    render(f, slot, key, area, base, |buf| {
        let mut state = TableState::default().with_offset(offset);
        StatefulWidget::render(table, area, buf, &mut state);
    });
}

/// Forgets every pane (for measuring the cost of a frame where all changed).
pub fn clear() {
    PANES.with(|p| p.borrow_mut().clear());
}

fn key_of<W: Hash>(widget: &W, area: Rect, base: Style, offset: usize) -> u64 {
    let mut h = DefaultHasher::new();
    widget.hash(&mut h);
    area.hash(&mut h);
    base.hash(&mut h);
    offset.hash(&mut h);
    h.finish()
}

fn render(
    f: &mut Frame,
    slot: &'static str,
    key: u64,
    area: Rect,
    base: Style,
    draw: impl FnOnce(&mut Buffer),
) {
    let screen = *f.buffer_mut().area();
    if area.is_empty() || screen.intersection(area) != area {
        // Not wholly on screen: drawn as usual (the buffer clips it).
        return draw(f.buffer_mut());
    }
    PANES.with(|panes| {
        let mut panes = panes.borrow_mut();
        let i = match panes.iter().position(|e| e.slot == slot) {
            Some(i) => i,
            None => {
                panes.push(Entry {
                    slot,
                    key: !key,
                    cells: Buffer::empty(Rect::default()),
                });
                panes.len() - 1
            }
        };
        let e = &mut panes[i];
        if e.key != key || e.cells.area != area {
            let mut cells = Buffer::empty(area);
            fill(&mut cells, base);
            draw(&mut cells);
            e.cells = cells;
            e.key = key;
        }
        copy(&e.cells, f.buffer_mut());
    });
}

/// Sets `style` on every cell of `buf` (as `Block::default().style(..)` does, without
/// a position lookup per cell).
pub fn fill(buf: &mut Buffer, style: Style) {
    for c in buf.content.iter_mut() {
        c.set_style(style);
    }
}

/// Copies `from` into `to` at `from`'s area, row by row.
fn copy(from: &Buffer, to: &mut Buffer) {
    let a = from.area;
    let w = a.width as usize;
    for (row, y) in (a.y..a.bottom()).enumerate() {
        let start = to.index_of(a.x, y);
        to.content[start..start + w].clone_from_slice(&from.content[row * w..(row + 1) * w]);
    }
}

#[cfg(test)]
mod tests {
    use ratatui::Terminal;
    use ratatui::backend::TestBackend;
    use ratatui::style::{Color, Style};
    use ratatui::widgets::{Block, Paragraph, Wrap};

    use super::*;

    fn para(text: &str) -> Paragraph<'static> {
        Paragraph::new(text.to_string())
            .wrap(Wrap { trim: false })
            .block(Block::bordered().title(" t "))
    }

    /// The screen as drawn directly, and twice through the memo (a miss, then a hit).
    fn screens(text: &str) -> [Buffer; 3] {
        let base = Style::default().bg(Color::Blue);
        let area = Rect::new(3, 2, 20, 6);
        let mut direct = Terminal::new(TestBackend::new(30, 10)).unwrap();
        direct
            .draw(|f| {
                fill(f.buffer_mut(), base);
                f.render_widget(para(text), area);
            })
            .unwrap();
        let mut out = [
            direct.backend().buffer().clone(),
            Buffer::default(),
            Buffer::default(),
        ];
        let mut memo = Terminal::new(TestBackend::new(30, 10)).unwrap();
        for slot in out.iter_mut().skip(1) {
            memo.draw(|f| {
                fill(f.buffer_mut(), base);
                widget(f, "test", para(text), area, base);
            })
            .unwrap();
            *slot = memo.backend().buffer().clone();
        }
        out
    }

    #[test]
    fn a_pane_from_the_memo_is_the_pane_drawn_afresh() {
        let [direct, miss, hit] = screens("a line long enough to wrap in the pane");
        assert_eq!(direct, miss);
        assert_eq!(direct, hit);
        // Another text in the same slot is drawn, not the old one copied.
        let [direct, miss, _] = screens("another");
        assert_eq!(direct, miss);
    }
}
