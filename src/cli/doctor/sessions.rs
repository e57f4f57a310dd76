//! Sessions a crashed underhood left behind.

use std::path::PathBuf;

use underhood::runtime::{paths::Paths, state};

use super::{Check, Status};

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SessionFacts {
    pub state_dir: PathBuf,
    /// Sessions whose controller is gone (or whose pid was reused).
    pub stale: Vec<String>,
    /// Sessions whose controller runs.
    pub live: Vec<String>,
}

pub(super) fn check_sessions(root: bool, s: &SessionFacts) -> Check {
    let live = match s.live.len() {
        0 => String::new(),
        n => format!(
            "; {n} live session{} left alone",
            if n == 1 { "" } else { "s" }
        ),
    };
    if s.stale.is_empty() {
        return Check::new(
            "stale sessions",
            Status::Yes,
            format!("none in {}{live}", s.state_dir.display()),
        );
    }
    Check::new(
        "stale sessions",
        Status::Warn,
        format!("{} found: {}{live}", s.stale.len(), s.stale.join(", ")),
    )
    .why(
        "a crashed underhood left mounts, cgroups or veths behind; they are recorded and can \
         be removed exactly",
    )
    .fix(format!(
        "`{}underhood cleanup` (every start of underhood also does it)",
        if root { "" } else { "sudo " }
    ))
}

pub(super) fn gather_sessions(paths: &Paths) -> SessionFacts {
    let mut s = SessionFacts {
        state_dir: paths.state_dir.clone(),
        ..Default::default()
    };
    for (dir, st) in state::list(paths) {
        let id = dir
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        if state::is_stale(paths, &dir, &st) {
            s.stale.push(id);
        } else {
            s.live.push(id);
        }
    }
    s
}
