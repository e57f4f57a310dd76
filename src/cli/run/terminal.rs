//! `run` on a terminal: the container gets a pseudo-terminal of its own, as `runc run
//! -t` and `docker run -t` give it, never the caller's.
//!
//! A process whose controlling terminal is the caller's can type into the caller's
//! shell with ioctl(TIOCSTI) (tty_ioctl(4)), open it again through /dev/tty, or change
//! its settings. So when our stdin is a terminal, `run` has PID 1 make a pty inside, at
//! the exec step, in the container's own devpts (runtime/console.rs: so that the
//! command's terminal has a name there, /dev/pts/0, for tty(1) and ttyname(3)), sized
//! and set like the caller's terminal; its slave end is the command's stdin and
//! whichever of stdout and stderr were terminals too, and its controlling terminal in
//! a session of its own (setsid(2), TIOCSCTTY). While the subject starts, those of our
//! descriptors are /dev/null, so that no process inside ever holds the caller's
//! terminal. PID 1 sends the master end back; `run` then puts the
//! caller's terminal in raw mode (termios(3) cfmakeraw) so that every key, Ctrl-C
//! included, goes to the container's terminal as a byte, copies bytes both ways, and
//! passes window size changes on (SIGWINCH, TIOCSWINSZ). The caller's settings are
//! restored on every way out (`Drop`). When stdin is not a terminal, or `run` is not in
//! its foreground (started with `&`), nothing of this: the command runs in a session
//! of its own, without a controlling terminal, with stdin, stdout and stderr as they are.

use std::os::fd::{AsFd, AsRawFd, BorrowedFd, OwnedFd, RawFd};
use std::time::{Duration, Instant};

use anyhow::{Context, Result};
use nix::errno::Errno;
use nix::fcntl::{FcntlArg, FdFlag, OFlag, fcntl};
use nix::poll::{PollFd, PollFlags, PollTimeout, poll};
use nix::pty::Winsize;
use nix::sys::termios::{self, SetArg, Termios};
use underhood::runtime::console;
use underhood::runtime::protocol::Console;

/// The caller's terminal, before the container's exists (made inside at the exec step).
pub struct Waiting {
    caller_in: OwnedFd,
    caller_out: OwnedFd,
    saved: Termios,
    console: Console,
}

/// The caller's terminal, the container's pty, and what is in flight between them.
pub struct Relay {
    /// The pty's master end (non-blocking).
    master: OwnedFd,
    /// Our copy of the caller's terminal as stdin, and as output (the first of
    /// stdout, stderr and stdin that is a terminal).
    caller_in: OwnedFd,
    caller_out: OwnedFd,
    /// The caller's settings, restored on drop.
    saved: Termios,
    raw: bool,
    /// Bytes typed by the caller, not yet taken by the pty.
    pending: Vec<u8>,
    in_open: bool,
    master_open: bool,
}

/// /dev/null, put in place of our terminal descriptors while the subject is started
/// (it inherits them); our own are put back on drop.
pub struct NullAsStdio {
    saved: Vec<(RawFd, OwnedFd)>,
}

impl Drop for NullAsStdio {
    fn drop(&mut self) {
        for (fd, copy) in self.saved.drain(..) {
            // SAFETY: dup2 onto one of our own standard descriptors.
            unsafe { libc::dup2(copy.as_raw_fd(), fd) };
        }
    }
}

fn is_terminal(fd: RawFd) -> bool {
    // SAFETY: isatty only looks at the descriptor.
    unsafe { libc::isatty(fd) == 1 }
}

/// A copy of `fd` that is close-on-exec and numbered above the standard three.
fn copy_of(fd: RawFd) -> Result<OwnedFd> {
    // SAFETY: borrowing one of our standard descriptors for the length of the call.
    let b = unsafe { BorrowedFd::borrow_raw(fd) };
    let raw = fcntl(b, FcntlArg::F_DUPFD_CLOEXEC(3)).with_context(|| format!("dup of fd {fd}"))?;
    // SAFETY: F_DUPFD_CLOEXEC returned a new descriptor, ours to own.
    Ok(unsafe { std::os::fd::FromRawFd::from_raw_fd(raw) })
}

fn set_cloexec(fd: &OwnedFd) -> Result<()> {
    fcntl(fd, FcntlArg::F_SETFD(FdFlag::FD_CLOEXEC)).context("F_SETFD FD_CLOEXEC")?;
    Ok(())
}

fn window_size(fd: BorrowedFd) -> Option<Winsize> {
    let mut ws = Winsize {
        ws_row: 0,
        ws_col: 0,
        ws_xpixel: 0,
        ws_ypixel: 0,
    };
    // SAFETY: TIOCGWINSZ writes a winsize we own.
    let rc = unsafe { libc::ioctl(fd.as_raw_fd(), libc::TIOCGWINSZ, &mut ws) };
    (rc == 0 && ws.ws_row > 0 && ws.ws_col > 0).then_some(ws)
}

impl Waiting {
    /// The terminal PID 1 is to make (`Launch::console`).
    pub fn console(&self) -> Console {
        self.console.clone()
    }

    /// The container's terminal came (its master end, from PID 1): relay to it.
    pub fn attach(self, master: OwnedFd) -> Result<Relay> {
        // Close-on-exec already (received with MSG_CMSG_CLOEXEC); never blocking here.
        set_cloexec(&master)?;
        let flags = OFlag::from_bits_retain(fcntl(&master, FcntlArg::F_GETFL)?);
        fcntl(&master, FcntlArg::F_SETFL(flags | OFlag::O_NONBLOCK))
            .context("O_NONBLOCK on the pty master")?;
        Ok(Relay {
            master,
            caller_in: self.caller_in,
            caller_out: self.caller_out,
            saved: self.saved,
            raw: false,
            pending: Vec::new(),
            in_open: true,
            master_open: true,
        })
    }
}

impl Relay {
    /// When our stdin is a terminal: what the container's terminal is to be like (our
    /// size and settings), and /dev/null in place of our terminal descriptors until
    /// the returned guard is dropped (start the subject in between). `None` otherwise.
    pub fn open() -> Result<Option<(Waiting, NullAsStdio)>> {
        if !is_terminal(0) {
            return Ok(None);
        }
        // Started in the background (`underhood run ... &`): raw mode and reading the
        // terminal would stop us (SIGTTOU, SIGTTIN). The command then has no terminal
        // of its own; it is still in a session of its own, without the caller's.
        // SAFETY: borrowing our stdin for the length of the call.
        let stdin = unsafe { BorrowedFd::borrow_raw(0) };
        if nix::unistd::tcgetpgrp(stdin).ok() != Some(nix::unistd::getpgrp()) {
            return Ok(None);
        }
        let caller_in = copy_of(0)?;
        let out_fd = [1, 2, 0]
            .into_iter()
            .find(|fd| is_terminal(*fd))
            .unwrap_or(0);
        let caller_out = copy_of(out_fd)?;
        let saved = termios::tcgetattr(&caller_in).context("tcgetattr of our terminal")?;
        let ws = window_size(caller_in.as_fd());
        let console = Console {
            rows: ws.map_or(0, |w| w.ws_row),
            cols: ws.map_or(0, |w| w.ws_col),
            modes: Some(console::modes_of(&libc::termios::from(saved.clone()))),
            stdio: [is_terminal(0), is_terminal(1), is_terminal(2)],
        };
        let null = nix::fcntl::open(
            c"/dev/null",
            OFlag::O_RDWR | OFlag::O_CLOEXEC,
            nix::sys::stat::Mode::empty(),
        )
        .context("open /dev/null")?;
        let mut guard = NullAsStdio { saved: Vec::new() };
        for fd in (0..3).filter(|fd| console.stdio[*fd as usize]) {
            let copy = copy_of(fd)?;
            // SAFETY: dup2 onto one of our own standard descriptors; the guard puts
            // the original back.
            if unsafe { libc::dup2(null.as_raw_fd(), fd) } < 0 {
                return Err(std::io::Error::last_os_error())
                    .with_context(|| format!("dup2 of /dev/null onto fd {fd}"));
            }
            guard.saved.push((fd, copy));
        }
        let waiting = Waiting {
            caller_in,
            caller_out,
            saved,
            console,
        };
        Ok(Some((waiting, guard)))
    }

    /// From here on every key goes to the container's terminal: raw mode on ours.
    pub fn start(&mut self) -> Result<()> {
        let mut raw = self.saved.clone();
        termios::cfmakeraw(&mut raw);
        termios::tcsetattr(&self.caller_in, SetArg::TCSANOW, &raw)
            .context("tcsetattr: raw mode on our terminal")?;
        self.raw = true;
        self.resize();
        Ok(())
    }

    /// Our terminal changed size (SIGWINCH): tell the pty, whose kernel side then
    /// signals the command's foreground process group itself.
    pub fn resize(&self) {
        if let Some(ws) = window_size(self.caller_in.as_fd()) {
            // SAFETY: TIOCSWINSZ reads a winsize we own; the fd is our pty master.
            unsafe { libc::ioctl(self.master.as_raw_fd(), libc::TIOCSWINSZ, &ws) };
        }
    }

    /// The descriptors to poll now: our terminal while there is room for what it
    /// types, the pty while a process holds its slave end. Each with its slot in
    /// [`Relay::pump`]'s argument (0 ours, 1 the pty).
    pub fn poll_fds(&self) -> Vec<(usize, PollFd<'_>)> {
        let mut fds = Vec::new();
        if self.in_open && self.pending.is_empty() {
            fds.push((0, PollFd::new(self.caller_in.as_fd(), PollFlags::POLLIN)));
        }
        if self.master_open {
            let mut m = PollFlags::POLLIN;
            if !self.pending.is_empty() {
                m |= PollFlags::POLLOUT;
            }
            fds.push((1, PollFd::new(self.master.as_fd(), m)));
        }
        fds
    }

    /// Moves what is ready after a poll of [`Relay::poll_fds`]; `ready` are their
    /// revents by slot.
    pub fn pump(&mut self, ready: [PollFlags; 2]) -> Result<()> {
        let any = PollFlags::POLLIN | PollFlags::POLLHUP | PollFlags::POLLERR;
        if self.in_open && ready[0].intersects(any) {
            let mut buf = [0u8; 4096];
            match nix::unistd::read(&self.caller_in, &mut buf) {
                Ok(0) | Err(Errno::EIO) => self.in_open = false,
                Ok(n) => self.pending.extend_from_slice(&buf[..n]),
                Err(Errno::EINTR | Errno::EAGAIN) => {}
                Err(e) => return Err(e).context("reading our terminal"),
            }
        }
        if self.master_open && ready[1].intersects(any) {
            self.copy_out()?;
        }
        if self.master_open && ready[1].contains(PollFlags::POLLOUT) && !self.pending.is_empty() {
            match nix::unistd::write(&self.master, &self.pending) {
                Ok(n) => {
                    self.pending.drain(..n);
                }
                Err(Errno::EINTR | Errno::EAGAIN) => {}
                // Nobody holds the slave end any more: the input has no taker.
                Err(Errno::EIO) => self.pending.clear(),
                Err(e) => return Err(e).context("writing to the container's terminal"),
            }
        }
        Ok(())
    }

    /// Copies what the container's terminal has to say to ours; false once it has
    /// nothing now.
    fn copy_out(&mut self) -> Result<bool> {
        let mut buf = [0u8; 4096];
        match nix::unistd::read(&self.master, &mut buf) {
            Ok(0) | Err(Errno::EIO) => {
                // EIO: the last holder of the slave end closed it (pty(7)).
                self.master_open = false;
                Ok(false)
            }
            Ok(n) => {
                write_all(self.caller_out.as_fd(), &buf[..n])?;
                Ok(true)
            }
            Err(Errno::EAGAIN | Errno::EINTR) => Ok(false),
            Err(e) => Err(e).context("reading the container's terminal"),
        }
    }

    /// After the command ended: what it wrote last may still be on its way through
    /// the pty. Read until every holder of the slave end (PID 1 and the shim, which
    /// exit right after the command) closed it, at most `bound`.
    pub fn finish(&mut self, bound: Duration) {
        let start = Instant::now();
        while self.master_open && start.elapsed() < bound {
            let mut fds = [PollFd::new(self.master.as_fd(), PollFlags::POLLIN)];
            match poll(&mut fds, PollTimeout::from(100u16)) {
                Ok(n) if n > 0 => {
                    if self.copy_out().is_err() {
                        break;
                    }
                }
                Ok(_) | Err(Errno::EINTR) => {}
                Err(_) => break,
            }
        }
        self.restore();
    }

    fn restore(&mut self) {
        if self.raw {
            // TCSADRAIN: what we wrote is shown with the settings it was meant for.
            let _ = termios::tcsetattr(&self.caller_in, SetArg::TCSADRAIN, &self.saved);
            self.raw = false;
        }
    }
}

impl Drop for Relay {
    fn drop(&mut self) {
        self.restore();
    }
}

fn write_all(fd: BorrowedFd, mut bytes: &[u8]) -> Result<()> {
    while !bytes.is_empty() {
        match nix::unistd::write(fd, bytes) {
            Ok(n) => bytes = &bytes[n..],
            Err(Errno::EINTR) => {}
            Err(Errno::EAGAIN) => {
                // Someone made our terminal non-blocking: wait until it takes more.
                let mut fds = [PollFd::new(fd, PollFlags::POLLOUT)];
                let _ = poll(&mut fds, PollTimeout::from(100u16));
            }
            // Our terminal is gone: nobody is left to show it to.
            Err(Errno::EIO) => return Ok(()),
            Err(e) => return Err(e).context("writing to our terminal"),
        }
    }
    Ok(())
}

/// The session shows the relay's errors whole (`session::Error::Terminal`).
impl underhood::session::headless::Terminal for Relay {
    fn start(&mut self) -> Result<(), underhood::session::error::Source> {
        Ok(Relay::start(self)?)
    }

    fn poll_fds(&self) -> Vec<(usize, PollFd<'_>)> {
        Relay::poll_fds(self)
    }

    fn pump(&mut self, ready: [PollFlags; 2]) -> Result<(), underhood::session::error::Source> {
        Ok(Relay::pump(self, ready)?)
    }

    fn resize(&self) {
        Relay::resize(self)
    }

    fn finish(&mut self, bound: Duration) {
        Relay::finish(self, bound)
    }
}
