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
    let title = if focused {
        format!("{} · Ctrl-] leaves", view.title)
    } else {
        let key = match pane {
            Pane::Entered => "e",
            Pane::Host => "h",
            _ => "s",
        };
        format!("{} · {key} to type here", view.title)
    };
    let block = if pane == Pane::Host {
        host_block(app, title)
    } else {
        crate::ui::draw::block(app, pane, title)
    };
    let Ok(parser) = view.screen.0.lock() else {
        return;
    };
    let term = PseudoTerminal::new(parser.screen()).block(block);
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
