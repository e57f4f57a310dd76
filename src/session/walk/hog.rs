//! The memory hog: a process inside that grows towards the memory limit until the
//! kernel's OOM killer takes it (the OOM lesson's demonstration).

use crate::runtime::link::Exit;
use crate::runtime::protocol::SpawnSpec;
use crate::runtime::report::Report;
use crate::runtime::step::Step;
use crate::units::format_size;

use super::Walk;
use crate::session::event::Event;

impl Walk {
    /// Starts the hog (or says why not).
    pub fn hog(&mut self) {
        if self.hog.is_some() {
            self.info("the hog is already running: watch the memory pane");
            return;
        }
        if self.launch.cgroup.is_none() {
            let at = self
                .launch
                .steps
                .iter()
                .position(|s| matches!(s, Step::Cgroup { .. }))
                .map(|i| i + 1);
            let text = match (at, &self.cgroup_skipped) {
                (Some(at), _) => format!(
                    "the memory hog needs the memory limit first: take the steps up to step {at} (cgroup limits)"
                ),
                (None, Some(why)) => format!(
                    "the memory hog needs a memory limit, and this walk has none: {why}"
                ),
                (None, None) => "this container gets no memory limit, so the hog has nothing to hit: the OOM lesson shows it (underhood --lesson oom)".to_string(),
            };
            self.info(text);
            return;
        }
        let rate = format_size(self.opts.hog_rate)
            .replace(' ', "")
            .replace("iB", "");
        // Once the container has its own root, run the copy of hog in it (the kernel's
        // log then names `hog`); before that, our own in-memory binary.
        let rooted = self.launch.steps[..self.launch.next]
            .iter()
            .any(|s| matches!(s, Step::EnterRoot { .. }));
        let spec = SpawnSpec {
            argv: vec!["hog".into(), "--rate".into(), rate],
            env: self.launch.exec_env(),
            inherit_stdio: false,
            tty: false,
            own_tool: !rooted,
        };
        match self.launch.spawn(spec) {
            Ok((pid, report)) => {
                self.hog = Some(pid);
                self.emit(Event::Hog { pid: Some(pid) });
                self.emit(Event::Log { report });
                self.observer.fast(true);
                self.info(format!(
                    "hog (pid {pid} inside) grows by {}/s towards the {} limit",
                    format_size(self.opts.hog_rate),
                    format_size(self.opts.memory)
                ));
            }
            Err(f) => self.failed(f, ""),
        }
    }

    /// A process inside was reaped: the hog's end is told (how it ended, the
    /// kernel's own lines on the kill); true when something was emitted.
    pub(super) fn reaped(&mut self, pid: i32, exit: Exit) -> bool {
        if Some(pid) != self.hog {
            return false;
        }
        self.hog = None;
        self.emit(Event::Hog { pid: None });
        self.observer.fast(false);
        let mut r = Report::new("hog ended");
        let snap = self.sample();
        let kills = snap.memory.as_ref().map(|m| m.oom_kills).unwrap_or(0);
        let mut said = None;
        match exit.signal {
            Some(9) => {
                r.note(format!(
                    "the kernel killed hog with SIGKILL at the {} limit; {} OOM kill{} counted",
                    format_size(self.opts.memory),
                    kills,
                    if kills == 1 { "" } else { "s" }
                ));
                said = Some(
                    "OOM kill: the hog hit the limit and the kernel killed it; the container carries on",
                );
            }
            _ => r.note(format!("hog exited with status {}", exit.status())),
        }
        if let (Some(k), Some(cg)) = (self.kmsg.as_mut(), self.launch.cgroup.as_ref()) {
            let lines = k.read_new();
            for line in crate::observe::kmsg::kills_in(&lines, cg.name()) {
                r.note(format!("kernel: {line}"));
            }
        }
        if let Some(text) = said {
            self.info(text);
        }
        self.emit(Event::Log { report: r });
        let snapshot = Box::new(snap);
        self.emit(Event::Snapshot { snapshot });
        true
    }
}
