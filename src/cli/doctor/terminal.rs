//! The terminal the TUI draws in: its size, TERM, colours.

use super::{Check, Status};

/// The smallest terminal the TUI draws in (`ui::draw::MIN_WIDTH` x `MIN_HEIGHT`).
const MIN_COLS: u16 = underhood::ui::draw::MIN_WIDTH;
const MIN_ROWS: u16 = underhood::ui::draw::MIN_HEIGHT;

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TermFacts {
    /// Standard output is a terminal.
    pub tty: bool,
    pub term: Option<String>,
    pub colorterm: Option<String>,
    /// `NO_COLOR` set and not empty (https://no-color.org).
    pub no_color: bool,
    /// Columns x rows, when stdout is a terminal that answered TIOCGWINSZ.
    pub size: Option<(u16, u16)>,
}

pub(super) fn check_terminal(t: &TermFacts) -> Vec<Check> {
    let term = t.term.as_deref().unwrap_or("");
    let size = if !t.tty {
        Check::new(
            "terminal",
            Status::Skip,
            "standard output is not a terminal: size not checked",
        )
        .why(format!(
            "the TUI needs a terminal of at least {MIN_COLS}x{MIN_ROWS}; `underhood run` needs none"
        ))
    } else if term.is_empty() || term == "dumb" {
        Check::new(
            "terminal",
            Status::No,
            format!(
                "TERM is {}",
                if term.is_empty() { "not set" } else { "dumb" }
            ),
        )
        .why("the TUI moves the cursor and redraws panes, which a dumb terminal cannot do")
        .fix("`export TERM=xterm-256color` (or run underhood in a real terminal emulator)")
    } else {
        match t.size {
            Some((c, r)) if c >= MIN_COLS && r >= MIN_ROWS => Check::new(
                "terminal",
                Status::Yes,
                format!("{c}x{r}, TERM={term}"),
            ),
            Some((c, r)) => Check::new(
                "terminal",
                Status::No,
                format!("{c}x{r}, smaller than {MIN_COLS}x{MIN_ROWS}"),
            )
            .why("the panes (namespaces, processes, mounts, memory) do not fit")
            .fix("make the window larger or the font smaller (on a projector: Ctrl+- in most terminals)"),
            None => Check::new("terminal", Status::Warn, format!("TERM={term}, size unknown"))
                .why("the terminal did not answer TIOCGWINSZ")
                .fix(format!("make sure the window is at least {MIN_COLS}x{MIN_ROWS}")),
        }
    };
    let colours = if t.no_color {
        Check::new("colours", Status::Warn, "off: NO_COLOR is set")
            .why("the lessons then mark things with bold and reverse video only")
            .fix("`unset NO_COLOR` for colours; `--high-contrast` suits projectors")
    } else {
        let truecolor = t
            .colorterm
            .as_deref()
            .is_some_and(|c| c == "truecolor" || c == "24bit");
        let depth = if truecolor {
            "24-bit colour"
        } else if term.contains("256color") {
            "256 colours"
        } else if term.is_empty() || term == "dumb" {
            "none known (TERM not set)"
        } else {
            "basic colours (enough)"
        };
        Check::new("colours", Status::Yes, depth)
    };
    vec![size, colours]
}

pub(super) fn gather_terminal() -> TermFacts {
    let env = |k: &str| std::env::var(k).ok().filter(|v| !v.is_empty());
    let tty = nix::unistd::isatty(std::io::stdout()).unwrap_or(false);
    TermFacts {
        tty,
        term: env("TERM"),
        colorterm: env("COLORTERM"),
        no_color: env("NO_COLOR").is_some(),
        size: if tty { window_size() } else { None },
    }
}

/// tty_ioctl(4) TIOCGWINSZ on standard output.
fn window_size() -> Option<(u16, u16)> {
    let mut ws = libc::winsize {
        ws_row: 0,
        ws_col: 0,
        ws_xpixel: 0,
        ws_ypixel: 0,
    };
    // SAFETY: TIOCGWINSZ writes one `struct winsize` to the pointer, which points at a
    // live, properly aligned local of that type.
    let rc = unsafe { libc::ioctl(libc::STDOUT_FILENO, libc::TIOCGWINSZ, &mut ws) };
    (rc == 0 && ws.ws_col > 0 && ws.ws_row > 0).then_some((ws.ws_col, ws.ws_row))
}
