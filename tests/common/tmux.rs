//! Driving the real binary's TUI in tmux, as a person would: keys in
//! (`send-keys`), screens out (`capture-pane`). Waits are bounded polls, not timings.

use std::path::Path;
use std::process::{Command, Output};
use std::time::{Duration, Instant};

/// The window size of `Tui::start`.
pub const WIDTH: u16 = 120;
pub const HEIGHT: u16 = 40;

/// Why the TUI cannot be driven here: no working tmux.
pub fn unless_tmux() -> Option<String> {
    let ok = Command::new("tmux")
        .arg("-V")
        .output()
        .is_ok_and(|o| o.status.success());
    (!ok).then(|| "tmux missing".to_string())
}

/// `(K, N)` from the `K/N` right after the first `marker` in `text`: a step counter
/// (`step 3/9` in a header, `Step 3/9` in a pane's title).
pub fn fraction_after(text: &str, marker: &str) -> Option<(usize, usize)> {
    let i = text.find(marker)?;
    let rest = &text[i + marker.len()..];
    let (k, rest) = rest.split_once('/')?;
    let n: String = rest.chars().take_while(char::is_ascii_digit).collect();
    Some((k.parse().ok()?, n.parse().ok()?))
}

/// One tmux server of our own (its own socket, no user config), with one session
/// running the TUI. Dropping it kills the server, whatever the test's outcome.
pub struct Tui {
    socket: String,
    pub dir: tempfile::TempDir,
}

impl Tui {
    pub fn start(test: &str) -> Tui {
        Tui::start_with(test, "")
    }

    /// `env` is put before the command (`NAME=value ...`).
    pub fn start_with(test: &str, env: &str) -> Tui {
        Tui::launch(test, env, "", (WIDTH, HEIGHT))
    }

    /// `underhood ARGS` (with `env` before it) in a `width`x`height` tmux window.
    pub fn launch(test: &str, env: &str, args: &str, size: (u16, u16)) -> Tui {
        Tui::launch_to(test, env, args, size, true)
    }

    /// Like [`Tui::launch`], but stderr stays on the terminal, as for a person: a
    /// closed terminal then also fails every write to stderr ([`Tui::stderr`] is empty).
    pub fn launch_stderr_on_terminal(test: &str, env: &str, args: &str, size: (u16, u16)) -> Tui {
        Tui::launch_to(test, env, args, size, false)
    }

    fn launch_to(
        test: &str,
        env: &str,
        args: &str,
        (width, height): (u16, u16),
        stderr_to_file: bool,
    ) -> Tui {
        let dir = tempfile::tempdir().expect("a temp dir");
        let socket = format!("uh-e2e-{}-{test}", std::process::id());
        let conf = dir.path().join("tmux.conf");
        // The pane stays after the TUI exits, so the screen it leaves can be read.
        std::fs::write(&conf, "set -g remain-on-exit on\n").expect("writing tmux.conf");
        // The pane's shell waits for the TUI and keeps its exit status (tmux's own
        // #{pane_dead_status} is set only once tmux reaps, which may come late).
        // After the TUI, the terminal's settings are saved: a restored terminal is back
        // in canonical mode with echo on.
        let stderr = if stderr_to_file {
            format!("2>{}", dir.path().join("stderr").display())
        } else {
            String::new()
        };
        let cmd = format!(
            "{env} {} {args} {stderr}; s=$?; stty -a >{}; echo $s >{}",
            super::BIN,
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
                &width.to_string(),
                "-y",
                &height.to_string(),
                &cmd,
            ],
        );
        assert!(out.status.success(), "tmux new-session: {out:?}");
        tui
    }

    pub fn tmux_with_conf(&self, conf: &Path, args: &[&str]) -> Output {
        Command::new("tmux")
            .arg("-L")
            .arg(&self.socket)
            .arg("-f")
            .arg(conf)
            .args(args)
            .output()
            .expect("running tmux")
    }

    pub fn tmux(&self, args: &[&str]) -> Output {
        Command::new("tmux")
            .arg("-L")
            .arg(&self.socket)
            .args(args)
            .output()
            .expect("running tmux")
    }

    pub fn screen(&self) -> String {
        String::from_utf8_lossy(&self.tmux(&["capture-pane", "-p", "-t", "uh"]).stdout).into_owned()
    }

    pub fn keys(&self, keys: &str) {
        let out = self.tmux(&["send-keys", "-t", "uh", keys]);
        assert!(out.status.success(), "send-keys {keys}: {out:?}");
    }

    pub fn display(&self, format: &str) -> String {
        let out = self.tmux(&["display-message", "-p", "-t", "uh", format]);
        String::from_utf8_lossy(&out.stdout).trim().to_string()
    }

    /// The TUI's pid: the only child of the pane's shell.
    pub fn pid(&self) -> i32 {
        let sh: i32 = self.display("#{pane_pid}").parse().expect("the pane's pid");
        let children = std::fs::read_to_string(format!("/proc/{sh}/task/{sh}/children"))
            .expect("the pane shell's children");
        children
            .split_whitespace()
            .next()
            .and_then(|p| p.parse().ok())
            .unwrap_or_else(|| panic!("the pane's shell {sh} has no child"))
    }

    pub fn status(&self) -> Option<String> {
        std::fs::read_to_string(self.dir.path().join("status"))
            .ok()
            .map(|s| s.trim().to_string())
            .filter(|s| !s.is_empty())
    }

    pub fn dead(&self) -> bool {
        self.status().is_some() || self.display("#{pane_dead}") == "1"
    }

    /// Whether `stty -a` after the TUI shows a cooked terminal again.
    pub fn terminal_cooked(&self) -> bool {
        let stty = std::fs::read_to_string(self.dir.path().join("stty")).unwrap_or_default();
        let words: Vec<&str> = stty.split_whitespace().collect();
        words.contains(&"icanon") && words.contains(&"echo")
    }

    pub fn stderr(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("stderr")).unwrap_or_default()
    }

    /// Polls the screen until `pred` holds; panics with the last screen and the TUI's
    /// stderr after `limit`.
    pub fn wait_for(&self, what: &str, limit: Duration, pred: impl Fn(&str) -> bool) -> String {
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

    /// Waits (120 s at most: the root filesystem may be assembled first) for the first
    /// screen, where `counter` reads step 0: that screen and the number of steps.
    pub fn first_step(&self, counter: fn(&str) -> Option<(usize, usize)>) -> (String, usize) {
        let s = self.wait_for("the first screen", Duration::from_secs(120), |s| {
            counter(s).is_some_and(|(k, _)| k == 0)
        });
        let (_, n) = counter(&s).expect("a step counter");
        (s, n)
    }

    /// Presses → and waits for `counter` to read step `k`, which must not have failed
    /// (no `why: ` on the screen): that screen.
    pub fn step(&self, k: usize, counter: fn(&str) -> Option<(usize, usize)>) -> String {
        self.keys("Right");
        let s = self.wait_for(&format!("step {k}"), Duration::from_secs(30), |s| {
            counter(s).is_some_and(|(d, _)| d == k)
        });
        assert!(!s.contains("why: "), "step {k} failed on screen:\n{s}");
        s
    }

    /// Waits for the TUI to exit; returns its exit status.
    pub fn wait_exit(&self, limit: Duration) -> String {
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
        // tmux leaves its socket file behind when its server is killed: remove it too.
        let socket = self.display("#{socket_path}");
        let _ = self.tmux(&["kill-server"]);
        if socket.ends_with(&self.socket) {
            let _ = std::fs::remove_file(socket);
        }
    }
}
