//! What every command says about an install that did not finish (dpkg's rule: the state on
//! disk says what to do next), the one-torchup-per-environment lock, and `torchup rollback`.

use std::path::{Path, PathBuf};

use tokio::sync::mpsc;

use super::output::print_json;
use super::{CliError, Exit, GlobalArgs};
use crate::install::journal::Journal;
use crate::install::lock::{EnvLock, LockError};
use crate::install::{InstallEvent, InstallReport, Outcome};
use crate::shell::Shell;

/// One line per unfinished journal in the state directory, for every command's stderr.
/// A journal whose environment is locked belongs to a run still going: said so instead.
pub fn notices(state_dir: &Path) -> Vec<String> {
    Journal::unfinished(state_dir)
        .into_iter()
        .map(|j| match EnvLock::holder(state_dir, &j.prefix) {
            Some(h) => format!("{} ({})", h.describe(), j.prefix.display()),
            None => {
                let target = if j.python.as_os_str().is_empty() {
                    String::new()
                } else {
                    format!(" (for {}: add --python \"{}\")", j.prefix.display(), j.python.display())
                };
                format!("{}{target}", j.describe())
            }
        })
        .collect()
}

/// Print [`notices`] on stderr.
pub fn print_notices(state_dir: &Path) {
    for n in notices(state_dir) {
        eprintln!("torchup: {n}");
    }
}

/// Take the environment's lock (async, `--wait` blocks until free); held → exit 1 naming
/// the holder.
pub async fn lock(state_dir: &Path, prefix: &Path, wait: bool) -> Result<EnvLock, CliError> {
    if wait && let Some(h) = EnvLock::holder(state_dir, prefix) {
        eprintln!("torchup: {}; waiting for it (--wait)…", h.describe());
    }
    EnvLock::acquire_async(state_dir.to_path_buf(), prefix.to_path_buf(), wait).await.map_err(|e| match e {
        LockError::Held { .. } => CliError::failed(e.to_string()),
        LockError::Io { .. } => CliError::environment(format!("{e}; check that torchup's state directory is writable")),
    })
}

/// `torchup rollback`: put back what the interrupted install of the target environment
/// moved aside (offline), then remove its journal.
pub async fn rollback(g: &GlobalArgs, yes: bool, json: bool, wait: bool, interactive: bool) -> Result<Exit, CliError> {
    let session = super::session(g)?;
    let gathered = session.detect().await;
    if let Some(e) = gathered.python_error {
        return Err(CliError::environment(e.to_string()));
    }
    let facts = gathered.facts;
    let Some(py) = facts.python.as_ref() else {
        return Err(CliError::environment("no Python interpreter was found; pass --python PATH"));
    };
    let target = PathBuf::from(&py.executable);
    let prefix = PathBuf::from(&py.prefix);
    let _lock = lock(&session.state_dir, &prefix, wait).await?;
    let Some(journal) = Journal::load(&session.state_dir, &prefix).map_err(|e| CliError::failed(e.to_string()))? else {
        let others = notices(&session.state_dir);
        let mut why = format!("nothing to roll back: no interrupted install was found for {}", prefix.display());
        if let Some(first) = others.first() {
            why.push_str(&format!(". Elsewhere: {first}"));
        }
        if json {
            eprintln!("torchup: {why}");
            print_json(&InstallReport::unchanged(facts.torch.clone(), format!("Nothing was changed: {why}.")))?;
            return Ok(Exit::Failed);
        }
        return Err(CliError::failed(why));
    };
    if !yes {
        if !interactive {
            return Err(CliError::usage("no terminal to confirm: run `torchup rollback --yes`"));
        }
        eprintln!("torchup: {}", journal.describe());
        if !super::install::confirm("Put the previous build back now? [Y/n] ", true) {
            eprintln!("Nothing was changed.");
            return Ok(Exit::Ok);
        }
    }
    let manager = journal.choice.as_ref().map(|c| c.manager).unwrap_or_default();
    let target = if journal.python.as_os_str().is_empty() { target } else { journal.python.clone() };
    let kit = session.install_kit(crate::diagnose::OsContext::from_facts(&facts), Some(&facts), false, yes);
    let cancel = super::install::cancel_on_signals();
    let (tx, rx) = mpsc::channel::<InstallEvent>(512);
    let printer = super::install::spawn_printer(rx);
    let report = kit.installer().rollback(&target, manager, &kit.options, &tx, &cancel).await;
    drop(tx);
    let _ = printer.await;
    if json {
        print_json(&report)?;
    } else {
        super::install::print_summary(&report, Shell::detect(facts.os, &session.env));
    }
    Ok(match report.outcome {
        Outcome::RolledBack => Exit::Ok,
        _ => Exit::Failed,
    })
}
