//! The exec step: PID 1 forks the container's command and execs it (execve(2)), then
//! stays to reap orphans and forward signals (the subject's serve loop). The fork and
//! exec are `runtime/spawn.rs`; the controller keeps the command's pid.

use anyhow::{Result, bail};
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

    fn outside(&self, _o: &mut Outside, _r: &mut Report) -> Result<()> {
        Ok(())
    }

    fn after(&self, o: &mut Outside, reply: Reply) -> Result<()> {
        let Reply::Started { pid, .. } = reply else {
            bail!("unexpected reply to the exec step: {reply:?}");
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
}
