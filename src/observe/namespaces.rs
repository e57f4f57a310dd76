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

/// One entry of `/proc/<pid>/ns/`: a namespace type ([`Ns`], the crate's one list of
/// them), seen either as the namespace the process is in, or, for PID and time, as the
/// one its *future children* will be in (`pid_for_children`, `time_for_children`): after
/// `unshare(CLONE_NEWPID)` or `unshare(CLONE_NEWTIME)` those differ from `pid` and
/// `time` until the first fork (pid_namespaces(7), time_namespaces(7)).
///
/// Every name of a file is made from its type's: the file name ([`Ns::proc_file`], then
/// `_for_children`), the prose ([`Ns::label`]), the flag. Ordered as `ls` lists the
/// files; serialized as it always was (`"Mnt"`, `"PidForChildren"`: the file's name in
/// CamelCase), so recordings made before still replay.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct NsFile {
    ns: Ns,
    for_children: bool,
}

impl NsFile {
    /// `pid_for_children`.
    pub const PID_FOR_CHILDREN: NsFile = NsFile {
        ns: Ns::Pid,
        for_children: true,
    };
    /// `time_for_children`.
    pub const TIME_FOR_CHILDREN: NsFile = NsFile {
        ns: Ns::Time,
        for_children: true,
    };

    /// Every file, in the order of `/proc/<pid>/ns/`: each type's file, its
    /// `_for_children` view right after it.
    pub const ALL: [NsFile; 10] = {
        let mut all = [NsFile::of(Ns::Cgroup); 10];
        let mut i = 0;
        let mut j = 0;
        while i < Ns::BY_FILE.len() {
            all[j] = NsFile::of(Ns::BY_FILE[i]);
            j += 1;
            if Ns::BY_FILE[i].has_children_view() {
                all[j] = NsFile {
                    ns: Ns::BY_FILE[i],
                    for_children: true,
                };
                j += 1;
            }
            i += 1;
        }
        all
    };

    /// The file that shows the namespace of type `ns` a process is in.
    pub const fn of(ns: Ns) -> NsFile {
        NsFile {
            ns,
            for_children: false,
        }
    }

    /// The namespace type this file shows (`pid_for_children` shows a PID namespace).
    pub fn ns(self) -> Ns {
        self.ns
    }

    /// Whether this is a `*_for_children` view.
    pub fn for_children(self) -> bool {
        self.for_children
    }

    /// The file name under `/proc/<pid>/ns/`.
    pub fn file(self) -> &'static str {
        match (self.ns, self.for_children) {
            (Ns::Pid, true) => "pid_for_children",
            (Ns::Time, true) => "time_for_children",
            (ns, _) => ns.proc_file(),
        }
    }

    /// The file named `name` under `/proc/<pid>/ns/`.
    pub fn from_file(name: &str) -> Option<NsFile> {
        NsFile::ALL.into_iter().find(|k| k.file() == name)
    }

    /// The name people use in prose: `PID (for children)`.
    pub fn label(self) -> String {
        if self.for_children {
            format!("{} (for children)", self.ns.label())
        } else {
            self.ns.label().to_string()
        }
    }

    /// The `clone(2)`/`unshare(2)` flag that creates this kind of namespace.
    pub fn clone_flag(self) -> &'static str {
        self.ns.flag_name()
    }

    /// The type word inside the link target: `pid_for_children` links read `pid:[...]`.
    fn link_type(self) -> &'static str {
        self.ns.proc_file()
    }

    /// The serialized name: the file's in CamelCase (`PidForChildren`, `Mnt`).
    fn serial(self) -> String {
        self.file()
            .split('_')
            .map(|w| {
                let mut c = w.chars();
                c.next()
                    .map(|f| f.to_ascii_uppercase().to_string() + c.as_str())
                    .unwrap_or_default()
            })
            .collect()
    }
}

impl From<Ns> for NsFile {
    fn from(ns: Ns) -> NsFile {
        NsFile::of(ns)
    }
}

impl Ord for NsFile {
    fn cmp(&self, other: &Self) -> std::cmp::Ordering {
        self.file().cmp(other.file())
    }
}

impl PartialOrd for NsFile {
    fn partial_cmp(&self, other: &Self) -> Option<std::cmp::Ordering> {
        Some(self.cmp(other))
    }
}

impl serde::Serialize for NsFile {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.serial())
    }
}

impl<'de> serde::Deserialize<'de> for NsFile {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<NsFile, D::Error> {
        let name = String::deserialize(d)?;
        NsFile::ALL
            .into_iter()
            .find(|k| k.serial() == name)
            .ok_or_else(|| serde::de::Error::custom(format!("unknown namespace file {name:?}")))
    }
}

impl std::fmt::Display for NsFile {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.file())
    }
}

/// What one `/proc/<pid>/ns/<file>` link said.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct NsLink {
    pub kind: NsFile,
    /// The namespace's inode number, when the link was read and understood.
    pub inode: Option<u64>,
    /// The raw link target, e.g. `uts:[4026531838]`, when it could be read.
    pub text: Option<String>,
    /// Why the link could not be read or understood, e.g.
    /// `ENOENT: No such file or directory`.
    pub error: Option<String>,
    /// The errno of the failed readlink(2), as a value (see [`NsLink::errno`]); absent
    /// in captures made before it was kept.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub errno: Option<i32>,
}

impl NsLink {
    /// A link read and understood as namespace `inode` (tests build samples with it).
    #[cfg(test)]
    pub fn of_inode(kind: NsFile, inode: u64) -> NsLink {
        NsLink {
            kind,
            inode: Some(inode),
            text: None,
            error: None,
            errno: None,
        }
    }

    /// The errno the link's readlink(2) failed with, if it failed.
    pub fn errno(&self) -> Option<nix::errno::Errno> {
        self.errno.map(nix::errno::Errno::from_raw)
    }
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
fn link_from_target(kind: NsFile, target: &str) -> NsLink {
    match parse_ns_link(target) {
        Some((ty, inode)) if ty == kind.link_type() => NsLink {
            kind,
            inode: Some(inode),
            text: Some(target.to_string()),
            error: None,
            errno: None,
        },
        Some((ty, _)) => NsLink {
            kind,
            inode: None,
            text: Some(target.to_string()),
            error: Some(format!(
                "link names a {ty:?} namespace, expected {:?}",
                kind.link_type()
            )),
            errno: None,
        },
        None => NsLink {
            kind,
            inode: None,
            text: Some(target.to_string()),
            error: Some(format!("unexpected link target {target:?}")),
            errno: None,
        },
    }
}

/// Reads every `/proc/<pid>/ns/*` link of `pid`, each on its own (see the module docs), in the
/// order of [`NsFile::ALL`]. Never fails as a whole: a link that cannot be read carries its
/// errno in [`NsLink::error`]. If the process is gone, every link says ENOENT.
///
/// Reading another process's links needs ptrace-read access to it (proc(5), "/proc/pid/ns"):
/// as an unprivileged user, another user's process gives EACCES.
pub fn read_links(proc_root: &Path, pid: i32) -> Vec<NsLink> {
    let dir = proc_root.join(pid.to_string()).join("ns");
    NsFile::ALL
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
                    errno: e.raw_os_error(),
                },
            }
        })
        .collect()
}

/// One row of a host/subject comparison.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct NsCompare {
    pub kind: NsFile,
    pub host: Option<u64>,
    pub subject: Option<u64>,
    /// True only when both inodes are known and differ: the subject is in a namespace of its
    /// own. An unreadable side is "unknown", not "different".
    pub differs: bool,
}

/// Compares two sets of links kind by kind, in the order of [`NsFile::ALL`]. A kind missing
/// from either slice counts as unknown on that side.
pub fn compare(host: &[NsLink], subject: &[NsLink]) -> Vec<NsCompare> {
    let inode_of = |links: &[NsLink], kind: NsFile| {
        links.iter().find(|l| l.kind == kind).and_then(|l| l.inode)
    };
    NsFile::ALL
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
            assert_eq!(NsFile::of(ns).ns(), ns);
            assert_eq!(NsFile::of(ns).file(), ns.proc_file());
        }
        assert_eq!(NsFile::PID_FOR_CHILDREN.ns(), Ns::Pid);
        assert_eq!(NsFile::TIME_FOR_CHILDREN.clone_flag(), "CLONE_NEWTIME");
    }

    /// The names recordings hold (NsKind's variants before there was one namespace
    /// type), file by file: written the same, read back the same.
    #[test]
    fn serialized_names_are_the_old_ones() {
        let old = [
            "Cgroup",
            "Ipc",
            "Mnt",
            "Net",
            "Pid",
            "PidForChildren",
            "Time",
            "TimeForChildren",
            "User",
            "Uts",
        ];
        for (file, name) in NsFile::ALL.into_iter().zip(old) {
            let json = serde_json::to_string(&file).unwrap();
            assert_eq!(json, format!("{name:?}"));
            assert_eq!(serde_json::from_str::<NsFile>(&json).unwrap(), file);
        }
        assert!(serde_json::from_str::<NsFile>("\"UserForChildren\"").is_err());
    }

    #[test]
    fn all_is_in_file_order_with_labels() {
        let files: Vec<&str> = NsFile::ALL.iter().map(|k| k.file()).collect();
        let expected: Vec<&str> = REAL_LINKS.iter().map(|(f, _)| *f).collect();
        assert_eq!(files, expected);
        let mut sorted = NsFile::ALL;
        sorted.sort();
        assert_eq!(sorted, NsFile::ALL);
        assert_eq!(NsFile::PID_FOR_CHILDREN.label(), "PID (for children)");
        assert_eq!(NsFile::of(Ns::Net).label(), "network");
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
            let kind = NsFile::from_file(file).expect("known file");
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
        let link = link_from_target(NsFile::PID_FOR_CHILDREN, "pid:[4026532201]");
        assert_eq!(link.inode, Some(4026532201));
        let wrong = link_from_target(NsFile::of(Ns::Uts), "ipc:[4026531839]");
        assert_eq!(wrong.inode, None);
        assert!(wrong.error.is_some_and(|e| e.contains("\"ipc\"")));
    }

    #[test]
    fn kinds_round_trip_and_have_labels() {
        for kind in NsFile::ALL {
            assert_eq!(NsFile::from_file(kind.file()), Some(kind));
            assert!(!kind.label().is_empty());
            assert!(kind.clone_flag().starts_with("CLONE_NEW"));
        }
        assert_eq!(NsFile::of(Ns::Mount).label(), "mount");
        assert_eq!(NsFile::of(Ns::Uts).label(), "UTS");
        assert_eq!(NsFile::from_file("nope"), None);
    }

    fn links(pairs: &[(NsFile, Option<u64>)]) -> Vec<NsLink> {
        pairs
            .iter()
            .map(|&(kind, inode)| NsLink {
                kind,
                inode,
                text: None,
                error: None,
                errno: None,
            })
            .collect()
    }

    #[test]
    fn compare_marks_only_known_differences() {
        let host = links(&[
            (NsFile::of(Ns::Uts), Some(1)),
            (NsFile::of(Ns::Ipc), Some(2)),
            (NsFile::of(Ns::Net), Some(3)),
            (NsFile::PID_FOR_CHILDREN, Some(4)),
        ]);
        let subject = links(&[
            (NsFile::of(Ns::Uts), Some(10)),
            (NsFile::of(Ns::Ipc), Some(2)),
            (NsFile::of(Ns::Net), None),
            (NsFile::PID_FOR_CHILDREN, Some(4)),
        ]);
        let rows = compare(&host, &subject);
        assert_eq!(rows.len(), NsFile::ALL.len());
        let differing: Vec<NsFile> = rows.iter().filter(|r| r.differs).map(|r| r.kind).collect();
        assert_eq!(differing, vec![NsFile::of(Ns::Uts)]);
        let net = rows
            .iter()
            .find(|r| r.kind == NsFile::of(Ns::Net))
            .expect("net row");
        assert_eq!((net.host, net.subject, net.differs), (Some(3), None, false));
        let user = rows
            .iter()
            .find(|r| r.kind == NsFile::of(Ns::User))
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
            if link.kind.ns() == Ns::Time && link.inode.is_none() {
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
            // The errno kept as a value, for callers that branch on it.
            assert_eq!(link.errno(), Some(nix::errno::Errno::ENOENT));
            let err = link.error.expect("an error");
            assert!(err.contains("ENOENT"), "{err}");
            assert!(err.contains(&format!("/proc/{}/ns/", i32::MAX)), "{err}");
        }
    }
}
