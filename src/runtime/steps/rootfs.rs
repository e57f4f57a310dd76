//! The root filesystem: an overlay of the read-only layers and this container's
//! writable layer, then /proc, /dev and /tmp, the volumes, and the read-only and
//! masked paths (the sequence is `runtime/mounts.rs`' `rootfs`, tested there). The
//! controller first makes the writable layer's directories on the host, owned by root
//! inside when a user namespace maps it; the subject then mounts.

use std::path::PathBuf;

use anyhow::Result;
use nix::errno::Errno;
use serde::{Deserialize, Serialize};

use super::{Inside, Outcome, Outside, Part, Shape};
use crate::runtime::mounts;
use crate::runtime::protocol::Reply;
use crate::runtime::report::Report;
use crate::runtime::state;
use crate::runtime::step::Step;

/// A host directory bound into the container: `--volume HOST:PATH[:ro]`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Volume {
    pub host: PathBuf,
    pub target: PathBuf,
    pub read_only: bool,
}

/// The root filesystem, assembled with overlayfs.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RootfsSpec {
    /// Read-only layers, top first (overlayfs `lowerdir` order).
    pub lower: Vec<PathBuf>,
    /// This container's writable layer, and overlayfs' scratch dir on the same fs.
    pub upper: PathBuf,
    pub work: PathBuf,
    /// Where the merged tree is mounted (an empty directory of ours on the host).
    pub merged: PathBuf,
    pub volumes: Vec<Volume>,
}

impl Volume {
    /// Parses `HOST:PATH[:ro|:rw]`. PATH must be absolute and free of `..`; with
    /// `check_host`, HOST must exist and is made absolute.
    pub fn parse(s: &str, check_host: bool) -> Result<Volume, String> {
        let parts: Vec<&str> = s.split(':').collect();
        let (host, target, read_only) = match parts.as_slice() {
            [h, t] => (*h, *t, false),
            [h, t, "ro"] => (*h, *t, true),
            [h, t, "rw"] => (*h, *t, false),
            _ => {
                return Err(format!(
                    "invalid volume {s:?}: expected HOST:PATH or HOST:PATH:ro"
                ));
            }
        };
        if host.is_empty() || !target.starts_with('/') {
            return Err(format!(
                "invalid volume {s:?}: HOST must be given and PATH must be absolute"
            ));
        }
        if target.split('/').any(|c| c == "..") {
            return Err(format!("invalid volume {s:?}: PATH may not contain '..'"));
        }
        if target.split('/').all(|c| c.is_empty() || c == ".") {
            return Err(format!("invalid volume {s:?}: PATH cannot be / itself"));
        }
        let host = if check_host {
            std::fs::canonicalize(host).map_err(|e| format!("invalid volume {s:?}: {host}: {e}"))?
        } else {
            PathBuf::from(host)
        };
        Ok(Volume {
            host,
            target: PathBuf::from(target),
            read_only,
        })
    }
}

pub struct Rootfs<'a> {
    pub spec: &'a RootfsSpec,
}

impl Part for Rootfs<'_> {
    fn shape(&self) -> Shape {
        Shape::ControllerFirst
    }

    fn inside(&self, cx: &mut Inside) -> Result<Outcome, Errno> {
        mounts::rootfs(cx.sys, cx.report, self.spec, cx.in_userns)?;
        Ok(Outcome::Done)
    }

    /// The writable layer's directories (owned by root inside when a user namespace
    /// planned earlier maps it).
    fn outside(&self, o: &mut Outside, report: &mut Report) -> Result<()> {
        let spec = self.spec;
        let owner = userns_root_owner(o.earlier);
        if let Some(gid) = owner {
            // The session directory is 0700: let root inside (this gid outside) through
            // to its layers, and no one else.
            let res = state::let_group_enter(&o.session.dir, gid);
            report.io("chown", format!("{:?}, -1, {gid}", o.session.dir), res)?;
            report.shell(format!(
                "chgrp {gid} {0} && chmod 0710 {0}",
                o.session.dir.display()
            ));
        }
        for dir in [&spec.upper, &spec.work, &spec.merged] {
            let res = std::fs::create_dir_all(dir);
            report.io("mkdir", format!("{dir:?}"), res)?;
            if let Some(uid) = owner {
                // Root inside a user namespace is this uid outside: it must own
                // its writable layer.
                let res = std::os::unix::fs::chown(dir, Some(uid), Some(uid));
                report.io("chown", format!("{dir:?}, {uid}, {uid}"), res)?;
            }
        }
        Ok(())
    }

    fn after(&self, _o: &mut Outside, _reply: Reply) -> Result<()> {
        Ok(())
    }
}

/// The host uid that owns files made by root inside, when a user namespace among
/// `earlier` maps root to someone else and we are root outside.
fn userns_root_owner(earlier: &[Step]) -> Option<u32> {
    if !nix::unistd::geteuid().is_root() {
        return None;
    }
    earlier.iter().find_map(|s| match s {
        Step::User { uid, .. } => Some(uid.outside),
        _ => None,
    })
}
