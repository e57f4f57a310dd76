//! The controller's end of the control socket: one request, then its reply, keeping
//! the messages the subject sends unasked (a spawned process reaped, the command's
//! exit) as they arrive in between.

use std::os::fd::{AsRawFd, OwnedFd};
use std::os::unix::net::UnixStream;

use anyhow::{Result, anyhow, bail};

use super::protocol::{Reply, Request, recv, send};
use super::report::Report;

/// How a command ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Exit {
    pub code: Option<i32>,
    pub signal: Option<i32>,
}

impl Exit {
    /// The shell convention: the exit code, or 128 + the signal number.
    pub fn status(&self) -> i32 {
        match (self.code, self.signal) {
            (Some(c), _) => c,
            (None, Some(s)) => 128 + s,
            (None, None) => 1,
        }
    }
}

/// The socket and where unasked messages go (borrowed from the `Launch`).
pub struct Link<'a> {
    pub sock: &'a mut UnixStream,
    /// Spawned processes that ended, as PID 1 reported them (pid inside, exit).
    pub reaped: &'a mut Vec<(i32, Exit)>,
    pub exit: &'a mut Option<Exit>,
    /// The master end of the last terminal PID 1 made (`Reply::Console`), or why it
    /// did not arrive.
    pub console: &'a mut Option<nix::Result<OwnedFd>>,
}

impl Link<'_> {
    /// Sends a request that has no reply of its own.
    pub fn tell(&mut self, req: &Request) -> Result<()> {
        send(self.sock, req)
    }

    pub fn ask(&mut self, req: &Request) -> Result<Reply> {
        send(self.sock, req)?;
        self.reply()
    }

    /// The next message that answers something (unasked ones are kept on the way).
    pub fn reply(&mut self) -> Result<Reply> {
        loop {
            let reply: Reply =
                recv(self.sock)?.ok_or_else(|| anyhow!("the subject process died"))?;
            if !self.note_event(&reply) {
                return Ok(reply);
            }
        }
    }

    /// Asks, appends the subject's report to `report`, and fails when it says so.
    pub fn ask_into(&mut self, req: &Request, report: &mut Report, failure: &str) -> Result<Reply> {
        let reply = self.ask(req)?;
        if let Some(r) = reply.report() {
            report.extend(r.clone());
        }
        if let Reply::Done { ok: false, .. } = reply {
            bail!("{failure}");
        }
        Ok(reply)
    }

    /// Keeps unasked messages; returns true when `reply` was one.
    pub fn note_event(&mut self, reply: &Reply) -> bool {
        match reply {
            Reply::Reaped { pid, code, signal } => {
                self.reaped.push((
                    *pid,
                    Exit {
                        code: *code,
                        signal: *signal,
                    },
                ));
                true
            }
            Reply::Exited { code, signal } => {
                *self.exit = Some(Exit {
                    code: *code,
                    signal: *signal,
                });
                true
            }
            Reply::Console => {
                // The descriptor is the very next byte (the subject sends nothing
                // between): received now, before any other read of the stream.
                *self.console = Some(super::fdpass::recv_fd(self.sock.as_raw_fd()));
                true
            }
            _ => false,
        }
    }
}
