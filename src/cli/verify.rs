//! `torchup verify [--json]`: run the GPU smoke test now, save the result in the state
//! directory, and say what changed since the last saved result for this interpreter.
//! Exit 0 only when CUDA works; no network.

use std::io::IsTerminal;
use std::path::{Path, PathBuf};

use jiff::Timestamp;
use jiff::tz::TimeZone;
use serde::Serialize;

use super::output::{color_enabled, print_json};
use super::{CliError, Exit, GlobalArgs};
use crate::diagnose::OsContext;
use crate::exec::TokioRunner;
use crate::facts::Driver;
use crate::facts::gpu::{self, GpuProbe, GpuProbeOptions};
use crate::facts::platform::{HostEnv, Platform};
use crate::smoke::render::Comparison;
use crate::smoke::{self, Change, History, HistoryEntry, Line, SmokeError, SmokeReport, Tone};

/// The interpreter to test and why it was chosen.
#[derive(Debug, Clone)]
pub struct TargetPython {
    pub path: PathBuf,
    /// "--python" or "PATH".
    pub because: &'static str,
}

/// Pick the target interpreter: `--python`, else `python3`/`python` on PATH.
/// Interim: `torchup::facts::python` discovery (venv, conda, py launcher) replaces the body
/// of this one function once it is merged.
pub fn target_python(g: &GlobalArgs) -> Result<TargetPython, CliError> {
    if let Some(p) = &g.python {
        let bare_name = p.components().count() == 1 && !p.exists();
        let path = if bare_name { which::which(p).ok() } else { p.exists().then(|| p.clone()) };
        return match path {
            Some(path) => Ok(TargetPython { path, because: "--python" }),
            None => Err(CliError::usage(format!(
                "--python {}: no such interpreter; give the path of the Python that runs your code",
                p.display()
            ))),
        };
    }
    let names: &[&str] = if cfg!(windows) { &["python", "python3"] } else { &["python3", "python"] };
    names.iter().find_map(|n| which::which(n).ok()).map(|path| TargetPython { path, because: "PATH" }).ok_or_else(
        || CliError::environment(format!("no Python found on PATH (tried {}); pass --python PATH", names.join(", "))),
    )
}

/// GPU facts for this host (for the driver version saved with each result).
pub async fn gpu_facts(platform: &Platform, env: &HostEnv) -> GpuProbe {
    gpu::probe(&GpuProbeOptions::for_host(platform.clone(), env.clone())).await
}

/// A smoke error as a CLI error: an interpreter that will not run the test makes the
/// environment unusable (exit 3).
pub fn smoke_error(e: SmokeError) -> CliError {
    if e.is_environment() { CliError::environment(e.to_string()) } else { CliError::failed(e.to_string()) }
}

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
    /// The interpreter path torchup ran.
    pub interpreter: String,
    /// Where the result was saved (null when saving failed).
    pub history_file: Option<String>,
}

/// Run the smoke test with the GPU probe alongside (no extra wall time), attach
/// diagnoses, and compare with the history. Saving is the caller's choice.
pub struct Verified {
    pub report: SmokeReport,
    pub gpu: GpuProbe,
    pub entry: HistoryEntry,
    pub previous: Option<HistoryEntry>,
    pub changes: Vec<Change>,
}

pub async fn verify_now(
    python: &Path,
    platform: &Platform,
    env: &HostEnv,
    history: &History,
) -> Result<Verified, SmokeError> {
    let runner = TokioRunner;
    // Compiling the diagnosis rules' regexes takes ~10 ms: do it while Python works. (join!
    // polls in order, so the interpreter is already spawned when this starts.)
    let rules = async { tokio::task::spawn_blocking(|| crate::diagnose::Rules::try_bundled().is_ok()).await };
    let (smoke, gpu, _) =
        tokio::join!(smoke::run(python, &[], &runner, smoke::DEFAULT_TIMEOUT), gpu_facts(platform, env), rules);
    let mut report = smoke?;
    let ctx = OsContext::new(platform.os, platform.wsl).with_python(python.display().to_string());
    smoke::diagnoses::attach(&mut report, &ctx);
    let entry = HistoryEntry::new(Timestamp::now(), python, gpu.driver.clone(), report.clone());
    let previous = match history.last_for(&entry.python) {
        Ok(p) => p,
        Err(e) => {
            eprintln!("torchup: warning: {e}");
            None
        }
    };
    let changes = previous.as_ref().map(|p| smoke::compare(p, &entry)).unwrap_or_default();
    Ok(Verified { report, gpu, entry, previous, changes })
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
    let target = target_python(g)?;
    let platform = Platform::current();
    let env = HostEnv::capture();
    let history = History::in_dir(&crate::paths::state_dir());
    let v = verify_now(&target.path, &platform, &env, &history).await.map_err(smoke_error)?;

    let saved = match history.append(&v.entry) {
        Ok(()) => Some(history.path().display().to_string()),
        Err(e) => {
            eprintln!("torchup: warning: the result was not saved: {e}");
            None
        }
    };

    if json {
        print_json(&VerifyDocument {
            report: &v.report,
            changes: &v.changes,
            previous_at: v.previous.as_ref().map(|p| p.at),
            driver: v.gpu.driver.as_ref(),
            interpreter: target.path.display().to_string(),
            history_file: saved,
        })?;
    } else {
        let comparison = match &v.previous {
            Some(p) => Comparison::Since { at: p.at, changes: &v.changes },
            None => Comparison::FirstRun,
        };
        let color = color_enabled(g.no_color, std::io::stdout().is_terminal());
        println!("Interpreter: {} (from {})", target.path.display(), target.because);
        for line in smoke::render_verify(&v.report, comparison, &TimeZone::system()) {
            println!("{}", paint(&line, color));
        }
    }
    Ok(if v.report.ok { Exit::Ok } else { Exit::Failed })
}
