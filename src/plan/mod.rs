//! The planner: a pure function of Facts + Choice + compat data → Plan.
//!
//! These types are the `torchup plan --json` contract (docs/contract.md); contract fields
//! must never be renamed. The same Plan drives the TUI, `install --yes` and `--dry-run`.

use serde::{Deserialize, Serialize};

pub(crate) mod catalog;
pub(crate) mod check;
pub(crate) mod decide;
pub(crate) mod intent;
pub(crate) mod machine;
mod planner;
pub(crate) mod rows;
pub mod steps;

pub use planner::plan;

/// Schema version of the plan document.
pub const PLAN_SCHEMA: u32 = 1;

/// Which package manager runs the steps.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum Manager {
    #[default]
    Pip,
    Uv,
    Conda,
}

impl Manager {
    pub fn as_str(self) -> &'static str {
        match self {
            Manager::Pip => "pip",
            Manager::Uv => "uv",
            Manager::Conda => "conda",
        }
    }
}

/// What the user asked for (CLI choice flags, or the wizard's Choose screen).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
pub struct Request {
    /// "auto" (None) or an explicit variant such as "cu124".
    pub variant: Option<String>,
    /// An explicit torch version ("2.5.1"), or None for the newest that works.
    pub torch: Option<String>,
    /// Keep the installed torch version, change only the build.
    pub keep_version: bool,
    pub manager: Manager,
    /// A requirements file to install after torch, under a constraints file.
    pub requirements: Option<String>,
    /// Plan an invalid explicit choice anyway.
    pub force: bool,
    /// Index base URL (default https://download.pytorch.org/whl).
    pub index_url: String,
    /// Absolute directory for a new `.venv` (PEP 668 interpreters) and for resolving a
    /// relative requirements path (the CLI passes its working directory).
    #[serde(default)]
    pub workdir: Option<String>,
    /// Absolute path the requirements step's constraints file is written to.
    #[serde(default)]
    pub constraints_file: Option<String>,
    /// Absolute directory the install step reads the fetched files from (`--find-links`);
    /// the session fills in the environment's directory in torchup's wheelhouse.
    #[serde(default)]
    pub links_dir: Option<String>,
}

/// The chosen build.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Choice {
    /// contract: "2.9.1".
    pub torch: String,
    /// contract: "cu130".
    pub variant: String,
    /// contract: "<base>/<variant>".
    pub index_url: String,
    /// contract
    pub manager: Manager,
    /// Exact companion pins chosen with it.
    #[serde(default)]
    pub torchvision: Option<String>,
    #[serde(default)]
    pub torchaudio: Option<String>,
}

/// One (torch, variant) candidate with its verdict.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Candidate {
    /// contract
    pub variant: String,
    /// contract
    pub torch: String,
    /// contract: every check passed.
    pub ok: bool,
    /// contract: human reasons, one per check that matters ("driver 581.29 ≥ 580 (cu130 floor)").
    pub reasons: Vec<String>,
    /// Per-check verdicts for the ✓/✗ columns; None = not applicable/unknown.
    #[serde(default)]
    pub driver_ok: Option<bool>,
    #[serde(default)]
    pub arch_ok: Option<bool>,
    #[serde(default)]
    pub python_ok: Option<bool>,
    /// The decision rests on data marked unconfirmed / assumed.
    #[serde(default)]
    pub unconfirmed: bool,
    /// This is the recommendation.
    #[serde(default)]
    pub recommended: bool,
}

/// What a step is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum StepKind {
    /// Create a venv (PEP 668 interpreters).
    Venv,
    /// Download and verify every file of the build before anything changes.
    Fetch,
    Uninstall,
    Install,
    Requirements,
    Verify,
}

impl StepKind {
    pub fn as_str(self) -> &'static str {
        match self {
            StepKind::Venv => "venv",
            StepKind::Fetch => "fetch",
            StepKind::Uninstall => "uninstall",
            StepKind::Install => "install",
            StepKind::Requirements => "requirements",
            StepKind::Verify => "verify",
        }
    }
}

/// One step: data, never a shell string.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Step {
    /// contract
    pub stage: StepKind,
    /// contract: argv[0] is the program.
    pub argv: Vec<String>,
    /// contract: one line for humans.
    pub summary: String,
    /// What it changes in the environment.
    #[serde(default)]
    pub changes: String,
    /// Files the step needs written first (e.g. the constraints file): (path, content).
    #[serde(default)]
    pub writes: Vec<(String, String)>,
}

/// The plan document.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Plan {
    /// contract
    pub schema: u32,
    /// contract: null when nothing can or need be installed.
    pub choice: Option<Choice>,
    /// contract
    pub candidates: Vec<Candidate>,
    /// contract
    pub steps: Vec<Step>,
    /// contract
    pub nothing_to_do: bool,
    /// contract
    pub warnings: Vec<String>,
    /// One line that explains the choice.
    #[serde(default)]
    pub explanation: String,
    /// The guide's "if that fails, try cu121": a second build and its install steps.
    #[serde(default)]
    pub fallback: Option<Fallback>,
    /// Where the availability data came from: "bundled", "index", "cache".
    #[serde(default)]
    pub data_source: String,
    /// The bundled data's version/date.
    #[serde(default)]
    pub data_version: String,
    /// The interpreter the steps install into (differs from the detected one when the
    /// plan creates a venv for an externally-managed Python). The smoke test runs it.
    #[serde(default)]
    pub target_python: Option<String>,
    /// Why an explicit choice was refused (the CLI exits 1); None otherwise.
    #[serde(default)]
    pub refused: Option<String>,
}

/// A planned fallback build.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Fallback {
    pub choice: Choice,
    pub steps: Vec<Step>,
}
