//! Tempdir fixtures laid out like `/sys/fs/cgroup` on v1, v2 and hybrid hosts (tests only).
//!
//! Plain files cannot do what cgroupfs does on `mkdir` (create the interface files), so
//! tests that write limits call [`Fixture::v1_child`] / [`Fixture::v2_child`] to lay out a
//! child directory as the kernel would, with the kernel's initial values.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};

pub struct Fixture {
    root: PathBuf,
}

static COUNTER: AtomicUsize = AtomicUsize::new(0);

/// What an unlimited v1 memory counter reads on 4 KiB pages: PAGE_COUNTER_MAX pages.
pub const V1_UNLIMITED: &str = "9223372036854771712\n";

impl Fixture {
    fn empty() -> Fixture {
        let n = COUNTER.fetch_add(1, Ordering::SeqCst);
        let root =
            std::env::temp_dir().join(format!("underhood-fixture-{}-{n}", std::process::id()));
        let _ = std::fs::remove_dir_all(&root);
        std::fs::create_dir_all(&root).expect("create fixture root");
        Fixture { root }
    }

    pub fn root(&self) -> &Path {
        &self.root
    }

    pub fn file(&self, rel: &str, content: &str) {
        let path = self.root.join(rel);
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent).expect("create fixture dir");
        }
        std::fs::write(&path, content).expect("write fixture file");
    }

    pub fn read(&self, rel: &str) -> String {
        std::fs::read_to_string(self.root.join(rel)).unwrap_or_else(|e| panic!("{rel}: {e}"))
    }

    /// A systemd v2 host: controllers already enabled at the root.
    pub fn v2() -> Fixture {
        let fx = Fixture::empty();
        fx.file(
            "cgroup.controllers",
            "cpuset cpu io memory hugetlb pids rdma misc\n",
        );
        fx.file("cgroup.subtree_control", "cpuset cpu io memory pids\n");
        fx.file("cgroup.procs", "1\n");
        fx
    }

    /// A v1 host with `cpu,cpuacct` co-mounted and a `cpu` symlink to it.
    pub fn v1() -> Fixture {
        let fx = Fixture::empty();
        for h in ["memory", "pids", "cpu,cpuacct", "systemd"] {
            fx.file(&format!("{h}/cgroup.procs"), "1\n");
        }
        let _ = std::os::unix::fs::symlink("cpu,cpuacct", fx.root.join("cpu"));
        fx
    }

    /// This machine: v1 controllers and a cgroup2 mount at `unified` offering hugetlb only.
    pub fn hybrid() -> Fixture {
        let fx = Fixture::empty();
        for h in ["memory", "pids", "cpu", "cpuacct", "systemd"] {
            fx.file(&format!("{h}/cgroup.procs"), "1\n");
        }
        fx.file("unified/cgroup.controllers", "hugetlb\n");
        fx.file("unified/cgroup.subtree_control", "");
        fx.file("unified/cgroup.procs", "1\n");
        fx
    }

    /// Lays out `rel` as the kernel does on mkdir in a v2 hierarchy with memory, pids, cpu.
    pub fn v2_child(&self, rel: &str) {
        for (f, v) in [
            ("cgroup.procs", ""),
            ("cgroup.kill", ""),
            ("memory.max", "max\n"),
            ("memory.swap.max", "max\n"),
            ("memory.current", "0\n"),
            ("memory.peak", "0\n"),
            (
                "memory.events",
                "low 0\nhigh 0\nmax 0\noom 0\noom_kill 0\noom_group_kill 0\n",
            ),
            ("pids.max", "max\n"),
            ("pids.current", "0\n"),
            ("cpu.max", "max 100000\n"),
        ] {
            self.file(&format!("{rel}/{f}"), v);
        }
    }

    /// Lays out `rel` as the kernel does on mkdir in a v1 hierarchy holding `controller`.
    pub fn v1_child(&self, rel: &str, controller: &str) {
        self.file(&format!("{rel}/cgroup.procs"), "");
        let files: &[(&str, &str)] = match controller {
            "memory" => &[
                ("cgroup.event_control", ""),
                ("memory.limit_in_bytes", V1_UNLIMITED),
                ("memory.memsw.limit_in_bytes", V1_UNLIMITED),
                ("memory.usage_in_bytes", "0\n"),
                ("memory.max_usage_in_bytes", "0\n"),
                (
                    "memory.oom_control",
                    "oom_kill_disable 0\nunder_oom 0\noom_kill 0\n",
                ),
            ],
            "pids" => &[("pids.max", "max\n"), ("pids.current", "0\n")],
            _ => &[
                ("cpu.cfs_period_us", "100000\n"),
                ("cpu.cfs_quota_us", "-1\n"),
            ],
        };
        for (f, v) in files {
            self.file(&format!("{rel}/{f}"), v);
        }
    }
}

impl Drop for Fixture {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.root);
    }
}
