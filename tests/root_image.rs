//! Root tests of unpacking images: layers kept apart with overlayfs whiteouts, owners and
//! setuid bits kept, an unpacked image entered with chroot(8). As root, `unpack_image`
//! unpacks in that mode (the unit tests in `src/runtime/image/tests.rs` cover the
//! flattened mode used without root). Moved from there so that, not as root, each is
//! reported ignored rather than passed (see `tests/common`).

mod common;
#[path = "../src/runtime/image/fixtures.rs"]
mod fixtures;

use std::fs;
use std::os::unix::fs::{FileTypeExt, MetadataExt, PermissionsExt};

use common::{root_trials, run};
use fixtures::*;
use underhood::runtime::assemble::default_rootfs;
use underhood::runtime::image::unpack_image;
use underhood::runtime::paths::Paths;

/// The cache's `images/by-stat` directory (`BY_STAT` in `runtime::image`), for
/// `Fx::assert_no_image_dirs`.
const BY_STAT: &str = "by-stat";

fn main() -> std::process::ExitCode {
    run(root_trials![
        root_gnu_tar_of_the_default_rootfs_runs,
        root_docker_save_layers_get_overlay_whiteouts,
        root_oci_layout_keeps_layers_apart,
        root_ownership_and_setuid_are_kept,
        root_hostile_entries_are_refused_in_overlay_mode,
        root_whiteout_and_entry_in_the_same_layer_in_overlay_mode,
    ])
}

/// A tarball written by the host's GNU tar (long names, hard links, its own headers) from
/// the default rootfs, unpacked and used as a root.
fn root_gnu_tar_of_the_default_rootfs_runs() {
    let fx = Fx::new();
    let rootfs = default_rootfs(&fx.paths).unwrap();
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

fn root_docker_save_layers_get_overlay_whiteouts() {
    let fx = Fx::new();
    let file = docker_save(&fx, "save.tar");
    let img = unpack_image(&file, &fx.paths).unwrap();
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

fn root_oci_layout_keeps_layers_apart() {
    let fx = Fx::new();
    let dir = oci_layout(&fx, "oci");
    let img = unpack_image(&dir, &fx.paths).unwrap();
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

fn root_ownership_and_setuid_are_kept() {
    let fx = Fx::new();
    let file = fx.file(
        "in/own.tar",
        &tar_of(&[
            E::Owned("su", 0, 0, 0o4755),
            E::Owned("mine", 1234, 5678, 0o640),
        ]),
    );
    let img = unpack_image(&file, &fx.paths).unwrap();
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

/// `hostile_entries_are_refused` (src/runtime/image/tests.rs) with the layers kept apart:
/// every way out of the layer directory is refused with the entry's name, and nothing is
/// written outside.
fn root_hostile_entries_are_refused_in_overlay_mode() {
    let fx = Fx::new();
    let outside = fx.path("outside");
    let outside_s = outside.to_str().unwrap();
    let abs_name = format!("{outside_s}/evil");
    let cases = hostile_cases(outside_s, &abs_name);
    for (name, entries, entry) in cases {
        let file = fx.file(&format!("in/{name}.tar"), &tar_of(&entries));
        let err = unpack_image(&file, &fx.paths);
        let err = format!("{:#}", err.unwrap_err());
        assert!(err.contains("refusing"), "{name}: {err}");
        assert!(err.contains(&format!("{entry:?}")), "{name}: {err}");
        fx.assert_outside_untouched();
        fx.assert_no_image_dirs();
    }
}

/// `whiteout_and_entry_in_the_same_layer` (src/runtime/image/tests.rs) with the layers
/// kept apart: the upper layer keeps its own `x`, and its `dir` is opaque.
fn root_whiteout_and_entry_in_the_same_layer_in_overlay_mode() {
    let other = Fx::new();
    let file = whiteout_and_entry_image(&other);
    let img = unpack_image(&file, &other.paths).unwrap();
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
}
