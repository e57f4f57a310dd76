//! The terminal the front ends draw on, and what happens when it goes away.
//!
//! A terminal can vanish under us: a closed terminal window, `tmux kill-session`, a
//! dropped ssh link. The kernel then hangs the tty up: reads return 0 (EOF) or EIO,
//! writes EIO, poll(2) reports POLLHUP, and the session's processes get SIGHUP
//! (credentials(7), "controlling terminal"; unless a wrapper such as nohup, su or sudo
//! ignores it). Everything here survives that: nothing panics on a failed write (the
//! std `eprintln!` does, which inside ratatui's own panic hook turned a closed
//! terminal into an abort that skipped the container's teardown), and reading input
//! reports [`Input::Gone`] instead of spinning on EOF.

use std::io::Write;
use std::os::fd::{AsRawFd, BorrowedFd, RawFd};
use std::sync::OnceLock;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use crossterm::event::{self, Event};
use nix::poll::{PollFd, PollFlags, PollTimeout, poll};

/// Writes a line to stderr, ignoring failures: where the terminal is gone there is
/// no one to tell, and the cleanup that follows matters more than the message.
pub fn say(text: &str) {
    let mut err = std::io::stderr().lock();
    let _ = writeln!(err, "{text}");
    let _ = err.flush();
}

/// The fd of our terminal (the first of stdin, stdout, stderr that is one), found
/// once while it still answers: after a hangup isatty(3) itself may fail.
fn tty_fd() -> Option<RawFd> {
    static FD: OnceLock<Option<RawFd>> = OnceLock::new();
    *FD.get_or_init(|| {
        [0, 1, 2]
            .into_iter()
            .find(|&fd| nix::unistd::isatty(unsafe { BorrowedFd::borrow_raw(fd) }).unwrap_or(false))
    })
}

/// Whether `fd` reports a hangup or an error (poll(2): POLLHUP, POLLERR, POLLNVAL
/// are returned whatever was asked). A hung-up tty and a pty whose master side
/// closed (tty_io.c: TTY_OTHER_CLOSED) both say POLLHUP.
fn hung_up(fd: RawFd, timeout: Duration) -> Option<bool> {
    // SAFETY: fd 0-2 stay open for the life of the process (`detach` only dup2(2)s
    // over them).
    let bfd = unsafe { BorrowedFd::borrow_raw(fd) };
    let mut fds = [PollFd::new(bfd, PollFlags::POLLIN)];
    let ms = PollTimeout::try_from(timeout).unwrap_or(PollTimeout::ZERO);
    match poll(&mut fds, ms) {
        Ok(0) => Some(false),
        Ok(_) => Some(fds[0].revents().is_some_and(|r| {
            r.intersects(PollFlags::POLLHUP | PollFlags::POLLERR | PollFlags::POLLNVAL)
        })),
        Err(nix::errno::Errno::EINTR) => Some(false),
        Err(_) => None,
    }
}

/// Whether our terminal is gone (hung up, its other side closed).
pub fn gone() -> bool {
    tty_fd().is_some_and(|fd| hung_up(fd, Duration::ZERO).unwrap_or(true))
}

/// What waiting for input gave.
#[derive(Debug)]
pub enum Input {
    Event(Event),
    /// Nothing within the time given.
    Idle,
    /// The terminal is gone: quit (and clean up).
    Gone,
}

/// Waits up to `timeout` for a terminal event. crossterm alone cannot tell a closed
/// terminal from a quiet one (it reads 0 bytes, finds no event and polls again, at
/// full speed until its timeout, forever), so our own poll(2) on the terminal's fd
/// watches for the hangup while crossterm parses what arrives.
pub fn next(timeout: Duration) -> Input {
    let Some(fd) = tty_fd() else {
        // No terminal to watch: crossterm's own wait.
        return match event::poll(timeout) {
            Ok(true) => event::read().map_or(Input::Gone, Input::Event),
            Ok(false) => Input::Idle,
            Err(_) => Input::Gone,
        };
    };
    let deadline = Instant::now() + timeout;
    loop {
        // What crossterm already read and parsed comes first.
        match event::poll(Duration::ZERO) {
            Ok(true) => return event::read().map_or(Input::Gone, Input::Event),
            Ok(false) => {}
            Err(_) => return Input::Gone,
        }
        let left = deadline.saturating_duration_since(Instant::now());
        if let Some(input) = wait_slice(fd, left) {
            return input;
        }
    }
}

/// One slice of `next`'s wait on the terminal's fd: `Gone` on a hangup, `Idle` once no
/// time is left, `None` to go round again. In slices, so that a resize (SIGWINCH,
/// which crossterm catches on its own pipe, not on this fd) is seen soon. The hangup
/// is checked even when no time is left: a caller asking with a zero timeout in a
/// loop must see a hung-up terminal too, or it would spin on it.
fn wait_slice(fd: RawFd, left: Duration) -> Option<Input> {
    match hung_up(fd, left.min(Duration::from_millis(50))) {
        Some(false) if left.is_zero() => Some(Input::Idle),
        Some(false) => None,
        Some(true) | None => Some(Input::Gone),
    }
}

static ACTIVE: AtomicBool = AtomicBool::new(false);

/// Raw mode and the alternate screen, as `ratatui::init` does, with a panic hook that
/// restores the terminal without ever panicking itself (ratatui's prints with
/// `eprintln!`, and a panic inside a panic hook aborts the process).
pub fn init() -> std::io::Result<ratatui::DefaultTerminal> {
    static HOOK: std::sync::Once = std::sync::Once::new();
    HOOK.call_once(|| {
        let previous = std::panic::take_hook();
        std::panic::set_hook(Box::new(move |info| {
            restore();
            previous(info);
        }));
    });
    let _ = tty_fd();
    crossterm::terminal::enable_raw_mode()?;
    ACTIVE.store(true, Ordering::SeqCst);
    // Mouse reports: the wheel scrolls a pane, a click focuses one (most terminals
    // still select text with Shift held).
    crossterm::execute!(
        std::io::stdout(),
        crossterm::terminal::EnterAlternateScreen,
        crossterm::event::EnableMouseCapture
    )?;
    ratatui::Terminal::new(ratatui::backend::CrosstermBackend::new(std::io::stdout()))
}

/// Leaves raw mode and the alternate screen; silent. When the terminal is gone,
/// stdout and stderr are pointed at /dev/null first, so that later messages (and
/// ratatui's own when it drops the terminal) cannot fail: see [`detach`].
pub fn restore() {
    if gone() {
        detach();
    }
    if ACTIVE.swap(false, Ordering::SeqCst) {
        let _ = crossterm::terminal::disable_raw_mode();
        let mut out = std::io::stdout();
        let _ = crossterm::execute!(
            out,
            crossterm::event::DisableMouseCapture,
            crossterm::terminal::LeaveAlternateScreen,
            crossterm::cursor::Show
        );
        let _ = out.flush();
    }
}

/// Points stdout and stderr, where they are the terminal that is gone, at /dev/null
/// (dup2(2)): every later write succeeds into nothing instead of failing with EIO. A
/// stderr redirected to a file or a pipe is kept.
pub fn detach() {
    let Some(tty) = tty_fd() else {
        return;
    };
    let Ok(null) = std::fs::OpenOptions::new().write(true).open("/dev/null") else {
        return;
    };
    let same = |fd: RawFd| {
        let a = nix::sys::stat::fstat(unsafe { BorrowedFd::borrow_raw(fd) });
        let b = nix::sys::stat::fstat(unsafe { BorrowedFd::borrow_raw(tty) });
        matches!((a, b), (Ok(a), Ok(b)) if a.st_rdev == b.st_rdev && a.st_ino == b.st_ino)
    };
    for fd in [1, 2] {
        if fd == tty || same(fd) {
            // SAFETY: dup2 onto 1 and 2 replaces the descriptor atomically; Rust's
            // Stdout/Stderr hold no fd of their own.
            unsafe { libc::dup2(null.as_raw_fd(), fd) };
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::fd::AsFd;

    #[test]
    fn a_pty_whose_other_side_closed_reads_as_gone() {
        let pty = nix::pty::openpty(None, None).expect("openpty");
        let slave = pty.slave.as_raw_fd();
        assert_eq!(hung_up(slave, Duration::ZERO), Some(false));
        drop(pty.master);
        assert_eq!(hung_up(slave, Duration::ZERO), Some(true));
        let _ = pty.slave.as_fd();
    }

    #[test]
    fn a_zero_wait_on_a_hung_up_terminal_says_gone_not_idle() {
        let pty = nix::pty::openpty(None, None).expect("openpty");
        let slave = pty.slave.as_raw_fd();
        assert!(matches!(
            wait_slice(slave, Duration::ZERO),
            Some(Input::Idle)
        ));
        assert!(wait_slice(slave, Duration::from_millis(1)).is_none());
        drop(pty.master);
        assert!(matches!(
            wait_slice(slave, Duration::ZERO),
            Some(Input::Gone)
        ));
        let _ = pty.slave.as_fd();
    }
}
