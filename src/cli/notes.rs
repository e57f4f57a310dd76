//! `underhood notes [--follow ADDR] [--lessons DIR]`: speaker notes in a second
//! terminal, following a session (by default the newest one on this machine).

use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::mpsc;
use std::time::Duration;

use crossterm::event::{Event as TermEvent, KeyCode, KeyEventKind, KeyModifiers};
use underhood::ui::follow::{Addr, Feed, discover, position::unix_ms_now, subscribe};
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
    Feed(Feed),
    Quit,
    Redraw,
}

/// The newest session on this machine that does not itself follow another (the
/// presenter, not one of the audience on the same machine); the newest of all when
/// every one follows; or what to do when there is none.
fn newest_session() -> Result<Addr, String> {
    let pids = discover::sessions(Path::new("/proc")).map_err(|e| e.to_string())?;
    let Some(newest) = pids.first() else {
        return Err(
            "no underhood session is running on this machine (none listens on \
             @underhood/<pid> in /proc/net/unix): start one in another terminal \
             (`underhood --lesson ID`), or give the presenter's address with --follow HOST:PORT"
                .into(),
        );
    };
    if pids.len() > 1 {
        for pid in &pids {
            if follows(*pid) == Some(false) {
                return Ok(Addr::session(*pid));
            }
        }
    }
    Ok(Addr::session(*newest))
}

/// Whether the session with this pid follows another, from the first position it
/// sends on connecting; `None` when it says nothing within 300 ms.
fn follows(pid: u32) -> Option<bool> {
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        let first = Addr::session(pid).connect().ok().and_then(|r| {
            let mut line = String::new();
            std::io::BufRead::read_line(&mut std::io::BufReader::new(r), &mut line).ok()?;
            underhood::ui::follow::Position::decode(&line).ok()
        });
        let _ = tx.send(first.map(|p| p.following.is_some()));
    });
    rx.recv_timeout(Duration::from_millis(300)).ok().flatten()
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
    let addr = match args.follow {
        Some(a) => a,
        None => match newest_session() {
            Ok(a) => a,
            Err(e) => {
                eprintln!("underhood notes: {e}");
                return ExitCode::from(2);
            }
        },
    };
    let (tx, rx) = mpsc::channel();
    let feed_tx = tx.clone();
    subscribe::spawn(addr.clone(), move |f| feed_tx.send(Msg::Feed(f)).is_ok());
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
            Ok(Msg::Feed(f)) => view.on_feed(f, &set),
            Ok(Msg::Redraw) | Err(mpsc::RecvTimeoutError::Timeout) => {}
            Ok(Msg::Quit) | Err(mpsc::RecvTimeoutError::Disconnected) => break Ok(()),
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
