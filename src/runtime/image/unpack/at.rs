//! Walking and changing a layer through directory descriptors, never through paths that
//! could hold a symlink: `openat(O_NOFOLLOW|O_DIRECTORY)` one component at a time
//! (openat(2)), `fstatat(AT_SYMLINK_NOFOLLOW)` before removing (fstatat(2), unlinkat(2)),
//! and the owner, mode and time set on the descriptor itself (fchown(2), fchmod(2),
//! futimens(2)).

use std::ffi::{OsStr, OsString};
use std::os::fd::{AsFd, AsRawFd, OwnedFd};
use std::os::unix::ffi::OsStrExt;
use std::path::Path;

use crate::runtime::image::error::{Error, Result};
use nix::errno::Errno;
use nix::fcntl::{AtFlags, OFlag, openat};
use nix::sys::stat::{FileStat, Mode, SFlag, fstatat};
use nix::sys::time::TimeSpec;

use super::DirMeta;

const OPAQUE_XATTR: &std::ffi::CStr = c"trusted.overlay.opaque";

/// chown (which clears setuid bits, so first), chmod, mtime.
pub(super) fn set_fd_meta<Fd: AsFd>(
    fd: Fd,
    mode: u32,
    uid: u64,
    gid: u64,
    mtime: i64,
    chown: bool,
) -> nix::Result<()> {
    if chown {
        nix::unistd::fchown(
            fd.as_fd(),
            Some(nix::unistd::Uid::from_raw(uid as u32)),
            Some(nix::unistd::Gid::from_raw(gid as u32)),
        )?;
    }
    nix::sys::stat::fchmod(fd.as_fd(), Mode::from_bits_truncate(mode))?;
    let t = TimeSpec::new(mtime, 0);
    nix::sys::stat::futimens(fd.as_fd(), &t, &t)
}

/// Applies directory metadata, deepest first, under `root`. Directories that are gone (a
/// later entry replaced them) are skipped.
pub(crate) fn apply_dir_meta(root: &OwnedFd, mut dirs: Vec<DirMeta>, chown: bool) -> Result<()> {
    dirs.sort_by_key(|d| std::cmp::Reverse(d.path.components().count()));
    for d in dirs {
        let Some(fd) = open_existing_dir(root, &d.path) else {
            continue;
        };
        set_fd_meta(&fd, d.mode, d.uid, d.gid, d.mtime, chown).map_err(|e| {
            Error::Failed(format!(
                "cannot set owner {}:{}, mode {:o} on directory /{}: {e}",
                d.uid,
                d.gid,
                d.mode,
                d.path.display()
            ))
        })?;
    }
    Ok(())
}

/// Opens an existing directory below `root` without following any symlink; None if any
/// component is missing or not a real directory.
pub(crate) fn open_existing_dir(root: &OwnedFd, rel: &Path) -> Option<OwnedFd> {
    let mut cur = nix::unistd::dup(root).ok()?;
    for c in rel.components() {
        cur = open_child(&cur, c.as_os_str()).ok()?;
    }
    Some(cur)
}

pub(super) fn open_child<Fd: AsFd>(dir: Fd, name: &OsStr) -> nix::Result<OwnedFd> {
    openat(
        dir,
        name,
        OFlag::O_RDONLY | OFlag::O_DIRECTORY | OFlag::O_NOFOLLOW | OFlag::O_CLOEXEC,
        Mode::empty(),
    )
}

pub(crate) fn open_dir_fd(path: &Path) -> Result<OwnedFd> {
    openat(
        nix::fcntl::AT_FDCWD,
        path,
        OFlag::O_RDONLY | OFlag::O_DIRECTORY | OFlag::O_NOFOLLOW | OFlag::O_CLOEXEC,
        Mode::empty(),
    )
    .map_err(|e| Error::Failed(format!("cannot open directory {}: {e}", path.display())))
}

pub(super) fn is_dir(st: &FileStat) -> bool {
    SFlag::from_bits_truncate(st.st_mode) & SFlag::S_IFMT == SFlag::S_IFDIR
}

/// Removes `name` in `parent`, whatever it is, without following symlinks.
pub(crate) fn remove_at(parent: &OwnedFd, name: &OsStr) -> Result<()> {
    match fstatat(parent, name, AtFlags::AT_SYMLINK_NOFOLLOW) {
        Err(Errno::ENOENT) => Ok(()),
        Err(e) => Err(Error::Failed(format!("stat: {e}"))),
        Ok(st) if is_dir(&st) => {
            // remove_dir_all does not follow symlinks; the path goes through the descriptor
            // of the parent we walked to safely.
            let path = Path::new("/proc/self/fd")
                .join(parent.as_raw_fd().to_string())
                .join(name);
            Ok(crate::runtime::assemble::cache::remove_tree(&path)?)
        }
        Ok(_) => nix::unistd::unlinkat(parent, name, nix::unistd::UnlinkatFlags::NoRemoveDir)
            .map_err(|e| Error::Failed(format!("unlink: {e}"))),
    }
}

pub(super) fn set_opaque(dir: &OwnedFd, shown: &str) -> Result<()> {
    // SAFETY: the name is a valid C string, the value a 1-byte buffer that outlives the call.
    let rc = unsafe {
        libc::fsetxattr(
            dir.as_raw_fd(),
            OPAQUE_XATTR.as_ptr(),
            b"y".as_ptr().cast(),
            1,
            0,
        )
    };
    if rc != 0 {
        let e = Errno::last();
        return Err(Error::Refused(format!(
            "cannot mark {shown:?} opaque (setxattr trusted.overlay.opaque=y needs root and a \
             filesystem with trusted xattrs): {e}"
        )));
    }
    Ok(())
}

/// Splits an entry name into plain components: refuses absolute names and `..`; drops
/// `.` and empty components (`./etc//passwd`).
pub(crate) fn components(raw: &[u8]) -> std::result::Result<Vec<OsString>, String> {
    if raw.first() == Some(&b'/') {
        return Err("absolute path".to_string());
    }
    if raw.contains(&0) {
        return Err("NUL byte in the name".to_string());
    }
    let mut out = Vec::new();
    for c in raw.split(|b| *b == b'/') {
        match c {
            b"" | b"." => {}
            b".." => return Err("'..' component".to_string()),
            c => out.push(OsStr::from_bytes(c).to_os_string()),
        }
    }
    Ok(out)
}
