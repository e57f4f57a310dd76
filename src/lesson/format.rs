//! The lesson file format: Markdown with a TOML front matter between `+++` lines.
//!
//! ```text
//! +++
//! id = "uts"
//! title = "UTS: a hostname of its own"
//! builds_on = ["namespaces"]
//! [launch]
//! steps = ["uts"]
//! hostname = "lesson-box"
//! [[check]]
//! id = "renamed"
//! say = "the hostname inside differs from the host's"
//! kind = "hostname_differs"
//! +++
//! ## Body, in sections
//! ```
//!
//! Parsing keeps the byte spans of the values that validation checks, so every error
//! can name `path:line:column` (as presenterm does for its slides).

use std::collections::BTreeMap;
use std::ops::Range;

use serde::Deserialize;
use toml::Spanned;

/// The values of `observe`.
pub const OBSERVE_CONTAINER: &str = "container";
pub const OBSERVE_HOST_SHELL: &str = "host-shell";

/// A place in a lesson file, 1-based.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Pos {
    pub line: usize,
    pub column: usize,
}

/// One problem in a lesson file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Problem {
    pub path: String,
    pub pos: Pos,
    pub message: String,
}

impl std::error::Error for Problem {}

impl std::fmt::Display for Problem {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{}:{}:{}: {}",
            self.path, self.pos.line, self.pos.column, self.message
        )
    }
}

#[derive(Debug, Clone, Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub struct Launch {
    /// Runtime steps by name, in order (see `plan::STEP_NAMES`).
    #[serde(default)]
    pub steps: Vec<Spanned<String>>,
    /// The steps this lesson is the one to explain (a track marked `introduced_first`
    /// explains no step before a lesson that introduces it).
    #[serde(default)]
    pub introduces: Vec<Spanned<String>>,
    /// Steps taken but not explained here, each with the id of the lesson that
    /// introduces it (`rootfs = "chroot"`): the TUI takes a run of them with one key
    /// press and one line (`lesson::passing`).
    #[serde(default)]
    pub pass_through: BTreeMap<Spanned<String>, Spanned<String>>,
    pub hostname: Option<String>,
    /// A size such as `64M`.
    pub memory: Option<Spanned<String>>,
    pub pids: Option<u64>,
    pub cpus: Option<f64>,
    /// Seconds added to the monotonic and boot-time clocks in a time namespace.
    pub time_offset: Option<i64>,
    /// `none` or `veth`.
    pub net: Option<Spanned<String>>,
    /// `HOST:PATH[:ro]`, as `run --volume`.
    #[serde(default)]
    pub volumes: Vec<Spanned<String>>,
    /// Add a user namespace even as root.
    pub userns: Option<bool>,
    /// The container's command (default: one that waits, so the learner can explore).
    pub command: Option<Vec<String>>,
    /// Syscalls the seccomp filter also blocks (names as in `security::syscall_number`).
    #[serde(default)]
    pub seccomp_deny: Vec<Spanned<String>>,
    /// Capabilities kept instead of the default set, e.g. `["CAP_CHOWN"]`.
    pub keep_caps: Option<Vec<Spanned<String>>>,
}

/// A command to try in the container, with what it shows.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Try {
    pub command: String,
    #[serde(default)]
    pub explain: String,
}

/// A state-based check: it looks at the live container, not at keystrokes.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CheckSpec {
    pub id: Spanned<String>,
    /// What the learner achieves, in plain words ("the hostname inside differs").
    pub say: String,
    /// One of `check::KINDS`.
    pub kind: Spanned<String>,
    /// For `ns_differs`/`ns_same`: a namespace name.
    pub ns: Option<Spanned<String>>,
    /// For `command`: run with `/bin/sh -c` inside the container; for `host_command`,
    /// on the host with the `UH_*` variables (see `runner::host_env`).
    pub command: Option<Spanned<String>>,
    /// For `command`: `success` or `failure` (default success).
    pub expect: Option<Spanned<String>>,
    /// For `command`: text the output must contain.
    pub output: Option<String>,
    /// For `command`: text the output must not contain.
    pub not_output: Option<String>,
    /// For `upper_has`, `lower_lacks`, `container_mount`: a path inside the container.
    pub path: Option<Spanned<String>>,
    /// For `pid1`: the command name of PID 1 inside.
    pub comm: Option<String>,
    /// For `oom_kills`: the least count.
    pub at_least: Option<u64>,
    /// What a learner does to pass, as a command run inside the container
    /// (`underhood lessons run --solve` and the tests run it; absent when the steps
    /// alone make the check pass).
    pub solve: Option<String>,
    /// A command to run on the host before solving (e.g. `ipcmk -Q`), and the one that
    /// undoes it afterwards. Both must leave the host as it was.
    pub host_solve: Option<String>,
    pub host_undo: Option<String>,
    /// A command run inside that writes what the check reads *without* doing the
    /// thing (`underhood lessons run --cheat`): the check must stay red after it. Every
    /// check that reads a file the learner writes has one.
    pub cheat: Option<String>,
    /// Like `cheat`, but run on the host with the `UH_*` variables, as `host_solve`
    /// is: the cheat of a lesson made by hand, whose learner types in the host shell.
    pub host_cheat: Option<String>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FrontMatter {
    pub id: Spanned<String>,
    pub title: String,
    /// Where it sits in the syllabus.
    pub order: u32,
    #[serde(default)]
    pub builds_on: Vec<Spanned<String>>,
    #[serde(default)]
    pub summary: String,
    /// Man pages to read, e.g. `uts_namespaces(7)`.
    #[serde(default)]
    pub man: Vec<String>,
    #[serde(default)]
    pub launch: Launch,
    #[serde(default, rename = "try")]
    pub tries: Vec<Try>,
    #[serde(default)]
    pub hints: Vec<String>,
    #[serde(default, rename = "check")]
    pub checks: Vec<CheckSpec>,
    /// Whose process the panes and the checks look at: `"container"` (the default: the
    /// container underhood builds with the steps) or `"host-shell"` (the learner's own,
    /// made by hand in the host shell: the newest process below it with namespaces of
    /// its own, see `observe::by_hand`).
    pub observe: Option<Spanned<String>>,
    /// What a learner without root is told about this lesson, when it needs root.
    pub rootless_note: Option<String>,
    /// Notes for a presenter only.
    #[serde(default)]
    pub presenter_notes: Vec<String>,
    /// Speaker notes per step, keyed by step name (`uts = "Ask the room ..."`), shown
    /// by `underhood notes` when the presenter reaches that step.
    #[serde(default)]
    pub notes: BTreeMap<Spanned<String>, Spanned<String>>,
}

/// A parsed lesson file.
#[derive(Debug, Clone)]
pub struct LessonFile {
    pub path: String,
    pub text: String,
    pub front: FrontMatter,
    /// Byte offset of the TOML text in the file.
    front_offset: usize,
    /// The Markdown body.
    pub body: String,
}

/// Line and column (1-based, in characters) of a byte offset.
pub fn pos_of(text: &str, offset: usize) -> Pos {
    let offset = offset.min(text.len());
    let before = &text[..offset];
    let line = before.matches('\n').count() + 1;
    let line_start = before.rfind('\n').map(|i| i + 1).unwrap_or(0);
    Pos {
        line,
        column: before[line_start..].chars().count() + 1,
    }
}

impl LessonFile {
    /// Where a span of the front matter is in the file.
    pub fn pos(&self, span: Range<usize>) -> Pos {
        pos_of(&self.text, self.front_offset + span.start)
    }

    pub fn problem(&self, span: Range<usize>, message: impl Into<String>) -> Problem {
        Problem {
            path: self.path.clone(),
            pos: self.pos(span),
            message: message.into(),
        }
    }

    pub fn id(&self) -> &str {
        self.front.id.get_ref()
    }

    /// A lesson made by hand: `observe = "host-shell"`.
    pub fn by_hand(&self) -> bool {
        self.front
            .observe
            .as_ref()
            .is_some_and(|o| o.get_ref() == OBSERVE_HOST_SHELL)
    }

    /// The speaker's note for a step, by its name.
    pub fn step_note(&self, step: &str) -> Option<&str> {
        self.front
            .notes
            .iter()
            .find(|(k, _)| k.get_ref() == step)
            .map(|(_, v)| v.get_ref().as_str())
    }
}

/// Splits and parses one file. A syntax error, a wrong type or an unknown field is one
/// `Problem` with its position; semantic checks are in `validate.rs`.
pub fn parse(path: &str, text: &str) -> Result<LessonFile, Problem> {
    let at = |offset: usize, message: String| Problem {
        path: path.to_string(),
        pos: pos_of(text, offset),
        message,
    };
    let rest = text
        .strip_prefix("+++\n")
        .or_else(|| text.strip_prefix("+++\r\n"))
        .ok_or_else(|| {
            at(
                0,
                "a lesson starts with a `+++` line, then TOML front matter".into(),
            )
        })?;
    let front_offset = text.len() - rest.len();
    let end = rest
        .match_indices("\n+++")
        .map(|(i, _)| i)
        .find(|i| {
            let after = &rest[i + 4..];
            after.is_empty() || after.starts_with('\n') || after.starts_with("\r\n")
        })
        .ok_or_else(|| at(0, "the front matter is not closed by a `+++` line".into()))?;
    let toml_text = &rest[..end + 1];
    let body_start = front_offset + end + 4;
    let body = text[body_start..]
        .trim_start_matches(['\r', '\n'])
        .to_string();
    let front: FrontMatter = toml::from_str(toml_text).map_err(|e| {
        let offset = front_offset + e.span().map(|s| s.start).unwrap_or(0);
        at(offset, e.message().trim().replace('\n', " "))
    })?;
    Ok(LessonFile {
        path: path.to_string(),
        text: text.to_string(),
        front,
        front_offset,
        body,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const GOOD: &str = "+++\nid = \"uts\"\ntitle = \"UTS\"\norder = 2\n[launch]\nsteps = [\"uts\"]\n[[check]]\nid = \"x\"\nsay = \"renamed\"\nkind = \"hostname_differs\"\n+++\n## Body\ntext\n";

    #[test]
    fn parses_front_matter_and_body() {
        let l = parse("lessons/02-uts.md", GOOD).unwrap();
        assert_eq!(l.id(), "uts");
        assert_eq!(l.front.launch.steps[0].get_ref(), "uts");
        assert_eq!(l.front.checks.len(), 1);
        assert!(l.body.starts_with("## Body"));
        // The span of "uts" in steps points at line 6.
        let p = l.pos(l.front.launch.steps[0].span());
        assert_eq!((p.line, p.column), (6, 10));
    }

    #[test]
    fn unknown_field_is_reported_at_its_line() {
        let bad = GOOD.replace("order = 2\n", "order = 2\ncolour = \"red\"\n");
        let e = parse("l.md", &bad).unwrap_err();
        assert_eq!(e.pos.line, 5, "{e}");
        assert!(e.message.contains("colour"), "{e}");
        assert!(e.to_string().starts_with("l.md:5:1: "), "{e}");
    }

    #[test]
    fn syntax_error_and_wrong_type() {
        let e = parse("l.md", &GOOD.replace("order = 2", "order = \"two\"")).unwrap_err();
        assert_eq!(e.pos.line, 4, "{e}");
        let e = parse("l.md", &GOOD.replace("title = \"UTS\"", "title = \"UTS")).unwrap_err();
        assert_eq!(e.pos.line, 3, "{e}");
    }

    #[test]
    fn missing_delimiters() {
        assert_eq!(parse("l.md", "# no front matter").unwrap_err().pos.line, 1);
        let e = parse("l.md", "+++\nid = \"a\"\n").unwrap_err();
        assert!(e.message.contains("not closed"), "{e}");
    }

    #[test]
    fn positions_count_characters() {
        assert_eq!(pos_of("ab\ncé d", 7), Pos { line: 2, column: 4 });
    }
}
