//! `underhood class [--follow ADDR] [--lessons DIR]`: the class's progress on the
//! instructor's screen, in a terminal of its own beside the session taught from (by
//! default the newest one of this user on this machine). It asks the session to watch
//! the class; the session serves that only on its unix socket to the same user.

use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::mpsc;
use std::time::Duration;

use crossterm::event::{Event as TermEvent, KeyCode, KeyEventKind, KeyModifiers};
use underhood::session::follow::learner::Said;
use underhood::session::follow::report::Outbox;
use underhood::session::follow::{Addr, Feed, position::unix_ms_now, subscribe};
use underhood::ui::class::{self, ClassView};
use underhood::ui::terminal::{self, Input};

#[derive(clap::Args, Debug)]
pub struct ClassArgs {
    /// The session taught from (unix:@underhood/PID); default: the newest one of yours
    /// running on this machine.
    #[arg(long, value_name = "ADDR")]
    follow: Option<Addr>,
    /// The lesson directory the session uses (default: the shipped lessons).
    #[arg(long)]
    lessons: Option<PathBuf>,
}

enum Msg {
    Feed(Box<Feed>),
    Scroll(isize),
    Quit,
    Redraw,
}

pub fn main(args: ClassArgs) -> ExitCode {
    use std::io::IsTerminal;
    if !std::io::stdout().is_terminal() {
        eprintln!("underhood class: needs a terminal");
        return ExitCode::from(2);
    }
    let Some(set) = super::lessons::load(args.lessons.as_ref()) else {
        return ExitCode::from(1);
    };
    let addr = match args.follow {
        Some(a) => a,
        None => match super::notes::choose_session("class") {
            Ok(pid) => Addr::session(pid),
            Err(e) => {
                eprintln!("underhood class: {e}");
                return ExitCode::from(2);
            }
        },
    };
    let (tx, rx) = mpsc::channel();
    let feeds = tx.clone();
    subscribe::spawn_saying(addr.clone(), Some(Outbox::new(&Said::Watch {})), move |f| {
        feeds.send(Msg::Feed(Box::new(f))).is_ok()
    });
    std::thread::spawn(move || {
        loop {
            let msg = match terminal::next(Duration::from_millis(250)) {
                Input::Event(TermEvent::Key(k)) if k.kind != KeyEventKind::Release => {
                    match k.code {
                        KeyCode::Char('q') | KeyCode::Esc => Msg::Quit,
                        KeyCode::Char('c') if k.modifiers.contains(KeyModifiers::CONTROL) => {
                            Msg::Quit
                        }
                        KeyCode::Up | KeyCode::Char('k') => Msg::Scroll(-1),
                        KeyCode::Down | KeyCode::Char('j') => Msg::Scroll(1),
                        KeyCode::PageUp => Msg::Scroll(-10),
                        KeyCode::PageDown | KeyCode::Char(' ') => Msg::Scroll(10),
                        _ => continue,
                    }
                }
                Input::Event(TermEvent::Resize(..)) => Msg::Redraw,
                Input::Event(_) | Input::Idle => continue,
                // The terminal closed: quit instead of spinning on EOF.
                Input::Gone => Msg::Quit,
            };
            let quit = matches!(msg, Msg::Quit);
            if tx.send(msg).is_err() || quit {
                return;
            }
        }
    });
    let mut view = ClassView::new(addr.to_string());
    let mut terminal = match terminal::init() {
        Ok(t) => t,
        Err(e) => {
            terminal::restore();
            terminal::say(&format!("underhood class: setting up the terminal: {e}"));
            return ExitCode::from(1);
        }
    };
    let result = loop {
        if let Err(e) = terminal.draw(|f| class::draw(f, &view)) {
            break Err(e);
        }
        // Drawn again at each news; a batch of news (a class joining) is one frame.
        let mut next = rx.recv();
        loop {
            match next {
                Ok(Msg::Feed(f)) => view.on_feed(*f, &set, unix_ms_now()),
                Ok(Msg::Scroll(d)) => view.scroll = view.scroll.saturating_add_signed(d),
                Ok(Msg::Redraw) => {}
                Ok(Msg::Quit) | Err(_) => {
                    terminal::restore();
                    return ExitCode::SUCCESS;
                }
            }
            next = match rx.try_recv() {
                Ok(m) => Ok(m),
                Err(_) => break,
            };
        }
        let rows = view.rows().len();
        view.scroll = view.scroll.min(rows.saturating_sub(1));
    };
    terminal::restore();
    drop(terminal);
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            terminal::say(&format!("underhood class: drawing: {e}"));
            ExitCode::from(1)
        }
    }
}
