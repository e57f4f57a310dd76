//! Where a live session's events go besides its own screen: a recording file
//! (`--record`), listeners that follow where the session is (`underhood notes`,
//! `--follow`). Each is a `Tap`; the main loop hands every event to all of them before
//! applying it, and shows them the state after each change. Every change to what is
//! shown is an event (the message line and the follow status included, see
//! `update`), so a tap never has to compare states to find one.

use std::time::Duration;

use super::app::App;
use super::event::Event;

pub trait Tap {
    /// The main loop starts handling one message (a key, a sample, a signal): what
    /// follows until the next `begin` is its doing.
    fn begin(&mut self) {}
    /// An event, `at` the time since the session started, before it is applied.
    fn event(&mut self, at: Duration, ev: &Event);
    /// The state after a change (keys included).
    fn state(&mut self, _at: Duration, _app: &App) {}
    /// The session ends: flush what is buffered, say goodbye.
    fn finish(&mut self) {}
}

#[derive(Default)]
pub struct Taps {
    taps: Vec<Box<dyn Tap>>,
}

impl Taps {
    pub fn add(&mut self, tap: Box<dyn Tap>) {
        self.taps.push(tap);
    }

    pub fn is_empty(&self) -> bool {
        self.taps.is_empty()
    }

    pub fn begin(&mut self) {
        for t in &mut self.taps {
            t.begin();
        }
    }

    pub fn event(&mut self, at: Duration, ev: &Event) {
        for t in &mut self.taps {
            t.event(at, ev);
        }
    }

    /// After any change.
    pub fn state(&mut self, at: Duration, app: &App) {
        for t in &mut self.taps {
            t.state(at, app);
        }
    }

    pub fn finish(&mut self) {
        for t in &mut self.taps {
            t.finish();
        }
    }
}

/// The recording (`--record`): every event, batched by the message that caused it.
impl Tap for crate::session::recording::Recorder {
    fn begin(&mut self) {
        crate::session::recording::Recorder::begin(self);
    }

    fn event(&mut self, at: Duration, ev: &Event) {
        crate::session::recording::Recorder::event(self, at, ev);
    }

    fn finish(&mut self) {
        // The terminal is restored by now: say where the recording went.
        let line = crate::session::recording::Recorder::finish(self);
        super::terminal::say(&line);
    }
}

#[cfg(test)]
mod tests {
    use std::sync::{Arc, Mutex};

    use super::*;
    use crate::ui::app::{FollowStatus, HostLine};
    use crate::ui::theme::{Theme, ThemeKind};
    use crate::ui::update::{Command, Msg, update};

    struct Seen(Arc<Mutex<Vec<Event>>>);

    impl Tap for Seen {
        fn event(&mut self, _at: Duration, ev: &Event) {
            self.0.lock().unwrap().push(ev.clone());
        }
    }

    #[test]
    fn what_keys_and_the_followed_session_change_reaches_the_taps_as_events() {
        let seen = Arc::new(Mutex::new(Vec::new()));
        let mut taps = Taps::default();
        taps.add(Box::new(Seen(seen.clone())));
        let theme = Theme {
            kind: ThemeKind::Default,
        };
        let mut app = App::new(HostLine::default(), Vec::new(), Vec::new(), theme);
        app.follow = Some(FollowStatus::new("10.0.0.1:7878".into()));
        // As the main loop does: each event to the taps, then applied.
        let mut run = |app: &mut App, msg: Msg| {
            for c in update(app, msg) {
                if let Command::Emit(ev) = c {
                    taps.event(Duration::ZERO, &ev);
                    app.apply(ev);
                }
            }
        };
        let left = crossterm::event::KeyEvent::new(
            crossterm::event::KeyCode::Left,
            crossterm::event::KeyModifiers::NONE,
        );
        run(&mut app, Msg::Key(left));
        let lost = crate::session::follow::Feed::Lost("refused".into());
        run(&mut app, Msg::Follow(lost));
        let evs = seen.lock().unwrap().clone();
        assert_eq!(
            evs.len(),
            3,
            "the message, the status, its message: {evs:?}"
        );
        // Replayed on a fresh App, they give the same header and message line.
        let mut replayed = App::new(HostLine::default(), Vec::new(), Vec::new(), theme);
        for ev in evs {
            replayed.apply(ev);
        }
        assert_eq!(replayed.message, app.message);
        assert_eq!(
            replayed.follow.map(|f| f.label()),
            app.follow.map(|f| f.label())
        );
    }
}
