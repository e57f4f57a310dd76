//! The processes behind the shell panes: a login shell started by PID 1 on a
//! pseudo-terminal (`s`), one that entered the running container from outside with
//! setns (`e`, the `__enter` process behind it), one on the host with variables that
//! point at the container (`h`). The front end wraps the terminal's master end; the
//! walk keeps the processes, reaps them, and closes the host shell when what its
//! variables point at is gone.

use std::os::fd::OwnedFd;
use std::process::Child;

use nix::sys::signal::Signal;

use crate::runtime::protocol::SpawnSpec;
use crate::runtime::report::Report;
use crate::session::event::{Event, Slot};

use super::Walk;

/// A shell started on a terminal: the front end wraps `master` and shows it.
#[derive(Debug)]
pub struct Opened {
    /// Its pid (inside for `Spawned`; on the host for the others).
    pub pid: i32,
    pub master: OwnedFd,
    pub title: String,
}

#[derive(Default)]
pub(super) struct Shells {
    /// The `__enter` process behind the `e` shell (reaped when it closes).
    enter_child: Option<Child>,
    /// The host shell's process (reaped when it closes).
    host_child: Option<Child>,
    /// The variables the host shell was given (runtime::host_shell::env).
    host_env: Vec<(String, String)>,
    /// Why the host shell is being closed, for when its end arrives.
    host_closed_why: Option<String>,
    /// Started, not yet attached to a pane.
    pending: Option<(Slot, Child)>,
}

impl Walk {
    /// Starts the shell of `slot` on a terminal of `rows` x `cols`; `None` when it
    /// could not be (what went wrong is shown).
    pub fn open_shell(&mut self, slot: Slot, rows: u16, cols: u16) -> Option<Opened> {
        match slot {
            Slot::Spawned => self.spawn_shell(rows, cols),
            Slot::Entered => self.enter_shell(rows, cols),
            Slot::Host => self.host_shell(rows, cols),
        }
    }

    /// The front end wrapped the terminal of the shell just opened (`ok`), or could
    /// not (the host shell is then ended).
    pub fn shell_attached(&mut self, slot: Slot, ok: bool) {
        let Some((s, mut child)) = self.shells.pending.take() else {
            return;
        };
        if s != slot {
            return;
        }
        match (slot, ok) {
            (Slot::Entered, true) => {
                self.shells.enter_child = Some(child);
                self.set_extra_roots();
            }
            (Slot::Host, true) => self.shells.host_child = Some(child),
            (Slot::Host, false) => {
                let _ = child.kill();
                let _ = child.wait();
            }
            _ => {}
        }
    }

    /// A shell's terminal closed (the shell exited): its process reaped, why it
    /// ended said, and the lesson's checks evaluated (the learner may have done it).
    pub fn shell_closed(&mut self, slot: Slot) {
        match slot {
            Slot::Spawned => {}
            Slot::Entered => {
                if let Some(mut c) = self.shells.enter_child.take() {
                    let _ = c.wait();
                }
                self.set_extra_roots();
            }
            Slot::Host => {
                if let Some(mut c) = self.shells.host_child.take() {
                    let _ = c.wait();
                }
            }
        }
        self.emit(Event::ShellClosed { slot });
        match self
            .shells
            .host_closed_why
            .take()
            .filter(|_| slot == Slot::Host)
        {
            Some(why) => self.info(why),
            None => self.info("the shell exited"),
        }
        self.check();
    }

    /// The observer follows the `e` shell's processes while it is open.
    fn set_extra_roots(&self) {
        let roots = self
            .shells
            .enter_child
            .iter()
            .map(|c| c.id() as i32)
            .collect();
        self.observer.set_extra_roots(roots);
    }

    /// The embedded shell: a login shell inside the container as it stands, on a
    /// pseudo-terminal whose slave end PID 1 makes its controlling terminal.
    fn spawn_shell(&mut self, rows: u16, cols: u16) -> Option<Opened> {
        if self.done() == 0 {
            // No namespace yet: a shell now would be a root shell on the host itself.
            self.info("take a step first: before any step, a shell would be the host's own");
            return None;
        }
        let mut env = self.launch.exec_env();
        env.push(("TERM".into(), "xterm-256color".into()));
        let spec = SpawnSpec {
            argv: vec!["/bin/sh".into(), "-l".into()],
            env,
            inherit_stdio: false,
            tty: true,
            own_tool: false,
        };
        match self.launch.spawn_pty(spec, rows, cols) {
            Ok((pid, master, report)) => {
                self.emit(Event::Log { report });
                let title = format!(
                    "Shell in the container (step {}/{})",
                    self.done(),
                    self.launch.steps.len()
                );
                Some(Opened { pid, master, title })
            }
            Err(f) => {
                self.failed(f, "");
                None
            }
        }
    }

    /// A shell that enters the running container from outside with setns(2).
    fn enter_shell(&mut self, rows: u16, cols: u16) -> Option<Opened> {
        if self.done() == 0 {
            self.info("take a step first: there is nothing to enter yet");
            return None;
        }
        let mut env = self.launch.exec_env();
        env.push(("TERM".into(), "xterm-256color".into()));
        let argv = vec!["/bin/sh".into(), "-l".into()];
        match self.launch.enter_pty(argv, env, rows, cols) {
            Ok((child, master, report)) => {
                let failed = report.failure().is_some();
                self.emit(Event::Log { report });
                if failed {
                    self.error("entering failed: see the syscalls pane");
                }
                let pid = child.id() as i32;
                self.shells.pending = Some((Slot::Entered, child));
                let title = "Entered with setns (like nsenter)".to_string();
                Some(Opened { pid, master, title })
            }
            Err(e) => {
                self.error(format!("entering the container: {e:#}"));
                None
            }
        }
    }

    /// A shell on the host, framed HOST, whose variables (UH_PID, UH_CGROUP,
    /// UH_ROOT...: runtime::host_shell) point at the container as it stands.
    fn host_shell(&mut self, rows: u16, cols: u16) -> Option<Opened> {
        let vars = self.host_vars();
        match crate::runtime::host_shell::spawn(&vars, rows, cols) {
            Ok((child, master)) => {
                let mut r = Report::new("a shell on the host");
                self.shells.host_env = vars;
                for (k, v) in &self.shells.host_env {
                    r.shell(format!("export {k}={v}"));
                }
                r.note("this shell runs on the HOST, outside every namespace of the container");
                if self.by_hand() {
                    r.note(
                        "UH_PID and UH_ROOT are not set: in this lesson the container is the \
                         one you make here; the panes find it, with its host pid",
                    );
                }
                self.emit(Event::Log { report: r });
                // The pane's frame adds the HOST label before it.
                let title = if self.by_hand() {
                    "shell on the host: make your container here".to_string()
                } else {
                    format!(
                        "shell, outside the container (UH_PID={})",
                        self.launch.subject
                    )
                };
                let pid = child.id() as i32;
                self.shells.pending = Some((Slot::Host, child));
                Some(Opened { pid, master, title })
            }
            Err(e) => {
                self.error(format!("opening a shell on the host: {e:#}"));
                None
            }
        }
    }

    /// The host shell's variables (runtime::host_shell::env). In a lesson made by hand
    /// the container is the learner's own, made in this shell after it opened:
    /// UH_PID and UH_ROOT would name underhood's idle one instead, so they are left
    /// out (the checks get the learner's, lesson::probe).
    fn host_vars(&self) -> Vec<(String, String)> {
        let mut vars = crate::runtime::host_shell::env(&self.launch);
        if self.by_hand() {
            vars.retain(|(k, _)| k != "UH_PID" && k != "UH_ROOT");
        }
        vars
    }

    fn by_hand(&self) -> bool {
        self.opts.lesson.as_ref().is_some_and(|l| l.by_hand())
    }

    /// The host shell's variables point at the container as it was when it opened:
    /// when a step changes them (the PID step makes a new PID 1, the cgroup step the
    /// cgroup) or going back rebuilds another container, the shell is closed rather
    /// than left pointing at what is gone; `h` opens one with the new values.
    pub(super) fn refresh_host_shell(&mut self) {
        let Some(child) = &self.shells.host_child else {
            return;
        };
        let now = self.host_vars();
        if now == self.shells.host_env {
            return;
        }
        let changed: Vec<&str> = now
            .iter()
            .filter(|v| !self.shells.host_env.contains(v))
            .map(|(k, _)| k.as_str())
            .collect();
        // The shell leads its own session and process group (setsid in spawn):
        // SIGHUP to the group, as a closed terminal would (credentials(7)).
        let _ = nix::sys::signal::killpg(
            nix::unistd::Pid::from_raw(child.id() as i32),
            Signal::SIGHUP,
        );
        let why = format!(
            "the host shell closed: {} changed; h opens one with the new values",
            changed.join(", ")
        );
        self.info(why.clone());
        // Said again when its end arrives (the usual "the shell exited" would hide
        // the reason).
        self.shells.host_closed_why = Some(why);
    }
}
