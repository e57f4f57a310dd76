//! Where underhood reads and writes on the host. Every path is injectable so tests
//! can point the code at fixtures (a tempdir laid out like /proc or /sys/fs/cgroup).

use std::path::PathBuf;

/// The prefix of every cgroup, veth, state directory and mount we create.
pub const PREFIX: &str = "underhood";

#[derive(Debug, Clone)]
pub struct Paths {
    /// Normally `/proc`.
    pub proc_root: PathBuf,
    /// Normally `/sys/fs/cgroup`.
    pub cgroup_root: PathBuf,
    /// Per-session state: `/run/underhood` as root, `$XDG_RUNTIME_DIR/underhood` rootless
    /// (`/tmp/underhood-<uid>` without XDG_RUNTIME_DIR).
    pub state_dir: PathBuf,
    /// Assembled root filesystems and unpacked images: `/var/cache/underhood` as root,
    /// `$XDG_CACHE_HOME/underhood` (or `~/.cache/underhood`) rootless.
    pub cache_dir: PathBuf,
}

impl Paths {
    /// The real host locations for the current user.
    pub fn host() -> Paths {
        let root = nix::unistd::geteuid().is_root();
        let env = |k: &str| {
            std::env::var_os(k)
                .filter(|v| !v.is_empty())
                .map(PathBuf::from)
        };
        // The state directory holds each container's upper layer: its own user's only
        // (state::state_root checks the owner and sets the mode). Rootless without
        // XDG_RUNTIME_DIR it falls back to the shared temporary directory, under a name
        // of its own per uid.
        let state_dir = if root {
            PathBuf::from("/run").join(PREFIX)
        } else {
            env("XDG_RUNTIME_DIR").map_or_else(
                || std::env::temp_dir().join(format!("{PREFIX}-{}", nix::unistd::geteuid())),
                |d| d.join(PREFIX),
            )
        };
        let cache_dir = if root {
            PathBuf::from("/var/cache").join(PREFIX)
        } else {
            env("XDG_CACHE_HOME")
                .or_else(|| env("HOME").map(|h| h.join(".cache")))
                .unwrap_or_else(std::env::temp_dir)
                .join(PREFIX)
        };
        Paths {
            proc_root: PathBuf::from("/proc"),
            cgroup_root: PathBuf::from("/sys/fs/cgroup"),
            state_dir,
            cache_dir,
        }
    }
}
