//! The top-level view: header, the current screen, status line, key footer, and the
//! overlays (help, confirmation). A pure function of [`App`].

use ratatui::Frame;
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Paragraph, Wrap};

use super::app::{App, Confirm, NoticeKind, Screen};
use super::widgets::chrome::{self, StepMark};
use super::{check, choose, explain, result, review, run, verify};

/// The smallest terminal the screens are laid out for.
pub const MIN_WIDTH: u16 = 80;
pub const MIN_HEIGHT: u16 = 24;

/// The area a screen gets in a terminal of `size` (below the header, above the status
/// line and footer). Key handlers use it to size pages.
pub fn body_area(size: (u16, u16)) -> Rect {
    let (w, h) = (size.0.max(MIN_WIDTH), size.1.max(MIN_HEIGHT));
    Rect { x: 0, y: 1, width: w, height: h - 3 }
}

/// Draw the whole frame.
pub fn render(app: &App, frame: &mut Frame) {
    let area = frame.area();
    if area.width < MIN_WIDTH || area.height < MIN_HEIGHT {
        too_small(app, frame, area);
        return;
    }
    let t = &app.theme;
    let [header, body, status, footer] =
        Layout::vertical([Constraint::Length(1), Constraint::Min(0), Constraint::Length(1), Constraint::Length(1)])
            .areas(area);
    chrome::header(frame, header, &steps(app), &header_right(app), t);
    match &app.screen {
        Screen::Check(ui) => check::render(app, ui, frame, body),
        Screen::Choose(ui) => choose::render(app, ui, frame, body),
        Screen::Review(ui) => review::render(app, ui, frame, body),
        Screen::Run(_) => run::render(app, frame, body),
        Screen::Result(ui) => result::render(app, ui, frame, body),
        Screen::Verify(ui) => verify::render(app, ui, frame, body),
        Screen::Explain(ui) => explain::render(app, ui, frame, body),
    }
    if let Some(n) = &app.notice {
        let style = match n.kind {
            NoticeKind::Info => t.accent(),
            NoticeKind::Warn => t.warn(),
        };
        chrome::status(frame, status, &n.text, style, t.glyphs().ellipsis);
    }
    chrome::footer(frame, footer, &keys(app), t);
    if app.help {
        help(app, frame, area);
    }
    if let Some(c) = app.confirm {
        confirm(app, c, frame, area);
    }
    if t.ascii {
        asciify(frame.buffer_mut());
    }
}

/// On ASCII consoles, replace the punctuation the texts use (dashes, ellipsis, arrows,
/// ticks) cell by cell. Other characters — a user's non-ASCII path, a GPU name — stay.
pub fn asciify(buf: &mut ratatui::buffer::Buffer) {
    for cell in buf.content.iter_mut() {
        let sym = cell.symbol();
        if sym.is_ascii() {
            continue;
        }
        let plain = match sym {
            "—" | "–" | "─" | "━" => "-",
            "…" | "·" | "•" => ".",
            "×" => "x",
            "≤" => "<",
            "≥" => ">",
            "→" | "›" => ">",
            "←" | "‹" => "<",
            "↑" => "^",
            "↓" => "v",
            "✓" => "+",
            "✗" => "x",
            "★" => "*",
            "‘" | "’" => "'",
            "“" | "”" => "\"",
            "│" | "┃" => "|",
            _ => continue,
        };
        cell.set_symbol(plain);
    }
}

fn steps(app: &App) -> Vec<(&'static str, StepMark)> {
    const NAMES: [&str; 5] = ["Check", "Choose", "Review", "Run", "Result"];
    let current = match app.screen {
        Screen::Check(_) => 0,
        Screen::Choose(_) => 1,
        Screen::Review(_) => 2,
        Screen::Run(_) => 3,
        Screen::Result(_) => 4,
        Screen::Verify(_) => return vec![("Verify", StepMark::Current)],
        Screen::Explain(_) => return vec![("Explain an error", StepMark::Current)],
    };
    NAMES
        .iter()
        .enumerate()
        .map(|(i, n)| {
            let mark = if i < current {
                StepMark::Done
            } else if i == current {
                StepMark::Current
            } else {
                StepMark::Todo
            };
            (*n, mark)
        })
        .collect()
}

fn header_right(app: &App) -> String {
    let mut parts = Vec::new();
    if app.dry_run && matches!(app.screen, Screen::Review(_) | Screen::Run(_)) {
        parts.push("DRY RUN".to_string());
    }
    if let Some(f) = &app.detection.facts {
        let wsl = if f.wsl { " (WSL)" } else { "" };
        parts.push(format!("{} {}{wsl}", f.os.as_str(), f.cpu_arch));
    }
    let mut s = parts.join(" · ");
    s.push(' ');
    s
}

/// The footer keys for the current screen.
pub fn keys(app: &App) -> Vec<(&'static str, &'static str)> {
    if app.confirm.is_some() {
        return vec![("y", "stop it"), ("n", "keep going")];
    }
    if app.help {
        return vec![("?", "close help"), ("Esc", "close help")];
    }
    screen_keys(app)
}

/// The keys of the screen itself (the footer and the help overlay list them).
fn screen_keys(app: &App) -> Vec<(&'static str, &'static str)> {
    match app.screen {
        Screen::Check(_) => check::keys(app),
        Screen::Choose(_) => choose::keys(app),
        Screen::Review(_) => review::keys(app),
        Screen::Run(_) => run::keys(app),
        Screen::Result(_) => result::keys(app),
        Screen::Verify(_) => verify::keys(app),
        Screen::Explain(_) => explain::keys(app),
    }
}

/// What each screen is for, for the help overlay.
fn purpose(app: &App) -> &'static str {
    match app.screen {
        Screen::Check(_) => {
            "What torchup found: your GPU and driver, every Python interpreter (the target is marked), \
             and the PyTorch build installed there. Pick another interpreter with the arrows and Enter."
        }
        Screen::Choose(_) => {
            "The builds that exist for your setup, checked against the driver, the GPU architecture and \
             your Python. The recommendation is preselected; Tab reaches the options."
        }
        Screen::Review(_) => {
            "The exact commands, in order. Nothing has changed yet. Proceed runs them (or only shows \
             them with dry run on); Customize goes back."
        }
        Screen::Run(_) => {
            "The install runs stage by stage; a smoke test after each stage checks the environment. \
             If a stage fails, torchup stops and puts your previous build back."
        }
        Screen::Result(_) => "How it went, what to do next, and advice for training on this card.",
        Screen::Verify(_) => "The GPU smoke test now, next to the last saved run: what changed after a driver update.",
        Screen::Explain(_) => {
            "Paste an error (Enter adds a line) and press Ctrl-D: the known setup problem it shows, \
             the lines that prove it, and the fix for this machine."
        }
    }
}

fn help(app: &App, frame: &mut Frame, area: Rect) {
    let t = &app.theme;
    let mut rows: Vec<(&str, &str)> = screen_keys(app);
    rows.retain(|(k, _)| *k != "?" && *k != "q");
    let global = [
        ("j/k", "down / up, like the arrows"),
        ("Tab", "next field or button"),
        ("Esc", "back one screen"),
        ("q", "quit (asks first while installing)"),
        ("Ctrl-C", "stop what runs and quit"),
        ("?", "this help"),
    ];
    let w = 66u16.min(area.width.saturating_sub(4));
    let inner_w = w.saturating_sub(2) as usize;
    let mut lines: Vec<Line> = super::widgets::text::wrap(purpose(app), inner_w.saturating_sub(2))
        .into_iter()
        .map(|l| Line::raw(format!(" {l}")))
        .collect();
    lines.push(Line::raw(""));
    lines.push(Line::styled(" This screen", t.title()));
    for (k, what) in rows {
        lines.push(Line::from(vec![Span::styled(format!("   {k:<12}"), t.key()), Span::raw(what)]));
    }
    lines.push(Line::styled(" Everywhere", t.title()));
    for (k, what) in global {
        lines.push(Line::from(vec![Span::styled(format!("   {k:<12}"), t.key()), Span::raw(what)]));
    }
    let h = (lines.len() as u16 + 2).min(area.height.saturating_sub(2));
    let inner = chrome::popup(frame, chrome::centered(area, w, h), "Help — ? or Esc closes", t);
    frame.render_widget(Paragraph::new(lines), inner);
}

fn confirm(app: &App, c: Confirm, frame: &mut Frame, area: Rect) {
    let t = &app.theme;
    let Confirm::StopInstall { then_quit } = c;
    let title = if then_quit { "Stop the install and quit?" } else { "Stop the install?" };
    let body = "torchup stops the running command now. The result screen then says what state your \
                environment is in, and can put your previous build back.";
    let w = 60u16.min(area.width.saturating_sub(4));
    let inner_area = chrome::centered(area, w, 8);
    let inner = chrome::popup(frame, inner_area, title, t);
    let mut lines = super::widgets::text::wrap_styled(" ", body, inner.width as usize, ratatui::style::Style::new());
    lines.extend([
        Line::raw(""),
        Line::from(vec![
            Span::raw(" "),
            chrome::button("y Stop", false, t),
            Span::raw("  "),
            chrome::button("n Keep going", true, t),
        ]),
    ]);
    frame.render_widget(Paragraph::new(lines), inner);
}

fn too_small(app: &App, frame: &mut Frame, area: Rect) {
    let t = &app.theme;
    let lines = vec![
        Line::styled("Make the window larger", t.title()),
        Line::raw(format!("torchup needs {MIN_WIDTH}x{MIN_HEIGHT}; this one is {}x{}.", area.width, area.height)),
        Line::styled("q quits", t.dim()),
    ];
    let h = 3.min(area.height);
    let [_, mid, _] = Layout::vertical([Constraint::Min(0), Constraint::Length(h), Constraint::Min(0)]).areas(area);
    frame.render_widget(Paragraph::new(lines).centered().wrap(Wrap { trim: true }), mid);
}
