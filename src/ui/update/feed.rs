//! News from the session this one follows (`--follow`): the header's status and the
//! message line change by events (so that a recording and followers see them too),
//! and a move of the followed session becomes `Command::Follow`.

use crate::session::event::Event;
use crate::session::follow::Feed;
use crate::ui::app::App;

use super::Command;

/// The events for news from the followed session, and the command to take.
pub fn on_feed(app: &mut App, feed: Feed) -> Vec<Command> {
    let Some(status) = app.follow.as_ref() else {
        return Vec::new();
    };
    let addr = status.addr.clone();
    let lost = |lost: Option<String>| {
        Command::Emit(Event::Follow {
            addr: Some(addr.clone()),
            lost,
        })
    };
    match feed {
        Feed::Connected { again } => {
            let mut out = Vec::new();
            if status.lost.is_some() {
                out.push(lost(None));
            }
            if again {
                out.push(Command::Emit(Event::info(format!(
                    "back: following {addr} again"
                ))));
            }
            out
        }
        Feed::Lost(why) => {
            let mut out = Vec::new();
            let first = status.lost.is_none();
            if status.lost.as_deref() != Some(why.as_str()) {
                out.push(lost(Some(why.clone())));
            }
            if first {
                out.push(Command::Emit(Event::error(format!(
                    "on your own: {why}; carrying on alone, retrying every second"
                ))));
            }
            out
        }
        Feed::Note(text) => vec![Command::Emit(Event::info(text))],
        // Whether it is a move is the live session's to tell (see [`crate::session::follow::moved`]).
        // Sent only to `underhood class`, which asks for it.
        Feed::Learner(_) => Vec::new(),
        Feed::Position(p) => vec![Command::Follow(p)],
    }
}

#[cfg(test)]
mod tests {
    use crate::runtime::step::Step;
    use crate::session::follow::{Feed, Position};
    use crate::ui::app::{App, FollowStatus};
    use crate::ui::update::{Command, Msg, apply_emits, update};

    fn pos(done: usize, last: Option<&str>) -> Position {
        Position::at(done, last)
    }

    fn following() -> App {
        let mut a = App::for_tests(vec![Step::Ipc, Step::Mount]);
        a.follow = Some(FollowStatus::new("127.0.0.1:7878".into()));
        a
    }

    #[test]
    fn a_move_syncs_once_and_a_repeat_leaves_the_learner_alone() {
        let mut a = following();
        let p = pos(1, Some("ipc"));
        let feed = |p: &Position| Msg::Follow(Feed::Position(p.clone()));
        assert_eq!(update(&mut a, feed(&p)), vec![Command::Follow(p.clone())]);
        let mut last = None;
        assert!(crate::session::follow::moved(&mut last, &p));
        // The heartbeat, or another publisher pid at the same place: nothing.
        let again = Position {
            pid: 9,
            ..p.clone()
        };
        assert!(!crate::session::follow::moved(&mut last, &again));
        let next = pos(2, Some("mount"));
        assert!(crate::session::follow::moved(&mut last, &next));
    }

    #[test]
    fn losing_and_finding_the_session_shows_in_the_header_words() {
        let mut a = following();
        let cmds = update(&mut a, Msg::Follow(Feed::Connected { again: false }));
        apply_emits(&mut a, cmds);
        assert_eq!(
            a.follow.as_ref().unwrap().label(),
            "following 127.0.0.1:7878"
        );
        let cmds = update(
            &mut a,
            Msg::Follow(Feed::Lost("127.0.0.1:7878: refused".into())),
        );
        apply_emits(&mut a, cmds);
        let st = a.follow.as_ref().unwrap();
        assert_eq!(st.label(), "on your own: lost 127.0.0.1:7878, retrying");
        assert!(a.message.as_ref().unwrap().text.contains("on your own"));
        let cmds = update(&mut a, Msg::Follow(Feed::Connected { again: true }));
        apply_emits(&mut a, cmds);
        assert_eq!(a.follow.as_ref().unwrap().lost, None);
        assert!(a.message.as_ref().unwrap().text.contains("again"));
    }

    #[test]
    fn keys_still_work_while_following() {
        let mut a = following();
        let right = Msg::Key(crossterm::event::KeyEvent::new(
            crossterm::event::KeyCode::Right,
            crossterm::event::KeyModifiers::NONE,
        ));
        assert_eq!(update(&mut a, right), vec![Command::Next]);
    }
}
