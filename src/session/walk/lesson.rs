//! A lesson's side of a walk: its checks evaluated against the live container, and
//! where the learner is saved (`--lesson` alone comes back there).

use crate::lesson::progress::{Progress, default_path};
use crate::session::event::Event;

use super::Walk;

/// The checks in one line: how many pass, and the first still to do. `rows` are each
/// check's words and whether it passes (`None`: not evaluated yet).
pub fn check_summary<'a>(
    rows: impl IntoIterator<Item = (&'a str, Option<bool>)>,
) -> Option<String> {
    let rows: Vec<_> = rows.into_iter().collect();
    let total = rows.len();
    let passes = |r: &&(&str, Option<bool>)| r.1 == Some(true);
    let passed = rows.iter().filter(passes).count();
    match rows.iter().find(|r| !passes(r)) {
        _ if total == 0 => None,
        None => Some(format!("all {total} checks pass: lesson passed")),
        Some((say, _)) => Some(format!(
            "{passed} of {total} checks pass; still to do: {say}"
        )),
    }
}

impl Walk {
    /// After a step that is not the last, only the checks that start no process
    /// inside (`Kind::runs_inside`): a check's `/bin/sh` would take a pid in the
    /// container (the command would then not be PID 2) and, before the mount and PID
    /// steps, run on the host itself. The rest wait for the last step, `c`, or a
    /// shell's end.
    pub(super) fn check_after_step(&mut self) {
        if self.done() >= self.launch.steps.len() {
            return self.check();
        }
        let Some(lf) = self.opts.lesson.clone() else {
            return;
        };
        let outcomes = crate::lesson::runner::evaluate_quiet(&lf, &mut self.launch);
        self.emit(Event::Checks { outcomes });
    }

    /// In a lesson, where the learner is.
    pub(super) fn save_position(&mut self) {
        let Some(id) = self.opts.lesson.as_ref().map(|l| l.id().to_string()) else {
            return;
        };
        let path = default_path();
        let mut progress = Progress::load(&path);
        progress.current = Some((id, self.done()));
        if let Err(e) = progress.save(&path) {
            self.error(format!("saving progress: {e:#}"));
        }
    }

    /// Evaluates the lesson's checks against the live container, says how many pass
    /// (on the message line too: with a shell open the check list may be out of
    /// sight in a small pane) and records progress.
    pub fn check(&mut self) {
        let Some(lf) = self.opts.lesson.clone() else {
            return;
        };
        let results = crate::lesson::runner::evaluate_all(&lf, &mut self.launch);
        let rows = lf
            .front
            .checks
            .iter()
            .zip(&results)
            .map(|(c, (_, o))| (c.say.as_str(), Some(o.passed)));
        let summary = check_summary(rows);
        let passed = !results.is_empty() && results.iter().all(|(_, o)| o.passed);
        let outcomes = results.into_iter().map(|(_, o)| Some(o)).collect();
        self.emit(Event::Checks { outcomes });
        if let Some(text) = summary {
            self.info(text);
        }
        let id = lf.id().to_string();
        let path = default_path();
        let mut progress = Progress::load(&path);
        progress.current = Some((id.clone(), self.done()));
        if passed {
            progress.passed.insert(id);
        }
        if let Err(e) = progress.save(&path) {
            self.error(format!("saving progress: {e:#}"));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::check_summary;

    #[test]
    fn the_check_summary_names_what_is_still_to_do() {
        let rows = [
            ("a is done", Some(true)),
            ("b is done", None),
            ("c", Some(false)),
        ];
        assert_eq!(
            check_summary(rows).as_deref(),
            Some("1 of 3 checks pass; still to do: b is done")
        );
        assert_eq!(
            check_summary([("a", Some(true)), ("b", Some(true))]).as_deref(),
            Some("all 2 checks pass: lesson passed")
        );
        assert_eq!(check_summary([]), None);
    }
}
