//! What changes the TUI's picture of the container. The main loop never edits the
//! container's side of `App` directly: it makes an `Event` and applies it with
//! `App::apply`. A live session makes these from the kernel (and may save them with
//! `--record` or publish where it is); a replay reads them back from a file and applies
//! the very same values, so both draw the same screens.
//!
//! What only the viewer chooses (focus, zoom, help, theme) is not an event.

pub use crate::session::event::{Event, LessonSource, Message, Slot};

use super::app::{App, FollowStatus, LessonView, Pane};
use super::shell::{Screen, ShellView};

pub use super::shell::SHELL_SCROLLBACK;

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
            Event::Message { message } => {
                // The message line is the step pane's first: scrolled away, a new
                // line would go unseen.
                if message.is_some() {
                    self.scroll.retain(|(p, _)| *p != Pane::Step);
                }
                self.message = message
            }
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
                self.follow = addr.map(|addr| FollowStatus { addr, lost });
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

pub use super::pane::{pane_of, slot_of};

#[cfg(test)]
mod tests {
    use super::*;
    use crate::runtime::step::Step;
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
