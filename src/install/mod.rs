//! Staged install, acquire then swap: baseline smoke → fetch every file (nothing changes)
//! → journal → move the installed family aside → smoke → install the fetched files offline
//! → smoke → requirements → smoke → commit, with fallback and an offline rollback from the
//! stash. Emits [`InstallEvent`]s that the CLI printer and the TUI render; knows nothing
//! about either.

pub(crate) mod engine;
#[cfg(test)]
mod engine_tests;
pub(crate) mod inspector;
pub mod journal;
pub mod lock;
pub(crate) mod log;
pub(crate) mod real_swap;
pub(crate) mod restore;
pub mod stage;
pub mod stash;
pub(crate) mod swap;

use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::diagnose::Diagnosis;
use crate::exec::Stream;
use crate::plan::Choice;
use crate::smoke::SmokeReport;

/// What the smoke test after a stage is expected to show.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Expectation {
    /// Baseline: whatever is there, recorded.
    Anything,
    /// After uninstall: torch cannot be imported.
    TorchAbsent,
    /// After install / requirements: the CUDA build imports and computes on the GPU.
    CudaWorks,
}

impl Expectation {
    /// "smoke (expected torch absent): as expected": the one wording of a stage's smoke
    /// result, for the CLI's progress lines and the wizard's log.
    pub fn outcome(self, met: bool) -> String {
        let what = match self {
            Expectation::Anything => "recorded",
            Expectation::TorchAbsent => "expected torch absent",
            Expectation::CudaWorks => "expected CUDA to work",
        };
        let verdict = if met { "as expected" } else { "NOT as expected" };
        format!("smoke ({what}): {verdict}")
    }
}

/// One stage of the run, as shown in the stage list.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StageInfo {
    /// Position in the stage list.
    pub index: usize,
    /// What the stage does (its name in the list: `stage.as_str()`).
    pub stage: stage::RunStage,
    /// One line for humans.
    pub summary: String,
}

/// Everything the engine reports while installing, in order.
#[derive(Debug, Clone, PartialEq)]
pub enum InstallEvent {
    /// The full stage list, sent first (and again when fallback/rollback adds stages).
    Stages(Vec<StageInfo>),
    StageStarted {
        index: usize,
    },
    /// A line of child output for the stage's log.
    Line {
        index: usize,
        stream: Stream,
        text: String,
    },
    /// A download event of torchup's fetcher (per file: started, bytes, retry, verified).
    Fetch {
        index: usize,
        event: crate::fetch::FetchEvent,
    },
    /// A download or phase progress update.
    Progress {
        index: usize,
        label: String,
        done: u64,
        total: Option<u64>,
    },
    StageFinished {
        index: usize,
        ok: bool,
        elapsed: Duration,
    },
    /// The smoke test after a stage, and whether it matched the expectation.
    Smoke {
        index: usize,
        expected: Expectation,
        met: bool,
        report: Box<SmokeReport>,
    },
    Diagnosis {
        index: usize,
        diagnosis: Diagnosis,
    },
    /// Free text for the user ("cu124 not found for Python 3.14; trying cu121").
    Notice(String),
    /// The run is over.
    Finished(Box<InstallReport>),
}

/// How a run ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Outcome {
    /// The planned (or fallback) CUDA build is installed and verified.
    Installed,
    /// Nothing needed doing.
    NothingToDo,
    /// A step failed before the environment changed: the previous build is untouched.
    Unchanged,
    /// A step failed after the environment changed and the previous build was not restored
    /// yet (no `--yes`): `restore_commands` say how; the wizard offers it as an action.
    Failed,
    /// The CUDA build is installed and verified, but the requirements step failed.
    RequirementsFailed,
    /// A step failed and the previous build was put back.
    RolledBack,
    /// A step failed and the previous build could not be restored: `restore_command` says how.
    Broken,
    /// The user cancelled; `environment` says what state things are in.
    Cancelled,
    /// --dry-run: nothing was changed.
    DryRun,
}

/// The final report (`install --json`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct InstallReport {
    pub schema: u32,
    pub ok: bool,
    pub outcome: Outcome,
    /// What was installed before.
    pub previous: Option<crate::facts::TorchFacts>,
    /// The build that was installed (None when rolled back / failed).
    pub installed: Option<Choice>,
    /// One sentence on the state of the environment now.
    pub environment: String,
    /// The exact command that restores the previous build, when it was not restored.
    pub restore_command: Option<Vec<String>>,
    /// All restore commands (builds from several indexes need more than one).
    #[serde(default)]
    pub restore_commands: Vec<Vec<String>>,
    pub diagnoses: Vec<Diagnosis>,
    /// The last smoke result.
    pub smoke: Option<SmokeReport>,
    /// Full log of this run.
    pub log_path: Option<String>,
}

impl InstallReport {
    /// A run that stopped before changing anything (refused plan, blocking preflight issue).
    pub fn unchanged(previous: Option<crate::facts::TorchFacts>, environment: String) -> InstallReport {
        InstallReport {
            schema: engine::INSTALL_SCHEMA,
            ok: false,
            outcome: Outcome::Unchanged,
            previous,
            installed: None,
            environment,
            restore_command: None,
            restore_commands: Vec::new(),
            diagnoses: Vec::new(),
            smoke: None,
            log_path: None,
        }
    }
}
