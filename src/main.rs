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
struct Cli {
    #[command(subcommand)]
    command: Option<Command>,
}

#[derive(Subcommand)]
enum Command {
    /// Launch a container and run CMD in it (a small, honest runtime).
    Run(Box<cli::run::RunArgs>),
    /// Allocate and touch memory at a steady rate, printing progress (the OOM demo).
    Hog(cli::hog::HogArgs),
    /// Remove what crashed sessions left behind (mounts, cgroups, veths, state).
    Cleanup,
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
        Some(Command::Subject { controller }) => underhood::runtime::subject::main(controller),
        None => {
            eprintln!(
                "underhood: the teaching TUI is not built yet; try `underhood run -- /bin/sh` or `underhood --help`"
            );
            ExitCode::from(2)
        }
    }
}
