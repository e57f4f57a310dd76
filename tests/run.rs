//! Root integration tests of `underhood run`: each really launches a container on
//! this kernel and checks the host is left as it was. Not as root, each is reported ignored
//! (`common::root_trial`), never as passed.

mod common;

use std::process::Command;
use std::time::Duration;

use common::*;

fn main() -> std::process::ExitCode {
    run(root_trials![
        root_pid1_is_our_init_and_the_command_runs_under_it,
        root_every_namespace_differs_and_shared_ones_do_not,
        root_hostname_is_isolated,
        root_after_pivot_root_the_host_mounts_are_gone,
        root_chroot_can_be_escaped_and_pivot_root_cannot,
        root_exit_status_is_passed_through,
        root_missing_command_is_127_with_a_clear_error,
        root_limits_are_written_and_sigterm_cleans_up,
        root_sigint_reaches_the_command_and_cleans_up,
        root_sigkill_of_the_controller_takes_the_container_down,
        root_hog_is_oom_killed_and_reported,
        root_user_namespace_maps_root_to_an_unprivileged_uid,
        root_user_namespace_reports_root_inside,
        root_veth_connects_the_container_to_the_host,
        root_mounts_inside_never_reach_a_shared_host_root
    ])
}

fn ns_inode(path: &str) -> String {
    std::fs::read_link(path)
        .map(|p| p.display().to_string())
        .unwrap_or_default()
}

fn root_pid1_is_our_init_and_the_command_runs_under_it() {
    let before = residue();
    let o = underhood(&[
        "run",
        "--",
        "/bin/sh",
        "-c",
        "echo $$; cat /proc/1/comm; ls /proc",
    ]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let out = stdout(&o);
    let mut lines = out.lines();
    assert_eq!(lines.next(), Some("2"), "the command is PID 2: {out}");
    assert_eq!(lines.next(), Some("underhood-init"), "{out}");
    // Only the container's processes are in its /proc: 1, 2 and ls itself.
    let pids: Vec<u32> = out.lines().filter_map(|l| l.parse().ok()).collect();
    assert!(pids.iter().all(|p| *p < 10), "host pids visible: {pids:?}");
    assert_no_residue(&before);
}

fn root_every_namespace_differs_and_shared_ones_do_not() {
    let before = residue();
    let kinds = ["uts", "ipc", "net", "mnt", "cgroup", "time", "pid"];
    let script = kinds
        .iter()
        .map(|k| format!("readlink /proc/self/ns/{k}"))
        .collect::<Vec<_>>()
        .join("; ");
    let o = underhood(&["run", "--share", "net", "--", "/bin/sh", "-c", &script]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let out = stdout(&o);
    let inside: Vec<&str> = out.lines().collect();
    assert_eq!(inside.len(), kinds.len(), "{out}");
    for (k, link) in kinds.iter().zip(inside) {
        let host = ns_inode(&format!("/proc/self/ns/{k}"));
        if *k == "net" {
            assert_eq!(link, host, "shared net namespace must be the host's");
        } else {
            assert_ne!(link, host, "{k} namespace not separate");
        }
    }
    // The user namespace is not added for root unless asked.
    assert_no_residue(&before);
}

fn root_hostname_is_isolated() {
    let host = nix::unistd::gethostname().unwrap();
    let o = underhood(&["run", "--hostname", "inside-box", "--", "hostname"]);
    assert_eq!(stdout(&o).trim(), "inside-box", "{}", stderr(&o));
    assert_eq!(nix::unistd::gethostname().unwrap(), host);
}

fn mount_points(mountinfo: &str) -> Vec<String> {
    mountinfo
        .lines()
        .filter_map(|l| l.split_whitespace().nth(4).map(str::to_string))
        .collect()
}

fn root_after_pivot_root_the_host_mounts_are_gone() {
    let before = residue();
    let o = underhood(&["run", "--", "cat", "/proc/self/mountinfo"]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let points = mount_points(&stdout(&o));
    let allowed = |p: &str| {
        p == "/"
            || p == "/proc"
            // Read-only and masked host-wide proc files (runc's readonly/masked paths).
            || p.starts_with("/proc/")
            || p == "/tmp"
            || p == "/dev"
            || p.starts_with("/dev/")
    };
    assert!(
        points.iter().all(|p| allowed(p)),
        "host mounts visible: {points:?}"
    );
    assert!(points.contains(&"/proc".to_string()));
    assert_no_residue(&before);
}

fn root_chroot_can_be_escaped_and_pivot_root_cannot() {
    let before = residue();
    // Our state directory exists only on the host: seeing it means being out.
    let probe = ["underhood", "chroot-escape", "ls", "/run/underhood"];
    let mut args = vec!["run", "--chroot", "--"];
    args.extend_from_slice(&probe);
    let o = underhood(&args);
    assert_eq!(
        o.status.code(),
        Some(0),
        "escape from chroot failed: {}",
        stderr(&o)
    );
    assert!(
        !stdout(&o).trim().is_empty(),
        "the host's /run/underhood was empty"
    );
    let mut args = vec!["run", "--"];
    args.extend_from_slice(&probe);
    let o = underhood(&args);
    assert_ne!(
        o.status.code(),
        Some(0),
        "escaped after pivot_root: {}",
        stdout(&o)
    );
    assert_no_residue(&before);
}

fn root_exit_status_is_passed_through() {
    let o = underhood(&["run", "--", "/bin/sh", "-c", "exit 7"]);
    assert_eq!(o.status.code(), Some(7));
    let o = underhood(&["run", "--", "/bin/sh", "-c", "kill -TERM $$"]);
    assert_eq!(o.status.code(), Some(143), "128 + SIGTERM");
}

fn root_missing_command_is_127_with_a_clear_error() {
    let before = residue();
    let o = underhood(&["run", "--", "no-such-program"]);
    assert_eq!(o.status.code(), Some(127));
    let e = stderr(&o);
    assert!(e.contains("no-such-program") && e.contains("ENOENT"), "{e}");
    assert_no_residue(&before);
}

fn our_cgroup_file(controller_dir: &str, file: &str) -> Option<String> {
    for e in std::fs::read_dir(controller_dir).ok()?.flatten() {
        let name = e.file_name().to_string_lossy().into_owned();
        if name.starts_with("underhood-") {
            return std::fs::read_to_string(e.path().join(file)).ok();
        }
    }
    None
}

fn memory_limit_file() -> (&'static str, &'static str) {
    if std::path::Path::new("/sys/fs/cgroup/cgroup.controllers").exists()
        && std::fs::read_to_string("/sys/fs/cgroup/cgroup.controllers")
            .unwrap_or_default()
            .contains("memory")
    {
        ("/sys/fs/cgroup", "memory.max")
    } else {
        ("/sys/fs/cgroup/memory", "memory.limit_in_bytes")
    }
}

fn root_limits_are_written_and_sigterm_cleans_up() {
    let before = residue();
    let r = Running::start(
        &["--memory", "32M", "--pids", "20"],
        &[],
        "echo ready; exec sleep 60",
    );
    let (dir, file) = memory_limit_file();
    let limit = our_cgroup_file(dir, file);
    let status = r.signal(nix::sys::signal::Signal::SIGTERM);
    assert_eq!(
        limit.as_deref().map(str::trim),
        Some("33554432"),
        "{dir}/underhood-*/{file}"
    );
    assert_eq!(status.code(), Some(143));
    assert_no_residue(&before);
}

fn root_sigint_reaches_the_command_and_cleans_up() {
    let before = residue();
    let r = Running::start(&[], &[], "echo ready; exec sleep 60");
    assert_eq!(r.signal(nix::sys::signal::Signal::SIGINT).code(), Some(130));
    assert_no_residue(&before);
}

fn root_sigkill_of_the_controller_takes_the_container_down() {
    let before = residue();
    let mut r = Running::start(&["--memory", "64M"], &[], "echo ready; exec sleep 60");
    r.child.kill().unwrap();
    r.child.wait().unwrap();
    // The subject dies with its controller (PR_SET_PDEATHSIG); what it recorded is
    // removed by the next cleanup.
    let o = underhood(&["cleanup"]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert_no_residue(&before);
}

fn root_hog_is_oom_killed_and_reported() {
    let before = residue();
    let o = underhood(&["run", "--memory", "32M", "--", "hog", "--rate", "64M"]);
    let e = stderr(&o);
    assert_eq!(o.status.code(), Some(137), "{e}");
    assert!(e.contains("OOM-killed: memory limit 32 MiB reached"), "{e}");
    assert!(stdout(&o).contains("allocated"), "hog printed no progress");
    assert_no_residue(&before);
}

fn root_user_namespace_maps_root_to_an_unprivileged_uid() {
    let before = residue();
    let mut r = Running::start(&["--userns"], &[], "echo ready; exec sleep 60");
    // `ready` comes just before the exec: give sh a moment to become sleep.
    std::thread::sleep(Duration::from_millis(300));
    // On the host, the container's processes run as the mapped uid: find the
    // command (sleep) under our init and read its real uid as the host sees it.
    // Only the processes under our own `run` (other containers may be running).
    let mut host_uids = Vec::new();
    let nodes = underhood::observe::ptree::tree(std::path::Path::new("/proc"), r.child.id() as i32)
        .unwrap();
    for n in nodes {
        if n.proc.comm == "sleep" {
            host_uids.extend(n.proc.status.uid.map(|u| u[0]));
        }
    }
    r.child.kill().unwrap();
    r.child.wait().unwrap();
    assert_eq!(host_uids, vec![100000], "host uids of the sleep inside");
    let _ = underhood(&["cleanup"]);
    assert_no_residue(&before);
}

fn root_user_namespace_reports_root_inside() {
    let o = underhood(&[
        "run",
        "--userns",
        "--",
        "/bin/sh",
        "-c",
        "id -u; cat /proc/self/uid_map",
    ]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let out = stdout(&o);
    let mut lines = out.lines();
    assert_eq!(lines.next(), Some("0"));
    let map: Vec<&str> = lines.next().unwrap_or("").split_whitespace().collect();
    assert_eq!(map, ["0", "100000", "65536"], "{out}");
}

fn root_veth_connects_the_container_to_the_host() {
    let before = residue();
    let o = underhood(&[
        "run",
        "--net",
        "veth",
        "--",
        "cat",
        "/proc/net/dev",
        "/proc/net/route",
    ]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let out = stdout(&o);
    assert!(out.contains("eth0:"), "{out}");
    assert!(out.contains("lo:"), "{out}");
    // A default route (destination 00000000) through eth0.
    assert!(
        out.lines().any(|l| l.starts_with("eth0\t00000000")),
        "{out}"
    );
    assert_no_residue(&before);
}

fn root_mounts_inside_never_reach_a_shared_host_root() {
    // A throwaway mount namespace whose / is rshared, as on a systemd host: the real
    // host's propagation is never changed.
    let script = format!(
        "{BIN} run -- /bin/sh -c 'echo ready; sleep 2' > /dev/null & \
         sleep 1; cat /proc/self/mountinfo; wait"
    );
    let o = Command::new("unshare")
        .args(["--mount", "--propagation", "shared", "sh", "-c", &script])
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", stderr(&o));
    let table = stdout(&o);
    assert!(table.contains(" / / "), "no mount table read: {table}");
    for l in table.lines() {
        assert!(!l.contains("overlay"), "a container mount leaked: {l}");
        assert!(
            !l.contains("/run/underhood/"),
            "a container mount leaked: {l}"
        );
    }
}
