//! `underhood run`: the whole launch, headless. Exit status: the command's (128+N when
//! killed by signal N); 2 for bad input (nothing started); 125 when a step fails;
//! 126/127 when the command cannot be run or is not found.

use std::collections::BTreeSet;
use std::os::fd::AsFd;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};
use clap::Args;
use nix::poll::{PollFd, PollFlags, PollTimeout, poll};
use nix::sys::signal::{SigSet, Signal};
use nix::sys::signalfd::{SfdFlags, SignalFd};

use underhood::ns::Ns;
use underhood::runtime::controller::Launch;
use underhood::runtime::launcher::{self, RootSource};
use underhood::runtime::paths::Paths;
use underhood::runtime::plan::{DEFAULT_CAPS, NetMode, Options};
use underhood::runtime::step::{LimitSpec, RootMode, Step, Volume};
use underhood::runtime::{cleanup, explain, image};
use underhood::units::{format_size, parse_size};

mod terminal;

use terminal::Relay;

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
    /// The command and its arguments.
    #[arg(last = true, required = true)]
    cmd: Vec<String>,
}

/// A capability name as `--cap-add` takes it (`mknod`, `CAP_MKNOD`, `cap_mknod`),
/// checked against the ones the caps crate knows: a typo is a usage error (exit 2).
fn parse_cap(name: &str) -> Result<String, String> {
    let upper = name.to_ascii_uppercase();
    let full = if upper.starts_with("CAP_") {
        upper
    } else {
        format!("CAP_{upper}")
    };
    underhood::runtime::security::parse_caps(std::slice::from_ref(&full))
        .map(|_| full)
        .map_err(|e| e.to_string())
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

fn parse_memory(s: &str) -> Result<u64, String> {
    let n = parse_size(s).map_err(|e| e.to_string())?;
    if n < MIN_MEMORY {
        return Err(format!(
            "memory limit {s:?} is too small: at least 4M (the container's PID 1 needs some)"
        ));
    }
    Ok(n)
}

fn parse_pids(s: &str) -> Result<u64, String> {
    match s.parse::<u64>() {
        Ok(n) if n > 0 && n <= MAX_PIDS => Ok(n),
        _ => Err(format!(
            "invalid pids limit {s:?}: expected a whole number from 1 to {MAX_PIDS}"
        )),
    }
}

fn parse_cpus(s: &str) -> Result<f64, String> {
    match s.parse::<f64>() {
        Ok(f) if (MIN_CPUS..=1024.0).contains(&f) => Ok(f),
        _ => Err(format!(
            "invalid cpus {s:?}: expected a fraction of one CPU from {MIN_CPUS} up, such as 0.5"
        )),
    }
}

fn parse_offset(s: &str) -> Result<i64, String> {
    match s.parse::<i64>() {
        Ok(n) if n.abs() <= MAX_OFFSET_SECS => Ok(n),
        _ => Err(format!(
            "invalid time offset {s:?}: expected seconds within ±{MAX_OFFSET_SECS}"
        )),
    }
}

/// Error text for a terminal: control characters (from a hostile file name or a
/// garbage archive) are shown escaped, never sent raw.
pub fn printable(text: &str) -> String {
    text.chars()
        .flat_map(|c| {
            if c.is_control() && c != '\n' {
                c.escape_default().collect::<Vec<_>>()
            } else {
                vec![c]
            }
        })
        .collect()
}

fn parse_ns(s: &str) -> Result<Ns, String> {
    Ns::parse(s).map_err(|e| e.to_string())
}

fn parse_volume(s: &str) -> Result<Volume, String> {
    Volume::parse(s, true)
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
    if args.hostname.is_empty() || args.hostname.len() > 64 {
        bail!("invalid hostname {:?}: 1 to 64 characters", args.hostname);
    }
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

fn signal_fd() -> Result<SignalFd> {
    let mut set = SigSet::empty();
    for s in [
        Signal::SIGINT,
        Signal::SIGTERM,
        Signal::SIGHUP,
        Signal::SIGQUIT,
        // Our terminal's new size, for the container's (see terminal.rs).
        Signal::SIGWINCH,
    ] {
        set.add(s);
    }
    set.thread_block().context("blocking signals")?;
    SignalFd::with_flags(&set, SfdFlags::SFD_NONBLOCK | SfdFlags::SFD_CLOEXEC).context("signalfd")
}

fn run(args: &RunArgs) -> Result<i32> {
    let paths = Paths::host();
    let cleaned = cleanup::stale_sessions(&paths);
    for s in &cleaned.sessions {
        eprintln!("underhood: removed stale session {s}");
    }
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
    // When our stdin is a terminal the container gets a pty of its own: its slave end
    // is in place of our terminal descriptors while the subject starts, which
    // inherits it; ours are back when `slave` is dropped.
    let (mut relay, slave) = match Relay::open()? {
        Some((relay, slave)) => (Some(relay), Some(slave)),
        None => (None, None),
    };
    let launch = launcher::start_pipelined(&opts, &source(args), &paths);
    drop(slave);
    let mut launch = launch?;
    let status = drive(&mut launch, args, &signals, relay.as_mut());
    drop(relay);
    let teardown = launch.teardown();
    if args.trace
        && let Ok(r) = &teardown
    {
        eprint!("{}", r.render());
    }
    teardown?;
    status
}

fn pending_signal(signals: &SignalFd) -> Option<Signal> {
    match signals.read_signal() {
        Ok(Some(info)) => Signal::try_from(info.ssi_signo as i32).ok(),
        _ => None,
    }
}

fn drive(
    launch: &mut Launch,
    args: &RunArgs,
    signals: &SignalFd,
    relay: Option<&mut Relay>,
) -> Result<i32> {
    while !launch.done() {
        // A new window size before the command runs: read when the relay starts.
        if let Some(sig) = pending_signal(signals).filter(|s| *s != Signal::SIGWINCH) {
            eprintln!("underhood: {sig} received during the launch; cleaning up");
            return Ok(128 + sig as i32);
        }
        let step = launch.steps[launch.next].clone();
        match launch.step() {
            Ok(report) => {
                if args.trace {
                    eprint!("{}", report.render());
                }
                underhood::runtime::fault::after_step(launch.next);
            }
            Err(f) => {
                if args.trace {
                    eprint!("{}", f.report.render());
                }
                eprintln!("underhood: {}", f.message);
                let errno = f.report.errno();
                if let Some(why) = errno.and_then(explain::why) {
                    eprintln!("underhood: {why}");
                }
                if let Step::Exec { .. } = step {
                    return Ok(if errno == Some(nix::errno::Errno::ENOENT) {
                        127
                    } else {
                        126
                    });
                }
                return Ok(125);
            }
        }
    }
    wait_command(launch, args, signals, relay)
}

fn wait_command(
    launch: &mut Launch,
    args: &RunArgs,
    signals: &SignalFd,
    mut relay: Option<&mut Relay>,
) -> Result<i32> {
    if let Some(r) = relay.as_deref_mut() {
        r.start()?;
    }
    let mut oom = match (&launch.cgroup, args.memory) {
        (Some(cg), Some(_)) => Some(cg.oom_events()?),
        _ => None,
    };
    let mut oom_seen = false;
    let mut kill_at: Option<Instant> = None;
    let exit = loop {
        let timeout = match kill_at {
            Some(t) => PollTimeout::try_from(t.saturating_duration_since(Instant::now()))
                .unwrap_or(PollTimeout::ZERO),
            None => PollTimeout::NONE,
        };
        let (sock, sig, oom_ready, relay_ready) = {
            let mut fds = vec![
                PollFd::new(launch.socket_fd(), PollFlags::POLLIN),
                PollFd::new(signals.as_fd(), PollFlags::POLLIN),
            ];
            if let Some(o) = &oom {
                fds.push(PollFd::new(o.as_fd(), PollFlags::POLLIN));
            }
            let relay_from = fds.len();
            let slots: Vec<usize> = match relay.as_deref() {
                Some(r) => r
                    .poll_fds()
                    .into_iter()
                    .map(|(slot, fd)| {
                        fds.push(fd);
                        slot
                    })
                    .collect(),
                None => Vec::new(),
            };
            match poll(&mut fds, timeout) {
                Err(nix::errno::Errno::EINTR) => continue,
                r => r.context("poll")?,
            };
            let ready = |f: &PollFd| f.revents().is_some_and(|r| !r.is_empty());
            let mut relay_ready = [PollFlags::empty(); 2];
            for (i, slot) in slots.into_iter().enumerate() {
                relay_ready[slot] = fds[relay_from + i].revents().unwrap_or(PollFlags::empty());
            }
            (
                ready(&fds[0]),
                ready(&fds[1]),
                oom.is_some() && ready(&fds[2]),
                relay_ready,
            )
        };
        if let Some(r) = relay.as_deref_mut() {
            r.pump(relay_ready)?;
        }
        if oom_ready
            && let Some(o) = oom.as_mut()
            && o.read()? > 0
        {
            oom_seen = true;
        }
        if sig {
            while let Some(s) = pending_signal(signals) {
                if s == Signal::SIGWINCH {
                    if let Some(r) = relay.as_deref() {
                        r.resize();
                    }
                    continue;
                }
                launch.signal(s);
                // A command that ignores SIGTERM/SIGHUP gets 5 s, then SIGKILL.
                if matches!(s, Signal::SIGTERM | Signal::SIGHUP) && kill_at.is_none() {
                    kill_at = Some(Instant::now() + Duration::from_secs(5));
                }
            }
        }
        if kill_at.is_some_and(|t| Instant::now() >= t) {
            launch.signal(Signal::SIGKILL);
            kill_at = None;
        }
        if sock && let Some(exit) = launch.poll_exit()? {
            break exit;
        }
    };
    if let Some(r) = relay {
        r.finish(Duration::from_secs(2));
    }
    if exit.signal == Some(Signal::SIGKILL as i32)
        && let (Some(cg), Some(limit)) = (&launch.cgroup, args.memory)
    {
        let kills = cg.memory().map(|u| u.oom_kills).unwrap_or(0);
        if oom_seen || kills > 0 {
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
