//! Diagnoses: output and probe signatures → what went wrong and the fix.
//!
//! The rules live in assets/diagnoses.toml (the catalogue, listed in docs/diagnoses.md) and are
//! embedded in the binary. Three inputs are diagnosed:
//! - a step's combined stdout+stderr ([`Rules::diagnose_text`]),
//! - a smoke result ([`Rules::diagnose_smoke`]: import error, warnings, failed checks, and
//!   conditions such as a CPU build or a GPU missing from the build's arch list),
//! - the detected facts ([`Rules::diagnose_facts`]: driver too old for the build, PEP 668,
//!   CUDA_VISIBLE_DEVICES, pip pointed at the CPU index, …).
//!
//! Rules are reported in file order; a specific rule suppresses its generic siblings
//! (`overrides`), and one finding is reported per catalog id. Fixes are chosen for an
//! [`OsContext`], so Windows advice can be produced (and tested) anywhere.
//! See docs/diagnoses.md.

pub(crate) mod cuda_libs;
mod probes;
pub(crate) mod rules;
mod template;

use std::collections::BTreeSet;
use std::sync::LazyLock;

use serde::{Deserialize, Serialize};

use crate::facts::{Facts, GpuState, Os};
use crate::smoke::SmokeReport;

pub use rules::{FixSpec, Means, OsName, RULES_SCHEMA, Rule, RuleKind, RuleSpec, Rules, RulesError};

use probes::{Eval, ProbeEnv, ProbeInput};
use rules::Vars;

/// The rule file, embedded so the binary is self-contained.
pub const BUNDLED_RULES_TOML: &str = include_str!("../../assets/diagnoses.toml");

/// A diagnosis is a [`Finding`](crate::finding::Finding): one type for preflight issues,
/// rule findings and the smoke report's diagnoses.
pub use crate::finding::Finding as Diagnosis;

/// Whose output is being read. A text rule lists the stages it applies to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum TextSource {
    /// Probes before anything changes (nvidia-smi, pip config, the Python probe).
    Detect,
    Uninstall,
    /// Installing the chosen CUDA build (or its fallback).
    Install,
    /// Installing the user's requirements after torch.
    Requirements,
    /// Installing the previous build or a CPU build on purpose: rules that flag "the CPU
    /// build was kept" do not apply.
    Rollback,
    /// `import torch` and the first CUDA operations (the smoke test).
    Verify,
    /// The user's own program (logs pasted into `doctor`).
    Training,
}

impl TextSource {
    pub const ALL: [TextSource; 7] = [
        TextSource::Detect,
        TextSource::Uninstall,
        TextSource::Install,
        TextSource::Requirements,
        TextSource::Rollback,
        TextSource::Verify,
        TextSource::Training,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            TextSource::Detect => "detect",
            TextSource::Uninstall => "uninstall",
            TextSource::Install => "install",
            TextSource::Requirements => "requirements",
            TextSource::Rollback => "rollback",
            TextSource::Verify => "verify",
            TextSource::Training => "training",
        }
    }
}

impl From<crate::plan::StepKind> for TextSource {
    fn from(s: crate::plan::StepKind) -> TextSource {
        use crate::plan::StepKind as P;
        match s {
            // Creating a venv fails the way installs fail (PEP 668, disk, network).
            P::Venv | P::Fetch | P::Install => TextSource::Install,
            P::Uninstall => TextSource::Uninstall,
            P::Requirements => TextSource::Requirements,
            P::Verify => TextSource::Verify,
        }
    }
}

/// The system the advice is for: fixes are chosen per OS, so a Linux test can check the
/// Windows advice for a Windows message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OsContext {
    pub os: Os,
    /// Linux under WSL2: GPU advice differs (the driver is the Windows one).
    pub wsl: bool,
    /// The target interpreter, shown in fix commands as `{python}`. None → `python`
    /// (Windows) or `python3`.
    pub python: Option<String>,
}

impl OsContext {
    pub fn new(os: Os, wsl: bool) -> OsContext {
        OsContext { os, wsl: wsl && os == Os::Linux, python: None }
    }

    pub fn windows() -> OsContext {
        OsContext::new(Os::Windows, false)
    }

    pub fn linux() -> OsContext {
        OsContext::new(Os::Linux, false)
    }

    pub fn wsl() -> OsContext {
        OsContext::new(Os::Linux, true)
    }

    pub fn macos() -> OsContext {
        OsContext::new(Os::Macos, false)
    }

    /// This machine.
    pub fn current() -> OsContext {
        let p = crate::facts::platform::Platform::current();
        OsContext::new(p.os, p.wsl)
    }

    /// The machine the facts describe, with its target interpreter.
    pub fn from_facts(facts: &Facts) -> OsContext {
        let mut ctx = OsContext::new(facts.os, facts.wsl);
        ctx.python = facts.python.as_ref().map(|p| p.executable.clone());
        ctx
    }

    pub fn with_python(mut self, python: impl Into<String>) -> OsContext {
        self.python = Some(python.into());
        self
    }

    /// The interpreter as a command prefix for this OS's shell (PowerShell on Windows).
    pub fn python_command(&self) -> String {
        let Some(p) = self.python.as_deref().filter(|p| !p.is_empty()) else {
            return if self.os == Os::Windows { "python".into() } else { "python3".into() };
        };
        // The one quoting rule for commands shown to users (PowerShell's `&` included).
        crate::shell::Shell::default_for(self.os).render(&[p.to_string()])
    }
}

/// How an install step failed, for the engine's next move.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum FailureKind {
    /// The build does not exist for this Python/platform on that index: try the planned
    /// fallback build.
    BuildUnavailable,
    /// Anything else (network, disk, PEP 668, locked files …): roll back.
    Other,
}

/// A failed install step, classified and diagnosed.
#[derive(Debug, Clone, PartialEq)]
pub struct FailureAnalysis {
    pub kind: FailureKind,
    pub diagnoses: Vec<Diagnosis>,
}

/// A rule that fired, before suppression and rendering.
struct Fired {
    rule: usize,
    vars: Vars,
}

static BUNDLED: LazyLock<Result<Rules, RulesError>> = LazyLock::new(|| Rules::from_toml(BUNDLED_RULES_TOML));

impl Rules {
    /// The embedded rules, or why they do not load (only possible in a broken build).
    pub fn try_bundled() -> Result<&'static Rules, &'static RulesError> {
        BUNDLED.as_ref()
    }

    /// The embedded rules.
    pub fn bundled() -> &'static Rules {
        // Invariant: the embedded file is checked by the `bundled_rules_load` test; a bad
        // asset is a defect of this build, not something a user can cause or fix.
        Rules::try_bundled().expect("assets/diagnoses.toml is valid (checked by tests)")
    }

    /// Diagnose one step's combined stdout+stderr.
    pub fn diagnose_text(&self, stage: TextSource, text: &str, ctx: &OsContext) -> Vec<Diagnosis> {
        let fired = self.fire_text(&[stage], text, ctx);
        self.finish(fired, ctx)
    }

    /// Diagnose text whose stage is unknown (a pasted log): every text rule applies.
    pub fn diagnose_log(&self, text: &str, ctx: &OsContext) -> Vec<Diagnosis> {
        let fired = self.fire_text(&TextSource::ALL, text, ctx);
        self.finish(fired, ctx)
    }

    /// Diagnose a smoke result: its import error, warnings and failed checks as text, plus
    /// the conditions (CPU build, CUDA unavailable, GPU missing from the arch list).
    pub fn diagnose_smoke(&self, report: &SmokeReport, ctx: &OsContext) -> Vec<Diagnosis> {
        let fired = self.fire_smoke(report, ctx);
        self.finish(fired, ctx)
    }

    /// Diagnose detected facts (GPU state, driver vs build, the Python environment).
    pub fn diagnose_facts(&self, facts: &Facts, ctx: &OsContext) -> Vec<Diagnosis> {
        let fired = self.fire_facts(facts, ctx);
        self.finish(fired, ctx)
    }

    /// Facts and a smoke result together (`doctor`), one finding per id.
    pub fn diagnose_all(&self, facts: Option<&Facts>, smoke: Option<&SmokeReport>, ctx: &OsContext) -> Vec<Diagnosis> {
        let mut fired = Vec::new();
        if let Some(f) = facts {
            fired.extend(self.fire_facts(f, ctx));
        }
        if let Some(s) = smoke {
            fired.extend(self.fire_smoke(s, ctx));
        }
        self.finish(fired, ctx)
    }

    /// Classify a failed install step's output and diagnose it. `BuildUnavailable` only when
    /// a "no such build" rule survives and no network failure explains it.
    pub fn analyze_install_failure(&self, stage: TextSource, text: &str, ctx: &OsContext) -> FailureAnalysis {
        let fired = self.resolve(self.fire_text(&[stage], text, ctx));
        let means: BTreeSet<Means> = fired.iter().filter_map(|f| self.rules()[f.rule].spec.means).collect();
        let kind = if means.contains(&Means::BuildUnavailable) && !means.contains(&Means::Network) {
            FailureKind::BuildUnavailable
        } else {
            FailureKind::Other
        };
        FailureAnalysis { kind, diagnoses: self.render(fired, ctx) }
    }

    /// Does this install output say the requested build does not exist here (→ fallback)?
    pub fn is_build_unavailable(&self, text: &str) -> bool {
        self.analyze_install_failure(TextSource::Install, text, &OsContext::linux()).kind
            == FailureKind::BuildUnavailable
    }

    fn fire_text(&self, stages: &[TextSource], text: &str, ctx: &OsContext) -> Vec<Fired> {
        if text.trim().is_empty() {
            return Vec::new();
        }
        self.rules()
            .iter()
            .enumerate()
            .filter(|(_, r)| stages.iter().any(|s| r.applies(*s, ctx)))
            .filter_map(|(i, r)| r.match_text(text).map(|vars| Fired { rule: i, vars }))
            .collect()
    }

    fn fire_probes(
        &self,
        input: ProbeInput,
        ctx: &OsContext,
        run: impl Fn(Eval, &ProbeEnv<'_>) -> Option<Vars>,
    ) -> Vec<Fired> {
        let env = ProbeEnv { ctx };
        self.rules()
            .iter()
            .enumerate()
            .filter(|(_, r)| r.probe_input() == Some(input) && r.os_ok(ctx))
            .filter_map(|(i, r)| {
                let def = probes::find(r.spec.probe.as_deref()?)?;
                run(def.eval, &env).map(|vars| Fired { rule: i, vars })
            })
            .collect()
    }

    fn fire_smoke(&self, report: &SmokeReport, ctx: &OsContext) -> Vec<Fired> {
        let mut text: Vec<&str> = Vec::new();
        text.extend(report.import_error.as_deref());
        text.extend(report.warnings.iter().map(String::as_str));
        text.extend(report.checks.iter().filter(|c| !c.ok).map(|c| c.detail.as_str()));
        let mut fired = self.fire_text(&[TextSource::Verify], &text.join("\n"), ctx);
        fired.extend(self.fire_probes(ProbeInput::Smoke, ctx, |eval, env| match eval {
            Eval::Smoke(f) => f(report, env),
            Eval::Facts(_) => None,
        }));
        fired
    }

    fn fire_facts(&self, facts: &Facts, ctx: &OsContext) -> Vec<Fired> {
        let mut text: Vec<&str> = Vec::new();
        match &facts.gpu_state {
            GpuState::DriverNotLoaded { detail }
            | GpuState::VersionMismatch { detail }
            | GpuState::ToolMissing { detail }
            | GpuState::Unreadable { detail }
            | GpuState::TimedOut { detail } => text.push(detail),
            GpuState::Ready | GpuState::NoGpu => {}
        }
        text.extend(facts.notes.iter().map(String::as_str));
        text.extend(facts.python_candidates.iter().filter_map(|c| c.problem.as_deref()));
        let mut fired = self.fire_text(&[TextSource::Detect], &text.join("\n"), ctx);
        fired.extend(self.fire_probes(ProbeInput::Facts, ctx, |eval, env| match eval {
            Eval::Facts(f) => f(facts, env),
            Eval::Smoke(_) => None,
        }));
        fired
    }

    /// Fallbacks go when anything else fired; `overrides` remove generic siblings; one
    /// finding per id, in file order.
    fn resolve(&self, mut fired: Vec<Fired>) -> Vec<Fired> {
        let rules = self.rules();
        if fired.iter().any(|f| !rules[f.rule].spec.fallback) {
            fired.retain(|f| !rules[f.rule].spec.fallback);
        }
        let suppressed: BTreeSet<&str> =
            fired.iter().flat_map(|f| rules[f.rule].spec.overrides.iter().map(String::as_str)).collect();
        fired.retain(|f| !suppressed.contains(rules[f.rule].spec.id.as_str()));
        fired.sort_by_key(|f| f.rule);
        let mut seen = BTreeSet::new();
        fired.retain(|f| seen.insert(rules[f.rule].spec.id.clone()));
        fired
    }

    fn render(&self, fired: Vec<Fired>, ctx: &OsContext) -> Vec<Diagnosis> {
        fired.iter().map(|f| self.rules()[f.rule].render(&f.vars, ctx)).collect()
    }

    fn finish(&self, fired: Vec<Fired>, ctx: &OsContext) -> Vec<Diagnosis> {
        let fired = self.resolve(fired);
        self.render(fired, ctx)
    }
}

/// [`Rules::diagnose_text`] with the bundled rules.
pub fn diagnose_text(stage: TextSource, text: &str, ctx: &OsContext) -> Vec<Diagnosis> {
    Rules::bundled().diagnose_text(stage, text, ctx)
}

/// [`Rules::diagnose_smoke`] with the bundled rules.
pub fn diagnose_smoke(report: &SmokeReport, ctx: &OsContext) -> Vec<Diagnosis> {
    Rules::bundled().diagnose_smoke(report, ctx)
}

/// [`Rules::diagnose_facts`] with the bundled rules.
pub fn diagnose_facts(facts: &Facts, ctx: &OsContext) -> Vec<Diagnosis> {
    Rules::bundled().diagnose_facts(facts, ctx)
}

/// [`Rules::analyze_install_failure`] with the bundled rules.
pub fn analyze_install_failure(stage: TextSource, text: &str, ctx: &OsContext) -> FailureAnalysis {
    Rules::bundled().analyze_install_failure(stage, text, ctx)
}

/// [`Rules::is_build_unavailable`] with the bundled rules.
pub fn is_build_unavailable(text: &str) -> bool {
    Rules::bundled().is_build_unavailable(text)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bundled_rules_load() {
        let rules = Rules::try_bundled().map_err(|e| e.to_string()).unwrap();
        assert!(rules.rules().len() >= 40);
    }

    #[test]
    fn python_command_quotes_paths_with_spaces() {
        let w = OsContext::windows().with_python(r"C:\Program Files\Python312\python.exe");
        assert_eq!(w.python_command(), r#"& "C:\Program Files\Python312\python.exe""#);
        let l = OsContext::linux().with_python("/home/a b/venv/bin/python");
        assert_eq!(l.python_command(), "\"/home/a b/venv/bin/python\"");
        let odd = OsContext::linux().with_python("/home/o'neil $x/bin/python");
        assert_eq!(odd.python_command(), crate::shell::Shell::Posix.quote("/home/o'neil $x/bin/python"));
        assert_eq!(OsContext::linux().with_python("/v/bin/python").python_command(), "/v/bin/python");
        assert_eq!(OsContext::windows().python_command(), "python");
        assert_eq!(OsContext::wsl().python_command(), "python3");
    }

    #[test]
    fn wsl_only_on_linux() {
        assert!(!OsContext::new(Os::Windows, true).wsl);
    }
}
