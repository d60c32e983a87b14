//! `torchup verify [--json]`: run the GPU smoke test now, save the result in the state
//! directory, and say what changed since the last saved result for this interpreter.
//! Exit 0 only when CUDA works; no network.

use std::io::IsTerminal;

use jiff::Timestamp;
use jiff::tz::TimeZone;
use serde::Serialize;

use super::output::{color_enabled, print_json};
use super::{CliError, Exit, GlobalArgs};
use crate::exec::TokioRunner;
use crate::exec::signals::Signals;
use crate::facts::Driver;
use crate::facts::python::PythonError;
use crate::smoke::render::Comparison;
use crate::smoke::verify::{Verification, VerifyError, verify};
use crate::smoke::{self, Change, History, Line, SmokeReport, Tone};

/// The verify document: the contract fields (flattened report) plus what changed.
#[derive(Debug, Serialize)]
pub struct VerifyDocument<'a> {
    #[serde(flatten)]
    pub report: &'a SmokeReport,
    /// What changed since the previous saved result (empty on the first run).
    pub changes: &'a [Change],
    pub previous_at: Option<Timestamp>,
    /// The NVIDIA driver now (from the GPU facts).
    pub driver: Option<&'a Driver>,
    /// The interpreter torchup ran, and why that one.
    pub interpreter: String,
    pub interpreter_found_by: String,
    /// Where the result was saved (null when saving failed).
    pub history_file: Option<String>,
}

/// A verify error as a CLI error: a bad `--python` is a usage error (2); no interpreter, or
/// one that will not run the test, makes the environment unusable (3).
pub fn verify_error(e: VerifyError) -> CliError {
    match e {
        VerifyError::Python(p @ PythonError::Explicit { .. }) => CliError::usage(p.to_string()),
        VerifyError::Python(p) => CliError::environment(p.to_string()),
        VerifyError::Smoke(s) if s.is_environment() => CliError::environment(s.to_string()),
        VerifyError::Smoke(s) => CliError::failed(s.to_string()),
    }
}

/// A verify error, or a cancellation named by its signal ("cancelled (Ctrl-C)").
pub fn cancelled_or(e: VerifyError, signals: &Option<Signals>) -> CliError {
    match (&e, signals.as_ref().and_then(Signals::received)) {
        (VerifyError::Smoke(crate::smoke::run::SmokeError::Cancelled), Some(sig)) => {
            CliError::failed(format!("cancelled ({}); the smoke test was stopped", sig.describe()))
        }
        _ => verify_error(e),
    }
}

/// ANSI styling of a line by tone.
pub fn paint(line: &Line, color: bool) -> String {
    if !color || line.text.is_empty() {
        return line.text.clone();
    }
    let code = match line.tone {
        Tone::Plain => return line.text.clone(),
        Tone::Heading => "1",
        Tone::Ok => "32",
        Tone::Fail => "31",
        Tone::Warn => "33",
        Tone::Dim => "2",
    };
    format!("\x1b[{code}m{}\x1b[0m", line.text)
}

pub async fn run(g: &GlobalArgs, json: bool) -> Result<Exit, CliError> {
    let session = super::session(g)?;
    let history = History::in_dir(&session.state_dir);
    let signals = super::signals();
    let mut opts = session.verify_options();
    opts.cancel = signals.as_ref().map(Signals::token).unwrap_or_default();
    let v: Verification = verify(&opts, &history, &TokioRunner).await.map_err(|e| cancelled_or(e, &signals))?;
    if let Some(w) = &v.history_warning {
        crate::errln!("torchup: warning: {w}");
    }
    let saved = match history.append_off_runtime(v.entry.clone()).await {
        Ok(()) => Some(history.path().display().to_string()),
        Err(e) => {
            crate::errln!("torchup: warning: the result was not saved: {e}");
            None
        }
    };

    if json {
        print_json(&VerifyDocument {
            report: &v.report,
            changes: &v.changes,
            previous_at: v.previous.as_ref().map(|p| p.at),
            driver: v.gpu.driver.as_ref(),
            interpreter: v.python.display.clone(),
            interpreter_found_by: v.python.found_by.clone(),
            history_file: saved,
        })?;
    } else {
        let comparison = match &v.previous {
            Some(p) => Comparison::Since { at: p.at, changes: &v.changes },
            None => Comparison::FirstRun,
        };
        let color = color_enabled(g.no_color, std::io::stdout().is_terminal());
        crate::outln!("Interpreter: {} (from {})", v.python.display, v.python.found_by);
        for line in smoke::render_verify(&v.report, comparison, &TimeZone::system()) {
            crate::outln!("{}", paint(&line, color));
        }
    }
    Ok(if v.report.ok { Exit::Ok } else { Exit::Failed })
}

/// `torchup libtorch-check`: the in-process libtorch check (feature `torch`).
#[cfg(feature = "torch")]
pub fn libtorch_check(json: bool) -> Result<Exit, CliError> {
    let report = crate::smoke::libtorch::run();
    if json {
        super::output::print_json(&report)?;
    } else {
        for c in &report.checks {
            crate::outln!("{} {:<16} {:>7.1} ms  {}", if c.ok { "✓" } else { "✗" }, c.name, c.ms, c.detail);
        }
    }
    Ok(if report.ok { Exit::Ok } else { Exit::Failed })
}
