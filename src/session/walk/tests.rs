//! The walk's orchestration without root: its containers come from a [`Starter`] whose
//! launches run on recording doubles (`runtime::double`: the real controller and the
//! real subject's request handling, every kernel call recorded, any one made to fail).
//! What is checked: forward, a step failing at each index, back (a teardown, then a
//! fresh container replaying the first steps), a rebuild that cannot start or whose
//! replay fails, the hog refused before the cgroup step and its end told, teardown;
//! following another session (forward in a jump, back by a rebuild, a lesson lacking).

use std::collections::VecDeque;
use std::sync::{Arc, Mutex};

use nix::errno::Errno;

use super::*;
use crate::runtime::double::{self, Log};
use crate::runtime::launch_error;
use crate::runtime::link::Exit;
use crate::runtime::plan::veth_for;
use crate::runtime::step::IdMap;
use crate::runtime::sys::Call;
use crate::session::event::Message;

/// What each launch of a walk failed, in order: `None` refuses to start it; `Some((i,
/// o))` fails the subject's call number `i`, the controller's number `o`.
type Script = VecDeque<Option<(Option<usize>, Option<usize>)>>;

struct Doubles {
    dir: PathBuf,
    script: Script,
    /// Each launch's logs (subject, controller) and session directory.
    launches: Arc<Mutex<Vec<(Log, Log, PathBuf)>>>,
    /// For each launch after the first: whether the one before was still there (its
    /// session directory) when it started.
    overlapped: Arc<Mutex<Vec<bool>>>,
}

/// The walk's steps here: the cgroup step last, never taken (the doubles have no
/// cgroupfs), so the hog has no limit to climb to.
fn steps() -> Vec<Step> {
    let map = IdMap {
        inside: 0,
        outside: 100000,
        count: 65536,
    };
    vec![
        Step::User { uid: map, gid: map },
        Step::Uts {
            hostname: "box".into(),
        },
        Step::Ipc,
        Step::Net {
            veth: Some(veth_for("0a0b0c0d")),
        },
        Step::Mount,
        Step::Cgroup {
            limits: LimitSpec::default(),
        },
    ]
}

impl Starter for Doubles {
    fn layers(&mut self, _: &RootSource, _: &Paths) -> Result<Vec<PathBuf>> {
        Ok(vec![self.dir.join("lower")])
    }

    fn launch(&mut self, _: &Options, _: &[PathBuf], paths: &Paths) -> Result<Launch> {
        let Some((inside, outside)) = self.script.pop_front().unwrap_or(Some((None, None))) else {
            return Err(Error::runtime(launch_error::Error::Failed(
                "the double refuses to start a subject".into(),
            )));
        };
        if let Some(last) = self.launches.lock().unwrap().last() {
            self.overlapped.lock().unwrap().push(last.2.exists());
        }
        let d = double::launch(paths, steps(), inside, outside).map_err(Error::runtime)?;
        let dir = d.launch.session.dir.clone();
        self.launches
            .lock()
            .unwrap()
            .push((d.inside, d.outside, dir));
        Ok(d.launch)
    }
}

struct Rig {
    walk: Walk,
    launches: Arc<Mutex<Vec<(Log, Log, PathBuf)>>>,
    overlapped: Arc<Mutex<Vec<bool>>>,
    _tmp: tempfile::TempDir,
}

impl Drop for Rig {
    fn drop(&mut self) {
        let _ = self.walk.teardown();
    }
}

fn rig(script: Script) -> Rig {
    let tmp = tempfile::tempdir().unwrap();
    let paths = Paths {
        proc_root: PathBuf::from("/proc"),
        cgroup_root: tmp.path().join("cgroup"),
        state_dir: tmp.path().join("state"),
        cache_dir: tmp.path().join("cache"),
    };
    let launches = Arc::default();
    let overlapped = Arc::default();
    let starter = Doubles {
        dir: tmp.path().to_path_buf(),
        script,
        launches: Arc::clone(&launches),
        overlapped: Arc::clone(&overlapped),
    };
    let sink: Sink = Arc::new(|_| true);
    let walk = Walk::start_with(WalkOptions::default(), paths, sink, Box::new(starter)).unwrap();
    Rig {
        walk,
        launches,
        overlapped,
        _tmp: tmp,
    }
}

impl Rig {
    fn events(&mut self) -> Vec<Event> {
        self.walk.events().map(|(_, e)| e).collect()
    }

    /// Launch `n`'s calls: the subject's, the controller's.
    fn calls(&self, n: usize) -> (Vec<Call>, Vec<Call>) {
        let l = self.launches.lock().unwrap();
        let got = |log: &Log| log.lock().unwrap().clone();
        (got(&l[n].0), got(&l[n].1))
    }

    fn session_dir(&self, n: usize) -> PathBuf {
        self.launches.lock().unwrap()[n].2.clone()
    }
}

fn messages(events: &[Event]) -> Vec<Message> {
    events
        .iter()
        .filter_map(|e| match e {
            Event::Message { message: Some(m) } => Some(m.clone()),
            _ => None,
        })
        .collect()
}

fn step_names(events: &[Event]) -> Vec<String> {
    events
        .iter()
        .filter_map(|e| match e {
            Event::Step { report, .. } => Some(report.step.clone()),
            _ => None,
        })
        .collect()
}

/// How many calls the subject makes for each step, from a walk that does not fail.
fn inside_per_step(n: usize) -> Vec<usize> {
    let mut r = rig(Script::new());
    let mut counts = Vec::new();
    for _ in 0..n {
        let before = r.calls(0).0.len();
        assert!(r.walk.step());
        counts.push(r.calls(0).0.len() - before);
    }
    counts
}

#[test]
fn forward_takes_the_steps_in_order_each_with_its_report() {
    let mut r = rig(Script::new());
    r.walk.begin();
    let begun = r.events();
    assert!(matches!(&begun[0], Event::Started { steps } if steps.len() == 6));
    assert!(matches!(&begun[1], Event::Lesson { lesson: None }));
    for _ in 0..3 {
        assert!(r.walk.step());
    }
    assert_eq!(r.walk.done(), 3);
    let events = r.events();
    let titles: Vec<String> = r.walk.steps()[..3].iter().map(|s| s.title()).collect();
    assert_eq!(step_names(&events), titles);
    assert!(messages(&events).is_empty(), "{events:?}");
    let (inside, outside) = r.calls(0);
    assert!(matches!(inside[0], Call::Unshare(_)), "{inside:?}");
    // The user step's id maps are written from outside.
    assert!(!outside.is_empty());
    assert_eq!(r.launches.lock().unwrap().len(), 1);
}

#[test]
fn a_step_failing_at_each_index_stops_there_with_its_report_and_error() {
    let counts = inside_per_step(5);
    assert!(counts.iter().all(|c| *c > 0), "{counts:?}");
    for failing in 0..5 {
        // The first call of step `failing`.
        let call: usize = counts[..failing].iter().sum();
        let mut r = rig(Script::from([Some((Some(call), None))]));
        for _ in 0..failing {
            assert!(r.walk.step(), "step before {failing}");
        }
        r.events();
        assert!(!r.walk.step(), "step {failing} fails");
        assert_eq!(r.walk.done(), failing);
        let events = r.events();
        assert!(step_names(&events).is_empty(), "{events:?}");
        let log = events.iter().find_map(|e| match e {
            Event::Log { report } => Some(report),
            _ => None,
        });
        assert_eq!(
            log.and_then(|r| r.errno()),
            Some(Errno::EPERM),
            "{events:?}"
        );
        let m = messages(&events);
        assert!(m.len() == 1 && m[0].error, "{m:?}");
        // Nothing was made after the failed call.
        assert_eq!(r.calls(0).0.len(), call + 1);
    }
}

#[test]
fn back_tears_the_container_down_and_replays_on_a_fresh_one() {
    let mut r = rig(Script::new());
    for _ in 0..4 {
        assert!(r.walk.step());
    }
    r.events();
    let old_dir = r.session_dir(0);
    assert!(old_dir.exists());
    r.walk.back();
    assert_eq!(r.walk.done(), 3);
    assert_eq!(r.launches.lock().unwrap().len(), 2);
    // The old container was gone before the new one started: its veth deleted, its
    // session directory removed.
    assert_eq!(*r.overlapped.lock().unwrap(), [false]);
    let (first_inside, first_outside) = r.calls(0);
    let veth = veth_for("0a0b0c0d").host_name;
    assert_eq!(
        first_outside.last(),
        Some(&Call::Ip(vec!["link".into(), "del".into(), veth]))
    );
    assert!(!old_dir.exists());
    // The new one made the first three steps' calls again, and no more.
    let counts = inside_per_step(3);
    let (replayed, _) = r.calls(1);
    assert_eq!(replayed, first_inside[..counts.iter().sum::<usize>()]);
    let events = r.events();
    assert!(matches!(&events[0], Event::Started { .. }), "{events:?}");
    assert_eq!(step_names(&events).len(), 3);
    let m = messages(&events);
    assert_eq!(m.len(), 1, "{m:?}");
    assert_eq!(
        m[0].text,
        "went back: 3 of 6 steps replayed on a fresh container"
    );
    assert!(!m[0].error);
}

#[test]
fn a_rebuild_that_cannot_start_or_replay_says_so() {
    let mut r = rig(Script::from([Some((None, None)), None]));
    assert!(r.walk.step() && r.walk.step());
    r.events();
    r.walk.back();
    let m = messages(&r.events());
    assert_eq!(m.len(), 1, "{m:?}");
    assert!(m[0].error);
    assert!(
        m[0].text
            .starts_with("starting again failed: the double refuses"),
        "{m:?}"
    );

    // The fresh container fails its first call while replaying.
    let mut r = rig(Script::from([Some((None, None)), Some((Some(0), None))]));
    assert!(r.walk.step() && r.walk.step() && r.walk.step());
    r.events();
    assert!(!r.walk.rebuild(2));
    let m = messages(&r.events());
    assert!(m.iter().all(|m| m.error), "{m:?}");
    assert!(m[0].text.starts_with("replaying: "), "{m:?}");
    assert_eq!(r.walk.done(), 0);
}

#[test]
fn the_hog_waits_for_the_cgroup_step() {
    let mut r = rig(Script::new());
    r.walk.hog();
    let events = r.events();
    assert!(!events.iter().any(|e| matches!(e, Event::Hog { .. })));
    let m = messages(&events);
    assert_eq!(
        m[0].text,
        "the memory hog needs the memory limit first: take the steps up to step 6 (cgroup limits)"
    );
    assert!(r.calls(0).0.is_empty(), "nothing spawned");
}

#[test]
fn the_hogs_end_is_told_once_and_a_rebuild_forgets_it() {
    let mut r = rig(Script::new());
    let killed = Exit {
        code: None,
        signal: Some(9),
    };
    // Another process inside: not the hog's end.
    r.walk.hog = Some(42);
    assert!(!r.walk.reaped(41, killed));
    assert!(r.walk.reaped(42, killed));
    let events = r.events();
    assert!(matches!(events[0], Event::Hog { pid: None }), "{events:?}");
    let m = messages(&events);
    assert!(
        m[0].text.starts_with("OOM kill: the hog hit the limit"),
        "{m:?}"
    );
    let note = events.iter().find_map(|e| match e {
        Event::Log { report } if report.step == "hog ended" => Some(report.notes[0].clone()),
        _ => None,
    });
    assert!(
        note.is_some_and(
            |n| n.starts_with("the kernel killed hog with SIGKILL at the 100 MiB limit")
        ),
        "{events:?}"
    );
    assert!(!r.walk.reaped(42, killed), "told once");
    // Going back ends the container and the hog with it.
    r.walk.hog = Some(7);
    assert!(r.walk.step());
    r.walk.back();
    assert!(!r.walk.reaped(7, killed));
}

#[test]
fn teardown_removes_the_container_once() {
    let mut r = rig(Script::new());
    for _ in 0..4 {
        assert!(r.walk.step());
    }
    let dir = r.session_dir(0);
    let before = r.calls(0).1.len();
    r.walk.teardown().unwrap();
    let (_, outside) = r.calls(0);
    let veth = veth_for("0a0b0c0d").host_name;
    assert_eq!(
        outside[before..],
        [Call::Ip(vec!["link".into(), "del".into(), veth])]
    );
    assert!(!dir.exists());
    r.walk.teardown().unwrap();
    assert_eq!(
        r.calls(0).1.len(),
        before + 1,
        "nothing more the second time"
    );
}

#[test]
fn a_follower_catches_up_step_by_step_goes_back_by_a_rebuild_and_stays_on_a_missing_lesson() {
    use super::follow::{Follower, Stage};
    use crate::session::follow::Position;
    let mut r = rig(Script::new());
    let mut f = Follower::to(
        "@underhood/9".into(),
        crate::lesson::set::LessonSet {
            lessons: Vec::new(),
            tracks: Vec::new(),
        },
    );
    let mut stages = Vec::new();
    let p = Position::at(3, None);
    f.go(&mut r.walk, &p, &mut |_, s| stages.push(s));
    assert_eq!(r.walk.done(), 3);
    assert_eq!(stages, [Stage::Taking, Stage::Took].repeat(3));
    let m: Vec<String> = messages(&r.events()).into_iter().map(|m| m.text).collect();
    assert_eq!(
        m,
        [
            "catching up with @underhood/9: taking step 1 of 3...",
            "catching up with @underhood/9: taking step 2 of 3...",
            "catching up with @underhood/9: taking step 3 of 3...",
            "following @underhood/9: step 3 of 6",
        ]
    );
    // The same place again (a heartbeat): nothing.
    f.go(&mut r.walk, &p, &mut |_, _| panic!("no stage"));
    assert!(r.events().is_empty());
    // Back to the step named uts (the second here): a rebuild, no jump.
    f.go(&mut r.walk, &Position::at(1, Some("uts")), &mut |_, _| {
        panic!("no stage")
    });
    assert_eq!(r.walk.done(), 2);
    assert_eq!(r.launches.lock().unwrap().len(), 2);
    let m = messages(&r.events());
    assert_eq!(
        m.last().map(|m| m.text.as_str()),
        Some("following @underhood/9: step 2 of 6")
    );
    // A lesson this session lacks: an error, and the container stays.
    let mut elsewhere = Position::at(1, None);
    elsewhere.lesson = Some(crate::session::follow::position::LessonRef {
        id: "nope".into(),
        title: "Nope".into(),
    });
    f.go(&mut r.walk, &elsewhere, &mut |_, _| {});
    assert_eq!(r.walk.done(), 2);
    let m = messages(&r.events());
    assert!(
        m.len() == 1 && m[0].error && m[0].text.contains("\"nope\""),
        "{m:?}"
    );
}

#[test]
fn a_follower_stops_at_a_step_that_fails() {
    use super::follow::{Follower, Stage};
    use crate::session::follow::Position;
    let counts = inside_per_step(2);
    let mut r = rig(Script::from([Some((Some(counts[0] + counts[1]), None))]));
    let mut f = Follower::to(
        "host:7777".into(),
        crate::lesson::set::LessonSet {
            lessons: Vec::new(),
            tracks: Vec::new(),
        },
    );
    let mut stages = Vec::new();
    f.go(&mut r.walk, &Position::at(5, None), &mut |_, s| {
        stages.push(s)
    });
    assert_eq!(r.walk.done(), 2);
    assert_eq!(stages, [Stage::Taking, Stage::Took].repeat(3));
    let m = messages(&r.events());
    assert!(m.last().is_some_and(|m| m.error), "{m:?}");
    assert!(!m.iter().any(|m| m.text.starts_with("following")), "{m:?}");
}
