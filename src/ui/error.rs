//! The front ends' error (`underhood`'s TUI, `replay`, `explore`): what stops a screen
//! before or while it runs. The session's, a recording's and the observers' errors pass
//! through as they are; the rest is the terminal (set up, sized, drawn on).
//!
//! Messages are whole on their own (`{e}` and `{e:#}` print the same): the path, the
//! value and the errno are in each one's text.

use std::io;

#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The session could not start, run or tear down (its kind: `session::Error`).
    #[error(transparent)]
    Session(#[from] crate::session::Error),
    /// The recording's file could not be made or written.
    #[error(transparent)]
    Recording(#[from] crate::session::recording::Error),
    /// The explorer's picker could not list the host's containers.
    #[error(transparent)]
    Observe(#[from] crate::observe::error::Error),
    /// The terminal could not be set up or drawn on (`what`: "setting up the terminal",
    /// "drawing").
    #[error("{what}: {err}")]
    Terminal { what: &'static str, err: io::Error },
    /// The terminal's size could not be read, or a frame not drawn (ratatui's error).
    #[error(transparent)]
    Io(#[from] io::Error),
}

pub type Result<T, E = Error> = std::result::Result<T, E>;

impl Error {
    /// `what` failed on the terminal.
    pub fn terminal(what: &'static str) -> impl FnOnce(io::Error) -> Error {
        move |err| Error::Terminal { what, err }
    }

    /// The errno of the failed call, if one failed.
    pub fn errno(&self) -> Option<nix::errno::Errno> {
        match self {
            Error::Session(e) => e.errno(),
            Error::Observe(e) => e.errno(),
            Error::Terminal { err, .. } | Error::Io(err) => {
                err.raw_os_error().map(nix::errno::Errno::from_raw)
            }
            Error::Recording(
                crate::session::recording::Error::Io { err, .. }
                | crate::session::recording::Error::Create { err, .. },
            ) => err.raw_os_error().map(nix::errno::Errno::from_raw),
            Error::Recording(_) => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_terminal_error_says_what_and_keeps_its_errno() {
        let e = Error::terminal("setting up the terminal")(io::Error::from_raw_os_error(25));
        assert!(
            e.to_string().starts_with("setting up the terminal: "),
            "{e}"
        );
        assert_eq!(e.to_string(), format!("{e:#}"));
        assert_eq!(e.errno(), Some(nix::errno::Errno::ENOTTY));
        let s: Error = crate::session::Error::Signals(nix::errno::Errno::EINVAL).into();
        assert_eq!(
            s.to_string(),
            format!("blocking signals: {}", nix::errno::Errno::EINVAL)
        );
        assert_eq!(s.errno(), Some(nix::errno::Errno::EINVAL));
    }
}
