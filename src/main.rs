//! The `underhood` binary: the TUI (no arguments), the headless runtime (`run`), our
//! tools (`hog`), and housekeeping (`cleanup`). It is also the subject process
//! (`__subject`) and, called as `hog`, the memory hog inside containers.

mod cli;

use std::process::ExitCode;

use clap::{Parser, Subcommand};

#[derive(Parser)]
#[command(
    name = "underhood",
    version = cli::version::LONG,
    about = "See how a Linux container is built, one real step at a time",
    after_help = "Run `underhood run -- /bin/sh` (as root) for a container shell."
)]
#[command(args_conflicts_with_subcommands = true)]
struct Cli {
    #[command(subcommand)]
    command: Option<Command>,
    #[command(flatten)]
    tui: TuiArgs,
}

/// Options of the TUI (underhood with no subcommand).
#[derive(clap::Args, Debug)]
struct TuiArgs {
    /// Use this directory as the root filesystem.
    #[arg(long, conflicts_with = "image")]
    rootfs: Option<std::path::PathBuf>,
    /// Unpack a rootfs tarball, OCI layout or `docker save` archive and use it.
    #[arg(long)]
    image: Option<std::path::PathBuf>,
    /// The most an --image may take once unpacked (files at full length, sparse ones
    /// expanded, plus 512 bytes per entry); a bigger one is refused and nothing is kept.
    #[arg(long, default_value = "4G", value_name = "SIZE", value_parser = underhood::units::parse_size)]
    max_image_size: u64,
    /// The container's memory limit.
    #[arg(long, default_value = "100M", value_parser = underhood::units::parse_size)]
    memory: u64,
    /// How fast the memory hog grows, per second.
    #[arg(long, default_value = "16M", value_parser = underhood::units::parse_size)]
    hog_rate: u64,
    /// High-contrast colours (for projectors).
    #[arg(long)]
    high_contrast: bool,
    /// Presenter mode for a projector: one big pane per step, a large title, a timer;
    /// a clicker's PageDown/PageUp step (implies --high-contrast).
    #[arg(long)]
    present: bool,
    /// Follow a lesson (by id; without one, resume where you were).
    #[arg(long, num_args = 0..=1, default_missing_value = "")]
    lesson: Option<String>,
    /// Use a teacher's lesson directory instead of the shipped lessons.
    #[arg(long)]
    lessons: Option<std::path::PathBuf>,
    /// Resume in a track (workshop, self-study, talk): its first lesson not passed.
    #[arg(long, value_name = "NAME", conflicts_with = "lesson")]
    track: Option<String>,
    /// Save the session (steps, samples, shells) to FILE, to play with `underhood replay`.
    #[arg(long, value_name = "FILE")]
    record: Option<std::path::PathBuf>,
    /// Also publish where this session is on TCP, for a classroom (e.g. 0.0.0.0:7878).
    #[arg(long, value_name = "HOST:PORT")]
    publish: Option<String>,
    /// Go where the session at ADDR goes (HOST:PORT or unix:@NAME), on your own kernel.
    #[arg(long, value_name = "ADDR")]
    follow: Option<underhood::session::follow::Addr>,
    /// With --follow: the name the instructor's class view shows (default user@host).
    #[arg(long, value_name = "NAME", requires = "follow")]
    name: Option<String>,
    /// With --follow: do not report your progress (steps, checks) to the instructor's
    /// class view; you still follow.
    #[arg(long, requires = "follow", conflicts_with = "name")]
    no_report: bool,
}

/// `run`'s description, the same in `Cli` and in `run_alone`.
const RUN_ABOUT: &str = "Launch a container and run CMD in it (a small, honest runtime)";

#[derive(Subcommand)]
enum Command {
    /// Launch a container and run CMD in it (a small, honest runtime).
    #[command(about = RUN_ABOUT)]
    Run(Box<cli::run::RunArgs>),
    /// The live panes on any process of the host, read only; without a PID, the host's
    /// containers to pick from; --compare beside a fresh container of ours.
    Explore(Box<cli::explore::ExploreArgs>),
    /// Allocate and touch memory at a steady rate, printing progress (the OOM demo).
    Hog(cli::hog::HogArgs),
    /// Remove what crashed sessions and builds left behind (mounts, cgroups, veths, state,
    /// partial image trees); with --cache, cached images not in use too.
    Cleanup(cli::cleanup::CleanupArgs),
    /// Lesson files: check them, list the syllabus, reset progress.
    Lessons {
        #[command(subcommand)]
        command: cli::lessons::LessonsCommand,
    },
    /// Check this machine for what the lessons need: yes / no / why / how to fix.
    Doctor {
        /// One JSON object instead of the report (for collecting a room's readiness).
        #[arg(long)]
        json: bool,
    },
    /// Play a recorded session (`--record FILE`) in the TUI: no root, no kernel features.
    Replay(cli::replay::ReplayArgs),
    /// Speaker notes in a second terminal, following a session's lesson and step.
    Notes(cli::notes::NotesArgs),
    /// The class's progress, for the instructor: learners × the lesson's checks, live.
    Class(cli::class::ClassArgs),
    /// Inside a container: try the classic chroot escape, then run CMD (default /bin/sh).
    ChrootEscape {
        #[arg(trailing_var_arg = true)]
        cmd: Vec<String>,
    },
    /// Inside a container: one system call made exactly as named, or a live demo of one.
    Syscall {
        #[command(subcommand)]
        call: cli::syscall::SyscallCommand,
    },
    /// The subject process (internal).
    #[command(name = "__subject", hide = true)]
    Subject { controller: i32 },
    /// Enter a running container (internal, started by the TUI).
    #[command(name = "__enter", hide = true)]
    Enter { spec: String },
}

fn main() -> ExitCode {
    // Multi-call: inside a container our copy is installed as `hog`.
    let argv0 = std::env::args_os().next().unwrap_or_default();
    let base = std::path::Path::new(&argv0)
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    if base == "hog" {
        let args = cli::hog::HogArgs::parse_from(std::env::args_os());
        return cli::hog::main(&args);
    }
    // The subject is started once per launch, on the launch's critical path: recognise
    // `__subject PID` before clap builds its whole command tree.
    if let Some(controller) = subject_args(std::env::args_os().skip(1)) {
        underhood::runtime::subject::main(controller);
    }
    // `run` is on a launch's critical path too: parsed by a command that has the `run`
    // subcommand alone (the same one, see `run_alone`), its time and memory are not spent
    // building every other subcommand's arguments (a fifth of a millisecond here, and
    // a heap that each forked process of the launch would copy).
    if std::env::args_os().nth(1).is_some_and(|a| a == "run") {
        let args = run_alone();
        return cli::run::main(args);
    }
    let cli = Cli::parse();
    match cli.command {
        Some(Command::Run(args)) => cli::run::main(*args),
        Some(Command::Explore(args)) => cli::explore::main(*args),
        Some(Command::Hog(args)) => cli::hog::main(&args),
        Some(Command::Cleanup(args)) => cli::cleanup::main(&args),
        Some(Command::Lessons { command }) => cli::lessons::main(command),
        Some(Command::Doctor { json }) => cli::doctor::main(json),
        Some(Command::Replay(args)) => cli::replay::main(args),
        Some(Command::Notes(args)) => cli::notes::main(args),
        Some(Command::Class(args)) => cli::class::main(args),
        Some(Command::ChrootEscape { cmd }) => cli::escape::main(&cmd),
        Some(Command::Syscall { call }) => cli::syscall::main(call),
        Some(Command::Subject { controller }) => underhood::runtime::subject::main(controller),
        Some(Command::Enter { spec }) => match serde_json::from_str(&spec) {
            Ok(args) => underhood::runtime::enter::main(args),
            Err(e) => {
                eprintln!("underhood __enter: bad arguments: {e}");
                ExitCode::from(2)
            }
        },
        None => tui(cli.tui),
    }
}

/// `underhood run ...` parsed by [`run_root`].
fn run_alone() -> cli::run::RunArgs {
    use clap::FromArgMatches;
    let mut root = run_root();
    let matches = root.get_matches_mut();
    let parsed = matches
        .subcommand_matches("run")
        .map(cli::run::RunArgs::from_arg_matches);
    match parsed {
        Some(Ok(args)) => args,
        Some(Err(e)) => e.format(&mut root).exit(),
        None => root
            .error(clap::error::ErrorKind::MissingSubcommand, "no run")
            .exit(),
    }
}

/// A root command that has the `run` subcommand alone: `RunArgs` under the same name
/// and description as in `Cli`, so the same help, usage lines and errors (see the
/// test below).
fn run_root() -> clap::Command {
    use clap::Args;
    let run = cli::run::RunArgs::augment_args(clap::Command::new("run").about(RUN_ABOUT));
    clap::Command::new("underhood").subcommand(run)
}

/// `__subject PID`, exactly, as the controller starts it; anything else goes to clap.
fn subject_args(mut args: impl Iterator<Item = std::ffi::OsString>) -> Option<i32> {
    let (first, pid) = (args.next()?, args.next()?);
    if first != "__subject" || args.next().is_some() {
        return None;
    }
    pid.to_str()?.parse().ok()
}

/// The lesson to follow: the one named, or where the learner was, or the first one
/// not passed yet. A broken lesson set is refused with every problem listed.
type Picked = Option<(
    underhood::lesson::format::LessonFile,
    Option<underhood::ui::resume::Resume>,
)>;

fn pick_lesson(args: &TuiArgs) -> Result<Picked, ExitCode> {
    if args.lesson.is_none() && args.lessons.is_none() && args.track.is_none() {
        return Ok(None);
    }
    let Some(set) = cli::lessons::load(args.lessons.as_ref()) else {
        return Err(ExitCode::from(1));
    };
    let wanted = args.lesson.clone().unwrap_or_default();
    let progress =
        underhood::lesson::progress::Progress::load(&underhood::lesson::progress::default_path());
    // Without an id: the first lesson not passed, at the step saved for it.
    // With a track: the same, among the track's lessons in its order.
    let ids = match underhood::ui::resume::ids(&set, args.track.as_deref()) {
        Ok(ids) => ids,
        Err(e) => {
            eprintln!("underhood: {e}");
            return Err(ExitCode::from(2));
        }
    };
    let resume = if wanted.is_empty() {
        underhood::ui::resume::resume(&ids, &progress)
    } else {
        None
    };
    let found = match &resume {
        Some(r) => set.get(&ids[r.lesson]),
        None if !wanted.is_empty() => set.get(&wanted),
        None => set.lessons.first(),
    };
    match found {
        Some(l) => Ok(Some((l.clone(), resume))),
        None => {
            eprintln!("underhood: no lesson {wanted:?}; `underhood lessons list` shows them");
            Err(ExitCode::from(2))
        }
    }
}

fn tui(args: TuiArgs) -> ExitCode {
    use underhood::runtime::launcher::RootSource;
    underhood::runtime::image::set_max_image_size(args.max_image_size);
    if let Some(dir) = &args.rootfs
        && !dir.is_dir()
    {
        eprintln!(
            "underhood: --rootfs {}: not a directory",
            underhood::runtime::report::printable(&dir.display().to_string())
        );
        return ExitCode::from(2);
    }
    if let Some(file) = &args.image
        && !file.exists()
    {
        eprintln!(
            "underhood: --image {}: no such file",
            underhood::runtime::report::printable(&file.display().to_string())
        );
        return ExitCode::from(2);
    }
    let source = match (args.rootfs.clone(), args.image.clone()) {
        (Some(d), _) => RootSource::Dir(d),
        (None, Some(f)) => RootSource::Image(f),
        (None, None) => RootSource::Default,
    };
    use std::io::IsTerminal;
    if !std::io::stdin().is_terminal() || !std::io::stdout().is_terminal() {
        eprintln!(
            "underhood: the TUI needs a terminal; for a headless run use `underhood run -- CMD` (see --help)"
        );
        return ExitCode::from(2);
    }
    let (lesson, resume) = match pick_lesson(&args) {
        Ok(Some((l, r))) => (Some(l), r),
        Ok(None) => (None, None),
        Err(code) => return code,
    };
    let follow = match args.follow.clone() {
        None => None,
        Some(addr) => match cli::lessons::load(args.lessons.as_ref()) {
            Some(lessons) => Some(underhood::session::follow::Following {
                addr,
                lessons,
                name: (!args.no_report).then(|| {
                    args.name
                        .clone()
                        .unwrap_or_else(underhood::session::follow::learner::default_name)
                }),
            }),
            None => return ExitCode::from(1),
        },
    };
    let opts = underhood::ui::run::TuiOptions {
        lesson,
        source,
        memory: args.memory,
        hog_rate: args.hog_rate,
        high_contrast: args.high_contrast,
        record: args.record,
        present: args.present,
        publish: args.publish.clone(),
        follow,
        // Doctor's verdict on each controller: a limit this user may not set is left
        // out of the walk (shown as skipped) rather than failed on every →.
        unusable: cli::doctor::unusable_controllers(&underhood::runtime::paths::Paths::host()),
        resume,
    };
    match underhood::ui::run::main(opts) {
        Ok(code) => ExitCode::from(code as u8),
        Err(e) => {
            // The terminal may be gone (then stderr points at /dev/null): never a
            // panic on the way out. The error may quote a file's bytes: printable.
            underhood::ui::terminal::say(&format!(
                "underhood: {}",
                underhood::runtime::report::printable(&format!("{e:#}"))
            ));
            ExitCode::from(1)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::CommandFactory;

    /// `underhood run`'s fast parser is `Cli`'s own `run`: the same arguments, help and
    /// usage, word for word.
    #[test]
    fn run_alone_parses_as_clis_run_subcommand() {
        let mut full = Cli::command();
        let mut alone = run_root();
        full.build();
        alone.build();
        let (Some(a), Some(b)) = (
            full.find_subcommand_mut("run"),
            alone.find_subcommand_mut("run"),
        ) else {
            panic!("no run subcommand");
        };
        assert_eq!(
            a.render_long_help().to_string(),
            b.render_long_help().to_string()
        );
        assert_eq!(a.render_usage().to_string(), b.render_usage().to_string());
        let ids = |c: &clap::Command| {
            c.get_arguments()
                .map(|a| a.get_id().to_string())
                .collect::<Vec<_>>()
        };
        assert_eq!(ids(a), ids(b));
    }
}
