//! Plain words for the errnos a learner meets most.

use nix::errno::Errno;

use crate::runtime::report::errno_named;

/// A one-line explanation for an errno as text shows it (`EPERM: ...`, a report's
/// failure or a message line).
pub fn errno(text: &str) -> Option<&'static str> {
    errno_named(text.split(':').next().unwrap_or("").trim()).and_then(why)
}

/// A one-line explanation for `e`, for the errnos a learner meets most.
pub fn why(e: Errno) -> Option<&'static str> {
    use Errno::*;
    Some(match e {
        EPERM => {
            "operation not permitted: this needs a capability the process lacks (run as root, or inside a user namespace it owns)"
        }
        EACCES => {
            "permission denied by file modes, an LSM (AppArmor/SELinux), or a read-only mount"
        }
        EBUSY => "busy: something still uses it (a mount point in use, a cgroup with processes)",
        EINVAL => {
            "invalid argument: the kernel refused this combination (for pivot_root: new root not a mount point, or a shared parent mount)"
        }
        ENOENT => {
            "no such file or directory (inside the container, paths are looked up in its own root)"
        }
        ENOSPC => "no space, or a namespace/cgroup count limit was reached",
        EAGAIN => "resource temporarily unavailable: a limit such as pids.max was reached",
        ENOMEM => "out of memory, or the memory cgroup limit was reached",
        ENOSYS => "this kernel does not implement that call (or a seccomp filter answers ENOSYS)",
        EEXIST => "it already exists",
        EUSERS => "too many nested user namespaces",
        _ => return None,
    })
}
