use super::*;
use std::path::PathBuf;
use std::time::Duration;

/// `cat /proc/self/status` on the development machine: root, no namespaces of its own.
/// Note CapEff lacks bit 24 (cap_sys_resource): the sandbox drops it.
const SELF_STATUS: &str = "Name:\tcat
Umask:\t0022
State:\tR (running)
Tgid:\t5712
Ngid:\t0
Pid:\t5712
PPid:\t5710
TracerPid:\t0
Uid:\t0\t0\t0\t0
Gid:\t0\t0\t0\t0
FDSize:\t256
Groups:\t 
NStgid:\t5712
NSpid:\t5712
NSpgid:\t5710
NSsid:\t4600
Kthread:\t0
VmPeak:\t    3060 kB
VmSize:\t    3060 kB
VmLck:\t       0 kB
VmPin:\t       0 kB
VmHWM:\t    1736 kB
VmRSS:\t    1736 kB
RssAnon:\t     112 kB
RssFile:\t    1624 kB
RssShmem:\t       0 kB
VmData:\t     360 kB
VmStk:\t     132 kB
VmExe:\t      20 kB
VmLib:\t    1528 kB
VmPTE:\t      48 kB
VmSwap:\t       0 kB
HugetlbPages:\t       0 kB
CoreDumping:\t0
THP_enabled:\t1
untag_mask:\t0xffffffffffffffff
Threads:\t1
SigQ:\t0/96364
SigPnd:\t0000000000000000
ShdPnd:\t0000000000000000
SigBlk:\t0000000000000000
SigIgn:\t0000000000000000
SigCgt:\t0000000000000000
CapInh:\t0000000000000000
CapPrm:\t000001fffeffffff
CapEff:\t000001fffeffffff
CapBnd:\t000001fffeffffff
CapAmb:\t0000000000000000
NoNewPrivs:\t0
Seccomp:\t0
Seccomp_filters:\t0
Speculation_Store_Bypass:\tvulnerable
SpeculationIndirectBranch:\talways enabled
Cpus_allowed:\t3
Cpus_allowed_list:\t0-1
Mems_allowed:\t00000000,00000001
Mems_allowed_list:\t0
voluntary_ctxt_switches:\t0
nonvoluntary_ctxt_switches:\t0
";

/// A `sleep` started by `unshare --user --map-user=1000 --map-group=1000 --pid --fork
/// setpriv --no-new-privs ... sleep 3`, read from the host (memory lines cut). Host uid 0
/// shows in `Uid:`; `uid_map` says that is uid 1000 inside; NSpid says pid 1 inside.
const NESTED_STATUS: &str = "Name:\tsleep
State:\tS (sleeping)
Tgid:\t8557
Pid:\t8557
PPid:\t8555
Uid:\t0\t0\t0\t0
Gid:\t0\t0\t0\t0
NStgid:\t8557\t1
NSpid:\t8557\t1
NSpgid:\t8553\t0
NSsid:\t4600\t0
Threads:\t1
CapInh:\t0000000000000000
CapPrm:\t0000000000000000
CapEff:\t0000000000000000
CapBnd:\t000001ffffffffff
CapAmb:\t0000000000000000
NoNewPrivs:\t1
Seccomp:\t0
Seccomp_filters:\t0
";
const NESTED_UID_MAP: &str = "      1000          0          1\n";
const NESTED_STAT: &str = "8557 (sleep) S 8555 8553 4600 0 -1 4194560 191 0 0 0 0 0 0 0 20 0 1 0 42224 2990080 410 18446744073709551615 94375307685888 94375307703817 140727012888640 0 0 0 0 6 0 1 0 0 17 1 0 0 0 0 0 94375307717904 94375307719168 94375985172480 140727012895464 140727012895472 140727012895472 140727012896745 0\n";

/// A python child that set no_new_privs and SECCOMP_MODE_STRICT, after it exited and
/// before it was reaped: the kernel shows the mode as 3 (dead) on the zombie.
const ZOMBIE_STATUS: &str = "Name:\tpython3
State:\tZ (zombie)
Tgid:\t8796
Pid:\t8796
PPid:\t8755
Uid:\t0\t0\t0\t0
NSpid:\t8796
Threads:\t1
CapEff:\t000001fffeffffff
NoNewPrivs:\t1
Seccomp:\t3
Seccomp_filters:\t0
";
const ZOMBIE_STAT: &str = "8685 (python3) Z 8644 8637 4600 0 -1 4227148 225 0 0 0 0 0 0 0 20 0 1 0 42814 0 0 18446744073709551615 0 0 0 0 0 0 0 16781312 2 1 0 0 17 1 0 0 0 0 0 0 0 0 0 0 0 0 0\n";

#[test]
fn parses_real_self_status() {
    let s = parse_status(SELF_STATUS);
    assert_eq!(s.name.as_deref(), Some("cat"));
    assert_eq!(s.state, Some(ProcState::Running));
    assert_eq!(
        (s.pid, s.ppid, s.tgid),
        (Some(5712), Some(5710), Some(5712))
    );
    assert_eq!(s.uid, Some([0; 4]));
    assert_eq!(s.ns_pid, [5712]);
    assert_eq!(s.cap_eff, Some(0x1fffeffffff));
    assert_eq!(s.cap_amb, Some(0));
    assert_eq!(s.no_new_privs, Some(false));
    assert_eq!(s.seccomp, Some(SeccompMode::Disabled));
    assert_eq!(s.seccomp_filters, Some(0));
    assert_eq!(s.threads, Some(1));
    let names = cap_names(s.cap_eff.unwrap_or_default());
    assert_eq!(names.len(), 40);
    assert_eq!(names[0], "cap_chown");
    assert!(names.contains(&"cap_sys_admin".to_string()));
    assert!(!names.contains(&"cap_sys_resource".to_string()));
    assert_eq!(
        names.last().map(String::as_str),
        Some("cap_checkpoint_restore")
    );
}

#[test]
fn parses_real_nested_status_and_uid_map() {
    let s = parse_status(NESTED_STATUS);
    assert_eq!(s.ns_pid, [8557, 1]);
    assert_eq!(s.uid, Some([0; 4]), "Uid: shows the host view");
    assert_eq!(s.cap_eff, Some(0));
    assert!(cap_names(0).is_empty());
    assert_eq!(s.no_new_privs, Some(true));
    let map = parse_id_map(NESTED_UID_MAP).expect("real uid_map");
    assert_eq!(
        map,
        [IdMapRange {
            inside: 1000,
            outside: 0,
            count: 1
        }]
    );
    assert_eq!(map_to_inside(&map, 0), Some(1000));
    assert_eq!(map_to_inside(&map, 1), None);

    let stat = parse_stat(NESTED_STAT).expect("real stat");
    assert_eq!((stat.pid, stat.ppid, stat.start_time), (8557, 8555, 42224));
    assert_eq!(stat.comm, "sleep");
    assert_eq!(stat.state, ProcState::Sleeping);
}

#[test]
fn parses_real_zombie() {
    let s = parse_status(ZOMBIE_STATUS);
    assert_eq!(s.state, Some(ProcState::Zombie));
    assert_eq!(s.seccomp, Some(SeccompMode::Dead));
    let stat = parse_stat(ZOMBIE_STAT).expect("zombie stat");
    assert_eq!(stat.state, ProcState::Zombie);
    assert_eq!(stat.state.to_string(), "Z (zombie)");
}

#[test]
fn names_capabilities_and_modes() {
    // CapEff inside `unshare --user --map-root-user setpriv --bounding-set
    // -all,+sys_admin,+net_admin`, as the process itself read it.
    assert_eq!(cap_names(0x201000), ["cap_net_admin", "cap_sys_admin"]);
    assert_eq!(cap_names(1 << 63), ["cap_63"]);
    for (line, mode) in [
        ("Seccomp:\t1", SeccompMode::Strict),
        ("Seccomp:\t2", SeccompMode::Filter),
        ("Seccomp:\t7", SeccompMode::Unknown(7)),
    ] {
        assert_eq!(parse_status(line).seccomp, Some(mode));
    }
    let odd = parse_status("CapEff:\tzz\nUid:\t1\t2\nNoNewPrivs:\t5\nNSpid:\t1 x\nbogus");
    assert_eq!(odd, Status::default(), "malformed fields stay absent");
}

#[test]
fn parses_awkward_stat_and_cmdline() {
    let line = "4242 (a) b (c)) S 1 4242 4242 0 -1 4194560 191 0 0 0 0 0 0 0 20 0 1 0 7 2990080 410 18446744073709551615 1 1 1 0 0 0 0 6 0 1 0 0 17 1 0 0 0 0 0 1 1 1 1 1 1 1 0";
    let stat = parse_stat(line).expect("comm with spaces and parens");
    assert_eq!(stat.comm, "a) b (c)");
    assert_eq!((stat.ppid, stat.start_time), (1, 7));
    let err = parse_stat("not a stat line").map(|_| ()).unwrap_err();
    assert!(format!("{err:#}").contains("malformed stat line"));

    assert_eq!(
        parse_cmdline(b"sleep\x005\x00"),
        Some(vec!["sleep".to_string(), "5".to_string()])
    );
    assert_eq!(parse_cmdline(b""), None);
    assert_eq!(parse_cmdline(b"x"), Some(vec!["x".to_string()]));
    assert_eq!(parse_children("101 102 \n"), [101, 102]);
    assert_eq!(parse_children(""), Vec::<i32>::new());
}

#[test]
fn id_map_errors_name_the_line() {
    let full = parse_id_map("         0          0 4294967295\n").expect("real host map");
    assert_eq!(full[0].count, u32::MAX);
    assert_eq!(map_to_inside(&full, 12345), Some(12345));
    let err = format!("{:#}", parse_id_map("0 0 1\n0 0\n").unwrap_err());
    assert!(err.contains("line 2") && err.contains("3 numbers"), "{err}");
    let err = format!("{:#}", parse_id_map("0 x 1\n").unwrap_err());
    assert!(err.contains("line 1"), "{err}");
}

/// A directory laid out like /proc, removed on drop.
struct FakeProc(PathBuf);

impl FakeProc {
    fn new(name: &str) -> FakeProc {
        let dir =
            std::env::temp_dir().join(format!("underhood-ptree-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).expect("creating fixture dir");
        FakeProc(dir)
    }

    /// Adds a process; `children` = Some(..) writes a task/<pid>/children file.
    fn add(&self, pid: i32, ppid: i32, state: char, comm: &str, children: Option<&str>) {
        let dir = self.0.join(pid.to_string());
        let task = dir.join("task").join(pid.to_string());
        std::fs::create_dir_all(&task).expect("fixture task dir");
        let stat = format!(
            "{pid} ({comm}) {state} {ppid} 8553 4600 0 -1 4194560 191 0 0 0 0 0 0 0 20 0 1 0 42224 2990080 410 18446744073709551615 1 1 1 0 0 0 0 6 0 1 0 0 17 1 0 0 0 0 0 1 1 1 1 1 1 1 0\n"
        );
        let status = format!(
            "Name:\t{comm}\nState:\t{state}\nPid:\t{pid}\nPPid:\t{ppid}\nNSpid:\t{pid}\t{}\n",
            pid - 99
        );
        std::fs::write(dir.join("stat"), stat).expect("fixture stat");
        std::fs::write(dir.join("status"), status).expect("fixture status");
        let cmdline = if state == 'Z' {
            String::new()
        } else {
            format!("{comm}\0--flag\0")
        };
        std::fs::write(dir.join("cmdline"), cmdline).expect("fixture cmdline");
        std::fs::write(dir.join("uid_map"), NESTED_UID_MAP).expect("fixture uid_map");
        if let Some(kids) = children {
            std::fs::write(task.join("children"), kids).expect("fixture children");
        }
    }
}

impl Drop for FakeProc {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

fn summary(nodes: &[ProcNode]) -> Vec<(usize, i32, i32, char)> {
    nodes
        .iter()
        .map(|n| {
            (
                n.depth,
                n.proc.pid,
                n.proc.inner_pid(),
                n.proc.state.letter(),
            )
        })
        .collect()
}

/// 100 -> {101 -> {103 (zombie), 104}, 102 (listed, but gone), 105 (pid reused: its
/// ppid is 1 now)}; 200 is unrelated.
fn build(fake: &FakeProc, with_children_files: bool) {
    let kids = |s| with_children_files.then_some(s);
    fake.add(100, 1, 'S', "init", kids("105 102 101 "));
    fake.add(101, 100, 'S', "sh", kids("104 103 "));
    fake.add(103, 101, 'Z', "sleep", kids(""));
    fake.add(104, 101, 'R', "yes", kids(""));
    fake.add(105, 1, 'S', "other", kids(""));
    fake.add(200, 1, 'S', "unrelated", kids(""));
}

#[test]
fn tree_from_children_files_skips_vanished_and_reused() {
    let fake = FakeProc::new("children");
    build(&fake, true);
    let nodes = tree(&fake.0, 100).expect("fixture tree");
    assert_eq!(
        summary(&nodes),
        [
            (0, 100, 1, 'S'),
            (1, 101, 2, 'S'),
            (2, 103, 4, 'Z'),
            (2, 104, 5, 'R')
        ]
    );
    let zombie = &nodes[2].proc;
    assert!(zombie.is_zombie());
    assert_eq!(zombie.cmdline, None);
    assert_eq!(zombie.command(), "[sleep]");
    assert_eq!(nodes[1].proc.command(), "sh --flag");
    assert_eq!(nodes[1].proc.pid_ns_depth(), 1);
    assert_eq!(
        nodes[1]
            .proc
            .uid_map
            .as_deref()
            .and_then(|m| map_to_inside(m, 0)),
        Some(1000)
    );
}

#[test]
fn tree_by_scanning_stat_without_children_files() {
    let fake = FakeProc::new("scan");
    build(&fake, false);
    let nodes = tree(&fake.0, 100).expect("fixture tree");
    assert_eq!(
        summary(&nodes),
        [
            (0, 100, 1, 'S'),
            (1, 101, 2, 'S'),
            (2, 103, 4, 'Z'),
            (2, 104, 5, 'R')
        ]
    );
    let err = format!("{:#}", tree(&fake.0, 999).unwrap_err());
    assert!(err.contains("process 999 does not exist"), "{err}");
    assert!(err.contains("999/stat"), "{err}");
}

/// A `sh` whose child `sleep` must not outlive the test: on SIGTERM the shell's trap kills
/// and reaps the sleep itself, then exits, and we reap the shell. (Killing both instead
/// would orphan the sleep to pid 1, which need not reap it promptly.)
struct Shell(std::process::Child);

impl Drop for Shell {
    fn drop(&mut self) {
        let pid = nix::unistd::Pid::from_raw(self.0.id() as i32);
        let _ = nix::sys::signal::kill(pid, nix::sys::signal::Signal::SIGTERM);
        let _ = self.0.wait();
    }
}

/// Polls `f` until it returns Some; a bound, not a timing assertion.
fn eventually<T>(what: &str, mut f: impl FnMut() -> Option<T>) -> T {
    for _ in 0..500 {
        if let Some(v) = f() {
            return v;
        }
        std::thread::sleep(Duration::from_millis(10));
    }
    panic!("gave up waiting for {what}");
}

#[test]
fn live_tree_of_a_shell_and_its_child() {
    // `wait` with no operand also covers a SIGTERM that lands before `p` is set.
    let script = "trap 'kill $p 2>/dev/null; wait; exit 0' TERM; sleep 5 & p=$!; wait";
    let child = std::process::Command::new("sh")
        .args(["-c", script])
        .spawn()
        .expect("spawning sh");
    let shell = Shell(child);
    let sh = shell.0.id() as i32;
    let nodes = eventually("sh to fork sleep", || {
        let nodes = tree(Path::new("/proc"), sh).expect("live tree");
        // The root too: on a slow machine it may not have exec'd `sh` yet.
        (nodes.len() == 2 && nodes[0].proc.comm == "sh" && nodes[1].proc.comm == "sleep")
            .then_some(nodes)
    });
    let (top, sleep) = (&nodes[0], &nodes[1]);
    assert_eq!(
        (top.depth, top.proc.pid, top.proc.comm.as_str()),
        (0, sh, "sh")
    );
    assert_eq!((sleep.depth, sleep.proc.ppid), (1, sh));
    assert_eq!(
        sleep.proc.cmdline,
        Some(vec!["sleep".to_string(), "5".to_string()])
    );
    // No pid namespace of its own: the pid inside is the host pid.
    assert_eq!(sleep.proc.inner_pid(), sleep.proc.pid);
    assert_eq!(sleep.proc.status.ns_pid, [sleep.proc.pid]);
    assert!(sleep.proc.status.uid.is_some());
    assert!(sleep.proc.status.cap_bnd.is_some());
    assert!(sleep.proc.uid_map.as_ref().is_some_and(|m| !m.is_empty()));

    let sleep_pid = sleep.proc.pid;
    drop(shell);
    // The shell reaped its sleep before exiting: no zombie is left to pid 1.
    let gone = !Path::new(&format!("/proc/{sleep_pid}")).exists()
        || parse_status(
            &std::fs::read_to_string(format!("/proc/{sleep_pid}/status")).unwrap_or_default(),
        )
        .ppid
            != Some(1);
    assert!(gone, "sleep {sleep_pid} outlived its shell");
}

#[test]
fn live_zombie_child_is_shown_as_zombie() {
    let mut child = std::process::Command::new("true")
        .spawn()
        .expect("spawning true");
    let pid = child.id() as i32;
    let me = std::process::id() as i32;
    // Not waited for yet, so once it exits it stays a zombie under this test process.
    let zombie = eventually("true to exit", || {
        let nodes = tree(Path::new("/proc"), me).expect("live tree of self");
        nodes
            .into_iter()
            .find(|n| n.proc.pid == pid && n.proc.is_zombie())
    });
    assert_eq!(zombie.depth, 1);
    assert_eq!(zombie.proc.cmdline, None, "a zombie has no command line");
    assert_eq!(zombie.proc.status.state, Some(ProcState::Zombie));
    child.wait().expect("reaping the zombie");
    let nodes = tree(Path::new("/proc"), me).expect("live tree of self");
    assert!(nodes.iter().all(|n| n.proc.pid != pid), "reaped, so gone");
}
