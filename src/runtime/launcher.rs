//! From options to a started `Launch`: prepare the read-only layers, create the
//! session record, plan the steps and start the subject. Shared by `run` and the TUI.

use std::path::PathBuf;

use anyhow::{Context, Result};

use super::controller::Launch;
use super::paths::Paths;
use super::plan::{self, Options};
use super::start::Spawned;
use super::state::Session;
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
    let mut lower = vec![assemble::tools_layer(paths).context("preparing our tools layer")?];
    match source {
        RootSource::Dir(dir) => lower.push(dir.clone()),
        RootSource::Image(file) => {
            let img = image::unpack_image(file, paths)
                .with_context(|| format!("unpacking image {}", file.display()))?;
            lower.extend(img.layers.into_iter().rev());
        }
        RootSource::Default => {
            lower.push(assemble::default_rootfs(paths).context("assembling the default rootfs")?)
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
/// start-up overlaps the preparation of the layers and of the session record (which
/// then names it in its first write), and the launch is [`Launch::pipelined`].
pub fn start_pipelined(opts: &Options, source: &RootSource, paths: &Paths) -> Result<Launch> {
    let spawned = Spawned::start(paths)?;
    let lower = layers(source, paths)?;
    let session = Session::create_with(paths, |s| s.subjects.extend(spawned.id()))?;
    let steps = plan_steps(opts, lower, &session);
    Ok(Launch::adopt(paths.clone(), session, steps, spawned)?.pipelined())
}

fn plan_steps(opts: &Options, lower: Vec<PathBuf>, session: &Session) -> Vec<super::step::Step> {
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
