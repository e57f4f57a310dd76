//! Root-only tests against the real host's cgroups (this machine: hybrid, memory on v1;
//! the v2 paths get real-kernel coverage in the VM tier). Each test makes cgroups named
//! `underhood-test-<pid>-<tag>`, removes them even when it fails (a drop guard), and
//! checks that none is left in any hierarchy.
//!
//! Moved from `src/runtime/cgroup/root_tests.rs` so that, not as root, each is reported
//! ignored rather than passed (see `tests/common`).

mod common;

use std::io::Write;
use std::os::fd::AsFd;
use std::os::unix::process::ExitStatusExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use nix::poll::{PollFd, PollFlags, PollTimeout, poll};

use common::{root_trials, run};
use underhood::runtime::cgroup::*;
use underhood::runtime::paths::Paths;
use underhood::runtime::report::Report;

fn main() -> std::process::ExitCode {
    run(root_trials![
        root_limits_pid_usage_and_remove,
        root_oom_kill_is_seen_through_the_event_fd,
        root_remove_dir_cleans_up_a_crashed_session,
    ])
}

fn unique(tag: &str) -> String {
    format!("underhood-test-{}-{tag}", std::process::id())
}

/// Kills our children and removes our cgroup dirs, also when an assertion panics.
struct Guard {
    dirs: Vec<PathBuf>,
    children: Vec<Child>,
}

impl Drop for Guard {
    fn drop(&mut self) {
        for c in &mut self.children {
            let _ = c.kill();
            let _ = c.wait();
        }
        for d in &self.dirs {
            if let Err(e) = remove_dir(d) {
                eprintln!("cleanup: {e:#}");
            }
        }
    }
}

/// Every directory called `name` directly under the host's cgroup root or one of its
/// hierarchies, found by listing them ourselves rather than trusting `ours()`.
fn residue(host: &Host, name: &str) -> Vec<PathBuf> {
    let mut found: Vec<PathBuf> = ours(host)
        .into_iter()
        .filter(|d| d.ends_with(name))
        .collect();
    let mut roots = vec![host.root.clone()];
    if let Ok(entries) = std::fs::read_dir(&host.root) {
        roots.extend(entries.flatten().map(|e| e.path()));
    }
    found.extend(roots.iter().map(|r| r.join(name)).filter(|d| d.exists()));
    found
}

fn host() -> Host {
    Host::detect(&Paths::host()).expect("detect the host's cgroups")
}

fn read(dir: &Path, file: &str) -> String {
    let path = dir.join(file);
    std::fs::read_to_string(&path)
        .unwrap_or_else(|e| panic!("{}: {e}", path.display()))
        .trim()
        .to_string()
}

fn root_limits_pid_usage_and_remove() {
    let host = host();
    let name = unique("limits");
    let limits = Limits {
        memory: Some(32 << 20),
        pids: Some(20),
        cpus: Some(0.5),
    };
    let mut report = Report::new("cgroup");
    let cg = Cgroup::create(&host, &name, &limits, &mut report).expect("create");
    let mut guard = Guard {
        dirs: cg.dirs(),
        children: Vec::new(),
    };
    assert!(report.failure().is_none(), "{}", report.render());

    // The kernel's files hold what we wrote.
    let mem = cg.dir(Controller::Memory).expect("memory dir");
    let pids = cg.dir(Controller::Pids).expect("pids dir");
    let cpu = cg.dir(Controller::Cpu).expect("cpu dir");
    match host.hierarchy(Controller::Memory).map(|h| h.version) {
        Some(Version::V1) => {
            assert_eq!(read(mem, "memory.limit_in_bytes"), "33554432");
            if mem.join("memory.memsw.limit_in_bytes").exists() {
                assert_eq!(read(mem, "memory.memsw.limit_in_bytes"), "33554432");
            }
        }
        _ => {
            assert_eq!(read(mem, "memory.max"), "33554432");
            assert_eq!(read(mem, "memory.swap.max"), "0");
        }
    }
    assert_eq!(read(pids, "pids.max"), "20");
    match host.hierarchy(Controller::Cpu).map(|h| h.version) {
        Some(Version::V1) => {
            assert_eq!(read(cpu, "cpu.cfs_quota_us"), "50000");
            assert_eq!(read(cpu, "cpu.cfs_period_us"), "100000");
        }
        _ => assert_eq!(read(cpu, "cpu.max"), "50000 100000"),
    }
    assert!(
        ours(&host).iter().any(|d| d.ends_with(&name)),
        "ours() lists it"
    );

    // Move a process in; the kernel shows it in each hierarchy.
    let child = Command::new("sleep")
        .arg("30")
        .stdin(Stdio::null())
        .spawn()
        .expect("spawn sleep");
    let pid = child.id() as i32;
    guard.children.push(child);
    cg.add_pid(pid, &mut report).expect("add_pid");
    let membership =
        std::fs::read_to_string(format!("/proc/{pid}/cgroup")).expect("/proc/pid/cgroup");
    let ours_lines = membership
        .lines()
        .filter(|l| l.ends_with(&format!("/{name}")))
        .count();
    assert_eq!(
        ours_lines,
        cg.dirs().len(),
        "one line per hierarchy used:\n{membership}"
    );
    for d in cg.dirs() {
        assert_eq!(read(&d, "cgroup.procs"), pid.to_string(), "{}", d.display());
    }
    assert_eq!(cg.pids_current().expect("pids.current"), Some(1));

    let m = cg.memory().expect("memory usage");
    assert_eq!(m.limit, Some(32 << 20), "{m:?}");
    assert!(m.current <= 32 << 20, "{m:?}");
    assert!(m.peak.is_some_and(|p| p >= m.current), "{m:?}");
    assert_eq!(m.oom_kills, 0, "{m:?}");

    // Remove kills what is inside, then the directories go.
    cg.remove(&mut report).expect("remove");
    let status = guard.children[0].wait().expect("wait sleep");
    assert_eq!(
        status.signal(),
        Some(libc::SIGKILL),
        "remove() killed the sleep"
    );
    for d in cg.dirs() {
        assert!(
            report.calls.iter().any(|c| c.name == "rmdir"
                && c.args == d.display().to_string()
                && c.result.is_ok())
        );
    }
    assert_eq!(residue(&host, &name), Vec::<PathBuf>::new());
}

/// Polls the OOM source; true when readable within `limit`.
fn wait_readable(ev: &OomEvents, limit: Duration) -> bool {
    let ms = u16::try_from(limit.as_millis()).unwrap_or(u16::MAX);
    let mut fds = [PollFd::new(ev.as_fd(), PollFlags::POLLIN)];
    poll(&mut fds, PollTimeout::from(ms)).expect("poll") == 1
}

fn root_oom_kill_is_seen_through_the_event_fd() {
    let host = host();
    let name = unique("oom");
    let limits = Limits {
        memory: Some(32 << 20),
        ..Limits::default()
    };
    let mut report = Report::new("cgroup");
    let cg = Cgroup::create(&host, &name, &limits, &mut report).expect("create");
    let mut guard = Guard {
        dirs: cg.dirs(),
        children: Vec::new(),
    };
    let ev = cg.oom_events().expect("oom events");
    assert!(!wait_readable(&ev, Duration::ZERO), "no OOM yet: {ev:?}");

    // The shell waits on stdin until it is inside the cgroup, then becomes dd, whose
    // 100 MiB buffer is filled (touched) by read(2) from /dev/zero: 3x the limit, no swap.
    let mut hog = Command::new("sh")
        .args([
            "-c",
            "read go; exec dd if=/dev/zero of=/dev/null bs=100M count=1",
        ])
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("spawn hog");
    let mut stdin = hog.stdin.take().expect("stdin");
    let pid = hog.id() as i32;
    guard.children.push(hog);
    cg.add_pid(pid, &mut report).expect("add_pid");
    stdin.write_all(b"go\n").expect("release the hog");

    assert!(
        wait_readable(&ev, Duration::from_secs(10)),
        "no OOM event within 10 s ({ev:?})"
    );
    let status = guard.children[0].wait().expect("wait hog");
    assert_eq!(
        status.signal(),
        Some(libc::SIGKILL),
        "the hog was OOM-killed: {status:?}"
    );

    // v1 signals the eventfd as the OOM starts; the kill is counted a moment later.
    let deadline = Instant::now() + Duration::from_secs(2);
    let mut kills = ev.read().expect("read oom events");
    while kills == 0 && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(20));
        kills = ev.read().expect("read oom events");
    }
    assert!(kills >= 1, "oom_kill count {kills}");
    let m = cg.memory().expect("memory usage");
    assert!(m.oom_kills >= 1, "{m:?}");
    assert!(
        m.peak.is_some_and(|p| p > 16 << 20),
        "the hog reached the limit: {m:?}"
    );

    cg.remove(&mut report).expect("remove");
    assert_eq!(residue(&host, &name), Vec::<PathBuf>::new());
}

fn root_remove_dir_cleans_up_a_crashed_session() {
    let host = host();
    let name = unique("crash");
    let mut report = Report::new("cgroup");
    let cg = Cgroup::create(&host, &name, &Limits::default(), &mut report).expect("create");
    let mut guard = Guard {
        dirs: cg.dirs(),
        children: Vec::new(),
    };
    let child = Command::new("sleep")
        .arg("30")
        .stdin(Stdio::null())
        .spawn()
        .expect("spawn sleep");
    let pid = child.id() as i32;
    guard.children.push(child);
    cg.add_pid(pid, &mut report).expect("add_pid");

    // What `cleanup` does with the dirs recorded in a state file: no Cgroup value at hand.
    let recorded = cg.dirs();
    drop(cg);
    for d in &recorded {
        remove_dir(d).expect("remove_dir");
    }
    let status = guard.children[0].wait().expect("wait sleep");
    assert_eq!(status.signal(), Some(libc::SIGKILL));
    assert_eq!(residue(&host, &name), Vec::<PathBuf>::new());
    // A second cleanup of the same record is harmless.
    assert!(recorded.iter().all(|d| remove_dir(d).is_ok()));
}
