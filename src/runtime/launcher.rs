//! From options to a started `Launch`: prepare the read-only layers, create the
//! session record, plan the steps and start the subject. Shared by `run` and the TUI.

use std::path::PathBuf;

use super::launch_error::{Ctx, Result};

use super::controller::Launch;
use super::paths::Paths;
use super::plan::{self, Options};
use super::start::Spawned;
use super::state::Session;
use super::step::Step;
use super::{assemble, image};

/// Where the container's files come from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RootSource {
    /// The embedded default rootfs, assembled once into the cache.
    Default,
    /// A directory used as the lower layer as it is.
    Dir(PathBuf),
    /// A tarball, OCI layout or `docker save` archive, unpacked into the cache.
    Image(PathBuf),
}

/// The read-only layers, top first: our tools, then the image or rootfs.
pub fn layers(source: &RootSource, paths: &Paths) -> Result<Vec<PathBuf>> {
    let mut lower = vec![assemble::tools_layer(paths).ctx(|| "preparing our tools layer")?];
    match source {
        RootSource::Dir(dir) => lower.push(dir.clone()),
        RootSource::Image(file) => {
            let img = image::unpack_image(file, paths)
                .ctx(|| format!("unpacking image {}", file.display()))?;
            lower.extend(img.layers.into_iter().rev());
        }
        RootSource::Default => {
            lower.push(assemble::default_rootfs(paths).ctx(|| "assembling the default rootfs")?)
        }
    }
    Ok(lower)
}

/// Creates a session and starts its subject; nothing is done to the kernel yet.
pub fn start(opts: &Options, lower: Vec<PathBuf>, paths: &Paths) -> Result<Launch> {
    let session = Session::create(paths)?;
    let steps = plan_steps(opts, lower.clone(), &session);
    let mut launch = Launch::start(paths.clone(), session, steps)?;
    launch.layers = lower;
    Ok(launch)
}

/// For a launch run start to end (`run`): the subject is started first, so that its
/// start-up overlaps the making of the session record (which then names it in its
/// first write); its first steps (the namespaces, the cgroup) are sent before the
/// read-only layers are looked up, and done meanwhile; the launch is
/// [`Launch::pipelined`].
pub fn start_pipelined(opts: &Options, source: &RootSource, paths: &Paths) -> Result<Launch> {
    start_pipelined_with(opts, source, paths, false)
}

/// [`start_pipelined`]; `quiet`: the steps that succeed report their title and time
/// only ([`Launch::quiet`]), for a caller that shows none of their calls.
pub fn start_pipelined_with(
    opts: &Options,
    source: &RootSource,
    paths: &Paths,
    quiet: bool,
) -> Result<Launch> {
    let spawned = if may_fork(opts) {
        Spawned::fork(paths)?
    } else {
        Spawned::start(paths)?
    };
    let session = Session::create_with(paths, |s| s.subjects.extend(spawned.id()))?;
    // The layers are filled in below, before the root filesystem's step is sent.
    let mut steps = plan_steps(opts, Vec::new(), &session);
    // Nobody looks at the upper layer from the host during a `run`: it goes in a tmpfs
    // of the container's own mount namespace (see `RootfsSpec::scratch`).
    for step in &mut steps {
        if let Step::Rootfs(spec) = step {
            spec.scratch = Some(session.dir.clone());
        }
    }
    let rootfs = steps
        .iter()
        .position(|s| matches!(s, Step::Rootfs(_)))
        .unwrap_or(steps.len());
    let mut launch = Launch::adopt(paths.clone(), session, steps, spawned)?.pipelined();
    if quiet {
        launch.quiet()?;
    }
    // The subject makes its namespaces (and the controller the cgroup) while the
    // layers are found; a failure here tears all of it down (Launch's drop).
    launch.send_ahead_until(rootfs);
    let lower = layers(source, paths)?;
    if let Some(Step::Rootfs(spec)) = launch.steps.get_mut(rootfs) {
        spec.lower = lower.clone();
    }
    launch.layers = lower;
    // Everything but the exec step: what is to be asked of it (`Launch::no_init`,
    // `Launch::console`) must reach the subject before it.
    let exec = launch
        .steps
        .iter()
        .position(|s| matches!(s, Step::Exec { .. }))
        .unwrap_or(launch.steps.len());
    launch.send_ahead_until(exec);
    Ok(launch)
}

/// Whether the subject may be a fork of this process rather than a re-exec of our
/// binary from a read-only handle. A forked PID 1's /proc/1/exe is our binary on the
/// host, writable by root (the CVE-2019-5736 door the re-exec closes). Forked only when
/// nothing inside can open it: started by root, PID 1 is made non-dumpable by the
/// security step, so /proc/1/exe needs CAP_SYS_PTRACE in the host's user namespace
/// (proc(5), ptrace(2) "ptrace access mode checking"), which the default capability
/// set drops. Any `--cap-add` keeps the re-exec, and so does a caller that is not root
/// (its PID 1 stays dumpable, and the binary may be its own to write).
fn may_fork(opts: &Options) -> bool {
    nix::unistd::geteuid().is_root() && opts.keep_caps.is_none()
}

fn plan_steps(opts: &Options, lower: Vec<PathBuf>, session: &Session) -> Vec<Step> {
    let ctx = plan::Context {
        session_id: session.id().to_string(),
        euid: nix::unistd::geteuid().as_raw(),
        egid: nix::unistd::getegid().as_raw(),
        lower,
        upper: session.dir.join("upper"),
        work: session.dir.join("work"),
        merged: session.dir.join("merged"),
        term: std::env::var("TERM").ok(),
    };
    plan::build(opts, &ctx)
}
