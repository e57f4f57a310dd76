//! `hog`: allocates memory at a steady rate and touches every page, so the usage
//! really climbs (untouched pages cost nothing) until a limit stops it.

use std::io::Write;
use std::process::ExitCode;
use std::time::{Duration, Instant};

use clap::Parser;
use underhood::units::{format_size, parse_size};

#[derive(Parser, Debug)]
#[command(name = "hog")]
pub struct HogArgs {
    /// How fast to grow, per second (e.g. 10M).
    #[arg(long, default_value = "16M", value_parser = parse_size)]
    pub rate: u64,
    /// Stop growing at this size and hold it (default: grow until killed).
    #[arg(long, value_parser = parse_size)]
    pub max: Option<u64>,
}

const TICK: Duration = Duration::from_millis(100);
const PAGE: usize = 4096;

pub fn main(args: &HogArgs) -> ExitCode {
    if args.rate == 0 {
        eprintln!("hog: --rate must be more than 0");
        return ExitCode::from(2);
    }
    let per_tick = (args.rate / 10).max(PAGE as u64) as usize;
    let mut chunks: Vec<Vec<u8>> = Vec::new();
    let mut total: u64 = 0;
    let start = Instant::now();
    let mut out = std::io::stdout();
    let _ = writeln!(
        out,
        "hog: growing by {}/s{} (pid {})",
        format_size(args.rate),
        args.max
            .map(|m| format!(" up to {}", format_size(m)))
            .unwrap_or_default(),
        std::process::id()
    );
    let mut next = Instant::now();
    loop {
        let want = match args.max {
            Some(m) if total >= m => 0,
            Some(m) => per_tick.min((m - total) as usize),
            None => per_tick,
        };
        if want > 0 {
            let mut chunk = vec![0u8; want];
            // Touch one byte per page so the kernel really backs it (and charges it).
            for i in (0..want).step_by(PAGE) {
                chunk[i] = 1;
            }
            total += want as u64;
            chunks.push(chunk);
            let _ = writeln!(
                out,
                "hog: {} allocated after {:.1}s",
                format_size(total),
                start.elapsed().as_secs_f64()
            );
            let _ = out.flush();
        }
        next += TICK;
        let now = Instant::now();
        if next > now {
            std::thread::sleep(next - now);
        }
    }
}
