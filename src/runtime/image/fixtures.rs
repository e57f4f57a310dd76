//! Image fixtures built in code, in tempdirs: tars with the tar crate (hostile names
//! written into raw headers, since the crate refuses to make them), OCI layouts and docker
//! save archives around them.
//!
//! Shared by the unit tests (`tests.rs` beside this file) and the root-only tests in
//! `tests/root_image.rs`, which includes this file with `#[path]`: so it names only std,
//! external crates and, from its parent module, `Paths` and `BY_STAT`.
#![allow(dead_code)]

use std::fs;
use std::io::Write;
use std::path::PathBuf;

use sha2::{Digest, Sha256};
use tar::EntryType;

use super::{BY_STAT, Paths};

pub(crate) enum E<'a> {
    Dir(&'a str, u32),
    File(&'a str, &'a [u8], u32),
    Sym(&'a str, &'a str),
    Hard(&'a str, &'a str),
    /// A name and link name as raw bytes, past the tar crate's own checks.
    Raw(&'a [u8], &'a [u8], EntryType, &'a [u8]),
    Dev(&'a str, u32, u32),
    Owned(&'a str, u64, u64, u32),
}

pub(crate) fn tar_of(entries: &[E]) -> Vec<u8> {
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

pub(crate) fn gz(bytes: &[u8]) -> Vec<u8> {
    let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    e.write_all(bytes).unwrap();
    e.finish().unwrap()
}

pub(crate) fn sha(bytes: &[u8]) -> String {
    format!("{:x}", Sha256::digest(bytes))
}

pub(crate) struct Fx {
    pub(crate) t: tempfile::TempDir,
    pub(crate) paths: Paths,
}

impl Fx {
    pub(crate) fn new() -> Fx {
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
    pub(crate) fn path(&self, rel: &str) -> PathBuf {
        self.t.path().join(rel)
    }
    pub(crate) fn file(&self, rel: &str, bytes: &[u8]) -> PathBuf {
        let p = self.path(rel);
        fs::create_dir_all(p.parent().unwrap()).unwrap();
        fs::write(&p, bytes).unwrap();
        p
    }
    /// The sentinel directory beside the cache is untouched.
    pub(crate) fn assert_outside_untouched(&self) {
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
    pub(crate) fn assert_no_image_dirs(&self) {
        let images = self.paths.cache_dir.join("images");
        if images.exists() {
            for e in fs::read_dir(&images).unwrap() {
                let name = e.unwrap().file_name();
                assert_eq!(name, BY_STAT, "left behind: {name:?}");
            }
        }
    }
}

pub(crate) fn layer1() -> Vec<u8> {
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

pub(crate) fn layer2() -> Vec<u8> {
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

/// An image config as docker writes it: `rootfs.diff_ids` holds the SHA-256 of each
/// layer's uncompressed tar, lowest first.
pub(crate) fn config_with_diff_ids(diff_ids: &[String]) -> Vec<u8> {
    serde_json::json!({
        "architecture": layout_test_arch(),
        "os": "linux",
        "rootfs": {"type": "layers", "diff_ids": diff_ids},
    })
    .to_string()
    .into_bytes()
}

/// `sha256:<hex>` of each layer, as a config's `diff_ids`.
pub(crate) fn diff_ids(layers: &[&[u8]]) -> Vec<String> {
    layers
        .iter()
        .map(|l| format!("sha256:{}", sha(l)))
        .collect()
}

/// A legacy `docker save`: `<id>/layer.tar` files, the config (`<sha256>.json`, naming
/// each layer's diff_id) and manifest.json.
pub(crate) fn docker_save(fx: &Fx, name: &str) -> PathBuf {
    let (l1, l2) = (layer1(), layer2());
    let config = config_with_diff_ids(&diff_ids(&[&l1, &l2]));
    let config_name = format!("{}.json", sha(&config));
    let manifest = serde_json::json!([{
        "Config": config_name,
        "RepoTags": ["learner/demo:1"],
        "Layers": ["l1/layer.tar", "l2/layer.tar"],
    }]);
    let outer = tar_of(&[
        E::Dir("l1", 0o755),
        E::File("l1/layer.tar", &l1, 0o644),
        E::Dir("l2", 0o755),
        E::File("l2/layer.tar", &l2, 0o644),
        E::File(&config_name, &config, 0o644),
        E::File("manifest.json", manifest.to_string().as_bytes(), 0o644),
        E::File("repositories", b"{}", 0o644),
    ]);
    fx.file(&format!("in/{name}"), &outer)
}

/// A legacy `docker save` as a directory (what `tar -x` of one gives): `l<i>/layer.tar`
/// holding `layers`, `config` under `config_name` (none when `config` is None), and a
/// manifest.json naming them.
pub(crate) fn docker_save_dir(
    fx: &Fx,
    dir: &str,
    layers: &[&[u8]],
    config_name: &str,
    config: Option<&[u8]>,
) -> PathBuf {
    let root = fx.path(dir);
    let mut names = Vec::new();
    for (i, l) in layers.iter().enumerate() {
        let name = format!("l{i}/layer.tar");
        fs::create_dir_all(root.join(format!("l{i}"))).unwrap();
        fs::write(root.join(&name), l).unwrap();
        names.push(name);
    }
    let mut entry = serde_json::json!({"RepoTags": ["learner/demo:1"], "Layers": names});
    if let Some(config) = config {
        fs::write(root.join(config_name), config).unwrap();
        entry["Config"] = serde_json::Value::from(config_name);
    }
    fs::write(
        root.join("manifest.json"),
        serde_json::json!([entry]).to_string(),
    )
    .unwrap();
    root
}

/// A tar of the directory `dir` (as `tar -C dir -cf - .` makes).
pub(crate) fn tar_dir(dir: &std::path::Path) -> Vec<u8> {
    let mut b = tar::Builder::new(Vec::new());
    b.append_dir_all(".", dir).unwrap();
    b.into_inner().unwrap()
}

/// A tar holding one GNU sparse file `name` of `real_size` bytes: all hole, but for
/// its last 512 bytes, so the archive is a few KiB whatever `real_size` is.
pub(crate) fn sparse_tar(name: &str, real_size: u64) -> Vec<u8> {
    let mut b = tar::Builder::new(Vec::new());
    let mut h = tar::Header::new_gnu();
    h.set_entry_type(EntryType::GNUSparse);
    h.set_path(name).unwrap();
    h.set_mode(0o644);
    h.set_mtime(1_700_000_000);
    h.set_size(512);
    {
        let gnu = h.as_gnu_mut().unwrap();
        gnu.set_real_size(real_size);
        gnu.sparse[0].set_offset(real_size - 512);
        gnu.sparse[0].set_length(512);
    }
    h.set_cksum();
    b.append(&h, &[b'x'; 512][..]).unwrap();
    b.into_inner().unwrap()
}

/// An OCI layout: index.json -> nested index (arm64 first, then ours) -> manifest -> layers
/// (one gzip, one plain).
pub(crate) fn oci_layout(fx: &Fx, dir: &str) -> PathBuf {
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

pub(crate) fn layout_test_arch() -> &'static str {
    match std::env::consts::ARCH {
        "x86_64" => "amd64",
        "aarch64" => "arm64",
        other => other,
    }
}

/// Every way out of the layer directory we know of, aimed at `outside` (the `outside`
/// sentinel dir; `abs_name` is `<outside>/evil`): (case, entries, the entry refused).
pub(crate) fn hostile_cases<'a>(
    outside_s: &'a str,
    abs_name: &'a str,
) -> Vec<(&'static str, Vec<E<'a>>, &'a str)> {
    vec![
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
            abs_name,
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
    ]
}

/// A `docker save` of two layers where the upper one both whites out and re-creates
/// entries of the lower one (`x`, `dir`).
pub(crate) fn whiteout_and_entry_image(fx: &Fx) -> PathBuf {
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
    fx.file(
        "in/same.tar",
        &tar_of(&[
            E::File("a.tar", &lower, 0o644),
            E::File("b.tar", &upper, 0o644),
            E::File("manifest.json", manifest.as_bytes(), 0o644),
        ]),
    )
}
