//! A finding: something wrong, with its catalogue id and the fix. Preflight checks, the
//! diagnosis rules (over pip output, logs, facts) and the smoke test's diagnoses all produce
//! this one type, with ids from one catalogue (assets/diagnoses.toml, listed in
//! docs/diagnoses.md). It depends on nothing, so every module can use it without an import
//! cycle (smoke reports carry findings; the rules that make them read smoke reports).

use serde::{Deserialize, Serialize};

/// A finding, ready to show.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Finding {
    /// Catalogue id, e.g. "F01".
    pub id: String,
    /// One line: what is wrong.
    pub title: String,
    /// Why, in a sentence or two (captures filled in); may be empty.
    #[serde(default)]
    pub explanation: String,
    /// What to do, for the user's OS.
    pub fix: String,
}
