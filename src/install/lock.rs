//! One torchup per environment: an exclusive file lock keyed by the environment's
//! canonical `sys.prefix`.
//!
//! The key is the canonical path (so `python`, `python3.11` and a symlinked path are one
//! environment) hashed with 64-bit FNV-1a (stable across Rust versions). The lock file is
//! `<state>/locks/<name>-<hash>.lock`, locked with fs4 (`flock`/`LockFileEx`); the OS
//! releases it when the holding process dies, so a lock left by a killed run is simply
//! taken over. A sidecar `<…>.holder.json` names the holder (pid, command, since) for the
//! message a second run prints and for `verify`/`doctor` to note.

use std::fs::File;
use std::path::{Path, PathBuf};
use std::time::Duration;

use fs4::{FileExt, TryLockError};
use serde::{Deserialize, Serialize};
use thiserror::Error;

/// The process holding an environment's lock.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Holder {
    pub pid: u32,
    /// The torchup command line, e.g. `torchup install --yes`.
    pub command: String,
    pub since: jiff::Timestamp,
    /// The environment's canonical prefix.
    pub prefix: PathBuf,
}

impl Holder {
    /// "another torchup (pid 1234, `torchup install`, since 10:02) is changing this environment"
    pub fn describe(&self) -> String {
        let since = self.since.to_zoned_datetime(jiff::tz::TimeZone::system()).strftime("%H:%M").to_string();
        format!("another torchup (pid {}, `{}`, since {since}) is changing this environment", self.pid, self.command)
    }
}

/// Why the lock could not be had.
#[derive(Debug, Error)]
pub enum LockError {
    #[error("{}; wait for it or pass --wait", holder_line(.pid, .command, .since))]
    Held { pid: u32, command: String, since: Option<jiff::Timestamp> },
    #[error("cannot lock {path}: {source}")]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
}

pub(crate) fn holder_line(pid: &u32, command: &str, since: &Option<jiff::Timestamp>) -> String {
    match since {
        Some(s) => Holder { pid: *pid, command: command.to_string(), since: *s, prefix: PathBuf::new() }.describe(),
        None => format!("another torchup (pid {pid}, `{command}`) is changing this environment"),
    }
}

/// The canonical form of an environment prefix (the path itself when it cannot be resolved).
pub fn canonical_prefix(prefix: &Path) -> PathBuf {
    std::fs::canonicalize(prefix).unwrap_or_else(|_| prefix.to_path_buf())
}

/// A stable file-name key for an environment: a readable tail plus FNV-1a of the canonical
/// prefix, e.g. `venv-3f9c0a1b2c3d4e5f`.
pub fn env_key(prefix: &Path) -> String {
    let canon = canonical_prefix(prefix);
    let text = canon.to_string_lossy();
    // Windows paths compare case-insensitively.
    let text = if cfg!(windows) { text.to_lowercase() } else { text.into_owned() };
    let tail: String = canon
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default()
        .chars()
        .map(|c| if c.is_ascii_alphanumeric() || c == '-' || c == '.' { c } else { '_' })
        .take(40)
        .collect();
    let tail = if tail.is_empty() { "env".to_string() } else { tail };
    format!("{tail}-{:016x}", fnv1a(text.as_bytes()))
}

/// FNV-1a, 64 bit.
fn fnv1a(bytes: &[u8]) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in bytes {
        h ^= u64::from(*b);
        h = h.wrapping_mul(0x0000_0100_0000_01b3);
    }
    h
}

/// The held lock; released on drop (and by the OS if the process dies).
#[derive(Debug)]
pub struct EnvLock {
    file: File,
    lock_path: PathBuf,
    holder_path: PathBuf,
}

fn paths(state_dir: &Path, prefix: &Path) -> (PathBuf, PathBuf) {
    let dir = state_dir.join("locks");
    let key = env_key(prefix);
    (dir.join(format!("{key}.lock")), dir.join(format!("{key}.holder.json")))
}

/// The current process's command line for the holder record (`torchup install --yes`).
fn this_command() -> String {
    let mut args = std::env::args();
    let program = args
        .next()
        .map(|a| Path::new(&a).file_stem().map(|s| s.to_string_lossy().into_owned()).unwrap_or(a))
        .unwrap_or_else(|| "torchup".into());
    std::iter::once(program).chain(args).collect::<Vec<_>>().join(" ")
}

impl EnvLock {
    /// Take the environment's lock. Held by another live process: `LockError::Held`, or with
    /// `wait` block until it is free (async callers: `spawn_blocking`).
    pub fn acquire(state_dir: &Path, prefix: &Path, wait: bool) -> Result<EnvLock, LockError> {
        Self::acquire_as(state_dir, prefix, wait, &this_command())
    }

    /// [`EnvLock::acquire`] with an explicit command for the holder record.
    pub fn acquire_as(state_dir: &Path, prefix: &Path, wait: bool, command: &str) -> Result<EnvLock, LockError> {
        let (lock_path, holder_path) = paths(state_dir, prefix);
        let io = |source| LockError::Io { path: lock_path.clone(), source };
        if let Some(dir) = lock_path.parent() {
            std::fs::create_dir_all(dir).map_err(io)?;
        }
        let file = std::fs::OpenOptions::new().create(true).truncate(false).write(true).open(&lock_path).map_err(io)?;
        let mut brief_retries = 20;
        loop {
            match FileExt::try_lock(&file) {
                Ok(()) => break,
                Err(TryLockError::WouldBlock) if wait => std::thread::sleep(Duration::from_millis(200)),
                Err(TryLockError::WouldBlock) if brief_retries > 0 && read_holder(&holder_path).is_none() => {
                    // No holder recorded: a `holder()` probe's brief shared lock, or a run
                    // between locking and writing its sidecar. Look again shortly.
                    brief_retries -= 1;
                    std::thread::sleep(Duration::from_millis(50));
                }
                Err(TryLockError::WouldBlock) => {
                    let h = read_holder(&holder_path);
                    return Err(LockError::Held {
                        pid: h.as_ref().map(|h| h.pid).unwrap_or(0),
                        command: h.as_ref().map(|h| h.command.clone()).unwrap_or_else(|| "torchup".into()),
                        since: h.map(|h| h.since),
                    });
                }
                Err(TryLockError::Error(e)) => return Err(io(e)),
            }
        }
        let holder = Holder {
            pid: std::process::id(),
            command: command.to_string(),
            since: jiff::Timestamp::now(),
            prefix: canonical_prefix(prefix),
        };
        // The sidecar is informative only: failing to write it does not give up the lock.
        if let Err(e) = super::stash::write_atomic(&holder_path, &holder) {
            tracing::warn!(path = %holder_path.display(), error = %e, "cannot record the lock holder");
        }
        Ok(EnvLock { file, lock_path, holder_path })
    }

    /// [`EnvLock::acquire`] on tokio's blocking pool (with `wait` it may block for long).
    pub async fn acquire_async(state_dir: PathBuf, prefix: PathBuf, wait: bool) -> Result<EnvLock, LockError> {
        let lock_path = state_dir.join("locks");
        tokio::task::spawn_blocking(move || EnvLock::acquire(&state_dir, &prefix, wait))
            .await
            .map_err(|e| LockError::Io { path: lock_path, source: std::io::Error::other(e.to_string()) })?
    }

    /// Who holds the environment's lock now, if anyone (for `verify`/`doctor` to note).
    pub fn holder(state_dir: &Path, prefix: &Path) -> Option<Holder> {
        let (lock_path, holder_path) = paths(state_dir, prefix);
        let file = std::fs::OpenOptions::new().read(true).write(true).open(&lock_path).ok()?;
        match FileExt::try_lock_shared(&file) {
            Ok(()) => {
                let _ = FileExt::unlock(&file);
                None
            }
            Err(TryLockError::WouldBlock) => Some(read_holder(&holder_path).unwrap_or(Holder {
                pid: 0,
                command: "torchup".into(),
                since: jiff::Timestamp::now(),
                prefix: canonical_prefix(prefix),
            })),
            Err(TryLockError::Error(_)) => None,
        }
    }

    /// The lock file's path.
    pub fn path(&self) -> &Path {
        &self.lock_path
    }
}

impl Drop for EnvLock {
    fn drop(&mut self) {
        // Remove the sidecar first, while still holding the lock, so nobody reads a stale one.
        let _ = std::fs::remove_file(&self.holder_path);
        let _ = FileExt::unlock(&self.file);
    }
}

fn read_holder(path: &Path) -> Option<Holder> {
    serde_json::from_slice(&std::fs::read(path).ok()?).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fnv_matches_the_reference_values() {
        assert_eq!(fnv1a(b""), 0xcbf29ce484222325);
        assert_eq!(fnv1a(b"a"), 0xaf63dc4c8601ec8c);
    }

    #[cfg(unix)]
    #[test]
    fn a_symlinked_prefix_is_the_same_environment() {
        let t = tempfile::tempdir().unwrap();
        let real = t.path().join("my env");
        std::fs::create_dir(&real).unwrap();
        let link = t.path().join("link");
        std::os::unix::fs::symlink(&real, &link).unwrap();
        assert_eq!(env_key(&real), env_key(&link));
        assert_eq!(env_key(&real), env_key(&real.join("../my env")));
        assert!(env_key(&real).starts_with("my_env-"));
        assert_ne!(env_key(&real), env_key(t.path()));
    }

    #[test]
    fn a_second_lock_in_the_same_process_is_refused_then_free_after_drop() {
        // fs4 locks are per open file description, so two opens conflict even in one process.
        let t = tempfile::tempdir().unwrap();
        let prefix = t.path().join("env");
        std::fs::create_dir(&prefix).unwrap();
        assert_eq!(EnvLock::holder(t.path(), &prefix), None);
        let first = EnvLock::acquire_as(t.path(), &prefix, false, "torchup install").unwrap();
        let err = EnvLock::acquire_as(t.path(), &prefix, false, "torchup install").unwrap_err();
        let LockError::Held { pid, ref command, .. } = err else { panic!("{err}") };
        assert_eq!(pid, std::process::id());
        assert_eq!(command, "torchup install");
        let msg = err.to_string();
        assert!(
            msg.starts_with(&format!("another torchup (pid {}, `torchup install`, since ", std::process::id())),
            "{msg}"
        );
        assert!(msg.ends_with("is changing this environment; wait for it or pass --wait"), "{msg}");
        assert_eq!(EnvLock::holder(t.path(), &prefix).map(|h| h.pid), Some(std::process::id()));
        drop(first);
        assert_eq!(EnvLock::holder(t.path(), &prefix), None);
        EnvLock::acquire_as(t.path(), &prefix, false, "torchup install").unwrap();
    }
}
