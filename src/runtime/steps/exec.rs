//! The exec step: PID 1 forks the container's command and execs it (execve(2)), then
//! stays to reap orphans and forward signals (the subject's serve loop). The fork and
//! exec are `runtime/spawn.rs`; the controller keeps the command's pid.

use anyhow::{Result, bail};
use nix::errno::Errno;

use super::{Inside, Outcome, Outside, Part, Shape};
use crate::runtime::protocol::{Reply, SpawnSpec};
use crate::runtime::report::Report;
use crate::runtime::spawn;

pub struct Exec<'a> {
    pub argv: &'a [String],
    pub env: &'a [(String, String)],
}

impl Part for Exec<'_> {
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
