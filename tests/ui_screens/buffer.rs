//! See tests/ui_screens.rs. Reading a drawn screen: its styles as runs per row, the text
//! of one pane.

use ratatui::buffer::Buffer;
use ratatui::style::{Color, Style};

use crate::screen::text;

fn style_name(s: Style) -> String {
    let c = |c: Option<Color>| match c {
        None | Some(Color::Reset) => "-".to_string(),
        Some(c) => format!("{c:?}"),
    };
    let mut out = format!("fg={} bg={}", c(s.fg), c(s.bg));
    let m = s.add_modifier - s.sub_modifier;
    if !m.is_empty() {
        out.push_str(&format!(" {m:?}"));
    }
    out
}

/// The screen's styles as runs of equal style per row (`y x0..x1 style`), the
/// default style left out: what colours and emphasis carry.
pub fn styles(buf: &Buffer) -> String {
    let a = buf.area;
    let mut out = String::new();
    for y in a.top()..a.bottom() {
        let mut x = a.left();
        while x < a.right() {
            let s = style_name(buf[(x, y)].style());
            let start = x;
            while x < a.right() && style_name(buf[(x, y)].style()) == s {
                x += 1;
            }
            if s != "fg=- bg=-" {
                out.push_str(&format!("{y:>2} {start:>3}..{x:<3} {s}\n"));
            }
        }
    }
    out
}

/// The text inside the pane whose top border holds `title`.
pub fn pane_text(buf: &Buffer, title: &str) -> String {
    let t = text(buf);
    let lines: Vec<&str> = t.lines().collect();
    let (top, col) = lines
        .iter()
        .enumerate()
        .find_map(|(i, l)| l.find(title).map(|c| (i, c)))
        .unwrap_or_else(|| panic!("no pane titled {title:?} in\n{t}"));
    let col = lines[top][..col].chars().count();
    let mut out = String::new();
    for l in &lines[top + 1..] {
        let rest: String = l.chars().skip(col.saturating_sub(2)).collect();
        if rest.starts_with('└') {
            break;
        }
        out.push_str(&rest);
        out.push('\n');
    }
    out
}
