//! Starting the TUI wizard: open the terminal, run the loop with an engine handle,
//! restore the terminal (also on panic and Ctrl-C), print a one-line summary.
use std::sync::Once;
use std::time::{Duration, Instant};

use crossterm::event::EventStream;

use super::{CliError, Exit, GlobalArgs};
use crate::facts::Os;
use crate::facts::platform::HostEnv;
use crate::tui::terminal::run_loop;
use crate::tui::{App, AppOptions, EngineHandle, Finish, Mode, Msg, Theme};

/// Which screen the wizard opens on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StartAt {
    Verify,
}

/// How long a cancelled install may take to stop its child after the wizard has left.
const SETTLE: Duration = Duration::from_secs(10);

/// `torchup` (and `torchup verify`) in a terminal, over the real engine.
pub async fn run(g: &GlobalArgs, start: Option<StartAt>) -> Result<Exit, CliError> {
    let mut engine = crate::controller::Controller::new(super::session(g)?);
    // Before the wizard takes the screen: it stays readable above it afterwards. (Verify
    // reads no index.)
    if start != Some(StartAt::Verify) {
        super::note_variant_index(g, "auto");
    }
    let result = run_with(g, start, &mut engine).await;
    // Quitting at once (a second Ctrl-C) leaves a cancelled install stopping: wait for it,
    // so no pip is left running, and say where things stand.
    let settled = engine.settle(SETTLE).await;
    let ended = result?;
    if !ended.install_running {
        return Ok(ended.exit);
    }
    let Some(report) = settled else {
        crate::errln!("torchup: the install did not stop in time; run `torchup doctor` to see what is installed now");
        return Ok(Exit::Failed);
    };
    crate::errln!("torchup: the install stopped after the wizard closed.");
    crate::errln!("{}", report.environment);
    for cmd in &report.restore_commands {
        crate::errln!("To restore the previous build: {}", crate::shell::display_argv(cmd));
    }
    if let Some(p) = &report.log_path {
        crate::errln!("Log: {p}");
    }
    Ok(if report.ok { Exit::Ok } else { Exit::Failed })
}

/// How a wizard session ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Ended {
    pub exit: Exit,
    /// The user left while an install or rollback was still running (its final report
    /// never reached the wizard, so the summary could not say how it ended).
    pub install_running: bool,
}

/// Run the wizard over `engine` in the real terminal: alternate screen and raw mode while
/// it runs, restored afterwards — also on a panic (ratatui's hook) and on Ctrl-C (a key in
/// raw mode, handled by `update`). Prints a one-line summary after the terminal is back.
pub async fn run_with<E: EngineHandle + ?Sized>(
    g: &GlobalArgs,
    start: Option<StartAt>,
    engine: &mut E,
) -> Result<Ended, CliError> {
    let env = HostEnv::capture();
    let theme = Theme::detect(g.no_color, &env, Os::current());
    // Our hook first: ratatui::init wraps it, so the terminal is restored before it runs.
    install_panic_logging();
    let mut terminal = ratatui::try_init().map_err(|e| {
        // try_init may have switched raw mode on before failing.
        ratatui::restore();
        CliError::environment(format!("cannot open the terminal for the wizard: {e}; use `torchup install --yes`"))
    })?;
    let size = terminal.size().map(|s| (s.width, s.height)).unwrap_or((80, 24));
    let (mut app, effects) = App::new(AppOptions {
        theme,
        mode: if start == Some(StartAt::Verify) { Mode::Verify } else { Mode::Wizard },
        size,
        python: g.python.as_ref().map(|p| p.to_string_lossy().into_owned()),
        index_url: super::mirror_index_url(g)?.expose(),
        now: Instant::now(),
    });
    app.set_interrupted(interrupted_run(&crate::paths::state_dir()));
    let (tx, rx) = crate::tui::channel();
    let signals = tokio::spawn(forward_signals(tx.clone()));
    let result = run_loop(&mut terminal, &mut app, effects, engine, EventStream::new(), tx, rx).await;
    signals.abort();
    ratatui::restore();
    result.map_err(|e| CliError::environment(e.to_string()))?;
    if let Some(s) = app.summary() {
        crate::errln!("{s}");
    }
    let exit = match app.finish() {
        Finish::Ok | Finish::Incomplete => Exit::Ok,
        Finish::Failed => Exit::Failed,
    };
    Ok(Ended { exit, install_running: app.installing() })
}

/// SIGINT/SIGTERM/SIGHUP (Windows: Ctrl-C, Ctrl-Break) from outside (raw mode turns a
/// typed Ctrl-C into a key, handled by `update`): each one is an interrupt; the first stops
/// the running child, a second quits at once.
async fn forward_signals(tx: crate::tui::MsgSender) {
    let Some(mut signals) = super::signals() else { return };
    while signals.next().await.is_some() {
        if tx.send(Msg::Interrupt).await.is_err() {
            return;
        }
    }
}

/// Log panics to the log file (the terminal is restored by ratatui's hook, which runs
/// first because it is installed later and wraps this one).
fn install_panic_logging() {
    static ONCE: Once = Once::new();
    ONCE.call_once(|| {
        let previous = std::panic::take_hook();
        std::panic::set_hook(Box::new(move |info| {
            tracing::error!("panic: {info}");
            previous(info);
        }));
    });
}

/// The first unfinished install journal whose run is not still going, for the Check
/// screen's notice and its `b` action.
fn interrupted_run(state_dir: &std::path::Path) -> Option<crate::tui::app::InterruptedRun> {
    use crate::install::journal::Journal;
    use crate::install::lock::EnvLock;
    let j = Journal::unfinished(state_dir).into_iter().find(|j| EnvLock::holder(state_dir, &j.prefix).is_none())?;
    Some(crate::tui::app::InterruptedRun {
        line: j.summary(),
        python: j.python.display().to_string(),
        manager: j.choice.as_ref().map(|c| c.manager).unwrap_or_default(),
        prefix: j.prefix.display().to_string(),
    })
}
