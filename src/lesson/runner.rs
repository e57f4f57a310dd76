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
    let mut probe = LiveProbe { launch };
    l.front
        .checks
        .iter()
        .map(|c| (c.id.get_ref().clone(), evaluate(c, &mut probe)))
        .collect()
}

/// Like [`evaluate_all`], but only the checks that start no process inside the
/// container (see `Kind::runs_inside`); `None` for the others, left for later.
pub fn evaluate_quiet(l: &LessonFile, launch: &mut Launch) -> Vec<Option<Outcome>> {
    let mut probe = LiveProbe { launch };
    l.front
        .checks
        .iter()
        .map(|c| {
            let inside = Kind::parse(c.kind.get_ref()).is_none_or(Kind::runs_inside);
            (!inside).then(|| evaluate(c, &mut probe))
        })
        .collect()
}

/// Runs a lesson's `host_solve`/`host_undo` on the host, with the variables the TUI's
/// host shell has (UH_PID, UH_CGROUP, UH_ROOT...: runtime::host_shell::env).
fn host_sh(cmd: &str, launch: &Launch) -> Result<()> {
    let st = Command::new("/bin/sh")
        .args(["-c", cmd])
        .envs(crate::runtime::host_shell::env(launch))
        .status()
        .with_context(|| format!("running `{cmd}` on the host"))?;
    if !st.success() {
        bail!("`{cmd}` on the host failed ({st})");
    }
    Ok(())
}

/// Takes every step, then (with `solve`) does what each check expects, evaluates,
/// undoes the host-side actions, and tears down.
pub fn run(l: &LessonFile, paths: &Paths, source: &RootSource, solve: bool) -> Result<Results> {
    let mut launch = start(l, paths, source)?;
    while !launch.done() {
        launch
            .step()
            .map_err(|f| anyhow::anyhow!("{}", f.message))?;
    }
    let mut undo = Vec::new();
    let mut result = Ok(());
    if solve {
        for c in &l.front.checks {
            if let Some(h) = &c.host_solve {
                if let Some(u) = &c.host_undo {
                    undo.push(u.clone());
                }
                if let Err(e) = host_sh(h, &launch) {
                    result = Err(e);
                    break;
                }
            }
            if let Some(cmd) = &c.solve {
                let mut probe = LiveProbe {
                    launch: &mut launch,
                };
                // The solve's own exit does not matter: the check judges the state.
                let _ = super::check::Probe::run(&mut probe, cmd);
            }
        }
    }
    let results = evaluate_all(l, &mut launch);
    for u in undo.iter().rev() {
        if let Err(e) = host_sh(u, &launch) {
            eprintln!("underhood: undoing a lesson's host action: {e:#}");
        }
    }
    launch.teardown()?;
    result?;
    Ok(results)
}
