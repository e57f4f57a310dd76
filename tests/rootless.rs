//! Rootless cgroup limits, tried as an unprivileged user (uid 65534, through `setpriv`)
//! started by a root test:
//!
//! - without a delegated cgroup v2 subtree (this host, memory on v1; the VM's v1 pass;
//!   the VM's v2 pass from its root cgroup) `run --memory 32M` is refused with doctor's
//!   one line: why, and what gives it (root, or a delegated cgroup v2 subtree), never
//!   the errno's generic "file modes, an LSM" words;
//! - with one (cgroup v2 only: the VM tier), made here the way systemd makes
//!   `user@UID.service` (cgroup-v2.rst "Delegation": the directory and its
//!   cgroup.procs, cgroup.subtree_control and cgroup.threads chowned to the user, the
//!   controllers enabled in the parent's cgroup.subtree_control, the user's processes in
//!   a leaf below it), `run --memory 32M -- hog` is OOM-killed, our cgroup is made
//!   inside the delegation with memory.max at the limit, and doctor names where.
//!
//! Every cgroup made here is named with our prefix and this test's pid, and removed
//! even when an assertion fails (a drop guard).

mod common;

use std::io::{BufRead, BufReader};
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::sync::mpsc;
use std::time::Duration;

use common::{BIN, root_trials, run, skip, stderr, stdout};
use underhood::runtime::cgroup::{Controller, Host, Version};
use underhood::runtime::paths::Paths;

fn main() -> std::process::ExitCode {
    run(root_trials![
        rootless_memory_limit_without_a_delegation_says_what_gives_it,
        rootless_memory_limit_in_a_delegated_v2_subtree_oom_kills_the_hog,
    ])
}

const UID: u32 = 65534;

/// A home for uid 65534 (cache, state and runtime directories in it), removed after.
fn home() -> tempfile::TempDir {
    let home = tempfile::tempdir().expect("a temp dir");
    std::fs::set_permissions(home.path(), PermissionsExt::from_mode(0o777))
        .expect("chmod the temp home");
    home
}

/// util-linux's setpriv by its path: a busybox `sh` built to prefer its own applets
/// (Debian's busybox-static, the VM's shell) would run busybox's `setpriv`, which has
/// no --reuid.
fn setpriv() -> String {
    let path = std::env::var_os("PATH").unwrap_or_default();
    std::env::split_paths(&path)
        .map(|d| d.join("setpriv"))
        .find(|p| {
            std::fs::canonicalize(p).is_ok_and(|c| c.file_name().is_some_and(|n| n != "busybox"))
        })
        .map_or_else(|| "setpriv".to_string(), |p| p.display().to_string())
}

/// `sh -c` that (optionally) moves itself into `cgroup` first, as root, then becomes
/// uid 65534 with HOME and the XDG directories in `home` and runs underhood with `args`.
fn as_user(home: &Path, cgroup: Option<&Path>, args: &[&str]) -> Command {
    let join = cgroup.map_or(String::new(), |c| {
        format!("echo $$ > {}/cgroup.procs && ", c.display())
    });
    let d = home.display();
    let setpriv = setpriv();
    let script = format!(
        "{join}exec {setpriv} --reuid={UID} --regid={UID} --clear-groups env HOME={d} \
         XDG_CACHE_HOME={d}/cache XDG_RUNTIME_DIR={d}/run UNDERHOOD_ROOTFS_FLAVOUR=busybox \
         \"$@\""
    );
    let mut c = Command::new("sh");
    c.arg("-c").arg(script).arg("sh").arg(BIN).args(args);
    c
}

fn output(mut c: Command) -> Output {
    c.output().expect("running sh -c ... setpriv ... underhood")
}

/// The v2 hierarchy holding memory, or why this case cannot run here.
fn v2_memory_mount() -> Result<PathBuf, String> {
    let host = Host::detect(&Paths::host()).map_err(|e| format!("no cgroups: {e:#}"))?;
    match host.hierarchy(Controller::Memory) {
        Some(h) if h.version == Version::V2 => Ok(h.mount.clone()),
        Some(h) => Err(format!(
            "the memory controller is on cgroup {} here ({}): a delegated cgroup v2 \
             subtree cannot hold it (the VM tier's v2 pass runs this)",
            h.version,
            h.mount.display()
        )),
        None => Err("no memory controller here".into()),
    }
}

/// Rootless containers need unprivileged user namespaces: skip (with the reason) where
/// the kernel refuses them, rather than fail on a step before the cgroup's.
fn userns_or_skip() {
    use underhood::observe::host::{HostRoots, read_host_facts};
    let v = read_host_facts(&HostRoots::from_proc_root(Path::new("/proc"))).userns_verdict();
    if !v.is_allowed() {
        skip(format!(
            "unprivileged user namespaces are refused here: {v:?}"
        ));
    }
}

fn rootless_memory_limit_without_a_delegation_says_what_gives_it() {
    userns_or_skip();
    let home = home();
    let o = output(as_user(
        home.path(),
        None,
        &["run", "--memory", "32M", "--", "true"],
    ));
    let e = stderr(&o);
    if o.status.success() {
        skip(format!(
            "uid {UID} may set a memory limit here without a delegation (a writable \
             cgroup root?): nothing to refuse"
        ));
    }
    assert_eq!(o.status.code(), Some(125), "{e}");
    assert!(
        e.contains("step 'cgroup limits (from outside)' failed"),
        "{e}"
    );
    // Doctor's one line: the place, why, and what gives it.
    let line = e
        .lines()
        .find(|l| l.starts_with("underhood: memory controller: "))
        .unwrap_or_else(|| panic!("no memory controller line:\n{e}"));
    assert!(
        line.contains("but you may not create a cgroup there"),
        "{line}"
    );
    assert!(
        line.contains("; to get it: run as root (`sudo underhood`), or "),
        "{line}"
    );
    match v2_memory_mount() {
        Ok(_) => assert!(
            line.contains("no cgroup v2 subtree is delegated to you")
                && line.contains("`systemd-run --user --scope underhood ...`"),
            "{line}"
        ),
        Err(_) => assert!(
            line.contains("boot with cgroup v2") && line.contains("delegates a subtree"),
            "{line}"
        ),
    }
    assert!(!e.contains("file modes, an LSM"), "{e}");
}

/// Kills what is left and removes the delegated tree made for the test, deepest first.
struct Delegation {
    top: PathBuf,
    children: Vec<Child>,
}

impl Drop for Delegation {
    fn drop(&mut self) {
        for c in &mut self.children {
            let _ = c.kill();
            let _ = c.wait();
        }
        remove_tree(&self.top);
    }
}

fn remove_tree(dir: &Path) {
    if let Ok(entries) = std::fs::read_dir(dir) {
        for e in entries.flatten() {
            if e.file_type().is_ok_and(|t| t.is_dir()) {
                remove_tree(&e.path());
            }
        }
    }
    if let Ok(procs) = std::fs::read_to_string(dir.join("cgroup.procs")) {
        for pid in procs.lines().filter_map(|l| l.trim().parse::<i32>().ok()) {
            let _ = nix::sys::signal::kill(
                nix::unistd::Pid::from_raw(pid),
                nix::sys::signal::Signal::SIGKILL,
            );
        }
    }
    for _ in 0..200 {
        match std::fs::remove_dir(dir) {
            Err(e) if e.raw_os_error() == Some(libc::EBUSY) => {
                std::thread::sleep(Duration::from_millis(10))
            }
            _ => break,
        }
    }
}

fn write(path: &Path, value: &str) {
    std::fs::write(path, value)
        .unwrap_or_else(|e| panic!("writing {value:?} to {}: {e}", path.display()));
}

fn listed(path: &Path, name: &str) -> bool {
    std::fs::read_to_string(path).is_ok_and(|t| t.split_whitespace().any(|n| n == name))
}

/// Like systemd for user@UID.service: a root-owned slice with memory and pids handed
/// down, the service below it given to the user (the directory and the three files
/// cgroup-v2.rst names), and a leaf the user's processes live in. Memory is *not* yet
/// in the service's own cgroup.subtree_control: underhood must enable it there.
fn delegate(mount: &Path) -> (Delegation, PathBuf, PathBuf) {
    let top = mount.join(format!("underhood-test-{}-user.slice", std::process::id()));
    let d = Delegation {
        top: top.clone(),
        children: Vec::new(),
    };
    for c in ["memory", "pids"] {
        if !listed(&mount.join("cgroup.subtree_control"), c) {
            // As the runtime itself does on a v2 host's first use (systemd hosts have them).
            write(&mount.join("cgroup.subtree_control"), &format!("+{c}"));
        }
    }
    std::fs::create_dir(&top).expect("mkdir the slice");
    write(&top.join("cgroup.subtree_control"), "+memory +pids");
    let svc = top.join(format!("user@{UID}.service"));
    std::fs::create_dir(&svc).expect("mkdir the service");
    let leaf = svc.join("init.scope");
    std::fs::create_dir(&leaf).expect("mkdir the leaf");
    let own = |p: &Path| {
        std::os::unix::fs::chown(p, Some(UID), Some(UID))
            .unwrap_or_else(|e| panic!("chown {}: {e}", p.display()))
    };
    for p in [&svc, &leaf] {
        own(p);
        for f in ["cgroup.procs", "cgroup.subtree_control", "cgroup.threads"] {
            own(&p.join(f));
        }
    }
    (d, svc, leaf)
}

/// Our cgroups in `dir` (name starting with our prefix).
fn ours_in(dir: &Path) -> Vec<PathBuf> {
    std::fs::read_dir(dir)
        .map(|es| {
            es.flatten()
                .filter(|e| e.file_type().is_ok_and(|t| t.is_dir()))
                .filter(|e| e.file_name().to_string_lossy().starts_with("underhood-"))
                .map(|e| e.path())
                .collect()
        })
        .unwrap_or_default()
}

fn rootless_memory_limit_in_a_delegated_v2_subtree_oom_kills_the_hog() {
    let mount = match v2_memory_mount() {
        Ok(m) => m,
        Err(why) => skip(why),
    };
    userns_or_skip();
    let home = home();
    let (mut guard, svc, leaf) = delegate(&mount);

    // Doctor, from inside the delegation, names where the cgroup goes.
    let o = output(as_user(home.path(), Some(&leaf), &["doctor"]));
    let text = stdout(&o);
    let m = text
        .lines()
        .find(|l| l.contains("memory controller"))
        .unwrap_or_else(|| panic!("no memory line:\n{text}"));
    assert!(
        m.contains(&format!(
            "usable through the subtree delegated to you: underhood makes its cgroup in {}",
            svc.display()
        )),
        "{text}"
    );

    // The hog, rootless, into the limit: the kernel's OOM killer ends it.
    let o = output(as_user(
        home.path(),
        Some(&leaf),
        &["run", "--memory", "32M", "--", "hog", "--rate", "64M"],
    ));
    let e = stderr(&o);
    assert_eq!(o.status.code(), Some(137), "stderr:\n{e}");
    assert!(e.contains("OOM-killed: memory limit 32 MiB reached"), "{e}");
    assert!(stdout(&o).contains("allocated"), "hog printed no progress");
    assert!(
        listed(&svc.join("cgroup.subtree_control"), "memory"),
        "underhood enabled memory for the service's children"
    );
    assert!(ours_in(&svc).is_empty(), "{:?} left", ours_in(&svc));

    // While a container runs: our cgroup is inside the delegation, the user's, with
    // the limit in memory.max and the container's processes in it.
    let mut c = as_user(
        home.path(),
        Some(&leaf),
        &[
            "run",
            "--memory",
            "32M",
            "--",
            "sh",
            "-c",
            "echo ready; exec sleep 60",
        ],
    );
    let mut child = c
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn");
    let out = child.stdout.take().expect("stdout");
    let pid = child.id() as i32;
    guard.children.push(child);
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(out).lines().map_while(Result::ok) {
            if tx.send(line).is_err() {
                break;
            }
        }
    });
    let ready = rx
        .recv_timeout(Duration::from_secs(120))
        .is_ok_and(|l| l == "ready");
    assert!(ready, "the container never printed ready");
    let made = ours_in(&svc);
    assert_eq!(made.len(), 1, "{made:?}");
    let dir = &made[0];
    assert_eq!(
        std::fs::read_to_string(dir.join("memory.max"))
            .ok()
            .as_deref(),
        Some("33554432\n"),
        "{}",
        dir.display()
    );
    assert_eq!(
        std::fs::metadata(dir).map(|m| m.uid()).ok(),
        Some(UID),
        "made by the user"
    );
    let procs = std::fs::read_to_string(dir.join("cgroup.procs")).unwrap_or_default();
    assert!(
        procs.lines().count() >= 2,
        "init and sleep expected: {procs:?}"
    );
    nix::sys::signal::kill(
        nix::unistd::Pid::from_raw(pid),
        nix::sys::signal::Signal::SIGTERM,
    )
    .expect("SIGTERM");
    let mut child = guard.children.pop().expect("the child");
    let status = child.wait().expect("wait");
    assert_eq!(status.code(), Some(143), "SIGTERM: exit 143");
    assert!(ours_in(&svc).is_empty(), "{:?} left", ours_in(&svc));
    drop(guard);
    assert!(!svc.exists(), "the test's delegation is removed");
}
