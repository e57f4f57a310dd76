//! Everything that changes kernel state. Knows nothing of the UI or of lessons.

pub mod assemble;
pub mod cgroup;
pub mod image;
pub mod paths;
pub mod report;
