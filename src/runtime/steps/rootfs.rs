//! The root filesystem: an overlay of the read-only layers and this container's
//! writable layer, then /proc, /dev and /tmp, the volumes, and the read-only and
//! masked paths (the sequence is `runtime/mounts.rs`' `rootfs`, tested there). The
//! controller first makes the writable layer's directories on the host, owned by root
//! inside when a user namespace maps it; the subject then mounts.

use std::path::{Path, PathBuf};

use crate::runtime::launch_error::Result;
use nix::errno::Errno;
use serde::{Deserialize, Serialize};

use super::{Inside, Outcome, Outside, Part, Shape};
use crate::ns::Ns;
use crate::runtime::mounts;
use crate::runtime::report::Report;
use crate::runtime::step::Step;
use crate::runtime::sys::Sys;

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
    /// A directory that the subject first covers with a tmpfs, in the container's own
    /// mount namespace, and makes `upper`, `work` and `merged` in (they must be below
    /// it): the writable layer is then in memory, charged to whoever writes it as on
    /// a host whose /run is a tmpfs, and it goes with the mount namespace, so nothing
    /// of it is ever on the host's disk to remove, at teardown or after a crash.
    /// `run` (see `launcher::start_pipelined`). `None`: the controller makes the three
    /// on the host, where the TUI's learner looks at the upper layer from outside.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub scratch: Option<PathBuf>,
}

/// A volume argument refused, with the argument as given (`spec`).
#[derive(Debug, thiserror::Error)]
pub enum BadVolume {
    #[error("invalid volume {spec:?}: expected HOST:PATH or HOST:PATH:ro")]
    Shape { spec: String },
    #[error("invalid volume {spec:?}: HOST must be given and PATH must be absolute")]
    NotAbsolute { spec: String },
    #[error("invalid volume {spec:?}: PATH may not contain '..'")]
    DotDot { spec: String },
    #[error("invalid volume {spec:?}: PATH cannot be / itself")]
    Root { spec: String },
    /// The host side could not be resolved (realpath(3)): its errno in `err`.
    #[error("invalid volume {spec:?}: {host}: {err}")]
    Host {
        spec: String,
        host: String,
        err: std::io::Error,
    },
}

impl Volume {
    /// Parses `HOST:PATH[:ro|:rw]`. PATH must be absolute and free of `..`; with
    /// `check_host`, HOST must exist and is made absolute.
    pub fn parse(s: &str, check_host: bool) -> Result<Volume, BadVolume> {
        let spec = || s.to_string();
        let parts: Vec<&str> = s.split(':').collect();
        let (host, target, read_only) = match parts.as_slice() {
            [h, t] => (*h, *t, false),
            [h, t, "ro"] => (*h, *t, true),
            [h, t, "rw"] => (*h, *t, false),
            _ => return Err(BadVolume::Shape { spec: spec() }),
        };
        if host.is_empty() || !target.starts_with('/') {
            return Err(BadVolume::NotAbsolute { spec: spec() });
        }
        if target.split('/').any(|c| c == "..") {
            return Err(BadVolume::DotDot { spec: spec() });
        }
        if target.split('/').all(|c| c.is_empty() || c == ".") {
            return Err(BadVolume::Root { spec: spec() });
        }
        let host = if check_host {
            std::fs::canonicalize(host).map_err(|err| BadVolume::Host {
                spec: spec(),
                host: host.to_string(),
                err,
            })?
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
    fn name(&self) -> &'static str {
        "rootfs"
    }

    fn title(&self) -> String {
        "root filesystem (overlay, volumes, /proc, /dev)".into()
    }

    fn namespace(&self) -> Option<Ns> {
        None
    }

    fn shape(&self) -> Shape {
        Shape::ControllerFirst
    }

    fn inside(&self, cx: &mut Inside) -> Result<Outcome, Errno> {
        if let Some(dir) = &self.spec.scratch {
            scratch(cx.sys, cx.report, self.spec, dir)?;
        }
        mounts::rootfs(cx.sys, cx.report, self.spec, cx.in_userns)?;
        Ok(Outcome::Done)
    }

    /// The writable layer's directories (owned by root inside when a user namespace
    /// planned earlier maps it), unless the subject makes them in its tmpfs.
    fn outside(&self, o: &mut Outside, report: &mut Report) -> Result<()> {
        if self.spec.scratch.is_some() {
            return Ok(());
        }
        let root = o.sys.is_root();
        writable_layer(o.sys, report, self.spec, &o.session.dir, root, o.earlier)?;
        Ok(())
    }
}

/// The tmpfs of [`RootfsSpec::scratch`] on `dir`, and the writable layer's three
/// directories in it. Mounted by root of the container's user namespace, when there
/// is one, which therefore owns it and them. mode=0700: only that root may enter it
/// (overlayfs reaches upper/ and work/ with its mounter's rights); nosuid, nodev: the
/// upper layer holds whatever the container makes (setuid copies, device nodes).
/// size=10%: a tmpfs would otherwise take up to half of RAM (tmpfs(5)); a tenth is what
/// Debian gives the /run tmpfs where the writable layer lived before (initramfs-tools'
/// RUNSIZE), so a container without a memory limit can fill no more than it could there.
pub fn scratch(
    sys: &mut dyn Sys,
    r: &mut Report,
    spec: &RootfsSpec,
    dir: &Path,
) -> nix::Result<()> {
    for d in [&spec.upper, &spec.work, &spec.merged] {
        if !d.starts_with(dir) || d == dir {
            return r.call(
                "mkdir",
                format!("{d:?}: not below the writable layer's tmpfs {dir:?}"),
                Err(Errno::EINVAL),
            );
        }
    }
    mounts::mount(
        sys,
        r,
        Some("tmpfs"),
        dir,
        Some("tmpfs"),
        nix::mount::MsFlags::MS_NOSUID | nix::mount::MsFlags::MS_NODEV,
        Some("mode=0700,size=10%"),
    )?;
    for d in [&spec.upper, &spec.work, &spec.merged] {
        r.call("mkdir", format!("{d:?}"), sys.mkdir(d))?;
    }
    r.shell(format!(
        "mount -t tmpfs -o mode=0700,size=10%,nosuid,nodev tmpfs {0} && mkdir {1} {2} {3}",
        dir.display(),
        spec.upper.display(),
        spec.work.display(),
        spec.merged.display()
    ));
    r.note("the writable layer is a tmpfs of this mount namespace only: it goes with it, nothing to delete on the host");
    Ok(())
}

/// Makes `spec`'s upper, work and merged directories. When we are root outside and a
/// user namespace among `earlier` maps root inside to another uid, that uid owns them
/// (root inside must own its writable layer), and the session directory `session`
/// (0700) lets that uid's group through to them (0710), no one else.
pub fn writable_layer(
    sys: &mut dyn Sys,
    report: &mut Report,
    spec: &RootfsSpec,
    session: &Path,
    root: bool,
    earlier: &[Step],
) -> nix::Result<()> {
    let owner = if root {
        earlier.iter().find_map(|s| match s {
            Step::User { uid, .. } => Some(uid.outside),
            _ => None,
        })
    } else {
        None
    };
    if let Some(gid) = owner {
        let res = sys
            .chown(session, None, Some(gid))
            .and_then(|()| sys.chmod(session, 0o710));
        report.call("chown", format!("{session:?}, -1, {gid}"), res)?;
        report.shell(format!(
            "chgrp {gid} {0} && chmod 0710 {0}",
            session.display()
        ));
    }
    for dir in [&spec.upper, &spec.work, &spec.merged] {
        let res = sys.mkdir(dir);
        report.call("mkdir", format!("{dir:?}"), res)?;
        if let Some(uid) = owner {
            let res = sys.chown(dir, Some(uid), Some(uid));
            report.call("chown", format!("{dir:?}, {uid}, {uid}"), res)?;
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::runtime::step::IdMap;
    use crate::runtime::sys::{Call, Recorder};

    fn spec() -> RootfsSpec {
        RootfsSpec {
            lower: vec!["/l".into()],
            upper: "/s/upper".into(),
            work: "/s/work".into(),
            merged: "/s/merged".into(),
            volumes: Vec::new(),
            scratch: None,
        }
    }

    #[test]
    fn under_a_user_namespace_root_inside_owns_the_writable_layer() {
        let map = IdMap {
            inside: 0,
            outside: 100000,
            count: 65536,
        };
        let earlier = [Step::User { uid: map, gid: map }];
        let mut sys = Recorder::default();
        let mut r = Report::new("rootfs");
        writable_layer(&mut sys, &mut r, &spec(), Path::new("/s"), true, &earlier).unwrap();
        assert_eq!(
            sys.calls[..4],
            [
                Call::Chown("/s".into(), None, Some(100000)),
                Call::Chmod("/s".into(), 0o710),
                Call::Mkdir("/s/upper".into()),
                Call::Chown("/s/upper".into(), Some(100000), Some(100000)),
            ]
        );
        assert_eq!(sys.calls.len(), 8);
        assert_eq!(r.shell, vec!["chgrp 100000 /s && chmod 0710 /s"]);
    }

    #[test]
    fn with_a_scratch_tmpfs_the_subject_mounts_it_and_makes_the_layer_in_it() {
        let mut spec = spec();
        spec.scratch = Some("/s".into());
        let mut sys = Recorder::default();
        crate::runtime::steps::testing::inside(&Step::Rootfs(spec.clone()), &mut sys, false)
            .1
            .unwrap();
        match &sys.calls[0] {
            Call::Mount {
                fstype: Some(t),
                target,
                ..
            } => assert_eq!((t.as_str(), target.as_path()), ("tmpfs", Path::new("/s"))),
            other => panic!("{other:?}"),
        }
        assert_eq!(
            sys.calls[1..4],
            [
                Call::Mkdir("/s/upper".into()),
                Call::Mkdir("/s/work".into()),
                Call::Mkdir("/s/merged".into())
            ]
        );
        assert!(
            matches!(&sys.calls[4], Call::Mount { fstype: Some(t), .. } if t == "overlay"),
            "{:?}",
            sys.calls[4]
        );
        // A layer not below it is refused before anything is mounted.
        spec.upper = "/elsewhere/upper".into();
        let mut sys = Recorder::default();
        let (_, res) = crate::runtime::steps::testing::inside(&Step::Rootfs(spec), &mut sys, false);
        assert_eq!(res.unwrap_err(), Errno::EINVAL);
        assert!(sys.calls.is_empty(), "{:?}", sys.calls);
    }

    #[test]
    fn without_one_or_rootless_the_directories_are_only_made() {
        let mut sys = Recorder::default();
        let mut r = Report::new("rootfs");
        writable_layer(&mut sys, &mut r, &spec(), Path::new("/s"), true, &[]).unwrap();
        assert_eq!(
            sys.calls,
            vec![
                Call::Mkdir("/s/upper".into()),
                Call::Mkdir("/s/work".into()),
                Call::Mkdir("/s/merged".into())
            ]
        );
    }
}
