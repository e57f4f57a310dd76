//! The `underhood` binary: the TUI (no arguments), the headless runtime (`run`), our
//! tools (`hog`), and housekeeping (`cleanup`). It is also the subject process
//! (`__subject`) and, called as `hog`, the memory hog inside containers.

mod cli;

use std::process::ExitCode;

use clap::{Parser, Subcommand};

#[derive(Parser)]
#[command(
    name = "underhood",
    version,
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
    /// The container's memory limit.
    #[arg(long, default_value = "100M", value_parser = underhood::units::parse_size)]
    memory: u64,
    /// How fast the memory hog grows, per second.
    #[arg(long, default_value = "16M", value_parser = underhood::units::parse_size)]
    hog_rate: u64,
    /// High-contrast colours (for projectors).
    #[arg(long)]
    high_contrast: bool,
}

#[derive(Subcommand)]
enum Command {
    /// Launch a container and run CMD in it (a small, honest runtime).
    Run(Box<cli::run::RunArgs>),
    /// Allocate and touch memory at a steady rate, printing progress (the OOM demo).
    Hog(cli::hog::HogArgs),
    /// Remove what crashed sessions left behind (mounts, cgroups, veths, state).
    Cleanup,
    /// Lesson files: check them, list the syllabus, reset progress.
    Lessons {
        #[command(subcommand)]
        command: cli::lessons::LessonsCommand,
    },
    /// Inside a container: try the classic chroot escape, then run CMD (default /bin/sh).
    ChrootEscape {
        #[arg(trailing_var_arg = true)]
        cmd: Vec<String>,
    },
    /// The subject process (internal).
    #[command(name = "__subject", hide = true)]
    Subject { controller: i32 },
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
    let cli = Cli::parse();
    match cli.command {
        Some(Command::Run(args)) => cli::run::main(*args),
        Some(Command::Hog(args)) => cli::hog::main(&args),
        Some(Command::Cleanup) => cli::cleanup::main(),
        Some(Command::Lessons { command }) => cli::lessons::main(command),
        Some(Command::ChrootEscape { cmd }) => cli::escape::main(&cmd),
        Some(Command::Subject { controller }) => underhood::runtime::subject::main(controller),
        None => tui(cli.tui),
    }
}

fn tui(args: TuiArgs) -> ExitCode {
    use underhood::runtime::launcher::RootSource;
    if let Some(dir) = &args.rootfs
        && !dir.is_dir()
    {
        eprintln!("underhood: --rootfs {}: not a directory", dir.display());
        return ExitCode::from(2);
    }
    if let Some(file) = &args.image
        && !file.exists()
    {
        eprintln!("underhood: --image {}: no such file", file.display());
        return ExitCode::from(2);
    }
    let source = match (args.rootfs, args.image) {
        (Some(d), _) => RootSource::Dir(d),
        (None, Some(f)) => RootSource::Image(f),
        (None, None) => RootSource::Default,
    };
    let opts = underhood::ui::run::TuiOptions {
        source,
        memory: args.memory,
        hog_rate: args.hog_rate,
        high_contrast: args.high_contrast,
    };
    match underhood::ui::run::main(opts) {
        Ok(code) => ExitCode::from(code as u8),
        Err(e) => {
            eprintln!("underhood: {e:#}");
            ExitCode::from(1)
        }
    }
}
