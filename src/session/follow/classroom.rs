//! The session's reading side: one thread reads what every connected client says
//! (poll(2) over all of them, so the cost is one thread whatever the class size),
//! applies each line to the class ([`Roster`]) and acts on the verdict: tells the
//! watchers (`underhood class`) a learner's new entry, answers a refused one, closes a
//! connection that broke a rule. Reads never block and never change the socket's flags
//! (recv(2) with MSG_DONTWAIT): the client's writer thread shares the socket.

use std::io::{Read, Write};
use std::os::fd::{AsFd, AsRawFd, OwnedFd};
use std::os::unix::net::UnixStream;
use std::sync::atomic::Ordering;
use std::sync::{Arc, Mutex, Weak};
use std::thread;
use std::time::{Duration, Instant};

use crate::session::Error;
use nix::errno::Errno;
use nix::poll::{PollFd, PollFlags, PollTimeout, poll};
use nix::sys::socket::{MsgFlags, recv};

use super::learner::{self, Told};
use super::publish::{HEARTBEAT, Hub};
use super::roster::{Roster, SILENCE_MS, Verdict};

/// How often the thread looks for silent learners when nothing else wakes it.
const TICK: Duration = Duration::from_secs(1);
/// Bytes read from one client in one round, so that a flood cannot starve the others.
const ROUND: usize = 64 * 1024;

struct NewConn {
    id: u64,
    fd: OwnedFd,
    local: bool,
}

/// How the hub hands new connections to the reading thread, and wakes it.
pub struct Intake {
    pending: Arc<Mutex<Vec<NewConn>>>,
    wake: UnixStream,
}

impl Intake {
    pub(super) fn add(&self, id: u64, fd: OwnedFd, local: bool) {
        if let Ok(mut p) = self.pending.lock() {
            p.push(NewConn { id, fd, local });
        }
        self.wake();
    }

    /// A byte on the wake socket: poll(2) returns. A full socket already wakes it.
    pub(super) fn wake(&self) {
        let _ = (&self.wake).write(&[1]);
    }
}

/// The hub with its reading thread started.
pub(super) fn start() -> Result<Arc<Hub>, Error> {
    let socket = |what: &str| {
        let what = what.to_string();
        move |err| Error::Socket { what, err }
    };
    let (tx, rx) = UnixStream::pair().map_err(socket("a socketpair to wake the class reader"))?;
    tx.set_nonblocking(true)
        .map_err(socket("the class reader's wake"))?;
    rx.set_nonblocking(true)
        .map_err(socket("the class reader's wake"))?;
    let pending = Arc::new(Mutex::new(Vec::new()));
    let hub = Arc::new(Hub::with_intake(Intake {
        pending: pending.clone(),
        wake: tx,
    }));
    let weak = Arc::downgrade(&hub);
    thread::spawn(move || read_class(weak, pending, rx));
    Ok(hub)
}

struct Conn {
    id: u64,
    fd: OwnedFd,
    local: bool,
    /// What came after the last `\n`, at most `learner::MAX_LINE` bytes.
    buf: Vec<u8>,
    open: bool,
}

fn read_class(hub: Weak<Hub>, pending: Arc<Mutex<Vec<NewConn>>>, mut wake: UnixStream) {
    let t0 = Instant::now();
    let mut conns: Vec<Conn> = Vec::new();
    let mut roster = Roster::default();
    let mut chunk = vec![0u8; 16 * 1024];
    loop {
        match hub.upgrade() {
            Some(h) if !h.stop.load(Ordering::SeqCst) => {}
            _ => return,
        }
        if let Ok(mut p) = pending.lock() {
            conns.extend(p.drain(..).map(|n| Conn {
                id: n.id,
                fd: n.fd,
                local: n.local,
                buf: Vec::new(),
                open: true,
            }));
        }
        let ready: Vec<usize> = {
            let mut fds = vec![PollFd::new(wake.as_fd(), PollFlags::POLLIN)];
            // POLLIN alone: an end of the connection reads as 0 bytes (and POLLHUP,
            // POLLERR come anyway). Asking for POLLRDHUP would make nix's `revents`
            // unreadable (a bit it does not know) and the loop spin.
            fds.extend(
                conns
                    .iter()
                    .map(|c| PollFd::new(c.fd.as_fd(), PollFlags::POLLIN)),
            );
            let timeout =
                PollTimeout::try_from(TICK.as_millis() as i32).unwrap_or(PollTimeout::MAX);
            match poll(&mut fds, timeout) {
                Ok(_) => {}
                Err(Errno::EINTR) => continue,
                Err(_) => thread::sleep(TICK),
            }
            fds.iter()
                .skip(1)
                .enumerate()
                // Unknown bits (`None`) count as ready too: the read says what it is.
                .filter(|(_, f)| f.revents().is_none_or(|r| !r.is_empty()))
                .map(|(i, _)| i)
                .collect()
        };
        let mut drained = [0u8; 64];
        while matches!(wake.read(&mut drained), Ok(n) if n > 0) {}
        let Some(hub) = hub.upgrade() else { return };
        let now = t0.elapsed().as_millis() as u64;
        for i in ready {
            read_conn(&hub, &mut roster, &mut conns[i], &mut chunk, now);
        }
        for conn in roster.silent(now) {
            let why = format!(
                "no word for {} s (a learner's heartbeat is every {} s)",
                SILENCE_MS / 1000,
                HEARTBEAT.as_secs()
            );
            let gone = roster.closed(conn, &why, now);
            if let Some(c) = conns.iter_mut().find(|c| c.id == conn) {
                act(&hub, &roster, c, Verdict::Drop(gone, why));
            }
        }
        conns.retain(|c| c.open);
    }
}

/// Reads what `c` has sent (up to [`ROUND`] bytes) and applies each whole line.
fn read_conn(hub: &Hub, roster: &mut Roster, c: &mut Conn, chunk: &mut [u8], now: u64) {
    let mut taken = 0;
    while c.open && taken < ROUND {
        match recv(c.fd.as_raw_fd(), chunk, MsgFlags::MSG_DONTWAIT) {
            Ok(0) => {
                let gone = roster.closed(c.id, "disconnected", now);
                act(hub, roster, c, Verdict::Drop(gone, "disconnected".into()));
            }
            Ok(n) => {
                taken += n;
                let mut rest = &chunk[..n];
                while c.open && !rest.is_empty() {
                    let room = learner::MAX_LINE - c.buf.len();
                    match rest[..rest.len().min(room)]
                        .iter()
                        .position(|b| *b == b'\n')
                    {
                        Some(end) => {
                            c.buf.extend_from_slice(&rest[..end]);
                            rest = &rest[end + 1..];
                            let line = std::mem::take(&mut c.buf);
                            let v = roster.said(c.id, &line, now, c.local);
                            act(hub, roster, c, v);
                        }
                        None if rest.len() >= room => {
                            // No end of line within the limit: the rule is broken.
                            c.buf.extend_from_slice(&rest[..room]);
                            let line = std::mem::take(&mut c.buf);
                            let v = roster.said(c.id, &line, now, c.local);
                            act(hub, roster, c, v);
                            rest = &[];
                        }
                        None => {
                            c.buf.extend_from_slice(rest);
                            rest = &[];
                        }
                    }
                }
            }
            Err(Errno::EAGAIN) => return,
            Err(Errno::EINTR) => {}
            Err(e) => {
                let why = format!("connection error: {e}");
                let gone = roster.closed(c.id, &why, now);
                act(hub, roster, c, Verdict::Drop(gone, why));
            }
        }
    }
}

fn told(t: Told) -> Arc<str> {
    Arc::from(t.encode())
}

/// Does what a verdict says.
fn act(hub: &Hub, roster: &Roster, c: &mut Conn, v: Verdict) {
    let tell = |id: u64| {
        if let Some(e) = roster.entry(id) {
            hub.to_watchers(told(Told::Learner(e.clone())));
        }
    };
    match v {
        Verdict::Nothing => {}
        Verdict::Changed(id) => tell(id),
        Verdict::Refuse(refused) => {
            hub.send_to(c.id, told(Told::Class { refused }));
        }
        Verdict::Drop(id, why) => {
            if why != "disconnected" {
                let refused = format!("dropped from the class: {why}");
                hub.send_to(c.id, told(Told::Class { refused }));
            }
            hub.close_client(c.id);
            c.open = false;
            if let Some(id) = id {
                tell(id);
            }
        }
        Verdict::Watch => {
            let lines = roster
                .learners()
                .iter()
                .map(|l| told(Told::Learner(l.entry.clone())))
                .collect();
            hub.watch(c.id, lines);
        }
    }
}
