//! The lesson files: the shipped set is valid and covers the syllabus; the broken
//! examples in `tests/lessons_bad/` are each reported at their exact place; and, as
//! root, every shipped lesson runs end to end on both rootfs flavours (busybox and the
//! host's tools): solved, all its checks pass; unsolved, every check that needs the
//! learner's action fails, at least one per lesson; cheated (each check's `cheat`,
//! what a learner could write without doing the thing; `host_cheat` in the lessons
//! made by hand), those checks still fail. The host is left as it was: in the
//! lessons made by hand, the learner's processes, cgroup and mounts are gone too.
//!
//! One file per group under tests/lessons/: `shipped_set`, `broken` (tests/lessons_bad),
//! `commands` (what a learner types) and `end_to_end` (as root).
//!
//! The root tests are reported *ignored* when not run as root (tests/common's harness).

#[path = "lessons/broken.rs"]
mod broken;
#[path = "lessons/commands.rs"]
mod commands;
mod common;
#[path = "lessons/end_to_end.rs"]
mod end_to_end;
#[path = "lessons/shipped_set.rs"]
mod shipped_set;

use std::path::Path;
use std::process::{ExitCode, Output};

use common::*;
use underhood::lesson::format::LessonFile;
use underhood::lesson::set;

fn main() -> ExitCode {
    let mut tests = shipped_set::trials();
    tests.extend(broken::trials());
    tests.extend(commands::trials());
    tests.extend(end_to_end::trials());
    run(tests)
}

fn manifest() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

fn shipped() -> Vec<LessonFile> {
    match set::builtin() {
        Ok(s) => s.lessons,
        Err(problems) => {
            let text: Vec<String> = problems.iter().map(|p| p.to_string()).collect();
            panic!("the shipped lessons have problems:\n{}", text.join("\n"));
        }
    }
}

fn code(o: &Output) -> Option<i32> {
    o.status.code()
}
