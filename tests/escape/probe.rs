//! Probes for the escape suite: small C programs compiled static with the host's `gcc`
//! (installed by .ci/run), so they run on any rootfs flavour, and bound into the
//! container read-only at `/probe`.
#![allow(dead_code)]

use std::path::PathBuf;
use std::process::Command;

/// The directory holding the static binary `name` built from `source`, compiled once
/// per test binary run under cargo's per-target scratch directory.
pub fn build(name: &str, source: &str) -> PathBuf {
    let dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR"))
        .join("escape-probes")
        .join(name);
    std::fs::create_dir_all(&dir).expect("creating the probe directory");
    let src = dir.join(format!("{name}.c"));
    let bin = dir.join(name);
    let old = std::fs::read_to_string(&src).unwrap_or_default();
    if old != source || !bin.exists() {
        std::fs::write(&src, source).expect("writing the probe source");
        let out = Command::new("gcc")
            .args(["-static", "-O1", "-o"])
            .arg(&bin)
            .arg(&src)
            .output()
            .expect("running gcc (installed by .ci/run: gcc and libc6-dev)");
        assert!(
            out.status.success(),
            "gcc -static {name}.c failed:\n{}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    dir
}

/// `-v DIR:/probe:ro` for `underhood run`.
pub fn volume(dir: &std::path::Path) -> String {
    format!("{}:/probe:ro", dir.display())
}
