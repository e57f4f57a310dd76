//! The live `Probe`: checks read the real kernel state of a running lesson container.

use std::path::PathBuf;
use std::time::Duration;

use crate::ns::Ns;
use crate::observe::mountinfo::{self, Mount};
use crate::observe::namespaces::{self, NsKind};
use crate::runtime::controller::Launch;
use crate::runtime::protocol::SpawnSpec;
use crate::runtime::step::Step;

use super::check::{Probe, RunResult};

pub struct LiveProbe<'a> {
    pub launch: &'a mut Launch,
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

    fn run(&mut self, command: &str) -> Result<RunResult, String> {
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
            .map_err(|e| format!("{e:#}"))?;
        if c.timed_out {
            return Err(format!("`{command}` took longer than 5 s"));
        }
        Ok(RunResult {
            success: c.exit.code == Some(0),
            output: c.output,
        })
    }

    fn host(&mut self, command: &str) -> Result<RunResult, String> {
        let out = std::process::Command::new("/bin/sh")
            .args(["-c", command])
            .envs(super::runner::host_env(self.launch))
            .stdin(std::process::Stdio::null())
            .output()
            .map_err(|e| format!("running `{command}` on the host: {e}"))?;
        let mut output = String::from_utf8_lossy(&out.stdout).into_owned();
        output.push_str(&String::from_utf8_lossy(&out.stderr));
        Ok(RunResult {
            success: out.status.success(),
            output,
        })
    }

    fn ns_inode(&self, ns: Ns, host: bool) -> Option<u64> {
        let pid = if host {
            std::process::id() as i32
        } else {
            self.launch.subject
        };
        namespaces::read_links(&self.launch.paths.proc_root, pid)
            .into_iter()
            .find(|l| l.kind == NsKind::of(ns))
            .and_then(|l| l.inode)
    }

    fn pid1_comm(&self) -> Option<String> {
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
        self.rootfs().map(|r| r.0)
    }

    fn lower(&self) -> Vec<PathBuf> {
        self.rootfs().map(|r| r.1).unwrap_or_default()
    }

    fn container_mounts(&self) -> Vec<Mount> {
        mountinfo::read_mountinfo(&self.launch.paths.proc_root, self.launch.subject)
            .unwrap_or_default()
    }

    fn host_mounts(&self) -> Vec<Mount> {
        mountinfo::read_mountinfo(&self.launch.paths.proc_root, std::process::id() as i32)
            .unwrap_or_default()
    }

    fn oom_kills(&self) -> Option<u64> {
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
