//! The GPU smoke test: an embedded Python script run by the target interpreter,
//! its result model (the `verify --json` contract) and the saved history.
//!
//! - [`run()`](run::run) runs the script and turns whatever came back into a [`SmokeReport`]
//!   ([`parse`] copes with garbage, partial output and crashed interpreters);
//! - [`diagnoses::attach`] is the one place diagnoses get attached;
//! - [`history`] saves each result, [`compare`] says what changed since the last one;
//! - [`verify`] is the whole verify operation (target, smoke, GPU facts, diagnoses, history);
//! - [`render`] turns a report into lines for humans (CLI and TUI), [`doctor`] builds and
//!   renders the bug-report document.

pub(crate) mod compare;
pub mod diagnoses;
pub(crate) mod doctor;
pub(crate) mod history;
#[cfg(feature = "torch")]
pub(crate) mod libtorch;
pub mod notes;
pub mod parse;
pub mod render;
pub mod run;
pub(crate) mod verify;

pub use compare::{Change, compare};
pub use history::{History, HistoryEntry, HistoryError};
pub use render::{Line, Tone, render_verify};
pub use run::{DEFAULT_TIMEOUT, SmokeError, run, run_argv};

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

/// Schema version of the verify document.
pub const VERIFY_SCHEMA: u32 = 1;

/// The smoke test script, embedded so the binary is self-contained.
pub const SMOKE_TEST_PY: &str = include_str!("../../assets/smoke_test.py");

/// One check: contract `{name, ok, detail, ms}`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Check {
    pub name: String,
    pub ok: bool,
    pub detail: String,
    pub ms: f64,
}

/// A CUDA device as torch sees it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Device {
    pub name: String,
    pub memory_mib: Option<u64>,
    pub compute_capability: Option<String>,
    /// The device's capability is covered by `torch.cuda.get_arch_list()`.
    pub arch_supported: Option<bool>,
}

/// torch as the smoke test imported it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
pub struct TorchInfo {
    pub version: Option<String>,
    pub cuda: Option<String>,
}

/// The verify document.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
pub struct SmokeReport {
    pub schema: u32,
    /// contract: CUDA works end to end.
    pub ok: bool,
    pub torch: TorchInfo,
    pub cuda_available: bool,
    pub devices: Vec<Device>,
    pub checks: Vec<Check>,
    /// Diagnoses attached by the rules (contract `{id, title, explanation, fix}`).
    pub diagnoses: Vec<crate::finding::Finding>,
    /// torch could be imported at all.
    #[serde(default)]
    pub torch_importable: bool,
    /// Full import error text (Windows DLL errors live there).
    #[serde(default)]
    pub import_error: Option<String>,
    /// The installed torch distribution's version when `import torch` failed: torch is
    /// there but does not import (history says so instead of "torch → none").
    #[serde(default)]
    pub torch_installed: Option<String>,
    /// torch's `Requires-Dist` entries for CUDA library wheels (`nvidia-*`, `cuda-*`), read
    /// when the import failed: they name the wheel that ships a missing library.
    #[serde(default)]
    pub torch_requires: Vec<String>,
    /// Warnings torch emitted during `is_available()` etc.
    #[serde(default)]
    pub warnings: Vec<String>,
    /// Normal messages that are not problems (numpy absent): see [`notes`].
    #[serde(default)]
    pub notes: Vec<String>,
    /// Measured matmul throughput, GFLOP/s.
    #[serde(default)]
    pub gpu_gflops: Option<f64>,
    #[serde(default)]
    pub cpu_gflops: Option<f64>,
    /// cuDNN version as torch reports it.
    #[serde(default)]
    pub cudnn: Option<String>,
    /// `torch.cuda.get_arch_list()`: the GPU architectures the wheel has kernels for.
    #[serde(default)]
    pub arch_list: Vec<String>,
    /// The interpreter that ran the test, as it describes itself.
    #[serde(default)]
    pub python: Option<PythonInfo>,
    /// Directory torch was imported from.
    #[serde(default)]
    pub torch_path: Option<String>,
    /// torch came from the user site-packages (it shadows the environment's own: F06).
    #[serde(default)]
    pub torch_from_user_site: bool,
    /// Versions of torchvision, torchaudio, xformers, numpy, pip when installed.
    #[serde(default)]
    pub packages: BTreeMap<String, String>,
    /// `CUDA_VISIBLE_DEVICES` as the interpreter saw it (F35), null when unset.
    #[serde(default)]
    pub cuda_visible_devices: Option<String>,
    /// Text that reached Python's stdout during the test (torch prints its VC++ hint there).
    #[serde(default)]
    pub captured_stdout: Option<String>,
    /// The last lines the interpreter wrote to stderr (C-level messages, crash dumps).
    #[serde(default)]
    pub stderr_tail: Option<String>,
    /// Wall time of the script's checks, ms.
    #[serde(default)]
    pub total_ms: f64,
}

/// The interpreter that ran the smoke test.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
pub struct PythonInfo {
    /// `sys.executable`.
    #[serde(default)]
    pub executable: String,
    #[serde(default)]
    pub version: String,
    #[serde(default)]
    pub bits: u8,
    /// `sys.prefix`.
    #[serde(default)]
    pub prefix: String,
    /// "venv" | "conda" | "system".
    #[serde(default)]
    pub env: String,
    /// `sys.implementation.name`: "cpython", "pypy".
    #[serde(default)]
    pub implementation: String,
    /// `sysconfig.get_platform()`: "linux-x86_64", "win-amd64".
    #[serde(default)]
    pub platform: Option<String>,
    /// PEP 668 EXTERNALLY-MANAGED marker present (and not a venv).
    #[serde(default)]
    pub externally_managed: bool,
    /// The raw facts the script reports; `env` and `externally_managed` are decided from
    /// them when the report is read (facts::python::report::env_kind_of).
    #[serde(default, skip_serializing)]
    pub base_prefix: Option<String>,
    #[serde(default, skip_serializing)]
    pub pyvenv_cfg: bool,
    #[serde(default, skip_serializing)]
    pub conda_meta: bool,
    #[serde(default, skip_serializing)]
    pub embedded: bool,
    #[serde(default, skip_serializing)]
    pub externally_managed_marker: bool,
    /// The user site-packages directory when enabled.
    #[serde(default)]
    pub user_site: Option<String>,
}

impl SmokeReport {
    /// The check with this name, if it ran.
    pub fn check(&self, name: &str) -> Option<&Check> {
        self.checks.iter().find(|c| c.name == name)
    }

    /// The first check that failed.
    pub fn first_failure(&self) -> Option<&Check> {
        self.checks.iter().find(|c| !c.ok)
    }

    /// GPU/CPU matmul throughput ratio, when both were measured.
    pub fn speedup(&self) -> Option<f64> {
        match (self.gpu_gflops, self.cpu_gflops) {
            (Some(g), Some(c)) if c > 0.0 => Some(g / c),
            _ => None,
        }
    }

    /// The contract's `ok`: CUDA works end to end — every check that ran passed and the
    /// GPU matmul was one of them (the script stops the chain at the first fatal failure).
    pub fn cuda_works(checks: &[Check]) -> bool {
        !checks.is_empty() && checks.iter().all(|c| c.ok) && checks.iter().any(|c| c.name == check_names::MATMUL)
    }
}

/// Names of the script's checks, in the order they run.
pub mod check_names {
    pub const IMPORT_TORCH: &str = "import_torch";
    pub const CUDA_BUILD: &str = "cuda_build";
    pub const CUDA_AVAILABLE: &str = "cuda_available";
    pub const DEVICES: &str = "devices";
    pub const ARCH_SUPPORTED: &str = "arch_supported";
    pub const MATMUL: &str = "matmul";
    pub const FP16_AUTOCAST: &str = "fp16_autocast";
    pub const CUDNN_CONV: &str = "cudnn_conv";
    pub const THROUGHPUT: &str = "throughput";
    /// Synthesised by torchup when the script itself failed (crash, timeout, garbage).
    pub const SMOKE_SCRIPT: &str = "smoke_script";
    /// Every check in running order.
    pub const ALL: &[&str] = &[
        IMPORT_TORCH,
        CUDA_BUILD,
        CUDA_AVAILABLE,
        DEVICES,
        ARCH_SUPPORTED,
        MATMUL,
        FP16_AUTOCAST,
        CUDNN_CONV,
        THROUGHPUT,
    ];
}

#[cfg(test)]
pub(crate) mod test_support {
    use super::*;

    /// A report of an interpreter at /venv/bin/python with one matmul check.
    pub(crate) fn report(version: &str, ok: bool) -> SmokeReport {
        SmokeReport {
            schema: VERIFY_SCHEMA,
            ok,
            torch: TorchInfo { version: Some(version.into()), cuda: Some("12.4".into()) },
            cuda_available: ok,
            devices: vec![],
            checks: vec![Check { name: check_names::MATMUL.into(), ok, detail: String::new(), ms: 1.0 }],
            diagnoses: vec![],
            torch_importable: true,
            import_error: None,
            torch_installed: None,
            torch_requires: vec![],
            warnings: vec![],
            notes: vec![],
            gpu_gflops: None,
            cpu_gflops: None,
            cudnn: None,
            arch_list: vec![],
            python: Some(PythonInfo { executable: "/venv/bin/python".into(), ..Default::default() }),
            torch_path: None,
            torch_from_user_site: false,
            packages: Default::default(),
            cuda_visible_devices: None,
            captured_stdout: None,
            stderr_tail: None,
            total_ms: 0.0,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_script_fits_a_windows_command_line() {
        // `python -c SCRIPT` on Windows: CreateProcess allows 32 767 characters, and quoting
        // adds at most one backslash per quote or backslash.
        let quoted = SMOKE_TEST_PY.len() + SMOKE_TEST_PY.matches(['"', '\\']).count() + 2;
        assert!(quoted < 30_000, "the smoke script is too long for `-c` on Windows: {quoted}");
    }

    #[test]
    fn the_verdict_needs_every_check_and_the_matmul() {
        let check = |name: &str, ok| Check { name: name.into(), ok, detail: String::new(), ms: 0.0 };
        assert!(!SmokeReport::cuda_works(&[]));
        assert!(!SmokeReport::cuda_works(&[check("import_torch", true), check("cuda_build", true)]));
        assert!(SmokeReport::cuda_works(&[check("import_torch", true), check("matmul", true)]));
        assert!(!SmokeReport::cuda_works(&[check("matmul", true), check("cudnn_conv", false)]));
    }
}
