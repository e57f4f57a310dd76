//! What a step did, in a form a learner can read: each syscall (or cgroupfs
//! write) with its arguments and result, and the shell command that does the same.

use nix::errno::Errno;
use serde::{Deserialize, Serialize};

/// One kernel operation as it was really made.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SyscallRecord {
    /// `unshare`, `mount`, `write`, `mkdir`...
    pub name: String,
    /// The arguments as a learner would write them: `CLONE_NEWUTS`.
    pub args: String,
    /// `Ok("0")`, or the error: its errno, shown (and sent, and recorded) as
    /// `EPERM: Operation not permitted`.
    pub result: Result<String, CallError>,
}

/// Why a call failed: the errno when there is one (an `ip` command's failure has only
/// its message), and the text shown. On the wire and in recordings it is the text
/// alone, as before this type existed; reading it back recovers the errno from the
/// name in front (`EPERM: ...`).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CallError {
    pub errno: Option<Errno>,
    text: String,
}

impl CallError {
    pub fn from_errno(e: Errno) -> CallError {
        CallError {
            errno: Some(e),
            text: errno_text(e),
        }
    }

    pub fn text(&self) -> &str {
        &self.text
    }
}

impl From<String> for CallError {
    /// A text as a report shows it; the errno is read from its first word.
    fn from(text: String) -> CallError {
        let name = text.split(':').next().unwrap_or("").trim();
        CallError {
            errno: errno_named(name),
            text,
        }
    }
}

impl From<&str> for CallError {
    fn from(text: &str) -> CallError {
        CallError::from(text.to_string())
    }
}

/// Lets a failure be read as the text it always was (`e.starts_with("ENOENT")` in old
/// code keeps working), though `errno` is what code should branch on.
impl std::ops::Deref for CallError {
    type Target = str;
    fn deref(&self) -> &str {
        &self.text
    }
}

impl std::fmt::Display for CallError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.text)
    }
}

impl Serialize for CallError {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.text)
    }
}

impl<'de> Deserialize<'de> for CallError {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<CallError, D::Error> {
        String::deserialize(d).map(CallError::from)
    }
}

/// The errno whose name (as `{:?}` prints it: `ENOENT`) is `name`.
pub fn errno_named(name: &str) -> Option<Errno> {
    if !name.starts_with('E') {
        return None;
    }
    (1..256)
        .map(Errno::from_raw)
        .find(|e| *e != Errno::UnknownErrno && format!("{e:?}") == name)
}

/// The report of one executed step.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Report {
    pub step: String,
    pub calls: Vec<SyscallRecord>,
    /// Equivalent shell commands, one per line.
    pub shell: Vec<String>,
    /// Plain-language notes ("/ was shared; made rslave so mounts do not leak").
    pub notes: Vec<String>,
    /// How long the step took, controller and subject together, in microseconds.
    #[serde(default)]
    pub micros: u64,
}

/// Text for a terminal, from wherever it came (argv, a hostname, a recording, a file
/// name): every control character (C0, DEL, C1: `char::is_control`) is shown escaped
/// (`\u{1b}`, `\n`), never sent raw, so that no byte we print can move the cursor,
/// recolour, retitle or type into the terminal (ECMA-48 escape and control sequences
/// start with ESC or a C1 code such as CSI, U+009B). One line in, one line out.
pub fn printable(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        if c.is_control() {
            out.extend(c.escape_default());
        } else {
            out.push(c);
        }
    }
    out
}

/// Like [`printable`], but keeps line breaks: for multi-line text we made ourselves
/// around untrusted parts (each line is made printable on its own).
pub fn printable_lines(text: &str) -> String {
    text.split('\n')
        .map(printable)
        .collect::<Vec<_>>()
        .join("\n")
}

/// Formats an errno the way `strerror` and the man pages name it.
pub fn errno_text(e: nix::errno::Errno) -> String {
    format!("{e:?}: {}", e.desc())
}

impl Report {
    /// The same report without its calls, shell lines and notes (`Request::Quiet`).
    pub fn without_calls(&self) -> Report {
        Report {
            step: self.step.clone(),
            micros: self.micros,
            ..Default::default()
        }
    }

    pub fn new(step: impl Into<String>) -> Self {
        Report {
            step: step.into(),
            ..Default::default()
        }
    }

    /// Records a syscall's outcome and hands the result back unchanged.
    pub fn call<T: std::fmt::Debug>(
        &mut self,
        name: &str,
        args: impl Into<String>,
        res: nix::Result<T>,
    ) -> nix::Result<T> {
        let result = match &res {
            Ok(v) => Ok(short_debug(v)),
            Err(e) => Err(CallError::from_errno(*e)),
        };
        self.calls.push(SyscallRecord {
            name: name.to_string(),
            args: args.into(),
            result,
        });
        res
    }

    /// Records a file-system operation (cgroupfs writes, mkdir) done with std::io.
    pub fn io<T>(
        &mut self,
        name: &str,
        args: impl Into<String>,
        res: std::io::Result<T>,
    ) -> std::io::Result<T> {
        let result = match &res {
            Ok(_) => Ok("0".to_string()),
            Err(e) => Err(match e.raw_os_error() {
                Some(n) => CallError::from_errno(Errno::from_raw(n)),
                None => CallError::from(e.to_string()),
            }),
        };
        self.calls.push(SyscallRecord {
            name: name.to_string(),
            args: args.into(),
            result,
        });
        res
    }

    pub fn shell(&mut self, cmd: impl Into<String>) {
        self.shell.push(cmd.into());
    }

    pub fn note(&mut self, text: impl Into<String>) {
        self.notes.push(text.into());
    }

    /// Appends another report's records (controller-side work of the same step).
    pub fn extend(&mut self, other: Report) {
        self.calls.extend(other.calls);
        self.shell.extend(other.shell);
        self.notes.extend(other.notes);
    }

    /// The first failed call, if any.
    pub fn failure(&self) -> Option<&SyscallRecord> {
        self.calls.iter().find(|c| c.result.is_err())
    }

    /// The errno of the first failed call, if it has one.
    pub fn errno(&self) -> Option<Errno> {
        self.failure()
            .and_then(|c| c.result.as_ref().err())
            .and_then(|e| e.errno)
    }

    /// Multi-line text for `--trace` and the TUI's syscall pane.
    pub fn render(&self) -> String {
        // Every field may carry the learner's argv or hostname: each is made
        // printable, so that one field cannot break the line or reach the terminal.
        let p = printable;
        let mut out = if self.micros > 0 {
            format!("== {} ({} µs)\n", p(&self.step), self.micros)
        } else {
            format!("== {}\n", p(&self.step))
        };
        for c in &self.calls {
            let (name, args) = (p(&c.name), p(&c.args));
            match &c.result {
                Ok(v) => out.push_str(&format!("   {name}({args}) = {}\n", p(v))),
                Err(e) => out.push_str(&format!("   {name}({args}) = -1 {}\n", p(e))),
            }
        }
        for s in &self.shell {
            out.push_str(&format!("   $ {}\n", p(s)));
        }
        for n in &self.notes {
            out.push_str(&format!("   # {}\n", p(n)));
        }
        out
    }
}

fn short_debug<T: std::fmt::Debug>(v: &T) -> String {
    let s = format!("{v:?}");
    if s == "()" { "0".to_string() } else { s }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn records_success_and_errno() {
        let mut r = Report::new("uts");
        let _ = r.call("unshare", "CLONE_NEWUTS", Ok(()));
        let _ = r.call::<()>("sethostname", "\"box\"", Err(Errno::EPERM));
        assert_eq!(r.calls[0].result, Ok("0".to_string()));
        assert_eq!(r.calls[1].result, Err(CallError::from_errno(Errno::EPERM)));
        assert_eq!(r.errno(), Some(Errno::EPERM));
        assert_eq!(r.failure().map(|c| c.name.as_str()), Some("sethostname"));
        let text = r.render();
        assert!(text.contains("sethostname(\"box\") = -1 EPERM"), "{text}");
    }

    #[test]
    fn printable_escapes_every_control_character_visibly() {
        assert_eq!(printable("plain: ü ✓"), "plain: ü ✓");
        assert_eq!(
            printable("\x1b[2J\x1b]0;t\x07"),
            "\\u{1b}[2J\\u{1b}]0;t\\u{7}"
        );
        // C1 CSI, DEL, a newline and a tab: nothing raw below U+00A0 but text.
        assert_eq!(
            printable("a\u{9b}b\x7fc\nd\te"),
            "a\\u{9b}b\\u{7f}c\\nd\\te"
        );
        assert_eq!(printable_lines("a\x1b\nb"), "a\\u{1b}\nb");
    }

    #[test]
    fn a_rendered_report_carries_no_raw_escape() {
        let mut r = Report::new("exec \x1b[31mred");
        let _ = r.call("execve", "[\"\x1b]0;owned\x07\"]", Ok(()));
        r.shell("hostname \x1b[2J\nfake line");
        r.note("\u{9b}31m");
        let text = r.render();
        assert!(
            !text.chars().any(|c| c.is_control() && c != '\n'),
            "{text:?}"
        );
        assert_eq!(text.lines().count(), 4, "{text}");
        assert!(text.contains("$ hostname \\u{1b}[2J\\nfake line"), "{text}");
    }

    #[test]
    fn a_failure_is_sent_as_its_text_and_read_back_with_its_errno() {
        let mut r = Report::new("exec");
        let _ = r.call::<()>("execve", "\"/bin/sh\"", Err(Errno::ENOENT));
        let _ = r.io::<()>(
            "netlink",
            "ip link add",
            Err(std::io::Error::other("RTNETLINK answers: File exists")),
        );
        let json = serde_json::to_string(&r).unwrap();
        assert!(
            json.contains(r#""result":{"Err":"ENOENT: No such file or directory"}"#),
            "{json}"
        );
        assert!(
            json.contains(r#"{"Err":"RTNETLINK answers: File exists"}"#),
            "{json}"
        );
        let back: Report = serde_json::from_str(&json).unwrap();
        assert_eq!(back, r);
        assert_eq!(back.errno(), Some(Errno::ENOENT));
        assert_eq!(back.calls[1].result.as_ref().unwrap_err().errno, None);
        assert_eq!(errno_named("EINVAL"), Some(Errno::EINVAL));
        assert_eq!(errno_named("RTNETLINK answers"), None);
    }
}
