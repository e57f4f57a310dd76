//! The real binary's TUI, driven like a person in tmux at 120x40 (as root): every step,
//! the memory hog into the OOM kill, quit; and SIGTERM / SIGHUP midway. Each test
//! checks that nothing of ours is left on the host.
//!
//! Reported ignored, with the reason, when not root or when tmux is missing (never as
//! passed); CI installs tmux.
//! Waits are bounded polls of `tmux capture-pane`, not timings: the budgets are
//! measured by `benches/tui_budget.sh`.

mod common;

use std::time::Duration;

use common::pty::masters_below;
use common::tmux::{Tui, fraction_after, unless_tmux};
use common::{assert_no_residue, residue_after_cleanup, trials, unless_root, wait_gone};

fn main() -> std::process::ExitCode {
    common::run(trials![
        unless_root().or_else(unless_tmux);
        every_step_then_the_hog_into_the_oom_kill_then_quit,
        sigterm_midway_leaves_nothing,
        killing_the_tmux_session_with_the_hog_running_leaves_nothing,
        ctrl_c_midway_restores_the_terminal_and_leaves_nothing,
        an_injected_panic_restores_the_terminal_and_leaves_nothing,
        presenter_mode_at_80x24_by_a_clickers_keys,
        h_opens_a_host_shell_pointed_at_the_container,
        a_step_that_changes_the_host_shells_variables_closes_it,
        rootless_walk_skips_the_cgroup_step_and_reaches_exec,
        the_entered_shell_is_in_the_processes_pane,
        the_shells_terminals_are_named_inside,
    ])
}

/// `Step k/n` from the step pane's title.
fn step_counter(screen: &str) -> Option<(usize, usize)> {
    fraction_after(screen, "Step ")
}

/// The first screen: the root filesystem may be assembled first (a few seconds once).
fn started(tui: &Tui) -> usize {
    let (s, n) = tui.first_step(step_counter);
    assert!(n > 0, "{s}");
    n
}

/// Presses → and waits for each step to be shown done, up to `upto`.
fn take_steps(tui: &Tui, upto: usize) -> String {
    let mut screen = String::new();
    for k in 1..=upto {
        screen = tui.step(k, step_counter);
    }
    screen
}

fn every_step_then_the_hog_into_the_oom_kill_then_quit() {
    let before = residue_after_cleanup();
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
    let before = residue_after_cleanup();
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
    let before = residue_after_cleanup();
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
        wait_gone(pid, "the TUI", Duration::from_secs(20));
        // Shown with the failure, if any: what the TUI said on its way out.
        eprintln!("the TUI's stderr:\n{}", tui.stderr());
    }
    assert_no_residue(&before);
}

fn ctrl_c_midway_restores_the_terminal_and_leaves_nothing() {
    let before = residue_after_cleanup();
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
    let before = residue_after_cleanup();
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
    let before = residue_after_cleanup();
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

/// The number on a pane line that starts with `prefix` (the left column's border
/// first): what the shell printed, not the command line that asked for it.
fn number_after(screen: &str, prefix: &str) -> Option<i32> {
    screen.lines().find_map(|l| {
        let digits: String = l
            .strip_prefix('│')?
            .strip_prefix(prefix)?
            .chars()
            .take_while(char::is_ascii_digit)
            .collect();
        digits.parse().ok()
    })
}

/// Types `text` into the focused pane, then Enter.
fn type_line(tui: &Tui, text: &str) {
    let out = tui.tmux(&["send-keys", "-t", "uh", "-l", text]);
    assert!(out.status.success(), "send-keys -l {text}: {out:?}");
    tui.keys("Enter");
}

/// `h` (issue 12): a shell on the host, framed HOST, with its own prompt and the
/// UH_* variables: $UH_PID is the container's PID 1 (underhood-init), seen from a
/// mount namespace that is not the container's; the cgroup, upper and state
/// directories are there on the host. Quitting ends the shell too.
fn h_opens_a_host_shell_pointed_at_the_container() {
    let before = residue_after_cleanup();
    {
        let tui = Tui::start("host");
        let n = started(&tui);
        take_steps(&tui, n);
        tui.keys("h");
        tui.wait_for("the host shell's prompt", Duration::from_secs(20), |s| {
            s.contains(" HOST ") && s.contains("HOST /")
        });
        type_line(&tui, "echo P=$UH_PID; cat /proc/$UH_PID/comm; echo SH=$$");
        // The shell's own output (the command line it echoes says `SH=$$`).
        let s = tui.wait_for("UH_PID and its comm", Duration::from_secs(10), |s| {
            number_after(s, "SH=").is_some()
        });
        let pid = number_after(&s, "P=").unwrap_or_else(|| panic!("no P=<pid> on screen:\n{s}"));
        let comm = std::fs::read_to_string(format!("/proc/{pid}/comm")).unwrap_or_default();
        assert_eq!(comm.trim(), "underhood-init", "{s}");
        let lines: Vec<&str> = s.lines().collect();
        let at = lines
            .iter()
            .position(|l| l.contains(&format!("P={pid}")))
            .expect("the P= line");
        assert!(
            lines[at + 1].contains("underhood-init"),
            "cat /proc/$UH_PID/comm in the host shell:\n{s}"
        );
        let shell_pid =
            number_after(&s, "SH=").unwrap_or_else(|| panic!("no SH=<pid> on screen:\n{s}"));
        // The host shell's own mount namespace is the host's, not the container's.
        type_line(&tui, "readlink /proc/self/ns/mnt /proc/$UH_PID/ns/mnt");
        let own = std::fs::read_link("/proc/self/ns/mnt").expect("our mnt ns");
        let theirs = std::fs::read_link(format!("/proc/{pid}/ns/mnt")).expect("its mnt ns");
        assert_ne!(own, theirs);
        let (own, theirs) = (own.display().to_string(), theirs.display().to_string());
        let s = tui.wait_for("both mount namespaces", Duration::from_secs(10), |s| {
            s.contains(&own) && s.contains(&theirs)
        });
        let shown = std::fs::read_link(format!("/proc/{shell_pid}/ns/mnt")).expect("the shell's");
        assert_eq!(shown.display().to_string(), own, "{s}");
        // The other variables name what is there on the host.
        type_line(
            &tui,
            "grep -qx $UH_PID $UH_CGROUP/cgroup.procs && test -d $UH_UPPER && test $UH_STATE = /run/underhood/$UH_SESSION && test -e $UH_ROOT/bin/sh && echo VARS-OK",
        );
        tui.wait_for("VARS-OK", Duration::from_secs(10), |s| {
            s.lines().any(|l| l.starts_with("│VARS-OK"))
        });
        // Ctrl-] leaves the shell; q quits and takes the shell along.
        tui.keys("C-]");
        tui.keys("q");
        let status = tui.wait_exit(Duration::from_secs(20));
        assert_eq!(status, "0", "exit status; stderr:\n{}", tui.stderr());
        wait_gone(shell_pid, "the host shell", Duration::from_secs(10));
    }
    assert_no_residue(&before);
}

/// A host shell opened before the steps points at the first subject; the cgroup step
/// gives the container a cgroup (UH_CGROUP is new) and the PID step a new PID 1
/// (UH_PID changes), so at the first such step the shell closes and says why, rather
/// than pointing at what is no longer the container.
fn a_step_that_changes_the_host_shells_variables_closes_it() {
    let before = residue_after_cleanup();
    {
        let tui = Tui::start("host-stale");
        let n = started(&tui);
        tui.keys("h");
        tui.wait_for("the host shell", Duration::from_secs(20), |s| {
            s.contains(" HOST ") && s.contains("HOST /")
        });
        tui.keys("C-]");
        let mut closed_at = None;
        for k in 1..=n {
            let s = take_steps_from(&tui, k);
            // The reason is said in the same update as the step that changed them.
            if s.contains("the host shell closed:") {
                closed_at = Some(k);
                break;
            }
        }
        let k = closed_at.expect("no step closed the host shell");
        let s = tui.wait_for("the host pane gone", Duration::from_secs(10), |s| {
            !s.contains(" HOST ")
        });
        assert!(
            s.contains("the host shell closed:") && s.contains("UH_"),
            "step {k}: the reason stays, naming what changed:\n{s}"
        );
        tui.keys("q");
        let status = tui.wait_exit(Duration::from_secs(20));
        assert_eq!(status, "0", "exit status; stderr:\n{}", tui.stderr());
    }
    assert_no_residue(&before);
}

/// Takes step `k` (the ones before it taken) and returns its screen.
fn take_steps_from(tui: &Tui, k: usize) -> String {
    tui.step(k, step_counter)
}

/// Rootless on this host (memory controller on cgroup v1, not delegated): as nobody,
/// with HOME and the XDG directories in a temp dir, the walk goes to its end at 80x24;
/// the cgroup step is shown skipped with why and what gives it; no step fails.
fn rootless_walk_skips_the_cgroup_step_and_reaches_exec() {
    let before = residue_after_cleanup();
    let home = tempfile::tempdir().expect("a temp dir");
    let h = home.path();
    std::fs::set_permissions(h, std::os::unix::fs::PermissionsExt::from_mode(0o777))
        .expect("chmod the temp home");
    let env = format!(
        "HOME={d} XDG_CACHE_HOME={d}/cache XDG_STATE_HOME={d}/state XDG_DATA_HOME={d}/data \
         XDG_RUNTIME_DIR={d}/run setpriv --reuid=65534 --regid=65534 --clear-groups",
        d = h.display()
    );
    {
        let tui = Tui::launch("rootless", &env, "", (80, 24));
        let first = tui.wait_for("the first screen", Duration::from_secs(120), |s| {
            step_counter(s).is_some_and(|(k, _)| k == 0)
        });
        let (_, n) = step_counter(&first).expect("a step counter");
        assert!(first.contains("rootless"), "{first}");
        assert!(first.contains("cgroup step skipped"), "{first}");
        let mut seen = false;
        let mut screen = String::new();
        for k in 1..=n {
            tui.keys("Right");
            screen = tui.wait_for(&format!("step {k}"), Duration::from_secs(30), |s| {
                step_counter(s).is_some_and(|(d, _)| d == k)
            });
            assert!(!screen.contains("EACCES"), "step {k}:\n{screen}");
            assert!(!screen.contains("why: "), "step {k} failed:\n{screen}");
            seen |= screen.contains("cgroup limits skipped: memory");
        }
        assert!(
            seen,
            "the skipped line never showed; last screen:\n{screen}"
        );
        assert!(screen.contains(&format!("all {n} steps done")), "{screen}");
        assert!(screen.contains("sleep 2147483647"), "{screen}");
        assert!(!screen.contains("m  hog"), "{screen}");
        tui.keys("q");
        let status = tui.wait_exit(Duration::from_secs(20));
        assert_eq!(status, "0", "exit status; stderr:\n{}", tui.stderr());
    }
    assert_no_residue(&before);
    // Its session state, under XDG_RUNTIME_DIR, is gone too.
    let left: Vec<_> = std::fs::read_dir(h.join("run/underhood"))
        .map(|d| d.flatten().map(|e| e.path()).collect())
        .unwrap_or_default();
    assert!(left.is_empty(), "{left:?}");
}

/// The shell entered with `e` is a process of the container: the Processes pane lists
/// it and what it starts, as `ps` inside does.
fn the_entered_shell_is_in_the_processes_pane() {
    let before = residue_after_cleanup();
    {
        let tui = Tui::start("eshell");
        let n = started(&tui);
        take_steps(&tui, n);
        tui.keys("e");
        tui.wait_for("the entered shell", Duration::from_secs(20), |s| {
            s.contains("Entered with setns") && s.contains("] # ")
        });
        type_line(&tui, "sleep 321 &");
        // A Processes row: the command without the `&` typed in the shell.
        let s = tui.wait_for(
            "sleep 321 in the Processes pane",
            Duration::from_secs(10),
            |s| {
                s.lines()
                    .any(|l| l.contains("sleep 321") && !l.contains("sleep 321 &"))
            },
        );
        let row = s
            .lines()
            .find(|l| l.contains("sleep 321") && !l.contains("sleep 321 &"))
            .unwrap_or_default();
        // Its PID inside is a number (it is in the container's PID namespace).
        assert!(!row.contains("  -  "), "{row}\n{s}");
        tui.keys("C-]");
        tui.keys("q");
        let status = tui.wait_exit(Duration::from_secs(20));
        assert_eq!(status, "0", "exit status; stderr:\n{}", tui.stderr());
    }
    assert_no_residue(&before);
}

/// The shells `s` (started by PID 1) and `e` (entered with setns) each get a terminal
/// made inside the container, in its own devpts (runtime/console.rs): `tty` names it,
/// and that name exists there as a character device. No process below the TUI (PID 1,
/// the shells, the enter helper) holds a master end: the TUI alone does.
fn the_shells_terminals_are_named_inside() {
    let before = residue_after_cleanup();
    {
        let tui = Tui::start("ttyname");
        let n = started(&tui);
        take_steps(&tui, n);
        for (key, title, marker) in [
            ("s", "Shell in the container", "S-NAMED"),
            ("e", "Entered with setns", "E-NAMED"),
        ] {
            tui.keys(key);
            tui.wait_for(title, Duration::from_secs(20), |s| {
                s.contains(title) && s.contains("# ")
            });
            type_line(&tui, &format!("t=$(tty) && [ -c $t ] && echo {marker}=$t"));
            // The typed line shows `{marker}=$t`; only the shell's answer has the name.
            let answer = format!("{marker}=/dev/pts/");
            let s = tui.wait_for(&answer, Duration::from_secs(10), |s| s.contains(&answer));
            let below = masters_below(tui.pid());
            assert!(
                below.is_empty(),
                "{key}: a process below the TUI holds a pty master: {below:?}\n{s}"
            );
            tui.keys("C-]");
        }
        // Nothing in the container holds the learner's own terminal (the TUI's): PID 1
        // and the command would otherwise read the keys typed to underhood and write
        // escape sequences to its screen. Told by device (st_dev, st_rdev), not by
        // name: the container's devpts numbers its terminals from 0 as well.
        use std::os::unix::fs::MetadataExt;
        let device = |pid: i32, fd: i32| {
            std::fs::metadata(format!("/proc/{pid}/fd/{fd}"))
                .ok()
                .map(|m| (m.dev(), m.rdev()))
        };
        let tui_tty = device(tui.pid(), 0).expect("the TUI's stdin");
        assert_ne!(device(std::process::id() as i32, 0), Some(tui_tty));
        for (pid, comm, _) in common::descendants_of(tui.pid()) {
            for fd in 0..3 {
                assert!(
                    device(pid, fd) != Some(tui_tty),
                    "pid {pid} ({comm}) fd {fd} is the TUI's terminal {tui_tty:?}"
                );
            }
        }
        tui.keys("q");
        let status = tui.wait_exit(Duration::from_secs(20));
        assert_eq!(status, "0", "exit status; stderr:\n{}", tui.stderr());
    }
    assert_no_residue(&before);
}
