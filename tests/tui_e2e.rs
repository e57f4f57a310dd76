//! The real binary's TUI, driven like a person in tmux at 120x40 (as root): every step,
//! the memory hog into the OOM kill, quit; and SIGTERM / SIGHUP midway. Each test
//! checks that nothing of ours is left on the host.
//!
//! Reported ignored, with the reason, when not root or when tmux is missing (never as
//! passed); CI installs tmux.
//! Waits are bounded polls of `tmux capture-pane`, not timings: the budgets are
//! measured by `benches/tui_budget.sh`.

mod common;

use std::time::{Duration, Instant};

use common::tmux::{Tui, unless_tmux};
use common::{assert_no_residue, residue, trials, unless_root};

fn main() -> std::process::ExitCode {
    common::run(trials![
        unless_root().or_else(unless_tmux);
        every_step_then_the_hog_into_the_oom_kill_then_quit,
        sigterm_midway_leaves_nothing,
        killing_the_tmux_session_with_the_hog_running_leaves_nothing,
        ctrl_c_midway_restores_the_terminal_and_leaves_nothing,
        an_injected_panic_restores_the_terminal_and_leaves_nothing,
        presenter_mode_at_80x24_by_a_clickers_keys,
    ])
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

/// `--present` at 80x24 (a projector with a big font), driven by the keys a
/// presentation clicker sends: every step forward with PageDown, each shown with its
/// title and the key hint; the blank key and a wake-up that does not step; one step
/// back with PageUp; quit, and nothing left.
fn presenter_mode_at_80x24_by_a_clickers_keys() {
    let before = host_before();
    {
        let tui = Tui::launch("present", "", "--present", (80, 24));
        let first = tui.wait_for("the first screen", Duration::from_secs(120), |s| {
            s.contains(" steps from a process to a container")
        });
        let n: usize = first
            .split(" steps from a process")
            .next()
            .and_then(|l| l.trim().parse().ok())
            .unwrap_or_else(|| panic!("a step count in\n{first}"));
        assert!(first.contains("→ Space PgDn  next"), "{first}");
        for k in 1..=n {
            tui.keys("PageDown");
            let title = format!("Step {k} of {n} · ");
            // The title names the step as soon as it starts; the footer offers "back"
            // once it is done. Wait for both (a capture in between raced here).
            let s = tui.wait_for(&title, Duration::from_secs(30), |s| {
                s.contains(&title) && s.lines().last().is_some_and(|l| l.contains("← PgUp"))
            });
            assert!(!s.contains("why: "), "step {k} failed on screen:\n{s}");
            let footer = s.lines().last().unwrap_or_default();
            assert!(footer.contains("← PgUp  back"), "{footer}");
            assert!(footer.contains("timer "), "{footer}");
        }
        tui.keys(".");
        tui.wait_for("a blank screen", Duration::from_secs(5), |s| {
            s.trim().is_empty()
        });
        // Waking the screen does not step (there is no next step to take here: an
        // explanation would show).
        tui.keys("PageDown");
        let title = format!("Step {n} of {n} · ");
        let s = tui.wait_for("the screen back", Duration::from_secs(5), |s| {
            s.contains(&title)
        });
        assert!(!s.contains("all steps are done"), "{s}");
        tui.keys("PageUp");
        let title = format!("Step {} of {n} · ", n - 1);
        tui.wait_for("one step back", Duration::from_secs(30), |s| {
            s.contains(&title)
        });
        tui.keys("q");
        let status = tui.wait_exit(Duration::from_secs(20));
        assert_eq!(status, "0", "exit status; stderr:\n{}", tui.stderr());
    }
    assert_no_residue(&before);
}
