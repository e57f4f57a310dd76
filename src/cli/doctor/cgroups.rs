//! The cgroup layout and, per controller, whether this user may make a cgroup with it.

use std::path::PathBuf;

use underhood::runtime::cgroup::delegate::Undelegated;
use underhood::runtime::cgroup::{self, Controller, Version};
use underhood::runtime::paths::Paths;

use super::{Check, Status};

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CgroupFacts {
    /// "hybrid (memory on v1)", "cgroup v2", ...
    pub layout: String,
    pub source: String,
    pub controllers: Vec<ControllerFacts>,
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
    /// Rootless on v2 where the root is not ours: the delegated node underhood makes its
    /// cgroup in instead (`runtime/cgroup/delegate.rs`), or why there is none. `None`:
    /// not looked for (root, v1, or the root is writable).
    pub delegated: Option<Result<PathBuf, Undelegated>>,
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
        out.push(check_controller(root, c));
    }
    out
}

/// What gives a rootless user a cgroup on a systemd host with cgroup v2.
const SYSTEMD_SCOPE: &str = "`systemd-run --user --scope underhood ...` starts it inside \
     user@UID.service, the cgroup v2 subtree systemd delegates to each user";

pub(super) fn check_controller(root: bool, c: &ControllerFacts) -> Check {
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
    if let (false, Some(Ok(base))) = (root, &c.delegated) {
        return Check::new(
            &name,
            Status::Yes,
            format!(
                "{place}, usable through the subtree delegated to you: underhood makes its \
                 cgroup in {}",
                base.display()
            ),
        );
    }
    let check = Check::new(
        &name,
        missing,
        format!("{place}, but you may not create a cgroup there"),
    );
    match (root, version, &c.delegated) {
        (false, Version::V2, Some(Err(why))) => {
            let fix = if matches!(why, Undelegated::OutsideSystemd { .. }) {
                format!(
                    "run as root (`sudo underhood`), or start underhood inside the delegated subtree: {SYSTEMD_SCOPE}"
                )
            } else {
                format!(
                    "run as root (`sudo underhood`), or from a delegated cgroup v2 subtree: {SYSTEMD_SCOPE}"
                )
            };
            check.why(why.to_string()).fix(fix)
        }
        (false, _, _) => check
            .why(format!(
                "underhood makes its cgroup directly under {} (needed for {used_for}), and a \
                 {version} hierarchy is not delegated to users",
                dir.display()
            ))
            .fix(
                "run as root (`sudo underhood`), or boot with cgroup v2 \
                 (systemd.unified_cgroup_hierarchy=1), where systemd delegates a subtree \
                 (user@UID.service) to each user",
            ),
        (true, _, _) => check
            .why(format!(
                "underhood makes its cgroup directly under {} (needed for {used_for})",
                dir.display()
            ))
            .fix(format!(
                "check that {} is mounted read-write (`mount | grep cgroup`)",
                dir.display()
            )),
    }
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
            let check = check_controller(root, c);
            (check.status != Status::Yes).then(|| (c.controller, unusable_line(c, &check)))
        })
        .collect()
}

/// "memory controller: FOUND[: WHY]; to get it: FIX", one line for the step pane and
/// `run`.
pub(super) fn unusable_line(c: &ControllerFacts, check: &Check) -> String {
    let mut line = format!("{} controller: {}", c.controller.name(), check.found);
    // The delegation's reason is the news (outside it, nothing delegated, no memory
    // handed down); on v1 the place says it all.
    if let (Some(why), Some(Err(_))) = (&check.why, &c.delegated) {
        line.push_str(": ");
        line.push_str(why);
    }
    if let Some(fix) = &check.fix {
        line.push_str("; to get it: ");
        line.push_str(fix);
    }
    line
}

pub(super) fn gather_cgroups(paths: &Paths) -> Result<CgroupFacts, String> {
    let host = cgroup::Host::detect(paths).map_err(|e| format!("{e:#}"))?;
    let uid = nix::unistd::geteuid();
    // cgroups(7): the line `0::PATH` of /proc/self/cgroup names our v2 cgroup.
    let proc_cgroup = paths.proc_root.join("self/cgroup");
    let own = std::fs::read_to_string(&proc_cgroup);
    let controllers = Controller::ALL
        .iter()
        .map(|&c| {
            let h = host.hierarchy(c);
            let enabled_for_children = h.is_some_and(|h| {
                h.version == Version::V2
                    && std::fs::read_to_string(h.mount.join("cgroup.subtree_control"))
                        .is_ok_and(|t| t.split_whitespace().any(|n| n == c.name()))
            });
            let writable = h.is_some_and(|h| cgroup::may_write(&h.mount));
            let delegated = h
                .filter(|h| h.version == Version::V2 && !writable && !uid.is_root())
                .map(|h| match &own {
                    Ok(text) => match cgroup::own_cgroup(text) {
                        Some(rel) => cgroup::delegate::find(
                            &h.mount,
                            rel,
                            uid.as_raw(),
                            &[c],
                            &cgroup::may_write,
                        )
                        .map(|d| d.base),
                        None => Err(Undelegated::OwnUnknown {
                            what: format!("{} has no `0::` line", proc_cgroup.display()),
                        }),
                    },
                    Err(e) => Err(Undelegated::OwnUnknown {
                        what: format!("reading {}: {e}", proc_cgroup.display()),
                    }),
                });
            ControllerFacts {
                controller: c,
                hierarchy: h.map(|h| (h.version, h.mount.clone())),
                writable,
                enabled_for_children,
                delegated,
            }
        })
        .collect();
    Ok(CgroupFacts {
        layout: host.to_string(),
        source: host.source.clone(),
        controllers,
    })
}
