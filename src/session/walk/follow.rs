//! A walk that goes where a followed session is (`--follow ADDR`): its lesson, then its
//! number of steps, forward by taking steps, backward by rebuilding. What happened is
//! in the walk's outbox as events, like every command's; the front end only shows it.

use super::Walk;
use crate::lesson::set::LessonSet;
use crate::session::follow::{Following, Position, moved, target_done};

/// Where a follower stands while it catches up several steps at once (a learner
/// joining late, the instructor skipping ahead), so that the front end shows each step
/// as it is taken.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stage {
    /// The message "catching up..." is in the outbox; the next step is about to be
    /// taken (a front end draws now).
    Taking,
    /// A step of the jump was taken, or failed (a front end tells its listeners).
    Took,
}

/// The followed session's address, the lessons to switch between, and the position
/// last synced to (only a move of the instructor moves us: see [`moved`]).
#[derive(Debug, Clone)]
pub struct Follower {
    addr: String,
    lessons: LessonSet,
    last: Option<Position>,
}

impl Follower {
    pub fn new(f: &Following) -> Follower {
        Follower::to(f.addr.to_string(), f.lessons.clone())
    }

    /// Following the session at `addr` (as it is named in messages).
    pub fn to(addr: String, lessons: LessonSet) -> Follower {
        Follower {
            addr,
            lessons,
            last: None,
        }
    }

    /// Takes `walk` where `p` is, unless `p` is where it last went (a heartbeat, a
    /// reconnection). A lesson this session lacks, a rebuild or a step failing stops
    /// there (the error is in the outbox). `each` is called at each [`Stage`] of a
    /// jump of more than one step.
    pub fn go(&mut self, walk: &mut Walk, p: &Position, each: &mut dyn FnMut(&mut Walk, Stage)) {
        if !moved(&mut self.last, p) {
            return;
        }
        let addr = &self.addr;
        let ours = walk.lesson().map(|l| l.id().to_string());
        if p.lesson_id() != ours.as_deref() {
            let lesson = match p.lesson_id() {
                None => None,
                Some(id) => match self.lessons.get(id) {
                    Some(l) => Some(l.clone()),
                    None => {
                        walk.error(format!(
                            "{addr} is on lesson {id:?}, which this session's lessons lack (--lessons DIR?): staying here"
                        ));
                        return;
                    }
                },
            };
            if !walk.open_lesson(lesson) {
                return;
            }
        }
        let target = target_done(walk.steps(), p);
        if target < walk.done() && !walk.rebuild(target) {
            return;
        }
        let jump = target.saturating_sub(walk.done()) > 1;
        while walk.done() < target {
            if jump {
                walk.info(format!(
                    "catching up with {addr}: taking step {} of {target}...",
                    walk.done() + 1
                ));
                each(walk, Stage::Taking);
            }
            let ok = walk.step();
            if jump {
                each(walk, Stage::Took);
            }
            if !ok {
                return; // the step failed; its error is in the outbox
            }
        }
        let lesson = walk
            .lesson()
            .map(|l| format!("{}, ", l.front.title))
            .unwrap_or_default();
        walk.info(format!(
            "following {addr}: {lesson}step {} of {}",
            walk.done(),
            walk.steps().len()
        ));
    }
}
