//! State-based checks of a learner's progress: each looks at the live container (its
//! namespaces, mounts, layers, cgroup, or the result of a command run inside), never
//! at the keys pressed, like a lab that grades the end state.

use std::path::{Path, PathBuf};

use crate::ns::Ns;
use crate::observe::mountinfo::Mount;

use super::error::ProbeError;
use super::format::CheckSpec;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    HostnameDiffers,
    NsDiffers,
    NsSame,
    Command,
    Pid1,
    UpperHas,
    LowerLacks,
    ContainerMount,
    OomKills,
    IpcHidden,
    HostCommand,
}

impl Kind {
    /// Whether evaluating it starts a process (`/bin/sh -c`), inside the container or
    /// on the host: each one inside takes a pid there, before the steps are done
    /// "inside" may still be the host, and a host command may read what a later step
    /// makes (the upper layer, the cgroup). These wait for the last step.
    pub fn runs_inside(self) -> bool {
        matches!(
            self,
            Kind::HostnameDiffers | Kind::Command | Kind::IpcHidden | Kind::HostCommand
        )
    }
}

/// A command as a check's detail quotes it: its first line, and `…` when there is
/// more (a multi-line script would otherwise run its lines together on one row).
fn shown_command(cmd: &str) -> String {
    let mut lines = cmd.lines().map(str::trim).filter(|l| !l.is_empty());
    let first = lines.next().unwrap_or("");
    if lines.next().is_some() {
        format!("{first} …")
    } else {
        first.to_string()
    }
}

/// The kinds as lesson files name them.
pub const KINDS: [&str; 11] = [
    "hostname_differs",
    "ns_differs",
    "ns_same",
    "command",
    "pid1",
    "upper_has",
    "lower_lacks",
    "container_mount",
    "oom_kills",
    "ipc_hidden",
    "host_command",
];

impl Kind {
    pub fn parse(s: &str) -> Option<Kind> {
        Some(match s {
            "hostname_differs" => Kind::HostnameDiffers,
            "ns_differs" => Kind::NsDiffers,
            "ns_same" => Kind::NsSame,
            "command" => Kind::Command,
            "pid1" => Kind::Pid1,
            "upper_has" => Kind::UpperHas,
            "lower_lacks" => Kind::LowerLacks,
            "container_mount" => Kind::ContainerMount,
            "oom_kills" => Kind::OomKills,
            "ipc_hidden" => Kind::IpcHidden,
            "host_command" => Kind::HostCommand,
            _ => return None,
        })
    }
}

/// What a command run inside returned.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RunResult {
    pub success: bool,
    pub output: String,
}

/// What checks may look at. The live implementation reads the kernel through the
/// container's `Launch`; tests use a fake.
pub trait Probe {
    fn host_hostname(&self) -> String;
    /// Runs `/bin/sh -c command` inside the container as it stands. An error is a
    /// check that could not look (red, with why), not one that looked.
    fn run(&mut self, command: &str) -> Result<RunResult, ProbeError>;
    /// Runs `/bin/sh -c command` on the host, with the `UH_*` variables that name the
    /// container (its PID 1's host pid, cgroup, merged root, upper layer, session).
    fn host(&mut self, command: &str) -> Result<RunResult, ProbeError>;
    /// The namespace inode of the container's process, or of the host (ours).
    fn ns_inode(&self, ns: Ns, host: bool) -> Option<u64>;
    /// The command name of the process that is PID 1 inside the container.
    fn pid1_comm(&self) -> Option<String>;
    /// The container's writable layer, and its read-only layers.
    fn upper(&self) -> Option<PathBuf>;
    fn lower(&self) -> Vec<PathBuf>;
    fn container_mounts(&self) -> Vec<Mount>;
    fn host_mounts(&self) -> Vec<Mount>;
    fn oom_kills(&self) -> Option<u64>;
    /// The host's /proc/sysvipc/msg: the System V message queues of its IPC namespace.
    fn host_msg_queues(&self) -> String;
}

#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Outcome {
    pub passed: bool,
    /// What was seen, in plain words (shown beside the check).
    pub detail: String,
}

fn outcome(passed: bool, detail: impl Into<String>) -> Outcome {
    Outcome {
        passed,
        detail: detail.into(),
    }
}

/// Rows of /proc/sysvipc/msg after its header line.
pub fn count_queues(sysvipc_msg: &str) -> usize {
    queue_ids(sysvipc_msg).len()
}

/// `(key, msqid)` of each row of /proc/sysvipc/msg after its header line: what names a
/// queue (a queue made inside, by `ipcmk -Q` with its random key, is another one).
pub fn queue_ids(sysvipc_msg: &str) -> Vec<(String, String)> {
    sysvipc_msg
        .lines()
        .skip(1)
        .filter_map(|l| {
            let mut f = l.split_whitespace();
            Some((f.next()?.to_string(), f.next()?.to_string()))
        })
        .collect()
}

fn exists_in(dir: &Path, path: &str) -> bool {
    std::fs::symlink_metadata(dir.join(path.trim_start_matches('/'))).is_ok()
}

pub fn evaluate(spec: &CheckSpec, probe: &mut dyn Probe) -> Outcome {
    let Some(kind) = Kind::parse(spec.kind.get_ref()) else {
        return outcome(
            false,
            format!("unknown check kind {:?}", spec.kind.get_ref()),
        );
    };
    let path = spec
        .path
        .as_ref()
        .map(|p| p.get_ref().as_str())
        .unwrap_or("/");
    match kind {
        Kind::HostnameDiffers => match probe.run("cat /proc/sys/kernel/hostname") {
            Ok(r) => {
                let inside = r.output.trim().to_string();
                let host = probe.host_hostname();
                outcome(
                    r.success && inside != host,
                    format!("inside: {inside:?}, host: {host:?}"),
                )
            }
            Err(e) => outcome(false, e.to_string()),
        },
        Kind::NsDiffers | Kind::NsSame => {
            let Some(ns) = spec.ns.as_ref().and_then(|n| Ns::parse(n.get_ref()).ok()) else {
                return outcome(false, "no namespace named");
            };
            let (h, c) = (probe.ns_inode(ns, true), probe.ns_inode(ns, false));
            let differs = matches!((h, c), (Some(a), Some(b)) if a != b);
            let same = matches!((h, c), (Some(a), Some(b)) if a == b);
            let detail = format!(
                "{ns}: host {}, container {}",
                h.map_or("?".into(), |i| i.to_string()),
                c.map_or("?".into(), |i| i.to_string())
            );
            outcome(
                if kind == Kind::NsDiffers {
                    differs
                } else {
                    same
                },
                detail,
            )
        }
        Kind::Command | Kind::HostCommand => {
            let cmd = spec
                .command
                .as_ref()
                .map(|c| c.get_ref().as_str())
                .unwrap_or("");
            let want_success = spec
                .expect
                .as_ref()
                .is_none_or(|e| e.get_ref() == "success");
            let ran = if kind == Kind::Command {
                probe.run(cmd)
            } else {
                probe.host(cmd)
            };
            match ran {
                Ok(r) => {
                    let mut ok = r.success == want_success;
                    if let Some(o) = &spec.output {
                        ok &= r.output.contains(o.as_str());
                    }
                    if let Some(o) = &spec.not_output {
                        ok &= !r.output.contains(o.as_str());
                    }
                    let first = r.output.lines().next().unwrap_or("").to_string();
                    let verdict = if r.success { "succeeded" } else { "failed" };
                    let place = if kind == Kind::Command { "" } else { " (host)" };
                    outcome(
                        ok,
                        format!("`{}`{place} {verdict}: {first}", shown_command(cmd)),
                    )
                }
                Err(e) => outcome(false, e.to_string()),
            }
        }
        Kind::Pid1 => {
            let want = spec.comm.as_deref().unwrap_or("");
            match probe.pid1_comm() {
                Some(c) => outcome(c == want, format!("PID 1 inside is {c:?}")),
                None => outcome(false, "no PID 1 of its own yet (no PID namespace)"),
            }
        }
        Kind::UpperHas => match probe.upper() {
            Some(up) => {
                let has = exists_in(&up, path);
                outcome(
                    has,
                    format!(
                        "{path} {} the upper layer",
                        if has { "is in" } else { "is not in" }
                    ),
                )
            }
            None => outcome(false, "no overlay yet (the rootfs step)"),
        },
        Kind::LowerLacks => {
            let lower = probe.lower();
            let found = lower.iter().find(|d| exists_in(d, path));
            match found {
                Some(d) => outcome(
                    false,
                    format!("{path} is in the read-only layer {}", d.display()),
                ),
                None if lower.is_empty() => outcome(false, "no layers yet (the rootfs step)"),
                None => outcome(
                    true,
                    format!("{path} is in no read-only layer: they are unchanged"),
                ),
            }
        }
        Kind::ContainerMount => {
            let at = |ms: &[Mount]| ms.iter().any(|m| m.mount_point == Path::new(path));
            let inside = at(&probe.container_mounts());
            let on_host = at(&probe.host_mounts());
            outcome(
                inside && !on_host,
                format!(
                    "a mount at {path}: {} inside, {} on the host",
                    if inside { "yes" } else { "no" },
                    if on_host { "yes" } else { "no" }
                ),
            )
        }
        Kind::OomKills => {
            let want = spec.at_least.unwrap_or(1);
            match probe.oom_kills() {
                Some(n) => outcome(n >= want, format!("{n} OOM kill(s) counted by the cgroup")),
                None => outcome(false, "no memory cgroup yet"),
            }
        }
        Kind::IpcHidden => {
            let host = queue_ids(&probe.host_msg_queues());
            match probe.run("cat /proc/sysvipc/msg") {
                Ok(r) => {
                    let inside = queue_ids(&r.output);
                    // The learner may make queues inside: only the host's must not show.
                    let seen = host.iter().filter(|q| inside.contains(q)).count();
                    outcome(
                        !host.is_empty() && seen == 0 && r.success,
                        format!(
                            "message queues: {} on the host, {} inside, {seen} of the host's seen inside",
                            host.len(),
                            inside.len()
                        ),
                    )
                }
                Err(e) => outcome(false, e.to_string()),
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::lesson::format::parse;

    #[derive(Default)]
    struct Fake {
        hostname_inside: String,
        cmd_success: bool,
        cmd_output: String,
        upper: Option<PathBuf>,
        lower: Vec<PathBuf>,
        oom: Option<u64>,
        queues: String,
        ran: Vec<String>,
    }

    impl Probe for Fake {
        fn host_hostname(&self) -> String {
            "host".into()
        }
        fn run(&mut self, command: &str) -> Result<RunResult, ProbeError> {
            self.ran.push(command.to_string());
            let output = if command.contains("hostname") {
                self.hostname_inside.clone()
            } else {
                self.cmd_output.clone()
            };
            Ok(RunResult {
                success: self.cmd_success,
                output,
            })
        }
        fn host(&mut self, command: &str) -> Result<RunResult, ProbeError> {
            self.ran.push(format!("host: {command}"));
            Ok(RunResult {
                success: self.cmd_success,
                output: self.cmd_output.clone(),
            })
        }
        fn ns_inode(&self, ns: Ns, host: bool) -> Option<u64> {
            Some(if host || ns == Ns::Net { 1 } else { 2 })
        }
        fn pid1_comm(&self) -> Option<String> {
            Some("underhood-init".into())
        }
        fn upper(&self) -> Option<PathBuf> {
            self.upper.clone()
        }
        fn lower(&self) -> Vec<PathBuf> {
            self.lower.clone()
        }
        fn container_mounts(&self) -> Vec<Mount> {
            Vec::new()
        }
        fn host_mounts(&self) -> Vec<Mount> {
            Vec::new()
        }
        fn oom_kills(&self) -> Option<u64> {
            self.oom
        }
        fn host_msg_queues(&self) -> String {
            self.queues.clone()
        }
    }

    fn check(front: &str) -> CheckSpec {
        let text = format!(
            "+++\nid = \"l\"\ntitle = \"t\"\norder = 1\n[[check]]\nid = \"c\"\nsay = \"s\"\n{front}+++\n"
        );
        parse("l.md", &text).unwrap().front.checks.remove(0)
    }

    #[test]
    fn hostname_check_passes_only_when_renamed() {
        let c = check("kind = \"hostname_differs\"\n");
        let mut f = Fake {
            hostname_inside: "host\n".into(),
            cmd_success: true,
            ..Default::default()
        };
        assert!(!evaluate(&c, &mut f).passed, "same name must fail");
        f.hostname_inside = "box\n".into();
        assert!(evaluate(&c, &mut f).passed);
    }

    #[test]
    fn command_check_matches_exit_and_output() {
        let c = check(
            "kind = \"command\"\ncommand = \"mount -t tmpfs x /mnt\"\nexpect = \"failure\"\noutput = \"Operation not permitted\"\n",
        );
        let mut f = Fake {
            cmd_success: false,
            cmd_output: "mount: permission denied (are you root?)".into(),
            ..Default::default()
        };
        assert!(!evaluate(&c, &mut f).passed, "wrong message");
        f.cmd_output = "mount: /mnt: Operation not permitted".into();
        assert!(evaluate(&c, &mut f).passed);
        f.cmd_success = true;
        assert!(!evaluate(&c, &mut f).passed, "the mount must fail");
    }

    #[test]
    fn host_command_runs_on_the_host() {
        let c = check("kind = \"host_command\"\ncommand = \"cat $UH_CGROUP/x\"\noutput = \"1\"\n");
        let mut f = Fake {
            cmd_success: true,
            cmd_output: "0".into(),
            ..Default::default()
        };
        assert!(!evaluate(&c, &mut f).passed);
        f.cmd_output = "1".into();
        let o = evaluate(&c, &mut f);
        assert!(o.passed && o.detail.contains("(host)"), "{o:?}");
        assert_eq!(f.ran.last().unwrap(), "host: cat $UH_CGROUP/x");
    }

    #[test]
    fn ns_checks() {
        let mut f = Fake::default();
        assert!(evaluate(&check("kind = \"ns_differs\"\nns = \"uts\"\n"), &mut f).passed);
        assert!(!evaluate(&check("kind = \"ns_differs\"\nns = \"net\"\n"), &mut f).passed);
        assert!(evaluate(&check("kind = \"ns_same\"\nns = \"net\"\n"), &mut f).passed);
    }

    #[test]
    fn layer_checks_look_at_the_directories() {
        let tmp = tempfile::tempdir().unwrap();
        let upper = tmp.path().join("upper");
        let lower = tmp.path().join("lower");
        std::fs::create_dir_all(upper.join("etc")).unwrap();
        std::fs::create_dir_all(lower.join("etc")).unwrap();
        std::fs::write(lower.join("etc/motd"), "hi").unwrap();
        let mut f = Fake {
            upper: Some(upper.clone()),
            lower: vec![lower.clone()],
            ..Default::default()
        };
        let up = check("kind = \"upper_has\"\npath = \"/etc/motd\"\n");
        assert!(!evaluate(&up, &mut f).passed);
        std::fs::write(upper.join("etc/motd"), "changed").unwrap();
        assert!(evaluate(&up, &mut f).passed);
        let low = check("kind = \"lower_lacks\"\npath = \"/etc/new-file\"\n");
        assert!(evaluate(&low, &mut f).passed);
        let low = check("kind = \"lower_lacks\"\npath = \"/etc/motd\"\n");
        assert!(!evaluate(&low, &mut f).passed);
    }

    #[test]
    fn oom_and_ipc() {
        let mut f = Fake {
            oom: Some(0),
            cmd_success: true,
            cmd_output: "       key      msqid perms\n".into(),
            ..Default::default()
        };
        assert!(!evaluate(&check("kind = \"oom_kills\"\n"), &mut f).passed);
        f.oom = Some(1);
        assert!(evaluate(&check("kind = \"oom_kills\"\n"), &mut f).passed);
        let ipc = check("kind = \"ipc_hidden\"\n");
        assert!(!evaluate(&ipc, &mut f).passed, "no queue on the host yet");
        f.queues = "       key      msqid perms\n  1234  0  666 0 0 0 0 0 0 0 0 0 0 0\n".into();
        assert!(evaluate(&ipc, &mut f).passed);
        f.cmd_output
            .push_str(" -3403  0  644 0 0 0 0 0 0 0 0 0 0 0\n");
        assert!(
            evaluate(&ipc, &mut f).passed,
            "a queue made inside is another one"
        );
        f.cmd_output
            .push_str("  1234  0  666 0 0 0 0 0 0 0 0 0 0 0\n");
        assert!(
            !evaluate(&ipc, &mut f).passed,
            "the host's queue visible inside"
        );
    }

    #[test]
    fn a_multi_line_command_is_quoted_by_its_first_line() {
        assert_eq!(shown_command("hostname"), "hostname");
        assert_eq!(
            shown_command("\necho \"x\"\n[ -e /a ] && true\n"),
            "echo \"x\" …"
        );
    }
}
