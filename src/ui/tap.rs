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
