//! Where a live session's events go besides its own screen: a recording file
//! (`--record`), listeners that follow where the session is (`underhood notes`,
//! `--follow`). Each is a `Tap`; the main loop hands every event to all of them before
//! applying it, and shows them the state after each change.

use std::time::Duration;

use super::app::{App, Message};
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
    /// The message line as the taps last saw it: keys set it without an event.
    message: Option<Message>,
    /// Likewise the header's follow status (set by news from the followed session).
    follow: Option<(String, Option<String>)>,
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
        if let Event::Message { message } = ev {
            self.message = message.clone();
        }
        for t in &mut self.taps {
            t.event(at, ev);
        }
    }

    /// After any change: a message line changed by a key becomes an event too.
    pub fn state(&mut self, at: Duration, app: &App) {
        if self.taps.is_empty() {
            return;
        }
        if app.message != self.message {
            let ev = Event::Message {
                message: app.message.clone(),
            };
            self.event(at, &ev);
        }
        let follow = app
            .follow
            .as_ref()
            .map(|f| (f.addr.clone(), f.lost.clone()));
        if follow != self.follow {
            self.follow = follow.clone();
            let (addr, lost) = follow.map_or((None, None), |(a, l)| (Some(a), l));
            self.event(at, &Event::Follow { addr, lost });
        }
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

#[cfg(test)]
mod tests {
    use std::sync::{Arc, Mutex};

    use super::*;
    use crate::ui::app::HostLine;
    use crate::ui::follow::FollowStatus;
    use crate::ui::theme::{Theme, ThemeKind};

    struct Seen(Arc<Mutex<Vec<Event>>>);

    impl Tap for Seen {
        fn event(&mut self, _at: Duration, ev: &Event) {
            self.0.lock().unwrap().push(ev.clone());
        }
    }

    #[test]
    fn what_keys_and_the_followed_session_change_becomes_events() {
        let seen = Arc::new(Mutex::new(Vec::new()));
        let mut taps = Taps::default();
        taps.add(Box::new(Seen(seen.clone())));
        let theme = Theme {
            kind: ThemeKind::Default,
        };
        let mut app = App::new(HostLine::default(), Vec::new(), Vec::new(), theme);
        app.info("hello");
        app.follow = Some(FollowStatus::new("10.0.0.1:7878".into()));
        taps.state(Duration::ZERO, &app);
        taps.state(Duration::ZERO, &app);
        let evs = seen.lock().unwrap().clone();
        assert_eq!(evs.len(), 2, "each change once: {evs:?}");
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
