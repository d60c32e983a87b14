//! Diagnoses: output and probe signatures → what went wrong and the fix.
//! Rules live in assets/diagnoses.toml (built from reference/failure-catalog.md).

use serde::{Deserialize, Serialize};

/// A finding, ready to show.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Diagnosis {
    /// Catalog id, e.g. "F01".
    pub id: String,
    /// One line: what is wrong.
    pub title: String,
    /// Why, in a sentence or two (captures filled in).
    pub explanation: String,
    /// What to do, for the user's OS.
    pub fix: String,
}

impl Diagnosis {
    /// The `{id, title, fix}` reference used in reports.
    pub fn as_ref(&self) -> crate::smoke::DiagnosisRef {
        crate::smoke::DiagnosisRef { id: self.id.clone(), title: self.title.clone(), fix: self.fix.clone() }
    }
}
