//! Verify as one engine operation, shared by `torchup verify`, `doctor` and the wizard's
//! Verify screen: pick the interpreter, run the smoke test with the GPU probe alongside,
//! attach diagnoses, and compare with the last saved result. Saving is the caller's call
//! (`verify` saves, `doctor` does not).

use std::path::{Path, PathBuf};
use std::time::Duration;

use jiff::Timestamp;
use thiserror::Error;
use tokio_util::sync::CancellationToken;

use super::history::{History, HistoryEntry};
use super::run::{SmokeError, run_argv};
use super::{Change, SmokeReport, compare, diagnoses};
use crate::diagnose::{OsContext, Rules};
use crate::exec::Runner;
use crate::facts::gpu::{self, GpuProbe, GpuProbeOptions};
use crate::facts::platform::{HostEnv, Platform};
use crate::facts::python::PythonError;
use crate::facts::python::discover::{DiscoverInput, Found, discover};

/// What verify needs to know about the host (everything it would read from the process
/// is here, so tests and the wizard pass their own).
#[derive(Debug, Clone)]
pub struct VerifyOptions {
    pub platform: Platform,
    pub env: HostEnv,
    pub cwd: PathBuf,
    /// `--python`: the only interpreter tried when given.
    pub python: Option<PathBuf>,
    /// Environment changes for the interpreter (tests; empty for users).
    pub child_env: Vec<(String, Option<String>)>,
    pub timeout: Duration,
    /// Stops the smoke test's interpreter (its whole tree) when cancelled: the command's
    /// signal token ([`crate::exec::signals::Signals::token`]).
    pub cancel: CancellationToken,
}

impl VerifyOptions {
    pub fn new(platform: Platform, env: HostEnv, cwd: PathBuf, python: Option<PathBuf>) -> Self {
        VerifyOptions {
            platform,
            env,
            cwd,
            python,
            child_env: Vec::new(),
            timeout: super::DEFAULT_TIMEOUT,
            cancel: CancellationToken::new(),
        }
    }
}

/// Why verify produced no report.
#[derive(Debug, Error)]
pub enum VerifyError {
    /// No interpreter to test (`Explicit` is a bad `--python`: a usage error).
    #[error(transparent)]
    Python(#[from] PythonError),
    /// The interpreter would not run the smoke script.
    #[error(transparent)]
    Smoke(#[from] SmokeError),
}

/// One verify run.
#[derive(Debug, Clone)]
pub(crate) struct Verification {
    pub report: SmokeReport,
    /// The interpreter as found (`display`: its path, or "py -3"; `found_by`: why).
    pub python: Found,
    /// The GPU facts at the time (the driver is saved with the result).
    pub gpu: GpuProbe,
    /// The result as it would be saved.
    pub entry: HistoryEntry,
    /// The last saved result for this interpreter.
    pub previous: Option<HistoryEntry>,
    pub changes: Vec<Change>,
    /// Reading the history failed (the comparison is then empty).
    pub history_warning: Option<String>,
}

/// The interpreters verify tries, in order: `--python` alone when given, else the same
/// target order as detection (active venv, conda env, the env torchup is installed in,
/// `python`/`python3` on PATH, `py -3`), decided from the filesystem without running anything.
pub(crate) fn targets(opts: &VerifyOptions) -> Result<Vec<Found>, PythonError> {
    let input =
        DiscoverInput { os: opts.platform.os, env: &opts.env, cwd: &opts.cwd, explicit: opts.python.as_deref() };
    let found = discover(&input);
    if opts.python.is_some() {
        // Discovery puts the explicit candidate first.
        let Some(first) = found.into_iter().next() else {
            return Err(PythonError::NotFound { tried: String::new() });
        };
        return match &first.problem {
            Some(reason) => Err(PythonError::Explicit { path: first.display.clone(), reason: reason.clone() }),
            None => Ok(vec![first]),
        };
    }
    let usable: Vec<Found> = found.iter().filter(|f| f.eligible && f.problem.is_none()).cloned().collect();
    if usable.is_empty() {
        let tried: Vec<String> = found
            .iter()
            .filter(|f| f.problem.is_some())
            .map(|f| format!("{} ({}): {}", f.display, f.found_by, f.problem.as_deref().unwrap_or("")))
            .collect();
        let tried = if tried.is_empty() { String::new() } else { format!(" (tried {})", tried.join("; ")) };
        return Err(PythonError::NotFound { tried });
    }
    Ok(usable)
}

/// Run the smoke test with the first target that starts, the GPU probe and the diagnosis
/// rules' compilation alongside; attach diagnoses; compare with `history`.
pub(crate) async fn verify<R: Runner>(
    opts: &VerifyOptions,
    history: &History,
    runner: &R,
) -> Result<Verification, VerifyError> {
    let candidates = targets(opts)?;
    let gpu_opts = GpuProbeOptions::for_host(opts.platform.clone(), opts.env.clone());
    // The first interpreter is spawned on the first poll; the GPU probe and the regex
    // compilation (~10 ms) then run while Python works.
    let rules = async { tokio::task::spawn_blocking(|| Rules::try_bundled().is_ok()).await };
    let (first, gpu, _) = tokio::join!(attempt(opts, &candidates[0], runner), gpu::probe(&gpu_opts), rules);
    let (python, mut report) = match first {
        Ok(r) => (candidates[0].clone(), r),
        Err(first_err @ SmokeError::Cancelled) => return Err(first_err.into()),
        Err(first_err) => retry(opts, &candidates[1..], runner).await.ok_or(first_err)?,
    };
    let ctx = OsContext::new(opts.platform.os, opts.platform.wsl).with_python(python.display.clone());
    diagnoses::attach(&mut report, &ctx);
    let entry = HistoryEntry::new(Timestamp::now(), Path::new(&python.display), gpu.driver.clone(), report.clone());
    let (previous, history_warning) = match history.last_for_off_runtime(&entry.python).await {
        Ok(p) => (p, None),
        Err(e) => (None, Some(e.to_string())),
    };
    let changes = previous.as_ref().map(|p| compare(p, &entry)).unwrap_or_default();
    Ok(Verification { report, python, gpu, entry, previous, changes, history_warning })
}

async fn attempt<R: Runner>(opts: &VerifyOptions, target: &Found, runner: &R) -> Result<SmokeReport, SmokeError> {
    run_argv(&target.argv, &opts.child_env, runner, opts.timeout, opts.cancel.clone()).await
}

/// The next interpreters in order, for when the first would not run the script at all
/// (a broken `python` early on PATH). A cancel stops the search.
async fn retry<R: Runner>(opts: &VerifyOptions, rest: &[Found], runner: &R) -> Option<(Found, SmokeReport)> {
    for target in rest {
        match attempt(opts, target, runner).await {
            Ok(r) => return Some((target.clone(), r)),
            Err(SmokeError::Cancelled) => return None,
            Err(_) => continue,
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::facts::Os;

    fn opts(env: HostEnv, cwd: &Path, python: Option<PathBuf>) -> VerifyOptions {
        VerifyOptions::new(
            Platform { os: Os::Linux, cpu_arch: "x86_64".into(), wsl: false },
            env,
            cwd.to_path_buf(),
            python,
        )
    }

    #[cfg(unix)]
    fn exe(path: &Path) {
        use std::os::unix::fs::PermissionsExt;
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(path, "#!/bin/sh\n").unwrap();
        std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o755)).unwrap();
    }

    #[cfg(unix)]
    #[test]
    fn targets_follow_discovery_order() {
        let dir = tempfile::tempdir().unwrap();
        let venv = dir.path().join("venv");
        exe(&venv.join("bin/python"));
        std::fs::write(venv.join("pyvenv.cfg"), "home = /usr/bin\n").unwrap();
        let bin = dir.path().join("bin");
        exe(&bin.join("python3"));
        let env =
            HostEnv::from_pairs([("VIRTUAL_ENV", venv.display().to_string()), ("PATH", bin.display().to_string())]);
        let t = targets(&opts(env, dir.path(), None)).unwrap();
        assert!(t[0].found_by.starts_with("VIRTUAL_ENV"), "{:?}", t[0]);
        assert!(t.iter().any(|f| f.display == bin.join("python3").display().to_string()));
    }

    #[test]
    fn a_missing_explicit_python_is_a_usage_error_and_no_python_is_not_found() {
        let dir = tempfile::tempdir().unwrap();
        let err = targets(&opts(HostEnv::default(), dir.path(), Some("/nonexistent/python".into()))).unwrap_err();
        assert!(matches!(err, PythonError::Explicit { .. }), "{err:?}");
        assert!(err.to_string().starts_with("--python /nonexistent/python: no such file"), "{err}");
        let err = targets(&opts(HostEnv::from_pairs([("PATH", "")]), dir.path(), None)).unwrap_err();
        assert!(matches!(err, PythonError::NotFound { .. }), "{err:?}");
    }
}
