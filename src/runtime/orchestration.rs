//! The launch's orchestration, tested without root: a real controller (`Launch`) and
//! the real subject's request handling (`subject::serve_with`, on a thread) over a
//! socketpair, every kernel call on both sides made to recording doubles. What is
//! checked: a failure at any call stops the launch at that call's step, with nothing
//! done after it on either side (pipelined or not); teardown kills the subjects last
//! first, then deletes the veth, then the session directory; a rebuild after going
//! back replays the same calls.

use std::path::PathBuf;
use std::process::Command;

use nix::errno::Errno;

use super::controller::Launch;
use super::paths::Paths;
use super::plan;
use super::state;
use super::step::{IdMap, RootMode, RootfsSpec, Step};
use super::steps::{self, Shape};
use super::sys::Call;

use super::double::Log;

struct Rig {
    launch: Launch,
    /// The subject's calls and the controller's calls.
    inside: Log,
    outside: Log,
    subject: Option<std::thread::JoinHandle<()>>,
    _tmp: tempfile::TempDir,
}

impl Drop for Rig {
    fn drop(&mut self) {
        let _ = self.launch.teardown();
    }
}

fn plan(tmp: &std::path::Path) -> Vec<Step> {
    let map = IdMap {
        inside: 0,
        outside: 100000,
        count: 65536,
    };
    let merged = tmp.join("merged");
    vec![
        Step::User { uid: map, gid: map },
        Step::Uts {
            hostname: "box".into(),
        },
        Step::Ipc,
        Step::Net {
            veth: Some(plan::veth_for("0a0b0c0d")),
        },
        Step::Mount,
        Step::CgroupNs,
        Step::Time { offset_secs: 60 },
        Step::Rootfs(RootfsSpec {
            lower: vec![tmp.join("lower")],
            upper: tmp.join("upper"),
            work: tmp.join("work"),
            merged: merged.clone(),
            volumes: Vec::new(),
            scratch: None,
        }),
        Step::EnterRoot {
            mode: RootMode::PivotRoot,
            new_root: merged,
        },
        Step::Security {
            keep: vec!["CAP_KILL".into()],
            deny: vec!["keyctl".into()],
        },
    ]
}

/// A launch of `plan` whose subject fails its call number `inside_fail` and whose
/// controller fails its call number `outside_fail`.
fn rig(inside_fail: Option<usize>, outside_fail: Option<usize>, pipelined: bool) -> Rig {
    let tmp = tempfile::tempdir().unwrap();
    let paths = Paths {
        proc_root: PathBuf::from("/proc"),
        cgroup_root: tmp.path().join("cgroup"),
        state_dir: tmp.path().join("state"),
        cache_dir: tmp.path().join("cache"),
    };
    let steps = plan(tmp.path());
    let d = super::double::launch(&paths, steps, inside_fail, outside_fail).unwrap();
    let launch = if pipelined {
        d.launch.pipelined()
    } else {
        d.launch
    };
    Rig {
        launch,
        inside: d.inside,
        outside: d.outside,
        subject: Some(d.subject),
        _tmp: tmp,
    }
}

impl Rig {
    /// Steps until the first failure; returns its index and its errno.
    fn run(&mut self) -> Option<(usize, Option<Errno>)> {
        while !self.launch.done() {
            let index = self.launch.next;
            if let Err(f) = self.launch.step() {
                return Some((index, f.report.errno()));
            }
        }
        None
    }

    /// Ends the subject (closing the socket) and returns every call each side made.
    fn finish(mut self) -> (Vec<Call>, Vec<Call>) {
        let _ = self.launch.teardown();
        // Teardown leaves the socket open (the launch owns it until dropped): shut it
        // down so that the subject's thread reads end-of-file and returns.
        let _ = nix::sys::socket::shutdown(
            std::os::fd::AsRawFd::as_raw_fd(&self.launch.socket_fd()),
            nix::sys::socket::Shutdown::Both,
        );
        if let Some(t) = self.subject.take() {
            t.join().unwrap();
        }
        let get = |l: &Log| l.lock().unwrap().clone();
        (get(&self.inside), get(&self.outside))
    }
}

/// The calls each step makes on each side, from a launch that does not fail.
fn calls_per_step() -> Vec<(usize, usize)> {
    let mut rig = rig(None, None, false);
    let mut counts = Vec::new();
    while !rig.launch.done() {
        let (i0, o0) = (
            rig.inside.lock().unwrap().len(),
            rig.outside.lock().unwrap().len(),
        );
        rig.launch.step().unwrap();
        let (i1, o1) = (
            rig.inside.lock().unwrap().len(),
            rig.outside.lock().unwrap().len(),
        );
        counts.push((i1 - i0, o1 - o0));
    }
    counts
}

/// The step that makes call `n` of a side, given each step's count on that side.
fn step_of(counts: &[usize], n: usize) -> usize {
    let mut seen = 0;
    for (i, c) in counts.iter().enumerate() {
        seen += c;
        if n < seen {
            return i;
        }
    }
    panic!("call {n} is past the plan");
}

#[test]
fn a_subject_call_failing_anywhere_stops_the_launch_at_its_step() {
    let counts = calls_per_step();
    let inside: Vec<usize> = counts.iter().map(|c| c.0).collect();
    let total: usize = inside.iter().sum();
    assert!(total > 20, "{counts:?}");
    for pipelined in [false, true] {
        for n in 0..total {
            let mut rig = rig(Some(n), None, pipelined);
            let failed = rig.run();
            let want = step_of(&inside, n);
            assert_eq!(
                failed,
                Some((want, Some(Errno::EPERM))),
                "call {n}, pipelined {pipelined}"
            );
            assert_eq!(rig.launch.next, want);
            let (made, _) = rig.finish();
            // Nothing after the failed call: the subject refused the rest, the
            // controller sent nothing more.
            assert_eq!(
                made.len(),
                n + 1,
                "call {n}, pipelined {pipelined}: {made:?}"
            );
        }
    }
}

#[test]
fn a_controller_call_failing_anywhere_stops_the_launch_at_its_step() {
    let counts = calls_per_step();
    let inside: Vec<usize> = counts.iter().map(|c| c.0).collect();
    let outside: Vec<usize> = counts.iter().map(|c| c.1).collect();
    let total: usize = outside.iter().sum();
    // The id maps (setgroups deny, as the double is not root; uid_map; gid_map), the
    // veth (three `ip` commands), the writable layer (three directories).
    assert_eq!(total, 9, "{counts:?}");
    for n in 0..total {
        let mut rig = rig(None, Some(n), false);
        let want = step_of(&outside, n);
        let failed = rig.run();
        assert_eq!(failed.map(|f| f.0), Some(want), "controller call {n}");
        let shape = steps::of(&rig.launch.steps[want]).shape();
        let (made, _) = rig.finish();
        let before: usize = inside[..want].iter().sum();
        if shape == Shape::ControllerFirst {
            // The subject was never asked to do the failed step.
            assert_eq!(made.len(), before, "{made:?}");
        } else {
            // The subject did its first part of the failed step, not its second
            // (`BecomeRoot`, `ConfigureVeth`), and nothing after it.
            assert_eq!(shape, Shape::ControllerBetween);
            assert!(
                made.len() > before && made.len() < before + inside[want],
                "{made:?}"
            );
        }
    }
}

#[test]
fn teardown_kills_the_last_subject_first_then_the_veth_then_the_directory() {
    let mut rig = rig(None, None, false);
    assert_eq!(rig.run(), None);
    // Two live processes recorded as the shim and PID 1 (the double does not kill
    // them: this test does, at the end).
    let mut procs: Vec<_> = (0..2)
        .map(|_| Command::new("sleep").arg("1000").spawn().unwrap())
        .collect();
    let ids: Vec<_> = procs
        .iter()
        .map(|c| state::proc_id(std::path::Path::new("/proc"), c.id() as i32).unwrap())
        .collect();
    rig.launch
        .session
        .record(|s| s.subjects.extend(ids.iter().copied()))
        .unwrap();
    let dir = rig.launch.session.dir.clone();
    assert!(dir.exists());
    let before = rig.outside.lock().unwrap().len();
    let report = rig.launch.teardown().unwrap();
    let calls = rig.outside.lock().unwrap()[before..].to_vec();
    for p in &mut procs {
        let _ = p.kill();
        let _ = p.wait();
    }
    let veth = plan::veth_for("0a0b0c0d").host_name;
    assert_eq!(
        calls,
        vec![
            Call::Kill(ids[1].pid, nix::sys::signal::Signal::SIGKILL),
            Call::Kill(ids[0].pid, nix::sys::signal::Signal::SIGKILL),
            Call::Ip(vec!["link".into(), "del".into(), veth]),
        ]
    );
    assert!(!dir.exists(), "the session directory is removed last");
    assert_eq!(report.calls[0].name, "kill");
    // Safe to call twice: nothing more is done.
    rig.launch.teardown().unwrap();
    assert_eq!(rig.outside.lock().unwrap().len(), before + 3);
    rig.finish();
}

#[test]
fn a_rebuild_after_going_back_replays_the_same_calls() {
    let mut first = rig(None, None, false);
    assert_eq!(first.run(), None);
    let (all, _) = first.finish();
    // Back to step 4: a new launch runs the first four steps again.
    let mut again = rig(None, None, false);
    for _ in 0..4 {
        again.launch.step().unwrap();
    }
    let (replayed, _) = again.finish();
    let counts = calls_per_step();
    let upto: usize = counts[..4].iter().map(|c| c.0).sum();
    assert_eq!(replayed, all[..upto]);
}

/// `run` without --trace (`Launch::quiet`): each step that succeeds comes back with its
/// title alone, nothing of the subject's calls; the step that fails still names its
/// failed call and errno, as the error message needs.
#[test]
fn a_quiet_launch_reports_only_its_failed_step_whole() {
    let counts = calls_per_step();
    let inside: Vec<usize> = counts.iter().map(|c| c.0).collect();
    // The first call of the security step (the last step) fails.
    let n: usize = inside[..inside.len() - 1].iter().sum();
    for pipelined in [false, true] {
        let mut rig = rig(Some(n), None, pipelined);
        rig.launch.quiet().unwrap();
        let mut failure = None;
        while !rig.launch.done() {
            let title = rig.launch.steps[rig.launch.next].title();
            match rig.launch.step() {
                Ok(r) => {
                    assert_eq!(r.step, title);
                    // The controller's own calls (id maps, veth, directories) stay:
                    // only the subject's are left out.
                    let subject_calls = r.calls.iter().filter(|c| c.name == "unshare").count();
                    assert_eq!(subject_calls, 0, "pipelined {pipelined}: {:?}", r.calls);
                }
                Err(f) => {
                    failure = Some(f);
                    break;
                }
            }
        }
        let f = failure.expect("the security step fails");
        assert_eq!(f.errno(), Some(Errno::EPERM));
        assert!(f.report.failure().is_some(), "{:?}", f.report.calls);
        rig.finish();
    }
}
