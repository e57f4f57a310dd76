//! The cgroup layout and, per controller, whether this user may make a cgroup with it.

use std::path::{Path, PathBuf};

use underhood::runtime::cgroup::{self, Controller, Version};
use underhood::runtime::paths::Paths;

use super::{Check, Status};

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CgroupFacts {
    /// "hybrid (memory on v1)", "cgroup v2", ...
    pub layout: String,
    pub source: String,
    pub controllers: Vec<ControllerFacts>,
    /// Rootless on v2: our own cgroup (from /proc/self/cgroup) and whether we may write
    /// to it, i.e. whether systemd delegated it to us.
    pub own_v2_cgroup: Option<(PathBuf, bool)>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ControllerFacts {
    pub controller: Controller,
    /// Where underhood would make its cgroup for this controller: the hierarchy's mount
    /// (`/sys/fs/cgroup/memory` on v1, `/sys/fs/cgroup` on v2). `None`: no hierarchy has it.
    pub hierarchy: Option<(Version, PathBuf)>,
    /// access(2) W_OK on that directory: may we mkdir our cgroup there?
    pub writable: bool,
    /// v2 only: already in the parent's `cgroup.subtree_control`.
    pub enabled_for_children: bool,
}

pub(super) fn check_cgroups(root: bool, cg: &Result<CgroupFacts, String>) -> Vec<Check> {
    let facts = match cg {
        Ok(f) => f,
        Err(e) => {
            return vec![
                Check::new("cgroups", Status::No, "no cgroup hierarchy found")
                    .why(e.clone())
                    .fix(
                        "mount cgroup2 (`sudo mount -t cgroup2 none /sys/fs/cgroup`) or boot \
                         with systemd, which mounts cgroups",
                    ),
            ];
        }
    };
    let mut out = vec![Check::new(
        "cgroups",
        Status::Yes,
        format!("{} (from {})", facts.layout, facts.source),
    )];
    for c in &facts.controllers {
        out.push(check_controller(root, c, facts.own_v2_cgroup.as_ref()));
    }
    out
}

pub(super) fn check_controller(
    root: bool,
    c: &ControllerFacts,
    own: Option<&(PathBuf, bool)>,
) -> Check {
    let name = format!("  {} controller", c.controller.name());
    // The memory lesson (the hog, the OOM kill) needs memory; pids and cpu are extras
    // for `run --pids/--cpus`.
    let missing = if c.controller == Controller::Memory {
        Status::No
    } else {
        Status::Warn
    };
    let used_for = match c.controller {
        Controller::Memory => "the memory limit and the OOM lesson",
        Controller::Pids => "`run --pids`",
        Controller::Cpu => "`run --cpus`",
    };
    let Some((version, dir)) = &c.hierarchy else {
        return Check::new(&name, missing, "missing: no mounted hierarchy offers it")
            .why(format!("needed for {used_for}"))
            .fix(format!(
                "enable it in the kernel (CONFIG_{}) or its boot options (cgroup_enable={})",
                match c.controller {
                    Controller::Memory => "MEMCG",
                    Controller::Pids => "CGROUP_PIDS",
                    Controller::Cpu => "CGROUP_SCHED",
                },
                c.controller.name()
            ));
    };
    let place = format!("{version} at {}", dir.display());
    if c.writable {
        let mut found = format!("{place}, usable");
        if *version == Version::V2 && !c.enabled_for_children {
            found.push_str(" (underhood enables it in cgroup.subtree_control on first use)");
        }
        return Check::new(&name, Status::Yes, found);
    }
    let mut check = Check::new(
        &name,
        missing,
        format!("{place}, but you may not create a cgroup there"),
    )
    .why(format!(
        "underhood makes its cgroup directly under {} (needed for {used_for})",
        dir.display()
    ));
    check = match (root, version, own) {
        (false, Version::V2, Some((own_dir, true))) => check.fix(format!(
            "run as root (`sudo underhood`); your own cgroup {} is delegated to you, but \
             underhood does not create cgroups below it yet",
            own_dir.display()
        )),
        (false, Version::V2, Some((own_dir, false))) => check.fix(format!(
            "run as root (`sudo underhood`); rootless runtimes need a delegated cgroup, e.g. \
             `systemd-run --user --scope -p Delegate=yes`, and {} is not writable by you",
            own_dir.display()
        )),
        (false, _, _) => check.fix("run as root (`sudo underhood`)"),
        (true, _, _) => check.fix(format!(
            "check that {} is mounted read-write (`mount | grep cgroup`)",
            dir.display()
        )),
    };
    check
}

/// The limits this user cannot set here, by doctor's own verdict on each controller:
/// one line each saying why and what would give it. The TUI takes no cgroup step for
/// them (it shows the step as skipped with this line) and `run` says it on a refusal.
pub fn unusable_controllers(paths: &Paths) -> Vec<(Controller, String)> {
    let root = nix::unistd::geteuid().is_root();
    let facts = match gather_cgroups(paths) {
        Ok(f) => f,
        Err(e) => {
            return Controller::ALL
                .iter()
                .map(|&c| (c, format!("no cgroup hierarchy found: {e}")))
                .collect();
        }
    };
    facts
        .controllers
        .iter()
        .filter_map(|c| {
            let check = check_controller(root, c, facts.own_v2_cgroup.as_ref());
            if check.status == Status::Yes {
                return None;
            }
            let mut line = format!("{} controller: {}", c.controller.name(), check.found);
            if let Some(fix) = &check.fix {
                line.push_str("; to get it: ");
                line.push_str(fix);
            }
            Some((c.controller, line))
        })
        .collect()
}

fn writable(dir: &Path) -> bool {
    nix::unistd::access(dir, nix::unistd::AccessFlags::W_OK).is_ok()
}

pub(super) fn gather_cgroups(paths: &Paths) -> Result<CgroupFacts, String> {
    let host = cgroup::Host::detect(paths).map_err(|e| format!("{e:#}"))?;
    let controllers = Controller::ALL
        .iter()
        .map(|&c| {
            let h = host.hierarchy(c);
            let enabled_for_children = h.is_some_and(|h| {
                h.version == Version::V2
                    && std::fs::read_to_string(h.mount.join("cgroup.subtree_control"))
                        .is_ok_and(|t| t.split_whitespace().any(|n| n == c.name()))
            });
            ControllerFacts {
                controller: c,
                hierarchy: h.map(|h| (h.version, h.mount.clone())),
                writable: h.is_some_and(|h| writable(&h.mount)),
                enabled_for_children,
            }
        })
        .collect();
    // cgroups(7): the line `0::PATH` names our cgroup in the v2 hierarchy.
    let own_v2_cgroup = host
        .hierarchies
        .iter()
        .find(|h| h.version == Version::V2)
        .and_then(|h| {
            let text = std::fs::read_to_string(paths.proc_root.join("self/cgroup")).ok()?;
            let rel = text.lines().find_map(|l| l.strip_prefix("0::"))?;
            let dir = h.mount.join(rel.trim_start_matches('/'));
            let w = writable(&dir);
            Some((dir, w))
        });
    Ok(CgroupFacts {
        layout: host.to_string(),
        source: host.source.clone(),
        controllers,
        own_v2_cgroup,
    })
}
