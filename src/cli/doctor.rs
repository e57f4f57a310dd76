//! `underhood doctor`: can this machine run the lessons? One line per capability the
//! lessons need, each `yes`, `no`, `warn` (works, but worth knowing) or `skip` (could not
//! be checked here), with why and how to fix it. Exit 0 when nothing needed is missing,
//! 1 otherwise.
//!
//! Gathering ([`gather`]) reads the host once into plain [`Facts`]; deciding ([`checks`])
//! is a pure function of those facts, unit-tested on fixture facts below; [`render`]
//! turns the verdicts into text.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use underhood::observe::host::{self, HostRoots, Overlay, UsernsVerdict};
use underhood::runtime::cgroup::{self, Controller, Version};
use underhood::runtime::{assemble, paths::Paths, state};

/// The smallest terminal the TUI draws in (`ui::draw::MIN_WIDTH` x `MIN_HEIGHT`).
const MIN_COLS: u16 = underhood::ui::draw::MIN_WIDTH;
const MIN_ROWS: u16 = underhood::ui::draw::MIN_HEIGHT;

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

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CgroupFacts {
    /// "hybrid (memory on v1)", "cgroup v2", ...
    pub layout: String,
    pub source: String,
    pub controllers: Vec<ControllerFacts>,
    /// Rootless on v2: our own cgroup (from /proc/self/cgroup) and whether we may write
    /// to it, i.e. whether systemd delegated it to us.
    pub own_v2_cgroup: Option<(PathBuf, bool)>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ControllerFacts {
    pub controller: Controller,
    /// Where underhood would make its cgroup for this controller: the hierarchy's mount
    /// (`/sys/fs/cgroup/memory` on v1, `/sys/fs/cgroup` on v2). `None`: no hierarchy has it.
    pub hierarchy: Option<(Version, PathBuf)>,
    /// access(2) W_OK on that directory: may we mkdir our cgroup there?
    pub writable: bool,
    /// v2 only: already in the parent's `cgroup.subtree_control`.
    pub enabled_for_children: bool,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RootfsFacts {
    pub dir: PathBuf,
    /// "busybox" or "host tools".
    pub source: String,
    pub shell: String,
    pub tools: usize,
    pub tools_layer: PathBuf,
}

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TermFacts {
    /// Standard output is a terminal.
    pub tty: bool,
    pub term: Option<String>,
    pub colorterm: Option<String>,
    /// `NO_COLOR` set and not empty (https://no-color.org).
    pub no_color: bool,
    /// Columns x rows, when stdout is a terminal that answered TIOCGWINSZ.
    pub size: Option<(u16, u16)>,
}

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SessionFacts {
    pub state_dir: PathBuf,
    /// Sessions whose controller is gone (or whose pid was reused).
    pub stale: Vec<String>,
    /// Sessions whose controller runs.
    pub live: Vec<String>,
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

fn check_root(euid: u32) -> Check {
    if euid == 0 {
        return Check::new("root", Status::Yes, "running as root (uid 0)");
    }
    Check::new(
        "root",
        Status::Warn,
        format!("running as uid {euid}: rootless mode"),
    )
    .why(
        "without root, every container gets a user namespace mapping your uid to root inside, \
         and cgroup limits (the memory lesson) need a cgroup you may write to",
    )
    .fix("run `sudo underhood` for every lesson, or read on for what works rootless")
}

fn check_userns(root: bool, v: &UsernsVerdict) -> Check {
    let name = "user namespaces";
    match (v, root) {
        (UsernsVerdict::Allowed, true) => Check::new(
            name,
            Status::Yes,
            "root may create them (and unprivileged users may too)",
        ),
        (UsernsVerdict::Allowed, false) => Check::new(
            name,
            Status::Yes,
            "allowed for unprivileged users: rootless containers work",
        ),
        (
            UsernsVerdict::Disabled { reason, remedy }
            | UsernsVerdict::RestrictedByAppArmor { reason, remedy },
            true,
        ) => Check::new(
            name,
            Status::Warn,
            "root may create them (`run --userns` works); unprivileged users may not",
        )
        .why(reason.clone())
        .fix(format!("only for rootless use: {remedy}")),
        (
            UsernsVerdict::Disabled { reason, remedy }
            | UsernsVerdict::RestrictedByAppArmor { reason, remedy },
            false,
        ) => Check::new(name, Status::No, "not usable by you")
            .why(reason.clone())
            .fix(remedy.clone()),
    }
}

fn check_cgroups(root: bool, cg: &Result<CgroupFacts, String>) -> Vec<Check> {
    let facts = match cg {
        Ok(f) => f,
        Err(e) => {
            return vec![
                Check::new("cgroups", Status::No, "no cgroup hierarchy found")
                    .why(e.clone())
                    .fix(
                        "mount cgroup2 (`sudo mount -t cgroup2 none /sys/fs/cgroup`) or boot \
                         with systemd, which mounts cgroups",
                    ),
            ];
        }
    };
    let mut out = vec![Check::new(
        "cgroups",
        Status::Yes,
        format!("{} (from {})", facts.layout, facts.source),
    )];
    for c in &facts.controllers {
        out.push(check_controller(root, c, facts.own_v2_cgroup.as_ref()));
    }
    out
}

fn check_controller(root: bool, c: &ControllerFacts, own: Option<&(PathBuf, bool)>) -> Check {
    let name = format!("  {} controller", c.controller.name());
    // The memory lesson (the hog, the OOM kill) needs memory; pids and cpu are extras
    // for `run --pids/--cpus`.
    let missing = if c.controller == Controller::Memory {
        Status::No
    } else {
        Status::Warn
    };
    let used_for = match c.controller {
        Controller::Memory => "the memory limit and the OOM lesson",
        Controller::Pids => "`run --pids`",
        Controller::Cpu => "`run --cpus`",
    };
    let Some((version, dir)) = &c.hierarchy else {
        return Check::new(&name, missing, "missing: no mounted hierarchy offers it")
            .why(format!("needed for {used_for}"))
            .fix(format!(
                "enable it in the kernel (CONFIG_{}) or its boot options (cgroup_enable={})",
                match c.controller {
                    Controller::Memory => "MEMCG",
                    Controller::Pids => "CGROUP_PIDS",
                    Controller::Cpu => "CGROUP_SCHED",
                },
                c.controller.name()
            ));
    };
    let place = format!("{version} at {}", dir.display());
    if c.writable {
        let mut found = format!("{place}, usable");
        if *version == Version::V2 && !c.enabled_for_children {
            found.push_str(" (underhood enables it in cgroup.subtree_control on first use)");
        }
        return Check::new(&name, Status::Yes, found);
    }
    let mut check = Check::new(
        &name,
        missing,
        format!("{place}, but you may not create a cgroup there"),
    )
    .why(format!(
        "underhood makes its cgroup directly under {} (needed for {used_for})",
        dir.display()
    ));
    check = match (root, version, own) {
        (false, Version::V2, Some((own_dir, true))) => check.fix(format!(
            "run as root (`sudo underhood`); your own cgroup {} is delegated to you, but \
             underhood does not create cgroups below it yet",
            own_dir.display()
        )),
        (false, Version::V2, Some((own_dir, false))) => check.fix(format!(
            "run as root (`sudo underhood`); rootless runtimes need a delegated cgroup, e.g. \
             `systemd-run --user --scope -p Delegate=yes`, and {} is not writable by you",
            own_dir.display()
        )),
        (false, _, _) => check.fix("run as root (`sudo underhood`)"),
        (true, _, _) => check.fix(format!(
            "check that {} is mounted read-write (`mount | grep cgroup`)",
            dir.display()
        )),
    };
    check
}

/// The limits this user cannot set here, by doctor's own verdict on each controller:
/// one line each saying why and what would give it. The TUI takes no cgroup step for
/// them (it shows the step as skipped with this line) and `run` says it on a refusal.
pub fn unusable_controllers(paths: &Paths) -> Vec<(Controller, String)> {
    let root = nix::unistd::geteuid().is_root();
    let facts = match gather_cgroups(paths) {
        Ok(f) => f,
        Err(e) => {
            return Controller::ALL
                .iter()
                .map(|&c| (c, format!("no cgroup hierarchy found: {e}")))
                .collect();
        }
    };
    facts
        .controllers
        .iter()
        .filter_map(|c| {
            let check = check_controller(root, c, facts.own_v2_cgroup.as_ref());
            if check.status == Status::Yes {
                return None;
            }
            let mut line = format!("{} controller: {}", c.controller.name(), check.found);
            if let Some(fix) = &check.fix {
                line.push_str("; to get it: ");
                line.push_str(fix);
            }
            Some((c.controller, line))
        })
        .collect()
}

fn check_overlay(root: bool, o: Overlay) -> Check {
    let name = "overlayfs";
    match o {
        Overlay::Available => Check::new(name, Status::Yes, "available (in /proc/filesystems)"),
        Overlay::Module if root => Check::new(
            name,
            Status::Yes,
            "a module, not loaded yet: the kernel loads overlay.ko on the first mount",
        ),
        Overlay::Module => Check::new(name, Status::Warn, "a module, not loaded yet")
            .why("the kernel should load it on the first overlay mount, unless module loading is restricted")
            .fix("`sudo modprobe overlay` (add `overlay` to /etc/modules-load.d/ to keep it)"),
        Overlay::Missing => Check::new(name, Status::No, "missing: not built in and no overlay module")
            .why("every container's root is an overlay: a read-only image below, a writable layer per session above")
            .fix(
                "install your distribution's kernel modules (Ubuntu: `sudo apt install \
                 linux-modules-extra-$(uname -r)`), then `sudo modprobe overlay`",
            ),
    }
}

fn check_rootfs(r: &Result<RootfsFacts, RootfsProblem>) -> Check {
    match r {
        Ok(r) => Check::new(
            "rootfs",
            Status::Yes,
            format!(
                "{}: {}, shell {}, {} tools; our tools layer at {}",
                r.dir.display(),
                r.source,
                r.shell,
                r.tools,
                r.tools_layer.display()
            ),
        ),
        Err(RootfsProblem::Cache { dir, error }) => Check::new(
            "rootfs",
            Status::No,
            format!("the cache directory {} cannot be written", dir.display()),
        )
        .why(format!(
            "the default root filesystem is assembled there once: {error}"
        ))
        .fix(format!(
            "make {} writable for this user, or point XDG_CACHE_HOME at a writable \
             directory (HOME may be read-only or missing)",
            dir.display()
        )),
        Err(RootfsProblem::Assemble(e)) => Check::new(
            "rootfs",
            Status::No,
            "the default root filesystem cannot be assembled",
        )
        .why(e.clone())
        .fix(
            "install busybox (`sudo apt install busybox-static`) or make sure a shell is in \
             /bin; or give lessons a rootfs with `--rootfs DIR` / `--image FILE`",
        ),
    }
}

/// Why the default rootfs is not there: the place it goes, or the making of it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RootfsProblem {
    /// The cache directory cannot be created or written (a read-only or missing HOME).
    Cache {
        dir: PathBuf,
        error: String,
    },
    Assemble(String),
}

fn check_terminal(t: &TermFacts) -> Vec<Check> {
    let term = t.term.as_deref().unwrap_or("");
    let size = if !t.tty {
        Check::new(
            "terminal",
            Status::Skip,
            "standard output is not a terminal: size not checked",
        )
        .why(format!(
            "the TUI needs a terminal of at least {MIN_COLS}x{MIN_ROWS}; `underhood run` needs none"
        ))
    } else if term.is_empty() || term == "dumb" {
        Check::new(
            "terminal",
            Status::No,
            format!(
                "TERM is {}",
                if term.is_empty() { "not set" } else { "dumb" }
            ),
        )
        .why("the TUI moves the cursor and redraws panes, which a dumb terminal cannot do")
        .fix("`export TERM=xterm-256color` (or run underhood in a real terminal emulator)")
    } else {
        match t.size {
            Some((c, r)) if c >= MIN_COLS && r >= MIN_ROWS => Check::new(
                "terminal",
                Status::Yes,
                format!("{c}x{r}, TERM={term}"),
            ),
            Some((c, r)) => Check::new(
                "terminal",
                Status::No,
                format!("{c}x{r}, smaller than {MIN_COLS}x{MIN_ROWS}"),
            )
            .why("the panes (namespaces, processes, mounts, memory) do not fit")
            .fix("make the window larger or the font smaller (on a projector: Ctrl+- in most terminals)"),
            None => Check::new("terminal", Status::Warn, format!("TERM={term}, size unknown"))
                .why("the terminal did not answer TIOCGWINSZ")
                .fix(format!("make sure the window is at least {MIN_COLS}x{MIN_ROWS}")),
        }
    };
    let colours = if t.no_color {
        Check::new("colours", Status::Warn, "off: NO_COLOR is set")
            .why("the lessons then mark things with bold and reverse video only")
            .fix("`unset NO_COLOR` for colours; `--high-contrast` suits projectors")
    } else {
        let truecolor = t
            .colorterm
            .as_deref()
            .is_some_and(|c| c == "truecolor" || c == "24bit");
        let depth = if truecolor {
            "24-bit colour"
        } else if term.contains("256color") {
            "256 colours"
        } else if term.is_empty() || term == "dumb" {
            "none known (TERM not set)"
        } else {
            "basic colours (enough)"
        };
        Check::new("colours", Status::Yes, depth)
    };
    vec![size, colours]
}

fn check_sessions(root: bool, s: &SessionFacts) -> Check {
    let live = match s.live.len() {
        0 => String::new(),
        n => format!(
            "; {n} live session{} left alone",
            if n == 1 { "" } else { "s" }
        ),
    };
    if s.stale.is_empty() {
        return Check::new(
            "stale sessions",
            Status::Yes,
            format!("none in {}{live}", s.state_dir.display()),
        );
    }
    Check::new(
        "stale sessions",
        Status::Warn,
        format!("{} found: {}{live}", s.stale.len(), s.stale.join(", ")),
    )
    .why(
        "a crashed underhood left mounts, cgroups or veths behind; they are recorded and can \
         be removed exactly",
    )
    .fix(format!(
        "`{}underhood cleanup` (every start of underhood also does it)",
        if root { "" } else { "sudo " }
    ))
}

/// 1 when something the lessons need is missing.
pub fn exit_code(checks: &[Check]) -> u8 {
    u8::from(checks.iter().any(|c| c.status == Status::No))
}

/// The report: a header, one aligned line per check with `why`/`fix` under it, a summary.
pub fn render(checks: &[Check], colour: bool) -> String {
    let width = checks.iter().map(|c| c.name.len()).max().unwrap_or(0);
    let paint = |s: Status| {
        let label = format!("{:<4}", s.label());
        if !colour {
            return label;
        }
        let code = match s {
            Status::Yes => "32",
            Status::No => "1;31",
            Status::Warn => "33",
            Status::Skip => "2",
        };
        format!("\x1b[{code}m{label}\x1b[0m")
    };
    let mut out = String::from("underhood doctor: can this machine run the lessons?\n\n");
    for c in checks {
        out.push_str(&format!(
            "  {}  {:<width$}  {}\n",
            paint(c.status),
            c.name,
            c.found
        ));
        let indent = " ".repeat(2 + 4 + 2 + width + 2);
        if let Some(w) = &c.why {
            out.push_str(&format!("{indent}why: {w}\n"));
        }
        if let Some(f) = &c.fix {
            out.push_str(&format!("{indent}fix: {f}\n"));
        }
    }
    let missing: Vec<&str> = checks
        .iter()
        .filter(|c| c.status == Status::No)
        .map(|c| c.name.trim())
        .collect();
    out.push('\n');
    if missing.is_empty() {
        out.push_str("Everything the lessons need is here.");
        if checks.iter().any(|c| c.status == Status::Warn) {
            out.push_str(" Lines marked warn are worth a look.");
        }
        out.push('\n');
    } else {
        out.push_str(&format!(
            "Missing for the lessons: {}. See the `fix:` lines above.\n",
            missing.join(", ")
        ));
    }
    out
}

/// Reads everything [`checks`] decides on. Assembling the default rootfs may take a few
/// seconds the first time (it is cached afterwards).
pub fn gather(paths: &Paths) -> Facts {
    gather_with(paths, gather_rootfs(paths))
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

fn writable(dir: &Path) -> bool {
    nix::unistd::access(dir, nix::unistd::AccessFlags::W_OK).is_ok()
}

fn gather_cgroups(paths: &Paths) -> Result<CgroupFacts, String> {
    let host = cgroup::Host::detect(paths).map_err(|e| format!("{e:#}"))?;
    let controllers = Controller::ALL
        .iter()
        .map(|&c| {
            let h = host.hierarchy(c);
            let enabled_for_children = h.is_some_and(|h| {
                h.version == Version::V2
                    && std::fs::read_to_string(h.mount.join("cgroup.subtree_control"))
                        .is_ok_and(|t| t.split_whitespace().any(|n| n == c.name()))
            });
            ControllerFacts {
                controller: c,
                hierarchy: h.map(|h| (h.version, h.mount.clone())),
                writable: h.is_some_and(|h| writable(&h.mount)),
                enabled_for_children,
            }
        })
        .collect();
    // cgroups(7): the line `0::PATH` names our cgroup in the v2 hierarchy.
    let own_v2_cgroup = host
        .hierarchies
        .iter()
        .find(|h| h.version == Version::V2)
        .and_then(|h| {
            let text = std::fs::read_to_string(paths.proc_root.join("self/cgroup")).ok()?;
            let rel = text.lines().find_map(|l| l.strip_prefix("0::"))?;
            let dir = h.mount.join(rel.trim_start_matches('/'));
            let w = writable(&dir);
            Some((dir, w))
        });
    Ok(CgroupFacts {
        layout: host.to_string(),
        source: host.source.clone(),
        controllers,
        own_v2_cgroup,
    })
}

fn gather_rootfs(paths: &Paths) -> Result<RootfsFacts, RootfsProblem> {
    // The cache first: without it nothing can be assembled, whatever the host has, and
    // the fix is the directory, not a package.
    let cache = &paths.cache_dir;
    let usable = std::fs::create_dir_all(cache).and_then(|()| {
        nix::unistd::access(cache, nix::unistd::AccessFlags::W_OK).map_err(std::io::Error::from)
    });
    if let Err(e) = usable {
        return Err(RootfsProblem::Cache {
            dir: cache.clone(),
            error: e.to_string(),
        });
    }
    let problem = |e: anyhow::Error| RootfsProblem::Assemble(format!("{e:#}"));
    let a = assemble::assemble_default(paths).map_err(problem)?;
    let tools_layer = assemble::tools_layer(paths).map_err(problem)?;
    Ok(RootfsFacts {
        dir: a.dir,
        source: a.source,
        shell: a.shell,
        tools: a.tools.len(),
        tools_layer,
    })
}

fn gather_terminal() -> TermFacts {
    let env = |k: &str| std::env::var(k).ok().filter(|v| !v.is_empty());
    let tty = nix::unistd::isatty(std::io::stdout()).unwrap_or(false);
    TermFacts {
        tty,
        term: env("TERM"),
        colorterm: env("COLORTERM"),
        no_color: env("NO_COLOR").is_some(),
        size: if tty { window_size() } else { None },
    }
}

/// tty_ioctl(4) TIOCGWINSZ on standard output.
fn window_size() -> Option<(u16, u16)> {
    let mut ws = libc::winsize {
        ws_row: 0,
        ws_col: 0,
        ws_xpixel: 0,
        ws_ypixel: 0,
    };
    // SAFETY: TIOCGWINSZ writes one `struct winsize` to the pointer, which points at a
    // live, properly aligned local of that type.
    let rc = unsafe { libc::ioctl(libc::STDOUT_FILENO, libc::TIOCGWINSZ, &mut ws) };
    (rc == 0 && ws.ws_col > 0 && ws.ws_row > 0).then_some((ws.ws_col, ws.ws_row))
}

fn gather_sessions(paths: &Paths) -> SessionFacts {
    let mut s = SessionFacts {
        state_dir: paths.state_dir.clone(),
        ..Default::default()
    };
    for (dir, st) in state::list(paths) {
        let id = dir
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        if state::is_stale(paths, &dir, &st) {
            s.stale.push(id);
        } else {
            s.live.push(id);
        }
    }
    s
}

/// Version of the `--json` report's shape; bump when a field changes meaning.
const JSON_FORMAT: u32 = 1;

/// The report as one JSON object, for an organiser collecting a room's readiness
/// before a workshop: `{"format", "underhood", "host", "ready", "checks": [...]}`,
/// each check with `name`, `status` (yes/no/warn/skip), `found`, `why`, `fix`.
pub fn render_json(checks: &[Check], host: &str) -> String {
    let value = serde_json::json!({
        "format": JSON_FORMAT,
        "underhood": crate::cli::version::LONG,
        "host": host,
        "ready": exit_code(checks) == 0,
        // Names are indented in the report under the line they belong to; not here.
        "checks": checks.iter().map(|c| serde_json::json!({
            "name": c.name.trim(),
            "status": c.status,
            "found": c.found,
            "why": c.why,
            "fix": c.fix,
        })).collect::<Vec<_>>(),
    });
    format!("{value}\n")
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

#[cfg(test)]
mod tests {
    use super::*;

    /// This machine as root: hybrid cgroups with memory, pids and cpu on v1.
    fn good_root() -> Facts {
        let v1 = |c: Controller, dir: &str| ControllerFacts {
            controller: c,
            hierarchy: Some((Version::V1, PathBuf::from(dir))),
            writable: true,
            enabled_for_children: false,
        };
        Facts {
            euid: 0,
            userns: UsernsVerdict::Allowed,
            overlay: Overlay::Available,
            cgroups: Ok(CgroupFacts {
                layout: "hybrid (memory on v1)".into(),
                source: "mounts in /proc/self/mountinfo".into(),
                controllers: vec![
                    v1(Controller::Memory, "/sys/fs/cgroup/memory"),
                    v1(Controller::Pids, "/sys/fs/cgroup/pids"),
                    v1(Controller::Cpu, "/sys/fs/cgroup/cpu"),
                ],
                own_v2_cgroup: None,
            }),
            rootfs: Ok(RootfsFacts {
                dir: "/var/cache/underhood/rootfs-3c3e036e4a264e32/rootfs".into(),
                source: "host tools".into(),
                shell: "/bin/bash".into(),
                tools: 60,
                tools_layer: "/var/cache/underhood/tools-149499048ea5054c".into(),
            }),
            terminal: TermFacts {
                tty: true,
                term: Some("xterm-256color".into()),
                colorterm: None,
                no_color: false,
                size: Some((120, 40)),
            },
            sessions: SessionFacts {
                state_dir: "/run/underhood".into(),
                ..Default::default()
            },
            problems: Vec::new(),
        }
    }

    /// A laptop with Ubuntu 24.04, rootless, cgroup v2 with a delegated user cgroup.
    fn ubuntu_rootless() -> Facts {
        let v2 = |c: Controller| ControllerFacts {
            controller: c,
            hierarchy: Some((Version::V2, PathBuf::from("/sys/fs/cgroup"))),
            writable: false,
            enabled_for_children: true,
        };
        Facts {
            euid: 1000,
            userns: ubuntu_userns(),
            overlay: Overlay::Module,
            cgroups: Ok(CgroupFacts {
                layout: "cgroup v2".into(),
                source: "mounts in /proc/self/mountinfo".into(),
                controllers: vec![
                    v2(Controller::Memory),
                    v2(Controller::Pids),
                    v2(Controller::Cpu),
                ],
                own_v2_cgroup: Some((
                    "/sys/fs/cgroup/user.slice/user-1000.slice/user@1000.service/app.slice/x.scope"
                        .into(),
                    true,
                )),
            }),
            ..good_root()
        }
    }

    /// Ubuntu 24.04's knobs, with AppArmor active.
    fn ubuntu_userns() -> UsernsVerdict {
        host::UsernsKnobs {
            max_user_namespaces: Some(63432),
            unprivileged_userns_clone: Some(true),
            apparmor_restrict_unprivileged_userns: Some(true),
        }
        .verdict(Some(&["capability".into(), "apparmor".into()]))
    }

    fn find<'a>(checks: &'a [Check], name: &str) -> &'a Check {
        checks
            .iter()
            .find(|c| c.name.trim() == name)
            .unwrap_or_else(|| panic!("no check {name:?} in {checks:#?}"))
    }

    #[test]
    fn a_good_root_host_passes_with_every_line_yes() {
        let list = checks(&good_root());
        assert_eq!(exit_code(&list), 0);
        assert!(
            list.iter().all(|c| c.status == Status::Yes),
            "{}",
            render(&list, false)
        );
        let text = render(&list, false);
        assert!(
            text.contains("Everything the lessons need is here."),
            "{text}"
        );
        assert!(
            text.contains("memory controller  v1 at /sys/fs/cgroup/memory, usable"),
            "{text}"
        );
        // One line per check, no colour codes when asked for none.
        assert!(!text.contains('\x1b'));
        assert!(render(&list, true).contains("\x1b[32myes \x1b[0m"));
    }

    #[test]
    fn ubuntu_rootless_is_told_the_exact_apparmor_remedy_and_fails() {
        let list = checks(&ubuntu_rootless());
        assert_eq!(exit_code(&list), 1);
        let u = find(&list, "user namespaces");
        assert_eq!(u.status, Status::No);
        assert!(
            u.fix.as_deref().is_some_and(
                |f| f.contains("sudo sysctl kernel.apparmor_restrict_unprivileged_userns=0")
            ),
            "{u:?}"
        );
        assert!(u.why.as_deref().is_some_and(|w| w.contains("EPERM")));
        assert_eq!(find(&list, "root").status, Status::Warn);
        // Memory on v2 at the root, not writable: the lesson cannot limit memory.
        let m = find(&list, "memory controller");
        assert_eq!(m.status, Status::No);
        assert!(
            m.fix
                .as_deref()
                .is_some_and(|f| f.contains("delegated to you")),
            "{m:?}"
        );
        // pids/cpu are extras: a warning only.
        assert_eq!(find(&list, "pids controller").status, Status::Warn);
        // An overlay module not loaded yet, rootless: worth a modprobe.
        let o = find(&list, "overlayfs");
        assert_eq!(o.status, Status::Warn);
        assert!(
            o.fix
                .as_deref()
                .is_some_and(|f| f.contains("modprobe overlay"))
        );
        let text = render(&list, false);
        assert!(
            text.contains("Missing for the lessons: user namespaces, memory controller."),
            "{text}"
        );
    }

    #[test]
    fn root_is_not_failed_by_the_unprivileged_userns_restriction() {
        let f = Facts {
            userns: ubuntu_userns(),
            ..good_root()
        };
        let list = checks(&f);
        assert_eq!(exit_code(&list), 0);
        let u = find(&list, "user namespaces");
        assert_eq!(u.status, Status::Warn);
        assert!(
            u.fix
                .as_deref()
                .is_some_and(|f| f.starts_with("only for rootless use"))
        );
    }

    #[test]
    fn missing_overlay_rootfs_or_memory_each_fail() {
        let mut f = good_root();
        f.overlay = Overlay::Missing;
        let list = checks(&f);
        assert_eq!(exit_code(&list), 1);
        assert!(
            find(&list, "overlayfs")
                .fix
                .as_deref()
                .is_some_and(|x| x.contains("linux-modules-extra"))
        );

        let mut f = good_root();
        f.rootfs = Err(RootfsProblem::Assemble(
            "no shell for the default rootfs: neither busybox nor ...".into(),
        ));
        let list = checks(&f);
        assert_eq!(exit_code(&list), 1);
        assert!(
            find(&list, "rootfs")
                .why
                .as_deref()
                .is_some_and(|w| w.contains("no shell"))
        );

        let mut f = good_root();
        if let Ok(cg) = &mut f.cgroups {
            cg.controllers[0].hierarchy = None;
            cg.controllers[1].hierarchy = None;
        }
        let list = checks(&f);
        assert_eq!(find(&list, "memory controller").status, Status::No);
        assert_eq!(find(&list, "pids controller").status, Status::Warn);
        assert_eq!(exit_code(&list), 1);

        let mut f = good_root();
        f.cgroups = Err("no cgroup hierarchy found under /sys/fs/cgroup".into());
        let list = checks(&f);
        assert_eq!(find(&list, "cgroups").status, Status::No);
    }

    #[test]
    fn overlay_module_is_fine_for_root() {
        let f = Facts {
            overlay: Overlay::Module,
            ..good_root()
        };
        let list = checks(&f);
        assert_eq!(find(&list, "overlayfs").status, Status::Yes);
        assert_eq!(exit_code(&list), 0);
    }

    #[test]
    fn terminal_size_term_and_colours() {
        let with = |t: TermFacts| {
            checks(&Facts {
                terminal: t,
                ..good_root()
            })
        };
        let small = with(TermFacts {
            size: Some((79, 24)),
            ..good_root().terminal
        });
        let t = find(&small, "terminal");
        assert_eq!(t.status, Status::No);
        assert!(t.found.contains("79x24, smaller than 80x24"), "{t:?}");
        assert_eq!(exit_code(&small), 1);

        let exact = with(TermFacts {
            size: Some((80, 24)),
            ..good_root().terminal
        });
        assert_eq!(find(&exact, "terminal").status, Status::Yes);

        let dumb = with(TermFacts {
            term: Some("dumb".into()),
            ..good_root().terminal
        });
        assert_eq!(find(&dumb, "terminal").status, Status::No);
        assert!(
            find(&dumb, "terminal")
                .fix
                .as_deref()
                .is_some_and(|f| f.contains("TERM="))
        );

        // Piped (CI, `doctor | less`): nothing to measure, not a failure.
        let piped = with(TermFacts {
            tty: false,
            term: None,
            size: None,
            ..Default::default()
        });
        assert_eq!(find(&piped, "terminal").status, Status::Skip);
        assert_eq!(exit_code(&piped), 0);

        let no_color = with(TermFacts {
            no_color: true,
            ..good_root().terminal
        });
        let c = find(&no_color, "colours");
        assert_eq!(c.status, Status::Warn);
        assert!(c.found.contains("NO_COLOR"));
        assert_eq!(exit_code(&no_color), 0);

        let truecolor = with(TermFacts {
            colorterm: Some("truecolor".into()),
            ..good_root().terminal
        });
        assert_eq!(find(&truecolor, "colours").found, "24-bit colour");
    }

    #[test]
    fn stale_sessions_warn_with_the_cleanup_command() {
        let mut f = good_root();
        f.sessions.stale = vec!["0a1b2c3d".into(), "deadbeef".into()];
        f.sessions.live = vec!["12345678".into()];
        let list = checks(&f);
        let s = find(&list, "stale sessions");
        assert_eq!(s.status, Status::Warn);
        assert!(
            s.found
                .contains("2 found: 0a1b2c3d, deadbeef; 1 live session left alone")
        );
        assert_eq!(
            s.fix.as_deref(),
            Some("`underhood cleanup` (every start of underhood also does it)")
        );
        assert_eq!(exit_code(&list), 0, "stale sessions do not stop a lesson");
        f.euid = 1000;
        let list = checks(&f);
        assert!(
            find(&list, "stale sessions")
                .fix
                .as_deref()
                .is_some_and(|x| x.starts_with("`sudo underhood cleanup`"))
        );
    }

    #[test]
    fn why_and_fix_are_indented_under_their_line() {
        let list = checks(&ubuntu_rootless());
        let text = render(&list, false);
        let line = text
            .lines()
            .position(|l| l.contains("user namespaces") && l.contains("no "))
            .expect("userns line");
        let lines: Vec<&str> = text.lines().collect();
        assert!(lines[line + 1].trim_start().starts_with("why: "), "{text}");
        assert!(lines[line + 2].trim_start().starts_with("fix: "), "{text}");
        let col = lines[line].find("not usable").expect("found column");
        assert_eq!(lines[line + 1].find("why:"), Some(col), "{text}");
    }

    #[test]
    fn live_host_gathers_without_panicking() {
        // Reads this machine; only shapes are checked (the verdicts depend on the host).
        let f = gather_with(
            &Paths::host(),
            Err(RootfsProblem::Assemble(
                "not assembled in a unit test".into(),
            )),
        );
        let list = checks(&f);
        assert!(list.iter().any(|c| c.name == "cgroups"));
        assert_eq!(f.euid == 0, find(&list, "root").status == Status::Yes);
    }

    #[test]
    fn json_report_names_every_check_and_the_verdict() {
        let list = checks(&good_root());
        let v: serde_json::Value = serde_json::from_str(&render_json(&list, "lab-07")).unwrap();
        assert_eq!(v["format"], 1);
        assert_eq!(v["host"], "lab-07");
        assert_eq!(v["ready"], true);
        assert_eq!(v["checks"].as_array().unwrap().len(), list.len());
        assert_eq!(v["checks"][0]["name"], list[0].name.trim());
        assert!(
            v["checks"]
                .as_array()
                .unwrap()
                .iter()
                .all(|c| !c["name"].as_str().unwrap().starts_with(' '))
        );
        assert_eq!(v["checks"][0]["status"], "yes");
        let mut bad = list.clone();
        bad[0].status = Status::No;
        let v: serde_json::Value = serde_json::from_str(&render_json(&bad, "x")).unwrap();
        assert_eq!(v["ready"], false);
        assert_eq!(v["checks"][0]["status"], "no");
    }

    /// A user whose HOME cannot be written is told about the directory, not busybox.
    #[test]
    fn an_unwritable_cache_names_the_directory_not_a_package() {
        let mut f = good_root();
        f.rootfs = Err(RootfsProblem::Cache {
            dir: PathBuf::from("/home/ro/.cache/underhood"),
            error: "Read-only file system (os error 30)".into(),
        });
        let list = checks(&f);
        let c = find(&list, "rootfs");
        assert_eq!(c.status, Status::No);
        assert!(c.found.contains("/home/ro/.cache/underhood"), "{}", c.found);
        let fix = c.fix.as_deref().unwrap();
        assert!(
            fix.contains("XDG_CACHE_HOME") && !fix.contains("busybox"),
            "{fix}"
        );
    }

    /// The real gathering, with a cache directory that cannot be made (its parent is a
    /// file: the same answer for root and a normal user, unlike file modes).
    #[test]
    fn gathering_finds_an_unusable_cache_before_assembling() {
        let t = tempfile::tempdir().unwrap();
        let file = t.path().join("not-a-dir");
        std::fs::write(&file, "").unwrap();
        let paths = Paths {
            proc_root: PathBuf::from("/proc"),
            cgroup_root: PathBuf::from("/sys/fs/cgroup"),
            state_dir: t.path().join("state"),
            cache_dir: file.join("underhood"),
        };
        let err = gather_rootfs(&paths).unwrap_err();
        assert!(matches!(err, RootfsProblem::Cache { .. }), "{err:?}");
    }
}
