//! The rule file: its TOML model, validation, and compiled form.

use std::collections::{BTreeMap, BTreeSet};

use regex::Regex;
use serde::{Deserialize, Serialize};

use super::probes::{self, ProbeInput};
use super::template::Template;
use super::{OsContext, TextSource};

/// The rule file format this torchup reads.
pub const RULES_SCHEMA: u32 = 1;

/// Why a rule file cannot be used. One line each, naming the rule.
#[derive(Debug, thiserror::Error)]
pub enum RulesError {
    #[error("diagnosis rules are not valid TOML: {0}")]
    Toml(#[from] toml::de::Error),
    #[error("diagnosis rules use schema {0}; this torchup reads schema {RULES_SCHEMA}")]
    Schema(u32),
    #[error("diagnosis rule {id}: {message}")]
    Rule { id: String, message: String },
}

fn rule_err(id: &str, message: impl Into<String>) -> RulesError {
    RulesError::Rule { id: id.to_string(), message: message.into() }
}

/// Text signature or a condition written in Rust.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum RuleKind {
    #[default]
    Text,
    Probe,
}

/// What a finding means for the install engine.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Means {
    /// The requested build does not exist for this Python/platform on that index: try the
    /// planned fallback build.
    BuildUnavailable,
    /// The network failed; "not found" messages next to it are not evidence of anything.
    Network,
}

/// Where a rule applies. `linux` includes WSL; `wsl` is WSL only.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum OsName {
    Windows,
    Linux,
    Wsl,
    Macos,
}

impl OsName {
    fn matches(self, ctx: &OsContext) -> bool {
        use crate::facts::Os;
        match self {
            OsName::Windows => ctx.os == Os::Windows,
            OsName::Linux => ctx.os == Os::Linux,
            OsName::Wsl => ctx.os == Os::Linux && ctx.wsl,
            OsName::Macos => ctx.os == Os::Macos,
        }
    }
}

/// The fix, per OS. WSL falls back to `linux`, every OS falls back to `default`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub struct FixSpec {
    #[serde(default)]
    pub default: Option<String>,
    #[serde(default)]
    pub windows: Option<String>,
    #[serde(default)]
    pub linux: Option<String>,
    #[serde(default)]
    pub wsl: Option<String>,
    #[serde(default)]
    pub macos: Option<String>,
}

impl FixSpec {
    /// The text for this context, before substitution.
    pub fn for_context(&self, ctx: &OsContext) -> Option<&str> {
        use crate::facts::Os;
        let specific = match ctx.os {
            Os::Windows => self.windows.as_ref(),
            Os::Macos => self.macos.as_ref(),
            Os::Linux if ctx.wsl => self.wsl.as_ref().or(self.linux.as_ref()),
            Os::Linux => self.linux.as_ref(),
        };
        specific.or(self.default.as_ref()).map(String::as_str)
    }
}

/// One rule as written in the TOML file.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RuleSpec {
    /// Catalog id ("F14"). Text rules have unique ids; a probe may share its id with the
    /// text rule for the same failure.
    pub id: String,
    #[serde(default)]
    pub kind: RuleKind,
    /// For probes: the condition's name, `facts.*` or `smoke.*` (src/diagnose/probes.rs).
    #[serde(default)]
    pub probe: Option<String>,
    /// Stages whose output a text rule reads.
    #[serde(default)]
    pub stages: Vec<TextSource>,
    /// Restrict to these systems; empty = everywhere.
    #[serde(default)]
    pub os: Vec<OsName>,
    /// Any of these matches; the first that does supplies the captures.
    #[serde(default)]
    pub patterns: Vec<String>,
    /// All of these must match as well (their named captures are added).
    #[serde(default)]
    pub requires: Vec<String>,
    /// Optional extra captures.
    #[serde(default)]
    pub details: Vec<String>,
    /// Ids this rule suppresses when it fires (the generic siblings of a specific rule).
    #[serde(default)]
    pub overrides: Vec<String>,
    /// Only reported when no other (non-fallback) finding was made from the same input.
    #[serde(default)]
    pub fallback: bool,
    #[serde(default)]
    pub means: Option<Means>,
    pub title: String,
    pub explanation: String,
    pub fix: FixSpec,
    /// A real message (text) or a JSON patch on a healthy baseline (probe) that must fire.
    pub example: String,
    /// A similar text / patch that must not fire.
    pub near_miss: String,
    #[serde(default)]
    pub also_matches: Vec<String>,
    #[serde(default)]
    pub also_not: Vec<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RuleFile {
    schema: u32,
    rule: Vec<RuleSpec>,
}

/// A rule ready to run: its spec plus compiled regexes and templates.
#[derive(Debug, Clone)]
pub struct Rule {
    pub spec: RuleSpec,
    patterns: Vec<Regex>,
    requires: Vec<Regex>,
    details: Vec<Regex>,
    title: Template,
    explanation: Template,
    fixes: Vec<(FixSpecKey, Template)>,
    probe_input: Option<ProbeInput>,
}

/// Which [`FixSpec`] field a compiled fix template came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum FixSpecKey {
    Default,
    Windows,
    Linux,
    Wsl,
    Macos,
}

/// Values for a template: captures or probe results.
pub(crate) type Vars = BTreeMap<String, String>;

impl Rule {
    /// Does this rule read this stage's output in this context?
    pub fn applies(&self, stage: TextSource, ctx: &OsContext) -> bool {
        self.spec.kind == RuleKind::Text && self.spec.stages.contains(&stage) && self.os_ok(ctx)
    }

    pub(crate) fn os_ok(&self, ctx: &OsContext) -> bool {
        self.spec.os.is_empty() || self.spec.os.iter().any(|o| o.matches(ctx))
    }

    /// Does this text rule's signature match `text` (ignoring stage and OS)? False for probes.
    pub fn matches_text(&self, text: &str) -> bool {
        self.spec.kind == RuleKind::Text && self.match_text(text).is_some()
    }

    pub(crate) fn probe_input(&self) -> Option<ProbeInput> {
        self.probe_input
    }

    /// Match a text rule against output; the captured values when it fires.
    pub(crate) fn match_text(&self, text: &str) -> Option<Vars> {
        let mut vars = Vars::new();
        let (re, caps) = self.patterns.iter().find_map(|re| re.captures(text).map(|c| (re, c)))?;
        for (i, m) in caps.iter().enumerate() {
            if let Some(m) = m {
                vars.insert(i.to_string(), tidy(m.as_str()));
            }
        }
        add_named(&mut vars, re, &caps);
        for re in &self.requires {
            let caps = re.captures(text)?;
            add_named(&mut vars, re, &caps);
        }
        for re in &self.details {
            if let Some(caps) = re.captures(text) {
                add_named(&mut vars, re, &caps);
            }
        }
        Some(vars)
    }

    /// Title, explanation and fix with values filled in.
    pub(crate) fn render(&self, vars: &Vars, ctx: &OsContext) -> super::Diagnosis {
        let python = ctx.python_command();
        let lookup = |name: &str| -> Option<String> {
            match vars.get(name) {
                Some(v) => Some(v.clone()),
                None if name == "python" => Some(python.clone()),
                None => driver_floor_value(name, ctx),
            }
        };
        let fix_key = self.fix_key(ctx);
        let fix = self.fixes.iter().find(|(k, _)| Some(*k) == fix_key).map(|(_, t)| t.render(&lookup));
        super::Diagnosis {
            id: self.spec.id.clone(),
            title: self.title.render(&lookup),
            explanation: self.explanation.render(&lookup),
            // Validation guarantees a fix for every context; empty only for hand-built rules.
            fix: fix.unwrap_or_default(),
        }
    }

    fn fix_key(&self, ctx: &OsContext) -> Option<FixSpecKey> {
        use crate::facts::Os;
        let has = |k: FixSpecKey| self.fixes.iter().any(|(key, _)| *key == k);
        let specific = match ctx.os {
            Os::Windows => [Some(FixSpecKey::Windows), None],
            Os::Macos => [Some(FixSpecKey::Macos), None],
            Os::Linux if ctx.wsl => [Some(FixSpecKey::Wsl), Some(FixSpecKey::Linux)],
            Os::Linux => [Some(FixSpecKey::Linux), None],
        };
        specific.into_iter().flatten().find(|k| has(*k)).or(Some(FixSpecKey::Default).filter(|k| has(*k)))
    }
}

/// The prefix of the values every template may use for driver floors:
/// `{driver_floor_cu12}` is the lowest driver that runs CUDA 12.x builds on this context's
/// driver table, read from the compat data (the planner's own rows), never written twice.
const DRIVER_FLOOR: &str = "driver_floor_cu";

fn driver_floor_value(name: &str, ctx: &OsContext) -> Option<String> {
    let major: u32 = name.strip_prefix(DRIVER_FLOOR)?.parse().ok()?;
    let data = crate::compat::data::CompatData::bundled().ok()?;
    let os = crate::compat::driver_fit::driver_os(ctx.os, ctx.wsl);
    crate::compat::driver_fit::floor_of_major(data, major, os)
}

/// A name every template may use: `{python}`, or a driver floor the data has.
fn is_context_name(name: &str) -> bool {
    name == "python" || driver_floor_value(name, &OsContext::linux()).is_some()
}

/// Captured text with runs of whitespace (multi-line warnings) collapsed to one space.
fn tidy(s: &str) -> String {
    s.split_whitespace().collect::<Vec<_>>().join(" ")
}

fn add_named(vars: &mut Vars, re: &Regex, caps: &regex::Captures<'_>) {
    for name in re.capture_names().flatten() {
        if let Some(m) = caps.name(name) {
            let v = tidy(m.as_str());
            if !v.is_empty() {
                vars.entry(name.to_string()).or_insert(v);
            }
        }
    }
}

/// The whole rule set.
#[derive(Debug, Clone)]
pub struct Rules {
    rules: Vec<Rule>,
}

impl Rules {
    /// Parse and validate a rule file.
    pub fn from_toml(src: &str) -> Result<Rules, RulesError> {
        let file: RuleFile = toml::from_str(src)?;
        if file.schema != RULES_SCHEMA {
            return Err(RulesError::Schema(file.schema));
        }
        let rules = file.rule.into_iter().map(compile).collect::<Result<Vec<_>, _>>()?;
        validate_set(&rules)?;
        Ok(Rules { rules })
    }

    /// Every rule, in evaluation (and report) order.
    pub fn rules(&self) -> &[Rule] {
        &self.rules
    }
}

fn compile_all(id: &str, what: &str, sources: &[String]) -> Result<Vec<Regex>, RulesError> {
    sources
        .iter()
        .map(|s| Regex::new(s).map_err(|e| rule_err(id, format!("{what} `{s}` does not compile: {e}"))))
        .collect()
}

fn template(id: &str, what: &str, src: &str) -> Result<Template, RulesError> {
    Template::parse(src).map_err(|e| rule_err(id, format!("{what}: {e}")))
}

fn compile(spec: RuleSpec) -> Result<Rule, RulesError> {
    let id = spec.id.clone();
    let id = id.as_str();
    if spec.title.trim().is_empty() || spec.explanation.trim().is_empty() {
        return Err(rule_err(id, "title and explanation must not be empty"));
    }
    if spec.example.trim().is_empty() || spec.near_miss.trim().is_empty() {
        return Err(rule_err(id, "every rule needs an `example` and a `near_miss`"));
    }
    let probe_input = match spec.kind {
        RuleKind::Text => {
            if spec.patterns.is_empty() {
                return Err(rule_err(id, "a text rule needs at least one pattern"));
            }
            if spec.stages.is_empty() {
                return Err(rule_err(id, "a text rule needs at least one stage"));
            }
            if spec.probe.is_some() {
                return Err(rule_err(id, "`probe` is only for kind = \"probe\""));
            }
            None
        }
        RuleKind::Probe => {
            let name = spec.probe.as_deref().ok_or_else(|| rule_err(id, "a probe rule needs `probe = \"…\"`"))?;
            if !spec.patterns.is_empty() || !spec.requires.is_empty() || !spec.details.is_empty() {
                return Err(rule_err(id, "a probe rule has no patterns"));
            }
            let def = probes::find(name).ok_or_else(|| rule_err(id, format!("unknown probe `{name}`")))?;
            Some(def.input)
        }
    };
    let patterns = compile_all(id, "pattern", &spec.patterns)?;
    let requires = compile_all(id, "requires", &spec.requires)?;
    let details = compile_all(id, "details", &spec.details)?;
    let title = template(id, "title", &spec.title)?;
    let explanation = template(id, "explanation", &spec.explanation)?;
    let f = &spec.fix;
    let mut fixes = Vec::new();
    for (key, src) in [
        (FixSpecKey::Default, &f.default),
        (FixSpecKey::Windows, &f.windows),
        (FixSpecKey::Linux, &f.linux),
        (FixSpecKey::Wsl, &f.wsl),
        (FixSpecKey::Macos, &f.macos),
    ] {
        if let Some(src) = src {
            if src.trim().is_empty() {
                return Err(rule_err(id, "an empty fix text"));
            }
            fixes.push((key, template(id, "fix", src)?));
        }
    }
    if f.default.is_none() && !(f.windows.is_some() && f.linux.is_some() && f.macos.is_some()) {
        return Err(rule_err(id, "the fix needs `default` (or windows, linux and macos)"));
    }
    let rule = Rule { spec, patterns, requires, details, title, explanation, fixes, probe_input };
    check_names(&rule)?;
    Ok(rule)
}

/// Every placeholder must have a source: a capture group, a probe value, or `python`.
/// Placeholders outside `[[ ]]` must be certain to have a value.
fn check_names(rule: &Rule) -> Result<(), RulesError> {
    let id = &rule.spec.id;
    let (always, sometimes): (BTreeSet<String>, BTreeSet<String>) = match &rule.spec.probe {
        Some(name) => {
            // Invariant: compile() already resolved this probe name.
            let def = probes::find(name).ok_or_else(|| rule_err(id, format!("unknown probe `{name}`")))?;
            let always: BTreeSet<String> = def.always.iter().map(|s| s.to_string()).collect();
            let sometimes = def.sometimes.iter().map(|s| s.to_string()).chain(always.iter().cloned()).collect();
            (always, sometimes)
        }
        None => {
            let names = |re: &Regex| re.capture_names().flatten().map(str::to_string).collect::<BTreeSet<_>>();
            // Certain: named in every pattern (alternatives), or in a `requires`, or group 0.
            let mut always: BTreeSet<String> = rule
                .patterns
                .iter()
                .map(names)
                .reduce(|a, b| a.intersection(&b).cloned().collect())
                .unwrap_or_default();
            always.insert("0".into());
            for re in &rule.requires {
                always.extend(names(re));
            }
            let min_groups = rule.patterns.iter().map(|re| re.captures_len()).min().unwrap_or(1);
            always.extend((1..min_groups).map(|i| i.to_string()));
            let mut sometimes = always.clone();
            for re in rule.patterns.iter().chain(&rule.details) {
                sometimes.extend(names(re));
                sometimes.extend((1..re.captures_len()).map(|i| i.to_string()));
            }
            (always, sometimes)
        }
    };
    let mut templates = vec![("title", &rule.title), ("explanation", &rule.explanation)];
    templates.extend(rule.fixes.iter().map(|(_, t)| ("fix", t)));
    for (what, t) in templates {
        for name in t.required_names() {
            if !is_context_name(name) && !always.contains(name) {
                let hint = if sometimes.contains(name) { " (it can be missing: put it inside [[ ]])" } else { "" };
                return Err(rule_err(id, format!("{what} uses `{{{name}}}`, which has no certain value{hint}")));
            }
        }
        for name in t.optional_names() {
            if !is_context_name(name) && !sometimes.contains(name) {
                return Err(rule_err(id, format!("{what} uses `{{{name}}}`, which nothing provides")));
            }
        }
    }
    Ok(())
}

/// Checks across rules: unique text ids and probe names, overrides that name real ids and
/// come before every rule they suppress (so evaluation order is specific → generic).
fn validate_set(rules: &[Rule]) -> Result<(), RulesError> {
    let mut text_ids = BTreeSet::new();
    let mut probe_names = BTreeSet::new();
    for r in rules {
        let fresh = match &r.spec.probe {
            Some(p) => probe_names.insert(p.clone()),
            None => text_ids.insert(r.spec.id.clone()),
        };
        if !fresh {
            return Err(rule_err(&r.spec.id, "defined twice (text ids and probe names must be unique)"));
        }
    }
    let all_ids: BTreeSet<&str> = rules.iter().map(|r| r.spec.id.as_str()).collect();
    for (i, r) in rules.iter().enumerate() {
        for target in &r.spec.overrides {
            if target == &r.spec.id {
                return Err(rule_err(&r.spec.id, "a rule cannot override its own id"));
            }
            if !all_ids.contains(target.as_str()) {
                return Err(rule_err(&r.spec.id, format!("overrides unknown id {target}")));
            }
            if let Some(j) = rules[..i].iter().position(|other| &other.spec.id == target) {
                return Err(rule_err(
                    &r.spec.id,
                    format!("overrides {target}, so it must come before it in the file (rule #{} is {target})", j + 1),
                ));
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    const MINIMAL: &str = r#"
schema = 1
[[rule]]
id = "T1"
stages = ["install"]
patterns = ['found version (?<found>\d+)']
title = "t"
explanation = "CUDA {found|cuda}"
example = "found version 12020"
near_miss = "found nothing"
[rule.fix]
default = "fix"
"#;

    #[test]
    fn minimal_file_loads() {
        let rules = Rules::from_toml(MINIMAL).unwrap();
        assert_eq!(rules.rules().len(), 1);
    }

    #[test]
    fn broken_regex_names_the_rule() {
        let src = MINIMAL.replace(r"(?<found>\d+)", r"(?<found>\d+");
        let err = Rules::from_toml(&src).unwrap_err().to_string();
        assert!(err.starts_with("diagnosis rule T1: pattern"), "{err}");
    }

    #[test]
    fn unknown_placeholder_is_rejected() {
        let src = MINIMAL.replace("CUDA {found|cuda}", "CUDA {nope}");
        let err = Rules::from_toml(&src).unwrap_err().to_string();
        assert!(err.contains("{nope}"), "{err}");
    }

    #[test]
    fn missing_near_miss_is_rejected() {
        let src = MINIMAL.replace("near_miss = \"found nothing\"", "near_miss = \"\"");
        assert!(Rules::from_toml(&src).unwrap_err().to_string().contains("near_miss"));
    }

    #[test]
    fn override_after_target_is_rejected() {
        let src = format!(
            "{MINIMAL}\n{}",
            MINIMAL
                .replace("schema = 1", "")
                .replace("\"T1\"", "\"T2\"")
                .replace("stages = [\"install\"]", "stages = [\"install\"]\noverrides = [\"T1\"]")
        );
        let err = Rules::from_toml(&src).unwrap_err().to_string();
        assert!(err.contains("must come before"), "{err}");
    }

    #[test]
    fn wrong_schema_is_rejected() {
        let src = MINIMAL.replace("schema = 1", "schema = 9");
        assert!(matches!(Rules::from_toml(&src), Err(RulesError::Schema(9))));
    }
}
