//! The session floor's error, typed by what a caller does about it: a step the kernel
//! refused (which step, and its report with the failed call and errno) is
//! [`Error::Step`]; the signals or a follower's socket that could not be set up; the
//! runtime failing to prepare, start, talk to or tear down a launch; the terminal a
//! headless command runs on; a lesson's host-side action; the cgroup's OOM events.
//!
//! Messages are whole on their own (`{e}` and `{e:#}` print the same, nothing is left
//! to a source chain): a context wraps the error under it as "context: error", as
//! anyhow's `{:#}` printed it before. [`Error::errno`] is the errno of the failed call,
//! read from the error's values, never parsed from its text.

use std::error::Error as StdError;
use std::io;

use nix::errno::Errno;

use super::headless::Failed;
use crate::lesson::error::whole;
use crate::runtime::cgroup;
use crate::runtime::launch_error;

/// An error from a front end's terminal, whose type the session does not branch on.
/// Shown whole, with the errors under it (`lesson::error::whole`).
pub type Source = Box<dyn StdError + Send + Sync>;

#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The exit signals could not be blocked (pthread_sigmask(3)).
    #[error("blocking signals: {0}")]
    Signals(Errno),
    /// A socket for followers could not be made or bound (`what`: "publishing on
    /// ADDR", "a socketpair to wake the class reader"); EADDRINUSE for a taken port.
    #[error("{what}: {err}")]
    Socket { what: String, err: io::Error },
    /// A step failed: the kernel refused one of its calls (or the subject is gone);
    /// its report names the call and the errno.
    #[error("{}", .0.failure.message)]
    Step(Box<Failed>),
    /// The runtime could not prepare the layers, start the subject, talk to it or
    /// tear the container down (its message is whole: "context: error").
    #[error(transparent)]
    Runtime(#[from] launch_error::Error),
    /// The terminal a headless command runs on (`run`'s relay) failed.
    #[error("{}", whole(.0.as_ref()))]
    Terminal(Source),
    /// A system call of the session's own failed (`what`: "poll", "pidfd_open(PID, 0)").
    #[error("{what}: {errno}")]
    Sys { what: String, errno: Errno },
    /// A lesson's host-side action (`host_solve`) failed.
    #[error(transparent)]
    Lesson(#[from] crate::lesson::error::Error),
    /// The container's cgroup could not be watched for OOM events.
    #[error(transparent)]
    Cgroup(#[from] cgroup::Error),
    /// An error of ours, with what we were doing when it happened.
    #[error("{what}: {err}")]
    Context { what: String, err: Box<Error> },
}

pub type Result<T, E = Error> = std::result::Result<T, E>;

impl Error {
    /// The runtime's error `e`.
    pub fn runtime(e: impl Into<launch_error::Error>) -> Error {
        Error::Runtime(e.into())
    }

    /// This error, with what we were doing when it happened.
    pub fn context(self, what: impl Into<String>) -> Error {
        Error::Context {
            what: what.into(),
            err: Box::new(self),
        }
    }

    /// The errno of the failed call, if one failed.
    pub fn errno(&self) -> Option<Errno> {
        match self {
            Error::Signals(e) | Error::Sys { errno: e, .. } => Some(*e),
            Error::Socket { err, .. } => err.raw_os_error().map(Errno::from_raw),
            Error::Step(f) => f.failure.errno(),
            Error::Runtime(e) => e.errno(),
            Error::Terminal(e) => errno_in(e.as_ref()),
            Error::Lesson(e) => e.errno(),
            Error::Cgroup(e) => e.errno(),
            Error::Context { err, .. } => err.errno(),
        }
    }
}

/// The errno of the first error in a terminal relay's chain that carries one (an
/// `io::Error` or an `Errno`: what a relay's reads, writes and ioctls fail with).
fn errno_in(e: &(dyn StdError + 'static)) -> Option<Errno> {
    let mut next = Some(e);
    while let Some(e) = next {
        let found = if let Some(io) = e.downcast_ref::<io::Error>() {
            io.raw_os_error().map(Errno::from_raw)
        } else {
            e.downcast_ref::<Errno>().copied()
        };
        if found.is_some() {
            return found;
        }
        next = e.source();
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::runtime::controller::StepFailure;

    #[test]
    fn a_runtime_error_is_shown_whole_as_anyhow_showed_it() {
        let inner = launch_error::Error::Io {
            what: "opening /run/underhood/x".into(),
            err: io::Error::from_raw_os_error(13),
        };
        let e = launch_error::Error::Context {
            what: "starting the subject".into(),
            err: Box::new(inner),
        };
        let shown = format!("{e:#}");
        let ours = Error::runtime(e);
        assert_eq!(ours.to_string(), shown);
        assert_eq!(format!("{ours:#}"), shown);
        assert!(shown.starts_with("starting the subject: opening /run/underhood/x: "));
        // The errno is the failed call's, not read from the text.
        assert_eq!(ours.errno(), Some(Errno::EACCES));
    }

    #[test]
    fn a_step_refused_says_its_message_and_its_reports_errno() {
        use crate::runtime::report::Report;
        use crate::runtime::step::Step;
        let mut report = Report::new("uts");
        let _ = report.call::<()>("unshare", "CLONE_NEWUTS", Err(Errno::EPERM));
        let failure = StepFailure {
            report: Box::new(report),
            message: "uts failed: unshare(CLONE_NEWUTS) = EPERM".into(),
            cause: None,
        };
        let e = Error::Step(Box::new(Failed {
            step: Step::Uts {
                hostname: "box".into(),
            },
            failure,
        }));
        assert_eq!(e.to_string(), "uts failed: unshare(CLONE_NEWUTS) = EPERM");
        assert_eq!(e.errno(), Some(Errno::EPERM));
    }

    #[test]
    fn a_context_wraps_and_keeps_the_errno() {
        let e = Error::Sys {
            what: "poll".into(),
            errno: Errno::EBADF,
        }
        .context("waiting for the command");
        assert_eq!(
            e.to_string(),
            format!("waiting for the command: poll: {}", Errno::EBADF)
        );
        assert_eq!(e.errno(), Some(Errno::EBADF));
        // A plain message carries no errno.
        let refused = Error::runtime(launch_error::Error::Failed("the double refuses".into()));
        assert_eq!(refused.errno(), None);
        assert_eq!(refused.to_string(), "the double refuses");
    }
}
