//! `update` driven by keys and engine messages in a fixed order, asserting the state and
//! the effects it asks for. No terminal.

mod tui_support;

use crossterm::event::{KeyCode, KeyEvent, KeyEventKind, KeyModifiers};
use torchup::install::{InstallEvent, Outcome};
use torchup::plan::{Manager, Plan};
use torchup::tui::app::{Confirm, PlanPurpose};
use torchup::tui::choose::ChooseFocus;
use torchup::tui::result::{ResultAction, actions};
use torchup::tui::review::{self, Gate};
use torchup::tui::run::StageState;
use torchup::tui::{Effect, Finish, Mode, Msg, Screen, Theme};
use tui_support::*;

fn screen_name(s: &Screen) -> &'static str {
    match s {
        Screen::Check(_) => "check",
        Screen::Choose(_) => "choose",
        Screen::Review(_) => "review",
        Screen::Run(_) => "run",
        Screen::Result(_) => "result",
        Screen::Verify(_) => "verify",
        Screen::Explain(_) => "explain",
    }
}

#[test]
fn detection_fills_in_as_probes_report() {
    let mut h = Harness::wizard();
    assert_eq!(h.effects, vec![Effect::Detect { python: None }]);
    assert!(h.app.animating(), "spinners run while probing");
    h.send(Msg::Gpu(Box::new(gpu_probe())));
    assert!(h.app.detection.gpu.is_some());
    assert!(h.app.detection.python.is_none());
    h.send(Msg::Python(Box::new(python_probe())));
    assert!(h.app.detection.running, "still running until the final facts");
    h.send(Msg::Facts(Ok(Box::new(facts()))));
    assert!(!h.app.detection.running);
    assert!(!h.app.animating(), "idle: no animation tick, so no CPU");
    assert!(matches!(h.app.screen, Screen::Check(ui) if ui.cursor == 0));
}

#[test]
fn enter_waits_for_detection() {
    let mut h = Harness::wizard();
    h.send(Msg::Gpu(Box::new(gpu_probe())));
    assert!(h.key(KeyCode::Enter).is_empty());
    assert_eq!(screen_name(&h.app.screen), "check");
    assert!(h.app.notice.is_some());
}

#[test]
fn detection_failure_is_shown_and_retryable() {
    let mut h = Harness::wizard();
    h.send(Msg::Facts(Err("the Python probe printed no JSON".into())));
    assert!(h.key(KeyCode::Enter).is_empty());
    assert!(h.app.notice.as_ref().is_some_and(|n| n.text.contains("no JSON")));
    assert_eq!(h.ch('r'), vec![Effect::Detect { python: None }]);
    assert!(h.app.detection.running && h.app.detection.error.is_none());
}

#[test]
fn switching_the_target_interpreter_redetects_it() {
    let mut h = Harness::wizard();
    h.detected(facts());
    h.key(KeyCode::Down);
    let conda = r"C:\Users\mei\miniconda3\envs\cyberpuppy\python.exe";
    assert_eq!(h.key(KeyCode::Enter), vec![Effect::Detect { python: Some(conda.into()) }]);
    assert_eq!(h.app.python_target.as_deref(), Some(conda));
    assert!(h.app.detection.python.is_none(), "the Python part probes again");
    assert!(h.app.detection.gpu.is_some(), "the GPU card stays");
    assert!(h.app.detection.facts.is_none());
}

#[test]
fn an_unusable_interpreter_cannot_be_picked() {
    let mut h = Harness::wizard();
    h.detected(facts());
    for _ in 0..10 {
        h.ch('j');
    }
    assert!(matches!(h.app.screen, Screen::Check(ui) if ui.cursor == 3), "cursor stops at the last row");
    assert!(h.key(KeyCode::Enter).is_empty());
    assert!(h.app.notice.as_ref().is_some_and(|n| n.text.contains("Store alias")));
}

#[test]
fn choose_asks_for_the_auto_plan_and_preselects_the_recommendation() {
    let mut h = Harness::wizard();
    h.detected(facts());
    let e = h.key(KeyCode::Enter);
    let [Effect::Plan { id, facts: f, request }] = e.as_slice() else { panic!("one Plan effect: {e:?}") };
    assert_eq!(**f, facts());
    assert_eq!(request.variant, None);
    assert_eq!(request.index_url, INDEX);
    assert_eq!(request.manager, Manager::Pip);
    assert_eq!(screen_name(&h.app.screen), "choose");
    assert!(h.app.animating());
    // A stale answer is ignored.
    h.send(Msg::Plan { id: id + 100, result: Ok(Box::new(plan_cu124())) });
    assert!(h.app.planning.browse.is_none());
    h.send(Msg::Plan { id: *id, result: Ok(Box::new(plan())) });
    assert!(h.app.planning.pending.is_none());
    let recommended = plan().candidates.iter().position(|c| c.recommended).expect("a recommendation");
    assert!(matches!(&h.app.screen, Screen::Choose(ui) if ui.row == recommended));
    assert!(!h.app.animating());
}

#[test]
fn the_recommendation_goes_to_review_without_replanning() {
    let mut h = Harness::wizard();
    h.go_choose(facts(), plan());
    let e = h.key(KeyCode::Enter);
    // No Plan effect (the auto plan is the chosen plan): only the machine check for it.
    assert!(matches!(e.as_slice(), [Effect::Preflight { plan: p, .. }] if **p == plan()), "{e:?}");
    assert_eq!(screen_name(&h.app.screen), "review");
    assert_eq!(torchup::tui::review::plan(&h.app), Some(&plan()));
}

#[test]
fn proceed_waits_for_the_machine_check_and_a_blocking_issue_holds_it() {
    let mut h = Harness::wizard();
    h.go_review_checking();
    assert_eq!(review::gate(&h.app), Gate::Checking);
    assert!(h.app.animating(), "the spinner turns while checking");
    assert!(h.key(KeyCode::Enter).is_empty());
    assert!(h.app.notice.as_ref().is_some_and(|n| n.text.contains("Still checking")));
    let first = h.last_preflight_id();
    h.checked(vec![issue_space(), issue_holders(true)]);
    assert_eq!(review::gate(&h.app), Gate::Blocked(issue_space()));
    assert!(!h.app.animating());
    assert!(h.key(KeyCode::Enter).is_empty(), "blocked");
    assert!(h.app.notice.as_ref().is_some_and(|n| n.text.starts_with("Cannot install yet: Not enough free space")));
    // The user frees space and checks again; a late answer to the first check is ignored.
    let e = h.ch('r');
    assert!(matches!(e.as_slice(), [Effect::Preflight { id, .. }] if *id == first + 1), "{e:?}");
    assert!(h.ch('r').is_empty(), "one check at a time");
    h.send(Msg::Preflight { id: first, issues: vec![issue_space()] });
    assert_eq!(review::gate(&h.app), Gate::Checking);
    // A warning (U01 off Windows) does not hold the install.
    h.checked(vec![issue_holders(false)]);
    assert_eq!(review::gate(&h.app), Gate::Ready);
    let e = h.key(KeyCode::Enter);
    assert!(matches!(e.as_slice(), [Effect::Install { dry_run: false, .. }]), "{e:?}");
}

#[test]
fn a_dry_run_does_not_wait_for_the_check_and_another_build_is_checked_again() {
    let mut h = Harness::wizard();
    h.go_review_checking();
    h.checked(vec![issue_space()]);
    h.ch('d');
    assert_eq!(review::gate(&h.app), Gate::Ready, "a dry run changes nothing");
    h.ch('d');
    // Customize → cu124: the check for the auto build does not apply to it.
    h.ch('2');
    for _ in 0..3 {
        h.key(KeyCode::Down);
    }
    h.key(KeyCode::Enter);
    assert!(review::preflight(&h.app).is_none());
    let id = h.last_plan_id();
    let e = h.send(Msg::Plan { id, result: Ok(Box::new(plan_cu124())) });
    assert!(matches!(e.as_slice(), [Effect::Preflight { plan: p, .. }] if **p == plan_cu124()), "{e:?}");
    assert_eq!(review::gate(&h.app), Gate::Checking);
    // Back on Review later: checked afresh (programs may have been closed meanwhile).
    h.checked(vec![]);
    h.ch('2');
    let e = h.key(KeyCode::Enter);
    assert!(matches!(e.as_slice(), [Effect::Preflight { .. }]), "{e:?}");
}

#[test]
fn the_guides_cu124_is_planned_explicitly_and_customize_comes_back_to_it() {
    let mut h = Harness::wizard();
    h.go_choose(facts(), plan());
    // From the recommendation down to the guide's cu124 row, as the planner lists them.
    let rows = plan().candidates;
    let from = rows.iter().position(|c| c.recommended).expect("a recommendation");
    let to = rows.iter().position(|c| c.variant == "cu124").expect("a cu124 row");
    for _ in from..to {
        h.key(KeyCode::Down);
    }
    let e = h.key(KeyCode::Enter);
    let [Effect::Plan { id, request, .. }] = e.as_slice() else { panic!("{e:?}") };
    assert_eq!(request.variant.as_deref(), Some("cu124"));
    assert_eq!(request.torch.as_deref(), Some("2.6.0"));
    assert!(!request.force);
    assert_eq!(h.app.planning.pending.as_ref().map(|p| p.1), Some(PlanPurpose::Chosen));
    assert_eq!(screen_name(&h.app.screen), "review");
    assert!(torchup::tui::review::plan(&h.app).is_none(), "planning");
    h.send(Msg::Plan { id: *id, result: Ok(Box::new(plan_cu124())) });
    assert_eq!(torchup::tui::review::plan(&h.app), Some(&plan_cu124()));
    // Customize: back to the table, cursor on cu124, the table is not re-planned.
    assert!(h.ch('2').is_empty());
    assert!(matches!(&h.app.screen, Screen::Choose(ui) if ui.row == to));
}

#[test]
fn options_replan_the_table() {
    let mut h = Harness::wizard();
    h.go_choose(facts(), plan());
    h.key(KeyCode::Tab);
    assert!(matches!(&h.app.screen, Screen::Choose(ui) if ui.focus == ChooseFocus::Manager));
    let e = h.key(KeyCode::Right);
    assert!(matches!(e.as_slice(), [Effect::Plan { request, .. }] if request.manager == Manager::Uv));
    h.key(KeyCode::Tab);
    let e = h.ch(' ');
    assert!(matches!(e.as_slice(), [Effect::Plan { request, .. }] if request.keep_version && request.torch.is_none()));
    // The wheel source is next: → asks the planner for the next source of the table.
    h.key(KeyCode::Tab);
    assert!(matches!(&h.app.screen, Screen::Choose(ui) if ui.focus == ChooseFocus::Source));
    let e = h.key(KeyCode::Right);
    assert!(matches!(e.as_slice(), [Effect::Plan { request, .. }] if request.index_url.contains("nju")), "{e:?}");
    // The requirements field takes every key, q and ? included.
    h.key(KeyCode::Tab);
    for c in "req?q.txt".chars() {
        assert!(h.ch(c).is_empty());
    }
    assert!(!h.app.quitting && !h.app.help);
    h.key(KeyCode::Backspace);
    let e = h.key(KeyCode::Enter);
    assert!(
        matches!(e.as_slice(), [Effect::Plan { request, .. }] if request.requirements.as_deref() == Some("req?q.tx")),
        "{e:?}"
    );
    assert!(matches!(&h.app.screen, Screen::Choose(ui) if ui.focus == ChooseFocus::Table));
    // Esc in the field undoes the typing.
    for _ in 0..4 {
        h.key(KeyCode::Tab);
    }
    h.ch('x');
    h.key(KeyCode::Esc);
    assert!(matches!(&h.app.screen, Screen::Choose(ui) if ui.input == "req?q.tx" && ui.focus == ChooseFocus::Table));
}

#[test]
fn a_build_that_will_not_run_needs_force() {
    let mut h = Harness::wizard();
    h.go_choose(facts_old_driver(), plan_old_driver());
    let rows = plan_old_driver().candidates;
    let recommended = rows.iter().position(|c| c.recommended).expect("a recommendation");
    assert_eq!(rows[recommended].variant, "cu118", "driver 470.86 runs cu118 at most");
    assert!(matches!(&h.app.screen, Screen::Choose(ui) if ui.row == recommended));
    // The top row is a CUDA 13 build this driver cannot start.
    let top = &rows[0];
    assert_eq!(top.driver_ok, Some(false), "{top:?}");
    h.ch('g');
    assert!(h.key(KeyCode::Enter).is_empty());
    let refusal = format!("{} {} will not run here", top.variant, top.torch);
    assert!(h.app.notice.as_ref().is_some_and(|n| n.text.contains(&refusal)), "{:?}", h.app.notice);
    let e = h.ch('f');
    assert!(
        matches!(e.as_slice(), [Effect::Plan { request, .. }] if request.force && request.variant.as_deref() == Some(top.variant.as_str()))
    );
}

#[test]
fn proceed_installs_the_reviewed_plan_with_the_dry_run_toggle() {
    let mut h = Harness::wizard();
    h.go_review();
    h.ch('d');
    assert!(h.app.dry_run);
    let e = h.key(KeyCode::Enter);
    assert_eq!(e, vec![Effect::Install { facts: Box::new(facts()), plan: Box::new(plan()), dry_run: true }]);
    assert_eq!(screen_name(&h.app.screen), "run");
    assert!(h.app.installing() && h.app.animating());
}

#[test]
fn review_cancel_quits() {
    let mut h = Harness::wizard();
    h.go_review();
    assert_eq!(h.ch('3'), vec![Effect::Quit]);
}

#[test]
fn nothing_to_do_runs_the_smoke_test_instead() {
    let mut h = Harness::wizard();
    let done = Plan { nothing_to_do: true, steps: vec![], ..plan() };
    h.go_choose(facts(), done);
    h.key(KeyCode::Enter);
    assert_eq!(h.key(KeyCode::Enter), vec![Effect::Verify { python: Some(PY.into()) }]);
    assert_eq!(screen_name(&h.app.screen), "verify");
}

#[test]
fn run_tracks_stages_smoke_progress_and_finishes_on_result() {
    let mut h = Harness::wizard();
    h.go_run();
    h.at(11.0);
    h.events(events_until_download());
    let run = h.app.run.as_ref().expect("a run");
    assert_eq!(run.stages.len(), 5);
    assert!(matches!(run.stages[0].state, StageState::Done { ok: true, .. }));
    assert!(run.stages[0].smoke.as_ref().is_some_and(|s| s.met));
    assert!(matches!(run.stages[1].state, StageState::Running { .. }), "the fetch runs");
    // Progress 12.4 MB each second: the rate comes from the clock.
    for (i, ev) in download_progress(4).into_iter().enumerate() {
        h.at(12.0 + i as f64);
        h.send(Msg::Install(ev));
    }
    let d = h.app.run.as_ref().and_then(|r| r.download.as_ref()).expect("download");
    assert_eq!(d.done, 4 * 12_400_000);
    let rate = d.rate().expect("a rate after 3 s");
    assert!((rate - 12_400_000.0).abs() < 1.0, "{rate}");
    h.events(events_finish_ok());
    assert_eq!(screen_name(&h.app.screen), "result");
    assert!(!h.app.installing() && !h.app.animating());
    assert!(h.app.run.as_ref().is_some_and(|r| r.download.is_none()));
    assert_eq!(h.app.finish(), Finish::Ok);
    assert!(h.app.summary().is_some_and(|s| s.contains("2.15.0+cu130") && s.contains(LOG)));
    // The log is still one key away.
    h.ch('l');
    assert_eq!(screen_name(&h.app.screen), "run");
    h.key(KeyCode::Enter);
    assert_eq!(screen_name(&h.app.screen), "result");
}

#[test]
fn quitting_during_an_install_asks_first() {
    let mut h = Harness::wizard();
    h.go_run();
    h.events(events_until_download());
    assert!(h.ch('q').is_empty());
    assert_eq!(h.app.confirm, Some(Confirm::StopInstall { then_quit: true }));
    assert!(h.ch('j').is_empty(), "other keys wait for the answer");
    assert!(h.ch('n').is_empty());
    assert_eq!(h.app.confirm, None);
    h.ch('q');
    assert_eq!(h.ch('y'), vec![Effect::Cancel]);
    assert!(h.app.quit_when_finished);
    // The engine reports the cancelled run, then the wizard leaves.
    assert_eq!(h.send(Msg::Install(InstallEvent::Finished(Box::new(report_cancelled())))), vec![Effect::Quit]);
    assert_eq!(h.app.finish(), Finish::Failed);
}

#[test]
fn esc_during_an_install_cancels_but_stays() {
    let mut h = Harness::wizard();
    h.go_run();
    h.events(events_until_download());
    h.key(KeyCode::Esc);
    assert_eq!(h.app.confirm, Some(Confirm::StopInstall { then_quit: false }));
    assert_eq!(h.key(KeyCode::Enter), vec![Effect::Cancel]);
    assert!(h.send(Msg::Install(InstallEvent::Finished(Box::new(report_cancelled())))).is_empty());
    assert_eq!(screen_name(&h.app.screen), "result");
    // Cancelled during the download: nothing changed, nothing to roll back.
    assert!(!actions(&h.app).contains(&ResultAction::Rollback));
}

#[test]
fn ctrl_c_cancels_then_quits() {
    // Idle: quit at once.
    let mut h = Harness::wizard();
    h.detected(facts());
    assert_eq!(h.send(Msg::ctrl_c()), vec![Effect::Quit]);
    // Detecting: stop the probes too.
    let mut h = Harness::wizard();
    assert_eq!(h.send(Msg::ctrl_c()), vec![Effect::Cancel, Effect::Quit]);
    // Installing: cancel, wait for the engine; a second Ctrl-C quits now.
    let mut h = Harness::wizard();
    h.go_run();
    h.events(events_until_download());
    h.ch('?');
    assert_eq!(h.send(Msg::ctrl_c()), vec![Effect::Cancel]);
    assert!(!h.app.help, "Ctrl-C closes overlays");
    assert_eq!(h.send(Msg::Interrupt), vec![Effect::Quit]);
}

#[test]
fn a_failed_fetch_changes_nothing_and_offers_the_fallback() {
    let mut h = Harness::wizard();
    h.go_run();
    h.events(events_until_download());
    h.events(events_fail_hash());
    assert_eq!(screen_name(&h.app.screen), "result");
    let run = h.app.run.as_ref().expect("run");
    assert!(matches!(run.stages[1].state, StageState::Done { ok: false, .. }));
    assert_eq!(run.stages[1].diagnoses[0].id, "F30");
    assert_eq!(
        actions(&h.app),
        vec![
            ResultAction::RetryFallback,
            ResultAction::OpenLog,
            ResultAction::ShowLog,
            ResultAction::Explain,
            ResultAction::Quit
        ]
    );
}

#[test]
fn a_build_left_moved_aside_offers_rollback_then_the_fallback() {
    let mut h = Harness::wizard();
    h.go_run();
    h.events(events_until_download());
    h.send(Msg::Install(InstallEvent::Finished(Box::new(report_broken()))));
    assert_eq!(screen_name(&h.app.screen), "result");
    assert_eq!(actions(&h.app)[0], ResultAction::Rollback);
    assert_eq!(h.ch('o'), vec![Effect::OpenLog(LOG.into())]);
    assert_eq!(
        h.ch('b'),
        vec![Effect::Rollback {
            python: PY.into(),
            prefix: Some(r"C:\Users\mei\cyberpuppy\.venv".into()),
            manager: Manager::Pip
        }]
    );
    assert_eq!(screen_name(&h.app.screen), "run");
    h.events(rollback_events());
    assert_eq!(screen_name(&h.app.screen), "result");
    assert_eq!(h.app.run.as_ref().and_then(|r| r.report.as_ref()).map(|r| r.outcome), Some(Outcome::RolledBack));
    // The failed plan's fallback is still on offer after the rollback.
    let e = h.ch('f');
    let [Effect::Install { plan: p, dry_run: false, .. }] = e.as_slice() else { panic!("{e:?}") };
    assert_eq!(p.choice.as_ref().map(|c| c.variant.as_str()), Some("cu126"));
    assert!(p.fallback.is_none());
}

#[test]
fn the_fallback_is_not_offered_twice() {
    let mut h = Harness::wizard();
    h.go_run();
    let mut ev = events_until_download();
    ev.push(InstallEvent::Stages({
        let mut s = stage_list();
        s.push(torchup::install::StageInfo {
            index: 5,
            stage: torchup::install::stage::RunStage::Fallback,
            summary: "cu126".into(),
        });
        s
    }));
    h.events(ev);
    h.events(events_fail_hash());
    assert!(!actions(&h.app).contains(&ResultAction::RetryFallback));
}

#[test]
fn after_a_dry_run_proceed_for_real() {
    let mut h = Harness::wizard();
    h.go_review();
    h.ch('d');
    h.key(KeyCode::Enter);
    h.send(Msg::Install(InstallEvent::Finished(Box::new(report_dry_run()))));
    assert_eq!(actions(&h.app)[0], ResultAction::RunForReal);
    h.ch('p');
    assert_eq!(screen_name(&h.app.screen), "review");
    assert!(!h.app.dry_run);
}

#[test]
fn help_overlay_takes_the_keys_until_closed() {
    let mut h = Harness::wizard();
    h.detected(facts());
    h.ch('?');
    assert!(h.app.help);
    assert!(h.ch('j').is_empty());
    assert!(matches!(h.app.screen, Screen::Check(ui) if ui.cursor == 0));
    assert!(h.ch('q').is_empty(), "q closes the help, it does not quit");
    assert!(!h.app.help && !h.app.quitting);
}

#[test]
fn key_releases_are_ignored_and_resizes_recorded() {
    let mut h = Harness::wizard();
    h.detected(facts());
    let release = KeyEvent::new_with_kind(KeyCode::Char('q'), KeyModifiers::NONE, KeyEventKind::Release);
    assert!(h.send(Msg::Key(release)).is_empty());
    h.send(Msg::Resize(60, 20));
    assert_eq!(h.app.size, (60, 20));
}

#[test]
fn the_clock_only_moves_forward() {
    let mut h = Harness::wizard();
    h.at(5.0);
    h.at(2.0);
    assert_eq!(h.app.clock, h.t0 + std::time::Duration::from_secs(5));
}

#[test]
fn log_pane_follows_and_scrolls() {
    let mut h = Harness::wizard();
    h.go_run();
    h.events(events_until_download());
    for i in 0..500 {
        h.send(Msg::Install(InstallEvent::Line {
            index: 2,
            stream: torchup::exec::Stream::Stdout,
            text: format!("line {i}"),
        }));
    }
    let scroll = |h: &Harness| h.app.run.as_ref().map(|r| r.scroll).expect("run");
    assert!(scroll(&h).follow);
    h.key(KeyCode::PageUp);
    assert!(!scroll(&h).follow);
    let anchored = scroll(&h).bottom;
    h.send(Msg::Install(InstallEvent::Line { index: 2, stream: torchup::exec::Stream::Stdout, text: "more".into() }));
    assert_eq!(scroll(&h).bottom, anchored, "new lines do not move a scrolled view");
    h.key(KeyCode::End);
    assert!(scroll(&h).follow);
}

#[test]
fn verify_mode_runs_the_smoke_test_and_can_open_the_wizard() {
    let mut h = Harness::new(Mode::Verify, Theme::FULL, (80, 24));
    assert_eq!(h.effects, vec![Effect::Verify { python: None }]);
    assert!(h.app.animating());
    assert!(h.ch('r').is_empty(), "already running");
    h.send(Msg::Verified(Ok(Box::new(verify_changed()))));
    assert!(!h.app.animating());
    assert_eq!(h.app.finish(), Finish::Failed);
    assert_eq!(h.ch('r'), vec![Effect::Verify { python: None }]);
    h.send(Msg::Verified(Ok(Box::new(verify_unchanged()))));
    assert_eq!(h.app.finish(), Finish::Ok);
    assert_eq!(h.ch('i'), vec![Effect::Detect { python: None }]);
    assert_eq!(screen_name(&h.app.screen), "check");
    assert_eq!(h.app.mode, Mode::Wizard);
}

#[test]
fn events_without_a_run_are_ignored() {
    let mut h = Harness::wizard();
    assert!(h.send(Msg::Install(InstallEvent::Finished(Box::new(report_installed())))).is_empty());
    assert!(h.app.run.is_none());
    assert_eq!(h.app.finish(), Finish::Incomplete);
}

#[test]
fn a_failed_plan_can_be_retried() {
    let mut h = Harness::wizard();
    h.detected(facts());
    h.key(KeyCode::Enter);
    let id = h.last_plan_id();
    h.send(Msg::Plan { id, result: Err("the index answered 503".into()) });
    assert_eq!(h.app.planning.error.as_deref(), Some("the index answered 503"));
    assert!(!h.app.animating());
    let e = h.key(KeyCode::Enter);
    assert!(matches!(e.as_slice(), [Effect::Plan { id: again, .. }] if *again == id + 1));
    assert!(h.app.planning.error.is_none());
}

#[test]
fn an_interrupted_install_is_named_and_b_puts_the_previous_build_back() {
    let mut h = Harness::wizard();
    h.app.set_interrupted(Some(torchup::tui::app::InterruptedRun {
        line: "an install was interrupted at 'install'; the previous build was torch 2.5.1+cpu".into(),
        python: PY.into(),
        manager: Manager::Pip,
        prefix: r"C:\Users\mei\cyberpuppy\.venv".into(),
    }));
    let notice = h.app.notice.as_ref().map(|n| n.text.clone()).unwrap_or_default();
    assert!(notice.contains("interrupted at 'install'") && notice.contains("press b"), "{notice}");
    h.detected(facts());
    assert_eq!(
        h.ch('b'),
        vec![Effect::Rollback {
            python: PY.into(),
            prefix: Some(r"C:\Users\mei\cyberpuppy\.venv".into()),
            manager: Manager::Pip
        }]
    );
    assert_eq!(screen_name(&h.app.screen), "run");
    h.events(rollback_events());
    assert_eq!(screen_name(&h.app.screen), "result");
    assert!(h.app.interrupted.is_none());
    // Without an interrupted install, b does nothing on the Check screen.
    let mut h = Harness::wizard();
    h.detected(facts());
    assert!(h.ch('b').is_empty());
}
