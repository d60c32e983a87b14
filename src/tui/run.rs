//! Screen 4, Run: the stage list with state and elapsed time, the smoke result after
//! each stage as pass/fail chips, a live log pane (bounded, scrollable, following the
//! tail) and the download progress with bytes and rate.

use std::collections::VecDeque;
use std::time::{Duration, Instant};

use crossterm::event::{KeyCode, KeyEvent};
use ratatui::Frame;
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::style::Style;
use ratatui::text::{Line, Span};
use ratatui::widgets::Paragraph;

use crate::diagnose::Diagnosis;
use crate::exec::Stream;
use crate::install::{Expectation, InstallEvent, InstallReport, Outcome, StageInfo};
use crate::plan::Plan;
use crate::smoke::SmokeReport;

use super::app::{App, Confirm, Screen, quit_effects};
use super::effect::Effect;
use super::result::ResultUi;
use super::theme::Theme;
use super::widgets::log::{self, LineKind, LogBuffer, LogScroll};
use super::widgets::{bars, chrome, text};

/// What the run is doing.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RunKind {
    Install,
    Rollback,
}

/// Where a stage stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StageState {
    Pending,
    Running { since: Instant },
    Done { ok: bool, elapsed: Duration },
}

/// The smoke test after a stage.
#[derive(Debug, Clone, PartialEq)]
pub struct StageSmoke {
    pub expected: Expectation,
    pub met: bool,
    pub report: Box<SmokeReport>,
}

/// One row of the stage list.
#[derive(Debug, Clone, PartialEq)]
pub struct StageView {
    pub info: StageInfo,
    pub state: StageState,
    pub smoke: Option<StageSmoke>,
    pub diagnoses: Vec<Diagnosis>,
}

/// A download or phase in progress.
#[derive(Debug, Clone, PartialEq)]
pub struct Download {
    pub index: usize,
    pub label: String,
    pub done: u64,
    pub total: Option<u64>,
    /// Recent (time, bytes) samples for the rate.
    pub samples: VecDeque<(Instant, u64)>,
}

impl Download {
    /// Bytes per second over the recent samples, once they span half a second.
    pub fn rate(&self) -> Option<f64> {
        let (t0, b0) = *self.samples.front()?;
        let (t1, b1) = *self.samples.back()?;
        let dt = t1.saturating_duration_since(t0).as_secs_f64();
        (dt >= 0.5 && b1 >= b0).then(|| (b1 - b0) as f64 / dt)
    }
}

/// How long the rate looks back.
const RATE_WINDOW: Duration = Duration::from_secs(5);

/// An install or rollback run as the wizard saw it.
#[derive(Debug, Clone, PartialEq)]
pub struct RunData {
    pub kind: RunKind,
    pub dry_run: bool,
    /// The plan being installed (None for a rollback).
    pub plan: Option<Box<Plan>>,
    pub started: Instant,
    pub stages: Vec<StageView>,
    pub log: LogBuffer,
    pub scroll: LogScroll,
    pub download: Option<Download>,
    pub last_notice: Option<String>,
    /// Set by `Finished`.
    pub report: Option<Box<InstallReport>>,
    pub cancel_requested: bool,
    /// The engine already tried the plan's fallback (a "fallback" stage ran), in this run
    /// or the one this run follows.
    pub fallback_tried: bool,
}

impl RunData {
    pub fn new(kind: RunKind, dry_run: bool, plan: Option<Box<Plan>>, now: Instant) -> Self {
        RunData {
            kind,
            dry_run,
            plan,
            started: now,
            stages: vec![],
            log: LogBuffer::default(),
            scroll: LogScroll::default(),
            download: None,
            last_notice: None,
            report: None,
            cancel_requested: false,
            fallback_tried: false,
        }
    }

    fn stage_mut(&mut self, index: usize) -> Option<&mut StageView> {
        self.stages.iter_mut().find(|s| s.info.index == index)
    }

    fn stage_name(&self, index: usize) -> String {
        self.stages
            .iter()
            .find(|s| s.info.index == index)
            .map(|s| s.info.stage.as_str().to_string())
            .unwrap_or_default()
    }
}

/// Run screen state (the log position lives in [`RunData`], so it survives a visit to
/// the Result screen).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct RunUi {}

/// Apply an engine event to the run.
pub(crate) fn apply(app: &mut App, event: InstallEvent) -> Vec<Effect> {
    let now = app.clock;
    let Some(run) = app.run.as_mut() else {
        // An event for a run the wizard did not start: nothing to attach it to.
        return vec![];
    };
    match event {
        // The Run screen's gauge follows `Progress` (the engine aggregates the files).
        InstallEvent::Fetch { .. } => {}
        InstallEvent::Stages(list) => {
            if list.iter().any(|s| s.stage == crate::install::stage::RunStage::Fallback) {
                run.fallback_tried = true;
            }
            let old = std::mem::take(&mut run.stages);
            run.stages = list
                .into_iter()
                .map(|info| match old.iter().find(|s| s.info.index == info.index && s.info.stage == info.stage) {
                    Some(prev) => StageView { info, ..prev.clone() },
                    None => StageView { info, state: StageState::Pending, smoke: None, diagnoses: vec![] },
                })
                .collect();
        }
        InstallEvent::StageStarted { index } => {
            let summary = run.stages.iter().find(|s| s.info.index == index).map(|s| s.info.summary.clone());
            if let Some(s) = run.stage_mut(index) {
                s.state = StageState::Running { since: now };
            }
            let name = run.stage_name(index);
            let marker = match summary {
                Some(sum) if !sum.is_empty() => format!("── {name}: {sum}"),
                _ => format!("── {name}"),
            };
            run.log.push(LineKind::Marker, &marker);
        }
        InstallEvent::Line { stream, text, .. } => {
            let kind = if stream == Stream::Stderr { LineKind::Stderr } else { LineKind::Stdout };
            run.log.push(kind, &text);
        }
        InstallEvent::Progress { index, label, done, total } => {
            // One download per stage: the label may change with every update (bytes, rate),
            // and a fetch of several files only grows.
            let same = run.download.as_ref().is_some_and(|d| d.index == index && done >= d.done);
            if !same {
                run.download = Some(Download { index, label: label.clone(), done, total, samples: VecDeque::new() });
            }
            if let Some(d) = run.download.as_mut() {
                d.label = label;
                d.done = done;
                d.total = total;
                d.samples.push_back((now, done));
                while d.samples.len() > 2
                    && d.samples.front().is_some_and(|(t, _)| now.saturating_duration_since(*t) > RATE_WINDOW)
                {
                    d.samples.pop_front();
                }
            }
        }
        InstallEvent::StageFinished { index, ok, elapsed } => {
            if let Some(s) = run.stage_mut(index) {
                s.state = StageState::Done { ok, elapsed };
            }
            if run.download.as_ref().is_some_and(|d| d.index == index) {
                run.download = None;
            }
        }
        InstallEvent::Smoke { index, expected, met, report } => {
            let name = run.stage_name(index);
            run.log.push(LineKind::Notice, &format!("{name}: {}", expected.outcome(met)));
            if let Some(s) = run.stage_mut(index) {
                s.smoke = Some(StageSmoke { expected, met, report });
            }
        }
        InstallEvent::Diagnosis { index, diagnosis } => {
            run.log.push(LineKind::Notice, &format!("diagnosis {}: {}", diagnosis.id, diagnosis.title));
            if let Some(s) = run.stage_mut(index) {
                s.diagnoses.push(diagnosis);
            }
        }
        InstallEvent::Notice(text) => {
            run.log.push(LineKind::Notice, &text);
            run.last_notice = Some(text);
        }
        InstallEvent::Finished(report) => {
            run.download = None;
            run.report = Some(report);
            app.confirm = None;
            if app.quit_when_finished {
                return quit_effects(app, false);
            }
            if let Screen::Run(_) = app.screen {
                app.screen = Screen::Result(ResultUi::default());
            }
        }
    }
    vec![]
}

/// The log pane's height for a terminal of `size`.
fn page(size: (u16, u16), download: bool) -> u64 {
    layout(super::view::body_area(size), download).log.height.max(1) as u64
}

pub(crate) fn key(app: &mut App, key: KeyEvent) -> Option<Vec<Effect>> {
    let installing = app.installing();
    let size = app.size;
    let run = app.run.as_mut()?;
    let page = page(size, run.download.is_some());
    match key.code {
        KeyCode::Up | KeyCode::Char('k') => run.scroll.up(&run.log, 1, page),
        KeyCode::Down | KeyCode::Char('j') => run.scroll.down(&run.log, 1),
        KeyCode::PageUp => run.scroll.up(&run.log, page.saturating_sub(1).max(1), page),
        KeyCode::PageDown => run.scroll.down(&run.log, page.saturating_sub(1).max(1)),
        KeyCode::Home | KeyCode::Char('g') => run.scroll.top(&run.log, page),
        KeyCode::End | KeyCode::Char('G') => run.scroll.follow(),
        KeyCode::Char('c') if installing && !run.cancel_requested => {
            app.confirm = Some(Confirm::StopInstall { then_quit: false });
        }
        KeyCode::Enter | KeyCode::Right | KeyCode::Tab if !installing => {
            app.screen = Screen::Result(ResultUi::default());
        }
        _ => return None,
    }
    Some(vec![])
}

pub(crate) fn keys(app: &App) -> Vec<(&'static str, &'static str)> {
    let arrows = if app.theme.ascii { "Up/Dn" } else { "↑↓" };
    let mut k = vec![(arrows, "scroll log"), ("PgUp/PgDn", "page"), ("End", "follow")];
    if app.installing() {
        k.push(("c", "cancel"));
    } else {
        k.push(("Enter", "result"));
    }
    k.extend([("?", "help"), ("q", "quit")]);
    k
}

struct RunLayout {
    headline: Rect,
    stages: Rect,
    log_box: Rect,
    log: Rect,
    progress: Rect,
}

fn layout(body: Rect, download: bool) -> RunLayout {
    let [headline, main] = Layout::vertical([Constraint::Length(1), Constraint::Min(3)]).areas(body);
    let left_w = if body.width >= 110 { 40 } else { 30 };
    let [stages, right] = Layout::horizontal([Constraint::Length(left_w), Constraint::Min(10)]).areas(main);
    let [log_box, progress] =
        Layout::vertical([Constraint::Min(3), Constraint::Length(if download { 4 } else { 0 })]).areas(right);
    let log = Rect {
        x: log_box.x + 1,
        y: log_box.y + 1,
        width: log_box.width.saturating_sub(2),
        height: log_box.height.saturating_sub(2),
    };
    RunLayout { headline, stages, log_box, log, progress }
}

/// The one-line description of a run.
pub fn headline(run: &RunData) -> String {
    let what = match (run.kind, run.plan.as_ref().and_then(|p| p.choice.as_ref())) {
        (RunKind::Rollback, _) => "Putting the previous build back".to_string(),
        (RunKind::Install, Some(c)) => {
            format!("Installing torch {} + {} with {}", c.torch, c.variant, c.manager.as_str())
        }
        (RunKind::Install, None) => "Installing".to_string(),
    };
    let what = if run.dry_run { format!("{what} — dry run, nothing is changed") } else { what };
    match run.report.as_ref().map(|r| r.outcome) {
        None => what,
        Some(Outcome::Installed | Outcome::NothingToDo | Outcome::DryRun) => format!("{what}: done"),
        Some(Outcome::RolledBack) if run.kind == RunKind::Rollback => format!("{what}: done"),
        Some(Outcome::Cancelled) => format!("{what}: cancelled"),
        Some(_) => format!("{what}: failed"),
    }
}

pub(crate) fn render(app: &App, frame: &mut Frame, area: Rect) {
    let t = &app.theme;
    let Some(run) = &app.run else {
        frame.render_widget(Paragraph::new(" Nothing has run yet."), area);
        return;
    };
    let l = layout(area, run.download.is_some());
    let mut head = vec![Span::styled(format!(" {}", headline(run)), t.title())];
    if run.report.is_none() {
        head.insert(0, Span::styled(format!(" {}", app.spinner()), t.accent()));
        head.push(Span::styled(
            format!("  {}", text::duration(app.clock.saturating_duration_since(run.started))),
            t.dim(),
        ));
    }
    frame.render_widget(Paragraph::new(Line::from(head)), l.headline);
    render_stages(app, run, frame, l.stages);
    render_log(run, frame, l.log_box, l.log, t);
    if let Some(d) = &run.download {
        render_download(d, frame, l.progress, t);
    }
}

fn render_stages(app: &App, run: &RunData, frame: &mut Frame, area: Rect) {
    let t = &app.theme;
    let g = t.glyphs();
    let block = chrome::boxed(" Stages ", false, t);
    let inner = block.inner(area);
    frame.render_widget(block, area);
    let w = inner.width as usize;
    let mut lines: Vec<Line> = Vec::new();
    let mut running_line = 0;
    if run.stages.is_empty() {
        lines.push(Line::styled(" Waiting for the engine…", t.dim()));
    }
    for s in &run.stages {
        let (mark, style, time) = match s.state {
            StageState::Pending => (g.pending.to_string(), t.dim(), String::new()),
            StageState::Running { since } => {
                running_line = lines.len();
                (app.spinner().to_string(), t.accent(), text::duration(app.clock.saturating_duration_since(since)))
            }
            StageState::Done { ok: true, elapsed } => (g.check.to_string(), t.ok(), text::duration(elapsed)),
            StageState::Done { ok: false, elapsed } => (g.cross.to_string(), t.bad(), text::duration(elapsed)),
        };
        let name_w = w.saturating_sub(3 + time.len() + 1);
        let name = text::truncate(s.info.stage.as_str(), name_w, g.ellipsis);
        lines.push(Line::from(vec![
            Span::styled(format!(" {mark} "), style),
            Span::styled(
                format!("{name:<name_w$}"),
                if matches!(s.state, StageState::Pending) { t.dim() } else { Style::new() },
            ),
            Span::styled(format!("{time} "), t.dim()),
        ]));
        if let Some(sm) = &s.smoke {
            lines.extend(chips(sm, w, t));
        }
        for d in &s.diagnoses {
            lines.push(Line::styled(text::truncate(&format!("   {} {}", d.id, d.title), w, g.ellipsis), t.bad()));
        }
    }
    // Keep the running stage in view when the list is long.
    let h = inner.height as usize;
    let skip = if lines.len() > h { running_line.saturating_sub(h / 2).min(lines.len() - h) } else { 0 };
    let lines: Vec<Line> = lines.into_iter().skip(skip).collect();
    frame.render_widget(Paragraph::new(lines), inner);
}

/// "   smoke ✓  ✓torch ✗cuda ✗matmul": the smoke verdict and a chip per check.
pub fn chips(sm: &StageSmoke, w: usize, t: &Theme) -> Vec<Line<'static>> {
    let g = t.glyphs();
    let (v, vs) = if sm.met { (g.check, t.ok()) } else { (g.cross, t.bad()) };
    let mut lines = Vec::new();
    let mut cur = vec![Span::styled("   smoke ", t.dim()), Span::styled(format!("{v} "), vs)];
    let mut used = 3 + 6 + 2;
    for c in &sm.report.checks {
        let (m, st) = if c.ok { (g.check, t.ok()) } else { (g.cross, t.bad()) };
        let name = text::truncate(&c.name, 14, g.ellipsis);
        let chip_w = text::width(m) + text::width(&name) + 1;
        if used + chip_w > w && used > 5 {
            lines.push(Line::from(std::mem::take(&mut cur)));
            cur.push(Span::raw("     "));
            used = 5;
        }
        cur.push(Span::styled(format!("{m}{name} "), st));
        used += chip_w;
    }
    lines.push(Line::from(cur));
    lines
}

fn render_log(run: &RunData, frame: &mut Frame, box_area: Rect, area: Rect, t: &Theme) {
    let mut title = if run.scroll.follow { " Log ".to_string() } else { " Log — scrolled, End follows ".to_string() };
    if run.log.dropped() > 0 {
        title.push_str(&format!("(last {} of {} lines) ", run.log.len(), run.log.end()));
    }
    let block = chrome::boxed(title, true, t);
    frame.render_widget(block, box_area);
    log::render(frame, area, &run.log, &run.scroll, t);
}

fn render_download(d: &Download, frame: &mut Frame, area: Rect, t: &Theme) {
    let g = t.glyphs();
    let block = chrome::boxed(
        format!(" {} ", text::truncate(&d.label, area.width.saturating_sub(4) as usize, g.ellipsis)),
        false,
        t,
    );
    let inner = block.inner(area);
    frame.render_widget(block, area);
    let rate = d.rate();
    let mut tail = match d.total {
        Some(total) => format!(" {} / {}", crate::describe::bytes(d.done), crate::describe::bytes(total)),
        // A phase ("Installing collected packages"): the title says it all.
        None if d.done == 0 => String::new(),
        None => format!(" {}", crate::describe::bytes(d.done)),
    };
    if let Some(r) = rate {
        tail.push_str(&format!(" · {}", text::rate(r)));
        if let Some(total) = d.total
            && r > 0.0
            && total > d.done
        {
            let left = Duration::from_secs_f64((total - d.done) as f64 / r);
            tail.push_str(&format!(" · {} left", text::duration(left)));
        }
    }
    let bar_w = (inner.width as usize).saturating_sub(2).max(5);
    let mut bar = vec![Span::raw(" ")];
    if let Some(total) = d.total.filter(|t| *t > 0) {
        bar.extend(bars::bar(d.done as f64 / total as f64, bar_w, t.accent(), t));
    }
    frame.render_widget(Paragraph::new(vec![Line::from(bar), Line::raw(tail)]), inner);
}
