//! The syscall filter and what the container inherits from its caller (issue 11, items
//! 1, 2, 3, 6 and 15). Each test runs a static probe from tests/escape/probes/sc_*.c
//! inside a real container, as real root and with `--userns` (root inside = uid
//! 100000 outside), and checks from the host what the probe could not change.
//!
//! - namespaces through clone(2)/clone3(2) and the cgroup limits they would open
//!   (`sc_nsattack`);
//! - x32 and i386 system call numbers and io_uring (`sc_abi`);
//! - TIOCSTI into the caller's terminal (`sc_tty`), on a pseudo-terminal this test owns;
//! - file descriptors inherited from the caller (`sc_fds`);
//! - ptrace of the container's PID 1 (`sc_ptrace`).

use std::collections::{BTreeMap, BTreeSet};
use std::io::Read;
use std::os::fd::{AsFd, AsRawFd, OwnedFd};
use std::os::unix::process::CommandExt;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use nix::sys::signal::{Signal, kill};
use nix::unistd::Pid;

use crate::common::*;
use crate::probe;

pub fn trials() -> Vec<Trial> {
    vec![
        root_trial(
            "seccomp::root_clone_with_namespace_flags_cannot_raise_the_limits",
            root_clone_with_namespace_flags_cannot_raise_the_limits,
        ),
        root_trial(
            "seccomp::root_x32_i386_and_io_uring_are_refused",
            root_x32_i386_and_io_uring_are_refused,
        ),
        root_trial(
            "seccomp::root_tiocsti_cannot_reach_the_callers_terminal",
            root_tiocsti_cannot_reach_the_callers_terminal,
        ),
        root_trial(
            "seccomp::root_inherited_fds_do_not_reach_the_container",
            root_inherited_fds_do_not_reach_the_container,
        ),
        root_trial(
            "seccomp::root_pid1_cannot_be_ptraced",
            root_pid1_cannot_be_ptraced,
        ),
    ]
}

const MODES: [&[&str]; 2] = [&[], &["--userns"]];

/// `key=value` lines of a probe's output.
fn results(text: &str) -> BTreeMap<String, String> {
    text.lines()
        .filter_map(|l| l.split_once('='))
        .map(|(k, v)| (k.trim().to_string(), v.trim().to_string()))
        .collect()
}

fn get<'a>(r: &'a BTreeMap<String, String>, key: &str, said: &str) -> &'a str {
    r.get(key)
        .map(String::as_str)
        .unwrap_or_else(|| panic!("the probe said nothing of {key}: {said}"))
}

/// `underhood run MODE EXTRA -v PROBE:/probe:ro -- ARGV`, to its end.
fn run_probe(mode: &[&str], extra: &[&str], name: &str, argv: &[&str]) -> std::process::Output {
    let v = probe::volume(&probe::dir(name));
    let mut args = vec!["run"];
    args.extend_from_slice(mode);
    args.extend_from_slice(extra);
    args.extend_from_slice(&["-v", &v, "--"]);
    args.extend_from_slice(argv);
    underhood(&args)
}

/// A directory the container's root (uid 100000 with `--userns`) may write into.
fn shared_dir(tag: &str) -> PathBuf {
    let d = PathBuf::from(env!("CARGO_TARGET_TMPDIR"))
        .join("escape-seccomp")
        .join(format!("{tag}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).expect("creating a test directory");
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(&d, std::fs::Permissions::from_mode(0o777)).expect("chmod 0777");
    d
}

/// Waits for `child` at most `bound` (a hang, not a timing: the test fails when it is
/// reached); then SIGTERM, SIGKILL, `underhood cleanup`, and `None`.
fn wait_bounded(child: &mut Child, bound: Duration) -> Option<std::process::ExitStatus> {
    let start = Instant::now();
    while start.elapsed() < bound {
        if let Some(st) = child.try_wait().expect("try_wait") {
            return Some(st);
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    let _ = kill(Pid::from_raw(child.id() as i32), Signal::SIGTERM);
    let start = Instant::now();
    while start.elapsed() < Duration::from_secs(10) {
        if child.try_wait().expect("try_wait").is_some() {
            underhood(&["cleanup"]);
            return None;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    let _ = child.kill();
    let _ = child.wait();
    underhood(&["cleanup"]);
    None
}

// ---- items 1 and 6: new namespaces through clone(2) and clone3(2)

fn root_clone_with_namespace_flags_cannot_raise_the_limits() {
    let before = residue();
    let dir = probe::dir("sc_nsattack");
    let v = probe::volume(&dir);
    for mode in MODES {
        let w = Running::start(
            mode,
            &["--memory", "32M", "--pids", "20", "-v", &v],
            "/probe/sc_nsattack 1073741824 max; echo ready; exec sleep 60",
        );
        let said = w.lines.join("\n");
        // v1 (this host) or v2 (the VM tier's first pass).
        let memory = w.cgroup_file(&["memory.limit_in_bytes", "memory.max"]);
        let pids = w.cgroup_file(&["pids.max"]);
        w.stop();
        eprintln!("{mode:?}: the probe said:\n{said}");
        let r = results(&said);
        // Seen from the host first: what the attack was for.
        assert_eq!(
            memory.as_deref(),
            Some("33554432"),
            "{mode:?}: the container raised its memory limit:\n{said}"
        );
        assert_eq!(
            pids.as_deref(),
            Some("20"),
            "{mode:?}: the container raised its pids limit:\n{said}"
        );
        assert_eq!(
            get(&r, "clone_newuser", &said),
            "EPERM",
            "{mode:?}: clone(CLONE_NEWUSER|CLONE_NEWNS|CLONE_NEWCGROUP) was not refused"
        );
        for key in ["clone3_newuser", "clone3_newtime"] {
            assert_eq!(
                get(&r, key, &said),
                "ENOSYS",
                "{mode:?}: {key}: clone3 must answer ENOSYS (libc then falls back to clone)"
            );
        }
        for key in ["unshare_newuser", "unshare_newtime"] {
            assert_eq!(get(&r, key, &said), "EPERM", "{mode:?}: {key}");
        }
        assert!(
            !r.keys()
                .any(|k| k.starts_with("clone.") || k.starts_with("clone3.")),
            "{mode:?}: a child ran in new namespaces:\n{said}"
        );
        // What must keep working: fork, and a thread (glibc tries clone3 first).
        assert_eq!(get(&r, "fork", &said), "ok", "{mode:?}: fork");
        assert_eq!(
            get(&r, "pthread_create", &said),
            "ok",
            "{mode:?}: pthread_create"
        );
    }
    assert_no_residue_of_ours(&before);
}

// ---- item 6: other system call tables, io_uring

fn root_x32_i386_and_io_uring_are_refused() {
    let before = residue();
    for mode in MODES {
        let o = run_probe(mode, &[], "sc_abi", &["/probe/sc_abi"]);
        let said = stdout(&o);
        assert_eq!(o.status.code(), Some(0), "{mode:?}: {}", stderr(&o));
        eprintln!("{mode:?}: the probe said:\n{said}");
        let r = results(&said);
        if cfg!(target_arch = "x86_64") {
            // ENOSYS would be the kernel's own answer (a kernel without
            // CONFIG_X86_X32_ABI): on one with it, the call would have run.
            for key in ["x32_getpid", "x32_unshare"] {
                assert_eq!(
                    get(&r, key, &said),
                    "EPERM",
                    "{mode:?}: {key}: x32 numbers must be refused by the filter itself"
                );
            }
            assert_eq!(
                get(&r, "i386_getpid", &said),
                format!("signal={}", libc::SIGSYS),
                "{mode:?}: an i386 system call must kill the process (SIGSYS)"
            );
        }
        for key in ["io_uring_setup", "io_uring_enter", "io_uring_register"] {
            assert_eq!(get(&r, key, &said), "EPERM", "{mode:?}: {key}");
        }
    }
    assert_no_residue_of_ours(&before);
}

// ---- item 2: TIOCSTI into the caller's terminal

/// `tty_nr` of /proc/<pid>/stat for the terminal `rdev` (proc(5): minor in bits 31-20
/// and 7-0, major in bits 15-8).
fn tty_nr(rdev: u64) -> i64 {
    let major = libc::major(rdev) as i64;
    let minor = libc::minor(rdev) as i64;
    (minor & 0xff) | (major << 8) | ((minor & !0xff) << 12)
}

/// Reads `master` into `out` until told to stop, so that nothing writing to the
/// terminal ever blocks.
fn drain(
    master: OwnedFd,
    out: Arc<Mutex<Vec<u8>>>,
    stop: Arc<AtomicBool>,
) -> std::thread::JoinHandle<()> {
    std::thread::spawn(move || {
        let mut f = std::fs::File::from(master);
        loop {
            let mut fds = [nix::poll::PollFd::new(
                f.as_fd(),
                nix::poll::PollFlags::POLLIN,
            )];
            let ready =
                nix::poll::poll(&mut fds, nix::poll::PollTimeout::from(100u16)).unwrap_or(0) > 0;
            if ready {
                let mut buf = [0u8; 4096];
                match f.read(&mut buf) {
                    Ok(0) | Err(_) => break,
                    Ok(n) => out
                        .lock()
                        .unwrap_or_else(|e| e.into_inner())
                        .extend_from_slice(&buf[..n]),
                }
            } else if stop.load(Ordering::SeqCst) {
                break;
            }
        }
    })
}

/// What is waiting to be read on the terminal (`slave`): input someone pushed into it.
fn pending_input(slave: &OwnedFd) -> Vec<u8> {
    let fd = slave.try_clone().expect("dup");
    let flags = nix::fcntl::fcntl(&fd, nix::fcntl::FcntlArg::F_GETFL).expect("F_GETFL");
    let mut flags = nix::fcntl::OFlag::from_bits_retain(flags);
    flags.insert(nix::fcntl::OFlag::O_NONBLOCK);
    nix::fcntl::fcntl(&fd, nix::fcntl::FcntlArg::F_SETFL(flags)).expect("F_SETFL");
    let mut out = Vec::new();
    let mut f = std::fs::File::from(fd);
    let mut buf = [0u8; 256];
    while let Ok(n) = f.read(&mut buf) {
        if n == 0 {
            break;
        }
        out.extend_from_slice(&buf[..n]);
    }
    // Leave the shared open file description blocking again.
    flags.remove(nix::fcntl::OFlag::O_NONBLOCK);
    let _ = nix::fcntl::fcntl(&f, nix::fcntl::FcntlArg::F_SETFL(flags));
    out
}

/// What the shell around `run` prints when it returns.
const DONE: &str = "underhood-run-returned=";

/// Runs `underhood run MODE -v .. -- sh -c '/probe/sc_tty FD > /out/result'` in a new
/// session whose controlling terminal is a pseudo-terminal of ours; `stdin_tty` says
/// whether its stdin is that terminal (else /dev/null; stdout and stderr always are).
/// Returns the probe's results, what was left to read on our terminal, whether its
/// settings came back as they were, what `run` printed on it, and our terminal's
/// `tty_nr`, st_dev and st_rdev.
fn tty_attack(
    mode: &[&str],
    stdin_tty: bool,
    fd: u32,
) -> (String, Vec<u8>, bool, String, (i64, u64, u64)) {
    let pty = nix::pty::openpty(None, None).expect("openpty");
    let st = nix::sys::stat::fstat(&pty.slave).expect("fstat");
    let ours = (tty_nr(st.st_rdev), st.st_dev, st.st_rdev);
    let before_attrs = nix::sys::termios::tcgetattr(&pty.slave).expect("tcgetattr");
    let out = shared_dir("tty");
    let probe_v = probe::volume(&probe::dir("sc_tty"));
    let out_v = format!("{}:/out", out.display());
    let script = format!("/probe/sc_tty {fd} > /out/result 2>&1");
    // The session leader is a shell that outlives `run`: when a session leader exits,
    // its terminal is hung up (credentials(7)) and could no longer be examined.
    let mut cmd = Command::new("/bin/sh");
    cmd.args([
        "-c",
        &format!("\"$@\"; echo {DONE}$?; exec sleep 600"),
        "sh",
        BIN,
        "run",
    ])
    .args(mode)
    .args(["-v", &probe_v, "-v", &out_v, "--", "/bin/sh", "-c", &script]);
    cmd.stdin(if stdin_tty {
        Stdio::from(pty.slave.try_clone().expect("dup"))
    } else {
        Stdio::null()
    })
    .stdout(Stdio::from(pty.slave.try_clone().expect("dup")))
    .stderr(Stdio::from(pty.slave.try_clone().expect("dup")));
    // SAFETY: between fork and exec only async-signal-safe calls (setsid, ioctl).
    unsafe {
        cmd.pre_exec(|| {
            // A session of its own whose controlling terminal is our pty, as a login
            // shell's is (credentials(7), tty_ioctl(4) TIOCSCTTY).
            if libc::setsid() < 0 || libc::ioctl(1, libc::TIOCSCTTY, 0) < 0 {
                return Err(std::io::Error::last_os_error());
            }
            Ok(())
        });
    }
    let stop = Arc::new(AtomicBool::new(false));
    let printed = Arc::new(Mutex::new(Vec::new()));
    let reader = drain(pty.master, printed.clone(), stop.clone());
    let mut leader = cmd.spawn().expect("spawn sh");
    // Until the shell says `run` is done (a hang, not a timing: the test fails then).
    let start = Instant::now();
    let text =
        || String::from_utf8_lossy(&printed.lock().unwrap_or_else(|e| e.into_inner())).into_owned();
    while !text().contains(DONE) && start.elapsed() < Duration::from_secs(60) {
        std::thread::sleep(Duration::from_millis(50));
    }
    let printed_now = text();
    let finished = printed_now.contains(DONE);
    if !finished {
        let _ = leader.kill();
        let _ = leader.wait();
        stop.store(true, Ordering::SeqCst);
        let _ = reader.join();
        underhood(&["cleanup"]);
        panic!("{mode:?}: underhood run did not return; our terminal showed {printed_now:?}");
    }
    let injected = pending_input(&pty.slave);
    let after_attrs = nix::sys::termios::tcgetattr(&pty.slave).expect("tcgetattr");
    let same = format!("{before_attrs:?}") == format!("{after_attrs:?}");
    // Only now may the session end: its leader's exit hangs the terminal up.
    let _ = leader.kill();
    let _ = leader.wait();
    stop.store(true, Ordering::SeqCst);
    let _ = reader.join();
    let result = std::fs::read_to_string(out.join("result")).unwrap_or_default();
    let _ = std::fs::remove_dir_all(&out);
    (result, injected, same, printed_now, ours)
}

fn root_tiocsti_cannot_reach_the_callers_terminal() {
    let legacy = std::fs::read_to_string("/proc/sys/dev/tty/legacy_tiocsti")
        .map(|t| t.trim().to_string())
        .unwrap_or_else(|_| "1 (no such sysctl: older kernel)".into());
    eprintln!("dev.tty.legacy_tiocsti = {legacy}");
    let before = residue();
    for mode in MODES {
        for stdin_tty in [true, false] {
            // With stdin a terminal the probe pushes into its stdin; otherwise into its
            // stderr, which is still our terminal.
            let fd = if stdin_tty { 0 } else { 2 };
            let what = format!(
                "{mode:?}, stdin {}",
                if stdin_tty {
                    "our terminal"
                } else {
                    "/dev/null"
                }
            );
            let (said, injected, restored, printed, ours) = tty_attack(mode, stdin_tty, fd);
            eprintln!("{what}: the probe said:\n{said}");
            let r = results(&said);
            assert!(
                injected.is_empty(),
                "{what}: the container typed {:?} into our terminal",
                String::from_utf8_lossy(&injected)
            );
            assert_ne!(
                get(&r, "tiocsti", &said),
                "ok",
                "{what}: TIOCSTI worked (run printed {printed:?})"
            );
            if legacy.starts_with('1') {
                assert_eq!(get(&r, "tiocsti", &said), "EPERM", "{what}: TIOCSTI");
            } else {
                eprintln!(
                    "{what}: this kernel refuses TIOCSTI to everyone without CAP_SYS_ADMIN (legacy_tiocsti=0): the errno alone proves nothing here"
                );
            }
            assert!(
                restored,
                "{what}: our terminal's settings were not restored"
            );
            // The command's controlling terminal is never ours: its own pty when our
            // stdin is a terminal (as `runc run -t` gives), none otherwise. Its own is
            // made in the container's devpts, which numbers from 0 as the host's does:
            // the same tty_nr may then be another terminal, so the device of its stdin
            // (st_dev names the devpts instance) is what tells.
            let (ours_nr, ours_dev, ours_rdev) = ours;
            let tty = get(&r, "tty_nr", &said).to_string();
            if stdin_tty {
                assert_eq!(
                    get(&r, "isatty", &said),
                    "1",
                    "{what}: stdin is no terminal"
                );
                assert_ne!(tty, "0", "{what}: the command has no controlling terminal");
                let dev: u64 = get(&r, "fd_dev", &said).parse().expect("fd_dev");
                let rdev: u64 = get(&r, "fd_rdev", &said).parse().expect("fd_rdev");
                assert_ne!(
                    (dev, rdev),
                    (ours_dev, ours_rdev),
                    "{what}: the command's stdin is our terminal"
                );
                // Its controlling terminal is that stdin, its own.
                assert_eq!(
                    tty,
                    tty_nr(rdev).to_string(),
                    "{what}: the command's controlling terminal is not its own stdin"
                );
            } else {
                assert_ne!(
                    tty,
                    ours_nr.to_string(),
                    "{what}: the command's controlling terminal is ours"
                );
                assert_eq!(tty, "0", "{what}: the command has a controlling terminal");
            }
        }
    }
    assert_no_residue_of_ours(&before);
}

// ---- item 3: file descriptors inherited from the caller

fn root_inherited_fds_do_not_reach_the_container() {
    let before = residue();
    let top = shared_dir("fds");
    let inner = top.join("inner");
    std::fs::create_dir(&inner).expect("mkdir inner");
    let escaped = top.join("sc_fd_escape");
    let v = probe::volume(&probe::dir("sc_fds"));
    for mode in MODES {
        let dirfd = nix::fcntl::open(
            &inner,
            nix::fcntl::OFlag::O_RDONLY | nix::fcntl::OFlag::O_DIRECTORY,
            nix::sys::stat::Mode::empty(),
        )
        .expect("open the host directory");
        let raw = dirfd.as_raw_fd();
        let mut cmd = Command::new(BIN);
        cmd.arg("run").args(mode).args([
            "-v",
            &v,
            "--",
            "/bin/sh",
            "-c",
            "echo x > /proc/self/fd/7/../sc_fd_escape; echo write=$?; exec /probe/sc_fds",
        ]);
        // SAFETY: between fork and exec only dup2, which is async-signal-safe.
        unsafe {
            cmd.pre_exec(move || {
                // As `exec 7</host/dir` in the caller's shell: fd 7, not close-on-exec.
                if libc::dup2(raw, 7) < 0 {
                    return Err(std::io::Error::last_os_error());
                }
                Ok(())
            });
        }
        let o = cmd.output().expect("run");
        drop(dirfd);
        let said = stdout(&o);
        eprintln!("{mode:?}: the container said:\n{said}");
        let wrote = escaped.exists();
        let _ = std::fs::remove_file(&escaped);
        assert_eq!(o.status.code(), Some(0), "{mode:?}: {}", stderr(&o));
        assert!(
            !wrote,
            "{mode:?}: the container wrote {} on the host through fd 7",
            escaped.display()
        );
        let fds = results(&said)
            .get("fds")
            .cloned()
            .unwrap_or_else(|| panic!("{mode:?}: no fd list: {said}"));
        let fds: BTreeSet<&str> = fds.split(',').collect();
        assert_eq!(
            fds,
            ["0", "1", "2"].into_iter().collect(),
            "{mode:?}: the command started with more than stdin, stdout and stderr:\n{said}"
        );
    }
    let _ = std::fs::remove_dir_all(&top);
    assert_no_residue_of_ours(&before);
}

// ---- item 15: ptrace of PID 1

fn root_pid1_cannot_be_ptraced() {
    let before = residue();
    let v = probe::volume(&probe::dir("sc_ptrace"));
    for mode in MODES {
        let mut args = vec!["run"];
        args.extend_from_slice(mode);
        args.extend_from_slice(&["-v", &v, "--", "/probe/sc_ptrace"]);
        let mut child = Command::new(BIN)
            .args(&args)
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("spawn");
        let mut out = child.stdout.take().expect("stdout");
        let reader = std::thread::spawn(move || {
            let mut s = String::new();
            let _ = out.read_to_string(&mut s);
            s
        });
        let status = wait_bounded(&mut child, Duration::from_secs(30));
        let said = reader.join().expect("reader");
        eprintln!("{mode:?}: the probe said:\n{said}");
        let r = results(&said);
        assert!(
            status.is_some(),
            "{mode:?}: underhood run hung after the probe ended (PID 1 left stopped?):\n{said}"
        );
        assert_eq!(status.and_then(|s| s.code()), Some(0), "{mode:?}");
        // ptrace(2) says EPERM; /proc refuses with EACCES (ptrace access mode
        // checking, proc(5)).
        for (key, errno) in [
            ("attach", "EPERM"),
            ("open_mem", "EACCES"),
            ("readlink_fd", "EACCES"),
        ] {
            assert_eq!(
                get(&r, key, &said),
                errno,
                "{mode:?}: {key}: PID 1 must be out of the command's reach"
            );
        }
    }
    assert_no_residue_of_ours(&before);
}
