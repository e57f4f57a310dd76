//! What a step did, in a form a learner can read: each syscall (or cgroupfs
//! write) with its arguments and result, and the shell command that does the same.

use serde::{Deserialize, Serialize};

/// One kernel operation as it was really made.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SyscallRecord {
    /// `unshare`, `mount`, `write`, `mkdir`...
    pub name: String,
    /// The arguments as a learner would write them: `CLONE_NEWUTS`.
    pub args: String,
    /// `Ok("0")` or the error as `Err("EPERM: Operation not permitted")`.
    pub result: Result<String, String>,
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

/// Formats an errno the way `strerror` and the man pages name it.
pub fn errno_text(e: nix::errno::Errno) -> String {
    format!("{e:?}: {}", e.desc())
}

impl Report {
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
            Err(e) => Err(errno_text(*e)),
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
                Some(n) => errno_text(nix::errno::Errno::from_raw(n)),
                None => e.to_string(),
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

    /// Multi-line text for `--trace` and the TUI's syscall pane.
    pub fn render(&self) -> String {
        let mut out = if self.micros > 0 {
            format!("== {} ({} µs)\n", self.step, self.micros)
        } else {
            format!("== {}\n", self.step)
        };
        for c in &self.calls {
            match &c.result {
                Ok(v) => out.push_str(&format!("   {}({}) = {}\n", c.name, c.args, v)),
                Err(e) => out.push_str(&format!("   {}({}) = -1 {}\n", c.name, c.args, e)),
            }
        }
        for s in &self.shell {
            out.push_str(&format!("   $ {s}\n"));
        }
        for n in &self.notes {
            out.push_str(&format!("   # {n}\n"));
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
    use nix::errno::Errno;

    #[test]
    fn records_success_and_errno() {
        let mut r = Report::new("uts");
        let _ = r.call("unshare", "CLONE_NEWUTS", Ok(()));
        let _ = r.call::<()>("sethostname", "\"box\"", Err(Errno::EPERM));
        assert_eq!(r.calls[0].result, Ok("0".to_string()));
        assert_eq!(
            r.calls[1].result,
            Err("EPERM: Operation not permitted".to_string())
        );
        assert_eq!(r.failure().map(|c| c.name.as_str()), Some("sethostname"));
        let text = r.render();
        assert!(text.contains("sethostname(\"box\") = -1 EPERM"), "{text}");
    }
}
