//! See tests/escape.rs. The IPC and PID lessons say a container cannot see or touch
//! the host's System V objects or processes: a probe inside tries the host's message
//! queue by id and by key, and a host process by `kill(pid, 0)` and by `/proc/<pid>`.
//! The same probe run with that namespace shared (`--share ipc`, `--share pid`) must
//! reach them, so the test fails when the isolation does.

use std::collections::BTreeMap;
use std::process::{Command, Stdio};

use crate::common::*;
use crate::probe;

pub fn trials() -> Vec<Trial> {
    vec![root_trial(
        "iso::root_host_ipc_objects_and_processes_are_out_of_reach",
        root_host_ipc_objects_and_processes_are_out_of_reach,
    )]
}

/// A message queue on the host, removed when dropped (msgctl(2) IPC_RMID).
struct Queue {
    id: i32,
    key: i32,
}

impl Queue {
    fn new() -> Queue {
        // A key of our own, from our pid: not one another program is likely to use.
        let key = 0x5548_0000 | (std::process::id() as i32 & 0xffff);
        // SAFETY: msgget takes a key and flags and returns an id or -1.
        let id = unsafe { libc::msgget(key, libc::IPC_CREAT | libc::IPC_EXCL | 0o600) };
        assert!(
            id >= 0,
            "msgget on the host: {}",
            std::io::Error::last_os_error()
        );
        Queue { id, key }
    }
}

impl Drop for Queue {
    fn drop(&mut self) {
        // SAFETY: IPC_RMID takes no buffer.
        unsafe { libc::msgctl(self.id, libc::IPC_RMID, std::ptr::null_mut()) };
    }
}

fn reach(extra: &[&str], q: &Queue, host_pid: u32) -> BTreeMap<String, String> {
    let vol = probe::volume(&probe::dir("iso_reach"));
    let (id, key, pid) = (q.id.to_string(), q.key.to_string(), host_pid.to_string());
    let mut args = vec!["run", "-v", &vol];
    args.extend_from_slice(extra);
    args.extend_from_slice(&["--", "/probe/iso_reach", &id, &key, &pid]);
    let o = underhood(&args);
    assert_eq!(o.status.code(), Some(0), "{args:?}: {}", stderr(&o));
    stdout(&o)
        .lines()
        .filter_map(|l| l.split_once('='))
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

fn root_host_ipc_objects_and_processes_are_out_of_reach() {
    let before = residue();
    let q = Queue::new();
    // A host process with a pid far above what a new PID namespace hands out.
    let mut sleeper = Command::new("sleep")
        .arg("60")
        .stdin(Stdio::null())
        .spawn()
        .expect("sleep on the host");
    let host_pid = sleeper.id();
    let mut failures = Vec::new();
    for mode in [&[][..], &["--userns"][..]] {
        let r = reach(mode, &q, host_pid);
        eprintln!("{mode:?}: isolated: {r:?}");
        for (what, want) in [
            ("msgctl", "EINVAL"),
            ("msgget", "ENOENT"),
            ("kill", "ESRCH"),
            ("proc", "ENOENT"),
        ] {
            if r.get(what).map(String::as_str) != Some(want) {
                failures.push(format!("{mode:?}: {what}: {:?}, want {want}", r.get(what)));
            }
        }
    }
    // The control: with the namespaces shared the same probe reaches both, so the
    // refusals above are the namespaces' doing, not the probe's.
    let shared = reach(&["--share", "ipc", "--share", "pid"], &q, host_pid);
    eprintln!("shared ipc and pid: {shared:?}");
    for what in ["msgctl", "msgget", "kill", "proc"] {
        if shared.get(what).map(String::as_str) != Some("ok") {
            failures.push(format!("shared: {what}: {:?}, want ok", shared.get(what)));
        }
    }
    let _ = sleeper.kill();
    let _ = sleeper.wait();
    drop(q);
    assert_no_residue(&before);
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}
