//! `underhood explore` as a session: what the explorer reads of the host, kept off the
//! screen's loop. The session kind with no launch of its own: it opens a process of
//! the host (its target resolved, the host's reference namespaces read), watches it
//! with the walk's [`Observer`] (the same paced samples, the same OOM watcher, the same
//! [`Notice`]s on the front end's sink), reads its security state with each sample,
//! and notices when it has exited. `--compare`'s container of ours is a headless
//! launch ([`Headless`]), read and torn down before the screen opens.

use std::sync::Arc;
use std::time::{Duration, Instant};

use nix::sys::signal::Signal;

use super::error::{Error, Result};
use super::headless::{Headless, Stopped};
use super::observer::{Notice, Observer, Sink};
use crate::observe::containers::{self, Listing, Sources};
use crate::observe::error::Unread;
use crate::observe::facts::{self, Facts};
use crate::observe::namespaces::{self, NsLink};
use crate::observe::ptree;
use crate::observe::security::{self, Security};
use crate::observe::snapshot::Snapshot;
use crate::observe::target::{self, Resolved};
use crate::runtime::cgroup::Host;
use crate::runtime::launcher::RootSource;
use crate::runtime::paths::Paths;
use crate::runtime::plan::Options;

/// After an OOM event, how long the explored process is sampled closely.
pub const OOM_BURST: Duration = Duration::from_millis(500);

/// Where the explorer looks: the host's /proc, its cgroup hierarchies, and where
/// containers are listed from.
#[derive(Clone)]
pub struct Scope {
    pub paths: Paths,
    pub host: Option<Host>,
    pub sources: Sources,
}

/// A process opened for exploring.
pub struct Opened {
    pub resolved: Resolved,
    /// The host's namespaces the panes compare with (PID 1's, or ours).
    pub reference: Vec<NsLink>,
    /// Why "host" is not PID 1.
    pub reference_note: Option<String>,
}

impl Scope {
    /// The host's containers, as the picker lists them.
    pub fn list(&self) -> crate::observe::error::Result<Listing> {
        containers::list(&self.paths.proc_root, &self.sources)
    }

    /// `pid`'s target (its tree, its cgroup) and the namespaces it is compared with.
    pub fn open(&self, pid: i32) -> crate::observe::error::Result<Opened> {
        let resolved = target::resolve(&self.paths.proc_root, self.host.as_ref(), pid)?;
        Ok(self.opened(resolved))
    }

    /// An already resolved target (`--runc`, `--cgroup`), with its reference.
    pub fn opened(&self, resolved: Resolved) -> Opened {
        let (reference, reference_note) = match containers::host_reference(&self.paths.proc_root) {
            Ok((re, note)) => (re.pid, note),
            Err(e) => (std::process::id() as i32, Some(format!("{e:#}"))),
        };
        Opened {
            resolved,
            reference: namespaces::read_links(&self.paths.proc_root, reference),
            reference_note,
        }
    }
}

/// What a notice of the explorer's observer comes to.
#[derive(Debug)]
pub enum Seen {
    /// A sample to show, with the process's security state read beside it.
    Sample {
        snapshot: Box<Snapshot>,
        security: Result<Security, Unread>,
    },
    /// A signal to end on.
    Signal(i32),
    /// Nothing to show (an OOM event: samples follow closely).
    Nothing,
}

/// One explored process, watched until dropped or until it has exited.
pub struct Explorer {
    observer: Arc<Observer>,
    scope: Scope,
    pid: i32,
}

impl Explorer {
    /// Starts watching: samples and OOM events go to `sink` as [`Notice`]s, for
    /// [`Explorer::take`] to turn into what the screen shows. Nothing is written to
    /// the process or its cgroup: on v1 the OOM watch's registration is a write to
    /// `cgroup.event_control`, which changes no limit and ends when the eventfd is
    /// closed (cgroup-v1/memory.rst, 9).
    pub fn start(scope: &Scope, resolved: &Resolved, sink: Sink) -> Explorer {
        let observer = Observer::new(resolved.target.clone());
        observer.start(scope.paths.clone(), Instant::now(), sink.clone());
        if let Some(cg) = resolved.target.cgroup.clone() {
            observer.watch_oom(cg, sink);
        }
        Explorer {
            observer,
            scope: scope.clone(),
            pid: resolved.pid,
        }
    }

    /// What `notice` means for the screen. Once the process has exited the observer
    /// stops: its last state stays on the screen and nothing is sampled any more.
    pub fn take(&mut self, notice: Notice) -> Seen {
        match notice {
            Notice::Snapshot(snapshot) => {
                if gone(self.pid, &snapshot).is_some() {
                    self.observer.stop();
                }
                let security =
                    security::read(&self.scope.paths.proc_root, self.pid).map_err(Unread::from);
                Seen::Sample { snapshot, security }
            }
            Notice::Oom => {
                self.observer.burst(OOM_BURST);
                Seen::Nothing
            }
            Notice::Signal(s) => Seen::Signal(s),
            Notice::Subject => Seen::Nothing,
        }
    }
}

impl Drop for Explorer {
    fn drop(&mut self) {
        self.observer.stop();
    }
}

/// Why `pid` is no longer there to explore, by its sample: no tree and no mount
/// table (it exited and was reaped), or a zombie not reaped yet.
pub fn gone(pid: i32, snap: &Snapshot) -> Option<String> {
    if snap.tree.is_empty() && snap.mounts.is_err() {
        return Some(format!("process {pid} exited: its last state is shown"));
    }
    snap.tree
        .first()
        .is_some_and(|n| n.proc.pid == pid && n.proc.is_zombie())
        .then(|| {
            format!("process {pid} exited (a zombie, not reaped yet): its last state is shown")
        })
}

/// How making the container to compare with ended.
#[derive(Debug)]
pub enum OursLike {
    /// It ran, was read, and is gone.
    Read(Box<Facts>),
    /// An exit signal arrived (`stop` said so): whatever was made is gone.
    Stopped(Signal),
}

/// A fresh container of ours made with `opts` (a headless launch, every step), its
/// facts read while it runs (`probe`: the paths looked for, as [`facts::read`]);
/// torn down before this returns, whatever happened. `stop` is asked before anything
/// is made, before each step and once it is gone: a signal it returns (the caller
/// blocked the exit signals, `prepare::block_signals`, and reads them from a
/// signalfd) ends the launch there, through the same teardown, so that a Ctrl-C at
/// any moment leaves nothing behind.
pub fn ours_like(
    paths: &Paths,
    opts: &Options,
    probe: &[&str],
    mut stop: impl FnMut() -> Option<Signal>,
) -> Result<OursLike> {
    if let Some(sig) = stop() {
        return Ok(OursLike::Stopped(sig));
    }
    let mut s = Headless::start(opts, &RootSource::Default, paths)?;
    let read = (|| -> Result<OursLike> {
        match s.take_all(&mut stop, |_| {}) {
            Ok(()) => {}
            Err(Stopped::Asked(sig)) => return Ok(OursLike::Stopped(sig)),
            Err(Stopped::Failed(f)) => return Err(Error::Step(f)),
        }
        let launch = s.launch();
        let inner = launch.command;
        let pid = ptree::tree(&paths.proc_root, launch.subject)
            .unwrap_or_default()
            .into_iter()
            .find(|n| Some(n.proc.inner_pid()) == inner)
            .map(|n| n.proc.pid)
            .unwrap_or(launch.subject);
        Ok(OursLike::Read(Box::new(facts::read(
            &paths.proc_root,
            pid,
            launch.cgroup.as_ref(),
            "underhood, same options".to_string(),
            probe,
        ))))
    })();
    let down = s.teardown();
    let read = read?;
    down.map_err(|e| e.context("removing the container made to compare with"))?;
    // A signal while it was read or removed: the caller still ends on it.
    Ok(match (read, stop()) {
        (OursLike::Read(_), Some(sig)) => OursLike::Stopped(sig),
        (read, _) => read,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::mpsc;

    fn scope() -> Scope {
        let paths = Paths::host();
        Scope {
            host: Host::detect(&paths).ok(),
            sources: Sources::host(&paths.state_dir, crate::runtime::paths::PREFIX),
            paths,
        }
    }

    #[test]
    fn an_explorer_samples_its_process_and_stops_once_it_is_gone() {
        let scope = scope();
        let me = std::process::id() as i32;
        let opened = scope.open(me).expect("our own process opens");
        assert_eq!(opened.resolved.pid, me);
        let (tx, rx) = mpsc::channel();
        let sink: Sink = Arc::new(move |n| tx.send(n).is_ok());
        let mut ex = Explorer::start(&scope, &opened.resolved, sink);
        // The first sample always goes (nothing was sent before it).
        let first = loop {
            match rx.recv().expect("the observer sends") {
                Notice::Snapshot(s) => break s,
                _ => continue,
            }
        };
        match ex.take(Notice::Snapshot(first)) {
            Seen::Sample { snapshot, security } => {
                assert!(snapshot.tree.iter().any(|n| n.proc.pid == me));
                assert!(security.is_ok(), "{security:?}");
            }
            other => panic!("{other:?}"),
        }
        assert!(!ex.observer.stopped());
        assert!(matches!(ex.take(Notice::Oom), Seen::Nothing));
        // A sample with no tree and no mount table: the process was reaped.
        let reaped = Snapshot {
            mounts: Err("ENOENT".into()),
            ..Default::default()
        };
        assert!(gone(me, &reaped).is_some());
        let _ = ex.take(Notice::Snapshot(Box::new(reaped)));
        assert!(ex.observer.stopped(), "nothing is sampled once it is gone");
    }
}
