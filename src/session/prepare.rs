//! What every front end does before its launch, once: remove what dead sessions left
//! behind, block the signals that must end in a teardown, prepare the layers.

use std::path::PathBuf;

use nix::sys::signal::{SigSet, Signal};

use crate::runtime::cleanup;
use crate::runtime::launcher::{self, RootSource};
use crate::runtime::paths::Paths;

use super::error::{Error, Result};

/// The signals after which a session tears its container down before it exits.
pub const EXIT_SIGNALS: [Signal; 4] = [
    Signal::SIGTERM,
    Signal::SIGHUP,
    Signal::SIGINT,
    Signal::SIGQUIT,
];

/// Removes what sessions that died (SIGKILL, a crash) left behind; `say` hears one
/// line per session removed.
pub fn clean_stale(paths: &Paths, mut say: impl FnMut(&str)) {
    let cleaned = cleanup::stale_sessions(paths);
    for s in &cleaned.sessions {
        say(&format!("underhood: removed stale session {s}"));
    }
}

/// Blocks [`EXIT_SIGNALS`] and `extra` in the calling thread, and so in every thread
/// it starts afterwards (pthread_sigmask(3)): call it before any thread exists. They
/// are then taken with sigwait(2) or a signalfd(2), never by their default action,
/// so that every exit path tears the container down.
pub fn block_signals(extra: &[Signal]) -> Result<SigSet> {
    let mut set = SigSet::empty();
    for s in EXIT_SIGNALS.iter().chain(extra) {
        set.add(*s);
    }
    set.thread_block().map_err(Error::Signals)?;
    Ok(set)
}

/// The read-only layers for `source` (the first time, the default rootfs is
/// assembled: a few seconds).
pub fn layers(source: &RootSource, paths: &Paths) -> Result<Vec<PathBuf>> {
    launcher::layers(source, paths).map_err(Error::runtime)
}

/// The host facts a front end's header shows: root or not, the cgroup layout,
/// overlayfs, whether user namespaces are allowed.
pub fn host_line(paths: &Paths) -> super::event::HostLine {
    use crate::observe::host::{HostRoots, Overlay, read_host_facts};
    let facts = read_host_facts(&HostRoots::from_proc_root(&paths.proc_root));
    let cgroup = match crate::runtime::cgroup::Host::detect(paths) {
        Ok(h) => h.to_string(),
        Err(_) => "no cgroups".to_string(),
    };
    super::event::HostLine {
        root: facts.is_root,
        cgroup,
        overlay: match facts.overlay {
            Overlay::Available => "yes".into(),
            Overlay::Module => "(module, not loaded)".into(),
            Overlay::Missing => "missing".into(),
        },
        userns: if facts.userns_verdict().is_allowed() {
            "allowed".into()
        } else {
            "restricted".into()
        },
    }
}
