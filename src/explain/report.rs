//! The `--json` document and the human text of an [`Explanation`].

use serde::{Deserialize, Serialize};

use super::{Explanation, Finding};

/// The layout of [`ExplainReport`].
pub const EXPLAIN_SCHEMA: u32 = 1;

/// What nothing recognised means, in one sentence.
pub(crate) const UNRECOGNISED: &str = "Not a known setup problem: attach `torchup doctor` to a bug report.";

/// `torchup explain --json`: one document.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ExplainReport {
    pub schema: u32,
    /// Each finding as `explain::Finding` serializes it: id, title, explanation, fix,
    /// evidence_lines, occurrences, confidence, notes.
    pub diagnoses: Vec<Finding>,
    /// Nothing was recognised: the input is not a known setup problem.
    pub unrecognised: bool,
    /// The encoding the input was read in.
    pub encoding: String,
    pub lines_read: u64,
}

impl ExplainReport {
    pub fn new(e: &Explanation) -> ExplainReport {
        ExplainReport {
            schema: EXPLAIN_SCHEMA,
            diagnoses: e.findings.clone(),
            unrecognised: !e.recognised(),
            encoding: e.encoding.to_string(),
            lines_read: e.lines,
        }
    }
}

/// What a line of the text report is: the front ends style a line by its kind, never by
/// parsing its text.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ReportLineKind {
    /// "Not a known setup problem: …"
    Unrecognised,
    /// A finding's first line: "F01  title  (high confidence)".
    Heading,
    /// A labelled line under it: "  line 3: …", "  why: …", "  note: …", "  fix: …".
    Detail,
    /// A fix's further lines, aligned under its first.
    Continuation,
    /// Between two findings.
    Blank,
}

/// One line of the text report.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReportLine {
    pub kind: ReportLineKind,
    /// The line as printed (details indented two, continuations seven).
    pub text: String,
}

/// The findings as plain text lines, each with its kind (the CLI paints headings; the
/// wizard also indents by kind).
pub fn render_text(e: &Explanation) -> Vec<ReportLine> {
    let line = |kind, text: String| ReportLine { kind, text };
    let mut out = Vec::new();
    if !e.recognised() {
        out.push(line(ReportLineKind::Unrecognised, UNRECOGNISED.to_string()));
        return out;
    }
    for (i, f) in e.findings.iter().enumerate() {
        if i > 0 {
            out.push(line(ReportLineKind::Blank, String::new()));
        }
        out.push(line(
            ReportLineKind::Heading,
            format!("{}  {}  ({} confidence)", f.id, f.title, f.confidence.as_str()),
        ));
        for ev in &f.evidence {
            out.push(line(ReportLineKind::Detail, format!("  line {}: {}", ev.line, ev.text.trim())));
        }
        if f.occurrences > 1 {
            out.push(line(ReportLineKind::Detail, format!("  (seen {} times)", f.occurrences)));
        }
        out.push(line(ReportLineKind::Detail, format!("  why: {}", f.explanation)));
        for note in &f.notes {
            out.push(line(ReportLineKind::Detail, format!("  note: {note}")));
        }
        for (j, text) in f.fix.lines().enumerate() {
            out.push(if j == 0 {
                line(ReportLineKind::Detail, format!("  fix: {text}"))
            } else {
                line(ReportLineKind::Continuation, format!("       {text}"))
            });
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::explain::{Confidence, Evidence};

    #[test]
    fn every_line_says_what_it_is() {
        let finding = |id: &str, title: &str| Finding {
            diagnosis: crate::finding::Finding {
                id: id.into(),
                // A title that looks like another finding's heading changes nothing.
                title: title.into(),
                explanation: "because".into(),
                fix: "first\nsecond".into(),
            },
            evidence: vec![Evidence { line: 3, text: "F02  not a heading".into() }],
            occurrences: 2,
            confidence: Confidence::High,
            notes: vec!["this GPU".into()],
        };
        let e = Explanation {
            findings: vec![finding("F01", "one"), finding("F02", "F01  two")],
            lines: 9,
            bytes: 90,
            encoding: "UTF-8",
        };
        let kinds: Vec<ReportLineKind> = render_text(&e).iter().map(|l| l.kind).collect();
        use ReportLineKind::*;
        let one = [Heading, Detail, Detail, Detail, Detail, Detail, Continuation];
        assert_eq!(kinds, [&one[..], &[Blank], &one[..]].concat());
        let lines = render_text(&e);
        assert_eq!(lines[0].text, "F01  one  (high confidence)");
        assert_eq!(lines[6].text, "       second");

        let none = Explanation { findings: vec![], lines: 1, bytes: 1, encoding: "UTF-8" };
        assert_eq!(render_text(&none).iter().map(|l| l.kind).collect::<Vec<_>>(), [Unrecognised]);
    }
}
