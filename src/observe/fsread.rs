//! Reading files under `/proc` and `/sys` with errors that keep the path and the errno.
//!
//! Kept tiny and shared so every observer reports failures the same way; what "the process
//! is gone" looks like is [`super::error::Error::is_vanished`].

use std::io;
use std::path::Path;

use super::error::{Error, Result};

/// Reads a whole file as text. The error names the path; the `io::Error` underneath keeps the
/// errno (shown as "No such file or directory (os error 2)").
pub fn read_text(path: &Path) -> Result<String> {
    std::fs::read_to_string(path).map_err(|e| Error::read(path, e))
}

/// Reads a file that may legitimately be absent (a sysctl this kernel does not have, a
/// namespace type it was built without). `Ok(None)` only for ENOENT; every other error
/// (EACCES, EIO...) is still an error, with the path.
pub fn read_optional_text(path: &Path) -> Result<Option<String>> {
    match std::fs::read_to_string(path) {
        Ok(text) => Ok(Some(text)),
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(Error::read(path, e)),
    }
}

/// True when an error means the process we were reading has exited (and maybe been reaped)
/// since we listed it: its `/proc/<pid>` directory is gone (ENOENT), or the directory still
/// exists but the task is dead (ESRCH, which some `/proc/<pid>/*` files return for a
/// process that is exiting). proc(5).
pub fn is_vanished(err: &io::Error) -> bool {
    matches!(err.raw_os_error(), Some(libc::ENOENT) | Some(libc::ESRCH))
}

/// Formats an I/O error the way the man pages name errnos: `ENOENT: No such file or directory`.
/// Errors without an errno (rare for `/proc`) fall back to their own text.
pub fn errno_text(err: &io::Error) -> String {
    match err.raw_os_error() {
        Some(code) => {
            let e = nix::errno::Errno::from_raw(code);
            format!("{e:?}: {}", e.desc())
        }
        None => err.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn errno_text_names_the_errno() {
        let err = io::Error::from_raw_os_error(libc::ENOENT);
        assert_eq!(errno_text(&err), "ENOENT: No such file or directory");
        let err = io::Error::from_raw_os_error(libc::EACCES);
        assert_eq!(errno_text(&err), "EACCES: Permission denied");
    }

    #[test]
    fn vanished_is_enoent_or_esrch_only() {
        assert!(is_vanished(&io::Error::from_raw_os_error(libc::ENOENT)));
        assert!(is_vanished(&io::Error::from_raw_os_error(libc::ESRCH)));
        assert!(!is_vanished(&io::Error::from_raw_os_error(libc::EACCES)));
    }

    #[test]
    fn missing_file_is_none_and_error_keeps_path() {
        let missing = Path::new("/proc/self/this-file-does-not-exist");
        assert!(matches!(read_optional_text(missing), Ok(None)));
        let err = match read_text(missing) {
            Ok(_) => panic!("reading a missing file succeeded"),
            Err(e) => e,
        };
        let shown = format!("{err:#}");
        assert!(
            shown.contains("/proc/self/this-file-does-not-exist"),
            "{shown}"
        );
        assert!(shown.contains("os error 2"), "{shown}");
        assert!(err.is_vanished());
        assert_eq!(err.errno(), Some(nix::errno::Errno::ENOENT));
    }
}
