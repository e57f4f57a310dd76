//! Typed messages between the controller and the subject over a socketpair:
//! a little-endian u32 length, then JSON. One request, one reply, in order.

use std::io::{Read, Write};

use super::launch_error::{Ctx, Error, Result};
use serde::{Deserialize, Serialize, de::DeserializeOwned};

use super::report::Report;
use super::step::{Step, Veth};

/// The fd the subject finds its end of the socketpair on.
pub const SUBJECT_FD: i32 = 3;

#[derive(Debug, Clone, Serialize, Deserialize)]
pub enum Request {
    /// Do the subject's part of a step.
    Step(Step),
    /// Do these steps in order, one reply each, as if sent one at a time; stop at the
    /// first that fails and refuse every later batch (the controller sent them ahead,
    /// before it knew of the failure).
    Batch(Vec<Step>),
    /// Configure the container end of a veth pair the controller moved in.
    ConfigureVeth(Veth),
    /// Start another process in the container as it stands now (a shell, the hog).
    Spawn(SpawnSpec),
    /// Run a short command inside and send back its output (for lesson checks). PID 1
    /// waits for it, at most `timeout_ms`, then kills it.
    Run { spec: SpawnSpec, timeout_ms: u64 },
    /// After the id maps are written: set uid/gid 0 inside the user namespace.
    BecomeRoot { can_setgroups: bool },
    /// At the exec step, execve(2) the command in place of the subject instead of
    /// forking it: the command is PID 1 itself, with no init to reap or forward
    /// signals (`run --no-init`). No reply; the exec step answers as usual, just before
    /// the execve.
    NoInit,
    /// Before the cgroup step: the v1 `tasks` files its subject's part writes "0" into,
    /// joining the cgroup the controller made and limited (see `Cgroup::v1_tasks`). No
    /// reply; the cgroup step answers.
    JoinCgroup(Vec<std::path::PathBuf>),
    /// The next process PID 1 starts on a terminal (a `Spawn` with `tty`, or the exec
    /// step's command) gets a pseudo-terminal PID 1 makes as this says, in its own
    /// mount namespace (runtime/console.rs); the master end comes back with
    /// `Reply::Console`. No reply of its own.
    Console(Console),
    /// The replies to steps that succeed carry their report's title and time only
    /// (`Report::without_calls`): for a launch whose reports nobody reads (`run`
    /// without --trace), PID 1 does not encode, and the controller not decode, every
    /// call of every step on the launch's critical path. A failed step's report stays
    /// whole (its failed call and errno make the error message). No reply.
    Quiet,
}

/// A pseudo-terminal to make inside (runtime/console.rs).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Console {
    /// The window size (TIOCSWINSZ); 0 leaves the kernel's 0x0.
    pub rows: u16,
    pub cols: u16,
    /// The modes to start with (termios(3); `run` copies the caller's terminal's);
    /// `None` keeps the kernel's defaults.
    pub modes: Option<Modes>,
    /// For the exec step's command: which of stdin, stdout and stderr are the
    /// terminal (`run`: those that were the caller's); the others stay as PID 1 has
    /// them. A spawned process (`SpawnSpec::tty`) gets it as all three.
    pub stdio: [bool; 3],
}

/// The terminal modes of a `struct termios` (termios(3)); the speeds are in `cflag`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Modes {
    pub iflag: u32,
    pub oflag: u32,
    pub cflag: u32,
    pub lflag: u32,
    pub line: u8,
    /// The control characters (`c_cc`: VINTR, VERASE...).
    pub cc: Vec<u8>,
}

/// A process started by PID 1 next to (or before) the command.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SpawnSpec {
    pub argv: Vec<String>,
    pub env: Vec<(String, String)>,
    /// Keep the subject's stdin/stdout/stderr (the controller's terminal) or use
    /// /dev/null for all three.
    pub inherit_stdio: bool,
    /// A terminal: PID 1 makes a pseudo-terminal (as the `Request::Console` sent before
    /// says, if any), gives the process its slave end as stdin, stdout, stderr and
    /// controlling terminal, and sends the master end back (`Reply::Console`).
    #[serde(default)]
    pub tty: bool,
    /// Run our own binary (the sealed in-memory copy the subject runs from) with
    /// `argv[0]` as its multi-call name, e.g. `hog`: works at every step, before the
    /// root filesystem exists too.
    pub own_tool: bool,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum Reply {
    /// The step ran; `ok` is false when a call failed (the report names it).
    Done { report: Report, ok: bool },
    /// After the PID step: the host pid of the new subject (PID 1 inside).
    Forked { report: Report, pid: i32 },
    /// After the exec step: the command runs; `pid` is its pid inside.
    Started { report: Report, pid: i32 },
    /// The command ended; the subject exits right after sending this.
    Exited {
        code: Option<i32>,
        signal: Option<i32>,
    },
    /// The result of `Request::Run`: stdout and stderr together, at most 64 KiB.
    Ran {
        code: Option<i32>,
        signal: Option<i32>,
        output: String,
        timed_out: bool,
    },
    /// Sent unasked: a spawned process ended and PID 1 reaped it.
    Reaped {
        pid: i32,
        code: Option<i32>,
        signal: Option<i32>,
    },
    /// Sent just before the `Started` of a process on a terminal PID 1 made: right
    /// after this frame comes one byte carrying the terminal's master end (SCM_RIGHTS,
    /// unix(7)), which the controller receives at once (`Link::note_event`).
    Console,
}

impl Reply {
    pub fn report(&self) -> Option<&Report> {
        match self {
            Reply::Done { report, .. }
            | Reply::Forked { report, .. }
            | Reply::Started { report, .. } => Some(report),
            Reply::Exited { .. } | Reply::Reaped { .. } | Reply::Ran { .. } | Reply::Console => {
                None
            }
        }
    }
}

/// Messages larger than this are refused: a step report is a few KiB.
const MAX_MESSAGE: u32 = 16 << 20;

pub fn send<T: Serialize>(w: &mut impl Write, msg: &T) -> Result<()> {
    let body = serde_json::to_vec(msg).ctx(|| "encoding a message")?;
    let len = u32::try_from(body.len())
        .map_err(|e| Error::Protocol(format!("message too large: {e}")))?;
    let mut frame = Vec::with_capacity(body.len() + 4);
    frame.extend_from_slice(&len.to_le_bytes());
    frame.extend_from_slice(&body);
    // One write: the other side never sees half a frame from two writers.
    w.write_all(&frame).ctx(|| "sending a message")?;
    Ok(())
}

/// Reads one message; `Ok(None)` on a clean end of stream (the peer is gone).
pub fn recv<T: DeserializeOwned>(r: &mut impl Read) -> Result<Option<T>> {
    let mut len = [0u8; 4];
    match r.read_exact(&mut len) {
        Ok(()) => {}
        Err(e) if e.kind() == std::io::ErrorKind::UnexpectedEof => return Ok(None),
        Err(e) => return Err(e).ctx(|| "reading a message header"),
    }
    let len = u32::from_le_bytes(len);
    if len > MAX_MESSAGE {
        return Err(Error::Protocol(format!(
            "message of {len} bytes refused (limit {MAX_MESSAGE})"
        )));
    }
    let mut body = vec![0u8; len as usize];
    r.read_exact(&mut body).ctx(|| "reading a message body")?;
    serde_json::from_slice(&body)
        .map(Some)
        .ctx(|| "decoding a message")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip_and_clean_eof() {
        let mut buf = Vec::new();
        let msg = Request::Step(Step::Uts {
            hostname: "x".into(),
        });
        send(&mut buf, &msg).unwrap();
        send(
            &mut buf,
            &Reply::Exited {
                code: Some(3),
                signal: None,
            },
        )
        .unwrap();
        let mut cur = std::io::Cursor::new(buf);
        let got: Request = recv(&mut cur).unwrap().unwrap();
        assert!(matches!(got, Request::Step(Step::Uts { .. })));
        let r: Reply = recv(&mut cur).unwrap().unwrap();
        assert_eq!(
            r,
            Reply::Exited {
                code: Some(3),
                signal: None
            }
        );
        assert!(recv::<Reply>(&mut cur).unwrap().is_none());
    }

    #[test]
    fn oversized_and_garbage_frames_are_errors() {
        let mut cur = std::io::Cursor::new(u32::MAX.to_le_bytes().to_vec());
        let e = recv::<Reply>(&mut cur).unwrap_err();
        assert!(matches!(e, Error::Protocol(_)), "{e:?}");
        assert_eq!(
            e.to_string(),
            format!(
                "message of {} bytes refused (limit {MAX_MESSAGE})",
                u32::MAX
            )
        );
        let mut frame = 3u32.to_le_bytes().to_vec();
        frame.extend_from_slice(b"{x}");
        let e = recv::<Reply>(&mut std::io::Cursor::new(frame)).unwrap_err();
        assert!(matches!(e, Error::Json { .. }), "{e:?}");
        assert!(e.to_string().starts_with("decoding a message: "), "{e}");
    }
}
