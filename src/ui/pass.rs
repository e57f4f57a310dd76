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
