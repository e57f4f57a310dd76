//! The lesson floor's error: saving progress and running a lesson's host-side commands.
//!
//! Messages are whole on their own (path, command, errno or exit status in the text), so
//! `{e}` and `{e:#}` print the same.

use std::io;
use std::path::PathBuf;
use std::process::ExitStatus;

#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// A file operation on the progress file failed (`op`: "creating", "writing",
    /// "renaming to").
    #[error("{op} {}: {err}", path.display())]
    Io {
        op: &'static str,
        path: PathBuf,
        err: io::Error,
    },
    /// The progress could not be turned into JSON.
    #[error("encoding the progress: {0}")]
    Encode(serde_json::Error),
    /// `/bin/sh` could not be started for a host-side command.
    #[error("running `{cmd}` on the host: {err}")]
    Spawn { cmd: String, err: io::Error },
    /// A host-side command ran and failed.
    #[error("`{cmd}` on the host failed ({status})")]
    HostFailed { cmd: String, status: ExitStatus },
}

pub type Result<T, E = Error> = std::result::Result<T, E>;
