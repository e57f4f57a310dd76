//! Headless commands.

pub mod cleanup;
pub mod hog;
pub mod run;
