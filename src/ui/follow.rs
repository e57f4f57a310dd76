//! Instructor follow, the TUI's side: its state as a position (what the session
//! publishes) and as a learner's progress (what a follower reports back), and the
//! taps that hand them to `session::follow`, where the protocol and the sockets are.

use std::time::Duration;

use super::app::App;
use super::event::Event;
use super::tap::Tap;
use crate::session::follow::learner::{CheckState, MAX_CHECKS, MAX_WHY, Progress, State, clean};
use crate::session::follow::position::{LessonRef, StepRef, VERSION};
use crate::session::follow::publish::Publisher;
use crate::session::follow::report::Reporter;
use crate::session::follow::{Feed, Following, Position};

/// Where `app` is now.
pub fn position(app: &App, started_ms: u64, pid: u32) -> Position {
    let step = |s: &crate::runtime::step::Step| StepRef {
        name: s.name().to_string(),
        title: s.title(),
    };
    Position {
        v: VERSION,
        lesson: app.lesson.as_ref().map(|l| LessonRef {
            id: l.id.clone(),
            title: l.title.clone(),
        }),
        done: app.done,
        of: app.steps.len(),
        last: app.last_step().map(step),
        next: app.next_step().map(step),
        started_ms,
        pid,
        following: app.follow.as_ref().map(|f| f.addr.clone()),
    }
}

/// Where `app` is, as a learner reports it. Reasons are cut to [`MAX_WHY`].
pub fn progress(app: &App) -> Progress {
    let checks = app
        .lesson
        .as_ref()
        .map(|l| {
            l.checks
                .iter()
                .take(MAX_CHECKS)
                .map(|c| {
                    let (state, why) = match &c.outcome {
                        None => (State::NotYet, None),
                        Some(o) if o.passed => (State::Passed, None),
                        Some(o) => (State::Failed, Some(clean(&o.detail, MAX_WHY))),
                    };
                    CheckState {
                        id: c.id.clone(),
                        state,
                        why,
                    }
                })
                .collect()
        })
        .unwrap_or_default();
    Progress {
        lesson: app.lesson.as_ref().map(|l| l.id.clone()),
        done: app.done as u32,
        of: app.steps.len() as u32,
        step: app.last_step().map(|s| s.name().to_string()),
        checks,
    }
}

/// The publisher is told the position after every change (it sends only new ones).
impl Tap for Publisher {
    fn event(&mut self, _at: Duration, _ev: &Event) {}

    fn state(&mut self, _at: Duration, app: &App) {
        let p = position(app, self.started_ms(), self.pid());
        self.publish(p);
    }

    fn finish(&mut self) {
        Publisher::finish(self);
    }
}

/// A follower's reporter is told its progress after every change.
impl Tap for Reporter {
    fn event(&mut self, _at: Duration, _ev: &Event) {}

    fn state(&mut self, _at: Duration, app: &App) {
        self.report(progress(app));
    }
}

/// `--follow`: follows `f.addr` (each feed to `sink`) and reports back as `f.name`;
/// the returned tap is to be added to the session's taps.
pub fn follow(f: &Following, sink: impl FnMut(Feed) -> bool + Send + 'static) -> Box<dyn Tap> {
    Box::new(crate::session::follow::report::follow(f, sink))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::runtime::step::Step;
    use crate::session::follow::learner::Said;
    use crate::session::follow::report::Outbox;
    use crate::ui::app::{FollowStatus, HostLine, LessonView};
    use crate::ui::theme::{Theme, ThemeKind};

    fn following() -> App {
        let mut a = App::for_tests(vec![Step::Ipc, Step::Mount]);
        a.follow = Some(FollowStatus::new("127.0.0.1:7878".into()));
        a
    }

    fn header(a: &App) -> String {
        let mut t = ratatui::Terminal::new(ratatui::backend::TestBackend::new(120, 40)).unwrap();
        t.draw(|f| crate::ui::draw::draw(f, a)).unwrap();
        let buf = t.backend().buffer();
        (0..120).map(|x| buf[(x, 0)].symbol()).collect()
    }

    #[test]
    fn the_header_says_whom_we_follow_or_that_we_are_alone() {
        let mut a = following();
        assert!(
            header(&a).contains("step 0/2 · following 127.0.0.1:7878 ·"),
            "{}",
            header(&a)
        );
        a.follow.as_mut().unwrap().lost = Some("gone".into());
        assert!(
            header(&a).contains("· on your own: lost 127.0.0.1:7878, retrying ·"),
            "{}",
            header(&a)
        );
        a.follow = None;
        assert!(!header(&a).contains("follow"), "{}", header(&a));
    }

    #[test]
    fn the_position_says_where_the_app_is_and_whom_it_follows() {
        let mut a = following();
        a.done = 1;
        let p = position(&a, 5, 42);
        assert_eq!(
            (p.v, p.done, p.of, p.started_ms, p.pid),
            (VERSION, 1, 2, 5, 42)
        );
        assert_eq!(p.lesson, None);
        assert_eq!(p.last.map(|s| s.name), Some("ipc".into()));
        assert_eq!(p.next.map(|s| s.name), Some("mount".into()));
        assert_eq!(p.following.as_deref(), Some("127.0.0.1:7878"));
    }

    fn latest(o: &Outbox) -> (u64, Option<Progress>) {
        let (v, l) = o.latest();
        let p = l.map(|l| match Said::decode(&l) {
            Ok(Said::Progress(p)) => p,
            other => panic!("{other:?}"),
        });
        (v, p)
    }

    #[test]
    fn the_tap_reports_each_change_of_step_or_check_and_nothing_else() {
        let set = crate::lesson::set::builtin().unwrap();
        let mut app = App::new(
            HostLine::default(),
            vec![Step::Mount, Step::Pid],
            Vec::new(),
            Theme {
                kind: ThemeKind::Default,
            },
        );
        app.lesson = Some(LessonView::from_file(set.get("oom").unwrap()));
        let o = Outbox::new(&Said::Hello { name: "ada".into() });
        let mut tap = Reporter::new(o.clone());
        let at = Duration::ZERO;
        tap.state(at, &app);
        let (v, p) = latest(&o);
        let p = p.unwrap();
        assert_eq!(
            (v, p.lesson.as_deref(), p.done, p.of),
            (1, Some("oom"), 0, 2)
        );
        assert!(p.checks.iter().all(|c| c.state == State::NotYet));
        // A redraw with nothing changed: no line.
        app.zoom = true;
        tap.state(at, &app);
        assert_eq!(latest(&o).0, 1);
        app.done = 1;
        tap.state(at, &app);
        let (v, p) = latest(&o);
        assert_eq!((v, p.unwrap().step.as_deref()), (2, Some("mount")));
        let check = &mut app.lesson.as_mut().unwrap().checks[0];
        check.outcome = Some(crate::lesson::check::Outcome {
            passed: false,
            detail: "no kill yet\u{1b}[31m".into(),
        });
        tap.state(at, &app);
        let c0 = latest(&o).1.unwrap().checks[0].clone();
        assert_eq!(c0.state, State::Failed);
        assert_eq!(c0.why.as_deref(), Some("no kill yet\\u{1b}[31m"));
        app.lesson.as_mut().unwrap().checks[0].outcome = Some(crate::lesson::check::Outcome {
            passed: true,
            detail: "1 kill".into(),
        });
        tap.state(at, &app);
        let (v, p) = latest(&o);
        assert_eq!((v, p.unwrap().checks[0].state), (4, State::Passed));
    }
}
