//! The wizard's controller (src/controller.rs) without a terminal: effects in,
//! messages out, against this machine with an explicit environment (no venv or pip needed:
//! these are the answers that do not install anything).

mod tui_support;

use std::path::{Path, PathBuf};
use std::time::Duration;

use torchup::controller::Controller;
use torchup::facts::platform::{HostEnv, Platform};
use torchup::plan::Request;
use torchup::session::Session;
use torchup::tui::{Effect, EngineHandle, Msg, MsgReceiver, channel};
use tui_support::*;

/// A session on this machine whose environment holds only `vars` (plus the recorded
/// RTX 3050 Laptop nvidia-smi), with its directories in `dir`.
fn session(dir: &Path, python: Option<PathBuf>, vars: &[(&str, &str)]) -> Session {
    let smi = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/nvidia-smi/rtx3050-laptop-581/nvidia-smi");
    let mut pairs: Vec<(String, String)> = vec![
        ("TORCHUP_NVIDIA_SMI".into(), smi.display().to_string()),
        ("PATH".into(), "/usr/bin:/bin".into()),
        ("HOME".into(), dir.display().to_string()),
    ];
    pairs.extend(vars.iter().map(|(k, v)| (k.to_string(), v.to_string())));
    Session {
        platform: Platform::current(),
        env: HostEnv::from_pairs(pairs),
        cwd: dir.to_path_buf(),
        python,
        index_url: "http://127.0.0.1:9/whl".parse().unwrap(),
        offline: true,
        state_dir: dir.join("state"),
        cache_dir: dir.join("cache"),
    }
}

/// The next message, within a generous limit.
async fn next(rx: &mut MsgReceiver) -> Msg {
    tokio::time::timeout(Duration::from_secs(30), rx.recv())
        .await
        .expect("the engine answers")
        .expect("the channel stays open")
}

#[tokio::test]
async fn a_missing_requirements_file_is_a_plan_error_naming_it() {
    let dir = tempfile::tempdir().unwrap();
    let mut engine = Controller::new(session(dir.path(), None, &[]));
    let (tx, mut rx) = channel();
    let request = Request { requirements: Some("reqs/missing.txt".into()), ..Request::default() };
    engine.perform(Effect::Plan { id: 7, facts: Box::new(facts()), request }, &tx);
    let Msg::Plan { id, result: Err(e) } = next(&mut rx).await else { panic!("a plan error") };
    assert_eq!(id, 7);
    assert!(e.contains("reqs/missing.txt: no such file"), "{e}");
    assert!(e.contains(&dir.path().display().to_string()), "says where it looked: {e}");
}

#[tokio::test]
async fn the_machine_check_answers_with_the_same_id() {
    let dir = tempfile::tempdir().unwrap();
    let mut engine = Controller::new(session(dir.path(), None, &[]));
    let (tx, mut rx) = channel();
    // The fixture is a Windows laptop: seen from here its System32 has no VC++ runtime.
    engine.perform(Effect::Preflight { id: 3, facts: Box::new(facts()), plan: Box::new(plan()) }, &tx);
    let Msg::Preflight { id, issues } = next(&mut rx).await else { panic!("a preflight answer") };
    assert_eq!(id, 3);
    assert!(issues.iter().any(|i| i.id == "F14" && !i.blocking), "{issues:?}");
}

#[tokio::test]
async fn detection_reports_the_gpu_then_why_the_python_cannot_be_used() {
    let dir = tempfile::tempdir().unwrap();
    let missing = dir.path().join("no venv/bin/python");
    let mut engine = Controller::new(session(dir.path(), None, &[]));
    let (tx, mut rx) = channel();
    engine.perform(Effect::Detect { python: Some(missing.display().to_string()) }, &tx);
    let mut gpu = None;
    let facts = loop {
        match next(&mut rx).await {
            Msg::Gpu(g) => gpu = Some(g),
            Msg::Python(p) => assert!(p.python.is_none()),
            Msg::Facts(f) => break f,
            other => panic!("unexpected {other:?}"),
        }
    };
    let gpu = gpu.expect("the GPU probe reported before the facts");
    assert_eq!(gpu.gpus[0].name, "NVIDIA GeForce RTX 3050 Laptop GPU");
    assert_eq!(gpu.driver.as_ref().map(|d| d.version.as_str()), Some("581.29"));
    let e = facts.expect_err("no usable Python");
    assert!(e.contains("no venv/bin/python"), "names the interpreter: {e}");
}

#[tokio::test]
async fn verify_with_a_missing_interpreter_is_an_error() {
    let dir = tempfile::tempdir().unwrap();
    let mut engine = Controller::new(session(dir.path(), None, &[]));
    let (tx, mut rx) = channel();
    let missing = dir.path().join("gone/python");
    engine.perform(Effect::Verify { python: Some(missing.display().to_string()) }, &tx);
    let Msg::Verified(Err(e)) = next(&mut rx).await else { panic!("a verify error") };
    assert!(e.contains("gone/python"), "{e}");
    assert!(!dir.path().join("state/verify-history.jsonl").exists(), "nothing saved");
}

#[cfg(target_os = "linux")]
#[tokio::test]
async fn the_log_is_shown_not_opened_without_a_graphical_session() {
    let dir = tempfile::tempdir().unwrap();
    let mut engine = Controller::new(session(dir.path(), None, &[("TERM", "linux")]));
    let (tx, mut rx) = channel();
    engine.perform(Effect::OpenLog(dir.path().join("run.log")), &tx);
    let Msg::Notice(n) = next(&mut rx).await else { panic!("a notice") };
    assert!(n.starts_with("No graphical session to open it in: the log is "), "{n}");
    assert!(n.ends_with("run.log"), "{n}");
}

#[tokio::test]
async fn settle_without_a_run_returns_at_once() {
    let dir = tempfile::tempdir().unwrap();
    let mut engine = Controller::new(session(dir.path(), None, &[]));
    assert!(engine.settle(Duration::from_secs(5)).await.is_none());
}

/// One torchup per environment holds for the wizard too: with another torchup holding the
/// environment's lock, an install ends at once, unchanged, naming the holder.
#[tokio::test]
async fn an_install_waits_for_no_one_and_changes_nothing_while_another_torchup_holds_the_environment() {
    let dir = tempfile::tempdir().unwrap();
    let session = session(dir.path(), None, &[]);
    let f = facts();
    let prefix = PathBuf::from(&f.python.as_ref().unwrap().prefix);
    let _held =
        torchup::install::lock::EnvLock::acquire_as(&session.state_dir, &prefix, false, "torchup install --yes")
            .expect("the lock is free");
    let mut engine = Controller::new(session);
    let (tx, mut rx) = channel();
    engine.perform(Effect::Install { facts: Box::new(f), plan: Box::new(plan()), dry_run: false }, &tx);
    let Msg::Install(torchup::install::InstallEvent::Finished(report)) = next(&mut rx).await else {
        panic!("the run ends at once")
    };
    assert_eq!(report.outcome, torchup::install::Outcome::Unchanged);
    assert!(!report.ok);
    assert!(report.environment.contains("torchup install --yes"), "{}", report.environment);
}
