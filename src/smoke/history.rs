//! The saved verify results: one JSON line per run in `<state dir>/verify-history.jsonl`.
//!
//! JSON lines because appending one line is cheap and a torn or corrupt line only loses
//! that line. The previous result is the last line for the same interpreter (comparing two
//! different environments would report a "change" that is not one). The file is trimmed to
//! the newest [`KEEP`] entries once it grows past [`TRIM_BYTES`].

use std::fs::OpenOptions;
use std::io::Write;
use std::path::{Path, PathBuf};

use jiff::Timestamp;
use serde::{Deserialize, Serialize};
use thiserror::Error;

use super::{SmokeReport, TorchInfo};
use crate::facts::Driver;

/// File name inside the state directory.
pub(crate) const FILE_NAME: &str = "verify-history.jsonl";
/// Entries kept when the file is trimmed.
pub(crate) const KEEP: usize = 100;
/// Trim once the file is larger than this.
pub(crate) const TRIM_BYTES: u64 = 512 * 1024;

/// One saved verify result.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct HistoryEntry {
    /// When the test ran.
    pub at: Timestamp,
    /// The interpreter (`sys.executable` when the script reported it): the history key.
    pub python: String,
    /// The NVIDIA driver at that time (from the GPU facts), null when none answered.
    pub driver: Option<Driver>,
    /// The torch build at that time (also inside `report`; here for quick reading).
    pub torch: TorchInfo,
    pub report: SmokeReport,
}

impl HistoryEntry {
    /// An entry for `report`, keyed by the interpreter's own `sys.executable` when known,
    /// else by the path torchup ran.
    pub fn new(at: Timestamp, python: &Path, driver: Option<Driver>, report: SmokeReport) -> Self {
        let key = report
            .python
            .as_ref()
            .map(|p| p.executable.clone())
            .filter(|e| !e.is_empty())
            .unwrap_or_else(|| python.display().to_string());
        HistoryEntry { at, python: key, driver, torch: report.torch.clone(), report }
    }
}

/// The history file could not be read or written.
#[derive(Debug, Error)]
pub enum HistoryError {
    #[error("cannot {action} the verify history {path}: {source}; set TORCHUP_STATE_DIR to a writable directory")]
    Io {
        action: &'static str,
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("cannot encode the verify result: {0}")]
    Encode(#[from] serde_json::Error),
    #[error("the verify history was not written: {0}")]
    Interrupted(String),
}

/// The history file in a state directory.
#[derive(Debug, Clone)]
pub struct History {
    path: PathBuf,
}

impl History {
    /// The history kept in `state_dir` (the caller passes `torchup::paths::state_dir()`).
    pub fn in_dir(state_dir: &Path) -> Self {
        History { path: state_dir.join(FILE_NAME) }
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    fn read(&self) -> Result<String, HistoryError> {
        match std::fs::read_to_string(&self.path) {
            Ok(s) => Ok(s),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(String::new()),
            Err(source) => Err(HistoryError::Io { action: "read", path: self.path.clone(), source }),
        }
    }

    /// Every readable entry, oldest first; corrupt lines are skipped.
    pub fn entries(&self) -> Result<Vec<HistoryEntry>, HistoryError> {
        Ok(self.read()?.lines().filter_map(|l| serde_json::from_str(l).ok()).collect())
    }

    /// The newest entry for this interpreter (parses from the end, so it stays cheap).
    pub fn last_for(&self, python: &str) -> Result<Option<HistoryEntry>, HistoryError> {
        Ok(self
            .read()?
            .lines()
            .rev()
            .filter_map(|l| serde_json::from_str::<HistoryEntry>(l).ok())
            .find(|e| e.python == python))
    }

    /// [`History::last_for`] on a blocking thread (the file is read whole, up to its cap).
    pub async fn last_for_off_runtime(&self, python: &str) -> Result<Option<HistoryEntry>, HistoryError> {
        let (history, python) = (self.clone(), python.to_string());
        tokio::task::spawn_blocking(move || history.last_for(&python))
            .await
            .unwrap_or_else(|e| Err(HistoryError::Interrupted(e.to_string())))
    }

    /// [`History::append`] on a blocking thread: callers on the async runtime use this and
    /// [`History::last_for_off_runtime`], so the file I/O (and a trim's rewrite) never holds
    /// up a tokio worker.
    pub async fn append_off_runtime(&self, entry: HistoryEntry) -> Result<(), HistoryError> {
        let history = self.clone();
        tokio::task::spawn_blocking(move || history.append(&entry))
            .await
            .unwrap_or_else(|e| Err(HistoryError::Interrupted(e.to_string())))
    }

    /// Append one entry (one `write` of one line), trimming the file when it has grown.
    pub fn append(&self, entry: &HistoryEntry) -> Result<(), HistoryError> {
        let mut line = serde_json::to_string(entry)?;
        line.push('\n');
        let io = |action| move |source| HistoryError::Io { action, path: self.path.clone(), source };
        if let Some(dir) = self.path.parent() {
            std::fs::create_dir_all(dir).map_err(io("create the directory of"))?;
        }
        let mut file = OpenOptions::new().create(true).append(true).open(&self.path).map_err(io("open"))?;
        file.write_all(line.as_bytes()).map_err(io("write"))?;
        let size = file.metadata().map_err(io("inspect"))?.len();
        drop(file);
        if size > TRIM_BYTES {
            self.trim()?;
        }
        Ok(())
    }

    /// Keep the newest [`KEEP`] lines; write a temp file and rename it over the old one.
    fn trim(&self) -> Result<(), HistoryError> {
        let text = self.read()?;
        let lines: Vec<&str> = text.lines().filter(|l| !l.trim().is_empty()).collect();
        let keep = &lines[lines.len().saturating_sub(KEEP)..];
        let tmp = self.path.with_extension("jsonl.tmp");
        let mut body = keep.join("\n");
        body.push('\n');
        std::fs::write(&tmp, body).map_err(|source| HistoryError::Io { action: "write", path: tmp.clone(), source })?;
        std::fs::rename(&tmp, &self.path).map_err(|source| HistoryError::Io {
            action: "replace",
            path: self.path.clone(),
            source,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::smoke::test_support::report;

    fn at(s: &str) -> Timestamp {
        s.parse().unwrap()
    }

    #[test]
    fn entries_round_trip_and_the_last_one_per_interpreter_wins() {
        let dir = tempfile::tempdir().unwrap();
        let h = History::in_dir(&dir.path().join("nested"));
        assert_eq!(h.last_for("/venv/bin/python").unwrap(), None);
        let driver = Driver { version: "581.29".into(), cuda: Some("13.0".into()), source: None };
        let a = HistoryEntry::new(
            at("2026-01-01T10:00:00Z"),
            Path::new("python3"),
            Some(driver),
            report("2.5.1+cpu", false),
        );
        assert_eq!(a.python, "/venv/bin/python", "keyed by sys.executable");
        let b = HistoryEntry::new(at("2026-01-02T10:00:00Z"), Path::new("python3"), None, report("2.5.1+cu124", true));
        let mut other = report("2.9.1+cu130", true);
        other.python = None;
        let c = HistoryEntry::new(at("2026-01-03T10:00:00Z"), Path::new("/other/python"), None, other);
        for e in [&a, &b, &c] {
            h.append(e).unwrap();
        }
        assert_eq!(h.last_for("/venv/bin/python").unwrap().as_ref(), Some(&b));
        assert_eq!(h.last_for("/other/python").unwrap().as_ref(), Some(&c));
        assert_eq!(h.entries().unwrap(), vec![a, b, c]);
    }

    #[test]
    fn corrupt_lines_are_skipped() {
        let dir = tempfile::tempdir().unwrap();
        let h = History::in_dir(dir.path());
        let good = HistoryEntry::new(at("2026-01-01T10:00:00Z"), Path::new("p"), None, report("2.5.1", true));
        h.append(&good).unwrap();
        let mut f = OpenOptions::new().append(true).open(h.path()).unwrap();
        f.write_all(b"{\"at\": \"2026-01-0\n\x00garbage\n").unwrap();
        assert_eq!(h.last_for("/venv/bin/python").unwrap(), Some(good.clone()));
        assert_eq!(h.entries().unwrap().len(), 1);
    }

    #[test]
    fn the_file_is_trimmed_to_the_newest_entries() {
        let dir = tempfile::tempdir().unwrap();
        let h = History::in_dir(dir.path());
        let mut big = report("2.5.1", true);
        big.stderr_tail = Some("x".repeat(4000));
        let n = (TRIM_BYTES as usize / 4000) + 20;
        for i in 0..n {
            let mut r = big.clone();
            r.torch.version = Some(format!("2.5.{i}"));
            h.append(&HistoryEntry::new(Timestamp::from_second(i as i64).unwrap(), Path::new("p"), None, r)).unwrap();
        }
        let all = h.entries().unwrap();
        assert!(all.len() <= n && all.len() >= KEEP && all.len() < n, "{} of {n}", all.len());
        assert_eq!(all.last().unwrap().torch.version.as_deref(), Some(format!("2.5.{}", n - 1).as_str()));
        assert!(std::fs::metadata(h.path()).unwrap().len() <= TRIM_BYTES + 8000);
    }

    #[test]
    fn an_unwritable_location_is_a_one_line_error() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("not-a-dir");
        std::fs::write(&file, "").unwrap();
        let h = History::in_dir(&file);
        let err = h.append(&HistoryEntry::new(Timestamp::UNIX_EPOCH, Path::new("p"), None, report("x", true)));
        let msg = err.unwrap_err().to_string();
        assert!(msg.contains("TORCHUP_STATE_DIR") && !msg.contains('\n'), "{msg}");
    }
}
