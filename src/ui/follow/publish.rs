//! The publishing side: a `Tap` that tells every connected client where the session
//! is. Each client has a writer thread fed through a small bounded queue, so the main
//! loop only ever `try_send`s: a slow or stuck client can never block the UI. A client
//! whose queue is full is dropped (it reconnects and gets the position afresh).
//!
//! Every session listens on the abstract unix socket `@underhood/<pid>`: abstract
//! names live in the network namespace, not the file system, so there is no file to
//! remove and the name goes with the process, even after SIGKILL (unix(7)).
//! `--publish HOST:PORT` adds a TCP listener for a classroom.

use std::io::Write;
use std::net::TcpListener;
use std::os::fd::{AsRawFd, OwnedFd};
use std::os::linux::net::SocketAddrExt;
use std::os::unix::net::{SocketAddr, UnixListener};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::{self, RecvTimeoutError, SyncSender, TrySendError};
use std::sync::{Arc, Mutex};
use std::thread;
use std::time::Duration;

use anyhow::{Context, Result};

use super::position::Position;
use crate::ui::app::App;
use crate::ui::event::Event;
use crate::ui::tap::Tap;

/// Lines queued for one client before it counts as too slow and is dropped.
const QUEUE: usize = 32;
/// The current position is sent again after this much quiet, so that a client can
/// tell a silent session from a dead link.
pub const HEARTBEAT: Duration = Duration::from_secs(5);
/// A client that takes longer than this to accept one line is dropped (SO_SNDTIMEO,
/// socket(7)).
const WRITE_TIMEOUT: Duration = Duration::from_secs(5);

/// The abstract socket name of the session with this pid, without unix(7)'s leading
/// NUL (shown as `@` in /proc/net/unix).
pub fn session_name(pid: u32) -> String {
    format!("underhood/{pid}")
}

#[derive(Default)]
struct Clients {
    /// The latest line, for a client that connects later.
    current: Option<Arc<str>>,
    queues: Vec<SyncSender<Arc<str>>>,
}

#[derive(Default)]
struct Hub {
    clients: Mutex<Clients>,
    stop: AtomicBool,
}

impl Hub {
    fn publish(&self, line: Arc<str>) {
        let Ok(mut c) = self.clients.lock() else {
            return;
        };
        c.current = Some(line.clone());
        c.queues.retain(|q| match q.try_send(line.clone()) {
            Ok(()) => true,
            // Too slow (its queue is full) or gone: drop it.
            Err(TrySendError::Full(_)) | Err(TrySendError::Disconnected(_)) => false,
        });
    }

    /// A new client: it gets the current position at once, then every change.
    fn join(&self, stream: impl Write + Send + 'static) {
        let (tx, rx) = mpsc::sync_channel::<Arc<str>>(QUEUE);
        {
            let Ok(mut c) = self.clients.lock() else {
                return;
            };
            if self.stop.load(Ordering::SeqCst) {
                return;
            }
            if let Some(line) = &c.current {
                let _ = tx.try_send(line.clone());
            }
            c.queues.push(tx);
        }
        thread::spawn(move || write_lines(stream, rx));
    }

    fn close(&self) {
        self.stop.store(true, Ordering::SeqCst);
        if let Ok(mut c) = self.clients.lock() {
            // Each writer sees its queue closed, ends, and its socket closes: clients
            // read EOF and know the session is over.
            c.queues.clear();
        }
    }
}

/// One client's writer: each line as it comes, the last one again after a quiet
/// `HEARTBEAT`; ends when the queue closes or a write fails.
fn write_lines(mut stream: impl Write, rx: mpsc::Receiver<Arc<str>>) {
    let mut last: Option<Arc<str>> = None;
    loop {
        let line = match rx.recv_timeout(HEARTBEAT) {
            Ok(line) => line,
            Err(RecvTimeoutError::Timeout) => match &last {
                Some(l) => l.clone(),
                None => continue,
            },
            Err(RecvTimeoutError::Disconnected) => return,
        };
        if stream
            .write_all(line.as_bytes())
            .and_then(|()| stream.flush())
            .is_err()
        {
            return;
        }
        last = Some(line);
    }
}

/// Publishes the session's position; see the module's comment.
pub struct Publisher {
    hub: Arc<Hub>,
    started_ms: u64,
    pid: u32,
    last: Option<Position>,
    /// Copies of the listening sockets, to wake their accept(2) at the end.
    listeners: Vec<OwnedFd>,
    /// Where it listens, as clients would write it.
    pub addrs: Vec<String>,
    /// Listeners that could not be opened (not fatal for the session's own socket).
    pub warnings: Vec<String>,
}

impl Publisher {
    /// Listens on `@underhood/<pid>`, and on `tcp` (`HOST:PORT`) when given. A TCP
    /// address that cannot be bound is an error (the classroom would wait in vain); the
    /// abstract socket failing is only a warning.
    pub fn start(started_ms: u64, tcp: Option<&str>) -> Result<Publisher> {
        let pid = std::process::id();
        let mut p = Publisher {
            hub: Arc::new(Hub::default()),
            started_ms,
            pid,
            last: None,
            listeners: Vec::new(),
            addrs: Vec::new(),
            warnings: Vec::new(),
        };
        if let Some(addr) = tcp {
            // std sets SO_REUSEADDR, so a restarted instructor gets its port back at
            // once despite connections in TIME_WAIT (socket(7)).
            let l = TcpListener::bind(addr).with_context(|| format!("publishing on {addr}"))?;
            let shown = l
                .local_addr()
                .map(|a| a.to_string())
                .unwrap_or(addr.to_string());
            p.listeners.push(OwnedFd::from(
                l.try_clone()
                    .with_context(|| format!("publishing on {addr}"))?,
            ));
            p.addrs.push(shown);
            let hub = p.hub.clone();
            thread::spawn(move || serve_tcp(l, hub));
        }
        let name = session_name(pid);
        match SocketAddr::from_abstract_name(name.as_bytes())
            .and_then(|a| UnixListener::bind_addr(&a))
        {
            Ok(l) => {
                match l.try_clone() {
                    Ok(c) => p.listeners.push(OwnedFd::from(c)),
                    Err(e) => p.warnings.push(format!("unix:@{name}: {e}")),
                }
                p.addrs.push(format!("unix:@{name}"));
                let hub = p.hub.clone();
                thread::spawn(move || serve_unix(l, hub));
            }
            Err(e) => p
                .warnings
                .push(format!("not publishing on unix:@{name}: {e}")),
        }
        Ok(p)
    }

    /// Sends `pos` to every client if it differs from the last one sent.
    pub fn publish(&mut self, pos: Position) {
        if self.last.as_ref() == Some(&pos) {
            return;
        }
        self.hub.publish(Arc::from(pos.encode()));
        self.last = Some(pos);
    }
}

impl Tap for Publisher {
    fn event(&mut self, _at: Duration, _ev: &Event) {}

    fn state(&mut self, _at: Duration, app: &App) {
        self.publish(Position::of(app, self.started_ms, self.pid));
    }

    fn finish(&mut self) {
        self.hub.close();
        for l in &self.listeners {
            // shutdown(2) on a listening socket makes a blocked accept(2) return
            // (EINVAL on Linux), so the accepting thread sees `stop` and ends.
            let _ = nix::sys::socket::shutdown(l.as_raw_fd(), nix::sys::socket::Shutdown::Both);
        }
    }
}

/// Pauses after a failed accept(2) (EMFILE, ENOBUFS...) rather than spinning.
const ACCEPT_BACKOFF: Duration = Duration::from_millis(100);

fn serve_tcp(l: TcpListener, hub: Arc<Hub>) {
    for conn in l.incoming() {
        if hub.stop.load(Ordering::SeqCst) {
            return;
        }
        match conn {
            Ok(s) => {
                // Positions are tiny and rare: send each at once (tcp(7) TCP_NODELAY).
                let _ = s.set_nodelay(true);
                let _ = s.set_write_timeout(Some(WRITE_TIMEOUT));
                hub.join(s);
            }
            Err(_) => thread::sleep(ACCEPT_BACKOFF),
        }
    }
}

fn serve_unix(l: UnixListener, hub: Arc<Hub>) {
    for conn in l.incoming() {
        if hub.stop.load(Ordering::SeqCst) {
            return;
        }
        match conn {
            Ok(s) => {
                let _ = s.set_write_timeout(Some(WRITE_TIMEOUT));
                hub.join(s);
            }
            Err(_) => thread::sleep(ACCEPT_BACKOFF),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::{BufRead, BufReader};
    use std::net::TcpStream;

    fn pos(done: usize) -> Position {
        Position {
            lesson: None,
            done,
            of: 3,
            last: None,
            next: None,
            started_ms: 1,
            pid: 2,
            ..Position::example()
        }
    }

    #[test]
    fn a_client_gets_the_current_position_then_each_change_then_eof() {
        let mut p = Publisher::start(1, Some("127.0.0.1:0")).unwrap();
        p.publish(pos(0));
        let tcp = p.addrs[0].clone();
        let mut r = BufReader::new(TcpStream::connect(&tcp).unwrap());
        let mut line = String::new();
        r.read_line(&mut line).unwrap();
        assert_eq!(Position::decode(&line).unwrap().done, 0);
        p.publish(pos(1));
        p.publish(pos(1)); // unchanged: not sent again
        p.publish(pos(2));
        for want in [1, 2] {
            line.clear();
            r.read_line(&mut line).unwrap();
            assert_eq!(Position::decode(&line).unwrap().done, want, "{line}");
        }
        p.finish();
        line.clear();
        assert_eq!(
            r.read_line(&mut line).unwrap(),
            0,
            "EOF after finish: {line}"
        );
    }

    #[test]
    fn a_stuck_client_is_dropped_without_blocking() {
        let hub = Hub::default();
        let (tx, _rx_never_read) = mpsc::sync_channel::<Arc<str>>(QUEUE);
        hub.clients.lock().unwrap().queues.push(tx);
        for i in 0..QUEUE + 5 {
            hub.publish(Arc::from(format!("{i}\n")));
        }
        assert!(hub.clients.lock().unwrap().queues.is_empty());
    }
}
