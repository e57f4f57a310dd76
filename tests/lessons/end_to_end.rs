//! See tests/lessons.rs. As root: every lesson, for real, solved, unsolved and
//! cheated, on both rootfs flavours; the host left as it was.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use underhood::lesson::format::LessonFile;

use crate::common::*;
use crate::shipped;

pub fn trials() -> Vec<Trial> {
    let mut tests = root_trials![
        root_every_lesson_passes_solved_fails_unsolved_and_cheated_on_host_tools,
        root_lessons_without_a_pid_namespace_leave_no_process,
        root_the_newest_container_below_us_is_the_one_followed,
    ];
    // The busybox flavour needs a busybox on the host: reported ignored, with why,
    // where there is none (CI installs busybox-static).
    tests.push(trial(
        "root_every_lesson_passes_solved_fails_unsolved_and_cheated_on_busybox",
        unless_root().or_else(no_busybox),
        || every_lesson_on("busybox"),
    ));
    tests
}

fn msg_queues() -> usize {
    std::fs::read_to_string("/proc/sysvipc/msg")
        .map(|t| t.lines().skip(1).filter(|l| !l.trim().is_empty()).count())
        .unwrap_or(0)
}

/// Files a lesson's host commands may make, which must be gone afterwards.
fn lesson_files_in_tmp() -> BTreeSet<String> {
    std::fs::read_dir("/tmp")
        .map(|rd| {
            rd.flatten()
                .map(|e| e.file_name().to_string_lossy().into_owned())
                .filter(|n| n.starts_with("underhood-lesson") || n.starts_with("underhood-volume"))
                .collect()
        })
        .unwrap_or_default()
}

/// The hostname a lesson's container gets (also its $HOSTNAME).
fn lesson_hostname(l: &LessonFile) -> String {
    l.front
        .launch
        .hostname
        .clone()
        .unwrap_or_else(|| "underhood".into())
}

fn environ(pid: &str) -> Vec<String> {
    std::fs::read(format!("/proc/{pid}/environ"))
        .map(|b| {
            b.split(|c| *c == 0)
                .map(|s| String::from_utf8_lossy(s).into_owned())
                .collect()
        })
        .unwrap_or_default()
}

fn pids() -> BTreeSet<String> {
    std::fs::read_dir("/proc")
        .unwrap()
        .flatten()
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|n| n.bytes().all(|b| b.is_ascii_digit()))
        .collect()
}

/// Processes of a lesson's container still alive after its run: the container's
/// environment (`container=underhood`, the lesson's own `HOSTNAME`), and not there
/// before the run.
fn left_commands(before: &BTreeSet<String>, hostname: &str) -> Vec<String> {
    let want = format!("HOSTNAME={hostname}");
    pids()
        .difference(before)
        .filter(|p| {
            let env = environ(p);
            env.iter().any(|e| e == "container=underhood") && env.contains(&want)
        })
        .cloned()
        .collect()
}

/// New processes carrying a session's `UH_SESSION` (what a lesson made by hand starts
/// from the host side) whose session is gone: teardown should have killed them. Killed
/// here, by pid, and reported.
fn left_by_hand(before: &BTreeSet<String>) -> Vec<String> {
    let mut left = Vec::new();
    for pid in pids().difference(before) {
        let Some(id) = environ(pid)
            .iter()
            .find_map(|e| e.strip_prefix("UH_SESSION=").map(str::to_string))
        else {
            continue;
        };
        if Path::new("/run/underhood").join(&id).exists() {
            continue;
        }
        let cmd = std::fs::read(format!("/proc/{pid}/cmdline"))
            .map(|b| String::from_utf8_lossy(&b).replace('\0', " "))
            .unwrap_or_default();
        if cmd.is_empty() {
            continue;
        }
        left.push(format!("pid {pid} `{}` of session {id}", cmd.trim()));
        if let Ok(p) = pid.parse::<i32>() {
            let _ = nix::sys::signal::kill(
                nix::unistd::Pid::from_raw(p),
                nix::sys::signal::Signal::SIGKILL,
            );
        }
    }
    left
}

/// Waits (2 s at most) for the host to be as before; returns what still differs.
/// What belongs to other people's live sessions on this machine is left out (see
/// `common::residue_changes`).
fn host_differences(before: &Residue, queues: usize, files: &BTreeSet<String>) -> Vec<String> {
    let start = Instant::now();
    loop {
        let mut out = residue_changes(before, &residue());
        if msg_queues() != queues {
            out.push(format!(
                "System V message queues: {queues} before, {} after",
                msg_queues()
            ));
        }
        let f = lesson_files_in_tmp();
        if &f != files {
            out.push(format!("files in /tmp: before {files:?}, after {f:?}"));
        }
        if out.is_empty() || start.elapsed() > Duration::from_secs(2) {
            return out;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// `(check id, passed)` from `lessons run` output lines `pass  ID/CHECK: ...`.
fn verdicts(id: &str, out: &str) -> BTreeMap<String, bool> {
    out.lines()
        .filter_map(|l| {
            let (mark, rest) = l.split_once("  ")?;
            if mark != "pass" && mark != "FAIL" {
                return None;
            }
            let check = rest.strip_prefix(&format!("{id}/"))?.split(':').next()?;
            Some((check.to_string(), mark == "pass"))
        })
        .collect()
}

/// Runs the binary with its output in files, not pipes: a process that a container
/// leaves behind keeps the pipes it inherited open, and `Command::output` would wait for
/// it forever. Returns the exit code, stdout and stderr.
fn run_to_files(args: &[&str]) -> (Option<i32>, String, String) {
    run_to_files_env(args, ("UNDERHOOD_LESSONS_TEST", "1"))
}

/// [`run_to_files`] with one more environment variable.
fn run_to_files_env(args: &[&str], var: (&str, &str)) -> (Option<i32>, String, String) {
    let dir = tempfile::tempdir().unwrap();
    let (out, err) = (dir.path().join("out"), dir.path().join("err"));
    let status = Command::new(BIN)
        .args(args)
        .env(var.0, var.1)
        .stdin(Stdio::null())
        .stdout(std::fs::File::create(&out).unwrap())
        .stderr(std::fs::File::create(&err).unwrap())
        .status()
        .expect("running the underhood binary");
    let read = |p: &Path| std::fs::read_to_string(p).unwrap_or_default();
    (status.code(), read(&out), read(&err))
}

/// Every lesson must work on both rootfs flavours, chosen explicitly whatever the host
/// has (`UNDERHOOD_ROOTFS_FLAVOUR`, read when the default rootfs is assembled): one
/// trial each, so that a host without busybox reports that one ignored.
fn root_every_lesson_passes_solved_fails_unsolved_and_cheated_on_host_tools() {
    every_lesson_on("host-tools");
}

/// How `lessons run` plays the learner.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Mode {
    Solve,
    Watch,
    Cheat,
}

fn every_lesson_on(flavour: &str) {
    let mut failures = Vec::new();
    {
        let mut counts: BTreeMap<&str, (usize, usize)> = BTreeMap::new();
        for l in shipped() {
            let id = l.id().to_string();
            let hostname = lesson_hostname(&l);
            for mode in [Mode::Solve, Mode::Watch, Mode::Cheat] {
                let what = format!("{mode:?} on {flavour}");
                let before = residue();
                let queues = msg_queues();
                let files = lesson_files_in_tmp();
                let procs = pids();
                let mut args = vec!["lessons", "run", id.as_str()];
                match mode {
                    Mode::Solve => args.push("--solve"),
                    Mode::Cheat => args.push("--cheat"),
                    Mode::Watch => {}
                }
                let (status, out, err) =
                    run_to_files_env(&args, ("UNDERHOOD_ROOTFS_FLAVOUR", flavour));
                let v = verdicts(&id, &out);
                let ctx = format!("{id} {what}: exit {status:?}\n{out}{err}");
                // The steps as taken: a `through` line per run of passed-through steps.
                let through = out.lines().filter(|l| l.starts_with("through  ")).count();
                if (through > 0) == l.front.launch.pass_through.is_empty() {
                    failures.push(format!("{ctx}\n  -> {through} `through` lines"));
                }
                if v.len() != l.front.checks.len() {
                    failures.push(format!("{ctx}\n  -> not every check was reported"));
                }
                for c in &l.front.checks {
                    let cid = c.id.get_ref();
                    let needs_action = c.solve.is_some() || c.host_solve.is_some();
                    let want = match mode {
                        Mode::Solve => true,
                        // A cheat must leave its check red, like doing nothing does.
                        Mode::Watch | Mode::Cheat => !needs_action,
                    };
                    if v.get(cid.as_str()) != Some(&want) {
                        failures.push(format!(
                            "{ctx}\n  -> {cid} should {}",
                            if want { "pass" } else { "FAIL" }
                        ));
                    }
                    if mode == Mode::Cheat && (c.cheat.is_some() || c.host_cheat.is_some()) {
                        let e = counts.entry("cheats left red").or_default();
                        e.1 += 1;
                        if v.get(cid.as_str()) == Some(&false) {
                            e.0 += 1;
                        }
                    }
                    if mode == Mode::Solve {
                        let e = counts.entry("checks green when solved").or_default();
                        e.1 += 1;
                        if v.get(cid.as_str()) == Some(&true) {
                            e.0 += 1;
                        }
                    }
                }
                let all_pass = v.values().all(|p| *p);
                if mode != Mode::Solve && all_pass {
                    failures.push(format!(
                        "{ctx}\n  -> every check passed with nothing done: the lesson leaves nothing to do"
                    ));
                }
                let want_code = if all_pass { 0 } else { 1 };
                if status != Some(want_code) {
                    failures.push(format!("{ctx}\n  -> exit status should be {want_code}"));
                }
                // A container without a PID namespace of its own may leave its command
                // behind (see `root_lessons_without_a_pid_namespace_leave_no_process`):
                // stop it here so the host stays clean, by pid and only if it is ours.
                std::thread::sleep(Duration::from_millis(100));
                for pid in left_commands(&procs, &hostname) {
                    if let Ok(p) = pid.parse::<i32>() {
                        let _ = nix::sys::signal::kill(
                            nix::unistd::Pid::from_raw(p),
                            nix::sys::signal::Signal::SIGKILL,
                        );
                    }
                }
                for p in left_by_hand(&procs) {
                    failures.push(format!(
                        "{id} {what}: a process the learner started outlived its session: {p}"
                    ));
                }
                for d in host_differences(&before, queues, &files) {
                    failures.push(format!("{id} {what}: the host changed: {d}"));
                }
            }
        }
        for (k, (n, of)) in &counts {
            eprintln!("{flavour}: {k}: {n} of {of}");
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n\n"));
}

fn root_lessons_without_a_pid_namespace_leave_no_process() {
    let mut left = Vec::new();
    for l in shipped() {
        if l.front.launch.steps.iter().any(|s| s.get_ref() == "pid") {
            continue;
        }
        let id = l.id();
        let hostname = lesson_hostname(&l);
        let procs = pids();
        let (status, _, err) = run_to_files(&["lessons", "run", id]);
        assert!(status.is_some(), "{id}: {err}");
        std::thread::sleep(Duration::from_millis(200));
        for pid in left_commands(&procs, &hostname) {
            let cmd = std::fs::read(format!("/proc/{pid}/cmdline"))
                .map(|b| String::from_utf8_lossy(&b).replace('\0', " "))
                .unwrap_or_default();
            left.push(format!("{id}: pid {pid} `{}`", cmd.trim()));
            if let Ok(p) = pid.parse::<i32>() {
                let _ = nix::sys::signal::kill(
                    nix::unistd::Pid::from_raw(p),
                    nix::sys::signal::Signal::SIGKILL,
                );
            }
        }
    }
    assert!(
        left.is_empty(),
        "the container's command outlived the lesson (killed now):\n{}",
        left.join("\n")
    );
}

/// What the panes and the checks of a lesson made by hand follow: below this process,
/// none until an `unshare` runs; then its PID 1 (the child in the new PID namespace,
/// NSpid ending in 1), with `unshare` as the tree's root; a newer one replaces it; a
/// process in no namespace of its own is never taken for one.
fn root_the_newest_container_below_us_is_the_one_followed() {
    use underhood::observe::by_hand;
    use underhood::observe::snapshot::{Target, sample};
    let proc_root = Path::new("/proc");
    let me = std::process::id() as i32;
    let start = |args: &[&str]| {
        Command::new("unshare")
            .args(args)
            .args(["sleep", "60"])
            .stdin(Stdio::null())
            .spawn()
            .expect("unshare")
    };
    let ready = |unshare: u32| {
        let t = Instant::now();
        loop {
            let kids = std::fs::read_to_string(format!("/proc/{unshare}/task/{unshare}/children"))
                .unwrap_or_default();
            if let Some(c) = kids.split_whitespace().next()
                && std::fs::read_to_string(format!("/proc/{c}/comm"))
                    .is_ok_and(|s| s.trim() == "sleep")
            {
                return c.parse::<i32>().unwrap();
            }
            assert!(
                t.elapsed() < Duration::from_secs(5),
                "unshare made no child"
            );
            std::thread::sleep(Duration::from_millis(10));
        }
    };
    let mut plain = Command::new("sleep").arg("60").spawn().expect("sleep");
    assert_eq!(
        by_hand::newest(proc_root, me, me),
        None,
        "a plain child is no container"
    );
    let mut first = start(&["--uts", "--ipc", "--pid", "--fork", "--mount"]);
    let pid1 = ready(first.id());
    let found = by_hand::newest(proc_root, me, me).expect("the unshare'd container");
    assert_eq!((found.first, found.pid1), (first.id() as i32, pid1));
    let status = std::fs::read_to_string(format!("/proc/{pid1}/status")).unwrap();
    let nspid = status.lines().find(|l| l.starts_with("NSpid:")).unwrap();
    assert!(nspid.ends_with("\t1"), "{nspid}");
    // The panes' target: re-resolved at each sample.
    let target = Target {
        subject: me,
        tree_root: me,
        cgroup: None,
        learner_below: Some(me),
    };
    let snap = sample(proc_root, &target, Duration::ZERO);
    assert_eq!(snap.subject, pid1);
    assert_eq!(
        snap.tree.first().map(|n| n.proc.pid),
        Some(first.id() as i32)
    );
    // A newer one, without a PID namespace: it is followed, itself.
    let mut second = start(&["--uts"]);
    let t = Instant::now();
    let newer = loop {
        match by_hand::newest(proc_root, me, me) {
            Some(l) if l.first == second.id() as i32 => break l,
            _ if t.elapsed() < Duration::from_secs(5) => {
                std::thread::sleep(Duration::from_millis(10))
            }
            other => panic!("the newer container was not found: {other:?}"),
        }
    };
    assert_eq!(newer.pid1, second.id() as i32);
    for c in [&mut first, &mut second, &mut plain] {
        let _ = c.kill();
        let _ = c.wait();
    }
    let _ = nix::sys::signal::kill(
        nix::unistd::Pid::from_raw(pid1),
        nix::sys::signal::Signal::SIGKILL,
    );
}
