//! `torchup explain`: any error output → the catalogue's findings, with the lines that
//! prove them and the fix for this machine.
//!
//! The input may be a pasted traceback, a saved pip log or a whole training log, in any
//! of the encodings a Windows or Linux console produces ([`decode`]), with colour codes and
//! progress redraws ([`normalize`]). It is streamed with bounded memory ([`scan`],
//! [`stream`]); the kept lines go through the same rules engine as torchup's own runs
//! ([`Rules::diagnose_log`]), so verify, doctor, install and explain give one answer.
//!
//! What this module adds to the engine: evidence (the matched lines and how often they
//! occurred), the root cause first (findings ordered by where their evidence starts, with
//! advisory warnings last), a confidence per finding, and notes from the detected facts
//! that make a fix concrete (this GPU's memory, its compute capability against the build).

pub(crate) mod decode;
pub(crate) mod normalize;
pub(crate) mod report;
pub(crate) mod scan;
pub(crate) mod stream;

use std::io::Read;

use serde::{Deserialize, Serialize};

use crate::diagnose::{OsContext, RuleKind, Rules};
use crate::facts::{Facts, Os};

pub use decode::NotText;
pub use report::{EXPLAIN_SCHEMA, ExplainReport, ReportLine, ReportLineKind, render_text};
use scan::{Excerpt, Signatures, line_index};
use stream::LineStream;

/// Evidence lines shown per finding.
pub const MAX_EVIDENCE_LINES: usize = 4;

/// How sure a finding is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Confidence {
    /// A warning worth acting on, not the error that stopped the program.
    Low,
    /// A generic symptom with more than one known cause (the fix lists the likely one).
    Medium,
    /// A signature that names its cause.
    High,
}

impl Confidence {
    /// The catalogue ids whose message has several causes, and warnings that do not stop
    /// a program. Every other id is a signature that names its cause.
    pub fn of(id: &str) -> Confidence {
        match id {
            "F28" => Confidence::Low,
            "F08" | "F10" | "F13" | "F31" | "F35" | "F39" | "F44" | "X01" => Confidence::Medium,
            _ => Confidence::High,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Confidence::Low => "low",
            Confidence::Medium => "medium",
            Confidence::High => "high",
        }
    }
}

/// One line of the input that proves a finding.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Evidence {
    /// 1-based line number in the input.
    pub line: u64,
    pub text: String,
}

/// One finding: the engine's diagnosis (the catalogue's one finding type; its fix is for
/// this machine's OS and shell, as verify and doctor word it) plus what explain adds.
/// Serialized flat in `explain --json`'s `diagnoses`: `id`, `title`, `explanation`, `fix`,
/// then `evidence_lines`, `occurrences`, `confidence`, `notes`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Finding {
    #[serde(flatten)]
    pub diagnosis: crate::finding::Finding,
    #[serde(rename = "evidence_lines")]
    pub evidence: Vec<Evidence>,
    /// How many times the signature occurred in the whole input.
    pub occurrences: u64,
    pub confidence: Confidence,
    /// What the detected facts add (this GPU, this build).
    pub notes: Vec<String>,
}

impl std::ops::Deref for Finding {
    type Target = crate::finding::Finding;
    fn deref(&self) -> &crate::finding::Finding {
        &self.diagnosis
    }
}

/// The answer for one input.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Explanation {
    /// Root cause first.
    pub findings: Vec<Finding>,
    /// Lines read.
    pub lines: u64,
    /// Bytes read.
    pub bytes: u64,
    /// The encoding the input was read in ("UTF-8", "UTF-16LE", "GBK", …).
    pub encoding: &'static str,
}

impl Explanation {
    pub fn recognised(&self) -> bool {
        !self.findings.is_empty()
    }
}

/// Why an input could not be explained.
#[derive(Debug, thiserror::Error)]
pub enum ExplainError {
    #[error("{0}")]
    NotText(#[from] NotText),
    #[error("cannot read the input: {0}")]
    Io(#[from] std::io::Error),
}

/// Who the fixes are for.
#[derive(Debug, Clone, PartialEq)]
pub struct Target {
    pub ctx: OsContext,
    /// Detected (or loaded) facts: they sharpen the fixes. None = explain the text alone.
    pub facts: Option<Facts>,
}

impl Target {
    /// This machine, facts unknown.
    pub fn here() -> Target {
        Target { ctx: OsContext::current(), facts: None }
    }

    /// The machine the facts describe.
    pub fn for_facts(facts: Facts) -> Target {
        Target { ctx: OsContext::from_facts(&facts), facts: Some(facts) }
    }
}

/// The explainer over a rule set (the bundled one for everything torchup ships).
pub struct Explainer<'a> {
    rules: &'a Rules,
    sigs: &'a Signatures,
}

impl Explainer<'static> {
    pub fn bundled() -> Explainer<'static> {
        Explainer { rules: Rules::bundled(), sigs: Signatures::bundled() }
    }
}

impl<'a> Explainer<'a> {
    pub fn new(rules: &'a Rules, sigs: &'a Signatures) -> Explainer<'a> {
        Explainer { rules, sigs }
    }

    /// A stream to feed bytes into (the output of a running command).
    pub fn stream(&self) -> LineStream<'a> {
        LineStream::new(self.sigs)
    }

    /// Read everything from `input` in 64 KiB blocks.
    pub fn explain_reader(&self, mut input: impl Read, target: &Target) -> Result<Explanation, ExplainError> {
        let mut stream = self.stream();
        let mut buf = vec![0u8; 64 * 1024];
        loop {
            let n = match input.read(&mut buf) {
                Ok(0) => break,
                Ok(n) => n,
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
                Err(e) => return Err(e.into()),
            };
            stream.push(&buf[..n])?;
        }
        Ok(self.finish(stream, target)?)
    }

    /// Explain bytes already in memory.
    pub fn explain_bytes(&self, bytes: &[u8], target: &Target) -> Result<Explanation, NotText> {
        let mut stream = self.stream();
        stream.push(bytes)?;
        self.finish(stream, target)
    }

    /// Explain text (a paste in the wizard).
    pub fn explain_text(&self, text: &str, target: &Target) -> Explanation {
        // UTF-8 text is always text: the sniffing cannot refuse it (no NUL survives
        // into a Rust string from a paste, and if one does it is treated as a control).
        let cleaned: String = text.chars().map(|c| if c == '\0' { ' ' } else { c }).collect();
        match self.explain_bytes(cleaned.as_bytes(), target) {
            Ok(e) => e,
            Err(_) => Explanation { encoding: "UTF-8", ..Explanation::default() },
        }
    }

    /// Finish a stream: diagnose what it kept.
    pub fn finish(&self, stream: LineStream<'_>, target: &Target) -> Result<Explanation, NotText> {
        let (excerpt, detected, bytes) = stream.finish()?;
        let findings = self.findings(&excerpt, target);
        Ok(Explanation { findings, lines: excerpt.total_lines, bytes, encoding: detected.name() })
    }

    fn findings(&self, excerpt: &Excerpt, target: &Target) -> Vec<Finding> {
        let (text, starts) = excerpt.text();
        let diagnoses = self.rules.diagnose_log(&text, &target.ctx);
        let mut findings: Vec<(u64, Finding)> = diagnoses
            .into_iter()
            .map(|d| {
                let (evidence, occurrences) = self.evidence(&d.id, &text, &starts, excerpt);
                let first = evidence.first().map(|e| e.line).unwrap_or(u64::MAX);
                let confidence = Confidence::of(&d.id);
                let notes = target.facts.as_ref().map(|f| facts_notes(&d.id, f, &target.ctx)).unwrap_or_default();
                let finding = Finding { diagnosis: d, evidence, occurrences, confidence, notes };
                (first, finding)
            })
            .collect();
        // Root cause first: where the evidence starts, advisory warnings after errors.
        findings.sort_by_key(|(first, f)| (f.confidence == Confidence::Low, *first));
        findings.into_iter().map(|(_, f)| f).collect()
    }

    /// The lines the finding's signatures matched, and how often they matched in the
    /// whole input.
    fn evidence(&self, id: &str, text: &str, starts: &[usize], excerpt: &Excerpt) -> (Vec<Evidence>, u64) {
        let rules: Vec<usize> = self
            .rules
            .rules()
            .iter()
            .enumerate()
            .filter(|(_, r)| r.spec.id == id && r.spec.kind == RuleKind::Text)
            .map(|(i, _)| i)
            .collect();
        let mut first: Option<(usize, usize)> = None;
        for &rule in &rules {
            for re in self.sigs.patterns_of(rule) {
                if let Some(m) = re.find(text)
                    && first.is_none_or(|(s, _)| m.start() < s)
                {
                    first = Some((m.start(), m.end()));
                }
            }
        }
        let occurrences = (0..excerpt.counts.len())
            .filter(|i| {
                let (rule, is_pattern) = self.sigs.owner(*i);
                is_pattern && rules.contains(&rule)
            })
            .map(|i| excerpt.counts[i])
            .max()
            .unwrap_or(0)
            .max(u64::from(first.is_some()));
        let Some((start, end)) = first else { return (Vec::new(), occurrences) };
        let from = line_index(starts, start);
        let to = line_index(starts, end.saturating_sub(1).max(start));
        let evidence = (from..=to)
            .filter_map(|i| excerpt.lines.get(i))
            .filter(|(_, l)| !l.trim().is_empty())
            .take(MAX_EVIDENCE_LINES)
            .map(|(no, l)| Evidence { line: *no, text: l.clone() })
            .collect();
        (evidence, occurrences)
    }
}

/// What the facts of the machine add to a finding.
pub fn facts_notes(id: &str, facts: &Facts, ctx: &OsContext) -> Vec<String> {
    let mut notes = Vec::new();
    let gpu = facts.gpus.first();
    let torch = facts.torch.as_ref();
    // The facts in `describe`'s one wording (the torch line judged by the driver rule).
    let build = torch.map(|_| crate::describe::torch(facts));
    match id {
        "F26" => {
            if let Some(g) = gpu {
                notes.push(format!("This machine: {} · {}.", g.name, crate::describe::memory(g)));
                if g.memory_mib.is_some_and(|m| m <= 6 * 1024) {
                    notes.push(
                        "On a card this size: batch size 8–16 (gradient accumulation for more), mixed precision with \
                         torch.autocast(\"cuda\") and torch.amp.GradScaler(\"cuda\"), shorter sequences or smaller images."
                            .into(),
                    );
                }
                if ctx.os == Os::Windows {
                    notes.push(
                        "Windows: keep NVIDIA Control Panel → Manage 3D settings → CUDA – Sysmem Fallback Policy on \
                         \"Prefer No Sysmem Fallback\" for python.exe; otherwise the driver spills to system RAM and \
                         training becomes many times slower instead of stopping with this error."
                            .into(),
                    );
                }
            }
        }
        "F11" | "F12" | "F13" => {
            if let Some(g) = gpu {
                notes.push(format!("This GPU: {} · {}.", g.name, crate::describe::compute(g)));
            }
            if let Some(b) = &build {
                notes.push(format!("Installed: {b}. `torchup plan` picks the build that has kernels for this GPU."));
            }
        }
        "F09" | "F10" => {
            if let Some(d) = &facts.driver {
                notes.push(format!("This {}.", crate::describe::driver(d)));
            }
            if let Some(b) = &build {
                notes.push(format!("Installed: {b}."));
            }
        }
        "F02" | "F40" | "F25" | "F23" | "F24" => {
            if let Some(b) = &build {
                notes.push(format!("Installed: {b}."));
            }
        }
        _ => {}
    }
    notes
}

#[cfg(test)]
mod tests {
    use super::*;

    fn explain(text: &str) -> Explanation {
        Explainer::bundled().explain_text(text, &Target { ctx: OsContext::linux(), facts: None })
    }

    #[test]
    fn the_first_failing_error_comes_first_and_repeats_fold() {
        let log = "\
UserWarning: CUDA initialization: Found no NVIDIA driver on your system.
step 1
RuntimeError: Found no NVIDIA driver on your system. Please check that you have an NVIDIA GPU
RuntimeError: Attempting to deserialize object on a CUDA device but torch.cuda.is_available() is False.
";
        let e = explain(log);
        let ids: Vec<&str> = e.findings.iter().map(|f| f.id.as_str()).collect();
        assert_eq!(ids, ["F08", "F40"]);
        assert_eq!(e.findings[0].evidence[0].line, 1);
        assert_eq!(e.findings[0].occurrences, 2);
    }

    #[test]
    fn a_deprecation_warning_goes_after_the_error() {
        let log = "\
FutureWarning: `torch.cuda.amp.autocast(args...)` is deprecated. Please use `torch.amp.autocast('cuda', args...)` instead.
torch.OutOfMemoryError: CUDA out of memory. Tried to allocate 20.00 MiB. GPU 0 has a total capacity of 4.00 GiB of which 0 bytes is free.
";
        let ids: Vec<String> = explain(log).findings.into_iter().map(|f| f.diagnosis.id).collect();
        assert_eq!(ids, ["F26", "F28"]);
    }

    #[test]
    fn nothing_known_is_said_so() {
        let e = explain("ValueError: too many values to unpack (expected 2)\n");
        assert!(!e.recognised());
    }
}
