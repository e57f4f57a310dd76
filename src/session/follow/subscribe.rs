//! The following side: `--follow ADDR` and `underhood notes`. A thread connects,
//! reads positions line by line and hands each to a sink (the main loop's channel);
//! when the connection ends it says so and tries again every second, and says when it
//! is back. Following never writes; a learner's report (`report::Outbox`) is written
//! on the same connection by a writer thread of its own.

use std::io::{BufRead, BufReader, Read};
use std::net::{TcpStream, ToSocketAddrs};
use std::os::linux::net::SocketAddrExt;
use std::os::unix::net::{SocketAddr, UnixStream};
use std::path::PathBuf;
use std::sync::Arc;
use std::thread;
use std::time::Duration;

use super::learner::{Entry, Told};
use super::position::{LineError, Position};
use super::publish::HEARTBEAT;
use super::report::Outbox;

/// How long between two tries while the session is unreachable.
pub const RETRY: Duration = Duration::from_secs(1);
/// Silence longer than this (three heartbeats) counts as a lost link: a TCP peer that
/// vanished without a FIN (a laptop closed, a cable pulled) is otherwise never noticed.
const SILENCE: Duration = Duration::from_secs(HEARTBEAT.as_secs() * 3);
const CONNECT_TIMEOUT: Duration = Duration::from_secs(2);
/// A longer line is not a position.
const MAX_LINE: u64 = 64 * 1024;

/// Where a session publishes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Addr {
    /// `HOST:PORT`
    Tcp(String),
    /// `unix:@NAME`: an abstract unix socket (unix(7)), NAME without the `@`.
    Abstract(String),
    /// `unix:PATH`: a unix socket in the file system.
    Path(PathBuf),
}

impl std::fmt::Display for Addr {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Addr::Tcp(a) => write!(f, "{a}"),
            Addr::Abstract(n) => write!(f, "unix:@{n}"),
            Addr::Path(p) => write!(f, "unix:{}", p.display()),
        }
    }
}

/// An address that is not one: `given` as written, and why.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{given:?}: {why}; expected HOST:PORT (e.g. 127.0.0.1:7878) or unix:@NAME")]
pub struct BadAddr {
    pub given: String,
    pub why: String,
}

/// Why a session could not be reached; the message names the address and the errno.
#[derive(Debug, thiserror::Error)]
pub enum ConnectError {
    /// A call on the way failed (resolving the name, connect(2), setting the timeout).
    #[error("{addr}: {err}")]
    Io { addr: String, err: std::io::Error },
    /// The host name resolved to no address at all.
    #[error("{addr}: the name resolves to no address")]
    NoAddress { addr: String },
}

impl ConnectError {
    /// The errno of the failed call (ECONNREFUSED: nobody publishes there).
    pub fn errno(&self) -> Option<nix::errno::Errno> {
        match self {
            ConnectError::Io { err, .. } => err.raw_os_error().map(nix::errno::Errno::from_raw),
            ConnectError::NoAddress { .. } => None,
        }
    }
}

impl std::str::FromStr for Addr {
    type Err = BadAddr;

    fn from_str(s: &str) -> Result<Addr, BadAddr> {
        let bad = |why: &str| BadAddr {
            given: s.to_string(),
            why: why.to_string(),
        };
        if let Some(rest) = s.strip_prefix("unix:") {
            return match rest.strip_prefix('@') {
                Some("") => Err(bad("an abstract socket needs a name after @")),
                Some(name) => Ok(Addr::Abstract(name.to_string())),
                None if rest.is_empty() => Err(bad("no path after unix:")),
                None => Ok(Addr::Path(PathBuf::from(rest))),
            };
        }
        let Some((host, port)) = s.rsplit_once(':') else {
            return Err(bad("no port"));
        };
        if host.is_empty() {
            return Err(bad("no host"));
        }
        match port.parse::<u16>() {
            Ok(0) | Err(_) => Err(bad(&format!("{port:?} is not a port (1-65535)"))),
            Ok(_) => Ok(Addr::Tcp(s.to_string())),
        }
    }
}

impl Addr {
    /// The session with this pid on this machine.
    pub fn session(pid: u32) -> Addr {
        Addr::Abstract(super::publish::session_name(pid))
    }

    /// Connects, with a read timeout of `SILENCE`. Errors keep the address and errno.
    pub fn connect(&self) -> Result<Box<dyn Read + Send>, ConnectError> {
        Ok(Box::new(self.connect_stream()?))
    }

    /// Likewise, as a stream that can also be written (a learner's report).
    pub fn connect_stream(&self) -> Result<Stream, ConnectError> {
        let at = |err: std::io::Error| ConnectError::Io {
            addr: self.to_string(),
            err,
        };
        match self {
            Addr::Tcp(a) => {
                let addrs = a.to_socket_addrs().map_err(at)?;
                let mut last = ConnectError::NoAddress {
                    addr: self.to_string(),
                };
                for sa in addrs {
                    match TcpStream::connect_timeout(&sa, CONNECT_TIMEOUT) {
                        Ok(s) => {
                            s.set_read_timeout(Some(SILENCE)).map_err(at)?;
                            let _ = s.set_nodelay(true);
                            return Ok(Stream::Tcp(s));
                        }
                        Err(e) => last = at(e),
                    }
                }
                Err(last)
            }
            Addr::Abstract(name) => {
                let sa = SocketAddr::from_abstract_name(name.as_bytes()).map_err(at)?;
                let s = UnixStream::connect_addr(&sa).map_err(at)?;
                s.set_read_timeout(Some(SILENCE)).map_err(at)?;
                Ok(Stream::Unix(s))
            }
            Addr::Path(p) => {
                let s = UnixStream::connect(p).map_err(at)?;
                s.set_read_timeout(Some(SILENCE)).map_err(at)?;
                Ok(Stream::Unix(s))
            }
        }
    }
}

/// A connection to a session.
#[derive(Debug)]
pub enum Stream {
    Tcp(TcpStream),
    Unix(UnixStream),
}

impl Stream {
    pub fn try_clone(&self) -> std::io::Result<Stream> {
        Ok(match self {
            Stream::Tcp(s) => Stream::Tcp(s.try_clone()?),
            Stream::Unix(s) => Stream::Unix(s.try_clone()?),
        })
    }

    /// Ends both directions for every copy (shutdown(2) acts on the socket).
    pub fn shutdown(&self) {
        let _ = match self {
            Stream::Tcp(s) => s.shutdown(std::net::Shutdown::Both),
            Stream::Unix(s) => s.shutdown(std::net::Shutdown::Both),
        };
    }

    pub fn set_write_timeout(&self, t: Duration) {
        let _ = match self {
            Stream::Tcp(s) => s.set_write_timeout(Some(t)),
            Stream::Unix(s) => s.set_write_timeout(Some(t)),
        };
    }
}

impl Read for Stream {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        match self {
            Stream::Tcp(s) => s.read(buf),
            Stream::Unix(s) => s.read(buf),
        }
    }
}

impl std::io::Write for Stream {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        match self {
            Stream::Tcp(s) => s.write(buf),
            Stream::Unix(s) => s.write(buf),
        }
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// What the following thread reports.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Feed {
    /// Connected; `again` after a loss.
    Connected {
        again: bool,
    },
    Position(Position),
    /// Something to say that changes nothing (a garbage line, a newer protocol).
    Note(String),
    /// A learner of the class (to `underhood class`, which asked to watch).
    Learner(Entry),
    /// The connection failed or ended (why, with the address); retrying.
    Lost(String),
}

/// Follows `addr` on a thread of its own until `sink` returns false (its receiver is
/// gone). A loss is reported once, not at every retry.
pub fn spawn(addr: Addr, sink: impl FnMut(Feed) -> bool + Send + 'static) {
    spawn_saying(addr, None, sink)
}

/// Like [`spawn`], and on each connection `outbox`'s lines are written back (a
/// learner's name and progress, or `underhood class`'s request to watch).
pub fn spawn_saying(
    addr: Addr,
    outbox: Option<Arc<Outbox>>,
    mut sink: impl FnMut(Feed) -> bool + Send + 'static,
) {
    thread::spawn(move || {
        let mut ever = false;
        let mut lost_said = false;
        loop {
            match addr.connect_stream() {
                Ok(stream) => {
                    if !sink(Feed::Connected { again: ever }) {
                        return;
                    }
                    ever = true;
                    if let Some(o) = &outbox
                        && let Ok(w) = stream.try_clone()
                    {
                        o.serve(w);
                    }
                    let end = stream.try_clone().ok();
                    let read =
                        read_positions(Box::new(stream), &addr, outbox.as_deref(), &mut sink);
                    // The writer's copy too: it ends at its next line.
                    if let Some(s) = end {
                        s.shutdown();
                    }
                    match read {
                        None => return,
                        Some(why) => {
                            if !sink(Feed::Lost(why)) {
                                return;
                            }
                            lost_said = true;
                        }
                    }
                }
                Err(why) if !lost_said => {
                    if !sink(Feed::Lost(why.to_string())) {
                        return;
                    }
                    lost_said = true;
                }
                Err(_) => {}
            }
            thread::sleep(RETRY);
        }
    });
}

/// Reads lines until the connection ends: `Some(why)`, or `None` when the sink is gone.
fn read_positions(
    stream: Box<dyn Read + Send>,
    addr: &Addr,
    outbox: Option<&Outbox>,
    sink: &mut impl FnMut(Feed) -> bool,
) -> Option<String> {
    let mut r = BufReader::new(stream);
    let mut buf = Vec::new();
    let mut last_note = String::new();
    loop {
        buf.clear();
        let n = match (&mut r).take(MAX_LINE).read_until(b'\n', &mut buf) {
            Ok(n) => n,
            Err(e)
                if matches!(
                    e.kind(),
                    std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
                ) =>
            {
                return Some(format!(
                    "{addr}: no word for {} s (its heartbeat is every {} s)",
                    SILENCE.as_secs(),
                    HEARTBEAT.as_secs()
                ));
            }
            Err(e) => return Some(format!("{addr}: {e}")),
        };
        if n == 0 {
            return Some(format!("{addr}: the session closed the connection"));
        }
        // A full session says why before it closes (publish::MAX_CLIENTS).
        if let Some(why) = buf.strip_prefix(super::publish::REFUSED.as_bytes()) {
            let why = crate::runtime::report::printable(String::from_utf8_lossy(why).trim_end());
            return Some(format!("{addr}: refused: {why}"));
        }
        let text = String::from_utf8_lossy(&buf);
        let feed = match Told::decode(&text) {
            Some(Ok(Told::Learner(e))) => Feed::Learner(e),
            Some(Ok(Told::Class { refused })) => {
                if let Some(o) = outbox {
                    o.refused();
                }
                let why = crate::runtime::report::printable(&refused);
                Feed::Note(format!("{addr}: the class: {why}"))
            }
            Some(Err(e)) => Feed::Note(format!("{addr}: a class line: {e}")),
            None => match Position::decode(&text) {
                Ok(p) => Feed::Position(p),
                Err(e) => {
                    let note = match e {
                        LineError::Newer(_) => format!("{addr}: {e}"),
                        LineError::Garbage(_) => format!("{addr}: {e}"),
                    };
                    // The heartbeat would repeat the same complaint every few seconds.
                    if note == last_note {
                        continue;
                    }
                    last_note = note.clone();
                    Feed::Note(note)
                }
            },
        };
        if !sink(feed) {
            return None;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;
    use std::net::TcpListener;
    use std::sync::mpsc;

    #[test]
    fn addresses_parse_or_say_what_is_expected() {
        let ok = |s: &str| s.parse::<Addr>().unwrap();
        assert_eq!(ok("127.0.0.1:7878"), Addr::Tcp("127.0.0.1:7878".into()));
        assert_eq!(ok("teacher.lan:80"), Addr::Tcp("teacher.lan:80".into()));
        assert_eq!(ok("[::1]:7878"), Addr::Tcp("[::1]:7878".into()));
        assert_eq!(
            ok("unix:@underhood/42"),
            Addr::Abstract("underhood/42".into())
        );
        assert_eq!(ok("unix:/tmp/s"), Addr::Path("/tmp/s".into()));
        assert_eq!(ok("unix:@underhood/42").to_string(), "unix:@underhood/42");
        for bad in [
            "7878",
            ":7878",
            "host:",
            "host:0",
            "host:99999",
            "host:x",
            "unix:",
            "unix:@",
        ] {
            let e = bad.parse::<Addr>().unwrap_err();
            assert_eq!(e.given, bad);
            assert!(e.to_string().contains("expected HOST:PORT"), "{bad}: {e}");
        }
        assert_eq!(Addr::session(7), Addr::Abstract("underhood/7".into()));
    }

    #[test]
    fn follows_notes_garbage_and_says_when_lost() {
        let l = TcpListener::bind("127.0.0.1:0").unwrap();
        let addr: Addr = l.local_addr().unwrap().to_string().parse().unwrap();
        let (tx, rx) = mpsc::channel();
        spawn(addr.clone(), move |f| tx.send(f).is_ok());
        let (mut s, _) = l.accept().unwrap();
        let p = Position {
            lesson: None,
            done: 2,
            of: 5,
            last: None,
            next: None,
            started_ms: 0,
            pid: 9,
            ..Position::example()
        };
        s.write_all(b"garbage\n").unwrap();
        s.write_all(p.encode().as_bytes()).unwrap();
        s.write_all(b"{\"v\":99}\n").unwrap();
        drop(s);
        let t = Duration::from_secs(5);
        assert_eq!(rx.recv_timeout(t), Ok(Feed::Connected { again: false }));
        assert!(matches!(rx.recv_timeout(t), Ok(Feed::Note(n)) if n.contains("not a position")));
        assert_eq!(rx.recv_timeout(t), Ok(Feed::Position(p)));
        assert!(matches!(rx.recv_timeout(t), Ok(Feed::Note(n)) if n.contains("version 99")));
        assert!(matches!(rx.recv_timeout(t), Ok(Feed::Lost(n)) if n.contains(&addr.to_string())));
        // It tries again, and says so when it is back.
        let _s = l.accept().unwrap();
        assert_eq!(rx.recv_timeout(t), Ok(Feed::Connected { again: true }));
    }

    #[test]
    fn an_unreachable_address_is_reported_with_its_errno() {
        let l = TcpListener::bind("127.0.0.1:0").unwrap();
        let a = l.local_addr().unwrap().to_string();
        drop(l);
        let e = a.parse::<Addr>().unwrap().connect().err().unwrap();
        assert_eq!(e.errno(), Some(nix::errno::Errno::ECONNREFUSED));
        let e = e.to_string();
        assert!(e.starts_with(&a) && e.contains("os error"), "{e}");
    }
}
