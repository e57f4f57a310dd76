//! The embedded shell: the terminal emulator's screen in a pane.

use ratatui::Frame;
use ratatui::layout::Rect;
use tui_term::widget::PseudoTerminal;

use crate::ui::app::{App, Pane};

pub fn draw(f: &mut Frame, app: &App, area: Rect, pane: Pane) {
    let view = match pane {
        Pane::Entered => &app.entered,
        _ => &app.shell,
    };
    let Some(view) = view else {
        return;
    };
    let focused = app.focus == pane;
    let title = if focused {
        format!("{} · Ctrl-] leaves", view.title)
    } else {
        let key = if pane == Pane::Entered { "e" } else { "s" };
        format!("{} · {key} to type here", view.title)
    };
    let block = crate::ui::draw::block(app, pane, title);
    let Ok(parser) = view.screen.0.lock() else {
        return;
    };
    let term = PseudoTerminal::new(parser.screen()).block(block);
    f.render_widget(term, area);
}
