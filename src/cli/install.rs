//! `torchup install`.
use super::{ChoiceArgs, CliError, Exit, GlobalArgs};

pub async fn run(
    _g: &GlobalArgs,
    _yes: bool,
    _dry: bool,
    _json: bool,
    _c: &ChoiceArgs,
    _tty: bool,
) -> Result<Exit, CliError> {
    Err(CliError::failed("install is being built"))
}
