//! `torchup explain [FILE|-]` and `torchup explain -- CMD ARGS…`: an error in, the cause
//! and the fix out (src/explain does the work; this file reads, runs and prints).
//!
//! Reading a file or stdin: exit 0 when something was recognised, 1 when nothing was,
//! 2 on bad input (missing file, binary data, FILE together with a command).
//!
//! Running a command: the child runs in the terminal's foreground, in torchup's own
//! process group (on purpose, unlike every other child torchup starts): `input()`, pdb and
//! Ctrl-C reach it as if torchup were not there. torchup ignores Ctrl-C while it waits, so
//! the child decides what an interrupt means. stdin and stdout are the terminal's, so the
//! program behaves exactly as when run directly (colours, progress bars, prompts). stderr —
//! where Python writes tracebacks and warnings — goes through a pipe: every byte is
//! written to torchup's stderr as soon as it arrives and also fed to the explainer, which
//! keeps a bounded excerpt. The one visible difference: a program that colours stderr only
//! when stderr is a terminal prints it uncoloured. When the child fails, its error is
//! explained on stderr after its own output; torchup exits with the child's status.

use std::io::{IsTerminal, Read, Write};
use std::path::{Path, PathBuf};
use std::process::{Command as ChildCommand, ExitStatus, Stdio};

use super::output::{color_enabled, print_json};
use super::verify::paint;
use super::{CliError, Exit, GlobalArgs};
use crate::explain::stream::LineStream;
use crate::explain::{
    ExplainError, ExplainReport, Explainer, Explanation, ReportLine, ReportLineKind, Target, render_text,
};
use crate::smoke::render::{Line, Tone};

/// The `explain` arguments.
#[derive(Debug, Clone, Default)]
pub struct ExplainArgs {
    pub file: Option<PathBuf>,
    pub json: bool,
    pub facts: Option<PathBuf>,
    pub no_detect: bool,
    pub command: Vec<String>,
}

/// Run `explain`; the value is the process exit code.
pub async fn run(g: &GlobalArgs, a: ExplainArgs) -> Result<u8, CliError> {
    if !a.command.is_empty() {
        if a.file.is_some() {
            return Err(CliError::usage(
                "give either a FILE or a command after `--`, not both: `torchup explain log.txt` or `torchup explain -- python train.py`",
            ));
        }
        return run_command(g, &a).await;
    }
    let loaded = match &a.facts {
        Some(path) => Some(super::plan::load_facts(path)?),
        None => None,
    };
    let input = a.file.clone().filter(|p| p.as_os_str() != "-");
    let label = input.as_ref().map(|p| p.display().to_string()).unwrap_or_else(|| "stdin".into());
    let reader: Box<dyn Read + Send> = match &input {
        Some(path) => Box::new(std::fs::File::open(path).map_err(|e| {
            CliError::usage(format!(
                "cannot read {}: {e}: give the path of a saved log, or `-` to paste",
                path.display()
            ))
        })?),
        None => {
            if std::io::stdin().is_terminal() && !a.json {
                eprintln!("Paste the error, then press Ctrl-D (Windows: Ctrl-Z, then Enter).");
            }
            Box::new(std::io::stdin())
        }
    };
    let scan = tokio::task::spawn_blocking(move || read_all(reader));
    let (scanned, target) = tokio::join!(scan, target_for(g, loaded, a.no_detect));
    let stream = scanned
        .map_err(|e| CliError::failed(format!("reading the input stopped: {e}")))?
        .map_err(|e| input_error(&label, e))?;
    let explanation =
        Explainer::bundled().finish(stream, &target).map_err(|e| input_error(&label, ExplainError::NotText(e)))?;
    print(&explanation, a.json, g, false)?;
    Ok(if explanation.recognised() { Exit::Ok as u8 } else { Exit::Failed as u8 })
}

fn read_all(mut reader: Box<dyn Read + Send>) -> Result<LineStream<'static>, ExplainError> {
    let mut stream = Explainer::bundled().stream();
    let mut buf = vec![0u8; 64 * 1024];
    loop {
        match reader.read(&mut buf) {
            Ok(0) => return Ok(stream),
            Ok(n) => stream.push(&buf[..n])?,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e.into()),
        }
    }
}

fn input_error(label: &str, e: ExplainError) -> CliError {
    match e {
        ExplainError::NotText(n) => CliError::usage(format!(
            "{label} is not text (binary data near byte {}): give torchup explain a log file or the error message",
            n.offset
        )),
        ExplainError::Io(e) => CliError::usage(format!("cannot read {label}: {e}")),
    }
}

/// Who the fixes are for: the facts file, this machine's facts, or this OS alone.
async fn target_for(g: &GlobalArgs, loaded: Option<crate::facts::Facts>, no_detect: bool) -> Target {
    if let Some(f) = loaded {
        return Target::for_facts(f);
    }
    if no_detect {
        return Target::here();
    }
    match super::session(g) {
        Ok(session) => Target::for_facts(session.detect().await.facts),
        Err(_) => Target::here(),
    }
}

fn print(e: &Explanation, json: bool, g: &GlobalArgs, to_stderr: bool) -> Result<(), CliError> {
    if json {
        return print_json(&ExplainReport::new(e));
    }
    let is_terminal = if to_stderr { std::io::stderr().is_terminal() } else { std::io::stdout().is_terminal() };
    let color = color_enabled(g.no_color, is_terminal);
    for ReportLine { kind, text } in render_text(e) {
        let tone = if kind == ReportLineKind::Heading { Tone::Warn } else { Tone::Plain };
        let line = paint(&Line { tone, text }, color);
        if to_stderr {
            eprintln!("{line}");
        } else {
            println!("{line}");
        }
    }
    Ok(())
}

/// `torchup explain -- CMD ARGS…`.
async fn run_command(g: &GlobalArgs, a: &ExplainArgs) -> Result<u8, CliError> {
    let loaded = match &a.facts {
        Some(path) => Some(super::plan::load_facts(path)?),
        None => None,
    };
    let mut child_cmd = ChildCommand::new(&a.command[0]);
    child_cmd.args(&a.command[1..]).stdin(Stdio::inherit()).stdout(Stdio::inherit()).stderr(Stdio::piped());
    if let Some(python) = &g.python {
        target_environment(&mut child_cmd, python);
    }
    // Ctrl-C is the child's to handle: torchup keeps waiting for it. The handlers are
    // registered before the child starts; a caught signal is reset to the default in the
    // child by exec, so the child sees Ctrl-C normally.
    let _interrupts = ignore_interrupts();
    let mut child = child_cmd.spawn().map_err(|e| {
        CliError::usage(format!(
            "cannot run `{}`: {e}: check the command (it runs as given, without a shell)",
            a.command[0]
        ))
    })?;
    let stderr = child.stderr.take();
    let tee = std::thread::spawn(move || tee_stderr(stderr));
    let status = tokio::task::spawn_blocking(move || child.wait())
        .await
        .map_err(|e| CliError::failed(format!("waiting for the command stopped: {e}")))?
        .map_err(|e| CliError::failed(format!("waiting for the command failed: {e}")))?;
    let stream = tee.join().ok().flatten();
    let code = exit_code(status);
    if code == 0 {
        return Ok(0);
    }
    let Some(stream) = stream else { return Ok(code) };
    let target = target_for(g, loaded, a.no_detect).await;
    let Ok(explanation) = Explainer::bundled().finish(stream, &target) else { return Ok(code) };
    // Stopped by a signal (Ctrl-C) with nothing recognised: the user knows why it ended.
    if !explanation.recognised() && code > 128 {
        return Ok(code);
    }
    if !a.json {
        eprintln!();
        eprintln!("torchup explain: the command failed (exit {code}).");
    }
    print(&explanation, a.json, g, true)?;
    Ok(code)
}

/// Copy the child's stderr to ours unchanged, byte for byte, and feed the explainer.
/// None when the output was not text (nothing to explain).
fn tee_stderr(stderr: Option<std::process::ChildStderr>) -> Option<LineStream<'static>> {
    let mut stderr = stderr?;
    let mut stream = Some(Explainer::bundled().stream());
    let mut out = std::io::stderr();
    let mut buf = [0u8; 8192];
    loop {
        let n = match stderr.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => n,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
            Err(_) => break,
        };
        let _ = out.write_all(&buf[..n]);
        let _ = out.flush();
        if let Some(s) = stream.as_mut()
            && s.push(&buf[..n]).is_err()
        {
            stream = None;
        }
    }
    stream
}

/// `--python`: run the command with that interpreter's directory first on PATH (and
/// VIRTUAL_ENV set when it belongs to a venv), as an activated environment would.
fn target_environment(cmd: &mut ChildCommand, python: &Path) {
    let Some(bin) = python.parent().filter(|p| !p.as_os_str().is_empty()) else { return };
    let mut paths = vec![bin.to_path_buf()];
    if let Some(current) = std::env::var_os("PATH") {
        paths.extend(std::env::split_paths(&current));
    }
    if let Ok(joined) = std::env::join_paths(paths) {
        cmd.env("PATH", joined);
    }
    if let Some(venv) = bin.parent().filter(|v| v.join("pyvenv.cfg").is_file()) {
        cmd.env("VIRTUAL_ENV", venv);
    }
}

/// The child's status as this process's exit code (128 + signal when it was killed).
fn exit_code(status: ExitStatus) -> u8 {
    if let Some(code) = status.code() {
        return u8::try_from(code).unwrap_or(1);
    }
    #[cfg(unix)]
    {
        use std::os::unix::process::ExitStatusExt;
        if let Some(sig) = status.signal() {
            return u8::try_from(128 + sig).unwrap_or(1);
        }
    }
    1
}

/// Keeps Ctrl-C (and on Unix SIGQUIT) from ending torchup while the child runs.
struct Interrupts {
    #[cfg(unix)]
    _signals: Vec<tokio::signal::unix::Signal>,
    #[cfg(windows)]
    _ctrl_c: Option<tokio::signal::windows::CtrlC>,
}

fn ignore_interrupts() -> Interrupts {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        let signals =
            [SignalKind::interrupt(), SignalKind::quit()].into_iter().filter_map(|k| signal(k).ok()).collect();
        Interrupts { _signals: signals }
    }
    #[cfg(windows)]
    {
        Interrupts { _ctrl_c: tokio::signal::windows::ctrl_c().ok() }
    }
}
