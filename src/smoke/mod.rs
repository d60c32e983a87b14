//! The GPU smoke test: an embedded Python script run by the target interpreter,
//! its result model (the `verify --json` contract) and the saved history.

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

/// A diagnosis attached to a report: contract `{id, title, fix}`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DiagnosisRef {
    pub id: String,
    pub title: String,
    pub fix: String,
}

/// The verify document.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SmokeReport {
    pub schema: u32,
    /// contract: CUDA works end to end.
    pub ok: bool,
    pub torch: TorchInfo,
    pub cuda_available: bool,
    pub devices: Vec<Device>,
    pub checks: Vec<Check>,
    pub diagnoses: Vec<DiagnosisRef>,
    /// torch could be imported at all.
    #[serde(default)]
    pub torch_importable: bool,
    /// Full import error text (Windows DLL errors live there).
    #[serde(default)]
    pub import_error: Option<String>,
    /// Warnings torch emitted during `is_available()` etc.
    #[serde(default)]
    pub warnings: Vec<String>,
    /// Measured matmul throughput, GFLOP/s.
    #[serde(default)]
    pub gpu_gflops: Option<f64>,
    #[serde(default)]
    pub cpu_gflops: Option<f64>,
    /// cuDNN version as torch reports it.
    #[serde(default)]
    pub cudnn: Option<String>,
}
