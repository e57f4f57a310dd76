//! The exec step: PID 1 forks the container's command and execs it (execve(2)), then
//! stays to reap orphans and forward signals (the subject's serve loop). The fork and
//! exec are `runtime/spawn.rs`; the controller keeps the command's pid.

use crate::runtime::launch_error::{Error, Result};
use nix::errno::Errno;

use super::{Inside, Outcome, Outside, Part, Shape};
use crate::ns::Ns;
use crate::runtime::protocol::{Reply, SpawnSpec};
use crate::runtime::report::Report;
use crate::runtime::spawn;

pub struct Exec<'a> {
    pub argv: &'a [String],
    pub env: &'a [(String, String)],
}

impl Exec<'_> {
    /// Without an init (`run --no-init`): the command is execve(2)'d in the subject's
    /// place, so that it is PID 1 itself (after the PID step). The kernel then drops
    /// every signal sent to it, from inside its namespace or from the host, that it has
    /// no handler for, SIGKILL and SIGSTOP from an ancestor namespace excepted
    /// (pid_namespaces(7)): the `docker stop` problem an init solves.
    fn in_place(&self, r: &mut Report) -> Result<Outcome, Errno> {
        let Some(path) = self.argv.first().and_then(|a| spawn::resolve(a, self.env)) else {
            return r.call(
                "execve",
                format!(
                    "{:?} (not found in the container's PATH)",
                    self.argv.first()
                ),
                Err(Errno::ENOENT),
            );
        };
        let cstr = |t: String| std::ffi::CString::new(t).unwrap_or_default();
        let argv = self.argv.iter().map(|a| cstr(a.clone())).collect();
        let env = self
            .env
            .iter()
            .map(|(k, v)| cstr(format!("{k}={v}")))
            .collect();
        r.shell(format!("exec {}", self.argv.join(" ")));
        r.call(
            "execve",
            format!("{path:?}, [{}] (as PID 1, no init)", self.argv.join(", ")),
            Ok(()),
        )?;
        Ok(Outcome::ExecInPlace { path, argv, env })
    }
}

impl Part for Exec<'_> {
    fn name(&self) -> &'static str {
        "exec"
    }

    fn title(&self) -> String {
        format!("exec {}", self.argv.join(" "))
    }

    fn namespace(&self) -> Option<Ns> {
        None
    }

    fn shape(&self) -> Shape {
        Shape::Subject
    }

    fn inside(&self, cx: &mut Inside) -> Result<Outcome, Errno> {
        if cx.no_init {
            return self.in_place(cx.report);
        }
        let spec = SpawnSpec {
            argv: self.argv.to_vec(),
            env: self.env.to_vec(),
            inherit_stdio: true,
            tty: false,
            own_tool: false,
        };
        let pid = spawn::spawn(&spec, None, None, cx.report)?;
        cx.report.shell(format!("exec {}", self.argv.join(" ")));
        Ok(Outcome::Started(pid.as_raw()))
    }

    fn after(&self, o: &mut Outside, reply: Reply) -> Result<()> {
        let Reply::Started { pid, .. } = reply else {
            return Err(Error::Protocol(format!(
                "unexpected reply to the exec step: {reply:?}"
            )));
        };
        *o.command = Some(pid);
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use crate::runtime::step::Step;
    use crate::runtime::steps::testing::inside;
    use crate::runtime::sys::Recorder;
    use nix::errno::Errno;

    #[test]
    fn a_command_missing_from_the_containers_path_is_enoent_without_a_fork() {
        let step = Step::Exec {
            argv: vec!["underhood-no-such-command".into()],
            env: vec![("PATH".into(), "/nonexistent-dir".into())],
        };
        let (r, res) = inside(&step, &mut Recorder::default(), false);
        assert_eq!(res, Err(Errno::ENOENT));
        assert_eq!(r.errno(), Some(Errno::ENOENT));
        assert_eq!(r.calls.len(), 1, "no fork: {:?}", r.calls);
        assert!(
            r.calls[0]
                .args
                .contains("not found in the container's PATH")
        );
    }

    /// `run --no-init`: nothing is forked; the subject is told to become the command,
    /// found in the container's PATH, with the call in the report.
    #[test]
    fn without_an_init_the_command_replaces_the_subject() {
        use crate::runtime::report::Report;
        use crate::runtime::steps::{Inside, Outcome, of};
        let step = Step::Exec {
            argv: vec!["sh".into(), "-c".into(), "true".into()],
            env: vec![("PATH".into(), "/bin".into())],
        };
        let mut sys = Recorder::default();
        let mut r = Report::new(step.title());
        let mut cx = Inside {
            sys: &mut sys,
            report: &mut r,
            in_userns: false,
            host_root: false,
            no_init: true,
            join_cgroup: &[],
        };
        let Ok(Outcome::ExecInPlace { path, argv, env }) = of(&step).inside(&mut cx) else {
            panic!("no ExecInPlace: {:?}", r.calls);
        };
        assert_eq!(path.to_str(), Ok("/bin/sh"));
        assert_eq!(argv.len(), 3);
        assert_eq!(env[0].to_str(), Ok("PATH=/bin"));
        assert!(sys.calls.is_empty(), "nothing forked: {:?}", sys.calls);
        assert!(
            r.calls[0].args.contains("as PID 1, no init"),
            "{:?}",
            r.calls
        );
    }
}
