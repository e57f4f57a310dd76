use super::*;
use std::collections::BTreeSet;
use std::os::unix::fs::MetadataExt;

/// A directory `fakebin` holding a script named busybox (its text `script`).
fn fake_busybox(t: &Path, script: &str) -> PathBuf {
    let bin = t.join("fakebin");
    fs::create_dir(&bin).unwrap();
    let fake = bin.join("busybox");
    fs::write(&fake, script).unwrap();
    fs::set_permissions(&fake, fs::Permissions::from_mode(0o755)).unwrap();
    bin
}

fn temp_paths(t: &Path) -> Paths {
    Paths {
        proc_root: PathBuf::from("/proc"),
        cgroup_root: t.join("cgroup"),
        state_dir: t.join("state"),
        cache_dir: t.join("cache"),
    }
}

/// Walks `rootfs/` in the repository: the compiled-in list must name exactly these files.
#[test]
fn skeleton_list_matches_repository_dir() {
    fn walk(dir: &Path, base: &Path, out: &mut BTreeSet<String>) {
        for e in fs::read_dir(dir).unwrap() {
            let p = e.unwrap().path();
            if p.is_dir() {
                walk(&p, base, out);
            } else {
                out.insert(p.strip_prefix(base).unwrap().to_string_lossy().into_owned());
            }
        }
    }
    let base = Path::new(env!("CARGO_MANIFEST_DIR")).join("rootfs");
    let mut on_disk = BTreeSet::new();
    walk(&base, &base, &mut on_disk);
    let listed: BTreeSet<String> = SKELETON.iter().map(|(p, _)| p.to_string()).collect();
    assert_eq!(listed, on_disk, "update SKELETON in assemble.rs");
}

#[test]
fn host_tools_rootfs_is_complete() {
    let t = tempfile::tempdir().unwrap();
    let paths = temp_paths(t.path());
    let start = std::time::Instant::now();
    // Host tools by name: with the automatic choice a host with busybox (CI installs
    // busybox-static) would build the other flavour, which has no loader to check.
    let a = assemble_flavour(&paths, Flavour::HostTools).unwrap();
    let du = Command::new("du")
        .args(["-sh"])
        .arg(&a.dir)
        .output()
        .unwrap();
    eprintln!(
        "assembled default rootfs from {} in {:?}: {} tools, {} skipped {:?}, {}",
        a.source,
        start.elapsed(),
        a.tools.len(),
        a.skipped.len(),
        a.skipped,
        String::from_utf8_lossy(&du.stdout).trim()
    );
    assert!(a.dir.starts_with(&paths.cache_dir));
    assert_eq!(a.source, "host tools");
    assert!(a.tools.contains(&"ls".to_string()), "{:?}", a.tools);
    assert!(a.tools.contains(&"sh".to_string()));
    assert!(a.dir.join("usr/bin/ls").is_file());
    for tool in &a.tools {
        let found = ["usr/bin", "usr/sbin", "usr/local/bin", "usr/local/sbin"]
            .iter()
            .any(|d| a.dir.join(d).join(tool).is_file());
        assert!(found, "{tool} reported but not in the rootfs");
    }
    let sh = a.dir.join("usr/bin/sh");
    assert!(sh.is_file(), "no shell in {}", a.dir.display());
    assert_eq!(
        fs::read_link(a.dir.join("bin")).unwrap(),
        Path::new("usr/bin")
    );
    assert_eq!(
        fs::read_link(a.dir.join("etc/mtab")).unwrap(),
        Path::new("../proc/self/mounts")
    );
    assert_eq!(
        fs::read_to_string(a.dir.join("etc/hostname"))
            .unwrap()
            .trim(),
        "underhood"
    );
    assert!(
        fs::read_to_string(a.dir.join("etc/passwd"))
            .unwrap()
            .starts_with("root:x:0:0:")
    );
    assert!(a.dir.join("proc").is_dir() && a.dir.join("dev").is_dir());
    assert_eq!(
        fs::metadata(a.dir.join("tmp"))
            .unwrap()
            .permissions()
            .mode()
            & 0o7777,
        0o1777
    );
    // No .keep placeholder made it in.
    let out = Command::new("find")
        .arg(&a.dir)
        .args(["-name", ".keep"])
        .output()
        .unwrap();
    assert!(
        out.stdout.is_empty(),
        "{}",
        String::from_utf8_lossy(&out.stdout)
    );
    // The shell's interpreter is there, at its own path through the lib64 link.
    for (lib, _) in copy::libraries(&fs::canonicalize("/bin/sh").unwrap()).unwrap() {
        assert!(
            a.dir.join(lib.strip_prefix("/").unwrap()).exists(),
            "{} missing",
            lib.display()
        );
    }
    // A copy, never the host's file: compare the file the tree's shell resolves to
    // *inside the tree* (with busybox, usr/bin/sh is an absolute link to /bin/busybox,
    // which fs::metadata would follow out to the host's).
    let inside = fs::read_link(&sh)
        .ok()
        .filter(|t| t.is_absolute())
        .map(|t| a.dir.join(t.strip_prefix("/").unwrap()))
        .unwrap_or(sh.clone());
    let (m_in, m_host) = (
        fs::metadata(&inside).unwrap(),
        fs::metadata("/bin/sh").unwrap(),
    );
    assert_ne!((m_in.dev(), m_in.ino()), (m_host.dev(), m_host.ino()));

    // Second call: cached, same directory, not rebuilt.
    let ino = fs::metadata(&a.dir).unwrap().ino();
    let start = std::time::Instant::now();
    let b = assemble_flavour(&paths, Flavour::HostTools).unwrap();
    eprintln!("cached default_rootfs took {:?}", start.elapsed());
    assert_eq!(b, a);
    assert_eq!(fs::metadata(&b.dir).unwrap().ino(), ino);
    let mut entries: Vec<_> = fs::read_dir(&paths.cache_dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    entries.sort();
    assert_eq!(
        entries,
        [
            INDEX_FILE.to_string(),
            a.dir
                .parent()
                .unwrap()
                .file_name()
                .unwrap()
                .to_string_lossy()
                .into_owned()
        ],
        "only the final rootfs dir and its index are left"
    );
}

#[test]
fn index_skips_the_scan_until_a_search_dir_changes() {
    let t = tempfile::tempdir().unwrap();
    let bin = fake_busybox(
        t.path(),
        "#!/bin/sh\n[ \"$1\" = --list ] && printf 'sh\\n' && exit 0\nexit 1\n",
    );
    let paths = temp_paths(t.path());
    let search = std::slice::from_ref(&bin);
    let a = assemble_with(&paths, search, Flavour::Auto).unwrap();
    let index = paths.cache_dir.join(INDEX_FILE);
    let text = fs::read_to_string(&index).unwrap();
    let dir_name = a
        .dir
        .parent()
        .unwrap()
        .file_name()
        .unwrap()
        .to_string_lossy();
    assert!(text.trim_end().ends_with(&*dir_name), "{text}");

    // The index is what answers: pointed at another (valid) build, that build is used
    // without choosing again.
    let other = paths.cache_dir.join("rootfs-0000000000000000");
    fs::create_dir_all(other.join("rootfs")).unwrap();
    fs::copy(
        a.dir.parent().unwrap().join("assembled.json"),
        other.join("assembled.json"),
    )
    .unwrap();
    let fp = text.split_once(' ').unwrap().0;
    fs::write(&index, format!("{fp} rootfs-0000000000000000\n")).unwrap();
    assert_eq!(
        assemble_with(&paths, search, Flavour::Auto).unwrap().dir,
        other.join("rootfs")
    );

    // A new file in a search directory changes its mtime: the scan runs again and
    // finds the original build (same recipe), and the index is rewritten.
    std::thread::sleep(std::time::Duration::from_millis(20));
    fs::write(bin.join("unrelated"), "").unwrap();
    assert_eq!(
        assemble_with(&paths, search, Flavour::Auto).unwrap().dir,
        a.dir
    );
    let again = fs::read_to_string(&index).unwrap();
    assert_ne!(again, text);
    assert!(again.trim_end().ends_with(&*dir_name), "{again}");

    // A garbage index, or one naming something that is not ours, is ignored.
    for bad in [
        "garbage",
        &format!("{fp} ../evil"),
        &format!("{fp} rootfs-x/../../y"),
    ] {
        fs::write(&index, bad).unwrap();
        assert_eq!(
            assemble_with(&paths, search, Flavour::Auto).unwrap().dir,
            a.dir,
            "{bad}"
        );
    }
}

#[test]
fn busybox_is_preferred_and_applets_are_linked() {
    let t = tempfile::tempdir().unwrap();
    // A script stands in for busybox: it answers --list-full like the real one, with a
    // hostile line that must be ignored.
    let bin = fake_busybox(
        t.path(),
        "#!/bin/sh\ncase \"$1\" in\n--list-full) printf 'bin/sh\\nbin/ls\\nsbin/ip\\nusr/bin/env\\n../../evil\\nbin/../x\\n' ;;\n*) exit 1 ;;\nesac\n",
    );
    // A host-tools shell in the same search path must lose to busybox.
    std::os::unix::fs::symlink("/bin/sh", bin.join("sh")).unwrap();

    let paths = temp_paths(t.path());
    let a = assemble_with(&paths, std::slice::from_ref(&bin), Flavour::Auto).unwrap();
    assert_eq!(a.source, "busybox");
    assert_eq!(a.shell, "/bin/sh");
    let mut tools = a.tools.clone();
    tools.sort();
    assert_eq!(tools, ["env", "ip", "ls", "sh"]);
    assert!(a.dir.join("usr/bin/busybox").is_file());
    for applet in ["usr/bin/sh", "usr/bin/ls", "usr/sbin/ip", "usr/bin/env"] {
        assert_eq!(
            fs::read_link(a.dir.join(applet)).unwrap(),
            Path::new("/bin/busybox"),
            "{applet}"
        );
    }
    assert!(!t.path().join("evil").exists() && !paths.cache_dir.join("evil").exists());
    assert!(!a.dir.join("x").exists());
}

#[test]
fn busybox_list_fallback() {
    let t = tempfile::tempdir().unwrap();
    let bin = fake_busybox(
        t.path(),
        "#!/bin/sh\n[ \"$1\" = --list ] && printf 'sh\\ncat\\n' && exit 0\nexit 1\n",
    );
    let a = assemble_with(&temp_paths(t.path()), &[bin], Flavour::Auto).unwrap();
    assert!(a.dir.join("usr/bin/cat").is_symlink());
}

#[test]
fn no_shell_is_a_clear_error() {
    let t = tempfile::tempdir().unwrap();
    let empty = t.path().join("empty");
    fs::create_dir(&empty).unwrap();
    let paths = temp_paths(t.path());
    let err = assemble_with(&paths, &[empty], Flavour::Auto)
        .unwrap_err()
        .to_string();
    assert!(err.contains("no shell"), "{err}");
    assert!(!paths.cache_dir.exists() || fs::read_dir(&paths.cache_dir).unwrap().count() == 0);
}

#[test]
fn skeleton_or_recipe_change_changes_the_key() {
    let t = tempfile::tempdir().unwrap();
    let bin = t.path().join("b");
    fs::create_dir(&bin).unwrap();
    std::os::unix::fs::symlink("/bin/sh", bin.join("sh")).unwrap();
    let paths = temp_paths(t.path());
    let only_sh = assemble_with(&paths, std::slice::from_ref(&bin), Flavour::Auto).unwrap();
    assert_eq!(only_sh.tools, ["sh"]);
    // A new tool on the host changes the way tools are chosen: a new rootfs.
    std::os::unix::fs::symlink("/bin/ls", bin.join("ls")).unwrap();
    let with_ls = assemble_with(&paths, &[bin], Flavour::Auto).unwrap();
    assert_ne!(only_sh.dir, with_ls.dir);
    assert!(with_ls.dir.join("usr/bin/ls").is_file());
}

#[test]
fn concurrent_first_starts_share_one_rootfs() {
    let t = tempfile::tempdir().unwrap();
    let paths = temp_paths(t.path());
    let handles: Vec<_> = (0..2)
        .map(|_| {
            let paths = paths.clone();
            std::thread::spawn(move || default_rootfs(&paths).unwrap())
        })
        .collect();
    let dirs: Vec<_> = handles.into_iter().map(|h| h.join().unwrap()).collect();
    assert_eq!(dirs[0], dirs[1]);
    assert!(dirs[0].join("usr/bin/sh").exists());
    let entries: Vec<_> = fs::read_dir(&paths.cache_dir)
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .filter(|n| n != INDEX_FILE)
        .collect();
    assert_eq!(entries.len(), 1, "one rootfs (and its index): {entries:?}");
}

#[test]
fn tools_layer_holds_read_only_copies() {
    let t = tempfile::tempdir().unwrap();
    let paths = temp_paths(t.path());
    let dir = tools_layer(&paths).unwrap();
    let exe = std::env::current_exe().unwrap();
    let u = fs::metadata(dir.join("usr/local/bin/underhood")).unwrap();
    let h = fs::metadata(dir.join("usr/local/bin/hog")).unwrap();
    assert_eq!(u.ino(), h.ino(), "hog is a hard link to the copy");
    assert_ne!(
        u.ino(),
        fs::metadata(&exe).unwrap().ino(),
        "never the host binary"
    );
    assert_eq!(u.len(), fs::metadata(&exe).unwrap().len());
    assert_eq!(u.permissions().mode() & 0o7777, 0o555);
    for (lib, kind) in copy::libraries(&exe).unwrap() {
        let inside = Copier::new(&dir, Placement::Overlay, None).inside(&lib, kind);
        let m = fs::metadata(dir.join(&inside)).unwrap();
        assert_eq!(
            m.permissions().mode() & 0o777,
            0o555,
            "{}",
            inside.display()
        );
    }
    // Cached.
    assert_eq!(tools_layer(&paths).unwrap(), dir);
}

#[test]
fn old_tools_layers_are_pruned_only_when_ours_and_idle() {
    let t = tempfile::tempdir().unwrap();
    let paths = temp_paths(t.path());
    fs::create_dir_all(&paths.cache_dir).unwrap();
    let old = paths.cache_dir.join("tools-0123456789abcdef");
    let recent = paths.cache_dir.join("tools-fedcba9876543210");
    let foreign = paths.cache_dir.join("tools-mine");
    for d in [&old, &recent, &foreign] {
        fs::create_dir(d).unwrap();
        fs::write(d.join("f"), "x").unwrap();
    }
    let long_ago = nix::sys::time::TimeSpec::new(1_000_000, 0);
    for d in [&old, &foreign] {
        nix::sys::stat::utimensat(
            nix::fcntl::AT_FDCWD,
            d,
            &long_ago,
            &long_ago,
            nix::sys::stat::UtimensatFlags::NoFollowSymlink,
        )
        .unwrap();
    }
    let dir = tools_layer(&paths).unwrap();
    assert!(dir.exists());
    assert!(!old.exists(), "idle layer of an older binary is pruned");
    assert!(recent.exists(), "recently used layer is kept");
    assert!(foreign.exists(), "not ours by name: kept");
}

#[test]
fn tools_layer_of_a_static_program_has_no_libraries() {
    // A script is copied alone, as a static binary would be.
    let t = tempfile::tempdir().unwrap();
    let exe = t.path().join("prog");
    fs::write(&exe, "#!/bin/sh\n").unwrap();
    let dir = tools_layer_for(&temp_paths(t.path()), &exe).unwrap();
    let mut found = Vec::new();
    let out = Command::new("find")
        .arg(&dir)
        .args(["-type", "f"])
        .output()
        .unwrap();
    for l in String::from_utf8_lossy(&out.stdout).lines() {
        found.push(l.strip_prefix(dir.to_str().unwrap()).unwrap().to_string());
    }
    found.sort();
    assert_eq!(found, ["/usr/local/bin/hog", "/usr/local/bin/underhood"]);
}

/// Each flavour can be asked for by name, whatever the host has: host tools even beside
/// a busybox, busybox only where there is one (a clear error otherwise), and the two are
/// cached apart.
#[test]
fn a_flavour_asked_for_is_the_flavour_built() {
    let t = tempfile::tempdir().unwrap();
    let bin = fake_busybox(
        t.path(),
        "#!/bin/sh\n[ \"$1\" = --list-full ] && printf 'bin/sh\\nbin/ls\\n' && exit 0\nexit 1\n",
    );
    let sh = fs::canonicalize("/bin/sh").unwrap();
    std::os::unix::fs::symlink(&sh, bin.join("sh")).unwrap();
    let paths = temp_paths(t.path());
    let search = std::slice::from_ref(&bin);
    let auto = assemble_with(&paths, search, Flavour::Auto).unwrap();
    assert_eq!(auto.source, "busybox");
    let host = assemble_with(&paths, search, Flavour::HostTools).unwrap();
    assert_eq!(host.source, "host tools");
    assert_ne!(host.dir, auto.dir, "cached apart");
    let bb = assemble_with(&paths, search, Flavour::Busybox).unwrap();
    assert_eq!(bb.source, "busybox");

    let only_sh = t.path().join("only-sh");
    fs::create_dir(&only_sh).unwrap();
    std::os::unix::fs::symlink(&sh, only_sh.join("sh")).unwrap();
    let err = assemble_with(&paths, &[only_sh], Flavour::Busybox)
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("no busybox") && err.contains("busybox-static"),
        "{err}"
    );

    assert_eq!(Flavour::parse("host-tools").unwrap(), Flavour::HostTools);
    assert_eq!(Flavour::parse("").unwrap(), Flavour::Auto);
    assert!(Flavour::parse("alpine").is_err());
}
