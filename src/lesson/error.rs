//! The lesson floor's errors: [`Error`], saving progress, running a lesson's host-side
//! commands, naming a track; [`ProbeError`], a check that could not look (which is not
//! a check that looked and is red: the check shows why, red).
//!
//! Messages are whole on their own (path, command, errno or exit status in the text), so
//! `{e}` and `{e:#}` print the same.

use std::io;
use std::path::PathBuf;
use std::process::ExitStatus;

use nix::errno::Errno;

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
    /// `--track NAME` names no track of these lessons (`known`: the ones there are).
    #[error("{}", no_track(name, known))]
    NoTrack { name: String, known: Vec<String> },
}

pub type Result<T, E = Error> = std::result::Result<T, E>;

impl Error {
    /// The errno of the failed call, if one failed.
    pub fn errno(&self) -> Option<Errno> {
        match self {
            Error::Io { err, .. } | Error::Spawn { err, .. } => {
                err.raw_os_error().map(Errno::from_raw)
            }
            _ => None,
        }
    }
}

fn no_track(name: &str, known: &[String]) -> String {
    if known.is_empty() {
        format!("no track {name:?}: these lessons have no tracks.toml")
    } else {
        format!("no track {name:?}; the tracks are: {}", known.join(", "))
    }
}

/// Why a check could not look at what it judges: it is then red, with this as its
/// detail. Runs are `/bin/sh -c` inside the container (through its subject, or with
/// nsenter(1) into the learner's) or on the host, each for at most five seconds.
#[derive(Debug, thiserror::Error)]
pub enum ProbeError {
    /// A lesson made by hand, and no container of the learner's yet.
    #[error("{}", super::probe::NO_CONTAINER_YET)]
    NoContainerYet,
    /// The pipe for the command's output could not be made (pipe(2)).
    #[error("pipe: {0}")]
    Pipe(io::Error),
    /// The command could not be started (`shown`: the command as the lesson wrote it).
    #[error("running `{shown}`: {err}")]
    Spawn { shown: String, err: io::Error },
    /// It ran longer than five seconds and was killed.
    #[error("`{shown}` took longer than 5 s")]
    TimedOut { shown: String },
    /// waitpid(2) on it failed.
    #[error("waiting for `{shown}`: {err}")]
    Wait { shown: String, err: io::Error },
    /// The container's subject could not run it: the runtime's error (whole:
    /// "context: error").
    #[error(transparent)]
    Inside(crate::runtime::launch_error::Error),
}

impl ProbeError {
    /// The errno of the failed call, if one failed.
    pub fn errno(&self) -> Option<Errno> {
        match self {
            ProbeError::Pipe(err)
            | ProbeError::Spawn { err, .. }
            | ProbeError::Wait { err, .. } => err.raw_os_error().map(Errno::from_raw),
            ProbeError::Inside(e) => e.errno(),
            _ => None,
        }
    }
}

/// `e` and the errors under it, as anyhow's `{:#}` prints them: "outer: inner: ...".
/// For the errors a floor only forwards (the runtime's), shown whole.
pub fn whole(e: &(dyn std::error::Error + 'static)) -> String {
    let mut text = e.to_string();
    let mut next = e.source();
    while let Some(cause) = next {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        next = cause.source();
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_unknown_track_names_the_known_ones() {
        let e = |known: &[&str]| Error::NoTrack {
            name: "nope".into(),
            known: known.iter().map(|k| k.to_string()).collect(),
        };
        assert_eq!(
            e(&[]).to_string(),
            "no track \"nope\": these lessons have no tracks.toml"
        );
        assert_eq!(
            e(&["workshop", "talk"]).to_string(),
            "no track \"nope\"; the tracks are: workshop, talk"
        );
    }

    #[test]
    fn a_probe_that_could_not_look_says_why_with_its_errno() {
        let e = ProbeError::Spawn {
            shown: "nsenter".into(),
            err: io::Error::from_raw_os_error(2),
        };
        assert!(e.to_string().starts_with("running `nsenter`: "), "{e}");
        assert_eq!(e.errno(), Some(Errno::ENOENT));
        let t = ProbeError::TimedOut {
            shown: "sleep 9".into(),
        };
        assert_eq!(t.to_string(), "`sleep 9` took longer than 5 s");
        assert_eq!(t.errno(), None);
        assert_eq!(
            ProbeError::NoContainerYet.to_string(),
            crate::lesson::probe::NO_CONTAINER_YET
        );
    }
}
