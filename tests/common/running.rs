//! A container started in the background whose command printed `ready` and now waits:
//! its controller (the `underhood run` child), its session id (the new
//! /run/underhood/ID whose state.json names this child as controller), and what the
//! command printed before `ready`.

use std::io::{BufRead, BufReader};
use std::os::unix::process::CommandExt;
use std::process::{Child, ChildStdout, Command, ExitStatus, Stdio};
use std::time::{Duration, Instant};

use nix::sys::signal::{Signal, kill};
use nix::unistd::Pid;
use underhood::runtime::state::State;

use super::{BIN, session_ids};

/// A waiting container (see the module). Stop it with [`Running::stop`], or kill
/// `child` yourself.
pub struct Running {
    pub child: Child,
    pub id: String,
    /// The lines the command printed before `ready`.
    pub lines: Vec<String>,
    _out: BufReader<ChildStdout>,
}

impl Running {
    /// `underhood run MODE EXTRA -- /bin/sh -c SCRIPT`, returned once SCRIPT printed a
    /// line `ready`. Its stderr goes to the test's. Panics when it ends first, or when
    /// 30 s of output pass without `ready` (a hang bound, not a timing).
    pub fn start(mode: &[&str], extra: &[&str], script: &str) -> Running {
        let ids = session_ids();
        let mut args = vec!["run"];
        args.extend_from_slice(mode);
        args.extend_from_slice(extra);
        args.extend_from_slice(&["--", "/bin/sh", "-c", script]);
        let mut cmd = Command::new(BIN);
        cmd.args(&args)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit());
        // A test binary started as a background job (`cargo test ... &` in a script)
        // inherits SIGINT and SIGQUIT ignored, and exec keeps an ignored disposition
        // (signal(7)): the command inside would ignore the SIGINT that `run` passes
        // on. Give the child the defaults a terminal's foreground job has.
        // SAFETY: between fork and exec only signal(2), async-signal-safe.
        unsafe {
            cmd.pre_exec(|| {
                use nix::sys::signal::{SigHandler, signal};
                for s in [Signal::SIGINT, Signal::SIGQUIT] {
                    signal(s, SigHandler::SigDfl).map_err(std::io::Error::from)?;
                }
                Ok(())
            });
        }
        let mut child = cmd.spawn().expect("spawn underhood run");
        let mut out = BufReader::new(child.stdout.take().expect("stdout"));
        let mut lines = Vec::new();
        let start = Instant::now();
        loop {
            let mut line = String::new();
            if out.read_line(&mut line).unwrap_or(0) == 0
                || start.elapsed() > Duration::from_secs(30)
            {
                let _ = child.kill();
                let _ = child.wait();
                panic!("{args:?}: never got ready; printed {lines:?}");
            }
            if line.trim() == "ready" {
                break;
            }
            lines.push(line.trim_end().to_string());
        }
        let me = child.id() as i32;
        let id = session_ids()
            .difference(&ids)
            .find(|id| read_state(id).is_some_and(|s| s.controller.is_some_and(|c| c.pid == me)))
            .cloned()
            .expect("the session of this child");
        Running {
            child,
            id,
            lines,
            _out: out,
        }
    }

    /// The session's state.json, as it is now.
    pub fn state(&self) -> State {
        read_state(&self.id).expect("the session's state.json")
    }

    /// The trimmed content of the first of `files` (say a v1 name, then the v2 one)
    /// that one of the session's cgroup directories has, read from the host.
    pub fn cgroup_file(&self, files: &[&str]) -> Option<String> {
        let st = self.state();
        files
            .iter()
            .find_map(|f| {
                st.cgroups
                    .iter()
                    .find_map(|d| std::fs::read_to_string(d.join(f)).ok())
            })
            .map(|t| t.trim().to_string())
    }

    /// Sends `signal` to the controller and waits for it.
    pub fn signal(mut self, signal: Signal) -> ExitStatus {
        kill(Pid::from_raw(self.child.id() as i32), signal).expect("kill");
        self.child.wait().expect("wait")
    }

    /// SIGTERM to the controller: it must end with 143 (128 + SIGTERM).
    pub fn stop(self) {
        let st = self.signal(Signal::SIGTERM);
        assert_eq!(st.code(), Some(143), "underhood run ended with {st:?}");
    }
}

/// /run/underhood/ID/state.json, when it is there and parses.
pub fn read_state(id: &str) -> Option<State> {
    let t = std::fs::read(format!("/run/underhood/{id}/state.json")).ok()?;
    serde_json::from_slice(&t).ok()
}
