//! Class progress over loopback, with the real pieces and no root: an instructor's
//! publisher on 127.0.0.1, twenty learners on TCP (fourteen with the learner's own
//! code, `report::Outbox` over `subscribe`; three that send garbage; three that say
//! hello and vanish), and `underhood class`'s view watching on the session's unix
//! socket. The view must show each learner as they are: their checks and steps, the
//! garbage senders gone with the rule they broke, the vanished gone, nobody else hurt.
//!
//! Waits are bounded (seconds) and say what they waited for; nothing is timed: the
//! latency is measured by `examples/class_latency.rs`.

use std::io::{BufRead, BufReader, Write};
use std::net::TcpStream;
use std::sync::Arc;
use std::sync::mpsc::{self, Receiver};
use std::time::{Duration, Instant};

use underhood::session::follow::learner::{CheckState, Progress, Said, State};
use underhood::session::follow::position::{LessonRef, Position, VERSION};
use underhood::session::follow::publish::Publisher;
use underhood::session::follow::report::Outbox;
use underhood::session::follow::{Addr, Feed, subscribe};
use underhood::ui::class::ClassView;

const LIMIT: Duration = Duration::from_secs(30);

fn oom(done: usize) -> Position {
    Position {
        v: VERSION,
        lesson: Some(LessonRef {
            id: "oom".into(),
            title: "The OOM kill".into(),
        }),
        done,
        of: 5,
        last: None,
        next: None,
        started_ms: 0,
        pid: std::process::id(),
        following: None,
    }
}

fn progress(done: u32, killed: bool) -> String {
    Progress {
        lesson: Some("oom".into()),
        done,
        of: 5,
        step: Some("pivot_root".into()),
        checks: vec![
            CheckState {
                id: "oom-killed".into(),
                state: if killed { State::Passed } else { State::NotYet },
                why: None,
            },
            CheckState {
                id: "counter-read".into(),
                state: State::Failed,
                why: Some("you wrote: nothing".into()),
            },
        ],
    }
    .encode()
}

/// A learner as the TUI makes one: the hello and each progress line from its outbox.
fn learner(addr: &Addr, name: &str) -> Arc<Outbox> {
    let o = Outbox::new(&Said::Hello { name: name.into() });
    subscribe::spawn_saying(addr.clone(), Some(o.clone()), |_| true);
    o
}

/// The instructor's `underhood class`: its view, fed by the real subscription.
struct Watcher {
    view: ClassView,
    rx: Receiver<Feed>,
    set: underhood::lesson::set::LessonSet,
}

impl Watcher {
    fn start() -> Watcher {
        let addr = Addr::session(std::process::id());
        let (tx, rx) = mpsc::channel();
        let o = Outbox::new(&Said::Watch {});
        subscribe::spawn_saying(addr.clone(), Some(o), move |f| tx.send(f).is_ok());
        Watcher {
            view: ClassView::new(addr.to_string()),
            rx,
            set: underhood::lesson::set::builtin().expect("the shipped lessons"),
        }
    }

    /// Feeds the view until `ok` holds; panics with `what` and the view after LIMIT.
    fn until(&mut self, what: &str, ok: impl Fn(&ClassView) -> bool) {
        let start = Instant::now();
        while !ok(&self.view) {
            let left = LIMIT.saturating_sub(start.elapsed());
            match self.rx.recv_timeout(left) {
                Ok(f) => self.view.on_feed(f, &self.set, 0),
                Err(_) => panic!("waited {LIMIT:?} for {what}; the class: {:#?}", self.rows()),
            }
        }
    }

    fn rows(&self) -> Vec<(String, Option<String>, Option<u32>)> {
        self.view
            .rows()
            .iter()
            .map(|e| {
                (
                    e.name.clone(),
                    e.gone.clone(),
                    e.progress.as_ref().map(|p| p.done),
                )
            })
            .collect()
    }
}

fn gone_why(v: &ClassView, name: &str) -> Option<String> {
    v.rows()
        .iter()
        .find(|e| e.name == name)
        .and_then(|e| e.gone.clone())
}

#[test]
fn twenty_learners_some_garbage_some_gone_and_the_instructor_sees_each() {
    let mut publisher = Publisher::start(0, Some("127.0.0.1:0")).expect("publishing");
    assert!(publisher.warnings.is_empty(), "{:?}", publisher.warnings);
    publisher.publish(oom(5));
    let tcp: Addr = publisher.addrs[0].parse().expect("the TCP address");
    let mut w = Watcher::start();
    w.until("the instructor's position", |v| v.pos.is_some());
    assert_eq!(w.view.checks.len(), 3, "the oom lesson's checks");

    // Fourteen learners with the learner's own code: each reports, then passes.
    let good: Vec<_> = (0..14)
        .map(|i| {
            let o = learner(&tcp, &format!("good{i:02}"));
            o.set(progress(3, false));
            o
        })
        .collect();
    // Three that send garbage after their hello, each a different rule broken.
    let garbage: [(&str, Vec<u8>, &str); 3] = [
        (
            "junk",
            b"GET / HTTP/1.1\r\n".to_vec(),
            "sent garbage: not JSON",
        ),
        ("huge", vec![b'x'; 20_000], "over 8192 bytes"),
        ("bin", b"\xff\xfe\x00\n".to_vec(), "not UTF-8"),
    ];
    let mut raw = Vec::new();
    for (name, junk, _) in &garbage {
        let mut s = TcpStream::connect(publisher.addrs[0].as_str()).expect("connecting");
        s.write_all(
            Said::Hello {
                name: (*name).into(),
            }
            .encode()
            .as_bytes(),
        )
        .unwrap();
        s.write_all(progress(1, false).as_bytes()).unwrap();
        raw.push((s, junk.clone()));
    }
    // Three that report, then vanish (a laptop closed: the connection ends).
    for i in 0..3 {
        let mut s = TcpStream::connect(publisher.addrs[0].as_str()).expect("connecting");
        let hello = Said::Hello {
            name: format!("gone{i}"),
        };
        s.write_all(hello.encode().as_bytes()).unwrap();
        s.write_all(progress(2, true).as_bytes()).unwrap();
        // Read our first position: the session has us before we leave.
        let mut line = String::new();
        BufReader::new(&s).read_line(&mut line).unwrap();
        drop(s);
    }
    w.until("twenty learners", |v| v.rows().len() == 20);
    for (s, junk) in &mut raw {
        // The huge one may be cut off mid-write: the session closed on it.
        let _ = s.write_all(junk);
    }
    w.until("the three garbage senders dropped", |v| {
        garbage.iter().all(|(n, _, _)| gone_why(v, n).is_some())
    });
    for (name, _, rule) in &garbage {
        let why = gone_why(&w.view, name).unwrap();
        assert!(why.contains(rule), "{name}: {why}");
    }
    w.until("the three that vanished", |v| {
        (0..3).all(|i| gone_why(v, &format!("gone{i}")).as_deref() == Some("disconnected"))
    });
    // Nobody else was hurt: the fourteen are here, at step 3, none passed yet.
    let here = |v: &ClassView| {
        v.rows()
            .iter()
            .filter(|e| e.gone.is_none() && e.name.starts_with("good"))
            .count()
    };
    w.until("the fourteen at step 3", |v| {
        here(v) == 14
            && v.rows()
                .iter()
                .filter(|e| e.name.starts_with("good"))
                .all(|e| e.progress.as_ref().is_some_and(|p| p.done == 3))
    });
    assert_eq!(w.view.counts()[0], 0);
    // Half of them get the OOM kill; the counts follow.
    for o in good.iter().take(7) {
        o.set(progress(5, true));
    }
    w.until("7 of 14 have the OOM kill", |v| v.counts()[0] == 7);
    assert_eq!(w.view.class.present(), 14);
    assert_eq!(w.view.rows().len(), 20);
    // The dropped raw sockets were closed by the session, with the reason.
    for (s, _) in raw {
        let mut said = String::new();
        let mut r = BufReader::new(s);
        let mut line = String::new();
        while r.read_line(&mut line).unwrap_or(0) > 0 {
            said.push_str(&line);
            line.clear();
        }
        assert!(said.contains("dropped from the class"), "{said}");
    }
    // The class is the instructor's: a watch over TCP is refused, with the reason.
    let mut s = TcpStream::connect(publisher.addrs[0].as_str()).unwrap();
    s.write_all(Said::Watch {}.encode().as_bytes()).unwrap();
    let mut r = BufReader::new(s);
    let mut line = String::new();
    let start = Instant::now();
    while !line.contains("refused") && start.elapsed() < LIMIT {
        line.clear();
        if r.read_line(&mut line).unwrap_or(0) == 0 {
            break;
        }
    }
    assert!(line.contains("only on the instructor's machine"), "{line}");
    publisher.finish();
}
