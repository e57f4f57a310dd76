//! Build-then-rename for everything under the cache directory.
//!
//! A cached tree (an assembled rootfs, the tools layer, an unpacked image) is built in a
//! temporary directory beside its final name and renamed into place only when complete.
//! `rename(2)` of a directory is atomic, and it fails when the destination already exists
//! and is not empty, so two concurrent first starts cannot corrupt each other: the loser
//! throws its copy away and uses the winner's. A failed build leaves nothing behind.

use std::ffi::OsStr;
use std::fs;
use std::io;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

use anyhow::{Context, Result, bail};
use sha2::{Digest, Sha256};

/// Marks a directory under construction: `.<final name>.tmp-<pid>-<seq>`.
const TMP_MARK: &str = ".tmp-";

/// Returns `final_dir` if it exists; otherwise runs `build` on an empty temporary directory
/// beside it and renames that into place.
pub(crate) fn build_atomically(
    final_dir: &Path,
    build: impl FnOnce(&Path) -> Result<()>,
) -> Result<PathBuf> {
    if final_dir.is_dir() {
        return Ok(final_dir.to_path_buf());
    }
    let parent = final_dir
        .parent()
        .with_context(|| format!("cache path {} has no parent", final_dir.display()))?;
    let name = final_dir
        .file_name()
        .and_then(OsStr::to_str)
        .with_context(|| format!("cache path {} has no UTF-8 name", final_dir.display()))?;
    fs::create_dir_all(parent)
        .with_context(|| format!("cannot create cache directory {}", parent.display()))?;
    remove_stale_tmp(parent, name);

    // pid (for stale detection) + a per-process counter (threads of one process).
    static SEQ: AtomicU64 = AtomicU64::new(0);
    let seq = SEQ.fetch_add(1, Ordering::Relaxed);
    let tmp = parent.join(format!(".{name}{TMP_MARK}{}-{seq}", std::process::id()));
    fs::create_dir(&tmp)
        .with_context(|| format!("cannot create temporary directory {}", tmp.display()))?;
    // Whatever the umask, the tree must be readable by the container's users.
    fs::set_permissions(&tmp, fs::Permissions::from_mode(0o755))
        .with_context(|| format!("cannot chmod 0755 {}", tmp.display()))?;

    if let Err(e) = build(&tmp) {
        // Best effort: the build error matters more than a failed cleanup.
        let _ = remove_tree(&tmp);
        return Err(e);
    }
    match fs::rename(&tmp, final_dir) {
        Ok(()) => Ok(final_dir.to_path_buf()),
        Err(e) if final_dir.is_dir() => {
            // Another process finished first (ENOTEMPTY/EEXIST): use its copy.
            let _ = e;
            remove_tree(&tmp)?;
            Ok(final_dir.to_path_buf())
        }
        Err(e) => {
            let _ = remove_tree(&tmp);
            Err(e).with_context(|| {
                format!("cannot rename {} to {}", tmp.display(), final_dir.display())
            })
        }
    }
}

/// Removes temporary directories left by builds of `name` whose process has died
/// (a crash, or a kill during the first start).
fn remove_stale_tmp(parent: &Path, name: &str) {
    let prefix = format!(".{name}{TMP_MARK}");
    let Ok(entries) = fs::read_dir(parent) else {
        return;
    };
    for entry in entries.flatten() {
        let file_name = entry.file_name();
        let Some(rest) = file_name.to_str().and_then(|n| n.strip_prefix(&prefix)) else {
            continue;
        };
        let Some(pid) = rest.split('-').next().and_then(|p| p.parse::<i32>().ok()) else {
            continue;
        };
        let alive = nix::sys::signal::kill(nix::unistd::Pid::from_raw(pid), None)
            .map(|()| true)
            .unwrap_or_else(|e| e != nix::errno::Errno::ESRCH);
        if !alive {
            let _ = remove_tree(&entry.path());
        }
    }
}

/// `rm -rf` that also works as non-root on trees holding read-only directories (images
/// keep their modes, and a 0555 directory refuses the removal of its entries).
/// Never follows symlinks.
pub(crate) fn remove_tree(path: &Path) -> Result<()> {
    match fs::remove_dir_all(path) {
        Ok(()) => return Ok(()),
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(()),
        Err(e) if e.kind() == io::ErrorKind::PermissionDenied => {}
        Err(e) => return Err(e).with_context(|| format!("cannot remove {}", path.display())),
    }
    make_dirs_writable(path);
    fs::remove_dir_all(path).with_context(|| format!("cannot remove {}", path.display()))
}

fn make_dirs_writable(dir: &Path) {
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
        fs::File::open(path).with_context(|| format!("cannot open {}", path.display()))?;
    let mut hasher = Sha256::new();
    io::copy(&mut file, &mut hasher).with_context(|| format!("cannot read {}", path.display()))?;
    Ok(hex(&hasher.finalize()))
}

/// Rejects names that could leave the cache directory when joined to it.
pub(crate) fn check_plain_name(name: &str) -> Result<()> {
    if name.is_empty() || name.contains('/') || name == "." || name == ".." {
        bail!("invalid cache entry name {name:?}");
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn builds_once_and_reuses() {
        let t = tempfile::tempdir().unwrap();
        let target = t.path().join("cache/thing-1");
        let mut calls = 0;
        let got = build_atomically(&target, |tmp| {
            calls += 1;
            fs::write(tmp.join("a"), "1")?;
            Ok(())
        })
        .unwrap();
        assert_eq!(got, target);
        assert_eq!(fs::read_to_string(target.join("a")).unwrap(), "1");
        let again = build_atomically(&target, |_| panic!("must not rebuild")).unwrap();
        assert_eq!(again, target);
        assert_eq!(calls, 1);
        // Nothing but the final directory is left beside it.
        let names: Vec<_> = fs::read_dir(t.path().join("cache"))
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .collect();
        assert_eq!(names, vec![std::ffi::OsString::from("thing-1")]);
    }

    #[test]
    fn failed_build_leaves_nothing() {
        let t = tempfile::tempdir().unwrap();
        let target = t.path().join("thing");
        let err = build_atomically(&target, |tmp| {
            fs::create_dir(tmp.join("sub"))?;
            fs::set_permissions(tmp.join("sub"), fs::Permissions::from_mode(0o555))?;
            bail!("boom")
        })
        .unwrap_err();
        assert!(err.to_string().contains("boom"));
        assert_eq!(fs::read_dir(t.path()).unwrap().count(), 0);
    }

    #[test]
    fn stale_tmp_of_dead_process_is_removed() {
        let t = tempfile::tempdir().unwrap();
        // pid_max is at most 2^22, so this pid cannot be alive.
        let stale = t.path().join(".thing.tmp-99999999-1");
        fs::create_dir(&stale).unwrap();
        let live = t
            .path()
            .join(format!(".thing.tmp-{}-live", std::process::id()));
        fs::create_dir(&live).unwrap();
        build_atomically(&t.path().join("thing"), |_| Ok(())).unwrap();
        assert!(!stale.exists());
        assert!(live.exists(), "a live process's build must not be touched");
    }

    #[test]
    fn concurrent_builders_agree() {
        let t = tempfile::tempdir().unwrap();
        let target = t.path().join("thing");
        let handles: Vec<_> = (0..4)
            .map(|i| {
                let target = target.clone();
                std::thread::spawn(move || {
                    build_atomically(&target, |tmp| {
                        std::thread::sleep(std::time::Duration::from_millis(20));
                        fs::write(tmp.join("who"), format!("{i}"))?;
                        Ok(())
                    })
                    .unwrap()
                })
            })
            .collect();
        for h in handles {
            assert_eq!(h.join().unwrap(), target);
        }
        let who: u32 = fs::read_to_string(target.join("who"))
            .unwrap()
            .parse()
            .unwrap();
        assert!(who < 4);
        assert_eq!(fs::read_dir(t.path()).unwrap().count(), 1);
    }
}
