//! The container's cgroup, over cgroup v1, v2 and hybrid hosts.
//!
//! Used by the controller process (outside the container): a contained process must
//! never set its own limits. One cgroup per session, named `underhood-<sid>`, made
//! directly under the root of each hierarchy that holds memory, pids or cpu:
//! `/sys/fs/cgroup/underhood-<sid>` on v2, `/sys/fs/cgroup/{memory,pids,cpu}/underhood-<sid>`
//! on v1 (hybrid hosts usually have all three on v1). Rootless on v2, where the root is
//! not ours, it goes in the subtree delegated to the user instead (`delegate.rs`:
//! systemd's `user@UID.service`).
//!
//! Every mkdir, write, kill and rmdir is recorded in a [`Report`] with its errno and the
//! shell command a learner could type instead.

pub mod delegate;
pub mod error;
mod files;
mod layout;
mod observed;
mod oom;
mod remove;
mod v1;
mod v2;

#[cfg(test)]
mod fixture;

use std::path::{Path, PathBuf};

pub use error::Error;
use error::Result;

pub use delegate::{Delegated, may_write, own_cgroup};
pub use layout::{Controller, Hierarchy, Host, Layout, Version};
pub use observed::{ReadLimits, parse_cpu_max};
pub use oom::OomEvents;
pub use remove::{ours, remove_dir, remove_recorded};

use crate::runtime::paths::PREFIX;
use crate::runtime::report::Report;

/// The CFS period we use, in µs: the kernel's default for v1 `cpu.cfs_period_us` and v2
/// `cpu.max` (scheduler/sched-bwc.rst).
pub const CPU_PERIOD_US: u64 = 100_000;

/// The smallest quota the kernel accepts, in µs (sched-bwc.rst: "min 1ms").
const MIN_CPU_QUOTA_US: u64 = 1_000;

#[derive(Default, Clone, Debug, PartialEq)]
pub struct Limits {
    /// Bytes of memory; swap is held to the same total.
    pub memory: Option<u64>,
    /// Most processes (and threads) at once.
    pub pids: Option<u64>,
    /// Fraction of one CPU: 0.5 is half a CPU, 2.0 two CPUs.
    pub cpus: Option<f64>,
}

/// Which file each [`MemoryUsage`] field came from (v1 and v2 name them differently).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MemoryFiles {
    pub current: &'static str,
    pub limit: &'static str,
    pub peak: &'static str,
    pub oom_kills: &'static str,
}

// Saved (in recordings) as the layout's name for the current-usage file, and read back
// as that layout's constant set: the names are `&'static str` so snapshots stay cheap.
impl serde::Serialize for MemoryFiles {
    fn serialize<S: serde::Serializer>(&self, s: S) -> std::result::Result<S::Ok, S::Error> {
        s.serialize_str(self.current)
    }
}

impl<'de> serde::Deserialize<'de> for MemoryFiles {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> std::result::Result<Self, D::Error> {
        let name = String::deserialize(d)?;
        [v1::MEMORY_FILES, v2::MEMORY_FILES]
            .into_iter()
            .find(|f| f.current == name)
            .ok_or_else(|| {
                serde::de::Error::custom(format!(
                    "unknown memory usage file {name:?}: expected memory.current (v2) or \
                     memory.usage_in_bytes (v1)"
                ))
            })
    }
}

#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct MemoryUsage {
    /// Bytes charged to the cgroup now.
    pub current: u64,
    /// The limit in bytes; `None` when unlimited.
    pub limit: Option<u64>,
    /// The highest usage seen; `None` when the kernel has no such file (v2 before 5.19).
    pub peak: Option<u64>,
    /// Processes killed by the OOM killer in this cgroup.
    pub oom_kills: u64,
    pub files: MemoryFiles,
}

/// CPU fraction -> (quota, period) in µs: 0.5 -> (50000, 100000).
pub fn cpu_quota(cpus: f64) -> Result<(u64, u64)> {
    if !cpus.is_finite() || cpus <= 0.0 {
        return Err(Error::Refused(format!(
            "invalid cpu limit {cpus}: expected a positive fraction of a CPU, such as 0.5"
        )));
    }
    let quota = (cpus * CPU_PERIOD_US as f64).round();
    if quota < MIN_CPU_QUOTA_US as f64 {
        return Err(Error::Refused(format!(
            "cpu limit {cpus} is below the kernel's minimum quota of {MIN_CPU_QUOTA_US} µs per \
             {CPU_PERIOD_US} µs (0.01 CPU)"
        )));
    }
    if quota > i64::MAX as f64 {
        return Err(Error::Refused(format!("cpu limit {cpus} is too large")));
    }
    Ok((quota as u64, CPU_PERIOD_US))
}

/// One directory of the cgroup, in one hierarchy.
#[derive(Debug, Clone)]
struct Part {
    version: Version,
    /// The parent of `dir`: the hierarchy's mount point, or on v2 rootless the
    /// delegated node `Host::base` found.
    parent: PathBuf,
    dir: PathBuf,
    controllers: Vec<Controller>,
}

/// The container's cgroup: one directory per hierarchy used.
#[derive(Debug, Clone)]
pub struct Cgroup {
    name: String,
    parts: Vec<Part>,
    /// Another's cgroup, read by `explore`: never written, joined or removed.
    observed: bool,
}

fn check_name(name: &str) -> Result<()> {
    let ok = name.starts_with(PREFIX)
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_' || c == '.');
    if !ok {
        return Err(Error::Refused(format!(
            "invalid cgroup name {name:?}: must start with {PREFIX:?} and use only letters, digits, '-', '_', '.'"
        )));
    }
    Ok(())
}

/// Which hierarchies a cgroup is made in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scope {
    /// Every hierarchy holding memory, pids or cpu, limited or not, so that usage can be
    /// watched in all of them (the TUI's panes).
    Every,
    /// Only those holding a limited controller. On a v1 host each hierarchy costs a
    /// mkdir, a write to `cgroup.procs` and an rmdir at teardown (`run`).
    Limited,
}

impl Scope {
    /// The controllers whose hierarchies get a directory.
    pub fn controllers(self, limits: &Limits) -> Vec<Controller> {
        match self {
            Scope::Every => Controller::ALL.to_vec(),
            Scope::Limited => requested(limits),
        }
    }
}

fn requested(limits: &Limits) -> Vec<Controller> {
    let mut out = Vec::new();
    if limits.memory.is_some() {
        out.push(Controller::Memory);
    }
    if limits.pids.is_some() {
        out.push(Controller::Pids);
    }
    if limits.cpus.is_some() {
        out.push(Controller::Cpu);
    }
    out
}

impl Cgroup {
    /// The directories `name` would have on this host, in every hierarchy holding one
    /// of memory/pids/cpu. Nothing is created.
    pub fn plan(host: &Host, name: &str) -> Result<Cgroup> {
        Cgroup::plan_for(host, name, &Controller::ALL)
    }

    /// Like [`Cgroup::plan`], in the hierarchies holding one of `controllers` only.
    pub fn plan_for(host: &Host, name: &str, controllers: &[Controller]) -> Result<Cgroup> {
        check_name(name)?;
        let mut parts: Vec<Part> = Vec::new();
        for c in Controller::ALL
            .into_iter()
            .filter(|c| controllers.contains(c))
        {
            let Some(h) = host.hierarchy(c) else { continue };
            let parent = host.base(h);
            match parts.iter_mut().find(|p| p.parent == parent) {
                Some(p) => p.controllers.push(c),
                None => parts.push(Part {
                    version: h.version,
                    dir: parent.join(name),
                    parent,
                    controllers: vec![c],
                }),
            }
        }
        if parts.is_empty() {
            return Err(Error::Missing(format!(
                "no memory, pids or cpu controller on this host:\n{}",
                host.describe()
            )));
        }
        Ok(Cgroup {
            name: name.to_string(),
            parts,
            observed: false,
        })
    }

    /// mkdir in each needed hierarchy (on v2 after enabling the controllers in the
    /// parent's `cgroup.subtree_control`), then write the limits. On failure, whatever
    /// was created is removed again (also recorded) before the error is returned.
    pub fn create(host: &Host, name: &str, limits: &Limits, report: &mut Report) -> Result<Cgroup> {
        Cgroup::create_in(host, name, limits, Scope::Every, report)
    }

    /// Like [`Cgroup::create`], in the hierarchies `scope` names.
    pub fn create_in(
        host: &Host,
        name: &str,
        limits: &Limits,
        scope: Scope,
        report: &mut Report,
    ) -> Result<Cgroup> {
        if let Some(cpus) = limits.cpus {
            cpu_quota(cpus)?;
        }
        let wanted = requested(limits);
        for c in &wanted {
            if host.hierarchy(*c).is_none() {
                return Err(Error::Missing(format!(
                    "a {} limit was asked for, but this host has no {} controller:\n{}",
                    c.name(),
                    c.name(),
                    host.describe()
                )));
            }
        }
        let mut cg = Cgroup::plan_for(host, name, &scope.controllers(limits))?;
        for part in cg.parts.iter_mut().filter(|p| p.version == Version::V2) {
            part.controllers =
                v2::enable_controllers(&part.parent, &part.controllers, &wanted, report)?;
        }
        cg.parts.retain(|p| !p.controllers.is_empty());

        let mut made = Cgroup {
            name: cg.name.clone(),
            parts: Vec::new(),
            observed: false,
        };
        for part in &cg.parts {
            if let Err(e) = files::mkdir(report, &part.dir) {
                return Err(made.undo(e, report));
            }
            made.parts.push(part.clone());
        }
        if let Err(e) = made.set_limits(limits, report) {
            return Err(made.undo(e, report));
        }
        Ok(made)
    }

    /// Removes what `create` made so far and returns its error, with a word about
    /// the cleanup if that failed too.
    fn undo(&self, err: Error, report: &mut Report) -> Error {
        match self.remove(report) {
            Ok(()) => err,
            Err(e) => Error::Undo {
                err: Box::new(err),
                cleanup: Box::new(e),
            },
        }
    }

    /// Refuses to change a cgroup we only observe (see `observed.rs`).
    fn ours(&self, what: &str) -> Result<()> {
        if self.observed {
            return Err(Error::Refused(format!(
                "refusing to {what} cgroup {}: underhood only reads it",
                self.name
            )));
        }
        Ok(())
    }

    fn part(&self, c: Controller) -> Option<&Part> {
        self.parts.iter().find(|p| p.controllers.contains(&c))
    }

    /// Writes the given limits (those that are `Some`) to the cgroup's files.
    pub fn set_limits(&self, limits: &Limits, report: &mut Report) -> Result<()> {
        self.ours("limit")?;
        let need = |c: Controller| {
            self.part(c).ok_or_else(|| {
                Error::Missing(format!(
                    "cgroup {} has no {} controller",
                    self.name,
                    c.name()
                ))
            })
        };
        if let Some(bytes) = limits.memory {
            let p = need(Controller::Memory)?;
            match p.version {
                Version::V1 => v1::set_memory(&p.parent, &p.dir, bytes, report)?,
                Version::V2 => v2::set_memory(&p.dir, bytes, report)?,
            }
        }
        if let Some(max) = limits.pids {
            let p = need(Controller::Pids)?;
            match p.version {
                Version::V1 => v1::set_pids(&p.parent, &p.dir, max, report)?,
                Version::V2 => v2::set_pids(&p.dir, max, report)?,
            }
        }
        if let Some(cpus) = limits.cpus {
            let (quota, period) = cpu_quota(cpus)?;
            let p = need(Controller::Cpu)?;
            match p.version {
                Version::V1 => v1::set_cpu(&p.parent, &p.dir, quota, period, report)?,
                Version::V2 => v2::set_cpu(&p.dir, quota, period, report)?,
            }
        }
        Ok(())
    }

    pub fn name(&self) -> &str {
        &self.name
    }

    /// The directory holding `controller`, if the cgroup has it.
    pub fn dir(&self, controller: Controller) -> Option<&Path> {
        self.part(controller).map(|p| p.dir.as_path())
    }

    /// Moves a process (all its threads) in: its pid goes to `cgroup.procs` in every
    /// hierarchy used. Children it forks later are born inside.
    pub fn add_pid(&self, pid: i32, report: &mut Report) -> Result<()> {
        self.ours("move a process into")?;
        self.add_pid_to(pid, report, |_| true)
    }

    /// [`Cgroup::add_pid`] in the v2 hierarchy only: the v1 ones are joined by the
    /// process itself (see [`Cgroup::v1_tasks`]).
    pub fn add_pid_v2(&self, pid: i32, report: &mut Report) -> Result<()> {
        self.ours("move a process into")?;
        self.add_pid_to(pid, report, |v| v == Version::V2)
    }

    fn add_pid_to(&self, pid: i32, r: &mut Report, pick: impl Fn(Version) -> bool) -> Result<()> {
        for p in self.parts.iter().filter(|p| pick(p.version)) {
            files::write(r, &p.dir.join("cgroup.procs"), &pid.to_string())?;
        }
        Ok(())
    }

    /// The `tasks` file of each v1 hierarchy used. A thread that writes "0" there moves
    /// itself in without the global lock (cgroup_threadgroup_rwsem) that a write of a
    /// pid to `cgroup.procs` takes for writing, whose first taker waits for an RCU
    /// grace period: 10-20 ms on a busy 2-CPU VM, against 25 µs for the "0".
    pub fn v1_tasks(&self) -> Vec<PathBuf> {
        let v1 = self.parts.iter().filter(|p| p.version == Version::V1);
        v1.map(|p| p.dir.join("tasks")).collect()
    }

    /// Every directory created, for the crash-recovery state file.
    pub fn dirs(&self) -> Vec<PathBuf> {
        self.parts.iter().map(|p| p.dir.clone()).collect()
    }

    /// Current, limit, peak and OOM-kill count, with the files they came from.
    pub fn memory(&self) -> Result<MemoryUsage> {
        let p = self.part(Controller::Memory).ok_or_else(|| {
            Error::Missing(format!("cgroup {} has no memory controller", self.name))
        })?;
        match p.version {
            Version::V1 => v1::memory(&p.dir),
            Version::V2 => v2::memory(&p.dir),
        }
    }

    /// `pids.current`, or `None` when there is no pids controller.
    pub fn pids_current(&self) -> Result<Option<u64>> {
        match self.part(Controller::Pids) {
            Some(p) => files::read_u64(&p.dir.join("pids.current")).map(Some),
            None => Ok(None),
        }
    }

    /// A pollable OOM event source: inotify on `memory.events` (v2) or an eventfd
    /// registered for `memory.oom_control` (v1).
    pub fn oom_events(&self) -> Result<OomEvents> {
        let p = self.part(Controller::Memory).ok_or_else(|| {
            Error::Missing(format!("cgroup {} has no memory controller", self.name))
        })?;
        match p.version {
            Version::V1 => OomEvents::v1(&p.dir),
            Version::V2 => OomEvents::v2(&p.dir),
        }
    }

    /// Kills what is left inside and removes every directory (retrying rmdir while the
    /// kernel answers EBUSY). Tries them all; returns the first error.
    pub fn remove(&self, report: &mut Report) -> Result<()> {
        self.ours("remove")?;
        let mut first = None;
        for p in self.parts.iter().rev() {
            if let Err(e) = remove::remove_recorded(&p.dir, report) {
                first.get_or_insert(e);
            }
        }
        first.map_or(Ok(()), Err)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use fixture::Fixture;

    #[test]
    fn cpu_fraction_to_quota() {
        assert_eq!(cpu_quota(0.5).ok(), Some((50_000, 100_000)));
        assert_eq!(cpu_quota(1.0).ok(), Some((100_000, 100_000)));
        assert_eq!(cpu_quota(2.5).ok(), Some((250_000, 100_000)));
        assert_eq!(cpu_quota(0.333).ok(), Some((33_300, 100_000)));
        assert_eq!(cpu_quota(0.01).ok(), Some((1_000, 100_000)));
        for bad in [0.0, -1.0, 0.004, f64::NAN, f64::INFINITY] {
            assert!(cpu_quota(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn names_must_be_ours_and_plain() {
        let fx = Fixture::v2();
        let host = Host::from_files(fx.root()).expect("host");
        for bad in ["mine", "underhood/../x", "underhood x", ""] {
            assert!(Cgroup::plan(&host, bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn plan_per_layout() {
        let v2 = Fixture::v2();
        let host = Host::from_files(v2.root()).expect("v2");
        let cg = Cgroup::plan(&host, "underhood-ab12").expect("plan");
        assert_eq!(cg.dirs(), vec![v2.root().join("underhood-ab12")]);

        let v1 = Fixture::v1();
        let host = Host::from_files(v1.root()).expect("v1");
        let cg = Cgroup::plan(&host, "underhood-ab12").expect("plan");
        let dirs: Vec<PathBuf> = ["memory", "pids", "cpu,cpuacct"]
            .iter()
            .map(|h| v1.root().join(h).join("underhood-ab12"))
            .collect();
        assert_eq!(cg.dirs(), dirs);

        let hy = Fixture::hybrid();
        let host = Host::from_files(hy.root()).expect("hybrid");
        let cg = Cgroup::plan(&host, "underhood-ab12").expect("plan");
        let dirs: Vec<PathBuf> = ["memory", "pids", "cpu"]
            .iter()
            .map(|h| hy.root().join(h).join("underhood-ab12"))
            .collect();
        assert_eq!(
            cg.dirs(),
            dirs,
            "nothing in unified: it has none of our controllers"
        );
        assert_eq!(
            cg.dir(Controller::Cpu),
            Some(hy.root().join("cpu/underhood-ab12").as_path())
        );
    }

    #[test]
    fn limited_scope_plans_only_the_limited_hierarchies() {
        let hy = Fixture::hybrid();
        let host = Host::from_files(hy.root()).expect("hybrid");
        let only_memory = Limits {
            memory: Some(32 << 20),
            ..Limits::default()
        };
        let wanted = Scope::Limited.controllers(&only_memory);
        assert_eq!(wanted, vec![Controller::Memory]);
        let cg = Cgroup::plan_for(&host, "underhood-ab12", &wanted).expect("plan");
        assert_eq!(cg.dirs(), vec![hy.root().join("memory/underhood-ab12")]);
        assert_eq!(
            Scope::Every.controllers(&only_memory),
            Controller::ALL.to_vec()
        );
    }

    fn limits() -> Limits {
        Limits {
            memory: Some(32 << 20),
            pids: Some(20),
            cpus: Some(0.5),
        }
    }

    #[test]
    fn v2_set_limits_add_pid_and_read_usage() {
        let fx = Fixture::v2();
        let host = Host::from_files(fx.root()).expect("v2");
        fx.v2_child("underhood-s");
        let cg = Cgroup::plan(&host, "underhood-s").expect("plan");
        let mut r = Report::new("cgroup");
        cg.set_limits(&limits(), &mut r).expect("limits");
        cg.add_pid(4242, &mut r).expect("add");
        for (f, v) in [
            ("memory.max", "33554432"),
            ("memory.swap.max", "0"),
            ("pids.max", "20"),
            ("cpu.max", "50000 100000"),
            ("cgroup.procs", "4242"),
        ] {
            assert_eq!(fx.read(&format!("underhood-s/{f}")), v, "{f}");
        }
        assert!(r.failure().is_none());
        fx.file("underhood-s/pids.current", "3\n");
        assert_eq!(cg.pids_current().ok(), Some(Some(3)));
        assert_eq!(
            cg.memory().map(|m| m.files.current).ok(),
            Some("memory.current")
        );
    }

    #[test]
    fn hybrid_set_limits_goes_to_v1_files() {
        let fx = Fixture::hybrid();
        let host = Host::from_files(fx.root()).expect("hybrid");
        fx.v1_child("memory/underhood-s", "memory");
        fx.v1_child("pids/underhood-s", "pids");
        fx.v1_child("cpu/underhood-s", "cpu");
        let cg = Cgroup::plan(&host, "underhood-s").expect("plan");
        let mut r = Report::new("cgroup");
        cg.set_limits(&limits(), &mut r).expect("limits");
        cg.add_pid(4242, &mut r).expect("add");
        let written: Vec<String> = r
            .calls
            .iter()
            .map(|c| c.args.replace(&fx.root().display().to_string(), "R"))
            .collect();
        assert_eq!(
            written,
            vec![
                "R/memory/underhood-s/memory.limit_in_bytes <- 33554432",
                "R/memory/underhood-s/memory.memsw.limit_in_bytes <- 33554432",
                "R/pids/underhood-s/pids.max <- 20",
                "R/cpu/underhood-s/cpu.cfs_period_us <- 100000",
                "R/cpu/underhood-s/cpu.cfs_quota_us <- 50000",
                "R/memory/underhood-s/cgroup.procs <- 4242",
                "R/pids/underhood-s/cgroup.procs <- 4242",
                "R/cpu/underhood-s/cgroup.procs <- 4242",
            ]
        );
        assert_eq!(fx.read("cpu/underhood-s/cpu.cfs_quota_us"), "50000");
        assert_eq!(
            cg.memory().map(|m| m.files.limit).ok(),
            Some("memory.limit_in_bytes")
        );
    }

    #[test]
    fn v2_create_enables_controllers_then_rolls_back_on_failure() {
        // A plain directory gets no interface files on mkdir, so writing memory.max fails
        // with ENOENT, as on a kernel where memory was not enabled for children. create()
        // must say so with path and errno, and leave nothing behind.
        let fx = Fixture::v2();
        fx.file("cgroup.subtree_control", "cpu\n");
        let host = Host::from_files(fx.root()).expect("v2");
        let mut r = Report::new("cgroup");
        let err = Cgroup::create(&host, "underhood-rb", &limits(), &mut r)
            .err()
            .map(|e| format!("{e:#}"));
        let err = err.unwrap_or_default();
        let dir = fx.root().join("underhood-rb");
        assert!(
            err.starts_with(&format!(
                "writing \"33554432\" to {}: ENOENT",
                dir.join("memory.max").display()
            )),
            "{err}"
        );
        assert!(!dir.exists(), "rolled back");
        let names: Vec<&str> = r.calls.iter().map(|c| c.name.as_str()).collect();
        assert_eq!(names, vec!["write", "write", "mkdir", "write", "rmdir"]);
        assert!(
            r.calls[0]
                .args
                .ends_with("cgroup.subtree_control <- +memory")
        );
        assert!(r.calls[1].args.ends_with("cgroup.subtree_control <- +pids"));
    }

    #[test]
    fn create_refuses_limits_without_controller_and_existing_dirs() {
        let fx = Fixture::v2();
        fx.file("cgroup.controllers", "cpu io\n");
        let host = Host::from_files(fx.root()).expect("v2");
        let mut r = Report::new("cgroup");
        let err = Cgroup::create(&host, "underhood-nm", &limits(), &mut r)
            .err()
            .map(|e| e.to_string());
        assert!(
            err.unwrap_or_default()
                .starts_with("a memory limit was asked for")
        );
        assert!(r.calls.is_empty(), "nothing touched");

        let fx = Fixture::v1();
        std::fs::create_dir_all(fx.root().join("pids/underhood-old")).expect("mkdir");
        let host = Host::from_files(fx.root()).expect("v1");
        let mut r = Report::new("cgroup");
        let err = Cgroup::create(&host, "underhood-old", &Limits::default(), &mut r)
            .err()
            .map(|e| e.to_string());
        assert!(err.unwrap_or_default().contains("underhood-old: EEXIST"));
        assert!(
            !fx.root().join("memory/underhood-old").exists(),
            "the memory dir made first was removed again"
        );
        assert!(
            fx.root().join("pids/underhood-old").exists(),
            "the stale dir is not ours to remove here"
        );
    }
}
