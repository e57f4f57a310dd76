//! The real binary's TUI, driven like a person in tmux at 120x40 (as root): every step,
//! the memory hog into the OOM kill, quit; and SIGTERM / SIGHUP midway. Each test
//! checks that nothing of ours is left on the host.
//!
//! Reported ignored, with the reason, when not root or when tmux is missing (never as
//! passed); CI installs tmux.
//! Waits are bounded polls of `tmux capture-pane`, not timings: the budgets are
//! measured by `benches/tui_budget.sh`.

mod common;

use std::path::Path;
use std::process::{Command, Output};
use std::time::{Duration, Instant};

use common::{assert_no_residue, residue, trials, unless_root};

const WIDTH: u16 = 120;
const HEIGHT: u16 = 40;

fn main() -> std::process::ExitCode {
    common::run(trials![
        unless_root().or_else(unless_tmux);
        every_step_then_the_hog_into_the_oom_kill_then_quit,
        sigterm_midway_leaves_nothing,
        killing_the_tmux_session_with_the_hog_running_leaves_nothing,
        ctrl_c_midway_restores_the_terminal_and_leaves_nothing,
        an_injected_panic_restores_the_terminal_and_leaves_nothing,
    ])
}

/// Why the TUI cannot be driven here: no working tmux.
fn unless_tmux() -> Option<String> {
    let ok = Command::new("tmux")
        .arg("-V")
        .output()
        .is_ok_and(|o| o.status.success());
    (!ok).then(|| "tmux missing".to_string())
}

/// One tmux server of our own (its own socket, no user config), with one session
/// running the TUI. Dropping it kills the server, whatever the test's outcome.
struct Tui {
    socket: String,
    dir: tempfile::TempDir,
}

impl Tui {
    fn start(test: &str) -> Tui {
        Tui::start_with(test, "")
    }

    /// `env` is put before the command (`NAME=value ...`).
    fn start_with(test: &str, env: &str) -> Tui {
        let dir = tempfile::tempdir().expect("a temp dir");
        let socket = format!("uh-e2e-{}-{test}", std::process::id());
        let conf = dir.path().join("tmux.conf");
        // The pane stays after the TUI exits, so the screen it leaves can be read.
        std::fs::write(&conf, "set -g remain-on-exit on\n").expect("writing tmux.conf");
        // The pane's shell waits for the TUI and keeps its exit status (tmux's own
        // #{pane_dead_status} is set only once tmux reaps, which may come late).
        // After the TUI, the terminal's settings are saved: a restored terminal is back
        // in canonical mode with echo on.
        let cmd = format!(
            "{env} {} 2>{}; s=$?; stty -a >{}; echo $s >{}",
            common::BIN,
            dir.path().join("stderr").display(),
            dir.path().join("stty").display(),
            dir.path().join("status").display()
        );
        let tui = Tui { socket, dir };
        let out = tui.tmux_with_conf(
            &conf,
            &[
                "new-session",
                "-d",
                "-s",
                "uh",
                "-x",
                &WIDTH.to_string(),
                "-y",
                &HEIGHT.to_string(),
                &cmd,
            ],
        );
        assert!(out.status.success(), "tmux new-session: {out:?}");
        tui
    }

    fn tmux_with_conf(&self, conf: &Path, args: &[&str]) -> Output {
        Command::new("tmux")
            .arg("-L")
            .arg(&self.socket)
            .arg("-f")
            .arg(conf)
            .args(args)
            .output()
            .expect("running tmux")
    }

    fn tmux(&self, args: &[&str]) -> Output {
        Command::new("tmux")
            .arg("-L")
            .arg(&self.socket)
            .args(args)
            .output()
            .expect("running tmux")
    }

    fn screen(&self) -> String {
        String::from_utf8_lossy(&self.tmux(&["capture-pane", "-p", "-t", "uh"]).stdout).into_owned()
    }

    fn keys(&self, keys: &str) {
        let out = self.tmux(&["send-keys", "-t", "uh", keys]);
        assert!(out.status.success(), "send-keys {keys}: {out:?}");
    }

    fn display(&self, format: &str) -> String {
        let out = self.tmux(&["display-message", "-p", "-t", "uh", format]);
        String::from_utf8_lossy(&out.stdout).trim().to_string()
    }

    /// The TUI's pid: the only child of the pane's shell.
    fn pid(&self) -> i32 {
        let sh: i32 = self.display("#{pane_pid}").parse().expect("the pane's pid");
        let children = std::fs::read_to_string(format!("/proc/{sh}/task/{sh}/children"))
            .expect("the pane shell's children");
        children
            .split_whitespace()
            .next()
            .and_then(|p| p.parse().ok())
            .unwrap_or_else(|| panic!("the pane's shell {sh} has no child"))
    }

    fn status(&self) -> Option<String> {
        std::fs::read_to_string(self.dir.path().join("status"))
            .ok()
            .map(|s| s.trim().to_string())
            .filter(|s| !s.is_empty())
    }

    fn dead(&self) -> bool {
        self.status().is_some() || self.display("#{pane_dead}") == "1"
    }

    /// Whether `stty -a` after the TUI shows a cooked terminal again.
    fn terminal_cooked(&self) -> bool {
        let stty = std::fs::read_to_string(self.dir.path().join("stty")).unwrap_or_default();
        let words: Vec<&str> = stty.split_whitespace().collect();
        words.contains(&"icanon") && words.contains(&"echo")
    }

    fn stderr(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("stderr")).unwrap_or_default()
    }

    /// Polls the screen until `pred` holds; panics with the last screen and the TUI's
    /// stderr after `limit`.
    fn wait_for(&self, what: &str, limit: Duration, pred: impl Fn(&str) -> bool) -> String {
        let start = Instant::now();
        loop {
            let s = self.screen();
            if pred(&s) {
                return s;
            }
            if start.elapsed() > limit || self.dead() {
                panic!(
                    "waited {:?} for {what}; the screen:\n{s}\nstderr:\n{}",
                    start.elapsed(),
                    self.stderr()
                );
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// Waits for the TUI to exit; returns its exit status.
    fn wait_exit(&self, limit: Duration) -> String {
        let start = Instant::now();
        loop {
            if let Some(s) = self.status() {
                return s;
            }
            if start.elapsed() > limit {
                panic!(
                    "the TUI did not exit within {limit:?}; the screen:\n{}\nstderr:\n{}",
                    self.screen(),
                    self.stderr()
                );
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }
}

impl Drop for Tui {
    fn drop(&mut self) {
        let _ = self.tmux(&["kill-server"]);
    }
}

/// `Step k/n` from the step pane's title.
fn step_counter(screen: &str) -> Option<(usize, usize)> {
    let i = screen.find("Step ")?;
    let rest = &screen[i + 5..];
    let (k, rest) = rest.split_once('/')?;
    let n: String = rest.chars().take_while(char::is_ascii_digit).collect();
    Some((k.parse().ok()?, n.parse().ok()?))
}

/// The first screen: the root filesystem may be assembled first (a few seconds once).
fn started(tui: &Tui) -> usize {
    let s = tui.wait_for("the first screen", Duration::from_secs(120), |s| {
        step_counter(s).is_some_and(|(k, _)| k == 0)
    });
    let (_, n) = step_counter(&s).expect("a step counter");
    assert!(n > 0, "{s}");
    n
}

/// Presses → and waits for each step to be shown done, up to `upto`.
fn take_steps(tui: &Tui, upto: usize) -> String {
    let mut screen = String::new();
    for k in 1..=upto {
        tui.keys("Right");
        screen = tui.wait_for(&format!("step {k}"), Duration::from_secs(30), |s| {
            step_counter(s).is_some_and(|(d, _)| d == k)
        });
        assert!(
            !screen.contains("why: "),
            "step {k} failed on screen:\n{screen}"
        );
    }
    screen
}

/// The host before a test. The TUI removes stale sessions (a dead controller's) when
/// it starts; do that first so the comparison sees only what this test's TUI does.
fn host_before() -> common::Residue {
    let out = common::underhood(&["cleanup"]);
    assert!(out.status.success(), "underhood cleanup: {out:?}");
    residue()
}

fn gone(pid: i32) -> bool {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
    // Gone, or a zombie waiting for tmux to reap it.
    stat.is_empty()
        || stat
            .rsplit(')')
            .next()
            .is_some_and(|r| r.trim_start().starts_with('Z'))
}

fn wait_gone(pid: i32, limit: Duration) {
    let start = Instant::now();
    while !gone(pid) {
        assert!(
            start.elapsed() < limit,
            "pid {pid} still there after {limit:?}"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}

fn every_step_then_the_hog_into_the_oom_kill_then_quit() {
    let before = host_before();
    {
        let tui = Tui::start("steps");
        let n = started(&tui);
        let screen = take_steps(&tui, n);
        assert_eq!(step_counter(&screen), Some((n, n)), "{screen}");
        assert!(
            screen.contains("7/8 isolated") || screen.contains("8/8 isolated"),
            "{screen}"
        );
        assert!(screen.contains(&format!("all {n} steps done")), "{screen}");

        // One more → only explains.
        tui.keys("Right");
        tui.wait_for("the all-done hint", Duration::from_secs(5), |s| {
            s.contains("all steps are done")
        });

        tui.keys("m");
        let screen = tui.wait_for("the OOM kill", Duration::from_secs(20), |s| {
            s.contains("OOM kills 1") && s.contains("OOM kill:")
        });
        // The container carries on: PID 1 and the command are still there.
        assert!(screen.contains("underhood-init"), "{screen}");
        assert!(screen.contains("sleep 2147483647"), "{screen}");

        tui.keys("q");
        let status = tui.wait_exit(Duration::from_secs(20));
        let after = tui.screen();
        assert_eq!(status, "0", "exit status; stderr:\n{}", tui.stderr());
        // The terminal is restored: the alternate screen is gone.
        assert!(!after.contains("Namespaces"), "{after}");
    }
    assert_no_residue(&before);
}

fn sigterm_midway_leaves_nothing() {
    let before = host_before();
    {
        let tui = Tui::start("term");
        let n = started(&tui);
        // Past the cgroup and the mount namespace, before the root filesystem.
        take_steps(&tui, n / 2);
        let pid = tui.pid();
        nix::sys::signal::kill(
            nix::unistd::Pid::from_raw(pid),
            nix::sys::signal::Signal::SIGTERM,
        )
        .expect("kill -TERM");
        let status = tui.wait_exit(Duration::from_secs(20));
        assert_eq!(status, "0", "exit status; stderr:\n{}", tui.stderr());
        assert!(
            !tui.screen().contains("Namespaces"),
            "terminal not restored"
        );
    }
    assert_no_residue(&before);
}

fn killing_the_tmux_session_with_the_hog_running_leaves_nothing() {
    let before = host_before();
    {
        let tui = Tui::start("hup");
        let n = started(&tui);
        take_steps(&tui, n);
        tui.keys("m");
        tui.wait_for("the hog running", Duration::from_secs(10), |s| {
            s.contains("hog running")
        });
        let pid = tui.pid();
        // The terminal goes away: tmux sends SIGHUP to the pane's process.
        let out = tui.tmux(&["kill-session", "-t", "uh"]);
        assert!(out.status.success(), "{out:?}");
        wait_gone(pid, Duration::from_secs(20));
        // Shown with the failure, if any: what the TUI said on its way out.
        eprintln!("the TUI's stderr:\n{}", tui.stderr());
    }
    assert_no_residue(&before);
}

fn ctrl_c_midway_restores_the_terminal_and_leaves_nothing() {
    let before = host_before();
    {
        let tui = Tui::start("ctrlc");
        let n = started(&tui);
        take_steps(&tui, n / 2);
        // In raw mode Ctrl-C is a key, not SIGINT: the TUI quits and cleans up.
        tui.keys("C-c");
        let status = tui.wait_exit(Duration::from_secs(20));
        assert_eq!(status, "0", "exit status; stderr:\n{}", tui.stderr());
        assert!(
            !tui.screen().contains("Namespaces"),
            "alternate screen left on"
        );
        assert!(tui.terminal_cooked(), "terminal left in raw mode");
    }
    assert_no_residue(&before);
}

fn an_injected_panic_restores_the_terminal_and_leaves_nothing() {
    let before = host_before();
    {
        // The test-only switch: panic right after the fourth step.
        let tui = Tui::start_with("panic", "UNDERHOOD_FAULT=panic:4");
        started(&tui);
        for _ in 0..4 {
            tui.keys("Right");
            std::thread::sleep(Duration::from_millis(200));
        }
        let status = tui.wait_exit(Duration::from_secs(20));
        assert_eq!(
            status,
            "101",
            "a panic's exit status; stderr:\n{}",
            tui.stderr()
        );
        assert!(tui.stderr().contains("injected panic"), "{}", tui.stderr());
        assert!(
            !tui.screen().contains("Namespaces"),
            "alternate screen left on"
        );
        assert!(tui.terminal_cooked(), "terminal left in raw mode");
    }
    assert_no_residue(&before);
}
