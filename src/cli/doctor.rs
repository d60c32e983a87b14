//! `torchup doctor`, and what `torchup` prints without a terminal.
use super::{CliError, Exit, GlobalArgs};

pub async fn run(_g: &GlobalArgs, _json: bool) -> Result<Exit, CliError> {
    Err(CliError::failed("doctor is being built"))
}

pub async fn run_non_interactive(g: &GlobalArgs) -> Result<Exit, CliError> {
    run(g, false).await
}
