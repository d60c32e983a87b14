//! The stages of an install run, as one enum shared by the engine, the journal and the
//! front ends (no stage names as strings). The plan's contract stages (`plan::StepKind`) map
//! onto these; `Baseline`, `Fallback`, `Rollback` and `Commit` are the engine's own.

use serde::{Deserialize, Serialize};

/// One stage of a run, in the order a successful run passes them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum RunStage {
    /// Smoke test of what is installed before anything changes.
    Baseline,
    /// Create a venv (PEP 668 interpreters).
    Venv,
    /// Download and verify every file of the new build into the wheelhouse.
    Fetch,
    /// Move the installed family aside into the stash (the guide's "uninstall").
    Uninstall,
    /// Install the fetched files, offline, from the wheelhouse.
    Install,
    /// The user's requirements under a constraints file.
    Requirements,
    /// The embedded smoke test of the result.
    Verify,
    /// The planned fallback build (fetch and install).
    Fallback,
    /// Putting the previous build back from the stash.
    Rollback,
    /// Forgetting the stash and the journal once the new build passed.
    Commit,
}

impl RunStage {
    /// The stable lower-case name (JSON, journal, logs).
    pub fn as_str(self) -> &'static str {
        match self {
            RunStage::Baseline => "baseline",
            RunStage::Venv => "venv",
            RunStage::Fetch => "fetch",
            RunStage::Uninstall => "uninstall",
            RunStage::Install => "install",
            RunStage::Requirements => "requirements",
            RunStage::Verify => "verify",
            RunStage::Fallback => "fallback",
            RunStage::Rollback => "rollback",
            RunStage::Commit => "commit",
        }
    }
}

/// The engine stage a plan step runs as.
impl From<crate::plan::StepKind> for RunStage {
    fn from(stage: crate::plan::StepKind) -> RunStage {
        use crate::plan::StepKind;
        match stage {
            StepKind::Venv => RunStage::Venv,
            StepKind::Fetch => RunStage::Fetch,
            StepKind::Uninstall => RunStage::Uninstall,
            StepKind::Install => RunStage::Install,
            StepKind::Requirements => RunStage::Requirements,
            StepKind::Verify => RunStage::Verify,
        }
    }
}

impl std::fmt::Display for RunStage {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip_through_json() {
        for s in [
            RunStage::Baseline,
            RunStage::Venv,
            RunStage::Fetch,
            RunStage::Uninstall,
            RunStage::Install,
            RunStage::Requirements,
            RunStage::Verify,
            RunStage::Fallback,
            RunStage::Rollback,
            RunStage::Commit,
        ] {
            let json = serde_json::to_string(&s).unwrap();
            assert_eq!(json, format!("\"{}\"", s.as_str()));
            assert_eq!(serde_json::from_str::<RunStage>(&json).unwrap(), s);
        }
    }
}
