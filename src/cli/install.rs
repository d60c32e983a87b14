//! `torchup install`: plan, preflight, confirm, then the staged install with live progress
//! on stderr; `--json` prints one final report on stdout.
//!
//! Without a terminal and without `--yes` nothing is changed (exit 2): torchup never
//! prompts where nobody can answer.

use std::io::{BufRead, IsTerminal, Write};

use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

use super::install_printer::Printer;
use super::output::print_json;
use super::{ChoiceArgs, CliError, Exit, GlobalArgs};
use crate::facts::Facts;
use crate::install::{InstallEvent, InstallReport, Outcome};
use crate::plan::Plan;
use crate::session::Session;
use crate::shell::Shell;

pub async fn run(
    g: &GlobalArgs,
    yes: bool,
    dry_run: bool,
    json: bool,
    c: &ChoiceArgs,
    interactive: bool,
) -> Result<Exit, CliError> {
    let session = super::session(g)?;
    let gathered = session.detect().await;
    if let Some(e) = gathered.python_error {
        return Err(CliError::environment(e.to_string()));
    }
    let facts = gathered.facts;
    let req = super::plan::request_from(g, c, &session.cwd, &session.constraints_file())?;
    let (plan, note) = session.plan(&facts, &req).await.map_err(CliError::environment)?;
    if let Some(note) = note {
        crate::errln!("torchup: {note}");
    }
    if let Some(why) = &plan.refused {
        return stop_before_changes(json, &facts, format!("refused: {why}"));
    }
    if plan.choice.is_none() && !plan.nothing_to_do {
        let why = plan.warnings.first().cloned().unwrap_or_else(|| "no CUDA build can run here".into());
        return stop_before_changes(json, &facts, format!("nothing to install: {why}"));
    }

    let shell = Shell::detect(facts.os, &session.env);
    let issues = crate::preflight::check(&facts, &plan, &session.env, &crate::preflight::RealHost);
    for i in &issues {
        crate::errln!("{} {}: {}\n    fix: {}", if i.blocking { "✗" } else { "!" }, i.id, i.title, i.fix);
    }
    if !dry_run && let Some(block) = issues.iter().find(|i| i.blocking) {
        return stop_before_changes(json, &facts, format!("cannot install yet: {} Fix: {}", block.title, block.fix));
    }

    if !dry_run && !plan.nothing_to_do && !yes {
        if !interactive {
            return Err(CliError::usage(
                "no terminal to confirm the install: run `torchup install --yes` (or `--dry-run` to see the steps)",
            ));
        }
        crate::err!("{}", super::plan::render(&plan, facts.os));
        let proceed = tokio::task::spawn_blocking(|| confirm("Proceed with these steps? [y/N] ", false));
        if !proceed.await.unwrap_or(false) {
            crate::errln!("Nothing was changed.");
            return Ok(Exit::Ok);
        }
    }

    let report = execute(&session, &facts, &plan, yes, dry_run, interactive).await;
    if json {
        print_json(&report)?;
    } else {
        print_summary(&report, shell);
    }
    Ok(match report.outcome {
        Outcome::Installed | Outcome::NothingToDo | Outcome::DryRun => Exit::Ok,
        _ => Exit::Failed,
    })
}

/// End before anything changed: one line on stderr, and with `--json` still one report.
fn stop_before_changes(json: bool, facts: &Facts, why: String) -> Result<Exit, CliError> {
    if !json {
        return Err(CliError::failed(why));
    }
    crate::errln!("torchup: {why}");
    print_json(&InstallReport::unchanged(facts.torch.clone(), format!("Nothing was changed: {why}")))?;
    Ok(Exit::Failed)
}

/// Run the plan with live progress; offer the rollback on a terminal when it was not
/// automatic.
async fn execute(
    session: &Session,
    facts: &Facts,
    plan: &Plan,
    yes: bool,
    dry_run: bool,
    interactive: bool,
) -> InstallReport {
    let kit = session.install_kit(crate::diagnose::OsContext::from_facts(facts), dry_run, yes);
    let installer = kit.installer();
    let opts = &kit.options;
    let cancel = CancellationToken::new();
    let on_ctrl_c = cancel.clone();
    let ctrl_c = tokio::spawn(async move {
        if tokio::signal::ctrl_c().await.is_ok() {
            crate::errln!("\ntorchup: stopping (Ctrl-C)…");
            on_ctrl_c.cancel();
        }
    });

    let (tx, rx) = mpsc::channel::<InstallEvent>(512);
    let printer = spawn_printer(rx);
    let mut report = installer.run(facts, plan, opts, &tx, &cancel).await;
    if report.outcome == Outcome::Failed && interactive && !cancel.is_cancelled() {
        let what = match &report.previous {
            Some(p) => format!("Put torch {} back now? [Y/n] ", p.version),
            None => "Remove the partly installed torch again? [Y/n] ".to_string(),
        };
        // Reading stdin blocks: keep it off the async workers (the printer and Ctrl-C run there).
        let answer = tokio::task::spawn_blocking(move || confirm(&what, true)).await.unwrap_or(false);
        if answer {
            let python = plan
                .target_python
                .clone()
                .or_else(|| facts.python.as_ref().map(|p| p.executable.clone()))
                .unwrap_or_default();
            let manager = plan.choice.as_ref().map(|c| c.manager).unwrap_or_default();
            let mut rolled = installer
                .rollback(std::path::Path::new(&python), report.previous.clone(), manager, opts, &tx, &cancel)
                .await;
            let mut diagnoses = std::mem::take(&mut report.diagnoses);
            diagnoses.append(&mut rolled.diagnoses);
            rolled.diagnoses = diagnoses;
            rolled.installed = None;
            report = rolled;
        }
    }
    drop(tx);
    let _ = printer.await;
    ctrl_c.abort();
    report
}

fn spawn_printer(mut rx: mpsc::Receiver<InstallEvent>) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        let live = std::io::stderr().is_terminal();
        let mut printer = Printer::new(super::output::QuietWriter(super::output::Stream::Stderr), live);
        while let Some(ev) = rx.recv().await {
            printer.event(&ev);
        }
    })
}

/// Ask on stderr, read a line from stdin.
fn confirm(question: &str, default: bool) -> bool {
    crate::err!("{question}");
    let _ = std::io::stderr().flush();
    let mut line = String::new();
    if std::io::stdin().lock().read_line(&mut line).is_err() {
        return false;
    }
    match line.trim().to_ascii_lowercase().as_str() {
        "" => default,
        "y" | "yes" => true,
        _ => false,
    }
}

/// The end of a run, for humans (stderr is for progress; this goes to stdout).
fn print_summary(report: &InstallReport, shell: Shell) {
    crate::outln!();
    let head = match report.outcome {
        Outcome::Installed => "Installed and verified.",
        Outcome::NothingToDo => "Nothing to do.",
        Outcome::DryRun => "Dry run.",
        Outcome::Unchanged => "Stopped; nothing was changed.",
        Outcome::RolledBack => "Stopped and rolled back.",
        Outcome::Failed => "Stopped.",
        Outcome::Broken => "Stopped, and the previous build could not be restored.",
        Outcome::Cancelled => "Cancelled.",
        Outcome::RequirementsFailed => "Installed, but the requirements step failed.",
    };
    crate::outln!("{head}");
    crate::outln!("{}", report.environment);
    if let Some(smoke) = &report.smoke
        && report.outcome == Outcome::Installed
    {
        for line in crate::smoke::render::guide_lines(smoke) {
            crate::outln!("  {}", line.text);
        }
    }
    for d in &report.diagnoses {
        crate::outln!("  ! {} {}", d.id, d.title);
        if !d.fix.is_empty() {
            crate::outln!("    fix: {}", d.fix);
        }
    }
    if !report.restore_commands.is_empty() {
        crate::outln!("To restore the previous build:");
        for argv in &report.restore_commands {
            crate::outln!("  {}", shell.render(argv));
        }
    }
    if let Some(log) = &report.log_path {
        crate::outln!("Full log: {log}");
    }
}
