//! `underhood lessons check [DIR] | list [--track NAME] | reset [ID]`.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::Subcommand;
use underhood::lesson::format::Problem;
use underhood::lesson::progress::{self, Progress};
use underhood::lesson::set::{self, LessonSet};

#[derive(Subcommand, Debug)]
pub enum LessonsCommand {
    /// Validate lesson files (the shipped ones, or DIR): every problem as path:line:column.
    Check { dir: Option<PathBuf> },
    /// The syllabus, with your progress.
    List {
        /// Use a teacher's lesson directory instead of the shipped lessons.
        #[arg(long)]
        lessons: Option<PathBuf>,
        /// Only a track's lessons, in its order, with their times and checkpoints.
        #[arg(long, value_name = "NAME")]
        track: Option<String>,
    },
    /// Forget your progress in one lesson, or in all of them.
    Reset { id: Option<String> },
    /// Run a lesson headless: take every step, evaluate its checks (as root).
    Run {
        id: String,
        /// Also do what each check expects first (the lesson's `solve` commands).
        #[arg(long, conflicts_with = "cheat")]
        solve: bool,
        /// Instead, run each check's `cheat`: what a learner could write without doing
        /// the thing. The checks that have one must stay red.
        #[arg(long)]
        cheat: bool,
        #[arg(long)]
        lessons: Option<PathBuf>,
    },
}

fn print_problems(problems: &[Problem]) {
    for p in problems {
        eprintln!("{p}");
    }
    eprintln!(
        "underhood: {} problem{} in the lessons",
        problems.len(),
        if problems.len() == 1 { "" } else { "s" }
    );
}

/// Loads the shipped lessons or a directory, printing every problem on failure.
pub fn load(dir: Option<&PathBuf>) -> Option<LessonSet> {
    let res = match dir {
        Some(d) => set::from_dir(d),
        None => set::builtin(),
    };
    match res {
        Ok(s) => Some(s),
        Err(problems) => {
            print_problems(&problems);
            None
        }
    }
}

pub fn main(cmd: LessonsCommand) -> ExitCode {
    match cmd {
        LessonsCommand::Check { dir } => match load(dir.as_ref()) {
            Some(s) => {
                println!("underhood: {} lessons, no problems", s.lessons.len());
                ExitCode::SUCCESS
            }
            None => ExitCode::from(1),
        },
        LessonsCommand::List { lessons, track } => {
            let Some(set) = load(lessons.as_ref()) else {
                return ExitCode::from(1);
            };
            let progress = Progress::load(&progress::default_path());
            if let Some(name) = track {
                return match underhood::lesson::track::find(&set.tracks, &name) {
                    Ok(t) => {
                        print!("{}", super::track_list::render(&set, t, &progress));
                        ExitCode::SUCCESS
                    }
                    Err(e) => {
                        eprintln!("underhood: {e}");
                        ExitCode::from(2)
                    }
                };
            }
            let root = nix::unistd::geteuid().is_root();
            // Columns as wide as their longest entry (a teacher's lessons may be longer).
            let id_w = set
                .lessons
                .iter()
                .map(|l| l.id().chars().count())
                .max()
                .unwrap_or(0);
            let title_w = set
                .lessons
                .iter()
                .map(|l| l.front.title.chars().count())
                .max()
                .unwrap_or(0);
            for l in &set.lessons {
                let status = if progress.passed.contains(l.id()) {
                    "passed"
                } else if progress.current.as_ref().is_some_and(|(c, _)| c == l.id()) {
                    "in progress"
                } else {
                    ""
                };
                let note = match (&l.front.rootless_note, root) {
                    (Some(_), false) => "  (needs root: see the lesson)",
                    _ => "",
                };
                println!(
                    "{:>3}  {:<id_w$} {:<title_w$} {status}{note}",
                    l.front.order,
                    l.id(),
                    l.front.title
                );
            }
            ExitCode::SUCCESS
        }
        LessonsCommand::Run {
            id,
            solve,
            cheat,
            lessons,
        } => {
            let Some(set) = load(lessons.as_ref()) else {
                return ExitCode::from(1);
            };
            let Some(l) = set.get(&id) else {
                eprintln!("underhood: no lesson {id:?}; `underhood lessons list` shows them");
                return ExitCode::from(2);
            };
            let paths = underhood::runtime::paths::Paths::host();
            let source = underhood::runtime::launcher::RootSource::Default;
            use underhood::lesson::runner::Mode;
            let mode = match (solve, cheat) {
                (true, _) => Mode::Solve,
                (_, true) => Mode::Cheat,
                _ => Mode::Watch,
            };
            match underhood::session::headless::Headless::run_lesson(
                l,
                &paths,
                &source,
                mode,
                &mut |line| println!("{line}"),
            ) {
                Ok(results) => {
                    let mut all = true;
                    for (cid, o) in &results {
                        all &= o.passed;
                        let mark = if o.passed { "pass" } else { "FAIL" };
                        println!("{mark}  {id}/{cid}: {}", o.detail);
                    }
                    if all {
                        ExitCode::SUCCESS
                    } else {
                        ExitCode::from(1)
                    }
                }
                Err(e) => {
                    eprintln!("underhood: {e:#}");
                    ExitCode::from(1)
                }
            }
        }
        LessonsCommand::Reset { id } => {
            let path = progress::default_path();
            let mut p = Progress::load(&path);
            p.reset(id.as_deref());
            match p.save(&path) {
                Ok(()) => {
                    match id {
                        Some(id) => println!("underhood: progress in {id} forgotten"),
                        None => println!("underhood: all progress forgotten"),
                    }
                    ExitCode::SUCCESS
                }
                Err(e) => {
                    eprintln!("underhood: {e:#}");
                    ExitCode::from(1)
                }
            }
        }
    }
}
