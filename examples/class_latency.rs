//! How long from a learner's check passing to the instructor's grid model showing it.
//!
//! `cargo run --release --example class_latency [LEARNERS] [ROUNDS]` (default 20, 50).
//! The real pieces, over loopback, no root: an instructor's publisher on 127.0.0.1
//! (`--publish`), LEARNERS learners with the learner's own code (`report::Outbox`
//! over `subscribe`, as `--follow` does), and `underhood class`'s view watching on the
//! session's unix socket. The clock starts when a learner's tap hands its new progress
//! line to its outbox (what the TUI does once a check's state changes) and stops when
//! the watcher's `ClassView` has applied the entry with that state: writer thread, TCP,
//! the session's class reader, its roster, the watcher's queue and writer, the unix
//! socket, the watcher's reader and the view.
//!
//! Two patterns: one change at a time (each waited for), and every learner at once (a
//! room passing the check together), each ROUNDS times. Prints p50, p99 and max.

use std::sync::mpsc;
use std::time::{Duration, Instant};

use underhood::session::follow::learner::{CheckState, Progress, Said, State};
use underhood::session::follow::position::{LessonRef, Position, VERSION};
use underhood::session::follow::publish::Publisher;
use underhood::session::follow::report::Outbox;
use underhood::session::follow::{Addr, subscribe};
use underhood::ui::class::ClassView;

/// The time between two changes of one learner: over `report::MIN_GAP` (125 ms), with room, so
/// that each change is measured on its own and not coalesced with the one before.
const PACE: Duration = Duration::from_millis(200);

fn line(round: usize) -> String {
    Progress {
        lesson: Some("oom".into()),
        done: 5,
        of: 5,
        step: Some("pivot_root".into()),
        checks: vec![CheckState {
            id: "oom-killed".into(),
            state: if round.is_multiple_of(2) {
                State::Passed
            } else {
                State::Failed
            },
            why: (round % 2 == 1).then(|| format!("round {round}: no kill yet")),
        }],
    }
    .encode()
}

fn shows(v: &ClassView, name: &str, round: usize) -> bool {
    let want = if round.is_multiple_of(2) {
        State::Passed
    } else {
        State::Failed
    };
    v.rows().iter().any(|e| {
        e.name == name
            && e.progress
                .as_ref()
                .and_then(|p| p.check("oom-killed"))
                .is_some_and(|c| {
                    c.state == want
                        && (want == State::Passed
                            || c.why.as_deref() == Some(&*format!("round {round}: no kill yet")))
                })
    })
}

fn summary(what: &str, mut lags: Vec<Duration>) {
    let slow: Vec<usize> = (0..lags.len())
        .filter(|i| lags[*i] > Duration::from_millis(100))
        .collect();
    if !slow.is_empty() {
        println!("{what}: {} over 100 ms, at {slow:?}", slow.len());
    }
    lags.sort();
    let at = |p: f64| lags[((lags.len() - 1) as f64 * p).round() as usize];
    println!(
        "{what:<28} n={:<5} p50 {:>8.3} ms   p99 {:>8.3} ms   max {:>8.3} ms",
        lags.len(),
        at(0.5).as_secs_f64() * 1e3,
        at(0.99).as_secs_f64() * 1e3,
        lags[lags.len() - 1].as_secs_f64() * 1e3
    );
}

fn main() {
    let args: Vec<usize> = std::env::args()
        .skip(1)
        .filter_map(|a| a.parse().ok())
        .collect();
    let learners = args.first().copied().unwrap_or(20);
    let rounds = args.get(1).copied().unwrap_or(50);
    let set = underhood::lesson::set::builtin().expect("the shipped lessons");
    let mut publisher = Publisher::start(0, Some("127.0.0.1:0")).expect("publishing");
    publisher.publish(Position {
        v: VERSION,
        lesson: Some(LessonRef {
            id: "oom".into(),
            title: "The OOM kill".into(),
        }),
        done: 5,
        of: 5,
        last: None,
        next: None,
        started_ms: 0,
        pid: std::process::id(),
        following: None,
    });
    let tcp: Addr = publisher.addrs[0].parse().expect("the TCP address");
    let (tx, rx) = mpsc::channel();
    subscribe::spawn_saying(
        Addr::session(std::process::id()),
        Some(Outbox::new(&Said::Watch {})),
        move |f| tx.send(f).is_ok(),
    );
    let mut view = ClassView::new("watcher".into());
    let names: Vec<String> = (0..learners).map(|i| format!("l{i:03}")).collect();
    let boxes: Vec<_> = names
        .iter()
        .map(|n| {
            let o = Outbox::new(&Said::Hello { name: n.clone() });
            subscribe::spawn_saying(tcp.clone(), Some(o.clone()), |_| true);
            o.set(line(1));
            o
        })
        .collect();
    let limit = Duration::from_secs(30);
    // Applies the next news to the view; when it was applied.
    let next = |view: &mut ClassView| {
        match rx.recv_timeout(limit) {
            Ok(f) => view.on_feed(f, &set, 0),
            Err(_) => panic!("no news for {limit:?}"),
        }
        Instant::now()
    };
    let wait = |view: &mut ClassView, ok: &dyn Fn(&ClassView) -> bool| {
        let mut at = Instant::now();
        while !ok(view) {
            at = next(view);
        }
        at
    };
    wait(&mut view, &|v| names.iter().all(|n| shows(v, n, 1)));
    std::thread::sleep(PACE);
    println!("{learners} learners over 127.0.0.1, watcher on the unix socket, {rounds} rounds");
    let mut one = Vec::new();
    let mut all = Vec::new();
    for r in 0..rounds {
        let round = r * 2 + 2; // passed; the burst after it: failed
        // One at a time. Each learner's lines are paced under the session's limit
        // (`roster::RATE` a second): faster, the session drops it, as it should.
        let sweep = Instant::now();
        for (o, n) in boxes.iter().zip(&names) {
            let t0 = Instant::now();
            o.set(line(round));
            let t1 = wait(&mut view, &|v| shows(v, n, round));
            one.push(t1 - t0);
        }
        std::thread::sleep(PACE.saturating_sub(sweep.elapsed()));
        // All at once: each learner's lag is to when the view first shows its entry.
        let round = round + 1;
        let t0 = Instant::now();
        for o in &boxes {
            o.set(line(round));
        }
        let mut seen: Vec<Option<Instant>> = vec![None; learners];
        while seen.iter().any(Option::is_none) {
            let t = next(&mut view);
            for (i, n) in names.iter().enumerate() {
                if seen[i].is_none() && shows(&view, n, round) {
                    seen[i] = Some(t);
                }
            }
        }
        all.extend(seen.into_iter().flatten().map(|t| t - t0));
        std::thread::sleep(PACE.saturating_sub(t0.elapsed()));
    }
    let gone = view.rows().iter().filter(|e| e.gone.is_some()).count();
    assert_eq!(
        gone,
        0,
        "learners dropped during the run: {:?}",
        view.rows()
    );
    summary("one learner's change", one);
    summary("all learners at once", all);
    publisher.finish();
}
