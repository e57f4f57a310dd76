//! Running the binary on a terminal of our own, as a person's shell runs it: a
//! pseudo-terminal (openpty(3)) whose slave end is its stdin, stdout, stderr and
//! controlling terminal, in a session of its own (setsid(2), tty_ioctl(4) TIOCSCTTY).
//! Waits are bounded polls that fail the test on a hang, not timings.

use std::io::{Read, Write};
use std::os::fd::OwnedFd;
use std::os::unix::process::CommandExt;
use std::process::{Child, Command, Stdio};
use std::sync::mpsc::{Receiver, RecvTimeoutError, channel};
use std::time::{Duration, Instant};

/// How long a run may take before it counts as hung (a failure, not a measurement).
const HANG: Duration = Duration::from_secs(120);

/// `underhood ARGS` running on our terminal; what it printed so far.
pub struct OnTty {
    pub child: Child,
    master: std::fs::File,
    rx: Receiver<Vec<u8>>,
    seen: Vec<u8>,
}

impl OnTty {
    /// Starts `underhood ARGS` (with `env`) on a new `rows`x`cols` terminal; with
    /// `stdout`, its stdout goes there instead.
    pub fn start(
        args: &[&str],
        env: &[(&str, &str)],
        (rows, cols): (u16, u16),
        stdout: Option<std::fs::File>,
    ) -> OnTty {
        let ws = nix::pty::Winsize {
            ws_row: rows,
            ws_col: cols,
            ws_xpixel: 0,
            ws_ypixel: 0,
        };
        let pty = nix::pty::openpty(&ws, None).expect("openpty");
        // openpty(3) leaves both ends inheritable: ours must not reach the child but as
        // its stdio (a leaked master would read as one more held below us).
        for fd in [&pty.master, &pty.slave] {
            nix::fcntl::fcntl(
                fd,
                nix::fcntl::FcntlArg::F_SETFD(nix::fcntl::FdFlag::FD_CLOEXEC),
            )
            .expect("FD_CLOEXEC");
        }
        let slave = |p: &OwnedFd| Stdio::from(p.try_clone().expect("dup of the slave"));
        let mut cmd = Command::new(super::BIN);
        cmd.args(args)
            .envs(env.iter().copied())
            .stdin(slave(&pty.slave))
            .stderr(slave(&pty.slave));
        match stdout {
            Some(f) => cmd.stdout(f),
            None => cmd.stdout(slave(&pty.slave)),
        };
        // SAFETY: between fork and exec only async-signal-safe calls (setsid, ioctl).
        unsafe {
            cmd.pre_exec(|| {
                if libc::setsid() < 0 || libc::ioctl(0, libc::TIOCSCTTY, 0) < 0 {
                    return Err(std::io::Error::last_os_error());
                }
                Ok(())
            });
        }
        let child = cmd.spawn().expect("starting underhood on a terminal");
        drop(pty.slave);
        let master = std::fs::File::from(pty.master);
        let mut reader = master.try_clone().expect("dup of the master");
        let (tx, rx) = channel();
        std::thread::spawn(move || {
            let mut buf = [0u8; 4096];
            // Ok(0) or EIO: every holder of the slave end closed it (pty(7)).
            while let Ok(n) = reader.read(&mut buf) {
                if n == 0 || tx.send(buf[..n].to_vec()).is_err() {
                    break;
                }
            }
        });
        OnTty {
            child,
            master,
            rx,
            seen: Vec::new(),
        }
    }

    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.seen).replace('\r', "")
    }

    /// Waits until `marker` was printed; returns all printed so far.
    pub fn wait_for(&mut self, marker: &str) -> String {
        let start = Instant::now();
        while !self.text().contains(marker) {
            let left = HANG.saturating_sub(start.elapsed());
            match self.rx.recv_timeout(left) {
                Ok(bytes) => self.seen.extend(bytes),
                Err(RecvTimeoutError::Timeout) => self.hung(&format!("waiting for {marker:?}")),
                Err(RecvTimeoutError::Disconnected) => {
                    panic!(
                        "the terminal closed before {marker:?}; it showed:\n{}",
                        self.text()
                    )
                }
            }
        }
        self.text()
    }

    /// Types `bytes` on the terminal.
    pub fn type_in(&mut self, bytes: &[u8]) {
        self.master
            .write_all(bytes)
            .expect("writing to our terminal");
    }

    /// Reads to the end (every holder of the terminal gone), then waits for the exit:
    /// its status and all that was printed.
    pub fn finish(mut self) -> (Option<i32>, String) {
        let start = Instant::now();
        loop {
            let left = HANG.saturating_sub(start.elapsed());
            match self.rx.recv_timeout(left) {
                Ok(bytes) => self.seen.extend(bytes),
                Err(RecvTimeoutError::Disconnected) => break,
                Err(RecvTimeoutError::Timeout) => self.hung("waiting for the end"),
            }
        }
        let status = self.child.wait().expect("waiting for underhood");
        (status.code(), self.text())
    }

    fn hung(&mut self, what: &str) -> ! {
        let _ = self.child.kill();
        let _ = self.child.wait();
        super::underhood(&["cleanup"]);
        panic!(
            "underhood hung {what}; the terminal showed:\n{}",
            self.text()
        )
    }
}

/// The descriptors of `pid` that are a pty master: a link to the multiplexor
/// (`/dev/ptmx`, `/dev/pts/ptmx`) is what a master end reads as in /proc (proc(5)).
pub fn masters_held(pid: i32) -> Vec<String> {
    let Ok(dir) = std::fs::read_dir(format!("/proc/{pid}/fd")) else {
        return Vec::new();
    };
    dir.flatten()
        .filter_map(|e| {
            let target = std::fs::read_link(e.path()).ok()?;
            target.to_string_lossy().ends_with("ptmx").then(|| {
                format!(
                    "{pid}: fd {} -> {}",
                    e.file_name().to_string_lossy(),
                    target.display()
                )
            })
        })
        .collect()
}

/// Every master end held below `ancestor` (not by it): none may be, the container's
/// terminal's master is the controller's alone.
pub fn masters_below(ancestor: i32) -> Vec<String> {
    super::descendants_of(ancestor)
        .into_iter()
        .flat_map(|(pid, _, _)| masters_held(pid))
        .collect()
}
