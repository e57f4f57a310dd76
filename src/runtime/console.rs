//! The container's terminal, made inside it, as runc makes it
//! (libcontainer/console_linux.go): the process that starts a command on a terminal
//! (PID 1 for a spawned shell and for `run`'s command, `__enter` for the entered shell)
//! opens the pseudo-terminal multiplexor in its *own* mount namespace, so that the
//! terminal belongs to the devpts instance the command sees, and sends the master end
//! out to the controller over the control socket.
//!
//! A pty made by the controller on the host's devpts and passed in would work as a
//! terminal but have no name inside: the container's /dev/pts is a devpts instance of
//! its own (`newinstance`, runtime/mounts.rs) where the host's /dev/pts/N does not
//! exist, so ttyname(3) fails, and `tty`, ssh, su, sudo and screen misbehave.
//!
//! The sequence (pts(4), ioctl_tty(2), unlockpt(3)):
//! 1. open("/dev/ptmx", O_RDWR|O_NOCTTY|O_CLOEXEC): a new master on the devpts beside
//!    it (inside, /dev/ptmx is our symlink to pts/ptmx; before the root filesystem
//!    step it is the host's node 5:2, which finds its devpts through the `pts`
//!    directory next to it: the host's, which is right there);
//! 2. fstat: it must be the multiplexor, char 5:2. What /dev/ptmx names is the
//!    container's to change once its processes run (the shells `s` and `e` open it
//!    then): nothing else is used through it;
//! 3. ioctl(TIOCSPTLCK, 0): unlock the slave (what unlockpt(3) does); grantpt(3) has
//!    nothing to do on devpts, which gives the slave to its opener;
//! 4. ioctl(TIOCGPTPEER, O_RDWR|O_NOCTTY|O_CLOEXEC): the slave, opened from the master
//!    itself (Linux 4.13) rather than by the path ptsname(3) gives: no path lookup that
//!    a process inside could race or redirect;
//! 5. tcsetattr(3) and TIOCSWINSZ: the modes and the window size asked for.
//!
//! Then the master goes out (sendmsg(2) SCM_RIGHTS, unix(7)) and our copy is closed
//! before anything is forked: no process inside ever holds the master.

use std::os::fd::{AsRawFd, BorrowedFd, FromRawFd, OwnedFd, RawFd};

use nix::errno::Errno;
use nix::fcntl::OFlag;
use nix::sys::stat::{Mode, SFlag};

use super::protocol::{Console, Modes};
use super::report::Report;

/// The multiplexor every process opens to get a new pty (pts(4)).
pub const PTMX: &str = "/dev/ptmx";

/// The multiplexor's device number: TTYAUX_MAJOR (<linux/major.h>), minor 2 (the
/// kernel's Documentation/admin-guide/devices.txt: "5 char 2 = /dev/ptmx").
const PTMX_DEV: (u64, u64) = (5, 2);

/// Both ends of a new pseudo-terminal.
pub struct Pty {
    pub master: OwnedFd,
    pub slave: OwnedFd,
}

/// Makes a pseudo-terminal through [`PTMX`] as this process resolves it, each call in
/// the report; a failure is the failed call's errno (the report names the path).
pub fn open(c: &Console, r: &mut Report) -> nix::Result<Pty> {
    open_at(PTMX, c, r)
}

fn open_at(ptmx: &str, c: &Console, r: &mut Report) -> nix::Result<Pty> {
    let flags = OFlag::O_RDWR | OFlag::O_NOCTTY | OFlag::O_CLOEXEC;
    let res = nix::fcntl::open(ptmx, flags, Mode::empty());
    let shown = res.as_ref().map(AsRawFd::as_raw_fd).map_err(|e| *e);
    r.call(
        "open",
        format!("{ptmx:?}, O_RDWR|O_NOCTTY|O_CLOEXEC"),
        shown,
    )?;
    let master = res?;
    let m = master.as_raw_fd();
    is_the_multiplexor(&master, ptmx, r)?;
    let unlock: libc::c_int = 0;
    // SAFETY: TIOCSPTLCK reads an int that lives across the call.
    let rc = Errno::result(unsafe { libc::ioctl(m, libc::TIOCSPTLCK, &unlock) });
    r.call(
        "ioctl",
        format!("{m}, TIOCSPTLCK, 0 (unlock the slave)"),
        rc.map(drop),
    )?;
    // SAFETY: TIOCGPTPEER takes open(2) flags by value and returns a new descriptor.
    let rc = Errno::result(unsafe { libc::ioctl(m, libc::TIOCGPTPEER, flags.bits()) });
    let s = r.call(
        "ioctl",
        format!("{m}, TIOCGPTPEER, O_RDWR|O_NOCTTY|O_CLOEXEC (the slave, by no path)"),
        rc,
    )?;
    // SAFETY: TIOCGPTPEER returned a new descriptor, ours to own.
    let slave = unsafe { OwnedFd::from_raw_fd(s) };
    if let Some(modes) = &c.modes {
        set_modes(&slave, modes, r)?;
    }
    if c.rows > 0 && c.cols > 0 {
        let ws = libc::winsize {
            ws_row: c.rows,
            ws_col: c.cols,
            ws_xpixel: 0,
            ws_ypixel: 0,
        };
        // SAFETY: TIOCSWINSZ reads a winsize that lives across the call.
        let rc = Errno::result(unsafe { libc::ioctl(m, libc::TIOCSWINSZ, &ws) });
        r.call(
            "ioctl",
            format!("{m}, TIOCSWINSZ, {} rows x {} columns", c.rows, c.cols),
            rc.map(drop),
        )?;
    }
    Ok(Pty { master, slave })
}

/// fstat(2): refuses (ENOTTY) whatever `ptmx` led to that is not the multiplexor.
fn is_the_multiplexor(fd: &OwnedFd, ptmx: &str, r: &mut Report) -> nix::Result<()> {
    let st = match nix::sys::stat::fstat(fd) {
        Ok(st) => st,
        Err(e) => return r.call("fstat", format!("{} ({ptmx:?})", fd.as_raw_fd()), Err(e)),
    };
    let chr = SFlag::from_bits_truncate(st.st_mode) & SFlag::S_IFMT == SFlag::S_IFCHR;
    let dev = (
        libc::major(st.st_rdev) as u64,
        libc::minor(st.st_rdev) as u64,
    );
    let args = format!("{} ({ptmx:?})", fd.as_raw_fd());
    if chr && dev == PTMX_DEV {
        r.call("fstat", args, Ok("char 5:2, the pty multiplexor"))
            .map(drop)
    } else {
        let what = if chr { "char" } else { "not a char device," };
        r.call::<()>(
            "fstat",
            format!(
                "{args}: {what} {}:{}, not the pty multiplexor (char 5:2)",
                dev.0, dev.1
            ),
            Err(Errno::ENOTTY),
        )
    }
}

/// tcsetattr(3) with `modes`, the rest (line speed fields) as the kernel has them.
fn set_modes(slave: &OwnedFd, modes: &Modes, r: &mut Report) -> nix::Result<()> {
    let s = slave.as_raw_fd();
    // SAFETY: a termios is plain integers; zero is a valid value of each.
    let mut t: libc::termios = unsafe { std::mem::zeroed() };
    // SAFETY: tcgetattr writes the termios we own.
    let rc = Errno::result(unsafe { libc::tcgetattr(s, &mut t) });
    r.call("tcgetattr", format!("{s}"), rc.map(drop))?;
    t.c_iflag = modes.iflag;
    t.c_oflag = modes.oflag;
    t.c_cflag = modes.cflag;
    t.c_lflag = modes.lflag;
    t.c_line = modes.line;
    for (to, from) in t.c_cc.iter_mut().zip(&modes.cc) {
        *to = *from;
    }
    // SAFETY: tcsetattr reads the termios we own.
    let rc = Errno::result(unsafe { libc::tcsetattr(s, libc::TCSANOW, &t) });
    r.call(
        "tcsetattr",
        format!("{s}, TCSANOW, the modes asked for"),
        rc.map(drop),
    )
}

/// The modes of a terminal's settings, to make another terminal like it.
pub fn modes_of(t: &libc::termios) -> Modes {
    Modes {
        iflag: t.c_iflag,
        oflag: t.c_oflag,
        cflag: t.c_cflag,
        lflag: t.c_lflag,
        line: t.c_line,
        cc: t.c_cc.to_vec(),
    }
}

/// Sends the master end out over `sock` (one byte carrying it, SCM_RIGHTS) and closes
/// our copy: from here on only the controller holds it.
pub fn send_master(sock: BorrowedFd, master: OwnedFd, r: &mut Report) -> nix::Result<()> {
    let m = master.as_raw_fd();
    let res = super::fdpass::send_fd(sock.as_raw_fd(), &master);
    r.call(
        "sendmsg",
        format!("control socket, SCM_RIGHTS [{m}] (the master end, to the controller)"),
        res,
    )?;
    drop(master);
    Ok(())
}

/// The slave end on some of our standard descriptors, ours put back on drop: a fork
/// then passes it on as stdio (runtime/spawn.rs makes fd 0 the controlling
/// terminal), and an execve in place keeps it.
pub struct OnStdio {
    /// Each descriptor replaced, with a copy of what it was (None: it was closed).
    saved: Vec<(RawFd, Option<OwnedFd>)>,
}

/// dup2(2)s `slave` onto the standard descriptors `which` says.
pub fn onto_stdio(slave: &OwnedFd, which: [bool; 3], r: &mut Report) -> nix::Result<OnStdio> {
    let mut guard = OnStdio { saved: Vec::new() };
    for (fd, _) in (0..3).zip(which).filter(|(_, on)| *on) {
        // SAFETY: F_DUPFD_CLOEXEC only reads the descriptor number; a closed one fails.
        let copy = Errno::result(unsafe { libc::fcntl(fd, libc::F_DUPFD_CLOEXEC, 3) })
            .ok()
            // SAFETY: a new descriptor, ours to own.
            .map(|c| unsafe { OwnedFd::from_raw_fd(c) });
        // SAFETY: dup2 onto one of our standard descriptors; the guard puts it back.
        let rc = Errno::result(unsafe { libc::dup2(slave.as_raw_fd(), fd) });
        r.call(
            "dup2",
            format!("{} (the slave), {fd}", slave.as_raw_fd()),
            rc,
        )?;
        guard.saved.push((fd, copy));
    }
    Ok(guard)
}

impl Drop for OnStdio {
    fn drop(&mut self) {
        for (fd, copy) in self.saved.drain(..) {
            // SAFETY: dup2 onto, or close of, a standard descriptor we replaced.
            unsafe {
                match copy {
                    Some(c) => libc::dup2(c.as_raw_fd(), fd),
                    None => libc::close(fd),
                }
            };
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::{Read, Write};

    fn sized() -> Console {
        Console {
            rows: 33,
            cols: 101,
            modes: None,
            stdio: [true; 3],
        }
    }

    /// Unprivileged: the host's /dev/ptmx gives a working pair, the slave a tty of
    /// the devpts beside it, with the size asked for.
    #[test]
    fn the_slave_is_a_named_terminal_of_the_master() {
        let mut r = Report::new("console");
        let pty = open(&sized(), &mut r).expect("a pty");
        let names: Vec<&str> = r.calls.iter().map(|c| c.name.as_str()).collect();
        assert_eq!(names, ["open", "fstat", "ioctl", "ioctl", "ioctl"], "{r:?}");
        assert!(r.calls[3].args.contains("TIOCGPTPEER"), "{r:?}");
        let name = nix::unistd::ttyname(&pty.slave).expect("ttyname of the slave");
        assert!(name.starts_with("/dev/pts/"), "{name:?}");
        let ws = window(&pty.slave);
        assert_eq!((ws.ws_row, ws.ws_col), (33, 101));
        // Both ends are close-on-exec: neither crosses an execve by accident.
        for fd in [&pty.master, &pty.slave] {
            let flags = nix::fcntl::fcntl(fd, nix::fcntl::FcntlArg::F_GETFD).unwrap();
            assert_ne!(flags & libc::FD_CLOEXEC, 0);
        }
        let mut s = std::fs::File::from(pty.slave);
        s.write_all(b"hello\n").unwrap();
        let mut buf = [0u8; 32];
        let n = std::fs::File::from(pty.master).read(&mut buf).unwrap();
        // ONLCR: the terminal's default output processing adds the carriage return.
        assert_eq!(&buf[..n], b"hello\r\n");
    }

    fn window(fd: &OwnedFd) -> libc::winsize {
        // SAFETY: a winsize is plain integers.
        let mut ws: libc::winsize = unsafe { std::mem::zeroed() };
        // SAFETY: TIOCGWINSZ writes the winsize we own.
        assert_eq!(
            unsafe { libc::ioctl(fd.as_raw_fd(), libc::TIOCGWINSZ, &mut ws) },
            0
        );
        ws
    }

    #[test]
    fn the_modes_asked_for_are_the_slaves() {
        let mut r = Report::new("console");
        let pty = open(&sized(), &mut r).expect("a pty");
        let mut t = nix::sys::termios::tcgetattr(&pty.slave).unwrap();
        t.local_flags.remove(nix::sys::termios::LocalFlags::ECHO);
        t.input_flags.insert(nix::sys::termios::InputFlags::IUTF8);
        t.control_chars[libc::VERASE] = 8;
        let modes = modes_of(&libc::termios::from(t));
        let c = Console {
            modes: Some(modes.clone()),
            ..sized()
        };
        let pty = open(&c, &mut r).expect("a second pty");
        let got = nix::sys::termios::tcgetattr(&pty.slave).unwrap();
        assert_eq!(modes_of(&libc::termios::from(got)), modes);
    }

    #[test]
    fn a_missing_multiplexor_is_named_with_its_errno() {
        let mut r = Report::new("console");
        let res = open_at("/nonexistent-underhood/ptmx", &sized(), &mut r);
        assert_eq!(res.err(), Some(Errno::ENOENT));
        let c = r.failure().expect("the failed call");
        assert_eq!(c.name, "open");
        assert!(c.args.contains("/nonexistent-underhood/ptmx"), "{c:?}");
    }

    /// What /dev/ptmx names may have been changed by the container's root: anything
    /// else than the multiplexor is refused before any ioctl on it.
    #[test]
    fn anything_but_the_multiplexor_is_refused() {
        let mut r = Report::new("console");
        let res = open_at("/dev/null", &sized(), &mut r);
        assert_eq!(res.err(), Some(Errno::ENOTTY));
        let c = r.failure().expect("the failed call");
        assert_eq!(c.name, "fstat");
        assert!(
            c.args.contains("char 1:3, not the pty multiplexor"),
            "{c:?}"
        );
        assert!(!r.calls.iter().any(|c| c.name == "ioctl"), "{r:?}");
    }

    #[test]
    fn on_stdio_is_undone_on_drop() {
        let pty = open(&sized(), &mut Report::new("console")).expect("a pty");
        // In a child: our own test process's stdio must stay as it is. (glibc's malloc
        // is safe to use in the child of a threaded process: fork(2) takes its locks.)
        // SAFETY: the child makes syscalls and exits without unwinding.
        match unsafe { nix::unistd::fork() }.unwrap() {
            nix::unistd::ForkResult::Child => {
                let ok = (|| {
                    // SAFETY: fd 1 is open in the child for its whole life.
                    let out = unsafe { BorrowedFd::borrow_raw(1) };
                    let before = nix::sys::stat::fstat(out).ok()?;
                    let mut r = Report::new("console");
                    {
                        let _g = onto_stdio(&pty.slave, [false, true, false], &mut r).ok()?;
                        // SAFETY: isatty only looks at the descriptor.
                        if unsafe { libc::isatty(1) } != 1 {
                            return None;
                        }
                    }
                    let after = nix::sys::stat::fstat(out).ok()?;
                    (before.st_ino == after.st_ino && before.st_dev == after.st_dev).then_some(())
                })();
                // SAFETY: _exit in the child of a fork.
                unsafe { libc::_exit(if ok.is_some() { 0 } else { 1 }) }
            }
            nix::unistd::ForkResult::Parent { child } => {
                let st = nix::sys::wait::waitpid(child, None).unwrap();
                assert_eq!(st, nix::sys::wait::WaitStatus::Exited(child, 0));
            }
        }
    }
}
