//! The eight namespace types, their clone flags and names: the crate's one
//! vocabulary for them, and every name of a type (the command line's, the file under
//! /proc/<pid>/ns, the man pages' word in prose, the flag) is made here. The runtime
//! creates and enters them (`runtime/steps/`, `runtime/enter.rs`); observe reads them
//! (`observe::namespaces::NsFile` is one file of /proc/<pid>/ns: an `Ns`, either the
//! namespace a process is in or the `*_for_children` view); lessons name them. Both
//! floors use it, so it sits above neither.
//! See namespaces(7), unshare(2), setns(2), clone(2).

use nix::sched::CloneFlags;
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub enum Ns {
    User,
    Uts,
    Ipc,
    Net,
    /// Serialized `Mount`; `Mnt` (the /proc file's name, which recordings and explore
    /// captures made before there was one namespace type hold) is read too.
    #[serde(alias = "Mnt")]
    Mount,
    Cgroup,
    Time,
    Pid,
}

impl Ns {
    /// Every type, in the order a launch enables them (see `plan.rs` for why).
    pub const ALL: [Ns; 8] = [
        Ns::User,
        Ns::Uts,
        Ns::Ipc,
        Ns::Net,
        Ns::Mount,
        Ns::Cgroup,
        Ns::Time,
        Ns::Pid,
    ];

    /// Every type, in the order of the files in /proc/<pid>/ns (as `ls` lists them).
    pub const BY_FILE: [Ns; 8] = [
        Ns::Cgroup,
        Ns::Ipc,
        Ns::Mount,
        Ns::Net,
        Ns::Pid,
        Ns::Time,
        Ns::User,
        Ns::Uts,
    ];

    /// The name used on our command line (`--share net`) and by unshare(1).
    pub fn name(self) -> &'static str {
        match self {
            Ns::User => "user",
            Ns::Uts => "uts",
            Ns::Ipc => "ipc",
            Ns::Net => "net",
            Ns::Mount => "mount",
            Ns::Cgroup => "cgroup",
            Ns::Time => "time",
            Ns::Pid => "pid",
        }
    }

    /// The file under /proc/<pid>/ns/.
    pub fn proc_file(self) -> &'static str {
        match self {
            Ns::Mount => "mnt",
            other => other.name(),
        }
    }

    /// The name people use in prose, as namespaces(7) names them.
    pub fn label(self) -> &'static str {
        match self {
            Ns::User => "user",
            Ns::Uts => "UTS",
            Ns::Ipc => "IPC",
            Ns::Net => "network",
            Ns::Mount => "mount",
            Ns::Cgroup => "cgroup",
            Ns::Time => "time",
            Ns::Pid => "PID",
        }
    }

    /// Whether /proc/<pid>/ns has a `<file>_for_children` view of this type: the types
    /// whose unshare(2) moves only the children (pid_namespaces(7), time_namespaces(7)).
    pub const fn has_children_view(self) -> bool {
        matches!(self, Ns::Pid | Ns::Time)
    }

    pub fn flag(self) -> CloneFlags {
        match self {
            Ns::User => CloneFlags::CLONE_NEWUSER,
            Ns::Uts => CloneFlags::CLONE_NEWUTS,
            Ns::Ipc => CloneFlags::CLONE_NEWIPC,
            Ns::Net => CloneFlags::CLONE_NEWNET,
            Ns::Mount => CloneFlags::CLONE_NEWNS,
            Ns::Cgroup => CloneFlags::CLONE_NEWCGROUP,
            // nix's CloneFlags has no CLONE_NEWTIME (Linux 5.6); unshare(2) accepts it.
            Ns::Time => CloneFlags::from_bits_retain(libc::CLONE_NEWTIME),
            Ns::Pid => CloneFlags::CLONE_NEWPID,
        }
    }

    /// The flag's name as the man pages spell it.
    pub fn flag_name(self) -> &'static str {
        match self {
            Ns::User => "CLONE_NEWUSER",
            Ns::Uts => "CLONE_NEWUTS",
            Ns::Ipc => "CLONE_NEWIPC",
            Ns::Net => "CLONE_NEWNET",
            Ns::Mount => "CLONE_NEWNS",
            Ns::Cgroup => "CLONE_NEWCGROUP",
            Ns::Time => "CLONE_NEWTIME",
            Ns::Pid => "CLONE_NEWPID",
        }
    }

    /// The unshare(1) option that does the same.
    pub fn unshare_option(self) -> &'static str {
        match self {
            Ns::User => "--user",
            Ns::Uts => "--uts",
            Ns::Ipc => "--ipc",
            Ns::Net => "--net",
            Ns::Mount => "--mount",
            Ns::Cgroup => "--cgroup",
            Ns::Time => "--time",
            Ns::Pid => "--pid --fork",
        }
    }

    pub fn parse(text: &str) -> Result<Ns, UnknownNs> {
        let t = text.trim().to_ascii_lowercase();
        for ns in Ns::ALL {
            if t == ns.name() || t == ns.proc_file() {
                return Ok(ns);
            }
        }
        Err(UnknownNs {
            text: text.to_string(),
        })
    }
}

/// A namespace name we do not know; the message lists the ones we do.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown namespace {text:?}: expected one of {}", Ns::ALL.map(|n| n.name()).join(", "))]
pub struct UnknownNs {
    pub text: String,
}

impl std::fmt::Display for Ns {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

/// Names the flags in a CloneFlags value, e.g. `CLONE_NEWUTS|CLONE_NEWIPC`.
pub fn flag_names(flags: CloneFlags) -> String {
    let names: Vec<&str> = Ns::ALL
        .iter()
        .filter(|ns| flags.contains(ns.flag()))
        .map(|ns| ns.flag_name())
        .collect();
    if names.is_empty() {
        format!("{:#x}", flags.bits())
    } else {
        names.join("|")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parse_names_and_aliases() {
        assert_eq!(Ns::parse("net").unwrap(), Ns::Net);
        assert_eq!(Ns::parse("mnt").unwrap(), Ns::Mount);
        assert_eq!(Ns::parse("MOUNT").unwrap(), Ns::Mount);
        let e = Ns::parse("netz").unwrap_err().to_string();
        assert!(e.contains("\"netz\"") && e.contains("user, uts"), "{e}");
    }

    #[test]
    fn by_file_is_every_type_in_file_order() {
        let mut sorted = Ns::ALL;
        sorted.sort_by_key(|n| n.proc_file());
        assert_eq!(sorted, Ns::BY_FILE);
    }

    #[test]
    fn serialized_as_before_and_mnt_still_read() {
        assert_eq!(serde_json::to_string(&Ns::Mount).unwrap(), "\"Mount\"");
        let old: Vec<Ns> = serde_json::from_str(r#"["Ipc","Mnt","Mount"]"#).unwrap();
        assert_eq!(old, vec![Ns::Ipc, Ns::Mount, Ns::Mount]);
    }

    #[test]
    fn flags_are_distinct_and_named() {
        let all = Ns::ALL
            .iter()
            .fold(CloneFlags::empty(), |a, n| a | n.flag());
        assert_eq!(all.bits().count_ones(), 8);
        assert_eq!(
            flag_names(CloneFlags::CLONE_NEWUTS | Ns::Time.flag()),
            "CLONE_NEWUTS|CLONE_NEWTIME"
        );
    }
}
