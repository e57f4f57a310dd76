//! The main loop's side of `--follow`: going where the followed session is (its
//! lesson, then its number of steps). The walk does the going (`Walk::open_lesson`,
//! `Walk::rebuild`, `Walk::step`); this finds where.

use super::{App, Driver};
use crate::session::event::Event;

impl Driver {
    /// Goes where the followed session is: its lesson, then its number of steps
    /// (forward by taking steps, backward by rebuilding). A jump of several steps
    /// (a learner joining late, the instructor skipping ahead) shows each one as it is
    /// taken: `redraw` draws the screen, and the taps (the instructor's class view)
    /// hear of each step.
    pub(super) fn follow(
        &mut self,
        app: &mut App,
        p: &crate::session::follow::Position,
        redraw: &mut dyn FnMut(&App),
    ) {
        if !crate::ui::update::moved(&mut self.follow_last, p) {
            return;
        }
        let Some(f) = self.follow.as_ref() else {
            return;
        };
        let addr = f.addr.to_string();
        let ours = self.walk.lesson().map(|l| l.id());
        if p.lesson_id() != ours {
            let lesson = match p.lesson_id() {
                None => None,
                Some(id) => match f.lessons.get(id) {
                    Some(l) => Some(l.clone()),
                    None => {
                        let text = format!(
                            "{addr} is on lesson {id:?}, which this session's lessons lack (--lessons DIR?): staying here"
                        );
                        self.emit(app, Event::error(text));
                        return;
                    }
                },
            };
            let ok = self.walk.open_lesson(lesson);
            self.flush(app);
            if !ok {
                return;
            }
        }
        let target = crate::session::follow::target_done(self.walk.steps(), p);
        if target < self.walk.done() {
            let ok = self.walk.rebuild(target);
            self.flush(app);
            if !ok {
                return;
            }
        }
        let jump = target.saturating_sub(self.walk.done()) > 1;
        while self.walk.done() < target {
            if jump {
                let text = format!(
                    "catching up with {addr}: taking step {} of {target}...",
                    self.walk.done() + 1
                );
                self.emit(app, Event::info(text));
                redraw(app);
            }
            let ok = self.walk.step();
            self.flush(app);
            if jump {
                self.taps.state(self.walk.started().elapsed(), app);
            }
            if !ok {
                return; // the step failed; its error is shown
            }
        }
        let lesson = app
            .lesson
            .as_ref()
            .map(|l| format!("{}, ", l.title))
            .unwrap_or_default();
        let text = format!(
            "following {addr}: {lesson}step {} of {}",
            app.done,
            app.steps.len()
        );
        self.emit(app, Event::info(text));
    }
}
