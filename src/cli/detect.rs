//! `torchup detect`.
use super::{CliError, Exit, GlobalArgs};

pub async fn run(_g: &GlobalArgs, _json: bool) -> Result<Exit, CliError> {
    Err(CliError::failed("detect is being built"))
}
