//! Scrolling a pane: how many rows it has, how many show, and where the learner put
//! it. A pane not scrolled by hand shows its own choice (`auto`: the syscalls their
//! newest lines, the mounts what the last step added); a step taken gives every pane
//! back its own choice.

use ratatui::text::{Line, Span};
use ratatui::widgets::Block;

use super::theme::Theme;

/// A pane's rows against its room.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Geometry {
    /// Rows of content (wrapped lines, or table rows).
    pub total: usize,
    /// Rows that fit.
    pub visible: usize,
    /// The first row shown when not scrolled by hand.
    pub auto: usize,
}

impl Geometry {
    /// The last first row that still fills the pane.
    pub fn max(&self) -> usize {
        self.total.saturating_sub(self.visible)
    }

    /// The first row shown: the one chosen by hand, else the pane's own, within range.
    pub fn offset(&self, chosen: Option<usize>) -> usize {
        chosen.unwrap_or(self.auto).min(self.max())
    }
}

/// A scrolling key.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Move {
    Up,
    Down,
    PageUp,
    PageDown,
    Home,
    End,
    /// The mouse wheel: three rows, as terminals scroll.
    WheelUp,
    WheelDown,
}

/// Where a move takes a pane shown from `offset`.
pub fn moved(g: Geometry, offset: usize, m: Move) -> usize {
    // A page keeps one row of the last one in sight, so the eye finds its place.
    let page = g.visible.saturating_sub(1).max(1);
    let to = match m {
        Move::Up => offset.saturating_sub(1),
        Move::Down => offset + 1,
        Move::WheelUp => offset.saturating_sub(3),
        Move::WheelDown => offset + 3,
        Move::PageUp => offset.saturating_sub(page),
        Move::PageDown => offset + page,
        Move::Home => 0,
        Move::End => g.max(),
    };
    to.min(g.max())
}

/// The block with "↑ N above" and "↓ N more" on its bottom border when rows are out of
/// sight: a cut pane says so.
pub fn marked(block: Block<'static>, g: Geometry, offset: usize, t: Theme) -> Block<'static> {
    let above = offset.min(g.total);
    let below = g.total.saturating_sub(offset + g.visible);
    let mut parts = Vec::new();
    if above > 0 {
        parts.push(format!("↑ {above} above"));
    }
    if below > 0 {
        parts.push(format!("↓ {below} more"));
    }
    if parts.is_empty() {
        return block;
    }
    block.title_bottom(
        Line::from(Span::styled(format!(" {} ", parts.join(" · ")), t.title())).right_aligned(),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn moves_stay_within_the_rows() {
        let g = Geometry {
            total: 17,
            visible: 3,
            auto: 0,
        };
        assert_eq!(g.max(), 14);
        assert_eq!(moved(g, 0, Move::Up), 0);
        assert_eq!(moved(g, 0, Move::Down), 1);
        assert_eq!(moved(g, 0, Move::PageDown), 2);
        assert_eq!(moved(g, 13, Move::PageDown), 14);
        assert_eq!(moved(g, 5, Move::Home), 0);
        assert_eq!(moved(g, 5, Move::End), 14);
        assert_eq!(moved(g, 14, Move::WheelDown), 14);
        // Everything fits: nothing moves.
        let all = Geometry {
            total: 2,
            visible: 5,
            auto: 0,
        };
        assert_eq!(moved(all, 0, Move::End), 0);
        assert_eq!(all.offset(Some(3)), 0);
    }
}
