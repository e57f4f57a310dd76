//! `/proc/<pid>/status` (proc(5)): `NSpid`, `Uid`, `Cap*`, `NoNewPrivs`, `Seccomp`, parsed
//! key by key so a field missing on an older kernel does not lose the others.

use crate::observe::error::Result;

use super::ProcState;

/// The `Seccomp:` field of `status` (proc(5), seccomp(2)).
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub enum SeccompMode {
    /// 0: no filter.
    Disabled,
    /// 1: SECCOMP_MODE_STRICT, only read/write/_exit/sigreturn.
    Strict,
    /// 2: SECCOMP_MODE_FILTER, a BPF program decides.
    Filter,
    /// 3: SECCOMP_MODE_DEAD, which the kernel sets on a seccomp'd task as it exits (seen on
    /// zombies since Linux 5.17).
    Dead,
    Unknown(u32),
}

impl SeccompMode {
    pub fn from_number(n: u32) -> SeccompMode {
        match n {
            0 => SeccompMode::Disabled,
            1 => SeccompMode::Strict,
            2 => SeccompMode::Filter,
            3 => SeccompMode::Dead,
            other => SeccompMode::Unknown(other),
        }
    }

    pub fn name(&self) -> &'static str {
        match self {
            SeccompMode::Disabled => "disabled",
            SeccompMode::Strict => "strict",
            SeccompMode::Filter => "filter",
            SeccompMode::Dead => "dead",
            SeccompMode::Unknown(_) => "unknown",
        }
    }
}

/// The fields of `/proc/<pid>/status` that the lessons show. Every field is optional: older
/// kernels lack some (`NSpid` before 4.1, `Seccomp_filters` before 5.9), and a malformed
/// value is shown as absent rather than hiding the rest.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Status {
    pub name: Option<String>,
    pub state: Option<ProcState>,
    pub tgid: Option<i32>,
    pub pid: Option<i32>,
    pub ppid: Option<i32>,
    /// `Uid:` real, effective, saved, filesystem, as the reader's user namespace sees them.
    pub uid: Option<[u32; 4]>,
    /// `Gid:` real, effective, saved, filesystem.
    pub gid: Option<[u32; 4]>,
    /// `NSpid:` the pid in each pid namespace the process is in, from the namespace of this
    /// proc mount (first) to the innermost one (last). pid_namespaces(7).
    pub ns_pid: Vec<i32>,
    pub threads: Option<u32>,
    pub cap_inh: Option<u64>,
    pub cap_prm: Option<u64>,
    pub cap_eff: Option<u64>,
    pub cap_bnd: Option<u64>,
    pub cap_amb: Option<u64>,
    pub no_new_privs: Option<bool>,
    pub seccomp: Option<SeccompMode>,
    /// Number of seccomp filters attached (since 5.9).
    pub seccomp_filters: Option<u32>,
}

fn ids4(value: &str) -> Option<[u32; 4]> {
    let v: Vec<u32> = value
        .split_whitespace()
        .map(str::parse)
        .collect::<Result<_, _>>()
        .ok()?;
    v.try_into().ok()
}

/// Parses the text of `/proc/<pid>/status`. Never fails: unknown keys are ignored and a field
/// that is missing or malformed stays `None` (or empty).
pub fn parse_status(text: &str) -> Status {
    let mut s = Status::default();
    for line in text.lines() {
        let Some((key, value)) = line.split_once(':') else {
            continue;
        };
        let value = value.trim();
        let hex = || u64::from_str_radix(value, 16).ok();
        match key {
            "Name" => s.name = Some(value.to_string()),
            "State" => s.state = value.chars().next().map(ProcState::from_char),
            "Tgid" => s.tgid = value.parse().ok(),
            "Pid" => s.pid = value.parse().ok(),
            "PPid" => s.ppid = value.parse().ok(),
            "Uid" => s.uid = ids4(value),
            "Gid" => s.gid = ids4(value),
            "NSpid" => {
                s.ns_pid = value
                    .split_whitespace()
                    .map(str::parse)
                    .collect::<Result<_, _>>()
                    .unwrap_or_default()
            }
            "Threads" => s.threads = value.parse().ok(),
            "CapInh" => s.cap_inh = hex(),
            "CapPrm" => s.cap_prm = hex(),
            "CapEff" => s.cap_eff = hex(),
            "CapBnd" => s.cap_bnd = hex(),
            "CapAmb" => s.cap_amb = hex(),
            "NoNewPrivs" => {
                s.no_new_privs = match value {
                    "0" => Some(false),
                    "1" => Some(true),
                    _ => None,
                }
            }
            "Seccomp" => s.seccomp = value.parse().ok().map(SeccompMode::from_number),
            "Seccomp_filters" => s.seccomp_filters = value.parse().ok(),
            _ => {}
        }
    }
    s
}

/// Names the capabilities set in a mask, lowercase as capabilities(7) and `capsh` write them:
/// `0x200000` -> `["cap_sys_admin"]`. Bits newer than the `caps` crate knows are named
/// `cap_<bit>`.
pub fn cap_names(mask: u64) -> Vec<String> {
    let mut known: Vec<caps::Capability> = caps::all().into_iter().collect();
    known.sort_by_key(|c| c.index());
    (0..64u8)
        .filter(|bit| mask & (1u64 << bit) != 0)
        .map(|bit| match known.iter().find(|c| c.index() == bit) {
            Some(cap) => cap.to_string().to_lowercase(),
            None => format!("cap_{bit}"),
        })
        .collect()
}
