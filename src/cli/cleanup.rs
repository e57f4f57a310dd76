//! `underhood cleanup`.

use std::process::ExitCode;

use underhood::runtime::{cleanup, paths::Paths};

pub fn main() -> ExitCode {
    let paths = Paths::host();
    let done = cleanup::stale_sessions(&paths);
    if done.sessions.is_empty() && done.errors.is_empty() {
        println!(
            "underhood: nothing to clean up in {}",
            paths.state_dir.display()
        );
    }
    for s in &done.sessions {
        println!("underhood: removed stale session {s}");
    }
    for e in &done.errors {
        eprintln!("underhood: cleanup: {e}");
    }
    if done.errors.is_empty() {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    }
}
