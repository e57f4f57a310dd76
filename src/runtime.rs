//! Everything that changes kernel state. Knows nothing of the UI or of lessons.

pub mod assemble;
pub mod by_hand;
pub mod cgroup;
pub mod cleanup;
pub mod console;
pub mod context;
pub mod controller;
#[cfg(test)]
pub(crate) mod double;
pub mod enter;
pub mod fault;
pub mod fdpass;
pub mod host_shell;
pub mod image;
pub mod launch_error;
pub mod launcher;
pub mod link;
pub mod mounts;
pub mod netdev;
#[cfg(test)]
mod orchestration;
pub mod paths;
pub mod plan;
pub mod protocol;
pub mod report;
pub mod seccomp;
pub mod security;
pub mod spawn;
pub mod start;
pub mod state;
pub mod step;
pub mod steps;
pub mod subject;
pub mod sys;
