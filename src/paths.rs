//! Where torchup keeps its state (logs, verify history) and cache (index answers).
//!
//! Platform directories come from the `directories` crate; `TORCHUP_STATE_DIR` and
//! `TORCHUP_CACHE_DIR` override them (portable installs, tests).

use std::path::PathBuf;

use directories::ProjectDirs;

fn project_dirs() -> Option<ProjectDirs> {
    ProjectDirs::from("dev", "torchup", "torchup")
}

/// State: logs, the saved verify history, reports.
pub fn state_dir() -> PathBuf {
    if let Some(p) = std::env::var_os("TORCHUP_STATE_DIR") {
        return PathBuf::from(p);
    }
    match project_dirs() {
        // state_dir() is Linux-only; elsewhere the local data dir is the platform's place for it.
        Some(d) => d.state_dir().map(PathBuf::from).unwrap_or_else(|| d.data_local_dir().to_path_buf()),
        None => std::env::temp_dir().join("torchup-state"),
    }
}

/// Cache: index answers with a time to live.
pub fn cache_dir() -> PathBuf {
    if let Some(p) = std::env::var_os("TORCHUP_CACHE_DIR") {
        return PathBuf::from(p);
    }
    match project_dirs() {
        Some(d) => d.cache_dir().to_path_buf(),
        None => std::env::temp_dir().join("torchup-cache"),
    }
}

/// The log directory inside the state directory.
pub fn log_dir() -> PathBuf {
    state_dir().join("logs")
}

/// The log directory inside a given state directory.
pub fn log_dir_in(state_dir: &std::path::Path) -> PathBuf {
    state_dir.join("logs")
}
