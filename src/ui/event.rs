//! What changes the TUI's picture of the container. The main loop never edits the
//! container's side of `App` directly: it makes an `Event` and applies it with
//! `App::apply`. A live session makes these from the kernel (and may save them with
//! `--record` or publish where it is); a replay reads them back from a file and applies
//! the very same values, so both draw the same screens.
//!
//! What only the viewer chooses (focus, zoom, help, theme) is not an event.

use serde::{Deserialize, Serialize};

use crate::lesson::check::Outcome;
use crate::observe::snapshot::Snapshot;
use crate::runtime::report::Report;
use crate::runtime::step::Step;

use super::app::{App, LessonView, Message, Pane};
use super::shell::{Screen, ShellView, Slot};

/// Lines kept above an embedded shell's screen (its scrollback).
pub const SHELL_SCROLLBACK: usize = 1000;

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
    pub fn parse(&self) -> anyhow::Result<crate::lesson::format::LessonFile> {
        crate::lesson::format::parse(&self.path, &self.text).map_err(|p| anyhow::anyhow!("{p}"))
    }
}

impl Event {
    /// Whether this event is a step taken (replays step between these).
    pub fn is_step(&self) -> bool {
        matches!(self, Event::Step { .. })
    }
}

impl App {
    /// Applies one event to the container's side of the state.
    pub fn apply(&mut self, ev: Event) {
        match ev {
            Event::Started { steps } => {
                self.reset_container();
                self.steps = steps;
            }
            Event::Lesson { lesson } => {
                self.lesson = lesson
                    .and_then(|l| l.parse().ok())
                    .map(|l| LessonView::from_file(&l));
            }
            Event::Step {
                report,
                before,
                after,
            } => self.step_done(report, before.as_deref(), *after),
            Event::Snapshot { snapshot } => self.take_snapshot(*snapshot),
            Event::Log { report } => self.log.push(report),
            Event::Message { message } => self.message = message,
            Event::Hog { pid } => {
                // The memory graph comes forward for the presenter, and stays after
                // the hog ends (the OOM kill is what to look at).
                if pid.is_some() {
                    self.present_pane = Some(Pane::Memory);
                }
                self.hog = pid;
            }
            Event::Checks { outcomes } => {
                if let Some(view) = self.lesson.as_mut() {
                    for (row, outcome) in view.checks.iter_mut().zip(outcomes) {
                        if outcome.is_some() {
                            row.outcome = outcome;
                        }
                    }
                }
            }
            Event::ShellOpened {
                slot,
                title,
                pid,
                rows,
                cols,
            } => {
                let view = Some(ShellView {
                    screen: Screen::new(rows, cols),
                    title,
                    pid,
                });
                match slot {
                    Slot::Spawned => self.shell = view,
                    Slot::Entered => self.entered = view,
                    Slot::Host => self.host_shell = view,
                }
                self.focus = pane_of(slot);
                self.present_pane = Some(pane_of(slot));
            }
            Event::ShellOutput { slot, bytes } => {
                if let Some(v) = self.shell_view(slot) {
                    v.screen.process(&bytes);
                }
            }
            Event::ShellResized { slot, rows, cols } => {
                if let Some(v) = self.shell_view(slot) {
                    v.screen.resize(rows, cols);
                }
            }
            Event::Follow { addr, lost } => {
                // What was last synced to stays: it is the live session's, not shown.
                let last = self.follow.take().and_then(|f| f.last);
                self.follow = addr.map(|addr| super::follow::FollowStatus { addr, lost, last });
            }
            Event::ShellClosed { slot } => {
                match slot {
                    Slot::Spawned => self.shell = None,
                    Slot::Entered => self.entered = None,
                    Slot::Host => self.host_shell = None,
                }
                if self.focus == pane_of(slot) {
                    self.focus = Pane::Step;
                }
                if self.present_pane == Some(pane_of(slot)) {
                    self.present_pane = None;
                }
            }
        }
    }

    fn shell_view(&self, slot: Slot) -> Option<&ShellView> {
        match slot {
            Slot::Spawned => self.shell.as_ref(),
            Slot::Entered => self.entered.as_ref(),
            Slot::Host => self.host_shell.as_ref(),
        }
    }
}

/// The pane a shell slot is drawn in.
pub fn pane_of(slot: Slot) -> Pane {
    match slot {
        Slot::Spawned => Pane::Shell,
        Slot::Entered => Pane::Entered,
        Slot::Host => Pane::Host,
    }
}

/// The shell slot a pane shows, if it is a shell pane.
pub fn slot_of(pane: Pane) -> Option<Slot> {
    Slot::ALL.into_iter().find(|s| pane_of(*s) == pane)
}

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
    use crate::ui::app::HostLine;
    use crate::ui::theme::{Theme, ThemeKind};

    fn app() -> App {
        App::new(
            HostLine::default(),
            Vec::new(),
            Vec::new(),
            Theme {
                kind: ThemeKind::Default,
            },
        )
    }

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
                }),
            },
        ];
        for ev in evs {
            let json = serde_json::to_string(&ev).unwrap();
            let back: Event = serde_json::from_str(&json).unwrap();
            assert_eq!(back, ev, "{json}");
        }
    }

    #[test]
    fn started_resets_and_sets_the_steps() {
        let mut a = app();
        a.done = 3;
        a.hog = Some(2);
        a.apply(Event::Started {
            steps: vec![Step::Ipc],
        });
        assert_eq!((a.done, a.hog, a.steps.len()), (0, None, 1));
    }

    #[test]
    fn a_shell_opens_prints_and_closes() {
        let mut a = app();
        a.apply(Event::ShellOpened {
            slot: Slot::Entered,
            title: "t".into(),
            pid: 3,
            rows: 5,
            cols: 20,
        });
        assert_eq!(a.focus, Pane::Entered);
        a.apply(Event::ShellOutput {
            slot: Slot::Entered,
            bytes: b"hello".to_vec(),
        });
        let text = a.entered.as_ref().unwrap().screen.contents();
        assert!(text.contains("hello"), "{text}");
        a.apply(Event::ShellClosed {
            slot: Slot::Entered,
        });
        assert!(a.entered.is_none());
        assert_eq!(a.focus, Pane::Step);
    }
}
