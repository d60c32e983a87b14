//! State-machine tests of the acquire-then-swap install against a simulated environment:
//! a scripted runner that behaves like pip on a tiny world, a simulated index and stash,
//! and probes that read that world. (End-to-end tests with real pip, venvs, a local index
//! and injected faults live in tests/.)

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

use super::engine::{Inspector, InstallOptions, Installer};
use super::log::RunLog;
use super::stage::RunStage;
use super::swap::{AcquireError, Acquired, Interrupted, PreserveError, Swap};
use super::{Expectation, InstallEvent, Outcome};
use crate::diagnose::Diagnosis;
use crate::exec::{ExecError, ExitState, OutputLine, RunOutcome, RunSpec, Runner, Stream};
use crate::facts::{Facts, PythonFacts, TorchFacts};
use crate::plan::{Choice, Fallback, Manager, PLAN_SCHEMA, Plan, Step, StepKind};
use crate::smoke::{SmokeReport, TorchInfo, VERIFY_SCHEMA};

/// Everything that happened, in order, across the runner, the index and the stash.
#[derive(Default)]
struct World {
    installed: Option<TorchFacts>,
    /// Builds the "index" serves, e.g. "2.5.1+cu124".
    available: BTreeSet<String>,
    /// The index cannot be reached at all.
    index_down: bool,
    /// Variants whose build passes the smoke test on the simulated GPU.
    gpu_runs: BTreeSet<String>,
    /// The moved-aside family.
    stash: Option<TorchFacts>,
    /// Putting the stash back fails.
    stash_broken: bool,
    /// Journal writes (stage) and whether it is open.
    journal: Vec<RunStage>,
    journal_open: bool,
    /// The previous build the first journal write recorded.
    journal_previous: Option<TorchFacts>,
    /// A requirements step fails with this output.
    requirements_fail: Option<String>,
    /// `pip uninstall` fails (a DLL held open on Windows).
    uninstall_fails: bool,
    /// Moving the family aside fails half-way and cannot be undone.
    stash_move_stuck: bool,
    /// Everything done, in order: commands, "fetch <build>", "stash", "put back", "forget".
    log: Vec<String>,
    /// Block (until cancelled) in a command or fetch containing this.
    hang_on: Option<String>,
    /// The revision `conda list --revisions` reports (None: conda fails).
    conda_revision: Option<u64>,
    /// What `conda remove` took (`conda install --revision` brings it back).
    conda_removed: Option<TorchFacts>,
    /// The env and revision the journal noted.
    journal_conda: Option<(String, u64)>,
}

#[derive(Clone, Default)]
struct Sim(Arc<Mutex<World>>);

impl Sim {
    fn w(&self) -> std::sync::MutexGuard<'_, World> {
        self.0.lock().unwrap()
    }
    fn hangs(&self, what: &str) -> bool {
        self.w().hang_on.as_ref().is_some_and(|h| what.contains(h.as_str()))
    }
    fn commands(&self) -> Vec<String> {
        self.w().log.iter().filter(|l| l.starts_with("run ")).cloned().collect()
    }
}

fn torch(version: &str) -> TorchFacts {
    let cuda = version.split_once("+cu").map(|(_, c)| format!("{}.{}", &c[..c.len() - 1], &c[c.len() - 1..]));
    TorchFacts {
        version: version.into(),
        cuda,
        torchvision: None,
        torchaudio: None,
        xformers: None,
        dist_version: None,
        installer: Some("pip".into()),
        ..Default::default()
    }
}

/// "/wh/torch-2.5.1+cu124-cp311-cp311-linux_x86_64.whl" for a build.
fn wheel(build: &str) -> PathBuf {
    PathBuf::from(format!("/wh/links/torch-{build}-cp311-cp311-linux_x86_64.whl"))
}

impl Runner for Sim {
    async fn run(
        &self,
        spec: RunSpec,
        lines: Option<mpsc::Sender<OutputLine>>,
        cancel: CancellationToken,
    ) -> Result<RunOutcome, ExecError> {
        let argv = spec.argv.clone();
        self.w().log.push(format!("run {}", argv.join(" ")));
        if argv.iter().any(|a| self.hangs(a)) {
            cancel.cancelled().await;
            return Ok(RunOutcome {
                state: ExitState::Cancelled,
                stdout: String::new(),
                stderr: String::new(),
                duration: Duration::ZERO,
            });
        }
        let (code, out) = {
            let mut w = self.w();
            let conda = argv.first().is_some_and(|a| a == "conda");
            if conda && argv.iter().any(|a| a == "--revisions") {
                match w.conda_revision {
                    Some(rev) => (0, format!("[{{\"rev\": 0}}, {{\"rev\": {rev}}}]")),
                    None => (1, "conda: not found\n".to_string()),
                }
            } else if conda && argv.iter().any(|a| a == "remove") {
                w.conda_removed = w.installed.take();
                (0, String::new())
            } else if conda && argv.iter().any(|a| a == "--revision") {
                w.installed = w.conda_removed.clone();
                (0, String::new())
            } else if argv.iter().any(|a| a == "uninstall") {
                if w.uninstall_fails {
                    (1, "ERROR: [WinError 5] Access is denied: 'torch\\lib\\c10.dll'\n".to_string())
                } else {
                    w.installed = None;
                    (0, "Successfully uninstalled torch\n".to_string())
                }
            } else if argv.iter().any(|a| a == "-r") {
                match w.requirements_fail.clone() {
                    Some(text) => (1, text),
                    None => (0, String::new()),
                }
            } else if let Some(file) = argv.iter().find(|a| a.ends_with(".whl")) {
                let name = Path::new(file).file_name().unwrap().to_string_lossy().to_string();
                let build = name.trim_start_matches("torch-").split('-').next().unwrap().to_string();
                w.installed = Some(torch(&build));
                (0, format!("Processing {file}\nSuccessfully installed torch-{build}\n"))
            } else if let Some(pin) = argv.iter().find(|a| a.starts_with("torch==")) {
                // A reinstall from the index (the old way back).
                let build = pin.trim_start_matches("torch==").to_string();
                if !w.index_down && w.available.contains(&build) {
                    w.installed = Some(torch(&build));
                    (0, String::new())
                } else {
                    (1, format!("ERROR: No matching distribution found for {pin}\n"))
                }
            } else {
                (0, String::new())
            }
        };
        if let Some(tx) = lines {
            for l in out.lines() {
                let _ = tx.send(OutputLine { stream: Stream::Stdout, text: l.into(), carriage_return: false }).await;
            }
        }
        let (stdout, stderr) = if code == 0 { (out, String::new()) } else { (String::new(), out) };
        Ok(RunOutcome { state: ExitState::Code(code), stdout, stderr, duration: Duration::from_millis(1) })
    }
}

impl Inspector for Sim {
    async fn smoke(&self, _python: &Path, _cancel: &CancellationToken) -> SmokeReport {
        let w = self.w();
        let (importable, version, cuda, works) = match &w.installed {
            None => (false, None, None, false),
            Some(t) => (true, Some(t.version.clone()), t.cuda.clone(), w.gpu_runs.contains(&t.variant())),
        };
        SmokeReport {
            schema: VERIFY_SCHEMA,
            ok: works,
            torch: TorchInfo { version, cuda },
            cuda_available: works,
            torch_importable: importable,
            import_error: (!importable).then(|| "ModuleNotFoundError: No module named 'torch'".to_string()),
            ..SmokeReport::default()
        }
    }

    async fn installed(&self, _python: &Path) -> Option<TorchFacts> {
        self.w().installed.clone()
    }

    fn diagnose_output(&self, _stage: crate::diagnose::TextSource, text: &str) -> Vec<Diagnosis> {
        if text.contains("No matching distribution") {
            vec![Diagnosis {
                id: "F19".into(),
                title: "build not found".into(),
                explanation: String::new(),
                fix: String::new(),
            }]
        } else {
            vec![]
        }
    }
}

impl Swap for Sim {
    type Preserved = TorchFacts;

    async fn acquire(
        &self,
        _python: &Path,
        choice: &Choice,
        events: &mpsc::Sender<InstallEvent>,
        index: usize,
        cancel: &CancellationToken,
    ) -> Result<Acquired, AcquireError> {
        let build = format!("{}+{}", choice.torch, choice.variant);
        self.w().log.push(format!("fetch {build}"));
        if self.hangs(&build) {
            cancel.cancelled().await;
            return Err(AcquireError::Cancelled);
        }
        let (down, has) = {
            let w = self.w();
            (w.index_down, w.available.contains(&build))
        };
        if down {
            return Err(AcquireError::Failed("could not connect to 127.0.0.1:9 (connection refused)".into()));
        }
        if !has {
            return Err(AcquireError::Unavailable(format!("the index has no torch {build} for this Python")));
        }
        let _ = events
            .send(InstallEvent::Progress { index, label: format!("torch-{build}"), done: 10, total: Some(10) })
            .await;
        Ok(Acquired {
            family: vec![("torch".into(), wheel(&build))],
            links_dir: PathBuf::from("/wh/links"),
            dependencies_fetched: true,
            dependency_index: None,
            downloaded: 10,
            notes: vec![],
        })
    }

    async fn preserve(&self, _python: &Path, previous: &TorchFacts) -> Result<TorchFacts, PreserveError<TorchFacts>> {
        let mut w = self.w();
        w.log.push("stash".into());
        if w.stash_move_stuck {
            // A move failed and undoing the earlier ones failed too: half of it is aside.
            w.stash = w.installed.take();
            return Err(PreserveError::PartlyMoved {
                why: "cannot move torch/lib/c10.dll: Access is denied".into(),
                preserved: previous.clone(),
            });
        }
        w.stash = w.installed.take();
        Ok(previous.clone())
    }

    async fn put_back(&self, preserved: &TorchFacts) -> Result<(), String> {
        let mut w = self.w();
        w.log.push("put back".into());
        if w.stash_broken {
            return Err("rename failed: permission denied".into());
        }
        w.installed = w.stash.take();
        assert_eq!(w.installed.as_ref(), Some(preserved));
        Ok(())
    }

    async fn forget(&self, _preserved: &TorchFacts) {
        let mut w = self.w();
        w.log.push("forget".into());
        w.stash = None;
    }

    async fn journal(
        &self,
        _python: &Path,
        stage: RunStage,
        previous: Option<&TorchFacts>,
        _choice: &Choice,
        _preserved: Option<&TorchFacts>,
    ) -> Result<(), String> {
        let mut w = self.w();
        if !w.journal_open {
            w.journal_previous = previous.cloned();
        }
        w.journal.push(stage);
        w.journal_open = true;
        Ok(())
    }

    async fn note_conda_revision(&self, prefix: &str, revision: u64) -> Result<(), String> {
        let mut w = self.w();
        w.log.push(format!("note conda revision {revision}"));
        w.journal_conda = Some((prefix.to_string(), revision));
        Ok(())
    }

    async fn adopt_journal(&self, _python: &Path) -> Result<Option<Interrupted<TorchFacts>>, String> {
        let w = self.w();
        if !w.journal_open {
            return Ok(None);
        }
        Ok(Some(Interrupted {
            stage: *w.journal.last().unwrap(),
            previous: w.journal_previous.clone(),
            preserved: w.stash.clone(),
            conda_revision: w.journal_conda.clone(),
        }))
    }

    async fn close_journal(&self) {
        self.w().journal_open = false;
    }
}

fn facts(prev: Option<&str>) -> Facts {
    let python = PythonFacts {
        executable: "/env/bin/python".into(),
        pip_version: Some("23.2.1".into()),
        chosen_because: "test".into(),
        ..PythonFacts::venv_for_tests("/env")
    };
    Facts { python: Some(python), torch: prev.map(torch), ..Facts::bare_linux() }
}

fn choice(variant: &str) -> Choice {
    Choice {
        torch: "2.5.1".into(),
        variant: variant.into(),
        index_url: format!("http://127.0.0.1:9/whl/{variant}"),
        manager: Manager::Pip,
        torchvision: None,
        torchaudio: None,
    }
}

fn step(stage: StepKind, argv: &[&str]) -> Step {
    Step {
        stage,
        argv: argv.iter().map(|s| s.to_string()).collect(),
        summary: format!("{stage:?}"),
        changes: String::new(),
        writes: vec![],
    }
}

fn install_step(variant: &str) -> Step {
    let pin = format!("torch==2.5.1+{variant}");
    step(
        StepKind::Install,
        &["/env/bin/python", "-m", "pip", "install", "--no-index", "--find-links", "<wheelhouse>", &pin],
    )
}

fn plan(variant: &str, fallback: Option<&str>) -> Plan {
    Plan {
        schema: PLAN_SCHEMA,
        choice: Some(choice(variant)),
        candidates: vec![],
        steps: vec![
            step(StepKind::Fetch, &[]),
            step(StepKind::Uninstall, &[]),
            install_step(variant),
            step(StepKind::Verify, &[]),
        ],
        nothing_to_do: false,
        warnings: vec![],
        explanation: String::new(),
        fallback: fallback.map(|f| Fallback {
            choice: choice(f),
            steps: vec![step(StepKind::Fetch, &[]), install_step(f), step(StepKind::Verify, &[])],
        }),
        data_source: "bundled".into(),
        data_version: String::new(),
        target_python: None,
        refused: None,
    }
}

fn world(available: &[&str], gpu_runs: &[&str]) -> Sim {
    let sim = Sim::default();
    {
        let mut w = sim.w();
        w.installed = Some(torch("2.5.1+cpu"));
        w.available = available.iter().map(|s| s.to_string()).collect();
        w.gpu_runs = gpu_runs.iter().map(|s| s.to_string()).collect();
    }
    sim
}

struct Ran {
    report: super::InstallReport,
    events: Vec<InstallEvent>,
}

async fn run_with(sim: &Sim, plan: &Plan, cancel: CancellationToken) -> Ran {
    let dir = tempfile::tempdir().unwrap();
    let log = RunLog::create_in(dir.path());
    let installer = Installer { runner: sim, inspector: sim, swap: sim, log: &log, env: vec![] };
    let opts = InstallOptions {
        dry_run: false,
        auto_rollback: true,
        index_base: "http://127.0.0.1:9/whl".into(),
        step_timeout: None,
    };
    let (tx, mut rx) = mpsc::channel(1024);
    let collect = tokio::spawn(async move {
        let mut v = Vec::new();
        while let Some(e) = rx.recv().await {
            v.push(e);
        }
        v
    });
    let report = installer.run(&facts(Some("2.5.1+cpu")), plan, &opts, &tx, &cancel).await;
    drop(tx);
    Ran { report, events: collect.await.unwrap() }
}

/// `torchup rollback` (the engine's half) on what the simulated journal holds.
async fn rollback_with(sim: &Sim, manager: Manager) -> super::InstallReport {
    let dir = tempfile::tempdir().unwrap();
    let log = RunLog::create_in(dir.path());
    let installer = Installer { runner: sim, inspector: sim, swap: sim, log: &log, env: vec![] };
    let opts = InstallOptions { dry_run: false, auto_rollback: false, index_base: "x".into(), step_timeout: None };
    let (tx, _rx) = mpsc::channel(1024);
    installer.rollback(Path::new("/env/bin/python"), manager, &opts, &tx, &CancellationToken::new()).await
}

fn smokes(events: &[InstallEvent]) -> Vec<(Expectation, bool)> {
    events
        .iter()
        .filter_map(|e| match e {
            InstallEvent::Smoke { expected, met, .. } => Some((*expected, *met)),
            _ => None,
        })
        .collect()
}

fn cancel_after(ms: u64) -> CancellationToken {
    let cancel = CancellationToken::new();
    let c2 = cancel.clone();
    tokio::spawn(async move {
        tokio::time::sleep(Duration::from_millis(ms)).await;
        c2.cancel();
    });
    cancel
}

#[tokio::test]
async fn fetches_first_then_swaps_and_commits() {
    let sim = world(&["2.5.1+cu124", "2.5.1+cpu"], &["cu124"]);
    let ran = run_with(&sim, &plan("cu124", Some("cu121")), CancellationToken::new()).await;
    assert_eq!(ran.report.outcome, Outcome::Installed, "{}", ran.report.environment);
    assert!(ran.report.ok);
    assert_eq!(ran.report.installed.as_ref().unwrap().variant, "cu124");
    assert_eq!(ran.report.previous.as_ref().unwrap().version, "2.5.1+cpu");
    use Expectation::*;
    assert_eq!(smokes(&ran.events), vec![(Anything, true), (TorchAbsent, true), (CudaWorks, true)]);
    let w = sim.w();
    // Every byte first, then the change; the install reads the fetched file, offline.
    assert_eq!(w.log[0], "fetch 2.5.1+cu124");
    assert_eq!(w.log[1], "stash");
    assert_eq!(
        w.log[2],
        "run /env/bin/python -m pip install --no-index --find-links /wh/links /wh/links/torch-2.5.1+cu124-cp311-cp311-linux_x86_64.whl"
    );
    assert_eq!(w.log[3], "forget");
    assert_eq!(w.log.len(), 4, "{:?}", w.log);
    assert!(!w.journal_open, "the journal is closed after the commit");
    assert_eq!(w.journal.first(), Some(&RunStage::Uninstall), "journaled before the first change");
    let stages: Vec<RunStage> = match ran.events.iter().find(|e| matches!(e, InstallEvent::Stages(_))) {
        Some(InstallEvent::Stages(s)) => s.iter().map(|s| s.stage).collect(),
        _ => vec![],
    };
    assert_eq!(stages, [RunStage::Baseline, RunStage::Fetch, RunStage::Uninstall, RunStage::Install, RunStage::Verify]);
    assert!(matches!(ran.events.last(), Some(InstallEvent::Finished(_))));
}

#[tokio::test]
async fn a_build_the_index_lacks_moves_to_the_fallback_before_any_change() {
    let sim = world(&["2.5.1+cu121", "2.5.1+cpu"], &["cu121"]);
    let ran = run_with(&sim, &plan("cu124", Some("cu121")), CancellationToken::new()).await;
    assert_eq!(ran.report.outcome, Outcome::Installed, "{}", ran.report.environment);
    assert_eq!(ran.report.installed.as_ref().unwrap().variant, "cu121");
    let w = sim.w();
    assert_eq!(w.log[..3], ["fetch 2.5.1+cu124", "fetch 2.5.1+cu121", "stash"]);
    assert!(
        ran.events
            .iter()
            .any(|e| matches!(e, InstallEvent::Stages(s) if s.iter().any(|s| s.stage == RunStage::Fallback)))
    );
}

#[tokio::test]
async fn nothing_fetchable_changes_nothing() {
    // Neither build on the index: the old build was never touched.
    let sim = world(&["2.5.1+cpu"], &[]);
    let ran = run_with(&sim, &plan("cu124", Some("cu121")), CancellationToken::new()).await;
    assert_eq!(ran.report.outcome, Outcome::Unchanged, "{}", ran.report.environment);
    assert!(ran.report.environment.contains("still installed, untouched"), "{}", ran.report.environment);
    let w = sim.w();
    assert_eq!(w.installed.as_ref().unwrap().version, "2.5.1+cpu");
    assert!(!w.log.iter().any(|l| l.starts_with("run ") || l == "stash"), "{:?}", w.log);
    assert!(!w.journal_open);
}

#[tokio::test]
async fn a_dead_index_changes_nothing_and_tries_no_fallback() {
    let sim = world(&["2.5.1+cu124", "2.5.1+cu121"], &["cu124"]);
    sim.w().index_down = true;
    let ran = run_with(&sim, &plan("cu124", Some("cu121")), CancellationToken::new()).await;
    assert_eq!(ran.report.outcome, Outcome::Unchanged);
    assert!(ran.report.environment.contains("connection refused"), "{}", ran.report.environment);
    assert_eq!(sim.w().log, ["fetch 2.5.1+cu124"]);
    assert_eq!(sim.w().installed.as_ref().unwrap().version, "2.5.1+cpu");
}

#[tokio::test]
async fn installed_but_not_working_tries_the_fallback_then_restores_the_stash_offline() {
    let sim = world(&["2.5.1+cu124", "2.5.1+cu121"], &[]);
    let ran = run_with(&sim, &plan("cu124", Some("cu121")), CancellationToken::new()).await;
    assert_eq!(ran.report.outcome, Outcome::RolledBack, "{}", ran.report.environment);
    let w = sim.w();
    assert!(w.log.iter().any(|l| l.contains("torch-2.5.1+cu121")), "{:?}", w.log);
    assert_eq!(w.installed.as_ref().unwrap().version, "2.5.1+cpu");
    assert_eq!(w.log.last().map(String::as_str), Some("put back"));
    // No reinstall from the index: the stash is the way back.
    assert!(!w.log.iter().any(|l| l.contains("torch==2.5.1+cpu")), "{:?}", w.log);
    assert!(!w.journal_open);
    assert!(ran.report.restore_commands.is_empty());
}

/// The failed build cannot be removed before the fallback: no fallback is installed over
/// it; the run stops and the stash puts the previous build back.
#[tokio::test]
async fn a_failed_build_that_cannot_be_removed_gets_no_fallback_on_top() {
    let sim = world(&["2.5.1+cu124", "2.5.1+cu121"], &[]);
    sim.w().uninstall_fails = true;
    let ran = run_with(&sim, &plan("cu124", Some("cu121")), CancellationToken::new()).await;
    let w = sim.w();
    assert!(!w.log.iter().any(|l| l.contains("torch-2.5.1+cu121")), "{:?}", w.log);
    assert!(ran.report.environment.contains("could not be removed before the fallback"), "{}", ran.report.environment);
    assert_eq!(ran.report.outcome, Outcome::RolledBack, "{}", ran.report.environment);
    assert_eq!(w.installed.as_ref().unwrap().version, "2.5.1+cpu");
}

/// The run reinstalls the previous torch build itself (other companions) and it fails
/// after pip wrote it: the rollback still removes what pip wrote before putting the stash
/// back, since an install step ran (the builds' being equal says nothing about the files).
#[tokio::test]
async fn a_failed_reinstall_of_the_same_build_is_removed_before_the_put_back() {
    let sim = world(&["2.5.1+cpu"], &[]);
    let ran = run_with(&sim, &plan("cpu", None), CancellationToken::new()).await;
    let w = sim.w();
    let wrote = w.log.iter().position(|l| l.contains("torch-2.5.1+cpu-cp311"));
    let removed = w.log.iter().rposition(|l| l.starts_with("run ") && l.contains("uninstall"));
    let put_back = w.log.iter().rposition(|l| l == "put back");
    assert!(wrote.is_some() && wrote < removed && removed < put_back, "{:?}", w.log);
    assert_eq!(w.installed.as_ref().unwrap().version, "2.5.1+cpu");
    assert_eq!(ran.report.outcome, Outcome::RolledBack, "{}", ran.report.environment);
}

/// Moving the build aside failed half-way and the undo failed too: the run is not "before
/// any change"; the journal and the rollback put the rest back from the stash.
#[tokio::test]
async fn a_half_done_move_aside_is_rolled_back_not_reported_untouched() {
    let sim = world(&["2.5.1+cu124"], &["cu124"]);
    sim.w().stash_move_stuck = true;
    let ran = run_with(&sim, &plan("cu124", None), CancellationToken::new()).await;
    let w = sim.w();
    assert!(!w.log.iter().any(|l| l.contains("torch-2.5.1+cu124")), "nothing installed on top: {:?}", w.log);
    assert_eq!(w.log.last().map(String::as_str), Some("put back"), "{:?}", w.log);
    assert_eq!(w.installed.as_ref().unwrap().version, "2.5.1+cpu");
    assert_eq!(ran.report.outcome, Outcome::RolledBack, "{}", ran.report.environment);
}

#[tokio::test]
async fn cancel_during_the_install_puts_the_previous_build_back() {
    let sim = world(&["2.5.1+cu124"], &["cu124"]);
    sim.w().hang_on = Some("torch-2.5.1+cu124".into());
    let ran = run_with(&sim, &plan("cu124", Some("cu121")), cancel_after(50)).await;
    assert_eq!(ran.report.outcome, Outcome::Cancelled);
    assert!(ran.report.environment.contains("installed again"), "{}", ran.report.environment);
    let w = sim.w();
    assert_eq!(w.installed.as_ref().unwrap().version, "2.5.1+cpu");
    assert!(!w.log.iter().any(|l| l.contains("cu121")), "cancel is not a reason for the fallback: {:?}", w.log);
    assert!(!w.journal_open);
}

#[tokio::test]
async fn cancel_during_the_fetch_changes_nothing() {
    let sim = world(&["2.5.1+cu124"], &["cu124"]);
    sim.w().hang_on = Some("2.5.1+cu124".into());
    let ran = run_with(&sim, &plan("cu124", None), cancel_after(50)).await;
    assert_eq!(ran.report.outcome, Outcome::Cancelled);
    assert!(ran.report.environment.contains("untouched"), "{}", ran.report.environment);
    assert_eq!(sim.w().log, ["fetch 2.5.1+cu124"]);
}

#[tokio::test]
async fn a_stash_that_cannot_go_back_is_broken_and_keeps_the_journal() {
    let sim = world(&["2.5.1+cu124"], &[]);
    sim.w().stash_broken = true;
    let ran = run_with(&sim, &plan("cu124", None), CancellationToken::new()).await;
    assert_eq!(ran.report.outcome, Outcome::Broken, "{}", ran.report.environment);
    assert!(ran.report.environment.contains("torchup rollback"), "{}", ran.report.environment);
    assert!(ran.report.restore_command.is_some());
    assert!(sim.w().journal_open, "the next torchup must find the journal");
}

#[tokio::test]
async fn rollback_finishes_what_an_interrupted_run_left() {
    let sim = world(&["2.5.1+cu124"], &[]);
    sim.w().stash_broken = true;
    let _ = run_with(&sim, &plan("cu124", None), CancellationToken::new()).await;
    sim.w().stash_broken = false;
    let report = rollback_with(&sim, Manager::Pip).await;
    assert_eq!(report.outcome, Outcome::RolledBack, "{}", report.environment);
    assert_eq!(sim.w().installed.as_ref().unwrap().version, "2.5.1+cpu");
    assert!(!sim.w().journal_open);
    // A second rollback has nothing to do.
    let again = rollback_with(&sim, Manager::Pip).await;
    assert_eq!(again.outcome, Outcome::Unchanged);
    assert!(again.environment.contains("Nothing to roll back"), "{}", again.environment);
}

/// Killed (the process gone, the journal left) while installing after `conda remove`:
/// `torchup rollback` returns conda to the revision the journal noted before the remove.
#[tokio::test]
async fn rollback_after_a_kill_returns_conda_to_the_noted_revision() {
    let sim = world(&["2.5.1+cu124"], &[]);
    {
        let mut w = sim.w();
        w.conda_revision = Some(4);
        w.hang_on = Some("--find-links".into());
    }
    let mut p = plan("cu124", None);
    p.steps[1] = step(StepKind::Uninstall, &["conda", "remove", "-p", "/env", "-y", "pytorch"]);
    // Drop the run once it is installing: what a SIGKILL leaves.
    let installing = async {
        while !sim.commands().iter().any(|c| c.contains("--find-links")) {
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
    };
    tokio::select! {
        _ = run_with(&sim, &p, CancellationToken::new()) => panic!("the run ended instead of installing"),
        _ = installing => {}
    }
    assert!(sim.w().installed.is_none(), "conda removed the previous build");
    assert_eq!(sim.w().journal_conda, Some(("/env".to_string(), 4)), "the env as the plan named it");
    let log = sim.w().log.clone();
    let noted = log.iter().position(|l| l == "note conda revision 4");
    let removed = log.iter().position(|l| l.starts_with("run conda remove"));
    assert!(noted.is_some() && noted < removed, "noted before the remove: {log:?}");
    sim.w().hang_on = None;

    let report = rollback_with(&sim, Manager::Conda).await;
    assert!(sim.commands().iter().any(|c| c == "run conda install -p /env --revision 4 -y"), "{:?}", sim.commands());
    assert_eq!(sim.w().installed.as_ref().map(|t| t.version.as_str()), Some("2.5.1+cpu"), "{}", report.environment);
    assert_eq!(report.outcome, Outcome::RolledBack, "{}", report.environment);
    assert!(!sim.w().journal_open);
}

/// conda cannot tell its revision: `conda remove` would have no way back, so it never runs.
#[tokio::test]
async fn no_conda_revision_means_no_conda_remove() {
    let sim = world(&["2.5.1+cu124"], &["cu124"]);
    let mut p = plan("cu124", None);
    p.steps[1] = step(StepKind::Uninstall, &["conda", "remove", "-p", "/env", "-y", "pytorch"]);
    let ran = run_with(&sim, &p, CancellationToken::new()).await;
    assert!(sim.commands().iter().all(|c| !c.contains("conda remove")), "{:?}", sim.commands());
    assert!(ran.report.environment.contains("conda's revision could not be read"), "{}", ran.report.environment);
    assert_eq!(sim.w().installed.as_ref().unwrap().version, "2.5.1+cpu");
}

/// Killed after the journal named the uninstall stage but before the build was moved aside:
/// the previous build is still in place, and rolling back must not uninstall it.
#[tokio::test]
async fn rollback_after_a_kill_before_the_move_keeps_the_previous_build() {
    let sim = world(&["2.5.1+cu124"], &[]);
    {
        let mut w = sim.w();
        w.journal_previous = w.installed.clone();
        w.journal = vec![RunStage::Fetch, RunStage::Uninstall];
        w.journal_open = true;
    }
    let report = rollback_with(&sim, Manager::Pip).await;
    assert!(sim.commands().iter().all(|c| !c.contains("uninstall")), "{:?}", sim.commands());
    assert_eq!(sim.w().installed.as_ref().map(|t| t.version.as_str()), Some("2.5.1+cpu"), "{}", report.environment);
    assert_ne!(report.outcome, Outcome::Broken, "{}", report.environment);
    assert!(!sim.w().journal_open, "the journal is closed once the previous build is confirmed");
}

#[tokio::test]
async fn a_failing_requirements_step_keeps_the_verified_build_and_names_the_culprit() {
    let sim = world(&["2.5.1+cu124"], &["cu124"]);
    sim.w().requirements_fail = Some(
        "ERROR: Cannot install -r req.txt (line 2) because these package versions have conflicting dependencies.\n    oldlib 1.0 depends on torch==2.3.0+cpu\n"
            .into(),
    );
    let mut p = plan("cu124", None);
    p.steps.insert(3, step(StepKind::Requirements, &["/env/bin/python", "-m", "pip", "install", "-r", "req.txt"]));
    let ran = run_with(&sim, &p, CancellationToken::new()).await;
    assert_eq!(ran.report.outcome, Outcome::RequirementsFailed, "{}", ran.report.environment);
    assert!(ran.report.environment.contains("torch==2.3.0+cpu"), "{}", ran.report.environment);
    let w = sim.w();
    assert_eq!(w.installed.as_ref().unwrap().version, "2.5.1+cu124");
    assert!(w.log.contains(&"forget".to_string()) && !w.journal_open);
}

#[tokio::test]
async fn uninstall_that_leaves_torch_importable_puts_the_stash_back() {
    #[derive(Clone)]
    struct Shadowed(Sim);
    impl Inspector for Shadowed {
        async fn smoke(&self, python: &Path, cancel: &CancellationToken) -> SmokeReport {
            // A user-site copy keeps torch importable whatever is moved aside.
            let mut r = self.0.smoke(python, cancel).await;
            r.torch_importable = true;
            r.import_error = None;
            r
        }
        async fn installed(&self, python: &Path) -> Option<TorchFacts> {
            self.0.installed(python).await
        }
        fn diagnose_output(&self, stage: crate::diagnose::TextSource, text: &str) -> Vec<Diagnosis> {
            self.0.diagnose_output(stage, text)
        }
    }
    let sim = world(&["2.5.1+cu124"], &["cu124"]);
    let dir = tempfile::tempdir().unwrap();
    let log = RunLog::create_in(dir.path());
    let shadowed = Shadowed(sim.clone());
    let installer = Installer { runner: &sim, inspector: &shadowed, swap: &sim, log: &log, env: vec![] };
    let opts = InstallOptions { dry_run: false, auto_rollback: true, index_base: "x".into(), step_timeout: None };
    let (tx, _rx) = mpsc::channel(1024);
    let report =
        installer.run(&facts(Some("2.5.1+cpu")), &plan("cu124", None), &opts, &tx, &CancellationToken::new()).await;
    assert_eq!(report.outcome, Outcome::RolledBack, "{}", report.environment);
    assert!(report.environment.contains("can still be imported"));
    assert!(!sim.commands().iter().any(|c| c.contains("cu124")), "{:?}", sim.w().log);
    assert_eq!(sim.w().installed.as_ref().unwrap().version, "2.5.1+cpu");
}

#[tokio::test]
async fn dry_run_runs_and_fetches_nothing() {
    let sim = world(&["2.5.1+cu124"], &["cu124"]);
    let dir = tempfile::tempdir().unwrap();
    let log = RunLog::create_in(dir.path());
    let installer = Installer { runner: &sim, inspector: &sim, swap: &sim, log: &log, env: vec![] };
    let opts = InstallOptions { dry_run: true, auto_rollback: true, index_base: "x".into(), step_timeout: None };
    let (tx, _rx) = mpsc::channel(1024);
    let report =
        installer.run(&facts(Some("2.5.1+cpu")), &plan("cu124", None), &opts, &tx, &CancellationToken::new()).await;
    assert_eq!(report.outcome, Outcome::DryRun);
    assert!(sim.w().log.is_empty());
}

#[tokio::test]
async fn nothing_to_do_still_runs_the_smoke_test() {
    let sim = world(&[], &[]);
    sim.w().installed = Some(torch("2.5.1+cu124"));
    let dir = tempfile::tempdir().unwrap();
    let log = RunLog::create_in(dir.path());
    let installer = Installer { runner: &sim, inspector: &sim, swap: &sim, log: &log, env: vec![] };
    let opts = InstallOptions { dry_run: false, auto_rollback: true, index_base: "x".into(), step_timeout: None };
    let mut p = plan("cu124", None);
    p.nothing_to_do = true;
    p.choice = None;
    let (tx, mut rx) = mpsc::channel(1024);
    let report = installer.run(&facts(Some("2.5.1+cu124")), &p, &opts, &tx, &CancellationToken::new()).await;
    drop(tx);
    let mut events = Vec::new();
    while let Some(e) = rx.recv().await {
        events.push(e);
    }
    // The GPU does not run cu124 in this world: "nothing to do" is not "verified".
    assert!(!report.ok);
    assert_eq!(report.outcome, Outcome::Unchanged);
    assert_eq!(smokes(&events), vec![(Expectation::CudaWorks, false)]);
    sim.w().gpu_runs.insert("cu124".into());
    let (tx, _rx) = mpsc::channel(1024);
    let report = installer.run(&facts(Some("2.5.1+cu124")), &p, &opts, &tx, &CancellationToken::new()).await;
    assert!(report.ok);
    assert_eq!(report.outcome, Outcome::NothingToDo);
}
