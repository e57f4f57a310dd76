//! The container's root: overlayfs in the kernel, and the default root filesystem.

use std::path::PathBuf;

use underhood::observe::host::Overlay;
use underhood::runtime::{assemble, paths::Paths};

use super::{Check, Status};

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RootfsFacts {
    pub dir: PathBuf,
    /// "busybox" or "host tools".
    pub source: String,
    pub shell: String,
    pub tools: usize,
    pub tools_layer: PathBuf,
}

/// Why the default rootfs is not there: the place it goes, or the making of it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RootfsProblem {
    /// The cache directory cannot be created or written (a read-only or missing HOME).
    Cache {
        dir: PathBuf,
        error: String,
    },
    Assemble(String),
}

pub(super) fn check_overlay(root: bool, o: Overlay) -> Check {
    let name = "overlayfs";
    match o {
        Overlay::Available => Check::new(name, Status::Yes, "available (in /proc/filesystems)"),
        Overlay::Module if root => Check::new(
            name,
            Status::Yes,
            "a module, not loaded yet: the kernel loads overlay.ko on the first mount",
        ),
        Overlay::Module => Check::new(name, Status::Warn, "a module, not loaded yet")
            .why("the kernel should load it on the first overlay mount, unless module loading is restricted")
            .fix("`sudo modprobe overlay` (add `overlay` to /etc/modules-load.d/ to keep it)"),
        Overlay::Missing => Check::new(name, Status::No, "missing: not built in and no overlay module")
            .why("every container's root is an overlay: a read-only image below, a writable layer per session above")
            .fix(
                "install your distribution's kernel modules (Ubuntu: `sudo apt install \
                 linux-modules-extra-$(uname -r)`), then `sudo modprobe overlay`",
            ),
    }
}

pub(super) fn check_rootfs(r: &Result<RootfsFacts, RootfsProblem>) -> Check {
    match r {
        Ok(r) => Check::new(
            "rootfs",
            Status::Yes,
            format!(
                "{}: {}, shell {}, {} tools; our tools layer at {}",
                r.dir.display(),
                r.source,
                r.shell,
                r.tools,
                r.tools_layer.display()
            ),
        ),
        Err(RootfsProblem::Cache { dir, error }) => Check::new(
            "rootfs",
            Status::No,
            format!("the cache directory {} cannot be written", dir.display()),
        )
        .why(format!(
            "the default root filesystem is assembled there once: {error}"
        ))
        .fix(format!(
            "make {} writable for this user, or point XDG_CACHE_HOME at a writable \
             directory (HOME may be read-only or missing)",
            dir.display()
        )),
        Err(RootfsProblem::Assemble(e)) => Check::new(
            "rootfs",
            Status::No,
            "the default root filesystem cannot be assembled",
        )
        .why(e.clone())
        .fix(
            "install busybox (`sudo apt install busybox-static`) or make sure a shell is in \
             /bin; or give lessons a rootfs with `--rootfs DIR` / `--image FILE`",
        ),
    }
}

pub(super) fn gather_rootfs(paths: &Paths) -> Result<RootfsFacts, RootfsProblem> {
    // The cache first: without it nothing can be assembled, whatever the host has, and
    // the fix is the directory, not a package.
    let cache = &paths.cache_dir;
    let usable = std::fs::create_dir_all(cache).and_then(|()| {
        nix::unistd::access(cache, nix::unistd::AccessFlags::W_OK).map_err(std::io::Error::from)
    });
    if let Err(e) = usable {
        return Err(RootfsProblem::Cache {
            dir: cache.clone(),
            error: e.to_string(),
        });
    }
    let problem = |e: assemble::error::Error| RootfsProblem::Assemble(format!("{e:#}"));
    let a = assemble::assemble_default(paths).map_err(problem)?;
    let tools_layer = assemble::tools_layer(paths).map_err(problem)?;
    Ok(RootfsFacts {
        dir: a.dir,
        source: a.source,
        shell: a.shell,
        tools: a.tools.len(),
        tools_layer,
    })
}
