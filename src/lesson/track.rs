//! Tracks: named paths through the lessons (`lessons/tracks.toml`, or `DIR/tracks.toml`
//! beside a teacher's lessons).
//!
//! ```text
//! [[track]]
//! name = "workshop"
//! about = "the 3-hour core path"
//! timed = true                 # every lesson has `minutes`
//! [[track.lesson]]
//! id = "host-view"
//! minutes = 10
//! checkpoint = "every hand up: ps shows the host's processes"
//! ```
//!
//! `complete = true` asks for every lesson of the set; `introduced_first = true`, that
//! no lesson explains a step before one that introduces it (`passing::track_order`). Validation names each problem at
//! `path:line:column`: unknown lesson ids, a lesson listed twice, a lesson before one it
//! builds on, a missing time in a timed track.

use serde::Deserialize;
use toml::Spanned;

use super::format::{LessonFile, Problem, pos_of};

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
struct TracksFile {
    #[serde(default, rename = "track")]
    tracks: Vec<Track>,
}

/// One named path.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Track {
    pub name: Spanned<String>,
    #[serde(default)]
    pub about: String,
    /// Every lesson must say its minutes.
    #[serde(default)]
    pub timed: bool,
    /// Every lesson of the set must be listed.
    #[serde(default)]
    pub complete: bool,
    /// No lesson explains a step before a lesson that introduces it
    /// (`lesson::passing::track_order`).
    #[serde(default)]
    pub introduced_first: bool,
    #[serde(default, rename = "lesson")]
    pub lessons: Vec<Stop>,
}

/// A lesson in a track, with its time and what to check after it.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Stop {
    pub id: Spanned<String>,
    pub minutes: Option<u32>,
    /// What the facilitator checks before moving on.
    pub checkpoint: Option<String>,
}

impl Track {
    pub fn name(&self) -> &str {
        self.name.get_ref()
    }

    pub fn ids(&self) -> Vec<String> {
        self.lessons
            .iter()
            .map(|s| s.id.get_ref().clone())
            .collect()
    }

    /// The sum of the lessons' minutes.
    pub fn minutes(&self) -> u32 {
        self.lessons.iter().filter_map(|s| s.minutes).sum()
    }
}

/// Parses and validates a tracks file against the lessons it names.
pub fn load(path: &str, text: &str, lessons: &[LessonFile]) -> Result<Vec<Track>, Vec<Problem>> {
    let at = |offset: usize, message: String| Problem {
        path: path.to_string(),
        pos: pos_of(text, offset),
        message,
    };
    let file: TracksFile = toml::from_str(text).map_err(|e| {
        vec![at(
            e.span().map(|s| s.start).unwrap_or(0),
            e.message().trim().replace('\n', " "),
        )]
    })?;
    let mut out = Vec::new();
    for (i, t) in file.tracks.iter().enumerate() {
        let name = t.name();
        if name.is_empty() {
            out.push(at(t.name.span().start, "a track's name is empty".into()));
        }
        if file.tracks[..i].iter().any(|o| o.name() == name) {
            out.push(at(
                t.name.span().start,
                format!("track {name:?} is defined twice"),
            ));
        }
        if t.lessons.is_empty() {
            out.push(at(
                t.name.span().start,
                format!("track {name:?} lists no lessons"),
            ));
        }
        for (j, s) in t.lessons.iter().enumerate() {
            let id = s.id.get_ref();
            let here = s.id.span().start;
            if t.lessons[..j].iter().any(|o| o.id.get_ref() == id) {
                out.push(at(
                    here,
                    format!("lesson {id:?} is listed twice in track {name:?}"),
                ));
                continue;
            }
            let Some(lesson) = lessons.iter().find(|l| l.id() == id) else {
                out.push(at(here, format!("no lesson has the id {id:?}")));
                continue;
            };
            for dep in &lesson.front.builds_on {
                let dep = dep.get_ref();
                if t.lessons[j + 1..].iter().any(|o| o.id.get_ref() == dep) {
                    out.push(at(
                        here,
                        format!("lesson {id:?} comes before {dep:?}, which it builds on"),
                    ));
                }
            }
            if t.introduced_first {
                let order: Vec<&LessonFile> = t.lessons[..=j]
                    .iter()
                    .filter_map(|o| lessons.iter().find(|l| l.id() == o.id.get_ref()))
                    .collect();
                for m in super::passing::track_order(&order, order.len() - 1, lessons) {
                    out.push(at(here, m));
                }
            }
            if t.timed && s.minutes.is_none() {
                out.push(at(
                    here,
                    format!("lesson {id:?} has no `minutes` (track {name:?} is timed)"),
                ));
            }
            if s.minutes == Some(0) {
                out.push(at(here, format!("lesson {id:?} takes 0 minutes")));
            }
        }
        if t.complete {
            let missing: Vec<&str> = lessons
                .iter()
                .map(|l| l.id())
                .filter(|l| !t.lessons.iter().any(|s| s.id.get_ref() == l))
                .collect();
            if !missing.is_empty() {
                out.push(at(
                    t.name.span().start,
                    format!(
                        "track {name:?} is complete but lacks {}",
                        missing.join(", ")
                    ),
                ));
            }
        }
    }
    if out.is_empty() {
        Ok(file.tracks)
    } else {
        Err(out)
    }
}

/// The track named `name`, or an error naming the known ones.
pub fn find<'a>(tracks: &'a [Track], name: &str) -> Result<&'a Track, super::error::Error> {
    tracks
        .iter()
        .find(|t| t.name() == name)
        .ok_or_else(|| super::error::Error::NoTrack {
            name: name.to_string(),
            known: tracks.iter().map(|t| t.name().to_string()).collect(),
        })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::lesson::format::parse;

    fn lessons() -> Vec<LessonFile> {
        [
            ("a", ""),
            ("b", "builds_on = [\"a\"]\n"),
            ("c", "builds_on = [\"b\"]\n"),
        ]
        .iter()
        .enumerate()
        .map(|(i, (id, extra))| {
            let text = format!("+++\nid = \"{id}\"\ntitle = \"T\"\norder = {i}\n{extra}+++\n");
            parse(&format!("{id}.md"), &text).unwrap()
        })
        .collect()
    }

    fn problems(text: &str) -> Vec<String> {
        load("tracks.toml", text, &lessons())
            .unwrap_err()
            .iter()
            .map(|p| p.to_string())
            .collect()
    }

    #[test]
    fn a_good_file_keeps_order_times_and_checkpoints() {
        let text = "[[track]]\nname = \"w\"\ntimed = true\ncomplete = true\n[[track.lesson]]\nid = \"a\"\nminutes = 10\ncheckpoint = \"hands up\"\n[[track.lesson]]\nid = \"b\"\nminutes = 5\n[[track.lesson]]\nid = \"c\"\nminutes = 5\n";
        let t = load("tracks.toml", text, &lessons()).unwrap();
        assert_eq!(t.len(), 1);
        assert_eq!(t[0].ids(), ["a", "b", "c"]);
        assert_eq!(t[0].minutes(), 20);
        assert_eq!(t[0].lessons[0].checkpoint.as_deref(), Some("hands up"));
        assert!(find(&t, "w").is_ok());
        let e = find(&t, "x").unwrap_err();
        assert!(e.to_string().contains("the tracks are: w"), "{e}");
    }

    #[test]
    fn each_problem_at_its_place() {
        let text = "[[track]]\nname = \"w\"\ntimed = true\n[[track.lesson]]\nid = \"b\"\nminutes = 5\n[[track.lesson]]\nid = \"a\"\n[[track.lesson]]\nid = \"zz\"\n[[track.lesson]]\nid = \"a\"\n";
        assert_eq!(
            problems(text),
            [
                "tracks.toml:5:6: lesson \"b\" comes before \"a\", which it builds on",
                "tracks.toml:8:6: lesson \"a\" has no `minutes` (track \"w\" is timed)",
                "tracks.toml:10:6: no lesson has the id \"zz\"",
                "tracks.toml:12:6: lesson \"a\" is listed twice in track \"w\"",
            ]
        );
    }

    #[test]
    fn complete_tracks_duplicates_and_syntax() {
        let text = "[[track]]\nname = \"s\"\ncomplete = true\n[[track.lesson]]\nid = \"a\"\n[[track]]\nname = \"s\"\n";
        assert_eq!(
            problems(text),
            [
                "tracks.toml:2:8: track \"s\" is complete but lacks b, c",
                "tracks.toml:7:8: track \"s\" is defined twice",
                "tracks.toml:7:8: track \"s\" lists no lessons",
            ]
        );
        let p = problems("[[track]]\nname = \"s\"\ncolour = 1\n");
        assert_eq!(p.len(), 1);
        assert!(p[0].starts_with("tracks.toml:3:1: "), "{p:?}");
        assert!(p[0].contains("colour"), "{p:?}");
    }
}
