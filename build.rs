//! Embeds every lesson file under `lessons/` in the binary, so `cargo install` users
//! have them; cargo re-runs this when anything in `lessons/` changes.

use std::fmt::Write as _;
use std::path::Path;

fn main() {
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
    let dest = Path::new(&std::env::var("OUT_DIR").expect("OUT_DIR")).join("lessons_embedded.rs");
    std::fs::write(dest, out).expect("writing lessons_embedded.rs");
}
