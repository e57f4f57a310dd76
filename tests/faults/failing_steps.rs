//! See tests/faults.rs. A step that fails: a clear error naming the cause, nothing left.

use std::process::Command;

use crate::common::*;
use crate::{assert_no_descendants, new_sessions};

pub fn trials() -> Vec<Trial> {
    root_trials![
        root_failing_steps_name_the_cause_and_leave_nothing,
        root_pivot_root_failure_names_the_cause_and_leaves_nothing,
    ]
}

/// Runs a launch that must fail; checks the exit code, that the error names `needles`,
/// and that nothing is left (the state dir included).
fn fails_cleanly(what: &str, args: &[&str], code: i32, needles: &[&str]) -> String {
    let before = residue();
    let ids = session_ids();
    let o = underhood(args);
    let e = stderr(&o);
    assert_eq!(o.status.code(), Some(code), "{what}: {args:?}: {e}");
    for n in needles {
        assert!(e.contains(n), "{what}: the error does not name {n:?}: {e}");
    }
    assert!(new_sessions(&ids).is_empty(), "{what}: state dir left");
    assert_no_residue_of_ours(&before);
    assert_no_descendants(what);
    eprintln!(
        "{what}: exit {code}: {}",
        e.lines().next().unwrap_or_default()
    );
    e
}

fn root_failing_steps_name_the_cause_and_leave_nothing() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let file = tmp.path().join("a-file");
    std::fs::write(&file, "x").expect("write");
    let dir = tmp.path().join("a-dir");
    std::fs::create_dir(&dir).expect("mkdir");
    let empty = tmp.path().join("empty-rootfs");
    std::fs::create_dir(&empty).expect("mkdir");

    // Bad volumes: a file onto a directory of the rootfs, a directory onto a file.
    let v = format!("{}:/etc", file.display());
    fails_cleanly(
        "volume: file onto a directory",
        &["run", "-v", &v, "--", "true"],
        125,
        &["root filesystem", "merged/etc", "EISDIR"],
    );
    let v = format!("{}:/etc/hostname", dir.display());
    fails_cleanly(
        "volume: directory onto a file",
        &["run", "-v", &v, "--", "true"],
        125,
        &["root filesystem", "merged/etc/hostname", "EEXIST"],
    );
    // Missing rootfs: refused before anything starts.
    let missing = tmp.path().join("no-such-rootfs");
    let m = missing.display().to_string();
    fails_cleanly(
        "missing rootfs",
        &["run", "--rootfs", &m, "--", "true"],
        2,
        &[&m, "not a directory"],
    );
    // A rootfs without /bin/sh: the exec step fails as a shell would, 127.
    let e = empty.display().to_string();
    fails_cleanly(
        "rootfs without /bin/sh",
        &["run", "--rootfs", &e, "--", "/bin/sh"],
        127,
        &["execve(\"/bin/sh\"", "ENOENT"],
    );
    // A rootfs overlayfs cannot stack (procfs as a lower layer): the overlay mount fails.
    fails_cleanly(
        "overlay refuses the rootfs",
        &["run", "--rootfs", "/proc/sys", "--", "/bin/sh"],
        125,
        &["mount(\"overlay\"", "lowerdir=", "/proc/sys", "EINVAL"],
    );
}

/// Runs `underhood run ... -- true` chrooted into a copy of the host's tree made of bind
/// mounts, inside a throwaway mount namespace (the real host's mounts are never touched:
/// its tree is made private first, so nothing propagates back). With `root_is_mount`, the
/// chroot's root is a bind mount whose parent (outside the chroot) is shared, as on a
/// systemd host; without, the root is a plain directory.
fn run_in_chroot(root_is_mount: bool) -> (i32, String) {
    let base = tempfile::tempdir().expect("tempdir");
    let script = format!(
        r#"set -e
mount --make-rprivate /
mount --make-rshared /
base={base}
mount -t tmpfs tmpfs "$base"
root="$base/root"
mkdir "$root"
{bind_root}
for d in /*; do
  name=${{d#/}}
  if [ -L "$d" ]; then cp -P "$d" "$root/$name"; continue; fi
  [ -d "$d" ] || continue
  mkdir "$root/$name"
  [ "$name" = tmp ] && continue
  mount --rbind "$d" "$root/$name"
done
# Our binary may live under /tmp (a CI clone), which the copy above leaves out.
touch "$root/underhood-under-test"
mount --bind {bin} "$root/underhood-under-test"
set +e
chroot "$root" /underhood-under-test run -- true 2> "$base/../err"
echo $? > "$base/../rc"
"#,
        base = base.path().join("b").display(),
        bind_root = if root_is_mount {
            r#"mount --bind "$root" "$root""#
        } else {
            ""
        },
        bin = BIN,
    );
    std::fs::create_dir(base.path().join("b")).expect("mkdir");
    let o = Command::new("unshare")
        .args(["--mount", "--propagation", "private", "sh", "-c", &script])
        .output()
        .expect("unshare");
    assert!(o.status.success(), "chroot setup: {}", stderr(&o));
    let rc = std::fs::read_to_string(base.path().join("rc")).unwrap_or_default();
    let err = std::fs::read_to_string(base.path().join("err")).unwrap_or_default();
    (rc.trim().parse().unwrap_or(-1), err)
}

fn root_pivot_root_failure_names_the_cause_and_leaves_nothing() {
    // pivot_root(2) refuses (EINVAL) when the parent of the caller's root mount is
    // shared: here underhood runs in a chroot whose root is a bind mount under a shared
    // mount. Its rslave of `/` cannot reach that parent, outside the chroot.
    let before = residue();
    let ids = session_ids();
    let (rc, err) = run_in_chroot(true);
    assert_eq!(rc, 125, "{err}");
    assert!(
        err.contains("step 'pivot_root' failed: pivot_root(\".\", \".\") = EINVAL"),
        "{err}"
    );
    assert!(new_sessions(&ids).is_empty(), "state dir left: {err}");
    assert_no_residue_of_ours(&before);
    eprintln!(
        "pivot_root failure: exit 125: {}",
        err.lines().next().unwrap_or_default()
    );

    // In a chroot whose root is no mount point at all, the mount namespace step already
    // fails: making `/` a slave needs `/` to be a mount.
    let (rc, err) = run_in_chroot(false);
    assert_eq!(rc, 125, "{err}");
    assert!(
        err.contains("step 'mount namespace' failed") && err.contains("EINVAL"),
        "{err}"
    );
    assert!(new_sessions(&ids).is_empty(), "state dir left: {err}");
    assert_no_residue_of_ours(&before);
    eprintln!(
        "chroot root not a mount: exit 125: {}",
        err.lines().next().unwrap_or_default()
    );
}
