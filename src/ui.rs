//! The teaching TUI: state (`app`), drawing (`draw`), colours (`theme`), and the main
//! loop that ties the container, the observer and the keyboard together (`run`).

pub mod app;
pub mod draw;
pub mod event;
pub mod explore;
pub mod follow;
pub mod markdown;
pub mod notes;
pub mod present;
pub mod recording;
pub mod replay;
pub mod resume;
pub mod run;
pub mod scroll;
pub mod shell;
pub mod tap;
pub mod terminal;
pub mod theme;
