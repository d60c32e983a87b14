//! The on-disk journal of a run that changes an environment (dpkg's idea: the state on
//! disk always says what to do next).
//!
//! Written before the first change to `<state>/journals/<env key>.json` (the key of
//! [`super::lock::env_key`]), rewritten atomically (temp file, fsync, rename) at every stage,
//! removed when the run ends. A journal that outlives its run means the run was killed:
//! every command names it in one line ([`Journal::describe`]) and `torchup rollback` /
//! `torchup install --resume` read it back ([`Journal::load`], [`Journal::unfinished`]).
//! Whether the run is still going is the lock's business ([`super::lock::EnvLock::holder`]).

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};
use thiserror::Error;

use super::stage::RunStage;
use super::stash::StashManifest;
use crate::facts::TorchFacts;
use crate::plan::Choice;

/// The journal's format version.
pub const JOURNAL_SCHEMA: u32 = 1;

/// Why the journal could not be written or read.
#[derive(Debug, Error)]
pub enum JournalError {
    #[error(
        "cannot write the install journal {path}: {source}; check the free space and permissions of the state directory"
    )]
    Write {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("cannot read the install journal {path}: {reason}")]
    Read { path: PathBuf, reason: String },
    /// A journal for this environment is already there: finish or undo it first.
    #[error("{}", .0.describe())]
    Unfinished(Box<Journal>),
}

/// What the run is about, known before it changes anything.
#[derive(Debug, Clone, PartialEq)]
pub struct RunInfo {
    /// The torchup command line (`torchup install --yes`).
    pub command: String,
    /// The target interpreter.
    pub python: PathBuf,
    /// The environment's `sys.prefix` (canonicalized by the journal).
    pub prefix: PathBuf,
    /// The build installed before the run, if any.
    pub previous: Option<TorchFacts>,
    /// The build being installed.
    pub choice: Option<Choice>,
}

/// conda's revision before a run's `conda remove`, and the env as that command named it
/// (not canonicalised: on Windows that would be a `\\?\` path conda does not know).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CondaRevision {
    pub prefix: String,
    pub revision: u64,
}

/// One run's journal. The public fields are the file's content; [`Journal::path`] is where.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Journal {
    pub schema: u32,
    /// Unique per run (also names the stash directory).
    pub run_id: String,
    pub pid: u32,
    pub started: jiff::Timestamp,
    pub updated: jiff::Timestamp,
    pub command: String,
    pub python: PathBuf,
    /// Canonical `sys.prefix`.
    pub prefix: PathBuf,
    pub previous: Option<TorchFacts>,
    pub choice: Option<Choice>,
    /// The last stage entered.
    pub stage: RunStage,
    /// The previous family moved aside, once taken (or planned: see `Stash::plan`).
    #[serde(default)]
    pub stash: Option<StashManifest>,
    /// Where conda returns to if the run is undone (written before `conda remove`).
    #[serde(default)]
    pub conda: Option<CondaRevision>,
    #[serde(skip)]
    path: PathBuf,
}

fn journals_dir(state_dir: &Path) -> PathBuf {
    state_dir.join("journals")
}

fn journal_path(state_dir: &Path, prefix: &Path) -> PathBuf {
    journals_dir(state_dir).join(format!("{}.json", super::lock::env_key(prefix)))
}

/// A run id: start time and pid, unique enough per machine and readable in a path.
fn new_run_id(now: jiff::Timestamp) -> String {
    format!("{}-{}", now.as_second(), std::process::id())
}

impl Journal {
    /// Start the journal of a run (before its first change). A journal already there for
    /// this environment is returned as [`JournalError::Unfinished`].
    pub fn create(state_dir: &Path, info: RunInfo, stage: RunStage) -> Result<Journal, JournalError> {
        if let Some(existing) = Self::load(state_dir, &info.prefix)? {
            return Err(JournalError::Unfinished(Box::new(existing)));
        }
        let now = jiff::Timestamp::now();
        let prefix = super::lock::canonical_prefix(&info.prefix);
        let mut j = Journal {
            schema: JOURNAL_SCHEMA,
            run_id: new_run_id(now),
            pid: std::process::id(),
            started: now,
            updated: now,
            command: info.command,
            python: info.python,
            path: journal_path(state_dir, &prefix),
            prefix,
            previous: info.previous,
            choice: info.choice,
            stage,
            stash: None,
            conda: None,
        };
        j.save()?;
        Ok(j)
    }

    /// Take over an unfinished journal (`install --resume`, `rollback`): this process owns it now.
    pub fn adopt(&mut self) -> Result<(), JournalError> {
        self.pid = std::process::id();
        self.save()
    }

    /// Record the stage reached (the build unchanged).
    pub fn update_stage(&mut self, stage: RunStage) -> Result<(), JournalError> {
        self.stage = stage;
        self.save()
    }

    /// Record the stage reached and the build it is for (the fallback replaces the first
    /// choice once the engine moves to it: the journal names what is being installed).
    pub fn update_stage_of(&mut self, stage: RunStage, choice: &Choice) -> Result<(), JournalError> {
        self.stage = stage;
        self.choice = Some(choice.clone());
        self.save()
    }

    /// Record the stash (before [`super::stash::Stash::execute`], so a kill mid-move is recoverable).
    pub fn set_stash(&mut self, manifest: &StashManifest) -> Result<(), JournalError> {
        self.stash = Some(manifest.clone());
        self.save()
    }

    /// Forget the stash (discarded or restored).
    pub fn clear_stash(&mut self) -> Result<(), JournalError> {
        self.stash = None;
        self.save()
    }

    /// Record conda's revision before the run.
    pub fn set_conda_revision(&mut self, prefix: &str, revision: u64) -> Result<(), JournalError> {
        self.conda = Some(CondaRevision { prefix: prefix.to_string(), revision });
        self.save()
    }

    /// The run ended (whatever the outcome): delete the journal.
    pub fn remove(self) -> Result<(), JournalError> {
        match std::fs::remove_file(&self.path) {
            Ok(()) => Ok(()),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
            Err(source) => Err(JournalError::Write { path: self.path, source }),
        }
    }

    /// The journal of the environment at `prefix`, if one is there. A corrupt file is an error.
    pub fn load(state_dir: &Path, prefix: &Path) -> Result<Option<Journal>, JournalError> {
        let path = journal_path(state_dir, prefix);
        match std::fs::read(&path) {
            Ok(bytes) => Self::parse(&path, &bytes).map(Some),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(JournalError::Read { path, reason: e.to_string() }),
        }
    }

    /// Every journal in the state directory, oldest first; unreadable ones are skipped with
    /// a warning in the log.
    pub fn unfinished(state_dir: &Path) -> Vec<Journal> {
        let Ok(rd) = std::fs::read_dir(journals_dir(state_dir)) else { return Vec::new() };
        let mut out = Vec::new();
        for entry in rd.flatten() {
            let path = entry.path();
            let is_journal =
                path.extension().is_some_and(|e| e == "json") && !entry.file_name().to_string_lossy().starts_with('.');
            if !is_journal {
                continue;
            }
            match std::fs::read(&path)
                .map_err(|e| e.to_string())
                .and_then(|b| Self::parse(&path, &b).map_err(|e| e.to_string()))
            {
                Ok(j) => out.push(j),
                Err(reason) => {
                    tracing::warn!(path = %path.display(), %reason, "skipping an unreadable install journal")
                }
            }
        }
        out.sort_by_key(|j| j.started);
        out
    }

    fn parse(path: &Path, bytes: &[u8]) -> Result<Journal, JournalError> {
        let mut j: Journal = serde_json::from_slice(bytes)
            .map_err(|e| JournalError::Read { path: path.to_path_buf(), reason: e.to_string() })?;
        if j.schema > JOURNAL_SCHEMA {
            return Err(JournalError::Read {
                path: path.to_path_buf(),
                reason: format!("written by a newer torchup (schema {}); update torchup", j.schema),
            });
        }
        j.path = path.to_path_buf();
        Ok(j)
    }

    fn save(&mut self) -> Result<(), JournalError> {
        self.updated = jiff::Timestamp::now();
        super::stash::write_atomic(&self.path, self)
            .map_err(|source| JournalError::Write { path: self.path.clone(), source })
    }

    /// Where the journal lives.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// One line for every command to print: what was interrupted and the ways out.
    pub fn describe(&self) -> String {
        format!("{} — run `torchup rollback` to restore it or `torchup install --resume` to finish", self.summary())
    }

    /// What happened, without the command-line advice (the wizard offers its own action):
    /// "an install was interrupted at 'install'; the previous build was torch 2.5.1+cpu".
    pub fn summary(&self) -> String {
        let previous = match &self.previous {
            Some(p) => format!("the previous build was torch {}", p.version),
            None => "there was no torch before".to_string(),
        };
        format!("an install was interrupted at '{}'; {previous}", self.stage)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn info(prefix: &Path) -> RunInfo {
        RunInfo {
            command: "torchup install --yes".into(),
            python: prefix.join("bin/python"),
            prefix: prefix.to_path_buf(),
            previous: Some(TorchFacts { version: "2.5.1+cpu".into(), ..Default::default() }),
            choice: None,
        }
    }

    fn choice(variant: &str) -> Choice {
        Choice {
            torch: "2.5.1".into(),
            variant: variant.into(),
            index_url: format!("https://download.pytorch.org/whl/{variant}"),
            manager: crate::plan::Manager::Pip,
            torchvision: None,
            torchaudio: None,
        }
    }

    fn envs() -> (tempfile::TempDir, PathBuf, PathBuf, PathBuf) {
        let t = tempfile::tempdir().unwrap();
        let state = t.path().join("state");
        let a = t.path().join("env a");
        let b = t.path().join("env-b");
        std::fs::create_dir_all(&a).unwrap();
        std::fs::create_dir_all(&b).unwrap();
        (t, state, a, b)
    }

    #[test]
    fn round_trip_through_the_file() {
        let (_t, state, a, _) = envs();
        let mut j = Journal::create(&state, info(&a), RunStage::Fetch).unwrap();
        j.update_stage_of(RunStage::Uninstall, &choice("cu121")).unwrap();
        j.set_conda_revision("C:\\Users\\me\\miniconda3\\envs\\ml", 7).unwrap();
        let loaded = Journal::load(&state, &a).unwrap().unwrap();
        assert_eq!(loaded, j);
        assert_eq!(loaded.stage, RunStage::Uninstall);
        assert_eq!(loaded.choice.as_ref().map(|c| c.variant.as_str()), Some("cu121"), "the build being installed now");
        let conda = loaded.conda.as_ref().unwrap();
        assert_eq!((conda.prefix.as_str(), conda.revision), ("C:\\Users\\me\\miniconda3\\envs\\ml", 7));
        assert_eq!(loaded.pid, std::process::id());
        let text = std::fs::read_to_string(j.path()).unwrap();
        assert!(text.contains("\"stage\": \"uninstall\""), "{text}");
        assert_eq!(
            loaded.describe(),
            "an install was interrupted at 'uninstall'; the previous build was torch 2.5.1+cpu — run `torchup rollback` to restore it or `torchup install --resume` to finish"
        );
        j.remove().unwrap();
        assert_eq!(Journal::load(&state, &a).unwrap(), None);
        assert!(Journal::unfinished(&state).is_empty());
    }

    #[test]
    fn two_environments_have_two_journals_and_a_second_run_is_refused() {
        let (_t, state, a, b) = envs();
        let ja = Journal::create(&state, info(&a), RunStage::Fetch).unwrap();
        let mut jb = Journal::create(&state, info(&b), RunStage::Fetch).unwrap();
        jb.update_stage_of(RunStage::Install, &choice("cu124")).unwrap();
        assert_ne!(ja.path(), jb.path());
        let all = Journal::unfinished(&state);
        assert_eq!(all.len(), 2);
        assert_eq!(Journal::load(&state, &b).unwrap().unwrap().stage, RunStage::Install);
        match Journal::create(&state, info(&a), RunStage::Fetch) {
            Err(JournalError::Unfinished(j)) => assert_eq!(j.run_id, ja.run_id),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn a_corrupt_journal_is_skipped_by_the_scan_and_an_error_on_load() {
        let (_t, state, a, b) = envs();
        Journal::create(&state, info(&b), RunStage::Fetch).unwrap();
        let path = journals_dir(&state).join(format!("{}.json", super::super::lock::env_key(&a)));
        std::fs::write(&path, b"{ truncated").unwrap();
        let all = Journal::unfinished(&state);
        assert_eq!(all.len(), 1);
        assert_eq!(all[0].prefix, std::fs::canonicalize(&b).unwrap());
        let err = Journal::load(&state, &a).unwrap_err();
        assert!(matches!(err, JournalError::Read { .. }), "{err}");
        // a newer schema is refused with the fix named
        std::fs::remove_file(&path).unwrap();
        let mut j = Journal::create(&state, info(&a), RunStage::Fetch).unwrap();
        j.schema = JOURNAL_SCHEMA + 1;
        j.save().unwrap();
        assert!(Journal::load(&state, &a).unwrap_err().to_string().contains("update torchup"));
    }

    #[test]
    fn no_previous_build_is_said_so() {
        let (_t, state, a, _) = envs();
        let mut i = info(&a);
        i.previous = None;
        let j = Journal::create(&state, i, RunStage::Install).unwrap();
        assert!(j.describe().starts_with("an install was interrupted at 'install'; there was no torch before"));
    }
}
