//! Another process's cgroup, for reading only: `underhood explore` draws the memory
//! graph of a container someone else made (runc, Docker, a learner's `mkdir`) from the
//! same files ours are read from, whatever their names.
//!
//! Where a process is: `/proc/<pid>/cgroup`, one line per hierarchy,
//! `hierarchy-ID:controller-list:cgroup-path` (cgroups(7)); v2's line is `0::/path`. The
//! path is relative to the hierarchy's root as the reader's cgroup namespace sees it,
//! which for us (the host's) is the mount point: `/sys/fs/cgroup/memory` + the path.
//!
//! A cgroup made here is marked observed: [`Cgroup::remove`], [`Cgroup::add_pid`] and
//! [`Cgroup::set_limits`] refuse it, so an explorer can never kill or limit what it looks at.

use std::path::{Path, PathBuf};

use super::error::{Error, Result};

use super::layout::{Controller, Host, Version};
use super::{Cgroup, Part, files};

/// One line of `/proc/<pid>/cgroup`: (controllers, path). Malformed lines are skipped.
fn lines(proc_cgroup: &str) -> Vec<(Vec<&str>, &str)> {
    proc_cgroup
        .lines()
        .filter_map(|l| {
            let (_, rest) = l.split_once(':')?;
            let (controllers, path) = rest.split_once(':')?;
            let list = controllers.split(',').filter(|c| !c.is_empty()).collect();
            // A cgroup removed while a process is still charged to it reads "(deleted)".
            Some((list, path.trim_end_matches(" (deleted)")))
        })
        .collect()
}

/// The limits a cgroup's files hold, as read (`None`: no limit, or no such controller).
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct ReadLimits {
    pub memory: Option<u64>,
    pub pids: Option<u64>,
    /// (quota, period) in µs.
    pub cpu: Option<(u64, u64)>,
    /// The files the values came from, e.g. `memory.limit_in_bytes`, `pids.max`.
    pub files: Vec<String>,
}

impl Cgroup {
    /// The cgroup a process is in, from its `/proc/<pid>/cgroup` text, in every
    /// hierarchy holding memory, pids or cpu.
    pub fn observed(host: &Host, proc_cgroup: &str) -> Result<Cgroup> {
        let found = lines(proc_cgroup);
        let mut parts: Vec<Part> = Vec::new();
        let mut name = String::new();
        for c in Controller::ALL {
            let Some(h) = host.hierarchy(c) else { continue };
            let path = match h.version {
                Version::V1 => found.iter().find(|(cs, _)| cs.contains(&c.name())),
                Version::V2 => found.iter().find(|(cs, _)| cs.is_empty()),
            };
            let Some((_, path)) = path else { continue };
            if c == Controller::Memory || name.is_empty() {
                name = path.to_string();
            }
            push(&mut parts, h.version, &h.mount, path, c);
        }
        if parts.is_empty() {
            return Err(Error::NotFound(format!(
                "no memory, pids or cpu hierarchy of this host names the process in {proc_cgroup:?}:\n{}",
                host.describe()
            )));
        }
        Ok(Cgroup {
            name,
            parts,
            observed: true,
        })
    }

    /// A cgroup named by a directory (`/sys/fs/cgroup/memory/docker/ab12`) or by its path
    /// inside the hierarchies (`/docker/ab12`): in each hierarchy where it exists.
    pub fn observed_path(host: &Host, path: &Path) -> Result<Cgroup> {
        let inner: PathBuf = match host
            .hierarchies
            .iter()
            .find_map(|h| path.strip_prefix(&h.mount).ok())
        {
            Some(rel) => Path::new("/").join(rel),
            None => path.to_path_buf(),
        };
        let text = inner.to_string_lossy().into_owned();
        let mut parts: Vec<Part> = Vec::new();
        for c in Controller::ALL {
            let Some(h) = host.hierarchy(c) else { continue };
            if h.mount.join(text.trim_start_matches('/')).is_dir() {
                push(&mut parts, h.version, &h.mount, &text, c);
            }
        }
        if parts.is_empty() {
            return Err(Error::NotFound(format!(
                "{}: no such cgroup in this host's memory, pids or cpu hierarchies:\n{}",
                path.display(),
                host.describe()
            )));
        }
        Ok(Cgroup {
            name: text,
            parts,
            observed: true,
        })
    }

    /// Whether this cgroup was found, not made (see the module docs).
    pub fn is_observed(&self) -> bool {
        self.observed
    }

    /// The directory holding each controller, for `cgroup.procs` and the like.
    pub fn procs_file(&self) -> Option<PathBuf> {
        self.parts.first().map(|p| p.dir.join("cgroup.procs"))
    }

    /// The memory, pids and cpu limits as the files say.
    pub fn read_limits(&self) -> ReadLimits {
        let mut out = ReadLimits::default();
        if let Ok(m) = self.memory() {
            out.memory = m.limit;
            out.files.push(m.files.limit.to_string());
        }
        if let Some(p) = self.part(Controller::Pids) {
            out.pids = files::read_max(&p.dir.join("pids.max")).ok().flatten();
            out.files.push("pids.max".to_string());
        }
        if let Some(p) = self.part(Controller::Cpu) {
            let cpu = match p.version {
                Version::V1 => {
                    let quota = files::read(&p.dir.join("cpu.cfs_quota_us")).ok();
                    let period = files::read_u64(&p.dir.join("cpu.cfs_period_us")).ok();
                    out.files.push("cpu.cfs_quota_us".to_string());
                    match (quota.and_then(|q| q.trim().parse::<i64>().ok()), period) {
                        (Some(q), Some(p)) if q > 0 => Some((q as u64, p)),
                        _ => None,
                    }
                }
                Version::V2 => {
                    out.files.push("cpu.max".to_string());
                    files::read(&p.dir.join("cpu.max"))
                        .ok()
                        .and_then(|t| parse_cpu_max(&t))
                }
            };
            out.cpu = cpu;
        }
        out
    }
}

/// v2 `cpu.max`: `max 100000` (no limit) or `50000 100000`.
pub fn parse_cpu_max(text: &str) -> Option<(u64, u64)> {
    let mut it = text.split_whitespace();
    let quota = it.next()?.parse().ok()?;
    let period = it.next()?.parse().ok()?;
    Some((quota, period))
}

/// Parts are told apart by their hierarchy's mount point, kept as `parent`: an
/// observed cgroup is never written, so nothing uses it as the parent of `dir`.
fn push(parts: &mut Vec<Part>, version: Version, mount: &Path, path: &str, c: Controller) {
    match parts.iter_mut().find(|p| p.parent == mount) {
        Some(p) => p.controllers.push(c),
        None => parts.push(Part {
            version,
            parent: mount.to_path_buf(),
            dir: mount.join(path.trim_start_matches('/')),
            controllers: vec![c],
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::runtime::cgroup::fixture::Fixture;
    use crate::runtime::report::Report;

    /// /proc/<pid>/cgroup of `runc run`'s container on the hybrid development machine.
    const RUNC_HYBRID: &str = "9:name=systemd:/uhdemo\n8:pids:/uhdemo\n7:blkio:/uhdemo\n4:memory:/process_api/67b2/uhdemo\n1:cpu:/uhdemo\n0::/uhdemo\n";

    #[test]
    fn finds_each_hierarchys_directory() {
        let fx = Fixture::v1();
        let host = Host::from_files(fx.root()).expect("layout");
        let cg = Cgroup::observed(&host, RUNC_HYBRID).expect("observed");
        assert!(cg.is_observed());
        assert_eq!(cg.name(), "/process_api/67b2/uhdemo");
        let memory = cg.dir(Controller::Memory).expect("memory dir");
        assert!(
            memory.ends_with("memory/process_api/67b2/uhdemo"),
            "{memory:?}"
        );
        let pids = cg.dir(Controller::Pids).expect("pids dir");
        assert!(pids.ends_with("pids/uhdemo"), "{pids:?}");
        let mut r = Report::new("t");
        assert!(cg.remove(&mut r).is_err());
        assert!(cg.add_pid(1, &mut r).is_err());
    }

    #[test]
    fn v2_takes_the_zero_line() {
        let fx = Fixture::v2();
        let host = Host::from_files(fx.root()).expect("layout");
        let cg = Cgroup::observed(&host, "0::/system.slice/docker-ab12.scope\n").expect("v2");
        let dir = cg.dir(Controller::Memory).expect("memory");
        assert!(dir.ends_with("system.slice/docker-ab12.scope"), "{dir:?}");
        assert_eq!(parse_cpu_max("max 100000\n"), None);
        assert_eq!(parse_cpu_max("50000 100000\n"), Some((50000, 100000)));
    }

    #[test]
    fn a_path_names_a_cgroup_in_the_hierarchies_that_have_it() {
        let fx = Fixture::v1();
        fx.v1_child("memory/underhood-x", "memory");
        let host = Host::from_files(fx.root()).expect("layout");
        let full = host
            .hierarchy(Controller::Memory)
            .expect("memory")
            .mount
            .join("underhood-x");
        for given in [full.clone(), PathBuf::from("/underhood-x")] {
            let cg = Cgroup::observed_path(&host, &given).expect("found");
            assert_eq!(cg.dir(Controller::Memory), Some(full.as_path()));
            assert_eq!(cg.dir(Controller::Pids), None);
        }
        let err = Cgroup::observed_path(&host, Path::new("/nope")).expect_err("absent");
        assert!(format!("{err:#}").contains("/nope"), "{err:#}");
    }
}
