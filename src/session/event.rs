//! The session's events: everything that changes what a front end shows of the
//! container, in the order it happened. A live session makes them from the kernel; a
//! recording (`--record`) is these values as JSON lines, and a replay applies the very
//! same values, so both draw the same screens. The field names are the recording
//! format's (docs/recording-format.md): renaming one breaks old recordings.

use serde::{Deserialize, Serialize};

use crate::lesson::check::Outcome;
use crate::observe::namespaces::NsLink;
use crate::observe::snapshot::Snapshot;
use crate::runtime::report::Report;
use crate::runtime::step::Step;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Event {
    /// A new container was started for these steps (at the start, going back, or a
    /// new lesson): the previous container's state is gone.
    Started {
        steps: Vec<Step>,
    },
    /// A lesson was opened (its file's text, parsed again when replayed), or left.
    Lesson {
        lesson: Option<LessonSource>,
    },
    /// A step was taken: its report and the snapshots just before and after it.
    Step {
        report: Report,
        before: Option<Box<Snapshot>>,
        after: Box<Snapshot>,
    },
    /// The observer's sample of the container.
    Snapshot {
        snapshot: Box<Snapshot>,
    },
    /// A report that is not a step (a spawn, a failed step, the hog's end).
    Log {
        report: Report,
    },
    /// The message line (info or error); `None` clears it.
    Message {
        message: Option<Message>,
    },
    /// The memory hog started (its pid inside) or ended.
    Hog {
        pid: Option<i32>,
    },
    /// The lesson's checks were evaluated: one outcome per check, in order; `null`
    /// for a check left for later (its last outcome stays).
    Checks {
        outcomes: Vec<Option<Outcome>>,
    },
    /// A shell pane opened on a terminal of this size.
    ShellOpened {
        slot: Slot,
        title: String,
        pid: i32,
        rows: u16,
        cols: u16,
    },
    /// What the shell printed (raw terminal bytes).
    ShellOutput {
        slot: Slot,
        #[serde(with = "bytes_b64")]
        bytes: Vec<u8>,
    },
    ShellResized {
        slot: Slot,
        rows: u16,
        cols: u16,
    },
    ShellClosed {
        slot: Slot,
    },
    /// Whom the session follows (`--follow`), and why the link is lost while it is.
    Follow {
        addr: Option<String>,
        lost: Option<String>,
    },
}

/// A lesson as a file: where it came from and its whole text.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LessonSource {
    pub path: String,
    pub text: String,
}

impl LessonSource {
    pub fn of(l: &crate::lesson::format::LessonFile) -> LessonSource {
        LessonSource {
            path: l.path.clone(),
            text: l.text.clone(),
        }
    }

    /// Parses the text again, as the lesson loader does.
    pub fn parse(
        &self,
    ) -> Result<crate::lesson::format::LessonFile, crate::lesson::format::Problem> {
        crate::lesson::format::parse(&self.path, &self.text)
    }
}

impl Event {
    /// Whether this event is a step taken (replays step between these).
    pub fn is_step(&self) -> bool {
        matches!(self, Event::Step { .. })
    }
}

/// A line for the message line: what happened, or what went wrong.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Message {
    pub text: String,
    pub error: bool,
    /// The errno of the call that failed (a step, a spawn refused), as a value: what
    /// the message line explains in plain words. Absent in recordings made before it
    /// was kept, and in messages that are not a failed call.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub errno: Option<i32>,
}

impl Message {
    /// It may quote argv, a hostname or a file's bytes: control characters are kept
    /// escaped (a terminal would act on them, ratatui drops them silently).
    pub fn info(text: impl Into<String>) -> Message {
        Message {
            text: crate::runtime::report::printable_lines(&text.into()),
            error: false,
            errno: None,
        }
    }

    pub fn error(text: impl Into<String>) -> Message {
        Message {
            text: crate::runtime::report::printable_lines(&text.into()),
            error: true,
            errno: None,
        }
    }

    /// What went wrong when a call failed with `errno` (`None`: no call failed).
    pub fn failed(text: impl Into<String>, errno: Option<nix::errno::Errno>) -> Message {
        Message {
            errno: errno.map(|e| e as i32),
            ..Message::error(text)
        }
    }

    /// The errno of the call that failed, if the message kept one.
    pub fn errno(&self) -> Option<nix::errno::Errno> {
        self.errno.map(nix::errno::Errno::from_raw)
    }
}

impl Event {
    /// The message line saying `text`.
    pub fn info(text: impl Into<String>) -> Event {
        Event::Message {
            message: Some(Message::info(text)),
        }
    }

    /// The message line saying what went wrong.
    pub fn error(text: impl Into<String>) -> Event {
        Event::Message {
            message: Some(Message::error(text)),
        }
    }

    /// The message line saying what went wrong, when a call failed with `errno`.
    pub fn failed(text: impl Into<String>, errno: Option<nix::errno::Errno>) -> Event {
        Event::Message {
            message: Some(Message::failed(text, errno)),
        }
    }
}

/// Which shell: the one PID 1 started (`s`), the one that entered the running
/// container from outside with setns (`e`), or a shell on the host itself (`h`), with
/// variables that point at the container (runtime::host_shell).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Slot {
    Spawned,
    Entered,
    Host,
}

impl Slot {
    pub const ALL: [Slot; 3] = [Slot::Spawned, Slot::Entered, Slot::Host];
}

/// The host facts a front end shows in its header (and a recording keeps).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct HostLine {
    pub root: bool,
    pub cgroup: String,
    pub overlay: String,
    pub userns: String,
}

/// The host's namespaces, as the first lines of a recording keep them.
pub type HostNs = Vec<NsLink>;

/// Terminal output as base64 in the JSON (a quarter larger than the bytes, where a
/// JSON array of numbers would be four times larger).
mod bytes_b64 {
    use base64::Engine;
    use base64::engine::general_purpose::STANDARD;
    use serde::{Deserialize, Deserializer, Serializer};

    pub fn serialize<S: Serializer>(bytes: &[u8], s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&STANDARD.encode(bytes))
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<u8>, D::Error> {
        let text = String::deserialize(d)?;
        STANDARD
            .decode(text.as_bytes())
            .map_err(|e| serde::de::Error::custom(format!("shell output is not base64: {e}")))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn events_survive_json() {
        let evs = vec![
            Event::Started {
                steps: vec![Step::Ipc, Step::Mount],
            },
            Event::Hog { pid: Some(7) },
            Event::ShellOutput {
                slot: Slot::Spawned,
                bytes: vec![0, 0x1b, b'[', 0xff],
            },
            Event::Message {
                message: Some(Message {
                    text: "hi".into(),
                    error: true,
                    errno: None,
                }),
            },
            Event::failed(
                "mount failed: mount(...) = EPERM",
                Some(nix::errno::Errno::EPERM),
            ),
        ];
        for ev in evs {
            let json = serde_json::to_string(&ev).unwrap();
            let back: Event = serde_json::from_str(&json).unwrap();
            assert_eq!(back, ev, "{json}");
        }
    }

    #[test]
    fn slots_keep_their_recorded_names() {
        // Recordings name the slot: old ones say spawned/entered, new ones host too.
        for (slot, name) in [
            (Slot::Spawned, "\"spawned\""),
            (Slot::Entered, "\"entered\""),
            (Slot::Host, "\"host\""),
        ] {
            assert_eq!(serde_json::to_string(&slot).unwrap(), name);
            assert_eq!(serde_json::from_str::<Slot>(name).unwrap(), slot);
        }
    }

    #[test]
    fn messages_keep_control_characters_escaped() {
        let m = Message::error("exec /no-such-\u{1b}]0;owned\u{7}: ENOENT");
        assert_eq!(m.text, "exec /no-such-\\u{1b}]0;owned\\u{7}: ENOENT");
        assert!(m.error);
    }
}
