//! Where the cgroup controllers live on this host.
//!
//! - **v1** (legacy): `/sys/fs/cgroup` is a tmpfs; each controller (or group of
//!   co-mounted controllers, such as `cpu,cpuacct`) is its own `cgroup` mount below it
//!   (Documentation/admin-guide/cgroup-v1/cgroups.rst).
//! - **v2** (unified): `/sys/fs/cgroup` is one `cgroup2` mount; its available controllers
//!   are listed in `cgroup.controllers` at the root (Documentation/admin-guide/cgroup-v2.rst).
//! - **hybrid**: v1 mounts plus a `cgroup2` mount (systemd puts it at
//!   `/sys/fs/cgroup/unified`). A controller can be bound to one hierarchy only, so each
//!   of memory, pids and cpu is on v1 *or* on v2; usually all of them are on v1.
//!
//! Detection parses mountinfo text (fs type `cgroup`/`cgroup2`, super options naming the
//! v1 controllers) restricted to mounts at or below the cgroup root, so a fixture can
//! describe a tempdir. When mountinfo names no such mount it falls back to the files
//! under the root (`cgroup.controllers` marks v2, a directory name such as
//! `cpu,cpuacct` names v1 controllers).

use std::fmt;
use std::path::{Path, PathBuf};

use super::error::{Error, Result};

use super::delegate::{self, Delegated};
use super::files;
use crate::runtime::paths::Paths;

/// The two cgroup interfaces a hierarchy can speak.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Version {
    V1,
    V2,
}

impl fmt::Display for Version {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Version::V1 => "v1",
            Version::V2 => "v2",
        })
    }
}

/// The controllers underhood uses.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Controller {
    Memory,
    Pids,
    Cpu,
}

impl Controller {
    pub const ALL: [Controller; 3] = [Controller::Memory, Controller::Pids, Controller::Cpu];

    /// The kernel's name for it, as in `cgroup.controllers` and v1 mount options.
    pub fn name(self) -> &'static str {
        match self {
            Controller::Memory => "memory",
            Controller::Pids => "pids",
            Controller::Cpu => "cpu",
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Layout {
    V1,
    V2,
    Hybrid,
}

impl fmt::Display for Layout {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Layout::V1 => "cgroup v1",
            Layout::V2 => "cgroup v2",
            Layout::Hybrid => "hybrid (v1 + v2)",
        })
    }
}

/// One mounted cgroup hierarchy.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Hierarchy {
    pub version: Version,
    /// Where it is mounted: `/sys/fs/cgroup/memory`, or `/sys/fs/cgroup` on v2.
    pub mount: PathBuf,
    /// Controllers bound to it: the v1 mount options (`memory`, `cpu`, `cpuacct`,
    /// `name=systemd`) or the v2 root's `cgroup.controllers`.
    pub controllers: Vec<String>,
}

impl Hierarchy {
    pub fn has(&self, c: Controller) -> bool {
        self.controllers.iter().any(|n| n == c.name())
    }
}

/// The cgroup layout of the host, detected once.
#[derive(Debug, Clone)]
pub struct Host {
    pub layout: Layout,
    /// The injected cgroup root (normally `/sys/fs/cgroup`).
    pub root: PathBuf,
    /// Every cgroup hierarchy mounted at or below `root`.
    pub hierarchies: Vec<Hierarchy>,
    /// How the layout was found, for `doctor`.
    pub source: String,
    /// Rootless, where the v2 root is not ours to write: the delegated subtree our v2
    /// cgroups are made in instead (`delegate.rs`), if there is a usable one.
    pub delegated: Option<Delegated>,
}

/// v1 controller names as they appear in mount options (cgroup-v1/cgroups.rst and
/// `/proc/cgroups`); other options (`rw`, `xattr`, `release_agent=`...) are not controllers.
const V1_CONTROLLERS: &[&str] = &[
    "cpu",
    "cpuacct",
    "cpuset",
    "memory",
    "devices",
    "freezer",
    "net_cls",
    "net_prio",
    "blkio",
    "perf_event",
    "hugetlb",
    "pids",
    "rdma",
    "misc",
    "debug",
];

impl Host {
    /// Detects the layout from `<proc_root>/self/mountinfo`, falling back to the files
    /// under `paths.cgroup_root` when mountinfo is unreadable or names no cgroup mount there
    /// (a tempdir fixture, or a container whose /proc is not ours).
    pub fn detect(paths: &Paths) -> Result<Host> {
        let mountinfo = paths.proc_root.join("self/mountinfo");
        let why = match std::fs::read_to_string(&mountinfo) {
            Ok(text) => match Host::from_mountinfo(&paths.cgroup_root, &text) {
                Ok(mut host) => {
                    host.source = format!("mounts in {}", mountinfo.display());
                    host.delegated = delegate::for_host(&host, paths);
                    return Ok(host);
                }
                Err(e) => e.to_string(),
            },
            Err(e) => format!("reading {}: {}", mountinfo.display(), files::errno_of(&e)),
        };
        let mut host = Host::from_files(&paths.cgroup_root)
            .map_err(|e| Error::Missing(format!("{e}; {why}")))?;
        host.source = format!("files under {} ({why})", paths.cgroup_root.display());
        host.delegated = delegate::for_host(&host, paths);
        Ok(host)
    }

    /// Builds the layout from mountinfo text; v2 controllers come from the
    /// `cgroup.controllers` file of each `cgroup2` mount.
    pub fn from_mountinfo(cgroup_root: &Path, mountinfo: &str) -> Result<Host> {
        let mut found: Vec<Hierarchy> = Vec::new();
        for line in mountinfo.lines() {
            let Some(m) = parse_mountinfo_line(line) else {
                continue;
            };
            if !m.mount_point.starts_with(cgroup_root) {
                continue;
            }
            let h = match m.fs_type.as_str() {
                "cgroup" => Hierarchy {
                    version: Version::V1,
                    controllers: m
                        .super_options
                        .split(',')
                        .filter(|o| V1_CONTROLLERS.contains(o) || o.starts_with("name="))
                        .map(str::to_string)
                        .collect(),
                    mount: m.mount_point,
                },
                "cgroup2" => Hierarchy {
                    version: Version::V2,
                    controllers: v2_controllers(&m.mount_point),
                    mount: m.mount_point,
                },
                _ => continue,
            };
            // A later line mounted over an earlier one at the same place hides it.
            found.retain(|old| old.mount != h.mount);
            found.push(h);
        }
        if found.is_empty() {
            return Err(Error::Missing(format!(
                "mountinfo names no cgroup mount under {}",
                cgroup_root.display()
            )));
        }
        Ok(Host::new(cgroup_root, found, "mountinfo"))
    }

    /// Builds the layout from the files under the cgroup root alone.
    pub fn from_files(cgroup_root: &Path) -> Result<Host> {
        if cgroup_root.join("cgroup.controllers").is_file() {
            let h = Hierarchy {
                version: Version::V2,
                controllers: v2_controllers(cgroup_root),
                mount: cgroup_root.to_path_buf(),
            };
            return Ok(Host::new(cgroup_root, vec![h], "files"));
        }
        let entries = std::fs::read_dir(cgroup_root).map_err(|err| Error::Io {
            op: "reading",
            path: cgroup_root.to_path_buf(),
            err,
        })?;
        let mut found = Vec::new();
        for entry in entries.flatten() {
            let path = entry.path();
            // Distributions add symlinks (`cpu -> cpu,cpuacct`); the real mount is enough.
            if entry.file_type().map(|t| t.is_symlink()).unwrap_or(true) || !path.is_dir() {
                continue;
            }
            let name = entry.file_name().to_string_lossy().into_owned();
            if path.join("cgroup.controllers").is_file() {
                found.push(Hierarchy {
                    version: Version::V2,
                    controllers: v2_controllers(&path),
                    mount: path,
                });
            } else if path.join("cgroup.procs").is_file() {
                let controllers = if name == "systemd" {
                    vec!["name=systemd".to_string()]
                } else {
                    name.split(',').map(str::to_string).collect()
                };
                found.push(Hierarchy {
                    version: Version::V1,
                    controllers,
                    mount: path,
                });
            }
        }
        if found.is_empty() {
            return Err(Error::Missing(format!(
                "no cgroup hierarchy found under {}",
                cgroup_root.display()
            )));
        }
        found.sort_by(|a, b| a.mount.cmp(&b.mount));
        Ok(Host::new(cgroup_root, found, "files"))
    }

    fn new(root: &Path, hierarchies: Vec<Hierarchy>, source: &str) -> Host {
        let v1 = hierarchies.iter().any(|h| {
            h.version == Version::V1 && h.controllers.iter().any(|c| !c.starts_with("name="))
        });
        let v2 = hierarchies.iter().any(|h| h.version == Version::V2);
        let layout = match (v1, v2) {
            (true, true) => Layout::Hybrid,
            (false, true) => Layout::V2,
            _ => Layout::V1,
        };
        Host {
            layout,
            root: root.to_path_buf(),
            hierarchies,
            source: source.to_string(),
            delegated: None,
        }
    }

    /// Where our cgroup is made in `h`: the hierarchy's root, or on v2 the delegated
    /// subtree found for a rootless user.
    pub fn base(&self, h: &Hierarchy) -> PathBuf {
        match &self.delegated {
            Some(d) if h.version == Version::V2 && d.base.starts_with(&h.mount) => d.base.clone(),
            _ => h.mount.clone(),
        }
    }

    /// The hierarchy a controller is bound to, if any.
    pub fn hierarchy(&self, c: Controller) -> Option<&Hierarchy> {
        self.hierarchies.iter().find(|h| h.has(c))
    }

    /// Which of memory/pids/cpu are usable, and where (for `doctor` and the TUI header).
    pub fn describe(&self) -> String {
        let mut out = format!("cgroups: {self} (from {})\n", self.source);
        for c in Controller::ALL {
            let line = match self.hierarchy(c) {
                Some(h) if h.version == Version::V2 => {
                    let enabled = files::read(&h.mount.join("cgroup.subtree_control"))
                        .map(|t| t.split_whitespace().any(|n| n == c.name()))
                        .unwrap_or(false);
                    let state = if enabled {
                        "enabled for child cgroups"
                    } else {
                        "not yet in cgroup.subtree_control: underhood will enable it"
                    };
                    format!("{:<7} v2 at {} ({state})", c.name(), h.mount.display())
                }
                Some(h) => format!("{:<7} v1 at {}", c.name(), h.mount.display()),
                None => format!("{:<7} missing: no mounted hierarchy offers it", c.name()),
            };
            out.push_str("  ");
            out.push_str(&line);
            out.push('\n');
        }
        for h in &self.hierarchies {
            if h.version == Version::V2 && !Controller::ALL.iter().any(|c| h.has(*c)) {
                let list = if h.controllers.is_empty() {
                    "no controllers".to_string()
                } else {
                    h.controllers.join(" ")
                };
                out.push_str(&format!(
                    "  (cgroup2 at {} offers {list})\n",
                    h.mount.display()
                ));
            }
        }
        out
    }
}

/// "cgroup v2", "cgroup v1", or "hybrid (memory on v1)".
impl fmt::Display for Host {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.layout {
            Layout::Hybrid => match self.hierarchy(Controller::Memory) {
                Some(h) => write!(f, "hybrid (memory on {})", h.version),
                None => write!(f, "hybrid (no memory controller)"),
            },
            other => write!(f, "{other}"),
        }
    }
}

fn v2_controllers(mount: &Path) -> Vec<String> {
    files::read(&mount.join("cgroup.controllers"))
        .map(|t| t.split_whitespace().map(str::to_string).collect())
        .unwrap_or_default()
}

struct MountLine {
    mount_point: PathBuf,
    fs_type: String,
    super_options: String,
}

/// One line of proc(5) mountinfo:
/// `35 31 0:32 / /sys/fs/cgroup/memory rw,relatime - cgroup cgroup rw,memory`
/// (optional fields may sit before the lone `-`).
fn parse_mountinfo_line(line: &str) -> Option<MountLine> {
    let fields: Vec<&str> = line.split_whitespace().collect();
    let sep = fields.iter().skip(6).position(|f| *f == "-")? + 6;
    Some(MountLine {
        mount_point: PathBuf::from(unescape(fields.get(4)?)),
        fs_type: (*fields.get(sep + 1)?).to_string(),
        super_options: (*fields.get(sep + 3)?).to_string(),
    })
}

/// mountinfo escapes space, tab, newline and backslash as `\040`, `\011`, `\012`, `\134`
/// (the procfs crate leaves them as they are).
fn unescape(s: &str) -> String {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let octal = bytes
            .get(i + 1..i + 4)
            .filter(|d| d.iter().all(|b| (b'0'..=b'7').contains(b)));
        match (bytes[i], octal) {
            (b'\\', Some(d)) => {
                out.push((d[0] - b'0') * 64 + (d[1] - b'0') * 8 + (d[2] - b'0'));
                i += 4;
            }
            (b, _) => {
                out.push(b);
                i += 1;
            }
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::runtime::cgroup::fixture::Fixture;

    /// This machine's mountinfo, pasted (the root is substituted for fixtures).
    const HYBRID: &str = "\
31 23 0:28 / ROOT rw,relatime - tmpfs tmpfs rw,mode=755
32 31 0:29 / ROOT/cpu rw,relatime - cgroup cgroup rw,cpu
33 31 0:30 / ROOT/cpuacct rw,relatime - cgroup cgroup rw,cpuacct
35 31 0:32 / ROOT/memory rw,relatime - cgroup cgroup rw,memory
39 31 0:36 / ROOT/pids rw,relatime - cgroup cgroup rw,pids
40 31 0:37 / ROOT/systemd rw,relatime - cgroup cgroup rw,xattr,name=systemd
41 31 0:38 / ROOT/unified rw,relatime - cgroup2 cgroup2 rw
";

    #[test]
    fn parses_mountinfo_with_optional_fields_and_escapes() {
        let line = "36 25 0:31 / /sys/fs/cgroup/my\\040dir rw,nosuid shared:9 master:2 - cgroup2 cgroup2 rw,nsdelegate";
        let m = parse_mountinfo_line(line);
        let m = m.as_ref();
        assert_eq!(
            m.map(|m| m.mount_point.clone()),
            Some(PathBuf::from("/sys/fs/cgroup/my dir"))
        );
        assert_eq!(m.map(|m| m.fs_type.as_str()), Some("cgroup2"));
        assert_eq!(m.map(|m| m.super_options.as_str()), Some("rw,nsdelegate"));
        assert!(parse_mountinfo_line("garbage").is_none());
        assert_eq!(unescape("a\\134b\\011"), "a\\b\t");
    }

    #[test]
    fn detects_hybrid_from_mountinfo() {
        let fx = Fixture::hybrid();
        let text = HYBRID.replace("ROOT", &fx.root().display().to_string());
        let host = Host::from_mountinfo(fx.root(), &text).map_err(|e| e.to_string());
        let host = host.as_ref().expect("hybrid detected");
        assert_eq!(host.layout, Layout::Hybrid);
        assert_eq!(host.to_string(), "hybrid (memory on v1)");
        let mem = host.hierarchy(Controller::Memory).expect("memory");
        assert_eq!(
            (mem.version, mem.mount.clone()),
            (Version::V1, fx.root().join("memory"))
        );
        assert_eq!(
            host.hierarchy(Controller::Cpu).map(|h| h.mount.clone()),
            Some(fx.root().join("cpu"))
        );
        let unified = host
            .hierarchies
            .iter()
            .find(|h| h.version == Version::V2)
            .expect("cgroup2");
        assert_eq!(unified.controllers, vec!["hugetlb".to_string()]);
        let systemd = host
            .hierarchies
            .iter()
            .find(|h| h.mount.ends_with("systemd"))
            .expect("systemd");
        assert_eq!(systemd.controllers, vec!["name=systemd".to_string()]);
        let described = host.describe();
        assert!(
            described.contains("cgroup2 at") && described.contains("offers hugetlb"),
            "{described}"
        );
        // Mounts outside the root are not ours to use.
        let other = Host::from_mountinfo(Path::new("/elsewhere"), &text);
        assert!(other.is_err());
    }

    #[test]
    fn detects_v2_and_v1_from_files() {
        let v2 = Fixture::v2();
        let host = Host::from_files(v2.root()).map_err(|e| e.to_string());
        let host = host.as_ref().expect("v2 detected");
        assert_eq!(host.layout, Layout::V2);
        assert_eq!(host.to_string(), "cgroup v2");
        assert!(
            Controller::ALL
                .iter()
                .all(|c| host.hierarchy(*c).map(|h| h.version) == Some(Version::V2))
        );
        let text = host.describe();
        assert!(text.contains("memory  v2 at"), "{text}");
        assert!(text.contains("enabled for child cgroups"), "{text}");

        let v1 = Fixture::v1();
        let host = Host::from_files(v1.root()).map_err(|e| e.to_string());
        let host = host.as_ref().expect("v1 detected");
        assert_eq!(host.layout, Layout::V1);
        // `cpu,cpuacct` is one hierarchy; the `cpu` symlink beside it is skipped.
        assert_eq!(
            host.hierarchy(Controller::Cpu).map(|h| h.mount.clone()),
            Some(v1.root().join("cpu,cpuacct"))
        );
        assert_eq!(
            host.hierarchies
                .iter()
                .filter(|h| h.has(Controller::Cpu))
                .count(),
            1
        );
    }

    #[test]
    fn detect_falls_back_to_files_and_explains_why() {
        let fx = Fixture::v2();
        let paths = Paths {
            proc_root: fx.root().join("no-proc-here"),
            cgroup_root: fx.root().to_path_buf(),
            state_dir: fx.root().join("state"),
            cache_dir: fx.root().join("cache"),
        };
        let host = Host::detect(&paths).map_err(|e| e.to_string());
        let host = host.as_ref().expect("detected from files");
        assert_eq!(host.layout, Layout::V2);
        assert!(host.source.contains("ENOENT"), "{}", host.source);
    }

    #[test]
    fn describe_names_missing_controllers() {
        let fx = Fixture::v2();
        std::fs::write(fx.root().join("cgroup.controllers"), "cpu io\n").ok();
        let host = Host::from_files(fx.root()).map_err(|e| e.to_string());
        let host = host.as_ref().expect("v2");
        let text = host.describe();
        assert!(text.contains("memory  missing"), "{text}");
        assert!(text.contains("pids    missing"), "{text}");
    }

    #[test]
    fn detects_real_host_consistently() {
        // Unprivileged: only reads. Whatever the layout, it must agree with the files.
        let host = Host::detect(&Paths::host()).map_err(|e| e.to_string());
        let Ok(host) = host else {
            eprintln!("SKIPPED (no cgroup filesystem): detects_real_host_consistently");
            return;
        };
        let unified_root = Path::new("/sys/fs/cgroup/cgroup.controllers").is_file();
        assert_eq!(
            host.layout == Layout::V2,
            unified_root,
            "{}",
            host.describe()
        );
        assert!(host.source.starts_with("mounts in"), "{}", host.source);
    }
}
