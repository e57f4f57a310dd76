//! The main loop's side of `--follow`: going where the followed session is. A child
//! of `run` so that it sees the `Driver` without widening it.

use super::{App, Driver, LessonSource, options};
use crate::ui::event::Event;

impl Driver {
    /// Switches to another lesson (or, with `None`, to the full launch): the
    /// container is torn down and the new lesson's launch started, no step taken.
    pub(super) fn open_lesson(
        &mut self,
        app: &mut App,
        lesson: Option<crate::lesson::format::LessonFile>,
    ) -> bool {
        self.plan_opts = match &lesson {
            Some(l) => crate::lesson::plan::options(l),
            None => options(&self.opts),
        };
        self.opts.lesson = lesson;
        let ok = self.rebuild(app, 0);
        let lesson = self.opts.lesson.as_ref().map(LessonSource::of);
        self.emit(app, Event::Lesson { lesson });
        ok
    }

    /// Goes where the followed session is: its lesson, then its number of steps
    /// (forward by taking steps, backward by rebuilding). A jump of several steps
    /// (a learner joining late, the instructor skipping ahead) shows each one as it is
    /// taken: `redraw` draws the screen, and the taps (the instructor's class view)
    /// hear of each step.
    pub(super) fn follow(
        &mut self,
        app: &mut App,
        p: &crate::ui::follow::Position,
        redraw: &mut dyn FnMut(&App),
    ) {
        let Some(f) = self.opts.follow.as_ref() else {
            return;
        };
        let addr = f.addr.to_string();
        let ours = self.opts.lesson.as_ref().map(|l| l.id());
        if p.lesson_id() != ours {
            let lesson = match p.lesson_id() {
                None => None,
                Some(id) => match f.lessons.get(id) {
                    Some(l) => Some(l.clone()),
                    None => {
                        app.error(format!(
                            "{addr} is on lesson {id:?}, which this session's lessons lack (--lessons DIR?): staying here"
                        ));
                        return;
                    }
                },
            };
            if !self.open_lesson(app, lesson) {
                return;
            }
        }
        let target = crate::ui::follow::target_done(&app.steps, p);
        if target < app.done && !self.rebuild(app, target) {
            return;
        }
        let jump = target.saturating_sub(app.done) > 1;
        while app.done < target {
            let done = app.done;
            if jump {
                app.info(format!(
                    "catching up with {addr}: taking step {} of {target}...",
                    done + 1
                ));
                redraw(app);
            }
            self.next(app);
            if jump {
                self.taps.state(self.started.elapsed(), app);
            }
            if app.done == done {
                return; // the step failed; its error is shown
            }
        }
        let lesson = app
            .lesson
            .as_ref()
            .map(|l| format!("{}, ", l.title))
            .unwrap_or_default();
        app.info(format!(
            "following {addr}: {lesson}step {} of {}",
            app.done,
            app.steps.len()
        ));
    }
}
