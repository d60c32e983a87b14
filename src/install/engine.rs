//! The install state machine: acquire, then swap.
//!
//! 1. **baseline** — smoke test of what is installed; the previous build is recorded.
//! 2. **fetch** — every file of the new build (and its dependencies) is downloaded and
//!    hash-checked into the wheelhouse. Nothing has changed yet: any failure here ends the
//!    run `unchanged` (a build the index lacks tries the planned fallback first).
//! 3. **uninstall** — the journal is written, then the installed family is moved aside
//!    (renamed, not deleted). The smoke test must find no torch.
//! 4. **install** — the fetched files, by path, offline. The smoke test must show the chosen
//!    CUDA build working on the GPU; otherwise the fallback, otherwise the rollback.
//! 5. **requirements** — the user's file under a constraints file; a failure keeps the
//!    verified CUDA build.
//! 6. **verify** — the smoke test after the last change passed: the moved-aside build is
//!    deleted and the journal closed.
//!
//! Any failure or cancel after step 3 puts the previous build back from the stash (no
//! network, byte for byte) before the run ends; only a killed torchup leaves the journal,
//! which the next command names and `torchup rollback` / `install --resume` finish.

use std::future::Future;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

use super::log::RunLog;
use super::restore::{restore_commands, uninstall_family};
use super::stage::RunStage;
use super::swap::{AcquireError, Acquired, PreserveError, Swap};
use super::{Expectation, InstallEvent, InstallReport, Outcome, StageInfo};
use crate::diagnose::Diagnosis;
use crate::exec::{ExitState, OutputLine, RunOutcome, RunSpec, Runner};
use crate::facts::{Facts, TorchFacts};
use crate::plan::{Choice, Manager, Plan, Step, StepKind};
use crate::shell::display_argv;
use crate::smoke::SmokeReport;

/// Schema of the install report.
pub(crate) const INSTALL_SCHEMA: u32 = 1;

/// What the engine needs besides running steps: the smoke test, a fast look at what is
/// installed, and diagnoses. A trait so the state machine can be driven by scripted
/// inspectors in unit tests; the real implementation runs the embedded smoke test.
pub trait Inspector: Send + Sync {
    /// Run the smoke test with `python`; a cancelled token stops it at once.
    fn smoke(&self, python: &Path, cancel: &CancellationToken) -> impl Future<Output = SmokeReport> + Send;
    /// The installed torch family, read without importing torch; None when absent.
    fn installed(&self, python: &Path) -> impl Future<Output = Option<TorchFacts>> + Send;
    /// Diagnose a failed step's output (`Rollback` for steps that restore the old build).
    fn diagnose_output(&self, stage: crate::diagnose::TextSource, text: &str) -> Vec<Diagnosis>;
}

/// How to run.
#[derive(Debug, Clone)]
pub struct InstallOptions {
    /// Change nothing; report what would run.
    pub dry_run: bool,
    /// Reinstall from the index without asking when the stash cannot restore the previous
    /// build (conda-installed torch, a stash that failed): `--yes`.
    pub auto_rollback: bool,
    /// Index base URL, for restoring the previous build from where it came.
    pub index_base: String,
    /// Per-step time limit (None: no limit).
    pub step_timeout: Option<Duration>,
}

/// Runs plans. Borrowed parts so front ends keep ownership of the runner and log.
pub struct Installer<'a, R: Runner, P: Inspector, S: Swap> {
    pub runner: &'a R,
    pub inspector: &'a P,
    pub swap: &'a S,
    pub log: &'a RunLog,
    /// Environment changes for every child (isolation in tests, never the TUI's business).
    pub env: Vec<(String, Option<String>)>,
}

/// Mutable bookkeeping of one run.
struct Run<'t, S: Swap> {
    tx: &'t mpsc::Sender<InstallEvent>,
    cancel: &'t CancellationToken,
    stages: Vec<StageInfo>,
    diagnoses: Vec<Diagnosis>,
    last_smoke: Option<SmokeReport>,
    /// The interpreter the steps install into.
    target: PathBuf,
    manager: Manager,
    /// What was installed before (None: no torch, or a fresh venv).
    previous: Option<TorchFacts>,
    /// The moved-aside previous family, while the run may still need it.
    preserved: Option<S::Preserved>,
    /// conda's prefix and revision before a conda uninstall (the way back for
    /// conda-installed torch).
    conda_revision: Option<(String, u64)>,
    /// Something in the environment changed (a stash was taken or pip ran).
    changed: bool,
    /// Whether an install step may have put a new build in (what a rollback must remove).
    new_build: NewBuild,
    /// The journal was written.
    journaled: bool,
}

/// Whether a run's install step ran: decided by what the run did (or the interrupted run's
/// journal stage), not by comparing builds, since a run may reinstall the same torch with
/// other companions.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum NewBuild {
    /// No install step ran: whatever is installed is the previous build (or nothing).
    No,
    /// An install step ran (or was interrupted while running).
    Yes,
    /// A rollback of it was interrupted: the new build is there unless it is the previous one.
    Unknown,
}

impl NewBuild {
    /// What an interrupted run that reached `stage` may have installed.
    fn after(stage: RunStage) -> NewBuild {
        match stage {
            RunStage::Baseline | RunStage::Venv | RunStage::Fetch | RunStage::Uninstall => NewBuild::No,
            RunStage::Install | RunStage::Requirements | RunStage::Verify | RunStage::Fallback | RunStage::Commit => {
                NewBuild::Yes
            }
            RunStage::Rollback => NewBuild::Unknown,
        }
    }
}

impl<S: Swap> Run<'_, S> {
    async fn send(&self, ev: InstallEvent) {
        // A closed receiver only means nobody watches (e.g. the TUI quit); keep going.
        let _ = self.tx.send(ev).await;
    }

    async fn add_stage(&mut self, stage: RunStage, summary: String) -> usize {
        let index = self.stages.len();
        self.stages.push(StageInfo { index, stage, summary });
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

    async fn finish_stage(&self, index: usize, ok: bool, started: Instant) {
        self.send(InstallEvent::StageFinished { index, ok, elapsed: started.elapsed() }).await;
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

/// Why the run stops before its end.
enum Stop {
    Cancelled,
    /// Nothing changed yet: the previous build is untouched.
    BeforeChange(String),
    /// After a change: the previous build must be put back.
    Failed(String),
}

impl<R: Runner, P: Inspector, S: Swap> Installer<'_, R, P, S> {
    /// Run `plan` for the machine described by `facts`.
    pub async fn run(
        &self,
        facts: &Facts,
        plan: &Plan,
        opts: &InstallOptions,
        tx: &mpsc::Sender<InstallEvent>,
        cancel: &CancellationToken,
    ) -> InstallReport {
        let python = facts.python.as_ref().map(|p| PathBuf::from(&p.executable));
        let target = plan.target_python.as_ref().map(PathBuf::from).or_else(|| python.clone()).unwrap_or_default();
        let mut run = self.new_run(tx, cancel, target, plan.choice.as_ref().map(|c| c.manager).unwrap_or_default());
        let report = match python {
            None => self.report(
                &mut run,
                false,
                Outcome::Unchanged,
                None,
                "No Python interpreter was found; nothing was changed.".into(),
                None,
            ),
            Some(python) => self.run_plan(&mut run, &python, facts, plan, opts).await,
        };
        self.log.note(&format!("finished: {:?} — {}", report.outcome, report.environment));
        run.send(InstallEvent::Finished(Box::new(report.clone()))).await;
        report
    }

    fn new_run<'t>(
        &self,
        tx: &'t mpsc::Sender<InstallEvent>,
        cancel: &'t CancellationToken,
        target: PathBuf,
        manager: Manager,
    ) -> Run<'t, S> {
        Run {
            tx,
            cancel,
            stages: Vec::new(),
            diagnoses: Vec::new(),
            last_smoke: None,
            target,
            manager,
            previous: None,
            preserved: None,
            conda_revision: None,
            changed: false,
            new_build: NewBuild::No,
            journaled: false,
        }
    }

    async fn run_plan(
        &self,
        run: &mut Run<'_, S>,
        python: &Path,
        facts: &Facts,
        plan: &Plan,
        opts: &InstallOptions,
    ) -> InstallReport {
        if plan.nothing_to_do {
            return self.verify_in_place(run, python, facts, opts).await;
        }
        let Some(choice) = plan.choice.clone() else {
            let why = plan.warnings.first().cloned().unwrap_or_else(|| "no build fits this machine".into());
            run.previous = facts.torch.clone();
            return self.report(run, false, Outcome::Unchanged, None, format!("Nothing was changed: {why}"), None);
        };

        // The whole list first, in one event: the front ends draw it before anything runs.
        let baseline = 0;
        run.stages.push(StageInfo {
            index: baseline,
            stage: RunStage::Baseline,
            summary: format!("Smoke test of what is installed now ({})", python.display()),
        });
        let mut step_index = Vec::new();
        for s in &plan.steps {
            let index = run.stages.len();
            run.stages.push(StageInfo { index, stage: RunStage::from(s.stage), summary: s.summary.clone() });
            step_index.push(index);
        }
        run.send(InstallEvent::Stages(run.stages.clone())).await;

        if opts.dry_run {
            for s in &plan.steps {
                let what = if s.argv.is_empty() { format!("torchup: {}", s.summary) } else { display_argv(&s.argv) };
                run.send(InstallEvent::Notice(format!("would run: {what}"))).await;
            }
            run.previous = facts.torch.clone();
            return self.report(run, true, Outcome::DryRun, Some(choice), "Dry run: nothing was changed.".into(), None);
        }

        // Baseline: record exactly what is there before anything changes.
        run.send(InstallEvent::StageStarted { index: baseline }).await;
        let started = Instant::now();
        let base_report = self.inspector.smoke(python, run.cancel).await;
        run.send(InstallEvent::Smoke {
            index: baseline,
            expected: Expectation::Anything,
            met: true,
            report: Box::new(base_report.clone()),
        })
        .await;
        run.last_smoke = Some(base_report);
        run.finish_stage(baseline, true, started).await;
        // The previous build lives in the interpreter we install into; a new venv starts empty.
        run.previous = if run.target == python {
            self.inspector.installed(python).await.or_else(|| facts.torch.clone())
        } else {
            None
        };
        match &run.previous {
            Some(p) => self.log.note(&format!(
                "previous build: torch {} (cuda {:?}) torchvision {:?} torchaudio {:?}",
                p.version, p.cuda, p.torchvision, p.torchaudio
            )),
            None => self.log.note("previous build: no torch"),
        }

        let mut state = Progress { active: choice.clone(), acquired: None, fallback_used: false };
        for (step, &index) in plan.steps.iter().zip(&step_index) {
            if run.cancel.is_cancelled() {
                return self.stop(run, Stop::Cancelled, &state.active, opts).await;
            }
            let result = match step.stage {
                StepKind::Venv => self.venv_stage(run, index, step, opts).await,
                StepKind::Fetch => self.fetch_stage(run, index, step, plan, &mut state, opts).await,
                StepKind::Uninstall => self.uninstall_stage(run, index, step, &state.active, opts).await,
                StepKind::Install => self.install_stage(run, index, step, plan, &mut state, opts).await,
                StepKind::Requirements => match self.requirements_stage(run, index, step, &state.active, opts).await {
                    Ok(()) => Ok(()),
                    Err(report) => return *report,
                },
                StepKind::Verify => {
                    self.commit(run, index, &state.active).await;
                    Ok(())
                }
            };
            if let Err(stop) = result {
                return self.stop(run, stop, &state.active, opts).await;
            }
        }
        if run.preserved.is_some() || run.journaled {
            // A plan without a verify step still ends committed.
            let index = run.add_stage(RunStage::Commit, "forget the moved-aside previous build".into()).await;
            self.commit(run, index, &state.active).await;
        }
        let active = state.active;
        let env = format!(
            "torch {} ({}) is installed in {} and verified on the GPU.",
            active.torch,
            active.variant,
            run.target.display()
        );
        self.report(run, true, Outcome::Installed, Some(active), env, None)
    }

    /// Nothing to install: the smoke test still runs, so "verified" means it ran.
    async fn verify_in_place(
        &self,
        run: &mut Run<'_, S>,
        python: &Path,
        facts: &Facts,
        _opts: &InstallOptions,
    ) -> InstallReport {
        run.previous = facts.torch.clone();
        let index = run.add_stage(RunStage::Verify, "smoke test of the installed build".into()).await;
        run.send(InstallEvent::StageStarted { index }).await;
        let started = Instant::now();
        let report = self.inspector.smoke(python, run.cancel).await;
        let met = report.ok && report.cuda_available;
        run.send(InstallEvent::Smoke {
            index,
            expected: Expectation::CudaWorks,
            met,
            report: Box::new(report.clone()),
        })
        .await;
        if !met {
            run.diagnose(index, report.diagnoses.clone()).await;
        }
        run.last_smoke = Some(report);
        run.finish_stage(index, met, started).await;
        if run.cancel.is_cancelled() {
            return self.report(run, false, Outcome::Cancelled, None, "Cancelled. Nothing was changed.".into(), None);
        }
        if met {
            let env =
                "The installed build already works with this GPU and driver (smoke test passed); nothing was changed.";
            self.report(run, true, Outcome::NothingToDo, None, env.into(), None)
        } else {
            let env = "Nothing was changed, but the installed build failed the smoke test: see the diagnoses.";
            self.report(run, false, Outcome::Unchanged, None, env.into(), None)
        }
    }

    async fn venv_stage(
        &self,
        run: &mut Run<'_, S>,
        index: usize,
        step: &Step,
        opts: &InstallOptions,
    ) -> Result<(), Stop> {
        self.run_or_stop(run, index, step, opts, crate::diagnose::TextSource::Install, Stop::BeforeChange).await
    }

    /// Run a step whose failure stops the run: its output is diagnosed and the reason names
    /// the command. `stop` says whether the environment had changed by then.
    async fn run_or_stop(
        &self,
        run: &mut Run<'_, S>,
        index: usize,
        step: &Step,
        opts: &InstallOptions,
        stage: crate::diagnose::TextSource,
        stop: fn(String) -> Stop,
    ) -> Result<(), Stop> {
        match self.run_step(run, index, step, opts).await {
            StepResult::Ok => Ok(()),
            StepResult::Cancelled => Err(Stop::Cancelled),
            StepResult::NotStarted(why) => Err(stop(why)),
            StepResult::Failed(out) => {
                let found = self.inspector.diagnose_output(stage, &out.combined());
                run.diagnose(index, found).await;
                Err(stop(format!("`{}` failed ({})", display_argv(&step.argv), out.state.describe())))
            }
        }
    }

    /// Fetch the chosen build; a build the index lacks moves to the fallback before any change.
    async fn fetch_stage(
        &self,
        run: &mut Run<'_, S>,
        index: usize,
        step: &Step,
        plan: &Plan,
        state: &mut Progress,
        opts: &InstallOptions,
    ) -> Result<(), Stop> {
        if !step.argv.is_empty() {
            // conda: its own package cache (`--download-only`).
            return self
                .run_or_stop(run, index, step, opts, crate::diagnose::TextSource::Install, Stop::BeforeChange)
                .await;
        }
        let first = self.acquire_in(run, index, &state.active, true).await;
        let why = match first {
            Ok(a) => {
                state.acquired = Some(a);
                return Ok(());
            }
            Err(AcquireError::Cancelled) => return Err(Stop::Cancelled),
            Err(AcquireError::Unavailable(why)) if !state.fallback_used && plan.fallback.is_some() => why,
            Err(e) => {
                return Err(Stop::BeforeChange(format!(
                    "torch {} {} could not be fetched: {e}",
                    state.active.torch, state.active.variant
                )));
            }
        };
        let Some(fb) = &plan.fallback else { return Err(Stop::BeforeChange(why)) };
        run.send(InstallEvent::Notice(format!(
            "{} {} cannot be fetched ({why}); trying the fallback",
            state.active.torch, state.active.variant
        )))
        .await;
        state.fallback_used = true;
        let fb_index = run
            .add_stage(
                RunStage::Fallback,
                format!("download and verify the fallback torch {} {}", fb.choice.torch, fb.choice.variant),
            )
            .await;
        match self.acquire_in(run, fb_index, &fb.choice, true).await {
            Ok(a) => {
                state.active = fb.choice.clone();
                state.acquired = Some(a);
                Ok(())
            }
            Err(AcquireError::Cancelled) => Err(Stop::Cancelled),
            Err(e) => Err(Stop::BeforeChange(format!(
                "neither {} {} ({why}) nor the fallback {} {} ({e}) could be fetched",
                state.active.torch, state.active.variant, fb.choice.torch, fb.choice.variant
            ))),
        }
    }

    /// Fetch `choice` as stage `index`: a failure goes into the run's output and is
    /// diagnosed (so `explain` and the Result screen see it) and ends the stage; success
    /// ends it too when `finish` (the fallback's install continues in the same stage).
    async fn acquire_in(
        &self,
        run: &mut Run<'_, S>,
        index: usize,
        choice: &Choice,
        finish: bool,
    ) -> Result<Acquired, AcquireError> {
        run.send(InstallEvent::StageStarted { index }).await;
        let started = Instant::now();
        match self.swap.acquire(&run.target, choice, run.tx, index, run.cancel).await {
            Ok(a) => {
                self.note_acquired(run, &a).await;
                if finish {
                    run.finish_stage(index, true, started).await;
                }
                Ok(a)
            }
            Err(e) => {
                if e != AcquireError::Cancelled {
                    let text = e.to_string();
                    self.log.line(crate::exec::Stream::Stderr, &text);
                    run.send(InstallEvent::Line { index, stream: crate::exec::Stream::Stderr, text: text.clone() })
                        .await;
                    let found = self.inspector.diagnose_output(crate::diagnose::TextSource::Install, &text);
                    run.diagnose(index, found).await;
                }
                run.finish_stage(index, false, started).await;
                Err(e)
            }
        }
    }

    async fn note_acquired(&self, run: &mut Run<'_, S>, a: &Acquired) {
        self.log.note(&format!(
            "fetched {} files ({} bytes over the network) into {}",
            a.family.len(),
            a.downloaded,
            a.links_dir.display()
        ));
        for note in &a.notes {
            run.send(InstallEvent::Notice(note.clone())).await;
        }
    }

    /// Journal first, then move the installed family aside (conda: `conda remove`, after
    /// noting conda's revision). The smoke test must then find no torch.
    async fn uninstall_stage(
        &self,
        run: &mut Run<'_, S>,
        index: usize,
        step: &Step,
        active: &Choice,
        opts: &InstallOptions,
    ) -> Result<(), Stop> {
        self.journal(run, RunStage::Uninstall, active).await?;
        if step.argv.is_empty() {
            run.send(InstallEvent::StageStarted { index }).await;
            let started = Instant::now();
            let Some(previous) = run.previous.clone() else {
                run.finish_stage(index, true, started).await;
                return Ok(());
            };
            match self.swap.preserve(&run.target, &previous).await {
                Ok(p) => {
                    run.changed = true;
                    run.preserved = Some(p);
                    self.journal(run, RunStage::Uninstall, active).await?;
                    run.finish_stage(index, true, started).await;
                }
                Err(PreserveError::Untouched(why)) => {
                    run.finish_stage(index, false, started).await;
                    return Err(Stop::BeforeChange(format!("the installed build could not be moved aside: {why}")));
                }
                Err(PreserveError::PartlyMoved { why, preserved }) => {
                    // Part of it stays moved aside: the environment has changed, and the
                    // rollback puts the rest back from the stash.
                    run.changed = true;
                    run.preserved = Some(preserved);
                    run.finish_stage(index, false, started).await;
                    return Err(Stop::Failed(format!("the installed build could not be moved aside: {why}")));
                }
            }
        } else {
            run.conda_revision = self.conda_revision(step).await;
            match &run.conda_revision {
                Some((prefix, rev)) => {
                    if let Err(why) = self.swap.note_conda_revision(prefix, *rev).await {
                        return Err(Stop::BeforeChange(format!(
                            "the journal could not be written ({why}): check that torchup's state directory is writable"
                        )));
                    }
                }
                // No revision, no way back from `conda remove`: do not start it.
                None if step.argv.first().is_some_and(|a| a == "conda") => {
                    return Err(Stop::BeforeChange(
                        "conda's revision could not be read (`conda list --revisions`), so a conda removal could \
                         not be undone: check that conda runs in this environment"
                            .into(),
                    ));
                }
                None => {}
            }
            run.changed = true;
            self.run_or_stop(run, index, step, opts, crate::diagnose::TextSource::Uninstall, Stop::Failed).await?;
        }
        if !self.smoke_stage(run, index, Expectation::TorchAbsent, active).await {
            if run.cancel.is_cancelled() {
                return Err(Stop::Cancelled);
            }
            return Err(Stop::Failed(
                "torch can still be imported after the uninstall (another copy shadows this environment?)".into(),
            ));
        }
        Ok(())
    }

    /// Install the fetched files; if the build does not pass, the fallback, else stop.
    async fn install_stage(
        &self,
        run: &mut Run<'_, S>,
        index: usize,
        step: &Step,
        plan: &Plan,
        state: &mut Progress,
        opts: &InstallOptions,
    ) -> Result<(), Stop> {
        self.journal(run, RunStage::Install, &state.active).await?;
        let first = self.install_files(run, index, step, state.acquired.as_ref(), opts).await;
        let why = match first {
            Err(Stop::Failed(why)) => why,
            Err(other) => return Err(other),
            Ok(()) => {
                if self.smoke_stage(run, index, Expectation::CudaWorks, &state.active).await {
                    return Ok(());
                }
                if run.cancel.is_cancelled() {
                    return Err(Stop::Cancelled);
                }
                format!(
                    "torch {} {} was installed but the GPU smoke test failed",
                    state.active.torch, state.active.variant
                )
            }
        };
        let Some(fb) = plan.fallback.as_ref().filter(|_| !state.fallback_used) else {
            return Err(Stop::Failed(why));
        };
        state.fallback_used = true;
        run.send(InstallEvent::Notice(format!("{why}; trying the fallback {} {}", fb.choice.torch, fb.choice.variant)))
            .await;
        let fb_index = run
            .add_stage(
                RunStage::Fallback,
                format!("install the fallback torch {} {}", fb.choice.torch, fb.choice.variant),
            )
            .await;
        // Remove what the failed attempt installed, then fetch (usually from the
        // wheelhouse) and install the fallback.
        if let StepResult::Failed(out) = self.remove_new_family(run, fb_index, opts).await {
            // Installing over a half-removed family would mix two builds: stop, and the
            // rollback puts the previous build back.
            let found = self.inspector.diagnose_output(crate::diagnose::TextSource::Rollback, &out.combined());
            run.diagnose(fb_index, found).await;
            return Err(Stop::Failed(format!(
                "{why}, and the failed build could not be removed before the fallback ({})",
                out.state.describe()
            )));
        }
        let acquired = match self.acquire_in(run, fb_index, &fb.choice, false).await {
            Ok(a) => a,
            Err(AcquireError::Cancelled) => return Err(Stop::Cancelled),
            Err(e) => return Err(Stop::Failed(format!("{why}, and the fallback could not be fetched: {e}"))),
        };
        let fb_step = fb.steps.iter().find(|s| s.stage == StepKind::Install).cloned().unwrap_or_else(|| step.clone());
        state.active = fb.choice.clone();
        state.acquired = Some(acquired);
        self.journal(run, RunStage::Fallback, &state.active).await?;
        self.install_files(run, fb_index, &fb_step, state.acquired.as_ref(), opts).await?;
        if self.smoke_stage(run, fb_index, Expectation::CudaWorks, &state.active).await {
            return Ok(());
        }
        if run.cancel.is_cancelled() {
            return Err(Stop::Cancelled);
        }
        Err(Stop::Failed(format!(
            "{why}, and the fallback torch {} {} did not pass the smoke test either",
            fb.choice.torch, fb.choice.variant
        )))
    }

    /// Run an install step with the fetched files in place of the pins.
    async fn install_files(
        &self,
        run: &mut Run<'_, S>,
        index: usize,
        step: &Step,
        acquired: Option<&Acquired>,
        opts: &InstallOptions,
    ) -> Result<(), Stop> {
        let mut step = step.clone();
        if let Some(a) = acquired {
            step.argv = install_argv(&step.argv, a);
        }
        run.changed = true;
        run.new_build = NewBuild::Yes;
        self.run_or_stop(run, index, &step, opts, crate::diagnose::TextSource::Install, Stop::Failed).await
    }

    /// The requirements under the constraints file. A failure keeps the verified CUDA build
    /// (it is committed) and names what pulled torch away.
    async fn requirements_stage(
        &self,
        run: &mut Run<'_, S>,
        index: usize,
        step: &Step,
        active: &Choice,
        opts: &InstallOptions,
    ) -> Result<(), Box<InstallReport>> {
        // The CUDA build passed: from here on it is what we keep.
        self.forget_previous(run).await;
        let result = self.run_step(run, index, step, opts).await;
        let why = match result {
            StepResult::Ok => {
                if self.smoke_stage(run, index, Expectation::CudaWorks, active).await {
                    return Ok(());
                }
                if run.cancel.is_cancelled() {
                    "the requirements step was cancelled".to_string()
                } else {
                    "after the requirements the CUDA build no longer passes the smoke test".to_string()
                }
            }
            StepResult::Cancelled => "the requirements step was cancelled".to_string(),
            StepResult::NotStarted(why) => format!("the requirements step could not start: {why}"),
            StepResult::Failed(out) => {
                let text = out.combined();
                let found = self.inspector.diagnose_output(crate::diagnose::TextSource::Requirements, &text);
                run.diagnose(index, found).await;
                match torch_puller(&text, active) {
                    Some(line) => format!("the requirements step failed: `{line}` asks for another torch build"),
                    None => format!("`{}` failed ({})", display_argv(&step.argv), out.state.describe()),
                }
            }
        };
        let outcome = if run.cancel.is_cancelled() { Outcome::Cancelled } else { Outcome::RequirementsFailed };
        let env = format!(
            "torch {} ({}) is installed and was verified on the GPU, but {why}. The CUDA build stays.",
            active.torch, active.variant
        );
        Err(Box::new(self.report(run, false, outcome, Some(active.clone()), env, None)))
    }

    /// The smoke test after the last change passed: delete the moved-aside build, close the
    /// journal.
    async fn commit(&self, run: &mut Run<'_, S>, index: usize, active: &Choice) {
        run.send(InstallEvent::StageStarted { index }).await;
        let started = Instant::now();
        let passed = run
            .last_smoke
            .as_ref()
            .is_some_and(|s| expectation_met(Expectation::CudaWorks, s, active) || (active.variant == "cpu" && s.ok));
        if passed {
            self.forget_previous(run).await;
        }
        run.finish_stage(index, passed, started).await;
    }

    async fn forget_previous(&self, run: &mut Run<'_, S>) {
        if let Some(p) = run.preserved.take() {
            self.swap.forget(&p).await;
        }
        if run.journaled {
            self.swap.close_journal().await;
            run.journaled = false;
        }
    }

    async fn journal(&self, run: &mut Run<'_, S>, stage: RunStage, active: &Choice) -> Result<(), Stop> {
        match self.swap.journal(&run.target, stage, run.previous.as_ref(), active, run.preserved.as_ref()).await {
            Ok(()) => {
                run.journaled = true;
                Ok(())
            }
            Err(why) if run.changed => Err(Stop::Failed(format!("the journal could not be written: {why}"))),
            Err(why) => Err(Stop::BeforeChange(format!(
                "the journal could not be written ({why}): check that torchup's state directory is writable"
            ))),
        }
    }

    /// `conda list --revisions`' last number, before a conda uninstall.
    async fn conda_revision(&self, step: &Step) -> Option<(String, u64)> {
        let prefix = step.argv.iter().position(|a| a == "-p").and_then(|i| step.argv.get(i + 1))?;
        let spec =
            RunSpec::new(["conda", "list", "-p", prefix.as_str(), "--revisions", "--json"].map(String::from).to_vec())
                .envs(&self.env);
        let out = self.runner.run(spec, None, CancellationToken::new()).await.ok()?;
        let revs: serde_json::Value = serde_json::from_str(&out.stdout).ok()?;
        let rev = revs.as_array()?.iter().filter_map(|r| r.get("rev").and_then(|v| v.as_u64())).max()?;
        Some((prefix.clone(), rev))
    }

    /// Smoke test after a stage; sends the result and any diagnoses; returns whether it met
    /// the expectation.
    async fn smoke_stage(&self, run: &mut Run<'_, S>, index: usize, expected: Expectation, choice: &Choice) -> bool {
        let report = self.inspector.smoke(&run.target, run.cancel).await;
        let met = expectation_met(expected, &report, choice);
        run.send(InstallEvent::Smoke { index, expected, met, report: Box::new(report.clone()) }).await;
        if !met {
            run.diagnose(index, report.diagnoses.clone()).await;
        }
        run.last_smoke = Some(report);
        met
    }

    /// Run one step: write its files, stream its output as events and into the log.
    async fn run_step(&self, run: &mut Run<'_, S>, index: usize, step: &Step, opts: &InstallOptions) -> StepResult {
        self.run_step_with(run, index, step, opts, run.cancel.clone()).await
    }

    async fn run_step_with(
        &self,
        run: &mut Run<'_, S>,
        index: usize,
        step: &Step,
        opts: &InstallOptions,
        cancel: CancellationToken,
    ) -> StepResult {
        run.send(InstallEvent::StageStarted { index }).await;
        let started = Instant::now();
        for (path, content) in &step.writes {
            let path = Path::new(path);
            if let Some(dir) = path.parent() {
                let _ = std::fs::create_dir_all(dir);
            }
            if let Err(e) = std::fs::write(path, content) {
                run.finish_stage(index, false, started).await;
                return StepResult::NotStarted(format!("cannot write {}: {e}", path.display()));
            }
            self.log.note(&format!("wrote {}:\n{content}", path.display()));
        }
        let mut spec = RunSpec::new(step.argv.clone()).envs(&self.env).env("PYTHONUNBUFFERED", "1");
        spec.timeout = opts.step_timeout;
        self.log.command_started(&spec);

        let (line_tx, mut line_rx) = mpsc::channel::<OutputLine>(256);
        let child = self.runner.run(spec, Some(line_tx), cancel);
        let forward = async {
            while let Some(line) = line_rx.recv().await {
                self.log.line(line.stream, &line.text);
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

    /// The run stops early: before a change nothing needs doing; after it the previous
    /// build is put back (a cancel too: the user asked to stop, not to lose torch).
    async fn stop(&self, run: &mut Run<'_, S>, stop: Stop, active: &Choice, opts: &InstallOptions) -> InstallReport {
        let (why, cancelled) = match stop {
            Stop::Cancelled => ("cancelled".to_string(), true),
            Stop::BeforeChange(why) | Stop::Failed(why) => (why, false),
        };
        if !cancelled {
            run.send(InstallEvent::Notice(format!("Stopped: {why}."))).await;
        }
        if !run.changed {
            if run.journaled {
                self.swap.close_journal().await;
                run.journaled = false;
            }
            let env = if cancelled {
                format!("Cancelled. {}", previous_state(run.previous.as_ref(), false))
            } else {
                previous_in_place(&why, run.previous.as_ref(), false)
            };
            let outcome = if cancelled { Outcome::Cancelled } else { Outcome::Unchanged };
            return self.report(run, false, outcome, None, env, None);
        }
        let _ = active;
        self.rollback_inner(run, opts, &why, cancelled).await
    }

    /// `pip uninstall` whatever of the family is installed now (the new build).
    async fn remove_new_family(&self, run: &mut Run<'_, S>, index: usize, opts: &InstallOptions) -> StepResult {
        let installed = self.inspector.installed(&run.target).await;
        // Without an install step, what is there is the previous build (a run killed before
        // or while its build was moved aside left it in place): removing it would destroy the
        // one working torch. After one, the new files go even when the new build has the
        // previous torch's version (a reinstall with other companions).
        let nothing_new = match run.new_build {
            NewBuild::No => true,
            NewBuild::Yes => false,
            NewBuild::Unknown => run.previous.is_some() && same_build(installed.as_ref(), run.previous.as_ref()),
        };
        if installed.is_none() || nothing_new {
            return StepResult::Ok;
        }
        let argv = uninstall_family(&run.target.to_string_lossy(), run.manager);
        let step = Step {
            stage: StepKind::Uninstall,
            argv,
            summary: "remove the new build".into(),
            changes: String::new(),
            writes: vec![],
        };
        // Putting things back must not be stopped halfway by the token that stopped the run.
        self.run_step_with(run, index, &step, opts, CancellationToken::new()).await
    }

    /// Put the previous build back: from the stash (offline, byte for byte), else conda's
    /// revision, else (with `--yes`) from the index it came from.
    async fn rollback_inner(
        &self,
        run: &mut Run<'_, S>,
        opts: &InstallOptions,
        why: &str,
        cancelled: bool,
    ) -> InstallReport {
        let what = match &run.previous {
            Some(p) => format!("put the previous build torch {} back", p.version),
            None => "remove the partly installed torch family (there was none before)".to_string(),
        };
        let index = run.add_stage(RunStage::Rollback, what).await;
        let started = Instant::now();
        let removed = self.remove_new_family(run, index, opts).await;
        if let StepResult::Failed(out) = &removed {
            let found = self.inspector.diagnose_output(crate::diagnose::TextSource::Rollback, &out.combined());
            run.diagnose(index, found).await;
        }
        let mut problem = None;
        if let Some(p) = run.preserved.clone() {
            match self.swap.put_back(&p).await {
                Ok(()) => run.preserved = None,
                Err(e) => problem = Some(e),
            }
        } else if let Some((prefix, rev)) = run.conda_revision.clone() {
            let argv = vec![
                "conda".to_string(),
                "install".into(),
                "-p".into(),
                prefix,
                "--revision".into(),
                rev.to_string(),
                "-y".into(),
            ];
            let step = Step {
                stage: StepKind::Install,
                argv,
                summary: "conda revision".into(),
                changes: String::new(),
                writes: vec![],
            };
            if let StepResult::Failed(out) = self.run_step_with(run, index, &step, opts, CancellationToken::new()).await
            {
                problem = Some(format!("conda could not return to revision {rev} ({})", out.state.describe()));
            }
        } else if run.previous.is_some() && opts.auto_rollback {
            for argv in restore_plan(run.previous.as_ref(), &run.target, run.manager, &opts.index_base) {
                let step = Step {
                    stage: StepKind::Install,
                    argv,
                    summary: "reinstall".into(),
                    changes: String::new(),
                    writes: vec![],
                };
                if !matches!(
                    self.run_step_with(run, index, &step, opts, CancellationToken::new()).await,
                    StepResult::Ok
                ) {
                    break;
                }
            }
        }
        let now = self.inspector.installed(&run.target).await;
        let restored = same_build(now.as_ref(), run.previous.as_ref());
        run.finish_stage(index, restored, started).await;
        if restored {
            if run.journaled {
                self.swap.close_journal().await;
                run.journaled = false;
            }
            let (outcome, env) = if cancelled {
                (Outcome::Cancelled, format!("Cancelled. {}", previous_state(run.previous.as_ref(), true)))
            } else {
                (Outcome::RolledBack, previous_in_place(why, run.previous.as_ref(), true))
            };
            return self.report(run, false, outcome, None, env, None);
        }
        // The journal stays: the next torchup names the previous build and `torchup
        // rollback` tries again from the stash.
        let commands = restore_plan(run.previous.as_ref(), &run.target, run.manager, &opts.index_base);
        let mut env = format!(
            "Stopped: {why}. The previous build was not restored{}; {}",
            problem.map(|p| format!(" ({p})")).unwrap_or_default(),
            describe_installed(now.as_ref())
        );
        if run.preserved.is_some() {
            env.push_str(" Its files are kept: run `torchup rollback` to put them back, or use the command below.");
        } else {
            env.push_str(" Restore it with the command below.");
        }
        let outcome = if cancelled { Outcome::Cancelled } else { Outcome::Broken };
        self.report(run, false, outcome, None, env, Some(commands))
    }

    /// Put back the previous build an interrupted run left in the journal (`torchup
    /// rollback`, the wizard's action): uninstall whatever is there now, restore the stash
    /// (conda: its revision; neither: reinstall from the index with `auto_rollback`).
    pub async fn rollback(
        &self,
        target: &Path,
        manager: Manager,
        opts: &InstallOptions,
        tx: &mpsc::Sender<InstallEvent>,
        cancel: &CancellationToken,
    ) -> InstallReport {
        let mut run = self.new_run(tx, cancel, target.to_path_buf(), manager);
        let report = match self.swap.adopt_journal(target).await {
            Err(why) => {
                let env = format!("Nothing was changed: the install journal could not be read ({why}).");
                self.report(&mut run, false, Outcome::Unchanged, None, env, None)
            }
            Ok(None) => {
                run.previous = self.inspector.installed(target).await;
                let env = format!(
                    "Nothing to roll back: no interrupted install was found for {}. {}",
                    target.display(),
                    describe_installed(run.previous.as_ref())
                );
                self.report(&mut run, false, Outcome::Unchanged, None, env, None)
            }
            Ok(Some(found)) => {
                run.previous = found.previous;
                run.preserved = found.preserved;
                run.conda_revision = found.conda_revision;
                run.new_build = NewBuild::after(found.stage);
                run.changed = true;
                run.journaled = true;
                let why = format!("an install was interrupted at '{}'", found.stage);
                self.rollback_inner(&mut run, opts, &why, false).await
            }
        };
        run.send(InstallEvent::Finished(Box::new(report.clone()))).await;
        report
    }

    fn report(
        &self,
        run: &mut Run<'_, S>,
        ok: bool,
        outcome: Outcome,
        installed: Option<Choice>,
        environment: String,
        restore: Option<Vec<Vec<String>>>,
    ) -> InstallReport {
        InstallReport {
            schema: INSTALL_SCHEMA,
            ok,
            outcome,
            previous: run.previous.clone(),
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

/// Where the run is: the build being installed and the files fetched for it.
struct Progress {
    active: Choice,
    acquired: Option<Acquired>,
    fallback_used: bool,
}

/// The plan's install argv with each pinned family member replaced by its fetched file and
/// the wheelhouse directory filled in. Without fetched dependencies, the dependency index
/// serves them (`--index-url` instead of `--no-index`; none: pip's own configuration).
pub(crate) fn install_argv(planned: &[String], acquired: &Acquired) -> Vec<String> {
    let mut out = Vec::with_capacity(planned.len());
    let mut after_find_links = false;
    for arg in planned {
        if after_find_links {
            out.push(acquired.links_dir.display().to_string());
            after_find_links = false;
            continue;
        }
        if arg == "--find-links" {
            after_find_links = true;
            out.push(arg.clone());
            continue;
        }
        if arg == "--no-index" && !acquired.dependencies_fetched {
            if let Some(url) = &acquired.dependency_index {
                out.push("--index-url".into());
                out.push(url.clone());
            }
            continue;
        }
        let name = arg.split("==").next().unwrap_or_default();
        let pkg = if name == "pytorch" { "torch" } else { name };
        match acquired.family.iter().find(|(n, _)| arg.contains("==") && n == pkg) {
            Some((_, path)) => out.push(path.display().to_string()),
            None => out.push(arg.clone()),
        }
    }
    out
}

/// The requirement in pip's output that asked for another torch build than the one
/// installed ("torch==2.3.0+cpu" from "oldlib 1.0 depends on torch==2.3.0+cpu").
pub(crate) fn torch_puller(text: &str, active: &Choice) -> Option<String> {
    static PULL: std::sync::LazyLock<regex::Regex> = std::sync::LazyLock::new(|| {
        // Invariant: a constant pattern that compiles (checked by the tests).
        regex::Regex::new(r"(?i)\b(torch(?:vision|audio)?\s*(?:===|==|>=|<=|~=|!=|<|>)\s*[0-9][0-9A-Za-z.+*]*)")
            .expect("valid regex")
    });
    let public = |v: &str| v.split('+').next().unwrap_or(v).to_string();
    let ours = |req: &str| {
        let Some((name, version)) = req.split_once("==") else { return false };
        let pinned = match name {
            "torch" => Some(active.torch.as_str()),
            "torchvision" => active.torchvision.as_deref(),
            "torchaudio" => active.torchaudio.as_deref(),
            _ => None,
        };
        pinned.is_some_and(|p| {
            public(version) == public(p) && version.split_once('+').is_none_or(|(_, label)| label == active.variant)
        })
    };
    let preferred = text.lines().filter(|l| l.contains("depends on") || l.contains("requires"));
    preferred.chain(text.lines()).find_map(|l| PULL.captures_iter(l).map(|c| c[1].replace(' ', "")).find(|r| !ours(r)))
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

/// The previous build's state in one sentence: untouched, or restored.
fn previous_state(previous: Option<&TorchFacts>, restored: bool) -> String {
    match (previous, restored) {
        (Some(p), false) => format!("Your previous build torch {} is still installed, untouched.", p.version),
        (Some(p), true) => format!("Rolled back: your previous build torch {} is installed again.", p.version),
        (None, false) => "Nothing was installed.".to_string(),
        (None, true) => "Rolled back: the torch family was removed again, as before.".to_string(),
    }
}

/// What to say when the previous build is in place: untouched, or restored by a rollback.
fn previous_in_place(why: &str, previous: Option<&TorchFacts>, restored: bool) -> String {
    format!("Stopped: {why}. {}", previous_state(previous, restored))
}

fn describe_installed(now: Option<&TorchFacts>) -> String {
    match now {
        None => "No torch is installed in this environment now.".into(),
        Some(t) => format!("torch {} ({}) is installed now.", t.version, t.variant()),
    }
}

/// Whether a smoke report shows what a stage should have achieved.
pub(crate) fn expectation_met(expected: Expectation, report: &SmokeReport, choice: &Choice) -> bool {
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn install_argv_takes_the_fetched_files() {
        let a = Acquired {
            family: vec![
                ("torch".into(), PathBuf::from("/wh/links/torch-2.5.1+cu124-cp311-cp311-linux_x86_64.whl")),
                (
                    "torchvision".into(),
                    PathBuf::from("/wh/links/torchvision-0.20.1+cu124-cp311-cp311-linux_x86_64.whl"),
                ),
            ],
            links_dir: PathBuf::from("/wh/links"),
            dependencies_fetched: true,
            ..Acquired::default()
        };
        let planned: Vec<String> = [
            "/p/python",
            "-m",
            "pip",
            "install",
            "--no-index",
            "--find-links",
            "<wheelhouse>",
            "torch==2.5.1+cu124",
            "torchvision==0.20.1+cu124",
        ]
        .map(String::from)
        .to_vec();
        let got = install_argv(&planned, &a);
        assert_eq!(
            got,
            [
                "/p/python",
                "-m",
                "pip",
                "install",
                "--no-index",
                "--find-links",
                "/wh/links",
                "/wh/links/torch-2.5.1+cu124-cp311-cp311-linux_x86_64.whl",
                "/wh/links/torchvision-0.20.1+cu124-cp311-cp311-linux_x86_64.whl"
            ]
        );
        let partial =
            Acquired { dependencies_fetched: false, dependency_index: Some("https://x/whl/cu124".into()), ..a };
        let got = install_argv(&planned, &partial);
        assert_eq!(got[4..6], ["--index-url", "https://x/whl/cu124"]);
    }

    #[test]
    fn the_line_that_pulled_torch_back_is_named() {
        let text = "ERROR: Cannot install -r req.txt (line 3) and torch==2.5.1+cu124 because these package versions have conflicting dependencies.\n\
                    The conflict is caused by:\n    The user requested torch==2.5.1+cu124\n    oldlib 1.0 depends on torch==2.3.0+cpu\n";
        let active = Choice {
            torch: "2.5.1".into(),
            variant: "cu124".into(),
            index_url: String::new(),
            manager: Manager::Pip,
            torchvision: None,
            torchaudio: None,
        };
        assert_eq!(torch_puller(text, &active).as_deref(), Some("torch==2.3.0+cpu"));
        assert_eq!(torch_puller("ERROR: network down", &active), None);
    }
}
