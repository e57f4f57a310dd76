//! Test-only fault injection for the crash-safety tests (issue: host safety under
//! faults). Does nothing unless `UNDERHOOD_FAULT` is set.

/// Test-only fault injection, for the crash-safety tests: `UNDERHOOD_FAULT=kill:N`
/// (SIGKILL ourselves after step N), `term:N`, `hup:N`, `int:N` (the signal, as if sent from
/// outside), or `panic:N`. Steps count from 1. Unset in normal use.
pub fn after_step(done: usize) {
    let Ok(spec) = std::env::var("UNDERHOOD_FAULT") else {
        return;
    };
    let Some((what, n)) = spec.split_once(':') else {
        return;
    };
    if n.parse::<usize>().ok() != Some(done) {
        return;
    }
    let me = nix::unistd::Pid::this();
    match what {
        "kill" => {
            let _ = nix::sys::signal::kill(me, nix::sys::signal::Signal::SIGKILL);
        }
        "term" => {
            let _ = nix::sys::signal::kill(me, nix::sys::signal::Signal::SIGTERM);
        }
        "hup" => {
            let _ = nix::sys::signal::kill(me, nix::sys::signal::Signal::SIGHUP);
        }
        "int" => {
            let _ = nix::sys::signal::kill(me, nix::sys::signal::Signal::SIGINT);
        }
        "panic" => panic!("injected panic after step {done} (UNDERHOOD_FAULT)"),
        _ => {}
    }
}
