//! The staged install state machine. Every stage is followed by a smoke test with an
//! expectation; a contradiction stops the run with a diagnosis. A failed install tries
//! the planned fallback when the build does not exist here, then rolls back (automatically
//! under `--yes`, as an offered action in the wizard). The environment is never left
//! without telling the user exactly what is installed and how to restore the old build.

use std::future::Future;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

use super::log::RunLog;
use super::progress::{PipProgress, human_bytes, parse_pip_line};
use super::restore::{restore_commands, uninstall_family};
use super::{Expectation, InstallEvent, InstallReport, Outcome, StageInfo};
use crate::diagnose::Diagnosis;
use crate::exec::{ExitState, OutputLine, RunOutcome, RunSpec, Runner};
use crate::facts::{Facts, TorchFacts};
use crate::plan::{Choice, Manager, Plan, Stage, Step};
use crate::shell::display_argv;
use crate::smoke::SmokeReport;

/// Schema of the install report.
pub const INSTALL_SCHEMA: u32 = 1;

/// What the engine needs besides running steps: the smoke test, a fast look at what is
/// installed, and diagnoses. A trait so the state machine can be driven by scripted
/// probes in unit tests; the real implementation runs the embedded smoke test.
pub trait Probes: Send + Sync {
    /// Run the smoke test with `python`.
    fn smoke(&self, python: &Path) -> impl Future<Output = SmokeReport> + Send;
    /// The installed torch family, read without importing torch; None when absent.
    fn installed(&self, python: &Path) -> impl Future<Output = Option<TorchFacts>> + Send;
    /// Diagnose a failed step's output (`Rollback` for steps that restore the old build).
    fn diagnose_output(&self, stage: crate::diagnose::Stage, text: &str) -> Vec<Diagnosis>;
    /// The failed install's output says this build does not exist for this Python/platform
    /// (or the index lacks it): the planned fallback may help.
    fn build_unavailable(&self, text: &str) -> bool;
}

/// How to run.
#[derive(Debug, Clone)]
pub struct InstallOptions {
    /// Change nothing; report what would run.
    pub dry_run: bool,
    /// Roll back without asking when a step fails (`--yes`).
    pub auto_rollback: bool,
    /// Index base URL, for restoring the previous build from where it came.
    pub index_base: String,
    /// Per-step time limit (None: no limit; multi-GB downloads take long).
    pub step_timeout: Option<Duration>,
}

/// Runs plans. Borrowed parts so front ends keep ownership of the runner and log.
pub struct Installer<'a, R: Runner, P: Probes> {
    pub runner: &'a R,
    pub probes: &'a P,
    pub log: &'a RunLog,
    /// Environment changes for every child (isolation in tests, never the TUI's business).
    pub env: Vec<(String, Option<String>)>,
}

/// Mutable bookkeeping of one run.
struct Run<'t> {
    tx: &'t mpsc::Sender<InstallEvent>,
    cancel: &'t CancellationToken,
    stages: Vec<StageInfo>,
    diagnoses: Vec<Diagnosis>,
    last_smoke: Option<SmokeReport>,
}

impl Run<'_> {
    async fn send(&self, ev: InstallEvent) {
        // A closed receiver only means nobody watches (e.g. the TUI quit); keep going.
        let _ = self.tx.send(ev).await;
    }

    async fn add_stage(&mut self, name: &str, summary: String) -> usize {
        let index = self.stages.len();
        self.stages.push(StageInfo { index, name: name.to_string(), summary });
        self.send(InstallEvent::Stages(self.stages.clone())).await;
        index
    }

    async fn diagnose(&mut self, index: usize, found: Vec<Diagnosis>) {
        for d in found {
            if !self.diagnoses.iter().any(|e| e.id == d.id) {
                self.diagnoses.push(d.clone());
                self.send(InstallEvent::Diagnosis { index, diagnosis: d }).await;
            }
        }
    }
}

/// How a step went.
enum StepResult {
    Ok,
    Failed(RunOutcome),
    Cancelled,
    /// Could not be started (program missing, unwritable constraints file).
    NotStarted(String),
}

impl<R: Runner, P: Probes> Installer<'_, R, P> {
    /// Run `plan` for the machine described by `facts`.
    pub async fn run(
        &self,
        facts: &Facts,
        plan: &Plan,
        opts: &InstallOptions,
        tx: &mpsc::Sender<InstallEvent>,
        cancel: &CancellationToken,
    ) -> InstallReport {
        let mut run = Run { tx, cancel, stages: Vec::new(), diagnoses: Vec::new(), last_smoke: None };
        let report = self.run_inner(&mut run, facts, plan, opts).await;
        self.log.note(&format!("finished: {:?} — {}", report.outcome, report.environment));
        run.send(InstallEvent::Finished(Box::new(report.clone()))).await;
        report
    }

    async fn run_inner(&self, run: &mut Run<'_>, facts: &Facts, plan: &Plan, opts: &InstallOptions) -> InstallReport {
        let Some(python) = facts.python.as_ref().map(|p| PathBuf::from(&p.executable)) else {
            return self.report(
                run,
                false,
                Outcome::Unchanged,
                None,
                None,
                "No Python interpreter was found; nothing was changed.".into(),
                None,
            );
        };
        let target = plan.target_python.as_ref().map(PathBuf::from).unwrap_or_else(|| python.clone());
        let manager = plan.choice.as_ref().map(|c| c.manager).unwrap_or_default();
        if plan.nothing_to_do {
            return self.report(
                run,
                true,
                Outcome::NothingToDo,
                facts.torch.clone(),
                None,
                "The installed build already works with this GPU and driver; nothing was changed.".into(),
                None,
            );
        }
        let Some(choice) = plan.choice.clone() else {
            let why = plan.warnings.first().cloned().unwrap_or_else(|| "no build fits this machine".into());
            return self.report(
                run,
                false,
                Outcome::Unchanged,
                facts.torch.clone(),
                None,
                format!("Nothing was changed: {why}"),
                None,
            );
        };

        let work: Vec<&Step> = plan.steps.iter().filter(|s| s.stage != Stage::Verify).collect();
        let baseline =
            run.add_stage("baseline", format!("Smoke test of what is installed now ({})", python.display())).await;
        let mut step_index = Vec::new();
        for s in &work {
            step_index.push(run.add_stage(s.stage.as_str(), s.summary.clone()).await);
        }

        if opts.dry_run {
            for s in &work {
                run.send(InstallEvent::Notice(format!("would run: {}", display_argv(&s.argv)))).await;
            }
            return self.report(
                run,
                true,
                Outcome::DryRun,
                facts.torch.clone(),
                Some(choice),
                "Dry run: nothing was changed.".into(),
                None,
            );
        }

        // Baseline: record exactly what is there before anything changes.
        run.send(InstallEvent::StageStarted { index: baseline }).await;
        let started = Instant::now();
        let base_report = self.probes.smoke(&python).await;
        run.send(InstallEvent::Smoke {
            index: baseline,
            expected: Expectation::Anything,
            met: true,
            report: Box::new(base_report.clone()),
        })
        .await;
        run.last_smoke = Some(base_report);
        run.send(InstallEvent::StageFinished { index: baseline, ok: true, elapsed: started.elapsed() }).await;
        // The previous build lives in the interpreter we install into; a new venv starts empty.
        let previous =
            if target == python { self.probes.installed(&python).await.or_else(|| facts.torch.clone()) } else { None };
        match &previous {
            Some(p) => self.log.note(&format!(
                "previous build: torch {} (cuda {:?}) torchvision {:?} torchaudio {:?}",
                p.version, p.cuda, p.torchvision, p.torchaudio
            )),
            None => self.log.note("previous build: no torch"),
        }
        if run.cancel.is_cancelled() {
            return self.cancelled(run, &target, previous, manager, opts).await;
        }

        let mut installed_choice = choice.clone();
        let mut fallback_used = false;
        for (step, &index) in work.iter().zip(&step_index) {
            let result = self.run_step(run, index, step, opts).await;
            if step.stage == Stage::Uninstall {
                self.clean_stash(run, previous.as_ref()).await;
            }
            let mut failed_output = None;
            match result {
                StepResult::Cancelled => return self.cancelled(run, &target, previous, manager, opts).await,
                StepResult::NotStarted(why) => {
                    run.send(InstallEvent::Notice(why.clone())).await;
                    return self
                        .fail(
                            run,
                            &target,
                            previous,
                            manager,
                            opts,
                            &format!("the {} step could not start: {why}", step.stage.as_str()),
                        )
                        .await;
                }
                StepResult::Failed(out) => failed_output = Some(out),
                StepResult::Ok => {}
            }
            if let Some(out) = failed_output {
                let text = out.combined();
                let found = self.probes.diagnose_output(step.stage.into(), &text);
                run.diagnose(index, found).await;
                let unavailable = step.stage == Stage::Install && self.probes.build_unavailable(&text);
                if unavailable
                    && !fallback_used
                    && let Some(fb) = &plan.fallback
                {
                    fallback_used = true;
                    match self.try_fallback(run, fb, &choice, &target, opts).await {
                        Ok(()) => {
                            installed_choice = fb.choice.clone();
                            continue;
                        }
                        Err(Stop::Cancelled) => return self.cancelled(run, &target, previous, manager, opts).await,
                        Err(Stop::Failed(why)) => return self.fail(run, &target, previous, manager, opts, &why).await,
                    }
                }
                let why = format!("`{}` failed ({})", display_argv(&step.argv), out.state.describe());
                return self.fail(run, &target, previous, manager, opts, &why).await;
            }

            // The smoke test after the stage, against what the stage should have achieved.
            let expected = match step.stage {
                Stage::Venv | Stage::Verify => continue,
                Stage::Uninstall => Expectation::TorchAbsent,
                Stage::Install | Stage::Requirements => Expectation::CudaWorks,
            };
            let met = self.smoke_stage(run, index, &target, expected, &installed_choice).await;
            if run.cancel.is_cancelled() {
                return self.cancelled(run, &target, previous, manager, opts).await;
            }
            if met {
                continue;
            }
            // Installed but not working: the planned fallback may fit (e.g. an older CUDA for the driver).
            if step.stage == Stage::Install
                && !fallback_used
                && let Some(fb) = &plan.fallback
            {
                fallback_used = true;
                run.send(InstallEvent::Notice(format!(
                    "{} {} installed but did not pass the smoke test; trying the fallback {} {}",
                    installed_choice.torch, installed_choice.variant, fb.choice.torch, fb.choice.variant
                )))
                .await;
                match self.try_fallback(run, fb, &choice, &target, opts).await {
                    Ok(()) => {
                        installed_choice = fb.choice.clone();
                        continue;
                    }
                    Err(Stop::Cancelled) => return self.cancelled(run, &target, previous, manager, opts).await,
                    Err(Stop::Failed(why)) => return self.fail(run, &target, previous, manager, opts, &why).await,
                }
            }
            if step.stage == Stage::Requirements {
                return self
                    .requirements_failed(
                        run,
                        previous,
                        installed_choice,
                        "after the requirements the CUDA build no longer passes the smoke test",
                    )
                    .await;
            }
            let why = match expected {
                Expectation::TorchAbsent => {
                    "torch can still be imported after the uninstall (another copy shadows this environment?)"
                        .to_string()
                }
                _ => format!(
                    "torch {} {} was installed but the GPU smoke test failed",
                    installed_choice.torch, installed_choice.variant
                ),
            };
            return self.fail(run, &target, previous, manager, opts, &why).await;
        }

        let env = format!(
            "torch {} ({}) is installed in {} and verified on the GPU.",
            installed_choice.torch,
            installed_choice.variant,
            target.display()
        );
        self.report(run, true, Outcome::Installed, previous, Some(installed_choice), env, None)
    }

    /// pip stashes what it uninstalls in `~orch`-style folders; a locked DLL on Windows
    /// leaves them behind, and the next install then warns about invalid distributions.
    async fn clean_stash(&self, run: &mut Run<'_>, previous: Option<&TorchFacts>) {
        let Some(site) = previous.and_then(|p| p.location.as_deref()) else { return };
        let left = crate::preflight::remove_leftovers(Path::new(site));
        if !left.is_empty() {
            let names = left.iter().map(|p| p.display().to_string()).collect::<Vec<_>>().join(", ");
            self.log.note(&format!("could not remove pip's leftovers: {names}"));
            run.send(InstallEvent::Notice(format!(
                "pip left half-removed folders it could not delete (a running Python holds them?): {names}. \
                 Close every Python program using this environment and delete them."
            )))
            .await;
        }
    }

    /// Run the fallback's install steps (the uninstall already happened) and smoke them.
    async fn try_fallback(
        &self,
        run: &mut Run<'_>,
        fb: &crate::plan::Fallback,
        first: &Choice,
        target: &Path,
        opts: &InstallOptions,
    ) -> Result<(), Stop> {
        run.send(InstallEvent::Notice(format!(
            "{} {} is not available or does not work here; trying the fallback {} {}",
            first.torch, first.variant, fb.choice.torch, fb.choice.variant
        )))
        .await;
        for step in fb.steps.iter().filter(|s| s.stage == Stage::Install) {
            let index = run.add_stage("fallback", step.summary.clone()).await;
            match self.run_step(run, index, step, opts).await {
                StepResult::Ok => {}
                StepResult::Cancelled => return Err(Stop::Cancelled),
                StepResult::NotStarted(why) => return Err(Stop::Failed(why)),
                StepResult::Failed(out) => {
                    let found = self.probes.diagnose_output(crate::diagnose::Stage::Install, &out.combined());
                    run.diagnose(index, found).await;
                    return Err(Stop::Failed(format!(
                        "the fallback `{}` failed too ({})",
                        display_argv(&step.argv),
                        out.state.describe()
                    )));
                }
            }
            if !self.smoke_stage(run, index, target, Expectation::CudaWorks, &fb.choice).await {
                if run.cancel.is_cancelled() {
                    return Err(Stop::Cancelled);
                }
                return Err(Stop::Failed(format!(
                    "the fallback torch {} {} was installed but the GPU smoke test failed",
                    fb.choice.torch, fb.choice.variant
                )));
            }
        }
        Ok(())
    }

    /// Smoke test after a stage; sends the result and any diagnoses; returns whether it met
    /// the expectation.
    async fn smoke_stage(
        &self,
        run: &mut Run<'_>,
        index: usize,
        python: &Path,
        expected: Expectation,
        choice: &Choice,
    ) -> bool {
        let report = self.probes.smoke(python).await;
        let met = expectation_met(expected, &report, choice);
        run.send(InstallEvent::Smoke { index, expected, met, report: Box::new(report.clone()) }).await;
        if !met {
            run.diagnose(index, report.diagnoses.clone()).await;
        }
        run.last_smoke = Some(report);
        met
    }

    /// Run one step: write its files, stream its output as events and into the log.
    async fn run_step(&self, run: &mut Run<'_>, index: usize, step: &Step, opts: &InstallOptions) -> StepResult {
        run.send(InstallEvent::StageStarted { index }).await;
        let started = Instant::now();
        for (path, content) in &step.writes {
            let path = Path::new(path);
            if let Some(dir) = path.parent() {
                let _ = std::fs::create_dir_all(dir);
            }
            if let Err(e) = std::fs::write(path, content) {
                run.send(InstallEvent::StageFinished { index, ok: false, elapsed: started.elapsed() }).await;
                return StepResult::NotStarted(format!("cannot write {}: {e}", path.display()));
            }
            self.log.note(&format!("wrote {}:\n{content}", path.display()));
        }
        let mut spec = RunSpec::new(step.argv.clone()).envs(&self.env).env("PYTHONUNBUFFERED", "1");
        spec.timeout = opts.step_timeout;
        self.log.command_started(&spec);

        let (line_tx, mut line_rx) = mpsc::channel::<OutputLine>(256);
        let child = self.runner.run(spec, Some(line_tx), run.cancel.clone());
        let forward = async {
            let mut current: Option<(String, Option<u64>)> = None;
            while let Some(line) = line_rx.recv().await {
                self.log.line(line.stream, &line.text);
                if let Some(p) = parse_pip_line(&line.text) {
                    let ev = match p {
                        PipProgress::Download { file, total } => {
                            let label = match total {
                                Some(t) => format!("Downloading {file} ({})", human_bytes(t)),
                                None => format!("Downloading {file}"),
                            };
                            current = Some((label.clone(), total));
                            InstallEvent::Progress { index, label, done: 0, total }
                        }
                        PipProgress::Bytes { done, total } => {
                            let label = current.as_ref().map(|c| c.0.clone()).unwrap_or_else(|| "Downloading".into());
                            InstallEvent::Progress { index, label, done, total: Some(total) }
                        }
                        PipProgress::Phase(label) => InstallEvent::Progress { index, label, done: 0, total: None },
                    };
                    let _ = run.tx.send(ev).await;
                }
                if !line.carriage_return {
                    let _ = run.tx.send(InstallEvent::Line { index, stream: line.stream, text: line.text }).await;
                }
            }
        };
        let (result, ()) = tokio::join!(child, forward);
        let elapsed = started.elapsed();
        match result {
            Err(e) => {
                self.log.note(&format!("cannot run: {e}"));
                run.send(InstallEvent::StageFinished { index, ok: false, elapsed }).await;
                StepResult::NotStarted(e.to_string())
            }
            Ok(out) => {
                self.log.command_finished(out.state, out.duration);
                let ok = out.success();
                run.send(InstallEvent::StageFinished { index, ok, elapsed }).await;
                match out.state {
                    ExitState::Cancelled => StepResult::Cancelled,
                    _ if ok => StepResult::Ok,
                    _ => StepResult::Failed(out),
                }
            }
        }
    }

    /// A step failed: roll back (automatically with --yes) or say exactly how.
    async fn fail(
        &self,
        run: &mut Run<'_>,
        target: &Path,
        previous: Option<TorchFacts>,
        manager: Manager,
        opts: &InstallOptions,
        why: &str,
    ) -> InstallReport {
        run.send(InstallEvent::Notice(format!("Stopped: {why}."))).await;
        let now = self.probes.installed(target).await;
        if same_build(now.as_ref(), previous.as_ref()) {
            let env = previous_in_place(why, previous.as_ref(), false);
            return self.report(run, false, Outcome::Unchanged, previous, None, env, None);
        }
        let restore = restore_plan(previous.as_ref(), target, manager, &opts.index_base);
        if !opts.auto_rollback {
            let env = format!("Stopped: {why}. {}", describe_installed(now.as_ref()));
            return self.report(run, false, Outcome::Failed, previous, None, env, Some(restore));
        }
        self.rollback_inner(run, target, previous, manager, opts, why).await
    }

    /// Put the previous build back (the wizard's "roll back" action; `--yes` does it itself).
    pub async fn rollback(
        &self,
        target: &Path,
        previous: Option<TorchFacts>,
        manager: Manager,
        opts: &InstallOptions,
        tx: &mpsc::Sender<InstallEvent>,
        cancel: &CancellationToken,
    ) -> InstallReport {
        let mut run = Run { tx, cancel, stages: Vec::new(), diagnoses: Vec::new(), last_smoke: None };
        let report = self.rollback_inner(&mut run, target, previous, manager, opts, "rollback requested").await;
        run.send(InstallEvent::Finished(Box::new(report.clone()))).await;
        report
    }

    async fn rollback_inner(
        &self,
        run: &mut Run<'_>,
        target: &Path,
        previous: Option<TorchFacts>,
        manager: Manager,
        opts: &InstallOptions,
        why: &str,
    ) -> InstallReport {
        let commands = restore_plan(previous.as_ref(), target, manager, &opts.index_base);
        let what = match &previous {
            Some(p) => format!("Reinstall the previous build torch {}", p.version),
            None => "Remove the partly installed torch family (there was none before)".to_string(),
        };
        // Restoring a build must not be cancelled halfway by the same token that stopped the run.
        let keep_going = CancellationToken::new();
        let mut sub = Run {
            tx: run.tx,
            cancel: &keep_going,
            stages: run.stages.clone(),
            diagnoses: Vec::new(),
            last_smoke: None,
        };
        for argv in &commands {
            let index = sub.add_stage("rollback", what.clone()).await;
            let step = Step {
                stage: Stage::Install,
                argv: argv.clone(),
                summary: what.clone(),
                changes: String::new(),
                writes: vec![],
            };
            let result = self.run_step(&mut sub, index, &step, opts).await;
            if let StepResult::Failed(out) = &result {
                let found = self.probes.diagnose_output(crate::diagnose::Stage::Rollback, &out.combined());
                sub.diagnose(index, found).await;
            }
            if !matches!(result, StepResult::Ok) {
                break;
            }
        }
        run.stages = sub.stages;
        run.diagnoses.extend(sub.diagnoses);
        let now = self.probes.installed(target).await;
        if same_build(now.as_ref(), previous.as_ref()) {
            let env = previous_in_place(why, previous.as_ref(), true);
            return self.report(run, false, Outcome::RolledBack, previous, None, env, None);
        }
        let env = format!(
            "Stopped: {why}. The rollback did not restore the previous build; {} Restore it with the command below.",
            describe_installed(now.as_ref())
        );
        self.report(run, false, Outcome::Broken, previous, None, env, Some(commands))
    }

    async fn cancelled(
        &self,
        run: &mut Run<'_>,
        target: &Path,
        previous: Option<TorchFacts>,
        manager: Manager,
        opts: &InstallOptions,
    ) -> InstallReport {
        let now = self.probes.installed(target).await;
        let restore = (!same_build(now.as_ref(), previous.as_ref()))
            .then(|| restore_plan(previous.as_ref(), target, manager, &opts.index_base));
        let mut env = format!("Cancelled. {}", describe_installed(now.as_ref()));
        if restore.is_some() {
            env.push_str(" Run `torchup install` to finish, or restore the previous build with the command below.");
        } else {
            env.push_str(" Nothing else was changed.");
        }
        self.report(run, false, Outcome::Cancelled, previous, None, env, restore)
    }

    async fn requirements_failed(
        &self,
        run: &mut Run<'_>,
        previous: Option<TorchFacts>,
        choice: Choice,
        why: &str,
    ) -> InstallReport {
        let env = format!("torch {} ({}) is installed, but {why}.", choice.torch, choice.variant);
        self.report(run, false, Outcome::RequirementsFailed, previous, Some(choice), env, None)
    }

    #[allow(clippy::too_many_arguments)]
    fn report(
        &self,
        run: &mut Run<'_>,
        ok: bool,
        outcome: Outcome,
        previous: Option<TorchFacts>,
        installed: Option<Choice>,
        environment: String,
        restore: Option<Vec<Vec<String>>>,
    ) -> InstallReport {
        InstallReport {
            schema: INSTALL_SCHEMA,
            ok,
            outcome,
            previous,
            installed,
            environment,
            restore_command: restore.as_ref().and_then(|r| r.first().cloned()),
            restore_commands: restore.unwrap_or_default(),
            diagnoses: std::mem::take(&mut run.diagnoses),
            smoke: run.last_smoke.take(),
            log_path: self.log.is_writable().then(|| self.log.path().display().to_string()),
        }
    }
}

/// Why a sub-sequence stopped.
enum Stop {
    Cancelled,
    Failed(String),
}

fn restore_plan(previous: Option<&TorchFacts>, target: &Path, manager: Manager, base: &str) -> Vec<Vec<String>> {
    let python = target.to_string_lossy();
    match previous {
        Some(p) => restore_commands(p, &python, manager, base),
        None => vec![uninstall_family(&python, manager)],
    }
}

/// Same torch build (version with local label, and CUDA level) — or both absent.
fn same_build(a: Option<&TorchFacts>, b: Option<&TorchFacts>) -> bool {
    match (a, b) {
        (None, None) => true,
        (Some(a), Some(b)) => a.version == b.version && a.cuda == b.cuda,
        _ => false,
    }
}

/// What to say when the previous build is in place: untouched, or restored by a rollback.
fn previous_in_place(why: &str, previous: Option<&TorchFacts>, restored: bool) -> String {
    let state = match (previous, restored) {
        (Some(p), false) => format!("Your previous build torch {} is still installed, untouched.", p.version),
        (Some(p), true) => format!("Rolled back: your previous build torch {} is installed again.", p.version),
        (None, false) => "Nothing was installed.".to_string(),
        (None, true) => "Rolled back: the torch family was removed again, as before.".to_string(),
    };
    format!("Stopped: {why}. {state}")
}

fn describe_installed(now: Option<&TorchFacts>) -> String {
    match now {
        None => "No torch is installed in this environment now.".into(),
        Some(t) => format!("torch {} ({}) is installed now.", t.version, t.variant()),
    }
}

/// Whether a smoke report shows what a stage should have achieved.
pub fn expectation_met(expected: Expectation, report: &SmokeReport, choice: &Choice) -> bool {
    match expected {
        Expectation::Anything => true,
        // Absent means "No module named 'torch'", not any failure: a crashed interpreter or
        // half-removed files are not an uninstalled torch.
        Expectation::TorchAbsent => {
            !report.torch_importable && report.import_error.as_deref().is_some_and(|e| e.contains("No module named"))
        }
        Expectation::CudaWorks => {
            let version_ok = report
                .torch
                .version
                .as_deref()
                .map(|v| v.split('+').next() == Some(choice.torch.as_str()))
                .unwrap_or(false);
            let variant_ok = report.torch.cuda.as_deref().map(|c| format!("cu{}", c.replace('.', "")))
                == Some(choice.variant.clone());
            report.ok && report.cuda_available && version_ok && variant_ok
        }
    }
}
