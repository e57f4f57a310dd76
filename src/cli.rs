//! Headless commands.

pub mod class;
pub mod cleanup;
pub mod doctor;
pub mod escape;
pub mod explore;
pub mod hog;
pub mod lessons;
pub mod notes;
pub mod replay;
pub mod run;
pub mod syscall;
pub mod track_list;
pub mod version;
