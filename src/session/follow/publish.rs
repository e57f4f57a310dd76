//! The publishing side: what tells every connected client where the session
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
use std::os::fd::{AsFd, AsRawFd, OwnedFd};
use std::os::linux::net::SocketAddrExt;
use std::os::unix::net::{SocketAddr, UnixListener};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::{self, RecvTimeoutError, SyncSender, TrySendError};
use std::sync::{Arc, Mutex};
use std::thread;
use std::time::Duration;

use crate::session::Error;
use nix::poll::{PollFd, PollFlags, PollTimeout, poll};

use super::position::Position;

/// Lines queued for one client before it counts as too slow and is dropped: room for
/// the whole class at once (a watcher is sent one line per learner when it starts).
const QUEUE: usize = 32 + 2 * super::roster::MAX_LEARNERS;
/// Most clients (followers and `underhood notes`, over TCP and the unix socket
/// together) served at once. Each costs a thread and a file descriptor; without a
/// bound, idle connections used up the process's RLIMIT_NOFILE and the container's
/// own steps failed with EMFILE. The next one is told why, then closed.
pub const MAX_CLIENTS: usize = 64;

/// The line a client past [`MAX_CLIENTS`] reads before its connection closes.
pub fn refusal() -> String {
    format!(
        "{REFUSED}this session already serves {MAX_CLIENTS} followers, its limit; try again later\n"
    )
}
/// How a refusal line starts (a follower shows the rest).
pub const REFUSED: &str = "refused: ";
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
    queues: Vec<Client>,
    /// The id of the last client that joined.
    last_id: u64,
}

/// One served client: its writer's queue, and a copy of its socket to see it close.
struct Client {
    id: u64,
    queue: SyncSender<Arc<str>>,
    socket: Option<OwnedFd>,
    /// It watches the class (`underhood class`): it is sent each learner's changes.
    watcher: bool,
}

impl Client {
    /// Whether the peer closed (or reset) its end, or our writer shut it down:
    /// poll(2) with POLLRDHUP, without reading (a client never sends anything).
    fn closed(&self) -> bool {
        let Some(fd) = &self.socket else {
            return false;
        };
        let mut fds = [PollFd::new(
            fd.as_fd(),
            PollFlags::from_bits_retain(libc::POLLRDHUP),
        )];
        match poll(&mut fds, PollTimeout::ZERO) {
            Ok(0) => false,
            Ok(_) => true,
            Err(_) => false,
        }
    }
}

#[derive(Default)]
pub(super) struct Hub {
    clients: Mutex<Clients>,
    pub(super) stop: AtomicBool,
    /// Where new connections go to be read (the class); `None` in tests of the hub.
    intake: Option<super::classroom::Intake>,
}

impl Hub {
    fn publish(&self, line: Arc<str>) {
        let Ok(mut c) = self.clients.lock() else {
            return;
        };
        c.current = Some(line.clone());
        c.queues.retain(|q| match q.queue.try_send(line.clone()) {
            Ok(()) => true,
            // Too slow (its queue is full) or gone: drop it.
            Err(TrySendError::Full(_)) | Err(TrySendError::Disconnected(_)) => false,
        });
    }

    /// A new client: it gets the current position at once, then every change. Past
    /// [`MAX_CLIENTS`] (after forgetting those that closed) it gets [`refusal`] and
    /// is closed; the refusal is written without blocking (a fresh socket's buffer
    /// takes one short line), so a client that never reads cannot stall the accepting.
    /// `local`: the client is this user on this machine (it may watch the class).
    fn join<S: Write + Send + AsFd + 'static>(&self, mut stream: S, local: bool) {
        let (tx, rx) = mpsc::sync_channel::<Arc<str>>(QUEUE);
        {
            let Ok(mut c) = self.clients.lock() else {
                return;
            };
            if self.stop.load(Ordering::SeqCst) {
                return;
            }
            if c.queues.len() >= MAX_CLIENTS {
                c.queues.retain(|q| !q.closed());
            }
            if c.queues.len() >= MAX_CLIENTS {
                drop(c);
                let _ = nix::fcntl::fcntl(
                    stream.as_fd(),
                    nix::fcntl::FcntlArg::F_SETFL(nix::fcntl::OFlag::O_NONBLOCK),
                );
                let _ = stream.write_all(refusal().as_bytes());
                return;
            }
            if let Some(line) = &c.current {
                let _ = tx.try_send(line.clone());
            }
            let socket = stream.as_fd().try_clone_to_owned().ok();
            c.last_id += 1;
            let id = c.last_id;
            if let (Some(intake), Ok(fd)) = (&self.intake, stream.as_fd().try_clone_to_owned()) {
                intake.add(id, fd, local);
            }
            c.queues.push(Client {
                id,
                queue: tx,
                socket,
                watcher: false,
            });
        }
        thread::spawn(move || write_lines(stream, rx));
    }

    /// A line to one client; false when it is gone or too slow (then it is dropped).
    pub(super) fn send_to(&self, id: u64, line: Arc<str>) -> bool {
        let Ok(mut c) = self.clients.lock() else {
            return false;
        };
        let Some(i) = c.queues.iter().position(|q| q.id == id) else {
            return false;
        };
        if c.queues[i].queue.try_send(line).is_ok() {
            return true;
        }
        c.queues.remove(i);
        false
    }

    /// A line to every watcher of the class; a watcher too slow for it is dropped.
    pub(super) fn to_watchers(&self, line: Arc<str>) {
        if let Ok(mut c) = self.clients.lock() {
            c.queues
                .retain(|q| !q.watcher || q.queue.try_send(line.clone()).is_ok());
        }
    }

    /// Client `id` watches the class from now on: `lines` first (the class as it is).
    pub(super) fn watch(&self, id: u64, lines: Vec<Arc<str>>) {
        if let Ok(mut c) = self.clients.lock()
            && let Some(i) = c.queues.iter().position(|q| q.id == id)
        {
            c.queues[i].watcher = true;
            if lines
                .into_iter()
                .any(|l| c.queues[i].queue.try_send(l).is_err())
            {
                c.queues.remove(i);
            }
        }
    }

    /// Ends client `id`: its writer sends what is queued, then shuts the socket down.
    pub(super) fn close_client(&self, id: u64) {
        if let Ok(mut c) = self.clients.lock() {
            c.queues.retain(|q| q.id != id);
        }
    }

    #[cfg(test)]
    fn count(&self) -> usize {
        self.clients.lock().map(|c| c.queues.len()).unwrap_or(0)
    }

    pub(super) fn with_intake(intake: super::classroom::Intake) -> Hub {
        Hub {
            intake: Some(intake),
            ..Hub::default()
        }
    }

    fn close(&self) {
        self.stop.store(true, Ordering::SeqCst);
        if let Some(i) = &self.intake {
            i.wake();
        }
        if let Ok(mut c) = self.clients.lock() {
            // Each writer sees its queue closed, ends, and its socket closes: clients
            // read EOF and know the session is over.
            c.queues.clear();
        }
    }
}

/// One client's writer: each line as it comes, the last one again after a quiet
/// `HEARTBEAT`; ends when the queue closes or a write fails, and then shuts the
/// socket down (shutdown(2) acts on the socket, not on this descriptor: the hub's
/// copy then sees it closed and frees the place).
fn write_lines<S: Write + AsFd>(mut stream: S, rx: mpsc::Receiver<Arc<str>>) {
    send_lines(&mut stream, rx);
    let _ =
        nix::sys::socket::shutdown(stream.as_fd().as_raw_fd(), nix::sys::socket::Shutdown::Both);
}

fn send_lines(mut stream: impl Write, rx: mpsc::Receiver<Arc<str>>) {
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
    pub fn start(started_ms: u64, tcp: Option<&str>) -> Result<Publisher, Error> {
        let pid = std::process::id();
        let mut p = Publisher {
            hub: super::classroom::start()?,
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
            let publishing = |err| Error::Socket {
                what: format!("publishing on {addr}"),
                err,
            };
            let l = TcpListener::bind(addr).map_err(publishing)?;
            let shown = l
                .local_addr()
                .map(|a| a.to_string())
                .unwrap_or(addr.to_string());
            p.listeners
                .push(OwnedFd::from(l.try_clone().map_err(publishing)?));
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

    /// When the session started (unix time, ms) and the publishing pid: what every
    /// position it sends carries.
    pub fn started_ms(&self) -> u64 {
        self.started_ms
    }

    pub fn pid(&self) -> u32 {
        self.pid
    }

    /// The session ends: clients get EOF, the listeners stop.
    pub fn finish(&mut self) {
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
                hub.join(s, false);
            }
            Err(_) => thread::sleep(ACCEPT_BACKOFF),
        }
    }
}

/// Whether the peer of a unix socket is a process of this (effective) user: such a
/// client may watch the class (SO_PEERCRED, unix(7)).
fn same_user(s: &std::os::unix::net::UnixStream) -> bool {
    nix::sys::socket::getsockopt(s, nix::sys::socket::sockopt::PeerCredentials)
        .is_ok_and(|c| c.uid() == nix::unistd::geteuid().as_raw())
}

fn serve_unix(l: UnixListener, hub: Arc<Hub>) {
    for conn in l.incoming() {
        if hub.stop.load(Ordering::SeqCst) {
            return;
        }
        match conn {
            Ok(s) => {
                let _ = s.set_write_timeout(Some(WRITE_TIMEOUT));
                let local = same_user(&s);
                hub.join(s, local);
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
        hub.clients.lock().unwrap().queues.push(Client {
            id: 1,
            queue: tx,
            socket: None,
            watcher: false,
        });
        for i in 0..QUEUE + 5 {
            hub.publish(Arc::from(format!("{i}\n")));
        }
        assert!(hub.clients.lock().unwrap().queues.is_empty());
    }

    #[test]
    fn clients_past_the_limit_are_refused_with_a_reason_until_some_leave() {
        let p = Publisher::start(1, Some("127.0.0.1:0")).unwrap();
        let tcp = p.addrs[0].clone();
        let mut held: Vec<TcpStream> = Vec::new();
        for _ in 0..MAX_CLIENTS {
            held.push(TcpStream::connect(&tcp).unwrap());
        }
        // accept(2) runs on its own thread: wait until it has taken them all.
        while p.hub.count() < MAX_CLIENTS {
            thread::sleep(Duration::from_millis(10));
        }
        for _ in 0..3 {
            let mut line = String::new();
            let mut extra = BufReader::new(TcpStream::connect(&tcp).unwrap());
            extra.read_line(&mut line).unwrap();
            assert_eq!(line, refusal());
            line.clear();
            assert_eq!(
                extra.read_line(&mut line).unwrap(),
                0,
                "closed after: {line}"
            );
        }
        assert_eq!(p.hub.count(), MAX_CLIENTS);
        // Two leave: the next one is served.
        held.truncate(MAX_CLIENTS - 2);
        let mut r = BufReader::new(TcpStream::connect(&tcp).unwrap());
        let mut p = p;
        p.publish(pos(4));
        let mut line = String::new();
        r.read_line(&mut line).unwrap();
        assert_eq!(Position::decode(&line).unwrap().done, 4, "{line}");
        p.finish();
    }
}
