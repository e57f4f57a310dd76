//! What `underhood --version` says: the package version and the commit it was built
//! from (build.rs asks git; a build outside a checkout says so), so a workshop
//! organiser can tell which build each laptop runs.

/// `0.1.0 (commit 1a2b3c4d5e6f)`.
pub const LONG: &str = concat!(
    env!("CARGO_PKG_VERSION"),
    " (commit ",
    env!("UNDERHOOD_COMMIT"),
    ")"
);
