//! Flattening layers into one directory, for when overlayfs whiteouts cannot be made (not
//! root: no mknod of a whiteout device, no `trusted.*` xattrs).
//!
//! Each layer is unpacked on its own with its whiteouts recorded, then merged into the
//! flat tree: first its deletions are applied to what the lower layers left (whiteouts
//! only ever concern lower layers), then its entries are moved in with `renameat`
//! (hard links survive, nothing is copied). Directory modes are applied once at the end,
//! so a read-only directory of one layer does not stop the next from writing into it.

use std::collections::HashMap;
use std::os::fd::{AsRawFd, OwnedFd};
use std::path::{Path, PathBuf};

use crate::runtime::image::error::{Ctx, Error, Result};
use nix::errno::Errno;
use nix::fcntl::AtFlags;
use nix::sys::stat::{SFlag, fstatat};

use super::unpack::{DirMeta, Unpacked, apply_dir_meta, open_dir_fd, open_existing_dir, remove_at};

/// The flat tree being built, and the directory metadata of every layer merged so far.
pub(crate) struct Flat {
    root: OwnedFd,
    dirs: HashMap<PathBuf, DirMeta>,
}

impl Flat {
    pub(crate) fn new(dir: &Path) -> Result<Flat> {
        Ok(Flat {
            root: open_dir_fd(dir)?,
            dirs: HashMap::new(),
        })
    }

    /// Merges one unpacked layer (at `layer`, which is emptied) into the flat tree.
    pub(crate) fn merge(&mut self, layer: &Path, unpacked: Unpacked) -> Result<()> {
        for dir in &unpacked.opaques {
            if let Some(fd) = open_existing_dir(&self.root, dir) {
                for name in list(&fd)? {
                    remove_at(&fd, &name)
                        .ctx(|| format!("cannot empty opaque directory /{}", dir.display()))?;
                }
            }
            self.forget_below(dir, false);
        }
        for path in &unpacked.whiteouts {
            let (Some(parent), Some(name)) = (path.parent(), path.file_name()) else {
                continue;
            };
            // A whiteout below a symlink or a missing directory deletes nothing.
            if let Some(fd) = open_existing_dir(&self.root, parent) {
                remove_at(&fd, name)
                    .ctx(|| format!("cannot apply whiteout of /{}", path.display()))?;
            }
            self.forget_below(path, true);
        }
        let src = open_dir_fd(layer)?;
        move_tree(&src, &self.root, Path::new(""))?;
        for d in unpacked.dirs {
            self.dirs.insert(d.path.clone(), d);
        }
        Ok(())
    }

    /// Records a layer's directory metadata without moving anything (the single layer of a
    /// rootfs tarball is its own flat tree).
    pub(crate) fn merge_metadata_only(&mut self, unpacked: Unpacked) {
        for d in unpacked.dirs {
            self.dirs.insert(d.path.clone(), d);
        }
    }

    /// Applies the directory modes, owners and times of all layers (upper layers win).
    pub(crate) fn finish(self, chown: bool) -> Result<()> {
        apply_dir_meta(&self.root, self.dirs.into_values().collect(), chown)
    }

    /// A deleted directory's recorded metadata must not land on a later namesake.
    fn forget_below(&mut self, path: &Path, including: bool) {
        self.dirs
            .retain(|p, _| !(p.starts_with(path) && (including || p != path)));
    }
}

/// Moves every entry of `src` into `dst`: a directory present in both is merged, anything
/// else in `dst` is replaced.
fn move_tree(src: &OwnedFd, dst: &OwnedFd, rel: &Path) -> Result<()> {
    for name in list(src)? {
        let here = rel.join(&name);
        let s = fstatat(src, name.as_os_str(), AtFlags::AT_SYMLINK_NOFOLLOW).map_err(|e| {
            Error::Failed(format!("cannot stat layer entry /{}: {e}", here.display()))
        })?;
        let d = match fstatat(dst, name.as_os_str(), AtFlags::AT_SYMLINK_NOFOLLOW) {
            Ok(st) => Some(st),
            Err(Errno::ENOENT) => None,
            Err(e) => {
                return Err(Error::Failed(format!(
                    "cannot stat /{}: {e}",
                    here.display()
                )));
            }
        };
        let both_dirs = is_dir(s.st_mode) && d.is_some_and(|d| is_dir(d.st_mode));
        if both_dirs {
            let (Some(sfd), Some(dfd)) = (
                open_existing_dir(src, Path::new(&name)),
                open_existing_dir(dst, Path::new(&name)),
            ) else {
                return Err(Error::Failed(format!(
                    "cannot open directory /{}",
                    here.display()
                )));
            };
            move_tree(&sfd, &dfd, &here)?;
            continue;
        }
        if d.is_some() {
            remove_at(dst, &name).ctx(|| format!("cannot replace /{}", here.display()))?;
        }
        nix::fcntl::renameat(src, name.as_os_str(), dst, name.as_os_str()).map_err(|e| {
            Error::Failed(format!(
                "cannot move /{} into the flat tree: {e}",
                here.display()
            ))
        })?;
    }
    Ok(())
}

fn is_dir(mode: u32) -> bool {
    SFlag::from_bits_truncate(mode) & SFlag::S_IFMT == SFlag::S_IFDIR
}

/// Names in a directory given by descriptor (through /proc/self/fd: std has no fdopendir).
fn list(dir: &OwnedFd) -> Result<Vec<std::ffi::OsString>> {
    let path = Path::new("/proc/self/fd").join(dir.as_raw_fd().to_string());
    let mut names = Vec::new();
    for entry in std::fs::read_dir(&path).ctx(|| format!("cannot list {}", path.display()))? {
        let entry = entry.ctx(|| format!("cannot list {}", path.display()))?;
        names.push(entry.file_name());
    }
    Ok(names)
}
