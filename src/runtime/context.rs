//! `ctx`, the `with_context` of the modules whose errors are typed ([`crate::runtime::image`],
//! [`crate::runtime::assemble`]): says what was being done when a file operation, a
//! system call, a JSON parse or one of the module's own calls failed, keeping the
//! error's kind (and so its errno) for callers that branch on it.
//!
//! `context_trait!(Error, Refused)` makes, in the calling module, a `Ctx` trait for its
//! `Error`, which must have the variants `Io { what, err: io::Error }`,
//! `Sys { what, errno: Errno }`, `Json { what, err: serde_json::Error }` and
//! `Context { what, err: Box<Error> }` and `Cache(cache::Error)`; a `None` becomes the
//! variant named second. It also gives `Error::errno`, the errno of the failed call.

macro_rules! context_trait {
    ($error:ident, $none:ident) => {
        impl $error {
            /// The errno of the failed call, if one failed.
            pub fn errno(&self) -> Option<nix::errno::Errno> {
                match self {
                    $error::Io { err, .. } => err.raw_os_error().map(nix::errno::Errno::from_raw),
                    $error::Sys { errno, .. } => Some(*errno),
                    $error::Context { err, .. } => err.errno(),
                    $error::Cache(e) => e.errno(),
                    _ => None,
                }
            }
        }

        crate::runtime::context::ctx_trait!($error, $none);
    };
}

/// The `Ctx` trait alone, for an error whose `errno()` has more kinds to look into
/// (`runtime::launch_error`): the variants `Io`, `Sys`, `Json` and `Context` as above.
macro_rules! ctx_trait {
    ($error:ident, $none:ident) => {
        /// `with_context` for this module's errors: says what was being done.
        pub trait Ctx<T> {
            fn ctx<S: Into<String>>(self, what: impl FnOnce() -> S) -> Result<T, $error>;
        }

        impl<T> Ctx<T> for std::result::Result<T, std::io::Error> {
            fn ctx<S: Into<String>>(self, what: impl FnOnce() -> S) -> Result<T, $error> {
                self.map_err(|err| $error::Io {
                    what: what().into(),
                    err,
                })
            }
        }

        impl<T> Ctx<T> for std::result::Result<T, nix::errno::Errno> {
            fn ctx<S: Into<String>>(self, what: impl FnOnce() -> S) -> Result<T, $error> {
                self.map_err(|errno| $error::Sys {
                    what: what().into(),
                    errno,
                })
            }
        }

        impl<T> Ctx<T> for std::result::Result<T, serde_json::Error> {
            fn ctx<S: Into<String>>(self, what: impl FnOnce() -> S) -> Result<T, $error> {
                self.map_err(|err| $error::Json {
                    what: what().into(),
                    err,
                })
            }
        }

        impl<T> Ctx<T> for std::result::Result<T, $error> {
            fn ctx<S: Into<String>>(self, what: impl FnOnce() -> S) -> Result<T, $error> {
                self.map_err(|err| $error::Context {
                    what: what().into(),
                    err: Box::new(err),
                })
            }
        }

        impl<T> Ctx<T> for Option<T> {
            fn ctx<S: Into<String>>(self, what: impl FnOnce() -> S) -> Result<T, $error> {
                self.ok_or_else(|| $error::$none(what().into()))
            }
        }
    };
}

pub(crate) use context_trait;
pub(crate) use ctx_trait;
