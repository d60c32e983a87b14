//! An isolated environment for child processes: a temp dir that stands in for HOME, the
//! platform config/cache dirs, torchup's state and cache dirs and pip's cache, and the
//! variable changes that keep the developer's pip config, indexes, virtualenv, conda env,
//! Python path and GPU selection from leaking into a test.
//!
//! Nothing here calls `std::env::set_var`: the changes are data, handed to each child
//! (`RunSpec::envs`, or [`Isolated::apply`] on a `std::process::Command`).

use std::path::{Path, PathBuf};
use std::process::Command;

use tempfile::TempDir;

/// Variables removed by name (besides the prefixes in [`REMOVED_PREFIXES`]).
const REMOVED: &[&str] = &[
    "VIRTUAL_ENV",
    "VIRTUAL_ENV_PROMPT",
    "CUDA_VISIBLE_DEVICES",
    "CUDA_DEVICE_ORDER",
    // A developer's CUDA toolkit must not show up in what torchup reports.
    "CUDA_HOME",
    "CUDA_ROOT",
    "NO_COLOR",
    "FORCE_COLOR",
    "CLICOLOR_FORCE",
    // A developer's proxy must not swallow requests to 127.0.0.1.
    "HTTP_PROXY",
    "HTTPS_PROXY",
    "ALL_PROXY",
    "http_proxy",
    "https_proxy",
    "all_proxy",
];

/// Every variable of the parent whose name starts with one of these is removed:
/// pip settings (`PIP_INDEX_URL`, `PIP_EXTRA_INDEX_URL`, `PIP_FIND_LINKS`, `PIP_TRUSTED_HOST`,
/// `PIP_USER`, ...), uv settings, conda activation, `PYTHONPATH`/`PYTHONHOME`/
/// `PYTHONUSERBASE`/`PYTHONSTARTUP`, and all of torchup's own (`TORCHUP_NVIDIA_SMI`,
/// `TORCHUP_FAKE_GPU`, ...), and `CUDA_PATH`/`CUDA_PATH_V12_4`. `PYENV_*` is kept on
/// purpose: it is harmless once the interpreter is addressed by its real path.
const REMOVED_PREFIXES: &[&str] = &["PIP_", "UV_", "CONDA_", "PYTHON", "TORCHUP_", "CUDA_PATH"];

/// Named removals that must happen even when the parent does not have them set, so the
/// list reads the same on every machine (and the brief's list is visibly covered).
const ALWAYS_REMOVED: &[&str] = &[
    "PIP_INDEX_URL",
    "PIP_EXTRA_INDEX_URL",
    "PIP_FIND_LINKS",
    "PIP_TRUSTED_HOST",
    "PIP_REQUIRE_VIRTUALENV",
    "PIP_USER",
    "CONDA_PREFIX",
    "CONDA_DEFAULT_ENV",
    "PYTHONPATH",
    "PYTHONHOME",
    "PYTHONUSERBASE",
    "PYTHONSTARTUP",
    "PYTHONNOUSERSITE",
];

/// A temp dir plus the environment changes that make a child process live inside it.
/// The dir is deleted on drop.
#[derive(Debug)]
pub struct Isolated {
    dir: TempDir,
    changes: Vec<(String, Option<String>)>,
}

impl Isolated {
    /// A fresh isolated environment under the system temp dir.
    pub fn new() -> std::io::Result<Isolated> {
        Self::with_prefix("torchup-test-")
    }

    /// Like [`Isolated::new`] with a directory name that starts with `prefix`
    /// (use one with a space to test paths with spaces: `"torchup test "`).
    pub fn with_prefix(prefix: &str) -> std::io::Result<Isolated> {
        let dir = tempfile::Builder::new().prefix(prefix).tempdir()?;
        let root = dir.path().to_path_buf();
        let sub = |name: &str| root.join(name);
        let dirs = [
            "home",
            "home/.config",
            "home/.cache",
            "home/.local/share",
            "home/.local/state",
            "home/AppData/Roaming",
            "home/AppData/Local",
            "torchup-state",
            "torchup-cache",
            "pip-cache",
            "tmp",
        ];
        for d in dirs {
            std::fs::create_dir_all(sub(d))?;
        }

        let mut changes: Vec<(String, Option<String>)> = Vec::new();
        let remove = |name: &str, changes: &mut Vec<(String, Option<String>)>| {
            if !changes.iter().any(|(k, _)| k == name) {
                changes.push((name.to_string(), None));
            }
        };
        for name in REMOVED.iter().chain(ALWAYS_REMOVED) {
            remove(name, &mut changes);
        }
        // Reading the parent's environment is fine; only writing it is forbidden.
        for (name, _) in std::env::vars_os().filter_map(|(k, v)| Some((k.into_string().ok()?, v))) {
            if REMOVED_PREFIXES.iter().any(|p| name.starts_with(p)) {
                remove(&name, &mut changes);
            }
        }

        let home = sub("home");
        let set = |changes: &mut Vec<(String, Option<String>)>, k: &str, v: &Path| {
            changes.push((k.to_string(), Some(v.to_string_lossy().into_owned())));
        };
        set(&mut changes, "HOME", &home);
        set(&mut changes, "USERPROFILE", &home);
        set(&mut changes, "APPDATA", &home.join("AppData/Roaming"));
        set(&mut changes, "LOCALAPPDATA", &home.join("AppData/Local"));
        set(&mut changes, "XDG_CONFIG_HOME", &home.join(".config"));
        set(&mut changes, "XDG_CACHE_HOME", &home.join(".cache"));
        set(&mut changes, "XDG_DATA_HOME", &home.join(".local/share"));
        set(&mut changes, "XDG_STATE_HOME", &home.join(".local/state"));
        set(&mut changes, "TORCHUP_STATE_DIR", &sub("torchup-state"));
        set(&mut changes, "TORCHUP_CACHE_DIR", &sub("torchup-cache"));
        set(&mut changes, "PIP_CACHE_DIR", &sub("pip-cache"));
        set(&mut changes, "TMPDIR", &sub("tmp"));
        set(&mut changes, "TEMP", &sub("tmp"));
        set(&mut changes, "TMP", &sub("tmp"));
        let null = if cfg!(windows) { "NUL" } else { "/dev/null" };
        changes.push(("PIP_CONFIG_FILE".into(), Some(null.into())));
        for (k, v) in [
            ("PIP_DISABLE_PIP_VERSION_CHECK", "1"),
            ("PIP_NO_INPUT", "1"),
            ("PIP_NO_COLOR", "1"),
            ("PYTHONDONTWRITEBYTECODE", "1"),
            ("PYTHONUTF8", "1"),
            ("NO_PROXY", "127.0.0.1,localhost"),
            ("no_proxy", "127.0.0.1,localhost"),
        ] {
            changes.push((k.into(), Some(v.into())));
        }
        Ok(Isolated { dir, changes })
    }

    /// The temp dir everything lives under.
    pub fn root(&self) -> &Path {
        self.dir.path()
    }

    /// The stand-in HOME (also USERPROFILE).
    pub fn home(&self) -> PathBuf {
        self.root().join("home")
    }

    /// What TORCHUP_STATE_DIR points to.
    pub fn state_dir(&self) -> PathBuf {
        self.root().join("torchup-state")
    }

    /// What TORCHUP_CACHE_DIR points to.
    pub fn cache_dir(&self) -> PathBuf {
        self.root().join("torchup-cache")
    }

    /// What PIP_CACHE_DIR points to (a cache per test, so "Using cached" can be provoked).
    pub fn pip_cache_dir(&self) -> PathBuf {
        self.root().join("pip-cache")
    }

    /// A path under the temp dir (not created).
    pub fn path(&self, rel: impl AsRef<Path>) -> PathBuf {
        self.root().join(rel)
    }

    /// The environment changes in order: removals first, then settings. `Some(v)` sets,
    /// `None` removes; the shape `torchup::exec::RunSpec::envs` takes.
    pub fn envs(&self) -> Vec<(String, Option<String>)> {
        self.changes.clone()
    }

    /// The changes plus `extra` (applied after, so `extra` wins).
    pub fn envs_with(&self, extra: &[(&str, &str)]) -> Vec<(String, Option<String>)> {
        let mut v = self.envs();
        v.extend(extra.iter().map(|(k, val)| (k.to_string(), Some(val.to_string()))));
        v
    }

    /// Apply the changes to a `Command` (for running the real binary,
    /// `env!("CARGO_BIN_EXE_torchup")`, or python/pip directly).
    pub fn apply<'a>(&self, cmd: &'a mut Command) -> &'a mut Command {
        apply_changes(cmd, &self.changes)
    }

    /// A `Command` for `program` with the changes applied and the temp dir as its cwd.
    pub fn command(&self, program: impl AsRef<std::ffi::OsStr>) -> Command {
        let mut cmd = Command::new(program);
        self.apply(&mut cmd);
        cmd.current_dir(self.root());
        cmd
    }

    /// Keep the temp dir after the test (for debugging a failure); returns its path.
    pub fn keep(self) -> PathBuf {
        self.dir.keep()
    }
}

/// Apply `(name, Some(value) | None)` changes to a `Command`, in order.
pub fn apply_changes<'a>(cmd: &'a mut Command, changes: &[(String, Option<String>)]) -> &'a mut Command {
    for (k, v) in changes {
        match v {
            Some(v) => cmd.env(k, v),
            None => cmd.env_remove(k),
        };
    }
    cmd
}
