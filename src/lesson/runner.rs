//! A lesson's checks against a live container: evaluated (all, or only those that start
//! nothing inside), and, for `lessons run`, what each check expects done first
//! (`solve`, `cheat`). The container itself is the session's (`session::headless`).

use std::process::Command;

use super::error::{Error, Result};

use crate::runtime::controller::Launch;

use super::check::{Kind, Outcome, evaluate};
use super::format::LessonFile;
use super::probe::LiveProbe;

/// The result of each check, in file order: (check id, outcome).
pub type Results = Vec<(String, Outcome)>;

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
        .map_err(|err| Error::Spawn {
            cmd: cmd.to_string(),
            err,
        })?;
    if !st.success() {
        return Err(Error::HostFailed {
            cmd: cmd.to_string(),
            status: st,
        });
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

/// What `lessons run` says before the steps at the head of `ahead`, and how many of them
/// to take at once: `step     TITLE` for one step, or one `through  ...` line for a run
/// of passed-through steps, as the TUI takes them with one key press.
pub fn announce(l: &LessonFile, ahead: &[crate::runtime::step::Step]) -> (String, usize) {
    let pointers = super::passing::pointers(l);
    let names: Vec<&str> = ahead.iter().map(|s| s.name()).collect();
    let n = super::passing::run_len(&pointers, &names).max(1);
    if n > 1 || pointers.iter().any(|(s, _)| s == names[0]) {
        let run: Vec<(&str, &str)> = pointers
            .iter()
            .filter(|(s, _)| names[..n].contains(&s.as_str()))
            .map(|(s, to)| (s.as_str(), to.as_str()))
            .collect();
        (format!("through  {}", super::passing::line(&run)), n)
    } else {
        (format!("step     {}", ahead[0].title()), 1)
    }
}

/// Does what `mode` says to the container whose steps are all taken, evaluates the
/// checks, and undoes the host-side actions (the session tears it down: see
/// `session::headless::Headless::run_lesson`). An error is a `host_solve` that failed
/// (the checks are still evaluated and the undos run first).
pub fn act_and_evaluate(l: &LessonFile, launch: &mut Launch, mode: Mode) -> Result<Results> {
    let solve = mode == Mode::Solve;
    let mut undo = Vec::new();
    let mut result: Result<()> = Ok(());
    let env = host_env(launch);
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
                // What a host cheat leaves (a fake state file, a process) is undone as
                // a host_solve's is: the check's host_undo after the checks.
                if let Some(u) = &c.host_undo {
                    undo.push(u.clone());
                }
                // Like the cheat inside: its exit does not matter, the check judges.
                let _ = host_sh(cmd, &env_now(launch));
            }
            if let Some(cmd) = &c.cheat {
                let mut probe = LiveProbe::new(l, launch);
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
                if let Err(e) = host_sh(h, &env_now(launch)) {
                    result = Err(e);
                    break;
                }
            }
            if let Some(cmd) = &c.solve {
                let mut probe = LiveProbe::new(l, launch);
                // The solve's own exit does not matter: the check judges the state.
                let _ = super::check::Probe::run(&mut probe, cmd);
            }
        }
    }
    let results = evaluate_all(l, launch);
    for u in undo.iter().rev() {
        if let Err(e) = host_sh(u, &env) {
            eprintln!("underhood: undoing a lesson's host action: {e:#}");
        }
    }
    result?;
    Ok(results)
}
