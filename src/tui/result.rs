//! Screen 5, Result. Success: the guide's verification block, every smoke check, GPU vs
//! CPU throughput, advice sized to the card, the log path. Failure: the diagnosis, the
//! fix, and the ways forward (retry with the fallback build, roll back, open the log).

use std::path::PathBuf;

use crossterm::event::{KeyCode, KeyEvent};
use ratatui::Frame;
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::style::Style;
use ratatui::text::{Line, Span};
use ratatui::widgets::Paragraph;

use crate::diagnose::Diagnosis;
use crate::install::{InstallReport, Outcome};
use crate::plan::Plan;
use crate::smoke::SmokeReport;

use super::advice;
use super::app::{App, Screen, request_quit, start_install};
use super::effect::Effect;
use super::review::ReviewUi;
use super::run::{RunData, RunKind, RunUi};
use super::theme::Theme;
use super::widgets::{bars, chrome, doc, text};

/// Result screen state.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct ResultUi {
    pub scroll: u16,
    /// Index into [`actions`].
    pub action: usize,
}

/// What the user can do next.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ResultAction {
    RetryFallback,
    Rollback,
    OpenLog,
    ShowLog,
    /// After a dry run: back to Review with dry run off.
    RunForReal,
    /// The Explain screen; after a failure, with the run's output already explained.
    Explain,
    Quit,
}

impl ResultAction {
    pub fn label(self) -> &'static str {
        match self {
            ResultAction::RetryFallback => "f Retry fallback",
            ResultAction::Rollback => "b Roll back",
            ResultAction::OpenLog => "o Open log",
            ResultAction::ShowLog => "l Log",
            ResultAction::RunForReal => "p Run it for real",
            ResultAction::Explain => "e Explain",
            ResultAction::Quit => "q Quit",
        }
    }
    fn key(self) -> char {
        self.label().chars().next().unwrap_or(' ')
    }
}

fn report(app: &App) -> Option<&InstallReport> {
    app.run.as_ref().and_then(|r| r.report.as_deref())
}

/// The plan the last run installed.
fn run_plan(app: &App) -> Option<&Plan> {
    app.run.as_ref().and_then(|r| r.plan.as_deref())
}

/// The actions offered for the last run's outcome.
pub fn actions(app: &App) -> Vec<ResultAction> {
    let Some(r) = report(app) else { return vec![ResultAction::Quit] };
    let mut a = Vec::new();
    let fallback =
        run_plan(app).is_some_and(|p| p.fallback.is_some()) && !app.run.as_ref().is_some_and(|run| run.fallback_tried);
    match r.outcome {
        Outcome::DryRun => a.push(ResultAction::RunForReal),
        // The environment changed and the previous build is not back: that comes first.
        Outcome::Failed | Outcome::Broken => {
            a.push(ResultAction::Rollback);
            if fallback && r.outcome == Outcome::Failed {
                a.push(ResultAction::RetryFallback);
            }
        }
        Outcome::Cancelled if !r.restore_commands.is_empty() => a.push(ResultAction::Rollback),
        Outcome::Unchanged | Outcome::RolledBack if fallback => a.push(ResultAction::RetryFallback),
        _ => {}
    }
    if r.log_path.is_some() {
        a.push(ResultAction::OpenLog);
    }
    a.push(ResultAction::ShowLog);
    a.push(ResultAction::Explain);
    a.push(ResultAction::Quit);
    a
}

/// Every command that puts the previous build back by hand.
pub fn restore_commands(r: &InstallReport) -> Vec<Vec<String>> {
    if !r.restore_commands.is_empty() {
        return r.restore_commands.clone();
    }
    r.restore_command.iter().cloned().collect()
}

pub(crate) fn key(app: &mut App, key: KeyEvent) -> Option<Vec<Effect>> {
    let acts = actions(app);
    let size = app.size;
    let lines = doc_len(app, size);
    let Screen::Result(ui) = &mut app.screen else { return None };
    let page = doc_area(super::view::body_area(size)).height;
    let max = doc::max_offset(lines, page);
    let n = acts.len().max(1);
    match key.code {
        KeyCode::Left | KeyCode::Char('h') | KeyCode::BackTab => ui.action = (ui.action + n - 1) % n,
        KeyCode::Right | KeyCode::Tab => ui.action = (ui.action + 1) % n,
        KeyCode::Up | KeyCode::Char('k') => ui.scroll = ui.scroll.saturating_sub(1),
        KeyCode::Down | KeyCode::Char('j') => ui.scroll = (ui.scroll + 1).min(max),
        KeyCode::PageUp => ui.scroll = ui.scroll.saturating_sub(page.saturating_sub(1)),
        KeyCode::PageDown => ui.scroll = (ui.scroll + page.saturating_sub(1)).min(max),
        KeyCode::Enter => {
            let a = acts.get(ui.action).copied().unwrap_or(ResultAction::Quit);
            return Some(act(app, a));
        }
        KeyCode::Char(c) => {
            let a = acts.iter().copied().find(|a| a.key() == c)?;
            return Some(act(app, a));
        }
        _ => return None,
    }
    Some(vec![])
}

fn act(app: &mut App, a: ResultAction) -> Vec<Effect> {
    match a {
        ResultAction::RetryFallback => {
            let Some(plan) = run_plan(app) else { return vec![] };
            let Some(fb) = plan.fallback.clone() else { return vec![] };
            let retry = Plan {
                choice: Some(fb.choice.clone()),
                steps: fb.steps,
                fallback: None,
                nothing_to_do: false,
                explanation: format!(
                    "Fallback after {} failed: torch {} + {}",
                    plan.choice.as_ref().map(|c| c.variant.as_str()).unwrap_or("the first build"),
                    fb.choice.torch,
                    fb.choice.variant
                ),
                ..plan.clone()
            };
            start_install(app, Box::new(retry), false)
        }
        ResultAction::Rollback => {
            if report(app).is_none() {
                return vec![];
            }
            let prefix = app.detection.facts.as_ref().and_then(|f| f.python.as_ref()).map(|p| p.prefix.clone());
            let plan = run_plan(app).cloned().map(Box::new);
            let manager =
                plan.as_ref().and_then(|p| p.choice.as_ref()).map(|c| c.manager).unwrap_or(app.request.manager);
            let python = plan
                .as_ref()
                .and_then(|p| p.target_python.clone())
                .or_else(|| app.detection.facts.as_ref().and_then(|f| f.python.as_ref()).map(|p| p.executable.clone()));
            let Some(python) = python else {
                app.warn("No target interpreter is known: run the restore command shown above.");
                return vec![];
            };
            let fallback_tried = app.run.as_ref().is_some_and(|run| run.fallback_tried);
            // Keep the failed plan: after the rollback its fallback can still be tried.
            let mut run = RunData::new(RunKind::Rollback, false, plan, app.clock);
            run.fallback_tried = fallback_tried;
            app.run = Some(run);
            app.quit_when_finished = false;
            app.screen = Screen::Run(RunUi::default());
            vec![Effect::Rollback { python, prefix, manager }]
        }
        ResultAction::OpenLog => match report(app).and_then(|r| r.log_path.clone()) {
            Some(p) => vec![Effect::OpenLog(PathBuf::from(p))],
            None => vec![],
        },
        ResultAction::ShowLog => {
            app.screen = Screen::Run(RunUi::default());
            vec![]
        }
        ResultAction::RunForReal => {
            app.dry_run = false;
            app.screen = Screen::Review(ReviewUi::default());
            vec![]
        }
        ResultAction::Explain => match report(app) {
            Some(r) if !r.ok => super::explain::open_with_run_output(app),
            _ => super::explain::open(app, super::explain::Back::Result),
        },
        ResultAction::Quit => request_quit(app),
    }
}

pub(crate) fn keys(app: &App) -> Vec<(&'static str, &'static str)> {
    let arrows = if app.theme.ascii { "Up/Dn" } else { "↑↓" };
    let lr = if app.theme.ascii { "Left/Right" } else { "←→" };
    vec![(arrows, "scroll"), (lr, "action"), ("Enter", "do it"), ("?", "help"), ("q", "quit")]
}

/// Where the document is drawn inside the body.
pub fn doc_area(body: Rect) -> Rect {
    let [d, _] = Layout::vertical([Constraint::Min(3), Constraint::Length(1)]).areas(body);
    Rect { x: d.x + 1, y: d.y + 1, width: d.width.saturating_sub(2), height: d.height.saturating_sub(2) }
}

/// The longest column, for clamping the scroll offset.
fn doc_len(app: &App, size: (u16, u16)) -> usize {
    columns(app, doc_area(super::view::body_area(size))).iter().map(|(_, l)| l.len()).max().unwrap_or(0)
}

/// The guide's verification block, in the one wording of `smoke::render::guide_lines` (the
/// CLI prints the same lines): the label plain, the value green or red.
fn block_lines(s: &SmokeReport, t: &Theme) -> Vec<Line<'static>> {
    crate::smoke::render::guide_lines(s)
        .into_iter()
        .map(|line| {
            let style = if line.tone == crate::smoke::render::Tone::Fail { t.bad() } else { t.ok() };
            match line.text.split_once(": ") {
                Some((label, value)) => {
                    Line::from(vec![Span::raw(format!("   {label}: ")), Span::styled(value.to_string(), style)])
                }
                None => Line::styled(format!("   {}", line.text), style),
            }
        })
        .collect()
}

/// Every smoke check: mark, name, detail, time.
pub fn check_lines(s: &SmokeReport, w: usize, t: &Theme) -> Vec<Line<'static>> {
    let g = t.glyphs();
    let name_w = s.checks.iter().map(|c| text::width(&c.name)).max().unwrap_or(0).min(18);
    s.checks
        .iter()
        .map(|c| {
            let (m, st) = if c.ok { (g.check, t.ok()) } else { (g.cross, t.bad()) };
            let ms = format!("{:>7}", format!("{:.0} ms", c.ms));
            let detail_w = w.saturating_sub(5 + name_w + 1 + ms.len() + 1);
            let detail = text::truncate(&text::one_line(&c.detail), detail_w, g.ellipsis);
            Line::from(vec![
                Span::styled(format!("   {m} "), st),
                Span::styled(format!("{:<name_w$} ", text::truncate(&c.name, name_w, g.ellipsis)), t.title()),
                Span::raw(format!("{detail:<detail_w$}")),
                Span::styled(format!(" {ms}"), t.dim()),
            ])
        })
        .collect()
}

/// GPU vs CPU throughput bars, when both were measured.
pub fn throughput_lines(s: &SmokeReport, w: usize, t: &Theme) -> Vec<Line<'static>> {
    let (Some(gpu), Some(cpu)) = (s.gpu_gflops, s.cpu_gflops) else { return vec![] };
    let mut out = vec![Line::styled(" Matmul throughput, measured here", t.title())];
    let bar_w = w.saturating_sub(4 + 4 + 16).clamp(10, 50);
    for row in bars::chart_rows(&[("GPU", gpu), ("CPU", cpu)], bar_w, &[t.ok(), t.warn()], t) {
        let mut spans = vec![Span::raw("   ")];
        spans.extend(row);
        out.push(Line::from(spans));
    }
    if cpu > 0.0 {
        let ratio = gpu / cpu;
        out.extend(text::wrap_styled(
            "   ",
            &format!("The GPU is {ratio:.1}× the CPU on this test (the guide expects training 5–10× faster)."),
            w,
            t.dim(),
        ));
    }
    out
}

fn diagnosis_lines(d: &Diagnosis, w: usize, t: &Theme) -> Vec<Line<'static>> {
    let mut out =
        text::wrap_styled(&format!(" {} ", d.id), &d.title, w, t.bad().add_modifier(ratatui::style::Modifier::BOLD));
    if !d.explanation.is_empty() {
        out.extend(text::wrap_styled("     ", &d.explanation, w, Style::new()));
    }
    out.extend(text::wrap_styled("     Fix: ", &d.fix, w, t.ok()));
    out
}

/// Every diagnosis of the run: the report's, then any stage's not already listed.
fn diagnoses(app: &App, r: &InstallReport) -> Vec<Diagnosis> {
    let mut all = r.diagnoses.clone();
    if let Some(run) = &app.run {
        for s in &run.stages {
            for d in &s.diagnoses {
                if !all.iter().any(|x| x.id == d.id) {
                    all.push(d.clone());
                }
            }
        }
    }
    all
}

/// The result as text, wrapped to `w`, in one column.
pub fn body_lines(app: &App, w: usize) -> Vec<Line<'static>> {
    doc_parts(app, w, w, false).0
}

/// Wide terminals get two columns: the verdict and checks on the left, throughput and
/// training advice on the right. Returns each column's area and lines.
pub fn columns(app: &App, inner: Rect) -> Vec<(Rect, Vec<Line<'static>>)> {
    if inner.width >= 108 {
        let [l, r] = Layout::horizontal([Constraint::Percentage(45), Constraint::Percentage(55)]).areas(inner);
        let (left, right) = doc_parts(app, doc::text_width(l), doc::text_width(r), true);
        if !right.is_empty() {
            return vec![(l, left), (r, right)];
        }
    }
    vec![(inner, body_lines(app, doc::text_width(inner)))]
}

fn doc_parts(app: &App, w: usize, side_w: usize, split: bool) -> (Vec<Line<'static>>, Vec<Line<'static>>) {
    let t = &app.theme;
    let g = t.glyphs();
    let mut out: Vec<Line<'static>> = Vec::new();
    let mut side: Vec<Line<'static>> = Vec::new();
    let Some(r) = report(app) else {
        out.push(Line::styled(" The run has not finished.", t.dim()));
        return (out, side);
    };
    let was_rollback = app.run.as_ref().is_some_and(|run| run.kind == RunKind::Rollback);
    let (headline, style) = match r.outcome {
        Outcome::Installed => (format!("{} PyTorch runs on your GPU.", g.check), t.ok()),
        Outcome::NothingToDo => (format!("{} Nothing needed changing.", g.check), t.ok()),
        Outcome::DryRun => ("Dry run finished: nothing was changed.".to_string(), t.accent()),
        Outcome::RolledBack if was_rollback => (format!("{} Your previous build is back.", g.check), t.ok()),
        Outcome::RolledBack => (format!("{} The install failed; your previous build is back.", g.cross), t.bad()),
        Outcome::Unchanged => (format!("{} The install stopped before anything changed.", g.cross), t.bad()),
        Outcome::Failed => (format!("{} The install failed; the previous build is not back yet.", g.cross), t.bad()),
        Outcome::RequirementsFailed => {
            (format!("{} The CUDA build works, but the requirements step failed.", g.cross), t.warn())
        }
        Outcome::Broken => (format!("{} The previous build could not be put back.", g.cross), t.bad()),
        Outcome::Cancelled => ("Cancelled.".to_string(), t.warn()),
    };
    out.extend(text::wrap_styled(" ", &headline, w, style.add_modifier(ratatui::style::Modifier::BOLD)));
    if !r.environment.is_empty() {
        out.extend(text::wrap_styled(" ", &r.environment, w, Style::new()));
    }
    let restore = restore_commands(r);
    if !restore.is_empty() {
        out.push(Line::raw(""));
        let how = if actions(app).contains(&ResultAction::Rollback) {
            " Roll back (b) runs, or run it yourself:"
        } else {
            " To put the previous build back by hand:"
        };
        out.push(Line::styled(how, t.title()));
        for cmd in &restore {
            out.extend(text::wrap_styled("   $ ", &app.shell().render(cmd), w, t.code()));
        }
    }
    let diags = diagnoses(app, r);
    if !diags.is_empty() {
        out.push(Line::raw(""));
        out.push(Line::styled(" What went wrong", t.title()));
        for d in &diags {
            out.extend(diagnosis_lines(d, w, t));
        }
    }
    if let Some(s) = &r.smoke {
        out.push(Line::raw(""));
        let title = if r.ok { " Verification" } else { " Last smoke test" };
        out.push(Line::styled(title, t.title()));
        out.extend(block_lines(s, t));
        if !s.checks.is_empty() {
            out.push(Line::raw(""));
            out.push(Line::styled(" Smoke checks", t.title()));
            out.extend(check_lines(s, w, t));
        }
        let (sw, dest) = if split { (side_w, &mut side) } else { (w, &mut out) };
        let tp = throughput_lines(s, sw, t);
        if !tp.is_empty() {
            if !dest.is_empty() || !split {
                dest.push(Line::raw(""));
            }
            dest.extend(tp);
        }
        if r.ok
            && let Some(d) = s.devices.first()
            && let Some(mem) = d.memory_mib
        {
            let a = advice::for_card(mem, d.compute_capability.as_deref());
            dest.push(Line::raw(""));
            dest.push(Line::styled(format!(" Training on a {} card", a.tier), t.title()));
            for p in &a.points {
                dest.extend(text::wrap_styled(&format!("   {} ", g.bullet), p, sw, Style::new()));
            }
            for l in a.snippet {
                dest.push(Line::styled(format!("     {l}"), t.code()));
            }
        }
    }
    if let Some(prev) = &r.previous {
        out.push(Line::raw(""));
        out.push(Line::from(vec![Span::styled(" Before: ", t.dim()), Span::raw(format!("torch {}", prev.version))]));
    }
    if let Some(p) = &r.log_path {
        out.extend(text::wrap_styled(" Log: ", p, w, t.dim()));
    }
    (out, side)
}

pub(crate) fn render(app: &App, ui: &ResultUi, frame: &mut Frame, area: Rect) {
    let t = &app.theme;
    let [d, bottom] = Layout::vertical([Constraint::Min(3), Constraint::Length(1)]).areas(area);
    let ok = report(app).is_some_and(|r| r.ok);
    frame.render_widget(chrome::boxed(if ok { " Result " } else { " Result — needs attention " }, false, t), d);
    for (col, lines) in columns(app, doc_area(area)) {
        doc::render(frame, col, lines, ui.scroll, t);
    }
    let mut spans = vec![Span::raw(" ")];
    for (i, a) in actions(app).iter().enumerate() {
        if i > 0 {
            spans.push(Span::raw(" "));
        }
        spans.push(chrome::button(a.label(), i == ui.action, t));
    }
    frame.render_widget(Paragraph::new(Line::from(spans)), bottom);
}
