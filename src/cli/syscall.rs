//! `underhood syscall CALL ...`: single system calls, made exactly as named, for the
//! lessons to run inside a container on any rootfs (busybox or the host's tools, whose
//! programs pick different calls: busybox `cp -r` uses mkdir(2), coreutils 9 mkdirat(2)).
//! Each prints the call with its arguments and its result, errno included, as strace
//! would, and exits 1 when the call failed.
//!
//! The demos that change mounts (`propagation-leak`, `pivot-root-all`) first move into a
//! throwaway mount namespace of their own (unshare(CLONE_NEWNS), then every mount made a
//! slave or private): nothing they mount reaches the namespace they started in, and
//! everything goes with the namespace when they exit.

use std::ffi::CString;
use std::io::{Read, Write};
use std::os::unix::process::CommandExt;
use std::process::{Command, ExitCode};

use anyhow::{Result, anyhow, bail};
use clap::Subcommand;
use nix::errno::Errno;
use nix::mount::{MntFlags, MsFlags, mount, umount2};
use nix::sched::{CloneFlags, unshare};
use nix::sys::wait::{WaitStatus, waitpid};
use nix::unistd::{ForkResult, Pid, fork, pipe};

use underhood::ns::Ns;

#[derive(Subcommand, Debug)]
pub enum SyscallCommand {
    /// mkdir(2): the old call, still there on x86_64.
    Mkdir { path: String },
    /// mkdirat(2) with AT_FDCWD: what newer libcs and coreutils call.
    Mkdirat { path: String },
    /// clone(2) with CLONE_NEW* flags (comma-separated: uts,ipc,net,mnt,pid,user,cgroup):
    /// the child starts in new namespaces, prints its links, then runs CMD.
    Clone {
        flags: String,
        #[arg(trailing_var_arg = true)]
        cmd: Vec<String>,
    },
    /// unshare(CLONE_NEWTIME), a boot-time offset written to timens_offsets, then a
    /// child in the new time namespace runs CMD (default: cat /proc/uptime).
    UnshareTime {
        boottime_secs: i64,
        #[arg(trailing_var_arg = true)]
        cmd: Vec<String>,
    },
    /// connect(2) over TCP to ADDR:PORT; "Connection refused" means a kernel answered.
    Connect { addr: String, port: u16 },
    /// The leak that rslave prevents, in a throwaway mount namespace: a mount made in a
    /// child namespace without rslave appears in its parent's; with rslave it does not.
    PropagationLeak,
    /// pivot_root(2) in a throwaway mount namespace moves the root of every process of
    /// that namespace, not only the caller's.
    PivotRootAll,
}

pub fn main(cmd: SyscallCommand) -> ExitCode {
    let res = match cmd {
        SyscallCommand::Mkdir { path } => mkdir(&path, false),
        SyscallCommand::Mkdirat { path } => mkdir(&path, true),
        SyscallCommand::Clone { flags, cmd } => clone(&flags, &cmd),
        SyscallCommand::UnshareTime { boottime_secs, cmd } => unshare_time(boottime_secs, &cmd),
        SyscallCommand::Connect { addr, port } => connect(&addr, port),
        SyscallCommand::PropagationLeak => propagation_leak(),
        SyscallCommand::PivotRootAll => pivot_root_all(),
    };
    match res {
        Ok(code) => ExitCode::from(code),
        Err(e) => {
            eprintln!("underhood syscall: {e}");
            ExitCode::from(1)
        }
    }
}

/// `= 0` or `= -1 EPERM (Operation not permitted)`.
fn result(r: Result<(), Errno>) -> String {
    match r {
        Ok(()) => "= 0".into(),
        Err(e) => format!("= -1 {e:?} ({})", e.desc()),
    }
}

fn cstring(s: &str) -> Result<CString> {
    CString::new(s).map_err(|_| anyhow!("{s:?} contains a NUL byte"))
}

fn mkdir(path: &str, at: bool) -> Result<u8> {
    let c = cstring(path)?;
    // The raw system calls, not libc's mkdir(), which may call either: mkdir(2) and
    // mkdirat(2) are two entries of the syscall table, and a seccomp filter sees which
    // one was made (syscalls(2)).
    let r = if at {
        // SAFETY: a valid NUL-terminated path; mkdirat(2) only reads it.
        unsafe { libc::syscall(libc::SYS_mkdirat, libc::AT_FDCWD, c.as_ptr(), 0o755) }
    } else {
        #[cfg(target_arch = "x86_64")]
        // SAFETY: as above; mkdir(2).
        let r = unsafe { libc::syscall(libc::SYS_mkdir, c.as_ptr(), 0o755) };
        #[cfg(not(target_arch = "x86_64"))]
        let r = {
            println!("mkdir(2) does not exist on this architecture: only mkdirat(2)");
            return Ok(1);
        };
        r
    };
    let r = Errno::result(r).map(drop);
    if at {
        println!("mkdirat(AT_FDCWD, {path:?}, 0755) {}", result(r));
    } else {
        println!("mkdir({path:?}, 0755) {}", result(r));
    }
    Ok(u8::from(r.is_err()))
}

/// The types `clone` takes, named by their /proc/<pid>/ns file. Not time: its flag
/// shares bits with clone(2)'s exit signal, so only clone3(2) and unshare(2) take it
/// (clone(2), "CLONE_NEWTIME"); see `unshare-time`.
const CLONE_TYPES: [Ns; 7] = [
    Ns::Uts,
    Ns::Ipc,
    Ns::Net,
    Ns::Mount,
    Ns::Pid,
    Ns::User,
    Ns::Cgroup,
];

/// The namespace links of this process, as `uts:[4026531838]`.
fn links(names: &[&str]) -> String {
    names
        .iter()
        .map(|n| {
            std::fs::read_link(format!("/proc/self/ns/{n}"))
                .map(|l| l.display().to_string())
                .unwrap_or_else(|e| format!("{n}: {e}"))
        })
        .collect::<Vec<_>>()
        .join(" ")
}

fn wait_child(child: Pid) -> Result<u8> {
    match waitpid(child, None) {
        Ok(WaitStatus::Exited(_, c)) => Ok(c as u8),
        Ok(WaitStatus::Signaled(_, s, _)) => Ok(128 + s as u8),
        Ok(other) => Err(anyhow!("waitpid({child}): {other:?}")),
        Err(e) => Err(anyhow!("waitpid({child}): {e}")),
    }
}

fn exec(cmd: &[String]) -> ! {
    let err = Command::new(&cmd[0]).args(&cmd[1..]).exec();
    eprintln!("underhood syscall: {}: {err}", cmd[0]);
    std::process::exit(127)
}

fn clone(flags: &str, cmd: &[String]) -> Result<u8> {
    let mut bits = 0;
    let mut names = Vec::new();
    let mut shown = Vec::new();
    for f in flags.split(',').map(str::trim).filter(|f| !f.is_empty()) {
        let f = if f == "mount" || f == "ns" { "mnt" } else { f };
        let ns = CLONE_TYPES.into_iter().find(|n| n.proc_file() == f).ok_or_else(|| {
            anyhow!(
                "unknown namespace {f:?}: expected some of {} (the time namespace has no clone(2) flag: see unshare-time)",
                CLONE_TYPES.map(|n| n.proc_file()).join(",")
            )
        })?;
        bits |= ns.flag().bits();
        names.push(ns.proc_file());
        shown.push(ns.flag_name());
    }
    if names.is_empty() {
        bail!("name at least one namespace, e.g. `uts,pid`");
    }
    shown.push("SIGCHLD");
    let shown = shown.join("|");
    println!("before: {}", links(&names));
    let _ = std::io::stdout().flush();
    // clone(2) as the raw system call, with no new stack: like fork(2), the child runs on
    // a copy of the parent's memory and returns 0 here. Safe in a single-threaded
    // process (this one). x86_64 argument order: flags, stack, parent_tid, child_tid, tls.
    // SAFETY: no stack or tid pointers are passed; the child only prints and execs.
    let r = unsafe {
        libc::syscall(
            libc::SYS_clone,
            (bits | libc::SIGCHLD) as libc::c_ulong,
            0usize,
            0usize,
            0usize,
            0usize,
        )
    };
    match Errno::result(r) {
        Err(e) => {
            println!("clone({shown}) {}", result(Err(e)));
            Ok(1)
        }
        Ok(0) => {
            println!(
                "child: pid {} in its PID namespace; after: {}",
                std::process::id(),
                links(&names)
            );
            let _ = std::io::stdout().flush();
            if cmd.is_empty() {
                std::process::exit(0);
            }
            exec(cmd)
        }
        Ok(pid) => {
            println!("clone({shown}) = {pid}");
            let _ = std::io::stdout().flush();
            wait_child(Pid::from_raw(pid as i32))
        }
    }
}

fn unshare_time(boottime: i64, cmd: &[String]) -> Result<u8> {
    // time_namespaces(7): unshare(CLONE_NEWTIME) moves only the children to come
    // (time_for_children); the offsets may be written until the first one is made.
    let newtime = CloneFlags::from_bits_retain(libc::CLONE_NEWTIME);
    let r = unshare(newtime);
    println!("unshare(CLONE_NEWTIME) {}", result(r));
    if r.is_err() {
        return Ok(1);
    }
    let line = format!("boottime {boottime} 0");
    let w = std::fs::write("/proc/self/timens_offsets", &line);
    match &w {
        Ok(()) => println!("write(/proc/self/timens_offsets, {line:?}) = ok"),
        Err(e) => println!("write(/proc/self/timens_offsets, {line:?}): {e}"),
    }
    if w.is_err() {
        return Ok(1);
    }
    let _ = std::io::stdout().flush();
    let cmd = if cmd.is_empty() {
        vec!["cat".to_string(), "/proc/uptime".to_string()]
    } else {
        cmd.to_vec()
    };
    // SAFETY: single-threaded; the child only execs.
    match unsafe { fork() }.map_err(|e| anyhow!("fork: {e}"))? {
        ForkResult::Child => exec(&cmd),
        ForkResult::Parent { child } => wait_child(child),
    }
}

fn connect(addr: &str, port: u16) -> Result<u8> {
    let ip: std::net::IpAddr = addr
        .parse()
        .map_err(|e| anyhow!("{addr:?} is not an IP address: {e}"))?;
    let to = std::net::SocketAddr::new(ip, port);
    match std::net::TcpStream::connect_timeout(&to, std::time::Duration::from_secs(3)) {
        Ok(_) => {
            println!("connect({to}) = 0: something listens there");
            Ok(0)
        }
        Err(e) => {
            let errno = e.raw_os_error().map(Errno::from_raw);
            match errno {
                Some(Errno::ECONNREFUSED) => println!(
                    "connect({to}) = -1 ECONNREFUSED (Connection refused): the kernel at {addr} answered with a reset"
                ),
                Some(n) => println!("connect({to}) = -1 {n:?} ({})", n.desc()),
                None => println!("connect({to}): {e}"),
            }
            Ok(1)
        }
    }
}

/// Into a mount namespace of our own, every mount made `how` (MS_SLAVE or MS_PRIVATE)
/// recursively, so that nothing done afterwards reaches the namespace we came from.
fn throwaway_namespace(how: MsFlags, name: &str) -> Result<()> {
    unshare(CloneFlags::CLONE_NEWNS)
        .map_err(|e| anyhow!("unshare(CLONE_NEWNS) = {e} (CAP_SYS_ADMIN is needed)"))?;
    mount(
        None::<&str>,
        "/",
        None::<&str>,
        MsFlags::MS_REC | how,
        None::<&str>,
    )
    .map_err(|e| anyhow!("mount(\"/\", MS_REC|{name}) = {e}"))?;
    Ok(())
}

fn tmpfs(source: &str, at: &str) -> Result<()> {
    mount(
        Some(source),
        at,
        Some("tmpfs"),
        MsFlags::empty(),
        Some("size=1m"),
    )
    .map_err(|e| anyhow!("mount(\"{source}\", \"{at}\", \"tmpfs\") = {e}"))
}

/// The propagation fields of the mount at `point` in our mountinfo, or `None`.
fn propagation_at(point: &str) -> Option<String> {
    let text = std::fs::read_to_string("/proc/self/mountinfo").ok()?;
    text.lines().find_map(|l| {
        let f: Vec<&str> = l.split(' ').collect();
        (f.get(4) == Some(&point)).then(|| {
            let opt: Vec<&str> = f[6..].iter().take_while(|x| **x != "-").copied().collect();
            if opt.is_empty() {
                "private".to_string()
            } else {
                opt.join(" ")
            }
        })
    })
}

fn propagation_leak() -> Result<u8> {
    // Namespace A, a stand-in for a host whose / is shared (systemd's default).
    throwaway_namespace(MsFlags::MS_SLAVE, "MS_SLAVE")?;
    let host = "/mnt";
    tmpfs("stand-in-host", host)?;
    mount(
        None::<&str>,
        host,
        None::<&str>,
        MsFlags::MS_SHARED,
        None::<&str>,
    )
    .map_err(|e| anyhow!("mount(\"{host}\", MS_SHARED) = {e}"))?;
    println!(
        "namespace A (throwaway): a tmpfs at {host}, {}: the stand-in for a shared host /",
        propagation_at(host).unwrap_or_default()
    );
    let mut leaked = false;
    let mut kept = true;
    for (rslave, name) in [(false, "leaked"), (true, "kept")] {
        let point = format!("{host}/{name}");
        std::fs::create_dir(&point).map_err(|e| anyhow!("mkdir {point}: {e}"))?;
        let _ = std::io::stdout().flush();
        // SAFETY: single-threaded; the child makes a few calls and exits.
        match unsafe { fork() }.map_err(|e| anyhow!("fork: {e}"))? {
            ForkResult::Child => {
                let r = (|| {
                    unshare(CloneFlags::CLONE_NEWNS)
                        .map_err(|e| anyhow!("unshare(CLONE_NEWNS) = {e}"))?;
                    if rslave {
                        mount(
                            None::<&str>,
                            "/",
                            None::<&str>,
                            MsFlags::MS_REC | MsFlags::MS_SLAVE,
                            None::<&str>,
                        )
                        .map_err(|e| anyhow!("mount(\"/\", MS_REC|MS_SLAVE) = {e}"))?;
                    }
                    tmpfs(name, &point)
                })();
                if let Err(e) = r {
                    eprintln!("underhood syscall: child: {e}");
                    std::process::exit(1);
                }
                std::process::exit(0);
            }
            ForkResult::Parent { child } => {
                if wait_child(child)? != 0 {
                    return Err(anyhow!("the child namespace could not mount {point}"));
                }
            }
        }
        let seen = propagation_at(&point);
        let how = if rslave {
            "unshare(CLONE_NEWNS), mount(\"/\", MS_REC|MS_SLAVE)"
        } else {
            "unshare(CLONE_NEWNS) alone"
        };
        match &seen {
            Some(p) => println!(
                "namespace B ({how}) mounted {point}: it appeared in A too ({p}): {}",
                if rslave { "kept" } else { "leaked" }
            ),
            None => {
                println!("namespace B ({how}) mounted {point}: A does not see it: stayed inside")
            }
        }
        if rslave {
            kept = seen.is_none();
        } else {
            leaked = seen.is_some();
        }
    }
    if leaked && kept {
        println!("without rslave the mount leaked; with rslave it stayed inside");
        Ok(0)
    } else {
        Ok(1)
    }
}

fn pivot_root_all() -> Result<u8> {
    // pivot_root(2) refuses a shared current root or new root's parent: private, then.
    throwaway_namespace(MsFlags::MS_PRIVATE, "MS_PRIVATE")?;
    let new_root = "/mnt";
    tmpfs("new-root", new_root)?;
    let marker = "underhood-new-root";
    std::fs::write(format!("{new_root}/{marker}"), "the new root\n")
        .map_err(|e| anyhow!("writing {new_root}/{marker}: {e}"))?;
    std::fs::create_dir(format!("{new_root}/old"))
        .map_err(|e| anyhow!("mkdir {new_root}/old: {e}"))?;
    let (rx, tx) = pipe().map_err(|e| anyhow!("pipe: {e}"))?;
    let _ = std::io::stdout().flush();
    // SAFETY: single-threaded; the child waits, looks at its root and exits.
    match unsafe { fork() }.map_err(|e| anyhow!("fork: {e}"))? {
        ForkResult::Child => {
            drop(tx);
            let _ = std::env::set_current_dir("/");
            let mut b = [0u8; 1];
            let _ = std::fs::File::from(rx).read(&mut b);
            let moved = std::path::Path::new(&format!("/{marker}")).exists();
            println!(
                "child pid {} (forked before, never called pivot_root): /{marker} {}",
                std::process::id(),
                if moved {
                    "is there: its root moved too"
                } else {
                    "is missing: its root stayed"
                }
            );
            std::process::exit(if moved { 0 } else { 1 });
        }
        ForkResult::Parent { child } => {
            drop(rx);
            let put_old = format!("{new_root}/old");
            let r = nix::unistd::pivot_root(new_root, put_old.as_str());
            println!("pivot_root(\"{new_root}\", \"{put_old}\") {}", result(r));
            let _ = std::io::stdout().flush();
            let _ = nix::unistd::chdir("/");
            let mut tx = std::fs::File::from(tx);
            let _ = tx.write_all(b"x");
            drop(tx);
            let code = wait_child(child)?;
            let _ = umount2("/old", MntFlags::MNT_DETACH);
            r.map_err(|e| anyhow!("pivot_root: {e}"))?;
            Ok(code)
        }
    }
}
