//! Colors and glyphs. Two independent switches: `color` (off with `--no-color` or
//! `NO_COLOR`) and `ascii` (box-drawing and symbol glyphs replaced by plain ASCII for
//! consoles whose font cannot draw them). Decided once at start-up from values passed in,
//! never read from the process environment here, so every combination is testable.

use ratatui::style::{Color, Modifier, Style};
use ratatui::symbols::border;

use crate::facts::Os;
use crate::facts::platform::HostEnv;

/// How the wizard draws.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Theme {
    /// Foreground/background colors allowed.
    pub color: bool,
    /// Only ASCII glyphs (borders, ticks, bars, spinner).
    pub ascii: bool,
}

/// Why the glyph set was chosen, for docs/tests.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum GlyphReason {
    /// `TORCHUP_ASCII=1` (or `0` to force Unicode).
    Override,
    /// `TERM=linux`: the Linux virtual console's fonts lack most symbols.
    LinuxConsole,
    /// Windows console host (conhost) without Windows Terminal: its default fonts lack
    /// ticks and braille; Windows Terminal (`WT_SESSION`) and editor terminals are fine.
    WindowsConsoleHost,
    /// Anything else: a modern terminal emulator.
    Default,
}

impl Theme {
    /// Full color, Unicode glyphs.
    pub const FULL: Theme = Theme { color: true, ascii: false };
    /// No color (NO_COLOR), Unicode glyphs.
    pub const MONO: Theme = Theme { color: false, ascii: false };

    /// Decide from the `--no-color` flag, the environment and the OS.
    pub fn detect(no_color_flag: bool, env: &HostEnv, os: Os) -> Theme {
        // NO_COLOR: "when present and not an empty string" (no-color.org).
        let color = !no_color_flag && env.get("NO_COLOR").is_none();
        let (ascii, _) = ascii_glyphs(env, os);
        Theme { color, ascii }
    }

    pub fn ok(&self) -> Style {
        self.fg(Color::Green)
    }
    pub fn bad(&self) -> Style {
        if self.color { Style::new().fg(Color::Red) } else { Style::new().add_modifier(Modifier::BOLD) }
    }
    pub fn warn(&self) -> Style {
        self.fg(Color::Yellow)
    }
    pub fn accent(&self) -> Style {
        if self.color { Style::new().fg(Color::Cyan) } else { Style::new().add_modifier(Modifier::BOLD) }
    }
    pub fn dim(&self) -> Style {
        if self.color { Style::new().fg(Color::DarkGray) } else { Style::new() }
    }
    pub fn title(&self) -> Style {
        Style::new().add_modifier(Modifier::BOLD)
    }
    pub fn code(&self) -> Style {
        self.fg(Color::LightYellow)
    }
    /// The selected row / button.
    pub fn selected(&self) -> Style {
        if self.color {
            Style::new().bg(Color::Blue).fg(Color::White).add_modifier(Modifier::BOLD)
        } else {
            Style::new().add_modifier(Modifier::REVERSED)
        }
    }
    /// A key name in the footer.
    pub fn key(&self) -> Style {
        if self.color {
            Style::new().fg(Color::Cyan).add_modifier(Modifier::BOLD)
        } else {
            Style::new().add_modifier(Modifier::BOLD)
        }
    }
    /// The border of the focused box.
    pub fn focus_border(&self) -> Style {
        if self.color { Style::new().fg(Color::Cyan) } else { Style::new().add_modifier(Modifier::BOLD) }
    }

    fn fg(&self, c: Color) -> Style {
        if self.color { Style::new().fg(c) } else { Style::new() }
    }

    pub fn glyphs(&self) -> &'static Glyphs {
        if self.ascii { &ASCII } else { &UNICODE }
    }

    /// Verdict glyph and style for an optional check (None = not applicable / unknown).
    pub fn verdict(&self, ok: Option<bool>) -> (&'static str, Style) {
        let g = self.glyphs();
        match ok {
            Some(true) => (g.check, self.ok()),
            Some(false) => (g.cross, self.bad()),
            None => (g.unknown, self.dim()),
        }
    }
}

/// Whether to use ASCII glyphs, and why.
pub(crate) fn ascii_glyphs(env: &HostEnv, os: Os) -> (bool, GlyphReason) {
    match env.get("TORCHUP_ASCII").as_deref() {
        Some("0") | Some("false") | Some("no") => return (false, GlyphReason::Override),
        Some(_) => return (true, GlyphReason::Override),
        None => {}
    }
    if os != Os::Windows && env.get("TERM").as_deref() == Some("linux") {
        return (true, GlyphReason::LinuxConsole);
    }
    if os == Os::Windows
        && env.get("WT_SESSION").is_none()
        && env.get("TERM_PROGRAM").is_none()
        && env.get("ConEmuANSI").is_none()
        && env.get("TERM").is_none()
    {
        return (true, GlyphReason::WindowsConsoleHost);
    }
    (false, GlyphReason::Default)
}

/// The glyphs one theme draws with.
#[derive(Debug)]
pub struct Glyphs {
    pub border: border::Set<'static>,
    pub check: &'static str,
    pub cross: &'static str,
    pub unknown: &'static str,
    pub pending: &'static str,
    pub star: &'static str,
    pub bullet: &'static str,
    pub arrow: &'static str,
    pub bar_full: &'static str,
    pub bar_empty: &'static str,
    pub ellipsis: &'static str,
    pub radio_on: &'static str,
    pub radio_off: &'static str,
    pub box_on: &'static str,
    pub box_off: &'static str,
    pub step_sep: &'static str,
    pub le: &'static str,
    pub spinner: &'static [&'static str],
}

pub(crate) static UNICODE: Glyphs = Glyphs {
    border: border::ROUNDED,
    check: "✓",
    cross: "✗",
    unknown: "–",
    pending: "·",
    star: "★",
    bullet: "•",
    arrow: "→",
    bar_full: "█",
    bar_empty: "░",
    ellipsis: "…",
    radio_on: "◉",
    radio_off: "○",
    box_on: "[x]",
    box_off: "[ ]",
    step_sep: " › ",
    le: "≤",
    spinner: &["⠋", "⠙", "⠹", "⠸", "⠼", "⠴", "⠦", "⠧", "⠇", "⠏"],
};

pub(crate) static ASCII: Glyphs = Glyphs {
    border: border::Set {
        top_left: "+",
        top_right: "+",
        bottom_left: "+",
        bottom_right: "+",
        vertical_left: "|",
        vertical_right: "|",
        horizontal_top: "-",
        horizontal_bottom: "-",
    },
    check: "+",
    cross: "x",
    unknown: "-",
    pending: ".",
    star: "*",
    bullet: "*",
    arrow: "->",
    bar_full: "#",
    bar_empty: ".",
    ellipsis: "~",
    radio_on: "(*)",
    radio_off: "( )",
    box_on: "[x]",
    box_off: "[ ]",
    step_sep: " > ",
    le: "<=",
    spinner: &["|", "/", "-", "\\"],
};

#[cfg(test)]
mod tests {
    use super::*;

    fn env(pairs: &[(&str, &str)]) -> HostEnv {
        HostEnv::from_pairs(pairs.iter().copied())
    }

    #[test]
    fn no_color_flag_and_env() {
        assert!(Theme::detect(false, &env(&[]), Os::Linux).color);
        assert!(!Theme::detect(true, &env(&[]), Os::Linux).color);
        assert!(!Theme::detect(false, &env(&[("NO_COLOR", "1")]), Os::Linux).color);
        // An empty NO_COLOR does not count (no-color.org).
        assert!(Theme::detect(false, &env(&[("NO_COLOR", "")]), Os::Linux).color);
    }

    #[test]
    fn ascii_fallback_rules() {
        assert_eq!(ascii_glyphs(&env(&[("TERM", "xterm-256color")]), Os::Linux), (false, GlyphReason::Default));
        assert_eq!(ascii_glyphs(&env(&[("TERM", "linux")]), Os::Linux), (true, GlyphReason::LinuxConsole));
        assert_eq!(ascii_glyphs(&env(&[]), Os::Windows), (true, GlyphReason::WindowsConsoleHost));
        assert_eq!(ascii_glyphs(&env(&[("WT_SESSION", "abc")]), Os::Windows), (false, GlyphReason::Default));
        assert_eq!(ascii_glyphs(&env(&[("TERM_PROGRAM", "vscode")]), Os::Windows), (false, GlyphReason::Default));
        assert_eq!(ascii_glyphs(&env(&[("TORCHUP_ASCII", "1")]), Os::Linux), (true, GlyphReason::Override));
        assert_eq!(
            ascii_glyphs(&env(&[("TORCHUP_ASCII", "0"), ("TERM", "linux")]), Os::Linux),
            (false, GlyphReason::Override)
        );
    }

    #[test]
    fn mono_theme_sets_no_colors() {
        let t = Theme::MONO;
        for s in [t.ok(), t.bad(), t.warn(), t.accent(), t.dim(), t.title(), t.code(), t.selected(), t.key()] {
            assert_eq!(s.fg, None);
            assert_eq!(s.bg, None);
        }
        assert!(Theme::FULL.ok().fg.is_some());
    }

    #[test]
    fn ascii_glyphs_are_ascii() {
        let g = &ASCII;
        let all = [
            g.check,
            g.cross,
            g.unknown,
            g.pending,
            g.star,
            g.bullet,
            g.arrow,
            g.bar_full,
            g.bar_empty,
            g.ellipsis,
            g.radio_on,
            g.radio_off,
            g.box_on,
            g.box_off,
            g.step_sep,
            g.le,
        ];
        assert!(all.iter().chain(g.spinner.iter()).all(|s| s.is_ascii()));
    }
}
