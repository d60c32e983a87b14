//! Starting the TUI wizard.
use super::{CliError, Exit, GlobalArgs};

/// Which screen the wizard opens on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StartAt {
    Verify,
}

pub async fn run(g: &GlobalArgs, _start: Option<StartAt>) -> Result<Exit, CliError> {
    super::detect::run(g, false).await
}
