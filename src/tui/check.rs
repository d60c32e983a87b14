//! Screen 1, Check: what is true about this machine. Fills in as each probe reports:
//! the GPU card, every Python interpreter found (the target highlighted and switchable),
//! and the installed torch family with a one-sentence verdict.

use crossterm::event::{KeyCode, KeyEvent};
use ratatui::Frame;
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::text::{Line, Span};
use ratatui::widgets::Paragraph;

use crate::describe;
use crate::facts::gpu::GpuProbe;
use crate::facts::{Facts, Gpu, GpuState, PythonCandidate};

use super::app::{App, Screen, go_choose};
use super::effect::Effect;
use super::msg::PythonProbe;
use super::run::{RunData, RunKind, RunUi};
use super::theme::Theme;
use super::widgets::{bars, chrome, text};

/// What detection has reported so far.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Detection {
    pub running: bool,
    /// None while the GPU probe runs.
    pub gpu: Option<GpuProbe>,
    /// None while the Python probe runs.
    pub python: Option<PythonProbe>,
    /// The complete facts, once detection has finished.
    pub facts: Option<Box<Facts>>,
    pub error: Option<String>,
}

impl Detection {
    pub fn started() -> Self {
        Detection { running: true, ..Default::default() }
    }
}

/// Check screen state: the cursor in the interpreter list.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct CheckUi {
    pub cursor: usize,
}

/// The Check screen with the cursor on the target interpreter.
pub(crate) fn ui_for(app: &App) -> CheckUi {
    CheckUi { cursor: rows(app).iter().position(|c| c.chosen).unwrap_or(0) }
}

pub(crate) fn python_arrived(app: &mut App, probe: PythonProbe) {
    app.detection.python = Some(probe);
    if let Screen::Check(_) = app.screen {
        app.screen = Screen::Check(ui_for(app));
    }
}

pub(crate) fn facts_arrived(app: &mut App, result: Result<Box<Facts>, String>) {
    app.detection.running = false;
    match result {
        Ok(f) => {
            // Keep what the GPU probe said about itself (which nvidia-smi, which NVML).
            let previous = app.detection.gpu.take().unwrap_or_default();
            app.detection.gpu = Some(GpuProbe {
                gpus: f.gpus.clone(),
                driver: f.driver.clone(),
                state: f.gpu_state.clone(),
                notes: f.notes.clone(),
                ..previous
            });
            app.detection.python = Some(PythonProbe {
                python: f.python.clone(),
                torch: f.torch.clone(),
                candidates: f.python_candidates.clone(),
            });
            app.detection.facts = Some(f);
            app.detection.error = None;
            // Plans made for other facts no longer apply.
            app.planning.browse = None;
            app.planning.chosen = None;
            app.planning.pending = None;
            app.preflight.current = None;
            if let Screen::Check(_) = app.screen {
                app.screen = Screen::Check(ui_for(app));
            }
        }
        Err(e) => app.detection.error = Some(e),
    }
}

/// The interpreter rows: every candidate found, or the target alone when discovery
/// reported no list.
pub(crate) fn rows(app: &App) -> Vec<PythonCandidate> {
    let Some(p) = &app.detection.python else { return vec![] };
    if !p.candidates.is_empty() {
        return p.candidates.clone();
    }
    p.python
        .iter()
        .map(|py| PythonCandidate {
            path: py.executable.clone(),
            found_by: py.chosen_because.clone(),
            version: Some(py.version.clone()),
            chosen: true,
            problem: None,
        })
        .collect()
}

pub(crate) fn key(app: &mut App, key: KeyEvent) -> Option<Vec<Effect>> {
    let Screen::Check(ui) = &mut app.screen else { return None };
    let cursor = ui.cursor;
    let n = rows(app).len();
    match key.code {
        KeyCode::Up | KeyCode::Char('k') => set_cursor(app, cursor.saturating_sub(1)),
        KeyCode::Down | KeyCode::Char('j') => set_cursor(app, (cursor + 1).min(n.saturating_sub(1))),
        KeyCode::Char('b') if app.interrupted.is_some() => {
            let Some(r) = app.interrupted.take() else { return Some(vec![]) };
            app.notice = None;
            app.run = Some(RunData::new(RunKind::Rollback, false, None, app.clock));
            app.quit_when_finished = false;
            app.screen = Screen::Run(RunUi::default());
            Some(vec![Effect::Rollback { python: r.python, prefix: Some(r.prefix), manager: r.manager }])
        }
        KeyCode::Char('e') => Some(super::explain::open(app, super::explain::Back::Check)),
        KeyCode::Char('r') => {
            if app.detection.running {
                return Some(vec![]);
            }
            app.detection = Detection::started();
            Some(vec![Effect::Detect { python: app.python_target.clone() }])
        }
        KeyCode::Enter | KeyCode::Tab | KeyCode::Right => {
            let rows = rows(app);
            if key.code == KeyCode::Enter
                && let Some(row) = rows.get(cursor)
                && !row.chosen
            {
                return Some(switch_python(app, row));
            }
            Some(continue_to_choose(app))
        }
        _ => None,
    }
}

fn set_cursor(app: &mut App, cursor: usize) -> Option<Vec<Effect>> {
    if let Screen::Check(ui) = &mut app.screen {
        ui.cursor = cursor;
    }
    Some(vec![])
}

fn switch_python(app: &mut App, row: &PythonCandidate) -> Vec<Effect> {
    if let Some(problem) = &row.problem {
        app.warn(format!("Cannot use {}: {problem}", row.path));
        return vec![];
    }
    if app.detection.running {
        app.warn("Wait for detection to finish before switching interpreters.");
        return vec![];
    }
    app.python_target = Some(row.path.clone());
    let gpu = app.detection.gpu.take();
    app.detection = Detection { gpu, ..Detection::started() };
    app.info(format!("Checking {}…", row.path));
    vec![Effect::Detect { python: Some(row.path.clone()) }]
}

fn continue_to_choose(app: &mut App) -> Vec<Effect> {
    if let Some(e) = &app.detection.error {
        let e = e.clone();
        app.warn(format!("Detection failed: {e} (r: try again)"));
        return vec![];
    }
    let Some(facts) = &app.detection.facts else {
        app.info("Still checking this machine…");
        return vec![];
    };
    if facts.python.is_none() {
        app.warn("No Python interpreter to install into: start torchup with --python PATH.");
        return vec![];
    }
    go_choose(app)
}

/// One sentence on the installed torch: what it can do here (the one wording of
/// [`describe::torch_state`] once detection has finished) and what the wizard offers, and
/// whether that is good news (a CUDA build this GPU and driver can run).
pub(crate) fn verdict(python: Option<&PythonProbe>, facts: Option<&Facts>, gpu_ready: bool) -> Option<(String, bool)> {
    let p = python?;
    if p.python.is_none() {
        return Some(("No Python interpreter found — start torchup with --python PATH.".into(), false));
    }
    let Some(torch) = &p.torch else {
        return Some((
            if gpu_ready {
                "PyTorch is not installed here — torchup will install a CUDA build.".into()
            } else {
                "PyTorch is not installed here, and no usable NVIDIA GPU was found.".into()
            },
            false,
        ));
    };
    let state = match facts {
        Some(f) => describe::torch_state(torch, f),
        None if torch.cuda.is_none() => "CPU-only build: CUDA not usable".into(),
        None => format!("CUDA {} build", torch.cuda.as_deref().unwrap_or_default()),
    };
    // The state already says when the driver is too old or there is no GPU: no second remark.
    let too_old = facts.is_some_and(|f| describe::torch_fit(torch, f) == crate::compat::driver_fit::DriverFit::TooOld);
    let no_gpu_said = facts.is_some_and(|f| f.gpus.is_empty());
    let (next, good) = match (&torch.cuda, gpu_ready) {
        (Some(_), _) if too_old => (" — pick a build this driver runs, or update the driver.", false),
        (Some(_), true) => (" — verify it on this GPU, or pick another build.", true),
        (Some(_), false) if no_gpu_said => (".", false),
        (Some(_), false) => (", but no usable NVIDIA GPU was found.", false),
        (None, _) => (".", false),
    };
    Some((format!("{}{next}", describe::sentence(&state)), good))
}

/// What a GPU state that is not Ready means and what to do (with the fix for this platform
/// once the platform is known).
pub(crate) fn gpu_state_text(state: &GpuState, facts: Option<&Facts>) -> Option<String> {
    describe::gpu_state(state, facts.map(describe::platform).as_ref())
}

pub(crate) fn keys(app: &App) -> Vec<(&'static str, &'static str)> {
    let on_other = match &app.screen {
        Screen::Check(ui) => rows(app).get(ui.cursor).is_some_and(|r| !r.chosen),
        _ => false,
    };
    let mut k = vec![(if app.theme.ascii { "Up/Dn" } else { "↑↓" }, "choose Python")];
    if on_other {
        k.push(("Enter", "use this Python"));
    } else {
        k.push(("Enter", "continue"));
    }
    k.extend([("r", "re-check"), ("e", "explain"), ("?", "help"), ("q", "quit")]);
    if app.interrupted.is_some() {
        // First, as the notice above asks (it is cut at 80 columns); `e` moves last, where
        // a narrow footer drops it (the help still lists it).
        k.insert(0, ("b", "roll back"));
        k.retain(|(key, _)| *key != "e");
        k.push(("e", "explain"));
    }
    k
}

pub(crate) fn render(app: &App, ui: &CheckUi, frame: &mut Frame, area: Rect) {
    let t = &app.theme;
    let python_h = (rows(app).len() as u16 + 3).max(4);
    if area.width >= 110 {
        let [top_w, _] = Layout::horizontal([Constraint::Percentage(55), Constraint::Percentage(45)]).areas(area);
        let gpu = gpu_card(app, top_w.width.saturating_sub(2) as usize);
        let gpu_h = (gpu.len() as u16 + 2).clamp(6, area.height.saturating_sub(python_h + 3).max(6));
        let [top, p, n] =
            Layout::vertical([Constraint::Length(gpu_h), Constraint::Length(python_h), Constraint::Min(0)]).areas(area);
        let [g, tr] = Layout::horizontal([Constraint::Percentage(55), Constraint::Percentage(45)]).areas(top);
        render_gpu(gpu, frame, g, t);
        render_torch(app, frame, tr, t);
        render_python(app, ui, frame, p);
        render_notes(app, frame, n);
    } else {
        let gpu = gpu_card(app, area.width.saturating_sub(2) as usize);
        let gpu_h = (gpu.len() as u16 + 2).clamp(3, area.height.saturating_sub(python_h + 4).max(3));
        let [g, p, tr, n] = Layout::vertical([
            Constraint::Length(gpu_h),
            Constraint::Length(python_h),
            Constraint::Length(4),
            Constraint::Min(0),
        ])
        .areas(area);
        render_gpu(gpu, frame, g, t);
        render_python(app, ui, frame, p);
        render_torch(app, frame, tr, t);
        render_notes(app, frame, n);
    }
}

/// What the user should know before going on: what Enter does, then what detection found
/// worth a warning and the notes (WSL, the CUDA Toolkit), in the one wording of
/// [`describe`].
pub(crate) fn notes(app: &App) -> Vec<String> {
    let mut n = Vec::new();
    let Some(f) = &app.detection.facts else { return n };
    if f.python.is_some() {
        n.push("Enter shows the PyTorch builds that run here. Nothing changes until you confirm on Review.".into());
    }
    // The verdict beside the GPU card already says when torch is the CPU build.
    let warnings = describe::warnings(f).into_iter().filter(|w| w.id != Some(describe::CPU_BUILD_WITH_GPU));
    n.extend(warnings.map(|w| format!("{}.", describe::sentence(&w.to_string()))));
    n.extend(describe::notes(f).iter().map(|w| format!("{}.", describe::sentence(w))));
    n
}

fn render_notes(app: &App, frame: &mut Frame, area: Rect) {
    if area.height < 3 {
        return;
    }
    let t = &app.theme;
    let bullet = format!(" {} ", t.glyphs().bullet);
    let width = area.width.saturating_sub(2) as usize;
    let lines: Vec<Line> =
        notes(app).iter().flat_map(|n| text::wrap_styled(&bullet, n, width, ratatui::style::Style::new())).collect();
    if lines.is_empty() {
        return;
    }
    // As tall as the notes need, never taller.
    let area = Rect { height: area.height.min(lines.len() as u16 + 2), ..area };
    let block = chrome::boxed(" Notes ", false, t);
    let inner = block.inner(area);
    frame.render_widget(block, area);
    frame.render_widget(Paragraph::new(lines), inner);
}

fn render_gpu(lines: Vec<Line<'static>>, frame: &mut Frame, area: Rect, t: &Theme) {
    let block = chrome::boxed(" GPU ", false, t);
    let inner = block.inner(area);
    frame.render_widget(block, area);
    frame.render_widget(Paragraph::new(lines), inner);
}

/// The GPU card's lines for an inner width `w`.
fn gpu_card(app: &App, w: usize) -> Vec<Line<'static>> {
    let t = &app.theme;
    let g = t.glyphs();
    let mut lines: Vec<Line<'static>> = Vec::new();
    match &app.detection.gpu {
        None => lines.push(Line::from(vec![
            Span::styled(format!("{} ", app.spinner()), t.accent()),
            Span::raw("Looking for NVIDIA GPUs (NVML, nvidia-smi)…"),
        ])),
        Some(p) => {
            if let Some(s) = gpu_state_text(&p.state, app.detection.facts.as_deref()) {
                lines.extend(text::wrap_styled(" ", &s, w, t.warn()));
            }
            match &p.driver {
                Some(d) => {
                    // The one wording, with the theme's glyph (ASCII terminals get "<=").
                    let text = describe::sentence(&describe::driver(d)).replace('≤', g.le);
                    lines.push(Line::styled(format!(" {text}"), t.title()));
                }
                None if !p.gpus.is_empty() => lines.push(Line::styled(" Driver: unknown", t.warn())),
                None => {}
            }
            for gpu in p.gpus.iter().take(3) {
                lines.extend(gpu_lines(gpu, p.gpus.len() > 1, w, t));
            }
            if p.gpus.len() > 3 {
                lines.push(Line::styled(format!(" … and {} more", p.gpus.len() - 3), t.dim()));
            }
            if p.gpus.len() > 1 {
                lines.push(Line::styled(" The oldest GPU decides which builds can run.", t.dim()));
            }
        }
    }
    lines
}

fn gpu_lines(gpu: &Gpu, multi: bool, w: usize, t: &Theme) -> Vec<Line<'static>> {
    let mut out = Vec::new();
    let name = if multi { format!(" {}: {}", gpu.index, gpu.name) } else { format!(" {}", gpu.name) };
    out.push(Line::styled(text::truncate(&name, w, t.glyphs().ellipsis), t.title()));
    let mem = describe::memory(gpu);
    // The gauge places the card's memory on a 0–16 GB scale: how roomy it is for training.
    let gauge_w = w.saturating_sub(22).clamp(8, 30);
    let frac = gpu.memory_mib.map(|m| m as f64 / (16.0 * 1024.0)).unwrap_or(0.0);
    let mut vram = vec![Span::raw(" VRAM    ")];
    vram.extend(bars::bar(frac, gauge_w, t.accent(), t));
    vram.push(Span::styled(format!(" {mem}"), t.title()));
    out.push(Line::from(vram));
    let cc = format!(" {}", describe::sentence(&describe::compute(gpu)));
    out.push(Line::raw(cc));
    out
}

fn render_python(app: &App, ui: &CheckUi, frame: &mut Frame, area: Rect) {
    let t = &app.theme;
    let g = t.glyphs();
    let block = chrome::boxed(" Python ", true, t);
    let inner = block.inner(area);
    frame.render_widget(block, area);
    let w = inner.width as usize;
    let mut lines: Vec<Line> = Vec::new();
    let Some(probe) = &app.detection.python else {
        lines.push(Line::from(vec![
            Span::styled(format!("{} ", app.spinner()), t.accent()),
            Span::raw("Finding Python interpreters and asking the target about torch…"),
        ]));
        frame.render_widget(Paragraph::new(lines), inner);
        return;
    };
    let rows = rows(app);
    if rows.is_empty() {
        lines.push(Line::styled(" No Python interpreter found.", t.warn()));
    }
    // Keep the cursor row visible; the last line is for the target's details.
    let room = (inner.height as usize).saturating_sub(1).max(1);
    let skip = ui.cursor.saturating_sub(room - 1);
    for (i, c) in rows.iter().enumerate().skip(skip).take(room) {
        let pointer = if i == ui.cursor { g.arrow } else { " " };
        let mark = if c.chosen { g.radio_on } else { g.radio_off };
        let version = c.version.clone().unwrap_or_else(|| "?".into());
        let tail = match &c.problem {
            Some(p) => format!("  {p}"),
            None if c.chosen => "  (target)".to_string(),
            None => String::new(),
        };
        let prefix = format!("{pointer:>2} {mark} {version:<7} ");
        let found = format!("  {}", c.found_by);
        let fixed = text::width(&prefix) + text::width(&found);
        // The path gives way first, down to 16 cells; then the tail is cut.
        let path_w = w.saturating_sub(fixed + text::width(&tail)).max(16);
        let path = text::truncate(&c.path, path_w, g.ellipsis);
        let tail = text::truncate(&tail, w.saturating_sub(fixed + text::width(&path)), g.ellipsis);
        let style = if i == ui.cursor {
            t.selected()
        } else if c.problem.is_some() {
            t.dim()
        } else {
            ratatui::style::Style::new()
        };
        let mut spans = vec![
            Span::styled(format!("{prefix}{path}"), style),
            Span::styled(found, if i == ui.cursor { style } else { t.dim() }),
        ];
        if !tail.is_empty() {
            let ts = if c.problem.is_some() { t.warn() } else { t.ok() };
            spans.push(Span::styled(tail, if i == ui.cursor { style } else { ts }));
        }
        lines.push(Line::from(spans));
    }
    if let Some(py) = &probe.python {
        let env = describe::env_kind(py.env);
        let mut d = format!(" {env} · {}-bit", py.bits);
        match &py.pip_version {
            Some(v) => d.push_str(&format!(" · pip {v}")),
            None => d.push_str(" · no pip"),
        }
        if py.uv_available {
            d.push_str(" · uv");
        }
        if py.conda_available {
            d.push_str(" · conda");
        }
        if py.externally_managed {
            d.push_str(" · externally managed (a venv will be made)");
        }
        let pad = (inner.height as usize).saturating_sub(lines.len() + 1);
        lines.extend(std::iter::repeat_n(Line::raw(""), pad));
        lines.push(Line::styled(text::truncate(&d, w, g.ellipsis), t.dim()));
    }
    frame.render_widget(Paragraph::new(lines), inner);
}

fn render_torch(app: &App, frame: &mut Frame, area: Rect, t: &Theme) {
    let block = chrome::boxed(" PyTorch ", false, t);
    let inner = block.inner(area);
    frame.render_widget(block, area);
    let w = inner.width as usize;
    let mut lines: Vec<Line> = Vec::new();
    let gpu_ready = app.detection.gpu.as_ref().is_some_and(|g| g.state == GpuState::Ready && !g.gpus.is_empty());
    match &app.detection.python {
        None => lines.push(Line::from(vec![
            Span::styled(format!("{} ", app.spinner()), t.accent()),
            Span::raw("Importing torch in the target interpreter…"),
        ])),
        Some(p) => {
            if let Some(torch) = &p.torch {
                let fam =
                    torch.members().into_iter().map(|(name, v)| format!("{name} {v}")).collect::<Vec<_>>().join(" · ");
                lines.extend(text::wrap_styled(" ", &fam, w, t.title()));
            }
            if let Some((v, good)) = verdict(Some(p), app.detection.facts.as_deref(), gpu_ready) {
                lines.extend(text::wrap_styled(" ", &v, w, if good { t.ok() } else { t.warn() }));
            }
        }
    }
    if let Some(e) = &app.detection.error {
        lines.push(Line::styled(format!(" Detection failed: {e}"), t.bad()));
    }
    frame.render_widget(Paragraph::new(lines), inner);
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::facts::TorchFacts;

    #[test]
    fn verdicts() {
        let torch = |cuda: Option<&str>| TorchFacts {
            version: "2.5.1+cpu".into(),
            cuda: cuda.map(Into::into),
            ..Default::default()
        };
        let py = crate::facts::PythonFacts::venv_for_tests("/v");
        let probe = |t: Option<TorchFacts>| PythonProbe { python: Some(py.clone()), torch: t, candidates: vec![] };
        let text = |v: Option<(String, bool)>| v.map(|(t, _)| t);
        assert_eq!(
            verdict(Some(&probe(Some(torch(None)))), None, true),
            Some(("CPU-only build: CUDA not usable.".to_string(), false))
        );
        assert!(
            verdict(Some(&probe(Some(torch(Some("12.4"))))), None, true)
                .is_some_and(|(v, good)| v.starts_with("CUDA 12.4 build") && good)
        );
        assert!(
            text(verdict(Some(&probe(Some(torch(Some("12.4"))))), None, false))
                .is_some_and(|v| v.contains("no usable"))
        );
        assert!(text(verdict(Some(&probe(None)), None, true)).is_some_and(|v| v.contains("not installed")));
        assert!(text(verdict(Some(&PythonProbe::default()), None, true)).is_some_and(|v| v.contains("--python")));
        assert_eq!(verdict(None, None, true), None);

        // With facts: the state's own remark is not repeated, and a build the driver cannot
        // run is not good news even on a ready GPU.
        let mut facts = Facts::bare_linux();
        facts.driver = Some(crate::facts::Driver { version: "536.23".into(), cuda: Some("12.2".into()), source: None });
        let (v, good) = verdict(Some(&probe(Some(torch(Some("13.0"))))), Some(&facts), true).unwrap();
        assert!(v.contains("is too old for it — pick a build this driver runs") && !good, "{v}");
        facts.driver = None;
        let (v, good) = verdict(Some(&probe(Some(torch(Some("12.4"))))), Some(&facts), false).unwrap();
        assert_eq!(v.matches("GPU").count(), 1, "said once: {v}");
        assert!(!good);
    }
}
