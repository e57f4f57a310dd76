//! underhood: build a Linux container one real step at a time, and watch the kernel's view.
//!
//! Layers (arrows point down only):
//! - `ui`      draws state, turns keys into messages
//! - `session` starts, drives and watches a container; one stream of events
//! - `lesson`  lesson files -> plans of steps + checks
//! - `observe` read-only views of a pid: namespaces, process tree, mounts, memory
//! - `runtime` does things to the kernel: namespaces, rootfs, cgroups, security, cleanup
//!
//! Beside them, `ns` (the namespace types) and `units` are vocabulary every floor uses.

pub mod lesson;
pub mod ns;
pub mod observe;
pub mod runtime;
pub mod session;
pub mod ui;
pub mod units;
