//! See tests/lessons.rs. The broken examples in `tests/lessons_bad/`, each reported at
//! its exact place, one at a time and all at once.

use std::path::{Path, PathBuf};

use crate::common::*;
use crate::{code, manifest};

pub fn trials() -> Vec<Trial> {
    trials![None;
        broken_examples_are_reported_at_their_exact_place,
        all_broken_examples_at_once_are_all_reported,
    ]
}

/// `<!-- expect: LINE:COLUMN: MESSAGE -->` lines of a file, as full problem lines.
fn expectations(dir: &Path, file: &Path) -> Vec<String> {
    let text = std::fs::read_to_string(file).unwrap();
    text.lines()
        .filter_map(|l| l.trim().strip_prefix("<!-- expect: "))
        .filter_map(|l| l.strip_suffix(" -->"))
        .map(|e| {
            format!(
                "{}:{}",
                file.display(),
                e.replace("{dir}", &dir.display().to_string())
            )
        })
        .collect()
}

/// `# expect: LINE:COLUMN: MESSAGE` lines of a set's `tracks.toml`, when it has one
/// (reported after the lesson files' problems).
fn track_expectations(dir: &Path) -> Vec<String> {
    let file = dir.join("tracks.toml");
    let Ok(text) = std::fs::read_to_string(&file) else {
        return Vec::new();
    };
    text.lines()
        .filter_map(|l| l.trim().strip_prefix("# expect: "))
        .map(|e| format!("{}:{e}", file.display()))
        .collect()
}

/// Runs `lessons check DIR`; returns the exit code and the problem lines.
fn check_dir(dir: &Path) -> (Option<i32>, Vec<String>, String) {
    let o = underhood(&["lessons", "check", dir.to_str().unwrap()]);
    let err = stderr(&o);
    let problems = err
        .lines()
        .filter(|l| !l.starts_with("underhood: "))
        .map(str::to_string)
        .collect();
    (code(&o), problems, err)
}

fn md_files(dir: &Path) -> Vec<PathBuf> {
    let mut v: Vec<PathBuf> = std::fs::read_dir(dir)
        .unwrap()
        .flatten()
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|x| x == "md"))
        .filter(|p| p.file_name().is_some_and(|n| n != "README.md"))
        .collect();
    v.sort();
    v
}

fn broken_examples_are_reported_at_their_exact_place() {
    let bad = manifest().join("tests/lessons_bad");
    let mut cases = 0;
    let mut entries: Vec<PathBuf> = std::fs::read_dir(&bad)
        .unwrap()
        .flatten()
        .map(|e| e.path())
        .collect();
    entries.sort();
    for entry in entries {
        let name = entry.file_name().unwrap().to_string_lossy().into_owned();
        let (dir, expected, _tmp) = if entry.is_dir() {
            // A set: every file in it is checked together.
            let mut expected = Vec::new();
            for f in md_files(&entry) {
                expected.extend(expectations(&entry, &f));
            }
            expected.extend(track_expectations(&entry));
            (entry.clone(), expected, None)
        } else if name.ends_with(".md") && name != "README.md" {
            // One file alone, in a directory of its own.
            let tmp = tempfile::tempdir().unwrap();
            let copy = tmp.path().join(&name);
            std::fs::copy(&entry, &copy).unwrap();
            let expected = expectations(tmp.path(), &copy);
            (tmp.path().to_path_buf(), expected, Some(tmp))
        } else {
            continue;
        };
        assert!(
            !expected.is_empty(),
            "{name}: no `<!-- expect: ... -->` line"
        );
        let (code, problems, err) = check_dir(&dir);
        assert_eq!(code, Some(1), "{name}: exit status; stderr:\n{err}");
        assert_eq!(problems, expected, "{name}: stderr:\n{err}");
        let n = expected.len();
        let summary = format!(
            "underhood: {n} problem{} in the lessons",
            if n == 1 { "" } else { "s" }
        );
        assert!(err.lines().any(|l| l == summary), "{name}: {err}");
        cases += 1;
    }
    assert!(cases >= 10, "only {cases} broken examples");
}

fn all_broken_examples_at_once_are_all_reported() {
    // The whole directory as one set: every single-file problem is reported in one run
    // (the duplicate pair lives in its own subdirectory, which a set does not read).
    let bad = manifest().join("tests/lessons_bad");
    let mut expected = Vec::new();
    for f in md_files(&bad) {
        expected.extend(expectations(&bad, &f));
    }
    expected.sort();
    let (code, mut problems, err) = check_dir(&bad);
    problems.sort();
    assert_eq!(code, Some(1), "{err}");
    assert_eq!(problems, expected, "{err}");
}
