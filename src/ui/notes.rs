//! `underhood notes`: the speaker's second terminal. It follows a session's position
//! (see `follow`) and shows the lesson, the step just taken and the next one, the
//! speaker notes for them and the time since the session started. State here, drawn
//! by pure functions of it; the loop is in the binary (`cli/notes.rs`).

use ratatui::Frame;
use ratatui::layout::{Constraint, Layout};
use ratatui::style::{Modifier, Style};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Paragraph, Wrap};

use crate::lesson::format::LessonFile;
use crate::lesson::set::LessonSet;
use crate::session::follow::{Feed, Position};

/// The link to the followed session.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Link {
    Connecting,
    Live,
    /// It ended or cannot be reached (why); retrying.
    Lost(String),
}

#[derive(Debug, Clone)]
pub struct NotesView {
    pub addr: String,
    pub link: Link,
    /// Whether the session was ever reached (a loss then means it ended).
    pub ever: bool,
    pub pos: Option<Position>,
    /// The position's lesson, from our lesson set (`None`: no lesson, or one we lack).
    pub lesson: Option<LessonFile>,
    /// The last note of the link (a garbage line, a newer protocol).
    pub note: Option<String>,
}

impl NotesView {
    pub fn new(addr: String) -> NotesView {
        NotesView {
            addr,
            link: Link::Connecting,
            ever: false,
            pos: None,
            lesson: None,
            note: None,
        }
    }

    pub fn on_feed(&mut self, feed: Feed, set: &LessonSet) {
        match feed {
            Feed::Connected { .. } => {
                self.link = Link::Live;
                self.ever = true;
            }
            Feed::Lost(why) => self.link = Link::Lost(why),
            Feed::Note(n) => self.note = Some(n),
            Feed::Learner(_) => {}
            Feed::Position(p) => {
                self.lesson = p.lesson_id().and_then(|id| set.get(id)).cloned();
                self.pos = Some(p);
            }
        }
    }

    /// The words of the status line.
    pub fn status(&self) -> String {
        match (&self.link, self.ever) {
            (Link::Connecting, _) => format!("connecting to {}...", self.addr),
            (Link::Live, _) => format!("following {}", self.addr),
            (Link::Lost(why), true) => {
                format!("the session ended ({why}); waiting for it to come back, q quits")
            }
            (Link::Lost(why), false) => format!("cannot reach the session: {why}; retrying"),
        }
    }
}

/// `H:MM:SS` (or `MM:SS` under an hour) from `started_ms` to `now_ms`.
pub fn timer(started_ms: u64, now_ms: u64) -> String {
    super::present::timer(std::time::Duration::from_millis(
        now_ms.saturating_sub(started_ms),
    ))
}

fn bold() -> Style {
    Style::default().add_modifier(Modifier::BOLD)
}

fn dim() -> Style {
    Style::default().add_modifier(Modifier::DIM)
}

/// `text` word-wrapped to `width` columns, the first line after `first` and the
/// others after `rest` (a hanging indent, which the paragraph's own wrap cannot do).
fn hanging(text: &str, first: &str, rest: &str, width: u16) -> Vec<Line<'static>> {
    let width = usize::from(width).max(first.chars().count().max(rest.chars().count()) + 10);
    let mut out = Vec::new();
    let mut line = first.to_string();
    let mut empty = true;
    for word in text.split_whitespace() {
        let len = line.chars().count() + usize::from(!empty) + word.chars().count();
        if !empty && len > width {
            out.push(Line::raw(std::mem::replace(&mut line, rest.to_string())));
            empty = true;
        }
        if !empty {
            line.push(' ');
        }
        line.push_str(word);
        empty = false;
    }
    out.push(Line::raw(line));
    out
}

/// One step's lines: its title and, when the lesson has one, the speaker's note.
fn step_lines(
    label: &str,
    step: Option<&crate::session::follow::position::StepRef>,
    lesson: Option<&LessonFile>,
    width: u16,
) -> Vec<Line<'static>> {
    let Some(step) = step else {
        return vec![Line::from(vec![
            Span::styled(format!("{label}: "), bold()),
            Span::styled("none", dim()),
        ])];
    };
    let mut out = vec![Line::from(vec![
        Span::styled(format!("{label}: "), bold()),
        Span::raw(format!("{} ({})", step.title, step.name)),
    ])];
    // The run of passed-through steps one press takes from here: every note of it
    // before the press (the middle ones would never be "just taken").
    if label == "Next"
        && let Some(l) = lesson
        && let run = crate::lesson::passing::run_from(l, &step.name)
        && run.len() > 1
    {
        out = vec![Line::from(vec![
            Span::styled(format!("{label}: "), bold()),
            Span::raw(format!("passing through {} (one press)", run.join(", "))),
        ])];
        for name in &run {
            if let Some(note) = l.step_note(name) {
                out.extend(hanging(&format!("{name}: {note}"), "  ", "  ", width));
            }
        }
        return out;
    }
    let note = match lesson {
        Some(l) => l.step_note(&step.name).map(str::to_string),
        // The full launch (no lesson) has notes of its own.
        None => walk_note(&step.name).map(str::to_string),
    };
    match note {
        Some(note) => out.extend(note.lines().flat_map(|l| hanging(l, "  ", "  ", width))),
        None => out.push(Line::styled("  (no note for this step)", dim())),
    }
    out
}

/// The speaker notes of the full launch (`underhood` without a lesson), by step name:
/// where to point, what to say.
pub fn walk_note(name: &str) -> Option<&'static str> {
    Some(match name {
        "user" => {
            "Rootless only. Point at the Processes pane: uid 65534 or yours outside, root (0) inside. Say: the uid_map line was written from outside, by the controller."
        }
        "uts" => {
            "Point at the uts row of Namespaces: its inode now differs (≠). Open a shell later and run hostname: the host kept its name."
        }
        "ipc" => {
            "The ipc row turns ≠. Say: System V queues and shared memory are per namespace; ipcs inside shows none of the host's."
        }
        "net" => {
            "The net row turns ≠. Say: a new network namespace has only a loopback, and it is down; ip link in a shell shows it."
        }
        "mount" => {
            "Point at the propagation column of Mounts: every mount turned slave (or private). Say: mounts made inside can no longer leak to the host."
        }
        "cgroup" => {
            "Point at the Memory pane: a limit line appeared. Say: the controller, outside, wrote the limit; the container cannot raise it. Rootless on a v1 host this step is skipped: say why (the line in the step pane)."
        }
        "cgroupns" => "The cgroup row turns ≠: inside, /proc/self/cgroup now says / .",
        "time" => {
            "The time row: a new time namespace applies to children, so it changes at the PID step's fork."
        }
        "pid" => {
            "Point at Processes: the new process has PID 1 inside and a big PID outside. Say: one process, two numbers, because the PID namespace nests."
        }
        "rootfs" => {
            "Point at Mounts: the overlay and its /proc, /dev, /tmp appear under the session's directory, still beside the host's mounts."
        }
        "pivot_root" => {
            "Point at Mounts: the host's mounts are gone, / is the overlay. Say: the old root was unmounted, no path leads back (unlike chroot)."
        }
        "chroot" => {
            "Say: chroot only moves the lookup root; the host's tree stays mounted and root inside can climb out."
        }
        "security" => {
            "Point at Syscalls: the capabilities dropped, no_new_privs, the seccomp filter. Say: root inside is now a much smaller root."
        }
        "exec" => {
            "The command replaced PID 1's program: Processes shows it. Open a shell (s) and run ps, hostname, mount; then m for the memory hog and its OOM kill."
        }
        _ => return None,
    })
}

pub fn draw(f: &mut Frame, v: &NotesView, now_ms: u64) {
    let area = f.area();
    let [top, status, body] = Layout::vertical([
        Constraint::Length(1),
        Constraint::Length(1),
        Constraint::Min(0),
    ])
    .areas(area);
    let clock = v
        .pos
        .as_ref()
        .map(|p| timer(p.started_ms, now_ms))
        .unwrap_or_else(|| "--:--".into());
    let status_style = match v.link {
        Link::Live => Style::default(),
        _ => bold(),
    };
    let [left, right] = Layout::horizontal([
        Constraint::Min(0),
        Constraint::Length(clock.len() as u16 + 8),
    ])
    .areas(top);
    f.render_widget(
        Paragraph::new(Span::styled(
            " underhood notes ",
            bold().add_modifier(Modifier::REVERSED),
        )),
        left,
    );
    // A line of its own: "the session ended (why)" must not be cut by the timer.
    f.render_widget(
        Paragraph::new(Span::styled(format!(" {}", v.status()), status_style)),
        status,
    );
    f.render_widget(
        Paragraph::new(Span::styled(format!(" timer {clock} "), bold())),
        right,
    );
    let Some(p) = &v.pos else {
        f.render_widget(
            Paragraph::new("waiting for the session's position... (q quits)")
                .block(Block::bordered()),
            body,
        );
        return;
    };
    let title = match (&p.lesson, &v.lesson) {
        (None, _) => "the full launch (no lesson)".to_string(),
        (Some(l), Some(_)) => l.title.clone(),
        (Some(l), None) => format!("{} (not in these lessons: no notes)", l.title),
    };
    let mut lines = vec![
        Line::styled(title, bold()),
        Line::raw(format!("step {} of {}", p.done, p.of)),
        Line::raw(""),
    ];
    // Inside the border.
    let width = body.width.saturating_sub(2);
    lines.extend(step_lines(
        "Just taken",
        p.last.as_ref(),
        v.lesson.as_ref(),
        width,
    ));
    lines.push(Line::raw(""));
    lines.extend(step_lines(
        "Next",
        p.next.as_ref(),
        v.lesson.as_ref(),
        width,
    ));
    if let Some(l) = &v.lesson
        && !l.front.presenter_notes.is_empty()
    {
        lines.push(Line::raw(""));
        lines.push(Line::styled("For the whole lesson:", bold()));
        lines.extend(
            l.front
                .presenter_notes
                .iter()
                .flat_map(|n| hanging(n, "  • ", "    ", width)),
        );
    }
    if let Some(n) = &v.note {
        lines.push(Line::raw(""));
        lines.push(Line::styled(n.clone(), dim()));
    }
    let rest = body;
    f.render_widget(
        Paragraph::new(lines)
            .wrap(Wrap { trim: false })
            .block(Block::bordered().title(" Speaker notes  (q quits) ")),
        rest,
    );
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_full_launch_has_a_note_for_every_step() {
        for name in crate::runtime::plan::STEP_NAMES {
            assert!(walk_note(name).is_some(), "no note for {name}");
        }
    }
    use crate::session::follow::position::LessonRef;
    use ratatui::Terminal;
    use ratatui::backend::TestBackend;

    fn set() -> LessonSet {
        crate::lesson::set::builtin().unwrap()
    }

    fn screen(v: &NotesView, now: u64) -> String {
        let mut t = Terminal::new(TestBackend::new(90, 30)).unwrap();
        t.draw(|f| draw(f, v, now)).unwrap();
        crate::ui::draw::buffer_text(t.backend().buffer())
    }

    #[test]
    fn a_note_wraps_under_its_own_indent() {
        let text = |l: &Line| {
            l.spans
                .iter()
                .map(|s| s.content.as_ref())
                .collect::<String>()
        };
        let lines: Vec<String> = hanging("one two three four five six", "  • ", "    ", 20)
            .iter()
            .map(text)
            .collect();
        assert_eq!(lines, ["  • one two three", "    four five six"]);
        // A word longer than the line stays whole, on a line of its own.
        let lines: Vec<String> = hanging("a verylongwordindeed b", "  ", "  ", 12)
            .iter()
            .map(text)
            .collect();
        assert_eq!(lines, ["  a", "  verylongwordindeed", "  b"]);
    }

    #[test]
    fn the_timer_counts_from_the_session_start() {
        assert_eq!(timer(1_000, 1_000), "00:00");
        assert_eq!(timer(0, 61_999), "01:01");
        assert_eq!(timer(0, 3_723_000), "1:02:03");
        assert_eq!(timer(5_000, 1_000), "00:00");
    }

    #[test]
    fn shows_the_lesson_the_steps_their_notes_and_when_the_session_ends() {
        let set = set();
        let uts = set.get("uts").unwrap();
        let mut v = NotesView::new("unix:@underhood/7".into());
        assert!(screen(&v, 0).contains("connecting to unix:@underhood/7"));
        v.on_feed(Feed::Connected { again: false }, &set);
        v.on_feed(
            Feed::Position(Position {
                lesson: Some(LessonRef {
                    id: "uts".into(),
                    title: uts.front.title.clone(),
                }),
                started_ms: 0,
                pid: 7,
                ..Position::example()
            }),
            &set,
        );
        let s = screen(&v, 65_000);
        assert!(s.contains(&uts.front.title), "{s}");
        assert!(s.contains("step 1 of 2"), "{s}");
        assert!(s.contains("Just taken: UTS namespace"), "{s}");
        assert!(s.contains("Next: exec sleep"), "{s}");
        assert!(s.contains("01:05"), "{s}");
        let note = uts
            .step_note("uts")
            .expect("the uts lesson has a note for uts");
        let first_words: String = note
            .split_whitespace()
            .take(3)
            .collect::<Vec<_>>()
            .join(" ");
        assert!(s.contains(&first_words), "{first_words:?} in\n{s}");
        v.on_feed(
            Feed::Lost("unix:@underhood/7: the session closed the connection".into()),
            &set,
        );
        let s = screen(&v, 65_000);
        assert!(s.contains("the session ended"), "{s}");
    }

    #[test]
    fn a_run_of_passed_through_steps_shows_every_note_before_the_press() {
        let set = set();
        let net = set.get("net").unwrap();
        let mut v = NotesView::new("unix:@underhood/7".into());
        v.on_feed(Feed::Connected { again: false }, &set);
        v.on_feed(
            Feed::Position(Position {
                lesson: Some(LessonRef {
                    id: "net".into(),
                    title: net.front.title.clone(),
                }),
                done: 1,
                of: 6,
                last: Some(crate::session::follow::position::StepRef {
                    name: "net".into(),
                    title: "network namespace + veth pair".into(),
                }),
                next: Some(crate::session::follow::position::StepRef {
                    name: "mount".into(),
                    title: "mount namespace".into(),
                }),
                ..Position::example()
            }),
            &set,
        );
        let s = screen(&v, 1_000);
        assert!(
            s.contains("Next: passing through mount, pid, rootfs, pivot_root (one press)"),
            "{s}"
        );
        for step in ["mount", "pid", "rootfs", "pivot_root"] {
            assert!(
                net.step_note(step).is_some(),
                "the net lesson's {step} note"
            );
            assert!(s.contains(&format!("{step}: ")), "{step} in\n{s}");
        }
    }
}
