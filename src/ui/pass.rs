//! A lesson's passed-through steps in the TUI (`lesson::passing`): the run of them
//! that one key press takes, and the line each gets in the step pane.

use super::app::App;

impl App {
    /// How many steps the next key press takes: the whole run of passed-through steps
    /// starting at the next one, or 1 (also outside lessons, and at the end: the main
    /// loop stops when the step fails or none is left).
    pub fn steps_per_press(&self) -> usize {
        self.pass_run().max(1)
    }

    /// `(step name, its title, lesson that introduces it)` for the run of
    /// passed-through steps starting at the next step; empty when the next step is
    /// explained here.
    pub fn pass_run_steps(&self) -> Vec<(&'static str, String, String)> {
        let Some(l) = &self.lesson else {
            return Vec::new();
        };
        let n = self.pass_run();
        self.steps[self.done..self.done + n]
            .iter()
            .map(|s| {
                let to = l
                    .passing
                    .iter()
                    .find(|(p, _)| p == s.name())
                    .map(|(_, to)| to.clone())
                    .unwrap_or_default();
                (s.name(), s.title(), to)
            })
            .collect()
    }

    /// How many steps to have done after going back once: the step before, or, where
    /// that step ended a run of passed-through steps, the start of the run (one press
    /// took the run, one press undoes it; the next press takes it again).
    pub fn back_target(&self) -> usize {
        let previous = self.done.saturating_sub(1);
        let Some(l) = &self.lesson else {
            return previous;
        };
        let passed = |i: usize| l.passing.iter().any(|(p, _)| p == self.steps[i].name());
        let mut start = self.done.min(self.steps.len());
        while start > 0 && passed(start - 1) {
            start -= 1;
        }
        if start < self.done { start } else { previous }
    }

    fn pass_run(&self) -> usize {
        let Some(l) = &self.lesson else {
            return 0;
        };
        let names: Vec<&str> = self
            .steps
            .iter()
            .skip(self.done)
            .map(|s| s.name())
            .collect();
        crate::lesson::passing::run_len(&l.passing, &names)
    }
}

/// For tests: steps ipc, mount, cgroupns, time, ipc, `done` of them taken, in a
/// lesson explaining the first and the last and passing through the three between.
#[cfg(test)]
pub(crate) fn passing_fixture(done: usize) -> App {
    use crate::runtime::step::Step;
    use crate::ui::app::LessonView;
    let mut a = App::for_tests(vec![
        Step::Ipc,
        Step::Mount,
        Step::CgroupNs,
        Step::Time { offset_secs: 0 },
        Step::Ipc,
    ]);
    let pass = |s: &str| (s.to_string(), "rootfs".to_string());
    a.lesson = Some(LessonView {
        passing: vec![pass("mount"), pass("cgroupns"), pass("time")],
        ..LessonView::bare()
    });
    a.done = done;
    a
}

#[cfg(test)]
mod tests {
    use super::passing_fixture as app;

    #[test]
    fn back_after_a_run_of_passed_steps_undoes_the_whole_run() {
        assert_eq!(app(1).steps_per_press(), 3);
        // One press took mount, cgroupns, time: one press back lands before mount.
        assert_eq!(app(4).back_target(), 1);
        // After an explained step: one step back, as outside lessons.
        assert_eq!(app(5).back_target(), 4);
        assert_eq!(app(1).back_target(), 0);
        assert_eq!(app(0).back_target(), 0);
        // Dropped into the middle of a run (a followed position): back to its start.
        assert_eq!(app(3).back_target(), 1);
        let mut plain = app(4);
        plain.lesson = None;
        assert_eq!(plain.back_target(), 3);
    }
}
