//! The Explain screen: reached from Check and Result, a text area that takes every key
//! (Windows pastes arrive as key presses), Ctrl-D explains with the same engine as
//! `torchup explain`, a log file goes through the engine, and Result after a failed run
//! opens it with the run's output explained. Snapshots at 80×24 and 120×40.

mod tui_support;

use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};
use torchup::tui::explain::{Answer, Back, Input};
use torchup::tui::result::{ResultAction, actions};
use torchup::tui::{Effect, Msg, Screen};
use tui_support::*;

fn ctrl(c: char) -> Msg {
    Msg::Key(KeyEvent::new(KeyCode::Char(c), KeyModifiers::CONTROL))
}

fn type_text(h: &mut Harness, s: &str) {
    for c in s.chars() {
        match c {
            '\n' => h.key(KeyCode::Enter),
            '\t' => h.key(KeyCode::Tab),
            c => h.ch(c),
        };
    }
}

fn ui(h: &Harness) -> &torchup::tui::explain::ExplainUi {
    match &h.app.screen {
        Screen::Explain(ui) => ui,
        other => panic!("not on the Explain screen: {other:?}"),
    }
}

fn answer_ids(h: &Harness) -> Vec<String> {
    match &ui(h).answer {
        Answer::Explained(e) => e.findings.iter().map(|f| f.id.clone()).collect(),
        other => panic!("no explanation: {other:?}"),
    }
}

fn check_done() -> Harness {
    let mut h = Harness::wizard();
    h.detected(facts());
    h
}

const PASTE: &str = "Traceback (most recent call last):\n  File \"train_gpu.py\", line 12, in <module>\n\tmodel.cuda()\nAssertionError: Torch not compiled with CUDA enabled";

#[test]
fn the_text_area_takes_every_key_and_ctrl_d_explains() {
    let mut h = check_done();
    h.ch('e');
    assert_eq!(ui(&h).back, Back::Check);
    // q and ? are text here, not quit and help.
    type_text(&mut h, "q? ");
    assert!(!h.app.quitting && !h.app.help);
    h.key(KeyCode::Backspace);
    h.key(KeyCode::Backspace);
    h.key(KeyCode::Backspace);
    type_text(&mut h, PASTE);
    assert_eq!(ui(&h).lines.len(), 4, "Enter adds a line");
    assert_eq!(ui(&h).lines[2], "\tmodel.cuda()");
    let effects = h.send(ctrl('d'));
    assert!(effects.is_empty(), "pasted text is explained without the engine");
    assert_eq!(answer_ids(&h), ["F02"]);
    // The detected machine's fix (the fixture is a Windows laptop with a venv).
    let Answer::Explained(e) = &ui(&h).answer else { unreachable!() };
    assert_eq!(e.findings[0].evidence[0].line, 4);
    h.key(KeyCode::Esc);
    assert!(matches!(h.app.screen, Screen::Check(_)));
}

#[test]
fn an_unknown_error_is_said_to_be_unknown() {
    let mut h = check_done();
    h.ch('e');
    type_text(&mut h, "ValueError: too many values to unpack (expected 2)");
    h.send(ctrl('d'));
    assert_eq!(answer_ids(&h), Vec::<String>::new());
}

#[test]
fn a_log_file_is_read_by_the_engine() {
    let mut h = check_done();
    h.ch('e');
    h.send(ctrl('o'));
    assert_eq!(ui(&h).input, Input::File);
    type_text(&mut h, "C:\\Users\\me\\train.log");
    let effects = h.key(KeyCode::Enter);
    match effects.as_slice() {
        [Effect::ExplainFile { path, facts }] => {
            assert_eq!(path.to_string_lossy(), "C:\\Users\\me\\train.log");
            assert!(facts.is_some(), "the detected facts go along");
        }
        other => panic!("expected ExplainFile, got {other:?}"),
    }
    assert!(matches!(ui(&h).answer, Answer::Reading(_)));
    let e = torchup::explain::Explainer::bundled()
        .explain_text("RuntimeError: No CUDA GPUs are available", &torchup::explain::Target::here());
    h.send(Msg::Explained(Ok(Box::new(e))));
    assert_eq!(answer_ids(&h), ["F35"]);
    h.send(Msg::Explained(Err("late".into())));
    assert_eq!(answer_ids(&h), ["F35"], "an answer nobody waits for is ignored");
}

#[test]
fn result_after_a_failed_run_explains_the_runs_output() {
    let mut h = Harness::wizard();
    h.go_run();
    h.events(events_fail_hash());
    assert!(matches!(h.app.screen, Screen::Result(_)));
    assert!(actions(&h.app).contains(&ResultAction::Explain));
    h.ch('e');
    assert_eq!(ui(&h).back, Back::Result);
    assert_eq!(answer_ids(&h).first().map(String::as_str), Some("F30"), "the hash mismatch in the run's log");
    h.key(KeyCode::Esc);
    assert!(matches!(h.app.screen, Screen::Result(_)));
}

// ---- snapshots ---------------------------------------------------------------------------

fn snap(name: &str, h: &Harness) {
    for (w, hh) in [(80, 24), (120, 40)] {
        let mut h2 = Harness { app: h.app.clone(), t0: h.t0, effects: vec![] };
        h2.send(Msg::Resize(w, hh));
        let term = h2.render(w, hh);
        insta::with_settings!({ snapshot_path => "../src/tui/snapshots", prepend_module_to_snapshot => false, omit_expression => true }, {
            insta::assert_snapshot!(format!("{name}_{w}x{hh}"), term.backend());
        });
    }
}

#[test]
fn snapshot_explain_empty() {
    let mut h = check_done();
    h.ch('e');
    snap("explain_empty", &h);
}

#[test]
fn snapshot_explain_answered() {
    let mut h = check_done();
    h.ch('e');
    type_text(&mut h, PASTE);
    h.send(ctrl('d'));
    snap("explain_answered", &h);
}

#[test]
fn snapshot_explain_after_failed_run() {
    let mut h = Harness::wizard();
    h.go_run();
    h.events(events_fail_hash());
    h.ch('e');
    snap("explain_after_failure", &h);
}
