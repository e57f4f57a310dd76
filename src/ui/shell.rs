//! The embedded shell pane: a real shell inside the container on a pseudo-terminal,
//! drawn by a terminal emulator widget (tui-term over vt100), while the other panes
//! keep updating. A thread reads the terminal's output into the emulator and wakes
//! the main loop; keys go to the terminal while the pane has the focus.

use std::fs::File;
use std::io::{Read, Write};
use std::os::fd::{AsRawFd, OwnedFd};
use std::sync::{Arc, Mutex};

use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};
use tui_term::vt100;

/// Lines kept above an embedded shell's screen (its scrollback).
pub const SHELL_SCROLLBACK: usize = 1000;

/// The emulator's screen, shared between the main loop (which feeds it the shell's
/// output) and drawing.
#[derive(Clone)]
pub struct Screen(pub Arc<Mutex<vt100::Parser>>);

impl std::fmt::Debug for Screen {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Screen")
    }
}

impl Screen {
    pub fn new(rows: u16, cols: u16) -> Screen {
        Screen(Arc::new(Mutex::new(vt100::Parser::new(
            rows,
            cols,
            SHELL_SCROLLBACK,
        ))))
    }

    pub fn process(&self, bytes: &[u8]) {
        if let Ok(mut p) = self.0.lock() {
            p.process(bytes);
        }
    }

    /// A new size. Fewer rows keep the bottom (the prompt and the lines above it,
    /// where the cursor is), as a terminal does: the top rows go to the scrollback.
    /// vt100's own resize cuts the bottom, so a shell opened beside this one would
    /// take this one's latest lines away.
    pub fn resize(&self, rows: u16, cols: u16) {
        if let Ok(mut p) = self.0.lock() {
            let (old_rows, _) = p.screen().size();
            let (row, col) = p.screen().cursor_position();
            if rows < old_rows && row >= rows {
                let up = row + 1 - rows;
                // To the last row, `up` line feeds (each scrolls one row off the top),
                // then back to the cursor's place, `up` rows higher.
                let mut bytes = format!("\x1b[{old_rows};1H").into_bytes();
                bytes.extend(std::iter::repeat_n(b'\n', usize::from(up)));
                bytes.extend(format!("\x1b[{};{}H", row - up + 1, col + 1).into_bytes());
                p.process(&bytes);
            }
            p.screen_mut().set_size(rows, cols);
        }
    }

    /// The visible text (for tests and checks).
    pub fn contents(&self) -> String {
        self.0
            .lock()
            .map(|p| p.screen().contents())
            .unwrap_or_default()
    }
}

pub use crate::session::event::Slot;

pub use super::pane::Open;

/// What the UI shows of a shell.
#[derive(Debug, Clone)]
pub struct ShellView {
    pub screen: Screen,
    pub title: String,
    /// Its pid inside the container.
    pub pid: i32,
}

/// The controller's side of a shell: the pty master. Its output goes to the main loop
/// (as `Msg::ShellOutput`), which turns it into an event for the pane.
pub struct ShellSession {
    master: File,
    size: (u16, u16),
}

impl ShellSession {
    /// Wraps a pty master whose shell was just started; what it prints goes to
    /// `out` (`None` at the end), on a thread of its own, while `out` says true.
    pub fn new(
        master: OwnedFd,
        rows: u16,
        cols: u16,
        out: impl FnMut(Option<Vec<u8>>) -> bool + Send + 'static,
    ) -> std::io::Result<ShellSession> {
        let reader = File::from(master.try_clone()?);
        crate::session::spawn_named("uh-shell", move || pump(reader, out));
        Ok(ShellSession {
            master: File::from(master),
            size: (rows, cols),
        })
    }

    pub fn write(&mut self, bytes: &[u8]) {
        let _ = self.master.write_all(bytes);
    }

    /// Tells the terminal the new size (TIOCSWINSZ, tty_ioctl(4)); true when it changed
    /// (the emulator must then be told too).
    pub fn resize(&mut self, rows: u16, cols: u16) -> bool {
        if (rows, cols) == self.size || rows == 0 || cols == 0 {
            return false;
        }
        self.size = (rows, cols);
        let ws = libc::winsize {
            ws_row: rows,
            ws_col: cols,
            ws_xpixel: 0,
            ws_ypixel: 0,
        };
        // SAFETY: TIOCSWINSZ reads a winsize we own; the fd is our pty master.
        unsafe { libc::ioctl(self.master.as_raw_fd(), libc::TIOCSWINSZ, &ws) };
        true
    }
}

fn pump(mut reader: File, mut out: impl FnMut(Option<Vec<u8>>) -> bool) {
    let mut buf = [0u8; 4096];
    loop {
        match reader.read(&mut buf) {
            // EIO once the last process holding the slave end exits.
            Ok(0) | Err(_) => {
                out(None);
                return;
            }
            Ok(n) => {
                if !out(Some(buf[..n].to_vec())) {
                    return;
                }
            }
        }
    }
}

/// The bytes a terminal sends for a key (xterm conventions).
pub fn key_bytes(key: &KeyEvent) -> Vec<u8> {
    let ctrl = key.modifiers.contains(KeyModifiers::CONTROL);
    match key.code {
        KeyCode::Char(c) if ctrl => {
            let b = c.to_ascii_lowercase() as u8;
            if b.is_ascii_lowercase() {
                vec![b & 0x1f]
            } else {
                vec![]
            }
        }
        KeyCode::Char(c) => {
            let mut s = [0u8; 4];
            let mut v = c.encode_utf8(&mut s).as_bytes().to_vec();
            if key.modifiers.contains(KeyModifiers::ALT) {
                v.insert(0, 0x1b);
            }
            v
        }
        KeyCode::Enter => vec![b'\r'],
        KeyCode::Backspace => vec![0x7f],
        KeyCode::Tab => vec![b'\t'],
        KeyCode::BackTab => b"\x1b[Z".to_vec(),
        KeyCode::Esc => vec![0x1b],
        KeyCode::Up => b"\x1b[A".to_vec(),
        KeyCode::Down => b"\x1b[B".to_vec(),
        KeyCode::Right => b"\x1b[C".to_vec(),
        KeyCode::Left => b"\x1b[D".to_vec(),
        KeyCode::Home => b"\x1b[H".to_vec(),
        KeyCode::End => b"\x1b[F".to_vec(),
        KeyCode::PageUp => b"\x1b[5~".to_vec(),
        KeyCode::PageDown => b"\x1b[6~".to_vec(),
        KeyCode::Delete => b"\x1b[3~".to_vec(),
        _ => vec![],
    }
}

/// Ctrl-] gives the focus back to the panes (as telnet's escape does). A terminal
/// sends it as byte 0x1d, which crossterm reports as Ctrl-5 (its mapping of
/// 0x1c..0x1f to Ctrl-4..7).
pub fn is_escape(key: &KeyEvent) -> bool {
    key.modifiers.contains(KeyModifiers::CONTROL)
        && matches!(key.code, KeyCode::Char(']') | KeyCode::Char('5'))
}

#[cfg(test)]
mod tests {
    #[test]
    fn a_shell_made_shorter_keeps_its_latest_lines_and_prompt() {
        let screen = Screen::new(10, 20);
        let mut out = String::new();
        for i in 1..=8 {
            out.push_str(&format!("line {i}\r\n"));
        }
        out.push_str("/ # ");
        screen.process(out.as_bytes());
        screen.resize(4, 20);
        let text = screen.contents();
        assert!(text.contains("/ # "), "{text:?}");
        assert!(text.contains("line 8"), "{text:?}");
        assert!(!text.contains("line 1\n"), "{text:?}");
        // Typing goes on at the prompt.
        screen.process(b"ls");
        assert!(
            screen.contents().contains("/ # ls"),
            "{:?}",
            screen.contents()
        );
        // A screen whose cursor fits keeps its top.
        let top = Screen::new(10, 20);
        top.process(b"first\r\n/ # ");
        top.resize(4, 20);
        assert!(top.contents().starts_with("first"), "{:?}", top.contents());
    }

    use super::*;

    #[test]
    fn keys_become_terminal_bytes() {
        let k = |c, m| KeyEvent::new(c, m);
        assert_eq!(key_bytes(&k(KeyCode::Char('a'), KeyModifiers::NONE)), b"a");
        assert_eq!(
            key_bytes(&k(KeyCode::Char('c'), KeyModifiers::CONTROL)),
            [3]
        );
        assert_eq!(key_bytes(&k(KeyCode::Enter, KeyModifiers::NONE)), b"\r");
        assert_eq!(key_bytes(&k(KeyCode::Up, KeyModifiers::NONE)), b"\x1b[A");
        assert_eq!(
            key_bytes(&k(KeyCode::Char('é'), KeyModifiers::NONE)),
            "é".as_bytes()
        );
        assert!(is_escape(&k(KeyCode::Char(']'), KeyModifiers::CONTROL)));
        assert!(is_escape(&k(KeyCode::Char('5'), KeyModifiers::CONTROL)));
    }
}
