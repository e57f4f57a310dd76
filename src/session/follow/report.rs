//! The learner's side of class progress: a [`Reporter`] that turns the session's
//! progress into a `progress` line when it changes (lesson, step, a check's state), and an [`Outbox`]
//! that a writer thread per connection sends back to the followed session: the hello
//! first, then the latest line at each change (at most one per [`MIN_GAP`]), and again
//! after `HEARTBEAT` of quiet.
//!
//! The main loop only ever stores a line: writing happens on the writer thread, so an
//! instructor that never reads (a session of before the class protocol) cannot stall
//! the learner's screen; that writer stops when its send buffer stays full
//! (SO_SNDTIMEO) and following goes on.

use std::io::Write;
use std::sync::{Arc, Condvar, Mutex};
use std::thread;
use std::time::Duration;

use super::learner::{Progress, Said};
use super::publish::HEARTBEAT;
use super::subscribe::{self, Feed, Stream};

/// A learner's write to a session that does not read gives up after this.
const WRITE_TIMEOUT: Duration = Duration::from_secs(5);
/// The least time between two lines: changes closer than this are sent as one (the
/// latest wins). Half the session's limit (`roster::RATE` a second), so that a
/// learner who holds → down is never dropped for it.
pub const MIN_GAP: Duration = Duration::from_millis((2000.0 / super::roster::RATE) as u64);

#[derive(Default)]
struct Slot {
    /// The latest progress line, and how many there have been.
    latest: Option<Arc<str>>,
    version: u64,
    /// Bumped at each connection: a writer of an older one ends.
    conn: u64,
    /// The session refused us on this connection (class full, not allowed to watch).
    refused: bool,
}

/// What a follower says back, shared by the main loop (which sets the latest line)
/// and the writer of the current connection.
pub struct Outbox {
    hello: String,
    slot: Mutex<Slot>,
    changed: Condvar,
}

impl Outbox {
    /// `hello`: the first line on every connection (a learner's name, or `watch`).
    pub fn new(hello: &Said) -> Arc<Outbox> {
        Arc::new(Outbox {
            hello: hello.encode(),
            slot: Mutex::default(),
            changed: Condvar::new(),
        })
    }

    /// The latest line (sent at once, and as the heartbeat).
    pub fn set(&self, line: String) {
        if let Ok(mut s) = self.slot.lock() {
            s.latest = Some(Arc::from(line));
            s.version += 1;
        }
        self.changed.notify_all();
    }

    /// The latest line and how many lines there have been: what the writer sends next.
    pub fn latest(&self) -> (u64, Option<Arc<str>>) {
        match self.slot.lock() {
            Ok(s) => (s.version, s.latest.clone()),
            Err(_) => (0, None),
        }
    }

    /// The session said no: this connection's writer stops (following goes on).
    pub fn refused(&self) {
        if let Ok(mut s) = self.slot.lock() {
            s.refused = true;
        }
        self.changed.notify_all();
    }

    /// Starts the writer of a new connection (an older one's ends).
    pub fn serve(self: &Arc<Self>, stream: Stream) {
        let conn = match self.slot.lock() {
            Ok(mut s) => {
                s.conn += 1;
                s.refused = false;
                s.conn
            }
            Err(_) => return,
        };
        self.changed.notify_all();
        stream.set_write_timeout(WRITE_TIMEOUT);
        let me = self.clone();
        thread::spawn(move || me.write_lines(conn, stream));
    }

    fn write_lines(&self, conn: u64, mut stream: Stream) {
        if stream.write_all(self.hello.as_bytes()).is_err() {
            return;
        }
        let mut sent = 0;
        loop {
            let line = {
                let Ok(mut s) = self.slot.lock() else { return };
                while s.conn == conn && !s.refused && s.version == sent {
                    let (next, wait) = match self.changed.wait_timeout(s, HEARTBEAT) {
                        Ok(x) => x,
                        Err(_) => return,
                    };
                    s = next;
                    if wait.timed_out() {
                        break;
                    }
                }
                if s.conn != conn || s.refused {
                    return;
                }
                sent = s.version;
                s.latest.clone()
            };
            // Nothing yet (a watcher says only hello): wait again.
            if let Some(line) = line {
                if stream.write_all(line.as_bytes()).is_err() {
                    return;
                }
                thread::sleep(MIN_GAP);
            }
        }
    }
}

/// The learner's reporter: a `progress` line whenever it changes (the TUI feeds it
/// after each change of its state).
pub struct Reporter {
    /// None: the learner asked not to report (`--no-report`); nothing is ever sent.
    outbox: Option<Arc<Outbox>>,
    last: Option<Progress>,
}

impl Reporter {
    pub fn new(outbox: Arc<Outbox>) -> Reporter {
        Reporter {
            outbox: Some(outbox),
            last: None,
        }
    }

    /// Where the learner is now: stored as the latest line if it changed.
    pub fn report(&mut self, p: Progress) {
        let Some(outbox) = &self.outbox else {
            return;
        };
        if self.last.as_ref() != Some(&p) {
            outbox.set(p.encode());
            self.last = Some(p);
        }
    }
}

/// `--follow`: follows `f.addr` (each feed to `sink`) and reports back as `f.name`;
/// the returned reporter is to be told the session's progress. A learner without a
/// name (`--no-report`) follows without saying hello: the session never learns who it
/// is or how far it got, and its class view does not list it.
pub fn follow(f: &super::Following, sink: impl FnMut(Feed) -> bool + Send + 'static) -> Reporter {
    let Some(name) = &f.name else {
        subscribe::spawn_saying(f.addr.clone(), None, sink);
        return Reporter {
            outbox: None,
            last: None,
        };
    };
    let outbox = Outbox::new(&Said::Hello { name: name.clone() });
    subscribe::spawn_saying(f.addr.clone(), Some(outbox.clone()), sink);
    Reporter::new(outbox)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::{BufRead, BufReader};
    use std::net::TcpListener;

    #[test]
    fn a_learner_follows_a_session_that_never_reads() {
        // A session of before the class protocol: it writes positions, reads nothing.
        let l = TcpListener::bind("127.0.0.1:0").unwrap();
        let addr: super::super::Addr = l.local_addr().unwrap().to_string().parse().unwrap();
        let o = Outbox::new(&Said::Hello { name: "ada".into() });
        let (tx, rx) = std::sync::mpsc::channel();
        subscribe::spawn_saying(addr, Some(o.clone()), move |f| tx.send(f).is_ok());
        let (mut s, _) = l.accept().unwrap();
        let t = Duration::from_secs(5);
        assert_eq!(rx.recv_timeout(t), Ok(Feed::Connected { again: false }));
        for done in 0..50 {
            o.set(format!("{{\"filler\":\"{}\"}}\n", "x".repeat(1000)));
            let p = crate::session::follow::Position {
                done,
                ..crate::session::follow::Position::example()
            };
            s.write_all(p.encode().as_bytes()).unwrap();
            assert!(matches!(rx.recv_timeout(t), Ok(Feed::Position(p)) if p.done == done));
        }
    }

    #[test]
    fn a_learner_with_no_report_follows_but_says_nothing() {
        let l = TcpListener::bind("127.0.0.1:0").unwrap();
        let addr: super::super::Addr = l.local_addr().unwrap().to_string().parse().unwrap();
        let f = super::super::Following {
            addr,
            lessons: crate::lesson::set::builtin().unwrap(),
            name: None,
        };
        let (tx, rx) = std::sync::mpsc::channel();
        let mut reporter = follow(&f, move |feed| tx.send(feed).is_ok());
        let (mut s, _) = l.accept().unwrap();
        let t = Duration::from_secs(5);
        assert_eq!(rx.recv_timeout(t), Ok(Feed::Connected { again: false }));
        reporter.report(Progress {
            lesson: Some("oom".into()),
            done: 3,
            of: 5,
            step: Some("pid".into()),
            checks: Vec::new(),
        });
        let p = crate::session::follow::Position::example();
        s.write_all(p.encode().as_bytes()).unwrap();
        assert!(matches!(rx.recv_timeout(t), Ok(Feed::Position(_))));
        // Nothing came back: no hello, no progress (a named learner's hello arrives
        // at once, see the test above).
        s.set_read_timeout(Some(Duration::from_millis(300)))
            .unwrap();
        let mut buf = [0u8; 64];
        let got = std::io::Read::read(&mut s, &mut buf);
        assert!(
            matches!(&got, Err(e) if e.kind() == std::io::ErrorKind::WouldBlock),
            "the session heard from an unnamed learner: {got:?} {:?}",
            String::from_utf8_lossy(&buf)
        );
    }

    #[test]
    fn the_hello_then_the_latest_line_then_heartbeats_and_a_new_connection_starts_over() {
        let l = TcpListener::bind("127.0.0.1:0").unwrap();
        let addr: super::super::Addr = l.local_addr().unwrap().to_string().parse().unwrap();
        let o = Outbox::new(&Said::Hello { name: "ada".into() });
        o.set("{\"one\":1}\n".into());
        o.serve(addr.connect_stream().unwrap());
        let (s, _) = l.accept().unwrap();
        let mut r = BufReader::new(s);
        let mut line = String::new();
        r.read_line(&mut line).unwrap();
        assert_eq!(line, "{\"v\":1,\"hello\":{\"name\":\"ada\"}}\n");
        line.clear();
        r.read_line(&mut line).unwrap();
        assert_eq!(line, "{\"one\":1}\n");
        o.set("{\"two\":2}\n".into());
        line.clear();
        r.read_line(&mut line).unwrap();
        assert_eq!(line, "{\"two\":2}\n");
        // Another connection: the old writer ends, the new one says hello again.
        o.serve(addr.connect_stream().unwrap());
        let (s2, _) = l.accept().unwrap();
        let mut r2 = BufReader::new(s2);
        line.clear();
        r2.read_line(&mut line).unwrap();
        assert!(line.contains("hello"), "{line}");
        line.clear();
        r2.read_line(&mut line).unwrap();
        assert_eq!(line, "{\"two\":2}\n");
        line.clear();
        assert_eq!(r.read_line(&mut line).unwrap_or(0), 0, "old: {line}");
    }
}
