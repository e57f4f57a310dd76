//! Embeds every lesson file under `lessons/` in the binary, so `cargo install` users
//! have them; cargo re-runs this when anything in `lessons/` changes.

use std::fmt::Write as _;
use std::path::Path;

fn main() {
    commit();
    println!("cargo:rerun-if-changed=lessons");
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("lessons");
    let mut files: Vec<_> = std::fs::read_dir(&dir)
        .map(|rd| {
            rd.flatten()
                .map(|e| e.path())
                .filter(|p| p.extension().is_some_and(|x| x == "md"))
                .filter(|p| p.file_name().is_some_and(|n| n != "README.md"))
                .collect()
        })
        .unwrap_or_default();
    files.sort();
    let mut out = String::from(
        "/// Lesson files compiled in: (path as shown in errors, text).\npub static EMBEDDED: &[(&str, &str)] = &[\n",
    );
    for f in files {
        let name = f
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        let _ = writeln!(
            out,
            "    (\"lessons/{name}\", include_str!({:?})),",
            f.display().to_string()
        );
    }
    out.push_str("];\n");
    // The tracks file, when there is one.
    let tracks = dir.join("tracks.toml");
    if tracks.exists() {
        let _ = writeln!(
            out,
            "/// `lessons/tracks.toml`, compiled in.\npub static TRACKS: Option<(&str, &str)> = Some((\"lessons/tracks.toml\", include_str!({:?})));",
            tracks.display().to_string()
        );
    } else {
        out.push_str("pub static TRACKS: Option<(&str, &str)> = None;\n");
    }
    let dest = Path::new(&std::env::var("OUT_DIR").expect("OUT_DIR")).join("lessons_embedded.rs");
    std::fs::write(dest, out).expect("writing lessons_embedded.rs");
}

/// `UNDERHOOD_COMMIT` for `--version`: the environment's value if set (a release
/// script building from a tarball), else git's short hash of HEAD, else "unknown".
/// Cargo reruns this when HEAD moves (the HEAD file, and the branch it points at).
fn commit() {
    println!("cargo:rerun-if-env-changed=UNDERHOOD_COMMIT");
    let git = |args: &[&str]| {
        std::process::Command::new("git")
            .args(args)
            .current_dir(env!("CARGO_MANIFEST_DIR"))
            .output()
            .ok()
            .filter(|o| o.status.success())
            .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_string())
            .filter(|s| !s.is_empty())
    };
    let commit = std::env::var("UNDERHOOD_COMMIT")
        .ok()
        .filter(|s| !s.is_empty())
        .or_else(|| git(&["rev-parse", "--short=12", "HEAD"]))
        .unwrap_or_else(|| "unknown".to_string());
    if let Some(head) = git(&["rev-parse", "--git-path", "HEAD"]) {
        let head = Path::new(env!("CARGO_MANIFEST_DIR")).join(head);
        println!("cargo:rerun-if-changed={}", head.display());
        if let Some(branch) = git(&["symbolic-ref", "-q", "HEAD"])
            && let Some(refpath) = git(&["rev-parse", "--git-path", &branch])
        {
            let refpath = Path::new(env!("CARGO_MANIFEST_DIR")).join(refpath);
            println!("cargo:rerun-if-changed={}", refpath.display());
        }
    }
    println!("cargo:rustc-env=UNDERHOOD_COMMIT={commit}");
}
