//! The cgroup's memory usage over time against its limit, labelled with the real
//! file names (v1 or v2), with the peak and the OOM-kill counter; an OOM kill is
//! marked on the graph where it happened.

use ratatui::Frame;
use ratatui::layout::Rect;
use ratatui::symbols::Marker;
use ratatui::text::{Line, Span};
use ratatui::widgets::{Axis, Chart, Dataset, GraphType, Paragraph, Wrap};

use crate::ui::app::{App, HISTORY_SECS, Pane};
use crate::units::format_size;

pub fn draw(f: &mut Frame, app: &App, area: Rect) {
    let t = app.theme;
    let h = &app.memory;
    let Some(current) = h.current else {
        let text = if app.cgroup_skipped.is_some() {
            "no memory limit: the cgroup step is skipped here (the step pane says why)"
        } else if app.lesson.as_ref().is_some_and(|l| l.by_hand) {
            "your container has no memory cgroup with a limit: its usage shows here once it has one (By hand 3 makes one)"
        } else if !app.limits_memory() {
            "no memory limit in this launch: it has no cgroup step (the cgroups and OOM lessons have one)"
        } else if app.snap.is_some() {
            "no cgroup yet: the memory limit is set at the 'cgroup limits' step"
        } else {
            "waiting for the container"
        };
        f.render_widget(
            Paragraph::new(Span::styled(text, t.dim()))
                .wrap(Wrap { trim: true })
                .block(crate::ui::draw::block(app, Pane::Memory, "Memory".into())),
            area,
        );
        return;
    };
    let now = app.now().as_secs_f64();
    let x0 = (now - HISTORY_SECS).max(0.0);
    let x1 = x0 + HISTORY_SECS;
    let limit = h.limit.map(|l| l as f64);
    // With a limit, the limit is the top of the graph: its label is on its row (usage
    // cannot pass it). Without one, some room above the highest point.
    let highest = h.points.iter().map(|p| p.1).fold(0.0, f64::max);
    let top = match limit {
        Some(l) => l.max(highest).max(1.0),
        None => highest.max(1.0) * 1.1,
    };
    let usage: Vec<(f64, f64)> = h.points.iter().copied().collect();
    let limit_line: Vec<(f64, f64)> = limit.map(|l| vec![(x0, l), (x1, l)]).unwrap_or_default();
    let ooms: Vec<(f64, f64)> = h
        .oom_marks
        .iter()
        .filter(|m| **m >= x0)
        .map(|m| (*m, limit.unwrap_or(top)))
        .collect();
    let mut sets = vec![
        Dataset::default()
            .name(h.file_current.clone())
            .marker(Marker::Braille)
            .graph_type(GraphType::Line)
            .style(t.graph())
            .data(&usage),
    ];
    if !limit_line.is_empty() {
        sets.push(
            Dataset::default()
                .name(h.file_limit.clone())
                .marker(Marker::Braille)
                .graph_type(GraphType::Line)
                .style(t.limit())
                .data(&limit_line),
        );
    }
    if !ooms.is_empty() {
        sets.push(
            Dataset::default()
                .name("OOM kill")
                .marker(Marker::Block)
                .graph_type(GraphType::Scatter)
                .style(t.error())
                .data(&ooms),
        );
    }
    let limit_text = h.limit.map(format_size).unwrap_or_else(|| "max".into());
    let title = if area.width >= 60 {
        format!(
            "Memory {} / {}  peak {}  OOM kills {}",
            format_size(current),
            limit_text,
            h.peak.map(format_size).unwrap_or_else(|| "-".into()),
            h.oom_kills
        )
    } else {
        format!(
            "Mem {} / {}  OOM kills {}",
            format_size(current),
            limit_text,
            h.oom_kills
        )
    };
    // The real file names, so a learner can go and read them, each in its line's
    // colour: the legend, under the graph rather than over its data.
    let files = Line::from(vec![
        Span::raw(" "),
        Span::styled(h.file_current.clone(), t.graph()),
        Span::styled(" · ", t.dim()),
        Span::styled(h.file_limit.clone(), t.limit()),
        Span::styled(" · ", t.dim()),
        Span::styled(h.file_oom.clone(), t.error()),
        Span::raw(" "),
    ]);
    let chart = Chart::new(sets)
        .legend_position(None)
        .block(crate::ui::draw::block(app, Pane::Memory, title).title_bottom(files))
        .x_axis(Axis::default().bounds([x0, x1]).style(t.dim()).labels(vec![
            Span::raw(format!("{x0:.0}s")),
            Span::raw(format!("{x1:.0}s")),
        ]))
        .y_axis(
            Axis::default()
                .bounds([0.0, top])
                .style(t.dim())
                .labels(vec![
                    Span::raw("0"),
                    Span::raw(match limit {
                        Some(_) => limit_text.clone(),
                        None => format_size(top as u64),
                    }),
                ]),
        );
    f.render_widget(chart, area);
}
