//! How long the TUI takes to render a full frame, at 200x50 by default: the busiest
//! recorded screen (after every step and the hog's OOM kill: a long syscall log, the
//! process tree, the mount table and the memory graph with its history) drawn many
//! times. A benchmark, not a test: it prints numbers, the budget is 1 ms a frame
//! (p99 of CPU time, every screen measured).
//!
//!   cargo run --release --example frame_time [-- ITERATIONS [WIDTH HEIGHT]]
//!
//! Four measures, each after a warm-up:
//! - `draw, same screen`: `Terminal::draw` on ratatui's `TestBackend` with nothing
//!   changed since the last frame (the widgets are built; each pane whose widget is
//!   unchanged is copied from the panes' memo, `ui/draw/cache.rs`; the diff is
//!   empty), for the OOM screen and for a zoomed mount table;
//! - `draw, all new`: the OOM screen with the memos emptied before every frame, as if
//!   every pane had changed (the frame after a step: the log wrapped again, every
//!   pane laid out again);
//! - `draw, alternating`: two different screens in turn, so nearly every cell differs
//!   and the diff is large (the worst case for a redraw);
//! - `draw + ANSI, alternating`: as above on the real crossterm backend writing its
//!   escape sequences into memory, so the cost of producing the bytes a terminal gets
//!   is counted too (not the terminal's own time to show them).

use std::cell::Cell;
use std::rc::Rc;
use std::time::{Duration, Instant};

use ratatui::backend::{Backend, CrosstermBackend, TestBackend};
use ratatui::layout::Rect;
use ratatui::{Terminal, TerminalOptions, Viewport};

use underhood::ui::app::{App, Pane};
use underhood::ui::draw;
use underhood::ui::theme::ThemeKind;

#[path = "../tests/fixtures/tui/app.rs"]
mod recorded;

/// A terminal that only counts the bytes it is sent.
struct Counter(Rc<Cell<usize>>);

impl std::io::Write for Counter {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.set(self.0.get() + buf.len());
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// This thread's CPU time (clock_gettime(2), CLOCK_THREAD_CPUTIME_ID): unlike the wall
/// clock it does not count the time other processes had the CPU.
fn cpu_now() -> Duration {
    let mut ts = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: a valid pointer to a timespec we own.
    unsafe { libc::clock_gettime(libc::CLOCK_THREAD_CPUTIME_ID, &mut ts) };
    Duration::new(ts.tv_sec as u64, ts.tv_nsec as u32)
}

struct Stats {
    mean: f64,
    p50: f64,
    p99: f64,
    max: f64,
}

fn stats(mut times: Vec<Duration>) -> Stats {
    times.sort();
    let us = |d: Duration| d.as_secs_f64() * 1e6;
    let n = times.len();
    let at = |q: f64| us(times[((n as f64 * q).ceil() as usize).clamp(1, n) - 1]);
    Stats {
        mean: times.iter().map(|d| us(*d)).sum::<f64>() / n as f64,
        p50: at(0.50),
        p99: at(0.99),
        max: us(times[n - 1]),
    }
}

fn measure<B: Backend>(
    name: &str,
    term: &mut Terminal<B>,
    apps: &[&App],
    iterations: usize,
    cold: bool,
) -> Stats
where
    B::Error: std::fmt::Debug,
{
    for i in 0..iterations / 10 + 1 {
        let app = apps[i % apps.len()];
        term.draw(|f| draw::draw(f, app)).expect("drawing");
    }
    let mut wall = Vec::with_capacity(iterations);
    let mut cpu = Vec::with_capacity(iterations);
    for i in 0..iterations {
        let app = apps[i % apps.len()];
        if cold {
            draw::forget_memos();
        }
        let (t, c) = (Instant::now(), cpu_now());
        term.draw(|f| draw::draw(f, app)).expect("drawing");
        cpu.push(cpu_now().saturating_sub(c));
        wall.push(t.elapsed());
    }
    report(name, wall, cpu)
}

/// Prints wall-clock and CPU-time statistics; returns the CPU-time ones.
fn report(name: &str, wall: Vec<Duration>, cpu: Vec<Duration>) -> Stats {
    let w = stats(wall);
    let c = stats(cpu);
    println!(
        "{name:<28} cpu: mean {:>6.0} p50 {:>6.0} p99 {:>6.0} max {:>6.0} µs | wall: mean {:>6.0} p99 {:>6.0} max {:>7.0} µs",
        c.mean, c.p50, c.p99, c.max, w.mean, w.p99, w.max
    );
    c
}

fn main() {
    let args: Vec<usize> = std::env::args()
        .skip(1)
        .map(|a| a.parse().expect("numbers: ITERATIONS [WIDTH HEIGHT]"))
        .collect();
    let iterations = args.first().copied().unwrap_or(2000);
    let (w, h) = match args.get(1..3) {
        Some([w, h]) => (*w as u16, *h as u16),
        _ => (200, 50),
    };

    let mut oom = recorded::app_after_oom(ThemeKind::Default);
    oom.focus = Pane::Memory;
    // A different screen of the same size: the mount table zoomed before pivot_root.
    let steps = recorded::session().steps.len();
    let mut other = recorded::app_after(steps - 3, ThemeKind::HighContrast);
    other.focus = Pane::Mounts;
    other.zoom = true;

    println!(
        "full frame at {w}x{h}, {iterations} frames each (release build: {}; load average {})",
        !cfg!(debug_assertions),
        std::fs::read_to_string("/proc/loadavg")
            .unwrap_or_default()
            .split_whitespace()
            .take(3)
            .collect::<Vec<_>>()
            .join(" ")
    );
    let mut test = Terminal::new(TestBackend::new(w, h)).expect("a test terminal");
    let same = measure(
        "draw, same screen (OOM)",
        &mut test,
        &[&oom],
        iterations,
        false,
    );
    let cold = measure("draw, all new (OOM)", &mut test, &[&oom], iterations, true);
    let same2 = measure(
        "draw, same screen (mounts)",
        &mut test,
        &[&other],
        iterations,
        false,
    );
    let alt = measure(
        "draw, alternating",
        &mut test,
        &[&oom, &other],
        iterations,
        false,
    );

    let area = Rect::new(0, 0, w, h);
    let sent = Rc::new(Cell::new(0));
    let mut ansi = Terminal::with_options(
        CrosstermBackend::new(Counter(sent.clone())),
        TerminalOptions {
            viewport: Viewport::Fixed(area),
        },
    )
    .expect("a crossterm terminal on memory");
    let (mut wall, mut cpu) = (Vec::new(), Vec::new());
    for i in 0..iterations {
        let app = if i % 2 == 0 { &oom } else { &other };
        let (t, c) = (Instant::now(), cpu_now());
        ansi.draw(|f| draw::draw(f, app)).expect("drawing");
        cpu.push(cpu_now().saturating_sub(c));
        wall.push(t.elapsed());
    }
    let bytes = sent.get();
    let a = report("draw + ANSI, alternating", wall, cpu);
    println!(
        "  ({} bytes of escape sequences a frame on average)",
        bytes / iterations
    );
    let worst = same
        .p99
        .max(cold.p99)
        .max(same2.p99)
        .max(alt.p99)
        .max(a.p99);
    println!(
        "budget 1000 µs a frame (p99 of CPU time): {} (worst p99 {worst:.0} µs); the wall clock \
         adds whatever time other processes had the CPU",
        if worst < 1000.0 { "met" } else { "NOT met" }
    );
}
