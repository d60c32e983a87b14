//! Running child processes: argv only (never a shell), stdout and stderr read
//! concurrently, lines split on `\n` and `\r` (pip redraws with `\r`), decoded lossily,
//! each child in its own process group so cancellation reaches pip's grandchildren.

mod capture;
mod lines;
mod process;
pub(crate) mod signals;
pub mod supervise;

pub use lines::LineSplitter;
pub use process::{TokioRunner, kill_tree};

use std::path::PathBuf;
use std::time::Duration;

use thiserror::Error;
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

/// What to run.
#[derive(Debug, Clone, Default)]
pub struct RunSpec {
    /// argv[0] is the program; never a shell string.
    pub argv: Vec<String>,
    /// Environment changes: `Some(v)` sets, `None` removes.
    pub env: Vec<(String, Option<String>)>,
    /// Start from an empty environment (plus `env`). Tests use this for isolation.
    pub clear_env: bool,
    pub cwd: Option<PathBuf>,
    /// Kill the whole process group after this long.
    pub timeout: Option<Duration>,
    /// Bytes written to stdin, then stdin is closed. None = stdin is /dev/null.
    pub stdin: Option<Vec<u8>>,
}

impl RunSpec {
    pub fn new<I, S>(argv: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        RunSpec { argv: argv.into_iter().map(Into::into).collect(), ..Default::default() }
    }

    pub fn env(mut self, key: impl Into<String>, value: impl Into<String>) -> Self {
        self.env.push((key.into(), Some(value.into())));
        self
    }

    pub fn env_remove(mut self, key: impl Into<String>) -> Self {
        self.env.push((key.into(), None));
        self
    }

    pub fn envs(mut self, extra: &[(String, Option<String>)]) -> Self {
        self.env.extend_from_slice(extra);
        self
    }

    pub fn timeout(mut self, d: Duration) -> Self {
        self.timeout = Some(d);
        self
    }

    pub fn stdin(mut self, bytes: impl Into<Vec<u8>>) -> Self {
        self.stdin = Some(bytes.into());
        self
    }
}

/// Which stream a line came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stream {
    Stdout,
    Stderr,
}

/// A line of output, as it arrives.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OutputLine {
    pub stream: Stream,
    pub text: String,
    /// The line ended with `\r`: a redraw of a progress line, not a new line.
    pub carriage_return: bool,
}

/// How a child ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ExitState {
    /// Exited with this code.
    Code(i32),
    /// Killed by a signal (Unix) without an exit code.
    Signal,
    /// Killed by torchup because the timeout passed.
    TimedOut,
    /// Killed by torchup because the user cancelled.
    Cancelled,
}

impl ExitState {
    pub fn success(self) -> bool {
        self == ExitState::Code(0)
    }

    pub fn describe(self) -> String {
        match self {
            ExitState::Code(c) => format!("exit code {c}"),
            ExitState::Signal => "killed by a signal".into(),
            ExitState::TimedOut => "timed out".into(),
            ExitState::Cancelled => "cancelled".into(),
        }
    }
}

/// The result of a finished run.
#[derive(Debug, Clone)]
pub struct RunOutcome {
    pub state: ExitState,
    pub stdout: String,
    pub stderr: String,
    pub duration: Duration,
}

impl RunOutcome {
    pub fn success(&self) -> bool {
        self.state.success()
    }

    /// stdout and stderr together, for diagnosis.
    pub fn combined(&self) -> String {
        let mut s = String::with_capacity(self.stdout.len() + self.stderr.len() + 1);
        s.push_str(&self.stdout);
        if !s.ends_with('\n') && !s.is_empty() {
            s.push('\n');
        }
        s.push_str(&self.stderr);
        s
    }
}

/// Why a child could not be run at all.
#[derive(Debug, Error)]
pub enum ExecError {
    #[error("nothing to run (empty argv)")]
    EmptyArgv,
    #[error("cannot start {program}: {source}")]
    Spawn {
        program: String,
        #[source]
        source: std::io::Error,
    },
    #[error("lost contact with {program}: {source}")]
    Io {
        program: String,
        #[source]
        source: std::io::Error,
    },
}

impl ExecError {
    /// The program was not found (as opposed to failing).
    pub fn is_not_found(&self) -> bool {
        matches!(self, ExecError::Spawn { source, .. } if source.kind() == std::io::ErrorKind::NotFound)
    }
}

/// Runs child processes. The engine talks to this trait so tests and front ends can
/// observe every line; the TUI never touches processes directly.
pub trait Runner: Send + Sync {
    /// Run `spec` to completion, sending each output line to `lines` when given.
    /// Cancelling `cancel` stops the whole process tree and returns `ExitState::Cancelled`.
    fn run(
        &self,
        spec: RunSpec,
        lines: Option<mpsc::Sender<OutputLine>>,
        cancel: CancellationToken,
    ) -> impl std::future::Future<Output = Result<RunOutcome, ExecError>> + Send;
}
