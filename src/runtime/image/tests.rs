//! Fixtures are built in code, in tempdirs: tars with the tar crate (hostile names written
//! into raw headers, since the crate refuses to make them), OCI layouts and docker save
//! archives around them.

use super::*;
use std::io::Write;
use std::os::unix::fs::{FileTypeExt, PermissionsExt};
use tar::EntryType;

enum E<'a> {
    Dir(&'a str, u32),
    File(&'a str, &'a [u8], u32),
    Sym(&'a str, &'a str),
    Hard(&'a str, &'a str),
    /// A name and link name as raw bytes, past the tar crate's own checks.
    Raw(&'a [u8], &'a [u8], EntryType, &'a [u8]),
    Dev(&'a str, u32, u32),
    Owned(&'a str, u64, u64, u32),
}

fn tar_of(entries: &[E]) -> Vec<u8> {
    let mut b = tar::Builder::new(Vec::new());
    for e in entries {
        let mut h = tar::Header::new_gnu();
        h.set_mtime(1_700_000_000);
        h.set_size(0);
        h.set_uid(0);
        h.set_gid(0);
        match e {
            E::Dir(p, m) => {
                h.set_entry_type(EntryType::Directory);
                h.set_mode(*m);
                b.append_data(&mut h, p, std::io::empty()).unwrap();
            }
            E::File(p, data, m) => {
                h.set_entry_type(EntryType::Regular);
                h.set_mode(*m);
                h.set_size(data.len() as u64);
                b.append_data(&mut h, p, *data).unwrap();
            }
            E::Owned(p, uid, gid, m) => {
                h.set_entry_type(EntryType::Regular);
                h.set_mode(*m);
                h.set_uid(*uid);
                h.set_gid(*gid);
                b.append_data(&mut h, p, std::io::empty()).unwrap();
            }
            E::Sym(p, target) => {
                h.set_entry_type(EntryType::Symlink);
                h.set_mode(0o777);
                b.append_link(&mut h, p, target).unwrap();
            }
            E::Hard(p, target) => {
                h.set_entry_type(EntryType::Link);
                h.set_mode(0o644);
                b.append_link(&mut h, p, target).unwrap();
            }
            E::Dev(p, major, minor) => {
                h.set_entry_type(EntryType::Char);
                h.set_mode(0o666);
                h.set_device_major(*major).unwrap();
                h.set_device_minor(*minor).unwrap();
                b.append_data(&mut h, p, std::io::empty()).unwrap();
            }
            E::Raw(name, link, kind, data) => {
                h.set_entry_type(*kind);
                h.set_mode(0o644);
                h.set_size(data.len() as u64);
                let old = h.as_old_mut();
                old.name[..name.len()].copy_from_slice(name);
                old.linkname[..link.len()].copy_from_slice(link);
                h.set_cksum();
                b.append(&h, *data).unwrap();
            }
        }
    }
    b.into_inner().unwrap()
}

fn gz(bytes: &[u8]) -> Vec<u8> {
    let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    e.write_all(bytes).unwrap();
    e.finish().unwrap()
}

fn sha(bytes: &[u8]) -> String {
    cache::hex(&Sha256::digest(bytes))
}

struct Fx {
    t: tempfile::TempDir,
    paths: Paths,
}

impl Fx {
    fn new() -> Fx {
        let t = tempfile::tempdir().unwrap();
        let paths = Paths {
            proc_root: PathBuf::from("/proc"),
            cgroup_root: t.path().join("cgroup"),
            state_dir: t.path().join("state"),
            cache_dir: t.path().join("cache"),
        };
        fs::create_dir(t.path().join("outside")).unwrap();
        fs::write(t.path().join("outside/victim"), "keep me").unwrap();
        Fx { t, paths }
    }
    fn path(&self, rel: &str) -> PathBuf {
        self.t.path().join(rel)
    }
    fn file(&self, rel: &str, bytes: &[u8]) -> PathBuf {
        let p = self.path(rel);
        fs::create_dir_all(p.parent().unwrap()).unwrap();
        fs::write(&p, bytes).unwrap();
        p
    }
    /// The sentinel directory beside the cache is untouched.
    fn assert_outside_untouched(&self) {
        let names: Vec<_> = fs::read_dir(self.path("outside"))
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .collect();
        assert_eq!(names, vec![std::ffi::OsString::from("victim")]);
        assert_eq!(
            fs::read_to_string(self.path("outside/victim")).unwrap(),
            "keep me"
        );
    }
    /// Nothing but (maybe) the by-stat directory in images/: no partial image.
    fn assert_no_image_dirs(&self) {
        let images = self.paths.cache_dir.join("images");
        if images.exists() {
            for e in fs::read_dir(&images).unwrap() {
                let name = e.unwrap().file_name();
                assert_eq!(name, BY_STAT, "left behind: {name:?}");
            }
        }
    }
}

fn flat() -> Options {
    Options {
        whiteouts: Whiteouts::Record,
        chown: false,
    }
}

fn overlay() -> Options {
    Options {
        whiteouts: Whiteouts::Overlay,
        chown: true,
    }
}

fn is_root() -> bool {
    nix::unistd::geteuid().is_root()
}

macro_rules! needs_root {
    ($name:literal) => {
        if !is_root() {
            eprintln!("SKIPPED (needs root): {}", $name);
            return;
        }
    };
}

fn rootfs_entries() -> Vec<E<'static>> {
    vec![
        E::Dir("./", 0o755),
        E::Dir("etc", 0o755),
        E::File("etc/hostname", b"box\n", 0o644),
        E::File("bin/tool", b"#!/bin/sh\necho tool\n", 0o750),
        E::Sym("bin/sh", "tool"),
        E::Sym("etc/abs", "/etc/passwd"),
        E::Hard("bin/tool2", "bin/tool"),
        E::Dir("ro", 0o555),
        E::File("ro/f", b"x", 0o444),
    ]
}

fn check_rootfs(layer: &Path) {
    assert_eq!(
        fs::read_to_string(layer.join("etc/hostname")).unwrap(),
        "box\n"
    );
    let tool = fs::metadata(layer.join("bin/tool")).unwrap();
    assert_eq!(tool.permissions().mode() & 0o7777, 0o750);
    assert_eq!(
        fs::read_link(layer.join("bin/sh")).unwrap(),
        Path::new("tool")
    );
    // Absolute symlinks are kept as they are: resolved inside the container only.
    assert_eq!(
        fs::read_link(layer.join("etc/abs")).unwrap(),
        Path::new("/etc/passwd")
    );
    assert_eq!(
        fs::metadata(layer.join("bin/tool2")).unwrap().ino(),
        tool.ino()
    );
    assert_eq!(
        fs::metadata(layer.join("ro")).unwrap().permissions().mode() & 0o7777,
        0o555
    );
    assert_eq!(
        fs::metadata(layer.join("etc/hostname")).unwrap().mtime(),
        1_700_000_000
    );
}

#[test]
fn rootfs_tarball_plain_and_gzip_told_by_magic() {
    let fx = Fx::new();
    let tar = tar_of(&rootfs_entries());
    // Names that lie: the .tgz is plain, the .tar is gzip.
    let plain = fx.file("in/plain.tgz", &tar);
    let zipped = fx.file("in/zipped.tar", &gz(&tar));
    for (file, opts) in [
        (&plain, flat()),
        (&zipped, flat()),
        (
            &zipped,
            Options {
                whiteouts: Whiteouts::Overlay,
                chown: false,
            },
        ),
    ] {
        let img = unpack_image_with(file, &fx.paths, opts).unwrap();
        assert_eq!(img.layers.len(), 1);
        assert!(img.source.starts_with("rootfs tarball "), "{}", img.source);
        assert!(img.layers[0].starts_with(fx.paths.cache_dir.join("images")));
        check_rootfs(&img.layers[0]);
    }
    fx.assert_outside_untouched();
}

#[test]
fn unpack_image_picks_the_mode_by_privilege() {
    let fx = Fx::new();
    let file = fx.file("in/root.tar", &tar_of(&rootfs_entries()));
    let img = unpack_image(&file, &fx.paths).unwrap();
    check_rootfs(&img.layers[0]);
}

/// A tarball written by the host's GNU tar (long names, hard links, its own headers) from
/// the default rootfs, unpacked and used as a root.
#[test]
fn root_gnu_tar_of_the_default_rootfs_runs() {
    needs_root!("root_gnu_tar_of_the_default_rootfs_runs");
    let fx = Fx::new();
    let rootfs = crate::runtime::assemble::default_rootfs(&fx.paths).unwrap();
    let long = "a-directory-name-well-beyond-the-hundred-bytes-of-an-old-style-tar-header-to-need-gnu-long-names";
    fs::create_dir_all(rootfs.join("opt").join(long)).unwrap();
    fs::write(rootfs.join("opt").join(long).join(long), "long").unwrap();
    let file = fx.path("in/rootfs.tar.gz");
    fs::create_dir_all(file.parent().unwrap()).unwrap();
    let status = std::process::Command::new("tar")
        .arg("-C")
        .arg(&rootfs)
        .arg("-czf")
        .arg(&file)
        .arg(".")
        .status()
        .unwrap();
    assert!(status.success());
    let img = unpack_image(&file, &fx.paths).unwrap();
    let root = &img.layers[0];
    assert_eq!(
        fs::read_to_string(root.join("opt").join(long).join(long)).unwrap(),
        "long"
    );
    let out = std::process::Command::new("/usr/sbin/chroot")
        .arg(root)
        .args(["/bin/sh", "-c", "echo hi from the image; cat /etc/hostname"])
        .env_clear()
        .output()
        .unwrap();
    assert_eq!(
        String::from_utf8_lossy(&out.stdout),
        "hi from the image\nunderhood\n",
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

#[test]
fn second_call_is_served_from_the_cache() {
    let fx = Fx::new();
    let file = fx.file("in/root.tar.gz", &gz(&tar_of(&rootfs_entries())));
    let first = unpack_image_with(&file, &fx.paths, flat()).unwrap();
    let images = fs::metadata(fx.paths.cache_dir.join("images")).unwrap();
    assert_eq!(
        images.permissions().mode() & 0o777,
        0o700,
        "images are private"
    );
    // Mark the unpacked layer: a rebuild would lose the mark.
    fs::write(first.layers[0].join("mark"), "").unwrap();
    let second = unpack_image_with(&file, &fx.paths, flat()).unwrap();
    assert_eq!(first, second);
    assert!(second.layers[0].join("mark").exists());
    // The by-stat link points at the content-addressed directory.
    let key = cache::sha256_file(&file).unwrap();
    assert_eq!(
        first.layers[0],
        fx.paths
            .cache_dir
            .join("images")
            .join(&key)
            .join("layers/0")
    );
    let links: Vec<_> = fs::read_dir(fx.paths.cache_dir.join("images").join(BY_STAT))
        .unwrap()
        .map(|e| fs::read_link(e.unwrap().path()).unwrap())
        .collect();
    assert_eq!(links, vec![Path::new("..").join(&key)]);
    // The same contents under another name: hashed, then found.
    let copy = fx.file("in/copy.tar.gz", &fs::read(&file).unwrap());
    assert_eq!(
        unpack_image_with(&copy, &fx.paths, flat()).unwrap().layers,
        first.layers
    );
}

/// Every way out of the layer directory we know of, each refused with the entry's name, and
/// nothing written outside (the `outside` sentinel dir, which the entries aim at).
#[test]
fn hostile_entries_are_refused() {
    let fx = Fx::new();
    let outside = fx.path("outside");
    let outside_s = outside.to_str().unwrap();
    let abs_name = format!("{outside_s}/evil");
    let cases: Vec<(&str, Vec<E>, &str)> = vec![
        (
            "dotdot",
            vec![E::Raw(
                b"../../../outside/evil",
                b"",
                EntryType::Regular,
                b"x",
            )],
            "../../../outside/evil",
        ),
        (
            "absolute",
            vec![E::Raw(abs_name.as_bytes(), b"", EntryType::Regular, b"x")],
            &abs_name,
        ),
        (
            "symlink_then_file",
            vec![E::Sym("etc", outside_s), E::File("etc/passwd", b"x", 0o644)],
            "etc/passwd",
        ),
        (
            "relative_symlink_up",
            vec![
                E::Sym("up", "../../../../../.."),
                E::File("up/x", b"x", 0o644),
            ],
            "up/x",
        ),
        (
            "nested_symlink",
            vec![
                E::Dir("a", 0o755),
                E::Sym("a/b", outside_s),
                E::File("a/b/c", b"x", 0o644),
            ],
            "a/b/c",
        ),
        (
            "symlink_then_dir",
            vec![E::Sym("d", outside_s), E::Dir("d/sub", 0o755)],
            "d/sub",
        ),
        (
            "hardlink_dotdot",
            vec![E::Raw(b"h", b"../../outside/victim", EntryType::Link, b"")],
            "h",
        ),
        (
            "hardlink_through_symlink",
            vec![E::Sym("s", outside_s), E::Hard("h", "s/victim")],
            "h",
        ),
        (
            "whiteout_through_symlink",
            vec![E::Sym("s", outside_s), E::File("s/.wh.victim", b"", 0o644)],
            "s/.wh.victim",
        ),
    ];
    for (name, entries, entry) in cases {
        let file = fx.file(&format!("in/{name}.tar"), &tar_of(&entries));
        for opts in [flat(), overlay()] {
            if opts.whiteouts == Whiteouts::Overlay && !is_root() {
                continue;
            }
            let err = unpack_image_with(&file, &fx.paths, opts);
            if name == "whiteout_through_symlink" && opts.whiteouts == Whiteouts::Record {
                // Recorded, and then applied to nothing: a whiteout below a symlink in the
                // flat tree deletes nothing.
                let img = err.unwrap();
                assert!(
                    fs::symlink_metadata(img.layers[0].join("s"))
                        .unwrap()
                        .is_symlink()
                );
                cache::remove_tree(&fx.paths.cache_dir).unwrap();
                fx.assert_outside_untouched();
                continue;
            }
            let err = format!("{:#}", err.unwrap_err());
            assert!(err.contains("refusing"), "{name}: {err}");
            assert!(err.contains(&format!("{entry:?}")), "{name}: {err}");
            fx.assert_outside_untouched();
            fx.assert_no_image_dirs();
        }
    }
    if !is_root() {
        eprintln!("SKIPPED (needs root): hostile_entries_are_refused in overlay mode");
    }
}

#[test]
fn truncated_gzip_is_reported_and_leaves_nothing() {
    let fx = Fx::new();
    let big: Vec<u8> = (0..200_000u32).map(|i| (i * 7919 % 251) as u8).collect();
    let full = gz(&tar_of(&[
        E::Dir("d", 0o755),
        E::File("d/big", &big, 0o644),
    ]));
    let file = fx.file("in/cut.tar.gz", &full[..full.len() / 2]);
    let err = format!(
        "{:#}",
        unpack_image_with(&file, &fx.paths, flat()).unwrap_err()
    );
    assert!(err.contains("truncated or corrupt archive"), "{err}");
    assert!(err.contains(file.to_str().unwrap()), "{err}");
    fx.assert_no_image_dirs();
    // Only the CRC trailer missing: still caught.
    let file = fx.file("in/cut8.tar.gz", &full[..full.len() - 4]);
    let err = format!(
        "{:#}",
        unpack_image_with(&file, &fx.paths, flat()).unwrap_err()
    );
    assert!(err.contains("truncated or corrupt archive"), "{err}");
    fx.assert_no_image_dirs();
}

#[test]
fn truncated_plain_tar_is_reported() {
    let fx = Fx::new();
    let data = vec![7u8; 5000];
    let full = tar_of(&[E::File("a", &data, 0o644), E::File("b", &data, 0o644)]);
    // Cut at the header of "b": the tar crate alone would call that a complete archive.
    let b_header = 512 + 5000usize.div_ceil(512) * 512;
    let file = fx.file("in/at-header.tar", &full[..b_header]);
    let err = format!(
        "{:#}",
        unpack_image_with(&file, &fx.paths, flat()).unwrap_err()
    );
    assert!(err.contains("truncated or corrupt archive"), "{err}");
    // Cut inside the data of "b".
    let file = fx.file("in/in-data.tar", &full[..b_header + 512 + 100]);
    let err = format!(
        "{:#}",
        unpack_image_with(&file, &fx.paths, flat()).unwrap_err()
    );
    assert!(err.contains("truncated or corrupt archive"), "{err}");
    fx.assert_no_image_dirs();
}

fn layer1() -> Vec<u8> {
    tar_of(&[
        E::Dir("etc", 0o755),
        E::File("etc/a", b"a", 0o644),
        E::File("etc/b", b"b", 0o644),
        E::Dir("d", 0o755),
        E::File("d/x", b"x", 0o644),
        E::File("d/y", b"y", 0o644),
        E::File("gone", b"bye", 0o644),
        E::Dir("keep", 0o700),
        E::File("keep/k", b"k", 0o644),
        // Read-only: flattening as non-root must still write layer 2's file into it.
        E::Dir("ro", 0o555),
        E::File("ro/old", b"", 0o444),
    ])
}

fn layer2() -> Vec<u8> {
    tar_of(&[
        E::File(".wh.gone", b"", 0o644),
        E::Dir("d", 0o755),
        E::File("d/.wh..wh..opq", b"", 0o644),
        E::File("d/z", b"z", 0o644),
        E::Dir("etc", 0o755),
        E::File("etc/.wh.a", b"", 0o644),
        E::File("etc/c", b"c", 0o600),
        E::File("ro/new", b"", 0o444),
    ])
}

/// What a stack of layer1 and layer2 must look like.
fn check_merged(root: &Path) {
    let ls = |d: &str| {
        let mut v: Vec<String> = fs::read_dir(root.join(d))
            .unwrap()
            .map(|e| e.unwrap().file_name().into_string().unwrap())
            .collect();
        v.sort();
        v
    };
    assert_eq!(ls("etc"), ["b", "c"]);
    assert_eq!(ls("d"), ["z"]);
    assert!(!root.join("gone").exists());
    assert_eq!(fs::read_to_string(root.join("keep/k")).unwrap(), "k");
    assert_eq!(
        fs::metadata(root.join("keep"))
            .unwrap()
            .permissions()
            .mode()
            & 0o777,
        0o700
    );
    assert_eq!(ls("ro"), ["new", "old"]);
    assert_eq!(
        fs::metadata(root.join("ro")).unwrap().permissions().mode() & 0o777,
        0o555
    );
}

/// A legacy `docker save`: `<id>/layer.tar` files and manifest.json.
fn docker_save(fx: &Fx, name: &str) -> PathBuf {
    let manifest = serde_json::json!([{
        "Config": "cfg.json",
        "RepoTags": ["learner/demo:1"],
        "Layers": ["l1/layer.tar", "l2/layer.tar"],
    }]);
    let outer = tar_of(&[
        E::Dir("l1", 0o755),
        E::File("l1/layer.tar", &layer1(), 0o644),
        E::Dir("l2", 0o755),
        E::File("l2/layer.tar", &layer2(), 0o644),
        E::File("cfg.json", b"{}", 0o644),
        E::File("manifest.json", manifest.to_string().as_bytes(), 0o644),
        E::File("repositories", b"{}", 0o644),
    ]);
    fx.file(&format!("in/{name}"), &outer)
}

#[test]
fn docker_save_flattened_applies_whiteouts() {
    let fx = Fx::new();
    let file = docker_save(&fx, "save.tar");
    let img = unpack_image_with(&file, &fx.paths, flat()).unwrap();
    assert_eq!(img.layers.len(), 1);
    assert!(
        img.source.contains("docker save image learner/demo:1"),
        "{}",
        img.source
    );
    assert!(img.source.contains("flattened"), "{}", img.source);
    check_merged(&img.layers[0]);
    // The staging and per-layer directories are gone.
    let image_dir = img.layers[0].parent().unwrap().parent().unwrap();
    let mut names: Vec<_> = fs::read_dir(image_dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .collect();
    names.sort();
    assert_eq!(names, [META, LAYERS]);
}

#[test]
fn root_docker_save_layers_get_overlay_whiteouts() {
    needs_root!("root_docker_save_layers_get_overlay_whiteouts");
    let fx = Fx::new();
    let file = docker_save(&fx, "save.tar");
    let img = unpack_image_with(&file, &fx.paths, overlay()).unwrap();
    assert_eq!(img.layers.len(), 2);
    let upper = &img.layers[1];
    for wh in ["gone", "etc/a"] {
        let m = fs::symlink_metadata(upper.join(wh)).unwrap();
        assert!(m.file_type().is_char_device(), "{wh}");
        assert_eq!(m.rdev(), 0, "{wh}");
    }
    let mut buf = [0u8; 8];
    let c = std::ffi::CString::new(upper.join("d").as_os_str().as_encoded_bytes()).unwrap();
    // SAFETY: valid C strings and a buffer of the given length.
    let n = unsafe {
        libc::lgetxattr(
            c.as_ptr(),
            c"trusted.overlay.opaque".as_ptr(),
            buf.as_mut_ptr().cast(),
            buf.len(),
        )
    };
    assert_eq!(n, 1, "{}", std::io::Error::last_os_error());
    assert_eq!(buf[0], b'y');
    assert!(!upper.join(".wh.gone").exists() && !upper.join("d/.wh..wh..opq").exists());
    assert!(
        !img.layers[0]
            .join("gone")
            .symlink_metadata()
            .unwrap()
            .file_type()
            .is_char_device()
    );

    // Stack them with overlayfs, in a mount namespace of its own (unshare(1) makes its
    // mounts private, and they vanish with it), and look at the merged view.
    if !fs::read_to_string("/proc/filesystems")
        .unwrap()
        .contains("overlay")
    {
        eprintln!("SKIPPED (no overlayfs): merged view check");
        return;
    }
    let merged = fx.path("merged");
    fs::create_dir(&merged).unwrap();
    let script = format!(
        "mount -t overlay overlay -o lowerdir={}:{} {} && ls -A {m}/etc {m}/d && test ! -e {m}/gone && echo ok",
        img.layers[1].display(),
        img.layers[0].display(),
        merged.display(),
        m = merged.display()
    );
    let out = std::process::Command::new("unshare")
        .args(["--mount", "--propagation", "private", "sh", "-c", &script])
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(
        stdout,
        format!("{m}/d:\nz\n\n{m}/etc:\nb\nc\nok\n", m = merged.display())
    );
    // Nothing stays mounted on the host.
    let mounts = fs::read_to_string("/proc/self/mountinfo").unwrap();
    assert!(!mounts.contains(merged.to_str().unwrap()));
}

/// An OCI layout: index.json -> nested index (arm64 first, then ours) -> manifest -> layers
/// (one gzip, one plain).
fn oci_layout(fx: &Fx, dir: &str) -> PathBuf {
    let root = fx.path(dir);
    let blob = |bytes: &[u8]| -> String {
        let h = sha(bytes);
        let p = root.join("blobs/sha256").join(&h);
        fs::create_dir_all(p.parent().unwrap()).unwrap();
        fs::write(p, bytes).unwrap();
        format!("sha256:{h}")
    };
    let l1 = gz(&layer1());
    let l2 = layer2();
    let config = blob(b"{\"architecture\":\"amd64\",\"os\":\"linux\"}");
    let ours = serde_json::json!({
        "schemaVersion": 2,
        "mediaType": "application/vnd.oci.image.manifest.v1+json",
        "config": {"mediaType": "application/vnd.oci.image.config.v1+json", "digest": config, "size": 1},
        "layers": [
            {"mediaType": "application/vnd.oci.image.layer.v1.tar+gzip", "digest": blob(&l1), "size": l1.len()},
            {"mediaType": "application/vnd.oci.image.layer.v1.tar", "digest": blob(&l2), "size": l2.len()},
        ],
    })
    .to_string();
    let foreign_layer = tar_of(&[E::File("wrong-arch", b"", 0o644)]);
    let foreign = serde_json::json!({
        "schemaVersion": 2,
        "mediaType": "application/vnd.oci.image.manifest.v1+json",
        "config": {"mediaType": "application/vnd.oci.image.config.v1+json", "digest": config, "size": 1},
        "layers": [{"mediaType": "application/vnd.oci.image.layer.v1.tar", "digest": blob(&foreign_layer), "size": 1}],
    })
    .to_string();
    let nested = serde_json::json!({
        "schemaVersion": 2,
        "mediaType": "application/vnd.oci.image.index.v1+json",
        "manifests": [
            {"mediaType": "application/vnd.oci.image.manifest.v1+json", "digest": blob(foreign.as_bytes()), "size": 1,
             "platform": {"os": "linux", "architecture": if layout_test_arch() == "arm64" { "s390x" } else { "arm64" }}},
            {"mediaType": "application/vnd.oci.image.manifest.v1+json", "digest": blob(ours.as_bytes()), "size": 1,
             "platform": {"os": "linux", "architecture": layout_test_arch()}},
        ],
    })
    .to_string();
    let index = serde_json::json!({
        "schemaVersion": 2,
        "manifests": [{"mediaType": "application/vnd.oci.image.index.v1+json", "digest": blob(nested.as_bytes()), "size": 1,
                        "annotations": {"org.opencontainers.image.ref.name": "demo:1"}}],
    });
    fs::write(root.join("index.json"), index.to_string()).unwrap();
    fs::write(root.join("oci-layout"), r#"{"imageLayoutVersion":"1.0.0"}"#).unwrap();
    root
}

fn layout_test_arch() -> &'static str {
    match std::env::consts::ARCH {
        "x86_64" => "amd64",
        "aarch64" => "arm64",
        other => other,
    }
}

#[test]
fn oci_layout_directory_and_tar() {
    let fx = Fx::new();
    let dir = oci_layout(&fx, "oci");
    let img = unpack_image_with(&dir, &fx.paths, flat()).unwrap();
    assert!(img.source.starts_with("OCI image layout"), "{}", img.source);
    check_merged(&img.layers[0]);
    assert!(
        !img.layers[0].join("wrong-arch").exists(),
        "picked this machine's manifest"
    );
    // Cached by manifest digest.
    assert_eq!(unpack_image_with(&dir, &fx.paths, flat()).unwrap(), img);

    // The same layout as a tar (what `skopeo copy oci-archive:` writes).
    let mut b = tar::Builder::new(Vec::new());
    b.append_dir_all(".", &dir).unwrap();
    let file = fx.file("in/oci.tar", &b.into_inner().unwrap());
    let other = Fx::new();
    let img = unpack_image_with(&file, &other.paths, flat()).unwrap();
    check_merged(&img.layers[0]);
    fx.assert_outside_untouched();
}

#[test]
fn root_oci_layout_keeps_layers_apart() {
    needs_root!("root_oci_layout_keeps_layers_apart");
    let fx = Fx::new();
    let dir = oci_layout(&fx, "oci");
    let img = unpack_image_with(&dir, &fx.paths, overlay()).unwrap();
    assert_eq!(img.layers.len(), 2);
    assert_eq!(
        fs::read_to_string(img.layers[0].join("etc/a")).unwrap(),
        "a"
    );
    assert!(
        fs::symlink_metadata(img.layers[1].join("etc/a"))
            .unwrap()
            .file_type()
            .is_char_device()
    );
}

#[test]
fn oci_blob_with_wrong_digest_is_refused() {
    let fx = Fx::new();
    let dir = oci_layout(&fx, "oci");
    // Change the plain layer2 blob where the tar reader does not look (the padding after
    // the end-of-archive block): only the digest can tell.
    let l2 = layer2();
    let blob = dir.join("blobs/sha256").join(sha(&l2));
    let mut bad = l2.clone();
    *bad.last_mut().unwrap() = 1;
    fs::write(&blob, &bad).unwrap();
    let err = format!(
        "{:#}",
        unpack_image_with(&dir, &fx.paths, flat()).unwrap_err()
    );
    assert!(err.contains("digest mismatch"), "{err}");
    fx.assert_no_image_dirs();
}

#[test]
fn docker_save_with_layers_behind_symlinks() {
    // Docker 25+: <id>/layer.tar are symlinks into blobs/sha256.
    let fx = Fx::new();
    let (l1, l2) = (layer1(), layer2());
    let (h1, h2) = (sha(&l1), sha(&l2));
    let manifest = serde_json::json!([{"Config": "c", "RepoTags": null, "Layers": ["one/layer.tar", format!("blobs/sha256/{h2}")]}]);
    let outer = tar_of(&[
        E::Dir("blobs/sha256", 0o755),
        E::File(&format!("blobs/sha256/{h1}"), &l1, 0o644),
        E::File(&format!("blobs/sha256/{h2}"), &l2, 0o644),
        E::Dir("one", 0o755),
        E::Sym("one/layer.tar", &format!("../blobs/sha256/{h1}")),
        E::File("manifest.json", manifest.to_string().as_bytes(), 0o644),
    ]);
    let file = fx.file("in/new.tar", &outer);
    let img = unpack_image_with(&file, &fx.paths, flat()).unwrap();
    check_merged(&img.layers[0]);
}

#[test]
fn hostile_manifests_are_refused() {
    let fx = Fx::new();
    let outside_layer = fx.file("outside-layer.tar", &tar_of(&[E::File("x", b"", 0o644)]));
    let cases = [
        (
            "dotdot",
            serde_json::json!([{"Layers": ["../../outside-layer.tar"]}]),
            vec![],
        ),
        (
            "symlink_out",
            serde_json::json!([{"Layers": ["l/layer.tar"]}]),
            vec![("l/layer.tar", outside_layer.to_str().unwrap().to_string())],
        ),
        (
            "symlink_up",
            serde_json::json!([{"Layers": ["l/layer.tar"]}]),
            vec![("l/layer.tar", "../../../outside-layer.tar".to_string())],
        ),
    ];
    for (name, manifest, links) in cases {
        let text = manifest.to_string();
        let mut entries = vec![E::File("manifest.json", text.as_bytes(), 0o644)];
        for (p, target) in &links {
            entries.push(E::Sym(p, target));
        }
        let file = fx.file(&format!("in/{name}.tar"), &tar_of(&entries));
        let err = format!(
            "{:#}",
            unpack_image_with(&file, &fx.paths, flat()).unwrap_err()
        );
        assert!(
            err.contains("refusing") || err.contains("cannot open layer"),
            "{name}: {err}"
        );
        fx.assert_no_image_dirs();
    }
    // OCI: a digest that is a path.
    let dir = fx.path("badoci");
    fs::create_dir(&dir).unwrap();
    fs::write(dir.join("oci-layout"), "{}").unwrap();
    fs::write(
        dir.join("index.json"),
        r#"{"manifests":[{"digest":"sha256:../../../outside/victim"}]}"#,
    )
    .unwrap();
    let err = format!(
        "{:#}",
        unpack_image_with(&dir, &fx.paths, flat()).unwrap_err()
    );
    assert!(err.contains("malformed digest"), "{err}");
    fx.assert_outside_untouched();
}

#[test]
fn device_nodes_are_skipped_with_a_note() {
    let fx = Fx::new();
    let file = fx.file(
        "in/dev.tar",
        &tar_of(&[
            E::Dir("dev", 0o755),
            E::Dev("dev/null", 1, 3),
            E::File("f", b"", 0o644),
        ]),
    );
    let img = unpack_image_with(&file, &fx.paths, flat()).unwrap();
    assert!(!img.layers[0].join("dev/null").exists());
    assert!(
        img.notes.iter().any(|n| n.contains("/dev/null")),
        "{:?}",
        img.notes
    );
    // The note survives the cache.
    assert_eq!(
        unpack_image_with(&file, &fx.paths, flat()).unwrap().notes,
        img.notes
    );
}

#[test]
fn root_ownership_and_setuid_are_kept() {
    needs_root!("root_ownership_and_setuid_are_kept");
    let fx = Fx::new();
    let file = fx.file(
        "in/own.tar",
        &tar_of(&[
            E::Owned("su", 0, 0, 0o4755),
            E::Owned("mine", 1234, 5678, 0o640),
        ]),
    );
    let img = unpack_image_with(&file, &fx.paths, overlay()).unwrap();
    let mine = fs::metadata(img.layers[0].join("mine")).unwrap();
    assert_eq!((mine.uid(), mine.gid()), (1234, 5678));
    assert_eq!(mine.permissions().mode() & 0o7777, 0o640);
    assert_eq!(
        fs::metadata(img.layers[0].join("su"))
            .unwrap()
            .permissions()
            .mode()
            & 0o7777,
        0o4755
    );
}

#[test]
fn unknown_directories_and_compressions_are_clear_errors() {
    let fx = Fx::new();
    let empty = fx.path("empty");
    fs::create_dir(&empty).unwrap();
    let err = format!(
        "{:#}",
        unpack_image_with(&empty, &fx.paths, flat()).unwrap_err()
    );
    assert!(err.contains("neither an OCI image layout"), "{err}");
    let z = fx.file("in/z.tar.zst", &[0x28, 0xb5, 0x2f, 0xfd, 0, 0, 0, 0]);
    let err = format!(
        "{:#}",
        unpack_image_with(&z, &fx.paths, flat()).unwrap_err()
    );
    assert!(err.contains("zstd"), "{err}");
    let e = fx.file("in/empty.tar", b"");
    let err = format!(
        "{:#}",
        unpack_image_with(&e, &fx.paths, flat()).unwrap_err()
    );
    assert!(err.contains("truncated or corrupt archive"), "{err}");
    fx.assert_no_image_dirs();
}

#[test]
fn whiteout_and_entry_in_the_same_layer() {
    // Whiteouts concern lower layers only: this layer's own "x" survives, in either order.
    let fx = Fx::new();
    let lower = tar_of(&[
        E::File("x", b"lower", 0o644),
        E::Dir("dir", 0o755),
        E::File("dir/old", b"", 0o644),
    ]);
    let upper = tar_of(&[
        E::File(".wh.x", b"", 0o644),
        E::File("x", b"upper", 0o644),
        E::Dir("dir", 0o755),
        E::File("dir/new", b"", 0o644),
        E::File(".wh.dir", b"", 0o644),
    ]);
    let manifest = serde_json::json!([{"Layers": ["a.tar", "b.tar"]}]).to_string();
    let file = fx.file(
        "in/same.tar",
        &tar_of(&[
            E::File("a.tar", &lower, 0o644),
            E::File("b.tar", &upper, 0o644),
            E::File("manifest.json", manifest.as_bytes(), 0o644),
        ]),
    );
    let img = unpack_image_with(&file, &fx.paths, flat()).unwrap();
    let root = &img.layers[0];
    assert_eq!(fs::read_to_string(root.join("x")).unwrap(), "upper");
    assert!(root.join("dir/new").exists());
    assert!(
        !root.join("dir/old").exists(),
        "lower dir contents are deleted"
    );
    if is_root() {
        let other = Fx::new();
        let file = other.file("in/same.tar", &fs::read(&file).unwrap());
        let img = unpack_image_with(&file, &other.paths, overlay()).unwrap();
        let up = &img.layers[1];
        assert_eq!(fs::read_to_string(up.join("x")).unwrap(), "upper");
        let c = std::ffi::CString::new(up.join("dir").as_os_str().as_encoded_bytes()).unwrap();
        let mut buf = [0u8; 2];
        // SAFETY: valid C strings and a buffer of the given length.
        let n = unsafe {
            libc::lgetxattr(
                c.as_ptr(),
                c"trusted.overlay.opaque".as_ptr(),
                buf.as_mut_ptr().cast(),
                2,
            )
        };
        assert_eq!(
            n, 1,
            "dir of this layer over a whited-out lower dir is opaque"
        );
    } else {
        eprintln!("SKIPPED (needs root): whiteout_and_entry_in_the_same_layer overlay half");
    }
}
