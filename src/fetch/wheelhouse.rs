//! The wheelhouse: a content-addressed store of verified downloads, shared by retries,
//! fallbacks, rollbacks and later runs.
//!
//! Layout under the root (by default `paths::cache_dir()/wheelhouse`):
//!
//! ```text
//! sha256/<hex>/<filename>   a verified file (only ever created by an atomic rename)
//! sha256/<hex>/.pin         shared-locked by every torchup process that uses the file
//! partial/<key>.part|.json|.lock   downloads in progress (see partial.rs)
//! index.json                last use time and origin check per file (rewritten atomically)
//! .index.lock               serialises index.json updates between processes
//! ```
//!
//! A size cap (default 12 GiB, about three CUDA builds) is enforced by evicting the files
//! used longest ago, never one pinned by a running torchup (its `.pin` lock is held).

use std::collections::BTreeMap;
use std::fs::File;
use std::io;
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use serde::{Deserialize, Serialize};

use super::Fetched;
use super::verify::is_sha256_hex;

/// Default size cap: about three CUDA builds of torch with their companions.
pub(crate) const DEFAULT_CAP: u64 = 12 * 1024 * 1024 * 1024;

/// `clean(Unused)` removes files not used for this long.
pub(crate) const UNUSED_AFTER: Duration = Duration::from_secs(30 * 24 * 3600);

/// `clean(Unused)` removes partial downloads untouched for this long.
pub(crate) const STALE_PARTIAL_AFTER: Duration = Duration::from_secs(7 * 24 * 3600);

/// One stored file.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Entry {
    pub filename: String,
    pub size: u64,
    pub sha256: String,
    /// Unix seconds of the last fetch that used it (its store time if never used since).
    pub last_used: u64,
    /// False when no index published a hash: the wheel passed its RECORD check only.
    pub origin_verified: bool,
    pub path: PathBuf,
}

/// What [`Wheelhouse::clean`] removes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Clean {
    /// Files not used for [`UNUSED_AFTER`] and partial downloads untouched for
    /// [`STALE_PARTIAL_AFTER`] (recent partials are kept: the next run resumes them).
    Unused,
    /// Everything no running torchup is using, partial downloads included.
    All,
}

/// What a clean did.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct CleanReport {
    pub removed: Vec<Entry>,
    /// Bytes freed (files and partial downloads).
    pub freed: u64,
    pub partials_removed: usize,
    /// Files kept because a running torchup uses them.
    pub in_use: usize,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
struct Index {
    /// "<hex>/<filename>" → record.
    entries: BTreeMap<String, IndexRecord>,
}

#[derive(Debug, Clone, Copy, Default, Serialize, Deserialize)]
struct IndexRecord {
    last_used: u64,
    origin_verified: bool,
}

/// Locks that keep files from eviction while this value lives (see [`Wheelhouse::pin`]).
#[derive(Debug, Default)]
pub struct Pins {
    files: Vec<File>,
}

impl Pins {
    pub fn len(&self) -> usize {
        self.files.len()
    }

    pub fn is_empty(&self) -> bool {
        self.files.is_empty()
    }

    pub fn extend(&mut self, other: Pins) {
        self.files.extend(other.files);
    }
}

/// The store. Cheap to clone; every operation works on the disk, so several processes can
/// share one root.
#[derive(Debug, Clone)]
pub struct Wheelhouse {
    root: PathBuf,
    cap: u64,
}

impl Wheelhouse {
    /// A store rooted at `root` (created on first write) with the default cap.
    pub fn new(root: impl Into<PathBuf>) -> Wheelhouse {
        Wheelhouse { root: root.into(), cap: DEFAULT_CAP }
    }

    /// `paths::cache_dir()/wheelhouse` (follows `TORCHUP_CACHE_DIR`).
    pub fn default_root() -> PathBuf {
        crate::paths::cache_dir().join("wheelhouse")
    }

    pub fn with_cap(mut self, cap: u64) -> Wheelhouse {
        self.cap = cap;
        self
    }

    pub fn root(&self) -> &Path {
        &self.root
    }

    pub fn cap(&self) -> u64 {
        self.cap
    }

    pub fn partial_dir(&self) -> PathBuf {
        self.root.join("partial")
    }

    fn store_dir(&self) -> PathBuf {
        self.root.join("sha256")
    }

    /// The stored file with this hash, under `filename` (hard-linked to that name if the same
    /// bytes were stored under another one).
    pub fn lookup(&self, sha256: &str, filename: &str) -> Option<Entry> {
        let hex = sha256.to_ascii_lowercase();
        if !is_sha256_hex(&hex) || !safe_filename(filename) {
            return None;
        }
        let dir = self.store_dir().join(&hex);
        let want = dir.join(filename);
        if !want.is_file() {
            let other = files_in(&dir).into_iter().next()?;
            let other_name = other.file_name()?.to_str()?.to_string();
            let verified = self.entry(&hex, &other_name)?.origin_verified;
            if std::fs::hard_link(&other, &want).is_err() {
                std::fs::copy(&other, &want).ok()?;
            }
            // The new name inherits how the bytes were checked.
            let _ = self.record(&[(hex.clone(), filename.to_string())], Some(verified));
        }
        self.entry(&hex, filename)
    }

    /// A stored file by name alone (sources without hashes). Wheel names are unique per
    /// project, version and build; the newest match wins.
    pub fn lookup_by_name(&self, filename: &str) -> Option<Entry> {
        self.list().into_iter().filter(|e| e.filename == filename).max_by_key(|e| e.last_used)
    }

    fn entry(&self, hex: &str, filename: &str) -> Option<Entry> {
        let path = self.store_dir().join(hex).join(filename);
        let meta = std::fs::metadata(&path).ok()?;
        let rec = self.read_index().entries.get(&format!("{hex}/{filename}")).copied();
        Some(Entry {
            filename: filename.to_string(),
            size: meta.len(),
            sha256: hex.to_string(),
            last_used: rec.map(|r| r.last_used).unwrap_or_else(|| unix(meta.modified().ok())),
            origin_verified: rec.is_none_or(|r| r.origin_verified),
            path,
        })
    }

    /// Move a verified file into the store (atomic rename on the same volume). If another
    /// process stored the same bytes meanwhile, its copy is kept and `file` removed.
    pub fn insert(&self, file: &Path, sha256: &str, filename: &str, origin_verified: bool) -> io::Result<Entry> {
        let hex = sha256.to_ascii_lowercase();
        if !is_sha256_hex(&hex) || !safe_filename(filename) {
            return Err(io::Error::new(io::ErrorKind::InvalidInput, format!("bad wheelhouse key {hex}/{filename}")));
        }
        let dir = self.store_dir().join(&hex);
        std::fs::create_dir_all(&dir)?;
        let dest = dir.join(filename);
        if dest.is_file() {
            let _ = std::fs::remove_file(file);
        } else if let Err(e) = std::fs::rename(file, &dest) {
            // Windows refuses to rename over a file another process just created.
            if !dest.is_file() {
                return Err(e);
            }
            let _ = std::fs::remove_file(file);
        }
        self.record(&[(hex.clone(), filename.to_string())], Some(origin_verified))?;
        self.entry(&hex, filename).ok_or_else(|| io::Error::new(io::ErrorKind::NotFound, "stored file vanished"))
    }

    /// Mark files as used now (a later eviction keeps them longest).
    pub fn touch(&self, files: &[(String, String)]) -> io::Result<()> {
        self.record(files, None)
    }

    fn record(&self, files: &[(String, String)], origin_verified: Option<bool>) -> io::Result<()> {
        let _lock = self.index_lock()?;
        let mut index = self.read_index();
        let now = unix(Some(SystemTime::now()));
        for (hex, name) in files {
            let rec = index
                .entries
                .entry(format!("{hex}/{name}"))
                .or_insert(IndexRecord { last_used: now, origin_verified: true });
            // Strictly increasing within a second keeps "most recent" well defined.
            rec.last_used = now;
            if let Some(v) = origin_verified {
                rec.origin_verified = v;
            }
        }
        self.write_index(&index)
    }

    /// Every stored file, oldest use first.
    pub fn list(&self) -> Vec<Entry> {
        let index = self.read_index();
        let mut out = Vec::new();
        for dir in subdirs(&self.store_dir()) {
            let Some(hex) = dir.file_name().and_then(|n| n.to_str()).map(str::to_string) else { continue };
            if !is_sha256_hex(&hex) {
                continue;
            }
            for path in files_in(&dir) {
                let Some(name) = path.file_name().and_then(|n| n.to_str()).map(str::to_string) else { continue };
                let Ok(meta) = std::fs::metadata(&path) else { continue };
                let rec = index.entries.get(&format!("{hex}/{name}")).copied();
                out.push(Entry {
                    last_used: rec.map(|r| r.last_used).unwrap_or_else(|| unix(meta.modified().ok())),
                    origin_verified: rec.is_none_or(|r| r.origin_verified),
                    filename: name,
                    size: meta.len(),
                    sha256: hex.clone(),
                    path,
                });
            }
        }
        out.sort_by(|a, b| (a.last_used, &a.filename).cmp(&(b.last_used, &b.filename)));
        out
    }

    /// Bytes of stored files (hard links to the same bytes counted once per name).
    pub fn total_size(&self) -> u64 {
        self.list().iter().map(|e| e.size).sum()
    }

    /// Bytes of partial downloads.
    pub fn partial_size(&self) -> u64 {
        files_in(&self.partial_dir())
            .iter()
            .filter(|p| p.extension().is_some_and(|e| e == "part"))
            .filter_map(|p| std::fs::metadata(p).ok())
            .map(|m| m.len())
            .sum()
    }

    /// Keep these files (by hash) from eviction and `clean` while the returned value lives,
    /// in this process and every other: a shared lock on `sha256/<hex>/.pin`.
    pub fn pin(&self, sha256s: &[&str]) -> io::Result<Pins> {
        let mut pins = Pins::default();
        for sha in sha256s {
            let hex = sha.to_ascii_lowercase();
            if !is_sha256_hex(&hex) {
                continue;
            }
            let dir = self.store_dir().join(&hex);
            std::fs::create_dir_all(&dir)?;
            let f = std::fs::OpenOptions::new().create(true).truncate(false).write(true).open(dir.join(".pin"))?;
            fs4::FileExt::lock_shared(&f)?;
            pins.files.push(f);
        }
        Ok(pins)
    }

    /// Evict the least recently used files until the store fits the cap; never those in
    /// `keep` (hashes) or pinned by a running torchup. Returns what was removed.
    pub fn enforce_cap(&self, keep: &[String]) -> io::Result<Vec<Entry>> {
        let entries = self.list();
        let mut total: u64 = entries.iter().map(|e| e.size).sum();
        let mut removed = Vec::new();
        for e in entries {
            if total <= self.cap {
                break;
            }
            if keep.iter().any(|k| k.eq_ignore_ascii_case(&e.sha256)) {
                continue;
            }
            if self.remove_unpinned(&e)? {
                total = total.saturating_sub(e.size);
                removed.push(e);
            }
        }
        Ok(removed)
    }

    /// Remove stored files (and partial downloads) as `what` says; never one in use.
    pub fn clean(&self, what: Clean) -> io::Result<CleanReport> {
        let now = unix(Some(SystemTime::now()));
        let mut report = CleanReport::default();
        for e in self.list() {
            let old = now.saturating_sub(e.last_used) >= UNUSED_AFTER.as_secs();
            if what == Clean::Unused && !old {
                continue;
            }
            if self.remove_unpinned(&e)? {
                report.freed += e.size;
                report.removed.push(e);
            } else {
                report.in_use += 1;
            }
        }
        for part in files_in(&self.partial_dir()).into_iter().filter(|p| p.extension().is_some_and(|e| e == "part")) {
            let meta = std::fs::metadata(&part).ok();
            let age = meta.as_ref().and_then(|m| m.modified().ok()).and_then(|t| t.elapsed().ok()).unwrap_or_default();
            if what == Clean::Unused && age < STALE_PARTIAL_AFTER {
                continue;
            }
            // A running download holds the lock next to its .part.
            let lock_path = part.with_extension("lock");
            let Ok(lock) = std::fs::OpenOptions::new().create(true).truncate(false).write(true).open(&lock_path) else {
                continue;
            };
            if fs4::FileExt::try_lock(&lock).is_err() {
                report.in_use += 1;
                continue;
            }
            report.freed += meta.map(|m| m.len()).unwrap_or(0);
            std::fs::remove_file(&part)?;
            let _ = std::fs::remove_file(part.with_extension("json"));
            drop(lock);
            let _ = std::fs::remove_file(&lock_path);
            report.partials_removed += 1;
        }
        Ok(report)
    }

    /// Remove one stored file unless a running torchup pins it. Ok(false) when in use.
    fn remove_unpinned(&self, e: &Entry) -> io::Result<bool> {
        let dir = self.store_dir().join(&e.sha256);
        let pin = std::fs::OpenOptions::new().create(true).truncate(false).write(true).open(dir.join(".pin"))?;
        if fs4::FileExt::try_lock(&pin).is_err() {
            return Ok(false);
        }
        match std::fs::remove_file(&e.path) {
            Ok(()) => {}
            Err(err) if err.kind() == io::ErrorKind::NotFound => {}
            Err(err) => return Err(err),
        }
        drop(pin);
        if files_in(&dir).is_empty() {
            let _ = std::fs::remove_file(dir.join(".pin"));
            let _ = std::fs::remove_dir(&dir);
        }
        let _lock = self.index_lock()?;
        let mut index = self.read_index();
        if index.entries.remove(&format!("{}/{}", e.sha256, e.filename)).is_some() {
            self.write_index(&index)?;
        }
        Ok(true)
    }

    fn index_lock(&self) -> io::Result<File> {
        std::fs::create_dir_all(&self.root)?;
        let f =
            std::fs::OpenOptions::new().create(true).truncate(false).write(true).open(self.root.join(".index.lock"))?;
        fs4::FileExt::lock(&f)?;
        Ok(f)
    }

    fn read_index(&self) -> Index {
        std::fs::read_to_string(self.root.join("index.json"))
            .ok()
            .and_then(|t| serde_json::from_str(&t).ok())
            .unwrap_or_default()
    }

    fn write_index(&self, index: &Index) -> io::Result<()> {
        let path = self.root.join("index.json");
        let tmp = self.root.join(format!("index.json.{}.tmp", std::process::id()));
        std::fs::write(&tmp, serde_json::to_vec_pretty(index).map_err(io::Error::other)?)?;
        std::fs::rename(&tmp, &path)
    }
}

/// A flat directory of the fetched files named by file name — hard links into the store
/// (a copy where the file system cannot link) — for `pip install --no-index --find-links`.
pub fn link_dir(fetched: &[Fetched], dest: &Path) -> io::Result<()> {
    std::fs::create_dir_all(dest)?;
    for f in fetched {
        if !safe_filename(&f.filename) {
            return Err(io::Error::new(io::ErrorKind::InvalidInput, format!("unsafe file name `{}`", f.filename)));
        }
        let target = dest.join(&f.filename);
        match std::fs::remove_file(&target) {
            Ok(()) => {}
            Err(e) if e.kind() == io::ErrorKind::NotFound => {}
            Err(e) => return Err(e),
        }
        if std::fs::hard_link(&f.path, &target).is_err() {
            std::fs::copy(&f.path, &target)?;
        }
    }
    Ok(())
}

/// A single path component that cannot escape its directory.
pub(crate) fn safe_filename(name: &str) -> bool {
    !name.is_empty() && !name.starts_with('.') && !name.contains(['/', '\\', ':', '\0']) && name != ".."
}

fn unix(t: Option<SystemTime>) -> u64 {
    t.and_then(|t| t.duration_since(UNIX_EPOCH).ok()).map(|d| d.as_secs()).unwrap_or(0)
}

fn subdirs(dir: &Path) -> Vec<PathBuf> {
    std::fs::read_dir(dir).into_iter().flatten().flatten().map(|e| e.path()).filter(|p| p.is_dir()).collect()
}

/// Regular files, dot files (`.pin`) excepted.
fn files_in(dir: &Path) -> Vec<PathBuf> {
    let mut v: Vec<PathBuf> = std::fs::read_dir(dir)
        .into_iter()
        .flatten()
        .flatten()
        .filter(|e| !e.file_name().to_string_lossy().starts_with('.'))
        .map(|e| e.path())
        .filter(|p| p.is_file())
        .collect();
    v.sort();
    v
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fetch::verify::sha256_file;

    fn add(wh: &Wheelhouse, tmp: &Path, name: &str, bytes: &[u8]) -> Entry {
        let p = tmp.join(format!("{name}.incoming"));
        std::fs::write(&p, bytes).unwrap();
        let (sha, _) = sha256_file(&p).unwrap();
        wh.insert(&p, &sha, name, true).unwrap()
    }

    /// Make `e` look used `days` ago.
    fn age(wh: &Wheelhouse, e: &Entry, days: u64) {
        let mut index = wh.read_index();
        let now = unix(Some(SystemTime::now()));
        index.entries.get_mut(&format!("{}/{}", e.sha256, e.filename)).unwrap().last_used = now - days * 86400;
        wh.write_index(&index).unwrap();
    }

    #[test]
    fn insert_lookup_list() {
        let tmp = tempfile::tempdir().unwrap();
        let wh = Wheelhouse::new(tmp.path().join("wh"));
        let e = add(&wh, tmp.path(), "a-1.0-py3-none-any.whl", b"aaaa");
        assert_eq!(e.path, wh.root().join("sha256").join(&e.sha256).join("a-1.0-py3-none-any.whl"));
        assert_eq!(wh.lookup(&e.sha256, "a-1.0-py3-none-any.whl").unwrap().size, 4);
        assert_eq!(wh.lookup(&e.sha256.to_uppercase(), "a-1.0-py3-none-any.whl").unwrap().sha256, e.sha256);
        // same bytes asked for under another name: linked in place
        let other = wh.lookup(&e.sha256, "a_other.whl").unwrap();
        assert_eq!(std::fs::read(&other.path).unwrap(), b"aaaa");
        // an unverified origin stays unverified under another name
        let p = tmp.path().join("u.incoming");
        std::fs::write(&p, b"uuuu").unwrap();
        let (sha, _) = sha256_file(&p).unwrap();
        wh.insert(&p, &sha, "u.whl", false).unwrap();
        assert!(!wh.lookup(&sha, "u2.whl").unwrap().origin_verified);
        assert!(wh.lookup(&"0".repeat(64), "a-1.0-py3-none-any.whl").is_none());
        assert!(wh.lookup(&e.sha256, "../escape").is_none());
        assert_eq!(wh.lookup_by_name("a-1.0-py3-none-any.whl").unwrap().sha256, e.sha256);
        assert_eq!(wh.list().len(), 4);
        // a second insert of the same bytes keeps the stored file
        let again = add(&wh, tmp.path(), "a-1.0-py3-none-any.whl", b"aaaa");
        assert_eq!(again.path, e.path);
        assert!(!tmp.path().join("a-1.0-py3-none-any.whl.incoming").exists());
    }

    #[test]
    fn cap_evicts_least_recently_used_but_not_pinned_or_kept() {
        let tmp = tempfile::tempdir().unwrap();
        let wh = Wheelhouse::new(tmp.path().join("wh")).with_cap(250);
        let a = add(&wh, tmp.path(), "a.whl", &[1; 100]);
        let b = add(&wh, tmp.path(), "b.whl", &[2; 100]);
        let c = add(&wh, tmp.path(), "c.whl", &[3; 100]);
        age(&wh, &a, 3);
        age(&wh, &b, 2);
        age(&wh, &c, 1);
        let pins = wh.pin(&[&a.sha256]).unwrap();
        let removed = wh.enforce_cap(&[]).unwrap();
        assert_eq!(removed.iter().map(|e| e.filename.as_str()).collect::<Vec<_>>(), ["b.whl"]);
        drop(pins);
        let d = add(&wh, tmp.path(), "d.whl", &[4; 100]);
        let removed = wh.enforce_cap(std::slice::from_ref(&a.sha256)).unwrap();
        assert_eq!(removed.iter().map(|e| e.filename.as_str()).collect::<Vec<_>>(), ["c.whl"]);
        let left: Vec<String> = wh.list().into_iter().map(|e| e.filename).collect();
        assert_eq!(left, ["a.whl", "d.whl"]);
        assert_eq!(wh.total_size(), 200);
        assert!(wh.lookup(&d.sha256, "d.whl").is_some());
    }

    #[test]
    fn clean_unused_and_all() {
        let tmp = tempfile::tempdir().unwrap();
        let wh = Wheelhouse::new(tmp.path().join("wh"));
        let old = add(&wh, tmp.path(), "old.whl", &[1; 10]);
        let new = add(&wh, tmp.path(), "new.whl", &[2; 10]);
        let busy = add(&wh, tmp.path(), "busy.whl", &[3; 10]);
        age(&wh, &old, 40);
        age(&wh, &busy, 40);
        std::fs::create_dir_all(wh.partial_dir()).unwrap();
        std::fs::write(wh.partial_dir().join("k.part"), [0u8; 7]).unwrap();
        let _pin = wh.pin(&[&busy.sha256]).unwrap();
        let r = wh.clean(Clean::Unused).unwrap();
        assert_eq!(r.removed.iter().map(|e| e.filename.as_str()).collect::<Vec<_>>(), ["old.whl"]);
        assert_eq!((r.freed, r.in_use, r.partials_removed), (10, 1, 0));
        assert_eq!(wh.partial_size(), 7);
        let r = wh.clean(Clean::All).unwrap();
        assert_eq!(r.removed.iter().map(|e| e.filename.as_str()).collect::<Vec<_>>(), ["new.whl"]);
        assert_eq!((r.freed, r.in_use, r.partials_removed), (17, 1, 1));
        assert!(wh.lookup(&new.sha256, "new.whl").is_none());
        assert!(wh.lookup(&busy.sha256, "busy.whl").is_some());
    }

    #[test]
    fn flat_link_directory() {
        let tmp = tempfile::tempdir().unwrap();
        let wh = Wheelhouse::new(tmp.path().join("wh"));
        let e = add(&wh, tmp.path(), "a-1.0-py3-none-any.whl", b"zz");
        let f = Fetched {
            filename: e.filename.clone(),
            path: e.path.clone(),
            sha256: e.sha256.clone(),
            size: 2,
            downloaded_bytes: 0,
            origin_verified: true,
        };
        let dest = tmp.path().join("links");
        link_dir(std::slice::from_ref(&f), &dest).unwrap();
        link_dir(std::slice::from_ref(&f), &dest).unwrap(); // again: replaced, no error
        assert_eq!(std::fs::read(dest.join("a-1.0-py3-none-any.whl")).unwrap(), b"zz");
        let bad = Fetched { filename: "../x.whl".into(), ..f };
        assert!(link_dir(&[bad], &dest).is_err());
    }

    #[test]
    fn filenames() {
        assert!(safe_filename("torch-2.5.1+cu124-cp311-cp311-linux_x86_64.whl"));
        for bad in ["", ".", "..", ".pin", "a/b", "a\\b", "c:x"] {
            assert!(!safe_filename(bad), "{bad}");
        }
    }
}
