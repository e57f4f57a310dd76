//! A small Markdown renderer for lesson text, over pulldown-cmark's events: headings,
//! paragraphs, emphasis, inline code, code blocks, lists and tables. Enough for
//! lessons; anything else is shown as its text.

use pulldown_cmark::{CodeBlockKind, Event, HeadingLevel, Options, Parser, Tag, TagEnd};
use ratatui::style::{Modifier, Style};
use ratatui::text::{Line, Span};

use super::theme::Theme;

pub fn render(text: &str, t: Theme) -> Vec<Line<'static>> {
    let mut lines: Vec<Line<'static>> = Vec::new();
    let mut cur: Vec<Span<'static>> = Vec::new();
    let mut style = t.text();
    let mut in_code_block = false;
    let mut list_depth = 0usize;
    // A table's row being read: its cells' spans (a narrow pane has no room for
    // columns, so each row becomes one wrapped line: `• first: second — third`).
    let mut row: Vec<Vec<Span<'static>>> = Vec::new();
    let flush = |cur: &mut Vec<Span<'static>>, lines: &mut Vec<Line<'static>>| {
        if !cur.is_empty() {
            lines.push(Line::from(std::mem::take(cur)));
        }
    };
    for ev in Parser::new_ext(text, Options::ENABLE_TABLES) {
        match ev {
            Event::Start(Tag::Table(_)) => flush(&mut cur, &mut lines),
            Event::End(TagEnd::Table) => lines.push(Line::raw("")),
            Event::Start(Tag::TableHead) | Event::Start(Tag::TableRow) => row.clear(),
            Event::Start(Tag::TableCell) => cur.clear(),
            Event::End(TagEnd::TableCell) => row.push(std::mem::take(&mut cur)),
            Event::End(TagEnd::TableHead) => {
                // The column names, dim, as the key to the rows below.
                let names: Vec<String> = row
                    .iter()
                    .map(|c| c.iter().map(|s| s.content.as_ref()).collect::<String>())
                    .filter(|n| !n.trim().is_empty())
                    .collect();
                lines.push(Line::from(Span::styled(names.join(" · "), t.dim())));
            }
            Event::End(TagEnd::TableRow) => {
                let mut spans = vec![Span::raw("• ")];
                let cells: Vec<_> = std::mem::take(&mut row)
                    .into_iter()
                    .filter(|c| c.iter().any(|s| !s.content.trim().is_empty()))
                    .collect();
                for (i, cell) in cells.into_iter().enumerate() {
                    match i {
                        0 => {}
                        1 => spans.push(Span::raw(": ")),
                        _ => spans.push(Span::raw(" — ")),
                    }
                    spans.extend(cell);
                }
                lines.push(Line::from(spans));
            }
            Event::Start(Tag::Heading { level, .. }) => {
                flush(&mut cur, &mut lines);
                if !lines.is_empty() {
                    lines.push(Line::raw(""));
                }
                style = if level == HeadingLevel::H1 {
                    t.title().add_modifier(Modifier::UNDERLINED)
                } else {
                    t.title()
                };
            }
            Event::End(TagEnd::Heading(_)) => {
                flush(&mut cur, &mut lines);
                style = t.text();
            }
            Event::Start(Tag::Paragraph) => {}
            Event::End(TagEnd::Paragraph) => {
                flush(&mut cur, &mut lines);
                if list_depth == 0 {
                    lines.push(Line::raw(""));
                }
            }
            Event::Start(Tag::Emphasis) => style = style.add_modifier(Modifier::ITALIC),
            Event::End(TagEnd::Emphasis) => style = style.remove_modifier(Modifier::ITALIC),
            Event::Start(Tag::Strong) => style = style.add_modifier(Modifier::BOLD),
            Event::End(TagEnd::Strong) => style = style.remove_modifier(Modifier::BOLD),
            Event::Start(Tag::CodeBlock(kind)) => {
                flush(&mut cur, &mut lines);
                in_code_block = true;
                let _ = matches!(kind, CodeBlockKind::Fenced(_));
            }
            Event::End(TagEnd::CodeBlock) => {
                in_code_block = false;
                lines.push(Line::raw(""));
            }
            Event::Start(Tag::List(_)) => {
                flush(&mut cur, &mut lines);
                list_depth += 1;
            }
            Event::End(TagEnd::List(_)) => {
                list_depth = list_depth.saturating_sub(1);
                if list_depth == 0 {
                    lines.push(Line::raw(""));
                }
            }
            Event::Start(Tag::Item) => {
                flush(&mut cur, &mut lines);
                cur.push(Span::raw(format!(
                    "{}• ",
                    "  ".repeat(list_depth.saturating_sub(1))
                )));
            }
            Event::End(TagEnd::Item) => flush(&mut cur, &mut lines),
            Event::Text(s) => {
                if in_code_block {
                    for l in s.lines() {
                        lines.push(Line::from(Span::styled(format!("  {l}"), t.dim())));
                    }
                } else {
                    cur.push(Span::styled(s.into_string(), style));
                }
            }
            Event::Code(s) => cur.push(Span::styled(
                s.into_string(),
                Style::default()
                    .patch(t.changed())
                    .remove_modifier(Modifier::REVERSED),
            )),
            Event::SoftBreak => cur.push(Span::raw(" ")),
            Event::HardBreak => flush(&mut cur, &mut lines),
            _ => {}
        }
    }
    flush(&mut cur, &mut lines);
    while lines.last().is_some_and(|l| l.width() == 0) {
        lines.pop();
    }
    lines
}

/// The sections of a lesson body: `(step name or None, markdown)`. A `## name: ...`
/// heading whose first word is a step name starts that step's section.
pub fn sections(body: &str, step_names: &[&str]) -> Vec<(Option<String>, String)> {
    let mut out: Vec<(Option<String>, String)> = vec![(None, String::new())];
    for line in body.lines() {
        if let Some(h) = line.strip_prefix("## ") {
            let first = h.split(':').next().unwrap_or("").trim();
            if h.contains(':') && step_names.contains(&first) {
                out.push((Some(first.to_string()), String::new()));
            } else if out.last().is_some_and(|s| s.0.is_some()) {
                out.push((None, String::new()));
            }
        }
        if let Some(last) = out.last_mut() {
            last.1.push_str(line);
            last.1.push('\n');
        }
    }
    out.retain(|s| !s.1.trim().is_empty());
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ui::theme::{Theme, ThemeKind};

    #[test]
    fn renders_the_parts_lessons_use() {
        let t = Theme {
            kind: ThemeKind::NoColor,
        };
        let lines = render(
            "# Title\n\nSome *text* and `code`.\n\n- one\n- two\n\n```\n$ ls\n```\n",
            t,
        );
        let text: Vec<String> = lines.iter().map(|l| l.to_string()).collect();
        assert_eq!(text[0], "Title");
        assert!(
            text.contains(&"Some text and code.".to_string()),
            "{text:?}"
        );
        assert!(text.contains(&"• one".to_string()), "{text:?}");
        assert!(text.contains(&"  $ ls".to_string()), "{text:?}");
    }

    #[test]
    fn a_table_becomes_one_line_a_row() {
        let t = Theme {
            kind: ThemeKind::NoColor,
        };
        let md = "| step | calls | why |\n|---|---|---|\n| `uts` | `unshare` | |\n| `pid` | fork | first child |\n";
        let text: Vec<String> = render(md, t).iter().map(|l| l.to_string()).collect();
        assert_eq!(
            text,
            [
                "step · calls · why",
                "• uts: unshare",
                "• pid: fork — first child"
            ],
            "{text:?}"
        );
    }

    #[test]
    fn sections_follow_step_headings() {
        let body = "Intro.\n\n## uts: the step\nAbout uts.\n\n## Going further\nMore.\n";
        let s = sections(body, &["uts", "ipc"]);
        assert_eq!(s.len(), 3, "{s:?}");
        assert_eq!(s[0].0, None);
        assert_eq!(s[1].0.as_deref(), Some("uts"));
        assert!(s[1].1.contains("About uts"));
        assert_eq!(s[2].0, None);
    }
}
