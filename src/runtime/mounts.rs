//! Mount work done inside the container's mount namespace: propagation, the overlay
//! root filesystem, volumes, /proc, /dev, /tmp, and the switch of root.
//! See mount(2), mount_namespaces(7), pivot_root(2), chroot(2), overlayfs docs.

use std::path::{Component, Path, PathBuf};

use nix::mount::{MntFlags, MsFlags};

use super::report::Report;
use super::step::{RootMode, RootfsSpec};
use super::sys::{Kind, Sys};

mod volume;

/// Host device nodes bound into the container's /dev (bind mounts work in a user
/// namespace too, where mknod(2) does not).
pub const DEV_NODES: [&str; 6] = ["null", "zero", "full", "random", "urandom", "tty"];

fn mount_args(
    source: Option<&str>,
    target: &Path,
    fstype: Option<&str>,
    flags: MsFlags,
    data: Option<&str>,
) -> String {
    format!(
        "{}, {:?}, {}, {}, {}",
        source.map_or("NULL".to_string(), |s| format!("{s:?}")),
        target,
        fstype.map_or("NULL".to_string(), |s| format!("{s:?}")),
        flag_names(flags),
        data.map_or("NULL".to_string(), |s| format!("{s:?}"))
    )
}

/// Names mount flags as mount(2) spells them.
pub fn flag_names(flags: MsFlags) -> String {
    const NAMES: [(MsFlags, &str); 14] = [
        (MsFlags::MS_RDONLY, "MS_RDONLY"),
        (MsFlags::MS_NOSUID, "MS_NOSUID"),
        (MsFlags::MS_NODEV, "MS_NODEV"),
        (MsFlags::MS_NOEXEC, "MS_NOEXEC"),
        (MsFlags::MS_REMOUNT, "MS_REMOUNT"),
        (MsFlags::MS_BIND, "MS_BIND"),
        (MsFlags::MS_REC, "MS_REC"),
        (MsFlags::MS_PRIVATE, "MS_PRIVATE"),
        (MsFlags::MS_SLAVE, "MS_SLAVE"),
        (MsFlags::MS_SHARED, "MS_SHARED"),
        (MsFlags::MS_UNBINDABLE, "MS_UNBINDABLE"),
        (MsFlags::MS_NOATIME, "MS_NOATIME"),
        (MsFlags::MS_NODIRATIME, "MS_NODIRATIME"),
        (MsFlags::MS_RELATIME, "MS_RELATIME"),
    ];
    let names: Vec<&str> = NAMES
        .iter()
        .filter(|(f, _)| flags.contains(*f))
        .map(|(_, n)| *n)
        .collect();
    if names.is_empty() {
        "0".into()
    } else {
        names.join("|")
    }
}

/// mount(2), recorded in the report.
pub fn mount(
    sys: &mut dyn Sys,
    r: &mut Report,
    source: Option<&str>,
    target: &Path,
    fstype: Option<&str>,
    flags: MsFlags,
    data: Option<&str>,
) -> nix::Result<()> {
    let args = mount_args(source, target, fstype, flags, data);
    let res = sys.mount(source, target, fstype, flags, data);
    r.call("mount", args, res)
}

/// After unshare(CLONE_NEWNS) the new namespace holds copies of the host's mounts with
/// the same propagation: on a systemd host `/` is shared, so a mount made here would
/// appear on the host. Turning every mount into a slave stops that while still
/// receiving the host's later mounts (what runc does by default).
pub fn make_rslave(sys: &mut dyn Sys, r: &mut Report) -> nix::Result<()> {
    mount(
        sys,
        r,
        None,
        Path::new("/"),
        None,
        MsFlags::MS_REC | MsFlags::MS_SLAVE,
        None,
    )?;
    r.shell("mount --make-rslave /");
    r.note("every mount is now a slave: the host's new mounts still arrive, ours never leave");
    Ok(())
}

/// Joins a path inside the container to the merged root, refusing `..` so a volume
/// target cannot point outside it.
pub fn inside(root: &Path, path: &Path) -> Result<PathBuf, nix::errno::Errno> {
    let mut out = root.to_path_buf();
    for c in path.components() {
        match c {
            Component::RootDir | Component::CurDir => {}
            Component::Normal(p) => out.push(p),
            Component::ParentDir | Component::Prefix(_) => return Err(nix::errno::Errno::EINVAL),
        }
    }
    Ok(out)
}

/// overlayfs lowerdir/upperdir/workdir values cannot contain `,` or `:` unescaped.
fn overlay_path(p: &Path) -> String {
    p.to_string_lossy()
        .replace('\\', "\\\\")
        .replace(',', "\\,")
        .replace(':', "\\:")
}

/// The root filesystem: overlay, then /proc, /dev, /tmp, then the volumes (so that
/// none of ours hides a volume mounted under /tmp or /dev), then runc's read-only and
/// masked paths over all of it.
pub fn rootfs(
    sys: &mut dyn Sys,
    r: &mut Report,
    spec: &RootfsSpec,
    in_userns: bool,
) -> nix::Result<()> {
    let lower: Vec<String> = spec.lower.iter().map(|p| overlay_path(p)).collect();
    let mut data = format!(
        "lowerdir={},upperdir={},workdir={}",
        lower.join(":"),
        overlay_path(&spec.upper),
        overlay_path(&spec.work)
    );
    if in_userns {
        // In a user namespace overlayfs cannot use trusted.* xattrs; user.* instead.
        data.push_str(",userxattr");
    }
    if sys.overlay_volatile() {
        // volatile (overlayfs docs, "Volatile mount"): no sync reaches the upper layer,
        // so the unmount at teardown does not flush the host filesystem (sync_fs), a
        // millisecond or more on every launch. The upper layer is thrown away at
        // teardown (or by cleanup after a crash), so there is nothing to keep durable.
        data.push_str(",volatile");
    }
    // nodev: a device node in an image (or made inside with CAP_MKNOD) opens nothing;
    // /dev is a separate mount with the few nodes we bind in. nosuid: a setuid file in
    // the image or made inside raises nobody (the command runs with no_new_privs
    // anyway, which makes setuid bits inert for it and its children).
    mount(
        sys,
        r,
        Some("overlay"),
        &spec.merged,
        Some("overlay"),
        MsFlags::MS_NODEV | MsFlags::MS_NOSUID,
        Some(&data),
    )?;
    r.shell(format!(
        "mount -t overlay overlay -o nodev,nosuid,{data} {}",
        spec.merged.display()
    ));
    r.note("overlayfs: reads fall through to the lower layers; the first write copies a file up");

    // mount(2) follows a symlink at its target: an image whose /proc is a link to
    // elsewhere would get procfs elsewhere (or, through an absolute link, outside the
    // new root) and run without /proc. Refused, naming the path.
    for name in ["proc", "dev", "tmp"] {
        refuse_symlink(sys, r, &spec.merged, name)?;
    }

    let proc_dir = spec.merged.join("proc");
    r.call("mkdir", format!("{proc_dir:?}"), sys.mkdir(&proc_dir))?;
    mount(
        sys,
        r,
        Some("proc"),
        &proc_dir,
        Some("proc"),
        MsFlags::MS_NOSUID | MsFlags::MS_NODEV | MsFlags::MS_NOEXEC,
        None,
    )?;
    r.shell(format!("mount -t proc proc {}", proc_dir.display()));
    r.note("a fresh /proc shows the processes of the PID namespace of whoever mounts it");

    dev(sys, r, &spec.merged.join("dev"))?;

    let tmp = spec.merged.join("tmp");
    r.call("mkdir", format!("{tmp:?}"), sys.mkdir(&tmp))?;
    mount(
        sys,
        r,
        Some("tmpfs"),
        &tmp,
        Some("tmpfs"),
        MsFlags::MS_NOSUID | MsFlags::MS_NODEV,
        Some("mode=1777"),
    )?;
    r.shell(format!(
        "mount -t tmpfs -o mode=1777 tmpfs {}",
        tmp.display()
    ));

    for v in &spec.volumes {
        volume::bind(sys, r, &spec.merged, v)?;
    }

    harden(sys, r, &spec.merged)
}

/// Fails with ELOOP, naming the path, when `/name` in the new root is a symlink.
fn refuse_symlink(sys: &mut dyn Sys, r: &mut Report, merged: &Path, name: &str) -> nix::Result<()> {
    let p = merged.join(name);
    if sys.kind(&p) == Some(Kind::Symlink) {
        return r.call(
            "lstat",
            format!(
                "{p:?}: /{name} is a symlink in the root filesystem; refusing to mount /{name} through it"
            ),
            Err(nix::errno::Errno::ELOOP),
        );
    }
    Ok(())
}

/// runc's default `readonlyPaths` (libcontainer/specconv/example.go): /proc paths that
/// act on the whole host, not on the container, so that e.g.
/// `/proc/sys/kernel/core_pattern`, which the host runs as root on every crash, cannot
/// be written by root inside. Bound onto themselves, then remounted read-only.
pub const READ_ONLY_PATHS: [&str; 5] = [
    "/proc/bus",
    "/proc/fs",
    "/proc/irq",
    "/proc/sys",
    "/proc/sysrq-trigger",
];
/// runc's default `maskedPaths`: what leaks host information or state. A file is hidden
/// behind /dev/null, a directory behind an empty read-only tmpfs; a path absent here
/// (no /sys is mounted, a kernel without that file) is skipped.
pub const MASKED_PATHS: [&str; 11] = [
    "/proc/acpi",
    "/proc/asound",
    "/proc/kcore",
    "/proc/keys",
    "/proc/latency_stats",
    "/proc/timer_list",
    "/proc/timer_stats",
    "/proc/sched_debug",
    "/sys/firmware",
    "/proc/scsi",
    "/sys/devices/virtual/tpm",
];

fn harden(sys: &mut dyn Sys, r: &mut Report, merged: &Path) -> nix::Result<()> {
    let mut read_only = Vec::new();
    for path in READ_ONLY_PATHS {
        // Resolved inside the new root: an image's symlinks never lead out of it.
        let p = r.call(
            "resolve",
            format!("{path:?} inside {merged:?}"),
            sys.resolve_in_root(merged, Path::new(path)),
        )?;
        if sys.kind(&p).is_none() {
            continue;
        }
        let s = p.to_string_lossy().into_owned();
        mount(
            sys,
            r,
            Some(&s),
            &p,
            None,
            MsFlags::MS_BIND | MsFlags::MS_REC,
            None,
        )?;
        mount(
            sys,
            r,
            None,
            &p,
            None,
            MsFlags::MS_BIND
                | MsFlags::MS_REMOUNT
                | MsFlags::MS_RDONLY
                | MsFlags::MS_NOSUID
                | MsFlags::MS_NODEV
                | MsFlags::MS_NOEXEC,
            None,
        )?;
        read_only.push(path);
    }
    let (mut files, mut dirs) = (Vec::new(), Vec::new());
    for path in MASKED_PATHS {
        let p = r.call(
            "resolve",
            format!("{path:?} inside {merged:?}"),
            sys.resolve_in_root(merged, Path::new(path)),
        )?;
        match sys.kind(&p) {
            None => {}
            Some(Kind::Dir) => {
                mount(
                    sys,
                    r,
                    Some("tmpfs"),
                    &p,
                    Some("tmpfs"),
                    MsFlags::MS_RDONLY,
                    None,
                )?;
                dirs.push(path);
            }
            Some(_) => {
                mount(sys, r, Some("/dev/null"), &p, None, MsFlags::MS_BIND, None)?;
                files.push(path);
            }
        }
    }
    let d = merged.display();
    if !read_only.is_empty() {
        r.shell(format!(
            "for p in {}; do mount --bind {d}$p {d}$p; mount -o remount,bind,ro,nosuid,nodev,noexec {d}$p; done",
            read_only.join(" ")
        ));
    }
    if !files.is_empty() {
        r.shell(format!(
            "for p in {}; do mount --bind /dev/null {d}$p; done",
            files.join(" ")
        ));
    }
    if !dirs.is_empty() {
        r.shell(format!(
            "for p in {}; do mount -t tmpfs -o ro tmpfs {d}$p; done",
            dirs.join(" ")
        ));
    }
    r.note(
        "as runc: /proc/sys and other host-wide knobs are read-only; kcore, keys, acpi and the rest of runc's masked paths hide behind /dev/null or an empty read-only tmpfs",
    );
    Ok(())
}

/// A minimal /dev: a tmpfs with the usual nodes bound from the host, a private
/// devpts instance for terminals, and the standard symlinks.
fn dev(sys: &mut dyn Sys, r: &mut Report, dev: &Path) -> nix::Result<()> {
    r.call("mkdir", format!("{dev:?}"), sys.mkdir(dev))?;
    // nodev: a node made here with CAP_MKNOD opens nothing; the nodes we bind in
    // below are mounts of their own and keep working.
    mount(
        sys,
        r,
        Some("tmpfs"),
        dev,
        Some("tmpfs"),
        MsFlags::MS_NOSUID | MsFlags::MS_NODEV,
        Some("mode=755,size=65536k"),
    )?;
    r.shell(format!(
        "mount -t tmpfs -o mode=755 tmpfs {}",
        dev.display()
    ));
    for node in DEV_NODES {
        let target = dev.join(node);
        let host = format!("/dev/{node}");
        r.call(
            "open",
            format!("{target:?}, O_CREAT"),
            sys.create_file(&target),
        )?;
        mount(sys, r, Some(&host), &target, None, MsFlags::MS_BIND, None)?;
    }
    r.shell(format!(
        "for n in {}; do touch {d}/$n; mount --bind /dev/$n {d}/$n; done",
        DEV_NODES.join(" "),
        d = dev.display()
    ));
    let pts = dev.join("pts");
    r.call("mkdir", format!("{pts:?}"), sys.mkdir(&pts))?;
    mount(
        sys,
        r,
        Some("devpts"),
        &pts,
        Some("devpts"),
        MsFlags::MS_NOSUID | MsFlags::MS_NOEXEC,
        Some("newinstance,ptmxmode=0666,mode=0620"),
    )?;
    for (target, link) in [
        ("pts/ptmx", "ptmx"),
        ("/proc/self/fd", "fd"),
        ("/proc/self/fd/0", "stdin"),
        ("/proc/self/fd/1", "stdout"),
        ("/proc/self/fd/2", "stderr"),
    ] {
        let l = dev.join(link);
        r.call(
            "symlink",
            format!("{target:?}, {l:?}"),
            sys.symlink(target, &l),
        )?;
    }
    let shm = dev.join("shm");
    r.call("mkdir", format!("{shm:?}"), sys.mkdir(&shm))?;
    Ok(())
}

/// Switches the root to `new_root`.
///
/// pivot_root(2): with the `pivot_root(".", ".")` idiom from its NOTES, the old root
/// is stacked on top of the new one at `/` and then lazily detached, so no path
/// inside leads back to the host. pivot_root requires `new_root` to be a mount point
/// whose parent is not shared: the overlay is one, and the tree was made rslave.
///
/// chroot(2) only changes the path lookup root; the host's tree is still mounted,
/// and with CAP_SYS_CHROOT a process can chroot deeper and climb out with `..`.
pub fn enter_root(
    sys: &mut dyn Sys,
    r: &mut Report,
    mode: RootMode,
    new_root: &Path,
) -> nix::Result<()> {
    r.call("chdir", format!("{new_root:?}"), sys.chdir(new_root))?;
    match mode {
        RootMode::PivotRoot => {
            let dot = Path::new(".");
            r.call("pivot_root", "\".\", \".\"", sys.pivot_root(dot, dot))?;
            r.call(
                "umount2",
                "\".\", MNT_DETACH",
                sys.umount2(dot, MntFlags::MNT_DETACH),
            )?;
            r.shell(format!(
                "cd {} && pivot_root . . && umount -l .",
                new_root.display()
            ));
            r.note("the old root is unmounted: the host's files are out of reach");
        }
        RootMode::Chroot => {
            r.call("chroot", "\".\"", sys.chroot(Path::new(".")))?;
            r.shell(format!("chroot {}", new_root.display()));
            r.note("chroot only moves the lookup root; the host's mounts are all still there");
        }
    }
    r.call("chdir", "\"/\"", sys.chdir(Path::new("/")))?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::runtime::step::Volume;
    use crate::runtime::sys::{
        Call, MOUNT_ATTR_NODEV, MOUNT_ATTR_NOSUID, MOUNT_ATTR_RDONLY, Recorder,
    };
    use nix::errno::Errno;

    fn spec() -> RootfsSpec {
        RootfsSpec {
            lower: vec!["/c/tools".into(), "/c/rootfs".into()],
            upper: "/s/upper".into(),
            work: "/s/work".into(),
            merged: "/s/merged".into(),
            volumes: vec![Volume {
                host: "/".into(),
                target: "/data".into(),
                read_only: true,
            }],
            scratch: None,
        }
    }

    fn mounts(sys: &Recorder) -> Vec<(Option<String>, PathBuf, MsFlags)> {
        sys.calls
            .iter()
            .filter_map(|c| match c {
                Call::Mount {
                    fstype,
                    target,
                    flags,
                    ..
                } => Some((fstype.clone(), target.clone(), *flags)),
                _ => None,
            })
            .collect()
    }

    #[test]
    fn rootfs_mounts_overlay_then_proc_dev_tmp_then_volumes_then_masks() {
        let mut sys = Recorder::default();
        let mut r = Report::new("rootfs");
        rootfs(&mut sys, &mut r, &spec(), false).unwrap();
        let mounts = mounts(&sys);
        assert_eq!(mounts[0].0.as_deref(), Some("overlay"));
        assert_eq!(mounts[0].1, PathBuf::from("/s/merged"));
        assert!(mounts[0].2.contains(MsFlags::MS_NODEV | MsFlags::MS_NOSUID));
        assert_eq!(mounts[1].0.as_deref(), Some("proc"));
        let at = |p: &str| {
            mounts
                .iter()
                .position(|m| m.1 == Path::new(p))
                .unwrap_or_else(|| panic!("no mount at {p}"))
        };
        // Volumes after /dev and /tmp, so neither hides one below it.
        assert!(at("/s/merged/dev") < at("/s/merged/tmp"));
        assert!(at("/s/merged/tmp") < at("/s/merged/data"));
        assert!(
            mounts[at("/s/merged/data")]
                .2
                .contains(MsFlags::MS_BIND | MsFlags::MS_REC)
        );
        // Then nosuid, nodev and read-only on the volume and all below it.
        assert!(sys.calls.contains(&Call::MountSetattr {
            target: "/s/merged/data".into(),
            recursive: true,
            attr_set: MOUNT_ATTR_RDONLY | MOUNT_ATTR_NOSUID | MOUNT_ATTR_NODEV,
        }));
        // runc's read-only and masked paths, last.
        assert!(at("/s/merged/data") < at("/s/merged/proc/sys"));
        for p in MASKED_PATHS {
            assert!(
                mounts
                    .iter()
                    .any(|m| m.1 == Path::new(&format!("/s/merged{p}"))),
                "{p} not masked"
            );
        }
        assert!(mounts.iter().any(|m| m.0.as_deref() == Some("devpts")));
        match &sys.calls[0] {
            Call::Mount { data: Some(d), .. } => {
                assert_eq!(
                    d,
                    "lowerdir=/c/tools:/c/rootfs,upperdir=/s/upper,workdir=/s/work"
                )
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn masked_directories_get_an_empty_read_only_tmpfs() {
        let mut sys = Recorder {
            kinds: vec![
                ("/s/merged/proc/acpi".into(), Some(Kind::Dir)),
                ("/s/merged/sys/firmware".into(), None),
            ],
            ..Default::default()
        };
        let mut r = Report::new("rootfs");
        rootfs(&mut sys, &mut r, &spec(), false).unwrap();
        let mounts = mounts(&sys);
        let acpi: Vec<_> = mounts
            .iter()
            .filter(|m| m.1 == Path::new("/s/merged/proc/acpi"))
            .collect();
        assert_eq!(acpi.len(), 1);
        assert_eq!(acpi[0].0.as_deref(), Some("tmpfs"));
        assert!(acpi[0].2.contains(MsFlags::MS_RDONLY));
        assert!(
            !mounts
                .iter()
                .any(|m| m.1 == Path::new("/s/merged/sys/firmware"))
        );
    }

    #[test]
    fn a_symlink_at_a_mount_point_is_refused_by_name() {
        for name in ["proc", "dev", "tmp"] {
            let mut sys = Recorder {
                kinds: vec![(format!("/s/merged/{name}").into(), Some(Kind::Symlink))],
                ..Default::default()
            };
            let mut r = Report::new("rootfs");
            assert_eq!(rootfs(&mut sys, &mut r, &spec(), false), Err(Errno::ELOOP));
            let f = r.failure().unwrap();
            assert!(
                f.args.contains(&format!("/{name} is a symlink")),
                "{}",
                f.args
            );
            assert_eq!(mounts(&sys).len(), 1, "{name}: nothing after the overlay");
        }
    }

    #[test]
    fn a_volume_under_a_masked_path_is_refused() {
        let mut s = spec();
        s.volumes[0].target = "/sys/firmware/x".into();
        let mut sys = Recorder::default();
        let mut r = Report::new("rootfs");
        assert_eq!(rootfs(&mut sys, &mut r, &s, false), Err(Errno::EINVAL));
        let f = r.failure().unwrap();
        assert!(f.args.contains("masked"), "{}", f.args);
    }

    #[test]
    fn without_mount_setattr_each_submount_is_remounted() {
        let mut sys = Recorder {
            fail: Some((|c| matches!(c, Call::MountSetattr { .. }), Errno::ENOSYS)),
            ..Default::default()
        };
        let mut r = Report::new("rootfs");
        rootfs(&mut sys, &mut r, &spec(), false).unwrap();
        assert!(r.failure().is_none(), "ENOSYS is handled, not a failure");
        assert!(sys.calls.contains(&Call::Mount {
            source: None,
            target: "/s/merged/data".into(),
            fstype: None,
            flags: MsFlags::MS_BIND
                | MsFlags::MS_REMOUNT
                | MsFlags::MS_NOSUID
                | MsFlags::MS_NODEV
                | MsFlags::MS_RDONLY,
            data: None,
        }));
    }

    #[test]
    fn userns_overlay_uses_user_xattrs() {
        let mut sys = Recorder::default();
        let mut r = Report::new("rootfs");
        rootfs(&mut sys, &mut r, &spec(), true).unwrap();
        assert!(
            matches!(&sys.calls[0], Call::Mount { data: Some(d), .. } if d.ends_with(",userxattr"))
        );
    }

    #[test]
    fn volume_target_cannot_climb_out() {
        let mut s = spec();
        s.volumes[0].target = "/../../etc".into();
        let mut sys = Recorder::default();
        let mut r = Report::new("rootfs");
        assert_eq!(rootfs(&mut sys, &mut r, &s, false), Err(Errno::EINVAL));
        assert_eq!(r.failure().map(|c| c.name.as_str()), Some("resolve"));
    }

    #[test]
    fn pivot_root_sequence_follows_the_man_page() {
        let mut sys = Recorder::default();
        let mut r = Report::new("pivot");
        enter_root(
            &mut sys,
            &mut r,
            RootMode::PivotRoot,
            Path::new("/s/merged"),
        )
        .unwrap();
        assert_eq!(
            sys.calls,
            vec![
                Call::Chdir("/s/merged".into()),
                Call::PivotRoot(".".into(), ".".into()),
                Call::Umount2(".".into(), MntFlags::MNT_DETACH),
                Call::Chdir("/".into()),
            ]
        );
    }

    #[test]
    fn chroot_mode_never_pivots() {
        let mut sys = Recorder::default();
        let mut r = Report::new("chroot");
        enter_root(&mut sys, &mut r, RootMode::Chroot, Path::new("/s/merged")).unwrap();
        assert!(sys.calls.contains(&Call::Chroot(".".into())));
        assert!(!sys.calls.iter().any(|c| matches!(c, Call::PivotRoot(..))));
    }

    #[test]
    fn a_failed_pivot_stops_and_reports_the_errno() {
        let mut sys = Recorder {
            fail: Some((|c| matches!(c, Call::PivotRoot(..)), Errno::EINVAL)),
            ..Default::default()
        };
        let mut r = Report::new("pivot");
        let res = enter_root(&mut sys, &mut r, RootMode::PivotRoot, Path::new("/m"));
        assert_eq!(res, Err(Errno::EINVAL));
        assert_eq!(sys.calls.len(), 2, "nothing after the failure");
        let f = r.failure().unwrap();
        assert_eq!(f.name, "pivot_root");
        assert!(f.result.as_ref().unwrap_err().starts_with("EINVAL"));
    }

    #[test]
    fn overlay_paths_are_escaped() {
        assert_eq!(overlay_path(Path::new("/a,b:c")), "/a\\,b\\:c");
    }
}
