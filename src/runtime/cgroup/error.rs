//! The cgroup module's error, typed by what a caller does about it: a file operation
//! failing with its errno (EBUSY, EACCES, ENOENT: see [`Error::errno`]), a controller or
//! hierarchy this host lacks, input refused (a bad name, a limit out of range, a cgroup
//! we only observe), a cgroup that is not there.
//!
//! Each message is whole on its own, as it was when these were anyhow strings: the
//! path, the value written and the errno (with a word on what it usually means) are in
//! the text, so `{e}` and `{e:#}` print the same.

use std::io;
use std::path::PathBuf;

use nix::errno::Errno;

use super::files::{errno_of, hint};
use crate::runtime::report::errno_text;

#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// A cgroupfs write failed.
    #[error("writing {value:?} to {}: {}{}", path.display(), errno_of(err), hint(err))]
    Write {
        path: PathBuf,
        value: String,
        err: io::Error,
    },
    /// `mkdir(2)` of a cgroup directory failed (EEXIST: a stale one of ours).
    #[error("creating cgroup {}: {}{}", path.display(), errno_of(err), mkdir_hint(err))]
    Mkdir { path: PathBuf, err: io::Error },
    /// Another file operation failed (`op`: "reading", "listing", "opening",
    /// "removing cgroup").
    #[error("{op} {}: {}", path.display(), errno_of(err))]
    Io {
        op: &'static str,
        path: PathBuf,
        err: io::Error,
    },
    /// A system call on no file failed (inotify, eventfd); `call` shows its arguments.
    #[error("{call}: {}", errno_text(*errno))]
    Syscall { call: String, errno: Errno },
    /// kill(2) of a process listed in the cgroup failed (ESRCH is not an error).
    #[error("killing pid {pid} listed in {}: {}", procs.display(), errno.desc())]
    Kill {
        pid: i32,
        procs: PathBuf,
        errno: Errno,
    },
    /// A cgroupfs file's text is not what the kernel writes there.
    #[error("parsing {}: {what}", path.display())]
    Parse { path: PathBuf, what: String },
    /// Text that does not parse, or a file that lacks the line it should have.
    #[error("{0}")]
    Malformed(String),
    /// Input we refuse: a name that is not ours, a limit out of range, a change to a
    /// cgroup underhood only observes.
    #[error("{0}")]
    Refused(String),
    /// This host lacks what is needed: no cgroup hierarchy, no such controller.
    #[error("{0}")]
    Missing(String),
    /// The cgroup asked for is not there.
    #[error("{0}")]
    NotFound(String),
    /// Creating failed, and removing what was made failed too.
    #[error("and removing the half-made cgroup failed too: {cleanup}: {err}")]
    Undo {
        err: Box<Error>,
        cleanup: Box<Error>,
    },
}

pub type Result<T, E = Error> = std::result::Result<T, E>;

fn mkdir_hint(e: &io::Error) -> &'static str {
    if e.raw_os_error() == Some(libc::EEXIST) {
        " (left over from an earlier session? `underhood cleanup` removes it)"
    } else {
        hint(e)
    }
}

impl Error {
    /// The errno of the failed system call, if one failed.
    pub fn errno(&self) -> Option<Errno> {
        match self {
            Error::Write { err, .. } | Error::Mkdir { err, .. } | Error::Io { err, .. } => {
                err.raw_os_error().map(Errno::from_raw)
            }
            Error::Syscall { errno, .. } | Error::Kill { errno, .. } => Some(*errno),
            Error::Undo { err, .. } => err.errno(),
            _ => None,
        }
    }
}
