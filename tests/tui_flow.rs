//! The runtime loop end to end, without a real terminal: a scripted EngineHandle answers
//! effects with the fixture messages, keys come from a stream, frames go to a TestBackend.

mod tui_support;

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use crossterm::event::{Event, KeyCode, KeyEvent, KeyModifiers};
use futures_util::stream;
use ratatui::Terminal;
use ratatui::backend::TestBackend;
use torchup::install::{InstallEvent, Outcome};
use torchup::preflight::Issue;
use torchup::tui::terminal::run_loop;
use torchup::tui::{App, AppOptions, Effect, EngineHandle, Finish, Mode, Msg, MsgSender, Screen, Theme};
use tui_support::*;

/// Answers every effect from the fixtures, synchronously, and records them.
struct Scripted {
    seen: Arc<Mutex<Vec<Effect>>>,
    /// What an Install effect streams back.
    install: Vec<InstallEvent>,
    /// What the machine checks before installing find.
    preflight: Vec<Issue>,
}

impl EngineHandle for Scripted {
    fn perform(&mut self, effect: Effect, tx: &MsgSender) {
        self.seen.lock().expect("not poisoned").push(effect.clone());
        let send = |m: Msg| tx.try_send(m).expect("the loop holds the receiver and has room");
        match effect {
            Effect::Detect { .. } => {
                send(Msg::Gpu(Box::new(gpu_probe())));
                send(Msg::Python(Box::new(python_probe())));
                send(Msg::Facts(Ok(Box::new(facts()))));
            }
            Effect::Plan { id, request, .. } => {
                let p = match request.variant.as_deref() {
                    Some("cu124") => plan_cu124(),
                    _ => plan(),
                };
                send(Msg::Plan { id, result: Ok(Box::new(p)) });
            }
            Effect::Preflight { id, .. } => send(Msg::Preflight { id, issues: self.preflight.clone() }),
            Effect::Install { .. } => {
                for e in self.install.clone() {
                    send(Msg::Install(e));
                }
            }
            Effect::Cancel => send(Msg::Install(InstallEvent::Finished(Box::new(report_cancelled())))),
            Effect::Verify { .. } => send(Msg::Verified(Ok(Box::new(verify_unchanged())))),
            Effect::Rollback { .. } => {
                for e in rollback_events() {
                    send(Msg::Install(e));
                }
            }
            Effect::OpenLog(p) => send(Msg::Notice(format!("opened {}", p.display()))),
            Effect::ExplainFile { path, .. } => send(Msg::Explained(Err(format!("no file {}", path.display())))),
            Effect::Quit => panic!("the runtime never passes Quit to the engine"),
        }
    }
}

fn key(code: KeyCode) -> std::io::Result<Event> {
    Ok(Event::Key(KeyEvent::new(code, KeyModifiers::NONE)))
}

fn ctrl_c() -> std::io::Result<Event> {
    Ok(Event::Key(KeyEvent::new(KeyCode::Char('c'), KeyModifiers::CONTROL)))
}

struct Ran {
    app: App,
    seen: Vec<Effect>,
    screen: String,
}

async fn drive(mode: Mode, install: Vec<InstallEvent>, keys: Vec<std::io::Result<Event>>) -> Ran {
    drive_checked(mode, install, vec![], keys).await
}

async fn drive_checked(
    mode: Mode,
    install: Vec<InstallEvent>,
    preflight: Vec<Issue>,
    keys: Vec<std::io::Result<Event>>,
) -> Ran {
    let seen = Arc::new(Mutex::new(Vec::new()));
    let mut engine = Scripted { seen: seen.clone(), install, preflight };
    let (mut app, effects) = App::new(AppOptions {
        theme: Theme::FULL,
        mode,
        size: (100, 30),
        python: None,
        index_url: INDEX.into(),
        now: Instant::now(),
    });
    let mut terminal = Terminal::new(TestBackend::new(100, 30)).expect("TestBackend never fails");
    let (tx, rx) = torchup::tui::channel();
    run_loop(&mut terminal, &mut app, effects, &mut engine, stream::iter(keys), tx, rx)
        .await
        .expect("the loop ends cleanly");
    let screen = terminal.backend().to_string();
    let seen = seen.lock().expect("not poisoned").clone();
    Ran { app, seen, screen }
}

fn kinds(seen: &[Effect]) -> Vec<&'static str> {
    seen.iter()
        .map(|e| match e {
            Effect::Detect { .. } => "detect",
            Effect::Plan { .. } => "plan",
            Effect::Preflight { .. } => "preflight",
            Effect::Install { .. } => "install",
            Effect::Cancel => "cancel",
            Effect::Rollback { .. } => "rollback",
            Effect::Verify { .. } => "verify",
            Effect::OpenLog(_) => "open-log",
            Effect::ExplainFile { .. } => "explain-file",
            Effect::Quit => "quit",
        })
        .collect()
}

#[tokio::test]
async fn check_choose_review_run_result_then_quit() {
    let mut install = events_until_download();
    install.extend(download_progress(3));
    install.extend(events_finish_ok());
    let keys = vec![
        key(KeyCode::Enter), // Check → Choose
        key(KeyCode::Enter), // the recommendation → Review
        key(KeyCode::Enter), // Proceed
        key(KeyCode::Char('o')),
        key(KeyCode::Char('q')),
    ];
    let o = drive(Mode::Wizard, install, keys).await;
    assert_eq!(kinds(&o.seen), vec!["detect", "plan", "preflight", "install", "open-log"]);
    assert!(o.app.quitting, "ended by q, not by running out of keys");
    assert_eq!(o.app.finish(), Finish::Ok);
    assert!(o.screen.contains("PyTorch runs on your GPU."), "{}", o.screen);
    assert!(o.screen.contains(&format!("opened {LOG}")), "the engine's notice is shown");
}

#[tokio::test]
async fn the_guides_cu124_through_customize() {
    let keys = vec![
        key(KeyCode::Enter),
        // The planner's rows below the recommended cu130: cu129, cu128, cu126 (2.14.1),
        // cu126 (2.14.0), cu124.
        key(KeyCode::Down),
        key(KeyCode::Down),
        key(KeyCode::Down),
        key(KeyCode::Down),
        key(KeyCode::Down),
        key(KeyCode::Enter),     // cu124 → Review (planned explicitly)
        key(KeyCode::Char('2')), // Customize: back to Choose
        key(KeyCode::Up),
        key(KeyCode::Enter), // cu126 → Review
    ];
    let o = drive(Mode::Wizard, vec![], keys).await;
    let plans: Vec<_> = o
        .seen
        .iter()
        .filter_map(|e| if let Effect::Plan { request, .. } = e { Some(request.variant.clone()) } else { None })
        .collect();
    assert_eq!(plans, vec![None, Some("cu124".to_string()), Some("cu126".to_string())]);
    assert!(matches!(o.app.screen, Screen::Review(_)));
    assert!(!o.app.quitting, "ended when the keys ran out (the terminal went away)");
}

#[tokio::test]
async fn ctrl_c_mid_install_cancels_and_quits_after_the_engine_reports() {
    let keys = vec![key(KeyCode::Enter), key(KeyCode::Enter), key(KeyCode::Enter), ctrl_c(), key(KeyCode::Char('j'))];
    let o = drive(Mode::Wizard, events_until_download(), keys).await;
    assert_eq!(kinds(&o.seen), vec!["detect", "plan", "preflight", "install", "cancel"]);
    assert!(o.app.quitting);
    let report = o.app.run.as_ref().and_then(|r| r.report.as_ref()).expect("the cancelled run reported");
    assert_eq!(report.outcome, Outcome::Cancelled);
    assert_eq!(o.app.finish(), Finish::Failed);
    assert!(
        o.app.summary().is_some_and(
            |s| s.contains("Cancelled. Your previous build torch 2.5.1+cpu is still installed, untouched.")
        )
    );
}

#[tokio::test]
async fn a_blocking_check_holds_proceed_until_the_recheck_is_clear() {
    let keys = vec![
        key(KeyCode::Enter),     // Check → Choose
        key(KeyCode::Enter),     // → Review: planned, machine checked
        key(KeyCode::Enter),     // Proceed: blocked
        key(KeyCode::Char('r')), // check again (the scripted engine still finds it)
        key(KeyCode::Enter),
    ];
    let o = drive_checked(Mode::Wizard, events_until_download(), vec![issue_holders(true)], keys).await;
    assert_eq!(kinds(&o.seen), vec!["detect", "plan", "preflight", "preflight"]);
    assert!(matches!(o.app.screen, Screen::Review(_)));
    assert!(o.screen.contains("Cannot install yet: Python is running from this environment"), "{}", o.screen);
    assert!(o.screen.contains("blocked by U01"), "{}", o.screen);

    // A warning does not hold it up.
    let keys = vec![key(KeyCode::Enter), key(KeyCode::Enter), key(KeyCode::Enter)];
    let o = drive_checked(Mode::Wizard, events_until_download(), vec![issue_holders(false)], keys).await;
    assert_eq!(kinds(&o.seen), vec!["detect", "plan", "preflight", "install"]);
}

#[tokio::test]
async fn failed_fetch_changes_nothing_and_offers_the_fallback() {
    let mut install = events_until_download();
    install.extend(events_fail_hash());
    let keys = vec![
        key(KeyCode::Enter),
        key(KeyCode::Enter),
        key(KeyCode::Enter),
        key(KeyCode::Enter),
        key(KeyCode::Char('q')),
    ];
    let o = drive(Mode::Wizard, install, keys).await;
    // Nothing changed (the download failed before the swap): no rollback is offered, and
    // Enter on the result screen takes the first action: the planned fallback.
    assert_eq!(kinds(&o.seen), vec!["detect", "plan", "preflight", "install", "install"]);
}

#[tokio::test]
async fn verify_mode_runs_twice_then_quits() {
    let keys = vec![key(KeyCode::Char('r')), key(KeyCode::Char('q'))];
    let o = drive(Mode::Verify, vec![], keys).await;
    assert_eq!(kinds(&o.seen), vec!["verify", "verify"]);
    assert!(o.screen.contains("Nothing changed since then."));
    assert_eq!(o.app.finish(), Finish::Ok);
}

/// Idle, the loop sleeps: no tick wakes it, so the clock the App last saw stays put.
/// While something animates, ticks arrive every 100 ms.
#[tokio::test]
async fn no_wakeups_while_idle_ticks_while_busy() {
    async fn run_for(app: &mut App, effects: Vec<Effect>, answer_detect: bool) -> Duration {
        struct Quiet(bool);
        impl EngineHandle for Quiet {
            fn perform(&mut self, effect: Effect, tx: &MsgSender) {
                if self.0 && matches!(effect, Effect::Detect { .. }) {
                    let _ = tx.try_send(Msg::Facts(Ok(Box::new(facts()))));
                }
            }
        }
        let mut terminal = Terminal::new(TestBackend::new(80, 24)).expect("TestBackend never fails");
        let (tx, rx) = torchup::tui::channel();
        let start = Instant::now();
        let mut engine = Quiet(answer_detect);
        let fut = run_loop(&mut terminal, app, effects, &mut engine, stream::pending(), tx, rx);
        assert!(tokio::time::timeout(Duration::from_millis(600), fut).await.is_err(), "still running");
        app.clock.saturating_duration_since(start)
    }
    let opts = || AppOptions {
        theme: Theme::FULL,
        mode: Mode::Wizard,
        size: (80, 24),
        python: None,
        index_url: INDEX.into(),
        now: Instant::now(),
    };
    // Detection answered at once: idle from then on.
    let (mut app, effects) = App::new(opts());
    let idle = run_for(&mut app, effects, true).await;
    assert!(!app.animating());
    assert!(idle < Duration::from_millis(100), "woke up while idle: clock moved {idle:?}");
    // Detection never answers: the spinner ticks.
    let (mut app, effects) = App::new(opts());
    let busy = run_for(&mut app, effects, false).await;
    assert!(busy >= Duration::from_millis(300), "ticks while busy: {busy:?}");
}
