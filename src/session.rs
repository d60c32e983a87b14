//! One façade over the engine for both front ends: gather facts, read the index, plan,
//! and build the pieces an install needs — from one set of settings (the global flags).
//! The CLI and the TUI call this; neither repeats the wiring.

use std::path::PathBuf;

use crate::compat::available::IndexSnapshot;
use crate::compat::data::CompatData;
use crate::compat::index::{IndexClient, IndexOptions};
use crate::facts::Facts;
use crate::facts::gather::{GatherOptions, Gathered, gather_report};
use crate::facts::platform::{HostEnv, Platform};
use crate::plan::{Plan, Request};

/// Settings shared by every command (the global flags, resolved).
#[derive(Debug, Clone)]
pub struct Session {
    pub platform: Platform,
    pub env: HostEnv,
    pub cwd: PathBuf,
    /// `--python`.
    pub python: Option<PathBuf>,
    /// `--index-url` base (variants are `<base>/<variant>`).
    pub index_url: String,
    pub offline: bool,
    pub state_dir: PathBuf,
    pub cache_dir: PathBuf,
}

/// Why a session cannot start.
#[derive(Debug, thiserror::Error)]
pub enum SessionError {
    #[error("cannot read the current directory ({0}); cd into your project and run torchup again")]
    Cwd(std::io::Error),
}

impl Session {
    /// This machine, this process's environment.
    pub fn for_host(python: Option<PathBuf>, index_url: &str, offline: bool) -> Result<Session, SessionError> {
        let cwd = std::env::current_dir().map_err(SessionError::Cwd)?;
        Ok(Session {
            platform: Platform::current(),
            env: HostEnv::capture(),
            cwd,
            python,
            index_url: index_url.trim_end_matches('/').to_string(),
            offline,
            state_dir: crate::paths::state_dir(),
            cache_dir: crate::paths::cache_dir(),
        })
    }

    pub fn gather_options(&self) -> GatherOptions {
        let mut opts = GatherOptions::for_host(self.platform.clone(), self.env.clone(), self.cwd.clone());
        opts.python = self.python.clone();
        opts
    }

    /// Every fact, probes run concurrently.
    pub async fn detect(&self) -> Gathered {
        gather_report(&self.gather_options()).await
    }

    /// What the index serves for every CUDA variant the data knows plus any new one it
    /// finds (a future cu134). None when the index URL is unusable; failures of single
    /// pages are recorded in the snapshot and the planner falls back to bundled data.
    pub async fn index_snapshot(&self, data: &CompatData) -> Result<IndexSnapshot, String> {
        let mut opts = IndexOptions::new(&self.index_url);
        opts.offline = self.offline;
        opts.cache_dir = Some(self.cache_dir.join("index"));
        let client = IndexClient::new(opts).map_err(|e| e.to_string())?;
        let mut variants: Vec<String> = data.variants().map(|v| v.name.clone()).collect();
        let found = client.discover_variants(&crate::compat::index::variant_guesses(&variants)).await;
        for v in found.variants {
            if !variants.contains(&v) {
                variants.push(v);
            }
        }
        Ok(client.snapshot(&variants, &["torch", "torchvision", "torchaudio"]).await)
    }

    /// Plan for `facts` with the bundled data, refined by the index unless it cannot be
    /// read at all. Returns the plan and a note when the index was not usable.
    pub async fn plan(&self, facts: &Facts, req: &Request) -> Result<(Plan, Option<String>), String> {
        let data = CompatData::bundled().map_err(|e| format!("{e} (this is a torchup bug: please report it)"))?;
        let (snapshot, note) = match self.index_snapshot(data).await {
            Ok(s) if s.listings.is_empty() && self.offline => {
                (Some(s), Some("--offline with no cached index answers: planned from the bundled data".into()))
            }
            Ok(s) if s.listings.is_empty() && !s.failed.is_empty() => {
                let why = s.failed.values().next().cloned().unwrap_or_default();
                let note = format!("could not read {} ({why}); planned from the bundled data", self.index_url);
                (Some(s), Some(note))
            }
            Ok(s) => (Some(s), None),
            Err(e) => (None, Some(format!("the index was not used: {e}"))),
        };
        Ok((crate::plan::plan(facts, req, data, snapshot.as_ref()), note))
    }
}
