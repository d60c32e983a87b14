//! Running an interpreter once and reading what it says about itself.
//!
//! The full probe is assets/probe.py, run with `-I -B -c <script> <context>`: isolated mode
//! keeps the user's PYTHONPATH, PYTHONSTARTUP and user site out of the answer, and `-B`
//! leaves no `.pyc` behind. The quick probe only asks "who are you" so that other
//! candidates can be deduplicated and shown with a version.

use std::time::Duration;

use serde::Deserialize;
use thiserror::Error;
use tokio_util::sync::CancellationToken;

use super::inspect::{self, Identity};
use crate::exec::{ExitState, RunOutcome, RunSpec, Runner};
use crate::facts::platform::HostEnv;

/// The probe script, embedded in the binary.
pub const PROBE_SCRIPT: &str = include_str!("../../../assets/probe.py");

/// The line prefix the full probe prints its JSON after.
pub const PROBE_MARKER: &str = "TORCHUP_PROBE ";
/// The line prefix of the quick probe.
pub const QUICK_MARKER: &str = "TORCHUP_QUICK ";

const QUICK_SCRIPT: &str = "import os, sys, json\n\
sys.stdout.write('TORCHUP_QUICK ' + json.dumps({'executable': sys.executable, \
'realpath': os.path.realpath(sys.executable), 'prefix': sys.prefix, \
'in_venv': sys.prefix != getattr(sys, 'base_prefix', sys.prefix), \
'version': '%d.%d.%d' % tuple(sys.version_info[:3])}) + '\\n')\n";

/// Why an interpreter gave no usable answer. Each message reads after "<path>: ".
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum ProbeError {
    #[error("no such file")]
    Missing,
    #[error("cannot run it ({0})")]
    Spawn(String),
    #[error("no answer within {0} s (killed)")]
    TimedOut(u64),
    #[error(
        "this is the Microsoft Store alias stub, not a Python (F42); install Python from python.org or use `py -3`"
    )]
    StoreStub,
    #[error("not Python 3.4 or newer (it rejected the -I option)")]
    TooOld,
    #[error("it failed ({state}): {detail}")]
    Failed { state: String, detail: String },
    #[error("its answer could not be read: {excerpt}")]
    Garbage { excerpt: String },
}

/// torch, torchvision, torchaudio or xformers as the probe saw them.
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(default)]
pub struct FamilyMember {
    /// `<pkg>/version.py`'s `__version__`, else the distribution version.
    pub version: Option<String>,
    /// The distribution version in the metadata.
    pub dist_version: Option<String>,
    pub installer: Option<String>,
    /// site-packages directory holding the package.
    pub location: Option<String>,
    /// Why version.py could not be read (a broken install).
    pub version_py_error: Option<String>,
    /// torch only: `torch.version.cuda`.
    pub cuda: Option<String>,
    /// torch only: `torch.version.hip` (ROCm builds).
    pub hip: Option<String>,
}

/// The user site as the probe saw it (F06).
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(default)]
pub struct UserSite {
    pub path: Option<String>,
    /// Whether a normal (non-isolated) run of this interpreter puts it on sys.path.
    pub active: bool,
    pub shadowing: Vec<String>,
}

/// The document assets/probe.py prints.
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(default)]
pub struct ProbeReport {
    pub probe: u32,
    pub executable: String,
    pub realpath: Option<String>,
    pub version: String,
    pub bits: u8,
    pub implementation: String,
    pub platform: String,
    pub soabi: Option<String>,
    pub gil_disabled: bool,
    pub prefix: String,
    pub base_prefix: String,
    pub pyvenv_cfg: bool,
    pub conda_meta: bool,
    pub in_venv: bool,
    pub system_site_packages: Option<bool>,
    pub embedded: bool,
    pub stdlib: Option<String>,
    pub purelib: Option<String>,
    pub externally_managed: bool,
    pub externally_managed_marker: Option<String>,
    pub dist_count: u32,
    pub pip: Option<String>,
    pub uv_in_env: bool,
    pub torch: Option<FamilyMember>,
    pub torchvision: Option<FamilyMember>,
    pub torchaudio: Option<FamilyMember>,
    pub xformers: Option<FamilyMember>,
    pub dependents: Vec<String>,
    pub user_site: UserSite,
    pub pythonpath_shadowing: Vec<String>,
    /// Problems the probe met but survived.
    pub errors: Vec<String>,
}

/// What the quick probe says.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
pub struct QuickReport {
    pub executable: String,
    pub realpath: String,
    pub prefix: String,
    #[serde(default)]
    pub in_venv: bool,
    pub version: String,
}

impl QuickReport {
    /// Two interpreters are the same when they run the same binary as the same venv (or
    /// both outside any venv); see [`inspect::identity_of`].
    pub fn identity(&self) -> Identity {
        inspect::identity_of(&self.realpath, &self.prefix, self.in_venv)
    }
}

impl ProbeReport {
    /// See [`QuickReport::identity`].
    pub fn identity(&self) -> Identity {
        let realpath = self.realpath.clone().unwrap_or_else(|| self.executable.clone());
        inspect::identity_of(&realpath, &self.prefix, self.in_venv || self.prefix != self.base_prefix)
    }
}

/// The child environment: exactly the host environment torchup was given (so tests are
/// hermetic and users' variables still reach the interpreter).
fn child_spec(argv: Vec<String>, env: &HostEnv, timeout: Duration) -> RunSpec {
    let mut spec = RunSpec::new(argv).timeout(timeout);
    spec.clear_env = true;
    spec.env = env.iter().map(|(k, v)| (k.to_string(), Some(v.to_string_lossy().into_owned()))).collect();
    spec
}

/// What the probe is told explicitly, because `-I` hides it from the child.
pub fn probe_context(env: &HostEnv) -> String {
    serde_json::json!({
        "pythonpath": env.get("PYTHONPATH"),
        "nousersite": env.get("PYTHONNOUSERSITE").is_some(),
    })
    .to_string()
}

/// Run the full probe with `interpreter` (program and leading arguments).
pub async fn run_probe<R: Runner>(
    runner: &R,
    interpreter: &[String],
    env: &HostEnv,
    timeout: Duration,
) -> Result<ProbeReport, ProbeError> {
    let mut argv = interpreter.to_vec();
    argv.extend(["-I".into(), "-B".into(), "-c".into(), PROBE_SCRIPT.into(), probe_context(env)]);
    let outcome = run(runner, child_spec(argv, env, timeout), timeout).await?;
    let report: ProbeReport = parse_marked(&outcome, PROBE_MARKER)?;
    if report.version.is_empty() || report.executable.is_empty() {
        return Err(ProbeError::Garbage {
            excerpt: format!("the probe could not describe the interpreter ({})", report.errors.join("; ")),
        });
    }
    Ok(report)
}

/// Run the quick probe. `skip_site` (`-S`) is only right for an interpreter known not to be
/// a venv: a venv's `sys.prefix` is set by `site`.
pub async fn run_quick<R: Runner>(
    runner: &R,
    interpreter: &[String],
    env: &HostEnv,
    timeout: Duration,
    skip_site: bool,
) -> Result<QuickReport, ProbeError> {
    let mut argv = interpreter.to_vec();
    argv.push("-I".into());
    if skip_site {
        argv.push("-S".into());
    }
    argv.extend(["-B".into(), "-c".into(), QUICK_SCRIPT.into()]);
    let outcome = run(runner, child_spec(argv, env, timeout), timeout).await?;
    parse_marked(&outcome, QUICK_MARKER)
}

async fn run<R: Runner>(runner: &R, spec: RunSpec, timeout: Duration) -> Result<RunOutcome, ProbeError> {
    match runner.run(spec, None, CancellationToken::new()).await {
        Ok(o) if o.state == ExitState::TimedOut => Err(ProbeError::TimedOut(timeout.as_secs().max(1))),
        Ok(o) => Ok(o),
        Err(e) if e.is_not_found() => Err(ProbeError::Missing),
        Err(e) => Err(ProbeError::Spawn(e.to_string())),
    }
}

/// Read the JSON after `marker` from a finished run; classify everything else.
pub fn parse_marked<T: serde::de::DeserializeOwned>(outcome: &RunOutcome, marker: &str) -> Result<T, ProbeError> {
    let all = outcome.combined();
    if all.contains("Python was not found; run without arguments to install from the Microsoft Store") {
        return Err(ProbeError::StoreStub);
    }
    if outcome.stderr.contains("Unknown option: -I") || outcome.stderr.contains("Unknown option -I") {
        return Err(ProbeError::TooOld);
    }
    let line = outcome.stdout.lines().rev().find_map(|l| l.trim_end_matches('\r').strip_prefix(marker));
    match line {
        Some(json) => match serde_json::from_str::<T>(json) {
            Ok(v) => Ok(v),
            Err(e) => Err(ProbeError::Garbage { excerpt: format!("{} ({e})", excerpt(json)) }),
        },
        None if !outcome.success() => Err(ProbeError::Failed {
            state: outcome.state.describe(),
            detail: last_meaningful_line(&outcome.stderr)
                .or_else(|| last_meaningful_line(&outcome.stdout))
                .unwrap_or_else(|| "no output".into()),
        }),
        None => Err(ProbeError::Garbage {
            excerpt: if all.trim().is_empty() { "no output".into() } else { excerpt(all.trim()) },
        }),
    }
}

fn last_meaningful_line(text: &str) -> Option<String> {
    text.lines().rev().map(str::trim).find(|l| !l.is_empty()).map(excerpt)
}

/// A short, single-line, printable excerpt for messages.
pub fn excerpt(text: &str) -> String {
    let clean: String = text.chars().map(|c| if c.is_control() { ' ' } else { c }).collect();
    let clean = clean.split_whitespace().collect::<Vec<_>>().join(" ");
    if clean.chars().count() > 120 { format!("{}…", clean.chars().take(120).collect::<String>()) } else { clean }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn outcome(code: i32, stdout: &str, stderr: &str) -> RunOutcome {
        RunOutcome {
            state: ExitState::Code(code),
            stdout: stdout.into(),
            stderr: stderr.into(),
            duration: Duration::from_millis(1),
        }
    }

    #[test]
    fn marked_json_is_found_after_noise() {
        let out = outcome(
            0,
            "hello from sitecustomize\r\nTORCHUP_QUICK {\"executable\":\"/p/python\",\"realpath\":\"/p/python3.11\",\"prefix\":\"/p\",\"in_venv\":true,\"version\":\"3.11.7\"}\r\n",
            "",
        );
        let q: QuickReport = parse_marked(&out, QUICK_MARKER).unwrap();
        assert_eq!(q.version, "3.11.7");
        assert_eq!(
            q.identity(),
            ("/p/python3.11".to_string(), "/p".to_string()),
            "unresolvable prefixes stay as given"
        );
    }

    #[test]
    fn every_bad_answer_has_a_clear_state() {
        let garbage = outcome(0, "\u{1b}[31m\u{0}binary junk", "");
        assert!(matches!(parse_marked::<QuickReport>(&garbage, QUICK_MARKER), Err(ProbeError::Garbage { .. })));
        let bad_json = outcome(0, "TORCHUP_QUICK {not json", "");
        let err = parse_marked::<QuickReport>(&bad_json, QUICK_MARKER).unwrap_err();
        assert!(err.to_string().contains("{not json"), "{err}");
        let empty = outcome(0, "", "");
        assert_eq!(
            parse_marked::<QuickReport>(&empty, QUICK_MARKER).unwrap_err(),
            ProbeError::Garbage { excerpt: "no output".into() }
        );
        let crashed = outcome(1, "", "Traceback (most recent call last):\n  ...\nImportError: boom\n");
        assert_eq!(
            parse_marked::<QuickReport>(&crashed, QUICK_MARKER).unwrap_err().to_string(),
            "it failed (exit code 1): ImportError: boom"
        );
        let py2 = outcome(2, "", "Unknown option: -I\nusage: python [option] ...\n");
        assert_eq!(parse_marked::<QuickReport>(&py2, QUICK_MARKER).unwrap_err(), ProbeError::TooOld);
        let stub = outcome(
            9009,
            "",
            "Python was not found; run without arguments to install from the Microsoft Store, or disable this shortcut from Settings > Manage App Execution Aliases.\r\n",
        );
        assert_eq!(parse_marked::<QuickReport>(&stub, QUICK_MARKER).unwrap_err(), ProbeError::StoreStub);
    }

    #[test]
    fn probe_report_tolerates_missing_fields() {
        let r: ProbeReport =
            serde_json::from_str(r#"{"probe":1,"version":"3.12.1","torch":{"version":"2.5.1+cpu"}}"#).unwrap();
        assert_eq!(r.torch.unwrap().cuda, None);
        assert_eq!(r.bits, 0);
    }

    #[test]
    fn context_names_what_isolated_mode_hides() {
        let env = HostEnv::from_pairs([("PYTHONPATH", "/a:/b"), ("PYTHONNOUSERSITE", "1")]);
        let v: serde_json::Value = serde_json::from_str(&probe_context(&env)).unwrap();
        assert_eq!(v["pythonpath"], "/a:/b");
        assert_eq!(v["nousersite"], true);
        let v: serde_json::Value = serde_json::from_str(&probe_context(&HostEnv::default())).unwrap();
        assert!(v["pythonpath"].is_null());
    }

    #[test]
    fn excerpts_are_short_and_single_line() {
        let long = "x".repeat(500);
        assert_eq!(excerpt(&long).chars().count(), 121);
        assert_eq!(excerpt("a\nb\tc\u{7}"), "a b c");
    }
}
