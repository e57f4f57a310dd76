//! Where we are, what the next step will do and why, and what the last one did.

use ratatui::Frame;
use ratatui::layout::Rect;
use ratatui::text::{Line, Span};
use ratatui::widgets::{Paragraph, Wrap};

use crate::lesson::explain;
use crate::ui::app::{App, LessonView, Pane};
use crate::ui::scroll::{self, Geometry};

pub fn draw(f: &mut Frame, app: &App, area: Rect) {
    let (lines, title) = content(app, area);
    let g = geometry(app, area);
    let offset = g.offset(app.scrolled(Pane::Step));
    let p = Paragraph::new(lines)
        .wrap(Wrap { trim: false })
        .scroll((offset as u16, 0))
        .block(scroll::marked(
            crate::ui::draw::block(app, Pane::Step, title),
            g,
            offset,
            app.theme,
        ));
    super::cache::widget(f, "step", p, area, app.theme.text());
}

/// The pane's wrapped lines against its room (a lesson's check list may be below).
pub fn geometry(app: &App, area: Rect) -> Geometry {
    let (lines, _) = content(app, area);
    let inner_w = area.width.saturating_sub(2).max(1);
    Geometry {
        total: Paragraph::new(lines)
            .wrap(Wrap { trim: false })
            .line_count(inner_w),
        visible: area.height.saturating_sub(2) as usize,
        auto: 0,
    }
}

fn content(app: &App, area: Rect) -> (Vec<Line<'static>>, String) {
    if app.lesson.is_some() {
        return lesson(app, area);
    }
    walk(app)
}

/// The default walk: what the last step did, what the next will do.
fn walk(app: &App) -> (Vec<Line<'static>>, String) {
    let t = app.theme;
    let total = app.steps.len();
    let mut lines: Vec<Line> = Vec::new();
    if app.message.is_some() {
        lines.extend(message_lines(app));
        lines.push(Line::raw(""));
    }
    // Where the cgroup step would have been, first: the one line a rootless learner
    // must not miss.
    lines.extend(skipped_line(app));
    if let Some(last) = app.last_step() {
        lines.push(Line::from(vec![
            Span::styled("done: ", t.ok()),
            Span::styled(last.title(), t.title()),
        ]));
        if let Some(r) = &app.step_report {
            for n in &r.notes {
                lines.push(Line::raw(format!("  · {n}")));
            }
        }
        lines.push(Line::raw(""));
    }
    match app.next_step() {
        Some(next) => {
            lines.push(Line::from(vec![
                Span::styled(format!("next ({}/{total}): ", app.done + 1), t.dim()),
                Span::styled(next.title(), t.title()),
            ]));
            lines.push(Line::raw(crate::lesson::purpose::purpose(next)));
            lines.push(Line::from(Span::styled("press → to take it", t.dim())));
        }
        None => {
            lines.push(Line::from(Span::styled(
                format!("all {total} steps done: this is a container."),
                t.title(),
            )));
            lines.push(Line::raw(if app.limits_memory() {
                "Press s for a shell inside it (try hostname, ps, mount, id, ip link), m to run the memory hog into the limit, b to go back."
            } else {
                "Press s for a shell inside it (try hostname, ps, mount, id, ip link), b to go back."
            }));
        }
    }
    let title = format!("Step {}/{}", app.done, total);
    (lines, title)
}

/// What to do once no step is left: in the container's shell (s), or, in a lesson
/// made by hand (which has no steps at all), in the host shell (h) where the learner
/// builds the container.
fn done_line(l: &LessonView) -> &'static str {
    if l.by_hand {
        "made by hand: do it in the host shell (h), then check (c)"
    } else {
        "all steps done: try it in the shell (s), then check (c)"
    }
}

/// The heading of a lesson's `[[try]]` commands: the shell they are typed in.
fn tries_heading(l: &LessonView) -> &'static str {
    if l.by_hand {
        "Try in the host shell (h):"
    } else {
        "Try in the shell (s):"
    }
}

/// In a lesson: its text for where the learner is, then its checks.
fn lesson(app: &App, area: Rect) -> (Vec<Line<'static>>, String) {
    let t = app.theme;
    let Some(l) = &app.lesson else {
        return (Vec::new(), String::new());
    };
    let total = app.steps.len();
    let mut lines: Vec<Line> = Vec::new();
    if let Some(m) = &app.message {
        let style = if m.error { t.error() } else { t.changed() };
        lines.push(Line::from(Span::styled(m.text.clone(), style)));
        lines.push(Line::raw(""));
    }
    // The session's own root-ness (recorded with it), not the viewer's: a replay
    // without root shows what the live session showed.
    if !app.host.root
        && let Some(note) = &l.rootless_note
    {
        lines.push(Line::from(Span::styled(
            format!("rootless: {note}"),
            t.dim(),
        )));
    }
    lines.extend(skipped_line(app));
    let next = app.next_step();
    let passing = app.pass_run_steps();
    match next {
        Some(_) if !passing.is_empty() => {
            let width = area.width.saturating_sub(2) as usize;
            lines.extend(passing_lines(app, &passing, width))
        }
        Some(s) => lines.push(Line::from(vec![
            Span::styled(format!("next ({}/{total}): ", app.done + 1), t.dim()),
            Span::styled(s.title(), t.title()),
            Span::styled("  → takes it", t.dim()),
        ])),
        None => lines.push(Line::from(Span::styled(done_line(l), t.title()))),
    }
    // A passed-through step has no section of its own: its line above is all.
    let mut section = if passing.is_empty() {
        l.section_for(next.map(|s| s.name()))
    } else {
        String::new()
    };
    if app.done == 0 {
        // At the start, the lesson's introduction comes first.
        let intro = l.section_for(None);
        if section.is_empty() {
            section = intro;
        } else if intro != section {
            section = format!("{intro}\n{section}");
        }
    }
    if !section.is_empty() {
        lines.push(Line::raw(""));
        lines.extend(crate::ui::markdown::render(&section, t));
    }
    if next.is_none() && !l.tries.is_empty() {
        lines.push(Line::raw(""));
        lines.push(Line::from(Span::styled(tries_heading(l), t.title())));
        for (cmd, why) in &l.tries {
            lines.push(Line::from(vec![
                Span::styled(format!("  $ {cmd}"), t.changed()),
                Span::styled(
                    if why.is_empty() {
                        String::new()
                    } else {
                        format!("  {why}")
                    },
                    t.dim(),
                ),
            ]));
        }
    }
    if !l.checks.is_empty() {
        lines.push(Line::raw(""));
        let passed = l
            .checks
            .iter()
            .filter(|c| c.outcome.as_ref().is_some_and(|o| o.passed))
            .count();
        lines.push(Line::from(Span::styled(
            format!("Checks {passed}/{} (c to check now)", l.checks.len()),
            t.title(),
        )));
        for c in &l.checks {
            let (mark, style) = match &c.outcome {
                Some(o) if o.passed => ("✓", t.ok()),
                Some(_) => ("✗", t.error()),
                None => ("·", t.dim()),
            };
            lines.push(Line::from(vec![
                Span::styled(format!(" {mark} "), style),
                Span::raw(c.say.clone()),
            ]));
            if let Some(o) = &c.outcome {
                lines.push(Line::from(Span::styled(
                    format!("     {}", o.detail),
                    t.dim(),
                )));
            }
        }
        if l.all_passed() {
            lines.push(Line::from(Span::styled("Lesson passed!", t.ok())));
        }
    }
    // The step count is left out when the pane is too narrow for all of it (the
    // header says it too; the lesson's title is what a cut would lose).
    let full = format!(
        "Lesson {} · {} · step {}/{}",
        l.order, l.title, app.done, total
    );
    let room = area.width.saturating_sub(4) as usize;
    let title = if full.chars().count() <= room {
        full
    } else {
        crate::ui::draw::fit_end(&format!("Lesson {} · {}", l.order, l.title), room)
    };
    (lines, title)
}

/// A run of steps this lesson only passes through: their names on one line, taken
/// with one key press, then one line each: the step, the lesson that explains it, and
/// what it does as far as the pane's width allows.
fn passing_lines(
    app: &App,
    run: &[(&'static str, String, String)],
    width: usize,
) -> Vec<Line<'static>> {
    let t = app.theme;
    let (first, last) = (app.done + 1, app.done + run.len());
    let at = if first == last {
        format!("{first}/{}", app.steps.len())
    } else {
        format!("{first}-{last}/{}", app.steps.len())
    };
    let names: Vec<&str> = run.iter().map(|(n, _, _)| *n).collect();
    let mut lines = vec![Line::from(vec![
        Span::styled(format!("next ({at}), passing through: "), t.dim()),
        Span::styled(names.join(", "), t.title()),
        Span::styled(
            if run.len() == 1 {
                "  → takes it"
            } else {
                "  → takes them all"
            },
            t.dim(),
        ),
    ])];
    let name_w = names.iter().map(|n| n.chars().count()).max().unwrap_or(0);
    let to_w = run
        .iter()
        .map(|(_, _, to)| to.chars().count())
        .max()
        .unwrap_or(0);
    for (name, title, to) in run {
        let head = format!("  {name:<name_w$}  lesson {to:<to_w$}");
        let room = width.saturating_sub(head.chars().count() + 2);
        let what = if room >= 14 {
            format!("  {}", crate::ui::draw::fit_end(title, room))
        } else {
            String::new()
        };
        lines.push(Line::from(vec![
            Span::raw(head),
            Span::styled(what, t.dim()),
        ]));
    }
    lines
}

/// "skipped: cgroup limits" and why, once the walk has reached the place the step
/// would have taken (and at the start, so that nobody waits for it).
fn skipped_line(app: &App) -> Vec<Line<'static>> {
    let t = app.theme;
    let Some(why) = &app.cgroup_skipped else {
        return Vec::new();
    };
    let at = app.cgroup_skipped_at();
    if app.done != at && app.done != 0 {
        return Vec::new();
    }
    let line = if app.done == at {
        Line::from(vec![
            Span::styled("cgroup limits skipped: ", t.error()),
            Span::raw(why.clone()),
        ])
    } else {
        // At the start, a short note: the whole reason comes where the step would.
        Line::from(Span::styled(
            format!("cgroup step skipped (why: after step {at})"),
            t.dim(),
        ))
    };
    vec![line, Line::raw("")]
}

/// The message line, and for an error whose text ends in `= ERRNO`, what that errno
/// means here.
pub(crate) fn message_lines(app: &App) -> Vec<Line<'static>> {
    let t = app.theme;
    let Some(m) = &app.message else {
        return Vec::new();
    };
    let style = if m.error { t.error() } else { t.changed() };
    let mut lines = vec![Line::from(Span::styled(m.text.clone(), style))];
    // The errno kept with the message; in a recording made before it was kept, the
    // one its text names after ` = ` (a failed call as the report words it).
    let why = m.errno().and_then(explain::why).or_else(|| {
        m.errno
            .is_none()
            .then(|| m.text.split(" = ").nth(1).and_then(explain::errno))
            .flatten()
    });
    if m.error
        && let Some(why) = why
    {
        lines.push(Line::from(Span::styled(format!("why: {why}"), t.error())));
    }
    lines
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The step pane's text for lesson `id` once no step is left.
    fn text(id: &str) -> String {
        let set = crate::lesson::set::builtin().unwrap();
        let mut app = App::for_tests(Vec::new());
        app.lesson = Some(LessonView::from_file(set.get(id).unwrap()));
        let (lines, _) = lesson(&app, Rect::new(0, 0, 100, 40));
        lines
            .iter()
            .map(|l| {
                l.spans
                    .iter()
                    .map(|s| s.content.as_ref())
                    .collect::<String>()
            })
            .collect::<Vec<_>>()
            .join("\n")
    }

    #[test]
    fn a_lesson_made_by_hand_points_at_the_host_shell() {
        for id in ["by-hand-unshare", "by-hand-rootfs", "by-hand-cgroup"] {
            let t = text(id);
            assert!(
                t.contains("made by hand: do it in the host shell (h), then check (c)"),
                "{id}: {t}"
            );
            assert!(t.contains("Try in the host shell (h):"), "{id}: {t}");
            assert!(!t.contains("the shell (s)"), "{id}: {t}");
        }
        let t = text("uts");
        assert!(
            t.contains("all steps done: try it in the shell (s), then check (c)"),
            "{t}"
        );
        assert!(t.contains("Try in the shell (s):"), "{t}");
    }

    #[test]
    fn a_failed_call_is_explained_from_its_kept_errno_or_an_old_recordings_text() {
        use crate::session::event::Message;
        let why = |m: Message| {
            let mut app = App::for_tests(Vec::new());
            app.message = Some(m);
            message_lines(&app).get(1).map(|l| {
                l.spans
                    .iter()
                    .map(|s| s.content.as_ref())
                    .collect::<String>()
            })
        };
        let eperm = format!("why: {}", explain::why(nix::errno::Errno::EPERM).unwrap());
        // Kept as a value: the text need not name it.
        let typed = Message::failed("mount failed", Some(nix::errno::Errno::EPERM));
        assert_eq!(why(typed).as_deref(), Some(eperm.as_str()));
        // A recording made before: read from the failed call's text.
        let old =
            Message::error("mount failed: mount(none, /, MS_REC) = EPERM: Operation not permitted");
        assert_eq!(why(old).as_deref(), Some(eperm.as_str()));
        // An errno kept is the one explained, whatever the text says.
        let both = Message::failed("x failed: x() = EPERM", Some(nix::errno::Errno::ENOENT));
        assert!(why(both).is_some_and(|w| w.contains("no such file")));
        assert_eq!(why(Message::info("hog grows = EPERM")), None);
    }

    /// The whole screen at `w` x `h` with the shipped lesson `id` open, no step taken.
    fn lesson_screen(id: &str, w: u16, h: u16) -> String {
        let set = crate::lesson::set::builtin().unwrap();
        let mut app = App::for_tests(Vec::new());
        app.lesson = Some(LessonView::from_file(set.get(id).unwrap()));
        let mut term = ratatui::Terminal::new(ratatui::backend::TestBackend::new(w, h)).unwrap();
        term.draw(|f| crate::ui::draw::draw(f, &app)).unwrap();
        crate::ui::draw::buffer_text(term.backend().buffer())
    }

    #[test]
    fn the_footer_offers_the_host_shell_first_in_a_lesson_made_by_hand() {
        let footer = |id: &str| {
            lesson_screen(id, 80, 24)
                .lines()
                .last()
                .unwrap()
                .to_string()
        };
        let by_hand = footer("by-hand-unshare");
        assert!(
            by_hand.trim_start().starts_with("h  host shell"),
            "{by_hand}"
        );
        let uts = footer("uts");
        assert!(!uts.contains("host shell"), "{uts}");
    }

    #[test]
    fn a_lesson_made_by_hand_says_the_panes_wait_for_the_learners_container() {
        let by_hand = lesson_screen("by-hand-unshare", 200, 50);
        assert!(
            by_hand.contains("none isolated yet: make your container in the host shell (h)"),
            "{by_hand}"
        );
        assert!(by_hand.contains("By hand 3 makes one"), "{by_hand}");
        let small = lesson_screen("by-hand-unshare", 80, 24);
        assert!(small.contains("Namespaces: none isolated yet ─"), "{small}");
        let uts = lesson_screen("uts", 200, 50);
        assert!(uts.contains("Namespaces: 0/8 isolated"), "{uts}");
        assert!(!uts.contains("idle process"), "{uts}");
    }

    #[test]
    fn a_lesson_made_by_hand_shows_the_learners_container_once_it_exists() {
        use crate::ns::Ns;
        use crate::observe::namespaces::{NsFile, NsLink};
        let link = NsLink::of_inode;
        let set = crate::lesson::set::builtin().unwrap();
        let mut app = App::for_tests(Vec::new());
        app.lesson = Some(LessonView::from_file(set.get("by-hand-unshare").unwrap()));
        app.host_ns = Ns::BY_FILE
            .iter()
            .enumerate()
            .map(|(i, k)| link(NsFile::of(*k), 100 + i as u64))
            .collect();
        // underhood's idle process: every namespace the host's.
        let idle = crate::observe::ptree::Proc {
            pid: 42,
            ppid: 41,
            comm: "underhood-init".into(),
            cmdline: None,
            state: crate::observe::ptree::ProcState::Sleeping,
            start_time: 0,
            status: Default::default(),
            uid_map: None,
            gid_map: None,
        };
        app.snap = Some(crate::observe::snapshot::Snapshot {
            ns: app.host_ns.clone(),
            tree: vec![crate::observe::ptree::ProcNode {
                depth: 0,
                proc: idle,
            }],
            ..Default::default()
        });
        assert!(app.waiting_for_by_hand());
        let mut term = ratatui::Terminal::new(ratatui::backend::TestBackend::new(200, 50)).unwrap();
        term.draw(|f| crate::ui::draw::draw(f, &app)).unwrap();
        let screen = crate::ui::draw::buffer_text(term.backend().buffer());
        assert!(
            screen.contains("Processes: underhood's idle process, until your container exists"),
            "{screen}"
        );
        // The learner's unshare --uts: one namespace of its own.
        let mut ns = app.host_ns.clone();
        for l in ns.iter_mut().filter(|l| l.kind.ns() == Ns::Uts) {
            l.inode = l.inode.map(|i| i + 1000);
        }
        app.snap = Some(crate::observe::snapshot::Snapshot {
            ns,
            ..Default::default()
        });
        assert!(!app.waiting_for_by_hand());
        let mut term = ratatui::Terminal::new(ratatui::backend::TestBackend::new(200, 50)).unwrap();
        term.draw(|f| crate::ui::draw::draw(f, &app)).unwrap();
        let screen = crate::ui::draw::buffer_text(term.backend().buffer());
        assert!(screen.contains("Namespaces: 1/8 isolated"), "{screen}");
        assert!(!screen.contains("idle process"), "{screen}");
    }
}
