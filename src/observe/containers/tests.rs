use super::*;

/// The host's namespaces on the development machine (`ls -l /proc/self/ns`, Linux 6.18).
fn host_set() -> NsSet {
    set(&[
        (Ns::Cgroup, 4026531835),
        (Ns::Ipc, 4026531839),
        (Ns::Mount, 4026531832),
        (Ns::Net, 4026531833),
        (Ns::Pid, 4026531836),
        (Ns::Time, 4026531834),
        (Ns::User, 4026531837),
        (Ns::Uts, 4026531838),
    ])
}

fn set(pairs: &[(Ns, u64)]) -> NsSet {
    NsSet {
        inodes: pairs.iter().copied().collect(),
    }
}

/// The host set with some kinds replaced.
fn with(changes: &[(Ns, u64)]) -> NsSet {
    let mut s = host_set();
    for &(k, i) in changes {
        s.inodes.insert(k, i);
    }
    s
}

fn entry(pid: i32, ppid: i32, start: u64, comm: &str, argv: &[&str], ns: NsSet) -> ProcEntry {
    ProcEntry {
        pid,
        ppid,
        comm: comm.to_string(),
        start_time: start,
        cmdline: (!argv.is_empty()).then(|| argv.iter().map(|a| a.to_string()).collect()),
        ns,
        cgroup: parse_proc_cgroup("0::/\n"),
    }
}

/// A host with: a shell, an `unshare --uts --ipc --mount --pid --fork sh` (unshare and its
/// PID 1 child), a runc container (runc run and its init), one of ours (controller, shim,
/// PID 1), a docker container under its shim, and a process unreadable to us.
fn host() -> Vec<ProcEntry> {
    let uts_ipc_mnt = [
        (Ns::Uts, 4026532201),
        (Ns::Ipc, 4026532202),
        (Ns::Mount, 4026532200),
    ];
    let mut unshared_child = uts_ipc_mnt.to_vec();
    unshared_child.push((Ns::Pid, 4026532203));
    let runc = [
        (Ns::Uts, 4026532301),
        (Ns::Ipc, 4026532302),
        (Ns::Mount, 4026532300),
        (Ns::Pid, 4026532303),
        (Ns::Net, 4026532305),
    ];
    let ours_shim = [(Ns::Uts, 4026532401), (Ns::Mount, 4026532400)];
    let mut ours_pid1 = ours_shim.to_vec();
    ours_pid1.push((Ns::Pid, 4026532403));
    let mut docker = vec![
        entry(
            900,
            1,
            500,
            "containerd-shim",
            &["/usr/bin/containerd-shim-runc-v2"],
            host_set(),
        ),
        entry(
            901,
            900,
            510,
            "nginx",
            &["nginx", "-g", "daemon off;"],
            with(&runc.map(|(k, i)| (k, i + 1000))),
        ),
    ];
    docker[1].cgroup = parse_proc_cgroup(
        "12:memory:/docker/3f2a9c1b7e44d1c0a9b8e7f6d5c4b3a291807f6e5d4c3b2a1908f7e6d5c4b3a2\n0::/\n",
    );
    let mut ours = vec![
        entry(
            700,
            100,
            300,
            "underhood",
            &["underhood", "lessons", "run"],
            host_set(),
        ),
        entry(
            701,
            700,
            301,
            "underhood",
            &["underhood", "__subject"],
            with(&ours_shim),
        ),
        entry(702, 701, 302, "sh", &["/bin/sh"], with(&ours_pid1)),
    ];
    ours[2].cgroup = parse_proc_cgroup("4:memory:/underhood-1a2b3c4d\n0::/\n");
    let mut all = vec![
        entry(1, 0, 1, "init", &["/sbin/init"], host_set()),
        entry(100, 1, 10, "bash", &["-bash"], host_set()),
        entry(
            200,
            100,
            100,
            "unshare",
            &[
                "unshare", "--uts", "--ipc", "--mount", "--pid", "--fork", "sh",
            ],
            with(&uts_ipc_mnt),
        ),
        entry(201, 200, 101, "sh", &["sh"], with(&unshared_child)),
        entry(300, 100, 200, "runc", &["runc", "run", "demo"], host_set()),
        entry(301, 300, 201, "sh", &["sh"], with(&runc)),
        entry(302, 301, 202, "sleep", &["sleep", "1000"], with(&runc)),
        entry(400, 1, 5, "sshd", &[], NsSet::default()),
    ];
    all.extend(ours);
    all.extend(docker);
    all
}

fn states() -> Vec<RuntimeState> {
    vec![
        RuntimeState {
            maker: Maker::Runc { id: "demo".into() },
            pid: 301,
            start_time: Some(201),
        },
        RuntimeState {
            maker: Maker::Underhood {
                session: "1a2b3c4d".into(),
            },
            pid: 701,
            start_time: Some(301),
        },
    ]
}

#[test]
fn first_processes_are_where_the_namespaces_change() {
    let all = host();
    let firsts: Vec<i32> = first_processes(&all, &Reference::new(1, host_set()))
        .iter()
        .map(|e| e.pid)
        .collect();
    // unshare (not its child), runc's init (not sleep), our shim (not its PID 1), nginx.
    assert_eq!(firsts, vec![200, 301, 701, 901]);
}

#[test]
fn the_rule_needs_a_readable_parent_on_the_host_side() {
    let all = vec![
        entry(1, 0, 1, "init", &[], host_set()),
        entry(5, 4, 2, "orphan", &[], with(&[(Ns::Uts, 9)])),
        entry(6, 7, 2, "lost", &[], with(&[(Ns::Uts, 9)])),
        entry(7, 1, 1, "hidden", &[], NsSet::default()),
    ];
    assert!(first_processes(&all, &Reference::new(1, host_set())).is_empty());
}

#[test]
fn unknown_kinds_are_not_differences() {
    let mut old_kernel = host_set();
    old_kernel.inodes.remove(&Ns::Time);
    let mut inside = with(&[(Ns::Time, 77)]);
    assert!(inside.differs_from(&old_kernel).is_empty());
    inside.inodes.insert(Ns::Uts, 78);
    assert_eq!(inside.differs_from(&old_kernel), vec![Ns::Uts]);
}

#[test]
fn makers_are_told_apart() {
    let all = host();
    let found = containers(&all, &Reference::new(1, host_set()), &states(), "underhood");
    let makers: Vec<(i32, String)> = found.iter().map(|c| (c.pid, c.maker.label())).collect();
    assert_eq!(
        makers,
        vec![
            (200, "unshare".to_string()),
            (301, "runc demo".to_string()),
            (701, "underhood 1a2b3c4d".to_string()),
            (901, "docker 3f2a9c1b7e44".to_string()),
        ]
    );
    let runc = &found[1];
    assert_eq!(runc.command, "sh");
    assert_eq!(
        runc.isolated,
        vec![Ns::Ipc, Ns::Mount, Ns::Net, Ns::Pid, Ns::Uts]
    );
}

#[test]
fn a_reused_pid_is_not_the_recorded_container() {
    let all = host();
    let mut stale = states();
    stale[0].start_time = Some(9999);
    let found = containers(&all, &Reference::new(1, host_set()), &stale, "underhood");
    let runc = found
        .iter()
        .find(|c| c.pid == 301)
        .expect("still a container");
    assert_eq!(runc.maker, Maker::Unknown);
}

#[test]
fn cgroup_names_of_the_engines() {
    let ours = "underhood";
    let cases = [
        ("/docker/3f2a9c1b7e44d1c0", Some("docker 3f2a9c1b7e44")),
        (
            "/system.slice/docker-3f2a9c1b7e44d1c0.scope",
            Some("docker 3f2a9c1b7e44"),
        ),
        (
            "/machine.slice/libpod-8d1e0b2c3a4f.scope/container",
            Some("podman 8d1e0b2c3a4f"),
        ),
        (
            "/user.slice/user-1000.slice/user@1000.service/user.slice/libpod-5e6f.scope",
            Some("podman 5e6f"),
        ),
        (
            "/system.slice/cri-containerd-abc123.scope",
            Some("containerd abc123"),
        ),
        ("/default/redis", None),
        ("/containerd/default/redis", Some("containerd redis")),
        (
            "/kubepods.slice/kubepods-besteffort.slice/kubepods-besteffort-pod12.slice/cri-containerd-77.scope",
            Some("containerd 77"),
        ),
        ("/kubepods/burstable/pod12/4f5e", Some("kubernetes 4f5e")),
        ("/underhood-1a2b3c4d", Some("underhood 1a2b3c4d")),
        ("/underhood-1a2b3c4d/inner", Some("underhood 1a2b3c4d")),
        // Not a session id of ours: a runc container someone named so.
        ("/underhood-explore-test-42", None),
        ("/process_api/67b2430af247c19ec0579193c692eb0c", None),
        ("/", None),
        ("/docker", None),
    ];
    for (path, want) in cases {
        assert_eq!(
            maker_from_cgroup(path, ours).map(|m| m.label()).as_deref(),
            want,
            "{path}"
        );
    }
}

#[test]
fn parses_proc_cgroup_of_a_hybrid_host() {
    // /proc/self/cgroup on the development machine (hybrid: v1 controllers, v2 with none).
    let text = "9:name=systemd:/\n8:pids:/\n4:memory:/process_api/67b2430af247c19ec0579193c692eb0c\n0::/\nnot a line\n";
    let lines = parse_proc_cgroup(text);
    assert_eq!(lines.len(), 4);
    assert_eq!(lines[2].hierarchy, 4);
    assert_eq!(lines[2].controllers, "memory");
    assert_eq!(
        lines[2].path,
        "/process_api/67b2430af247c19ec0579193c692eb0c"
    );
    assert_eq!(lines[3].controllers, "");
}

#[test]
fn parses_the_runtimes_state_files() {
    // Trimmed from `runc run -d demo`'s /run/runc/demo/state.json (runc 1.1.5).
    let runc = r#"{"id":"demo","init_process_pid":4242,"init_process_start":987654,"created":"2026-12-07T18:00:00.0Z","config":{"rootfs":"/tmp/b/rootfs"}}"#;
    assert_eq!(parse_runc_state(runc), Some((4242, Some(987654))));
    assert_eq!(parse_runc_state(r#"{"id":"x"}"#), None);
    assert_eq!(parse_runc_state("not json"), None);
    // crun's /run/crun/<id>/status.
    let crun = r#"{"pid":5151,"process-start-time":123,"cgroup-path":"/sys/fs/cgroup/x","rootfs":"/r","systemd-cgroup":false,"bundle":"/b","created":"2026-12-07T18:00:00Z","owner":"root","detached":true}"#;
    assert_eq!(parse_crun_status(crun), Some(5151));
    let ours = r#"{"version":1,"session_id":"1a2b3c4d","controller":{"pid":700,"start_time":300},"subjects":[{"pid":701,"start_time":301},{"pid":702,"start_time":302}],"cgroup_name":"underhood-1a2b3c4d","cgroups":[],"veths":[]}"#;
    assert_eq!(
        parse_ours_state(ours),
        Some(("1a2b3c4d".to_string(), vec![(701, 301), (702, 302)]))
    );
}

#[test]
fn runtime_states_reads_the_state_directories() {
    let dir = tempfile::tempdir().expect("tempdir");
    let root = dir.path();
    let write = |rel: &str, text: &str| {
        let p = root.join(rel);
        std::fs::create_dir_all(p.parent().expect("parent")).expect("mkdir");
        std::fs::write(p, text).expect("write");
    };
    write(
        "runc/demo/state.json",
        r#"{"init_process_pid":301,"init_process_start":201}"#,
    );
    write("runc/broken/state.json", "{");
    write("crun/web/status", r#"{"pid":55}"#);
    write(
        "underhood/1a2b3c4d/state.json",
        r#"{"session_id":"1a2b3c4d","subjects":[{"pid":701,"start_time":301}]}"#,
    );
    let sources = Sources {
        runc_roots: vec![root.join("runc"), root.join("missing")],
        crun_roots: vec![root.join("crun")],
        ours_state_dir: root.join("underhood"),
        ours_prefix: "underhood".into(),
    };
    let mut got: Vec<(String, i32)> = runtime_states(&sources)
        .into_iter()
        .map(|s| (s.maker.label(), s.pid))
        .collect();
    got.sort();
    assert_eq!(
        got,
        vec![
            ("crun web".to_string(), 55),
            ("runc demo".to_string(), 301),
            ("underhood 1a2b3c4d".to_string(), 701),
        ]
    );
}

#[test]
fn newest_container_below_a_shell() {
    let all = host();
    let found = containers(&all, &Reference::new(1, host_set()), &states(), "underhood");
    // Below the shell 100: unshare (started at 100), runc (201), ours (301, its controller
    // 700 is the shell's child too): ours is the newest.
    assert_eq!(newest_under(&found, &all, 100).map(|c| c.pid), Some(701));
    assert_eq!(newest_under(&found, &all, 300).map(|c| c.pid), Some(301));
    assert_eq!(newest_under(&found, &all, 900).map(|c| c.pid), Some(901));
    assert_eq!(newest_under(&found, &all, 400), None);
    assert!(is_under(&all, 302, 100));
    assert!(!is_under(&all, 302, 200));
}

/// A proc root laid out in a tempdir: `stat`, `cmdline`, `cgroup` and `ns/*` symlinks whose
/// targets read like the kernel's (`uts:[4026531838]`).
fn fake_proc(root: &Path, pid: i32, ppid: i32, comm: &str, ns: &NsSet) {
    let dir = root.join(pid.to_string());
    std::fs::create_dir_all(dir.join("ns")).expect("mkdir");
    let stat = format!(
        "{pid} ({comm}) S {ppid} {pid} {pid} 0 -1 4194560 100 0 0 0 0 0 0 0 20 0 1 0 {} 2000000 200 18446744073709551615 0 0 0 0 0 0 0 0 0 0 0 0 17 0 0 0 0 0 0 0 0 0 0 0 0 0 0\n",
        1000 + pid
    );
    std::fs::write(dir.join("stat"), stat).expect("stat");
    std::fs::write(dir.join("cmdline"), format!("{comm}\0")).expect("cmdline");
    std::fs::write(dir.join("cgroup"), "0::/\n").expect("cgroup");
    for (kind, inode) in &ns.inodes {
        std::os::unix::fs::symlink(
            format!("{}:[{inode}]", kind.proc_file()),
            dir.join("ns").join(kind.proc_file()),
        )
        .expect("symlink");
    }
}

#[test]
fn scan_reads_a_fixture_proc_root() {
    let dir = tempfile::tempdir().expect("tempdir");
    let root = dir.path();
    fake_proc(root, 1, 0, "init", &host_set());
    fake_proc(root, 10, 1, "unshare", &with(&[(Ns::Uts, 4026532201)]));
    fake_proc(root, 11, 10, "sh", &with(&[(Ns::Uts, 4026532201)]));
    fake_proc(root, 12, 1, "secret", &NsSet::default());
    std::fs::create_dir_all(root.join("self")).expect("not a pid");
    let s = scan(root).expect("scan");
    assert_eq!(
        s.entries.iter().map(|e| e.pid).collect::<Vec<_>>(),
        vec![1, 10, 11, 12]
    );
    assert_eq!(s.entries[1].start_time, 1010);
    assert_eq!(s.entries[1].command(), "unshare");
    assert_eq!(s.unreadable.len(), 1);
    assert_eq!(s.unreadable[0].0, 12);
    assert!(s.unreadable[0].1.contains("ENOENT"), "{:?}", s.unreadable);
    let reference = reference_set(root, 1).expect("pid 1");
    let found = containers(&s.entries, &Reference::new(1, reference), &[], "underhood");
    assert_eq!(found.len(), 1);
    assert_eq!((found[0].pid, found[0].maker.clone()), (10, Maker::Unshare));
    assert_eq!(found[0].isolated, vec![Ns::Uts]);
    let err = reference_set(root, 12).expect_err("no links");
    assert!(format!("{err:#}").contains("pid 12"), "{err:#}");
}

#[test]
fn an_unshare_without_fork_is_told_by_the_environment_bash_gave_it() {
    // Pasted from /proc/<pid>/environ of `sleep` after bash ran `unshare --uts sleep 5`.
    let bash = b"SHELL=/bin/bash\0PWD=/tmp\0_=/usr/bin/unshare\0";
    assert_eq!(ran_by_shell(bash), Some("/usr/bin/unshare"));
    assert_eq!(maker_from_environ(bash), Some(Maker::Unshare));
    // dash sets no `_`: the one inherited names what ran dash, not unshare.
    let dash = b"PWD=/tmp\0_=/usr/bin/sh\0";
    assert_eq!(maker_from_environ(dash), None);
    assert_eq!(maker_from_environ(b"PWD=/tmp\0"), None);
    // `_unshare=` or a path merely ending in "unshare" is not it.
    assert_eq!(maker_from_environ(b"X_=/usr/bin/unshare\0"), None);
    assert_eq!(maker_from_environ(b"_=/opt/myunshare\0"), None);

    // The listing: the first process is `sleep` (unshare exec'd it), its parent a shell.
    let dir = tempfile::tempdir().expect("tempdir");
    let root = dir.path();
    fake_proc(root, 1, 0, "init", &host_set());
    fake_proc(root, 5, 1, "bash", &host_set());
    fake_proc(root, 20, 5, "sleep", &with(&[(Ns::Uts, 4026532201)]));
    fake_proc(root, 30, 5, "sleep", &with(&[(Ns::Uts, 4026532202)]));
    std::fs::write(root.join("20/environ"), bash).expect("environ");
    std::fs::write(root.join("30/environ"), dash).expect("environ");
    let sources = Sources {
        runc_roots: Vec::new(),
        crun_roots: Vec::new(),
        ours_state_dir: root.join("no-state"),
        ours_prefix: "underhood".into(),
    };
    let reference = Reference::new(1, reference_set(root, 1).expect("pid 1"));
    let l = list_against(root, &sources, reference).expect("list");
    let makers: Vec<(i32, Maker)> = l
        .containers
        .iter()
        .map(|c| (c.pid, c.maker.clone()))
        .collect();
    assert_eq!(makers, vec![(20, Maker::Unshare), (30, Maker::Unknown)]);
}

#[test]
fn lists_the_live_host_without_failing() {
    let sources = Sources::host(Path::new("/nonexistent-underhood-state"), "underhood");
    let l = list(Path::new("/proc"), &sources).expect("list");
    assert!(l.entries.iter().any(|e| e.pid == std::process::id() as i32));
    // This test process is in the reference's namespaces, so it is no container.
    assert!(l.reference.pid == 1 || l.reference_note.is_some());
    assert!(
        !l.containers
            .iter()
            .any(|c| c.pid == std::process::id() as i32)
    );
}

#[test]
fn an_unreadable_pid_1_is_still_the_host_side() {
    // `runc run -d`: runc exits and the container's init is reparented to PID 1, whose
    // links root may not read (this VM's PID 1 holds a capability root here lacks).
    let all = vec![
        entry(1, 0, 1, "init", &[], NsSet::default()),
        entry(50, 1, 2, "bash", &[], host_set()),
        entry(
            60,
            1,
            3,
            "sh",
            &["sh"],
            with(&[(Ns::Uts, 9), (Ns::Pid, 10)]),
        ),
    ];
    let firsts: Vec<i32> = first_processes(&all, &Reference::new(50, host_set()))
        .iter()
        .map(|e| e.pid)
        .collect();
    assert_eq!(firsts, vec![60]);
}

#[test]
fn kernel_threads_are_told_by_their_flags() {
    // /proc/27/stat (kdevtmpfs, in a mount namespace of its own) and /proc/self/stat.
    let kthread = "27 (kdevtmpfs) S 2 0 0 0 -1 2130240 0 0 0 0 0 0 0 0 20 0 1 0 25 0 0 18446744073709551615 0 0 0 0 0 0 0 2147483647 0 1 0 0 17 1 0 0 0 0 0 0 0 0 0 0 0 0 0";
    let shell = "11833 (cat) R 100 11833 100 34816 11833 4194304 92 0 0 0 0 0 0 0 20 0 1 0 1004000 5459968 224 18446744073709551615 1 1 0 0 0 0 0 0 0 0 0 0 17 0 0 0 0 0 0 0 0 0 0 0 0 0 0";
    assert!(is_kernel_thread(kthread));
    assert!(!is_kernel_thread(shell));
    assert!(!is_kernel_thread("garbage"));
}
