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
use crate::install::journal::Journal;
use crate::install::{InstallEvent, InstallReport, Outcome};
use crate::plan::Plan;
use crate::session::Session;
use crate::shell::Shell;

/// `torchup install`'s own flags.
#[derive(Debug, Clone, Default)]
pub struct InstallFlags {
    pub yes: bool,
    pub dry_run: bool,
    pub json: bool,
    /// Finish an interrupted install (its journal).
    pub resume: bool,
    /// Wait for another torchup on this environment.
    pub wait: bool,
    /// Connections per big file.
    pub connections: u16,
}

pub async fn run(g: &GlobalArgs, f: &InstallFlags, c: &ChoiceArgs, interactive: bool) -> Result<Exit, CliError> {
    let (yes, dry_run, json) = (f.yes, f.dry_run, f.json);
    let mut session = super::session(g)?;
    super::note_variant_index(g, &c.variant);
    let gathered = session.detect().await;
    if let Some(e) = gathered.python_error {
        return Err(CliError::environment(e.to_string()));
    }
    let facts = gathered.facts;
    let prefix = facts.python.as_ref().map(|p| std::path::PathBuf::from(&p.prefix));

    // One torchup per environment; an interrupted run is finished or undone first.
    let _lock = match (&prefix, dry_run) {
        (Some(p), false) => Some(super::interrupted::lock(&session.state_dir, p, f.wait).await?),
        _ => None,
    };
    let mut c = c.clone();
    if let Some(p) = &prefix {
        let journal = Journal::load(&session.state_dir, p).map_err(|e| CliError::failed(e.to_string()))?;
        match journal {
            Some(j) if !f.resume && !dry_run => {
                return stop_before_changes(json, &facts, j.describe());
            }
            Some(j) if f.resume => {
                eprintln!("torchup: resuming: {}", j.describe());
                if let Some(choice) = &j.choice
                    && c.variant == "auto"
                    && c.torch.is_none()
                {
                    c.variant = choice.variant.clone();
                    c.torch = Some(choice.torch.clone());
                    c.manager = choice.manager.as_str().to_string();
                }
                let python = if j.python.as_os_str().is_empty() { None } else { Some(j.python.clone()) };
                let manager = j.choice.as_ref().map(|c| c.manager).unwrap_or_default();
                let back = put_back(&session, &facts, python, manager).await;
                if back.outcome != Outcome::RolledBack {
                    if json {
                        print_json(&back)?;
                    } else {
                        print_summary(&back, Shell::detect(facts.os, &session.env));
                    }
                    return Ok(Exit::Failed);
                }
                eprintln!("torchup: the previous build is back; installing again from the fetched files");
            }
            None if f.resume => eprintln!("torchup: no interrupted install to resume here; installing as planned"),
            _ => {}
        }
    }
    // The facts may have changed (a resume put the previous build back).
    let facts = if f.resume { session.detect().await.facts } else { facts };

    let req = super::plan::request_from(g, &c, &session.cwd, &session.constraints_file())?;
    let (plan, note) = super::plan_with_mirror(g, &mut session, &facts, &req).await?;
    if let Some(note) = note {
        crate::errln!("torchup: {note}");
    }
    if let Some(why) = &plan.refused {
        return stop_before_changes(json, &facts, format!("refused: {why}"));
    }
    // With --offline the user chose not to read the index: the wheels must come from
    // elsewhere (pip's own fetch today, the engine's wheelhouse after acquire-then-swap).
    if !dry_run
        && !g.offline
        && let Some(why) = unreadable_choice(&plan)
    {
        return stop_before_changes(json, &facts, why);
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

    let report = execute(&session, &facts, &plan, f).await;
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

/// Put back what an interrupted run moved aside (`install --resume`'s first half).
async fn put_back(
    session: &Session,
    facts: &Facts,
    python: Option<std::path::PathBuf>,
    manager: crate::plan::Manager,
) -> InstallReport {
    let target =
        python.or_else(|| facts.python.as_ref().map(|p| std::path::PathBuf::from(&p.executable))).unwrap_or_default();
    let kit = session.install_kit(crate::diagnose::OsContext::from_facts(facts), Some(facts), false, true);
    let cancel = cancel_on_signals();
    let (tx, rx) = mpsc::channel::<InstallEvent>(512);
    let printer = spawn_printer(rx);
    let report = kit.installer().rollback(&target, manager, &kit.options, &tx, &cancel).await;
    drop(tx);
    let _ = printer.await;
    report
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

/// The cancel token of a command that changes the environment: SIGINT, SIGTERM and
/// SIGHUP (Ctrl-C, Ctrl-Break) all cancel it the same way — the children's trees stop and
/// the engine puts back what it moved aside before it returns. The listener lives until
/// the token is dropped by the runtime's end.
pub fn cancel_on_signals() -> CancellationToken {
    let Some(mut s) = super::signals() else { return CancellationToken::new() };
    let cancel = s.token();
    tokio::spawn(async move {
        if let Some(sig) = s.next().await
            && !sig.terminal_gone()
        {
            // The terminal may be gone (EIO/EPIPE): never panic on a write.
            let _ = writeln!(std::io::stderr(), "\ntorchup: stopping ({})…", sig.describe());
        }
        // Keep listening (and so cancelling) until the command ends.
        while s.next().await.is_some() {}
    });
    cancel
}

/// Run the plan with live progress.
async fn execute(session: &Session, facts: &Facts, plan: &Plan, f: &InstallFlags) -> InstallReport {
    let mut kit = session.install_kit(crate::diagnose::OsContext::from_facts(facts), Some(facts), f.dry_run, f.yes);
    kit.swap.set_connections(f.connections as usize);
    let installer = kit.installer();
    let cancel = cancel_on_signals();
    let (tx, rx) = mpsc::channel::<InstallEvent>(512);
    let printer = spawn_printer(rx);
    let report = installer.run(facts, plan, &kit.options, &tx, &cancel).await;
    drop(tx);
    let _ = printer.await;
    report
}

pub(crate) fn spawn_printer(mut rx: mpsc::Receiver<InstallEvent>) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        let live = std::io::stderr().is_terminal();
        let mut printer = Printer::new(super::output::QuietWriter(super::output::Stream::Stderr), live);
        while let Some(ev) = rx.recv().await {
            printer.event(&ev);
        }
    })
}

/// Ask on stderr, read a line from stdin.
pub(crate) fn confirm(question: &str, default: bool) -> bool {
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
pub(crate) fn print_summary(report: &InstallReport, shell: Shell) {
    // After a hangup the terminal is gone: writes fail with EIO/EPIPE and are dropped.
    let mut out = std::io::stdout().lock();
    let _ = writeln!(out);
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
    let _ = writeln!(out, "{head}");
    let _ = writeln!(out, "{}", crate::redact::redact_text(&report.environment));
    if let Some(smoke) = &report.smoke
        && report.outcome == Outcome::Installed
    {
        for line in crate::smoke::render::guide_lines(smoke) {
            let _ = writeln!(out, "  {}", line.text);
        }
    }
    for d in &report.diagnoses {
        let _ = writeln!(out, "  ! {} {}", d.id, d.title);
        if !d.fix.is_empty() {
            let _ = writeln!(out, "    fix: {}", d.fix);
        }
    }
    if !report.restore_commands.is_empty() {
        let _ = writeln!(out, "To restore the previous build:");
        for argv in &report.restore_commands {
            let _ = writeln!(out, "  {}", shell.render(argv));
        }
    }
    if let Some(log) = &report.log_path {
        let _ = writeln!(out, "Full log: {log}");
    }
}

/// Why an install must not start: the chosen build's index pages could not be read, so its
/// wheels cannot be fetched (and the plan rests on bundled data). None when they were read.
/// (Once the engine keeps a wheelhouse, a build whose wheels are already fetched passes.)
pub fn unreadable_choice(plan: &Plan) -> Option<String> {
    let c = plan.choice.as_ref()?;
    let page = format!("the index page for {} could not be read", c.variant);
    let w = plan.warnings.iter().find(|w| w.starts_with("planned from the bundled data") || w.starts_with(&page))?;
    Some(format!(
        "cannot fetch torch {}+{}: {w}; nothing was changed (check the network or proxy, or try --mirror auto)",
        c.torch, c.variant
    ))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::compat::available::IndexSnapshot;
    use crate::compat::data::CompatData;
    use crate::plan::Request;

    fn facts() -> Facts {
        let path = format!("{}/tests/fixtures/facts/win-rtx3050-581-py311-conda-cpu.json", env!("CARGO_MANIFEST_DIR"));
        serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
    }

    #[test]
    fn an_unreadable_index_stops_the_install_before_any_change() {
        let mut snap = IndexSnapshot::default();
        snap.failed.insert("cu130".into(), "torch: could not connect: Connection refused (os error 111)".into());
        let req = Request { index_url: "http://127.0.0.1:1/whl".into(), ..Request::default() };
        let plan = crate::plan::plan(&facts(), &req, CompatData::bundled().unwrap(), Some(&snap));
        let why = unreadable_choice(&plan).expect("refused");
        assert!(why.starts_with("cannot fetch torch ") && why.contains("Connection refused"), "{why}");
        assert!(!why.contains('\n'));
        // A plan whose index answered is not stopped.
        let plan = crate::plan::plan(&facts(), &req, CompatData::bundled().unwrap(), None);
        assert_eq!(unreadable_choice(&plan), None);
    }
}
