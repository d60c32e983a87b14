//! The stash: the installed torch family moved aside by renaming, so a rollback needs no
//! network and puts back the very same bytes.
//!
//! This is pip's own uninstall technique (`StashedUninstallPathSet`): every file a
//! distribution's `RECORD` lists — its `.dist-info`, and entry points outside
//! site-packages (`../../../bin/torchrun`, `..\..\Scripts\torchrun.exe`) — is *renamed* into
//! a directory next to site-packages. Like pip's `compress_for_rename`, a directory the
//! distribution owns entirely (`torch/`) moves as one rename, stray `__pycache__` included,
//! so afterwards `import torch` fails with "No module named 'torch'" instead of importing an
//! empty namespace package.
//!
//! The stash lives at `<site-packages>/../.torchup-stash-<run id>` ([`stash_dir_for`]): the
//! same volume as site-packages (a rename is instant, atomic per entry and needs no extra
//! space) and outside `sys.path`. A rename that crosses volumes anyway (EXDEV: a symlinked
//! `bin/`) falls back to copy + remove.
//!
//! Taking is two steps so a journal can hold the full plan before the first rename:
//! [`Stash::plan`] reads the RECORDs and decides every move without changing anything;
//! [`Stash::execute`] performs it. [`Stash::take`] does both. Restoring is idempotent (an
//! entry already back is skipped), so a run killed mid-take or mid-restore is finished by
//! a later process from the [`StashManifest`] alone ([`Stash::from_manifest`]).
//!
//! Everything here is blocking file-system work: async callers use the `*_async`
//! wrappers (which run on tokio's blocking pool) or `spawn_blocking`.

use std::collections::BTreeSet;
use std::path::{Component, Path, PathBuf};

use serde::{Deserialize, Serialize};
use thiserror::Error;

use crate::compat::wheel_name::normalize_name;

/// The manifest's format version.
pub const MANIFEST_SCHEMA: u32 = 1;

/// The manifest's file name inside the stash directory (a second copy next to the journal's).
pub const MANIFEST_FILE: &str = "torchup-stash.json";

/// Where the stash of run `run_id` lives for `site_packages`: a hidden sibling directory,
/// same volume, not importable.
pub fn stash_dir_for(site_packages: &Path, run_id: &str) -> PathBuf {
    let parent = site_packages.parent().unwrap_or(site_packages);
    parent.join(format!(".torchup-stash-{run_id}"))
}

/// Why the family could not be stashed or restored.
#[derive(Debug, Error)]
pub enum StashError {
    #[error("{dist} is not installed in {site_packages} (no {dist}-*.dist-info)")]
    NotInstalled { dist: String, site_packages: PathBuf },
    #[error(
        "{dist} was installed by conda (no RECORD in {dist_info}); torchup cannot move it aside file by file: use conda's revision history (`conda list --revisions`)"
    )]
    CondaManaged { dist: String, dist_info: PathBuf },
    #[error(
        "{dist} has no RECORD file ({dist_info}), so torchup cannot tell which files are its own; reinstall it with pip first (`pip install --force-reinstall --no-deps {dist}`)"
    )]
    NoRecord { dist: String, dist_info: PathBuf },
    #[error("{dist} is installed twice ({}); remove the stale one with pip first", found.iter().map(|p| p.display().to_string()).collect::<Vec<_>>().join(", "))]
    Ambiguous { dist: String, found: Vec<PathBuf> },
    #[error("cannot read {path}: {source}")]
    Read {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("{record}: line {line}: {reason}")]
    BadRecord { record: PathBuf, line: u64, reason: String },
    #[error("the stash directory {0} already exists; another run may own it")]
    StashExists(PathBuf),
    #[error("cannot move {from} to {to}: {source}")]
    Move {
        from: PathBuf,
        to: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("cannot write the stash manifest {path}: {source}")]
    Manifest {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("the blocking file task failed: {0}")]
    Task(String),
    /// A move failed and putting the earlier moves back failed too: part of the family is
    /// still in the stash (its manifest tells `restore` where).
    #[error("{source}; and some moved files could not be put back (they are in {})", stash_dir.display())]
    PartlyUndone {
        #[source]
        source: Box<StashError>,
        stash_dir: PathBuf,
    },
}

/// One file a RECORD lists, with its expected hash.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RecordedFile {
    /// Absolute, lexically normalized (`..` resolved) path.
    pub path: PathBuf,
    /// RECORD's hash field, e.g. `sha256=<urlsafe base64>`; None for RECORD itself and
    /// other unhashed entries.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub hash: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub size: Option<u64>,
}

/// One distribution in the stash.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StashedDist {
    /// The name as asked for ("torch").
    pub name: String,
    /// The version from the dist-info directory name ("2.5.1+cpu").
    pub version: String,
    /// The original dist-info directory.
    pub dist_info: PathBuf,
    /// Every file its RECORD lists.
    pub files: Vec<RecordedFile>,
}

/// One rename: a file or a whole directory.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StashMove {
    pub original: PathBuf,
    pub stashed: PathBuf,
    pub is_dir: bool,
}

/// Everything a later process needs to put the family back (serialized into the journal).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StashManifest {
    pub schema: u32,
    pub site_packages: PathBuf,
    pub stash_dir: PathBuf,
    pub dists: Vec<StashedDist>,
    /// Renames, in the order they are made (restored in reverse).
    pub moves: Vec<StashMove>,
    /// RECORD entries already missing before the take (not restored, not verified).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub missing: Vec<PathBuf>,
}

impl StashManifest {
    /// "torch 2.5.1+cpu, torchvision 0.20.1+cpu" for messages.
    pub fn describe(&self) -> String {
        self.dists.iter().map(|d| format!("{} {}", d.name, d.version)).collect::<Vec<_>>().join(", ")
    }
}

/// A restored file whose bytes are not what its RECORD says.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Mismatch {
    pub path: PathBuf,
    pub expected: String,
    /// The hash found, or None when the file is missing or unreadable.
    pub found: Option<String>,
}

/// What [`Stash::restore`] did.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct RestoreReport {
    /// Renames made back (entries already in place are not counted).
    pub moved_back: usize,
    /// Files checked against their RECORD hash.
    pub verified: usize,
    /// Files that do not match their RECORD (empty when the restore is byte for byte).
    pub mismatches: Vec<Mismatch>,
    /// Other dist-info directories of the same names still present (the new build was not
    /// uninstalled first): its other files may still be there.
    pub leftovers: Vec<PathBuf>,
    /// The stash directory could not be removed (left behind, harmless).
    pub stash_left: Option<PathBuf>,
}

impl RestoreReport {
    /// Every recorded file is back with its recorded bytes.
    pub fn is_exact(&self) -> bool {
        self.mismatches.is_empty()
    }
}

/// A taken stash: the family is out of site-packages until [`Stash::restore`] or
/// [`Stash::discard`].
#[derive(Debug)]
pub struct Stash {
    manifest: StashManifest,
}

impl Stash {
    /// Plan and perform the take: see [`Stash::plan`] and [`Stash::execute`].
    pub fn take(site_packages: &Path, dists: &[&str], stash_dir: &Path) -> Result<Stash, StashError> {
        Self::execute(Self::plan(site_packages, dists, stash_dir)?)
    }

    /// Read each distribution's RECORD and decide every rename, changing nothing. The
    /// caller may journal the manifest before [`Stash::execute`].
    pub fn plan(site_packages: &Path, dists: &[&str], stash_dir: &Path) -> Result<StashManifest, StashError> {
        let mut stashed = Vec::new();
        for name in dists {
            stashed.push(read_dist(site_packages, name)?);
        }
        let mut files: BTreeSet<PathBuf> = BTreeSet::new();
        let mut missing = Vec::new();
        for d in &stashed {
            for f in &d.files {
                if f.path.symlink_metadata().is_ok() {
                    files.insert(f.path.clone());
                } else {
                    missing.push(f.path.clone());
                }
            }
        }
        let entries = compress_for_rename(site_packages, &files);
        let mut outside_parents: Vec<PathBuf> = Vec::new();
        let moves = entries
            .into_iter()
            .map(|(original, is_dir)| {
                let stashed = stashed_path(site_packages, stash_dir, &original, &mut outside_parents);
                StashMove { original, stashed, is_dir }
            })
            .collect();
        Ok(StashManifest {
            schema: MANIFEST_SCHEMA,
            site_packages: site_packages.to_path_buf(),
            stash_dir: stash_dir.to_path_buf(),
            dists: stashed,
            moves,
            missing,
        })
    }

    /// Perform a planned take. On any failure everything moved so far is put back and the
    /// stash directory removed before the error is returned.
    pub fn execute(manifest: StashManifest) -> Result<Stash, StashError> {
        let dir = &manifest.stash_dir;
        if dir.exists() {
            return Err(StashError::StashExists(dir.clone()));
        }
        std::fs::create_dir_all(dir).map_err(|source| StashError::Manifest { path: dir.clone(), source })?;
        let manifest_path = dir.join(MANIFEST_FILE);
        if let Err(source) = write_atomic(&manifest_path, &manifest) {
            let _ = std::fs::remove_dir_all(dir);
            return Err(StashError::Manifest { path: manifest_path, source });
        }
        let mut done: Vec<&StashMove> = Vec::new();
        for m in &manifest.moves {
            if let Err(e) = move_entry(&m.original, &m.stashed) {
                let mut undone = true;
                for back in done.iter().rev() {
                    if let Err(err) = move_entry(&back.stashed, &back.original) {
                        undone = false;
                        tracing::error!(from = %back.stashed.display(), to = %back.original.display(), error = %err, "cannot put a stashed file back");
                    }
                }
                // Keep the stash if something could not be put back: it still holds files,
                // and the caller must treat the environment as changed.
                if stash_is_empty(dir) {
                    let _ = std::fs::remove_dir_all(dir);
                }
                if !undone {
                    return Err(StashError::PartlyUndone { source: Box::new(e), stash_dir: dir.clone() });
                }
                return Err(e);
            }
            done.push(m);
        }
        tracing::info!(stash = %dir.display(), moves = manifest.moves.len(), dists = %manifest.describe(), "family stashed");
        Ok(Stash { manifest })
    }

    /// A stash taken by an earlier process, from its journaled manifest.
    pub fn from_manifest(manifest: StashManifest) -> Stash {
        Stash { manifest }
    }

    /// A stash from the manifest copy inside its directory.
    pub fn open(stash_dir: &Path) -> Result<Stash, StashError> {
        let path = stash_dir.join(MANIFEST_FILE);
        let bytes = std::fs::read(&path).map_err(|source| StashError::Read { path: path.clone(), source })?;
        let manifest = serde_json::from_slice(&bytes).map_err(|e| StashError::BadRecord {
            record: path,
            line: e.line() as u64,
            reason: e.to_string(),
        })?;
        Ok(Stash { manifest })
    }

    pub fn manifest(&self) -> &StashManifest {
        &self.manifest
    }

    /// Put every stashed entry back (replacing whatever now occupies its place), remove
    /// the stash, then check every recorded file against its RECORD sha256.
    pub fn restore(self) -> Result<RestoreReport, StashError> {
        let m = &self.manifest;
        let mut report = RestoreReport::default();
        for mv in m.moves.iter().rev() {
            if mv.stashed.symlink_metadata().is_err() {
                // Already back (an earlier restore was interrupted) or never moved.
                continue;
            }
            remove_any(&mv.original).map_err(|source| StashError::Move {
                from: mv.stashed.clone(),
                to: mv.original.clone(),
                source,
            })?;
            move_entry(&mv.stashed, &mv.original)?;
            report.moved_back += 1;
        }
        if stash_is_empty(&m.stash_dir) {
            if let Err(e) = std::fs::remove_dir_all(&m.stash_dir)
                && m.stash_dir.exists()
            {
                tracing::warn!(stash = %m.stash_dir.display(), error = %e, "cannot remove the empty stash");
                report.stash_left = Some(m.stash_dir.clone());
            }
        } else if m.stash_dir.exists() {
            report.stash_left = Some(m.stash_dir.clone());
        }
        let missing: BTreeSet<&PathBuf> = m.missing.iter().collect();
        for d in &m.dists {
            for f in &d.files {
                if missing.contains(&f.path) {
                    continue;
                }
                report.verified += 1;
                if let Some(mm) = check_file(f) {
                    report.mismatches.push(mm);
                }
            }
            for other in find_dist_infos(&m.site_packages, &d.name).unwrap_or_default() {
                if other != d.dist_info {
                    report.leftovers.push(other);
                }
            }
        }
        tracing::info!(
            moved_back = report.moved_back,
            verified = report.verified,
            mismatches = report.mismatches.len(),
            "stash restored"
        );
        Ok(report)
    }

    /// Forget the previous build: delete the stash (after the new build passed).
    pub fn discard(self) -> Result<(), StashError> {
        let dir = &self.manifest.stash_dir;
        match std::fs::remove_dir_all(dir) {
            Ok(()) => Ok(()),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
            Err(source) => Err(StashError::Move { from: dir.clone(), to: PathBuf::from("(deleted)"), source }),
        }
    }

    /// [`Stash::take`] on tokio's blocking pool.
    pub async fn take_async(
        site_packages: PathBuf,
        dists: Vec<String>,
        stash_dir: PathBuf,
    ) -> Result<Stash, StashError> {
        blocking(move || {
            let names: Vec<&str> = dists.iter().map(String::as_str).collect();
            Stash::take(&site_packages, &names, &stash_dir)
        })
        .await
    }

    /// [`Stash::execute`] on tokio's blocking pool.
    pub async fn execute_async(manifest: StashManifest) -> Result<Stash, StashError> {
        blocking(move || Stash::execute(manifest)).await
    }

    /// [`Stash::restore`] on tokio's blocking pool.
    pub async fn restore_async(self) -> Result<RestoreReport, StashError> {
        blocking(move || self.restore()).await
    }

    /// [`Stash::discard`] on tokio's blocking pool.
    pub async fn discard_async(self) -> Result<(), StashError> {
        blocking(move || self.discard()).await
    }
}

async fn blocking<T: Send + 'static>(
    f: impl FnOnce() -> Result<T, StashError> + Send + 'static,
) -> Result<T, StashError> {
    tokio::task::spawn_blocking(f).await.map_err(|e| StashError::Task(e.to_string()))?
}

/// The `<name>-<version>.dist-info` directories of `dist` in `site_packages`.
fn find_dist_infos(site_packages: &Path, dist: &str) -> Result<Vec<PathBuf>, StashError> {
    let want = normalize_name(dist);
    let rd = std::fs::read_dir(site_packages)
        .map_err(|source| StashError::Read { path: site_packages.to_path_buf(), source })?;
    let mut found = Vec::new();
    for entry in rd.flatten() {
        let name = entry.file_name().to_string_lossy().into_owned();
        let Some(stem) = name.strip_suffix(".dist-info") else { continue };
        // Dist-info names escape `-` in the project name as `_`, so the first `-` ends it.
        let Some((project, _version)) = stem.split_once('-') else { continue };
        if normalize_name(project) == want && entry.path().is_dir() {
            found.push(entry.path());
        }
    }
    found.sort();
    Ok(found)
}

/// Whether conda's metadata in the environment around `site_packages` lists `dist`.
fn conda_owns(site_packages: &Path, dist: &str) -> bool {
    let want = normalize_name(dist);
    let aliases = if want == "torch" { vec![want.clone(), "pytorch".to_string()] } else { vec![want] };
    site_packages.ancestors().take(4).any(|dir| {
        let Ok(rd) = std::fs::read_dir(dir.join("conda-meta")) else { return false };
        rd.flatten().any(|e| {
            let n = e.file_name().to_string_lossy().to_lowercase();
            aliases.iter().any(|a| n.starts_with(&format!("{a}-")) && n.ends_with(".json"))
        })
    })
}

fn read_dist(site_packages: &Path, name: &str) -> Result<StashedDist, StashError> {
    let found = find_dist_infos(site_packages, name)?;
    let dist_info = match found.len() {
        0 if conda_owns(site_packages, name) => {
            return Err(StashError::CondaManaged { dist: name.into(), dist_info: site_packages.join("conda-meta") });
        }
        0 => return Err(StashError::NotInstalled { dist: name.into(), site_packages: site_packages.to_path_buf() }),
        1 => found.into_iter().next().unwrap_or_default(),
        _ => return Err(StashError::Ambiguous { dist: name.into(), found }),
    };
    let version = dist_info
        .file_name()
        .and_then(|n| n.to_str())
        .and_then(|n| n.strip_suffix(".dist-info"))
        .and_then(|n| n.split_once('-'))
        .map(|(_, v)| v.to_string())
        .unwrap_or_default();
    let record = dist_info.join("RECORD");
    if !record.is_file() {
        let installer = std::fs::read_to_string(dist_info.join("INSTALLER")).unwrap_or_default();
        return Err(if installer.trim() == "conda" || conda_owns(site_packages, name) {
            StashError::CondaManaged { dist: name.into(), dist_info }
        } else {
            StashError::NoRecord { dist: name.into(), dist_info }
        });
    }
    let files = parse_record(site_packages, &record)?;
    Ok(StashedDist { name: name.to_string(), version, dist_info, files })
}

/// Parse a RECORD (CSV: path, hash, size; paths relative to site-packages, `/`-separated,
/// possibly with `..`).
fn parse_record(site_packages: &Path, record: &Path) -> Result<Vec<RecordedFile>, StashError> {
    let bytes = std::fs::read(record).map_err(|source| StashError::Read { path: record.to_path_buf(), source })?;
    let mut reader = csv::ReaderBuilder::new().has_headers(false).flexible(true).from_reader(bytes.as_slice());
    let mut files = Vec::new();
    let mut seen = BTreeSet::new();
    for (i, row) in reader.records().enumerate() {
        let row = row.map_err(|e| StashError::BadRecord {
            record: record.to_path_buf(),
            line: i as u64 + 1,
            reason: e.to_string(),
        })?;
        let Some(rel) = row.get(0).filter(|p| !p.trim().is_empty()) else { continue };
        let path = normalize_lexically(&site_packages.join(rel));
        if !path.starts_with(lexical_root(site_packages)) {
            return Err(StashError::BadRecord {
                record: record.to_path_buf(),
                line: i as u64 + 1,
                reason: format!("{rel} points outside the environment"),
            });
        }
        if !seen.insert(path.clone()) {
            continue;
        }
        let hash = row.get(1).map(str::trim).filter(|h| !h.is_empty()).map(String::from);
        let size = row.get(2).and_then(|s| s.trim().parse().ok());
        files.push(RecordedFile { path, hash, size });
    }
    Ok(files)
}

/// The environment's root as far as RECORD paths may reach: three levels above
/// site-packages (`<prefix>/lib/pythonX.Y/site-packages`; on Windows `<prefix>\Lib\site-packages`).
fn lexical_root(site_packages: &Path) -> PathBuf {
    let sp = normalize_lexically(site_packages);
    sp.ancestors().nth(3).or_else(|| sp.ancestors().last()).map(Path::to_path_buf).unwrap_or(sp)
}

/// Resolve `.` and `..` without touching the file system (entries may be symlinks).
fn normalize_lexically(p: &Path) -> PathBuf {
    let mut out = PathBuf::new();
    for c in p.components() {
        match c {
            Component::CurDir => {}
            Component::ParentDir => {
                out.pop();
            }
            other => out.push(other.as_os_str()),
        }
    }
    out
}

/// pip's `compress_for_rename`: the smallest set of renames that moves `files`. A directory
/// inside site-packages whose every file is in `files` (byte-code caches count as owned)
/// moves whole. Never site-packages itself or anything outside it.
fn compress_for_rename(site_packages: &Path, files: &BTreeSet<PathBuf>) -> Vec<(PathBuf, bool)> {
    let sp = normalize_lexically(site_packages);
    // Every directory between site-packages and a file is a candidate, not only the file's
    // parent: a package with no file of its own at the top (`pkg/sub/mod.py` only) must
    // still move as `pkg/`, or an empty `pkg/` would import as a namespace package.
    let mut candidates: BTreeSet<PathBuf> = BTreeSet::new();
    for f in files {
        for dir in f.ancestors().skip(1) {
            if !dir.starts_with(&sp) || dir == sp || !candidates.insert(dir.to_path_buf()) {
                break;
            }
        }
    }
    let mut roots: Vec<PathBuf> = candidates.into_iter().collect();
    let lookup: std::collections::HashSet<&Path> = files.iter().map(PathBuf::as_path).collect();
    // Shortest first, so a parent is decided before its children.
    roots.sort_by_key(|p| p.components().count());
    let mut whole: Vec<PathBuf> = Vec::new();
    for root in roots {
        if whole.iter().any(|w| root.starts_with(w)) {
            continue;
        }
        if dir_is_owned(&root, &lookup) {
            whole.push(root);
        }
    }
    let mut out: Vec<(PathBuf, bool)> = whole.iter().map(|w| (w.clone(), true)).collect();
    for f in files {
        if !whole.iter().any(|w| f.starts_with(w)) {
            out.push((f.clone(), false));
        }
    }
    out
}

/// Every file under `dir` is listed, or is a byte-code cache file.
fn dir_is_owned(dir: &Path, files: &std::collections::HashSet<&Path>) -> bool {
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        let Ok(rd) = std::fs::read_dir(&d) else { return false };
        for entry in rd.flatten() {
            let path = entry.path();
            let Ok(ft) = entry.file_type() else { return false };
            if ft.is_dir() {
                stack.push(path);
            } else if !files.contains(path.as_path()) && !is_bytecode_cache(&path) {
                return false;
            }
        }
    }
    true
}

fn is_bytecode_cache(path: &Path) -> bool {
    let in_pycache = path.parent().and_then(Path::file_name).is_some_and(|n| n == "__pycache__");
    let ext = path.extension().and_then(|e| e.to_str());
    in_pycache && matches!(ext, Some("pyc" | "pyo"))
}

/// Where `original` goes in the stash: `site-packages/<rel>` for entries inside
/// site-packages, `outside/<n>/<name>` for the rest (n numbers their parent directories).
fn stashed_path(site_packages: &Path, stash_dir: &Path, original: &Path, outside: &mut Vec<PathBuf>) -> PathBuf {
    let sp = normalize_lexically(site_packages);
    if let Ok(rel) = original.strip_prefix(&sp) {
        return stash_dir.join("site-packages").join(rel);
    }
    let parent = original.parent().map(Path::to_path_buf).unwrap_or_default();
    let n = match outside.iter().position(|p| *p == parent) {
        Some(n) => n,
        None => {
            outside.push(parent);
            outside.len() - 1
        }
    };
    let name = original.file_name().map(PathBuf::from).unwrap_or_default();
    stash_dir.join("outside").join(n.to_string()).join(name)
}

/// Rename `from` to `to`, creating `to`'s parent; copy + remove across volumes.
fn move_entry(from: &Path, to: &Path) -> Result<(), StashError> {
    let err = |source| StashError::Move { from: from.to_path_buf(), to: to.to_path_buf(), source };
    if let Some(parent) = to.parent() {
        std::fs::create_dir_all(parent).map_err(err)?;
    }
    match std::fs::rename(from, to) {
        Ok(()) => Ok(()),
        Err(e) if is_cross_device(&e) => {
            copy_any(from, to).map_err(err)?;
            remove_any(from).map_err(err)
        }
        Err(e) => Err(err(e)),
    }
}

fn is_cross_device(e: &std::io::Error) -> bool {
    #[cfg(unix)]
    {
        e.raw_os_error() == Some(libc::EXDEV)
    }
    #[cfg(windows)]
    {
        // ERROR_NOT_SAME_DEVICE
        e.raw_os_error() == Some(17)
    }
    #[cfg(not(any(unix, windows)))]
    {
        e.kind() == std::io::ErrorKind::CrossesDevices
    }
}

fn copy_any(from: &Path, to: &Path) -> std::io::Result<()> {
    let meta = from.symlink_metadata()?;
    if meta.file_type().is_symlink() {
        #[cfg(unix)]
        return std::os::unix::fs::symlink(std::fs::read_link(from)?, to);
    }
    if meta.is_dir() {
        std::fs::create_dir_all(to)?;
        for entry in std::fs::read_dir(from)? {
            let entry = entry?;
            copy_any(&entry.path(), &to.join(entry.file_name()))?;
        }
        return Ok(());
    }
    std::fs::copy(from, to).map(|_| ())
}

/// Remove a file, symlink or directory tree; absent is fine.
fn remove_any(p: &Path) -> std::io::Result<()> {
    match p.symlink_metadata() {
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
        Err(e) => Err(e),
        Ok(m) if m.is_dir() => std::fs::remove_dir_all(p),
        Ok(_) => std::fs::remove_file(p),
    }
}

/// The stash holds nothing but its manifest and empty directories.
fn stash_is_empty(dir: &Path) -> bool {
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        let Ok(rd) = std::fs::read_dir(&d) else { continue };
        for e in rd.flatten() {
            let path = e.path();
            if e.file_type().is_ok_and(|t| t.is_dir()) {
                stack.push(path);
            } else if !(d == dir && e.file_name() == MANIFEST_FILE) {
                return false;
            }
        }
    }
    true
}

/// Compare a file with its RECORD hash (`sha256=` only; other algorithms and unhashed
/// entries are checked for presence).
fn check_file(f: &RecordedFile) -> Option<Mismatch> {
    let expected = f.hash.clone().unwrap_or_else(|| "(present)".into());
    let found = match &f.hash {
        Some(h) if h.starts_with("sha256=") => sha256_record_hash(&f.path).ok(),
        _ => f.path.symlink_metadata().ok().map(|_| expected.clone()),
    };
    (found.as_deref() != Some(expected.as_str())).then(|| Mismatch { path: f.path.clone(), expected, found })
}

/// A file's hash in RECORD's notation: `sha256=` + urlsafe base64 without padding.
pub fn sha256_record_hash(path: &Path) -> std::io::Result<String> {
    let (digest, _) = crate::fetch::verify::sha256_reader(std::fs::File::open(path)?)?;
    Ok(format!("sha256={}", crate::fetch::verify::record_base64(&digest)))
}

/// Write JSON to `path` atomically: a temp file in the same directory, fsync, rename.
pub(crate) fn write_atomic<T: Serialize>(path: &Path, value: &T) -> std::io::Result<()> {
    use std::io::Write as _;
    let bytes = serde_json::to_vec_pretty(value).map_err(std::io::Error::other)?;
    let dir = path.parent().unwrap_or(Path::new("."));
    std::fs::create_dir_all(dir)?;
    let name = path.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
    let tmp = dir.join(format!(".{name}.{}.tmp", std::process::id()));
    {
        let mut f = std::fs::File::create(&tmp)?;
        f.write_all(&bytes)?;
        f.sync_all()?;
    }
    if let Err(e) = std::fs::rename(&tmp, path) {
        let _ = std::fs::remove_file(&tmp);
        return Err(e);
    }
    // Make the rename itself durable (directories cannot be opened for sync on Windows).
    #[cfg(unix)]
    if let Ok(d) = std::fs::File::open(dir) {
        let _ = d.sync_all();
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn write(p: &Path, bytes: &[u8]) {
        std::fs::create_dir_all(p.parent().unwrap()).unwrap();
        std::fs::write(p, bytes).unwrap();
    }

    /// A hand-made install: `<root>/lib/python3.11/site-packages` with `demo` and a script.
    fn fake_env(root: &Path) -> PathBuf {
        let sp = root.join("lib/python3.11/site-packages");
        write(&sp.join("demo/__init__.py"), b"x = 1\n");
        write(&sp.join("demo/sub/mod.py"), b"y = 2\n");
        write(&sp.join("shared/demo_part.py"), b"z\n");
        write(&sp.join("shared/other_owner.py"), b"not ours\n");
        write(&root.join("bin/demo-cli"), b"#!/bin/sh\n");
        write(&root.join("bin/python"), b"keep\n");
        let files = ["demo/__init__.py", "demo/sub/mod.py", "shared/demo_part.py", "../../../bin/demo-cli"];
        let mut record = String::new();
        for f in files {
            let h = sha256_record_hash(&normalize_lexically(&sp.join(f))).unwrap();
            record.push_str(&format!("{f},{h},1\n"));
        }
        write(&sp.join("Demo_Pkg-1.0+x.dist-info/METADATA"), b"Name: demo-pkg\n");
        let h = sha256_record_hash(&sp.join("Demo_Pkg-1.0+x.dist-info/METADATA")).unwrap();
        record.push_str(&format!("Demo_Pkg-1.0+x.dist-info/METADATA,{h},14\n\"Demo_Pkg-1.0+x.dist-info/RECORD\",,\n"));
        write(&sp.join("Demo_Pkg-1.0+x.dist-info/RECORD"), record.as_bytes());
        sp
    }

    #[test]
    fn names_normalize_like_pep_503() {
        assert_eq!(normalize_name("Demo_Pkg"), "demo-pkg");
        assert_eq!(normalize_name("a.-_b"), "a-b");
        assert_eq!(normalize_name("torch"), "torch");
    }

    #[test]
    fn owned_directories_move_whole_and_shared_ones_file_by_file() {
        let t = tempfile::tempdir().unwrap();
        let sp = fake_env(t.path());
        // a stray byte-code cache from a later import moves with the package
        write(&sp.join("demo/__pycache__/__init__.cpython-311.pyc"), b"pyc");
        let m = Stash::plan(&sp, &["demo-pkg"], &stash_dir_for(&sp, "t1")).unwrap();
        let whole: Vec<_> = m.moves.iter().filter(|m| m.is_dir).map(|m| m.original.clone()).collect();
        assert!(whole.contains(&sp.join("demo")), "{whole:?}");
        assert!(whole.contains(&sp.join("Demo_Pkg-1.0+x.dist-info")));
        assert!(!whole.iter().any(|w| w.ends_with("shared")), "shared dir has a foreign file");
        let files: Vec<_> = m.moves.iter().filter(|m| !m.is_dir).map(|m| m.original.clone()).collect();
        assert!(files.contains(&sp.join("shared/demo_part.py")));
        assert!(files.contains(&t.path().join("bin/demo-cli")));
        assert_eq!(m.dists[0].version, "1.0+x");

        let stash = Stash::execute(m).unwrap();
        assert!(!sp.join("demo").exists());
        assert!(!t.path().join("bin/demo-cli").exists());
        assert!(t.path().join("bin/python").exists());
        assert!(sp.join("shared/other_owner.py").exists());
        // The new build writes over the same places; restore replaces them.
        write(&sp.join("demo/__init__.py"), b"x = 2\n");
        write(&t.path().join("bin/demo-cli"), b"new\n");
        let report = stash.restore().unwrap();
        assert!(report.is_exact(), "{:?}", report.mismatches);
        assert_eq!(std::fs::read(sp.join("demo/__init__.py")).unwrap(), b"x = 1\n");
        assert_eq!(std::fs::read(sp.join("demo/__pycache__/__init__.cpython-311.pyc")).unwrap(), b"pyc");
        assert_eq!(std::fs::read(t.path().join("bin/demo-cli")).unwrap(), b"#!/bin/sh\n");
        assert!(!stash_dir_for(&sp, "t1").exists());
    }

    #[test]
    fn a_package_without_top_level_files_still_moves_whole() {
        let t = tempfile::tempdir().unwrap();
        let sp = t.path().join("lib/python3.11/site-packages");
        write(&sp.join("deep/a/x.py"), b"x\n");
        write(&sp.join("deep/b/y.py"), b"y\n");
        write(&sp.join("deep-1.0.dist-info/RECORD"), b"deep/a/x.py,,\ndeep/b/y.py,,\ndeep-1.0.dist-info/RECORD,,\n");
        let m = Stash::plan(&sp, &["deep"], &t.path().join("s")).unwrap();
        let dirs: Vec<_> = m.moves.iter().map(|m| (m.original.clone(), m.is_dir)).collect();
        assert!(dirs.contains(&(sp.join("deep"), true)), "{dirs:?}");
        assert_eq!(m.moves.len(), 2, "{dirs:?}");
        Stash::execute(m).unwrap();
        assert!(!sp.join("deep").exists(), "an empty deep/ would import as a namespace package");
    }

    #[test]
    fn restore_reports_a_changed_file() {
        let t = tempfile::tempdir().unwrap();
        let sp = fake_env(t.path());
        let stash = Stash::take(&sp, &["demo_pkg"], &stash_dir_for(&sp, "t2")).unwrap();
        let moved = stash.manifest().moves.iter().find(|m| m.original.ends_with("shared/demo_part.py")).unwrap();
        std::fs::write(&moved.stashed, b"tampered").unwrap();
        let report = stash.restore().unwrap();
        assert_eq!(report.mismatches.len(), 1);
        assert!(report.mismatches[0].path.ends_with("shared/demo_part.py"));
    }

    #[test]
    fn a_failed_move_puts_everything_back() {
        let t = tempfile::tempdir().unwrap();
        let sp = fake_env(t.path());
        let mut m = Stash::plan(&sp, &["demo-pkg"], &stash_dir_for(&sp, "t3")).unwrap();
        // A move whose source does not exist fails after the others were made.
        m.moves.push(StashMove { original: sp.join("nope"), stashed: m.stash_dir.join("x/nope"), is_dir: false });
        let err = Stash::execute(m).unwrap_err();
        assert!(matches!(err, StashError::Move { .. }), "{err}");
        assert!(sp.join("demo/__init__.py").exists());
        assert!(t.path().join("bin/demo-cli").exists());
        assert!(!stash_dir_for(&sp, "t3").exists());
    }

    #[test]
    fn restore_is_idempotent_after_an_interruption() {
        let t = tempfile::tempdir().unwrap();
        let sp = fake_env(t.path());
        let stash = Stash::take(&sp, &["demo-pkg"], &stash_dir_for(&sp, "t4")).unwrap();
        let manifest = stash.manifest().clone();
        // Half a restore: the first move is back already.
        let first = &manifest.moves[0];
        std::fs::rename(&first.stashed, &first.original).unwrap();
        let again = Stash::open(&manifest.stash_dir).unwrap();
        assert_eq!(again.manifest(), &manifest);
        let report = again.restore().unwrap();
        assert!(report.is_exact(), "{:?}", report.mismatches);
        assert_eq!(report.moved_back, manifest.moves.len() - 1);
    }

    #[test]
    fn missing_record_and_conda_are_named() {
        let t = tempfile::tempdir().unwrap();
        let sp = t.path().join("lib/python3.11/site-packages");
        write(&sp.join("torch-2.5.1.dist-info/METADATA"), b"Name: torch\n");
        write(&sp.join("torch-2.5.1.dist-info/INSTALLER"), b"conda\n");
        let err = Stash::plan(&sp, &["torch"], &t.path().join("s")).unwrap_err();
        assert!(matches!(err, StashError::CondaManaged { .. }), "{err}");
        assert!(err.to_string().contains("conda list --revisions"));
        std::fs::write(sp.join("torch-2.5.1.dist-info/INSTALLER"), b"pip\n").unwrap();
        let err = Stash::plan(&sp, &["torch"], &t.path().join("s")).unwrap_err();
        assert!(matches!(err, StashError::NoRecord { .. }), "{err}");
        let err = Stash::plan(&sp, &["torchvision"], &t.path().join("s")).unwrap_err();
        assert!(matches!(err, StashError::NotInstalled { .. }), "{err}");
        write(&t.path().join("conda-meta/pytorch-2.5.1-py3.11_cpu_0.json"), b"{}");
        std::fs::remove_dir_all(sp.join("torch-2.5.1.dist-info")).unwrap();
        let err = Stash::plan(&sp, &["torch"], &t.path().join("s")).unwrap_err();
        assert!(matches!(err, StashError::CondaManaged { .. }), "{err}");
    }

    #[test]
    fn a_record_escaping_the_environment_is_refused() {
        let t = tempfile::tempdir().unwrap();
        let sp = t.path().join("a/b/lib/python3.11/site-packages");
        write(&sp.join("evil-1.0.dist-info/RECORD"), b"../../../../../etc/passwd,,\n");
        let err = Stash::plan(&sp, &["evil"], &t.path().join("s")).unwrap_err();
        assert!(matches!(err, StashError::BadRecord { .. }), "{err}");
    }
}
