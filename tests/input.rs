//! Bad input to `run` gets a one-line error naming the bad value, exit 2, and
//! nothing is started. These need no root: validation comes first.

mod common;

use common::*;

fn bad(args: &[&str], needle: &str) {
    let before = residue();
    let o = underhood(args);
    let e = stderr(&o);
    assert_eq!(o.status.code(), Some(2), "{args:?}: {e}");
    assert!(
        e.contains(needle),
        "{args:?}: error does not name {needle:?}: {e}"
    );
    assert_eq!(residue(), before, "{args:?} started something");
}

#[test]
fn malformed_sizes() {
    bad(&["run", "--memory", "12Q", "--", "true"], "12Q");
    bad(&["run", "--memory", "lots", "--", "true"], "lots");
    bad(&["hog", "--rate", "fast"], "fast");
}

#[test]
fn unknown_namespace() {
    bad(&["run", "--share", "netz", "--", "true"], "netz");
}

#[test]
fn missing_rootfs_and_image() {
    bad(
        &["run", "--rootfs", "/no/such/dir", "--", "true"],
        "/no/such/dir",
    );
    bad(
        &["run", "--image", "/no/such.tar", "--", "true"],
        "/no/such.tar",
    );
}

#[test]
fn volumes() {
    bad(
        &["run", "-v", "/no/such/src:/data", "--", "true"],
        "/no/such/src",
    );
    bad(&["run", "-v", "/tmp:relative", "--", "true"], "relative");
    bad(&["run", "-v", "/tmp:/a/../b", "--", "true"], "..");
    bad(&["run", "-v", "/tmp", "--", "true"], "/tmp");
}

#[test]
fn limits() {
    bad(&["run", "--pids", "0", "--", "true"], "0");
    bad(&["run", "--cpus", "-1", "--", "true"], "-1");
    bad(&["run", "--net", "bridge", "--", "true"], "bridge");
}

#[test]
fn no_command() {
    bad(&["run"], "CMD");
}
