//! Doctor's verdicts on fixture facts, and the real gathering's shapes.

use std::path::PathBuf;

use underhood::observe::host::{self, Overlay, UsernsVerdict};
use underhood::runtime::cgroup::delegate::Undelegated;
use underhood::runtime::cgroup::{Controller, Version};
use underhood::runtime::paths::Paths;

use super::cgroups::{self, ControllerFacts};
use super::rootfs::gather_rootfs;
use super::*;

/// This machine as root: hybrid cgroups with memory, pids and cpu on v1.
fn good_root() -> Facts {
    let v1 = |c: Controller, dir: &str| ControllerFacts {
        controller: c,
        hierarchy: Some((Version::V1, PathBuf::from(dir))),
        writable: true,
        enabled_for_children: false,
        delegated: None,
    };
    Facts {
        euid: 0,
        userns: UsernsVerdict::Allowed,
        overlay: Overlay::Available,
        cgroups: Ok(CgroupFacts {
            layout: "hybrid (memory on v1)".into(),
            source: "mounts in /proc/self/mountinfo".into(),
            controllers: vec![
                v1(Controller::Memory, "/sys/fs/cgroup/memory"),
                v1(Controller::Pids, "/sys/fs/cgroup/pids"),
                v1(Controller::Cpu, "/sys/fs/cgroup/cpu"),
            ],
        }),
        rootfs: Ok(RootfsFacts {
            dir: "/var/cache/underhood/rootfs-3c3e036e4a264e32/rootfs".into(),
            source: "host tools".into(),
            shell: "/bin/bash".into(),
            tools: 60,
            tools_layer: "/var/cache/underhood/tools-149499048ea5054c".into(),
        }),
        terminal: TermFacts {
            tty: true,
            term: Some("xterm-256color".into()),
            colorterm: None,
            no_color: false,
            size: Some((120, 40)),
        },
        sessions: SessionFacts {
            state_dir: "/run/underhood".into(),
            ..Default::default()
        },
        problems: Vec::new(),
    }
}

const SVC: &str = "/sys/fs/cgroup/user.slice/user-1000.slice/user@1000.service";

/// A laptop with Ubuntu 24.04, rootless over ssh, cgroup v2: systemd delegated
/// user@1000.service, but the login shell runs outside it, in session-3.scope.
fn ubuntu_rootless() -> Facts {
    let v2 = |c: Controller| ControllerFacts {
        controller: c,
        hierarchy: Some((Version::V2, PathBuf::from("/sys/fs/cgroup"))),
        writable: false,
        enabled_for_children: true,
        delegated: Some(Err(Undelegated::OutsideSystemd {
            service: PathBuf::from(SVC),
            own: PathBuf::from("/sys/fs/cgroup/user.slice/user-1000.slice/session-3.scope"),
            common: PathBuf::from("/sys/fs/cgroup/user.slice/user-1000.slice"),
        })),
    };
    Facts {
        euid: 1000,
        userns: ubuntu_userns(),
        overlay: Overlay::Module,
        cgroups: Ok(CgroupFacts {
            layout: "cgroup v2".into(),
            source: "mounts in /proc/self/mountinfo".into(),
            controllers: vec![
                v2(Controller::Memory),
                v2(Controller::Pids),
                v2(Controller::Cpu),
            ],
        }),
        ..good_root()
    }
}

/// Ubuntu 24.04's knobs, with AppArmor active.
fn ubuntu_userns() -> UsernsVerdict {
    host::UsernsKnobs {
        max_user_namespaces: Some(63432),
        unprivileged_userns_clone: Some(true),
        apparmor_restrict_unprivileged_userns: Some(true),
    }
    .verdict(Some(&["capability".into(), "apparmor".into()]))
}

fn find<'a>(checks: &'a [Check], name: &str) -> &'a Check {
    checks
        .iter()
        .find(|c| c.name.trim() == name)
        .unwrap_or_else(|| panic!("no check {name:?} in {checks:#?}"))
}

#[test]
fn a_good_root_host_passes_with_every_line_yes() {
    let list = checks(&good_root());
    assert_eq!(exit_code(&list), 0);
    assert!(
        list.iter().all(|c| c.status == Status::Yes),
        "{}",
        render(&list, false)
    );
    let text = render(&list, false);
    assert!(
        text.contains("Everything the lessons need is here."),
        "{text}"
    );
    assert!(
        text.contains("memory controller  v1 at /sys/fs/cgroup/memory, usable"),
        "{text}"
    );
    // One line per check, no colour codes when asked for none.
    assert!(!text.contains('\x1b'));
    assert!(render(&list, true).contains("\x1b[32myes \x1b[0m"));
}

#[test]
fn ubuntu_rootless_is_told_the_exact_apparmor_remedy_and_fails() {
    let list = checks(&ubuntu_rootless());
    assert_eq!(exit_code(&list), 1);
    let u = find(&list, "user namespaces");
    assert_eq!(u.status, Status::No);
    assert!(
        u.fix.as_deref().is_some_and(
            |f| f.contains("sudo sysctl kernel.apparmor_restrict_unprivileged_userns=0")
        ),
        "{u:?}"
    );
    assert!(u.why.as_deref().is_some_and(|w| w.contains("EPERM")));
    assert_eq!(find(&list, "root").status, Status::Warn);
    // Memory on v2 at the root, not writable, the delegation out of reach: the lesson
    // cannot limit memory, and the learner is told how to get inside it.
    let m = find(&list, "memory controller");
    assert_eq!(m.status, Status::No);
    assert!(
        m.why
            .as_deref()
            .is_some_and(|w| w.contains("common ancestor")),
        "{m:?}"
    );
    assert!(
        m.fix.as_deref().is_some_and(|f| f.contains(
            "start underhood inside the delegated subtree: `systemd-run --user --scope underhood"
        )),
        "{m:?}"
    );
    // pids/cpu are extras: a warning only.
    assert_eq!(find(&list, "pids controller").status, Status::Warn);
    // An overlay module not loaded yet, rootless: worth a modprobe.
    let o = find(&list, "overlayfs");
    assert_eq!(o.status, Status::Warn);
    assert!(
        o.fix
            .as_deref()
            .is_some_and(|f| f.contains("modprobe overlay"))
    );
    let text = render(&list, false);
    assert!(
        text.contains("Missing for the lessons: user namespaces, memory controller."),
        "{text}"
    );
}

#[test]
fn root_is_not_failed_by_the_unprivileged_userns_restriction() {
    let f = Facts {
        userns: ubuntu_userns(),
        ..good_root()
    };
    let list = checks(&f);
    assert_eq!(exit_code(&list), 0);
    let u = find(&list, "user namespaces");
    assert_eq!(u.status, Status::Warn);
    assert!(
        u.fix
            .as_deref()
            .is_some_and(|f| f.starts_with("only for rootless use"))
    );
}

#[test]
fn missing_overlay_rootfs_or_memory_each_fail() {
    let mut f = good_root();
    f.overlay = Overlay::Missing;
    let list = checks(&f);
    assert_eq!(exit_code(&list), 1);
    assert!(
        find(&list, "overlayfs")
            .fix
            .as_deref()
            .is_some_and(|x| x.contains("linux-modules-extra"))
    );

    let mut f = good_root();
    f.rootfs = Err(RootfsProblem::Assemble(
        "no shell for the default rootfs: neither busybox nor ...".into(),
    ));
    let list = checks(&f);
    assert_eq!(exit_code(&list), 1);
    assert!(
        find(&list, "rootfs")
            .why
            .as_deref()
            .is_some_and(|w| w.contains("no shell"))
    );

    let mut f = good_root();
    if let Ok(cg) = &mut f.cgroups {
        cg.controllers[0].hierarchy = None;
        cg.controllers[1].hierarchy = None;
    }
    let list = checks(&f);
    assert_eq!(find(&list, "memory controller").status, Status::No);
    assert_eq!(find(&list, "pids controller").status, Status::Warn);
    assert_eq!(exit_code(&list), 1);

    let mut f = good_root();
    f.cgroups = Err("no cgroup hierarchy found under /sys/fs/cgroup".into());
    let list = checks(&f);
    assert_eq!(find(&list, "cgroups").status, Status::No);
}

#[test]
fn overlay_module_is_fine_for_root() {
    let f = Facts {
        overlay: Overlay::Module,
        ..good_root()
    };
    let list = checks(&f);
    assert_eq!(find(&list, "overlayfs").status, Status::Yes);
    assert_eq!(exit_code(&list), 0);
}

#[test]
fn terminal_size_term_and_colours() {
    let with = |t: TermFacts| {
        checks(&Facts {
            terminal: t,
            ..good_root()
        })
    };
    let small = with(TermFacts {
        size: Some((79, 24)),
        ..good_root().terminal
    });
    let t = find(&small, "terminal");
    assert_eq!(t.status, Status::No);
    assert!(t.found.contains("79x24, smaller than 80x24"), "{t:?}");
    assert_eq!(exit_code(&small), 1);

    let exact = with(TermFacts {
        size: Some((80, 24)),
        ..good_root().terminal
    });
    assert_eq!(find(&exact, "terminal").status, Status::Yes);

    let dumb = with(TermFacts {
        term: Some("dumb".into()),
        ..good_root().terminal
    });
    assert_eq!(find(&dumb, "terminal").status, Status::No);
    assert!(
        find(&dumb, "terminal")
            .fix
            .as_deref()
            .is_some_and(|f| f.contains("TERM="))
    );

    // Piped (CI, `doctor | less`): nothing to measure, not a failure.
    let piped = with(TermFacts {
        tty: false,
        term: None,
        size: None,
        ..Default::default()
    });
    assert_eq!(find(&piped, "terminal").status, Status::Skip);
    assert_eq!(exit_code(&piped), 0);

    let no_color = with(TermFacts {
        no_color: true,
        ..good_root().terminal
    });
    let c = find(&no_color, "colours");
    assert_eq!(c.status, Status::Warn);
    assert!(c.found.contains("NO_COLOR"));
    assert_eq!(exit_code(&no_color), 0);

    let truecolor = with(TermFacts {
        colorterm: Some("truecolor".into()),
        ..good_root().terminal
    });
    assert_eq!(find(&truecolor, "colours").found, "24-bit colour");
}

#[test]
fn stale_sessions_warn_with_the_cleanup_command() {
    let mut f = good_root();
    f.sessions.stale = vec!["0a1b2c3d".into(), "deadbeef".into()];
    f.sessions.live = vec!["12345678".into()];
    let list = checks(&f);
    let s = find(&list, "stale sessions");
    assert_eq!(s.status, Status::Warn);
    assert!(
        s.found
            .contains("2 found: 0a1b2c3d, deadbeef; 1 live session left alone")
    );
    assert_eq!(
        s.fix.as_deref(),
        Some("`underhood cleanup` (every start of underhood also does it)")
    );
    assert_eq!(exit_code(&list), 0, "stale sessions do not stop a lesson");
    f.euid = 1000;
    let list = checks(&f);
    assert!(
        find(&list, "stale sessions")
            .fix
            .as_deref()
            .is_some_and(|x| x.starts_with("`sudo underhood cleanup`"))
    );
}

#[test]
fn why_and_fix_are_indented_under_their_line() {
    let list = checks(&ubuntu_rootless());
    let text = render(&list, false);
    let line = text
        .lines()
        .position(|l| l.contains("user namespaces") && l.contains("no "))
        .expect("userns line");
    let lines: Vec<&str> = text.lines().collect();
    assert!(lines[line + 1].trim_start().starts_with("why: "), "{text}");
    assert!(lines[line + 2].trim_start().starts_with("fix: "), "{text}");
    let col = lines[line].find("not usable").expect("found column");
    assert_eq!(lines[line + 1].find("why:"), Some(col), "{text}");
}

#[test]
fn live_host_gathers_without_panicking() {
    // Reads this machine; only shapes are checked (the verdicts depend on the host).
    let f = gather_with(
        &Paths::host(),
        Err(RootfsProblem::Assemble(
            "not assembled in a unit test".into(),
        )),
    );
    let list = checks(&f);
    assert!(list.iter().any(|c| c.name == "cgroups"));
    assert_eq!(f.euid == 0, find(&list, "root").status == Status::Yes);
}

#[test]
fn json_report_names_every_check_and_the_verdict() {
    let list = checks(&good_root());
    let v: serde_json::Value = serde_json::from_str(&render_json(&list, "lab-07")).unwrap();
    assert_eq!(v["format"], 1);
    assert_eq!(v["host"], "lab-07");
    assert_eq!(v["ready"], true);
    assert_eq!(v["checks"].as_array().unwrap().len(), list.len());
    assert_eq!(v["checks"][0]["name"], list[0].name.trim());
    assert!(
        v["checks"]
            .as_array()
            .unwrap()
            .iter()
            .all(|c| !c["name"].as_str().unwrap().starts_with(' '))
    );
    assert_eq!(v["checks"][0]["status"], "yes");
    let mut bad = list.clone();
    bad[0].status = Status::No;
    let v: serde_json::Value = serde_json::from_str(&render_json(&bad, "x")).unwrap();
    assert_eq!(v["ready"], false);
    assert_eq!(v["checks"][0]["status"], "no");
}

/// A user whose HOME cannot be written is told about the directory, not busybox.
#[test]
fn an_unwritable_cache_names_the_directory_not_a_package() {
    let mut f = good_root();
    f.rootfs = Err(RootfsProblem::Cache {
        dir: PathBuf::from("/home/ro/.cache/underhood"),
        error: "Read-only file system (os error 30)".into(),
    });
    let list = checks(&f);
    let c = find(&list, "rootfs");
    assert_eq!(c.status, Status::No);
    assert!(c.found.contains("/home/ro/.cache/underhood"), "{}", c.found);
    let fix = c.fix.as_deref().unwrap();
    assert!(
        fix.contains("XDG_CACHE_HOME") && !fix.contains("busybox"),
        "{fix}"
    );
}

/// The real gathering, with a cache directory that cannot be made (its parent is a
/// file: the same answer for root and a normal user, unlike file modes).
#[test]
fn gathering_finds_an_unusable_cache_before_assembling() {
    let t = tempfile::tempdir().unwrap();
    let file = t.path().join("not-a-dir");
    std::fs::write(&file, "").unwrap();
    let paths = Paths {
        proc_root: PathBuf::from("/proc"),
        cgroup_root: PathBuf::from("/sys/fs/cgroup"),
        state_dir: t.path().join("state"),
        cache_dir: file.join("underhood"),
    };
    let err = gather_rootfs(&paths).unwrap_err();
    assert!(matches!(err, RootfsProblem::Cache { .. }), "{err:?}");
}

/// Rootless on v2 from inside user@1000.service (a desktop terminal): the delegation
/// is used, and the verdict names where the cgroup goes.
#[test]
fn a_delegated_v2_subtree_makes_the_memory_limit_usable_rootless() {
    let mut f = ubuntu_rootless();
    f.userns = UsernsVerdict::Allowed;
    f.overlay = Overlay::Available;
    if let Ok(cg) = &mut f.cgroups {
        for c in &mut cg.controllers {
            c.delegated = Some(Ok(PathBuf::from(SVC)));
        }
    }
    let list = checks(&f);
    let m = find(&list, "memory controller");
    assert_eq!(m.status, Status::Yes, "{m:?}");
    assert!(
        m.found.ends_with(&format!(
            "usable through the subtree delegated to you: underhood makes its cgroup in {SVC}"
        )),
        "{m:?}"
    );
    assert_eq!(exit_code(&list), 0, "{}", render(&list, false));
}

/// Nothing delegated (v2), and v1 (this host) rootless: each line says why and that
/// root or a delegated cgroup v2 subtree gives it; the one-line form joins them.
#[test]
fn rootless_without_a_delegation_is_told_root_or_a_delegated_v2_subtree() {
    let mut f = ubuntu_rootless();
    let why = format!(
        "no cgroup v2 subtree is delegated to you: neither the cgroups above yours \
         (/sys/fs/cgroup/system.slice/ssh.service) nor {SVC} are yours to write"
    );
    if let Ok(cg) = &mut f.cgroups {
        cg.controllers[0].delegated = Some(Err(Undelegated::Nothing {
            own: PathBuf::from("/sys/fs/cgroup/system.slice/ssh.service"),
            service: PathBuf::from(SVC),
        }));
    }
    let list = checks(&f);
    let m = find(&list, "memory controller");
    assert_eq!(m.status, Status::No);
    let line = cgroups::unusable_line(&f.cgroups.as_ref().unwrap().controllers[0], m);
    assert_eq!(
        line,
        format!(
            "memory controller: v2 at /sys/fs/cgroup, but you may not create a cgroup there: \
             {why}; to get it: run as root (`sudo underhood`), or from a delegated cgroup v2 \
             subtree: `systemd-run --user --scope underhood ...` starts it inside \
             user@UID.service, the cgroup v2 subtree systemd delegates to each user"
        )
    );

    // This machine's layout, rootless: memory on v1, which nothing delegates.
    let mut f = good_root();
    f.euid = 65534;
    if let Ok(cg) = &mut f.cgroups {
        for c in &mut cg.controllers {
            c.writable = false;
        }
    }
    let list = checks(&f);
    let m = find(&list, "memory controller");
    assert_eq!(m.status, Status::No);
    let line = cgroups::unusable_line(&f.cgroups.as_ref().unwrap().controllers[0], m);
    assert_eq!(
        line,
        "memory controller: v1 at /sys/fs/cgroup/memory, but you may not create a cgroup \
         there; to get it: run as root (`sudo underhood`), or boot with cgroup v2 \
         (systemd.unified_cgroup_hierarchy=1), where systemd delegates a subtree \
         (user@UID.service) to each user"
    );
    assert!(
        m.why
            .as_deref()
            .is_some_and(|w| w.contains("not delegated to users")),
        "{m:?}"
    );
}
