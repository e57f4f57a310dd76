//! Recordings are the session's (`session::recording`: the format, the writer, the
//! reader); the TUI records through a tap (`tap.rs`) and plays them (`replay.rs`).

pub use crate::session::recording::*;
