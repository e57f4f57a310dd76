//! Probes for the escape suite: small C programs in `tests/escape/probes/NAME.c`
//! (their shared `report`/`TRY` in `probe.h` there), compiled static with the host's
//! `gcc` (installed by .ci/run), so they run on any rootfs flavour, and bound into the
//! container read-only at `/probe`.
//!
//! In the VM tier there is no compiler: vm/run.sh compiles every probe beforehand into
//! `$UNDERHOOD_PROBES/NAME/NAME` and vm/init sets `UNDERHOOD_PROBES`.
#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::Command;

/// The directory holding the static binary `name`, built from
/// `tests/escape/probes/NAME.c`: bind it with [`volume`] and run `/probe/NAME`.
pub fn dir(name: &str) -> PathBuf {
    if let Some(pre) = std::env::var_os("UNDERHOOD_PROBES") {
        let d = PathBuf::from(pre).join(name);
        assert!(
            d.join(name).exists(),
            "UNDERHOOD_PROBES is set but has no {}",
            d.join(name).display()
        );
        return d;
    }
    let probes = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/escape/probes");
    let src = probes.join(format!("{name}.c"));
    // What the binary is built from: the probe and the header every probe includes
    // (probe.h), so that a change to either rebuilds it.
    let source = [src.clone(), probes.join("probe.h")]
        .iter()
        .map(|p| {
            std::fs::read_to_string(p)
                .unwrap_or_else(|e| panic!("reading the probe's {}: {e}", p.display()))
        })
        .collect::<Vec<_>>()
        .join("\n/* ---- probe.h ---- */\n");
    let dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR"))
        .join("escape-probes")
        .join(name);
    std::fs::create_dir_all(&dir).expect("creating the probe directory");
    // The source it was last built from, kept beside it.
    let copy = dir.join(format!("{name}.c+probe.h"));
    let bin = dir.join(name);
    let old = std::fs::read_to_string(&copy).unwrap_or_default();
    if old != source || !bin.exists() {
        let out = Command::new("gcc")
            .args(["-static", "-O1", "-Wall", "-o"])
            .arg(&bin)
            .arg(&src)
            .output()
            .expect("running gcc (.ci/run installs gcc and libc6-dev)");
        assert!(
            out.status.success(),
            "gcc -static {} failed:\n{}",
            src.display(),
            String::from_utf8_lossy(&out.stderr)
        );
        std::fs::write(&copy, &source).expect("keeping the probe's source beside it");
    }
    dir
}

/// `DIR:/probe:ro`, the argument of `underhood run -v`.
pub fn volume(dir: &Path) -> String {
    format!("{}:/probe:ro", dir.display())
}
