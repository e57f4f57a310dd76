//! Unpacking without root (flattened layers). Fixtures are built in code, in tempdirs
//! (`fixtures.rs`). The tests that need root (overlayfs whiteouts, owners, chroot) are in
//! `tests/root_image.rs`, where they are reported ignored, not passed, when not root.

use super::fixtures::*;
use super::*;
use std::os::unix::fs::PermissionsExt;

fn flat() -> Options {
    Options {
        whiteouts: Whiteouts::Record,
        chown: false,
        max_bytes: DEFAULT_MAX_IMAGE_SIZE,
    }
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
                max_bytes: DEFAULT_MAX_IMAGE_SIZE,
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
    let key = file_key(&file).unwrap();
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
    let cases = hostile_cases(outside_s, &abs_name);
    // Flattened here; kept apart with overlayfs whiteouts, which needs root, in
    // root_hostile_entries_are_refused_in_overlay_mode (tests/root_image.rs).
    for (name, entries, entry) in cases {
        let file = fx.file(&format!("in/{name}.tar"), &tar_of(&entries));
        let err = unpack_image_with(&file, &fx.paths, flat());
        if name == "whiteout_through_symlink" {
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
    let config = config_with_diff_ids(&diff_ids(&[&l1, &l2]));
    let hc = sha(&config);
    let manifest = serde_json::json!([{"Config": format!("blobs/sha256/{hc}"), "RepoTags": null, "Layers": ["one/layer.tar", format!("blobs/sha256/{h2}")]}]);
    let outer = tar_of(&[
        E::Dir("blobs/sha256", 0o755),
        E::File(&format!("blobs/sha256/{hc}"), &config, 0o644),
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
    let file = whiteout_and_entry_image(&fx);
    let img = unpack_image_with(&file, &fx.paths, flat()).unwrap();
    let root = &img.layers[0];
    assert_eq!(fs::read_to_string(root.join("x")).unwrap(), "upper");
    assert!(root.join("dir/new").exists());
    assert!(
        !root.join("dir/old").exists(),
        "lower dir contents are deleted"
    );
    // The same with overlayfs whiteouts, which needs root:
    // root_whiteout_and_entry_in_the_same_layer_in_overlay_mode (tests/root_image.rs).
}

/// Issue 11, item 11: two `docker save` directories with the same manifest.json but
/// different layers are different images; each gets its own content. (The cache was
/// keyed on manifest.json alone: the second got the first one's tree.)
#[test]
fn same_manifest_different_layers_are_different_images() {
    let fx = Fx::new();
    let a = tar_of(&[E::File("who", b"first", 0o644)]);
    let b = tar_of(&[E::File("who", b"second", 0o644)]);
    // With a config named config.json (no digest in its name) and without any config.
    for (case, with_config) in [("config", true), ("no-config", false)] {
        let ca = config_with_diff_ids(&diff_ids(&[&a]));
        let cb = config_with_diff_ids(&diff_ids(&[&b]));
        let one = docker_save_dir(
            &fx,
            &format!("{case}/one"),
            &[&a],
            "config.json",
            with_config.then_some(&ca[..]),
        );
        let two = docker_save_dir(
            &fx,
            &format!("{case}/two"),
            &[&b],
            "config.json",
            with_config.then_some(&cb[..]),
        );
        assert_eq!(
            fs::read(one.join("manifest.json")).unwrap(),
            fs::read(two.join("manifest.json")).unwrap(),
            "the attack needs the same manifest"
        );
        let first = unpack_image_with(&one, &fx.paths, flat()).unwrap();
        let second = unpack_image_with(&two, &fx.paths, flat()).unwrap();
        assert_eq!(
            fs::read_to_string(first.layers[0].join("who")).unwrap(),
            "first",
            "{case}"
        );
        assert_eq!(
            fs::read_to_string(second.layers[0].join("who")).unwrap(),
            "second",
            "{case}: the second image got the first one's content"
        );
        // A layer changed in place afterwards: with a config, the image is still the one
        // its diff_ids name, already verified and cached (a fresh cache refuses the
        // changed layer: tampered_legacy_layer_is_refused_with_its_digests); without
        // one, the new content is a new image.
        fs::write(one.join("l0/layer.tar"), &b).unwrap();
        if with_config {
            let again = unpack_image_with(&one, &fx.paths, flat()).unwrap();
            assert_eq!(again, first, "{case}");
            assert_eq!(
                fs::read_to_string(again.layers[0].join("who")).unwrap(),
                "first",
                "{case}"
            );
            let fresh = Fx::new();
            let err = format!(
                "{:#}",
                unpack_image_with(&one, &fresh.paths, flat()).unwrap_err()
            );
            assert!(err.contains("l0/layer.tar"), "{case}: {err}");
        } else {
            let again = unpack_image_with(&one, &fx.paths, flat()).unwrap();
            assert_eq!(
                fs::read_to_string(again.layers[0].join("who")).unwrap(),
                "second",
                "{case}"
            );
        }
    }
}

/// Issue 11, item 11: a legacy `docker save` layer whose content does not match the
/// config's diff_id is refused, naming the layer file and both digests; as a directory
/// and as a tar, and nothing is cached.
#[test]
fn tampered_legacy_layer_is_refused_with_its_digests() {
    let fx = Fx::new();
    let good = tar_of(&[E::File("bin/sh", b"the real shell", 0o755)]);
    let evil = tar_of(&[E::File("bin/sh", b"a backdoor", 0o755)]);
    let config = config_with_diff_ids(&diff_ids(&[&good]));
    let config_name = format!("{}.json", sha(&config));
    let dir = docker_save_dir(&fx, "tampered", &[&evil], &config_name, Some(&config));
    let file = fx.file("in/tampered.tar", &tar_dir(&dir));
    for what in [&dir, &file] {
        let err = format!(
            "{:#}",
            unpack_image_with(what, &fx.paths, flat()).unwrap_err()
        );
        assert!(err.contains("l0/layer.tar"), "{err}");
        assert!(err.contains(&format!("sha256:{}", sha(&good))), "{err}");
        assert!(err.contains(&format!("sha256:{}", sha(&evil))), "{err}");
        fx.assert_no_image_dirs();
    }
    // A config whose name is its digest must have that digest.
    let forged = config_with_diff_ids(&diff_ids(&[&evil]));
    let dir = docker_save_dir(&fx, "forged", &[&evil], &config_name, Some(&forged));
    let err = format!(
        "{:#}",
        unpack_image_with(&dir, &fx.paths, flat()).unwrap_err()
    );
    assert!(err.contains(&config_name), "{err}");
    assert!(err.contains(&sha(&forged)), "{err}");
    fx.assert_no_image_dirs();
}

fn limited(max_bytes: u64) -> Options {
    Options {
        max_bytes,
        ..flat()
    }
}

/// Issue 11, item 12: a gzip bomb (a few KiB of gzip, 64 MiB of zeros) and a GNU sparse
/// file declaring 24 MiB in a 2 KiB tar are refused under a 10 MiB limit before they are
/// written, naming the limit and the entry, and leave no partial tree; the same archives
/// fit a larger limit.
#[test]
fn unpacking_beyond_the_size_limit_is_refused_and_leaves_nothing() {
    let fx = Fx::new();
    let zeros = vec![0u8; 24 << 20];
    let bomb = gz(&tar_of(&[
        E::Dir("d", 0o755),
        E::File("d/zeros", &zeros, 0o644),
    ]));
    assert!(bomb.len() < 1 << 20, "a bomb: {} bytes", bomb.len());
    let bomb = fx.file("in/bomb.tar.gz", &bomb);
    let sparse = fx.file("in/sparse.tar", &sparse_tar("hole", 24 << 20));
    assert!(fs::metadata(&sparse).unwrap().len() < 4096);
    // The same bomb as a layer of a docker save: the layers' budget.
    let layer = gz(&tar_of(&[E::File("zeros", &zeros, 0o644)]));
    let config = config_with_diff_ids(&diff_ids(&[&tar_of(&[E::File("zeros", &zeros, 0o644)])]));
    let save = docker_save_dir(&fx, "save", &[&layer], "config.json", Some(&config));
    for (file, entry) in [(&bomb, "d/zeros"), (&sparse, "hole"), (&save, "zeros")] {
        let err = format!(
            "{:#}",
            unpack_image_with(file, &fx.paths, limited(10 << 20)).unwrap_err()
        );
        assert!(err.contains("image size limit of 10 MiB"), "{err}");
        assert!(err.contains("--max-image-size"), "{err}");
        assert!(err.contains(&format!("{entry:?}")), "{err}");
        fx.assert_no_image_dirs();
    }
    // Within the limit they unpack, the sparse file at its full length.
    let img = unpack_image_with(&sparse, &fx.paths, limited(25 << 20)).unwrap();
    let hole = fs::metadata(img.layers[0].join("hole")).unwrap();
    assert_eq!(hole.len(), 24 << 20);
    let img = unpack_image_with(&save, &fx.paths, limited(25 << 20)).unwrap();
    assert_eq!(
        fs::metadata(img.layers[0].join("zeros")).unwrap().len(),
        24 << 20
    );
}

/// Many empty entries cost too: 512 bytes each (an inode bomb).
#[test]
fn every_entry_is_charged() {
    let budget = unpack::Budget::new(3 * unpack::ENTRY_COST + 10);
    budget.charge(unpack::ENTRY_COST, "t", "a").unwrap();
    budget.charge(unpack::ENTRY_COST, "t", "b").unwrap();
    budget.charge(10, "t", "b").unwrap();
    budget.charge(unpack::ENTRY_COST, "t", "c").unwrap();
    let err = budget.charge(1, "t", "d").unwrap_err().to_string();
    assert!(err.contains("\"d\""), "{err}");
    assert_eq!(
        budget.used(),
        3 * unpack::ENTRY_COST + 10,
        "a refusal charges nothing"
    );
    let fx = Fx::new();
    let names: Vec<String> = (0..100).map(|i| format!("f{i}")).collect();
    let entries: Vec<E> = names.iter().map(|n| E::File(n, b"", 0o644)).collect();
    let file = fx.file("in/many.tar", &tar_of(&entries));
    assert!(unpack_image_with(&file, &fx.paths, limited(50 * unpack::ENTRY_COST)).is_err());
    fx.assert_no_image_dirs();
    assert!(unpack_image_with(&file, &fx.paths, limited(100 * unpack::ENTRY_COST)).is_ok());
}
