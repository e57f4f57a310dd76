//! Read-only views of a process: its namespaces, process tree, mounts, and facts about the host.
//!
//! Nothing here changes kernel state, and nothing here knows about the UI or lessons (the
//! snapshot reads cgroup memory through the runtime's read-only `Cgroup::memory`): every function takes the proc root (normally `/proc`, see
//! [`crate::runtime::paths::Paths::proc_root`]) so tests can point it at a fixture directory.
//!
//! Each module keeps *parsing* (`&str -> T`, pure, unit-tested on lines captured from a real
//! machine) apart from *reading* (opening files under the proc root, attaching the path and the
//! errno to every error). Processes come and go while we look at them; readers treat a vanished
//! process (ENOENT/ESRCH, see proc(5)) as "skip it", never as a failure of the whole view.
//!
//! - [`namespaces`]: the `/proc/<pid>/ns/*` links, each read on its own, and a host/subject diff.
//! - [`mountinfo`]: `/proc/<pid>/mountinfo` with escapes decoded and propagation typed.
//! - [`ptree`]: the processes under a root pid, with the pid inside each pid namespace.
//! - [`security`]: capabilities, seccomp, no_new_privs and the LSM label of a process.
//! - [`snapshot`]: one sample of all of the above (and cgroup memory) for the UI.
//! - [`target`]: which process `explore` looks at (a pid, a runc id, a cgroup), checked readable.
//! - [`by_hand`]: the container a learner made in the host shell, found again on each look.
//! - [`host`]: small facts for a header: hostname, kernel, overlayfs, user namespaces, LSMs.
//! - [`containers`]: which host processes are containers (their first processes) and what made them.
//! - [`facts`]: one container's confinement read once, for `explore --compare`.
//! - [`fsread`]: shared file reading: errors with path and errno, "process vanished" checks.
//! - [`error`]: the one error type of this floor, typed by what callers do about it.

pub mod by_hand;
pub mod containers;
pub mod error;
pub mod facts;
pub mod fsread;
pub mod host;
pub mod kmsg;
pub mod mountinfo;
pub mod namespaces;
pub mod ptree;
pub mod security;
pub mod snapshot;
pub mod target;
