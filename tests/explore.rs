//! `underhood explore` on real peers, as root: a container made by `runc run` from a
//! busybox bundle, one made by unshare(1), and one of ours. What explore reads
//! (`--json`: the very sample the panes draw) is checked against the tools that read
//! the same kernel state: `lsns` (same namespace inodes), `findmnt -N` (same mount
//! count), `/proc/<pid>/status` (same pids inside, same capabilities) and the cgroup's
//! own limit file (same limit). Every test leaves nothing behind.

mod common;

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use common::{
    Running, assert_no_residue, residue, run, skip, stdout, trial, underhood, unless_root,
};
use serde_json::Value;

fn main() -> std::process::ExitCode {
    let runc = unless_root().or_else(|| {
        for tool in ["runc", "busybox"] {
            if which(tool).is_none() {
                return Some(format!(
                    "needs {tool} (apt-get install runc busybox-static; .ci/run installs both)"
                ));
            }
        }
        None
    });
    let root = unless_root();
    run(vec![
        trial(
            "root_explore_a_runc_container",
            runc.clone(),
            root_explore_a_runc_container,
        ),
        trial(
            "root_compare_runc_with_ours",
            runc,
            root_compare_runc_with_ours,
        ),
        trial(
            "root_explore_an_unshare_container",
            root.clone(),
            root_explore_an_unshare_container,
        ),
        trial(
            "root_an_unshare_without_fork_is_named_only_where_bash_told",
            root.clone(),
            root_an_unshare_without_fork_is_named_only_where_bash_told,
        ),
        trial(
            "root_compare_stopped_by_a_signal_at_any_moment_leaves_nothing",
            root.clone(),
            root_compare_stopped_by_a_signal_at_any_moment_leaves_nothing,
        ),
        trial("root_explore_one_of_ours", root, root_explore_one_of_ours),
    ])
}

fn which(tool: &str) -> Option<PathBuf> {
    std::env::var_os("PATH")?
        .to_str()?
        .split(':')
        .map(|d| Path::new(d).join(tool))
        .find(|p| p.is_file())
}

const LIMIT: u64 = 64 << 20;

/// A runc container from a busybox bundle in a tempdir, `sleep` as its process, a
/// 64 MiB memory limit; deleted (`runc delete -f`) when dropped.
struct Runc {
    id: String,
    _dir: tempfile::TempDir,
}

impl Runc {
    fn start() -> Runc {
        let dir = tempfile::tempdir().expect("tempdir");
        let bundle = dir.path();
        let bin = bundle.join("rootfs/bin");
        std::fs::create_dir_all(&bin).expect("mkdir rootfs/bin");
        let busybox = which("busybox").expect("busybox");
        std::fs::copy(&busybox, bin.join("busybox")).expect("copy busybox");
        for tool in ["sh", "sleep"] {
            std::os::unix::fs::symlink("busybox", bin.join(tool)).expect("symlink");
        }
        let st = Command::new("runc")
            .arg("spec")
            .current_dir(bundle)
            .status()
            .expect("runc spec");
        assert!(st.success(), "runc spec: {st:?}");
        let path = bundle.join("config.json");
        let mut spec: Value =
            serde_json::from_str(&std::fs::read_to_string(&path).expect("config")).expect("json");
        spec["process"]["terminal"] = Value::Bool(false);
        spec["process"]["args"] = serde_json::json!(["sleep", "1000"]);
        spec["linux"]["resources"]["memory"] = serde_json::json!({ "limit": LIMIT });
        std::fs::write(&path, spec.to_string()).expect("write config");
        let id = format!("explore-test-{}", std::process::id());
        let st = Command::new("runc")
            .args(["run", "-d", "--bundle"])
            .arg(bundle)
            .arg(&id)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .status()
            .expect("runc run");
        assert!(st.success(), "runc run -d: {st:?}");
        Runc { id, _dir: dir }
    }

    fn pid(&self) -> i32 {
        let out = Command::new("runc")
            .args(["state", &self.id])
            .output()
            .expect("runc state");
        let v: Value = serde_json::from_slice(&out.stdout).expect("runc state json");
        v["pid"].as_i64().expect("pid") as i32
    }
}

impl Drop for Runc {
    fn drop(&mut self) {
        let _ = Command::new("runc")
            .args(["delete", "-f", &self.id])
            .status();
    }
}

/// `underhood explore ARGS --json`, which must succeed.
fn explore_json(args: &[&str]) -> Value {
    let mut all = vec!["explore"];
    all.extend_from_slice(args);
    all.push("--json");
    let o = underhood(&all);
    assert!(o.status.success(), "{all:?}: {}", common::stderr(&o));
    serde_json::from_str(&stdout(&o)).expect("explore --json")
}

/// `lsns -p PID`: type -> inode of each namespace the process is in.
fn lsns(pid: i32) -> Vec<(String, u64)> {
    let out = Command::new("lsns")
        .args(["-p", &pid.to_string(), "-n", "-r", "-o", "TYPE,NS"])
        .output()
        .expect("lsns");
    let mut v: Vec<(String, u64)> = String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter_map(|l| {
            let (t, n) = l.split_once(' ')?;
            Some((t.to_string(), n.trim().parse().ok()?))
        })
        .collect();
    v.sort();
    v
}

/// The inodes explore read, in lsns' words (`mnt`, `pid`...), without the
/// `*_for_children` views lsns does not show.
fn explored_ns(v: &Value) -> Vec<(String, u64)> {
    let mut out: Vec<(String, u64)> = v["snapshot"]["ns"]
        .as_array()
        .expect("ns")
        .iter()
        .filter_map(|l| {
            let kind = l["kind"].as_str()?.to_lowercase();
            if kind.ends_with("forchildren") {
                return None;
            }
            Some((kind, l["inode"].as_u64()?))
        })
        .collect();
    out.sort();
    out
}

/// `findmnt -N PID`: the number of mounts in the process's mount namespace.
fn findmnt_count(pid: i32) -> usize {
    let out = Command::new("findmnt")
        .args(["-N", &pid.to_string(), "-r", "-n", "-o", "TARGET"])
        .output()
        .expect("findmnt");
    assert!(out.status.success(), "findmnt -N {pid}");
    String::from_utf8_lossy(&out.stdout).lines().count()
}

fn status_field(pid: i32, key: &str) -> String {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .expect("status")
        .lines()
        .find_map(|l| {
            l.strip_prefix(&format!("{key}:"))
                .map(|v| v.trim().to_string())
        })
        .unwrap_or_default()
}

/// The memory limit file of the cgroup the kernel says `pid` is in, read directly.
fn memory_limit_file(pid: i32) -> u64 {
    let cg = std::fs::read_to_string(format!("/proc/{pid}/cgroup")).expect("cgroup");
    for line in cg.lines() {
        let mut it = line.splitn(3, ':');
        let (_, ctl, path) = (it.next(), it.next().unwrap_or(""), it.next().unwrap_or(""));
        let rel = path.trim_start_matches('/');
        let file = if ctl.split(',').any(|c| c == "memory") {
            Path::new("/sys/fs/cgroup/memory")
                .join(rel)
                .join("memory.limit_in_bytes")
        } else if ctl.is_empty() {
            Path::new("/sys/fs/cgroup").join(rel).join("memory.max")
        } else {
            continue;
        };
        if let Ok(t) = std::fs::read_to_string(&file) {
            return t.trim().parse().expect("a number");
        }
    }
    panic!("no memory limit file for {pid}: {cg}");
}

/// The checks every peer gets: same inodes as lsns, same mount count as findmnt -N,
/// same pids inside and capabilities as /proc/PID/status.
fn same_as_the_tools(v: &Value, pid: i32) {
    assert_eq!(v["pid"].as_i64(), Some(pid as i64));
    assert_eq!(
        explored_ns(v),
        lsns(pid),
        "namespace inodes against lsns -p {pid}"
    );
    let mounts = v["snapshot"]["mounts"]["Ok"]
        .as_array()
        .expect("mounts")
        .len();
    assert_eq!(
        mounts,
        findmnt_count(pid),
        "mount count against findmnt -N {pid}"
    );
    let tree = v["snapshot"]["tree"].as_array().expect("tree");
    for node in tree {
        let p = node["proc"]["pid"].as_i64().expect("pid") as i32;
        let ns_pid: Vec<String> = node["proc"]["status"]["ns_pid"]
            .as_array()
            .expect("ns_pid")
            .iter()
            .map(|n| n.to_string())
            .collect();
        assert_eq!(ns_pid.join("\t"), status_field(p, "NSpid"), "NSpid of {p}");
    }
    let cap_eff = v["security"]["Ok"]["cap_eff"].as_u64().expect("cap_eff");
    assert_eq!(
        format!("{cap_eff:016x}"),
        status_field(pid, "CapEff"),
        "CapEff against /proc/{pid}/status"
    );
}

fn root_explore_a_runc_container() {
    let before = residue();
    {
        let r = Runc::start();
        let pid = r.pid();
        let v = explore_json(&["--runc", &r.id]);
        assert_eq!(v["maker"].as_str(), Some(format!("runc {}", r.id).as_str()));
        same_as_the_tools(&v, pid);
        let limit = v["snapshot"]["memory"]["limit"].as_u64().expect("a limit");
        assert_eq!(limit, LIMIT, "the bundle's limit");
        assert_eq!(limit, memory_limit_file(pid), "against the cgroup's file");
        // The picker lists it, made by runc, by the same pid.
        let list = explore_json(&[]);
        let found = list["containers"]
            .as_array()
            .expect("containers")
            .iter()
            .find(|c| c["pid"].as_i64() == Some(pid as i64))
            .cloned()
            .unwrap_or_else(|| panic!("{pid} not in {list}"));
        assert_eq!(found["maker"]["Runc"]["id"].as_str(), Some(r.id.as_str()));
        // Its process tree: runc's init is PID 1 inside.
        assert_eq!(
            status_field(pid, "NSpid").split('\t').next_back(),
            Some("1")
        );
    }
    assert_no_residue(&before);
}

fn root_compare_runc_with_ours() {
    let before = residue();
    {
        let r = Runc::start();
        let pid = r.pid();
        let o = underhood(&["explore", "--compare", &pid.to_string(), "--json"]);
        assert!(o.status.success(), "{}", common::stderr(&o));
        let v: Value = serde_json::from_str(&stdout(&o)).expect("json");
        let rows = v["rows"].as_array().expect("rows");
        let get = |section: &str, what: &str| {
            rows.iter()
                .find(|r| r["section"] == section && r["what"] == what)
                .unwrap_or_else(|| panic!("no row {section} {what}"))
                .clone()
        };
        // Made with the same options: the same namespaces isolated, the same limit.
        for r in rows.iter().filter(|r| r["section"] == "namespaces") {
            assert_eq!(r["differs"], false, "{r}");
        }
        let mem = get("cgroup limits", "memory");
        assert_eq!(mem["left"], "64 MiB", "{mem}");
        assert_eq!(mem["differs"], false, "{mem}");
        // The right side read a real container of ours: an overlay root, its pid gone.
        let root = get("mounts", "/");
        assert!(
            root["right"]
                .as_str()
                .is_some_and(|s| s.starts_with("overlay")),
            "{root}"
        );
        let ours = v["right"]["pid"].as_i64().expect("pid") as i32;
        assert!(
            !Path::new(&format!("/proc/{ours}")).exists(),
            "ours still runs"
        );
        same_caps(&v["left"], pid);
    }
    assert_no_residue(&before);
}

fn same_caps(facts: &Value, pid: i32) {
    let cap = facts["security"]["Ok"]["cap_bnd"]
        .as_u64()
        .expect("cap_bnd");
    assert_eq!(format!("{cap:016x}"), status_field(pid, "CapBnd"));
}

/// Kills and reaps a child even when an assertion fails.
struct Reaper(std::process::Child);

impl Drop for Reaper {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// `unshare --uts --ipc --mount --pid --fork sleep 100`, once its PID 1 runs sleep:
/// the unshare process (the container's first process). Killed with its PID 1 when
/// dropped (`--kill-child`).
fn unshare_container() -> Reaper {
    let child = Command::new("unshare")
        .args([
            "--uts",
            "--ipc",
            "--mount",
            "--pid",
            "--fork",
            "--propagation",
            "private",
            // Killing unshare (the Reaper) kills its PID 1 too; and that sleep must not
            // hold the test's output open after the test ends.
            "--kill-child",
        ])
        .args(["sleep", "100"])
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .expect("unshare(1)");
    let reaper = Reaper(child);
    let pid = reaper.0.id() as i32;
    // Ready once unshare's child (PID 1 inside) has exec'd sleep.
    for _ in 0..500 {
        let children =
            std::fs::read_to_string(format!("/proc/{pid}/task/{pid}/children")).unwrap_or_default();
        if let Some(c) = children.split_whitespace().next()
            && std::fs::read_to_string(format!("/proc/{c}/comm")).is_ok_and(|t| t.trim() == "sleep")
        {
            return reaper;
        }
        std::thread::sleep(std::time::Duration::from_millis(10));
    }
    skip("unshare --pid --fork never started its child");
}

fn root_explore_an_unshare_container() {
    let reaper = unshare_container();
    let pid = reaper.0.id() as i32;
    let v = explore_json(&[&pid.to_string()]);
    assert_eq!(v["maker"], "unshare");
    same_as_the_tools(&v, pid);
    let tree = v["snapshot"]["tree"].as_array().expect("tree");
    assert_eq!(tree.len(), 2, "unshare and its PID 1: {tree:?}");
    assert_eq!(
        tree[1]["proc"]["status"]["ns_pid"]
            .as_array()
            .and_then(|a| a.last())
            .and_then(Value::as_i64),
        Some(1)
    );
    drop(reaper);
}

/// `unshare --uts --ipc sleep 100` without `--fork`: unshare execs sleep, so the
/// container's first process is `sleep`, with no unshare in its comm or cmdline, its
/// parent a shell. Where bash ran it, the `_` bash exported names unshare and the
/// picker says "unshare"; started without that trace it is "unknown", not a guess.
fn root_an_unshare_without_fork_is_named_only_where_bash_told() {
    let start = |cmd: &mut Command| -> Reaper {
        let r = Reaper(
            cmd.stdin(Stdio::null())
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .spawn()
                .expect("spawn"),
        );
        let pid = r.0.id();
        for _ in 0..500 {
            if std::fs::read_to_string(format!("/proc/{pid}/comm"))
                .is_ok_and(|c| c.trim() == "sleep")
                && std::fs::read_link(format!("/proc/{pid}/ns/uts")).ok()
                    != std::fs::read_link("/proc/self/ns/uts").ok()
            {
                return r;
            }
            std::thread::sleep(std::time::Duration::from_millis(10));
        }
        skip("unshare never exec'd sleep");
    };
    let unshare = which("unshare").expect("unshare");
    let told = if Path::new("/bin/bash").exists() {
        // bash execs the one command of -c in its own process: unshare, then sleep.
        start(Command::new("/bin/bash").args(["-c", "unshare --uts --ipc sleep 100"]))
    } else {
        // No bash (the VM's busybox): the environment bash would have given it.
        start(
            Command::new(&unshare)
                .args(["--uts", "--ipc", "sleep", "100"])
                .env("_", &unshare),
        )
    };
    let silent = start(
        Command::new(&unshare)
            .args(["--uts", "--ipc", "sleep", "100"])
            .env_remove("_"),
    );
    let list = explore_json(&[]);
    let maker_of = |pid: u32| {
        list["containers"]
            .as_array()
            .expect("containers")
            .iter()
            .find(|c| c["pid"].as_u64() == Some(pid as u64))
            .unwrap_or_else(|| panic!("{pid} not in {list}"))["maker"]
            .clone()
    };
    assert_eq!(maker_of(told.0.id()), "Unshare");
    assert_eq!(maker_of(silent.0.id()), "Unknown");
    let v = explore_json(&[&told.0.id().to_string()]);
    assert_eq!(v["maker"], "unshare");
    assert_eq!(v["command"], "sleep 100");
}

/// What `--compare` says when an exit signal stops it.
const STOPPED: &str = "received while the container to compare with was made: it was removed";

/// Whatever moment Ctrl-C (SIGINT), SIGTERM or SIGHUP reaches `explore --compare`
/// while it makes its own container, it removes that container and exits 128+signal:
/// no cgroup, nothing under /run/underhood, no mount, no process of ours is left.
/// After each step in turn (`UNDERHOOD_FAULT=<signal>:N` sends the signal to itself
/// right after step N, as from outside; the three signals taken in turn), then a real
/// SIGINT from here, sent as soon as it says it is making the container.
fn root_compare_stopped_by_a_signal_at_any_moment_leaves_nothing() {
    use nix::sys::signal::{Signal, kill};
    use std::io::BufRead;
    let peer = unshare_container();
    let peer_pid = peer.0.id() as i32;
    let arg = peer_pid.to_string();
    let me = std::process::id() as i32;
    let peer_procs = || -> Vec<i32> {
        let mut v = vec![peer_pid];
        v.extend(common::descendants_of(peer_pid).iter().map(|d| d.0));
        v
    };
    let ours_before = common::live_underhood_processes();
    // Nothing of the run is left: residue, a session dir, a process below us but the peer.
    let nothing_left =
        |what: &str, ids: &std::collections::BTreeSet<String>, before: &common::Residue| {
            common::assert_no_residue_of_ours(before);
            let new: Vec<String> = common::session_ids().difference(ids).cloned().collect();
            assert!(new.is_empty(), "{what}: session dirs left: {new:?}");
            let peer = peer_procs();
            let left: Vec<_> = common::descendants_of(me)
                .into_iter()
                .filter(|(p, _, state)| !peer.contains(p) && *state != 'Z')
                .collect();
            assert!(left.is_empty(), "{what}: processes left: {left:?}");
            let ours = common::live_underhood_processes();
            assert!(ours.is_subset(&ours_before), "{what}: {ours:?}");
        };
    let signals = [
        ("term", Signal::SIGTERM),
        ("hup", Signal::SIGHUP),
        ("int", Signal::SIGINT),
    ];
    let mut stopped = 0;
    for n in 1.. {
        let (fault, sig) = signals[(n - 1) % signals.len()];
        let before = residue();
        let ids = common::session_ids();
        let spec = format!("{fault}:{n}");
        let o = common::underhood_env(
            &["explore", "--compare", &arg, "--json"],
            &[("UNDERHOOD_FAULT", &spec)],
        );
        let err = common::stderr(&o);
        nothing_left(&spec, &ids, &before);
        if o.status.code() == Some(0) {
            // Past the last step: the signal never came, the comparison was printed.
            assert!(n > 3, "only {} steps? {err}", n - 1);
            assert!(stdout(&o).contains("\"rows\""), "{spec}: {}", stdout(&o));
            break;
        }
        assert_eq!(o.status.code(), Some(128 + sig as i32), "{spec}: {err}");
        assert!(err.contains(STOPPED), "{spec}: {err}");
        stopped += 1;
    }
    // A real SIGINT from outside, as soon as it says it is making the container.
    let before = residue();
    let ids = common::session_ids();
    let mut child = Command::new(common::BIN)
        .args(["explore", "--compare", &arg, "--json"])
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("underhood explore --compare");
    let mut err = String::new();
    let mut lines = std::io::BufReader::new(child.stderr.take().expect("stderr")).lines();
    for line in lines.by_ref() {
        let line = line.expect("stderr line");
        err.push_str(&line);
        err.push('\n');
        if line.contains("making a container of ours") {
            kill(
                nix::unistd::Pid::from_raw(child.id() as i32),
                Signal::SIGINT,
            )
            .expect("kill");
            break;
        }
    }
    for line in lines {
        err.push_str(&line.unwrap_or_default());
        err.push('\n');
    }
    let status = child.wait().expect("wait");
    nothing_left("SIGINT from outside", &ids, &before);
    assert_eq!(status.code(), Some(130), "{err}");
    assert!(err.contains(STOPPED), "{err}");
    eprintln!(
        "explore --compare: stopped after each of {stopped} steps and by a SIGINT from outside; nothing left"
    );
    drop(peer);
}

fn root_explore_one_of_ours() {
    let before = residue();
    {
        let c = Running::start(&["--memory", "64M"], &[], "echo ready; exec sleep 100");
        let list = explore_json(&[]);
        let ours: Vec<Value> = list["containers"]
            .as_array()
            .expect("containers")
            .iter()
            .filter(|k| k["maker"]["Underhood"]["session"] == c.id.as_str())
            .cloned()
            .collect();
        assert_eq!(ours.len(), 1, "session {} in {list}", c.id);
        let pid = ours[0]["pid"].as_i64().expect("pid") as i32;
        let v = explore_json(&[&pid.to_string()]);
        assert_eq!(v["maker"], format!("underhood {}", c.id));
        same_as_the_tools(&v, pid);
        let limit = v["snapshot"]["memory"]["limit"].as_u64().expect("a limit");
        assert_eq!(limit, LIMIT);
        let file: u64 = c
            .cgroup_file(&["memory.limit_in_bytes", "memory.max"])
            .expect("limit file")
            .parse()
            .expect("number");
        assert_eq!(limit, file);
        c.stop();
    }
    assert_no_residue(&before);
}
