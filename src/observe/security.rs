//! What confines a process besides its namespaces: its capabilities (effective,
//! permitted, bounding, ambient), its seccomp mode, `no_new_privs`, and its LSM label.
//!
//! Sources (proc(5)):
//! - `/proc/<pid>/status`: `CapEff`, `CapPrm`, `CapBnd`, `CapAmb`, `CapInh` (hex masks,
//!   capabilities(7)), `Seccomp` and `Seccomp_filters` (seccomp(2)), `NoNewPrivs`
//!   (PR_SET_NO_NEW_PRIVS, prctl(2)). Parsed by [`super::ptree::parse_status`].
//! - `/proc/<pid>/attr/<lsm>/current` (Linux 5.8+, one directory per LSM) and the older
//!   `/proc/<pid>/attr/current` (the first "major" LSM's): the AppArmor profile
//!   (`docker-default (enforce)`), the SELinux context (`system_u:system_r:container_t:s0`),
//!   or the Smack label. With no LSM to answer, `attr/current` fails with EINVAL: then the
//!   process has no label, which is itself the answer.

use std::path::Path;

use super::error::Result;

use super::fsread::{errno_text, read_text};
use super::ptree::{SeccompMode, Status, cap_names, parse_status};

/// Every capability bit the kernel knows: CAP_LAST_CAP from `/proc/sys/kernel/cap_last_cap`.
pub fn cap_last_cap(proc_root: &Path) -> Option<u32> {
    std::fs::read_to_string(proc_root.join("sys/kernel/cap_last_cap"))
        .ok()?
        .trim()
        .parse()
        .ok()
}

/// A process's LSM label, and which LSM gave it.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub enum Lsm {
    /// `apparmor`, `selinux`, `smack`, or `current` for the old shared file.
    Label { lsm: String, label: String },
    /// No LSM gives this process a label (attr/current: EINVAL).
    None,
    /// The files could not be read, with why.
    Unreadable(String),
}

impl Lsm {
    pub fn describe(&self) -> String {
        match self {
            Lsm::Label { lsm, label } => format!("{label} ({lsm})"),
            Lsm::None => "none (no LSM labels processes here)".to_string(),
            Lsm::Unreadable(why) => format!("unreadable: {why}"),
        }
    }
}

/// What the security pane and the comparison show of one process.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Security {
    pub pid: i32,
    pub uid: Option<[u32; 4]>,
    pub cap_eff: Option<u64>,
    pub cap_prm: Option<u64>,
    pub cap_bnd: Option<u64>,
    pub cap_amb: Option<u64>,
    pub cap_inh: Option<u64>,
    pub no_new_privs: Option<bool>,
    pub seccomp: Option<SeccompMode>,
    pub seccomp_filters: Option<u32>,
    pub lsm: Lsm,
    /// The highest capability bit this kernel has (for "all of them").
    pub cap_last: Option<u32>,
}

impl Security {
    /// From the text of `status` and what the LSM files said.
    pub fn from_status(pid: i32, status: &Status, lsm: Lsm, cap_last: Option<u32>) -> Security {
        Security {
            pid,
            uid: status.uid,
            cap_eff: status.cap_eff,
            cap_prm: status.cap_prm,
            cap_bnd: status.cap_bnd,
            cap_amb: status.cap_amb,
            cap_inh: status.cap_inh,
            no_new_privs: status.no_new_privs,
            seccomp: status.seccomp,
            seccomp_filters: status.seccomp_filters,
            lsm,
            cap_last,
        }
    }

    /// The mask of every capability the kernel has.
    pub fn all_caps(&self) -> Option<u64> {
        self.cap_last.map(|l| {
            if l >= 63 {
                u64::MAX
            } else {
                (1u64 << (l + 1)) - 1
            }
        })
    }

    /// `14 of 41` for a mask, against every capability of the kernel.
    pub fn count(&self, mask: Option<u64>) -> String {
        match (mask, self.cap_last) {
            (Some(m), Some(l)) => format!("{} of {}", m.count_ones(), l + 1),
            (Some(m), None) => m.count_ones().to_string(),
            (None, _) => "-".to_string(),
        }
    }

    /// The capabilities of the full set that `mask` lacks, by name.
    pub fn missing(&self, mask: Option<u64>) -> Vec<String> {
        match (mask, self.all_caps()) {
            (Some(m), Some(all)) => cap_names(all & !m),
            _ => Vec::new(),
        }
    }

    /// `filter (2 filters)`, `disabled`, ...
    pub fn seccomp_text(&self) -> String {
        match (self.seccomp, self.seccomp_filters) {
            (Some(SeccompMode::Filter), Some(n)) => {
                format!("filter ({n} filter{})", if n == 1 { "" } else { "s" })
            }
            (Some(m), _) => m.name().to_string(),
            (None, _) => "-".to_string(),
        }
    }
}

/// Reads the LSM label: the per-LSM files first (`attr/apparmor/current`,
/// `attr/selinux/current`, `attr/smack/current`), then the shared `attr/current`.
pub fn read_lsm(proc_root: &Path, pid: i32) -> Lsm {
    let attr = proc_root.join(pid.to_string()).join("attr");
    for lsm in ["apparmor", "selinux", "smack"] {
        if let Ok(text) = std::fs::read_to_string(attr.join(lsm).join("current")) {
            return Lsm::Label {
                lsm: lsm.to_string(),
                label: clean_label(&text),
            };
        }
    }
    let path = attr.join("current");
    match std::fs::read(&path) {
        Ok(bytes) => {
            let label = clean_label(&String::from_utf8_lossy(&bytes));
            if label.is_empty() {
                Lsm::None
            } else {
                Lsm::Label {
                    lsm: "current".to_string(),
                    label,
                }
            }
        }
        // proc(5): "EINVAL" when no LSM provides the attribute.
        Err(e) if e.raw_os_error() == Some(libc::EINVAL) => Lsm::None,
        Err(e) => Lsm::Unreadable(format!("{}: {}", path.display(), errno_text(&e))),
    }
}

/// The label as the kernel wrote it, without its trailing NUL or newline.
pub fn clean_label(text: &str) -> String {
    text.trim_end_matches(['\0', '\n']).trim().to_string()
}

/// Reads `pid`'s status and LSM label. Fails (with the path and errno) only when the
/// process is gone or its status cannot be read.
pub fn read(proc_root: &Path, pid: i32) -> Result<Security> {
    let status = parse_status(&read_text(&proc_root.join(pid.to_string()).join("status"))?);
    Ok(Security::from_status(
        pid,
        &status,
        read_lsm(proc_root, pid),
        cap_last_cap(proc_root),
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// /proc/<pid>/status of `sleep 1000` in `runc run` with `runc spec`'s config
    /// (runc 1.1.5 on the development machine), the lines that matter: three
    /// capabilities (audit_write, kill, net_bind_service), no seccomp filter.
    const RUNC_STATUS: &str = "Name:\tsleep\nUid:\t0\t0\t0\t0\nCapInh:\t0000000000000000\nCapPrm:\t0000000020000420\nCapEff:\t0000000020000420\nCapBnd:\t0000000020000420\nCapAmb:\t0000000000000000\nNoNewPrivs:\t1\nSeccomp:\t0\nSeccomp_filters:\t0\n";
    /// Docker's default: 14 capabilities, a seccomp filter.
    const DOCKER_STATUS: &str = "CapEff:\t00000000a80425fb\nCapBnd:\t00000000a80425fb\nNoNewPrivs:\t0\nSeccomp:\t2\nSeccomp_filters:\t1\n";

    #[test]
    fn decodes_runc_defaults() {
        let s = Security::from_status(7, &parse_status(RUNC_STATUS), Lsm::None, Some(40));
        assert_eq!(s.count(s.cap_eff), "3 of 41");
        assert_eq!(s.seccomp_text(), "disabled");
        assert_eq!(s.no_new_privs, Some(true));
        assert_eq!(
            cap_names(s.cap_eff.unwrap_or(0)),
            vec!["cap_kill", "cap_net_bind_service", "cap_audit_write"]
        );
        let missing = s.missing(s.cap_bnd);
        assert!(
            missing.contains(&"cap_sys_admin".to_string()),
            "{missing:?}"
        );
        assert_eq!(missing.len(), 41 - 3);
        let d = Security::from_status(8, &parse_status(DOCKER_STATUS), Lsm::None, Some(40));
        assert_eq!(d.count(d.cap_bnd), "14 of 41");
        assert_eq!(d.seccomp_text(), "filter (1 filter)");
        assert_eq!(d.count(None), "-");
    }

    #[test]
    fn labels_and_their_absence() {
        assert_eq!(
            clean_label("docker-default (enforce)\n"),
            "docker-default (enforce)"
        );
        assert_eq!(
            clean_label("system_u:system_r:container_t:s0:c1,c2\0"),
            "system_u:system_r:container_t:s0:c1,c2"
        );
        assert_eq!(Lsm::None.describe(), "none (no LSM labels processes here)");
        let dir = tempfile::tempdir().expect("tempdir");
        let attr = dir.path().join("5/attr/apparmor");
        std::fs::create_dir_all(&attr).expect("mkdir");
        std::fs::write(attr.join("current"), "unconfined\n").expect("write");
        assert_eq!(
            read_lsm(dir.path(), 5),
            Lsm::Label {
                lsm: "apparmor".into(),
                label: "unconfined".into()
            }
        );
        assert!(matches!(read_lsm(dir.path(), 6), Lsm::Unreadable(w) if w.contains("ENOENT")));
    }

    #[test]
    fn reads_this_process() {
        let me = std::process::id() as i32;
        let s = read(Path::new("/proc"), me).expect("our own status");
        assert!(s.cap_bnd.is_some());
        assert!(s.seccomp.is_some());
        assert!(!matches!(s.lsm, Lsm::Unreadable(_)), "{:?}", s.lsm);
        let gone = read(Path::new("/proc"), i32::MAX).expect_err("no such pid");
        assert!(format!("{gone:#}").contains(&format!("/proc/{}/status", i32::MAX)));
    }
}
