//! `underhood replay FILE [--step] [--speed X]`: plays a recording in the TUI.

use std::io::IsTerminal;
use std::path::PathBuf;
use std::process::ExitCode;

use underhood::runtime::report::printable;
use underhood::ui::terminal::say;

#[derive(clap::Args, Debug)]
pub struct ReplayArgs {
    /// A file written by `underhood --record FILE`.
    pub file: PathBuf,
    /// Start paused; each → (Space, PageDown) shows the next step's whole result.
    #[arg(long)]
    pub step: bool,
    /// Playing speed: 2 is twice as fast.
    #[arg(long, default_value_t = 1.0, value_parser = speed)]
    pub speed: f64,
    /// The presenter's layout (a recording made with --present plays in it anyway).
    #[arg(long)]
    pub present: bool,
    /// Also publish where the replay is on TCP, as the live TUI's --publish does.
    #[arg(long, value_name = "HOST:PORT")]
    pub publish: Option<String>,
}

fn speed(s: &str) -> anyhow::Result<f64> {
    match s.parse::<f64>() {
        Ok(x) if x.is_finite() && (0.1..=100.0).contains(&x) => Ok(x),
        _ => Err(anyhow::anyhow!("{s:?}: expected a speed from 0.1 to 100")),
    }
}

pub fn main(args: ReplayArgs) -> ExitCode {
    // Read (and check) the file before the terminal changes: errors stay readable.
    let rec = match underhood::ui::recording::read(&args.file) {
        Ok(r) => r,
        Err(e) => {
            // The file's own bytes (a version string, a variant name, its path) may
            // be in the message: printable, never raw.
            say(&format!(
                "underhood replay: {}",
                printable(&format!("{e:#}"))
            ));
            return ExitCode::from(2);
        }
    };
    if rec.entries.is_empty() {
        say(&format!(
            "underhood replay: {}: no events after the header (the recorded session ended before its container started?)",
            printable(&args.file.display().to_string())
        ));
        return ExitCode::from(2);
    }
    if !std::io::stdin().is_terminal() || !std::io::stdout().is_terminal() {
        say("underhood replay: needs a terminal");
        return ExitCode::from(2);
    }
    let opts = underhood::ui::replay::ReplayOptions {
        step: args.step,
        speed: args.speed,
        present: args.present,
        publish: args.publish,
    };
    match underhood::ui::replay::main(rec, opts) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            say(&format!(
                "underhood replay: {}",
                printable(&format!("{e:#}"))
            ));
            ExitCode::from(1)
        }
    }
}
