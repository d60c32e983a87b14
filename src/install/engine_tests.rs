//! State-machine tests of the staged install against a simulated environment: a scripted
//! runner that behaves like pip on a tiny world, and probes that read that world.
//! (End-to-end tests with real pip, venvs and a local index live in tests/.)

use std::collections::BTreeSet;
use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

use super::engine::{InstallOptions, Installer, Probes};
use super::log::RunLog;
use super::{InstallEvent, Outcome};
use crate::diagnose::Diagnosis;
use crate::exec::{ExecError, ExitState, OutputLine, RunOutcome, RunSpec, Runner, Stream};
use crate::facts::{EnvKind, Facts, Os, PythonFacts, TorchFacts};
use crate::plan::{Choice, Fallback, Manager, PLAN_SCHEMA, Plan, Stage, Step};
use crate::smoke::{SmokeReport, TorchInfo, VERIFY_SCHEMA};

#[derive(Default)]
struct World {
    installed: Option<TorchFacts>,
    /// Pins the "index" has, e.g. "torch==2.5.1+cu124".
    available: BTreeSet<String>,
    /// Variants whose build passes the smoke test on the simulated GPU.
    gpu_runs: BTreeSet<String>,
    /// Commands run, in order.
    ran: Vec<Vec<String>>,
    /// Block (until cancelled) when running a command containing this.
    hang_on: Option<String>,
}

#[derive(Clone, Default)]
struct Sim(Arc<Mutex<World>>);

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

impl Runner for Sim {
    async fn run(
        &self,
        spec: RunSpec,
        lines: Option<mpsc::Sender<OutputLine>>,
        cancel: CancellationToken,
    ) -> Result<RunOutcome, ExecError> {
        let argv = spec.argv.clone();
        let hang = {
            let mut w = self.0.lock().unwrap();
            w.ran.push(argv.clone());
            w.hang_on.as_ref().is_some_and(|h| argv.iter().any(|a| a.contains(h.as_str())))
        };
        if hang {
            cancel.cancelled().await;
            return Ok(RunOutcome {
                state: ExitState::Cancelled,
                stdout: String::new(),
                stderr: String::new(),
                duration: Duration::ZERO,
            });
        }
        let say = |text: &str| {
            let lines = lines.clone();
            let text = text.to_string();
            async move {
                if let Some(tx) = lines {
                    let _ = tx.send(OutputLine { stream: Stream::Stdout, text, carriage_return: false }).await;
                }
            }
        };
        let mut w_out = String::new();
        let (code, stderr) = {
            let mut w = self.0.lock().unwrap();
            if argv.iter().any(|a| a == "uninstall") {
                w.installed = None;
                w_out.push_str("Successfully uninstalled torch\n");
                (0, String::new())
            } else {
                let pins: Vec<&String> = argv.iter().filter(|a| a.starts_with("torch==")).collect();
                match pins.first() {
                    Some(pin) if w.available.contains(pin.as_str()) => {
                        w.installed = Some(torch(pin.trim_start_matches("torch==")));
                        w_out.push_str(&format!(
                            "Downloading {}-cp311-cp311-linux_x86_64.whl (812 bytes)\n",
                            pin.replace("==", "-")
                        ));
                        (0, String::new())
                    }
                    Some(pin) => (
                        1,
                        format!(
                            "ERROR: Could not find a version that satisfies the requirement {pin} (from versions: none)\nERROR: No matching distribution found for {pin}\n"
                        ),
                    ),
                    None => (0, String::new()),
                }
            }
        };
        for l in w_out.lines() {
            say(l).await;
        }
        Ok(RunOutcome { state: ExitState::Code(code), stdout: w_out, stderr, duration: Duration::from_millis(1) })
    }
}

impl Probes for Sim {
    async fn smoke(&self, _python: &Path) -> SmokeReport {
        let w = self.0.lock().unwrap();
        let (importable, version, cuda, works) = match &w.installed {
            None => (false, None, None, false),
            Some(t) => (true, Some(t.version.clone()), t.cuda.clone(), w.gpu_runs.contains(&t.variant())),
        };
        SmokeReport {
            schema: VERIFY_SCHEMA,
            ok: works,
            torch: TorchInfo { version, cuda },
            cuda_available: works,
            devices: vec![],
            checks: vec![],
            diagnoses: vec![],
            torch_importable: importable,
            import_error: (!importable).then(|| "ModuleNotFoundError: No module named 'torch'".to_string()),
            warnings: vec![],
            gpu_gflops: None,
            cpu_gflops: None,
            cudnn: None,
            ..SmokeReport::default()
        }
    }

    async fn installed(&self, _python: &Path) -> Option<TorchFacts> {
        self.0.lock().unwrap().installed.clone()
    }

    fn diagnose_output(&self, _stage: crate::diagnose::Stage, text: &str) -> Vec<Diagnosis> {
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

    fn build_unavailable(&self, text: &str) -> bool {
        text.contains("No matching distribution")
    }
}

fn facts(prev: Option<&str>) -> Facts {
    Facts {
        schema: 1,
        os: Os::Linux,
        arch: "x86_64".into(),
        wsl: false,
        gpus: vec![],
        driver: None,
        gpu_state: Default::default(),
        python: Some(PythonFacts {
            executable: "/env/bin/python".into(),
            version: "3.11.7".into(),
            bits: 64,
            env: EnvKind::Venv,
            externally_managed: false,
            implementation: "cpython".into(),
            platform: "linux-x86_64".into(),
            prefix: "/env".into(),
            pip_version: Some("23.2.1".into()),
            uv_available: false,
            conda_available: false,
            chosen_because: "test".into(),
            user_site_shadowing: vec![],
            pip_index_overrides: vec![],
            cuda_visible_devices: None,
        }),
        torch: prev.map(torch),
        python_candidates: vec![],
        cuda_toolkit: None,
        notes: vec![],
    }
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

fn install_step(variant: &str) -> Step {
    Step {
        stage: Stage::Install,
        argv: vec![
            "/env/bin/python".into(),
            "-m".into(),
            "pip".into(),
            "install".into(),
            format!("torch==2.5.1+{variant}"),
            "--index-url".into(),
            format!("http://127.0.0.1:9/whl/{variant}"),
        ],
        summary: format!("Install torch 2.5.1+{variant}"),
        changes: String::new(),
        writes: vec![],
    }
}

fn plan(variant: &str, fallback: Option<&str>) -> Plan {
    Plan {
        schema: PLAN_SCHEMA,
        choice: Some(choice(variant)),
        candidates: vec![],
        steps: vec![
            Step {
                stage: Stage::Uninstall,
                argv: ["/env/bin/python", "-m", "pip", "uninstall", "-y", "torch"].map(String::from).to_vec(),
                summary: "Uninstall torch".into(),
                changes: String::new(),
                writes: vec![],
            },
            install_step(variant),
        ],
        nothing_to_do: false,
        warnings: vec![],
        explanation: String::new(),
        fallback: fallback.map(|f| Fallback { choice: choice(f), steps: vec![install_step(f)] }),
        data_source: "bundled".into(),
        data_version: String::new(),
        target_python: None,
        refused: None,
    }
}

fn world(available: &[&str], gpu_runs: &[&str]) -> Sim {
    let sim = Sim::default();
    {
        let mut w = sim.0.lock().unwrap();
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

async fn run_with(sim: &Sim, plan: &Plan, auto_rollback: bool, cancel: CancellationToken) -> Ran {
    let dir = tempfile::tempdir().unwrap();
    let log = RunLog::create_in(dir.path());
    let installer = Installer { runner: sim, probes: sim, log: &log, env: vec![] };
    let opts = InstallOptions {
        dry_run: false,
        auto_rollback,
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

#[tokio::test]
async fn cpu_to_cuda_succeeds_with_smoke_after_each_stage() {
    let sim = world(&["torch==2.5.1+cu124", "torch==2.5.1+cpu"], &["cu124"]);
    let ran = run_with(&sim, &plan("cu124", Some("cu121")), true, CancellationToken::new()).await;
    assert_eq!(ran.report.outcome, Outcome::Installed, "{}", ran.report.environment);
    assert!(ran.report.ok);
    assert_eq!(ran.report.installed.as_ref().unwrap().variant, "cu124");
    assert_eq!(ran.report.previous.as_ref().unwrap().version, "2.5.1+cpu");
    let smokes: Vec<(super::Expectation, bool)> = ran
        .events
        .iter()
        .filter_map(|e| match e {
            InstallEvent::Smoke { expected, met, .. } => Some((*expected, *met)),
            _ => None,
        })
        .collect();
    use super::Expectation::*;
    assert_eq!(smokes, vec![(Anything, true), (TorchAbsent, true), (CudaWorks, true)]);
    assert!(ran.events.iter().any(
        |e| matches!(e, InstallEvent::Progress { label, .. } if label.starts_with("Downloading torch-2.5.1+cu124"))
    ));
    assert!(matches!(ran.events.last(), Some(InstallEvent::Finished(_))));
}

#[tokio::test]
async fn missing_build_falls_back_to_the_planned_fallback() {
    let sim = world(&["torch==2.5.1+cu121", "torch==2.5.1+cpu"], &["cu121"]);
    let ran = run_with(&sim, &plan("cu124", Some("cu121")), true, CancellationToken::new()).await;
    assert_eq!(ran.report.outcome, Outcome::Installed, "{}", ran.report.environment);
    assert_eq!(ran.report.installed.as_ref().unwrap().variant, "cu121");
    assert!(ran.report.diagnoses.iter().any(|d| d.id == "F19"));
    assert!(ran.events.iter().any(|e| matches!(e, InstallEvent::Stages(s) if s.iter().any(|s| s.name == "fallback"))));
}

#[tokio::test]
async fn both_builds_missing_rolls_back_to_the_cpu_build_under_yes() {
    let sim = world(&["torch==2.5.1+cpu"], &[]);
    let ran = run_with(&sim, &plan("cu124", Some("cu121")), true, CancellationToken::new()).await;
    assert_eq!(ran.report.outcome, Outcome::RolledBack, "{}", ran.report.environment);
    assert!(!ran.report.ok);
    assert_eq!(sim.0.lock().unwrap().installed.as_ref().unwrap().version, "2.5.1+cpu");
    let last = sim.0.lock().unwrap().ran.last().cloned().unwrap();
    assert!(last.contains(&"torch==2.5.1+cpu".to_string()));
    assert!(last.contains(&"http://127.0.0.1:9/whl/cpu".to_string()), "{last:?}");
}

#[tokio::test]
async fn without_yes_a_failure_says_how_to_restore_and_changes_nothing_more() {
    let sim = world(&["torch==2.5.1+cpu"], &[]);
    let ran = run_with(&sim, &plan("cu124", None), false, CancellationToken::new()).await;
    assert_eq!(ran.report.outcome, Outcome::Failed);
    assert!(sim.0.lock().unwrap().installed.is_none());
    let cmd = ran.report.restore_command.clone().unwrap();
    assert_eq!(cmd[4..], ["torch==2.5.1+cpu", "--index-url", "http://127.0.0.1:9/whl/cpu"]);
    assert!(ran.report.environment.contains("No torch is installed"), "{}", ran.report.environment);
}

#[tokio::test]
async fn installed_but_not_working_tries_fallback_then_rolls_back() {
    let sim = world(&["torch==2.5.1+cu124", "torch==2.5.1+cu121", "torch==2.5.1+cpu"], &[]);
    let ran = run_with(&sim, &plan("cu124", Some("cu121")), true, CancellationToken::new()).await;
    assert_eq!(ran.report.outcome, Outcome::RolledBack, "{}", ran.report.environment);
    let ran_cmds = sim.0.lock().unwrap().ran.clone();
    assert!(ran_cmds.iter().any(|c| c.contains(&"torch==2.5.1+cu121".to_string())));
    assert_eq!(sim.0.lock().unwrap().installed.as_ref().unwrap().version, "2.5.1+cpu");
}

#[tokio::test]
async fn failed_rollback_is_reported_as_broken_with_the_command() {
    // The CPU build is not on the index any more: rollback cannot work.
    let sim = world(&["torch==2.5.1+cu124"], &[]);
    let ran = run_with(&sim, &plan("cu124", None), true, CancellationToken::new()).await;
    assert_eq!(ran.report.outcome, Outcome::Broken, "{}", ran.report.environment);
    assert!(ran.report.restore_command.is_some());
}

#[tokio::test]
async fn cancel_during_install_describes_the_state() {
    let sim = world(&["torch==2.5.1+cu124"], &["cu124"]);
    sim.0.lock().unwrap().hang_on = Some("torch==2.5.1+cu124".into());
    let cancel = CancellationToken::new();
    let c2 = cancel.clone();
    tokio::spawn(async move {
        tokio::time::sleep(Duration::from_millis(50)).await;
        c2.cancel();
    });
    let ran = run_with(&sim, &plan("cu124", Some("cu121")), true, cancel).await;
    assert_eq!(ran.report.outcome, Outcome::Cancelled);
    assert!(ran.report.environment.contains("No torch is installed"), "{}", ran.report.environment);
    assert!(ran.report.restore_command.is_some());
    // Cancelling must not trigger the fallback or a rollback.
    assert!(!sim.0.lock().unwrap().ran.iter().any(|c| c.contains(&"torch==2.5.1+cu121".to_string())));
}

#[tokio::test]
async fn uninstall_that_leaves_torch_importable_stops_before_installing() {
    #[derive(Clone)]
    struct Shadowed(Sim);
    impl Runner for Shadowed {
        async fn run(
            &self,
            spec: RunSpec,
            lines: Option<mpsc::Sender<OutputLine>>,
            cancel: CancellationToken,
        ) -> Result<RunOutcome, ExecError> {
            let keep = self.0.0.lock().unwrap().installed.clone();
            let out = self.0.run(spec, lines, cancel).await;
            // A user-site copy keeps torch importable whatever pip removes.
            self.0.0.lock().unwrap().installed = keep;
            out
        }
    }
    let sim = world(&["torch==2.5.1+cu124"], &["cu124"]);
    let dir = tempfile::tempdir().unwrap();
    let log = RunLog::create_in(dir.path());
    let shadowed = Shadowed(sim.clone());
    let installer = Installer { runner: &shadowed, probes: &sim, log: &log, env: vec![] };
    let opts = InstallOptions { dry_run: false, auto_rollback: true, index_base: "x".into(), step_timeout: None };
    let (tx, _rx) = mpsc::channel(1024);
    let report =
        installer.run(&facts(Some("2.5.1+cpu")), &plan("cu124", None), &opts, &tx, &CancellationToken::new()).await;
    assert_eq!(report.outcome, Outcome::Unchanged, "{}", report.environment);
    assert!(report.environment.contains("can still be imported"));
    assert!(!sim.0.lock().unwrap().ran.iter().any(|c| c.contains(&"torch==2.5.1+cu124".to_string())));
}

#[tokio::test]
async fn dry_run_runs_nothing() {
    let sim = world(&["torch==2.5.1+cu124"], &["cu124"]);
    let dir = tempfile::tempdir().unwrap();
    let log = RunLog::create_in(dir.path());
    let installer = Installer { runner: &sim, probes: &sim, log: &log, env: vec![] };
    let opts = InstallOptions { dry_run: true, auto_rollback: true, index_base: "x".into(), step_timeout: None };
    let (tx, _rx) = mpsc::channel(1024);
    let report =
        installer.run(&facts(Some("2.5.1+cpu")), &plan("cu124", None), &opts, &tx, &CancellationToken::new()).await;
    assert_eq!(report.outcome, Outcome::DryRun);
    assert!(sim.0.lock().unwrap().ran.is_empty());
}
