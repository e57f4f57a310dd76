//! Loading a set of lessons: the ones compiled into the binary, or a teacher's own
//! directory (`--lessons DIR`). Every file is parsed and the whole set validated, so
//! all problems are reported at once.

use std::path::Path;

use super::format::{LessonFile, Pos, Problem, parse};
use super::track::{self, Track};
use super::validate::validate;

mod embedded {
    include!(concat!(env!("OUT_DIR"), "/lessons_embedded.rs"));
}

#[derive(Debug, Clone)]
pub struct LessonSet {
    /// In syllabus order.
    pub lessons: Vec<LessonFile>,
    /// From `tracks.toml`, when the set has one.
    pub tracks: Vec<Track>,
}

impl LessonSet {
    pub fn get(&self, id: &str) -> Option<&LessonFile> {
        self.lessons.iter().find(|l| l.id() == id)
    }
}

/// `tracks`: the tracks file's path and text, when there is one.
fn from_texts(
    files: Vec<(String, String)>,
    tracks: Option<(String, String)>,
) -> Result<LessonSet, Vec<Problem>> {
    let mut problems = Vec::new();
    let mut lessons = Vec::new();
    for (path, text) in files {
        match parse(&path, &text) {
            Ok(l) => lessons.push(l),
            Err(p) => problems.push(p),
        }
    }
    problems.extend(validate(&lessons));
    let tracks = match tracks {
        Some((path, text)) => track::load(&path, &text, &lessons).unwrap_or_else(|mut p| {
            problems.append(&mut p);
            Vec::new()
        }),
        None => Vec::new(),
    };
    if !problems.is_empty() {
        return Err(problems);
    }
    lessons.sort_by_key(|l| (l.front.order, l.id().to_string()));
    Ok(LessonSet { lessons, tracks })
}

/// The lessons shipped in the binary.
pub fn builtin() -> Result<LessonSet, Vec<Problem>> {
    from_texts(
        embedded::EMBEDDED
            .iter()
            .map(|(p, t)| (p.to_string(), t.to_string()))
            .collect(),
        embedded::TRACKS.map(|(p, t)| (p.to_string(), t.to_string())),
    )
}

/// Every `*.md` in `dir` except README.md.
pub fn from_dir(dir: &Path) -> Result<LessonSet, Vec<Problem>> {
    let unreadable = |message: String| {
        vec![Problem {
            path: dir.display().to_string(),
            pos: Pos { line: 1, column: 1 },
            message,
        }]
    };
    let rd = std::fs::read_dir(dir)
        .map_err(|e| unreadable(format!("cannot read the lessons directory: {e}")))?;
    let mut paths: Vec<_> = rd
        .flatten()
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|x| x == "md"))
        .filter(|p| p.file_name().is_some_and(|n| n != "README.md"))
        .collect();
    paths.sort();
    if paths.is_empty() {
        return Err(unreadable("no lesson files (*.md) here".into()));
    }
    let mut files = Vec::new();
    let mut problems = Vec::new();
    for p in paths {
        match std::fs::read_to_string(&p) {
            Ok(t) => files.push((p.display().to_string(), t)),
            Err(e) => problems.push(Problem {
                path: p.display().to_string(),
                pos: Pos { line: 1, column: 1 },
                message: format!("cannot read: {e}"),
            }),
        }
    }
    let tracks_path = dir.join("tracks.toml");
    let tracks = if tracks_path.exists() {
        match std::fs::read_to_string(&tracks_path) {
            Ok(t) => Some((tracks_path.display().to_string(), t)),
            Err(e) => {
                problems.push(Problem {
                    path: tracks_path.display().to_string(),
                    pos: Pos { line: 1, column: 1 },
                    message: format!("cannot read: {e}"),
                });
                None
            }
        }
    } else {
        None
    };
    match from_texts(files, tracks) {
        Ok(set) if problems.is_empty() => Ok(set),
        Ok(_) => Err(problems),
        Err(mut more) => {
            problems.append(&mut more);
            Err(problems)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_shipped_lessons_are_valid() {
        if let Err(problems) = builtin() {
            let text: Vec<String> = problems.iter().map(|p| p.to_string()).collect();
            panic!("shipped lessons have problems:\n{}", text.join("\n"));
        }
    }

    #[test]
    fn the_shipped_tracks_are_the_three_promised() {
        let set = builtin().expect("valid");
        let w = track::find(&set.tracks, "workshop").unwrap();
        assert!(w.timed && w.minutes() <= 180, "{}", w.minutes());
        assert!(w.lessons.iter().any(|s| s.checkpoint.is_some()));
        let s = track::find(&set.tracks, "self-study").unwrap();
        assert!(s.complete);
        assert_eq!(s.lessons.len(), set.lessons.len());
        let t = track::find(&set.tracks, "talk").unwrap();
        assert!(t.timed && t.minutes() <= 30, "{}", t.minutes());
    }

    #[test]
    fn a_directory_reports_every_file() {
        let tmp = tempfile::tempdir().unwrap();
        std::fs::write(
            tmp.path().join("a.md"),
            "+++\nid = \"a\"\ntitle = \"A\"\norder = 1\n+++\n",
        )
        .unwrap();
        std::fs::write(
            tmp.path().join("b.md"),
            "+++\nid = \"b\"\ntitle = 3\norder = 2\n+++\n",
        )
        .unwrap();
        std::fs::write(
            tmp.path().join("c.md"),
            "+++\nid = \"c\"\ntitle = \"C\"\norder = 3\nbuilds_on = [\"z\"]\n+++\n",
        )
        .unwrap();
        let problems = from_dir(tmp.path()).unwrap_err();
        assert_eq!(problems.len(), 2, "{problems:?}");
        assert!(
            problems
                .iter()
                .any(|p| p.path.ends_with("b.md") && p.pos.line == 3)
        );
        assert!(
            problems
                .iter()
                .any(|p| p.path.ends_with("c.md") && p.pos.line == 5)
        );
    }
}
