//! A shell on the host, outside the container, and the variables that point it (and a
//! lesson's `host_solve` commands) at the container: what a learner needs to look
//! from outside (nsenter, the cgroup's files, the upper layer) without hunting for
//! pids and paths.
//!
//! | variable           | value                                                      |
//! |--------------------|------------------------------------------------------------|
//! | `UH_PID`           | the container's PID 1 (before the PID step: its first process) as a host pid |
//! | `UH_CGROUP`        | the container's memory cgroup directory (once the cgroup step made it) |
//! | `UH_CGROUP_MEMORY`, `UH_CGROUP_PIDS`, `UH_CGROUP_CPU` | on cgroup v1 (and hybrid), each controller's own directory, where it exists |
//! | `UH_ROOT`          | `/proc/<UH_PID>/root`: the container's root as the host reaches it (proc(5)) |
//! | `UH_UPPER`         | the overlay's upper directory (what the container wrote) |
//! | `UH_SESSION`       | the session id |
//! | `UH_STATE`         | the session's state directory, `/run/underhood/<id>` |
//! | `UH_LAYERS`        | the lesson's read-only layers, `:`-separated, top first (an overlay's `lowerdir`) |
//! | `UH_HOG`           | the memory hog, its copy in our tools layer |
//! | `UH_NEW_CGROUP`    | where a memory cgroup made by hand goes: `<memory hierarchy>/underhood-<id>-mine` (removed at teardown) |
//!
//! `UH_ROOT` is not the overlay's `merged` directory: that mount is made inside the
//! container's mount namespace, so on the host `merged/` is an empty directory; the
//! kernel's `/proc/<pid>/root` link is the way in from outside.

use std::os::fd::{AsRawFd, OwnedFd};
use std::os::unix::process::CommandExt;
use std::path::Path;
use std::process::{Child, Command};

/// Why the host shell could not start: the pty (with its errno) or the shell itself
/// (ENOENT: no such shell; the text says which).
#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("{call}: {errno}")]
    Pty {
        call: &'static str,
        errno: nix::errno::Errno,
    },
    #[error("starting {shell} on the host: {err}")]
    Spawn {
        shell: &'static str,
        err: std::io::Error,
    },
}

use super::cgroup::Controller;
use super::controller::Launch;

/// The variables, in the order of the table above; those that do not exist yet (no
/// cgroup before the cgroup step) are left out.
pub fn env(launch: &Launch) -> Vec<(String, String)> {
    let mut out = vec![("UH_PID".to_string(), launch.subject.to_string())];
    if let Some(cg) = &launch.cgroup {
        let dirs: Vec<(Controller, &Path)> = Controller::ALL
            .into_iter()
            .filter_map(|c| cg.dir(c).map(|d| (c, d)))
            .collect();
        let main = dirs
            .iter()
            .find(|(c, _)| *c == Controller::Memory)
            .or(dirs.first());
        if let Some((_, d)) = main {
            out.push(("UH_CGROUP".into(), d.display().to_string()));
        }
        // One directory per hierarchy (v1): each controller's own. On v2 they are
        // one directory, UH_CGROUP.
        let split = dirs.iter().any(|(_, d)| Some(*d) != main.map(|m| m.1));
        if split {
            for (c, d) in &dirs {
                let name = format!("UH_CGROUP_{}", c.name().to_uppercase());
                out.push((name, d.display().to_string()));
            }
        }
    }
    let dir = &launch.session.dir;
    // The rootfs step's own upper directory where there is one (an image or a lesson
    // may place it), else where the session puts it.
    let upper = launch
        .steps
        .iter()
        .find_map(|s| match s {
            super::step::Step::Rootfs(r) => Some(r.upper.clone()),
            _ => None,
        })
        .unwrap_or_else(|| dir.join("upper"));
    out.extend([
        ("UH_ROOT".into(), format!("/proc/{}/root", launch.subject)),
        ("UH_UPPER".into(), upper.display().to_string()),
        ("UH_SESSION".into(), launch.session.id().to_string()),
        ("UH_STATE".into(), dir.display().to_string()),
    ]);
    // For a container made by hand: the layers an overlay takes (overlayfs' lowerdir
    // syntax, top first) and where a memory cgroup of the learner's own goes, named
    // so that teardown finds it (runtime::by_hand).
    if !launch.layers.is_empty() {
        let layers: Vec<String> = launch
            .layers
            .iter()
            .map(|p| p.display().to_string())
            .collect();
        out.push(("UH_LAYERS".into(), layers.join(":")));
    }
    // The memory hog: its copy in our tools layer (the top one), not our own binary.
    if let Some(hog) = launch
        .layers
        .iter()
        .map(|l| l.join("usr/local/bin/hog"))
        .find(|p| p.is_file())
    {
        out.push(("UH_HOG".into(), hog.display().to_string()));
    }
    if let Some(h) = super::cgroup::Host::detect(&launch.paths)
        .ok()
        .and_then(|h| h.hierarchy(Controller::Memory).map(|m| m.mount.clone()))
    {
        let name = super::by_hand::cgroup_name(launch.session.id());
        out.push(("UH_NEW_CGROUP".into(), h.join(name).display().to_string()));
    }
    out
}

/// The host shell's prompt, so that it never looks like the container's `# `.
pub const PROMPT_BASH: &str = "HOST \\w # ";
/// For a POSIX sh (dash), which expands parameters in PS1 but knows no `\w`.
pub const PROMPT_SH: &str = "HOST $PWD # ";

/// Starts an interactive shell on the host on a new pseudo-terminal of `rows` x
/// `cols`, with `vars` (made by [`env`]) and the HOST prompt; returns it and the
/// terminal's master end. bash without its startup files (they would set their own
/// PS1), else /bin/sh.
pub fn spawn(vars: &[(String, String)], rows: u16, cols: u16) -> Result<(Child, OwnedFd), Error> {
    let (argv, prompt): (&[&str], &str) = if Path::new("/bin/bash").exists() {
        (&["/bin/bash", "--noprofile", "--norc", "-i"], PROMPT_BASH)
    } else {
        (&["/bin/sh", "-i"], PROMPT_SH)
    };
    let ws = nix::pty::Winsize {
        ws_row: rows,
        ws_col: cols,
        ws_xpixel: 0,
        ws_ypixel: 0,
    };
    let pty = nix::pty::openpty(&ws, None).map_err(|errno| Error::Pty {
        call: "openpty",
        errno,
    })?;
    // openpty(3) leaves both ends inheritable: the shell must not hold the master
    // (closing ours would then not hang its terminal up) nor a stray slave copy.
    for fd in [&pty.master, &pty.slave] {
        nix::fcntl::fcntl(
            fd,
            nix::fcntl::FcntlArg::F_SETFD(nix::fcntl::FdFlag::FD_CLOEXEC),
        )
        .map_err(|errno| Error::Pty {
            call: "fcntl(F_SETFD, FD_CLOEXEC) on the pty",
            errno,
        })?;
    }
    let mut cmd = Command::new(argv[0]);
    cmd.args(&argv[1..])
        .envs(vars.iter().map(|(k, v)| (k, v)))
        .env("PS1", prompt)
        .env("TERM", "xterm-256color")
        // Files a shell would run first (sh(1) ENV, bash(1) BASH_ENV).
        .env_remove("ENV")
        .env_remove("BASH_ENV")
        .env_remove("PROMPT_COMMAND");
    let slave = pty.slave.as_raw_fd();
    // SAFETY: between fork and exec only async-signal-safe calls on integers.
    unsafe {
        cmd.pre_exec(move || {
            // A session of its own with the pty as its controlling terminal and stdio
            // (setsid(2), tty_ioctl(4) TIOCSCTTY); killed if we die (PR_SET_PDEATHSIG,
            // set from the main thread that forks it).
            // The TUI blocks SIGHUP, SIGINT, SIGQUIT and SIGTERM for its sigwait(2)
            // thread, and a blocked mask survives fork and execve (signal(7)): the
            // shell would ignore Ctrl-C and a hangup. Unblock everything.
            let mut none: libc::sigset_t = std::mem::zeroed();
            libc::sigemptyset(&mut none);
            if libc::sigprocmask(libc::SIG_SETMASK, &none, std::ptr::null_mut()) < 0 {
                return Err(std::io::Error::last_os_error());
            }
            if libc::setsid() < 0
                || libc::ioctl(slave, libc::TIOCSCTTY, 0) < 0
                || libc::dup2(slave, 0) < 0
                || libc::dup2(slave, 1) < 0
                || libc::dup2(slave, 2) < 0
                || libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL) < 0
            {
                return Err(std::io::Error::last_os_error());
            }
            Ok(())
        });
    }
    let child = cmd.spawn().map_err(|err| Error::Spawn {
        shell: argv[0],
        err,
    })?;
    drop(pty.slave);
    Ok((child, pty.master))
}
