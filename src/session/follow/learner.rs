//! The class protocol: what a follower says back on its follow connection, and what
//! the session answers. One JSON object per line, like positions (see `position`).
//!
//! A learner (a session started with `--follow ADDR`) sends, on connecting:
//!
//! ```text
//! {"v":1,"hello":{"name":"ada@lab-3"}}
//! {"v":1,"progress":{"lesson":"oom","done":3,"of":5,"step":"pid",
//!  "checks":[{"id":"oom-killed","state":"passed"},
//!            {"id":"counter-read","state":"failed","why":"you wrote: nothing"}]}}
//! ```
//!
//! then a `progress` line whenever its lesson, step or a check's state changes, and the
//! last one again after `publish::HEARTBEAT` of quiet (a learner silent for three
//! heartbeats is counted as gone). `state` is `passed`, `failed` (with the check's
//! one-line `why`) or `not_yet` (not evaluated). `underhood class` sends
//! `{"v":1,"watch":{}}` instead, and is then sent the class, one learner per line:
//!
//! ```text
//! {"v":1,"learner":{"id":3,"name":"ada@lab-3","gone":null,"progress":{...}}}
//! ```
//!
//! The session may answer a learner or a watcher `{"v":1,"class":{"refused":"why"}}`
//! (the class is full; the class view is served on this machine only): following goes
//! on, reporting stops. Followers of before this protocol never send, and are sent none
//! of these lines; sessions of before it never read what followers send.

use serde::{Deserialize, Serialize};

/// The version of these lines this build speaks.
pub const VERSION: u32 = 1;
/// The longest line a session reads from a follower, `\n` included; a longer one drops
/// that learner. The learner keeps its own lines under it (see [`Progress::encode`]).
pub const MAX_LINE: usize = 8 * 1024;
/// Most checks reported per lesson (the shipped lessons have at most four).
pub const MAX_CHECKS: usize = 32;
/// A check's reason, in characters, as the learner sends it and as the session keeps it.
pub const MAX_WHY: usize = 160;
/// A name, an id or a step name, in characters, as kept.
pub const MAX_NAME: usize = 48;

/// Where a check stands for one learner.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum State {
    Passed,
    Failed,
    NotYet,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CheckState {
    pub id: String,
    pub state: State,
    /// For `failed`: what the check saw, one line.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub why: Option<String>,
}

/// Where one learner is: lesson, step, checks.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Progress {
    /// The lesson's id, `None` on the full walk.
    pub lesson: Option<String>,
    pub done: u32,
    pub of: u32,
    /// The name of the step just taken.
    #[serde(default)]
    pub step: Option<String>,
    #[serde(default)]
    pub checks: Vec<CheckState>,
}

/// A line from a follower.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Said {
    Hello { name: String },
    Progress(Progress),
    Watch {},
}

/// A line from the session about the class (besides positions).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Told {
    /// To a learner or watcher: no class for you, and why. Following goes on.
    Class { refused: String },
    /// To a watcher: one learner as the session sees it now.
    Learner(Entry),
}

/// One learner of the class, as a watcher is sent it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Entry {
    /// Given by the session, unique while it runs (a reconnection keeps its entry).
    pub id: u64,
    /// Sanitized: printable, at most [`MAX_NAME`] characters.
    pub name: String,
    /// Why this learner is gone, while they are.
    pub gone: Option<String>,
    pub progress: Option<Progress>,
}

/// Why a follower's line is not one.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum LineError {
    #[error("speaks class protocol version {0}, this underhood only {VERSION}")]
    Newer(u32),
    #[error("{0}")]
    Garbage(String),
}

#[derive(Serialize)]
struct Out<'a, T> {
    v: u32,
    #[serde(flatten)]
    body: &'a T,
}

fn encode<T: Serialize>(body: &T) -> String {
    // Plain strings and numbers: serializing cannot fail.
    let mut line = serde_json::to_string(&Out { v: VERSION, body }).unwrap_or_default();
    line.push('\n');
    line
}

/// The version first (a newer peer is named, not called garbage), then the one key
/// besides `v` as the body.
fn decode<T: serde::de::DeserializeOwned>(line: &str) -> Result<T, LineError> {
    let mut value: serde_json::Value = serde_json::from_str(line.trim_end())
        .map_err(|e| LineError::Garbage(format!("not JSON: {e}")))?;
    let obj = value
        .as_object_mut()
        .ok_or_else(|| LineError::Garbage("not a JSON object".into()))?;
    let v = obj
        .remove("v")
        .and_then(|v| v.as_u64())
        .ok_or_else(|| LineError::Garbage("no version field `v`".into()))?;
    if v > VERSION as u64 {
        return Err(LineError::Newer(u32::try_from(v).unwrap_or(u32::MAX)));
    }
    if obj.len() != 1 {
        return Err(LineError::Garbage(format!(
            "{} keys besides `v`, expected one",
            obj.len()
        )));
    }
    serde_json::from_value(value).map_err(|e| LineError::Garbage(e.to_string()))
}

impl Said {
    pub fn encode(&self) -> String {
        encode(self)
    }

    pub fn decode(line: &str) -> Result<Said, LineError> {
        decode(line)
    }
}

impl Told {
    pub fn encode(&self) -> String {
        encode(self)
    }

    /// `None` for a line that is not about the class (a position, most likely).
    pub fn decode(line: &str) -> Option<Result<Told, LineError>> {
        let value: serde_json::Value = serde_json::from_str(line.trim_end()).ok()?;
        let obj = value.as_object()?;
        let about = obj.contains_key("class") || obj.contains_key("learner");
        about.then(|| decode(line))
    }
}

/// At most `max` characters of `text`, printable (no terminal escapes, one line): what
/// a peer sent is shown, never obeyed.
pub fn clean(text: &str, max: usize) -> String {
    let p = crate::runtime::report::printable(text.trim());
    match p.char_indices().nth(max) {
        Some((i, _)) => format!("{}…", &p[..i]),
        None => p,
    }
}

impl Progress {
    /// The line, under [`MAX_LINE`] whatever the lesson: reasons are dropped, then
    /// checks, until it fits.
    pub fn encode(&self) -> String {
        let mut p = self.clone();
        let mut line = Said::Progress(p.clone()).encode();
        if line.len() > MAX_LINE {
            p.checks.iter_mut().for_each(|c| c.why = None);
            line = Said::Progress(p.clone()).encode();
        }
        while line.len() > MAX_LINE && p.checks.pop().is_some() {
            line = Said::Progress(p.clone()).encode();
        }
        line
    }

    /// The same, with every string made printable and cut: what the session keeps.
    pub fn cleaned(self) -> Progress {
        Progress {
            lesson: self.lesson.map(|l| clean(&l, MAX_NAME)),
            done: self.done,
            of: self.of,
            step: self.step.map(|s| clean(&s, MAX_NAME)),
            checks: self
                .checks
                .into_iter()
                .take(MAX_CHECKS)
                .map(|c| CheckState {
                    id: clean(&c.id, MAX_NAME),
                    state: c.state,
                    why: c.why.map(|w| clean(&w, MAX_WHY)),
                })
                .collect(),
        }
    }

    /// The state of check `id`, if reported.
    pub fn check(&self, id: &str) -> Option<&CheckState> {
        self.checks.iter().find(|c| c.id == id)
    }
}

/// The name a learner goes by when `--name` is not given: `user@host`.
pub fn default_name() -> String {
    let user = std::env::var("SUDO_USER")
        .ok()
        .filter(|u| !u.is_empty())
        .or_else(|| {
            nix::unistd::User::from_uid(nix::unistd::getuid())
                .ok()
                .flatten()
                .map(|u| u.name)
        })
        .unwrap_or_else(|| "learner".into());
    let host = nix::unistd::gethostname()
        .map(|h| h.to_string_lossy().into_owned())
        .unwrap_or_else(|_| "?".into());
    clean(&format!("{user}@{host}"), MAX_NAME)
}

#[cfg(test)]
mod tests {
    use super::*;

    pub(crate) fn progress() -> Progress {
        Progress {
            lesson: Some("oom".into()),
            done: 3,
            of: 5,
            step: Some("pid".into()),
            checks: vec![
                CheckState {
                    id: "oom-killed".into(),
                    state: State::Passed,
                    why: None,
                },
                CheckState {
                    id: "counter-read".into(),
                    state: State::Failed,
                    why: Some("you wrote: nothing".into()),
                },
            ],
        }
    }

    #[test]
    fn lines_survive_their_encoding_and_read_as_documented() {
        let hello = Said::Hello {
            name: "ada@lab-3".into(),
        };
        assert_eq!(
            hello.encode(),
            "{\"v\":1,\"hello\":{\"name\":\"ada@lab-3\"}}\n"
        );
        assert_eq!(Said::decode(&hello.encode()), Ok(hello));
        assert_eq!(Said::Watch {}.encode(), "{\"v\":1,\"watch\":{}}\n");
        let p = Said::Progress(progress());
        assert!(p.encode().starts_with(
            "{\"v\":1,\"progress\":{\"lesson\":\"oom\",\"done\":3,\"of\":5,\"step\":\"pid\","
        ));
        assert!(
            p.encode()
                .contains("{\"id\":\"oom-killed\",\"state\":\"passed\"}")
        );
        assert_eq!(Said::decode(&p.encode()), Ok(p));
        let refused = Told::Class {
            refused: "full".into(),
        };
        assert_eq!(
            refused.encode(),
            "{\"v\":1,\"class\":{\"refused\":\"full\"}}\n"
        );
        assert_eq!(Told::decode(&refused.encode()), Some(Ok(refused)));
        let e = Told::Learner(Entry {
            id: 3,
            name: "ada".into(),
            gone: None,
            progress: Some(progress()),
        });
        assert_eq!(Told::decode(&e.encode()), Some(Ok(e)));
        // A position is not about the class.
        let pos = crate::session::follow::Position::example().encode();
        assert_eq!(Told::decode(&pos), None);
    }

    #[test]
    fn garbage_and_newer_lines_are_told_apart() {
        for bad in [
            "",
            "hello",
            "[1]",
            "{}",
            r#"{"v":"1","hello":{"name":"x"}}"#,
            r#"{"v":1}"#,
            r#"{"v":1,"hello":{"name":"x"},"watch":{}}"#,
            r#"{"v":1,"shout":{}}"#,
            r#"{"v":1,"hello":{"name":7}}"#,
            r#"{"v":1,"progress":{"lesson":null,"done":-1,"of":2}}"#,
            r#"{"v":1,"progress":{"lesson":null,"done":1,"of":2,"checks":[{"id":"a","state":"maybe"}]}}"#,
        ] {
            assert!(
                matches!(Said::decode(bad), Err(LineError::Garbage(_))),
                "{bad}: {:?}",
                Said::decode(bad)
            );
        }
        assert_eq!(
            Said::decode(r#"{"v":2,"hello":{"name":"x"},"more":1}"#),
            Err(LineError::Newer(2))
        );
    }

    #[test]
    fn a_progress_line_fits_the_limit_whatever_the_lesson() {
        let mut p = progress();
        p.checks = (0..200)
            .map(|i| CheckState {
                id: format!("check-{i}-{}", "x".repeat(40)),
                state: State::Failed,
                why: Some("w".repeat(MAX_WHY)),
            })
            .collect();
        let line = p.encode();
        assert!(line.len() <= MAX_LINE, "{}", line.len());
        let Ok(Said::Progress(back)) = Said::decode(&line) else {
            panic!("{line}")
        };
        assert!(!back.checks.is_empty() && back.checks.iter().all(|c| c.why.is_none()));
    }

    #[test]
    fn cleaning_removes_escapes_and_cuts() {
        assert_eq!(clean("  \u{1b}[2Jeve\n ", 48), "\\u{1b}[2Jeve");
        assert_eq!(clean("abcdef", 3), "abc…");
        let p = Progress {
            step: Some("\u{9b}31m".into()),
            ..progress()
        }
        .cleaned();
        assert_eq!(p.step.as_deref(), Some("\\u{9b}31m"));
    }
}
