//! Colours: a default theme, a high-contrast one for projectors, and none at all when
//! `NO_COLOR` is set (https://no-color.org): then only bold/reverse carry meaning.

use ratatui::style::{Color, Modifier, Style};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ThemeKind {
    Default,
    HighContrast,
    NoColor,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Theme {
    pub kind: ThemeKind,
}

impl Theme {
    pub fn from_env(high_contrast: bool) -> Theme {
        let no_color = std::env::var_os("NO_COLOR").is_some_and(|v| !v.is_empty());
        let kind = if no_color {
            ThemeKind::NoColor
        } else if high_contrast {
            ThemeKind::HighContrast
        } else {
            ThemeKind::Default
        };
        Theme { kind }
    }

    pub fn next(self) -> Theme {
        let kind = match self.kind {
            ThemeKind::Default => ThemeKind::HighContrast,
            ThemeKind::HighContrast => ThemeKind::NoColor,
            ThemeKind::NoColor => ThemeKind::Default,
        };
        Theme { kind }
    }

    fn fg(self, c: Color) -> Style {
        match self.kind {
            ThemeKind::NoColor => Style::default(),
            _ => Style::default().fg(c),
        }
    }

    pub fn text(self) -> Style {
        match self.kind {
            ThemeKind::HighContrast => Style::default().fg(Color::White).bg(Color::Black),
            _ => Style::default(),
        }
    }

    pub fn dim(self) -> Style {
        match self.kind {
            ThemeKind::Default => Style::default().fg(Color::DarkGray),
            ThemeKind::HighContrast => Style::default().fg(Color::Gray),
            ThemeKind::NoColor => Style::default(),
        }
    }

    /// The host shell's frame: a colour no container pane uses, so that no one types
    /// into the host thinking it is the container (bold where there is no colour).
    pub fn host(self) -> Style {
        match self.kind {
            ThemeKind::NoColor => Style::default().add_modifier(Modifier::BOLD),
            ThemeKind::HighContrast => Style::default()
                .fg(Color::LightRed)
                .add_modifier(Modifier::BOLD),
            ThemeKind::Default => Style::default().fg(Color::LightRed),
        }
    }

    /// The HOST label in the host shell's title.
    pub fn host_label(self) -> Style {
        match self.kind {
            ThemeKind::NoColor => {
                Style::default().add_modifier(Modifier::REVERSED | Modifier::BOLD)
            }
            _ => Style::default()
                .fg(Color::White)
                .bg(Color::Red)
                .add_modifier(Modifier::BOLD),
        }
    }

    pub fn title(self) -> Style {
        self.fg(Color::Cyan).add_modifier(Modifier::BOLD)
    }

    pub fn border(self, focused: bool) -> Style {
        match (self.kind, focused) {
            (ThemeKind::NoColor, true) => Style::default().add_modifier(Modifier::BOLD),
            (ThemeKind::NoColor, false) => Style::default(),
            (ThemeKind::HighContrast, true) => Style::default()
                .fg(Color::Yellow)
                .add_modifier(Modifier::BOLD),
            (ThemeKind::HighContrast, false) => Style::default().fg(Color::White),
            (ThemeKind::Default, true) => Style::default()
                .fg(Color::Cyan)
                .add_modifier(Modifier::BOLD),
            (ThemeKind::Default, false) => Style::default().fg(Color::DarkGray),
        }
    }

    /// Something the last step changed.
    pub fn changed(self) -> Style {
        match self.kind {
            ThemeKind::NoColor => Style::default().add_modifier(Modifier::REVERSED),
            ThemeKind::HighContrast => Style::default().fg(Color::Black).bg(Color::Yellow),
            ThemeKind::Default => Style::default()
                .fg(Color::Yellow)
                .add_modifier(Modifier::BOLD),
        }
    }

    /// Different from the host (isolated).
    pub fn isolated(self) -> Style {
        self.fg(Color::Green).add_modifier(Modifier::BOLD)
    }

    pub fn error(self) -> Style {
        match self.kind {
            ThemeKind::NoColor => Style::default().add_modifier(Modifier::BOLD),
            _ => Style::default().fg(Color::Red).add_modifier(Modifier::BOLD),
        }
    }

    pub fn ok(self) -> Style {
        self.fg(Color::Green)
    }

    pub fn key(self) -> Style {
        match self.kind {
            ThemeKind::NoColor => Style::default().add_modifier(Modifier::BOLD),
            ThemeKind::HighContrast => Style::default().fg(Color::Black).bg(Color::White),
            ThemeKind::Default => Style::default().fg(Color::Black).bg(Color::Cyan),
        }
    }

    pub fn graph(self) -> Style {
        self.fg(Color::Magenta)
    }

    pub fn limit(self) -> Style {
        self.fg(Color::Red)
    }
}
