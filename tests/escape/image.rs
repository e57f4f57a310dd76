//! See tests/escape.rs. The image cache and unpacking bounds (issue 11, items 11-13):
//! hostile images given to `underhood run --image`, the real binary on the real cache
//! (`/var/cache/underhood`), and `underhood cleanup` after an unpack killed half-way.
//!
//! The images hold the host's static busybox, so they run as they are.

use std::collections::BTreeSet;
use std::fs;
use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};

use nix::sys::signal::{Signal, kill};
use nix::unistd::Pid;

use crate::common::{BIN, Trial, assert_no_residue, residue, root_trial, skip, stderr, stdout};
use underhood::runtime::paths::Paths;

#[path = "../../src/runtime/image/fixtures.rs"]
mod fixtures;
use fixtures::*;

/// `images/by-stat` in the cache (`BY_STAT` in `runtime::image`), for the fixtures.
const BY_STAT: &str = "by-stat";

pub fn trials() -> Vec<Trial> {
    vec![
        root_trial(
            "image::root_same_manifest_different_layers_run_their_own_content",
            root_same_manifest_different_layers_run_their_own_content,
        ),
        root_trial(
            "image::root_tampered_legacy_layer_is_refused",
            root_tampered_legacy_layer_is_refused,
        ),
        root_trial(
            "image::root_image_beyond_the_size_limit_is_refused_and_leaves_nothing",
            root_image_beyond_the_size_limit_is_refused_and_leaves_nothing,
        ),
        root_trial(
            "image::root_cleanup_removes_a_killed_unpack_and_keeps_a_live_one",
            root_cleanup_removes_a_killed_unpack_and_keeps_a_live_one,
        ),
        root_trial(
            "image::root_cleanup_cache_keeps_what_a_session_uses",
            root_cleanup_cache_keeps_what_a_session_uses,
        ),
        root_trial(
            "image::root_full_run_leaves_no_state_tmp",
            root_full_run_leaves_no_state_tmp,
        ),
    ]
}

fn images_dir() -> PathBuf {
    Paths::host().cache_dir.join("images")
}

/// Names in the image cache (entries, partial builds, by-stat).
fn cache_names() -> BTreeSet<String> {
    fs::read_dir(images_dir())
        .map(|rd| {
            rd.flatten()
                .map(|e| e.file_name().to_string_lossy().into_owned())
                .collect()
        })
        .unwrap_or_default()
}

/// A layer with the host's static busybox as /bin/sh and /bin/cat, and `/who`.
fn busybox_layer(who: &str) -> Vec<u8> {
    let busybox = fs::read("/bin/busybox").unwrap_or_else(|e| {
        skip(format!(
            "needs a static /bin/busybox (busybox-static) to make images: {e}"
        ))
    });
    tar_of(&[
        E::Dir("bin", 0o755),
        E::File("bin/busybox", &busybox, 0o755),
        E::Sym("bin/sh", "busybox"),
        E::Sym("bin/cat", "busybox"),
        E::File("who", who.as_bytes(), 0o644),
    ])
}

/// A legacy `docker save` directory of `layers` whose config (config.json) names
/// `config_layers`' digests.
fn save_dir(fx: &Fx, dir: &str, layers: &[&[u8]], config_layers: &[&[u8]]) -> PathBuf {
    let config = config_with_diff_ids(&diff_ids(config_layers));
    docker_save_dir(fx, dir, layers, "config.json", Some(&config))
}

fn run_image(image: &Path, extra: &[&str], cmd: &[&str]) -> Output {
    Command::new(BIN)
        .arg("run")
        .args(extra)
        .arg("--image")
        .arg(image)
        .arg("--")
        .args(cmd)
        .stdin(Stdio::null())
        .output()
        .expect("running underhood run")
}

fn cleanup(args: &[&str]) -> Output {
    Command::new(BIN)
        .arg("cleanup")
        .args(args)
        .output()
        .expect("running underhood cleanup")
}

/// Build directories of process `pid` in the image cache: `.<key>.tmp-<pid>-...`.
fn builds_of(pid: u32) -> Vec<PathBuf> {
    let mark = format!(".tmp-{pid}-");
    fs::read_dir(images_dir())
        .map(|rd| {
            rd.flatten()
                .filter(|e| e.file_name().to_string_lossy().contains(&mark))
                .map(|e| e.path())
                .collect()
        })
        .unwrap_or_default()
}

/// Two `docker save` directories with the same manifest.json and different layers: each
/// container runs its own image's files. (Keyed on manifest.json, the second container
/// ran the first image: a poisoned cache.)
fn root_same_manifest_different_layers_run_their_own_content() {
    let before = residue();
    let fx = Fx::new();
    let a = busybox_layer("first image\n");
    let b = busybox_layer("second image\n");
    let one = save_dir(&fx, "one", &[&a], &[&a]);
    let two = save_dir(&fx, "two", &[&b], &[&b]);
    assert_eq!(
        fs::read(one.join("manifest.json")).unwrap(),
        fs::read(two.join("manifest.json")).unwrap()
    );
    for (image, want) in [(&one, "first image\n"), (&two, "second image\n")] {
        let out = run_image(image, &[], &["/bin/cat", "/who"]);
        assert!(out.status.success(), "{}", stderr(&out));
        assert_eq!(stdout(&out), want, "{}", stderr(&out));
    }
    assert_no_residue(&before);
}

/// A legacy `docker save` whose layer was swapped for another (a backdoored shell) after
/// the config named its digest: refused before anything starts, naming the layer file and
/// both digests, and never cached.
fn root_tampered_legacy_layer_is_refused() {
    let before = residue();
    let fx = Fx::new();
    let good = busybox_layer("the real image\n");
    let evil = busybox_layer("a backdoor\n");
    let dir = save_dir(&fx, "tampered", &[&evil], &[&good]);
    let file = fx.file("tampered.tar", &tar_dir(&dir));
    let cached = cache_names();
    for image in [&dir, &file] {
        let out = run_image(image, &[], &["/bin/cat", "/who"]);
        let err = stderr(&out);
        assert_eq!(out.status.code(), Some(2), "{}{err}", stdout(&out));
        assert!(!stdout(&out).contains("backdoor"), "the tampered layer ran");
        assert!(err.contains("l0/layer.tar"), "{err}");
        assert!(err.contains(&format!("sha256:{}", sha(&good))), "{err}");
        assert!(err.contains(&format!("sha256:{}", sha(&evil))), "{err}");
    }
    let added: Vec<_> = cache_names().difference(&cached).cloned().collect();
    assert!(added.is_empty(), "the tampered image was cached: {added:?}");
    assert_no_residue(&before);
}

/// A gzip bomb and a GNU sparse file far beyond `--max-image-size 10M` are refused,
/// naming the limit, and leave no partial tree and no cache entry.
fn root_image_beyond_the_size_limit_is_refused_and_leaves_nothing() {
    let before = residue();
    let fx = Fx::new();
    let zeros = vec![0u8; 64 << 20];
    let bomb = fx.file(
        "bomb.tar.gz",
        &gz(&tar_of(&[E::File("zeros", &zeros, 0o644)])),
    );
    // 100 GiB of holes in a 2 KiB archive.
    let sparse = fx.file("sparse.tar", &sparse_tar("hole", 100 << 30));
    let cached = cache_names();
    for image in [&bomb, &sparse] {
        let out = Command::new(BIN)
            .args(["run", "--max-image-size", "10M", "--image"])
            .arg(image)
            .args(["--", "/bin/true"])
            .stdin(Stdio::null())
            .output()
            .unwrap();
        let err = stderr(&out);
        assert_eq!(out.status.code(), Some(2), "{}{err}", stdout(&out));
        assert!(err.contains("image size limit of 10 MiB"), "{err}");
        let added: Vec<_> = cache_names().difference(&cached).cloned().collect();
        assert!(added.is_empty(), "left behind: {added:?}");
    }
    // The default limit is stated in --help.
    let help = Command::new(BIN).args(["run", "--help"]).output().unwrap();
    assert!(
        stdout(&help).contains("--max-image-size") && stdout(&help).contains("4G"),
        "{}",
        stdout(&help)
    );
    assert_no_residue(&before);
}

/// Starts `underhood run` on an image that takes long to unpack (a 3.5 GiB sparse file,
/// within the default limit) and returns it with its build directory, once that holds
/// some of the file.
fn start_slow_unpack(fx: &Fx) -> (Child, PathBuf) {
    let image = fx.file("slow.tar", &sparse_tar("hole", 7 << 29));
    let mut child = Command::new(BIN)
        .arg("run")
        .arg("--image")
        .arg(&image)
        .args(["--", "/bin/true"])
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    loop {
        let building = builds_of(child.id())
            .into_iter()
            .find(|d| fs::metadata(d.join("staging/hole")).is_ok_and(|m| m.len() > 0));
        if let Some(dir) = building {
            return (child, dir);
        }
        if let Some(status) = child.try_wait().unwrap() {
            panic!("underhood run ended ({status}) before its unpack was seen");
        }
        std::thread::sleep(std::time::Duration::from_millis(2));
    }
}

/// An unpack stopped half-way (SIGSTOP: alive) is left alone by `cleanup`; once
/// SIGKILLed, its partial tree is removed by `cleanup` and reported. (Before: the
/// partial tree stayed and cleanup said there was nothing to clean.)
fn root_cleanup_removes_a_killed_unpack_and_keeps_a_live_one() {
    let before = residue();
    let fx = Fx::new();
    let (mut child, dir) = start_slow_unpack(&fx);
    let pid = Pid::from_raw(child.id() as i32);
    kill(pid, Signal::SIGSTOP).unwrap();
    let out = cleanup(&[]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(
        dir.exists(),
        "cleanup removed a live build: {}",
        stdout(&out)
    );
    assert!(!stdout(&out).contains(&dir.display().to_string()));

    kill(pid, Signal::SIGKILL).unwrap();
    child.wait().unwrap();
    assert!(dir.exists(), "the killed unpack left its partial tree");
    let out = cleanup(&[]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(!dir.exists(), "cleanup left {}", dir.display());
    assert!(
        stdout(&out).contains(&format!(
            "removed what a dead build left: {}",
            dir.display()
        )),
        "{}",
        stdout(&out)
    );
    assert_no_residue(&before);
}

/// `cleanup --cache` keeps the image a running session uses and removes it once the
/// session is over.
fn root_cleanup_cache_keeps_what_a_session_uses() {
    let before = residue();
    let fx = Fx::new();
    // New content each run, so the entry is this run's even if an earlier run left one.
    let nonce = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_nanos();
    let layer = busybox_layer(&format!("cache test {nonce}\n"));
    let dir = save_dir(&fx, "cached", &[&layer], &[&layer]);
    let file = fx.file("cached.tar", &tar_dir(&dir));
    let cached = cache_names();
    let mut child = Command::new(BIN)
        .arg("run")
        .arg("--image")
        .arg(&file)
        .args(["--", "/bin/sh", "-c", "echo up; read line"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(child.stdout.take().unwrap());
    let mut up = String::new();
    lines.read_line(&mut up).unwrap();
    assert_eq!(up, "up\n");
    let added: Vec<_> = cache_names()
        .difference(&cached)
        .filter(|n| n.len() == 64)
        .cloned()
        .collect();
    assert_eq!(added.len(), 1, "{added:?}");
    let entry = images_dir().join(&added[0]);

    let out = cleanup(&["--cache"]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(
        entry.is_dir(),
        "removed under a live session: {}",
        stdout(&out)
    );
    assert!(
        stdout(&out).contains(&format!("kept cached {} (in use)", entry.display())),
        "{}",
        stdout(&out)
    );

    let mut stdin = child.stdin.take().unwrap();
    stdin.write_all(b"done\n").unwrap();
    drop(stdin);
    assert!(child.wait().unwrap().success());
    let out = cleanup(&["--cache"]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(!entry.exists(), "{}", stdout(&out));
    assert!(
        stdout(&out).contains(&format!("removed cached {} (", entry.display())),
        "{}",
        stdout(&out)
    );
    assert_no_residue(&before);
}

/// A full /run (ENOSPC on the session record): `run` fails saying so and leaves no
/// `state.json.tmp` (nor its session directory) behind. In a mount namespace of its own
/// (unshare(1) makes its mounts private), /run is a full 64 KiB tmpfs.
fn root_full_run_leaves_no_state_tmp() {
    let before = residue();
    let script = format!(
        "mount -t tmpfs -o size=64k,mode=0755 underhood-full /run && \
         (dd if=/dev/zero of=/run/fill bs=4k 2>/dev/null; true) && \
         {bin} run -- /bin/true; echo \"status $?\"; \
         find /run -path /run/fill -prune -o -print | sort; \
         {bin} cleanup",
        bin = BIN
    );
    let out = Command::new("unshare")
        .args(["--mount", "--propagation", "private", "sh", "-c", &script])
        .output()
        .unwrap();
    let (o, e) = (stdout(&out), stderr(&out));
    assert!(o.contains("status 125") || o.contains("status 1"), "{o}{e}");
    assert!(e.contains("No space left on device"), "{o}{e}");
    assert!(!o.contains("state.json.tmp"), "left behind:\n{o}{e}");
    assert!(
        !o.lines().any(|l| l.starts_with("/run/underhood/")),
        "a session directory stayed:\n{o}{e}"
    );
    assert_no_residue(&before);
}
