//! The session floor, between `lesson/` and the front ends (`ui/`, `cli/`): the one
//! place that starts and drives a container and watches it.
//!
//! - `prepare`: what every front end does before a launch (stale sessions removed,
//!   the exit signals blocked so that a thread of ours takes them, the layers).
//! - `observer`: the observer thread (samples of a target pid at a pace) and the OOM
//!   watcher (an event from the kernel). A target may be re-resolved each tick, which
//!   is how a session without a launch of its own (observe only) watches a container.
//! - `walk`: the TUI's kind of session, a launch walked step by step: steps, going
//!   back (teardown and replay), the hog, shells' processes, lesson checks and saved
//!   progress. It emits one stream of [`event::Event`]s, each stamped with the time
//!   since the session started; the TUI applies them, records and publishes them.
//! - `headless`: a launch run start to end (`underhood run`, `lessons run`).
//! - `explore`: `underhood explore`'s kind, observe only: any process of the host
//!   opened and watched with the observer (its OOM events, its exit noticed), and
//!   `--compare`'s container of ours as a headless launch.
//! - `follow`: instructor follow and class progress, the wire format and the sockets
//!   (`--publish`, `--follow`, `underhood notes`, `underhood class`).
//! - `error`: what a session could not do, typed by what a caller does about it (a
//!   step refused, the runtime failing, a socket, a lesson's host action).
//! - `event`: that stream's vocabulary (also a recording's, `docs/recording-format.md`).
//! - `recording`: a session's events saved as they happen (`--record`) and read back
//!   (`replay`), with each snapshot written as what changed since the one before.
//!
//! Floors: this module may use `lesson/`, `observe/` and `runtime/`; it never uses
//! `ui/` or `cli/`.

pub mod error;
pub mod event;
pub mod explore;
pub mod follow;
pub mod headless;
pub mod observer;
pub mod prepare;
pub mod recording;
pub mod walk;

pub use error::Error;

/// `thread::spawn` with a name, which the kernel shows as the thread's comm
/// (/proc/PID/task/TID/comm, at most 15 bytes: pthread_setname_np(3)), so that
/// `top -H`, `ps -L` and benches/tui_budget.sh tell our threads apart. Like
/// `thread::spawn`, it panics only when the kernel refuses a new thread.
pub fn spawn_named<F, T>(name: &str, f: F) -> std::thread::JoinHandle<T>
where
    F: FnOnce() -> T + Send + 'static,
    T: Send + 'static,
{
    std::thread::Builder::new()
        .name(name.to_string())
        .spawn(f)
        .unwrap_or_else(|e| panic!("starting the {name} thread: {e}"))
}
