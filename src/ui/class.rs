//! `underhood class`: the instructor's view of the class. It watches a session (the
//! one the instructor teaches from) and shows, for the lesson the instructor is on, a
//! grid of learners × that lesson's checks (✓ passed, ✗ failed with the check's one
//! line, · not yet), the step each learner is on, who is gone and why, and how many
//! have each check. State here, drawn by a pure function of it; the loop is in the
//! binary (`cli/class.rs`).

use ratatui::Frame;
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::style::{Color, Modifier, Style};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Paragraph};

use super::notes::Link;
use crate::lesson::set::LessonSet;
use crate::session::follow::learner::{Entry, MAX_NAME, State};
use crate::session::follow::roster::{MAX_LEARNERS, Roster};
use crate::session::follow::{Feed, Position};

#[derive(Debug, Clone)]
pub struct ClassView {
    pub addr: String,
    pub link: Link,
    pub pos: Option<Position>,
    pub class: Roster,
    /// The instructor's lesson's checks: (id, what it says), from our lesson set, or
    /// the ids the learners report when we lack the lesson.
    pub checks: Vec<(String, String)>,
    /// The last note of the link (a refusal, a garbage line).
    pub note: Option<String>,
    /// Learner rows scrolled past.
    pub scroll: usize,
}

impl ClassView {
    pub fn new(addr: String) -> ClassView {
        ClassView {
            addr,
            link: Link::Connecting,
            pos: None,
            class: Roster::default(),
            checks: Vec::new(),
            note: None,
            scroll: 0,
        }
    }

    pub fn on_feed(&mut self, feed: Feed, set: &LessonSet, now_ms: u64) {
        match feed {
            Feed::Connected { .. } => {
                self.link = Link::Live;
                // The session sends the whole class again on each connection.
                self.class = Roster::default();
            }
            Feed::Lost(why) => self.link = Link::Lost(why),
            Feed::Note(n) => self.note = Some(n),
            Feed::Learner(e) => self.class.absorb(e, now_ms),
            Feed::Position(p) => {
                self.checks = p
                    .lesson_id()
                    .and_then(|id| set.get(id))
                    .map(|l| {
                        l.front
                            .checks
                            .iter()
                            .map(|c| (c.id.get_ref().clone(), c.say.clone()))
                            .collect()
                    })
                    .unwrap_or_default();
                self.pos = Some(p);
            }
        }
        if self.checks.is_empty() {
            self.checks = self.reported_checks();
        }
    }

    /// The instructor's lesson, by id.
    pub fn lesson(&self) -> Option<&str> {
        self.pos.as_ref().and_then(|p| p.lesson_id())
    }

    /// The check ids learners on the instructor's lesson report (a lesson we lack).
    fn reported_checks(&self) -> Vec<(String, String)> {
        let lesson = self.lesson();
        self.class
            .learners()
            .iter()
            .filter_map(|l| l.entry.progress.as_ref())
            .find(|p| lesson.is_some() && p.lesson.as_deref() == lesson)
            .map(|p| {
                p.checks
                    .iter()
                    .map(|c| (c.id.clone(), c.id.clone()))
                    .collect()
            })
            .unwrap_or_default()
    }

    /// Learners present first, in the order they came, then those gone.
    pub fn rows(&self) -> Vec<&Entry> {
        let l = self.class.learners();
        let here = l.iter().filter(|l| l.entry.gone.is_none());
        let gone = l.iter().filter(|l| l.entry.gone.is_some());
        here.chain(gone).map(|l| &l.entry).collect()
    }

    /// "18 of 24 have the memory cgroup recorded an OOM kill"-style counts, per check.
    pub fn counts(&self) -> Vec<usize> {
        let ids: Vec<String> = self.checks.iter().map(|(id, _)| id.clone()).collect();
        self.class.counts(self.lesson(), &ids)
    }

    pub fn status(&self) -> String {
        match &self.link {
            Link::Connecting => format!("connecting to {}...", self.addr),
            Link::Live => format!("watching {}", self.addr),
            Link::Lost(why) => format!("lost the session ({why}); retrying"),
        }
    }
}

fn bold() -> Style {
    Style::default().add_modifier(Modifier::BOLD)
}

fn dim() -> Style {
    Style::default().add_modifier(Modifier::DIM)
}

/// A string cut to `w` columns (by characters: names are sanitized, single-width
/// enough for a grid), padded.
fn cell(text: &str, w: usize) -> String {
    let mut s: String = text.chars().take(w).collect();
    if text.chars().count() > w && w > 0 {
        s.pop();
        s.push('…');
    }
    format!("{s:<w$}")
}

/// Where a learner is, in a few words: `3/5 pid`, `on uts 2/3`, `walk 3/12`.
fn step_words(e: &Entry, lesson: Option<&str>) -> String {
    let Some(p) = &e.progress else {
        return "joining".into();
    };
    let step = p.step.as_deref().unwrap_or("-");
    match (&p.lesson, lesson) {
        (Some(l), Some(ours)) if l == ours => format!("{}/{} {step}", p.done, p.of),
        (Some(l), _) => format!("on {l} {}/{}", p.done, p.of),
        (None, _) => format!("walk {}/{}", p.done, p.of),
    }
}

pub fn draw(f: &mut Frame, v: &ClassView) {
    let area = f.area();
    let checks = v.checks.len() as u16;
    let [top, legend, grid, status] = Layout::vertical([
        Constraint::Length(1),
        Constraint::Length(checks.clamp(1, 8) + 2),
        Constraint::Min(3),
        Constraint::Length(1),
    ])
    .areas(area);
    let here = v.class.present();
    let gone = v.class.learners().len() - here;
    let at = match &v.pos {
        None => "waiting for the session's position".to_string(),
        Some(p) => match &p.lesson {
            Some(l) => format!("{} · step {}/{}", l.title, p.done, p.of),
            None => format!("the full walk · step {}/{}", p.done, p.of),
        },
    };
    f.render_widget(
        Paragraph::new(Line::from(vec![
            Span::styled(" underhood class ", bold().add_modifier(Modifier::REVERSED)),
            Span::raw(format!(
                " {at} · {here} here · {gone} gone · max {MAX_LEARNERS}"
            )),
        ])),
        top,
    );
    draw_legend(f, v, legend, here);
    draw_grid(f, v, grid);
    let mut words = format!(" {} · ↑↓ scroll · q quits", v.status());
    if let Some(n) = &v.note {
        words = format!("{words} · {n}");
    }
    let style = match v.link {
        Link::Live => dim(),
        _ => bold(),
    };
    f.render_widget(Paragraph::new(Span::styled(words, style)), status);
}

fn draw_legend(f: &mut Frame, v: &ClassView, area: Rect, here: usize) {
    let counts = v.counts();
    let mut lines: Vec<Line> = v
        .checks
        .iter()
        .zip(&counts)
        .enumerate()
        .map(|(i, ((id, say), n))| {
            let style = if here > 0 && *n == here {
                Style::default().fg(Color::Green)
            } else {
                Style::default()
            };
            Line::from(vec![
                Span::styled(format!("{:>2} ", i + 1), bold()),
                Span::styled(
                    format!("{n:>2} of {here:<2} "),
                    style.add_modifier(Modifier::BOLD),
                ),
                Span::styled(format!("have {id}: "), style),
                Span::styled(say.clone(), dim()),
            ])
        })
        .collect();
    if lines.is_empty() {
        lines.push(Line::styled(
            match v.lesson() {
                Some(_) => "this lesson has no checks: the grid shows steps only",
                None => "no lesson (the full walk): the grid shows steps only",
            },
            dim(),
        ));
    }
    f.render_widget(
        Paragraph::new(lines).block(Block::bordered().title(" Checks ")),
        area,
    );
}

fn draw_grid(f: &mut Frame, v: &ClassView, area: Rect) {
    let inner = area.width.saturating_sub(2) as usize;
    let rows = v.rows();
    let name_w = rows
        .iter()
        .map(|e| e.name.chars().count())
        .max()
        .unwrap_or(4)
        .clamp(4, (MAX_NAME / 2).min(inner / 4).max(4));
    let step_w = 14;
    let lesson = v.lesson();
    let mut head = vec![
        Span::styled(format!("{} ", cell("name", name_w)), bold()),
        Span::styled(format!("{} ", cell("step", step_w)), bold()),
    ];
    for i in 0..v.checks.len() {
        head.push(Span::styled(format!("{:<2}", (i + 1) % 100), bold()));
    }
    head.push(Span::styled(" why", bold()));
    let mut lines = vec![Line::from(head)];
    let visible = area.height.saturating_sub(3) as usize;
    let scroll = v.scroll.min(rows.len().saturating_sub(visible));
    let shown = rows.iter().skip(scroll).take(visible);
    let behind = v.pos.as_ref().map(|p| p.done).unwrap_or(0) as u32;
    for e in shown {
        let mut spans = vec![Span::raw(format!("{} ", cell(&e.name, name_w)))];
        if let Some(why) = &e.gone {
            spans[0].style = dim();
            spans.push(Span::styled(format!("gone: {why}"), dim()));
            lines.push(Line::from(spans));
            continue;
        }
        let words = step_words(e, lesson);
        let here = e
            .progress
            .as_ref()
            .is_some_and(|p| p.lesson.as_deref() == lesson);
        let late = here && e.progress.as_ref().is_some_and(|p| p.done < behind);
        let step_style = if !here || late {
            Style::default().fg(Color::Yellow)
        } else {
            Style::default()
        };
        spans.push(Span::styled(
            format!("{} ", cell(&words, step_w)),
            step_style,
        ));
        let mut why = None;
        for (id, _) in &v.checks {
            let state = e
                .progress
                .as_ref()
                .filter(|_| here)
                .and_then(|p| p.check(id));
            let (mark, style) = match state.map(|c| c.state) {
                Some(State::Passed) => ("✓ ", Style::default().fg(Color::Green)),
                Some(State::Failed) => ("✗ ", Style::default().fg(Color::Red)),
                Some(State::NotYet) => ("· ", dim()),
                None => ("- ", dim()),
            };
            if why.is_none()
                && let Some(c) = state.filter(|c| c.state == State::Failed)
            {
                why = Some(format!(
                    "{}: {}",
                    c.id,
                    c.why.as_deref().unwrap_or("failed")
                ));
            }
            spans.push(Span::styled(mark, style));
        }
        spans.push(Span::styled(format!(" {}", why.unwrap_or_default()), dim()));
        lines.push(Line::from(spans));
    }
    let more = rows.len().saturating_sub(scroll + visible);
    let title = match (scroll, more) {
        (0, 0) => " Learners ".to_string(),
        (s, m) => format!(" Learners ({s} above, {m} below) "),
    };
    f.render_widget(
        Paragraph::new(lines).block(Block::bordered().title(title)),
        area,
    );
}
