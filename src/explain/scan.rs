//! Streaming a log of any size through the rules' signatures with bounded memory.
//!
//! Lines are cleaned ([`clean_line`]) and gathered in blocks of about 256 KiB. One
//! [`RegexSet`] of every signature in the rule file (patterns, `requires` and `details`)
//! says whether a block holds anything of interest; most blocks of a training log do not
//! and are dropped. In a block that matches, each matching signature's matches are found
//! and their lines (with two lines of context) are kept — the first three occurrences of
//! each signature; later ones are only counted. The last [`TAIL_LINES`] lines are always
//! kept: the error that ended a run is there. The next block starts with the last
//! [`OVERLAP_LINES`] lines of the previous one, so a message split over a block boundary
//! (torch's three-line arch warnings) is still seen whole.
//!
//! Memory: one block, the tail, and at most 3 × (signatures) kept matches, whatever the
//! input size.

use std::collections::{BTreeMap, VecDeque};
use std::sync::LazyLock;

use regex::{Regex, RegexSet};

use super::normalize::clean_line;
use crate::diagnose::{RuleKind, Rules};

/// Lines always kept from the end of the input.
pub(crate) const TAIL_LINES: usize = 400;
/// Lines carried from one block into the next.
pub(crate) const OVERLAP_LINES: usize = 8;
/// Occurrences of one signature whose lines are kept (later ones are counted).
pub(crate) const KEEP_PER_SIGNATURE: usize = 3;
const BLOCK_BYTES: usize = 256 * 1024;
const CONTEXT_LINES: u64 = 2;

/// Every text signature of a rule set, compiled once for scanning.
pub struct Signatures {
    set: RegexSet,
    regexes: Vec<Regex>,
    /// For each regex: the index of its rule in [`Rules::rules`] and whether it is a
    /// `pattern` (occurrences of patterns are what a finding counts).
    owners: Vec<(usize, bool)>,
}

impl Signatures {
    /// The signatures of `rules` (text rules only).
    pub fn of(rules: &Rules) -> Signatures {
        let mut sources = Vec::new();
        let mut owners = Vec::new();
        for (i, rule) in rules.rules().iter().enumerate() {
            if rule.spec.kind != RuleKind::Text {
                continue;
            }
            for p in &rule.spec.patterns {
                sources.push(p.clone());
                owners.push((i, true));
            }
            for p in rule.spec.requires.iter().chain(&rule.spec.details) {
                sources.push(p.clone());
                owners.push((i, false));
            }
        }
        // Invariant: the rule loader compiled every one of these already.
        let regexes = sources.iter().map(|s| Regex::new(s).expect("rule regexes compile (checked at load)")).collect();
        let set = RegexSet::new(&sources).expect("rule regexes compile (checked at load)");
        Signatures { set, regexes, owners }
    }

    /// The bundled rules' signatures.
    pub fn bundled() -> &'static Signatures {
        static SIGNATURES: LazyLock<Signatures> = LazyLock::new(|| Signatures::of(Rules::bundled()));
        &SIGNATURES
    }

    /// The regexes (with their owning rule index) that belong to pattern lists.
    pub(crate) fn patterns_of(&self, rule: usize) -> impl Iterator<Item = &Regex> {
        self.regexes
            .iter()
            .zip(&self.owners)
            .filter(move |(_, (r, is_pattern))| *r == rule && *is_pattern)
            .map(|(re, _)| re)
    }

    pub(crate) fn owner(&self, regex: usize) -> (usize, bool) {
        self.owners[regex]
    }
}

/// The lines worth diagnosing, with their line numbers (1-based), in input order.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Excerpt {
    pub lines: Vec<(u64, String)>,
    /// How many times each signature (by regex index) matched in the whole input.
    pub counts: Vec<u64>,
    /// Lines read.
    pub total_lines: u64,
}

impl Excerpt {
    /// The kept lines as one text (joined with `\n`), and where each line starts in it.
    pub fn text(&self) -> (String, Vec<usize>) {
        let mut text = String::new();
        let mut starts = Vec::with_capacity(self.lines.len());
        for (_, line) in &self.lines {
            starts.push(text.len());
            text.push_str(line);
            text.push('\n');
        }
        (text, starts)
    }
}

/// Feeds on lines; keeps what matters.
pub(crate) struct Scanner<'a> {
    sigs: &'a Signatures,
    /// The current block: cleaned lines, each followed by `\n`.
    text: String,
    /// Where each line of the block starts in `text`.
    starts: Vec<usize>,
    /// The line number of the block's first line.
    first_no: u64,
    /// How many lines at the start of the block were already scanned (the overlap).
    scanned: usize,
    /// The last lines that left the block.
    tail: VecDeque<(u64, String)>,
    kept: BTreeMap<u64, String>,
    counts: Vec<u64>,
    line_no: u64,
}

impl<'a> Scanner<'a> {
    pub(crate) fn new(sigs: &'a Signatures) -> Scanner<'a> {
        Scanner {
            sigs,
            text: String::with_capacity(BLOCK_BYTES + 64 * 1024),
            starts: Vec::new(),
            first_no: 1,
            scanned: 0,
            tail: VecDeque::with_capacity(TAIL_LINES),
            kept: BTreeMap::new(),
            counts: vec![0; sigs.regexes.len()],
            line_no: 0,
        }
    }

    /// One raw line (without `\n`).
    pub(crate) fn push_raw(&mut self, raw: &str) {
        self.line_no += 1;
        if self.starts.is_empty() {
            self.first_no = self.line_no;
        }
        self.starts.push(self.text.len());
        // Most lines of a long log are plain printable ASCII: nothing to clean.
        if raw.bytes().all(|b| (0x20..0x7f).contains(&b)) {
            self.text.push_str(raw.trim_end());
        } else {
            self.text.push_str(&clean_line(raw));
        }
        self.text.push('\n');
        if self.text.len() >= BLOCK_BYTES {
            self.scan();
            self.drain(OVERLAP_LINES);
        }
    }

    fn line(&self, i: usize) -> &str {
        let end = self.starts.get(i + 1).copied().unwrap_or(self.text.len());
        &self.text[self.starts[i]..end.saturating_sub(1).max(self.starts[i])]
    }

    /// Match the block; keep the lines of the first occurrences of each signature.
    fn scan(&mut self) {
        let already = self.starts.get(self.scanned).copied().unwrap_or(self.text.len());
        if self.starts.is_empty() || !self.sigs.set.is_match(&self.text) {
            self.scanned = self.starts.len();
            return;
        }
        let last_line = self.starts.len() - 1;
        let mut keep: Vec<(usize, usize)> = Vec::new();
        for i in self.sigs.set.matches(&self.text).iter() {
            for m in self.sigs.regexes[i].find_iter(&self.text) {
                // Matches wholly inside the overlap were counted with the last block.
                if m.end() <= already && self.scanned > 0 {
                    continue;
                }
                self.counts[i] += 1;
                if self.counts[i] as usize > KEEP_PER_SIGNATURE {
                    continue;
                }
                let first = line_index(&self.starts, m.start());
                let last = line_index(&self.starts, m.end().saturating_sub(1).max(m.start()));
                keep.push((
                    first.saturating_sub(CONTEXT_LINES as usize),
                    (last + CONTEXT_LINES as usize).min(last_line),
                ));
            }
        }
        for (from, to) in keep {
            for i in from..=to {
                let no = self.first_no + i as u64;
                if !self.kept.contains_key(&no) {
                    let line = self.line(i).to_string();
                    self.kept.insert(no, line);
                }
            }
        }
        self.scanned = self.starts.len();
    }

    /// Move all but the last `overlap` lines out of the block (the newest into the tail).
    fn drain(&mut self, overlap: usize) {
        let n = self.starts.len();
        let keep_from = n.saturating_sub(overlap);
        for i in keep_from.saturating_sub(TAIL_LINES)..keep_from {
            if self.tail.len() == TAIL_LINES {
                self.tail.pop_front();
            }
            let entry = (self.first_no + i as u64, self.line(i).to_string());
            self.tail.push_back(entry);
        }
        let cut = self.starts.get(keep_from).copied().unwrap_or(self.text.len());
        self.text.drain(..cut);
        self.starts = self.starts[keep_from..].iter().map(|s| s - cut).collect();
        self.first_no += keep_from as u64;
        self.scanned = self.starts.len();
    }

    /// The end of the input: scan what is left and hand over the excerpt.
    pub(crate) fn finish(mut self) -> Excerpt {
        if self.starts.len() > self.scanned {
            self.scan();
        }
        self.drain(0);
        for (no, line) in self.tail {
            if !line.is_empty() {
                self.kept.entry(no).or_insert(line);
            }
        }
        Excerpt { lines: self.kept.into_iter().collect(), counts: self.counts, total_lines: self.line_no }
    }
}

/// The index of the line containing byte `offset`, given each line's start.
pub(crate) fn line_index(starts: &[usize], offset: usize) -> usize {
    match starts.binary_search(&offset) {
        Ok(i) => i,
        Err(i) => i.saturating_sub(1),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn scan(lines: &[String]) -> Excerpt {
        let mut s = Scanner::new(Signatures::bundled());
        for l in lines {
            s.push_raw(l);
        }
        s.finish()
    }

    #[test]
    fn an_early_error_in_a_long_log_is_kept_and_the_noise_is_not() {
        let mut lines: Vec<String> =
            vec!["OMP: Error #15: Initializing libiomp5md.dll, but found libiomp5md.dll already initialized.".into()];
        lines.extend((0..50_000).map(|i| format!("epoch 1 step {i} loss 0.{i:05}")));
        let ex = scan(&lines);
        assert!(ex.lines.iter().any(|(no, l)| *no == 1 && l.starts_with("OMP: Error #15")));
        assert!(ex.lines.len() <= TAIL_LINES + 10, "kept {} lines", ex.lines.len());
        assert_eq!(ex.total_lines, 50_001);
    }

    #[test]
    fn repeats_are_counted_not_kept() {
        let mut lines = Vec::new();
        for i in 0..20_000 {
            lines.push(format!("step {i}"));
            if i % 1000 == 0 {
                lines.push("RuntimeError: No CUDA GPUs are available".into());
            }
        }
        let ex = scan(&lines);
        let count: u64 = ex.counts.iter().copied().max().unwrap_or(0);
        assert_eq!(count, 20);
        let kept = ex.lines.iter().filter(|(_, l)| l.contains("No CUDA GPUs")).count();
        assert!(kept <= KEEP_PER_SIGNATURE + 1, "{kept}");
    }

    #[test]
    fn a_message_split_over_a_block_boundary_is_seen() {
        // Fill the first block almost exactly, then the two-line message.
        let filler = "x".repeat(1000);
        let mut lines: Vec<String> = (0..(BLOCK_BYTES / 1001)).map(|_| filler.clone()).collect();
        lines.push("An attempt has been made to start a new process before the".into());
        lines.push("        current process has finished its bootstrapping phase.".into());
        lines.extend((0..1000).map(|i| format!("{i}")));
        let ex = scan(&lines);
        assert!(ex.lines.iter().any(|(_, l)| l.contains("An attempt has been made")), "the split message was dropped");
    }
}
