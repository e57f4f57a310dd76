//! Instructor follow, the wire and the network: every TUI session says where it is
//! (lesson, step) to whoever listens, and a session started with `--follow ADDR` goes
//! where another one is. Nothing here draws: `ui::follow` turns the TUI's state into
//! positions and progress, `ui::notes` and `ui::class` show what comes back.
//!
//! - `position`: the protocol, one JSON object per line, versioned.
//! - `publish`: the publisher that serves it on `@underhood/<pid>` (an abstract unix
//!   socket, unix(7)) and, with `--publish ADDR`, on TCP for a classroom.
//! - `subscribe`: the client side (`--follow ADDR`, `underhood notes`): connects,
//!   reads positions, says when the connection is lost and when it is back.
//! - `discover`: the sessions running on this machine, from /proc/net/unix.
//!
//! - `learner`, `roster`, `classroom`, `report`: class progress. A follower says back,
//!   on the same connection, its name and where it stands (`learner`: the lines;
//!   `report`: the follower's side); the session keeps the class (`roster`, pure) and
//!   tells it to `underhood class` (`classroom`: the reading side).
//!
//! Following itself stays one way: nothing a follower says moves the session.

pub mod classroom;
pub mod discover;
pub mod learner;
pub mod position;
pub mod publish;
pub mod report;
pub mod roster;
pub mod subscribe;

pub use position::Position;
pub use subscribe::{Addr, Feed};

/// What `--follow` needs besides the address: the lessons to switch between (the
/// same set `--lessons DIR` or the shipped ones give).
#[derive(Debug, Clone)]
pub struct Following {
    pub addr: Addr,
    pub lessons: crate::lesson::set::LessonSet,
    /// The name the instructor's class view shows (`--name`, default user@host);
    /// None with `--no-report`: follow without reporting progress.
    pub name: Option<String>,
}

/// How many of `steps` to have done to be where `p` is. By the name of the step just
/// taken when we have it (a learner without root has an extra `user` step first),
/// else by count; never more than we have.
pub fn target_done(steps: &[crate::runtime::step::Step], p: &Position) -> usize {
    if p.done == 0 {
        return 0;
    }
    if let Some(last) = &p.last
        && let Some(i) = steps.iter().position(|s| s.name() == last.name)
    {
        return i + 1;
    }
    p.done.min(steps.len())
}

/// Whether `p` is a move from `last`, the position last synced to (kept then): only a
/// move of the instructor moves us; a heartbeat or a reconnection to the same place
/// leaves a learner who explores alone.
pub fn moved(last: &mut Option<Position>, p: &Position) -> bool {
    if last.as_ref().is_some_and(|l| l.same_place(p)) {
        return false;
    }
    *last = Some(p.clone());
    true
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::runtime::step::Step;

    fn pos(done: usize, last: Option<&str>) -> Position {
        Position::at(done, last)
    }

    #[test]
    fn the_target_is_found_by_step_name_then_by_count() {
        let id = crate::runtime::step::IdMap {
            inside: 0,
            outside: 1000,
            count: 1,
        };
        let steps = [Step::User { uid: id, gid: id }, Step::Ipc, Step::Mount];
        assert_eq!(target_done(&steps, &pos(0, None)), 0);
        // The instructor (root) took ipc as step 1; this rootless learner has user first.
        assert_eq!(target_done(&steps, &pos(1, Some("ipc"))), 2);
        assert_eq!(target_done(&steps, &pos(2, Some("warp"))), 2);
        assert_eq!(target_done(&steps, &pos(9, None)), 3);
    }
}
