//! `underhood run`: the whole launch, headless. Exit status: the command's (128+N when
//! killed by signal N); 2 for bad input (nothing started); 125 when a step fails;
//! 126/127 when the command cannot be run or is not found.

use std::collections::BTreeSet;
use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::{Context, Result, anyhow, bail};
use clap::Args;
use nix::sys::signal::Signal;
use nix::sys::signalfd::{SfdFlags, SignalFd};

use underhood::lesson::explain;
use underhood::ns::Ns;
use underhood::runtime::controller::StepFailure;
use underhood::runtime::image;
use underhood::runtime::launcher::RootSource;
use underhood::runtime::paths::Paths;
use underhood::runtime::plan::{DEFAULT_CAPS, NetMode, Options};
use underhood::runtime::step::{LimitSpec, RootMode, Step, Volume};
use underhood::session::headless::{Failed, Headless, Stopped, Terminal, pending_signal};
use underhood::session::prepare;
use underhood::units::{format_size, parse_size};

mod terminal;

use terminal::{Relay, Waiting};

#[derive(Args, Debug)]
pub struct RunArgs {
    /// Hostname inside the container.
    #[arg(long, default_value = "underhood")]
    hostname: String,
    /// Memory limit, swap held to the same (e.g. 100M; at least 4M).
    #[arg(long, value_parser = parse_memory)]
    memory: Option<u64>,
    /// Most processes the container may have.
    #[arg(long, value_parser = parse_pids)]
    pids: Option<u64>,
    /// CPU time as a fraction of one CPU (e.g. 0.5).
    #[arg(long, value_parser = parse_cpus)]
    cpus: Option<f64>,
    /// Use this directory as the root filesystem (read-only lower layer).
    #[arg(long, conflicts_with = "image")]
    rootfs: Option<PathBuf>,
    /// Unpack a rootfs tarball, OCI layout or `docker save` archive and use it.
    #[arg(long)]
    image: Option<PathBuf>,
    /// The most an --image may take once unpacked (files at full length, sparse ones
    /// expanded, plus 512 bytes per entry); a bigger one is refused and nothing is kept.
    #[arg(long, default_value = "4G", value_name = "SIZE", value_parser = parse_size)]
    max_image_size: u64,
    /// Bind a host path into the container: HOST:PATH[:ro].
    #[arg(long = "volume", short = 'v', value_parser = parse_volume)]
    volumes: Vec<Volume>,
    /// Network: an empty namespace (none) or one with a veth pair to the host.
    #[arg(long, default_value = "none", value_parser = ["none", "veth"])]
    net: String,
    /// Keep this namespace shared with the host (repeatable).
    #[arg(long = "share", value_parser = parse_ns)]
    share: Vec<Ns>,
    /// Add a user namespace even as root (root inside = uid 100000 outside).
    #[arg(long)]
    userns: bool,
    /// chroot instead of pivot_root (weaker: the host's root stays reachable).
    #[arg(long)]
    chroot: bool,
    /// Offset of the container's monotonic and boot-time clocks, in seconds.
    #[arg(long, default_value_t = 0, allow_negative_numbers = true, value_parser = parse_offset)]
    time_offset: i64,
    /// Keep this capability too, besides the default set (repeatable), e.g.
    /// CAP_MKNOD or CAP_SYS_PTRACE.
    #[arg(long = "cap-add", value_name = "CAP", value_parser = parse_cap)]
    cap_add: Vec<String>,
    /// Print each step's syscalls and equivalent shell commands to stderr.
    #[arg(long)]
    trace: bool,
    /// Run the command as PID 1 itself, without our init (execve in place of it): it
    /// then gets no signal it has no handler for, SIGTERM included (the `docker stop`
    /// problem; pid_namespaces(7)). Stop it with SIGKILL.
    #[arg(long)]
    no_init: bool,
    /// The command and its arguments.
    #[arg(last = true, required = true)]
    cmd: Vec<String>,
}

/// A capability name as `--cap-add` takes it (`mknod`, `CAP_MKNOD`, `cap_mknod`),
/// checked against the ones the caps crate knows: a typo is a usage error (exit 2).
fn parse_cap(name: &str) -> Result<String> {
    let upper = name.to_ascii_uppercase();
    let full = if upper.starts_with("CAP_") {
        upper
    } else {
        format!("CAP_{upper}")
    };
    underhood::runtime::security::parse_caps(std::slice::from_ref(&full))
        .map(|_| full)
        .map_err(|e| anyhow!("{e}"))
}

/// The default capabilities plus `add`, or `None` for the default set alone.
fn keep_caps(add: &[String]) -> Option<Vec<String>> {
    if add.is_empty() {
        return None;
    }
    let mut keep: Vec<String> = DEFAULT_CAPS.iter().map(|c| c.to_string()).collect();
    for cap in add {
        if !keep.contains(cap) {
            keep.push(cap.clone());
        }
    }
    Some(keep)
}

/// Below this the container's own PID 1 cannot run: the kernel would OOM-kill it.
const MIN_MEMORY: u64 = 4 << 20;
/// The kernel's PID_MAX_LIMIT on 64-bit.
const MAX_PIDS: u64 = 4 << 20;
/// cpu.max / cfs_quota_us take at least 1 ms per 100 ms period.
const MIN_CPUS: f64 = 0.01;
/// Time-namespace offsets much beyond this overflow the clocks (ERANGE).
const MAX_OFFSET_SECS: i64 = 100 * 365 * 24 * 3600;

fn parse_memory(s: &str) -> Result<u64> {
    let n = parse_size(s).map_err(|e| anyhow!("{e}"))?;
    if n < MIN_MEMORY {
        return Err(anyhow!(
            "memory limit {s:?} is too small: at least 4M (the container's PID 1 needs some)"
        ));
    }
    Ok(n)
}

fn parse_pids(s: &str) -> Result<u64> {
    match s.parse::<u64>() {
        Ok(n) if n > 0 && n <= MAX_PIDS => Ok(n),
        _ => Err(anyhow!(
            "invalid pids limit {s:?}: expected a whole number from 1 to {MAX_PIDS}"
        )),
    }
}

fn parse_cpus(s: &str) -> Result<f64> {
    match s.parse::<f64>() {
        Ok(f) if (MIN_CPUS..=1024.0).contains(&f) => Ok(f),
        _ => Err(anyhow!(
            "invalid cpus {s:?}: expected a fraction of one CPU from {MIN_CPUS} up, such as 0.5"
        )),
    }
}

fn parse_offset(s: &str) -> Result<i64> {
    match s.parse::<i64>() {
        Ok(n) if n.abs() <= MAX_OFFSET_SECS => Ok(n),
        _ => Err(anyhow!(
            "invalid time offset {s:?}: expected seconds within ±{MAX_OFFSET_SECS}"
        )),
    }
}

/// Error text for a terminal: control characters (from a hostile file name or a
/// garbage archive) are shown escaped, never sent raw (see `report::printable`).
pub fn printable(text: &str) -> String {
    underhood::runtime::report::printable_lines(text)
}

/// A host name refused, and why (which rule it breaks).
#[derive(Debug, PartialEq, Eq, thiserror::Error)]
#[error("invalid hostname {name:?}: {why}")]
pub struct BadHostname {
    pub name: String,
    pub why: &'static str,
}

/// A host name as RFC 1123 (section 2.1) and RFC 952 write one: dot-separated labels
/// of letters, digits and hyphens, no label empty or starting or ending with a hyphen,
/// and at most 64 bytes, sethostname(2)'s HOST_NAME_MAX. The kernel itself takes any
/// 64 bytes (a `/`, a newline, an escape sequence), which then reach every prompt and
/// log that prints the name: refused here.
pub fn check_hostname(name: &str) -> Result<(), BadHostname> {
    let why = if name.is_empty() || name.len() > 64 {
        Some("1 to 64 bytes (sethostname(2) takes at most HOST_NAME_MAX, 64)")
    } else if !name
        .bytes()
        .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'.')
    {
        Some("only letters, digits, '-' and '.' (RFC 1123)")
    } else if name
        .split('.')
        .any(|l| l.is_empty() || l.starts_with('-') || l.ends_with('-'))
    {
        Some("dot-separated labels, none empty or starting or ending with '-' (RFC 1123)")
    } else {
        None
    };
    match why {
        Some(why) => Err(BadHostname {
            name: name.to_string(),
            why,
        }),
        None => Ok(()),
    }
}

fn parse_ns(s: &str) -> Result<Ns> {
    Ns::parse(s).map_err(|e| anyhow!("{e}"))
}

fn parse_volume(s: &str) -> Result<Volume> {
    Ok(Volume::parse(s, true)?)
}

fn source(args: &RunArgs) -> RootSource {
    match (&args.rootfs, &args.image) {
        (Some(dir), _) => RootSource::Dir(dir.clone()),
        (None, Some(file)) => RootSource::Image(file.clone()),
        (None, None) => RootSource::Default,
    }
}

fn validate(args: &RunArgs) -> Result<()> {
    if let Some(dir) = &args.rootfs
        && !dir.is_dir()
    {
        bail!("--rootfs {}: not a directory", dir.display());
    }
    if let Some(file) = &args.image
        && !file.exists()
    {
        bail!("--image {}: no such file", file.display());
    }
    check_hostname(&args.hostname)?;
    if args.cmd.first().is_none_or(|c| c.is_empty()) {
        bail!("the command to run is empty");
    }
    // An image is bad input like any other: unpack it (cached) before anything starts.
    image::set_max_image_size(args.max_image_size);
    if let Some(file) = &args.image {
        image::unpack_image(file, &Paths::host())
            .with_context(|| format!("--image {}", file.display()))?;
    }
    Ok(())
}

pub fn main(args: RunArgs) -> ExitCode {
    if let Err(e) = validate(&args) {
        eprintln!("underhood: {}", printable(&format!("{e:#}")));
        return ExitCode::from(2);
    }
    match run(&args) {
        Ok(status) => ExitCode::from(status.clamp(0, 255) as u8),
        Err(e) => {
            eprintln!("underhood: {}", printable(&format!("{e:#}")));
            ExitCode::from(125)
        }
    }
}

/// The exit signals and SIGWINCH (our terminal's new size, for the container's: see
/// terminal.rs), blocked and read from a signalfd(2).
fn signal_fd() -> Result<SignalFd> {
    let set = prepare::block_signals(&[Signal::SIGWINCH])?;
    SignalFd::with_flags(&set, SfdFlags::SFD_NONBLOCK | SfdFlags::SFD_CLOEXEC).context("signalfd")
}

fn run(args: &RunArgs) -> Result<i32> {
    let paths = Paths::host();
    prepare::clean_stale(&paths, |line| eprintln!("{line}"));
    if args.chroot {
        // Warned, not forbidden: the chroot lesson shows this escape on purpose.
        eprintln!(
            "underhood: warning: --chroot only moves the lookup root: the host's whole tree \
             stays mounted, and root inside (CAP_SYS_CHROOT) can climb out to it \
             (`underhood chroot-escape` shows how). The default, pivot_root, leaves no way back."
        );
    }
    let signals = signal_fd()?;
    let opts = Options {
        hostname: args.hostname.clone(),
        limits: LimitSpec {
            memory: args.memory,
            pids: args.pids,
            cpus: args.cpus,
        },
        volumes: args.volumes.clone(),
        net: if args.net == "veth" {
            NetMode::Veth
        } else {
            NetMode::None
        },
        share: args.share.iter().copied().collect::<BTreeSet<_>>(),
        userns: args.userns,
        root_mode: if args.chroot {
            RootMode::Chroot
        } else {
            RootMode::PivotRoot
        },
        time_offset_secs: args.time_offset,
        extra_deny: Vec::new(),
        keep_caps: keep_caps(&args.cap_add),
        argv: args.cmd.clone(),
    };
    // When our stdin is a terminal the container gets a pty of its own, made inside
    // at the exec step (terminal.rs); while the subject starts (it inherits them) our
    // terminal descriptors are /dev/null; ours are back when `null` is dropped.
    let (waiting, null) = match Relay::open()? {
        Some((waiting, null)) => (Some(waiting), Some(null)),
        None => (None, None),
    };
    let session = if args.trace {
        Headless::start(&opts, &source(args), &paths)
    } else {
        Headless::start_untraced(&opts, &source(args), &paths)
    };
    drop(null);
    let mut session = session?;
    if args.no_init {
        session.no_init()?;
    }
    if let Some(w) = &waiting {
        session.launch().console(w.console())?;
    }
    // The relay (made once the terminal exists) is gone, and our terminal restored,
    // when `drive` returns.
    let status = drive(&mut session, args, &signals, waiting);
    let teardown = session.teardown();
    if args.trace
        && let Ok(r) = &teardown
    {
        eprint!("{}", r.render());
    }
    teardown?;
    status
}

fn drive(
    session: &mut Headless,
    args: &RunArgs,
    signals: &SignalFd,
    waiting: Option<Waiting>,
) -> Result<i32> {
    // A new window size before the command runs: read when the relay starts.
    let stop = || pending_signal(signals).filter(|s| *s != Signal::SIGWINCH);
    let trace = |report: &underhood::runtime::report::Report| {
        if args.trace {
            eprint!("{}", report.render());
        }
    };
    match session.take_all(stop, trace) {
        Ok(()) => {}
        Err(Stopped::Asked(sig)) => {
            eprintln!("underhood: {sig} received during the launch; cleaning up");
            return Ok(128 + sig as i32);
        }
        Err(Stopped::Failed(failed)) => {
            let Failed { step, failure: f } = *failed;
            if args.trace {
                eprint!("{}", f.report.render());
            }
            return Ok(step_failed(&step, &f));
        }
    }
    let mut relay = match waiting {
        Some(w) => Some(w.attach(session.launch().take_console()?)?),
        None => None,
    };
    let terminal = relay.as_mut().map(|r| r as &mut dyn Terminal);
    let ended = session.wait(signals, terminal, args.memory.is_some(), args.no_init)?;
    let exit = ended.exit;
    if exit.signal == Some(Signal::SIGKILL as i32)
        && let (Some(cg), Some(limit)) = (&session.launch().cgroup, args.memory)
    {
        let kills = cg.memory().map(|u| u.oom_kills).unwrap_or(0);
        if ended.oom_seen || kills > 0 {
            eprintln!(
                "underhood: OOM-killed: memory limit {} reached ({} OOM kill{} counted by the kernel)",
                format_size(limit),
                kills.max(1),
                if kills == 1 { "" } else { "s" }
            );
        }
    }
    Ok(exit.status())
}

/// Says why a step failed, in the errno's plain words (or doctor's, for a refused
/// cgroup), and gives the exit status for it.
fn step_failed(step: &Step, f: &StepFailure) -> i32 {
    eprintln!("underhood: {}", printable(&f.message));
    let errno = f.report.errno();
    // A refused cgroup is nearly always this user's lack of a cgroup to write (not
    // root, nothing delegated): doctor's own line says so and what gives it, where
    // the errno's generic words would mislead.
    let cgroup_why = match step {
        Step::Cgroup { limits }
            if matches!(
                errno,
                Some(nix::errno::Errno::EACCES | nix::errno::Errno::EPERM)
            ) =>
        {
            use underhood::runtime::cgroup::Controller;
            super::doctor::unusable_controllers(&Paths::host())
                .into_iter()
                .filter(|(c, _)| match c {
                    Controller::Memory => limits.memory.is_some(),
                    Controller::Pids => limits.pids.is_some(),
                    Controller::Cpu => limits.cpus.is_some(),
                })
                .map(|(_, line)| line)
                .collect::<Vec<_>>()
        }
        _ => Vec::new(),
    };
    if !cgroup_why.is_empty() {
        for line in cgroup_why {
            eprintln!("underhood: {line}");
        }
    } else if let Some(why) = errno.and_then(explain::why) {
        eprintln!("underhood: {why}");
    }
    // 127 and 126 say the command could not be run; anything else failing at the exec
    // step (its terminal: runtime/console.rs) is ours, 125.
    let execve = f
        .report
        .failure()
        .is_some_and(|c| c.name == "execve" || c.name == "fexecve");
    match step {
        Step::Exec { .. } if execve && errno == Some(nix::errno::Errno::ENOENT) => 127,
        Step::Exec { .. } if execve => 126,
        _ => 125,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hostnames_are_rfc_1123_names_of_at_most_64_bytes() {
        for ok in ["underhood", "inside-box", "a.b-c.d9", &"x".repeat(64)] {
            assert_eq!(check_hostname(ok), Ok(()), "{ok}");
        }
        for (bad, why) in [
            ("", "1 to 64"),
            (&"x".repeat(65)[..], "1 to 64"),
            ("a/b", "only letters"),
            ("a\nb", "only letters"),
            ("\u{1b}[31mred", "only letters"),
            ("-a", "labels"),
            ("a..b", "labels"),
        ] {
            let e = check_hostname(bad).expect_err(bad);
            assert!(e.why.contains(why), "{bad:?}: {e}");
            assert!(!printable(&e.to_string()).contains('\u{1b}'), "{e}");
        }
    }
}
