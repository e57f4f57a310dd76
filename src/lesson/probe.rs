//! The live `Probe`: checks read the real kernel state of a running lesson container,
//! or, in a lesson made by hand (`observe = "host-shell"`), of the learner's own.

use std::path::PathBuf;
use std::time::Duration;

use crate::ns::Ns;
use crate::observe::mountinfo::{self, Mount};
use crate::observe::namespaces::{self, NsFile};
use crate::runtime::controller::Launch;
use crate::runtime::protocol::SpawnSpec;
use crate::runtime::step::Step;

use crate::observe::by_hand::{self, Learner};

use super::check::{Probe, RunResult};
use super::error::ProbeError;
use super::format::LessonFile;

/// The host-side variables with `UH_PID` and `UH_ROOT` naming the learner's container
/// (its PID 1), when there is one: what the checks and `host_solve` of a lesson made
/// by hand read.
pub fn with_learner(
    mut env: Vec<(String, String)>,
    learner: Option<Learner>,
) -> Vec<(String, String)> {
    if let Some(l) = learner {
        for (k, v) in env.iter_mut() {
            match k.as_str() {
                "UH_PID" => *v = l.pid1.to_string(),
                "UH_ROOT" => *v = format!("/proc/{}/root", l.pid1),
                _ => {}
            }
        }
    }
    env
}

pub struct LiveProbe<'a> {
    pub launch: &'a mut Launch,
    /// In a lesson made by hand: the learner's newest container, found when the probe
    /// was made (`None` inside: none yet). The checks read it instead of the launch's.
    pub learner: Option<Option<Learner>>,
}

/// Why a check of a lesson made by hand has nothing to look at.
pub const NO_CONTAINER_YET: &str = "no container of yours yet: make one in the host shell (h), e.g. `unshare --uts --pid --fork --mount`";

impl<'a> LiveProbe<'a> {
    /// The probe for `l`: on the launch's container, or on the learner's.
    pub fn new(l: &LessonFile, launch: &'a mut Launch) -> LiveProbe<'a> {
        let learner = l.by_hand().then(|| {
            by_hand::newest(
                &launch.paths.proc_root,
                std::process::id() as i32,
                std::process::id() as i32,
            )
        });
        LiveProbe { launch, learner }
    }

    /// The process the checks look at: the learner's PID 1, or the launch's subject.
    fn pid(&self) -> Option<i32> {
        match self.learner {
            Some(l) => l.map(|l| l.pid1),
            None => Some(self.launch.subject),
        }
    }

    /// Runs `/bin/sh -c command` inside the learner's container with nsenter(1) (its
    /// namespaces but the user one: options busybox's nsenter has too; entering the
    /// mount namespace puts it at that namespace's root, setns(2)), for at most five
    /// seconds.
    fn run_in_learner(&self, pid: i32, command: &str) -> Result<RunResult, ProbeError> {
        let mut cmd = std::process::Command::new("nsenter");
        let target = pid.to_string();
        cmd.args([
            "--target", &target, "--mount", "--uts", "--ipc", "--net", "--pid",
        ])
        .args(["/bin/sh", "-c", command]);
        timed(cmd, command)
    }
}

/// Runs `cmd` with stdout and stderr captured into one text, marked as a probe (so
/// the learner's container is not taken to be it), killed after five seconds.
fn timed(mut cmd: std::process::Command, shown: &str) -> Result<RunResult, ProbeError> {
    use std::io::Read;
    let (mut reader, writer) = std::io::pipe().map_err(ProbeError::Pipe)?;
    let w2 = writer.try_clone().map_err(ProbeError::Pipe)?;
    let (key, value) = by_hand::PROBE_MARK
        .split_once('=')
        .unwrap_or(("UH_PROBE", "1"));
    let mut child = cmd
        .env(key, value)
        .stdin(std::process::Stdio::null())
        .stdout(writer)
        .stderr(w2)
        .spawn()
        .map_err(|err| ProbeError::Spawn {
            shown: shown.to_string(),
            err,
        })?;
    // The child holds the write ends now: ours are closed, so the read ends at its exit.
    drop(cmd);
    let reading = std::thread::spawn(move || {
        let mut out = Vec::new();
        let _ = reader.read_to_end(&mut out);
        out
    });
    let start = std::time::Instant::now();
    let status = loop {
        match child.try_wait() {
            Ok(Some(st)) => break st,
            Ok(None) if start.elapsed() < Duration::from_secs(5) => {
                std::thread::sleep(Duration::from_millis(10))
            }
            Ok(None) => {
                let _ = child.kill();
                let _ = child.wait();
                return Err(ProbeError::TimedOut {
                    shown: shown.to_string(),
                });
            }
            Err(err) => {
                return Err(ProbeError::Wait {
                    shown: shown.to_string(),
                    err,
                });
            }
        }
    };
    let output = String::from_utf8_lossy(&reading.join().unwrap_or_default()).into_owned();
    Ok(RunResult {
        success: status.success(),
        output,
    })
}

impl LiveProbe<'_> {
    fn rootfs(&self) -> Option<(PathBuf, Vec<PathBuf>)> {
        self.launch.steps[..self.launch.next]
            .iter()
            .find_map(|s| match s {
                Step::Rootfs(r) => Some((r.upper.clone(), r.lower.clone())),
                _ => None,
            })
    }
}

impl Probe for LiveProbe<'_> {
    fn host_hostname(&self) -> String {
        nix::unistd::gethostname()
            .map(|h| h.to_string_lossy().into_owned())
            .unwrap_or_default()
    }

    fn run(&mut self, command: &str) -> Result<RunResult, ProbeError> {
        if let Some(learner) = self.learner {
            let l = learner.ok_or(ProbeError::NoContainerYet)?;
            return self.run_in_learner(l.pid1, command);
        }
        let spec = SpawnSpec {
            argv: vec!["/bin/sh".into(), "-c".into(), command.into()],
            env: self.launch.exec_env(),
            inherit_stdio: false,
            tty: false,
            own_tool: false,
        };
        let c = self
            .launch
            .run_captured(spec, Duration::from_secs(5))
            .map_err(ProbeError::Inside)?;
        if c.timed_out {
            return Err(ProbeError::TimedOut {
                shown: command.to_string(),
            });
        }
        Ok(RunResult {
            success: c.exit.code == Some(0),
            output: c.output,
        })
    }

    fn host(&mut self, command: &str) -> Result<RunResult, ProbeError> {
        if self.learner == Some(None) {
            return Err(ProbeError::NoContainerYet);
        }
        let mut cmd = std::process::Command::new("/bin/sh");
        cmd.args(["-c", command]).envs(with_learner(
            super::runner::host_env(self.launch),
            self.learner.flatten(),
        ));
        timed(cmd, command)
    }

    fn ns_inode(&self, ns: Ns, host: bool) -> Option<u64> {
        let pid = if host {
            std::process::id() as i32
        } else {
            self.pid()?
        };
        namespaces::read_links(&self.launch.paths.proc_root, pid)
            .into_iter()
            .find(|l| l.kind == NsFile::of(ns))
            .and_then(|l| l.inode)
    }

    fn pid1_comm(&self) -> Option<String> {
        if let Some(learner) = self.learner {
            // PID 1 of a PID namespace of its own (NSpid ends in 1), not a host process.
            let l = learner?;
            let p = crate::observe::ptree::read_proc(&self.launch.paths.proc_root, l.pid1).ok()?;
            return (p.pid_ns_depth() > 0 && p.inner_pid() == 1).then_some(p.comm);
        }
        let pid_step_done = self.launch.steps[..self.launch.next].contains(&Step::Pid);
        if !pid_step_done {
            return None;
        }
        let path = self
            .launch
            .paths
            .proc_root
            .join(self.launch.subject.to_string())
            .join("comm");
        std::fs::read_to_string(path)
            .ok()
            .map(|s| s.trim().to_string())
    }

    fn upper(&self) -> Option<PathBuf> {
        self.learner.is_none().then(|| self.rootfs().map(|r| r.0))?
    }

    fn lower(&self) -> Vec<PathBuf> {
        if self.learner.is_some() {
            return Vec::new();
        }
        self.rootfs().map(|r| r.1).unwrap_or_default()
    }

    fn container_mounts(&self) -> Vec<Mount> {
        self.pid()
            .and_then(|pid| mountinfo::read_mountinfo(&self.launch.paths.proc_root, pid).ok())
            .unwrap_or_default()
    }

    fn host_mounts(&self) -> Vec<Mount> {
        mountinfo::read_mountinfo(&self.launch.paths.proc_root, std::process::id() as i32)
            .unwrap_or_default()
    }

    fn oom_kills(&self) -> Option<u64> {
        if let Some(learner) = self.learner {
            // The memory cgroup the learner's PID 1 is in, as /proc/<pid>/cgroup says.
            let pid = learner?.pid1;
            return by_hand::memory_of(&self.launch.paths.proc_root, pid)?
                .memory()
                .ok()
                .map(|m| m.oom_kills);
        }
        self.launch
            .cgroup
            .as_ref()?
            .memory()
            .ok()
            .map(|m| m.oom_kills)
    }

    fn host_msg_queues(&self) -> String {
        std::fs::read_to_string(self.launch.paths.proc_root.join("sysvipc/msg")).unwrap_or_default()
    }
}
