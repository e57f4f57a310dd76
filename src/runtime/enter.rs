//! Entering a running container, as nsenter(1) and `docker exec` do: a fresh process
//! joins each namespace of the container's PID 1 with setns(2), joins its cgroup,
//! forks (a PID namespace applies to children, pid_namespaces(7)), takes the same
//! security restrictions, and execs a shell. This runs in its own single-threaded
//! process (`underhood __enter`): setns into a mount namespace fails with EINVAL in a
//! multi-threaded one. The shell's terminal is made once inside the container's mount
//! namespace (runtime/console.rs), so that it is a terminal of the container's devpts,
//! named there; its master end goes out to the controller over fd 3, a unix socket.

use std::ffi::CString;
use std::io::Write;
use std::os::fd::{AsFd, FromRawFd, OwnedFd};
use std::path::PathBuf;

use nix::sched::CloneFlags;

use crate::ns::{Ns, flag_names};
use std::os::fd::AsRawFd;
use std::os::unix::net::UnixStream;
use std::os::unix::process::CommandExt;
use std::process::{Child, Command, Stdio};

use super::cgroup::Cgroup;
use super::console;
use super::controller::Launch;
use super::launch_error::{Ctx, Error, Result};
use super::protocol::Console;
use super::report::Report;
use super::step::Step;
use super::sys::{Fork, Linux, Sys};

/// The order nsenter uses: the user namespace first (it grants the capabilities the
/// others need), the mount namespace last (it changes our root directory).
pub const ORDER: [Ns; 8] = [
    Ns::User,
    Ns::Cgroup,
    Ns::Ipc,
    Ns::Uts,
    Ns::Net,
    Ns::Pid,
    Ns::Time,
    Ns::Mount,
];

#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
pub struct EnterArgs {
    pub target: i32,
    pub cgroups: Vec<PathBuf>,
    /// Apply the container's security restrictions (when its security step is done).
    pub secure: Option<(Vec<String>, Vec<String>)>,
    pub argv: Vec<String>,
    pub env: Vec<(String, String)>,
    /// The shell's terminal, made inside.
    pub console: Console,
}

fn ns_inode(pid: &str, ns: Ns) -> Option<u64> {
    use std::os::unix::fs::MetadataExt;
    std::fs::metadata(format!("/proc/{pid}/ns/{}", ns.proc_file()))
        .ok()
        .map(|m| m.ino())
}

/// Joins the target's namespaces and cgroup and execs `argv` on a terminal made there.
/// Fd 3, a unix socket to the controller, carries the terminal's master end (one byte,
/// SCM_RIGHTS) once it is made, then the report of the calls made, as JSON, just
/// before exec (the controller shows it). Never returns.
pub fn main(args: EnterArgs) -> ! {
    // Only 0-2 (/dev/null) and the socket (3) are ours to pass on: whatever else the
    // controller's caller left open would reach the shell inside.
    let _ = super::security::close_inherited_fds(4);
    let mut r = Report::new(format!("enter the running container (PID {})", args.target));
    let code = match enter(&args, &mut r) {
        Ok(()) => 0,
        Err(e) => {
            r.note(e.to_string());
            eprintln!("underhood enter: {e}");
            1
        }
    };
    send_report(&r);
    std::process::exit(code)
}

fn send_report(r: &Report) {
    // SAFETY: fd 3 is the socket the controller gave us; nothing else owns it.
    let fd = unsafe { OwnedFd::from_raw_fd(3) };
    let mut f = std::fs::File::from(fd);
    let _ = f.write_all(&serde_json::to_vec(r).unwrap_or_default());
}

fn enter(args: &EnterArgs, r: &mut Report) -> Result<()> {
    let target = args.target.to_string();
    let me = std::process::id().to_string();
    // Everything is opened by host paths first: once in the container's mount
    // namespace, /proc/<target> and the cgroup directories are no longer reachable.
    let mut joins = Vec::new();
    for ns in ORDER {
        if ns_inode(&target, ns) == ns_inode(&me, ns) {
            continue;
        }
        let path = format!("/proc/{target}/ns/{}", ns.proc_file());
        let file = std::fs::File::open(&path)?;
        joins.push((ns, path, file));
    }
    // The cgroup first too: the contained process must not move itself (a cgroup
    // namespace joined later hides the host's hierarchy from it).
    let sys: &mut dyn Sys = &mut Linux;
    for dir in &args.cgroups {
        let procs = dir.join("cgroup.procs");
        let res = sys.write_file(&procs, &std::process::id().to_string());
        r.call("write", format!("{procs:?}, our pid"), res)?;
    }
    for (ns, path, file) in &joins {
        let res = sys.setns(file.as_fd(), CloneFlags::empty());
        r.call(
            "setns",
            format!("open({path:?}), {}", flag_names(ns.flag())),
            res,
        )?;
    }
    r.shell(format!("nsenter --target {target} --all"));
    // The terminal, made here, in the container's mount namespace: its master end goes
    // to the controller, and is closed here, before the fork (the shell never has it).
    let pty = console::open(&args.console, r)?;
    // SAFETY: fd 3 is the socket the controller gave us; borrowed for the call.
    let sock = unsafe { std::os::fd::BorrowedFd::borrow_raw(3) };
    console::send_master(sock, pty.master, r)?;
    // `__enter` is single-threaded: the child only runs our own code then execs.
    match sys.fork()? {
        Fork::Parent(child) => {
            let _ = r.call("fork", "", Ok(child));
            drop(pty.slave);
            let child = nix::unistd::Pid::from_raw(child);
            r.note("the new shell's parent stays outside; the shell is inside every namespace");
            // The report is complete from here; the child execs the shell.
            send_report(r);
            let code = match nix::sys::wait::waitpid(child, None) {
                Ok(nix::sys::wait::WaitStatus::Exited(_, c)) => c,
                Ok(nix::sys::wait::WaitStatus::Signaled(_, s, _)) => 128 + s as i32,
                _ => 1,
            };
            std::process::exit(code)
        }
        Fork::Child => {
            // The child's copy of the socket must not stay open in the shell.
            let _ = nix::unistd::close(3);
            // A session of its own whose controlling terminal is the new terminal, as
            // its stdio (credentials(7), tty_ioctl(4) TIOCSCTTY).
            let slave = pty.slave.as_raw_fd();
            // SAFETY: plain syscalls on this process's own descriptors.
            let set = unsafe {
                libc::setsid() < 0
                    || libc::ioctl(slave, libc::TIOCSCTTY, 0) < 0
                    || libc::dup2(slave, 0) < 0
                    || libc::dup2(slave, 1) < 0
                    || libc::dup2(slave, 2) < 0
            };
            if set {
                return Err(std::io::Error::last_os_error())
                    .ctx(|| "setsid, TIOCSCTTY and dup2 of the terminal");
            }
            drop(pty.slave);
            let _ = nix::unistd::chdir("/");
            if let Some((keep, deny)) = &args.secure {
                let keep = super::security::parse_caps(keep)?;
                let prog = super::security::filter(deny)?;
                let mut quiet = Report::new("security");
                super::security::apply(&mut Linux, &mut quiet, &keep, &prog, deny)
                    .ctx(|| "security")?;
            }
            let argv: Vec<CString> = args
                .argv
                .iter()
                .map(|a| CString::new(a.as_str()).unwrap_or_default())
                .collect();
            let env: Vec<CString> = args
                .env
                .iter()
                .map(|(k, v)| CString::new(format!("{k}={v}")).unwrap_or_default())
                .collect();
            let prog = argv.first().cloned().unwrap_or_default();
            let err = nix::unistd::execve(&prog, &argv, &env).unwrap_err();
            eprintln!("underhood enter: execve {:?}: {err}", args.argv.first());
            std::process::exit(127)
        }
    }
}

impl Launch {
    /// Enters the running container from outside, as nsenter does: a new process of
    /// ours (`__enter`) setns()es into each of PID 1's namespaces, joins the cgroup,
    /// forks and execs `argv` on a new pseudo-terminal. Returns the process, the
    /// terminal's master end and the report of the calls it made.
    pub fn enter_pty(
        &mut self,
        argv: Vec<String>,
        env: Vec<(String, String)>,
        rows: u16,
        cols: u16,
    ) -> Result<(Child, OwnedFd, Report)> {
        let secure = self.steps[..self.next].iter().find_map(|s| match s {
            Step::Security { keep, deny } => Some((keep.clone(), deny.clone())),
            _ => None,
        });
        let args = EnterArgs {
            target: self.subject,
            cgroups: self.cgroup.as_ref().map(Cgroup::dirs).unwrap_or_default(),
            secure,
            argv,
            env,
            console: Console {
                rows,
                cols,
                modes: None,
                stdio: [true; 3],
            },
        };
        let (ours, theirs) = UnixStream::pair().ctx(|| "socketpair")?;
        let exe = super::start::subject_exe()?;
        let mut cmd = Command::new(format!("/proc/self/fd/{}", exe.as_raw_fd()));
        cmd.arg0("underhood-enter")
            .arg("__enter")
            .arg(serde_json::to_string(&args)?)
            // Nothing of ours: the shell's terminal is made inside.
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null());
        let sock = theirs.as_raw_fd();
        // SAFETY: between fork and exec only async-signal-safe calls on integers.
        unsafe {
            cmd.pre_exec(move || {
                // A session of its own, without our terminal (credentials(7)); the
                // socket as fd 3 (dup2 onto itself would keep FD_CLOEXEC: clear it).
                let placed = if sock == 3 {
                    libc::fcntl(3, libc::F_SETFD, 0)
                } else {
                    libc::dup2(sock, 3)
                };
                if libc::setsid() < 0
                    || placed < 0
                    || libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL) < 0
                {
                    return Err(std::io::Error::last_os_error());
                }
                Ok(())
            });
        }
        let mut child = cmd.spawn().ctx(|| "starting underhood __enter")?;
        drop(theirs);
        // The master end first (one byte carrying it), then the report to the end of
        // the stream; an enter that failed before its terminal sends its report alone.
        let (first, master) =
            super::fdpass::recv_byte(ours.as_raw_fd()).ctx(|| "recvmsg from underhood __enter")?;
        let mut body: Vec<u8> = match (&master, first) {
            (None, Some(b)) => vec![b],
            _ => Vec::new(),
        };
        std::io::Read::read_to_end(&mut &ours, &mut body).ctx(|| "reading the enter report")?;
        let report: Report = serde_json::from_slice(&body).unwrap_or_else(|_| {
            let mut r = Report::new("enter the running container");
            r.note("the enter helper sent no report");
            r
        });
        match master {
            Some(master) => Ok((child, master, report)),
            None => {
                let _ = child.wait();
                let what = match report.failure() {
                    Some(c) => format!(
                        "{}({}) = {}",
                        c.name,
                        c.args,
                        c.result.as_ref().err().cloned().unwrap_or_default()
                    ),
                    None => format!(
                        "underhood __enter made no terminal: {}",
                        report.notes.join("; ")
                    ),
                };
                Err(Error::reported(what, &report))
            }
        }
    }
}
