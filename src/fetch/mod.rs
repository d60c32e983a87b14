//! torchup's own downloader: every file the swap needs is fetched, verified and stored in
//! the [`wheelhouse`] before anything in the environment changes (docs/fetch.md).
//!
//! - resumable: `.part` + sidecar, HTTP Range with If-Range across runs ([`partial`]);
//! - verified: the index's SHA-256, or the wheel's RECORD when no hash is published
//!   ([`verify`]); nothing unverified enters the wheelhouse;
//! - parallel: several files at once, big files in ranged segments ([`transfer`]);
//! - honours pip's network settings ([`net`]);
//! - reports [`FetchEvent`]s that [`FetchProgress`] aggregates for the front ends.

pub(crate) mod error;
pub(crate) mod net;
pub mod partial;
pub(crate) mod progress;
mod transfer;
pub mod verify;
pub(crate) mod wheelhouse;

use std::io;
use std::path::PathBuf;
use std::sync::Mutex;
use std::time::Duration;

use futures_util::StreamExt;
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;
use url::Url;

pub use error::FetchError;
pub use net::NetConfig;
pub use progress::{FetchEvent, FetchProgress, FileProgress};
pub use wheelhouse::{Clean, CleanReport, Entry, Pins, Wheelhouse, link_dir};

use partial::PartFiles;
use sha2::Digest;

/// One file to fetch, as the index page lists it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FetchItem {
    pub url: String,
    pub filename: String,
    /// Hex SHA-256 from the index (`#sha256=`); None for flat listings without hashes.
    pub sha256: Option<String>,
    /// Size from the index, when it says (PEP 691 `size`).
    pub size: Option<u64>,
}

/// A verified file in the wheelhouse.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Fetched {
    pub filename: String,
    /// Inside the wheelhouse; pinned against eviction while the [`Fetcher`] lives.
    pub path: PathBuf,
    pub sha256: String,
    pub size: u64,
    /// Bytes that travelled in this call (0 when it came from the wheelhouse).
    pub downloaded_bytes: u64,
    /// False: no source published a hash; the wheel passed its own RECORD check only
    /// ("integrity checked, origin not verified").
    pub origin_verified: bool,
}

/// Knobs of a fetch. [`FetchOptions::default`] holds the documented defaults.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FetchOptions {
    /// Files transferred at once.
    pub max_files: usize,
    /// Connections (ranged segments) per big file; 1 = one stream (`--connections`).
    pub connections: usize,
    /// Files at least this big are split into segments when the server accepts ranges.
    pub segment_threshold: u64,
    /// No byte (or no answer) for this long counts as a stall and is retried.
    pub stall_timeout: Duration,
    pub connect_timeout: Duration,
    /// Consecutive failures without progress before a file is given up.
    pub max_attempts: u32,
    /// First pause between retries; doubles each time (at most 30 s).
    pub retry_delay: Duration,
    pub max_redirects: usize,
    /// Minimum time between two progress events of one file.
    pub progress_interval: Duration,
    /// Minimum time between two sidecar writes of one file.
    pub save_interval: Duration,
}

impl Default for FetchOptions {
    fn default() -> Self {
        FetchOptions {
            max_files: 4,
            connections: 4,
            segment_threshold: 16 * 1024 * 1024,
            stall_timeout: Duration::from_secs(30),
            connect_timeout: Duration::from_secs(10),
            max_attempts: 6,
            retry_delay: Duration::from_secs(1),
            max_redirects: 10,
            progress_interval: Duration::from_millis(100),
            save_interval: Duration::from_millis(100),
        }
    }
}

/// Downloads into a wheelhouse. Files it returns stay pinned (safe from eviction by any
/// torchup process) until the fetcher is dropped: keep it alive until the install is done.
#[derive(Debug)]
pub struct Fetcher {
    wheelhouse: Wheelhouse,
    net: NetConfig,
    opts: FetchOptions,
    remote: reqwest::Client,
    loopback: reqwest::Client,
    pins: Mutex<Pins>,
}

impl Fetcher {
    /// Fails only on unusable network settings (a cert file that cannot be read, a bad
    /// proxy URL): a one-line [`FetchError::Config`].
    pub fn new(wheelhouse: Wheelhouse, net: NetConfig, opts: FetchOptions) -> Result<Fetcher, FetchError> {
        let remote = net.client(false, opts.connect_timeout, opts.max_redirects)?;
        let loopback = net.client(true, opts.connect_timeout, opts.max_redirects)?;
        Ok(Fetcher { wheelhouse, net, opts, remote, loopback, pins: Mutex::new(Pins::default()) })
    }

    pub fn wheelhouse(&self) -> &Wheelhouse {
        &self.wheelhouse
    }

    pub fn options(&self) -> &FetchOptions {
        &self.opts
    }

    /// Fetch every item (from the wheelhouse when already there), at most
    /// `max_files` at once. Results are in the order of `items`. The first failure cancels
    /// the other transfers (their `.part` files stay for the next run) and is returned.
    /// Afterwards the wheelhouse cap is enforced, never evicting these files.
    ///
    /// Read `events` concurrently (or drop the receiver): progress events are dropped when
    /// the channel is full, but the few lifecycle events (started, retrying, verified,
    /// finished) wait for room.
    pub async fn fetch_all(
        &self,
        items: Vec<FetchItem>,
        events: mpsc::Sender<FetchEvent>,
        cancel: CancellationToken,
    ) -> Result<Vec<Fetched>, FetchError> {
        let mut checked = Vec::with_capacity(items.len());
        for item in items {
            let url = self.check(&item)?;
            checked.push((item, url));
        }
        let stop = cancel.child_token();
        let results: Vec<(usize, Result<Fetched, FetchError>)> =
            futures_util::stream::iter(checked.into_iter().enumerate())
                .map(|(i, (item, url))| {
                    let (events, stop) = (&events, &stop);
                    async move {
                        let r = self.fetch_one(&item, url, events, stop).await;
                        if r.is_err() {
                            stop.cancel();
                        }
                        (i, r)
                    }
                })
                .buffer_unordered(self.opts.max_files.max(1))
                .collect()
                .await;
        let mut ok = Vec::new();
        let mut first_err: Option<FetchError> = None;
        for (i, r) in results {
            match r {
                Ok(f) => ok.push((i, f)),
                Err(FetchError::Cancelled) if first_err.is_some() => {}
                Err(e) if matches!(first_err, None | Some(FetchError::Cancelled)) => first_err = Some(e),
                Err(_) => {}
            }
        }
        if let Some(e) = first_err {
            return Err(e);
        }
        ok.sort_by_key(|(i, _)| *i);
        let fetched: Vec<Fetched> = ok.into_iter().map(|(_, f)| f).collect();
        let keep: Vec<String> = fetched.iter().map(|f| f.sha256.clone()).collect();
        // Off the async workers: eviction takes the wheelhouse's file locks and deletes GBs.
        let wheelhouse = self.wheelhouse.clone();
        match tokio::task::spawn_blocking(move || wheelhouse.enforce_cap(&keep)).await {
            Ok(Ok(evicted)) if !evicted.is_empty() => {
                tracing::info!("wheelhouse over its cap: evicted {} old file(s)", evicted.len());
            }
            Ok(Ok(_)) => {}
            Ok(Err(e)) => tracing::warn!("cannot enforce the wheelhouse cap: {e}"),
            Err(e) => tracing::warn!("cannot enforce the wheelhouse cap: {e}"),
        }
        Ok(fetched)
    }

    /// The URL, checked against the scheme rules, and the item's hash format.
    fn check(&self, item: &FetchItem) -> Result<Url, FetchError> {
        let url = Url::parse(item.url.trim()).map_err(|e| FetchError::BadUrl {
            url: item.url.split('@').next_back().unwrap_or("").to_string(),
            reason: e.to_string(),
        })?;
        self.net.check_url(&url)?;
        if let Some(h) = &item.sha256
            && !verify::is_sha256_hex(h)
        {
            return Err(FetchError::BadUrl { url: net::redact(&url), reason: format!("`{h}` is not a SHA-256") });
        }
        if !wheelhouse::safe_filename(&item.filename) {
            return Err(FetchError::BadUrl {
                url: net::redact(&url),
                reason: format!("unsafe file name `{}`", item.filename),
            });
        }
        Ok(url)
    }

    /// Already in the wheelhouse? Pinned and marked used if so. Off the async workers: the
    /// wheelhouse's index and pin files take blocking file locks another torchup may hold.
    async fn cached(&self, item: &FetchItem) -> Option<Fetched> {
        let (wheelhouse, item) = (self.wheelhouse.clone(), item.clone());
        let (hit, pins) = tokio::task::spawn_blocking(move || cached_in(&wheelhouse, &item)).await.ok()?;
        self.keep(pins);
        hit
    }

    /// Hold these pins until the fetcher is dropped.
    fn keep(&self, pins: Pins) {
        self.pins.lock().unwrap_or_else(|e| e.into_inner()).extend(pins);
    }

    /// Pin a verified `.part` (before it appears, so no other torchup's eviction can take it)
    /// and move it into the store; off the async workers like [`Fetcher::cached`]. The file's
    /// download lock goes with the work, so it is held until the move is done even when this
    /// future is dropped half-way.
    async fn store(
        &self,
        lock: std::fs::File,
        files: PartFiles,
        sha256: String,
        item: &FetchItem,
        origin_verified: bool,
    ) -> io::Result<Entry> {
        let (wheelhouse, filename) = (self.wheelhouse.clone(), item.filename.clone());
        let (pins, stored) = tokio::task::spawn_blocking(move || {
            let pins = pin_logged(&wheelhouse, &sha256);
            let stored = wheelhouse.insert(&files.part, &sha256, &filename, origin_verified);
            if stored.is_ok() {
                // The bytes are in the store: the partial download's sidecar goes too.
                files.remove();
            }
            drop(lock);
            (pins, stored)
        })
        .await
        .map_err(io::Error::other)?;
        self.keep(pins);
        stored
    }

    async fn fetch_one(
        &self,
        item: &FetchItem,
        url: Url,
        events: &mpsc::Sender<FetchEvent>,
        cancel: &CancellationToken,
    ) -> Result<Fetched, FetchError> {
        let from_cache = |f: Fetched| async {
            let _ = events.send(FetchEvent::FromCache { file: f.filename.clone(), size: f.size }).await;
            Ok(f)
        };
        if let Some(hit) = self.cached(item).await {
            return from_cache(hit).await;
        }
        let dir = self.wheelhouse.partial_dir();
        std::fs::create_dir_all(&dir).map_err(|e| FetchError::write(&item.filename, &dir, &e))?;
        let files = PartFiles::new(&dir, &part_key(item, &url));
        // One writer per file across processes; a second one waits, then finds it stored.
        let lock = wait_for_lock(&files.lock, &item.filename, cancel).await?;
        if let Some(hit) = self.cached(item).await {
            return from_cache(hit).await;
        }
        let auth = self.net.credentials(&url);
        let clean_url = net::without_credentials(&url);
        let http = if net::is_loopback(&url) { &self.loopback } else { &self.remote };
        let mut downloaded = 0;
        for round in 0..2 {
            let t = transfer::Transfer {
                http,
                url: clean_url.clone(),
                auth: auth.clone(),
                redacted: net::redact(&url),
                file: item.filename.clone(),
                opts: &self.opts,
                events,
                cancel,
                files: files.clone(),
                hash_known: item.sha256.is_some(),
            };
            downloaded += t.run().await?;
            let part = files.part.clone();
            let want = item.clone();
            let checked = tokio::task::spawn_blocking(move || check_file(&part, &want))
                .await
                .map_err(|e| FetchError::Io { path: files.part.clone(), reason: e.to_string() })?;
            match checked {
                Ok((sha256, size, origin_verified)) => {
                    let entry = self
                        .store(lock, files.clone(), sha256.clone(), item, origin_verified)
                        .await
                        .map_err(|e| FetchError::write(&item.filename, self.wheelhouse.root(), &e))?;
                    let file = item.filename.clone();
                    let _ = events.send(FetchEvent::Verified { file: file.clone(), origin_verified }).await;
                    let _ = events.send(FetchEvent::Finished { file, size, downloaded }).await;
                    return Ok(Fetched {
                        filename: item.filename.clone(),
                        path: entry.path,
                        sha256,
                        size,
                        downloaded_bytes: downloaded,
                        origin_verified,
                    });
                }
                Err(e) => {
                    // Nothing unverified is kept, not even as a partial download.
                    files.remove();
                    if round == 1 {
                        return Err(e);
                    }
                    tracing::warn!("{}: {e}; downloading it once more", item.filename);
                    let why = "the downloaded file failed verification; downloading it again".to_string();
                    let _ = events.send(FetchEvent::Retrying { file: item.filename.clone(), attempt: 1, why }).await;
                }
            }
        }
        unreachable!("the loop returns in its second round")
    }
}

/// [`Fetcher::cached`]'s blocking half: the lookup, the pin and the touch.
fn cached_in(wheelhouse: &Wheelhouse, item: &FetchItem) -> (Option<Fetched>, Pins) {
    let entry = match &item.sha256 {
        Some(h) => wheelhouse.lookup(h, &item.filename),
        None => wheelhouse.lookup_by_name(&item.filename),
    };
    let Some(entry) = entry.filter(|e| item.size.is_none_or(|s| s == e.size)) else { return (None, Pins::default()) };
    let pins = pin_logged(wheelhouse, &entry.sha256);
    // An eviction may have run between the lookup and the pin.
    if !entry.path.is_file() {
        return (None, pins);
    }
    let _ = wheelhouse.touch(&[(entry.sha256.clone(), entry.filename.clone())]);
    let hit = Fetched {
        filename: item.filename.clone(),
        path: entry.path,
        sha256: entry.sha256,
        size: entry.size,
        downloaded_bytes: 0,
        origin_verified: entry.origin_verified,
    };
    (Some(hit), pins)
}

/// A pin on one stored file; a failure is logged (the file is still used, only not protected
/// from another torchup's eviction).
fn pin_logged(wheelhouse: &Wheelhouse, sha256: &str) -> Pins {
    wheelhouse.pin(&[sha256]).unwrap_or_else(|e| {
        tracing::warn!("cannot pin {sha256} in the wheelhouse: {e}");
        Pins::default()
    })
}

/// SHA-256 and size of a complete `.part`, checked against the item: its hash, else the
/// wheel's RECORD. Returns (sha256, size, origin_verified).
fn check_file(part: &std::path::Path, item: &FetchItem) -> Result<(String, u64, bool), FetchError> {
    let (sha256, size) =
        verify::sha256_file(part).map_err(|e| FetchError::Io { path: part.to_path_buf(), reason: e.to_string() })?;
    if let Some(expected) = item.size
        && expected != size
    {
        return Err(FetchError::SizeMismatch { file: item.filename.clone(), expected, actual: size });
    }
    match &item.sha256 {
        Some(expected) if expected.eq_ignore_ascii_case(&sha256) => Ok((sha256, size, true)),
        Some(expected) => Err(FetchError::HashMismatch {
            file: item.filename.clone(),
            expected: expected.to_ascii_lowercase(),
            actual: sha256,
        }),
        None if item.filename.ends_with(".whl") => match verify::check_wheel_record(part) {
            Ok(()) => Ok((sha256, size, false)),
            Err(reason) => Err(FetchError::RecordMismatch { file: item.filename.clone(), reason }),
        },
        None => Err(FetchError::RecordMismatch {
            file: item.filename.clone(),
            reason: "no hash was published and it is not a wheel, so nothing can check it".into(),
        }),
    }
}

/// The partial download's name: the expected hash, else a hash of the redacted URL.
fn part_key(item: &FetchItem, url: &Url) -> String {
    match &item.sha256 {
        Some(h) => h.to_ascii_lowercase(),
        None => {
            let digest = sha2::Sha256::digest(net::redact(url).as_bytes());
            format!("url-{}", &verify::hex(&digest)[..32])
        }
    }
}

/// Take the exclusive lock of one partial download, waiting (cancellably) while another
/// torchup process or task holds it.
async fn wait_for_lock(
    path: &std::path::Path,
    file: &str,
    cancel: &CancellationToken,
) -> Result<std::fs::File, FetchError> {
    let f = std::fs::OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(path)
        .map_err(|e| FetchError::write(file, path, &e))?;
    let mut told = false;
    loop {
        match fs4::FileExt::try_lock(&f) {
            Ok(()) => return Ok(f),
            Err(fs4::TryLockError::WouldBlock) => {
                if !told {
                    tracing::info!("{file}: another torchup is downloading it; waiting");
                    told = true;
                }
            }
            Err(fs4::TryLockError::Error(e)) => return Err(FetchError::write(file, path, &e)),
        }
        tokio::select! {
            _ = cancel.cancelled() => return Err(FetchError::Cancelled),
            _ = tokio::time::sleep(Duration::from_millis(100)) => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn check_file_rules() {
        let tmp = tempfile::tempdir().unwrap();
        let p = tmp.path().join("x.part");
        std::fs::write(&p, b"abc").unwrap();
        let sha = "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad";
        let item = |sha256: Option<&str>, size, name: &str| FetchItem {
            url: "https://h/x".into(),
            filename: name.into(),
            sha256: sha256.map(str::to_string),
            size,
        };
        assert_eq!(check_file(&p, &item(Some(sha), Some(3), "x.whl")).unwrap(), (sha.to_string(), 3, true));
        assert!(check_file(&p, &item(Some(&sha.to_uppercase()), None, "x.whl")).unwrap().2);
        assert!(matches!(
            check_file(&p, &item(Some(&"0".repeat(64)), None, "x.whl")),
            Err(FetchError::HashMismatch { .. })
        ));
        assert!(matches!(check_file(&p, &item(Some(sha), Some(4), "x.whl")), Err(FetchError::SizeMismatch { .. })));
        assert!(matches!(check_file(&p, &item(None, None, "x.whl")), Err(FetchError::RecordMismatch { .. })));
        assert!(matches!(check_file(&p, &item(None, None, "x.tar.gz")), Err(FetchError::RecordMismatch { .. })));
        let wheel = tmp.path().join("demo.part");
        verify::tests::make_wheel(&wheel, false);
        assert!(!check_file(&wheel, &item(None, None, "demo-1.0-py3-none-any.whl")).unwrap().2);
    }

    #[tokio::test]
    async fn bad_items_are_refused_before_any_transfer() {
        let tmp = tempfile::tempdir().unwrap();
        let f = Fetcher::new(Wheelhouse::new(tmp.path()), NetConfig::direct(), FetchOptions::default()).unwrap();
        let (tx, _rx) = mpsc::channel(16);
        for (url, name, sha, want) in [
            ("http://example.com/a.whl", "a.whl", None, "refusing plain http"),
            ("ftp://example.com/a.whl", "a.whl", None, "unsupported scheme"),
            ("not a url", "a.whl", None, "invalid download URL"),
            ("https://example.com/a.whl", "a.whl", Some("xyz"), "is not a SHA-256"),
            ("https://example.com/a.whl", "../a.whl", None, "unsafe file name"),
        ] {
            let item =
                FetchItem { url: url.into(), filename: name.into(), sha256: sha.map(str::to_string), size: None };
            let e = f.fetch_all(vec![item], tx.clone(), CancellationToken::new()).await.unwrap_err().to_string();
            assert!(e.contains(want), "{url}: {e}");
        }
    }

    #[test]
    fn keys() {
        let url = Url::parse("https://u:pw@h/a.whl").unwrap();
        let item =
            FetchItem { url: url.to_string(), filename: "a.whl".into(), sha256: Some("AB".repeat(32)), size: None };
        assert_eq!(part_key(&item, &url), "ab".repeat(32));
        let no_hash = FetchItem { sha256: None, ..item };
        let k = part_key(&no_hash, &url);
        assert!(k.starts_with("url-") && k.len() == 36);
        // the password is not part of the key
        assert_eq!(k, part_key(&no_hash, &Url::parse("https://u:other@h/a.whl").unwrap()));
    }
}
