//! The follow protocol: where a session is, one JSON object per line (`\n`-terminated,
//! UTF-8), sent by the session to every client — when a client connects, whenever the
//! position changes, and again every few seconds as a heartbeat. Clients never send.
//!
//! ```text
//! {"v":1,"lesson":{"id":"uts","title":"UTS: a hostname of its own"},"done":1,"of":3,
//!  "last":{"name":"uts","title":"UTS namespace (hostname uts-lesson)"},
//!  "next":{"name":"exec","title":"exec sleep 2147483647"},"started_ms":1764380000000,"pid":4242}
//! ```
//!
//! - `v`: the protocol version. A client meeting a newer one says so and waits; fields
//!   added in a later version without a bump must be optional (unknown ones are ignored).
//! - `lesson`: the lesson the session follows, or `null` for the full launch.
//! - `done` / `of`: steps taken, and how many the launch has.
//! - `last` / `next`: the step just taken and the one to come (`name` as in lesson
//!   files, `title` as the TUI shows it), or `null`.
//! - `started_ms`: when the session started (unix time, ms), for a speaker's timer.
//! - `pid`: the publishing process.

use serde::{Deserialize, Serialize};

/// The version this build speaks.
pub const VERSION: u32 = 1;

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LessonRef {
    pub id: String,
    pub title: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StepRef {
    pub name: String,
    pub title: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Position {
    pub v: u32,
    pub lesson: Option<LessonRef>,
    pub done: usize,
    pub of: usize,
    pub last: Option<StepRef>,
    pub next: Option<StepRef>,
    pub started_ms: u64,
    pub pid: u32,
    /// Whom this session itself follows (`--follow ADDR`), if anyone: `underhood
    /// notes` looks for the presenter, not for one of the audience. Absent from
    /// positions written before it existed.
    #[serde(default)]
    pub following: Option<String>,
}

/// Why a line is not a position.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum LineError {
    #[error(
        "the session speaks follow protocol version {0}, this underhood only {VERSION}: update underhood"
    )]
    Newer(u32),
    #[error("ignored a line that is not a position ({0})")]
    Garbage(String),
}

impl Position {
    pub fn lesson_id(&self) -> Option<&str> {
        self.lesson.as_ref().map(|l| l.id.as_str())
    }

    /// Whether two positions are the same place (the heartbeat repeats a place; the
    /// publisher's pid and start time do not make it another one).
    pub fn same_place(&self, other: &Position) -> bool {
        self.lesson_id() == other.lesson_id() && self.done == other.done && self.of == other.of
    }

    /// One line, `\n` included.
    pub fn encode(&self) -> String {
        // Serializing plain strings and numbers cannot fail.
        let mut line = serde_json::to_string(self).unwrap_or_default();
        line.push('\n');
        line
    }

    /// Parses one line (with or without its `\n`). The version is read first, so a
    /// newer session is named as such rather than reported as garbage.
    pub fn decode(line: &str) -> Result<Position, LineError> {
        let value: serde_json::Value = serde_json::from_str(line.trim_end())
            .map_err(|e| LineError::Garbage(format!("not JSON: {e}")))?;
        let v = value
            .get("v")
            .and_then(serde_json::Value::as_u64)
            .ok_or_else(|| LineError::Garbage("no version field `v`".into()))?;
        if v > VERSION as u64 {
            return Err(LineError::Newer(u32::try_from(v).unwrap_or(u32::MAX)));
        }
        serde_json::from_value(value).map_err(|e| LineError::Garbage(e.to_string()))
    }
}

/// Milliseconds since the Unix epoch, now.
pub fn unix_ms_now() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() as u64)
        .unwrap_or(0)
}

/// A position for tests: the uts lesson, its one step taken, exec next.
#[cfg(test)]
impl Position {
    pub(crate) fn example() -> Position {
        Position {
            v: VERSION,
            lesson: Some(LessonRef {
                id: "uts".into(),
                title: "UTS: a hostname of its own".into(),
            }),
            done: 1,
            of: 2,
            last: Some(StepRef {
                name: "uts".into(),
                title: "UTS namespace (hostname uts-lesson)".into(),
            }),
            next: Some(StepRef {
                name: "exec".into(),
                title: "exec sleep 2147483647".into(),
            }),
            started_ms: 1_764_380_000_000,
            pid: 4242,
            following: None,
        }
    }

    /// A position of the full launch (no lesson): `done` of 3 steps, the last one
    /// taken named `last` (its name for a title too).
    pub(crate) fn at(done: usize, last: Option<&str>) -> Position {
        Position {
            lesson: None,
            done,
            of: 3,
            last: last.map(|n| StepRef {
                name: n.into(),
                title: n.into(),
            }),
            next: None,
            started_ms: 0,
            pid: 1,
            ..Position::example()
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pos() -> Position {
        Position::example()
    }

    #[test]
    fn a_position_survives_its_line() {
        let p = pos();
        let line = p.encode();
        assert!(line.ends_with('\n') && !line[..line.len() - 1].contains('\n'));
        assert_eq!(Position::decode(&line), Ok(p));
        let none = Position {
            lesson: None,
            last: None,
            next: None,
            ..pos()
        };
        assert_eq!(Position::decode(&none.encode()), Ok(none));
    }

    #[test]
    fn a_newer_version_is_named_not_parsed() {
        let line = r#"{"v":7,"whatever":"new shape"}"#;
        let e = Position::decode(line).unwrap_err();
        assert_eq!(e, LineError::Newer(7));
        assert!(e.to_string().contains("version 7"), "{e}");
    }

    #[test]
    fn unknown_fields_of_this_version_are_ignored() {
        let mut v = serde_json::to_value(pos()).unwrap();
        v["colour"] = "blue".into();
        assert_eq!(Position::decode(&v.to_string()), Ok(pos()));
    }

    #[test]
    fn garbage_is_an_error_not_a_panic() {
        for line in [
            "",
            "hello",
            "{",
            "[1,2]",
            r#"{"v":"one"}"#,
            r#"{"v":1}"#,
            r#"{"v":1,"lesson":null,"done":-1,"of":2,"last":null,"next":null,"started_ms":0,"pid":1}"#,
            "\u{0}\u{1}binary",
        ] {
            assert!(
                matches!(Position::decode(line), Err(LineError::Garbage(_))),
                "{line:?}"
            );
        }
    }

    #[test]
    fn the_same_place_ignores_the_publisher() {
        let a = pos();
        let b = Position {
            pid: 1,
            started_ms: 0,
            ..pos()
        };
        assert!(a.same_place(&b));
        assert!(!a.same_place(&Position { done: 2, ..pos() }));
    }

    #[test]
    fn whom_a_session_follows_is_optional_on_the_wire() {
        let mut p = pos();
        p.following = Some("10.0.0.1:7878".into());
        assert_eq!(Position::decode(&p.encode()), Ok(p.clone()));
        // A line from before the field existed still reads: nobody followed.
        let mut old: serde_json::Value = serde_json::from_str(&p.encode()).unwrap();
        old.as_object_mut().unwrap().remove("following");
        let back = Position::decode(&old.to_string()).unwrap();
        assert_eq!(back.following, None);
    }
}
