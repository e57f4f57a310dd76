//! The embedded shells: the terminal emulator's screen in a pane. The host shell's
//! pane is framed in its own colour and titled HOST, so that no one takes it for the
//! container.

use ratatui::Frame;
use ratatui::layout::Rect;
use ratatui::text::{Line, Span};
use ratatui::widgets::Block;
use tui_term::widget::PseudoTerminal;

use crate::ui::app::{App, Pane};

pub fn draw(f: &mut Frame, app: &App, area: Rect, pane: Pane) {
    let view = match pane {
        Pane::Entered => &app.entered,
        Pane::Host => &app.host_shell,
        _ => &app.shell,
    };
    let Some(view) = view else {
        return;
    };
    let focused = app.focus == pane;
    // The key first: on a narrow pane the title is what gets shortened.
    let hint = if focused {
        "Ctrl-] leaves".to_string()
    } else {
        let key = match pane {
            Pane::Entered => "e",
            Pane::Host => "h",
            _ => "s",
        };
        format!("{key} to type here")
    };
    let room = (area.width as usize).saturating_sub(4 + if pane == Pane::Host { 6 } else { 0 });
    let title = crate::ui::draw::fit_end(&format!("{hint} · {}", view.title), room);
    let block = if pane == Pane::Host {
        host_block(app, title)
    } else {
        crate::ui::draw::block(app, pane, title)
    };
    let Ok(parser) = view.screen.0.lock() else {
        return;
    };
    // One cursor on the screen: in the shell that has the keys (and only where that
    // shell's own program shows it).
    let cursor =
        tui_term::widget::Cursor::default().visibility(focused && !parser.screen().hide_cursor());
    let term = PseudoTerminal::new(parser.screen())
        .cursor(cursor)
        .block(block);
    f.render_widget(term, area);
}

/// The host shell's frame: the host colour whether focused or not (bold when
/// focused), and a HOST label before the title.
pub fn host_block(app: &App, title: String) -> Block<'static> {
    let t = app.theme;
    let mut border = t.host();
    if app.focus == Pane::Host {
        border = border.add_modifier(ratatui::style::Modifier::BOLD);
    }
    Block::bordered()
        .border_style(border)
        .title(Line::from(vec![
            Span::styled(" HOST ", t.host_label()),
            Span::styled(format!(" {title} "), t.host()),
        ]))
}
