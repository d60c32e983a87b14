//! Ad-hoc fake torch for the smoke-test integration tests: a real temp venv (no pip) and a
//! tiny `torch` package on PYTHONPATH whose behaviour comes from `FAKE_TORCH_SPEC` (see
//! torch_init.py). To be replaced by the shared test kit (tests/support/, real wheels
//! installed by real pip) once it is merged.

#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;

use tempfile::TempDir;

pub const TORCH_INIT_PY: &str = include_str!("torch_init.py");

/// The real interpreter behind `python3` (not a pyenv shim), resolved once.
pub fn base_python() -> PathBuf {
    static PY: OnceLock<PathBuf> = OnceLock::new();
    PY.get_or_init(|| {
        let out = Command::new(if cfg!(windows) { "python" } else { "python3" })
            .args(["-c", "import sys; print(sys.executable)"])
            .output()
            .expect("these tests need python3 on PATH");
        PathBuf::from(String::from_utf8_lossy(&out.stdout).trim())
    })
    .clone()
}

/// A temp venv plus a fake torch package directory.
pub struct FakeEnv {
    pub dir: TempDir,
    pub python: PathBuf,
    pub fake_path: PathBuf,
}

impl FakeEnv {
    /// A fresh venv (`--without-pip`: fast, and torch can only come from the fake).
    pub fn new() -> FakeEnv {
        let dir = tempfile::Builder::new().prefix("torchup smoke ").tempdir().unwrap();
        let venv = dir.path().join("venv");
        let status = Command::new(base_python())
            .args(["-m", "venv", "--without-pip"])
            .arg(&venv)
            .env("PYTHONNOUSERSITE", "1")
            .status()
            .unwrap();
        assert!(status.success(), "python -m venv failed");
        let python =
            if cfg!(windows) { venv.join("Scripts").join("python.exe") } else { venv.join("bin").join("python") };
        let fake_path = dir.path().join("fake");
        std::fs::create_dir_all(fake_path.join("torch")).unwrap();
        std::fs::write(fake_path.join("torch").join("__init__.py"), TORCH_INIT_PY).unwrap();
        std::fs::create_dir_all(dir.path().join("home")).unwrap();
        FakeEnv { dir, python, fake_path }
    }

    pub fn home(&self) -> PathBuf {
        self.dir.path().join("home")
    }

    /// Environment changes for a child: isolated HOME and pip config, the fake torch on
    /// PYTHONPATH behaving as `spec` says. `spec = None` means no torch at all.
    pub fn env(&self, spec: Option<&str>) -> Vec<(String, Option<String>)> {
        let mut env: Vec<(String, Option<String>)> = vec![
            ("HOME".into(), Some(self.home().display().to_string())),
            ("USERPROFILE".into(), Some(self.home().display().to_string())),
            ("PYTHONNOUSERSITE".into(), Some("1".into())),
            ("PYTHONDONTWRITEBYTECODE".into(), Some("1".into())),
            ("PIP_CONFIG_FILE".into(), Some(if cfg!(windows) { "NUL" } else { "/dev/null" }.into())),
            ("PIP_DISABLE_PIP_VERSION_CHECK".into(), Some("1".into())),
            ("PIP_NO_INPUT".into(), Some("1".into())),
            ("PIP_INDEX_URL".into(), None),
            ("PIP_EXTRA_INDEX_URL".into(), None),
            ("PYTHONHOME".into(), None),
            ("VIRTUAL_ENV".into(), None),
            ("CONDA_PREFIX".into(), None),
            ("CUDA_VISIBLE_DEVICES".into(), None),
            ("TORCHUP_FAKE_GPU".into(), None),
        ];
        match spec {
            Some(spec) => {
                env.push(("PYTHONPATH".into(), Some(self.fake_path.display().to_string())));
                env.push(("FAKE_TORCH_SPEC".into(), Some(spec.to_string())));
            }
            None => {
                env.push(("PYTHONPATH".into(), None));
                env.push(("FAKE_TORCH_SPEC".into(), None));
            }
        }
        env
    }

    pub fn path(&self) -> &Path {
        self.dir.path()
    }
}

/// Spec fragments for the cards the guide and the catalog talk about.
pub const RTX_3050_LAPTOP: &str =
    r#"{"name": "NVIDIA GeForce RTX 3050 Laptop GPU", "memory": 4294443008, "cc": [8, 6]}"#;
pub const RTX_5070_LAPTOP: &str =
    r#"{"name": "NVIDIA GeForce RTX 5070 Laptop GPU", "memory": 8546484224, "cc": [12, 0]}"#;
