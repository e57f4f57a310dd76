//! A launch whose every kernel call goes to recording doubles (tests only): the real
//! controller (`Launch`) and the real subject's request handling
//! (`subject::serve_with`, on a thread) over a socketpair, each side with a
//! [`Recorder`] that may fail its call number N. Used by the launch's orchestration
//! tests (`runtime/orchestration.rs`) and the walk's (`session/walk/tests.rs`).

use std::os::unix::net::UnixStream;
use std::process::Command;
use std::sync::{Arc, Mutex};

use nix::errno::Errno;

use super::controller::{Launch, Spawned};
use super::launch_error::Result;
use super::paths::Paths;
use super::state::Session;
use super::step::Step;
use super::sys::{Call, Recorder};

/// The calls one side made, in order.
pub(crate) type Log = Arc<Mutex<Vec<Call>>>;

/// A launch on doubles and what each side did.
pub(crate) struct Doubled {
    pub launch: Launch,
    /// The subject's calls and the controller's calls.
    pub inside: Log,
    pub outside: Log,
    /// The subject's thread: it ends when the launch's socket closes.
    pub subject: std::thread::JoinHandle<()>,
}

/// A session for `steps` under `paths` whose subject fails its call number
/// `inside_fail` with EPERM and whose controller fails its call number `outside_fail`
/// with EACCES. Nothing is done to the kernel: the only real process is the first
/// subject's stand-in, `true`, which ends at once (teardown waits for it).
pub(crate) fn launch(
    paths: &Paths,
    steps: Vec<Step>,
    inside_fail: Option<usize>,
    outside_fail: Option<usize>,
) -> Result<Doubled> {
    let session = Session::create(paths)?;
    let (ours, theirs) = UnixStream::pair()?;
    let inside: Log = Arc::default();
    let outside: Log = Arc::default();
    let sys = Recorder {
        fail_at: inside_fail.map(|i| (i, Errno::EPERM)),
        log: Some(inside.clone()),
        ..Default::default()
    };
    let subject = std::thread::spawn(move || {
        let _ = super::subject::serve_with(theirs, Box::new(sys));
    });
    let child = Command::new("true").spawn()?;
    let spawned = Spawned {
        child: Some(child.into()),
        sock: Some(ours),
        id: None,
    };
    let launch =
        Launch::adopt(paths.clone(), session, steps, spawned)?.with_sys(Box::new(Recorder {
            fail_at: outside_fail.map(|i| (i, Errno::EACCES)),
            log: Some(outside.clone()),
            ..Default::default()
        }));
    Ok(Doubled {
        launch,
        inside,
        outside,
        subject,
    })
}
