//! `underhood doctor`: can this machine run the lessons? One line per capability the
//! lessons need, each `yes`, `no`, `warn` (works, but worth knowing) or `skip` (could not
//! be checked here), with why and how to fix it. Exit 0 when nothing needed is missing,
//! 1 otherwise.
//!
//! Gathering ([`gather`]) reads the host once into plain [`Facts`]; deciding ([`checks`])
//! is a pure function of those facts, unit-tested on fixture facts below; [`render`]
//! turns the verdicts into text.

mod cgroups;
mod privilege;
mod report;
mod rootfs;
mod sessions;
mod terminal;
#[cfg(test)]
mod tests;

use std::process::ExitCode;

use underhood::observe::host::{self, HostRoots, Overlay, UsernsVerdict};
use underhood::runtime::paths::Paths;

pub use cgroups::{CgroupFacts, unusable_controllers};
pub use report::{exit_code, render, render_json};
pub use rootfs::{RootfsFacts, RootfsProblem};
pub use sessions::SessionFacts;
pub use terminal::TermFacts;

use cgroups::{check_cgroups, gather_cgroups};
use privilege::{check_root, check_userns};
use rootfs::{check_overlay, check_rootfs};
use sessions::{check_sessions, gather_sessions};
use terminal::{check_terminal, gather_terminal};

/// Everything doctor looks at, read once from the host.
#[derive(Debug, Clone)]
pub struct Facts {
    pub euid: u32,
    pub userns: UsernsVerdict,
    pub overlay: Overlay,
    /// The cgroup layout, or why it could not be found.
    pub cgroups: Result<CgroupFacts, String>,
    /// The default rootfs and our tools layer, or why they could not be assembled.
    pub rootfs: Result<RootfsFacts, RootfsProblem>,
    pub terminal: TermFacts,
    pub sessions: SessionFacts,
    /// Host files that exist but could not be read (from `read_host_facts`).
    pub problems: Vec<String>,
}

/// How a check came out.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Status {
    /// There and usable.
    Yes,
    /// Needed by the lessons and missing: doctor exits 1.
    No,
    /// Usable, or not needed, but worth knowing (and fixing).
    Warn,
    /// Could not be checked here (e.g. stdout is not a terminal).
    Skip,
}

impl Status {
    fn label(self) -> &'static str {
        match self {
            Status::Yes => "yes",
            Status::No => "no",
            Status::Warn => "warn",
            Status::Skip => "skip",
        }
    }
}

/// One line of the report.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Check {
    pub name: String,
    pub status: Status,
    /// What was found, in a few words.
    pub found: String,
    pub why: Option<String>,
    pub fix: Option<String>,
}

impl Check {
    fn new(name: &str, status: Status, found: impl Into<String>) -> Check {
        Check {
            name: name.to_string(),
            status,
            found: found.into(),
            why: None,
            fix: None,
        }
    }

    fn why(mut self, why: impl Into<String>) -> Check {
        self.why = Some(why.into());
        self
    }

    fn fix(mut self, fix: impl Into<String>) -> Check {
        self.fix = Some(fix.into());
        self
    }
}

/// The verdicts, in the order they are printed.
pub fn checks(f: &Facts) -> Vec<Check> {
    let root = f.euid == 0;
    let mut out = vec![check_root(f.euid), check_userns(root, &f.userns)];
    out.extend(check_cgroups(root, &f.cgroups));
    out.push(check_overlay(root, f.overlay));
    out.push(check_rootfs(&f.rootfs));
    out.extend(check_terminal(&f.terminal));
    out.push(check_sessions(root, &f.sessions));
    if !f.problems.is_empty() {
        out.push(
            Check::new(
                "host files",
                Status::Warn,
                format!("{} could not be read", f.problems.len()),
            )
            .why(f.problems.join("; ")),
        );
    }
    out
}

/// Reads everything [`checks`] decides on. Assembling the default rootfs may take a few
/// seconds the first time (it is cached afterwards).
pub fn gather(paths: &Paths) -> Facts {
    gather_with(paths, rootfs::gather_rootfs(paths))
}

fn gather_with(paths: &Paths, rootfs: Result<RootfsFacts, RootfsProblem>) -> Facts {
    let hf = host::read_host_facts(&HostRoots::from_proc_root(&paths.proc_root));
    Facts {
        euid: nix::unistd::geteuid().as_raw(),
        userns: hf.userns_verdict(),
        overlay: hf.overlay,
        cgroups: gather_cgroups(paths),
        rootfs,
        terminal: gather_terminal(),
        sessions: gather_sessions(paths),
        problems: hf.problems,
    }
}

pub fn main(json: bool) -> ExitCode {
    let paths = Paths::host();
    let facts = gather(&paths);
    let list = checks(&facts);
    if json {
        let host = nix::unistd::gethostname()
            .map(|h| h.to_string_lossy().into_owned())
            .unwrap_or_default();
        print!("{}", render_json(&list, &host));
    } else {
        let colour = facts.terminal.tty && !facts.terminal.no_color;
        print!("{}", render(&list, colour));
    }
    ExitCode::from(exit_code(&list))
}
