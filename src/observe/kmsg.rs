//! The kernel's own log, for the OOM killer's line: read /dev/kmsg from the moment we
//! open it (dev-kmsg in the kernel's Documentation/ABI). Reading it needs root (or
//! kernel.dmesg_restrict=0); when it is not readable we simply have no line to show.

use std::fs::File;
use std::io::{Read, Seek, SeekFrom};
use std::os::unix::fs::OpenOptionsExt;

pub struct KernelLog {
    file: File,
}

impl KernelLog {
    /// Opens /dev/kmsg positioned at its end: only records written later are read.
    pub fn open() -> Option<KernelLog> {
        let mut file = std::fs::OpenOptions::new()
            .read(true)
            .custom_flags(libc::O_NONBLOCK)
            .open("/dev/kmsg")
            .ok()?;
        file.seek(SeekFrom::End(0)).ok()?;
        Some(KernelLog { file })
    }

    /// The messages written since the last call (text only, without the prefix).
    pub fn read_new(&mut self) -> Vec<String> {
        let mut out = Vec::new();
        let mut buf = vec![0u8; 8192];
        loop {
            // Each read(2) returns exactly one record; EAGAIN when none is left, EPIPE
            // when records were overwritten before we read them (then carry on).
            match self.file.read(&mut buf) {
                Ok(0) => break,
                Ok(n) => {
                    if let Some(msg) = parse_record(&String::from_utf8_lossy(&buf[..n])) {
                        out.push(msg);
                    }
                }
                Err(e) if e.raw_os_error() == Some(libc::EPIPE) => continue,
                Err(_) => break,
            }
        }
        out
    }
}

/// `6,1234,5678901,-;Memory cgroup out of memory: Killed process ...` -> the message.
pub fn parse_record(record: &str) -> Option<String> {
    let (_, msg) = record.split_once(';')?;
    Some(msg.lines().next().unwrap_or("").to_string())
}

/// The "Killed process" lines of OOM kills in the cgroup named `cgroup_name` (the
/// `oom-kill:...,task_memcg=/NAME,...,pid=N,...` line says which pid; other
/// containers' kills are left out).
pub fn kills_in(lines: &[String], cgroup_name: &str) -> Vec<String> {
    let memcg = format!("task_memcg=/{cgroup_name},");
    let pids: Vec<String> = lines
        .iter()
        .filter(|l| l.starts_with("oom-kill:") && l.contains(&memcg))
        .filter_map(|l| {
            l.split(',')
                .find_map(|f| f.strip_prefix("pid="))
                .map(str::to_string)
        })
        .collect();
    lines
        .iter()
        .filter(|l| {
            pids.iter()
                .any(|p| l.contains(&format!("Killed process {p} ")))
        })
        .cloned()
        .collect()
}

/// Whether a kernel message is about the OOM killer.
pub fn is_oom_line(msg: &str) -> bool {
    msg.contains("out of memory") || msg.contains("oom-kill") || msg.contains("Killed process")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn records_parse() {
        let r = "3,812,4711000,-;Memory cgroup out of memory: Killed process 4242 (hog) total-vm:106000kB, anon-rss:32000kB\n SUBSYSTEM=x\n";
        let m = parse_record(r).unwrap();
        assert!(m.starts_with("Memory cgroup out of memory: Killed process 4242 (hog)"));
        assert!(is_oom_line(&m));
        assert!(!is_oom_line("eth0: link up"));
        assert_eq!(parse_record("no separator"), None);
    }

    #[test]
    fn only_our_cgroup_kills() {
        let lines: Vec<String> = [
            "oom-kill:constraint=CONSTRAINT_MEMCG,nodemask=(null),cpuset=/,mems_allowed=0,oom_memcg=/underhood-aaaa,task_memcg=/underhood-aaaa,task=hog,pid=11,uid=0",
            "Memory cgroup out of memory: Killed process 11 (hog) total-vm:1kB",
            "oom-kill:constraint=CONSTRAINT_MEMCG,nodemask=(null),cpuset=/,mems_allowed=0,oom_memcg=/underhood-bbbb,task_memcg=/underhood-bbbb,task=hog,pid=22,uid=0",
            "Memory cgroup out of memory: Killed process 22 (hog) total-vm:1kB",
        ]
        .iter()
        .map(|s| s.to_string())
        .collect();
        let ours = kills_in(&lines, "underhood-aaaa");
        assert_eq!(ours.len(), 1);
        assert!(ours[0].contains("Killed process 11 (hog)"));
    }
}
