//! See tests/faults.rs. Two sessions at once; a stale state file naming a pid that now
//! belongs to someone else.

use std::collections::BTreeSet;
use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::Command;

use crate::assert_no_descendants;
use crate::common::*;
use nix::sys::signal::{Signal, kill};
use nix::unistd::Pid;
use underhood::runtime::state::{self, ProcId, State};

pub fn trials() -> Vec<Trial> {
    root_trials![
        root_two_sessions_at_once_do_not_interfere_and_cleanup_of_one_spares_the_other,
        root_stale_state_naming_a_reused_pid_leaves_that_process_alone,
    ]
}

fn ns_links(pid: i32) -> Vec<String> {
    ["uts", "ipc", "net", "mnt", "pid", "cgroup", "time"]
        .iter()
        .map(|k| {
            std::fs::read_link(format!("/proc/{pid}/ns/{k}"))
                .map(|p| p.display().to_string())
                .unwrap_or_default()
        })
        .collect()
}

fn root_two_sessions_at_once_do_not_interfere_and_cleanup_of_one_spares_the_other() {
    let before = residue();
    let script = |who: &str| format!("echo {who} > /root/mark; echo ready; exec sleep 60");
    let common = ["--memory", "32M", "--pids", "64", "--net", "veth"];
    let mut a = Running::start(&common, &["--hostname", "alpha"], &script("A"));
    let mut b = Running::start(&common, &["--hostname", "beta"], &script("B"));
    let (sa, sb) = (
        read_state(&a.id).expect("state A"),
        read_state(&b.id).expect("state B"),
    );
    // Unique names for everything each created.
    assert_ne!(a.id, b.id);
    assert_ne!(sa.cgroup_name, sb.cgroup_name);
    assert!(sa.cgroups.iter().all(|d| !sb.cgroups.contains(d)));
    assert_eq!(sa.veths.len(), 1, "{sa:?}");
    assert_ne!(sa.veths, sb.veths);
    // Each init in its own namespaces.
    let init = |s: &State| s.subjects.last().expect("subject").pid;
    let (na, nb) = (ns_links(init(&sa)), ns_links(init(&sb)));
    for (x, y) in na.iter().zip(&nb) {
        assert_ne!(x, y, "A and B share a namespace");
    }
    // Each cgroup holds its own processes only.
    let procs = |s: &State| -> BTreeSet<i32> {
        s.cgroups
            .iter()
            .flat_map(|d| {
                std::fs::read_to_string(d.join("cgroup.procs"))
                    .unwrap_or_default()
                    .lines()
                    .filter_map(|l| l.parse().ok())
                    .collect::<Vec<i32>>()
            })
            .collect()
    };
    let (pa, pb) = (procs(&sa), procs(&sb));
    assert!(!pa.is_empty() && pa.is_disjoint(&pb), "{pa:?} {pb:?}");
    assert!(pa.iter().all(|p| is_descendant_of(*p, a.child.id() as i32)));
    assert!(pb.iter().all(|p| is_descendant_of(*p, b.child.id() as i32)));
    // Each wrote into its own writable layer (a tmpfs of its own mount namespace, for
    // `run`: seen from the host through its init's root).
    let mark = |s: &State| std::fs::read_to_string(format!("/proc/{}/root/root/mark", init(s)));
    assert_eq!(mark(&sa).ok().as_deref(), Some("A\n"));
    assert_eq!(mark(&sb).ok().as_deref(), Some("B\n"));

    // Kill A's controller; a cleanup removes A and only A.
    a.child.kill().expect("kill A");
    a.child.wait().expect("wait A");
    let o = underhood(&["cleanup"]);
    assert!(o.status.success(), "{}", stderr(&o));
    let out = stdout(&o);
    assert!(
        out.contains(&format!("removed stale session {}", a.id)),
        "{out}"
    );
    assert!(
        !out.contains(&b.id),
        "cleanup touched the live session: {out}"
    );
    assert!(!Path::new(&format!("/run/underhood/{}", a.id)).exists());
    assert!(sa.cgroups.iter().all(|d| !d.exists()), "A's cgroup left");
    assert!(
        !Path::new("/sys/class/net").join(&sa.veths[0]).exists(),
        "A's veth left"
    );
    // B runs on, intact.
    if let Some(st) = b.child.try_wait().expect("try_wait") {
        let mut e = String::new();
        if let Some(mut s) = b.child.stderr.take() {
            let _ = s.read_to_string(&mut e);
        }
        panic!("B died when A was cleaned up: {st:?}: {e}");
    }
    let paths = underhood::runtime::paths::Paths::host();
    assert!(
        state::is_alive(&paths.proc_root, *sb.subjects.last().expect("subject")),
        "B's init died"
    );
    assert!(sb.cgroups.iter().all(|d| d.exists()), "B's cgroup removed");
    assert!(
        Path::new("/sys/class/net").join(&sb.veths[0]).exists(),
        "B's veth removed"
    );
    assert_eq!(procs(&sb), pb, "B's processes changed");
    assert_eq!(mark(&sb).ok().as_deref(), Some("B\n"));
    let limit = sb
        .cgroups
        .iter()
        .find(|d| d.starts_with("/sys/fs/cgroup/memory") || d.join("memory.max").exists())
        .map(|d| {
            let f = if d.join("memory.max").exists() {
                "memory.max"
            } else {
                "memory.limit_in_bytes"
            };
            std::fs::read_to_string(d.join(f)).unwrap_or_default()
        });
    assert_eq!(limit.as_deref().map(str::trim), Some("33554432"));

    // B still answers signals and cleans up after itself.
    kill(Pid::from_raw(b.child.id() as i32), Signal::SIGTERM).expect("SIGTERM B");
    assert_eq!(b.child.wait().expect("wait B").code(), Some(143));
    assert_no_residue_of_ours(&before);
    assert_no_descendants("two sessions");
    eprintln!(
        "two sessions: {} and {} distinct in name, namespaces, cgroups and veths; cleanup of {} spared {}",
        a.id, b.id, a.id, b.id
    );
}

// ---- 7. A stale state file naming a pid that now belongs to someone else.

fn fresh_session_id() -> String {
    loop {
        let id = state::new_session_id().expect("random id");
        if !Path::new("/run/underhood").join(&id).exists() {
            return id;
        }
    }
}

fn write_state(id: &str, st: &State) -> PathBuf {
    let dir = Path::new("/run/underhood").join(id);
    std::fs::create_dir_all(&dir).expect("mkdir state dir");
    std::fs::write(
        dir.join("state.json"),
        serde_json::to_vec_pretty(st).expect("json"),
    )
    .expect("write state");
    dir
}

fn root_stale_state_naming_a_reused_pid_leaves_that_process_alone() {
    let before = residue();
    let paths = underhood::runtime::paths::Paths::host();
    let mut bystander = Command::new("sleep").arg("60").spawn().expect("sleep");
    let pid = bystander.id() as i32;
    let real = state::proc_id(&paths.proc_root, pid).expect("start time");
    let reused = ProcId {
        pid,
        start_time: real.start_time + 4242,
    };

    // The pid was ours once, with another start time: the session is stale; the sleep
    // that has the pid now is a stranger, and its cgroup and veth are long gone.
    let id = fresh_session_id();
    let st = State {
        version: state::FORMAT_VERSION,
        session_id: id.clone(),
        controller: Some(reused),
        subjects: vec![reused],
        cgroup_name: Some(format!("underhood-{id}")),
        cgroups: vec![
            PathBuf::from(format!("/sys/fs/cgroup/memory/underhood-{id}")),
            PathBuf::from(format!("/sys/fs/cgroup/pids/underhood-{id}")),
        ],
        veths: vec![format!("uh{id}h")],
    };
    let dir = write_state(&id, &st);
    let o = underhood(&["cleanup"]);
    assert!(o.status.success(), "{}{}", stdout(&o), stderr(&o));
    assert!(
        stdout(&o).contains(&format!("removed stale session {id}")),
        "{}",
        stdout(&o)
    );
    assert!(!dir.exists(), "the stale dir was kept");
    assert!(
        bystander.try_wait().expect("try_wait").is_none(),
        "the bystander was killed"
    );
    assert!(state::is_alive(&paths.proc_root, real));

    // The same pid with its *right* start time: a live session, not to be touched.
    let live_id = fresh_session_id();
    let live = State {
        controller: Some(real),
        subjects: vec![real],
        session_id: live_id.clone(),
        ..st.clone()
    };
    let live_dir = write_state(&live_id, &live);
    let o = underhood(&["cleanup"]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(!stdout(&o).contains(&live_id), "{}", stdout(&o));
    assert!(
        live_dir.join("state.json").exists(),
        "a live session's record was removed"
    );
    assert!(bystander.try_wait().expect("try_wait").is_none());
    // Its controller ends: now it is stale and goes.
    bystander.kill().expect("kill");
    bystander.wait().expect("wait");
    let o = underhood(&["cleanup"]);
    assert!(
        stdout(&o).contains(&format!("removed stale session {live_id}")),
        "{}",
        stdout(&o)
    );
    assert!(!live_dir.exists());

    // An unreadable record: young, it may be a session between mkdir and its first
    // write, so it stays; older than a minute, it goes.
    let young = fresh_session_id();
    let young_dir = Path::new("/run/underhood").join(&young);
    std::fs::create_dir_all(&young_dir).expect("mkdir");
    std::fs::write(young_dir.join("state.json"), "{ truncated").expect("write");
    let o = underhood(&["cleanup"]);
    assert!(!stdout(&o).contains(&young), "{}", stdout(&o));
    assert!(young_dir.exists(), "a fresh unreadable record was removed");
    let old = nix::sys::time::TimeSpec::new(
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .expect("clock")
            .as_secs() as i64
            - 120,
        0,
    );
    nix::sys::stat::utimensat(
        nix::fcntl::AT_FDCWD,
        &young_dir,
        &old,
        &old,
        nix::sys::stat::UtimensatFlags::NoFollowSymlink,
    )
    .expect("utimensat");
    let o = underhood(&["cleanup"]);
    assert!(
        stdout(&o).contains(&format!("removed stale session {young}")),
        "{}",
        stdout(&o)
    );
    assert!(!young_dir.exists());
    assert_no_residue_of_ours(&before);
    eprintln!(
        "stale record naming a reused pid: session removed, the process that has the pid now left alone"
    );
}
