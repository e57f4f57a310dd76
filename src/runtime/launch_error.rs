//! The launch path's error: the controller (`controller.rs`, `link.rs`, `protocol.rs`),
//! the subject (`subject.rs`, `start.rs`), the session record (`state.rs`), the
//! controller's parts of the steps (`steps/`), `launcher.rs` and `__enter`
//! (`enter.rs`). Typed by what a caller does about it:
//! - the kernel refused a call: [`Error::Call`], [`Error::Sys`], [`Error::Io`], or the
//!   subject's report says so ([`Error::Reported`]); [`Error::errno`] has the errno,
//!   typed from the call itself, never read back out of a text;
//! - the subject (or, in the subject, the controller) is gone: [`Error::Gone`]
//!   ([`Error::is_gone`]);
//! - the two ends out of step (a reply not expected, a message refused):
//!   [`Error::Protocol`];
//! - the state directory refused (not ours, not a directory): [`Error::StateDir`];
//! - what a module below failed with (cgroups, the image, the assembled rootfs, the
//!   security settings), kept whole with its own kind.
//!
//! Messages are whole on their own (`{e}` and `{e:#}` print the same): a context wraps
//! the error under it as "context: error", as anyhow's `{:#}` printed it before.

use std::io;

use nix::errno::Errno;

use super::{assemble, cgroup, image, seccomp, security};

#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// A system call that failed, shown as the reports show one: `call = ERRNO`.
    #[error("{call} = {errno}")]
    Call { call: String, errno: Errno },
    /// The subject's part failed; its report names the call and `errno` is that
    /// call's (none when the failure was not a call's).
    #[error("{what}")]
    Reported { what: String, errno: Option<Errno> },
    /// The other process is gone: the subject died (killed, OOM, crashed), or, seen
    /// from the subject, the controller.
    #[error("{0}")]
    Gone(String),
    /// The controller and the subject out of step: a reply that does not answer what
    /// was asked, a message refused.
    #[error("{0}")]
    Protocol(String),
    /// Something that should be there is not (taken twice, never sent, a line missing).
    #[error("{0}")]
    Missing(String),
    /// The state directory is not one we may use (a symlink, someone else's).
    #[error("{0}")]
    StateDir(String),
    /// Something we refuse to touch: not a session directory, not a link of ours.
    #[error("{0}")]
    Refused(String),
    /// An operation on the host failed; the message names it and why.
    #[error("{0}")]
    Failed(String),
    /// A std file operation failed (`what`: "creating PATH", ...).
    #[error("{what}: {err}")]
    Io { what: String, err: io::Error },
    /// A system call through nix failed.
    #[error("{what}: {errno}")]
    Sys { what: String, errno: Errno },
    /// JSON that does not encode or decode (a message, the session record).
    #[error("{what}: {err}")]
    Json {
        what: String,
        err: serde_json::Error,
    },
    /// An error of ours, with what we were doing when it happened.
    #[error("{what}: {err}")]
    Context { what: String, err: Box<Error> },
    /// Teardown went on past these failures and then reports them together.
    #[error("cleanup was incomplete: {}", join(.0))]
    Cleanup(Vec<Error>),
    /// A file operation, as std reports it (no context was ever added to it).
    #[error(transparent)]
    Os(#[from] io::Error),
    /// A system call, as nix reports it (its report names the call).
    #[error(transparent)]
    Errno(#[from] Errno),
    #[error(transparent)]
    Encode(#[from] serde_json::Error),
    #[error(transparent)]
    Cgroup(#[from] cgroup::Error),
    #[error(transparent)]
    Image(#[from] image::error::Error),
    #[error(transparent)]
    Assemble(#[from] assemble::error::Error),
    #[error(transparent)]
    Cap(#[from] security::UnknownCap),
    #[error(transparent)]
    Seccomp(#[from] seccomp::Error),
}

pub type Result<T, E = Error> = std::result::Result<T, E>;

fn join(errors: &[Error]) -> String {
    let texts: Vec<String> = errors.iter().map(ToString::to_string).collect();
    texts.join("; ")
}

impl Error {
    /// The errno of the failed call, if one failed (the first one's, for a cleanup).
    pub fn errno(&self) -> Option<Errno> {
        match self {
            Error::Call { errno, .. } | Error::Sys { errno, .. } | Error::Errno(errno) => {
                Some(*errno)
            }
            Error::Reported { errno, .. } => *errno,
            Error::Io { err, .. } | Error::Os(err) => err.raw_os_error().map(Errno::from_raw),
            Error::Context { err, .. } => err.errno(),
            Error::Cleanup(errors) => errors.iter().find_map(Error::errno),
            Error::Cgroup(e) => e.errno(),
            Error::Image(e) => e.errno(),
            Error::Assemble(e) => e.errno(),
            _ => None,
        }
    }

    /// Whether the other process is gone (under whatever context was added): it said
    /// nothing more, or the kernel refused to send to it (EPIPE, ECONNRESET: its end
    /// of the socket is closed, unix(7)).
    pub fn is_gone(&self) -> bool {
        match self {
            Error::Gone(_) => true,
            Error::Io { err, .. } => {
                matches!(err.raw_os_error(), Some(libc::EPIPE | libc::ECONNRESET))
            }
            Error::Context { err, .. } => err.is_gone(),
            _ => false,
        }
    }

    /// The failure the subject's report of a step or request shows: its first failed
    /// call's errno, under `what`.
    pub fn reported(what: impl Into<String>, report: &super::report::Report) -> Error {
        Error::Reported {
            what: what.into(),
            errno: report.errno(),
        }
    }
}

crate::runtime::context::ctx_trait!(Error, Missing);

/// `ctx` for the errors of the modules below: the error kept whole, under `what`.
macro_rules! ctx_of {
    ($($from:ty),*) => {$(
        impl<T> Ctx<T> for std::result::Result<T, $from> {
            fn ctx<S: Into<String>>(self, what: impl FnOnce() -> S) -> Result<T> {
                self.map_err(|err| Error::Context {
                    what: what().into(),
                    err: Box::new(err.into()),
                })
            }
        }
    )*};
}

ctx_of!(cgroup::Error, image::error::Error, assemble::error::Error);

#[cfg(test)]
mod tests {
    use super::*;
    use crate::runtime::report::Report;

    /// A context over an error of ours prints as anyhow's `{:#}` printed the same
    /// chain: "context: context: error".
    #[test]
    fn a_nested_context_prints_as_anyhow_did() {
        let io = io::Error::from_raw_os_error(libc::ENOSPC);
        let ours: Result<()> = Err(io)
            .ctx(|| "writing /run/underhood/0a0b0c0d/state.json.tmp")
            .ctx(|| "recording the cgroup");
        let inner = anyhow::Error::from(io::Error::from_raw_os_error(libc::ENOSPC))
            .context("writing /run/underhood/0a0b0c0d/state.json.tmp");
        let old = inner.context("recording the cgroup");
        let e = ours.unwrap_err();
        assert_eq!(e.to_string(), format!("{old:#}"));
        assert_eq!(format!("{e:#}"), e.to_string(), "whole on its own");
        assert_eq!(e.errno(), Some(Errno::ENOSPC), "through both contexts");
    }

    #[test]
    fn a_nix_call_and_a_bare_errno_print_as_anyhow_did() {
        let e: Result<()> = Err(Errno::EINTR).ctx(|| "poll");
        let old = anyhow::Context::context(Err::<(), _>(Errno::EINTR), "poll").unwrap_err();
        assert_eq!(e.unwrap_err().to_string(), format!("{old:#}"));
        let bare = Error::from(Errno::EPERM);
        assert_eq!(
            bare.to_string(),
            format!("{:#}", anyhow::Error::from(Errno::EPERM))
        );
        assert_eq!(bare.errno(), Some(Errno::EPERM));
    }

    /// A step the subject reported failed carries the errno of its report's first
    /// failed call, typed (no text parsed), and prints only what failed.
    #[test]
    fn a_reported_failure_carries_the_reports_errno() {
        let mut r = Report::new("user namespace");
        let _ = r.call("unshare", "CLONE_NEWUSER", Err::<(), _>(Errno::EPERM));
        let e = Error::reported("the subject reported a failure", &r);
        assert_eq!(e.to_string(), "the subject reported a failure");
        assert_eq!(e.errno(), Some(Errno::EPERM));
        let clean = Error::reported("configuring eth0 inside failed", &Report::new("veth"));
        assert_eq!(clean.errno(), None);
    }

    #[test]
    fn gone_is_seen_under_a_context_and_a_cleanup_joins_its_failures() {
        let e: Result<()> = Err(Error::Gone("the subject process died".into())).ctx(|| "spawn sh");
        let e = e.unwrap_err();
        assert!(e.is_gone());
        assert_eq!(e.to_string(), "spawn sh: the subject process died");
        assert!(!Error::Protocol("unexpected reply".into()).is_gone());
        let c = Error::Cleanup(vec![
            Error::Failed("removing cgroup /sys/fs/cgroup/x: busy".into()),
            Error::Io {
                what: "removing /run/underhood/0a0b0c0d".into(),
                err: io::Error::from_raw_os_error(libc::EBUSY),
            },
        ]);
        assert_eq!(
            c.to_string(),
            "cleanup was incomplete: removing cgroup /sys/fs/cgroup/x: busy; \
             removing /run/underhood/0a0b0c0d: Device or resource busy (os error 16)"
        );
        assert_eq!(c.errno(), Some(Errno::EBUSY));
    }

    #[test]
    fn a_call_prints_as_the_reports_do() {
        let e = Error::Call {
            call: "recvmsg SCM_RIGHTS (the terminal's master end)".into(),
            errno: Errno::EBADF,
        };
        assert_eq!(
            e.to_string(),
            "recvmsg SCM_RIGHTS (the terminal's master end) = EBADF: Bad file number"
        );
        assert_eq!(e.errno(), Some(Errno::EBADF));
        let missing: Result<()> = None.ctx(|| "the container's terminal was never sent");
        assert!(matches!(missing, Err(Error::Missing(_))));
    }
}
