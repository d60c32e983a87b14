//! Screen 3, Review: the exact commands that will run, in order, and what each changes.
//! Proceed / Customize / Cancel, as rustup's install prompt offers, and a dry-run toggle.

use crossterm::event::{KeyCode, KeyEvent};
use ratatui::Frame;
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::text::{Line, Span};
use ratatui::widgets::Paragraph;

use crate::plan::Plan;

use crate::preflight::Issue;

use super::app::{App, PreflightCheck, Screen, go_choose, request_quit, start_install, start_verify};
use super::effect::Effect;
use super::theme::Theme;
use super::widgets::{chrome, doc, text};

/// The three answers.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum ReviewButton {
    #[default]
    Proceed,
    Customize,
    Cancel,
}

const BUTTONS: [ReviewButton; 3] = [ReviewButton::Proceed, ReviewButton::Customize, ReviewButton::Cancel];

/// Review screen state.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct ReviewUi {
    pub button: ReviewButton,
    pub scroll: u16,
}

/// The plan on review, when it has arrived and still answers the current request.
pub fn plan(app: &App) -> Option<&Plan> {
    app.planning.chosen.as_ref().filter(|(r, _)| *r == app.request).map(|(_, p)| p.as_ref())
}

/// Whether Proceed can run now, and if not, why.
#[derive(Debug, Clone, PartialEq)]
pub enum Gate {
    Ready,
    Planning,
    /// No plan, or a plan without a build to install.
    NothingToInstall,
    /// The machine is being checked for this plan.
    Checking,
    /// A check found a problem the install cannot get past.
    Blocked(Issue),
}

/// The state of Proceed. A dry run changes nothing, so the checks do not hold it up.
pub fn gate(app: &App) -> Gate {
    let Some(p) = plan(app) else {
        return if app.planning.pending.is_some() { Gate::Planning } else { Gate::NothingToInstall };
    };
    if p.nothing_to_do {
        return Gate::Ready;
    }
    if p.choice.is_none() {
        return Gate::NothingToInstall;
    }
    if app.dry_run {
        return Gate::Ready;
    }
    match preflight(app).and_then(|c| c.issues.as_ref()) {
        None => Gate::Checking,
        Some(issues) => match issues.iter().find(|i| i.blocking) {
            Some(i) => Gate::Blocked(i.clone()),
            None => Gate::Ready,
        },
    }
}

/// The machine check for the plan on review (None: none asked for this request yet).
pub fn preflight(app: &App) -> Option<&PreflightCheck> {
    app.preflight.current.as_ref().filter(|c| c.request == app.request)
}

/// Ask the engine to check the machine for the plan on review: always when `fresh`,
/// otherwise only when no check for this request exists. Nothing to check when there is
/// nothing to install.
pub(crate) fn check_machine(app: &mut App, fresh: bool) -> Vec<Effect> {
    let Some(p) = plan(app) else { return vec![] };
    if p.nothing_to_do || p.choice.is_none() {
        return vec![];
    }
    let Some(facts) = app.detection.facts.clone() else { return vec![] };
    if !fresh && preflight(app).is_some() {
        return vec![];
    }
    let plan = Box::new(p.clone());
    app.preflight.next_id += 1;
    let id = app.preflight.next_id;
    app.preflight.current = Some(PreflightCheck { id, request: app.request.clone(), issues: None });
    vec![Effect::Preflight { id, facts, plan }]
}

pub(crate) fn key(app: &mut App, key: KeyEvent) -> Option<Vec<Effect>> {
    let size = app.size;
    let lines = doc_len(app, size);
    let Screen::Review(ui) = &mut app.screen else { return None };
    let i = BUTTONS.iter().position(|b| *b == ui.button).unwrap_or(0);
    let page = doc_area(super::view::body_area(size)).height;
    let max = doc::max_offset(lines, page);
    match key.code {
        KeyCode::Left | KeyCode::Char('h') | KeyCode::BackTab => ui.button = BUTTONS[(i + 2) % 3],
        KeyCode::Right | KeyCode::Char('l') | KeyCode::Tab => ui.button = BUTTONS[(i + 1) % 3],
        KeyCode::Up | KeyCode::Char('k') => ui.scroll = ui.scroll.saturating_sub(1),
        KeyCode::Down | KeyCode::Char('j') => ui.scroll = (ui.scroll + 1).min(max),
        KeyCode::PageUp => ui.scroll = ui.scroll.saturating_sub(page.saturating_sub(1)),
        KeyCode::PageDown => ui.scroll = (ui.scroll + page.saturating_sub(1)).min(max),
        KeyCode::Char('d') => app.dry_run = !app.dry_run,
        KeyCode::Char('r') => {
            if preflight(app).is_some_and(|c| c.issues.is_none()) {
                return Some(vec![]);
            }
            return Some(check_machine(app, true));
        }
        KeyCode::Char('1') => return Some(act(app, ReviewButton::Proceed)),
        KeyCode::Char('2') => return Some(act(app, ReviewButton::Customize)),
        KeyCode::Char('3') => return Some(act(app, ReviewButton::Cancel)),
        KeyCode::Enter => {
            let b = ui.button;
            return Some(act(app, b));
        }
        _ => return None,
    }
    Some(vec![])
}

fn act(app: &mut App, b: ReviewButton) -> Vec<Effect> {
    match b {
        ReviewButton::Proceed => {
            match gate(app) {
                Gate::Ready => {}
                Gate::Planning => {
                    app.warn("Still planning…");
                    return vec![];
                }
                Gate::NothingToInstall => {
                    app.warn("There is nothing to install: Customize to pick another build.");
                    return vec![];
                }
                Gate::Checking => {
                    app.info("Still checking this machine…");
                    return vec![];
                }
                Gate::Blocked(i) => {
                    app.warn(format!("Cannot install yet: {} Fix it, then r to check again.", i.title));
                    return vec![];
                }
            }
            let Some(p) = plan(app).cloned() else { return vec![] };
            if p.nothing_to_do {
                return start_verify(app);
            }
            let dry = app.dry_run;
            start_install(app, Box::new(p), dry)
        }
        ReviewButton::Customize => go_choose(app),
        ReviewButton::Cancel => request_quit(app),
    }
}

/// Where the command list is drawn inside the body.
pub fn doc_area(body: Rect) -> Rect {
    let [d, _] = Layout::vertical([Constraint::Min(3), Constraint::Length(4)]).areas(body);
    Rect { x: d.x + 1, y: d.y + 1, width: d.width.saturating_sub(2), height: d.height.saturating_sub(2) }
}

fn doc_len(app: &App, size: (u16, u16)) -> usize {
    let area = doc_area(super::view::body_area(size));
    body_lines(app, doc::text_width(area)).len()
}

/// The plan as text, wrapped to `w`.
pub fn body_lines(app: &App, w: usize) -> Vec<Line<'static>> {
    let t = &app.theme;
    let g = t.glyphs();
    let mut out: Vec<Line<'static>> = Vec::new();
    if let Some(e) = &app.planning.error {
        out.extend(text::wrap_styled(" ", &format!("The planner failed: {e}"), w, t.bad()));
        out.push(Line::raw(""));
        out.push(Line::styled(" Esc: back to the choice.", t.dim()));
        return out;
    }
    let Some(p) = plan(app) else {
        out.push(Line::from(vec![
            Span::styled(format!(" {} ", app.spinner()), t.accent()),
            Span::raw("Planning the exact commands…"),
        ]));
        return out;
    };
    if p.nothing_to_do {
        let what = app
            .detection
            .facts
            .as_ref()
            .and_then(|f| f.torch.as_ref())
            .map(|t| format!("torch {}", t.version))
            .unwrap_or_else(|| "The chosen build".into());
        out.extend(text::wrap_styled(
            " ",
            &format!("Nothing to do: {what} is already the right build. Proceed runs the GPU smoke test."),
            w,
            t.ok(),
        ));
    }
    if let Some(c) = &p.choice {
        out.push(Line::from(vec![
            Span::raw(" Install "),
            Span::styled(format!("torch {} + {}", c.torch, c.variant), t.title()),
            Span::raw(format!(" with {}", c.manager.as_str())),
        ]));
        let companions: Vec<String> = [("torchvision", &c.torchvision), ("torchaudio", &c.torchaudio)]
            .iter()
            .filter_map(|(n, v)| v.as_ref().map(|v| format!("{n} {v}")))
            .collect();
        if !companions.is_empty() {
            out.push(Line::raw(format!("   with {}", companions.join(", "))));
        }
        out.extend(text::wrap_styled("   from ", &crate::redact::redact_text(&c.index_url), w, t.dim()));
        if let Some(py) = &p.target_python {
            out.extend(text::wrap_styled("   into ", py, w, t.dim()));
        }
    } else if !p.nothing_to_do {
        out.extend(text::wrap_styled(" ", "No build can be installed here.", w, t.bad()));
    }
    if !p.explanation.is_empty() {
        out.extend(text::wrap_styled(&format!(" {} ", g.star), &p.explanation, w, t.ok()));
    }
    for warning in &p.warnings {
        out.extend(text::wrap_styled(" ! ", warning, w, t.warn()));
    }
    out.extend(preflight_lines(app, w));
    if !p.steps.is_empty() {
        out.push(Line::raw(""));
        out.push(Line::styled(" These steps run, in this order:", t.title()));
    }
    for (i, s) in p.steps.iter().enumerate() {
        let head = format!(" {}. ", i + 1);
        out.push(Line::from(vec![
            Span::styled(head.clone(), t.title()),
            Span::styled(format!("{:<12}", s.stage.as_str()), t.accent()),
            Span::raw(s.summary.clone()),
        ]));
        if s.argv.is_empty() {
            // torchup's own work: the fetch, the move aside, the embedded smoke test.
            out.extend(text::wrap_styled("    ", "done by torchup itself", w, t.dim()));
        } else {
            out.extend(code_lines(&app.shell().render(&s.argv), w, t));
        }
        for (path, _) in &s.writes {
            out.extend(text::wrap_styled("    writes ", path, w, t.dim()));
        }
        if !s.changes.is_empty() {
            out.extend(text::wrap_styled("    changes: ", &s.changes, w, t.dim()));
        }
    }
    if let Some(f) = &p.fallback {
        out.push(Line::raw(""));
        out.extend(text::wrap_styled(
            " If it fails: ",
            &format!(
                "your previous build is put back, and the result screen offers torch {} + {} instead.",
                f.choice.torch, f.choice.variant
            ),
            w,
            ratatui::style::Style::new(),
        ));
    }
    out
}

/// What the machine check found: blocking problems first, each with its fix.
fn preflight_lines(app: &App, w: usize) -> Vec<Line<'static>> {
    let t = &app.theme;
    let g = t.glyphs();
    let Some(p) = plan(app) else { return vec![] };
    if p.nothing_to_do || p.choice.is_none() {
        return vec![];
    }
    let mut out = Vec::new();
    match preflight(app).map(|c| c.issues.as_ref()) {
        None => {}
        Some(None) => out.push(Line::from(vec![
            Span::styled(format!(" {} ", app.spinner()), t.accent()),
            Span::raw("Checking free space and programs using this environment…"),
        ])),
        Some(Some(issues)) => {
            let mut sorted: Vec<_> = issues.iter().collect();
            sorted.sort_by_key(|i| !i.blocking);
            for i in sorted {
                let (mark, style) = if i.blocking { (g.cross, t.bad()) } else { ("!", t.warn()) };
                let what = if i.blocking { "blocks the install" } else { "warning" };
                out.extend(text::wrap_styled(
                    &format!(" {mark} "),
                    &format!("{} ({what}): {}", i.id, i.title),
                    w,
                    style,
                ));
                out.extend(text::wrap_styled("   fix: ", &i.fix, w, t.dim()));
            }
        }
    }
    out
}

/// A command in code style, wrapped with a "$ " lead.
fn code_lines(cmd: &str, w: usize, t: &Theme) -> Vec<Line<'static>> {
    text::wrap_styled("    $ ", cmd, w, t.code())
}

pub(crate) fn keys(app: &App) -> Vec<(&'static str, &'static str)> {
    let lr = if app.theme.ascii { "Left/Right" } else { "←→" };
    vec![
        ("Enter", "choose"),
        (lr, "move"),
        ("1/2/3", "pick"),
        ("d", "dry run"),
        ("r", "re-check"),
        ("Esc", "back"),
        ("?", "help"),
    ]
}

pub(crate) fn render(app: &App, ui: &ReviewUi, frame: &mut Frame, area: Rect) {
    let t = &app.theme;
    let g = t.glyphs();
    let [d, bottom] = Layout::vertical([Constraint::Min(3), Constraint::Length(4)]).areas(area);
    let title = if app.dry_run { " Review — dry run " } else { " Review " };
    let block = chrome::boxed(title, false, t);
    frame.render_widget(block, d);
    let inner = doc_area(area);
    doc::render(frame, inner, body_lines(app, doc::text_width(inner)), ui.scroll, t);

    let dry_box = if app.dry_run { g.box_on } else { g.box_off };
    let dry = Line::from(vec![
        Span::raw(format!(" {dry_box} ")),
        Span::styled("Dry run", t.title()),
        Span::raw(" — show what would run, change nothing  "),
        Span::styled("d", t.key()),
    ]);
    let gate = gate(app);
    let enabled = gate == Gate::Ready;
    let mut buttons = vec![Span::raw(" ")];
    for (i, (b, label)) in BUTTONS.iter().zip(["1) Proceed", "2) Customize", "3) Cancel"]).enumerate() {
        if i > 0 {
            buttons.push(Span::raw("  "));
        }
        let mut s = chrome::button(label, ui.button == *b, t);
        if *b == ReviewButton::Proceed && !enabled {
            s = s.patch_style(t.dim());
        }
        buttons.push(s);
    }
    let blocked = match &gate {
        Gate::Blocked(i) => format!("blocked by {}: fix it (see above), then r to check again", i.id),
        _ => String::new(),
    };
    let hint = match ui.button {
        ReviewButton::Proceed if gate == Gate::Checking => "checking this machine first…",
        ReviewButton::Proceed if !blocked.is_empty() => blocked.as_str(),
        ReviewButton::Proceed if !enabled => "nothing to run yet: Customize, or Esc to go back",
        ReviewButton::Proceed if app.dry_run => "show the steps without changing anything",
        ReviewButton::Proceed => "run these commands now (default: just press Enter)",
        ReviewButton::Customize => "back to the build choice",
        ReviewButton::Cancel => "leave without changing anything",
    };
    let lines = vec![dry, Line::raw(""), Line::from(buttons), Line::styled(format!(" {hint}"), t.dim())];
    frame.render_widget(Paragraph::new(lines), bottom);
}
