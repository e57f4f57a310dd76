//! The last layer: capabilities (capabilities(7)), no_new_privs (prctl(2)
//! PR_SET_NO_NEW_PRIVS) and a seccomp filter (seccomp(2), built in `seccomp.rs`).

use std::str::FromStr;

use caps::{CapSet, Capability, CapsHashSet};
use nix::errno::Errno;
use seccompiler::BpfProgram;

use super::report::Report;
use super::sys::Sys;

pub use super::seccomp::{DEFAULT_DENY, filter, syscall_number};

/// A capability name caps(7) does not list.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown capability {0:?}")]
pub struct UnknownCap(pub String);

pub fn parse_caps(names: &[String]) -> Result<CapsHashSet, UnknownCap> {
    names
        .iter()
        .map(|n| Capability::from_str(&n.to_ascii_uppercase()).map_err(|_| UnknownCap(n.clone())))
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
            "SECCOMP_SET_MODE_FILTER, {} instructions: {}",
            program.len(),
            super::seccomp::describe(deny)
        ),
        res,
    )?;
    r.note(format!(
        "kept {} capabilities (no CAP_SYS_ADMIN: mount fails with EPERM); {} syscalls blocked, clone allowed only without namespace flags, clone3 answered ENOSYS",
        kept.len(),
        deny.len()
    ));
    Ok(())
}

/// Closes every descriptor numbered `first` or above: those a process was handed by
/// whoever started it without asking for them (close_range(2), Linux 5.9; before
/// that, one close(2) per entry of /proc/self/fd).
pub fn close_inherited_fds(first: u32) -> nix::Result<()> {
    // SAFETY: close_range takes plain integers; the caller owns nothing up there.
    let rc = unsafe { libc::syscall(libc::SYS_close_range, first, u32::MAX, 0u32) };
    if rc == 0 {
        return Ok(());
    }
    let open: Vec<i32> = std::fs::read_dir("/proc/self/fd")
        .map_err(|e| Errno::from_raw(e.raw_os_error().unwrap_or(libc::EIO)))?
        .flatten()
        .filter_map(|e| e.file_name().to_str().and_then(|n| n.parse().ok()))
        .filter(|fd| *fd >= first as i32)
        .collect();
    for fd in open {
        // SAFETY: as above. The directory's own descriptor is in the list and is
        // closed by then already (EBADF, ignored).
        unsafe { libc::close(fd) };
    }
    Ok(())
}

/// For tests: the errno a blocked syscall returns.
pub const BLOCKED_ERRNO: Errno = Errno::EPERM;

#[cfg(test)]
mod tests {
    use super::*;
    use crate::runtime::sys::{Call, Recorder};

    #[test]
    fn inherited_descriptors_above_the_first_kept_are_closed() {
        // In a child, so that no descriptor of the test harness is touched.
        // SAFETY: the child makes only raw syscalls (dup2, close_range, fcntl, _exit):
        // close_range(2) exists here, so the fallback that allocates is not reached.
        match unsafe { nix::unistd::fork() }.unwrap() {
            nix::unistd::ForkResult::Child => {
                let code = unsafe {
                    let ok = libc::dup2(1, 40) == 40 && libc::dup2(1, 47) == 47;
                    let rc = close_inherited_fds(41);
                    let kept =
                        libc::fcntl(40, libc::F_GETFD) >= 0 && libc::fcntl(2, libc::F_GETFD) >= 0;
                    let closed = libc::fcntl(47, libc::F_GETFD) < 0;
                    if ok && rc.is_ok() && closed && kept {
                        0
                    } else {
                        1
                    }
                };
                unsafe { libc::_exit(code) }
            }
            nix::unistd::ForkResult::Parent { child } => {
                let st = nix::sys::wait::waitpid(child, None).unwrap();
                assert_eq!(st, nix::sys::wait::WaitStatus::Exited(child, 0));
            }
        }
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
