//! See tests/lessons.rs. The `lessons` commands and helpers a learner types: `list`,
//! the syscall helper, and the by-hand cgroup check's reason on a v2 parent.

use std::process::Command;

use crate::common::*;
use crate::{code, shipped};

pub fn trials() -> Vec<Trial> {
    trials![None;
        list_track_shows_order_times_and_checkpoints,
        syscall_helper_prints_the_call_and_its_errno,
        by_hand_cgroup_says_why_a_v2_parent_gives_no_memory_max,
    ]
}

fn list_track_shows_order_times_and_checkpoints() {
    // A fresh state directory: no progress, so no "passed" column.
    let state = tempfile::tempdir().unwrap();
    let env = [("XDG_STATE_HOME", state.path().to_str().unwrap())];
    let o = underhood_env(&["lessons", "list", "--track", "workshop"], &env);
    assert_eq!(code(&o), Some(0), "{}", stderr(&o));
    let out = stdout(&o);
    let lines: Vec<&str> = out.lines().collect();
    assert!(
        lines[0].starts_with("workshop: the 3-hour core path"),
        "{out}"
    );
    assert_eq!(
        lines[1], "  1   10 min  0:00  host-view   What a container is not",
        "{out}"
    );
    assert_eq!(
        lines[2], "  2   15 min  0:10  namespaces  Namespaces and their three syscalls",
        "{out}"
    );
    assert!(lines[3].starts_with("     checkpoint: "), "{out}");
    // In the track's order: the OOM kill comes after the cgroups lesson that sets it up.
    let at = |id: &str| {
        lines
            .iter()
            .position(|l| l.contains(&format!(" {id} ")))
            .unwrap()
    };
    assert!(at("cgroups") < at("oom"), "{out}");
    assert!(!out.contains(" ipc "), "{out}");
    let last = lines.last().unwrap();
    assert!(last.ends_with(" minutes"), "{out}");
    let minutes: u32 = last.split(' ').nth(2).unwrap().parse().unwrap();
    assert!((120..=180).contains(&minutes), "{out}");
    // An unknown track: an error naming the known ones.
    let o = underhood_env(&["lessons", "list", "--track", "nope"], &env);
    assert_eq!(code(&o), Some(2));
    assert_eq!(
        stderr(&o).trim(),
        "underhood: no track \"nope\"; the tracks are: workshop, self-study, talk"
    );
}

/// `underhood syscall mkdir|mkdirat PATH` makes that very call and prints it with its
/// result as strace would, errno included; a failure exits 1.
fn syscall_helper_prints_the_call_and_its_errno() {
    let tmp = tempfile::tempdir().unwrap();
    for (call, name) in [("mkdirat", "at"), ("mkdir", "plain")] {
        let path = tmp.path().join(name);
        let p = path.to_str().unwrap();
        let o = underhood(&["syscall", call, p]);
        assert_eq!(code(&o), Some(0), "{call}: {}", stderr(&o));
        let want = if call == "mkdirat" {
            format!("mkdirat(AT_FDCWD, {p:?}, 0755) = 0")
        } else {
            format!("mkdir({p:?}, 0755) = 0")
        };
        assert_eq!(stdout(&o).trim(), want);
        assert!(path.is_dir(), "{call} made no directory");
        let again = underhood(&["syscall", call, p]);
        assert_eq!(code(&again), Some(1), "{call} twice");
        assert!(
            stdout(&again).contains("= -1 EEXIST (File exists)"),
            "{call} twice: {}",
            stdout(&again)
        );
    }
}

/// Lesson 20's first check on a cgroup v2 host whose root does not enable memory for
/// its children (no `memory` in `cgroup.subtree_control`: a v2 host without systemd):
/// the learner's cgroup can have no `memory.max`, and nothing of ours may enable it
/// (a change to the whole host's layout). The check is red and says why and what the
/// learner can do, where it would otherwise say "no such cgroup". A fake cgroup root:
/// the check reads files only, and must write none.
fn by_hand_cgroup_says_why_a_v2_parent_gives_no_memory_max() {
    let lesson = shipped()
        .into_iter()
        .find(|l| l.id() == "by-hand-cgroup")
        .expect("lesson 20");
    let check = lesson
        .front
        .checks
        .iter()
        .find(|c| c.id.get_ref() == "in-cgroup")
        .expect("its check in-cgroup");
    let script = check
        .command
        .as_ref()
        .expect("a host command")
        .get_ref()
        .clone();
    let root = tempfile::tempdir().unwrap();
    let mine = root.path().join("underhood-t-mine");
    let me = std::process::id().to_string();
    // `v2`: the root has cgroup.controllers (cgroup v2), else it looks like v1.
    let run = |v2: bool, subtree: &str| {
        let controllers = root.path().join("cgroup.controllers");
        if v2 {
            std::fs::write(&controllers, "cpuset cpu io memory pids\n").unwrap();
        } else {
            let _ = std::fs::remove_file(&controllers);
        }
        std::fs::write(root.path().join("cgroup.subtree_control"), subtree).unwrap();
        let o = Command::new("/bin/sh")
            .args(["-c", &script])
            .env("UH_NEW_CGROUP", &mine)
            .env("UH_PID", &me)
            .output()
            .expect("/bin/sh");
        // Read only: the fake root is as it was written.
        assert_eq!(
            std::fs::read_to_string(root.path().join("cgroup.subtree_control")).unwrap(),
            subtree
        );
        (o.status.success(), stdout(&o))
    };
    let (ok, out) = run(true, "cpu pids\n");
    assert!(!ok, "{out}");
    let first = out.lines().next().unwrap_or("");
    let parent = root.path().display().to_string();
    for needle in [
        format!("memory is not enabled for the child cgroups of {parent}"),
        "its cgroup.subtree_control lists 'cpu pids'".to_string(),
        "no memory.max to write".to_string(),
        "changes the cgroup layout of the whole host".to_string(),
        format!("echo +memory > {parent}/cgroup.subtree_control"),
    ] {
        // The first line is what the check's verdict shows.
        assert!(first.contains(&needle), "{needle:?} not in {first:?}");
    }
    // The learner's cgroup made: the same reason (it still has no memory.max).
    std::fs::create_dir(&mine).unwrap();
    let (ok, again) = run(true, "cpu pids\n");
    assert!(!ok && again == out, "{again}");
    // Memory enabled for children: the reason goes; the check reads the cgroup's
    // limit (none here: a plain directory) and where the process is.
    let (ok, out) = run(true, "cpu memory pids\n");
    assert!(!ok, "{out}");
    assert!(!out.contains("not enabled"), "{out}");
    assert!(
        out.contains("the limit of /underhood-t-mine: no such cgroup"),
        "{out}"
    );
    // On v1 (no cgroup.controllers): never this reason either.
    let (ok, out) = run(false, "");
    assert!(!ok && !out.contains("not enabled"), "{out}");
}
