//! `underhood notes [--follow ADDR] [--lessons DIR]`: speaker notes in a second
//! terminal, following a session (by default the newest one on this machine).

use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::mpsc;
use std::time::Duration;

use anyhow::{Result, anyhow};
use crossterm::event::{Event as TermEvent, KeyCode, KeyEventKind, KeyModifiers};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use underhood::session::follow::discover::{self, Candidate};
use underhood::session::follow::{Addr, Feed, position::unix_ms_now, subscribe};
use underhood::ui::notes::{self, NotesView};
use underhood::ui::terminal::{self, Input};

#[derive(clap::Args, Debug)]
pub struct NotesArgs {
    /// The session to follow (HOST:PORT or unix:@NAME); default: the newest one
    /// running on this machine.
    #[arg(long, value_name = "ADDR")]
    follow: Option<Addr>,
    /// The lesson directory the session uses (default: the shipped lessons).
    #[arg(long)]
    lessons: Option<PathBuf>,
}

enum Msg {
    /// A feed of the subscription of this generation.
    Feed(u64, Box<Feed>),
    Quit,
    Redraw,
}

/// The first position a session sends on connecting; `None` when it says nothing
/// within 300 ms.
fn first_position(pid: u32) -> Option<underhood::session::follow::Position> {
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        let first = Addr::session(pid).connect().ok().and_then(|r| {
            let mut line = String::new();
            std::io::BufRead::read_line(&mut std::io::BufReader::new(r), &mut line).ok()?;
            underhood::session::follow::Position::decode(&line).ok()
        });
        let _ = tx.send(first);
    });
    rx.recv_timeout(Duration::from_millis(300)).ok().flatten()
}

/// This user's sessions, presenters first, each with where it is.
fn candidates() -> Result<Vec<Candidate>> {
    let me = nix::unistd::geteuid().as_raw();
    let pids = discover::sessions_of(Path::new("/proc"), me)?;
    Ok(discover::offered(
        pids.into_iter()
            .map(|pid| Candidate::from_position(pid, first_position(pid).as_ref()))
            .collect(),
    ))
}

/// The session to follow: the only one, or the one chosen from the list when there
/// are several; or what to do when there is none.
pub(crate) fn choose_session(command: &str) -> Result<u32> {
    let c = candidates()?;
    match c.len() {
        0 => {
            let others = discover::sessions(Path::new("/proc"))
                .map(|s| s.len())
                .unwrap_or(0);
            let mut why = "no underhood session of yours is running on this machine (none \
                           listens on @underhood/<pid> in /proc/net/unix): start one in \
                           another terminal (`underhood --lesson ID`), or give the \
                           presenter's address with --follow HOST:PORT"
                .to_string();
            if others > 0 {
                why.push_str(&format!(
                    "; {others} session(s) of other users run here: --follow unix:@underhood/PID follows one"
                ));
            }
            Err(anyhow::Error::msg(why))
        }
        1 => Ok(c[0].pid),
        n => {
            eprintln!("underhood {command}: {n} sessions of yours run on this machine:");
            for (i, s) in c.iter().enumerate() {
                eprintln!("{}", s.line(i + 1));
            }
            eprint!("follow which? [1] ");
            let mut answer = String::new();
            std::io::stdin()
                .read_line(&mut answer)
                .map_err(|e| anyhow!("reading the choice: {e}"))?;
            discover::choice(&answer, n)
                .map(|i| c[i].pid)
                .ok_or_else(|| anyhow!("no session {:?} in the list (1 to {n})", answer.trim()))
        }
    }
}

/// After the followed session ended: the presenter's new session, if one started
/// (this user's newest that follows no one).
fn restarted_session(old: u32) -> Option<u32> {
    candidates()
        .ok()?
        .into_iter()
        .find(|c| c.pid != old && !c.follows)
        .map(|c| c.pid)
}

/// Follows `addr`, its feeds tagged with `generation` (a newer one makes it stop).
fn follow(addr: Addr, generation: u64, current: Arc<AtomicU64>, tx: mpsc::Sender<Msg>) {
    subscribe::spawn(addr, move |f| {
        current.load(Ordering::SeqCst) == generation
            && tx.send(Msg::Feed(generation, Box::new(f))).is_ok()
    });
}

pub fn main(args: NotesArgs) -> ExitCode {
    use std::io::IsTerminal;
    if !std::io::stdout().is_terminal() {
        eprintln!("underhood notes: needs a terminal");
        return ExitCode::from(2);
    }
    let Some(set) = super::lessons::load(args.lessons.as_ref()) else {
        return ExitCode::from(1);
    };
    // Found here (not given): when it ends, a new session of the presenter's is
    // followed instead (the presenter restarted underhood).
    let mut found: Option<u32> = None;
    let addr = match args.follow {
        Some(a) => a,
        None => match choose_session("notes") {
            Ok(pid) => {
                found = Some(pid);
                Addr::session(pid)
            }
            Err(e) => {
                eprintln!("underhood notes: {e}");
                return ExitCode::from(2);
            }
        },
    };
    let (tx, rx) = mpsc::channel();
    let generation = Arc::new(AtomicU64::new(0));
    follow(addr.clone(), 0, generation.clone(), tx.clone());
    let feed_tx = tx.clone();
    std::thread::spawn(move || {
        loop {
            match terminal::next(Duration::from_millis(250)) {
                Input::Event(TermEvent::Key(k)) if k.kind != KeyEventKind::Release => {
                    let quit = matches!(k.code, KeyCode::Char('q') | KeyCode::Esc)
                        || (k.code == KeyCode::Char('c')
                            && k.modifiers.contains(KeyModifiers::CONTROL));
                    if quit {
                        let _ = tx.send(Msg::Quit);
                        return;
                    }
                }
                Input::Event(TermEvent::Resize(..)) => {
                    if tx.send(Msg::Redraw).is_err() {
                        return;
                    }
                }
                Input::Event(_) | Input::Idle => {}
                // The terminal closed: EOF forever; quit instead of spinning on it.
                Input::Gone => {
                    let _ = tx.send(Msg::Quit);
                    return;
                }
            }
        }
    });
    let mut view = NotesView::new(addr.to_string());
    let mut terminal = match terminal::init() {
        Ok(t) => t,
        Err(e) => {
            terminal::restore();
            terminal::say(&format!("underhood notes: setting up the terminal: {e}"));
            return ExitCode::from(1);
        }
    };
    let result = loop {
        if let Err(e) = terminal.draw(|f| notes::draw(f, &view, unix_ms_now())) {
            break Err(e);
        }
        // The timer ticks each second even when nothing else happens.
        match rx.recv_timeout(Duration::from_millis(500)) {
            Ok(Msg::Feed(g, f)) if g == generation.load(Ordering::SeqCst) => view.on_feed(*f, &set),
            Ok(Msg::Feed(..)) => {}
            Ok(Msg::Redraw) | Err(mpsc::RecvTimeoutError::Timeout) => {}
            Ok(Msg::Quit) | Err(mpsc::RecvTimeoutError::Disconnected) => break Ok(()),
        }
        // The followed session ended and its process is gone: a new one of the
        // presenter's is the same talk restarted.
        if let Some(old) = found
            && view.ever
            && matches!(view.link, notes::Link::Lost(_))
            && discover::owner(Path::new("/proc"), old).is_none()
            && let Some(pid) = restarted_session(old)
        {
            let g = generation.fetch_add(1, Ordering::SeqCst) + 1;
            let addr = Addr::session(pid);
            view = NotesView::new(addr.to_string());
            view.note = Some(format!(
                "session {old} ended; following session {pid}, started since"
            ));
            follow(addr, g, generation.clone(), feed_tx.clone());
            found = Some(pid);
        }
    };
    terminal::restore();
    drop(terminal);
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            terminal::say(&format!("underhood notes: drawing: {e}"));
            ExitCode::from(1)
        }
    }
}
