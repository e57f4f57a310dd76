//! The teaching TUI: state (`app`), the one message path (`update`, and `App::apply`
//! in `event`), drawing (`draw`), colours (`theme`), and the main loop (`run`), a
//! client of the session floor (`crate::session`) that ties it to the keyboard.

pub mod app;
pub mod class;
pub mod draw;
pub mod error;
pub mod event;
pub mod explore;
pub mod follow;
pub mod markdown;
pub mod notes;
pub mod pane;
pub mod pass;
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
pub mod update;
