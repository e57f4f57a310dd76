//! The assembler's error: building the default rootfs and the tools layer from the
//! host's files. What can go wrong is a host file missing or unreadable (with its path
//! and errno), a host without what a rootfs needs (no shell, no busybox applets), or a
//! setting we refuse (an unknown `UNDERHOOD_ROOTFS_FLAVOUR`).
//!
//! Messages are whole on their own (`{e}` and `{e:#}` print the same): a context wraps
//! the error under it as "context: error", as anyhow's `{:#}` printed it before.

use std::io;

use nix::errno::Errno;

use crate::runtime::assemble::cache;

#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// A setting or a path we refuse.
    #[error("{0}")]
    Refused(String),
    /// The host lacks what the rootfs needs (a shell, busybox's applets).
    #[error("{0}")]
    Missing(String),
    /// A std file operation failed (`what`: "cannot copy PATH", ...).
    #[error("{what}: {err}")]
    Io { what: String, err: io::Error },
    /// A system call through nix failed.
    #[error("{what}: {errno}")]
    Sys { what: String, errno: Errno },
    /// Our own metadata that does not parse.
    #[error("{what}: {err}")]
    Json {
        what: String,
        err: serde_json::Error,
    },
    /// A host program whose ELF dependencies cannot be read.
    #[error("{what}: {err}")]
    Elf { what: String, err: lddtree::Error },
    /// An error of ours, with what we were doing when it happened.
    #[error("{what}: {err}")]
    Context { what: String, err: Box<Error> },
    #[error(transparent)]
    Cache(#[from] cache::Error),
    #[error(transparent)]
    Encode(#[from] serde_json::Error),
}

pub type Result<T, E = Error> = std::result::Result<T, E>;

crate::runtime::context::context_trait!(Error, Missing);

impl<T> Ctx<T> for std::result::Result<T, lddtree::Error> {
    fn ctx<S: Into<String>>(self, what: impl FnOnce() -> S) -> Result<T> {
        self.map_err(|err| Error::Elf {
            what: what().into(),
            err,
        })
    }
}
