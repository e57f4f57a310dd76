//! The observers' error: what went wrong reading `/proc` and `/sys`, typed by what a caller
//! does about it.
//!
//! Callers branch on few things: the process we were reading is gone (skip it, proc(5)), a
//! file's errno (ENOENT: the kernel lacks it; EACCES: not ours to read), input we refuse (not
//! a pid, not a runc id), something that is not there (no runc container of that id). Each
//! message is whole on its own: the path, the value and the errno are in the text, so `{e}`
//! and `{e:#}` print the same and a front end cannot drop the errno by formatting it plainly.

use std::io;
use std::path::{Path, PathBuf};

use nix::errno::Errno;

/// Why an observer could not read what it was asked for.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// A file or directory could not be read (`op` is "reading", "listing" or "checking").
    #[error("{op} {}: {err}", path.display())]
    Io {
        op: &'static str,
        path: PathBuf,
        err: io::Error,
    },
    /// A file could not be read, said as `PATH: ENAME: words` (`fsread::errno_text`).
    #[error("{}: {}", path.display(), super::fsread::errno_text(err))]
    Unread { path: PathBuf, err: io::Error },
    /// A file was read, but its text is not what the kernel writes there.
    #[error("parsing {}: {err}", path.display())]
    Parse { path: PathBuf, err: Box<Error> },
    /// Text that does not parse; the message names the line, the field and the value.
    #[error("{0}")]
    Malformed(String),
    /// The process was there when we looked it up and is gone now.
    #[error("process {pid} does not exist (or has exited): {err}")]
    Gone { pid: i32, err: Box<Error> },
    /// Input we refuse before looking (not a pid, not a runc container id).
    #[error("{0}")]
    Refused(String),
    /// What was asked for is not there (no such process, no such runc container); the
    /// message says where we looked and the errno each place answered.
    #[error("{0}")]
    NotFound(String),
    /// A cgroup named by the user could not be found or read.
    #[error(transparent)]
    Cgroup(#[from] crate::runtime::cgroup::Error),
    /// It is there, but not ours to read (namespace links of another user's process).
    #[error("{0}")]
    Unreadable(String),
}

pub type Result<T, E = Error> = std::result::Result<T, E>;

impl Error {
    pub fn read(path: &Path, err: io::Error) -> Self {
        Error::Io {
            op: "reading",
            path: path.to_path_buf(),
            err,
        }
    }

    pub fn list(path: &Path, err: io::Error) -> Self {
        Error::Io {
            op: "listing",
            path: path.to_path_buf(),
            err,
        }
    }

    pub fn parse(path: &Path, err: Error) -> Self {
        Error::Parse {
            path: path.to_path_buf(),
            err: Box::new(err),
        }
    }

    /// The errno of the system call that failed underneath, if one did.
    pub fn errno(&self) -> Option<Errno> {
        match self {
            Error::Io { err, .. } | Error::Unread { err, .. } => {
                err.raw_os_error().map(Errno::from_raw)
            }
            Error::Parse { err, .. } | Error::Gone { err, .. } => err.errno(),
            Error::Cgroup(e) => e.errno(),
            _ => None,
        }
    }

    /// True when the process being read has exited (and maybe been reaped) since it was
    /// listed: its `/proc/<pid>` entry answers ENOENT, or ESRCH for a task that is exiting
    /// (proc(5)).
    pub fn is_vanished(&self) -> bool {
        matches!(self, Error::Gone { .. })
            || matches!(self.errno(), Some(Errno::ENOENT) | Some(Errno::ESRCH))
    }
}
