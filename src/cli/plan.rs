//! `torchup plan`.
use std::path::Path;

use super::{ChoiceArgs, CliError, Exit, GlobalArgs};

pub async fn run(_g: &GlobalArgs, _json: bool, _facts: Option<&Path>, _c: &ChoiceArgs) -> Result<Exit, CliError> {
    Err(CliError::failed("plan is being built"))
}
