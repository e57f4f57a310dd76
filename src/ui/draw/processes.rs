//! The container's processes as a tree: host PID beside the PID inside (NSpid),
//! state and command. Zombies show as such.

use ratatui::Frame;
use ratatui::layout::{Constraint, Rect};
use ratatui::text::Span;
use ratatui::widgets::{Cell, Row, Table};

use crate::observe::ptree::ProcState;
use crate::ui::app::{App, Pane};
use crate::ui::scroll::{self, Geometry};

/// One row per process, under the border and the header row.
pub fn geometry(app: &App, area: Rect) -> Geometry {
    Geometry {
        total: app.snap.as_ref().map(|s| s.tree.len()).unwrap_or(0),
        visible: area.height.saturating_sub(3) as usize,
        auto: 0,
    }
}

pub fn draw(f: &mut Frame, app: &App, area: Rect) {
    let t = app.theme;
    let nodes = app.snap.as_ref().map(|s| s.tree.as_slice()).unwrap_or(&[]);
    let wide = area.width >= 70;
    let rows: Vec<Row> = nodes
        .iter()
        .map(|n| {
            let p = &n.proc;
            let inner = if p.status.ns_pid.len() > 1 {
                p.inner_pid().to_string()
            } else {
                "-".to_string()
            };
            // Our own processes rename themselves (prctl PR_SET_NAME): show that name,
            // it says their role better than the argv they were started with.
            let cmd = match &p.cmdline {
                _ if p.comm.starts_with("underhood-") => p.comm.clone(),
                Some(argv) => argv.join(" "),
                None => format!("[{}]", p.comm),
            };
            let state_style = match p.state {
                ProcState::Zombie | ProcState::Dead => t.error(),
                ProcState::Running => t.ok(),
                _ => t.text(),
            };
            let uid = p.status.uid.map(|u| u[0].to_string()).unwrap_or_default();
            let state = if wide {
                format!("{} {}", p.state.letter(), p.state.name())
            } else {
                p.state.letter().to_string()
            };
            Row::new(vec![
                Cell::from(p.pid.to_string()),
                Cell::from(inner),
                Cell::from(Span::styled(state, state_style)),
                Cell::from(uid),
                Cell::from(format!("{}{}", "  ".repeat(n.depth), cmd)),
            ])
        })
        .collect();
    let empty = rows.is_empty();
    let g = geometry(app, area);
    let offset = g.offset(app.scrolled(Pane::Processes));
    let table = Table::new(
        rows,
        [
            Constraint::Length(7),
            Constraint::Length(6),
            Constraint::Length(if wide { 11 } else { 5 }),
            Constraint::Length(6),
            Constraint::Min(10),
        ],
    )
    .header(Row::new(vec!["host", "inside", "state", "uid", "command"]).style(t.title()))
    .block(scroll::marked(
        crate::ui::draw::block(
            app,
            Pane::Processes,
            if !empty && app.waiting_for_by_hand() {
                // Its one process is ours, not the learner's: say so, or a newcomer
                // looks for what they did in it.
                super::fitted(
                    area,
                    "Processes: underhood's idle process, until your container exists",
                    "Processes: underhood's idle process",
                )
            } else if empty {
                "Processes (none yet)".into()
            } else {
                format!("Processes ({})", nodes.len())
            },
        ),
        g,
        offset,
        t,
    ));
    super::cache::table(f, "processes", table, offset, area, t.text());
}
