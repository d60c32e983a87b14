//! The wizard's state as plain data, and [`update`]: the only function that changes it.
//!
//! Each screen file owns its screen's UI state, its key handler (called only from here)
//! and its view (which only reads). Shared data — what detection found, the plans, the
//! install run, the verify result — lives in [`App`] so it survives moving between screens.

use std::time::Instant;

use crossterm::event::{KeyCode, KeyEvent, KeyEventKind, KeyModifiers};

use crate::plan::{Plan, Request};

use super::check::{CheckUi, Detection};
use super::choose::ChooseUi;
use super::effect::Effect;
use super::explain::ExplainUi;
use super::msg::Msg;
use super::result::ResultUi;
use super::review::ReviewUi;
use super::run::{RunData, RunKind, RunUi};
use super::theme::Theme;
use super::verify::{VerifyData, VerifyUi};
use super::{check, choose, explain, result, review, run, verify};

/// Which flow the wizard runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    /// Check → Choose → Review → Run → Result.
    Wizard,
    /// `torchup verify` in a terminal: the Verify screen only (the wizard is one key away).
    Verify,
}

/// The screen shown, with its own UI state (cursors, scroll offsets, focus).
#[derive(Debug, Clone, PartialEq)]
pub enum Screen {
    Check(CheckUi),
    Choose(ChooseUi),
    Review(ReviewUi),
    Run(RunUi),
    Result(ResultUi),
    Verify(VerifyUi),
    /// Explain an error (from Check or Result).
    Explain(ExplainUi),
}

/// A question that blocks other keys until answered.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Confirm {
    /// Stop the running install (and quit afterwards, when `then_quit`).
    StopInstall { then_quit: bool },
}

/// How loud a status-line notice is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NoticeKind {
    Info,
    Warn,
}

/// A one-line message shown above the footer until the next key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Notice {
    pub kind: NoticeKind,
    pub text: String,
}

/// What a plan request is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PlanPurpose {
    /// The candidate table ("auto" variant, current manager/keep/requirements).
    Browse,
    /// The exact build the user picked, for Review.
    Chosen,
}

/// Plans asked for and received.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Planning {
    pub next_id: u64,
    /// The one request in flight; answers to any other id are stale and ignored.
    pub pending: Option<(u64, PlanPurpose, Request)>,
    /// The plan behind the candidate table, with the request it answers.
    pub browse: Option<(Request, Box<Plan>)>,
    /// The plan for the exact choice, shown on Review and installed.
    pub chosen: Option<(Request, Box<Plan>)>,
    pub error: Option<String>,
}

/// One look at the machine before installing a plan (see [`Effect::Preflight`]).
#[derive(Debug, Clone, PartialEq)]
pub struct PreflightCheck {
    pub id: u64,
    /// The request whose plan was checked; a check for another request does not apply.
    pub request: Request,
    /// None while the engine is checking.
    pub issues: Option<Vec<crate::preflight::Issue>>,
}

/// Checks asked for and received.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Preflight {
    pub next_id: u64,
    /// The latest check; answers to any other id are stale and ignored.
    pub current: Option<PreflightCheck>,
}

/// How the wizard is started.
#[derive(Debug, Clone)]
pub struct AppOptions {
    pub theme: Theme,
    pub mode: Mode,
    /// Terminal size at start.
    pub size: (u16, u16),
    /// `--python`: the interpreter to target (None = discovery).
    pub python: Option<String>,
    /// `--index-url`.
    pub index_url: String,
    /// The time at start (the clock the views measure from).
    pub now: Instant,
}

/// An install that did not finish (its journal), found when the wizard starts.
#[derive(Debug, Clone, PartialEq)]
pub struct InterruptedRun {
    /// The journal's one line ("an install was interrupted at 'install'; …").
    pub line: String,
    /// The interpreter it was installing into.
    pub python: String,
    pub manager: crate::plan::Manager,
    /// The environment's prefix (its one-torchup lock).
    pub prefix: String,
}

/// All of the wizard's state.
#[derive(Debug, Clone, PartialEq)]
pub struct App {
    pub theme: Theme,
    pub mode: Mode,
    pub screen: Screen,
    pub size: (u16, u16),
    /// When the wizard started, and the latest time it was told (see [`Msg::Tick`]).
    pub started: Instant,
    pub clock: Instant,
    pub detection: Detection,
    /// The interpreter to target (from `--python`, or picked on the Check screen).
    pub python_target: Option<String>,
    /// What the user asked for on the Choose screen.
    pub request: Request,
    /// The index given on the command line (`--index-url`), the first wheel source offered.
    pub index_given: String,
    pub planning: Planning,
    /// The machine checks for the plan on Review.
    pub preflight: Preflight,
    /// Review's dry-run toggle.
    pub dry_run: bool,
    /// The current or last install / rollback run.
    pub run: Option<RunData>,
    pub verify: VerifyData,
    pub help: bool,
    pub confirm: Option<Confirm>,
    pub notice: Option<Notice>,
    /// Quit when the running install reports `Finished` (after Ctrl-C / "stop and quit").
    pub quit_when_finished: bool,
    /// An interrupted install to put right (the Check screen offers `b`).
    pub interrupted: Option<InterruptedRun>,
    /// [`Effect::Quit`] was emitted.
    pub quitting: bool,
}

impl App {
    /// A new wizard and the effects that start it (detection, or the smoke test).
    pub fn new(o: AppOptions) -> (App, Vec<Effect>) {
        let request = Request { index_url: o.index_url, ..Request::default() };
        let (screen, effects, detection, verify) = match o.mode {
            Mode::Wizard => (
                Screen::Check(CheckUi::default()),
                vec![Effect::Detect { python: o.python.clone() }],
                Detection::started(),
                VerifyData::default(),
            ),
            Mode::Verify => (
                Screen::Verify(VerifyUi::default()),
                vec![Effect::Verify { python: o.python.clone() }],
                Detection::default(),
                VerifyData { running: true, outcome: None },
            ),
        };
        let app = App {
            theme: o.theme,
            mode: o.mode,
            screen,
            size: o.size,
            started: o.now,
            clock: o.now,
            detection,
            python_target: o.python,
            index_given: request.index_url.clone(),
            request,
            planning: Planning::default(),
            preflight: Preflight::default(),
            dry_run: false,
            run: None,
            verify,
            help: false,
            confirm: None,
            notice: None,
            quit_when_finished: false,
            interrupted: None,
            quitting: false,
        };
        (app, effects)
    }

    /// Tell the wizard about an interrupted install: a notice, and `b` on the Check screen
    /// puts the previous build back.
    pub fn set_interrupted(&mut self, run: Option<InterruptedRun>) {
        if let Some(r) = &run {
            self.warn(format!("{} — press b to put it back now", r.line));
        }
        self.interrupted = run;
    }

    /// An install or rollback is running (its `Finished` has not arrived).
    pub fn installing(&self) -> bool {
        self.run.as_ref().is_some_and(|r| r.report.is_none())
    }

    /// Some engine work is in flight.
    pub fn busy(&self) -> bool {
        self.detection.running || self.planning.pending.is_some() || self.installing() || self.verify.running
    }

    /// Whether the runtime should send animation ticks (spinners, elapsed times).
    /// When false the wizard sleeps until a key or engine message: idle CPU is zero.
    pub fn animating(&self) -> bool {
        self.busy() || self.preflight.current.as_ref().is_some_and(|c| c.issues.is_none())
    }

    /// The spinner glyph for the current clock.
    pub fn spinner(&self) -> &'static str {
        let frames = self.theme.glyphs().spinner;
        let n = self.clock.saturating_duration_since(self.started).as_millis() / 100;
        frames[(n % frames.len() as u128) as usize]
    }

    /// How the session ended, for the exit code.
    pub fn finish(&self) -> Finish {
        match self.mode {
            Mode::Verify => match &self.verify.outcome {
                Some(Ok(o)) if o.now.ok => Finish::Ok,
                Some(_) => Finish::Failed,
                None => Finish::Incomplete,
            },
            Mode::Wizard => match self.run.as_ref().and_then(|r| r.report.as_ref()) {
                Some(r) if r.ok => Finish::Ok,
                Some(_) => Finish::Failed,
                None if matches!(&self.verify.outcome, Some(Ok(o)) if o.now.ok) => Finish::Ok,
                None => Finish::Incomplete,
            },
        }
    }

    /// The shell commands are shown in: the detected machine's (this one's until detected).
    pub fn shell(&self) -> crate::shell::Shell {
        let os = self.detection.facts.as_ref().map(|f| f.os).unwrap_or_else(crate::facts::Os::current);
        crate::shell::Shell::default_for(os)
    }

    /// One line to print after the terminal is restored (what happened, where the log is).
    pub fn summary(&self) -> Option<String> {
        if let Some(r) = self.run.as_ref().and_then(|r| r.report.as_ref()) {
            let mut s = r.environment.clone();
            for cmd in super::result::restore_commands(r) {
                s.push_str(&format!("\nTo restore the previous build: {}", self.shell().render(&cmd)));
            }
            if let Some(p) = &r.log_path {
                s.push_str(&format!("\nLog: {p}"));
            }
            return Some(s);
        }
        match &self.verify.outcome {
            Some(Ok(o)) => Some(verify::one_line(&o.now)),
            Some(Err(e)) => Some(format!("verify failed: {e}")),
            None => None,
        }
    }

    /// The interpreter the smoke test should use now.
    pub fn verify_python(&self) -> Option<String> {
        self.planning
            .chosen
            .as_ref()
            .and_then(|(_, p)| p.target_python.clone())
            .or_else(|| self.detection.facts.as_ref().and_then(|f| f.python.as_ref()).map(|p| p.executable.clone()))
            .or_else(|| self.python_target.clone())
    }

    pub(crate) fn info(&mut self, text: impl Into<String>) {
        self.notice = Some(Notice { kind: NoticeKind::Info, text: text.into() });
    }

    pub(crate) fn warn(&mut self, text: impl Into<String>) {
        self.notice = Some(Notice { kind: NoticeKind::Warn, text: text.into() });
    }
}

/// How the session ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Finish {
    /// Installed and verified, or verified OK.
    Ok,
    /// The install or verification failed.
    Failed,
    /// The user left before anything was decided.
    Incomplete,
}

/// Apply one message. The only writer of [`App`]; returns the effects to perform.
pub fn update(app: &mut App, msg: Msg) -> Vec<Effect> {
    match msg {
        Msg::Tick(now) => {
            // Time only moves forward, whatever order the runtime delivers it in.
            if now > app.clock {
                app.clock = now;
            }
            vec![]
        }
        Msg::Resize(w, h) => {
            app.size = (w, h);
            vec![]
        }
        Msg::Key(key) => on_key(app, key),
        Msg::Interrupt => interrupt(app),
        Msg::Gpu(probe) => {
            app.detection.gpu = Some(*probe);
            vec![]
        }
        Msg::Python(probe) => {
            check::python_arrived(app, *probe);
            vec![]
        }
        Msg::Facts(result) => {
            check::facts_arrived(app, result);
            vec![]
        }
        Msg::Plan { id, result } => plan_arrived(app, id, result),
        Msg::Preflight { id, issues } => {
            if let Some(c) = app.preflight.current.as_mut().filter(|c| c.id == id) {
                c.issues = Some(issues);
            }
            vec![]
        }
        Msg::Install(event) => run::apply(app, event),
        Msg::Verified(result) => {
            app.verify.running = false;
            app.verify.outcome = Some(result);
            vec![]
        }
        Msg::Notice(text) => {
            app.info(text);
            vec![]
        }
        Msg::Explained(result) => {
            explain::arrived(app, result);
            vec![]
        }
    }
}

fn on_key(app: &mut App, key: KeyEvent) -> Vec<Effect> {
    // Windows reports releases too; only presses (and auto-repeat) act.
    if key.kind == KeyEventKind::Release {
        return vec![];
    }
    if key.modifiers.contains(KeyModifiers::CONTROL) && matches!(key.code, KeyCode::Char('c') | KeyCode::Char('C')) {
        return interrupt(app);
    }
    if let Some(c) = app.confirm {
        return confirm_key(app, c, key);
    }
    if app.help {
        if matches!(key.code, KeyCode::Char('?') | KeyCode::Esc | KeyCode::Char('q') | KeyCode::Enter) {
            app.help = false;
        }
        return vec![];
    }
    // A text field takes every key (including q and ?) until it is left.
    if choose::editing(app) {
        return choose::key(app, key).unwrap_or_default();
    }
    // So does the Explain screen's text area (a paste arrives as key presses).
    if matches!(app.screen, Screen::Explain(_)) {
        app.notice = None;
        return explain::key(app, key).unwrap_or_default();
    }
    app.notice = None;
    if key.code == KeyCode::Char('?') {
        app.help = true;
        return vec![];
    }
    let handled = match app.screen {
        Screen::Check(_) => check::key(app, key),
        Screen::Choose(_) => choose::key(app, key),
        Screen::Review(_) => review::key(app, key),
        Screen::Run(_) => run::key(app, key),
        Screen::Result(_) => result::key(app, key),
        Screen::Verify(_) => verify::key(app, key),
        Screen::Explain(_) => explain::key(app, key),
    };
    if let Some(effects) = handled {
        return effects;
    }
    match key.code {
        KeyCode::Char('q') | KeyCode::Char('Q') => request_quit(app),
        KeyCode::Esc => back(app),
        _ => vec![],
    }
}

/// Ctrl-C or SIGINT: stop the running child; quit now when nothing runs, or when the
/// cancelled install has reported back (a second Ctrl-C quits at once).
fn interrupt(app: &mut App) -> Vec<Effect> {
    app.confirm = None;
    app.help = false;
    if app.installing() {
        let already = app.run.as_ref().is_some_and(|r| r.cancel_requested);
        if already {
            return quit_effects(app, false);
        }
        if let Some(r) = app.run.as_mut() {
            r.cancel_requested = true;
        }
        app.quit_when_finished = true;
        app.warn("Stopping… torchup quits when the engine has stopped (Ctrl-C again to quit now).");
        return vec![Effect::Cancel];
    }
    quit_effects(app, app.busy())
}

/// `q`: quit, asking first while an install runs.
pub(crate) fn request_quit(app: &mut App) -> Vec<Effect> {
    if app.installing() {
        app.confirm = Some(Confirm::StopInstall { then_quit: true });
        return vec![];
    }
    quit_effects(app, app.busy())
}

pub(crate) fn quit_effects(app: &mut App, cancel: bool) -> Vec<Effect> {
    app.quitting = true;
    if cancel { vec![Effect::Cancel, Effect::Quit] } else { vec![Effect::Quit] }
}

/// Esc: one screen back; on the first screen (and the end screens) it quits.
fn back(app: &mut App) -> Vec<Effect> {
    match app.screen {
        Screen::Check(_) | Screen::Verify(_) => request_quit(app),
        Screen::Choose(_) => {
            app.screen = Screen::Check(check::ui_for(app));
            vec![]
        }
        Screen::Review(_) => go_choose(app),
        Screen::Run(_) => {
            if app.installing() {
                app.confirm = Some(Confirm::StopInstall { then_quit: false });
                vec![]
            } else {
                app.screen = Screen::Result(ResultUi::default());
                vec![]
            }
        }
        Screen::Result(_) => request_quit(app),
        // Esc is the text area's (explain::key goes back).
        Screen::Explain(_) => vec![],
    }
}

fn confirm_key(app: &mut App, c: Confirm, key: KeyEvent) -> Vec<Effect> {
    match key.code {
        KeyCode::Char('y') | KeyCode::Char('Y') | KeyCode::Enter => {
            app.confirm = None;
            match c {
                Confirm::StopInstall { then_quit } => {
                    if !app.installing() {
                        // It finished while the question was open.
                        return if then_quit { quit_effects(app, false) } else { vec![] };
                    }
                    if let Some(r) = app.run.as_mut() {
                        r.cancel_requested = true;
                    }
                    app.quit_when_finished = then_quit;
                    app.warn("Stopping the install…");
                    vec![Effect::Cancel]
                }
            }
        }
        KeyCode::Char('n') | KeyCode::Char('N') | KeyCode::Esc | KeyCode::Char('q') => {
            app.confirm = None;
            vec![]
        }
        _ => vec![],
    }
}

/// The request behind the candidate table: the user's settings with the build on "auto".
pub fn browse_request(r: &Request) -> Request {
    Request { variant: None, torch: None, force: false, ..r.clone() }
}

/// Ask the planner; the answer replaces the plan for `purpose`.
pub(crate) fn start_plan(app: &mut App, purpose: PlanPurpose) -> Vec<Effect> {
    let Some(facts) = app.detection.facts.clone() else {
        app.warn("Detection has not finished yet.");
        return vec![];
    };
    let request = match purpose {
        PlanPurpose::Browse => browse_request(&app.request),
        PlanPurpose::Chosen => app.request.clone(),
    };
    app.planning.next_id += 1;
    let id = app.planning.next_id;
    app.planning.pending = Some((id, purpose, request.clone()));
    app.planning.error = None;
    vec![Effect::Plan { id, facts, request }]
}

fn plan_arrived(app: &mut App, id: u64, result: Result<Box<Plan>, String>) -> Vec<Effect> {
    let Some((pending, purpose, request)) = app.planning.pending.clone() else {
        return vec![];
    };
    if pending != id {
        return vec![];
    }
    app.planning.pending = None;
    match result {
        Ok(plan) => {
            app.planning.error = None;
            if purpose == PlanPurpose::Browse {
                // The auto plan is also the chosen plan when the user keeps "auto".
                if request == app.request {
                    app.planning.chosen = Some((request.clone(), plan.clone()));
                }
                app.planning.browse = Some((request, plan));
                choose::select_current(app);
            } else {
                app.planning.chosen = Some((request, plan));
            }
            // The plan on Review has arrived: look at the machine for it.
            if matches!(app.screen, Screen::Review(_)) { review::check_machine(app, false) } else { vec![] }
        }
        Err(e) => {
            app.planning.error = Some(e);
            vec![]
        }
    }
}

/// To the Choose screen, asking for a fresh candidate table if the settings changed.
pub(crate) fn go_choose(app: &mut App) -> Vec<Effect> {
    app.screen = Screen::Choose(ChooseUi::for_request(&app.request));
    choose::select_current(app);
    let want = browse_request(&app.request);
    let fresh = app.planning.browse.as_ref().is_some_and(|(r, _)| *r == want);
    let asked = app.planning.pending.as_ref().is_some_and(|(_, _, r)| *r == want);
    if fresh || asked { vec![] } else { start_plan(app, PlanPurpose::Browse) }
}

/// To the Review screen for the current request, planning it unless already planned, and
/// checking the machine afresh (programs may have been closed since the last visit).
pub(crate) fn go_review(app: &mut App) -> Vec<Effect> {
    app.screen = Screen::Review(ReviewUi::default());
    // Whatever was found on an earlier visit is stale now.
    app.preflight.current = None;
    let planned = app.planning.chosen.as_ref().is_some_and(|(r, _)| *r == app.request);
    if planned {
        return review::check_machine(app, true);
    }
    if app.request == browse_request(&app.request)
        && let Some((r, p)) = app.planning.browse.clone()
        && r == app.request
    {
        app.planning.chosen = Some((r, p));
        return review::check_machine(app, true);
    }
    start_plan(app, PlanPurpose::Chosen)
}

/// Start an install (or dry run) of `plan` and show the Run screen.
pub(crate) fn start_install(app: &mut App, plan: Box<Plan>, dry_run: bool) -> Vec<Effect> {
    let Some(facts) = app.detection.facts.clone() else {
        app.warn("Detection has not finished yet.");
        return vec![];
    };
    let fallback_tried = app.run.as_ref().is_some_and(|r| r.fallback_tried);
    let mut run = RunData::new(RunKind::Install, dry_run, Some(plan.clone()), app.clock);
    run.fallback_tried = fallback_tried;
    app.run = Some(run);
    app.quit_when_finished = false;
    app.screen = Screen::Run(RunUi::default());
    vec![Effect::Install { facts, plan, dry_run }]
}

/// Run the smoke test and show the Verify screen.
pub(crate) fn start_verify(app: &mut App) -> Vec<Effect> {
    app.verify.running = true;
    app.screen = Screen::Verify(VerifyUi::default());
    vec![Effect::Verify { python: app.verify_python() }]
}
