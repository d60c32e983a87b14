//! On-disk cache of index answers, one JSON file per page URL, with a time to live.
//!
//! The cache holds *parsed* answers (a listing, a list of variants, or "not found"), so a
//! cache hit costs no HTML parsing. Writes are atomic (temp file + rename) so a crash or a
//! concurrent run never leaves half a file; anything unreadable counts as a miss.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use serde::{Deserialize, Serialize};

use super::available::VariantListing;

/// Bumped when the entry layout changes; other formats are misses.
pub const CACHE_FORMAT: u32 = 1;

/// What a page said.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "kebab-case")]
pub enum CachedAnswer {
    /// A project page's wheels.
    Listing { listing: VariantListing },
    /// A base page's variant directories.
    Variants { variants: Vec<String> },
    /// HTTP 404/410: the page does not exist on this index.
    NotFound,
    /// Every wheel a flat page links to (a per-variant wheel directory, `torch_stable.html`).
    Wheels { files: Vec<crate::compat::available::WheelFile> },
    /// The layout detected for an index (stored under `<base>#layout`).
    Layout { layout: crate::compat::index::IndexLayout },
}

/// One cache file.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CachedPage {
    pub format: u32,
    /// The page URL (password removed), checked on read so a key collision is a miss.
    pub url: String,
    /// Seconds since the Unix epoch.
    pub fetched_at: u64,
    pub answer: CachedAnswer,
}

/// A cache lookup: fresh entries are used online; stale ones only offline.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Lookup {
    Fresh(CachedPage),
    Stale(CachedPage),
    Miss,
}

/// The cache directory and its time to live.
#[derive(Debug, Clone)]
pub struct PageCache {
    dir: PathBuf,
    ttl: Duration,
}

impl PageCache {
    pub fn new(dir: impl Into<PathBuf>, ttl: Duration) -> PageCache {
        PageCache { dir: dir.into(), ttl }
    }

    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// The file for a URL: a readable prefix plus a stable 64-bit FNV-1a hash of the whole URL.
    pub fn path_for(&self, url: &str) -> PathBuf {
        let readable: String = url
            .split_once("://")
            .map_or(url, |(_, rest)| rest)
            .chars()
            .map(|c| if c.is_ascii_alphanumeric() || c == '.' { c } else { '_' })
            .take(80)
            .collect();
        self.dir.join(format!("{}-{:016x}.json", readable.trim_matches('_'), fnv1a(url.as_bytes())))
    }

    /// Look a URL up. Unreadable, corrupt, foreign-format or mismatched files are misses.
    pub fn lookup(&self, url: &str, now: SystemTime) -> Lookup {
        let path = self.path_for(url);
        let Ok(text) = std::fs::read_to_string(&path) else { return Lookup::Miss };
        let entry: CachedPage = match serde_json::from_str(&text) {
            Ok(e) => e,
            Err(e) => {
                tracing::debug!("ignoring corrupt cache file {}: {e}", path.display());
                return Lookup::Miss;
            }
        };
        if entry.format != CACHE_FORMAT || entry.url != url {
            return Lookup::Miss;
        }
        let now = unix_secs(now);
        // An entry from the future (clock changed) is not trusted as fresh.
        let fresh = entry.fetched_at <= now && Duration::from_secs(now - entry.fetched_at) < self.ttl;
        if fresh { Lookup::Fresh(entry) } else { Lookup::Stale(entry) }
    }

    /// Store an answer atomically: write a unique temp file in the same directory, then rename.
    pub fn store(&self, url: &str, answer: CachedAnswer, now: SystemTime) -> std::io::Result<()> {
        let entry = CachedPage { format: CACHE_FORMAT, url: url.to_string(), fetched_at: unix_secs(now), answer };
        self.write_entry(&entry)
    }

    /// [`PageCache::store`] on tokio's blocking pool: the write ends with an fsync, which must
    /// not stall the async workers that drive the other page fetches.
    pub async fn store_off_runtime(&self, url: &str, answer: CachedAnswer, now: SystemTime) -> std::io::Result<()> {
        let cache = self.clone();
        let url = url.to_string();
        tokio::task::spawn_blocking(move || cache.store(&url, answer, now))
            .await
            .unwrap_or_else(|join| Err(std::io::Error::other(format!("the cache writer stopped: {join}"))))
    }

    /// Write a complete entry (tests use it to plant old entries).
    pub fn write_entry(&self, entry: &CachedPage) -> std::io::Result<()> {
        std::fs::create_dir_all(&self.dir)?;
        let path = self.path_for(&entry.url);
        static COUNTER: AtomicU64 = AtomicU64::new(0);
        let tmp = self.dir.join(format!(
            ".tmp-{}-{}-{}",
            std::process::id(),
            COUNTER.fetch_add(1, Ordering::Relaxed),
            path.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default()
        ));
        let json = serde_json::to_vec(entry).map_err(std::io::Error::other)?;
        let result = (|| {
            let mut f = std::fs::File::create(&tmp)?;
            f.write_all(&json)?;
            f.sync_all()?;
            drop(f);
            std::fs::rename(&tmp, &path)
        })();
        if result.is_err() {
            let _ = std::fs::remove_file(&tmp);
        }
        result
    }
}

/// Seconds since the epoch; a clock before 1970 reads as 0.
pub fn unix_secs(t: SystemTime) -> u64 {
    t.duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs())
}

/// FNV-1a, 64 bit: stable across Rust versions (unlike `DefaultHasher`), so cache file
/// names survive upgrades.
fn fnv1a(bytes: &[u8]) -> u64 {
    let mut h: u64 = 0xcbf29ce484222325;
    for b in bytes {
        h ^= u64::from(*b);
        h = h.wrapping_mul(0x100000001b3);
    }
    h
}

#[cfg(test)]
mod tests {
    use super::*;

    fn listing() -> VariantListing {
        VariantListing { variant: "cu124".into(), package: "torch".into(), files: vec![] }
    }

    const URL: &str = "https://download.pytorch.org/whl/cu124/torch/";

    #[test]
    fn fresh_then_stale() {
        let dir = tempfile::tempdir().unwrap();
        let cache = PageCache::new(dir.path(), Duration::from_secs(3600));
        let t0 = UNIX_EPOCH + Duration::from_secs(1_800_000_000);
        assert_eq!(cache.lookup(URL, t0), Lookup::Miss);
        cache.store(URL, CachedAnswer::Listing { listing: listing() }, t0).unwrap();
        assert!(matches!(cache.lookup(URL, t0 + Duration::from_secs(3599)), Lookup::Fresh(_)));
        assert!(matches!(cache.lookup(URL, t0 + Duration::from_secs(3600)), Lookup::Stale(_)));
        // From the future: stale, not fresh.
        assert!(matches!(cache.lookup(URL, t0 - Duration::from_secs(10)), Lookup::Stale(_)));
        // Another URL is a miss; no temp files are left behind.
        assert_eq!(cache.lookup("https://download.pytorch.org/whl/cu124/torchvision/", t0), Lookup::Miss);
        let names: Vec<_> = std::fs::read_dir(dir.path()).unwrap().map(|e| e.unwrap().file_name()).collect();
        assert_eq!(names.len(), 1, "{names:?}");
        assert!(names[0].to_string_lossy().starts_with("download.pytorch.org_whl_cu124_torch-"));
    }

    #[test]
    fn corrupt_foreign_and_colliding_files_are_misses() {
        let dir = tempfile::tempdir().unwrap();
        let cache = PageCache::new(dir.path(), Duration::from_secs(3600));
        let now = SystemTime::now();
        let path = cache.path_for(URL);
        std::fs::write(&path, "{ half a file").unwrap();
        assert_eq!(cache.lookup(URL, now), Lookup::Miss);
        std::fs::write(&path, [0xff, 0xfe, 0x00]).unwrap();
        assert_eq!(cache.lookup(URL, now), Lookup::Miss);
        let other = CachedPage {
            format: CACHE_FORMAT,
            url: "https://elsewhere/".into(),
            fetched_at: 0,
            answer: CachedAnswer::NotFound,
        };
        std::fs::write(&path, serde_json::to_string(&other).unwrap()).unwrap();
        assert_eq!(cache.lookup(URL, now), Lookup::Miss);
        let future = CachedPage {
            format: CACHE_FORMAT + 1,
            url: URL.into(),
            fetched_at: unix_secs(now),
            answer: CachedAnswer::NotFound,
        };
        std::fs::write(&path, serde_json::to_string(&future).unwrap()).unwrap();
        assert_eq!(cache.lookup(URL, now), Lookup::Miss);
        // A good store replaces the bad file.
        cache.store(URL, CachedAnswer::NotFound, now).unwrap();
        assert!(matches!(cache.lookup(URL, now), Lookup::Fresh(CachedPage { answer: CachedAnswer::NotFound, .. })));
    }

    #[test]
    fn unwritable_dir_is_an_error_not_a_panic() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("not-a-dir");
        std::fs::write(&file, "x").unwrap();
        let cache = PageCache::new(&file, Duration::from_secs(1));
        assert!(cache.store(URL, CachedAnswer::NotFound, SystemTime::now()).is_err());
        assert_eq!(cache.lookup(URL, SystemTime::now()), Lookup::Miss);
    }

    #[test]
    fn file_names_are_stable() {
        let cache = PageCache::new("/c", Duration::ZERO);
        // Pinned: a changed hash would orphan every user's cache.
        assert_eq!(fnv1a(b""), 0xcbf29ce484222325);
        assert_eq!(fnv1a(b"a"), 0xaf63dc4c8601ec8c);
        let p = cache.path_for("http://127.0.0.1:8080/whl/cu124/torch/");
        assert!(p.to_string_lossy().contains("127.0.0.1_8080_whl_cu124_torch-"), "{}", p.display());
    }
}
