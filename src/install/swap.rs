//! The engine's seams for acquire-then-swap: get every byte of a build before anything
//! changes, move the installed family aside instead of deleting it, and keep an on-disk
//! journal of the change. A trait so the state machine is unit-tested against a simulated
//! world; [`super::real_swap`] is the implementation on this machine (the fetcher, the
//! wheelhouse, the RECORD stash and the journal in the state directory).

use std::future::Future;
use std::path::{Path, PathBuf};

use serde::Serialize;
use serde::de::DeserializeOwned;
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

use super::InstallEvent;
use super::stage::RunStage;
use crate::facts::TorchFacts;
use crate::plan::Choice;

/// The files of a build, fetched and verified, ready for an offline install.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Acquired {
    /// The family's wheels (torch first) as (distribution name, path), installed by path.
    pub family: Vec<(String, PathBuf)>,
    /// The directory pip reads with `--find-links`: the family and its dependencies.
    pub links_dir: PathBuf,
    /// Every dependency pip will need was fetched too: the install runs with `--no-index`.
    /// False when they could not be resolved ahead (no pip to resolve with): the install
    /// then reads the build's index for them, and a failure there is rolled back offline.
    pub dependencies_fetched: bool,
    /// The index pip reads dependencies from when they were not fetched (None: pip's own
    /// configuration, for flat mirrors that are no simple index).
    pub dependency_index: Option<String>,
    /// Bytes that came over the network in this run (0 when all came from the wheelhouse).
    pub downloaded: u64,
    /// Things the user should know ("integrity checked, origin not verified: …").
    pub notes: Vec<String>,
}

/// Why a build's files could not be had. Nothing in the environment has changed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AcquireError {
    /// The index does not serve this build for this Python and platform: the planned
    /// fallback may help.
    #[error("{0}")]
    Unavailable(String),
    #[error("cancelled")]
    Cancelled,
    /// Network, hash, disk: one line naming the fix.
    #[error("{0}")]
    Failed(String),
}

/// What an interrupted run left: the journal's view of the environment.
#[derive(Debug, Clone)]
pub struct Interrupted<P> {
    /// The stage the run had reached.
    pub stage: RunStage,
    /// The build installed before that run.
    pub previous: Option<TorchFacts>,
    /// The moved-aside previous family, if the run got that far.
    pub preserved: Option<P>,
    /// The env's prefix (as `conda remove -p` named it) and conda's revision before the run's
    /// `conda remove`: a conda-installed build goes back with `conda install --revision`.
    pub conda_revision: Option<(String, u64)>,
}

/// Why the installed family could not be moved aside.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PreserveError<P> {
    /// Nothing in the environment changed (every move was undone, or none was made).
    Untouched(String),
    /// Part of the family is still moved aside: the run has changed the environment, and
    /// `preserved` is what putting it back needs.
    PartlyMoved { why: String, preserved: P },
}

/// Fetch, preserve, journal. Every method is safe to call from the engine's async context
/// (blocking file work happens off the async workers).
pub trait Swap: Send + Sync {
    /// Whatever is needed to put a moved-aside family back, also from another process
    /// (it is written into the journal).
    type Preserved: Clone + std::fmt::Debug + Send + Sync + Serialize + DeserializeOwned;

    /// Fetch every file `choice` needs into the wheelhouse; progress goes out as
    /// [`InstallEvent::Progress`] for stage `index`. Nothing in the environment changes.
    fn acquire(
        &self,
        python: &Path,
        choice: &Choice,
        events: &mpsc::Sender<InstallEvent>,
        index: usize,
        cancel: &CancellationToken,
    ) -> impl Future<Output = Result<Acquired, AcquireError>> + Send;

    /// Move the installed family (`previous`) out of the environment, keeping every file.
    fn preserve(
        &self,
        python: &Path,
        previous: &TorchFacts,
    ) -> impl Future<Output = Result<Self::Preserved, PreserveError<Self::Preserved>>> + Send;

    /// Put a moved-aside family back (whatever replaced it was uninstalled first) and
    /// check every file against its RECORD hash.
    fn put_back(&self, preserved: &Self::Preserved) -> impl Future<Output = Result<(), String>> + Send;

    /// Delete a moved-aside family once the new build passed (or is kept on purpose).
    fn forget(&self, preserved: &Self::Preserved) -> impl Future<Output = ()> + Send;

    /// Record in the journal that the run reached `stage` (written before the first change,
    /// so a killed run is noticed by the next command).
    fn journal(
        &self,
        python: &Path,
        stage: RunStage,
        previous: Option<&TorchFacts>,
        choice: &Choice,
        preserved: Option<&Self::Preserved>,
    ) -> impl Future<Output = Result<(), String>> + Send;

    /// Record conda's revision before a `conda remove` (so a killed run's rollback can
    /// return conda to it).
    fn note_conda_revision(&self, prefix: &str, revision: u64) -> impl Future<Output = Result<(), String>> + Send;

    /// Take over the journal an interrupted run left for `python`'s environment (None when
    /// there is none): `torchup rollback`, `install --resume`.
    fn adopt_journal(
        &self,
        python: &Path,
    ) -> impl Future<Output = Result<Option<Interrupted<Self::Preserved>>, String>> + Send;

    /// The run is over (committed or rolled back): remove the journal.
    fn close_journal(&self) -> impl Future<Output = ()> + Send;
}
