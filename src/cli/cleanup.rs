//! `underhood cleanup`.

use std::process::ExitCode;

use clap::Args;
use underhood::runtime::{cleanup, paths::Paths};
use underhood::units::format_size;

#[derive(Args, Debug)]
pub struct CleanupArgs {
    /// Also empty the cache: remove every unpacked image, assembled rootfs and tools
    /// layer that no live session uses (they are rebuilt when next needed). Without it,
    /// the cache is only trimmed to 10 GiB, least recently used first, when an image is
    /// added.
    #[arg(long)]
    cache: bool,
}

pub fn main(args: &CleanupArgs) -> ExitCode {
    let paths = Paths::host();
    let done = cleanup::stale_sessions(&paths);
    let cache = if args.cache {
        cleanup::cache(&paths)
    } else {
        cleanup::abandoned_builds(&paths)
    };
    for s in &done.sessions {
        println!("underhood: removed stale session {s}");
    }
    for p in &cache.partial {
        println!("underhood: removed what a dead build left: {}", p.display());
    }
    for (p, bytes) in &cache.evicted {
        println!(
            "underhood: removed cached {} ({})",
            p.display(),
            format_size(*bytes)
        );
    }
    for p in &cache.in_use {
        println!("underhood: kept cached {} (in use)", p.display());
    }
    let errors: Vec<_> = done.errors.iter().chain(&cache.errors).collect();
    if done.sessions.is_empty()
        && cache.partial.is_empty()
        && cache.evicted.is_empty()
        && errors.is_empty()
    {
        println!(
            "underhood: nothing to clean up in {} or {}",
            paths.state_dir.display(),
            paths.cache_dir.display()
        );
    }
    for e in errors {
        eprintln!("underhood: cleanup: {e}");
    }
    if done.errors.is_empty() && cache.errors.is_empty() {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    }
}
