//! The size guard (issue 13, "Sizes and a map"): no Rust file under src/, tests/, benches/
//! or examples/ passes 600 lines of code, so a newcomer can read any file whole and a
//! file grows into a directory of files named after what they are before it gets there.
//!
//! A line of code is one that is neither blank nor only a `//` comment (doc comments
//! included): the same count as `grep -v -E '^\s*(//.*)?$' FILE | wc -l`. The tree read is
//! the one named by `CARGO_MANIFEST_DIR` (set by cargo when it runs the test), so the
//! compiled test can also be pointed at another checkout.

use std::path::{Path, PathBuf};

/// The most lines of code one file may have.
const LIMIT: usize = 600;

/// The directories whose Rust files are held to [`LIMIT`].
const ROOTS: [&str; 4] = ["src", "tests", "benches", "examples"];

/// Lines that are neither blank nor only a `//` comment.
fn lines_of_code(text: &str) -> usize {
    text.lines()
        .map(str::trim_start)
        .filter(|l| !l.is_empty() && !l.starts_with("//"))
        .count()
}

/// Every `.rs` file under `dir`, depth first, in name order.
fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    let mut paths: Vec<PathBuf> = entries.flatten().map(|e| e.path()).collect();
    paths.sort();
    for p in paths {
        // symlink_metadata: a link out of the tree is not ours to count.
        let Ok(meta) = std::fs::symlink_metadata(&p) else {
            continue;
        };
        if meta.is_dir() {
            rust_files(&p, out);
        } else if meta.is_file() && p.extension().is_some_and(|x| x == "rs") {
            out.push(p);
        }
    }
}

fn manifest_dir() -> PathBuf {
    std::env::var_os("CARGO_MANIFEST_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")))
}

#[test]
fn no_source_file_passes_600_lines_of_code() {
    let root = manifest_dir();
    let mut files = Vec::new();
    for dir in ROOTS {
        rust_files(&root.join(dir), &mut files);
    }
    // The walk found the tree: a wrong root would pass with nothing counted.
    assert!(
        files.iter().any(|f| f.ends_with("src/lib.rs")),
        "no src/lib.rs under {}",
        root.display()
    );
    let mut over: Vec<(usize, String)> = files
        .iter()
        .filter_map(|f| {
            let text = std::fs::read_to_string(f)
                .unwrap_or_else(|e| panic!("cannot read {}: {e}", f.display()));
            let n = lines_of_code(&text);
            let name = f.strip_prefix(&root).unwrap_or(f).display().to_string();
            (n > LIMIT).then_some((n, name))
        })
        .collect();
    over.sort_by(|a, b| b.cmp(a));
    assert!(
        over.is_empty(),
        "{} file(s) over {LIMIT} lines of code (split each into files named after what they \
         are):\n{}",
        over.len(),
        over.iter()
            .map(|(n, f)| format!("  {f}: {n}"))
            .collect::<Vec<_>>()
            .join("\n")
    );
}

#[test]
fn blank_lines_and_comments_are_not_code() {
    let text = "//! module doc\n\nuse std::fs;\n    // a comment\n/// doc\nfn f() {} // trailing\n\t\n  let s = \"//\";\n";
    assert_eq!(lines_of_code(text), 3);
}
