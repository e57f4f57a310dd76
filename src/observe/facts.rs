//! One container's confinement, read once for a side-by-side comparison
//! (`underhood explore --compare`): its namespace links, mount table, capabilities,
//! seccomp and LSM label, and its cgroup's limits. Serializable, so a captured pair is a
//! test fixture.
//!
//! Also the pure questions the comparison asks of a mount table: is this path masked
//! (a read-only tmpfs over a directory, /dev/null bound over a file: runc's
//! `maskedPaths`), is it read-only (runc's `readonlyPaths`), and what flags does the
//! mount at `/`, `/proc`, `/dev`, `/sys` carry.

use std::path::Path;

use super::error::Unread;
use super::mountinfo::{self, Mount, Propagation, mount_at};
use super::namespaces::{self, NsLink};
use super::security::{self, Security};
use crate::runtime::cgroup::{Cgroup, ReadLimits};

#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Facts {
    pub pid: i32,
    /// What the column is called: `runc uhdemo: sleep 1000`.
    pub label: String,
    pub ns: Vec<NsLink>,
    pub mounts: Result<Vec<Mount>, Unread>,
    pub security: Result<Security, Unread>,
    /// The cgroup's name (its path in the hierarchies) and limits, when it has one.
    pub cgroup: Option<String>,
    pub limits: Option<ReadLimits>,
    /// Of the paths asked about, those that do not exist inside (a kernel without
    /// /proc/kcore, a container without /sys): looked up through `/proc/<pid>/root`,
    /// which resolves in the process's own root and mounts (proc(5)).
    #[serde(default)]
    pub absent: Vec<String>,
}

/// Reads the facts of `pid` (and of its cgroup, if known); `probe` names the paths
/// whose absence inside is worth knowing.
pub fn read(
    proc_root: &Path,
    pid: i32,
    cgroup: Option<&Cgroup>,
    label: String,
    probe: &[&str],
) -> Facts {
    let root = proc_root.join(pid.to_string()).join("root");
    let absent = probe
        .iter()
        .filter(|p| {
            std::fs::symlink_metadata(root.join(p.trim_start_matches('/')))
                .is_err_and(|e| e.kind() == std::io::ErrorKind::NotFound)
        })
        .map(|p| p.to_string())
        .collect();
    Facts {
        absent,
        pid,
        label,
        ns: namespaces::read_links(proc_root, pid),
        mounts: mountinfo::read_mountinfo(proc_root, pid).map_err(Unread::from),
        security: security::read(proc_root, pid).map_err(Unread::from),
        cgroup: cgroup.map(|c| c.name().to_string()),
        limits: cgroup.map(|c| c.read_limits()),
    }
}

/// How a path is hidden from the container, if it is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Hidden {
    /// An empty read-only tmpfs over a directory.
    EmptyTmpfs,
    /// `/dev/null` bound over a file (the mount's root is `/null` of a devtmpfs or tmpfs).
    DevNull,
    /// Something else mounted there.
    Other,
    /// Nothing mounted there: the path shows what the filesystem below has.
    No,
}

impl Hidden {
    pub fn text(self) -> &'static str {
        match self {
            Hidden::EmptyTmpfs => "masked (empty tmpfs)",
            Hidden::DevNull => "masked (/dev/null)",
            Hidden::Other => "something mounted",
            Hidden::No => "visible",
        }
    }

    pub fn is_masked(self) -> bool {
        matches!(self, Hidden::EmptyTmpfs | Hidden::DevNull)
    }
}

/// Whether `path` is masked in the mount table.
pub fn hidden(mounts: &[Mount], path: &str) -> Hidden {
    let Some(m) = mount_at(mounts, Path::new(path)) else {
        return Hidden::No;
    };
    if m.fs_type == "tmpfs" && m.is_read_only() && m.root == Path::new("/") {
        Hidden::EmptyTmpfs
    } else if m.root.ends_with("null") && matches!(m.fs_type.as_str(), "devtmpfs" | "tmpfs") {
        Hidden::DevNull
    } else {
        Hidden::Other
    }
}

/// Whether writing under `path` is refused by a read-only mount: the mount that holds it
/// (the deepest mount point at or above it) is `ro`.
pub fn read_only(mounts: &[Mount], path: &str) -> bool {
    let p = Path::new(path);
    mounts
        .iter()
        .rev()
        .filter(|m| p.starts_with(&m.mount_point))
        .max_by_key(|m| m.mount_point.components().count())
        .is_some_and(|m| m.is_read_only())
}

/// The flags that matter on the mount at `point`: `ro`/`rw`, nosuid, nodev, noexec, its
/// type and propagation, e.g. `proc rw,nosuid,nodev,noexec private`; `-` when nothing is
/// mounted there.
pub fn mount_flags(mounts: &[Mount], point: &str) -> String {
    let Some(m) = mount_at(mounts, Path::new(point)) else {
        return "-".to_string();
    };
    let flags: Vec<&str> = m
        .mount_options
        .iter()
        .map(String::as_str)
        .filter(|o| matches!(*o, "ro" | "rw" | "nosuid" | "nodev" | "noexec"))
        .collect();
    format!(
        "{} {} {}",
        m.fs_type,
        flags.join(","),
        propagation_word(&m.propagation)
    )
}

/// The propagation state without its peer group number (numbers differ between any
/// two containers; the kind is what compares).
pub fn propagation_word(p: &Propagation) -> &'static str {
    match p {
        Propagation::Private => "private",
        Propagation::Shared(_) => "shared",
        Propagation::Slave(_) => "slave",
        Propagation::SharedAndSlave { .. } => "shared+slave",
        Propagation::Unbindable => "unbindable",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// /proc/<pid>/mountinfo of runc's container on the development machine, the lines
    /// the comparison reads.
    const RUNC: &str = "\
68 46 254:0 /tmp/uh-explore-b/rootfs / ro,relatime - ext4 /dev/vda rw,discard
69 68 0:41 / /proc rw,relatime - proc proc rw
70 68 0:42 / /dev rw,nosuid - tmpfs tmpfs rw,size=65536k,mode=755
74 68 0:45 / /sys ro,nosuid,nodev,noexec,relatime - sysfs sysfs ro
50 69 0:41 /sys /proc/sys ro,relatime - proc proc rw
51 69 0:47 / /proc/acpi ro,relatime - tmpfs tmpfs ro
53 69 0:42 /null /proc/kcore rw,nosuid - tmpfs tmpfs rw,size=65536k,mode=755
54 74 0:48 / /sys/firmware ro,relatime - tmpfs tmpfs ro
";

    fn mounts() -> Vec<Mount> {
        mountinfo::parse_mountinfo(RUNC).expect("parses")
    }

    #[test]
    fn masked_paths_are_told_by_what_covers_them() {
        let m = mounts();
        assert_eq!(hidden(&m, "/proc/acpi"), Hidden::EmptyTmpfs);
        assert_eq!(hidden(&m, "/proc/kcore"), Hidden::DevNull);
        assert_eq!(hidden(&m, "/proc/keys"), Hidden::No);
        assert_eq!(hidden(&m, "/proc/sys"), Hidden::Other);
        assert!(Hidden::DevNull.is_masked() && !Hidden::Other.is_masked());
    }

    #[test]
    fn read_only_is_the_holding_mounts_flag() {
        let m = mounts();
        assert!(read_only(&m, "/proc/sys"));
        assert!(read_only(&m, "/proc/sys/kernel/core_pattern"));
        assert!(!read_only(&m, "/proc/sysrq-trigger"));
        assert!(read_only(&m, "/sys/kernel"));
        assert!(read_only(&m, "/etc"));
    }

    #[test]
    fn flags_of_the_four_mounts() {
        let m = mounts();
        assert_eq!(mount_flags(&m, "/"), "ext4 ro private");
        assert_eq!(mount_flags(&m, "/proc"), "proc rw private");
        assert_eq!(
            mount_flags(&m, "/sys"),
            "sysfs ro,nosuid,nodev,noexec private"
        );
        assert_eq!(mount_flags(&m, "/nothing"), "-");
    }

    #[test]
    fn reads_this_process() {
        let me = std::process::id() as i32;
        let f = read(
            Path::new("/proc"),
            me,
            None,
            "me".into(),
            &["/proc/self", "/no/such/path"],
        );
        assert_eq!(f.absent, vec!["/no/such/path".to_string()]);
        assert!(f.mounts.is_ok());
        assert!(f.security.is_ok());
        assert_eq!(f.limits, None);
        let json = serde_json::to_string(&f).expect("serializes");
        let back: Facts = serde_json::from_str(&json).expect("reads back");
        assert_eq!(back, f);
    }
}
