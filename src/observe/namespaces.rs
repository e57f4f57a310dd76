//! The namespaces of a process, as the symbolic links in `/proc/<pid>/ns/`.
//!
//! Each link reads like `uts:[4026531838]`: the namespace type and the inode number of the
//! namespace on the nsfs pseudo-filesystem. Two processes are in the same namespace exactly
//! when the inode numbers (and devices, always nsfs here) are equal (namespaces(7),
//! "The /proc/pid/ns/ directory").
//!
//! Every link is read on its own with readlink(2): a link that cannot be read is reported on
//! that link and the others are still shown. This matters in a lesson: right after
//! `unshare(CLONE_NEWPID)` and before the first fork, the new pid namespace has no init yet
//! and `pid_for_children` fails with ENOENT (pid_namespaces(7)); `procfs`'s `namespaces()`
//! reads the whole directory and fails as a whole there. A kernel without time namespaces
//! (before 5.6) has no `time` links at all, which is also ENOENT on just those two.

use std::path::Path;

use super::fsread::errno_text;
use crate::ns::Ns;

/// One entry of `/proc/<pid>/ns/`, in the order `ls` shows them.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize, serde::Deserialize,
)]
pub enum NsKind {
    Cgroup,
    Ipc,
    Mnt,
    Net,
    Pid,
    /// The pid namespace the process's *future children* will be in: after
    /// `unshare(CLONE_NEWPID)` it differs from `pid` (pid_namespaces(7)).
    PidForChildren,
    Time,
    /// Like `pid_for_children`: `unshare(CLONE_NEWTIME)` moves only children (time_namespaces(7)).
    TimeForChildren,
    User,
    Uts,
}

impl NsKind {
    /// Every kind, in the order of the files in `/proc/<pid>/ns/`.
    pub const ALL: [NsKind; 10] = [
        NsKind::Cgroup,
        NsKind::Ipc,
        NsKind::Mnt,
        NsKind::Net,
        NsKind::Pid,
        NsKind::PidForChildren,
        NsKind::Time,
        NsKind::TimeForChildren,
        NsKind::User,
        NsKind::Uts,
    ];

    /// The file name under `/proc/<pid>/ns/`.
    pub fn file(&self) -> &'static str {
        match self {
            NsKind::Cgroup => "cgroup",
            NsKind::Ipc => "ipc",
            NsKind::Mnt => "mnt",
            NsKind::Net => "net",
            NsKind::Pid => "pid",
            NsKind::PidForChildren => "pid_for_children",
            NsKind::Time => "time",
            NsKind::TimeForChildren => "time_for_children",
            NsKind::User => "user",
            NsKind::Uts => "uts",
        }
    }

    /// The kind named by a file under `/proc/<pid>/ns/`.
    pub fn from_file(name: &str) -> Option<NsKind> {
        NsKind::ALL.into_iter().find(|k| k.file() == name)
    }

    /// The name people use in prose, as namespaces(7) names them.
    pub fn label(&self) -> &'static str {
        match self {
            NsKind::Cgroup => "cgroup",
            NsKind::Ipc => "IPC",
            NsKind::Mnt => "mount",
            NsKind::Net => "network",
            NsKind::Pid => "PID",
            NsKind::PidForChildren => "PID (for children)",
            NsKind::Time => "time",
            NsKind::TimeForChildren => "time (for children)",
            NsKind::User => "user",
            NsKind::Uts => "UTS",
        }
    }

    /// The namespace type this file shows (`pid_for_children` shows a PID namespace).
    pub fn ns(&self) -> Ns {
        match self {
            NsKind::Cgroup => Ns::Cgroup,
            NsKind::Ipc => Ns::Ipc,
            NsKind::Mnt => Ns::Mount,
            NsKind::Net => Ns::Net,
            NsKind::Pid | NsKind::PidForChildren => Ns::Pid,
            NsKind::Time | NsKind::TimeForChildren => Ns::Time,
            NsKind::User => Ns::User,
            NsKind::Uts => Ns::Uts,
        }
    }

    /// The file that shows the namespace of type `ns` a process is in (not the one
    /// for its children).
    pub fn of(ns: Ns) -> NsKind {
        match ns {
            Ns::User => NsKind::User,
            Ns::Uts => NsKind::Uts,
            Ns::Ipc => NsKind::Ipc,
            Ns::Net => NsKind::Net,
            Ns::Mount => NsKind::Mnt,
            Ns::Cgroup => NsKind::Cgroup,
            Ns::Time => NsKind::Time,
            Ns::Pid => NsKind::Pid,
        }
    }

    /// The `clone(2)`/`unshare(2)` flag that creates this kind of namespace.
    pub fn clone_flag(&self) -> &'static str {
        self.ns().flag_name()
    }

    /// The type word inside the link target: `pid_for_children` links read `pid:[...]`.
    fn link_type(&self) -> &'static str {
        match self {
            NsKind::PidForChildren => "pid",
            NsKind::TimeForChildren => "time",
            other => other.file(),
        }
    }
}

impl std::fmt::Display for NsKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.file())
    }
}

/// What one `/proc/<pid>/ns/<file>` link said.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct NsLink {
    pub kind: NsKind,
    /// The namespace's inode number, when the link was read and understood.
    pub inode: Option<u64>,
    /// The raw link target, e.g. `uts:[4026531838]`, when it could be read.
    pub text: Option<String>,
    /// Why the link could not be read or understood, e.g.
    /// `ENOENT: No such file or directory`.
    pub error: Option<String>,
}

/// Splits a link target like `uts:[4026531838]` into `("uts", 4026531838)`.
/// Returns `None` for anything else (a malformed or future format).
pub fn parse_ns_link(target: &str) -> Option<(String, u64)> {
    let (kind, rest) = target.trim().split_once(':')?;
    let inode = rest.strip_prefix('[')?.strip_suffix(']')?;
    if kind.is_empty() || inode.is_empty() || !inode.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    Some((kind.to_string(), inode.parse().ok()?))
}

/// Interprets one readlink result for `kind`; separate from the readlink so it can be tested.
fn link_from_target(kind: NsKind, target: &str) -> NsLink {
    match parse_ns_link(target) {
        Some((ty, inode)) if ty == kind.link_type() => NsLink {
            kind,
            inode: Some(inode),
            text: Some(target.to_string()),
            error: None,
        },
        Some((ty, _)) => NsLink {
            kind,
            inode: None,
            text: Some(target.to_string()),
            error: Some(format!(
                "link names a {ty:?} namespace, expected {:?}",
                kind.link_type()
            )),
        },
        None => NsLink {
            kind,
            inode: None,
            text: Some(target.to_string()),
            error: Some(format!("unexpected link target {target:?}")),
        },
    }
}

/// Reads every `/proc/<pid>/ns/*` link of `pid`, each on its own (see the module docs), in the
/// order of [`NsKind::ALL`]. Never fails as a whole: a link that cannot be read carries its
/// errno in [`NsLink::error`]. If the process is gone, every link says ENOENT.
///
/// Reading another process's links needs ptrace-read access to it (proc(5), "/proc/pid/ns"):
/// as an unprivileged user, another user's process gives EACCES.
pub fn read_links(proc_root: &Path, pid: i32) -> Vec<NsLink> {
    let dir = proc_root.join(pid.to_string()).join("ns");
    NsKind::ALL
        .into_iter()
        .map(|kind| {
            let path = dir.join(kind.file());
            match std::fs::read_link(&path) {
                Ok(target) => link_from_target(kind, &target.to_string_lossy()),
                Err(e) => NsLink {
                    kind,
                    inode: None,
                    text: None,
                    error: Some(format!("{}: {}", path.display(), errno_text(&e))),
                },
            }
        })
        .collect()
}

/// One row of a host/subject comparison.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct NsCompare {
    pub kind: NsKind,
    pub host: Option<u64>,
    pub subject: Option<u64>,
    /// True only when both inodes are known and differ: the subject is in a namespace of its
    /// own. An unreadable side is "unknown", not "different".
    pub differs: bool,
}

/// Compares two sets of links kind by kind, in the order of [`NsKind::ALL`]. A kind missing
/// from either slice counts as unknown on that side.
pub fn compare(host: &[NsLink], subject: &[NsLink]) -> Vec<NsCompare> {
    let inode_of = |links: &[NsLink], kind: NsKind| {
        links.iter().find(|l| l.kind == kind).and_then(|l| l.inode)
    };
    NsKind::ALL
        .into_iter()
        .map(|kind| {
            let host = inode_of(host, kind);
            let subject = inode_of(subject, kind);
            let differs = matches!((host, subject), (Some(h), Some(s)) if h != s);
            NsCompare {
                kind,
                host,
                subject,
                differs,
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_namespace_type_has_its_file_and_back() {
        for ns in Ns::ALL {
            assert_eq!(NsKind::of(ns).ns(), ns);
            assert_eq!(NsKind::of(ns).file(), ns.proc_file());
        }
        assert_eq!(NsKind::PidForChildren.ns(), Ns::Pid);
        assert_eq!(NsKind::TimeForChildren.clone_flag(), "CLONE_NEWTIME");
    }
    use std::path::PathBuf;

    /// `ls -l /proc/self/ns` on the development machine (Linux 6.18, Debian 12), root user.
    const REAL_LINKS: [(&str, &str); 10] = [
        ("cgroup", "cgroup:[4026531835]"),
        ("ipc", "ipc:[4026531839]"),
        ("mnt", "mnt:[4026531832]"),
        ("net", "net:[4026531833]"),
        ("pid", "pid:[4026531836]"),
        ("pid_for_children", "pid:[4026531836]"),
        ("time", "time:[4026531834]"),
        ("time_for_children", "time:[4026531834]"),
        ("user", "user:[4026531837]"),
        ("uts", "uts:[4026531838]"),
    ];

    #[test]
    fn parses_real_link_targets() {
        for (file, target) in REAL_LINKS {
            let kind = NsKind::from_file(file).expect("known file");
            let link = link_from_target(kind, target);
            assert_eq!(link.error, None, "{file}");
            assert!(link.inode.is_some_and(|i| i > 4_026_531_000), "{file}");
        }
        assert_eq!(
            parse_ns_link("uts:[4026531838]"),
            Some(("uts".to_string(), 4026531838))
        );
        assert_eq!(
            parse_ns_link("pid:[4026531836]\n"),
            Some(("pid".to_string(), 4026531836))
        );
    }

    #[test]
    fn rejects_malformed_targets() {
        for bad in [
            "",
            "uts",
            "uts:",
            "uts:[]",
            "uts:[12",
            "uts:12]",
            ":[12]",
            "uts:[-1]",
            "uts:[+1]",
            "uts:[1 2]",
            "uts:[99999999999999999999999]",
            "/dev/null",
        ] {
            assert_eq!(parse_ns_link(bad), None, "{bad:?}");
        }
    }

    #[test]
    fn for_children_links_carry_the_base_type() {
        let link = link_from_target(NsKind::PidForChildren, "pid:[4026532201]");
        assert_eq!(link.inode, Some(4026532201));
        let wrong = link_from_target(NsKind::Uts, "ipc:[4026531839]");
        assert_eq!(wrong.inode, None);
        assert!(wrong.error.is_some_and(|e| e.contains("\"ipc\"")));
    }

    #[test]
    fn kinds_round_trip_and_have_labels() {
        for kind in NsKind::ALL {
            assert_eq!(NsKind::from_file(kind.file()), Some(kind));
            assert!(!kind.label().is_empty());
            assert!(kind.clone_flag().starts_with("CLONE_NEW"));
        }
        assert_eq!(NsKind::Mnt.label(), "mount");
        assert_eq!(NsKind::Uts.label(), "UTS");
        assert_eq!(NsKind::from_file("nope"), None);
    }

    fn links(pairs: &[(NsKind, Option<u64>)]) -> Vec<NsLink> {
        pairs
            .iter()
            .map(|&(kind, inode)| NsLink {
                kind,
                inode,
                text: None,
                error: None,
            })
            .collect()
    }

    #[test]
    fn compare_marks_only_known_differences() {
        let host = links(&[
            (NsKind::Uts, Some(1)),
            (NsKind::Ipc, Some(2)),
            (NsKind::Net, Some(3)),
            (NsKind::PidForChildren, Some(4)),
        ]);
        let subject = links(&[
            (NsKind::Uts, Some(10)),
            (NsKind::Ipc, Some(2)),
            (NsKind::Net, None),
            (NsKind::PidForChildren, Some(4)),
        ]);
        let rows = compare(&host, &subject);
        assert_eq!(rows.len(), NsKind::ALL.len());
        let differing: Vec<NsKind> = rows.iter().filter(|r| r.differs).map(|r| r.kind).collect();
        assert_eq!(differing, vec![NsKind::Uts]);
        let net = rows
            .iter()
            .find(|r| r.kind == NsKind::Net)
            .expect("net row");
        assert_eq!((net.host, net.subject, net.differs), (Some(3), None, false));
        let user = rows
            .iter()
            .find(|r| r.kind == NsKind::User)
            .expect("user row");
        assert_eq!((user.host, user.subject), (None, None));
    }

    #[test]
    fn live_self_links_are_all_readable() {
        let pid = std::process::id() as i32;
        let links = read_links(Path::new("/proc"), pid);
        assert_eq!(links.len(), 10);
        for link in &links {
            // Time namespaces arrived in Linux 5.6; anything older may lack those two links.
            if matches!(link.kind, NsKind::Time | NsKind::TimeForChildren) && link.inode.is_none() {
                continue;
            }
            assert!(link.inode.is_some(), "{link:?}");
            assert_eq!(link.error, None);
        }
        // A process compared with itself differs nowhere.
        assert!(compare(&links, &links).iter().all(|r| !r.differs));
    }

    #[test]
    fn missing_process_reports_enoent_per_link() {
        let links = read_links(&PathBuf::from("/proc"), i32::MAX);
        assert_eq!(links.len(), 10);
        for link in links {
            assert_eq!(link.inode, None);
            let err = link.error.expect("an error");
            assert!(err.contains("ENOENT"), "{err}");
            assert!(err.contains(&format!("/proc/{}/ns/", i32::MAX)), "{err}");
        }
    }
}
