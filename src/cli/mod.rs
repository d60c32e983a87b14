//! The command line: the contract in docs/contract.md. Each subcommand lives in its own file;
//! this file holds the argument model, exit codes and the printing conventions
//! (`--json` prints exactly one JSON document on stdout, human text goes to stderr).

pub mod args;
pub mod detect;
pub mod doctor;
pub mod install;
pub mod install_printer;
pub mod logging;
pub mod output;
pub mod plan;
pub mod verify;
pub mod wizard;
pub mod wizard_engine;

pub use args::{ChoiceArgs, Cli, Command, GlobalArgs};

/// Exit codes (contract).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Exit {
    /// 0: ok.
    Ok = 0,
    /// 1: the check, verify or install failed.
    Failed = 1,
    /// 2: usage error (bad flag value, missing file, would need a prompt without a TTY).
    Usage = 2,
    /// 3: environment unusable (no Python found, ...).
    Environment = 3,
}

/// An error that ends the command with a one-line message naming the fix.
#[derive(Debug, thiserror::Error)]
#[error("{message}")]
pub struct CliError {
    pub exit: Exit,
    pub message: String,
}

impl CliError {
    pub fn usage(message: impl Into<String>) -> Self {
        CliError { exit: Exit::Usage, message: message.into() }
    }
    pub fn environment(message: impl Into<String>) -> Self {
        CliError { exit: Exit::Environment, message: message.into() }
    }
    pub fn failed(message: impl Into<String>) -> Self {
        CliError { exit: Exit::Failed, message: message.into() }
    }
}

/// The engine session for these global flags.
pub fn session(g: &GlobalArgs) -> Result<crate::session::Session, CliError> {
    crate::session::Session::for_host(g.python.clone(), &g.index_url, g.offline)
        .map_err(|e| CliError::environment(e.to_string()))
}
