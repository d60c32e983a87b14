//! Running a child to completion with a time limit, output captured (argv only, no shell).
//! Synchronous on purpose: test helpers stay usable from plain `#[test]` functions.

use std::io::Read;
use std::process::{Command, ExitStatus, Stdio};
use std::thread;
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};

/// What a finished child printed and how it ended.
#[derive(Debug, Clone)]
pub struct Output {
    pub status: ExitStatus,
    pub stdout: String,
    pub stderr: String,
    pub duration: Duration,
    /// The argv, for error messages.
    pub argv: String,
}

impl Output {
    pub fn success(&self) -> bool {
        self.status.success()
    }

    /// stdout then stderr.
    pub fn combined(&self) -> String {
        format!("{}{}", self.stdout, self.stderr)
    }

    /// Fail with the whole output when the child did not exit 0.
    pub fn ok(self) -> Result<Output> {
        if self.success() {
            Ok(self)
        } else {
            bail!("{} failed ({}):\n--- stdout\n{}\n--- stderr\n{}", self.argv, self.status, self.stdout, self.stderr)
        }
    }
}

/// Run `cmd` (stdin closed) and wait at most `timeout`; on timeout the child is killed and
/// an error returned with what it printed so far.
pub fn run(cmd: &mut Command, timeout: Duration) -> Result<Output> {
    let argv = describe(cmd);
    let start = Instant::now();
    let mut child = cmd
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .with_context(|| format!("cannot start {argv}"))?;
    let mut out_pipe = child.stdout.take().context("stdout was piped")?;
    let mut err_pipe = child.stderr.take().context("stderr was piped")?;
    let out_reader = thread::spawn(move || {
        let mut buf = Vec::new();
        let _ = out_pipe.read_to_end(&mut buf);
        buf
    });
    let err_reader = thread::spawn(move || {
        let mut buf = Vec::new();
        let _ = err_pipe.read_to_end(&mut buf);
        buf
    });
    let status = loop {
        if let Some(status) = child.try_wait().with_context(|| format!("waiting for {argv}"))? {
            break Some(status);
        }
        if start.elapsed() > timeout {
            let _ = child.kill();
            let _ = child.wait();
            break None;
        }
        thread::sleep(Duration::from_millis(5));
    };
    let stdout = String::from_utf8_lossy(&out_reader.join().unwrap_or_default()).into_owned();
    let stderr = String::from_utf8_lossy(&err_reader.join().unwrap_or_default()).into_owned();
    match status {
        Some(status) => Ok(Output { status, stdout, stderr, duration: start.elapsed(), argv }),
        None => bail!("{argv} did not finish within {timeout:?}:\n--- stdout\n{stdout}\n--- stderr\n{stderr}"),
    }
}

/// The program and its arguments, for messages.
pub fn describe(cmd: &Command) -> String {
    let mut parts = vec![cmd.get_program().to_string_lossy().into_owned()];
    parts.extend(cmd.get_args().map(|a| {
        let a = a.to_string_lossy();
        if a.contains(char::is_whitespace) { format!("{a:?}") } else { a.into_owned() }
    }));
    parts.join(" ")
}
