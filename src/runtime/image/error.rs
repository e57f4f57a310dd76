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

crate::runtime::context::context_trait!(Error, Refused);
