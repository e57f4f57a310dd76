//! A small Markdown renderer for lesson text, over pulldown-cmark's events: headings,
//! paragraphs, emphasis, inline code, code blocks and lists. Enough for lessons;
//! anything else is shown as its text.

use pulldown_cmark::{CodeBlockKind, Event, HeadingLevel, Parser, Tag, TagEnd};
use ratatui::style::{Modifier, Style};
use ratatui::text::{Line, Span};

use super::theme::Theme;

pub fn render(text: &str, t: Theme) -> Vec<Line<'static>> {
    let mut lines: Vec<Line<'static>> = Vec::new();
    let mut cur: Vec<Span<'static>> = Vec::new();
    let mut style = t.text();
    let mut in_code_block = false;
    let mut list_depth = 0usize;
    let flush = |cur: &mut Vec<Span<'static>>, lines: &mut Vec<Line<'static>>| {
        if !cur.is_empty() {
            lines.push(Line::from(std::mem::take(cur)));
        }
    };
    for ev in Parser::new(text) {
        match ev {
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
