//! `underhood --lesson` without an id: where to pick up. The first lesson not passed,
//! at the step saved for it (progress.toml's `current`), and a line saying so.

use crate::lesson::progress::Progress;
use crate::lesson::set::LessonSet;
use crate::lesson::track;

/// The lessons to resume among: a track's, in its order (`--track NAME`), or the
/// whole syllabus. An unknown track is an error naming the known ones.
pub fn ids(
    set: &LessonSet,
    track: Option<&str>,
) -> Result<Vec<String>, crate::lesson::error::Error> {
    match track {
        Some(name) => Ok(track::find(&set.tracks, name)?.ids()),
        None => Ok(set.lessons.iter().map(|l| l.id().to_string()).collect()),
    }
}

/// Where to resume among the lessons `ids` (in their order).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Resume {
    /// Index into `ids`.
    pub lesson: usize,
    /// Steps to take on opening it.
    pub step: usize,
    /// What the learner is told.
    pub note: String,
}

pub fn resume(ids: &[String], progress: &Progress) -> Option<Resume> {
    if ids.is_empty() {
        return None;
    }
    let Some(i) = ids.iter().position(|id| !progress.passed.contains(id)) else {
        return Some(Resume {
            lesson: 0,
            step: 0,
            note: format!(
                "all {} lessons passed: here is the first again (underhood lessons list shows them all)",
                ids.len()
            ),
        });
    };
    let step = progress
        .current
        .as_ref()
        .filter(|(id, _)| *id == ids[i])
        .map(|(_, s)| *s)
        .unwrap_or(0);
    let passed = progress.passed.iter().filter(|p| ids.contains(p)).count();
    let at = if step > 0 {
        format!(" at step {step}, where you were")
    } else {
        String::new()
    };
    Some(Resume {
        lesson: i,
        step,
        note: format!(
            "resuming {}, the first lesson not passed{at} ({passed} of {} passed; `--lesson ID` opens another)",
            ids[i],
            ids.len()
        ),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ids() -> Vec<String> {
        ["namespaces", "pid", "rootfs", "oom"]
            .map(String::from)
            .to_vec()
    }

    #[test]
    fn a_track_resumes_at_its_own_first_lesson_not_passed() {
        let set = crate::lesson::set::builtin().unwrap();
        let mut p = Progress::default();
        for id in ["host-view", "namespaces", "pid"] {
            p.passed.insert(id.into());
        }
        // The talk skips uts and mount: after pid comes pivot-root.
        let talk = super::ids(&set, Some("talk")).unwrap();
        assert_eq!(talk[resume(&talk, &p).unwrap().lesson], "pivot-root");
        // The workshop has uts between namespaces and pid.
        let w = super::ids(&set, Some("workshop")).unwrap();
        assert_eq!(w[resume(&w, &p).unwrap().lesson], "uts");
        let all = super::ids(&set, None).unwrap();
        assert_eq!(all.len(), set.lessons.len());
        let e = super::ids(&set, Some("nope")).unwrap_err();
        assert!(e.to_string().contains("workshop, self-study, talk"), "{e}");
    }

    #[test]
    fn the_first_lesson_not_passed_at_its_saved_step() {
        let mut p = Progress::default();
        let r = resume(&ids(), &p).expect("a lesson");
        assert_eq!((r.lesson, r.step), (0, 0));
        // A passed lesson is not reopened, even if it was the last one open.
        p.passed.insert("namespaces".into());
        p.current = Some(("namespaces".into(), 5));
        let r = resume(&ids(), &p).expect("a lesson");
        assert_eq!((r.lesson, r.step), (1, 0));
        // The saved step of the lesson being resumed is used, and said.
        p.current = Some(("pid".into(), 3));
        let r = resume(&ids(), &p).expect("a lesson");
        assert_eq!((r.lesson, r.step), (1, 3));
        assert!(
            r.note
                .contains("resuming pid, the first lesson not passed at step 3"),
            "{}",
            r.note
        );
        assert!(r.note.contains("1 of 4 passed"), "{}", r.note);
        // Everything passed: the first again, and why.
        for id in ids() {
            p.passed.insert(id);
        }
        let r = resume(&ids(), &p).expect("a lesson");
        assert_eq!(r.lesson, 0);
        assert!(r.note.contains("all 4 lessons passed"), "{}", r.note);
    }
}
