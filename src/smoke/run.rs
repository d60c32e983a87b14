//! Running the embedded smoke script with the target interpreter.
//!
//! The interpreter runs `python -c <script> --progress` with the user's own environment
//! (no `-I`, no `-E`, no `-s`): user site-packages and PYTHONPATH stay visible, because the
//! user's `python train.py` sees them too, and a torch in `~/.local` shadowing the env's
//! own is exactly the kind of problem the test must reveal. The script drops the current
//! directory from `sys.path` itself (see docs/smoke-test.md).

use std::path::Path;
use std::time::Duration;

use thiserror::Error;
use tokio_util::sync::CancellationToken;

use super::parse::interpret;
use super::{SMOKE_TEST_PY, SmokeReport};
use crate::exec::{ExecError, RunSpec, Runner};

/// How long the whole script may take. Normal runs take seconds (importing torch is most
/// of it); the first CUDA use on a new GPU can JIT-compile PTX for a minute.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(120);

/// Why no report could be had: the interpreter never ran the script. Anything that
/// happens after the script started (crash, hang, garbage) is a failed check instead.
#[derive(Debug, Error)]
pub enum SmokeError {
    #[error("cannot run {python}: {source}; pass --python with the path of a Python 3 interpreter")]
    Spawn {
        python: String,
        #[source]
        source: ExecError,
    },
    #[error(
        "{python} did not run the smoke test ({state}: {last_line}); pass --python with the path of a Python 3.6+ interpreter"
    )]
    NotStarted { python: String, state: String, last_line: String },
    #[error("{python} did not start the smoke test within {secs} s; check that it runs (`{python} -c pass`)")]
    TimedOut { python: String, secs: u64 },
    #[error("the smoke test was cancelled")]
    Cancelled,
}

impl SmokeError {
    /// The interpreter itself is unusable (exit code 3 territory), as opposed to cancelled.
    pub fn is_environment(&self) -> bool {
        !matches!(self, SmokeError::Cancelled)
    }
}

/// The argv that runs the embedded script. `-c` keeps it one argv element (no temp file,
/// no shell); the script stays far below Windows' 32 767-character command line.
pub fn argv(python: &Path) -> Vec<String> {
    argv_with(&[python.to_string_lossy().into_owned()])
}

/// [`argv`] for an interpreter given as a program and leading arguments (`["py", "-3"]`).
pub fn argv_with(python: &[String]) -> Vec<String> {
    let mut argv = python.to_vec();
    argv.extend(["-c".to_string(), SMOKE_TEST_PY.to_string(), "--progress".to_string()]);
    argv
}

/// Run the smoke test with `python`, adding `env` changes to the inherited environment.
pub async fn run(
    python: &Path,
    env: &[(String, Option<String>)],
    runner: &impl Runner,
    timeout: Duration,
) -> Result<SmokeReport, SmokeError> {
    run_cancellable(python, env, runner, timeout, CancellationToken::new()).await
}

/// [`run`], stoppable from outside (Ctrl-C in the wizard, an install being cancelled).
/// On timeout or cancel the runner kills the interpreter's whole process group.
pub async fn run_cancellable(
    python: &Path,
    env: &[(String, Option<String>)],
    runner: &impl Runner,
    timeout: Duration,
    cancel: CancellationToken,
) -> Result<SmokeReport, SmokeError> {
    run_argv(&[python.to_string_lossy().into_owned()], env, runner, timeout, cancel).await
}

/// [`run_cancellable`] for an interpreter given as a program and leading arguments
/// (`["py", "-3"]`, as Python discovery finds the Windows launcher).
pub async fn run_argv(
    python: &[String],
    env: &[(String, Option<String>)],
    runner: &impl Runner,
    timeout: Duration,
    cancel: CancellationToken,
) -> Result<SmokeReport, SmokeError> {
    let shown = crate::shell::display_argv(python);
    let spec = RunSpec::new(argv_with(python)).envs(env).timeout(timeout);
    let outcome =
        runner.run(spec, None, cancel).await.map_err(|source| SmokeError::Spawn { python: shown.clone(), source })?;
    tracing::info!(python = %shown, state = ?outcome.state, ms = outcome.duration.as_millis() as u64, "smoke test ran");
    interpret(&outcome, &shown, timeout)
}
