//! Digits three rows tall, in block characters: the presenter's step counter ("8/12"),
//! readable from the back of a room. Only digits and `/`; anything else has no glyph.

/// Each glyph: three rows of three columns.
fn glyph(c: char) -> Option<[&'static str; 3]> {
    Some(match c {
        '0' => ["█▀█", "█ █", "▀▀▀"],
        '1' => ["▀█ ", " █ ", "▀▀▀"],
        '2' => ["▀▀█", "█▀▀", "▀▀▀"],
        '3' => ["▀▀█", " ▀█", "▀▀▀"],
        '4' => ["█ █", "▀▀█", "  ▀"],
        '5' => ["█▀▀", "▀▀█", "▀▀▀"],
        '6' => ["█▀▀", "█▀█", "▀▀▀"],
        '7' => ["▀▀█", "  █", "  ▀"],
        '8' => ["█▀█", "█▀█", "▀▀▀"],
        '9' => ["█▀█", "▀▀█", "▀▀▀"],
        '/' => ["  ▄", " █ ", "▀  "],
        _ => return None,
    })
}

/// The three rows of `text` in big digits, a column between glyphs; `None` when a
/// character has no glyph.
pub fn rows(text: &str) -> Option<[String; 3]> {
    let mut out = [String::new(), String::new(), String::new()];
    for (i, c) in text.chars().enumerate() {
        let g = glyph(c)?;
        for (row, part) in out.iter_mut().zip(g) {
            if i > 0 {
                row.push(' ');
            }
            row.push_str(part);
        }
    }
    Some(out)
}

/// Columns `rows(text)` takes.
pub fn width(text: &str) -> usize {
    let n = text.chars().count();
    (n * 4).saturating_sub(1)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn digits_are_three_rows_of_even_width() {
        let r = rows("8/12").expect("glyphs");
        for row in &r {
            assert_eq!(row.chars().count(), width("8/12"), "{r:?}");
        }
        assert_eq!(r[1], "█▀█  █   █  █▀▀");
        assert!(rows("a").is_none());
    }
}
