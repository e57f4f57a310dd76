//! Runs a lesson headless: builds its container step by step, optionally does what
//! each check expects (`solve`), evaluates the checks, and tears everything down.
//! Teachers use it to try their lessons; the tests run every shipped lesson with it.

use std::process::Command;

use anyhow::{Context, Result, bail};

use crate::runtime::controller::Launch;
use crate::runtime::launcher::{self, RootSource};
use crate::runtime::paths::Paths;

use super::check::{Kind, Outcome, evaluate};
use super::format::LessonFile;
use super::probe::LiveProbe;

/// The result of each check, in file order: (check id, outcome).
pub type Results = Vec<(String, Outcome)>;

/// Starts the lesson's container with every step not yet taken.
pub fn start(l: &LessonFile, paths: &Paths, source: &RootSource) -> Result<Launch> {
    let opts = super::plan::options(l);
    let lower = launcher::layers(source, paths)?;
    let mut launch = launcher::start(&opts, lower, paths)?;
    let steps = std::mem::take(&mut launch.steps);
    launch.steps = super::plan::filter(l, steps);
    Ok(launch)
}

/// Evaluates every check against the live container.
pub fn evaluate_all(l: &LessonFile, launch: &mut Launch) -> Results {
    let mut probe = LiveProbe::new(l, launch);
    l.front
        .checks
        .iter()
        .map(|c| (c.id.get_ref().clone(), evaluate_on(c, &mut probe)))
        .collect()
}

/// One check; in a lesson made by hand with no container of the learner's yet, red
/// with why (rather than each kind's own words for "nothing there").
fn evaluate_on(c: &super::format::CheckSpec, probe: &mut LiveProbe) -> Outcome {
    if probe.learner == Some(None) {
        return Outcome {
            passed: false,
            detail: super::probe::NO_CONTAINER_YET.into(),
        };
    }
    evaluate(c, probe)
}

/// Like [`evaluate_all`], but only the checks that start no process inside the
/// container (see `Kind::runs_inside`); `None` for the others, left for later.
pub fn evaluate_quiet(l: &LessonFile, launch: &mut Launch) -> Vec<Option<Outcome>> {
    let mut probe = LiveProbe::new(l, launch);
    l.front
        .checks
        .iter()
        .map(|c| {
            let inside = Kind::parse(c.kind.get_ref()).is_none_or(Kind::runs_inside);
            (!inside).then(|| evaluate_on(c, &mut probe))
        })
        .collect()
}

/// The variables that point a host-side command at the container, the same in the host
/// shell pane (`h`), `host_solve`, `host_undo` and `host_command` checks:
/// `UH_PID` (the container's PID 1, or its subject before the PID step, as a host
/// pid), `UH_CGROUP` (its memory cgroup directory; on cgroup v1, where each controller
/// has its own hierarchy, also `UH_CGROUP_MEMORY`, `UH_CGROUP_PIDS`, `UH_CGROUP_CPU`),
/// `UH_ROOT` (`/proc/<UH_PID>/root`: the container's root as the host reaches it; the
/// overlay's `merged` directory is empty on the host, its mount being the container's),
/// `UH_UPPER` (the overlay's writable layer), `UH_SESSION` (the session id) and
/// `UH_STATE` (the session's directory, /run/underhood/<id>). What does not exist yet
/// (no cgroup before the cgroup step) is left out.
pub fn host_env(launch: &Launch) -> Vec<(String, String)> {
    // One definition, shared with the host shell pane (`h`).
    crate::runtime::host_shell::env(launch)
}

fn host_sh(cmd: &str, env: &[(String, String)]) -> Result<()> {
    let st = Command::new("/bin/sh")
        .args(["-c", cmd])
        .envs(env.iter().map(|(k, v)| (k, v)))
        .status()
        .with_context(|| format!("running `{cmd}` on the host"))?;
    if !st.success() {
        bail!("`{cmd}` on the host failed ({st})");
    }
    Ok(())
}

/// What the headless runner does between the last step and the checks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    /// Nothing: the checks that need the learner must stay red.
    Watch,
    /// Each check's `host_solve` then `solve`: every check must pass.
    Solve,
    /// Each check's `cheat`: what a learner could write without doing the thing. The
    /// checks with a cheat must stay red.
    Cheat,
}

/// Takes every step, then does what `mode` says, evaluates, undoes the host-side
/// actions, and tears down.
pub fn run(l: &LessonFile, paths: &Paths, source: &RootSource, mode: Mode) -> Result<Results> {
    let solve = mode == Mode::Solve;
    let mut launch = start(l, paths, source)?;
    while !launch.done() {
        launch
            .step()
            .map_err(|f| anyhow::anyhow!("{}", f.message))?;
    }
    let mut undo = Vec::new();
    let mut result = Ok(());
    let env = host_env(&launch);
    // In a lesson made by hand, what the host side runs names the learner's container
    // as it stands then (an earlier host_solve may have just made it).
    let env_now = |launch: &mut Launch| -> Vec<(String, String)> {
        match LiveProbe::new(l, launch).learner {
            Some(learner) => super::probe::with_learner(host_env(launch), learner),
            None => env.clone(),
        }
    };
    if mode == Mode::Cheat {
        for c in &l.front.checks {
            if let Some(cmd) = &c.host_cheat {
                // Like the cheat inside: its exit does not matter, the check judges.
                let _ = host_sh(cmd, &env_now(&mut launch));
            }
            if let Some(cmd) = &c.cheat {
                let mut probe = LiveProbe::new(l, &mut launch);
                let _ = super::check::Probe::run(&mut probe, cmd);
            }
        }
    }
    if solve {
        for c in &l.front.checks {
            if let Some(h) = &c.host_solve {
                if let Some(u) = &c.host_undo {
                    undo.push(u.clone());
                }
                if let Err(e) = host_sh(h, &env_now(&mut launch)) {
                    result = Err(e);
                    break;
                }
            }
            if let Some(cmd) = &c.solve {
                let mut probe = LiveProbe::new(l, &mut launch);
                // The solve's own exit does not matter: the check judges the state.
                let _ = super::check::Probe::run(&mut probe, cmd);
            }
        }
    }
    let results = evaluate_all(l, &mut launch);
    for u in undo.iter().rev() {
        if let Err(e) = host_sh(u, &env) {
            eprintln!("underhood: undoing a lesson's host action: {e:#}");
        }
    }
    launch.teardown()?;
    result?;
    Ok(results)
}
