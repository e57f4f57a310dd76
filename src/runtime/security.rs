//! The last layer: capabilities (capabilities(7)), no_new_privs (prctl(2)
//! PR_SET_NO_NEW_PRIVS) and a seccomp filter (seccomp(2)).

use std::collections::BTreeMap;
use std::str::FromStr;

use caps::{CapSet, Capability, CapsHashSet};
use nix::errno::Errno;
use seccompiler::{BpfProgram, SeccompAction, SeccompFilter, TargetArch};

use super::report::Report;
use super::sys::Sys;

/// Syscalls our default filter answers with EPERM: kernel keyrings, module loading,
/// kexec, BPF, perf, userfaultfd, swap, accounting and new namespaces. Docker's default
/// profile blocks these too, for the same reasons: each is a large kernel attack
/// surface a container's workload does not need.
pub const DEFAULT_DENY: [&str; 16] = [
    "keyctl",
    "add_key",
    "request_key",
    "kexec_load",
    "kexec_file_load",
    "open_by_handle_at",
    "bpf",
    "perf_event_open",
    "userfaultfd",
    "init_module",
    "finit_module",
    "delete_module",
    "swapon",
    "swapoff",
    "acct",
    "unshare",
];

/// Syscall numbers by name for the names a filter may take. Note the aliases: on
/// x86_64 `mkdir` and `mkdirat` are two syscalls, and a filter that blocks only one
/// is bypassed by a libc that uses the other.
pub fn syscall_number(name: &str) -> Option<i64> {
    Some(match name {
        "keyctl" => libc::SYS_keyctl,
        "add_key" => libc::SYS_add_key,
        "request_key" => libc::SYS_request_key,
        "kexec_load" => libc::SYS_kexec_load,
        #[cfg(target_arch = "x86_64")]
        "kexec_file_load" => libc::SYS_kexec_file_load,
        "open_by_handle_at" => libc::SYS_open_by_handle_at,
        "bpf" => libc::SYS_bpf,
        "perf_event_open" => libc::SYS_perf_event_open,
        "userfaultfd" => libc::SYS_userfaultfd,
        "init_module" => libc::SYS_init_module,
        "finit_module" => libc::SYS_finit_module,
        "delete_module" => libc::SYS_delete_module,
        "swapon" => libc::SYS_swapon,
        "swapoff" => libc::SYS_swapoff,
        "acct" => libc::SYS_acct,
        "unshare" => libc::SYS_unshare,
        "setns" => libc::SYS_setns,
        #[cfg(target_arch = "x86_64")]
        "mkdir" => libc::SYS_mkdir,
        "mkdirat" => libc::SYS_mkdirat,
        #[cfg(target_arch = "x86_64")]
        "chmod" => libc::SYS_chmod,
        "fchmodat" => libc::SYS_fchmodat,
        "sethostname" => libc::SYS_sethostname,
        "mount" => libc::SYS_mount,
        "chroot" => libc::SYS_chroot,
        "ptrace" => libc::SYS_ptrace,
        "reboot" => libc::SYS_reboot,
        _ => return None,
    })
}

/// A filter that allows everything except `deny`, which fails with EPERM.
pub fn filter(deny: &[String]) -> anyhow::Result<BpfProgram> {
    let mut rules = BTreeMap::new();
    for name in deny {
        if let Some(nr) = syscall_number(name) {
            rules.insert(nr, Vec::new());
        } else if !(name == "kexec_file_load" && cfg!(not(target_arch = "x86_64"))) {
            anyhow::bail!("seccomp: unknown syscall name {name:?}");
        }
    }
    let arch = TargetArch::try_from(std::env::consts::ARCH)
        .map_err(|e| anyhow::anyhow!("seccomp: unsupported architecture: {e}"))?;
    let f = SeccompFilter::new(
        rules,
        SeccompAction::Allow,
        SeccompAction::Errno(libc::EPERM as u32),
        arch,
    )
    .map_err(|e| anyhow::anyhow!("seccomp: building the filter: {e}"))?;
    BpfProgram::try_from(f).map_err(|e| anyhow::anyhow!("seccomp: compiling the filter: {e}"))
}

pub fn parse_caps(names: &[String]) -> anyhow::Result<CapsHashSet> {
    names
        .iter()
        .map(|n| {
            Capability::from_str(&n.to_ascii_uppercase())
                .map_err(|_| anyhow::anyhow!("unknown capability {n:?}"))
        })
        .collect()
}

/// Drops every capability not in `keep` from the bounding set, then sets the other
/// sets to `keep`, sets no_new_privs, and installs the filter. Order matters:
/// dropping from the bounding set needs CAP_SETPCAP, and seccomp without
/// no_new_privs needs CAP_SYS_ADMIN (seccomp(2)).
pub fn apply(
    sys: &mut dyn Sys,
    r: &mut Report,
    keep: &CapsHashSet,
    program: &BpfProgram,
    deny: &[String],
) -> nix::Result<()> {
    let mut dropped = Vec::new();
    for cap in caps::all() {
        if keep.contains(&cap) {
            continue;
        }
        // A capability the running kernel does not know cannot be dropped (EINVAL).
        if !caps::has_cap(None, CapSet::Bounding, cap).unwrap_or(false) && !cfg!(test) {
            continue;
        }
        let res = sys.drop_bounding(cap);
        r.call("prctl", format!("PR_CAPBSET_DROP, {cap}"), res)?;
        dropped.push(cap.to_string());
    }
    let mut kept: Vec<String> = keep.iter().map(|c| c.to_string()).collect();
    kept.sort();
    let res = sys.set_caps(keep);
    r.call(
        "capset",
        format!("effective=permitted=inheritable={{{}}}", kept.join(",")),
        res,
    )?;
    let list = kept
        .iter()
        .map(|c| format!("+{}", c.trim_start_matches("CAP_").to_lowercase()))
        .collect::<Vec<_>>()
        .join(",");
    r.shell(format!(
        "setpriv --bounding-set=-all,{list} --inh-caps=-all,{list}   # dropped {}",
        dropped.len()
    ));
    let res = sys.no_new_privs();
    r.call("prctl", "PR_SET_NO_NEW_PRIVS, 1", res)?;
    r.shell("setpriv --no-new-privs");
    let res = sys.seccomp(program);
    r.call(
        "seccomp",
        format!(
            "SECCOMP_SET_MODE_FILTER, {} instructions: EPERM for {}",
            program.len(),
            deny.join(",")
        ),
        res,
    )?;
    r.note(format!(
        "kept {} capabilities (no CAP_SYS_ADMIN: mount fails with EPERM); {} syscalls blocked",
        kept.len(),
        deny.len()
    ));
    Ok(())
}

/// For tests: the errno a blocked syscall returns.
pub const BLOCKED_ERRNO: Errno = Errno::EPERM;

#[cfg(test)]
mod tests {
    use super::*;
    use crate::runtime::sys::{Call, Recorder};

    #[test]
    fn default_filter_compiles() {
        let deny: Vec<String> = DEFAULT_DENY.iter().map(|s| s.to_string()).collect();
        let p = filter(&deny).unwrap();
        assert!(p.len() > deny.len());
        assert!(filter(&["nosuchcall".to_string()]).is_err());
    }

    #[test]
    fn caps_parse_and_reject_unknown() {
        let set = parse_caps(&["CAP_CHOWN".into(), "cap_kill".into()]).unwrap();
        assert!(set.contains(&Capability::CAP_KILL));
        assert!(parse_caps(&["CAP_NOPE".into()]).is_err());
    }

    #[test]
    fn order_is_bounding_then_caps_then_nnp_then_seccomp() {
        let keep = parse_caps(&["CAP_CHOWN".into()]).unwrap();
        let prog = filter(&["keyctl".into()]).unwrap();
        let mut sys = Recorder::default();
        let mut r = Report::new("security");
        apply(&mut sys, &mut r, &keep, &prog, &["keyctl".into()]).unwrap();
        let n = sys.calls.len();
        assert!(matches!(sys.calls[0], Call::DropBounding(_)));
        assert!(
            !sys.calls
                .contains(&Call::DropBounding(Capability::CAP_CHOWN))
        );
        assert!(
            sys.calls
                .contains(&Call::DropBounding(Capability::CAP_SYS_ADMIN))
        );
        assert!(matches!(sys.calls[n - 3], Call::SetCaps(_)));
        assert_eq!(sys.calls[n - 2], Call::NoNewPrivs);
        assert!(matches!(sys.calls[n - 1], Call::Seccomp(_)));
    }
}
