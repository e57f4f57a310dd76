//! A volume: a host directory or file bound into the container, with every mount below
//! it, then made nosuid and nodev (and read-only for `:ro`) all the way down.
//!
//! A bind mount keeps the flags of the mount it copies (mount(2), "Creating a bind
//! mount"): without this, a read-write volume from an ordinary host filesystem lets
//! root inside (CAP_MKNOD) make a node for a host device and open it, and a read-only
//! volume leaves whatever is mounted below its source (`-v /:/host:ro` and the host's
//! /proc, /sys, /dev) writable, because MS_REMOUNT changes one mount only.

use std::path::{Component, Path};

use nix::errno::Errno;
use nix::mount::MsFlags;

use super::{inside, mount};
use crate::runtime::report::Report;
use crate::runtime::step::Volume;
use crate::runtime::sys::{MOUNT_ATTR_NODEV, MOUNT_ATTR_NOSUID, MOUNT_ATTR_RDONLY, Sys};

/// Names mount_setattr(2) attributes as linux/mount.h spells them.
fn attr_names(attrs: u64) -> String {
    [
        (MOUNT_ATTR_RDONLY, "MOUNT_ATTR_RDONLY"),
        (MOUNT_ATTR_NOSUID, "MOUNT_ATTR_NOSUID"),
        (MOUNT_ATTR_NODEV, "MOUNT_ATTR_NODEV"),
    ]
    .iter()
    .filter(|(a, _)| attrs & a != 0)
    .map(|(_, n)| *n)
    .collect::<Vec<_>>()
    .join("|")
}

/// Binds `v` into the root at `merged`.
pub fn bind(sys: &mut dyn Sys, r: &mut Report, merged: &Path, v: &Volume) -> nix::Result<()> {
    r.call(
        "resolve",
        format!("{:?}", v.target),
        inside(merged, &v.target),
    )?;
    if v.target
        .components()
        .all(|c| matches!(c, Component::RootDir))
    {
        return r.call("resolve", "a volume cannot replace /", Err(Errno::EINVAL));
    }
    // The image may hold symlinks (even absolute ones) on the way to the target:
    // follow them inside the new root only, never on the host.
    let resolved = sys.resolve_in_root(merged, &v.target);
    let target = r.call(
        "resolve",
        format!("{:?} inside {:?}", v.target, merged),
        resolved,
    )?;
    // The masked paths are mounted after the volumes: one below them would be hidden.
    for m in super::MASKED_PATHS {
        if target.starts_with(inside(merged, Path::new(m))?) {
            return r.call(
                "resolve",
                format!(
                    "{:?}: under {m}, which is masked (runc's maskedPaths): the volume would be hidden",
                    v.target
                ),
                Err(Errno::EINVAL),
            );
        }
    }
    if v.host.is_dir() {
        r.call("mkdir", format!("{target:?}"), sys.mkdir(&target))?;
    } else {
        if let Some(parent) = target.parent() {
            r.call("mkdir", format!("{parent:?}"), sys.mkdir(parent))?;
        }
        r.call(
            "open",
            format!("{target:?}, O_CREAT"),
            sys.create_file(&target),
        )?;
    }
    let host = v.host.to_string_lossy().into_owned();
    // MS_REC: what is mounted below the source comes along (a non-recursive bind would
    // show the bare directories under it instead).
    mount(
        sys,
        r,
        Some(&host),
        &target,
        None,
        MsFlags::MS_BIND | MsFlags::MS_REC,
        None,
    )?;
    let mut attrs = MOUNT_ATTR_NOSUID | MOUNT_ATTR_NODEV;
    if v.read_only {
        attrs |= MOUNT_ATTR_RDONLY;
    }
    // mount_setattr(2) (Linux 5.12) with AT_RECURSIVE changes the new mount and every
    // mount below it in one call.
    match sys.mount_setattr(&target, true, attrs) {
        Err(Errno::ENOSYS) => {
            r.note(
                "this kernel has no mount_setattr(2) (before Linux 5.12): each mount of the volume is remounted on its own",
            );
            remount_each(sys, r, &target, v.read_only)?;
        }
        res => {
            r.call(
                "mount_setattr",
                format!(
                    "AT_FDCWD, {target:?}, AT_RECURSIVE, {{attr_set={}}}",
                    attr_names(attrs)
                ),
                res,
            )?;
        }
    }
    let ro = if v.read_only { ",ro" } else { "" };
    r.shell(format!(
        "mount --rbind {} {}",
        v.host.display(),
        target.display()
    ));
    r.shell(format!(
        "mount -o remount,bind,nosuid,nodev{ro} {}   # and every mount below it",
        target.display()
    ));
    r.note(format!(
        "the volume {} is nosuid,nodev{ro} down to its last submount: a device node made in it opens nothing",
        v.target.display()
    ));
    Ok(())
}

/// The fallback of mount_setattr(2): MS_REMOUNT|MS_BIND changes one mount, so each
/// mount at or below `target` is remounted, repeating the flags it already has (the
/// kernel refuses to drop a locked one in a user namespace, mount(2) EPERM).
fn remount_each(sys: &mut dyn Sys, r: &mut Report, target: &Path, ro: bool) -> nix::Result<()> {
    let points = r.call(
        "read",
        format!("\"/proc/self/mountinfo\", mounts at or below {target:?}"),
        sys.mounts_below(target),
    )?;
    for p in points {
        let kept = r.call("statvfs", format!("{p:?}"), sys.mount_flags(&p))?;
        let mut flags =
            kept | MsFlags::MS_BIND | MsFlags::MS_REMOUNT | MsFlags::MS_NOSUID | MsFlags::MS_NODEV;
        if ro {
            flags |= MsFlags::MS_RDONLY;
        }
        mount(sys, r, None, &p, None, flags, None)?;
    }
    Ok(())
}
