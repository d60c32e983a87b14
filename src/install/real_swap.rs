//! PLACEHOLDER until the fetch and stash modules land (not committed).
use std::path::Path;
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;
use super::InstallEvent;
use super::stage::RunStage;
use super::swap::{AcquireError, Acquired, Swap};
use crate::facts::TorchFacts;
use crate::plan::Choice;

#[derive(Debug, Default)]
pub struct RealSwap;

impl Swap for RealSwap {
    type Preserved = String;
    async fn acquire(&self, _p: &Path, _c: &Choice, _e: &mpsc::Sender<InstallEvent>, _i: usize, _x: &CancellationToken) -> Result<Acquired, AcquireError> {
        Err(AcquireError::Failed("not yet".into()))
    }
    async fn preserve(&self, _p: &Path, _t: &TorchFacts) -> Result<String, String> { Err("not yet".into()) }
    async fn put_back(&self, _p: &String) -> Result<(), String> { Err("not yet".into()) }
    async fn forget(&self, _p: &String) {}
    async fn journal(&self, _s: RunStage, _p: Option<&TorchFacts>, _c: &Choice, _x: Option<&String>) -> Result<(), String> { Ok(()) }
    async fn close_journal(&self) {}
    async fn adopt_journal(&self, _p: &Path) -> Result<Option<super::swap::Interrupted<String>>, String> { Ok(None) }
}
