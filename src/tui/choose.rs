//! Screen 2, Choose a build: the planner's candidate table with ✓/✗ for driver,
//! architecture and Python, the reasons for the selected row, the recommendation
//! preselected, and the options that change the plan (package manager, keep my torch
//! version, a requirements file to install afterwards).

use crossterm::event::{KeyCode, KeyEvent};
use ratatui::Frame;
use ratatui::layout::{Constraint, Layout, Position, Rect};
use ratatui::style::Style;
use ratatui::text::{Line, Span};
use ratatui::widgets::{Cell, Paragraph, Row, Table, TableState};

use crate::plan::{Manager, Plan};

use super::app::{App, PlanPurpose, Screen, go_review, start_plan};
use super::effect::Effect;
use super::widgets::{chrome, text};

/// Which part of the screen has the keys.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum ChooseFocus {
    #[default]
    Table,
    Manager,
    Keep,
    /// Where the wheels come from (the index given, or a source of the built-in table).
    Source,
    Requirements,
}

impl ChooseFocus {
    fn next(self) -> Self {
        match self {
            ChooseFocus::Table => ChooseFocus::Manager,
            ChooseFocus::Manager => ChooseFocus::Keep,
            ChooseFocus::Keep => ChooseFocus::Source,
            ChooseFocus::Source => ChooseFocus::Requirements,
            ChooseFocus::Requirements => ChooseFocus::Table,
        }
    }
    fn prev(self) -> Self {
        match self {
            ChooseFocus::Table => ChooseFocus::Requirements,
            ChooseFocus::Manager => ChooseFocus::Table,
            ChooseFocus::Keep => ChooseFocus::Manager,
            ChooseFocus::Source => ChooseFocus::Keep,
            ChooseFocus::Requirements => ChooseFocus::Source,
        }
    }
}

/// Choose screen state.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ChooseUi {
    pub focus: ChooseFocus,
    /// Selected row of the candidate table.
    pub row: usize,
    /// The requirements-file field as typed (applied on Enter/Tab).
    pub input: String,
}

impl ChooseUi {
    pub fn for_request(r: &crate::plan::Request) -> Self {
        ChooseUi { input: r.requirements.clone().unwrap_or_default(), ..Default::default() }
    }
}

/// The requirements field has the keys.
pub(crate) fn editing(app: &App) -> bool {
    matches!(&app.screen, Screen::Choose(ui) if ui.focus == ChooseFocus::Requirements)
}

fn table(app: &App) -> Option<&Plan> {
    app.planning.browse.as_ref().map(|(_, p)| p.as_ref())
}

/// Put the cursor on the row the current request means: the explicit choice, else the
/// recommendation.
pub(crate) fn select_current(app: &mut App) {
    let Some(plan) = table(app) else { return };
    let r = &app.request;
    let explicit = r.variant.as_ref().and_then(|v| {
        plan.candidates.iter().position(|c| &c.variant == v && r.torch.as_ref().is_none_or(|t| &c.torch == t))
    });
    let chosen = plan
        .choice
        .as_ref()
        .and_then(|ch| plan.candidates.iter().position(|c| c.variant == ch.variant && c.torch == ch.torch));
    let row = explicit.or_else(|| plan.candidates.iter().position(|c| c.recommended)).or(chosen).unwrap_or(0);
    if let Screen::Choose(ui) = &mut app.screen {
        ui.row = row;
    }
}

pub(crate) fn key(app: &mut App, key: KeyEvent) -> Option<Vec<Effect>> {
    let Screen::Choose(ui) = &mut app.screen else { return None };
    let rows = app.planning.browse.as_ref().map(|(_, p)| p.candidates.len()).unwrap_or(0);
    match ui.focus {
        ChooseFocus::Requirements => return Some(edit_key(app, key)),
        _ if key.code == KeyCode::Tab => {
            ui.focus = ui.focus.next();
            return Some(vec![]);
        }
        _ if key.code == KeyCode::BackTab => {
            ui.focus = ui.focus.prev();
            return Some(vec![]);
        }
        ChooseFocus::Table => match key.code {
            KeyCode::Up | KeyCode::Char('k') => ui.row = ui.row.saturating_sub(1),
            KeyCode::Down | KeyCode::Char('j') => ui.row = (ui.row + 1).min(rows.saturating_sub(1)),
            KeyCode::Home | KeyCode::Char('g') => ui.row = 0,
            KeyCode::End | KeyCode::Char('G') => ui.row = rows.saturating_sub(1),
            KeyCode::Enter => return Some(choose(app, false)),
            KeyCode::Char('f') => return Some(choose(app, true)),
            _ => return None,
        },
        ChooseFocus::Manager => match key.code {
            KeyCode::Left | KeyCode::Char('h') => return Some(set_manager(app, -1)),
            KeyCode::Right | KeyCode::Char('l') | KeyCode::Char(' ') => return Some(set_manager(app, 1)),
            KeyCode::Enter => return Some(choose(app, false)),
            _ => return None,
        },
        ChooseFocus::Keep => match key.code {
            KeyCode::Char(' ') | KeyCode::Enter | KeyCode::Char('x') => return Some(toggle_keep(app)),
            _ => return None,
        },
        ChooseFocus::Source => match key.code {
            KeyCode::Left | KeyCode::Char('h') => return Some(set_source(app, -1)),
            KeyCode::Right | KeyCode::Char('l') | KeyCode::Char(' ') => return Some(set_source(app, 1)),
            KeyCode::Enter => return Some(choose(app, false)),
            _ => return None,
        },
    }
    Some(vec![])
}

fn edit_key(app: &mut App, key: KeyEvent) -> Vec<Effect> {
    let Screen::Choose(ui) = &mut app.screen else { return vec![] };
    match key.code {
        KeyCode::Char(c) => {
            ui.input.push(c);
            vec![]
        }
        KeyCode::Backspace => {
            ui.input.pop();
            vec![]
        }
        KeyCode::Esc => {
            ui.input = app.request.requirements.clone().unwrap_or_default();
            ui.focus = ChooseFocus::Table;
            vec![]
        }
        KeyCode::Enter | KeyCode::Tab | KeyCode::BackTab => {
            ui.focus = if key.code == KeyCode::BackTab { ChooseFocus::Keep } else { ChooseFocus::Table };
            let value = ui.input.trim().to_string();
            let value = if value.is_empty() { None } else { Some(value) };
            if value == app.request.requirements {
                return vec![];
            }
            app.request.requirements = value;
            start_plan(app, PlanPurpose::Browse)
        }
        _ => vec![],
    }
}

fn set_manager(app: &mut App, step: i32) -> Vec<Effect> {
    const ALL: [Manager; 3] = [Manager::Pip, Manager::Uv, Manager::Conda];
    let i = ALL.iter().position(|m| *m == app.request.manager).unwrap_or(0) as i32;
    app.request.manager = ALL[(i + step).rem_euclid(3) as usize];
    start_plan(app, PlanPurpose::Browse)
}

/// A wheel source the Choose screen offers: (short name, index URL).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SourceOption {
    pub name: String,
    pub url: String,
}

/// The sources offered: the index given (when it is not in the table), then the built-in
/// table in its order (official first); PyPI only on Linux, where its wheels are CUDA builds.
pub fn source_options(app: &App) -> Vec<SourceOption> {
    use crate::compat::index_url::IndexUrl;
    let linux = app.detection.facts.as_ref().is_some_and(|f| f.os == crate::facts::Os::Linux);
    let table: Vec<SourceOption> = crate::compat::mirrors::offered(linux)
        .filter_map(|s| Some(SourceOption { name: s.name.clone(), url: s.index_url().ok()?.expose() }))
        .collect();
    let same = |a: &str, b: &str| IndexUrl::parse(a).ok().zip(IndexUrl::parse(b).ok()).is_some_and(|(a, b)| a == b);
    let mut out = Vec::new();
    if !table.iter().any(|s| same(&s.url, &app.index_given)) {
        let host = url::Url::parse(&app.index_given).ok().and_then(|u| u.host_str().map(str::to_string));
        out.push(SourceOption { name: host.unwrap_or_else(|| "--index-url".into()), url: app.index_given.clone() });
    }
    out.extend(table);
    out
}

fn current_source(app: &App, options: &[SourceOption]) -> usize {
    use crate::compat::index_url::IndexUrl;
    let now = IndexUrl::parse(&app.request.index_url).ok();
    options.iter().position(|o| IndexUrl::parse(&o.url).ok() == now).unwrap_or(0)
}

fn set_source(app: &mut App, step: i32) -> Vec<Effect> {
    let options = source_options(app);
    if options.is_empty() {
        return vec![];
    }
    let i = current_source(app, &options) as i32;
    let n = options.len() as i32;
    app.request.index_url = options[(i + step).rem_euclid(n) as usize].url.clone();
    start_plan(app, PlanPurpose::Browse)
}

/// "PyPI (CUDA 12.4 build)" when PyPI's own wheel is the recommended build here.
fn pypi_label(app: &App) -> Option<String> {
    let facts = app.detection.facts.as_ref()?;
    let c = table(app)?.choice.as_ref()?;
    let data = crate::compat::data::CompatData::bundled().ok()?;
    crate::compat::mirrors::pypi_offer(data, facts.os, &facts.cpu_arch, &c.torch, &c.variant).map(|o| o.label)
}

fn toggle_keep(app: &mut App) -> Vec<Effect> {
    let installed = app.detection.facts.as_ref().and_then(|f| f.torch.as_ref()).map(|t| t.version.clone());
    if installed.is_none() && !app.request.keep_version {
        app.warn("No torch is installed, so there is no version to keep.");
        return vec![];
    }
    app.request.keep_version = !app.request.keep_version;
    app.request.torch = None;
    app.request.variant = None;
    start_plan(app, PlanPurpose::Browse)
}

/// Review the selected row. A row that will not run needs `f` (force).
fn choose(app: &mut App, force: bool) -> Vec<Effect> {
    let row = match &app.screen {
        Screen::Choose(ui) => ui.row,
        _ => return vec![],
    };
    let Some(c) = table(app).and_then(|p| p.candidates.get(row)).cloned() else {
        if app.planning.error.is_some() && app.planning.pending.is_none() {
            // The planner failed: Enter asks again.
            return start_plan(app, PlanPurpose::Browse);
        }
        app.info("Waiting for the planner…");
        return vec![];
    };
    if !c.ok && !force {
        app.warn(format!("{} {} will not run here (see Why). Press f to plan it anyway.", c.variant, c.torch));
        return vec![];
    }
    if c.recommended && !force {
        app.request.variant = None;
        app.request.torch = None;
    } else {
        app.request.variant = Some(c.variant.clone());
        app.request.torch = if app.request.keep_version { None } else { Some(c.torch.clone()) };
    }
    app.request.force = force && !c.ok;
    go_review(app)
}

pub(crate) fn keys(app: &App) -> Vec<(&'static str, &'static str)> {
    let focus = match &app.screen {
        Screen::Choose(ui) => ui.focus,
        _ => ChooseFocus::Table,
    };
    let arrows = if app.theme.ascii { "Up/Dn" } else { "↑↓" };
    let lr = if app.theme.ascii { "Left/Right" } else { "←→" };
    let mut k = match focus {
        ChooseFocus::Table => vec![(arrows, "select"), ("Enter", "review"), ("f", "force")],
        ChooseFocus::Manager => vec![(lr, "manager"), ("Enter", "review")],
        ChooseFocus::Keep => vec![("Space", "toggle")],
        ChooseFocus::Source => vec![(lr, "source"), ("Enter", "review")],
        ChooseFocus::Requirements => vec![("type", "a path"), ("Enter", "apply"), ("Esc", "undo")],
    };
    k.push(("Tab", "next field"));
    if focus != ChooseFocus::Requirements {
        k.extend([("Esc", "back"), ("?", "help"), ("q", "quit")]);
    }
    k
}

pub(crate) fn render(app: &App, ui: &ChooseUi, frame: &mut Frame, area: Rect) {
    // The table takes what its rows need; the reasons get the rest.
    let rows = table(app).map(|p| p.candidates.len()).unwrap_or(1) as u16;
    let table_h = (rows + 3).clamp(4, area.height.saturating_sub(4 + 6));
    let [top, why, opts] =
        Layout::vertical([Constraint::Length(table_h), Constraint::Min(4), Constraint::Length(5)]).areas(area);
    render_table(app, ui, frame, top);
    render_reasons(app, ui, frame, why);
    render_options(app, ui, frame, opts);
}

fn render_table(app: &App, ui: &ChooseUi, frame: &mut Frame, area: Rect) {
    let t = &app.theme;
    let g = t.glyphs();
    let block = chrome::boxed(" Builds ", ui.focus == ChooseFocus::Table, t);
    let inner = block.inner(area);
    frame.render_widget(block, area);
    let Some(plan) = table(app) else {
        let line = match &app.planning.error {
            Some(e) => Line::styled(format!(" The planner failed: {e} (Enter: try again)"), t.bad()),
            None => Line::from(vec![
                Span::styled(format!(" {} ", app.spinner()), t.accent()),
                Span::raw("Planning: matching wheels to the driver, GPU and Python…"),
            ]),
        };
        frame.render_widget(Paragraph::new(line), inner);
        return;
    };
    let installed = app.detection.facts.as_ref().and_then(|f| f.torch.as_ref());
    let verdict = |ok: Option<bool>| {
        let (s, st) = t.verdict(ok);
        Cell::from(Span::styled(s, st))
    };
    let rows: Vec<Row> = plan
        .candidates
        .iter()
        .map(|c| {
            let mark = if c.recommended { g.star } else { " " };
            let mut note = Vec::new();
            if c.recommended {
                note.push("recommended".to_string());
            }
            if c.variant == "cu124" || c.variant == "cu121" {
                note.push("the guide's choice".into());
            }
            if installed
                .is_some_and(|i| i.variant() == c.variant && i.version.split('+').next() == Some(c.torch.as_str()))
            {
                note.push("installed".into());
            }
            if c.reasons.first().is_some_and(|r| r.starts_with("not on this index")) {
                note.push("not on this index".into());
            }
            if c.unconfirmed {
                note.push("unconfirmed data".into());
            }
            let style = if c.ok { Style::new() } else { t.dim() };
            Row::new(vec![
                Cell::from(Span::styled(mark, t.warn())),
                Cell::from(c.variant.clone()),
                Cell::from(c.torch.clone()),
                verdict(c.driver_ok),
                verdict(c.arch_ok),
                verdict(c.python_ok),
                Cell::from(note.join(", ")),
            ])
            .style(style)
        })
        .collect();
    let header = Row::new(vec!["", "Build", "torch", "Driver", "GPU", "Python", ""]).style(t.title());
    let widths = [
        Constraint::Length(1),
        Constraint::Length(6),
        Constraint::Length(8),
        Constraint::Length(6),
        Constraint::Length(4),
        Constraint::Length(6),
        Constraint::Min(10),
    ];
    let table = Table::new(rows, widths)
        .header(header)
        .column_spacing(1)
        .row_highlight_style(t.selected())
        .highlight_symbol(format!("{} ", g.arrow))
        .highlight_spacing(ratatui::widgets::HighlightSpacing::Always);
    let mut state = TableState::default().with_selected(Some(ui.row));
    frame.render_stateful_widget(table, inner, &mut state);
}

fn render_reasons(app: &App, ui: &ChooseUi, frame: &mut Frame, area: Rect) {
    let t = &app.theme;
    let g = t.glyphs();
    let c = table(app).and_then(|p| p.candidates.get(ui.row));
    let title = match c {
        Some(c) => format!(" Why {} {} ", c.variant, c.torch),
        None => " Why ".into(),
    };
    let block = chrome::boxed(title, false, t);
    let inner = block.inner(area);
    frame.render_widget(block, area);
    let w = inner.width as usize;
    let mut lines = Vec::new();
    if let Some(c) = c {
        if c.recommended
            && let Some(p) = table(app)
            && !p.explanation.is_empty()
        {
            lines.extend(text::wrap_styled(&format!(" {} ", g.star), &p.explanation, w, t.ok()));
        }
        for r in &c.reasons {
            let (mark, style) = if c.ok { (g.check, t.ok()) } else { (g.bullet, Style::new()) };
            lines.extend(text::wrap_styled(&format!(" {mark} "), r, w, style));
        }
        if c.reasons.is_empty() {
            lines.push(Line::styled(" The planner gave no reasons for this row.", t.dim()));
        }
    }
    frame.render_widget(Paragraph::new(lines), inner);
}

fn render_options(app: &App, ui: &ChooseUi, frame: &mut Frame, area: Rect) {
    let t = &app.theme;
    let g = t.glyphs();
    let block = chrome::boxed(" Options ", ui.focus != ChooseFocus::Table, t).borders(ratatui::widgets::Borders::TOP);
    let inner = block.inner(area);
    frame.render_widget(block, area);
    let py = app.detection.facts.as_ref().and_then(|f| f.python.as_ref());
    let label = |name: &'static str, focus: ChooseFocus| {
        let style = if ui.focus == focus { t.selected() } else { t.title() };
        Span::styled(format!(" {name:<18}"), style)
    };
    // Manager radio buttons, with what was found on this machine.
    let mut m = vec![label("Package manager", ChooseFocus::Manager)];
    for (mgr, avail) in [
        (Manager::Pip, py.is_some_and(|p| p.pip_version.is_some())),
        (Manager::Uv, py.is_some_and(|p| p.uv_available)),
        (Manager::Conda, py.is_some_and(|p| p.conda_available)),
    ] {
        let on = app.request.manager == mgr;
        let mark = if on { g.radio_on } else { g.radio_off };
        let style = if on { t.accent() } else { Style::new() };
        m.push(Span::styled(format!(" {mark} {}", mgr.as_str()), style));
        if !avail {
            m.push(Span::styled(" (not found)", t.dim()));
        }
    }
    let installed = app.detection.facts.as_ref().and_then(|f| f.torch.as_ref());
    let keep_box = if app.request.keep_version { g.box_on } else { g.box_off };
    let keep_text = match installed {
        Some(i) => format!(" {keep_box} keep torch {}", i.version.split('+').next().unwrap_or(&i.version)),
        None => format!(" {keep_box} (no torch installed)"),
    };
    let k = vec![label("Keep my version", ChooseFocus::Keep), Span::raw(keep_text)];
    // Wheel sources: the index given and the built-in table; PyPI says which CUDA build it has.
    let options = source_options(app);
    let current = current_source(app, &options);
    let mut s = vec![label("Wheels from", ChooseFocus::Source)];
    for (i, o) in options.iter().enumerate() {
        let on = i == current;
        let mark = if on { g.radio_on } else { g.radio_off };
        let name = match (o.name.as_str(), pypi_label(app)) {
            ("pypi", Some(l)) => l,
            _ => o.name.clone(),
        };
        s.push(Span::styled(format!(" {mark} {name}"), if on { t.accent() } else { Style::new() }));
    }
    let editing = ui.focus == ChooseFocus::Requirements;
    let field_w = (inner.width as usize).saturating_sub(22).max(8);
    let shown = if editing { ui.input.clone() } else { app.request.requirements.clone().unwrap_or_default() };
    let shown = if shown.is_empty() && !editing {
        "(none: Tab here and type a path)".to_string()
    } else {
        // Show the end of a long path: that is where the typing happens.
        let w = text::width(&shown);
        if w > field_w.saturating_sub(1) { shown.chars().skip(w - field_w + 1).collect() } else { shown }
    };
    let field_style = if editing {
        t.accent()
    } else if app.request.requirements.is_none() {
        t.dim()
    } else {
        Style::new()
    };
    let r = vec![
        label("Requirements file", ChooseFocus::Requirements),
        Span::raw(" "),
        Span::styled(shown.clone(), field_style),
    ];
    frame.render_widget(Paragraph::new(vec![Line::from(m), Line::from(k), Line::from(s), Line::from(r)]), inner);
    if editing {
        let x = inner.x + 20 + text::width(&shown) as u16;
        frame.set_cursor_position(Position::new(x.min(inner.right().saturating_sub(1)), inner.y + 3));
    }
}
