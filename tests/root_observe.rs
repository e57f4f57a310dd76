//! Root tests of the namespace observer against processes that unshare(1) puts in new
//! namespaces. Moved from `src/observe/namespaces.rs` so that, not as root, each is
//! reported ignored rather than passed (see `tests/common`).

mod common;

use std::path::{Path, PathBuf};

use common::{root_trials, run};
use underhood::ns::Ns;
use underhood::observe::namespaces::{NsFile, compare, read_links};

fn main() -> std::process::ExitCode {
    run(root_trials![
        root_unshare_uts_ipc_mount_differs_in_exactly_those,
        root_pid_for_children_unreadable_before_first_fork,
    ])
}

/// Kills and reaps a child even when an assertion fails, so no `sleep` outlives the test.
struct Reaper(std::process::Child);

impl Drop for Reaper {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Spawns `unshare ARGS sleep 5` and waits until unshare(1) has exec'd `sleep`, which it
/// does only after its unshare(2) succeeded: from then on the links are final.
fn spawn_unshared(args: &[&str]) -> Reaper {
    let child = std::process::Command::new("unshare")
        .args(args)
        .args(["sleep", "5"])
        .spawn()
        .expect("spawning unshare(1) from util-linux");
    let reaper = Reaper(child);
    let comm = PathBuf::from(format!("/proc/{}/comm", reaper.0.id()));
    for _ in 0..500 {
        if std::fs::read_to_string(&comm).is_ok_and(|c| c.trim() == "sleep") {
            return reaper;
        }
        std::thread::sleep(std::time::Duration::from_millis(10));
    }
    panic!("unshare {args:?} never exec'd sleep");
}

fn root_unshare_uts_ipc_mount_differs_in_exactly_those() {
    let child = spawn_unshared(&["--uts", "--ipc", "--mount", "--propagation", "private"]);
    let proc_root = Path::new("/proc");
    let host = read_links(proc_root, std::process::id() as i32);
    let subject = read_links(proc_root, child.0.id() as i32);
    let differing: Vec<NsFile> = compare(&host, &subject)
        .into_iter()
        .filter(|r| r.differs)
        .map(|r| r.kind)
        .collect();
    assert_eq!(
        differing,
        vec![
            NsFile::of(Ns::Ipc),
            NsFile::of(Ns::Mount),
            NsFile::of(Ns::Uts)
        ]
    );
    for link in &subject {
        if link.kind.ns() != Ns::Time {
            assert_eq!(link.error, None, "{link:?}");
        }
    }
}

fn root_pid_for_children_unreadable_before_first_fork() {
    // Without --fork, unshare(1) execs sleep in the process that called
    // unshare(CLONE_NEWPID); sleep never forks, so the new pid namespace never gets its
    // init and pid_for_children stays unreadable (pid_namespaces(7)).
    let child = spawn_unshared(&["--pid"]);
    let links = read_links(Path::new("/proc"), child.0.id() as i32);
    let pfc = links
        .iter()
        .find(|l| l.kind == NsFile::PID_FOR_CHILDREN)
        .expect("pid_for_children row");
    assert_eq!(pfc.inode, None);
    assert!(
        pfc.error.as_deref().is_some_and(|e| e.contains("ENOENT")),
        "{pfc:?}"
    );
    // ...while every other link is still read: that is why links are read one by one.
    for kind in [
        NsFile::of(Ns::Pid),
        NsFile::of(Ns::Mount),
        NsFile::of(Ns::Uts),
        NsFile::of(Ns::User),
    ] {
        let link = links.iter().find(|l| l.kind == kind).expect("row");
        assert!(link.inode.is_some(), "{link:?}");
    }
}
