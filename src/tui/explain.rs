//! The Explain screen: paste an error (or name a log file) and get the catalogue's
//! findings with the lines that prove them and the fix for this machine — the same engine
//! as `torchup explain` (src/explain).
//!
//! Pasting into a Windows console arrives as key presses, not as one paste event, so the
//! text area takes every key: Enter adds a line, Tab is text. A separate key explains
//! (Ctrl-D, "done", as at a terminal's end of input). Ctrl-O switches to a file path;
//! Esc goes back to the screen the user came from. Pasted text is explained at once
//! (a paste is small); a file goes through the engine ([`Effect::ExplainFile`]) because
//! reading files is not the view's business.

use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};
use ratatui::Frame;
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::text::{Line, Span};
use ratatui::widgets::Paragraph;

use crate::explain::{Explainer, Explanation, ReportLine, ReportLineKind, Target, render_text};

use super::app::{App, Screen};
use super::check;
use super::effect::Effect;
use super::result::ResultUi;
use super::widgets::{chrome, doc, text};

/// Lines held in the text area (a paste longer than this keeps its end: the error).
pub const MAX_INPUT_LINES: usize = 2000;

/// Where Esc returns to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Back {
    Check,
    Result,
}

/// What is being typed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Input {
    /// The error text.
    Text,
    /// The path of a log file.
    File,
}

/// The answer shown under the input.
#[derive(Debug, Clone, PartialEq)]
pub enum Answer {
    None,
    /// The engine is reading the file.
    Reading(String),
    Explained(Box<Explanation>),
    Failed(String),
}

/// Explain screen state.
#[derive(Debug, Clone, PartialEq)]
pub struct ExplainUi {
    pub back: Back,
    pub input: Input,
    /// The text area, one entry per line (never empty).
    pub lines: Vec<String>,
    pub path: String,
    pub answer: Answer,
    /// Scroll offset of the answer.
    pub scroll: u16,
}

impl ExplainUi {
    pub fn new(back: Back) -> ExplainUi {
        ExplainUi {
            back,
            input: Input::Text,
            lines: vec![String::new()],
            path: String::new(),
            answer: Answer::None,
            scroll: 0,
        }
    }

    /// The text typed so far.
    pub fn text(&self) -> String {
        self.lines.join("\n")
    }
}

/// Who the fixes are for: the detected machine, or this OS when detection has not finished.
/// Who the text is explained for: built only when something is explained, not per key
/// (it clones the facts, or reads this machine's platform).
fn target(detection: &super::check::Detection) -> Target {
    match &detection.facts {
        Some(f) => Target::for_facts((**f).clone()),
        None => Target::here(),
    }
}

/// Open the screen (from Check or Result).
pub(crate) fn open(app: &mut App, back: Back) -> Vec<Effect> {
    app.screen = Screen::Explain(ExplainUi::new(back));
    vec![]
}

/// Open the screen with the last run's output already explained (Result after a failure).
pub(crate) fn open_with_run_output(app: &mut App) -> Vec<Effect> {
    let mut ui = ExplainUi::new(Back::Result);
    if let Some(run) = &app.run {
        let (first, end) = (run.log.first(), run.log.end());
        let from = first.max(end.saturating_sub(MAX_INPUT_LINES as u64));
        let lines: Vec<String> = (from..end).filter_map(|n| run.log.get(n)).map(|l| l.text.clone()).collect();
        if !lines.is_empty() {
            ui.lines = lines;
            let e = Explainer::bundled().explain_text(&ui.text(), &target(&app.detection));
            ui.answer = Answer::Explained(Box::new(e));
        }
    }
    app.screen = Screen::Explain(ui);
    vec![]
}

/// The engine's answer to [`Effect::ExplainFile`].
pub(crate) fn arrived(app: &mut App, result: Result<Box<Explanation>, String>) {
    if let Screen::Explain(ui) = &mut app.screen
        && matches!(ui.answer, Answer::Reading(_))
    {
        ui.scroll = 0;
        ui.answer = match result {
            Ok(e) => Answer::Explained(e),
            Err(e) => Answer::Failed(e),
        };
    }
}

pub(crate) fn key(app: &mut App, key: KeyEvent) -> Option<Vec<Effect>> {
    let ctrl = key.modifiers.contains(KeyModifiers::CONTROL);
    let Screen::Explain(ui) = &mut app.screen else { return None };
    match key.code {
        KeyCode::Esc => {
            let back = ui.back;
            app.screen = match back {
                Back::Check => Screen::Check(check::ui_for(app)),
                Back::Result => Screen::Result(ResultUi::default()),
            };
            return Some(vec![]);
        }
        KeyCode::Char('d') | KeyCode::Char('D') if ctrl => return Some(explain(ui, target(&app.detection))),
        KeyCode::Char('o') | KeyCode::Char('O') if ctrl => {
            ui.input = if ui.input == Input::File { Input::Text } else { Input::File };
        }
        KeyCode::Char('u') | KeyCode::Char('U') if ctrl => match ui.input {
            Input::Text => {
                ui.lines = vec![String::new()];
                ui.answer = Answer::None;
            }
            Input::File => ui.path.clear(),
        },
        KeyCode::PageUp => ui.scroll = ui.scroll.saturating_sub(5),
        KeyCode::PageDown => ui.scroll = ui.scroll.saturating_add(5),
        KeyCode::Enter => match ui.input {
            Input::Text => {
                ui.lines.push(String::new());
                if ui.lines.len() > MAX_INPUT_LINES {
                    ui.lines.remove(0);
                }
            }
            Input::File => return Some(explain(ui, target(&app.detection))),
        },
        KeyCode::Tab => type_str(ui, "\t"),
        KeyCode::Backspace => match ui.input {
            Input::Text => {
                let last = ui.lines.len() - 1;
                if ui.lines[last].pop().is_none() && last > 0 {
                    ui.lines.pop();
                }
            }
            Input::File => {
                ui.path.pop();
            }
        },
        KeyCode::Char(c) if !ctrl => type_str(ui, c.encode_utf8(&mut [0; 4])),
        _ => {}
    }
    Some(vec![])
}

fn type_str(ui: &mut ExplainUi, s: &str) {
    match ui.input {
        Input::Text => {
            if let Some(last) = ui.lines.last_mut() {
                last.push_str(s);
            }
        }
        Input::File => ui.path.push_str(s),
    }
}

fn explain(ui: &mut ExplainUi, target: Target) -> Vec<Effect> {
    ui.scroll = 0;
    match ui.input {
        Input::Text => {
            let e = Explainer::bundled().explain_text(&ui.text(), &target);
            ui.answer = Answer::Explained(Box::new(e));
            vec![]
        }
        Input::File => {
            let path = ui.path.trim().trim_matches('"').to_string();
            if path.is_empty() {
                ui.answer = Answer::Failed("Type the path of a log file first.".into());
                return vec![];
            }
            ui.answer = Answer::Reading(path.clone());
            vec![Effect::ExplainFile { path: path.into(), facts: target.facts.map(Box::new) }]
        }
    }
}

pub(crate) fn keys(app: &App) -> Vec<(&'static str, &'static str)> {
    let file = matches!(&app.screen, Screen::Explain(ui) if ui.input == Input::File);
    let mut k = vec![("Ctrl-D", "explain")];
    k.push(if file { ("Ctrl-O", "paste instead") } else { ("Enter", "new line") });
    if !file {
        k.push(("Ctrl-O", "log file"));
    }
    k.extend([("Ctrl-U", "clear"), ("Esc", "back")]);
    if app.help {
        k.push(("PgUp/PgDn", "scroll the explanation"));
    }
    k
}

pub(crate) fn render(app: &App, ui: &ExplainUi, frame: &mut Frame, area: Rect) {
    let t = &app.theme;
    let (input_area, answer_area) = if area.width >= 110 {
        let [a, b] = Layout::horizontal([Constraint::Percentage(45), Constraint::Percentage(55)]).areas(area);
        (a, b)
    } else {
        let input_h = (area.height / 3).max(6);
        let [a, b] = Layout::vertical([Constraint::Length(input_h), Constraint::Min(0)]).areas(area);
        (a, b)
    };
    render_input(app, ui, frame, input_area);
    let width = doc::text_width(answer_area);
    let lines = answer_lines(app, ui, width);
    let block = chrome::boxed(" Explanation ", false, t);
    let inner = block.inner(answer_area);
    frame.render_widget(block, answer_area);
    let offset = ui.scroll.min(doc::max_offset(lines.len(), inner.height));
    doc::render(frame, inner, lines, offset, t);
}

fn render_input(app: &App, ui: &ExplainUi, frame: &mut Frame, area: Rect) {
    let t = &app.theme;
    let (title, rows): (&str, Vec<String>) = match ui.input {
        Input::Text => (" Paste the error (Enter: new line) ", ui.lines.clone()),
        Input::File => (" Log file path ", vec![ui.path.clone()]),
    };
    let block = chrome::boxed(title, true, t);
    let inner = block.inner(area);
    frame.render_widget(block, area);
    let w = inner.width as usize;
    let h = inner.height as usize;
    let cursor = if t.ascii { "_" } else { "▏" };
    // Show the end of the input: that is where typing happens.
    let shown: Vec<Line> = rows
        .iter()
        .skip(rows.len().saturating_sub(h))
        .enumerate()
        .map(|(i, r)| {
            let last = i + 1 == rows.len().min(h);
            let r = r.replace('\t', "    ");
            // The line being typed shows its end; the others their start.
            let visible = match (text::width(&r) + 1 > w, last) {
                (true, true) => tail_chars(&r, w.saturating_sub(2)),
                (true, false) => text::truncate(&r, w, t.glyphs().ellipsis),
                (false, _) => r,
            };
            let mut spans = vec![Span::raw(visible)];
            if last {
                spans.push(Span::styled(cursor, t.accent()));
            }
            Line::from(spans)
        })
        .collect();
    let placeholder = rows.len() == 1 && rows[0].is_empty();
    if placeholder && ui.input == Input::Text {
        let hint = "A traceback, a pip log or a training log's last lines.";
        frame.render_widget(
            Paragraph::new(vec![Line::from(vec![Span::styled(cursor, t.accent()), Span::styled(hint, t.dim())])]),
            inner,
        );
    } else {
        frame.render_widget(Paragraph::new(shown), inner);
    }
}

fn tail_chars(s: &str, n: usize) -> String {
    let count = s.chars().count();
    s.chars().skip(count.saturating_sub(n)).collect()
}

/// The answer as styled lines: the finding headings highlighted.
fn answer_lines(app: &App, ui: &ExplainUi, width: usize) -> Vec<Line<'static>> {
    let t = &app.theme;
    let plain = ratatui::style::Style::new();
    let intro = |s: &str| text::wrap_styled(" ", s, width, t.dim());
    match &ui.answer {
        Answer::None => {
            let mut l = intro(
                "Paste the error you got — from pip, from `import torch`, from a training script — \
                 then press Ctrl-D. Ctrl-O explains a saved log file instead.",
            );
            l.push(Line::raw(""));
            l.extend(intro(
                "torchup matches it against the same catalogue of known setup problems it uses for \
                 its own installs, and shows the cause, the lines that prove it, and the fix for this machine.",
            ));
            l
        }
        Answer::Reading(path) => text::wrap_styled(" ", &format!("Reading {path}…"), width, t.dim()),
        Answer::Failed(e) => text::wrap_styled(" ", e, width, t.warn()),
        Answer::Explained(e) => {
            let mut out = Vec::new();
            for ReportLine { kind, text: line } in render_text(e) {
                let heading = kind == ReportLineKind::Heading;
                let style = if heading {
                    t.warn()
                } else if e.recognised() {
                    plain
                } else {
                    t.dim()
                };
                // Headings flush left, labelled lines ("why:", "fix:") one in, their
                // continuations and wrapped rows four in.
                let continuation = kind == ReportLineKind::Continuation;
                let first = if heading {
                    ""
                } else if continuation {
                    "    "
                } else {
                    " "
                };
                let wrapped = text::wrap(line.trim_start(), width.saturating_sub(5).max(10));
                for (i, w) in wrapped.into_iter().enumerate() {
                    let lead = if i == 0 { first } else { "    " };
                    out.push(Line::from(vec![Span::raw(lead), Span::styled(w, style)]));
                }
                if line.is_empty() {
                    out.push(Line::raw(""));
                }
            }
            out
        }
    }
}
