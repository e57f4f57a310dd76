//! Lessons: files under `lessons/` (Markdown with TOML front matter) turned into
//! launch plans and state-based checks. Pure data and validation, plus the probe
//! that evaluates checks against a live container.

pub mod check;
pub mod error;
pub mod explain;
pub mod format;
pub mod passing;
pub mod plan;
pub mod probe;
pub mod progress;
pub mod purpose;
pub mod runner;
pub mod set;
pub mod track;
pub mod validate;
