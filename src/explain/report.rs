//! The `--json` document and the human text of an [`Explanation`].

use serde::{Deserialize, Serialize};

use super::{Confidence, Evidence, Explanation, Finding};

/// The layout of [`ExplainReport`].
pub const EXPLAIN_SCHEMA: u32 = 1;

/// What nothing recognised means, in one sentence.
pub(crate) const UNRECOGNISED: &str = "Not a known setup problem: attach `torchup doctor` to a bug report.";

/// `torchup explain --json`: one document.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ExplainReport {
    pub schema: u32,
    pub diagnoses: Vec<ReportDiagnosis>,
    /// Nothing was recognised: the input is not a known setup problem.
    pub unrecognised: bool,
    /// The encoding the input was read in.
    pub encoding: String,
    pub lines_read: u64,
}

/// One finding in the document.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ReportDiagnosis {
    pub id: String,
    pub title: String,
    pub explanation: String,
    pub fix: String,
    pub evidence_lines: Vec<Evidence>,
    pub occurrences: u64,
    pub confidence: Confidence,
    pub notes: Vec<String>,
}

impl ExplainReport {
    pub fn new(e: &Explanation) -> ExplainReport {
        ExplainReport {
            schema: EXPLAIN_SCHEMA,
            diagnoses: e.findings.iter().map(ReportDiagnosis::from).collect(),
            unrecognised: !e.recognised(),
            encoding: e.encoding.to_string(),
            lines_read: e.lines,
        }
    }
}

impl From<&Finding> for ReportDiagnosis {
    fn from(f: &Finding) -> Self {
        ReportDiagnosis {
            id: f.id.clone(),
            title: f.title.clone(),
            explanation: f.explanation.clone(),
            fix: f.fix.clone(),
            evidence_lines: f.evidence.clone(),
            occurrences: f.occurrences,
            confidence: f.confidence,
            notes: f.notes.clone(),
        }
    }
}

/// The findings as plain text lines (the CLI paints the first line of each finding).
pub fn render_text(e: &Explanation) -> Vec<String> {
    let mut out = Vec::new();
    if !e.recognised() {
        out.push(UNRECOGNISED.to_string());
        return out;
    }
    for (i, f) in e.findings.iter().enumerate() {
        if i > 0 {
            out.push(String::new());
        }
        out.push(format!("{}  {}  ({} confidence)", f.id, f.title, f.confidence.as_str()));
        for ev in &f.evidence {
            out.push(format!("  line {}: {}", ev.line, ev.text.trim()));
        }
        if f.occurrences > 1 {
            out.push(format!("  (seen {} times)", f.occurrences));
        }
        out.push(format!("  why: {}", f.explanation));
        for note in &f.notes {
            out.push(format!("  note: {note}"));
        }
        for (j, line) in f.fix.lines().enumerate() {
            out.push(if j == 0 { format!("  fix: {line}") } else { format!("       {line}") });
        }
    }
    out
}
