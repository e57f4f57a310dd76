//! `/proc/<pid>/stat` (proc(5)): the process state letter, the parent pid, the start time.
//! Parsed by `procfs`, which copes with a comm holding spaces or parentheses.

use std::fmt;

use procfs::FromRead;

use crate::observe::error::{Error, Result};

/// Process state, the letter in `stat` and `status` (proc(5)).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
pub enum ProcState {
    /// R
    Running,
    /// S: interruptible sleep, waiting for an event.
    Sleeping,
    /// D: uninterruptible sleep, usually I/O.
    DiskSleep,
    /// Z: exited, waiting for its parent to reap it with wait(2). A pid 1 that does not reap
    /// leaves these behind.
    Zombie,
    /// T: stopped by a signal (SIGSTOP, SIGTSTP...).
    Stopped,
    /// t: stopped by a debugger.
    TracingStop,
    /// X or x: dead (never normally seen).
    Dead,
    /// I: idle kernel thread.
    Idle,
    /// P: parked kernel thread.
    Parked,
    /// W (waking, or paging before 2.6.0), K (wakekill): short-lived kernel states.
    Waking,
    Wakekill,
    Unknown(char),
}

impl ProcState {
    pub fn from_char(c: char) -> ProcState {
        match c {
            'R' => ProcState::Running,
            'S' => ProcState::Sleeping,
            'D' => ProcState::DiskSleep,
            'Z' => ProcState::Zombie,
            'T' => ProcState::Stopped,
            't' => ProcState::TracingStop,
            'X' | 'x' => ProcState::Dead,
            'I' => ProcState::Idle,
            'P' => ProcState::Parked,
            'W' => ProcState::Waking,
            'K' => ProcState::Wakekill,
            other => ProcState::Unknown(other),
        }
    }

    /// The letter `ps` shows.
    pub fn letter(&self) -> char {
        match self {
            ProcState::Running => 'R',
            ProcState::Sleeping => 'S',
            ProcState::DiskSleep => 'D',
            ProcState::Zombie => 'Z',
            ProcState::Stopped => 'T',
            ProcState::TracingStop => 't',
            ProcState::Dead => 'X',
            ProcState::Idle => 'I',
            ProcState::Parked => 'P',
            ProcState::Waking => 'W',
            ProcState::Wakekill => 'K',
            ProcState::Unknown(c) => *c,
        }
    }

    /// A readable name.
    pub fn name(&self) -> &'static str {
        match self {
            ProcState::Running => "running",
            ProcState::Sleeping => "sleeping",
            ProcState::DiskSleep => "disk sleep",
            ProcState::Zombie => "zombie",
            ProcState::Stopped => "stopped",
            ProcState::TracingStop => "tracing stop",
            ProcState::Dead => "dead",
            ProcState::Idle => "idle",
            ProcState::Parked => "parked",
            ProcState::Waking => "waking",
            ProcState::Wakekill => "wakekill",
            ProcState::Unknown(_) => "unknown",
        }
    }
}

impl fmt::Display for ProcState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} ({})", self.letter(), self.name())
    }
}

/// The fields of `/proc/<pid>/stat` the tree needs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StatLine {
    pub pid: i32,
    pub comm: String,
    pub state: ProcState,
    pub ppid: i32,
    /// Clock ticks after boot when the process started: with the pid, names a process
    /// uniquely even after pid reuse.
    pub start_time: u64,
}

/// Parses one `/proc/<pid>/stat` line with `procfs` (the comm may contain `)` and spaces).
pub fn parse_stat(text: &str) -> Result<StatLine> {
    let stat = procfs::process::Stat::from_read(text.as_bytes())
        .map_err(|e| Error::Malformed(format!("malformed stat line {text:?}: {e}")))?;
    Ok(StatLine {
        pid: stat.pid,
        comm: stat.comm,
        state: ProcState::from_char(stat.state),
        ppid: stat.ppid,
        start_time: stat.starttime,
    })
}
