use super::evict::disk_usage;
use super::*;
use crate::runtime::assemble::error::{self, Ctx};

/// A build step's result, as the real builders (the assembler's typed error) give it.
type R = Result<(), error::Error>;

#[test]
fn builds_once_and_reuses() {
    let t = tempfile::tempdir().unwrap();
    let target = t.path().join("cache/thing-1");
    let mut calls = 0;
    let got = build_atomically(&target, |tmp| -> R {
        calls += 1;
        fs::write(tmp.join("a"), "1").ctx(|| "cannot write a")?;
        Ok(())
    })
    .unwrap();
    assert_eq!(got, target);
    assert_eq!(fs::read_to_string(target.join("a")).unwrap(), "1");
    let again = build_atomically(&target, |_| -> R { panic!("must not rebuild") }).unwrap();
    assert_eq!(again, target);
    assert_eq!(calls, 1);
    // Nothing but the final directory is left beside it.
    let names: Vec<_> = fs::read_dir(t.path().join("cache"))
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect();
    assert_eq!(names, vec![std::ffi::OsString::from("thing-1")]);
}

#[test]
fn failed_build_leaves_nothing() {
    let t = tempfile::tempdir().unwrap();
    let target = t.path().join("thing");
    let err = build_atomically(&target, |tmp| -> R {
        fs::create_dir(tmp.join("sub")).ctx(|| "cannot create sub")?;
        fs::set_permissions(tmp.join("sub"), fs::Permissions::from_mode(0o555))
            .ctx(|| "cannot chmod sub")?;
        Err(error::Error::Refused("boom".into()))
    })
    .unwrap_err();
    assert!(err.to_string().contains("boom"));
    assert_eq!(fs::read_dir(t.path()).unwrap().count(), 0);
}

#[test]
fn stale_tmp_of_dead_process_is_removed() {
    let t = tempfile::tempdir().unwrap();
    // pid_max is at most 2^22, so this pid cannot be alive.
    let stale = t.path().join(".thing.tmp-99999999-1");
    fs::create_dir(&stale).unwrap();
    let live = t
        .path()
        .join(format!(".thing.tmp-{}-live", std::process::id()));
    fs::create_dir(&live).unwrap();
    build_atomically(&t.path().join("thing"), |_| -> R { Ok(()) }).unwrap();
    assert!(!stale.exists());
    assert!(live.exists(), "a live process's build must not be touched");
}

#[test]
fn concurrent_builders_agree() {
    let t = tempfile::tempdir().unwrap();
    let target = t.path().join("thing");
    let handles: Vec<_> = (0..4)
        .map(|i| {
            let target = target.clone();
            std::thread::spawn(move || {
                build_atomically(&target, |tmp| -> R {
                    std::thread::sleep(std::time::Duration::from_millis(20));
                    fs::write(tmp.join("who"), format!("{i}")).ctx(|| "cannot write who")?;
                    Ok(())
                })
                .unwrap()
            })
        })
        .collect();
    for h in handles {
        assert_eq!(h.join().unwrap(), target);
    }
    let who: u32 = fs::read_to_string(target.join("who"))
        .unwrap()
        .parse()
        .unwrap();
    assert!(who < 4);
    assert_eq!(fs::read_dir(t.path()).unwrap().count(), 1);
}

fn set_mtime(path: &Path, secs: i64) {
    let t = nix::sys::time::TimeSpec::new(secs, 0);
    nix::sys::stat::utimensat(
        nix::fcntl::AT_FDCWD,
        path,
        &t,
        &t,
        nix::sys::stat::UtimensatFlags::NoFollowSymlink,
    )
    .unwrap();
}

/// Issue 11, item 13: a partial build whose builder is dead (its pid and start time
/// name no process) is removed and reported, with a stale temporary file; a build
/// under way (this process's mark, or a lock held on it) is not.
#[test]
fn abandoned_builds_and_temp_files_are_removed_live_ones_kept() {
    let t = tempfile::tempdir().unwrap();
    let images = t.path().join("images");
    fs::create_dir_all(images.join("by-stat")).unwrap();
    let proc_root = Path::new("/proc");
    // pid_max is at most 2^22, so this pid cannot be alive.
    let dead = images.join(format!(".{}.tmp-99999999-12345-0", "a".repeat(64)));
    fs::create_dir_all(dead.join("staging/usr/bin")).unwrap();
    fs::write(dead.join("staging/usr/bin/half"), "half a file").unwrap();
    fs::set_permissions(dead.join("staging/usr"), fs::Permissions::from_mode(0o555)).unwrap();
    // Our own pid with another start time: a reused pid, the builder is gone.
    let me = std::process::id();
    let reused = t
        .path()
        .join(format!(".rootfs-0123456789abcdef.tmp-{me}-1-0"));
    fs::create_dir(&reused).unwrap();
    let tmp_file = images.join("by-stat").join(".tmp-99999999-ThreadId(1)");
    std::os::unix::fs::symlink("../x", &tmp_file).unwrap();
    let idx_tmp = t.path().join("default-rootfs.idx.tmp-99999999-3");
    fs::write(&idx_tmp, "x").unwrap();
    // Live: our mark as builder_mark() writes it.
    let live = t.path().join(format!(".rootfs-1.tmp-{}", builder_mark()));
    fs::create_dir(&live).unwrap();
    // A dead mark, but a lock held (a process that inherited the descriptor).
    let locked = images.join(format!(".{}.tmp-99999999-1-0", "b".repeat(64)));
    fs::create_dir(&locked).unwrap();
    let lock = open_dir(&locked).unwrap();
    flock(&lock, libc::LOCK_SH, &locked).unwrap();
    // A finished tree is not a partial one.
    let done = t.path().join("rootfs-0123456789abcdef");
    fs::create_dir(&done).unwrap();

    let removed = remove_abandoned(&build_dirs(t.path()), proc_root);
    assert!(removed.errors.is_empty(), "{:?}", removed.errors);
    let mut got = removed.paths.clone();
    got.sort();
    let mut want = vec![
        dead.clone(),
        reused.clone(),
        tmp_file.clone(),
        idx_tmp.clone(),
    ];
    want.sort();
    assert_eq!(got, want);
    for p in &want {
        assert!(fs::symlink_metadata(p).is_err(), "{} left", p.display());
    }
    assert!(live.exists() && locked.exists() && done.exists());
    drop(lock);
    let removed = remove_abandoned(&build_dirs(t.path()), proc_root);
    assert_eq!(removed.paths, vec![locked.clone()], "the lock is gone now");
    assert!(live.exists());
}

/// Issue 11, item 12: eviction leaves trees in use (a shared lock held, as every
/// process that uses one holds it) and trims the rest, least recently used first,
/// down to the cap.
#[test]
fn trim_evicts_least_recently_used_and_keeps_what_is_in_use() {
    let t = tempfile::tempdir().unwrap();
    let cache = t.path();
    let proc_root = Path::new("/proc");
    let img = |c: char| cache.join("images").join(c.to_string().repeat(64));
    let make = |dir: &Path, kib: usize, age: i64| {
        fs::create_dir_all(dir.join("layers/0")).unwrap();
        fs::write(dir.join("layers/0/data"), vec![1u8; kib << 10]).unwrap();
        set_mtime(dir, 1_700_000_000 + age);
    };
    let (a, b, c, d) = (
        img('a'),
        img('b'),
        img('c'),
        cache.join("rootfs-0123456789abcdef"),
    );
    make(&a, 400, 1); // oldest
    make(&b, 400, 2);
    make(&c, 400, 3);
    make(&d, 400, 4); // newest
    fs::create_dir_all(cache.join("images/by-stat")).unwrap();
    assert_eq!(
        entries(cache),
        vec![a.clone(), b.clone(), c.clone(), d.clone()]
    );
    let each = disk_usage(&a);
    assert!(each >= 400 << 10, "{each}");
    // `a` is in use by someone: it stays, and `b` and `c` go instead.
    let user = open_dir(&a).unwrap();
    flock(&user, libc::LOCK_SH, &a).unwrap();
    assert_eq!(evict(&a, proc_root).unwrap(), Eviction::InUse);
    let gone = trim(cache, 2 * each, proc_root);
    let gone: Vec<_> = gone.into_iter().map(|g| g.0).collect();
    assert_eq!(gone, vec![b.clone(), c.clone()]);
    assert!(a.exists() && d.exists() && !b.exists() && !c.exists());
    // Nothing else is left beside them (no renamed-away tree).
    let names: Vec<_> = fs::read_dir(cache.join("images"))
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .collect();
    assert_eq!(names.len(), 2, "{names:?}");
    drop(user);
    assert!(matches!(evict(&a, proc_root).unwrap(), Eviction::Removed(n) if n >= 400 << 10));
    assert!(!a.exists());
}

/// A tree this process built or found stays locked while the process lives.
#[test]
fn used_trees_are_locked_for_the_life_of_the_process() {
    let t = tempfile::tempdir().unwrap();
    let target = t.path().join("images").join("e".repeat(64));
    build_atomically(&target, |tmp| -> R {
        fs::write(tmp.join("a"), "1").ctx(|| "cannot write a")?;
        Ok(())
    })
    .unwrap();
    assert_eq!(evict(&target, Path::new("/proc")).unwrap(), Eviction::InUse);
    assert!(target.join("a").exists());
}
