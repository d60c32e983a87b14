//! [`Swap`] on this machine: the family's wheels come from the index pages torchup already
//! reads (URL and `#sha256=`), their dependencies from pip's own resolver run against the
//! fetched files (`pip install --dry-run --report`, which reads the local wheels' metadata
//! and never downloads a big wheel), and every byte goes through torchup's resumable,
//! verified [`Fetcher`] into the wheelhouse. The previous family is moved aside by its
//! RECORD ([`Stash`]) and the [`Journal`] in the state directory records every step.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use tokio::sync::{Mutex, mpsc};
use tokio_util::sync::CancellationToken;

use super::InstallEvent;
use super::journal::{Journal, RunInfo};
use super::stage::RunStage;
use super::stash::{Stash, StashError, StashManifest, stash_dir_for};
use super::swap::{AcquireError, Acquired, Interrupted, PreserveError, Swap};
use crate::compat::index::{IndexClient, IndexLayout, IndexOptions, PageFailure};
use crate::compat::tags::{InterpreterTags, compatible_files};
use crate::exec::{RunSpec, Runner, TokioRunner};
use crate::facts::{Os, TorchFacts};
use crate::fetch::{
    FetchError, FetchEvent, FetchItem, FetchOptions, FetchProgress, Fetched, Fetcher, NetConfig, Wheelhouse, link_dir,
};
use crate::plan::Choice;

/// pip learned `--report` in 22.2.
const PIP_REPORT_SINCE: (u32, u32) = (22, 2);

/// How often the download gauge is refreshed.
const GAUGE_EVERY: Duration = Duration::from_millis(250);

/// Everything the real swap needs to know about the target and this machine.
#[derive(Debug, Clone)]
pub struct SwapSettings {
    pub state_dir: PathBuf,
    /// The index base (variants are `<base>/<variant>/`).
    pub index_base: String,
    pub offline: bool,
    /// The index client's page cache (None: no disk cache).
    pub index_cache: Option<PathBuf>,
    /// The index's layout when the mirror table knows it (PyPI, flat listings); None: detect.
    pub index_layout: Option<IndexLayout>,
    pub wheelhouse: PathBuf,
    /// Which wheels fit the target interpreter (None: unknown Python; nothing can be fetched).
    pub tags: Option<InterpreterTags>,
    pub os: Os,
    /// The detected interpreter and its `sys.prefix` (the journal and lock key); a target
    /// that differs (a venv the plan creates) is keyed by its own directory.
    pub python: Option<PathBuf>,
    pub prefix: Option<PathBuf>,
    pub pip_version: Option<String>,
    /// pip's network settings for the user's configuration.
    pub net: NetConfig,
    pub fetch: FetchOptions,
    /// Environment changes for the children torchup runs (pip's resolver).
    pub child_env: Vec<(String, Option<String>)>,
    /// The torchup command line, for the journal.
    pub command: String,
}

/// The real swap. Holds the journal of the run and the fetcher (whose files stay pinned
/// against wheelhouse eviction while it lives).
#[derive(Debug)]
pub struct RealSwap {
    settings: SwapSettings,
    journal: Mutex<Option<Journal>>,
    fetcher: std::sync::OnceLock<Fetcher>,
}

impl RealSwap {
    pub fn new(settings: SwapSettings) -> RealSwap {
        RealSwap { settings, journal: Mutex::new(None), fetcher: std::sync::OnceLock::new() }
    }

    /// Connections per big file (`--connections`); before the first fetch.
    pub fn set_connections(&mut self, n: usize) {
        self.settings.fetch.connections = n.max(1);
    }

    pub fn settings(&self) -> &SwapSettings {
        &self.settings
    }

    fn fetcher(&self) -> Result<&Fetcher, AcquireError> {
        if let Some(f) = self.fetcher.get() {
            return Ok(f);
        }
        let wh = Wheelhouse::new(&self.settings.wheelhouse);
        let f = Fetcher::new(wh, self.settings.net.clone(), self.settings.fetch.clone())
            .map_err(|e| AcquireError::Failed(e.to_string()))?;
        Ok(self.fetcher.get_or_init(|| f))
    }

    /// The environment directory of `python`: the detected prefix for the detected
    /// interpreter, else the venv around it (`<venv>/bin/python`).
    pub fn prefix_of(&self, python: &Path) -> PathBuf {
        if self.settings.python.as_deref() == Some(python)
            && let Some(p) = &self.settings.prefix
        {
            return p.clone();
        }
        python.parent().and_then(Path::parent).map(Path::to_path_buf).unwrap_or_else(|| python.to_path_buf())
    }

    fn index_client(&self) -> Result<IndexClient, AcquireError> {
        let opts = IndexOptions {
            offline: self.settings.offline,
            cache_dir: self.settings.index_cache.clone(),
            layout: self.settings.index_layout,
            ..IndexOptions::new(&self.settings.index_base)
        };
        IndexClient::new(opts).map_err(|e| AcquireError::Failed(e.to_string()))
    }

    /// The family's wheels for `choice`, straight from the index pages, and the index
    /// pip resolves their dependencies against (None: pip's own configuration).
    async fn family_items(&self, choice: &Choice) -> Result<(Vec<(String, FetchItem)>, Option<String>), AcquireError> {
        let Some(tags) = &self.settings.tags else {
            return Err(AcquireError::Failed(
                "the target Python's version and platform are unknown, so no wheel can be chosen".into(),
            ));
        };
        let client = self.index_client()?;
        let mut items = Vec::new();
        for (pkg, pin) in family_pins(choice, self.settings.os) {
            let page = format!("{}/{}/{pkg}/", self.settings.index_base.trim_end_matches('/'), choice.variant);
            let listing = match client.listing(&choice.variant, pkg).await {
                Ok((l, _)) => l,
                Err(PageFailure::NotFound { .. }) => {
                    return Err(AcquireError::Unavailable(format!("{} is not on the index (HTTP 404)", redact(&page))));
                }
                Err(e) => return Err(AcquireError::Failed(format!("cannot read {}: {e}", redact(&page)))),
            };
            // PyPI's CUDA wheels carry no local label (`2.5.1`, not `2.5.1+cu124`): its listing
            // holds only the releases whose PyPI build is this variant, so the public version
            // decides there.
            let pypi = self.settings.index_layout == Some(IndexLayout::Pypi);
            let public = |v: &str| v.split('+').next().unwrap_or(v).to_string();
            let matches = |v: &str| if pypi { public(v) == public(&pin) } else { same_version(v, &pin) };
            let file = compatible_files(&listing, tags).find(|f| matches(&f.version)).ok_or_else(|| {
                AcquireError::Unavailable(format!(
                    "{} has no {pkg} {pin} wheel for Python {}.{} on this platform",
                    redact(&page),
                    tags.major,
                    tags.minor
                ))
            })?;
            let mut sha256 = file.sha256.clone();
            if sha256.is_none() {
                // A listing without hashes (a flat mirror, torch_stable.html): take the hash
                // from an index that publishes it; the fetcher refuses a mismatch. None
                // anywhere: the fetcher checks the wheel's RECORD ("origin not verified").
                sha256 = self.published_hash(&client, &choice.variant, &file.filename).await;
            }
            items.push((
                pkg.to_string(),
                FetchItem { url: file.url.clone(), filename: file.filename.clone(), sha256, size: None },
            ));
        }
        let deps = match client.layout_info().layout.or(self.settings.index_layout) {
            Some(IndexLayout::Pypi) => Some(self.settings.index_base.trim_end_matches('/').to_string()),
            Some(IndexLayout::FlatPerVariant | IndexLayout::StablePage) => None,
            _ => Some(choice.index_url.clone()),
        };
        Ok((items, deps))
    }

    /// The sha256 the official index publishes for `filename`, when the index in use
    /// publishes none.
    async fn published_hash(&self, client: &IndexClient, variant: &str, filename: &str) -> Option<String> {
        let official = crate::compat::index_url::OFFICIAL_INDEX_URL;
        if self.settings.index_base.trim_end_matches('/') == official || self.settings.offline {
            return client.hash_for(variant, filename).await;
        }
        let other = IndexClient::new(IndexOptions {
            cache_dir: self.settings.index_cache.clone(),
            ..IndexOptions::new(official)
        })
        .ok()?;
        crate::compat::index::hash_from(&[client, &other], variant, filename).await.map(|h| h.sha256)
    }

    /// Fetch `items`, forwarding progress to the install's events.
    async fn fetch(
        &self,
        items: Vec<FetchItem>,
        events: &mpsc::Sender<InstallEvent>,
        index: usize,
        what: &str,
        cancel: &CancellationToken,
    ) -> Result<Vec<Fetched>, AcquireError> {
        if items.is_empty() {
            return Ok(Vec::new());
        }
        let fetcher = self.fetcher()?;
        let (ftx, mut frx) = mpsc::channel::<FetchEvent>(256);
        let forward = async {
            let mut progress = FetchProgress::default();
            let mut last = Instant::now() - GAUGE_EVERY;
            while let Some(ev) = frx.recv().await {
                progress.update(&ev);
                let _ = events.send(InstallEvent::Fetch { index, event: ev.clone() }).await;
                let end = matches!(ev, FetchEvent::Finished { .. } | FetchEvent::FromCache { .. });
                if end || last.elapsed() >= GAUGE_EVERY {
                    last = Instant::now();
                    let label = gauge_label(what, &progress);
                    let _ = events
                        .send(InstallEvent::Progress { index, label, done: progress.done(), total: progress.total() })
                        .await;
                }
            }
        };
        let (got, ()) = tokio::join!(fetcher.fetch_all(items, ftx, cancel.clone()), forward);
        got.map_err(|e| match e {
            FetchError::Cancelled => AcquireError::Cancelled,
            FetchError::Http { status: 404 | 410, .. } => AcquireError::Unavailable(e.to_string()),
            e => AcquireError::Failed(e.to_string()),
        })
    }

    /// The dependencies pip would install with these wheels, as files to fetch. None when
    /// the target has no pip that can say (`--report` needs pip ≥ 22.2).
    async fn dependency_items(
        &self,
        python: &Path,
        family: &[PathBuf],
        links: &Path,
        index_url: Option<&str>,
        cancel: &CancellationToken,
    ) -> Result<Option<Vec<FetchItem>>, AcquireError> {
        let same_python = self.settings.python.as_deref() == Some(python);
        let pip = if same_python { self.settings.pip_version.as_deref() } else { None };
        if same_python && !pip.is_some_and(pip_has_report) {
            return Ok(None);
        }
        // Beside the links directory, not in it: pip reads that one as a wheel source.
        let report = links.with_extension("report.json");
        let _ = std::fs::remove_file(&report);
        let mut argv = vec![
            python.display().to_string(),
            "-m".into(),
            "pip".into(),
            "install".into(),
            "--dry-run".into(),
            "--quiet".into(),
            "--disable-pip-version-check".into(),
            "--report".into(),
            report.display().to_string(),
            "--find-links".into(),
            links.display().to_string(),
        ];
        if let Some(url) = index_url {
            argv.extend(["--index-url".into(), url.into()]);
        }
        argv.extend(family.iter().map(|p| p.display().to_string()));
        let spec = RunSpec::new(argv).envs(&self.settings.child_env).timeout(Duration::from_secs(600));
        let out = TokioRunner.run(spec, None, cancel.clone()).await.map_err(|e| AcquireError::Failed(e.to_string()))?;
        if cancel.is_cancelled() {
            return Err(AcquireError::Cancelled);
        }
        if !out.success() {
            let text = out.combined();
            if text.contains("no such option: --report") || text.contains("No module named pip") {
                return Ok(None);
            }
            let last = text.lines().rev().find(|l| l.contains("ERROR")).unwrap_or("pip's resolver failed").trim();
            return Err(AcquireError::Failed(format!("the dependencies could not be resolved: {last}")));
        }
        let text = std::fs::read_to_string(&report)
            .map_err(|e| AcquireError::Failed(format!("pip wrote no resolver report: {e}")))?;
        report_items(&text).map(Some).map_err(AcquireError::Failed)
    }

    /// Run `f` on the open journal (each change is an atomic rewrite with fsync) on tokio's
    /// blocking pool: the journal is taken out of its slot for the call and put back, so
    /// no other stage can see it half-written. None when no journal is open.
    async fn with_journal<T: Send + 'static>(
        &self,
        f: impl FnOnce(&mut Journal) -> Result<T, super::journal::JournalError> + Send + 'static,
    ) -> Result<Option<T>, String> {
        let mut guard = self.journal.lock().await;
        let Some(mut journal) = guard.take() else { return Ok(None) };
        let (journal, result) = off_runtime(move || {
            let result = f(&mut journal);
            (journal, result)
        })
        .await?;
        *guard = Some(journal);
        result.map(Some).map_err(|e| e.to_string())
    }
}

/// Blocking file work (renames, hard links, fsync, deleting trees) on tokio's blocking
/// pool, so an install never holds up the runtime's workers.
async fn off_runtime<T: Send + 'static>(f: impl FnOnce() -> T + Send + 'static) -> Result<T, String> {
    tokio::task::spawn_blocking(f).await.map_err(|e| format!("a file operation did not finish: {e}"))
}

impl Swap for RealSwap {
    type Preserved = StashManifest;

    async fn acquire(
        &self,
        python: &Path,
        choice: &Choice,
        events: &mpsc::Sender<InstallEvent>,
        index: usize,
        cancel: &CancellationToken,
    ) -> Result<Acquired, AcquireError> {
        let (named, dependency_index) = self.family_items(choice).await?;
        let (names, items): (Vec<String>, Vec<FetchItem>) = named.into_iter().unzip();
        let label = format!("torch {} {}", choice.torch, choice.variant);
        let family = self.fetch(items, events, index, &label, cancel).await?;
        let links = Wheelhouse::new(&self.settings.wheelhouse)
            .root()
            .join("links")
            .join(super::lock::env_key(&self.prefix_of(python)));
        {
            // A fresh links directory holding exactly the fetched files.
            let (links, family) = (links.clone(), family.clone());
            off_runtime(move || {
                let _ = std::fs::remove_dir_all(&links);
                std::fs::create_dir_all(&links)
                    .map_err(|e| format!("cannot create {}: {e}", links.display()))
                    .and_then(|()| link_dir(&family, &links).map_err(|e| format!("cannot link the fetched files: {e}")))
            })
            .await
            .and_then(|r| r)
            .map_err(AcquireError::Failed)?;
        }
        let family_paths: Vec<PathBuf> = family.iter().map(|f| links.join(&f.filename)).collect();
        let mut downloaded: u64 = family.iter().map(|f| f.downloaded_bytes).sum();
        let mut notes: Vec<String> = family
            .iter()
            .filter(|f| !f.origin_verified)
            .map(|f| {
                format!(
                    "{}: integrity checked (its RECORD), origin not verified (the source publishes no hash)",
                    f.filename
                )
            })
            .collect();

        let deps = self.dependency_items(python, &family_paths, &links, dependency_index.as_deref(), cancel).await?;
        let dependencies_fetched = match deps {
            Some(items) => {
                let fetched = self.fetch(items, events, index, "dependencies", cancel).await?;
                downloaded += fetched.iter().map(|f| f.downloaded_bytes).sum::<u64>();
                notes.extend(
                    fetched
                        .iter()
                        .filter(|f| !f.origin_verified)
                        .map(|f| format!("{}: integrity checked (its RECORD), origin not verified", f.filename)),
                );
                let links = links.clone();
                off_runtime(move || link_dir(&fetched, &links))
                    .await
                    .and_then(|r| r.map_err(|e| format!("cannot link the fetched files: {e}")))
                    .map_err(AcquireError::Failed)?;
                true
            }
            None => {
                notes.push(
                    "the dependencies could not be resolved ahead (this pip is older than 22.2 or missing): the install reads them from the index, and a failure there is rolled back offline"
                        .into(),
                );
                false
            }
        };
        // The real sizes, before any change: the unpacked files must fit beside the old
        // build (which stays on the disk, moved aside, until the new one passes).
        let target = self.prefix_of(python);
        let need = {
            let links = links.clone();
            off_runtime(move || {
                let wheels = std::fs::read_dir(&links).map(|rd| rd.flatten().map(|e| e.path()).collect::<Vec<_>>());
                wheels.unwrap_or_default().iter().map(|w| unpacked_size(w)).sum::<u64>()
            })
            .await
            .unwrap_or(0)
        };
        if let Ok(free) = fs4::available_space(&target) {
            let want = need + need / 10 + (64 << 20);
            if free < want {
                return Err(AcquireError::Failed(format!(
                    "not enough free space for the swap: the new build unpacks to {}, and the disk holding {} has {} free; free at least {} and run `torchup install` again (the download is kept)",
                    crate::describe::bytes(need),
                    target.display(),
                    crate::describe::bytes(free),
                    crate::describe::bytes(want - free)
                )));
            }
        }
        Ok(Acquired {
            family: names.into_iter().zip(family_paths).collect(),
            links_dir: links,
            dependencies_fetched,
            dependency_index,
            downloaded,
            notes,
        })
    }

    async fn preserve(
        &self,
        _python: &Path,
        previous: &TorchFacts,
    ) -> Result<StashManifest, PreserveError<StashManifest>> {
        let Some(site) = previous.location.as_deref().map(PathBuf::from) else {
            return Err(PreserveError::Untouched(format!("where torch {} is installed is unknown", previous.version)));
        };
        let dists: Vec<String> = previous.members().into_iter().map(|(name, _)| name.to_string()).collect();
        let run_id = {
            let guard = self.journal.lock().await;
            guard.as_ref().map(|j| j.run_id.clone()).unwrap_or_else(|| format!("{}", std::process::id()))
        };
        let stash_dir = stash_dir_for(&site, &run_id);
        let planned = {
            let (site, dists, dir) = (site.clone(), dists.clone(), stash_dir.clone());
            tokio::task::spawn_blocking(move || {
                let names: Vec<&str> = dists.iter().map(String::as_str).collect();
                Stash::plan(&site, &names, &dir)
            })
            .await
            .map_err(|e| PreserveError::Untouched(e.to_string()))?
            .map_err(|e| PreserveError::Untouched(e.to_string()))?
        };
        // Journal the manifest before the first rename: a kill mid-move is recoverable.
        {
            let planned = planned.clone();
            self.with_journal(move |j| j.set_stash(&planned)).await.map_err(PreserveError::Untouched)?;
        }
        match Stash::execute_async(planned.clone()).await {
            Ok(stash) => Ok(stash.manifest().clone()),
            Err(e @ StashError::PartlyUndone { .. }) => {
                Err(PreserveError::PartlyMoved { why: e.to_string(), preserved: planned })
            }
            Err(e) => Err(PreserveError::Untouched(e.to_string())),
        }
    }

    async fn put_back(&self, preserved: &StashManifest) -> Result<(), String> {
        let report = Stash::from_manifest(preserved.clone()).restore_async().await.map_err(|e| e.to_string())?;
        if !report.is_exact() {
            let names: Vec<String> = report.mismatches.iter().take(3).map(|m| m.path.display().to_string()).collect();
            return Err(format!(
                "{} restored file(s) differ from their RECORD ({}{})",
                report.mismatches.len(),
                names.join(", "),
                if report.mismatches.len() > 3 { ", …" } else { "" }
            ));
        }
        self.with_journal(|j| j.clear_stash()).await?;
        Ok(())
    }

    async fn forget(&self, preserved: &StashManifest) {
        if let Err(e) = Stash::from_manifest(preserved.clone()).discard_async().await {
            tracing::warn!("cannot delete the moved-aside build: {e}");
        }
        // The new build is verified: pip's half-removed `~orch` folders from earlier
        // uninstalls (a locked DLL on Windows) only make pip warn from now on.
        let site = preserved.site_packages.clone();
        match off_runtime(move || crate::preflight::remove_leftovers(&site)).await {
            Ok(left) if !left.is_empty() => {
                let names: Vec<String> = left.iter().map(|p| p.display().to_string()).collect();
                tracing::warn!("pip's leftovers could not be removed (held open?): {}", names.join(", "));
            }
            Ok(_) => {}
            Err(e) => tracing::warn!("pip's leftovers were not removed: {e}"),
        }
        let _ = self.with_journal(|j| j.clear_stash()).await;
    }

    async fn journal(
        &self,
        python: &Path,
        stage: RunStage,
        previous: Option<&TorchFacts>,
        choice: &Choice,
        _preserved: Option<&StashManifest>,
    ) -> Result<(), String> {
        let mut guard = self.journal.lock().await;
        if guard.is_some() {
            drop(guard);
            let choice = choice.clone();
            return self.with_journal(move |j| j.update_stage_of(stage, &choice)).await.map(|_| ());
        }
        let info = RunInfo {
            command: self.settings.command.clone(),
            prefix: self.prefix_of(python),
            python: python.to_path_buf(),
            previous: previous.cloned(),
            choice: Some(choice.clone()),
        };
        let state = self.settings.state_dir.clone();
        let j = off_runtime(move || Journal::create(&state, info, stage)).await?.map_err(|e| e.to_string())?;
        *guard = Some(j);
        Ok(())
    }

    async fn note_conda_revision(&self, prefix: &str, revision: u64) -> Result<(), String> {
        let prefix = prefix.to_string();
        match self.with_journal(move |j| j.set_conda_revision(&prefix, revision)).await? {
            Some(()) => Ok(()),
            None => Err("no install journal is open".into()),
        }
    }

    async fn adopt_journal(&self, python: &Path) -> Result<Option<Interrupted<StashManifest>>, String> {
        let (state, prefix) = (self.settings.state_dir.clone(), self.prefix_of(python));
        let mut found = off_runtime(move || {
            let mut found = Journal::load(&state, &prefix)?;
            if let Some(j) = found.as_mut() {
                j.adopt()?;
            }
            Ok::<_, super::journal::JournalError>(found)
        })
        .await?
        .map_err(|e| e.to_string())?;
        let Some(j) = found.as_mut() else { return Ok(None) };
        let out = Interrupted {
            stage: j.stage,
            previous: j.previous.clone(),
            preserved: j.stash.clone(),
            conda_revision: j.conda.as_ref().map(|c| (c.prefix.clone(), c.revision)),
        };
        *self.journal.lock().await = found;
        Ok(Some(out))
    }

    async fn close_journal(&self) {
        let Some(j) = self.journal.lock().await.take() else { return };
        match off_runtime(move || j.remove()).await {
            Ok(Ok(())) => {}
            Ok(Err(e)) => tracing::warn!("cannot remove the install journal: {e}"),
            Err(e) => tracing::warn!("cannot remove the install journal: {e}"),
        }
    }
}

/// The bytes a wheel unpacks to (its zip directory's sizes); 0 when it cannot be read.
fn unpacked_size(wheel: &Path) -> u64 {
    let Ok(file) = std::fs::File::open(wheel) else { return 0 };
    let Ok(mut zip) = zip::ZipArchive::new(std::io::BufReader::new(file)) else { return 0 };
    (0..zip.len()).filter_map(|i| zip.by_index_raw(i).ok().map(|f| f.size())).sum()
}

/// (distribution, exact version) of the family members `choice` pins, torch first.
pub(crate) fn family_pins(choice: &Choice, os: Os) -> Vec<(&'static str, String)> {
    let label = |v: &str| -> String {
        if v.contains('+') || (os == Os::Macos && choice.variant == "cpu") {
            v.to_string()
        } else {
            format!("{v}+{}", choice.variant)
        }
    };
    let mut out = vec![("torch", label(&choice.torch))];
    if let Some(v) = &choice.torchvision {
        out.push(("torchvision", label(v)));
    }
    if let Some(v) = &choice.torchaudio {
        out.push(("torchaudio", label(v)));
    }
    out
}

/// Same PEP 440 version, local label included ("2.5.1+cu124" == "2.5.1+cu124").
fn same_version(a: &str, b: &str) -> bool {
    match (a.parse::<pep440_rs::Version>(), b.parse::<pep440_rs::Version>()) {
        (Ok(x), Ok(y)) => x == y,
        _ => a == b,
    }
}

/// pip ≥ 22.2 (the `--report` option).
pub(crate) fn pip_has_report(version: &str) -> bool {
    let mut parts = version.trim().split('.').map(|p| p.chars().take_while(char::is_ascii_digit).collect::<String>());
    let major = parts.next().and_then(|p| p.parse::<u32>().ok());
    let minor = parts.next().and_then(|p| p.parse::<u32>().ok()).unwrap_or(0);
    major.is_some_and(|m| (m, minor) >= PIP_REPORT_SINCE)
}

/// The files a `pip install --dry-run --report` would download: every `install` item whose
/// `download_info` is a remote archive (the local family wheels are `file:` URLs).
pub(crate) fn report_items(report_json: &str) -> Result<Vec<FetchItem>, String> {
    let v: serde_json::Value =
        serde_json::from_str(report_json).map_err(|e| format!("pip's resolver report is not JSON: {e}"))?;
    let mut out = Vec::new();
    for item in v.get("install").and_then(|i| i.as_array()).map(Vec::as_slice).unwrap_or_default() {
        let Some(info) = item.get("download_info") else { continue };
        let Some(url) = info.get("url").and_then(|u| u.as_str()) else { continue };
        if url.starts_with("file:") {
            continue;
        }
        let filename = url.split(['#', '?']).next().unwrap_or(url).rsplit('/').next().unwrap_or_default();
        let filename = crate::compat::wheel_name::percent_decode(filename);
        let sha256 = info
            .get("archive_info")
            .and_then(|a| a.get("hashes").and_then(|h| h.get("sha256")).or_else(|| a.get("hash")))
            .and_then(|h| h.as_str())
            .map(|h| h.trim_start_matches("sha256=").to_string());
        out.push(FetchItem { url: url.split('#').next().unwrap_or(url).to_string(), filename, sha256, size: None });
    }
    Ok(out)
}

fn redact(url: &str) -> String {
    match url::Url::parse(url) {
        Ok(u) => crate::fetch::net::redact(&u),
        Err(_) => url.to_string(),
    }
}

/// The gauge's title: stable while the download runs, so front ends compute the rate and
/// ETA from the bytes ("Downloading torch 2.5.1 cu124 (3 files)").
fn gauge_label(what: &str, p: &FetchProgress) -> String {
    let n = p.files().count();
    let files = if n == 1 { String::new() } else { format!(" ({n} files)") };
    format!("Downloading {what}{files}")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::plan::Manager;

    #[test]
    fn report_items_skip_local_files_and_keep_hashes() {
        let report = r#"{"version":"1","install":[
            {"download_info":{"url":"file:///wh/links/torch-2.5.1%2Bcu124-cp311-cp311-linux_x86_64.whl","archive_info":{}},"metadata":{"name":"torch"}},
            {"download_info":{"url":"https://download.pytorch.org/whl/nvidia_cudnn_cu12-9.1.0.70-py3-none-manylinux2014_x86_64.whl","archive_info":{"hash":"sha256=abc","hashes":{"sha256":"abc"}}},"metadata":{"name":"nvidia-cudnn-cu12"}},
            {"download_info":{"url":"https://files.example/sympy-1.13.1-py3-none-any.whl#sha256=def","archive_info":{"hash":"sha256=def"}},"metadata":{"name":"sympy"}}
        ]}"#;
        let items = report_items(report).unwrap();
        assert_eq!(items.len(), 2);
        assert_eq!(items[0].filename, "nvidia_cudnn_cu12-9.1.0.70-py3-none-manylinux2014_x86_64.whl");
        assert_eq!(items[0].sha256.as_deref(), Some("abc"));
        assert_eq!(items[1].url, "https://files.example/sympy-1.13.1-py3-none-any.whl");
        assert_eq!(items[1].sha256.as_deref(), Some("def"));
        assert!(report_items("not json").is_err());
    }

    #[test]
    fn pins_carry_the_variant_label() {
        let c = Choice {
            torch: "2.5.1".into(),
            variant: "cu124".into(),
            index_url: String::new(),
            manager: Manager::Pip,
            torchvision: Some("0.20.1+cu124".into()),
            torchaudio: None,
        };
        assert_eq!(
            family_pins(&c, Os::Linux),
            [("torch", "2.5.1+cu124".to_string()), ("torchvision", "0.20.1+cu124".to_string())]
        );
        let mac = Choice { variant: "cpu".into(), torchvision: Some("0.20.1".into()), ..c };
        assert_eq!(family_pins(&mac, Os::Macos)[0].1, "2.5.1");
    }

    #[test]
    fn pip_report_needs_22_2() {
        assert!(pip_has_report("22.2") && pip_has_report("23.2.1") && pip_has_report("25.0"));
        assert!(!pip_has_report("22.1.2") && !pip_has_report("21.3") && !pip_has_report("junk"));
    }
}
