//! The image module's error. An image comes from a stranger: most of what can go wrong
//! is the image itself (a path that leaves the root, a digest that does not match, a
//! format we do not unpack), which is [`Error::Refused`]; the rest is a file operation
//! or a system call failing, with its path and errno.
//!
//! Messages are whole on their own (`{e}` and `{e:#}` print the same): a context wraps
//! the error under it as "context: error", as anyhow's `{:#}` printed it before.

use std::io;

use nix::errno::Errno;

use crate::runtime::assemble::cache;

#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The image is not one we unpack, or not safely: the message names the entry, the
    /// file and why.
    #[error("{0}")]
    Refused(String),
    /// An operation on the host failed; the message names it, the path and the errno.
    #[error("{0}")]
    Failed(String),
    /// A std file operation failed (`what`: "cannot open PATH", ...).
    #[error("{what}: {err}")]
    Io { what: String, err: io::Error },
    /// A system call through nix failed.
    #[error("{what}: {errno}")]
    Sys { what: String, errno: Errno },
    /// JSON in the image (or our own metadata) that does not parse.
    #[error("{what}: {err}")]
    Json {
        what: String,
        err: serde_json::Error,
    },
    /// An error of ours, with what we were doing when it happened.
    #[error("{what}: {err}")]
    Context { what: String, err: Box<Error> },
    #[error(transparent)]
    Cache(#[from] cache::Error),
    #[error(transparent)]
    Encode(#[from] serde_json::Error),
}

pub type Result<T, E = Error> = std::result::Result<T, E>;

impl Error {
    /// The errno of the failed call, if one failed.
    pub fn errno(&self) -> Option<Errno> {
        match self {
            Error::Io { err, .. } => err.raw_os_error().map(Errno::from_raw),
            Error::Sys { errno, .. } => Some(*errno),
            Error::Context { err, .. } => err.errno(),
            Error::Cache(e) => e.errno(),
            _ => None,
        }
    }
}

/// `with_context` for this module's errors: says what was being done.
pub trait Ctx<T> {
    fn ctx<S: Into<String>>(self, what: impl FnOnce() -> S) -> Result<T>;
}

impl<T> Ctx<T> for std::result::Result<T, io::Error> {
    fn ctx<S: Into<String>>(self, what: impl FnOnce() -> S) -> Result<T> {
        self.map_err(|err| Error::Io {
            what: what().into(),
            err,
        })
    }
}

impl<T> Ctx<T> for std::result::Result<T, Errno> {
    fn ctx<S: Into<String>>(self, what: impl FnOnce() -> S) -> Result<T> {
        self.map_err(|errno| Error::Sys {
            what: what().into(),
            errno,
        })
    }
}

impl<T> Ctx<T> for std::result::Result<T, serde_json::Error> {
    fn ctx<S: Into<String>>(self, what: impl FnOnce() -> S) -> Result<T> {
        self.map_err(|err| Error::Json {
            what: what().into(),
            err,
        })
    }
}

impl<T> Ctx<T> for Result<T> {
    fn ctx<S: Into<String>>(self, what: impl FnOnce() -> S) -> Result<T> {
        self.map_err(|err| Error::Context {
            what: what().into(),
            err: Box::new(err),
        })
    }
}

impl<T> Ctx<T> for Option<T> {
    fn ctx<S: Into<String>>(self, what: impl FnOnce() -> S) -> Result<T> {
        self.ok_or_else(|| Error::Refused(what().into()))
    }
}
