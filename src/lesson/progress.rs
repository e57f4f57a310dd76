//! A learner's progress, per user, under the XDG state directory:
//! `$XDG_STATE_HOME/underhood/progress.json` (default `~/.local/state`). Written
//! atomically; a missing or unreadable file is a fresh start, never an error.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use super::error::{Error, Result};
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Progress {
    /// Ids of the lessons whose checks all passed.
    pub passed: BTreeSet<String>,
    /// Where the learner was: lesson id and steps taken.
    pub current: Option<(String, usize)>,
}

/// The progress file for this user.
pub fn default_path() -> PathBuf {
    let env = |k: &str| {
        std::env::var_os(k)
            .filter(|v| !v.is_empty())
            .map(PathBuf::from)
    };
    env("XDG_STATE_HOME")
        .or_else(|| env("HOME").map(|h| h.join(".local/state")))
        .unwrap_or_else(std::env::temp_dir)
        .join("underhood")
        .join("progress.json")
}

impl Progress {
    pub fn load(path: &Path) -> Progress {
        std::fs::read(path)
            .ok()
            .and_then(|b| serde_json::from_slice(&b).ok())
            .unwrap_or_default()
    }

    pub fn save(&self, path: &Path) -> Result<()> {
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir).map_err(|err| Error::Io {
                op: "creating",
                path: dir.to_path_buf(),
                err,
            })?;
        }
        let tmp = path.with_extension("json.tmp");
        let json = serde_json::to_vec_pretty(self).map_err(Error::Encode)?;
        std::fs::write(&tmp, json).map_err(|err| Error::Io {
            op: "writing",
            path: tmp.clone(),
            err,
        })?;
        std::fs::rename(&tmp, path).map_err(|err| Error::Io {
            op: "renaming to",
            path: path.to_path_buf(),
            err,
        })
    }

    /// Forgets one lesson, or everything.
    pub fn reset(&mut self, id: Option<&str>) {
        match id {
            Some(id) => {
                self.passed.remove(id);
                if self.current.as_ref().is_some_and(|(c, _)| c == id) {
                    self.current = None;
                }
            }
            None => *self = Progress::default(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip_and_reset() {
        let tmp = tempfile::tempdir().unwrap();
        let path = tmp.path().join("state/underhood/progress.json");
        assert_eq!(Progress::load(&path), Progress::default());
        let mut p = Progress::default();
        p.passed.insert("uts".into());
        p.passed.insert("pid".into());
        p.current = Some(("pid".into(), 3));
        p.save(&path).unwrap();
        let mut q = Progress::load(&path);
        assert_eq!(q, p);
        q.reset(Some("pid"));
        assert!(!q.passed.contains("pid") && q.current.is_none() && q.passed.contains("uts"));
        q.reset(None);
        assert_eq!(q, Progress::default());
        std::fs::write(&path, "not json").unwrap();
        assert_eq!(Progress::load(&path), Progress::default());
    }
}
