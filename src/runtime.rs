//! Everything that changes kernel state. Knows nothing of the UI or of lessons.

pub mod assemble;
pub mod cgroup;
pub mod cleanup;
pub mod controller;
pub mod enter;
pub mod explain;
pub mod fault;
pub mod fdpass;
pub mod host_shell;
pub mod image;
pub mod inside;
pub mod launcher;
pub mod mounts;
pub mod namespaces;
pub mod netdev;
pub mod paths;
pub mod plan;
pub mod protocol;
pub mod report;
pub mod seccomp;
pub mod security;
pub mod state;
pub mod step;
pub mod subject;
pub mod sys;
