//! GPU name → compute capability, for when neither NVML nor nvidia-smi reports it.
//! The table (assets/gpu_names.toml) is ordered: the first matching rule wins.

use std::sync::OnceLock;

use regex::{Regex, RegexBuilder};
use serde::Deserialize;
use thiserror::Error;

use crate::facts::parse_capability;

const BUNDLED: &str = include_str!("../../../assets/gpu_names.toml");

/// A problem in a name table (only ever a bug in the bundled asset; tests catch it).
#[derive(Debug, Clone, Error, PartialEq, Eq)]
pub(crate) enum NameTableError {
    #[error("GPU name table is not valid TOML: {0}")]
    Toml(String),
    #[error("GPU name table rule {index}: pattern {pattern:?} does not compile: {message}")]
    Pattern { index: usize, pattern: String, message: String },
    #[error("GPU name table rule {index}: compute capability {cc:?} is not MAJOR.MINOR")]
    Capability { index: usize, cc: String },
}

#[derive(Deserialize)]
struct RawTable {
    rule: Vec<RawRule>,
    #[serde(default)]
    architecture: Vec<Architecture>,
}

/// A GPU architecture by compute capability: `minor` None matches every minor.
#[derive(Debug, Clone, Deserialize)]
pub(crate) struct Architecture {
    pub major: u32,
    #[serde(default)]
    pub minor: Option<u32>,
    /// "Ampere", "Ada Lovelace".
    pub name: String,
}

#[derive(Deserialize)]
struct RawRule {
    pattern: String,
    cc: String,
    family: String,
    #[serde(default)]
    examples: Vec<String>,
}

/// One rule of the table.
#[derive(Debug)]
pub(crate) struct NameRule {
    pub regex: Regex,
    pub cc: String,
    pub family: String,
    /// Real names that must resolve to this rule (checked by the tests, not read otherwise).
    #[cfg_attr(not(test), allow(dead_code))]
    pub examples: Vec<String>,
}

/// An ordered name table.
#[derive(Debug)]
pub(crate) struct NameTable {
    pub rules: Vec<NameRule>,
    /// Capability → architecture name, first match wins.
    pub architectures: Vec<Architecture>,
}

/// The rule that matched a name.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct NameMatch<'a> {
    /// "8.6".
    pub cc: &'a str,
    /// "Ampere GeForce RTX 30 (desktop and laptop)".
    pub family: &'a str,
    /// Position of the rule in the table.
    pub rule: usize,
}

impl NameTable {
    /// Parse and validate a table.
    pub(crate) fn parse(text: &str) -> Result<NameTable, NameTableError> {
        let raw: RawTable = toml::from_str(text).map_err(|e| NameTableError::Toml(e.message().to_string()))?;
        let mut rules = Vec::with_capacity(raw.rule.len());
        for (index, r) in raw.rule.into_iter().enumerate() {
            let regex = RegexBuilder::new(&r.pattern)
                .case_insensitive(true)
                .build()
                .map_err(|e| NameTableError::Pattern { index, pattern: r.pattern.clone(), message: e.to_string() })?;
            let Some((major, minor)) = parse_capability(&r.cc) else {
                return Err(NameTableError::Capability { index, cc: r.cc });
            };
            rules.push(NameRule { regex, cc: format!("{major}.{minor}"), family: r.family, examples: r.examples });
        }
        Ok(NameTable { rules, architectures: raw.architecture })
    }

    /// The first rule matching `name` (whitespace runs collapsed, case ignored).
    pub(crate) fn lookup(&self, name: &str) -> Option<NameMatch<'_>> {
        let name = normalize(name);
        self.rules.iter().enumerate().find(|(_, r)| r.regex.is_match(&name)).map(|(rule, r)| NameMatch {
            cc: &r.cc,
            family: &r.family,
            rule,
        })
    }
}

impl NameTable {
    /// The architecture of a compute capability ("8.6" → "Ampere").
    pub(crate) fn architecture(&self, major: u32, minor: u32) -> Option<&str> {
        self.architectures
            .iter()
            .find(|a| a.major == major && a.minor.is_none_or(|m| m == minor))
            .map(|a| a.name.as_str())
    }
}

/// The GPU architecture of a compute capability text ("8.6" → "Ampere") from the bundled
/// table: the one GPU family table, for humans only.
pub(crate) fn architecture_of(cc: &str) -> Option<&'static str> {
    let (major, minor) = parse_capability(cc)?;
    bundled().ok()?.architecture(major, minor)
}

/// The table bundled in the binary, parsed once.
pub(crate) fn bundled() -> Result<&'static NameTable, &'static NameTableError> {
    static TABLE: OnceLock<Result<NameTable, NameTableError>> = OnceLock::new();
    TABLE.get_or_init(|| NameTable::parse(BUNDLED)).as_ref()
}

/// Infer the compute capability of a GPU from its name with the bundled table.
/// None when no rule matches (or, never in a tested build, when the table is broken).
pub(crate) fn infer_capability(name: &str) -> Option<NameMatch<'static>> {
    bundled().ok()?.lookup(name)
}

fn normalize(name: &str) -> String {
    name.split_whitespace().collect::<Vec<_>>().join(" ")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cc(name: &str) -> Option<&'static str> {
        infer_capability(name).map(|m| m.cc)
    }

    #[test]
    fn bundled_table_parses() {
        let t = bundled().unwrap();
        assert!(t.rules.len() > 50, "the table should cover laptop and desktop families");
    }

    #[test]
    fn every_rule_names_the_architecture_of_its_capability() {
        // The name rules and the architecture entries cannot disagree.
        let t = bundled().unwrap();
        for rule in &t.rules {
            let arch = architecture_of(&rule.cc).unwrap_or_else(|| panic!("no architecture for {}", rule.cc));
            let word = arch.split(' ').next().unwrap();
            assert!(rule.family.contains(word), "{} is {} ({arch}) but says {}", rule.regex, rule.cc, rule.family);
        }
        assert_eq!(architecture_of("8.6"), Some("Ampere"));
        assert_eq!(architecture_of("8.9"), Some("Ada Lovelace"));
        assert_eq!(architecture_of("7.5"), Some("Turing"));
        assert_eq!(architecture_of("7.0"), Some("Volta"));
        assert_eq!(architecture_of("12.0"), Some("Blackwell"));
        assert_eq!(architecture_of("bogus"), None);
    }

    #[test]
    fn every_example_resolves_to_its_own_rule() {
        // Catches a rule shadowed by an earlier, broader one.
        let t = bundled().unwrap();
        let mut checked = 0;
        for (i, rule) in t.rules.iter().enumerate() {
            assert!(!rule.examples.is_empty(), "rule {i} ({}) has no examples", rule.family);
            for ex in &rule.examples {
                let got = t.lookup(ex).unwrap_or_else(|| panic!("example {ex:?} of rule {i} matches nothing"));
                assert_eq!(
                    got.rule, i,
                    "example {ex:?} of rule {i} ({}) is taken by rule {} ({})",
                    rule.family, got.rule, got.family
                );
                checked += 1;
            }
        }
        assert!(checked > 200);
    }

    #[test]
    fn order_decides_where_a_broader_rule_also_matches() {
        // RTX 3050 family: the Ti and plain laptop parts are Ampere, the "A" laptop part is Ada.
        assert_eq!(cc("NVIDIA GeForce RTX 3050 Ti Laptop GPU"), Some("8.6"));
        assert_eq!(cc("NVIDIA GeForce RTX 3050 Laptop GPU"), Some("8.6"));
        assert_eq!(cc("NVIDIA GeForce RTX 3050 A Laptop GPU"), Some("8.9"));
        let ti = infer_capability("NVIDIA GeForce RTX 3050 Ti Laptop GPU").unwrap();
        let plain = infer_capability("NVIDIA GeForce RTX 3050 Laptop GPU").unwrap();
        assert!(ti.rule < plain.rule, "the specific 3050 Ti rule comes before the RTX 30 rule");
        assert_eq!(cc("NVIDIA GeForce RTX 2050"), Some("8.6"));
        assert_eq!(cc("NVIDIA GeForce RTX 2060"), Some("7.5"));
        assert_eq!(cc("NVIDIA RTX 6000 Ada Generation"), Some("8.9"));
        assert_eq!(cc("Quadro RTX 6000"), Some("7.5"));
        assert_eq!(cc("NVIDIA RTX PRO 6000 Blackwell Workstation Edition"), Some("12.0"));
        assert_eq!(cc("NVIDIA TITAN X (Pascal)"), Some("6.1"));
        assert_eq!(cc("GeForce GTX TITAN X"), Some("5.2"));
        assert_eq!(cc("GeForce GTX TITAN Black"), Some("3.5"));
        assert_eq!(cc("Quadro M2000"), Some("5.2"));
        assert_eq!(cc("Quadro M2000M"), Some("5.0"));
        assert_eq!(cc("Quadro K2200"), Some("5.0"));
        assert_eq!(cc("Quadro K4000"), Some("3.0"));
    }

    #[test]
    fn model_numbers_are_whole_words() {
        assert_eq!(cc("GeForce GTX 960"), Some("5.2"));
        assert_eq!(cc("GeForce GTX 960M"), Some("5.0"));
        assert_eq!(cc("NVIDIA A100-SXM4-40GB"), Some("8.0"));
        assert_eq!(cc("NVIDIA RTX A1000 Laptop GPU"), Some("8.6"));
        assert_eq!(cc("NVIDIA A10"), Some("8.6"));
        assert_eq!(cc("Tesla P40"), Some("6.1"));
        assert_eq!(cc("Quadro P4000"), Some("6.1"));
    }

    #[test]
    fn the_projects_reference_cards() {
        assert_eq!(cc("NVIDIA GeForce RTX 3050 Laptop GPU"), Some("8.6"));
        assert_eq!(cc("NVIDIA GeForce GTX 1080 Ti"), Some("6.1"));
        assert_eq!(cc("NVIDIA GeForce RTX 5070 Laptop GPU"), Some("12.0"));
        assert_eq!(cc("NVIDIA GeForce GTX 1650 Ti with Max-Q Design"), Some("7.5"));
        assert_eq!(cc("NVIDIA GeForce MX450"), Some("7.5"));
        assert_eq!(cc("NVIDIA GeForce MX150"), Some("6.1"));
        assert_eq!(cc("NVIDIA GeForce RTX 4060 Laptop GPU"), Some("8.9"));
        assert_eq!(cc("NVIDIA TITAN V"), Some("7.0"));
        assert_eq!(cc("NVIDIA TITAN Xp"), Some("6.1"));
        assert_eq!(cc("Tesla T4"), Some("7.5"));
        assert_eq!(cc("Tesla V100-SXM2-16GB"), Some("7.0"));
        assert_eq!(cc("NVIDIA H100 80GB HBM3"), Some("9.0"));
        assert_eq!(cc("NVIDIA B200"), Some("10.0"));
    }

    #[test]
    fn case_and_spacing_do_not_matter() {
        assert_eq!(cc("nvidia geforce  rtx   3050  laptop gpu"), Some("8.6"));
        assert_eq!(cc("  NVIDIA GeForce GTX 1080 Ti\r"), Some("6.1"));
    }

    #[test]
    fn unknown_and_other_vendors_give_none() {
        assert_eq!(cc("Intel(R) Iris(R) Xe Graphics"), None);
        assert_eq!(cc("AMD Radeon RX 7900 XTX"), None);
        assert_eq!(cc("NVIDIA GeForce RTX 9090"), None);
        assert_eq!(cc(""), None);
    }

    #[test]
    fn first_match_wins_in_table_order() {
        let specific = "[[rule]]\npattern = '\\bRTX 3050 A\\b'\ncc = \"8.9\"\nfamily = \"ada\"\n";
        let broad = "[[rule]]\npattern = '\\bRTX 30[5-9]0\\b'\ncc = \"8.6\"\nfamily = \"ampere\"\n";
        let good = NameTable::parse(&format!("{specific}{broad}")).unwrap();
        let shadowed = NameTable::parse(&format!("{broad}{specific}")).unwrap();
        let name = "NVIDIA GeForce RTX 3050 A Laptop GPU";
        assert_eq!(good.lookup(name).map(|m| m.cc), Some("8.9"));
        assert_eq!(shadowed.lookup(name).map(|m| m.cc), Some("8.6"), "a broad rule first shadows the specific one");
    }

    #[test]
    fn broken_tables_are_reported_not_panicked() {
        assert!(matches!(NameTable::parse("rule = 3"), Err(NameTableError::Toml(_))));
        let bad_re = "[[rule]]\npattern = '('\ncc = \"8.6\"\nfamily = \"x\"\n";
        assert!(matches!(NameTable::parse(bad_re), Err(NameTableError::Pattern { index: 0, .. })));
        let bad_cc = "[[rule]]\npattern = 'x'\ncc = \"eight\"\nfamily = \"x\"\n";
        assert!(matches!(NameTable::parse(bad_cc), Err(NameTableError::Capability { index: 0, .. })));
    }
}
