//! The controller's end of the control socket: one request, then its reply, keeping
//! the messages the subject sends unasked (a spawned process reaped, the command's
//! exit) as they arrive in between.

use std::os::fd::{AsRawFd, OwnedFd};
use std::os::unix::net::UnixStream;

use super::launch_error::{Error, Result};

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
                recv(self.sock)?.ok_or_else(|| Error::Gone("the subject process died".into()))?;
            if !self.note_event(&reply) {
                return Ok(reply);
            }
        }
    }

    /// Asks, appends the subject's report to `report`, and fails when it says so (with
    /// the errno of its first failed call).
    pub fn ask_into(&mut self, req: &Request, report: &mut Report, failure: &str) -> Result<Reply> {
        let reply = self.ask(req)?;
        if let Some(r) = reply.report() {
            report.extend(r.clone());
        }
        if let Reply::Done { ok: false, report } = &reply {
            return Err(Error::reported(failure, report));
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::runtime::protocol::{recv, send};

    /// The master end arrives between `Reply::Console` and the `Started` it goes with,
    /// after an unasked message; the reply is the `Started`, the descriptor kept.
    #[test]
    fn a_console_reply_brings_its_descriptor_along() {
        let (mut ours, mut theirs) = UnixStream::pair().unwrap();
        let (rd, wr) = nix::unistd::pipe().unwrap();
        let reaped = Reply::Reaped {
            pid: 7,
            code: Some(0),
            signal: None,
        };
        send(&mut theirs, &reaped).unwrap();
        send(&mut theirs, &Reply::Console).unwrap();
        super::super::fdpass::send_fd(theirs.as_raw_fd(), &wr).unwrap();
        let started = Reply::Started {
            report: Report::new("spawn"),
            pid: 2,
        };
        send(&mut theirs, &started).unwrap();
        drop(wr);
        let (mut got, mut exit, mut console) = (Vec::new(), None, None);
        let mut link = Link {
            sock: &mut ours,
            reaped: &mut got,
            exit: &mut exit,
            console: &mut console,
        };
        assert_eq!(link.reply().unwrap(), started);
        assert_eq!(got.len(), 1);
        let fd = console.expect("the descriptor").expect("received");
        nix::unistd::write(&fd, b"x").unwrap();
        drop(fd);
        let mut buf = [0u8; 2];
        assert_eq!(nix::unistd::read(&rd, &mut buf), Ok(1));
    }

    /// A refusal the subject reports carries its call's errno (typed, from the
    /// report); a subject that closed the socket is `Gone`.
    #[test]
    fn a_refusal_keeps_its_errno_and_a_closed_socket_is_gone() {
        let (mut ours, mut theirs) = UnixStream::pair().unwrap();
        let mut refused = Report::new("veth (inside)");
        let _ = refused.call(
            "ioctl",
            "SIOCSIFNAME",
            Err::<(), _>(nix::errno::Errno::EEXIST),
        );
        let done = Reply::Done {
            report: refused,
            ok: false,
        };
        send(&mut theirs, &done).unwrap();
        let (mut got, mut exit, mut console) = (Vec::new(), None, None);
        let mut link = Link {
            sock: &mut ours,
            reaped: &mut got,
            exit: &mut exit,
            console: &mut console,
        };
        let mut report = Report::new("network namespace + veth pair");
        let e = link
            .ask_into(
                &Request::NoInit,
                &mut report,
                "configuring eth0 inside failed",
            )
            .unwrap_err();
        assert_eq!(e.to_string(), "configuring eth0 inside failed");
        assert_eq!(e.errno(), Some(nix::errno::Errno::EEXIST));
        assert_eq!(report.errno(), Some(nix::errno::Errno::EEXIST), "appended");
        // The subject read what was asked, then ended.
        let asked: Option<Request> = recv(&mut theirs).unwrap();
        assert!(matches!(asked, Some(Request::NoInit)));
        drop(theirs);
        let gone = link.reply().unwrap_err();
        assert!(gone.is_gone(), "{gone:?}");
        assert_eq!(gone.to_string(), "the subject process died");
    }
}
