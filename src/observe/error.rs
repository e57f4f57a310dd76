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

/// What could not be read of a process, kept beside what could (a sample's or a
/// comparison's field: its security state, its mount table): the error's whole text,
/// as shown, and its errno as a value. Serialized as the text alone, as these fields
/// were before (captures and `--json` output keep their shape); the errno does not
/// survive a capture.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize, thiserror::Error)]
#[serde(from = "String", into = "String")]
#[error("{text}")]
pub struct Unread {
    text: String,
    errno: Option<i32>,
}

impl Unread {
    /// The errno of the read that failed, if one did (and this was not reloaded).
    pub fn errno(&self) -> Option<Errno> {
        self.errno.map(Errno::from_raw)
    }
}

impl From<&Error> for Unread {
    fn from(e: &Error) -> Unread {
        Unread {
            text: e.to_string(),
            errno: e.errno().map(|e| e as i32),
        }
    }
}

impl From<Error> for Unread {
    fn from(e: Error) -> Unread {
        Unread::from(&e)
    }
}

/// A reason without an errno ("not read yet"), or one reloaded from a capture.
impl From<String> for Unread {
    fn from(text: String) -> Unread {
        Unread { text, errno: None }
    }
}

impl From<&str> for Unread {
    fn from(text: &str) -> Unread {
        Unread::from(text.to_string())
    }
}

impl From<Unread> for String {
    fn from(u: Unread) -> String {
        u.text
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_unread_file_names_its_path_and_errno_and_keeps_the_errno() {
        let e = Error::Unread {
            path: "/proc/7/cgroup".into(),
            err: io::Error::from_raw_os_error(2),
        };
        assert_eq!(
            e.to_string(),
            format!(
                "/proc/7/cgroup: {}",
                super::super::fsread::errno_text(&io::Error::from_raw_os_error(2))
            )
        );
        assert!(e.to_string().contains("ENOENT"), "{e}");
        assert_eq!(e.errno(), Some(Errno::ENOENT));
        assert!(e.is_vanished());
    }

    #[test]
    fn an_unread_field_keeps_the_text_and_the_errno_and_serializes_as_the_text() {
        let e = Error::read(
            Path::new("/proc/7/status"),
            io::Error::from_raw_os_error(13),
        );
        let u = Unread::from(&e);
        assert_eq!(u.to_string(), e.to_string());
        assert_eq!(u.errno(), Some(Errno::EACCES));
        let json = serde_json::to_string(&u).unwrap();
        assert_eq!(json, serde_json::to_string(&e.to_string()).unwrap());
        let back: Unread = serde_json::from_str(&json).unwrap();
        assert_eq!(back.to_string(), u.to_string());
        assert_eq!(back.errno(), None, "a capture keeps the text only");
    }
}
