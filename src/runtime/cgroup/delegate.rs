//! A cgroup v2 subtree delegated to an unprivileged user, and where in it a rootless
//! underhood makes its cgroup.
//!
//! Documentation/admin-guide/cgroup-v2.rst, "Delegation": a cgroup is delegated to a
//! user by giving them its directory and its `cgroup.procs`, `cgroup.threads` and
//! `cgroup.subtree_control` files; systemd does this for `user@UID.service` (under
//! `user.slice/user-UID.slice/`), where the user's service manager and, under it, the
//! applications a desktop session starts run. Three rules decide what a delegatee can do:
//!
//! - it may create cgroups below a directory it owns (mkdir is a write to the directory);
//! - moving a process needs write access to `cgroup.procs` of the *common ancestor* of
//!   the source and destination cgroups ("Delegation Containment"), so a process can be
//!   moved into our cgroup only if it already lives inside the delegated subtree;
//! - "no internal processes": a non-root cgroup can hand a controller to its children
//!   (`+memory` in `cgroup.subtree_control`) only while it has no processes itself, so
//!   our cgroup goes under a leaf-free node, never under the cgroup we run in.
//!
//! [`find`] walks up from our own cgroup (`0::PATH` in /proc/self/cgroup, cgroups(7))
//! through the ancestors we may write, and takes the top-most one that can give our
//! cgroup the controllers: the delegation's root, usually `user@UID.service`.

use std::path::{Path, PathBuf};

use super::files;
use super::layout::{Controller, Host, Version};
use crate::runtime::paths::Paths;

/// A node of a delegated subtree our cgroup can be made in.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Delegated {
    /// Where our cgroup is made: `base/underhood-<sid>`.
    pub base: PathBuf,
    /// The top of what is delegated to us (the top-most ancestor we may write).
    pub root: PathBuf,
    /// The cgroup we run in, below `base`: the common ancestor of it and our cgroup
    /// is `base`, whose `cgroup.procs` is ours, so the subject can be moved in.
    pub own: PathBuf,
    /// Controllers wanted but not yet in `base`'s `cgroup.subtree_control`: underhood
    /// writes them (allowed: `base` holds no processes).
    pub to_enable: Vec<Controller>,
}

/// Why no node of the v2 hierarchy can hold a rootless user's cgroup: each says, in a
/// sentence a learner can act on, what is delegated and what is missing. `doctor`
/// branches on the kind (run inside systemd's delegation, or get one).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Undelegated {
    /// systemd delegated `service`, but we run outside it, in `own`: a move needs
    /// cgroup.procs of the common ancestor, which is not ours.
    #[error(
        "systemd delegated {} to you, but underhood runs outside it, in {}: moving a \
         process into a cgroup needs write access to cgroup.procs of the common \
         ancestor ({}), which is not yours",
        .service.display(),
        .own.display(),
        .common.display()
    )]
    OutsideSystemd {
        service: PathBuf,
        own: PathBuf,
        common: PathBuf,
    },
    /// Nothing above our cgroup is ours, nor systemd's service for us.
    #[error(
        "no cgroup v2 subtree is delegated to you: neither the cgroups above yours ({}) \
         nor {} are yours to write",
        .own.display(),
        .service.display()
    )]
    Nothing { own: PathBuf, service: PathBuf },
    /// `node` is ours, but its parent does not hand `missing` down.
    #[error(
        "{} is delegated to you, but {} not in its cgroup.controllers (its parent \
         does not hand {} down: systemd's Delegate= names the controllers given)",
        .node.display(),
        names(.missing, "is", "are"),
        names(.missing, "it", "them")
    )]
    NotHandedDown {
        node: PathBuf,
        missing: Vec<Controller>,
    },
    /// `node` is ours but holds processes (or its subtree_control is not ours), so
    /// `to_enable` cannot be given to a child there.
    #[error(
        "{} is delegated to you, but it holds processes (or its \
         cgroup.subtree_control is not yours), so {} cannot be handed to a \
         child there (cgroup v2's no-internal-process rule)",
        .node.display(),
        names(.to_enable, "", "")
    )]
    InternalProcesses {
        node: PathBuf,
        to_enable: Vec<Controller>,
    },
    /// Only for a caller that asked for nothing: no node at all.
    #[error("{} offers no node for our cgroup", .root.display())]
    NoNode { root: PathBuf },
    /// Our own cgroup could not be told (`what`: the /proc file unread, or without
    /// a `0::` line).
    #[error("{what}")]
    OwnUnknown { what: String },
}

/// The cgroup `0::PATH` names in a /proc/PID/cgroup text (cgroups(7): the v2 line).
pub fn own_cgroup(proc_cgroup: &str) -> Option<&str> {
    proc_cgroup.lines().find_map(|l| l.strip_prefix("0::"))
}

/// systemd's delegated cgroup for `uid`, under the v2 `mount`.
pub fn systemd_user_service(mount: &Path, uid: u32) -> PathBuf {
    mount.join(format!("user.slice/user-{uid}.slice/user@{uid}.service"))
}

/// access(2) W_OK: may this user write `path`?
pub fn may_write(path: &Path) -> bool {
    nix::unistd::access(path, nix::unistd::AccessFlags::W_OK).is_ok()
}

/// The delegated subtree a rootless user's v2 cgroups go in on this host: `None` for
/// root, where the v2 root is writable (then it is used as always), or where nothing
/// usable is delegated (the mkdir at the root then fails with EACCES, and `doctor`
/// says why). The memory controller is what the lessons need; failing that, a node for
/// pids and cpu alone.
pub fn for_host(host: &Host, paths: &Paths) -> Option<Delegated> {
    let uid = nix::unistd::geteuid();
    let v2 = host.hierarchies.iter().find(|h| h.version == Version::V2)?;
    if uid.is_root() || may_write(&v2.mount) {
        return None;
    }
    let text = std::fs::read_to_string(paths.proc_root.join("self/cgroup")).ok()?;
    let own = own_cgroup(&text)?;
    let wanted: Vec<Controller> = Controller::ALL.into_iter().filter(|c| v2.has(*c)).collect();
    let memory: Vec<Controller> = wanted
        .iter()
        .copied()
        .filter(|c| *c == Controller::Memory)
        .collect();
    find(&v2.mount, own, uid.as_raw(), &wanted, &may_write)
        .or_else(|_| find(&v2.mount, own, uid.as_raw(), &memory, &may_write))
        .or_else(|_| find(&v2.mount, own, uid.as_raw(), &[], &may_write))
        .ok()
}

fn listed(path: &Path, c: Controller) -> bool {
    files::read(path).is_ok_and(|t| t.split_whitespace().any(|n| n == c.name()))
}

fn has_processes(dir: &Path) -> bool {
    files::read(&dir.join("cgroup.procs")).map_or(true, |t| !t.trim().is_empty())
}

/// Where a rootless user's cgroup with `wanted` controllers can go in the v2 hierarchy
/// at `mount`, given the user's own cgroup `own_rel` (as /proc/self/cgroup names it)
/// and `may_write` (access(2) W_OK for this user). `Err` says why not, in a sentence
/// a learner can act on.
pub fn find(
    mount: &Path,
    own_rel: &str,
    uid: u32,
    wanted: &[Controller],
    may_write: &dyn Fn(&Path) -> bool,
) -> Result<Delegated, Undelegated> {
    let own = mount.join(own_rel.trim().trim_start_matches('/'));
    // A delegated node: the directory (mkdir), its cgroup.procs (moving processes in).
    let ours = |d: &Path| may_write(d) && may_write(&d.join("cgroup.procs"));
    // The ancestors we may write, nearest first, up to the first we may not.
    let chain: Vec<PathBuf> = own
        .ancestors()
        .skip(1)
        .take_while(|a| a.starts_with(mount) && *a != mount && ours(a))
        .map(Path::to_path_buf)
        .collect();
    let Some(root) = chain.last().cloned() else {
        return Err(not_delegated(mount, &own, uid, &ours));
    };
    // Top-most first: the delegation's root keeps our cgroup out of the units below it.
    let mut why = None;
    for node in chain.iter().rev() {
        let missing: Vec<Controller> = wanted
            .iter()
            .copied()
            .filter(|c| !listed(&node.join("cgroup.controllers"), *c))
            .collect();
        if !missing.is_empty() {
            why.get_or_insert_with(|| Undelegated::NotHandedDown {
                node: node.clone(),
                missing,
            });
            continue;
        }
        let to_enable: Vec<Controller> = wanted
            .iter()
            .copied()
            .filter(|c| !listed(&node.join("cgroup.subtree_control"), *c))
            .collect();
        if !to_enable.is_empty()
            && (!may_write(&node.join("cgroup.subtree_control")) || has_processes(node))
        {
            why.get_or_insert_with(|| Undelegated::InternalProcesses {
                node: node.clone(),
                to_enable: to_enable.clone(),
            });
            continue;
        }
        return Ok(Delegated {
            base: node.clone(),
            root,
            own,
            to_enable,
        });
    }
    Err(why.unwrap_or(Undelegated::NoNode { root }))
}

/// "memory is" / "memory and pids are".
fn names(cs: &[Controller], one: &str, many: &str) -> String {
    let list: Vec<&str> = cs.iter().map(|c| c.name()).collect();
    let verb = if cs.len() == 1 { one } else { many };
    format!("{} {verb}", list.join(" and "))
        .trim_end()
        .to_string()
}

/// Why nothing above our cgroup is ours: systemd's delegation exists but we run
/// outside it, or nothing is delegated at all.
fn not_delegated(mount: &Path, own: &Path, uid: u32, ours: &dyn Fn(&Path) -> bool) -> Undelegated {
    let service = systemd_user_service(mount, uid);
    if service.is_dir() && ours(&service) {
        let common = own
            .ancestors()
            .find(|a| service.starts_with(a))
            .unwrap_or(mount)
            .to_path_buf();
        return Undelegated::OutsideSystemd {
            service,
            own: own.to_path_buf(),
            common,
        };
    }
    Undelegated::Nothing {
        own: own.to_path_buf(),
        service,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::runtime::cgroup::fixture::Fixture;
    use std::collections::HashSet;

    const SVC: &str = "user.slice/user-1000.slice/user@1000.service";

    /// systemd's layout for uid 1000: the service delegated (dir, cgroup.procs,
    /// cgroup.subtree_control), the manager in init.scope, a terminal in app.slice.
    fn systemd_host(svc_subtree: &str) -> (Fixture, HashSet<PathBuf>) {
        let fx = Fixture::v2();
        for d in ["user.slice", "user.slice/user-1000.slice"] {
            fx.file(&format!("{d}/cgroup.controllers"), "cpu memory pids\n");
            fx.file(&format!("{d}/cgroup.subtree_control"), "cpu memory pids\n");
            fx.file(&format!("{d}/cgroup.procs"), "");
        }
        fx.file(&format!("{SVC}/cgroup.controllers"), "cpu memory pids\n");
        fx.file(&format!("{SVC}/cgroup.subtree_control"), svc_subtree);
        fx.file(&format!("{SVC}/cgroup.procs"), "");
        fx.file(&format!("{SVC}/init.scope/cgroup.procs"), "812\n");
        fx.file(&format!("{SVC}/app.slice/cgroup.controllers"), svc_subtree);
        fx.file(&format!("{SVC}/app.slice/cgroup.subtree_control"), "");
        fx.file(&format!("{SVC}/app.slice/cgroup.procs"), "");
        fx.file(
            &format!("{SVC}/app.slice/term.scope/cgroup.procs"),
            "4242\n",
        );
        let mut w = HashSet::new();
        for d in [
            SVC,
            &format!("{SVC}/app.slice"),
            &format!("{SVC}/app.slice/term.scope"),
        ] {
            for f in [
                "",
                "cgroup.procs",
                "cgroup.subtree_control",
                "cgroup.threads",
            ] {
                w.insert(fx.root().join(d).join(f));
            }
        }
        (fx, w)
    }

    fn find_in(fx: &Fixture, w: &HashSet<PathBuf>, own: &str) -> Result<Delegated, Undelegated> {
        let may_write = |p: &Path| w.contains(p);
        find(fx.root(), own, 1000, &[Controller::Memory], &may_write)
    }

    #[test]
    fn reads_the_v2_line_of_proc_self_cgroup() {
        let text = "12:memory:/user.slice\n1:name=systemd:/user.slice/x\n0::/user.slice/x.scope\n";
        assert_eq!(own_cgroup(text), Some("/user.slice/x.scope"));
        assert_eq!(own_cgroup("4:pids:/\n"), None);
    }

    #[test]
    fn a_terminal_in_the_user_service_uses_the_delegation_root() {
        let (fx, w) = systemd_host("cpu memory pids\n");
        let own = format!("/{SVC}/app.slice/term.scope");
        let d = find_in(&fx, &w, &own).expect("delegated");
        assert_eq!(d.base, fx.root().join(SVC));
        assert_eq!(d.root, fx.root().join(SVC));
        assert_eq!(d.own, fx.root().join(&own[1..]));
        assert!(d.to_enable.is_empty());
    }

    #[test]
    fn memory_not_yet_handed_down_is_enabled_by_us_at_a_leaf_free_node() {
        let (fx, w) = systemd_host("pids\n");
        let d = find_in(&fx, &w, &format!("{SVC}/app.slice/term.scope")).expect("delegated");
        assert_eq!(d.base, fx.root().join(SVC));
        assert_eq!(d.to_enable, vec![Controller::Memory]);

        // The root holding a process itself cannot hand memory down (no internal
        // processes), and app.slice below it has no memory to hand: the top-most reason.
        fx.file(&format!("{SVC}/cgroup.procs"), "812\n");
        let err = find_in(&fx, &w, &format!("{SVC}/app.slice/term.scope")).unwrap_err();
        assert!(
            matches!(&err, Undelegated::InternalProcesses { node, .. } if *node == fx.root().join(SVC)),
            "{err:?}"
        );
        let why = err.to_string();
        assert!(why.contains("holds processes"), "{why}");
        assert!(why.contains("no-internal-process rule"), "{why}");
        assert!(
            why.starts_with(&fx.root().join(SVC).display().to_string()),
            "{why}"
        );
    }

    #[test]
    fn a_process_outside_the_delegation_is_told_the_common_ancestor() {
        let (fx, w) = systemd_host("cpu memory pids\n");
        fx.file(
            "user.slice/user-1000.slice/session-3.scope/cgroup.procs",
            "4242\n",
        );
        let err = find_in(&fx, &w, "/user.slice/user-1000.slice/session-3.scope").unwrap_err();
        assert!(
            matches!(&err, Undelegated::OutsideSystemd { .. }),
            "{err:?}"
        );
        let why = err.to_string();
        assert!(why.starts_with("systemd delegated "), "{why}");
        assert!(
            why.contains(&format!(
                "common ancestor ({})",
                fx.root().join("user.slice/user-1000.slice").display()
            )),
            "{why}"
        );
    }

    #[test]
    fn nothing_delegated_says_so() {
        let fx = Fixture::v2();
        fx.file("system.slice/ssh.service/cgroup.procs", "99\n");
        let why = find(
            fx.root(),
            "/system.slice/ssh.service",
            1000,
            &[Controller::Memory],
            &|_| false,
        )
        .unwrap_err();
        assert!(matches!(why, Undelegated::Nothing { .. }), "{why:?}");
        let why = why.to_string();
        assert!(
            why.starts_with("no cgroup v2 subtree is delegated to you"),
            "{why}"
        );
        assert!(why.contains("user@1000.service"), "{why}");
    }

    #[test]
    fn the_root_of_the_hierarchy_is_never_a_delegation() {
        // Even where everything is writable (root), `find` stops below the mount.
        let fx = Fixture::v2();
        let why = find(fx.root(), "/", 0, &[Controller::Memory], &|_| true).unwrap_err();
        assert!(matches!(why, Undelegated::Nothing { .. }), "{why:?}");
        assert!(why.to_string().contains("no cgroup v2 subtree"), "{why}");
    }

    /// With a delegated node found, the cgroup is planned and made there, and memory
    /// is enabled in that node's subtree_control (not the hierarchy's root).
    #[test]
    fn a_host_with_a_delegation_makes_its_cgroup_in_it() {
        use crate::runtime::cgroup::{Cgroup, Host, Limits, Scope};
        use crate::runtime::report::Report;
        let (fx, w) = systemd_host("pids\n");
        let mut host = Host::from_files(fx.root()).expect("v2");
        host.delegated =
            Some(find_in(&fx, &w, &format!("{SVC}/app.slice/term.scope")).expect("delegated"));
        let svc = fx.root().join(SVC);
        let cg = Cgroup::plan(&host, "underhood-dg").expect("plan");
        assert_eq!(cg.dirs(), vec![svc.join("underhood-dg")]);

        let mut r = Report::new("cgroup");
        let limits = Limits {
            memory: Some(32 << 20),
            ..Limits::default()
        };
        // Plain directories get no interface files: memory.max is ENOENT after the
        // mkdir, and what was made is removed again. What matters is where.
        let _ = Cgroup::create_in(&host, "underhood-dg", &limits, Scope::Limited, &mut r);
        let args: Vec<String> = r.calls.iter().map(|c| c.args.clone()).collect();
        let subtree = svc.join("cgroup.subtree_control");
        assert_eq!(args[0], format!("{} <- +memory", subtree.display()));
        assert_eq!(args[1], svc.join("underhood-dg").display().to_string());
        assert_eq!(fx.read(&format!("{SVC}/cgroup.subtree_control")), "+memory");
        assert!(!svc.join("underhood-dg").exists());
        assert!(
            crate::runtime::cgroup::ours(&host).is_empty(),
            "nothing of ours left"
        );
    }
}
