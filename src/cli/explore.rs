//! `underhood explore`: the live panes on any process of the host (read only), the
//! host's containers to pick from, and `--compare` with a fresh container of ours.
//! Exit status: 0; 1 when what was asked for cannot be explored (no such process, not
//! ours to read, no such runc container or cgroup); 125 when the container to compare
//! with could not be made; 128 + the signal when SIGINT, SIGTERM, SIGHUP or SIGQUIT
//! stopped `--compare` while its container was made (the container is removed first).

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::{Context, Result};
use clap::Args;
use nix::sys::signalfd::{SfdFlags, SignalFd};

use underhood::observe::containers::{self, Sources};
use underhood::observe::facts::{self, Facts};
use underhood::observe::namespaces;
use underhood::observe::{ptree, security, snapshot, target};
use underhood::runtime::cgroup::Host;
use underhood::runtime::paths::{PREFIX, Paths};
use underhood::session::explore::{self as session, OursLike, Scope};
use underhood::session::headless::pending_signal;
use underhood::session::prepare;
use underhood::ui::explore::Explored;
use underhood::ui::explore::compare::{self, Compare};
use underhood::ui::explore::driver::{self, Setup, Start};
use underhood::ui::theme::Theme;

#[derive(Args, Debug)]
pub struct ExploreArgs {
    /// The process to explore (a container's first process, or any process). Without
    /// one, a list of the host's containers to pick from.
    pid: Option<i32>,
    /// Explore runc container ID (its init process, from runc's state.json).
    #[arg(long, value_name = "ID", conflicts_with_all = ["pid", "cgroup", "compare"])]
    runc: Option<String>,
    /// Where runc keeps its state (runc's --root); default /run/runc, then Docker's and
    /// containerd's.
    #[arg(long, value_name = "DIR", requires = "runc")]
    runc_root: Option<PathBuf>,
    /// Explore the oldest process of a cgroup: its directory
    /// (/sys/fs/cgroup/memory/docker/ID) or its path in the hierarchies (/docker/ID).
    #[arg(long, value_name = "PATH", conflicts_with_all = ["pid", "compare"])]
    cgroup: Option<PathBuf>,
    /// Compare container PID with a fresh underhood container made with the same
    /// options (shared namespaces, limits); ours is removed once read.
    #[arg(long, value_name = "PID", conflicts_with = "pid")]
    compare: Option<i32>,
    /// Print what the panes read, once, as JSON, instead of the TUI.
    #[arg(long)]
    json: bool,
    /// Colours for a projector or low vision.
    #[arg(long)]
    high_contrast: bool,
}

pub fn main(args: ExploreArgs) -> ExitCode {
    match run(&args) {
        Ok(code) => code,
        Err(e) => {
            eprintln!(
                "underhood explore: {}",
                super::run::printable(&format!("{e:#}"))
            );
            ExitCode::from(1)
        }
    }
}

struct Ctx {
    paths: Paths,
    host: Option<Host>,
    sources: Sources,
}

impl Ctx {
    /// Where the explore session looks.
    fn scope(&self) -> Scope {
        Scope {
            paths: self.paths.clone(),
            host: self.host.clone(),
            sources: self.sources.clone(),
        }
    }
}

fn run(args: &ExploreArgs) -> Result<ExitCode> {
    let paths = Paths::host();
    let host = Host::detect(&paths).ok();
    let sources = Sources::host(&paths.state_dir, PREFIX);
    let ctx = Ctx {
        paths,
        host,
        sources,
    };
    let theme = Theme::from_env(args.high_contrast);
    if let Some(pid) = args.compare {
        return compare_with_ours(&ctx, pid, args.json, theme);
    }
    let resolved = match (&args.runc, &args.cgroup, args.pid) {
        (Some(id), _, _) => {
            let roots = match &args.runc_root {
                Some(r) => vec![r.clone()],
                None => target::default_runc_roots(),
            };
            let pid = target::runc_pid(&roots, id)?;
            Some(
                target::resolve(&ctx.paths.proc_root, ctx.host.as_ref(), pid)
                    .with_context(|| format!("runc container {id:?} (init pid {pid})"))?,
            )
        }
        (None, Some(path), _) => {
            let host = ctx
                .host
                .as_ref()
                .context("no cgroup hierarchy found on this host")?;
            let (pid, cg) = target::by_cgroup(&ctx.paths.proc_root, host, path)?;
            let mut r = target::resolve(&ctx.paths.proc_root, ctx.host.as_ref(), pid)?;
            r.target.cgroup = Some(cg);
            r.cgroup_note = None;
            Some(r)
        }
        (None, None, Some(pid)) => Some(target::resolve(
            &ctx.paths.proc_root,
            ctx.host.as_ref(),
            pid,
        )?),
        (None, None, None) => None,
    };
    let start = match resolved {
        None if args.json => {
            let l = containers::list(&ctx.paths.proc_root, &ctx.sources)?;
            print_json(&serde_json::json!({
                "reference_pid": l.reference.pid,
                "reference_note": l.reference_note,
                "containers": l.containers,
                "unreadable": l.unreadable.len(),
            }))?;
            return Ok(ExitCode::SUCCESS);
        }
        None => Start::Picker,
        Some(r) => {
            let explored = explored(&ctx, r.pid);
            if args.json {
                return explore_json(&ctx, &r, &explored);
            }
            Start::Explore {
                opened: ctx.scope().opened(r),
                explored,
            }
        }
    };
    driver::run(Setup {
        scope: ctx.scope(),
        theme,
        start,
    })?;
    Ok(ExitCode::SUCCESS)
}

/// The container `pid` is (or is in), as the picker would name it.
fn explored(ctx: &Ctx, pid: i32) -> Explored {
    let command = ptree::read_proc(&ctx.paths.proc_root, pid)
        .map(|p| p.command())
        .unwrap_or_default();
    let maker = match containers::list(&ctx.paths.proc_root, &ctx.sources) {
        Ok(l) => l
            .containers
            .iter()
            .filter(|c| containers::is_under(&l.entries, pid, c.pid))
            .max_by_key(|c| c.start_time)
            .map(|c| c.maker.label())
            .unwrap_or_else(|| "nobody: it shares every namespace with the host".into()),
        Err(_) => "unknown".into(),
    };
    Explored {
        pid,
        maker,
        command,
    }
}

/// Prints to stdout; a reader that went away (`| head`) is not an error.
fn print_json(v: &serde_json::Value) -> Result<()> {
    use std::io::Write;
    let text = serde_json::to_string_pretty(v)?;
    match writeln!(std::io::stdout().lock(), "{text}") {
        Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => Ok(()),
        r => r.context("writing to stdout"),
    }
}

/// `--json`: one sample, as the panes would show it.
fn explore_json(ctx: &Ctx, r: &target::Resolved, e: &Explored) -> Result<ExitCode> {
    let (reference, note) = containers::host_reference(&ctx.paths.proc_root)?;
    let snap = snapshot::sample(&ctx.paths.proc_root, &r.target, std::time::Duration::ZERO);
    let sec = security::read(&ctx.paths.proc_root, r.pid).map_err(|e| format!("{e:#}"));
    let cgroup = r.target.cgroup.as_ref().map(|cg| {
        serde_json::json!({
            "name": cg.name(),
            "dirs": cg.dirs(),
            "limits": cg.read_limits(),
        })
    });
    print_json(&serde_json::json!({
        "pid": r.pid,
        "maker": e.maker,
        "command": e.command,
        "reference_pid": reference.pid,
        "reference_note": note,
        "host_ns": namespaces::read_links(&ctx.paths.proc_root, reference.pid),
        "snapshot": snap,
        "security": sec,
        "cgroup": cgroup,
        "cgroup_note": r.cgroup_note,
    }))?;
    Ok(ExitCode::SUCCESS)
}

/// `--compare PID`: reads PID's facts, makes a container of ours like it, reads its
/// facts, removes it, and shows (or prints) the two.
fn compare_with_ours(ctx: &Ctx, pid: i32, json: bool, theme: Theme) -> Result<ExitCode> {
    // The exit signals (Ctrl-C, SIGTERM, SIGHUP, SIGQUIT) are blocked before anything
    // is made and no thread exists yet (every thread the launch starts inherits the
    // mask, pthread_sigmask(3)), and read from a signalfd(2) between the steps: their
    // default action would end us with a container half made and never removed.
    let set = prepare::block_signals(&[]).context("blocking the exit signals")?;
    let signals = SignalFd::with_flags(&set, SfdFlags::SFD_NONBLOCK | SfdFlags::SFD_CLOEXEC)
        .context("signalfd")?;
    let r = target::resolve(&ctx.paths.proc_root, ctx.host.as_ref(), pid)?;
    let e = explored(ctx, pid);
    let (reference, _) = containers::host_reference(&ctx.paths.proc_root)?;
    let reference = namespaces::read_links(&ctx.paths.proc_root, reference.pid);
    let left = facts::read(
        &ctx.paths.proc_root,
        pid,
        r.target.cgroup.as_ref(),
        format!("{} (pid {pid})", e.maker),
        &compare::probed_paths(),
    );
    let right = match ours_like(ctx, &left, &reference, &signals) {
        Ok(OursLike::Read(f)) => *f,
        Ok(OursLike::Stopped(sig)) => {
            eprintln!(
                "underhood explore: {} received while the container to compare with was made: it was removed",
                sig.as_str()
            );
            return Ok(ExitCode::from(128 + sig as u8));
        }
        Err(err) => {
            eprintln!(
                "underhood explore: making the container to compare with: {}",
                super::run::printable(&format!("{err:#}"))
            );
            return Ok(ExitCode::from(125));
        }
    };
    // The TUI takes the exit signals itself (sigwait(2)).
    drop(signals);
    if json {
        let rows: Vec<serde_json::Value> = compare::rows(&left, &right, &reference)
            .into_iter()
            .map(|r| {
                serde_json::json!({
                    "section": r.section, "what": r.what, "left": r.left,
                    "right": r.right, "differs": r.differs,
                })
            })
            .collect();
        print_json(&serde_json::json!({
            "reference": reference, "left": left, "right": right, "rows": rows,
        }))?;
        return Ok(ExitCode::SUCCESS);
    }
    driver::run(Setup {
        scope: ctx.scope(),
        theme,
        start: Start::Compare(Box::new(Compare::new(left, right, reference, theme))),
    })?;
    Ok(ExitCode::SUCCESS)
}

/// A fresh container of ours with `left`'s options (the explore session's headless
/// launch), its facts read while it runs; it is torn down before this returns.
fn ours_like(
    ctx: &Ctx,
    left: &Facts,
    reference: &[namespaces::NsLink],
    signals: &SignalFd,
) -> Result<OursLike> {
    let opts = compare::peer_options(left, reference);
    eprintln!(
        "underhood explore: making a container of ours with the same options (shared: {}; user namespace: {}; memory {:?}, pids {:?}, cpus {:?})...",
        if opts.share.is_empty() {
            "none".to_string()
        } else {
            opts.share
                .iter()
                .map(|n| n.name())
                .collect::<Vec<_>>()
                .join(" ")
        },
        if opts.userns { "yes" } else { "no" },
        opts.limits.memory,
        opts.limits.pids,
        opts.limits.cpus,
    );
    let made = session::ours_like(&ctx.paths, &opts, &compare::probed_paths(), || {
        pending_signal(signals)
    })?;
    if let OursLike::Read(_) = made {
        eprintln!("underhood explore: read it and removed it.");
    }
    Ok(made)
}
