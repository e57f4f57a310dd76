//! The eight namespace types, their clone flags and names: the crate's one
//! vocabulary for them. The runtime creates and enters them (`runtime/steps/`,
//! `runtime/enter.rs`); observe reads them (`observe::namespaces::NsKind` names the
//! ten files of /proc/<pid>/ns, two of them the `*_for_children` views, each of one
//! `Ns`); lessons name them. Both floors use it, so it sits above neither.
//! See namespaces(7), unshare(2), setns(2), clone(2).

use nix::sched::CloneFlags;
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub enum Ns {
    User,
    Uts,
    Ipc,
    Net,
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
