//! File helpers of the cache: removing a tree whatever its modes, the sha256 of a file, a
//! check that an entry's name stays inside the cache directory.

use std::fs;
use std::io;
use std::os::unix::fs::PermissionsExt;
use std::path::Path;

use sha2::{Digest, Sha256};

use super::{Error, Result};

/// `rm -rf` that also works as non-root on trees holding read-only directories (images
/// keep their modes, and a 0555 directory refuses the removal of its entries).
/// Never follows symlinks.
pub(crate) fn remove_tree(path: &Path) -> Result<()> {
    match fs::remove_dir_all(path) {
        Ok(()) => return Ok(()),
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(()),
        Err(e) if e.kind() == io::ErrorKind::PermissionDenied => {}
        Err(e) => return Err(Error::io(format!("cannot remove {}", path.display()))(e)),
    }
    make_dirs_writable(path);
    fs::remove_dir_all(path).map_err(Error::io(format!("cannot remove {}", path.display())))
}

pub(super) fn make_dirs_writable(dir: &Path) {
    let Ok(meta) = fs::symlink_metadata(dir) else {
        return;
    };
    if !meta.is_dir() {
        return;
    }
    let _ = fs::set_permissions(dir, fs::Permissions::from_mode(0o700));
    if let Ok(entries) = fs::read_dir(dir) {
        for entry in entries.flatten() {
            make_dirs_writable(&entry.path());
        }
    }
}

/// Lowercase hex of a SHA-256 digest.
pub(crate) fn hex(digest: &[u8]) -> String {
    digest.iter().map(|b| format!("{b:02x}")).collect()
}

/// SHA-256 of a file's contents, streamed.
pub(crate) fn sha256_file(path: &Path) -> Result<String> {
    let mut file =
        fs::File::open(path).map_err(Error::io(format!("cannot open {}", path.display())))?;
    let mut hasher = Sha256::new();
    io::copy(&mut file, &mut hasher)
        .map_err(Error::io(format!("cannot read {}", path.display())))?;
    Ok(hex(&hasher.finalize()))
}

/// Rejects names that could leave the cache directory when joined to it.
pub(crate) fn check_plain_name(name: &str) -> Result<()> {
    if name.is_empty() || name.contains('/') || name == "." || name == ".." {
        return Err(Error::Refused(format!("invalid cache entry name {name:?}")));
    }
    Ok(())
}
