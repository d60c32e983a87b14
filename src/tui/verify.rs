//! Screen 6, Verify: the smoke checks now, next to the last saved run, so a user who
//! just updated the driver sees what changed. `r` runs the test again.

use crossterm::event::{KeyCode, KeyEvent};
use ratatui::Frame;
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::style::Style;
use ratatui::text::{Line, Span};

use crate::smoke::SmokeReport;

use super::app::{App, Mode, Screen};
use super::check::{CheckUi, Detection};
use super::effect::Effect;
use super::msg::VerifyOutcome;
use super::theme::Theme;
use super::widgets::{chrome, doc, text};

/// The smoke test as the wizard knows it.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct VerifyData {
    pub running: bool,
    pub outcome: Option<Result<Box<VerifyOutcome>, String>>,
}

/// Verify screen state.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct VerifyUi {
    pub scroll: u16,
}

/// One sentence on a smoke report: the verdict `torchup verify` prints.
pub(crate) fn one_line(s: &SmokeReport) -> String {
    crate::smoke::render::verdict(s).text
}

pub(crate) fn key(app: &mut App, key: KeyEvent) -> Option<Vec<Effect>> {
    let size = app.size;
    let lines = doc_len(app, size);
    let Screen::Verify(ui) = &mut app.screen else { return None };
    let page = doc_area(super::view::body_area(size)).height;
    let max = doc::max_offset(lines, page);
    match key.code {
        KeyCode::Up | KeyCode::Char('k') => ui.scroll = ui.scroll.saturating_sub(1),
        KeyCode::Down | KeyCode::Char('j') => ui.scroll = (ui.scroll + 1).min(max),
        KeyCode::PageUp => ui.scroll = ui.scroll.saturating_sub(page.saturating_sub(1)),
        KeyCode::PageDown => ui.scroll = (ui.scroll + page.saturating_sub(1)).min(max),
        KeyCode::Char('r') => {
            if app.verify.running {
                return Some(vec![]);
            }
            app.verify.running = true;
            return Some(vec![Effect::Verify { python: app.verify_python() }]);
        }
        KeyCode::Char('i') if app.mode == Mode::Verify && !app.verify.running => {
            // From "after a driver update" to the full wizard.
            app.mode = Mode::Wizard;
            app.detection = Detection::started();
            app.screen = Screen::Check(CheckUi::default());
            return Some(vec![Effect::Detect { python: app.python_target.clone() }]);
        }
        _ => return None,
    }
    Some(vec![])
}

pub(crate) fn keys(app: &App) -> Vec<(&'static str, &'static str)> {
    let arrows = if app.theme.ascii { "Up/Dn" } else { "↑↓" };
    let mut k = vec![("r", "run again"), (arrows, "scroll")];
    if app.mode == Mode::Verify {
        k.push(("i", "install a build"));
    }
    k.extend([("?", "help"), ("q", "quit")]);
    k
}

pub(crate) fn doc_area(body: Rect) -> Rect {
    Rect { x: body.x + 1, y: body.y + 1, width: body.width.saturating_sub(2), height: body.height.saturating_sub(2) }
}

fn doc_len(app: &App, size: (u16, u16)) -> usize {
    let area = doc_area(super::view::body_area(size));
    body_lines(app, doc::text_width(area)).len()
}

/// The comparison as text, wrapped to `w`.
pub(crate) fn body_lines(app: &App, w: usize) -> Vec<Line<'static>> {
    let t = &app.theme;
    let mut out: Vec<Line<'static>> = Vec::new();
    if app.verify.running {
        out.push(Line::from(vec![
            Span::styled(format!(" {} ", app.spinner()), t.accent()),
            Span::raw("Running the GPU smoke test in the target interpreter…"),
        ]));
        if app.verify.outcome.is_none() {
            return out;
        }
        out.push(Line::raw(""));
    }
    match &app.verify.outcome {
        None => out.push(Line::styled(" Press r to run the smoke test.", t.dim())),
        Some(Err(e)) => {
            out.extend(text::wrap_styled(" ", &format!("The smoke test could not run: {e}"), w, t.bad()));
        }
        Some(Ok(o)) => out.extend(outcome_lines(o, w, t)),
    }
    out
}

fn outcome_lines(o: &VerifyOutcome, w: usize, t: &Theme) -> Vec<Line<'static>> {
    let g = t.glyphs();
    let now = &o.now;
    let mut out = Vec::new();
    let (m, st) = if now.ok { (g.check, t.ok()) } else { (g.cross, t.bad()) };
    out.extend(text::wrap_styled(
        &format!(" {m} "),
        &one_line(now),
        w,
        st.add_modifier(ratatui::style::Modifier::BOLD),
    ));
    match (&o.previous, &o.previous_when) {
        (Some(_), Some(when)) => {
            out.push(Line::styled(format!(" Compared with the last saved run ({when})."), t.dim()))
        }
        (Some(_), None) => out.push(Line::styled(" Compared with the last saved run.", t.dim())),
        (None, _) => out.push(Line::styled(" No earlier run was saved: this one is the baseline.", t.dim())),
    }
    out.push(Line::raw(""));

    // What changed, as `torchup verify` says it (smoke::compare): the driver first of all.
    if o.previous.is_some() {
        if o.changes.is_empty() {
            out.push(Line::styled(" Nothing changed since then.", t.ok()));
        }
        for c in &o.changes {
            let style = match c {
                crate::smoke::Change::Cuda { to_ok: true, .. } => t.ok(),
                crate::smoke::Change::Cuda { to_ok: false, .. } => t.bad(),
                _ => t.warn(),
            };
            let text = c.to_string().replace('→', g.arrow);
            out.extend(text::wrap_styled(" changed: ", &text, w, style));
        }
        out.push(Line::raw(""));
    }

    // The check table: now, before, detail.
    let mut names: Vec<&str> = now.checks.iter().map(|c| c.name.as_str()).collect();
    if let Some(prev) = &o.previous {
        for c in &prev.checks {
            if !names.contains(&c.name.as_str()) {
                names.push(&c.name);
            }
        }
    }
    let name_w = names.iter().map(|n| text::width(n)).max().unwrap_or(5).clamp(5, 18);
    let has_prev = o.previous.is_some();
    let mut head = format!("   {:<name_w$}  Now", "Check");
    if has_prev {
        head.push_str("  Before");
    }
    head.push_str("  Detail");
    out.push(Line::styled(head, t.title()));
    for name in names {
        let cur = now.checks.iter().find(|c| c.name == name);
        let before = o.previous.as_ref().and_then(|p| p.checks.iter().find(|c| c.name == name));
        let (nm, ns) = t.verdict(cur.map(|c| c.ok));
        let mut spans = vec![
            Span::raw(format!("   {:<name_w$}  ", text::truncate(name, name_w, g.ellipsis))),
            Span::styled(format!("{nm:<3}"), ns),
        ];
        let mut used = 3 + name_w + 2 + 3;
        if has_prev {
            let (bm, bs) = t.verdict(before.map(|c| c.ok));
            spans.push(Span::styled(format!("  {bm:<6}"), bs));
            used += 8;
        }
        let changed = has_prev && cur.map(|c| c.ok) != before.map(|c| c.ok);
        let detail = match (cur, before) {
            (Some(c), _) => text::one_line(&c.detail),
            (None, Some(_)) => "not run this time".to_string(),
            (None, None) => String::new(),
        };
        let tag = if changed { "changed: " } else { "" };
        let detail_w = w.saturating_sub(used + 2 + tag.len());
        if changed {
            spans.push(Span::styled(format!("  {tag}"), t.warn()));
        } else {
            spans.push(Span::raw("  "));
        }
        spans.push(Span::styled(
            text::truncate(&detail, detail_w, g.ellipsis),
            if changed { t.warn() } else { Style::new() },
        ));
        out.push(Line::from(spans));
    }

    if !now.diagnoses.is_empty() {
        out.push(Line::raw(""));
        out.push(Line::styled(" What went wrong", t.title()));
        for d in &now.diagnoses {
            out.extend(text::wrap_styled(&format!(" {} ", d.id), &d.title, w, t.bad()));
            out.extend(text::wrap_styled("     Fix: ", &d.fix, w, t.ok()));
        }
    }
    if let Some(p) = &o.saved_to {
        out.push(Line::raw(""));
        out.extend(text::wrap_styled(" Saved: ", p, w, t.dim()));
    }
    out
}

pub(crate) fn render(app: &App, ui: &VerifyUi, frame: &mut Frame, area: Rect) {
    let t = &app.theme;
    let [d] = Layout::vertical([Constraint::Min(3)]).areas(area);
    frame.render_widget(chrome::boxed(" Verify ", false, t), d);
    let inner = doc_area(area);
    doc::render(frame, inner, body_lines(app, doc::text_width(inner)), ui.scroll, t);
}
