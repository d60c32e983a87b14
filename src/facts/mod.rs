//! Facts: what is true about this machine and the target Python.
//!
//! These types are the `torchup detect --json` contract (docs/contract.md). Field names
//! marked "contract" must never be renamed; extra fields are welcome.
//! "No GPU", "no driver" and "no torch" are states (`None`, empty lists, [`GpuState`]),
//! never errors.

pub(crate) mod gather;
pub mod gpu;
pub mod platform;
pub mod python;

use serde::{Deserialize, Serialize};

/// Schema version of the detect document.
pub const FACTS_SCHEMA: u32 = 1;

/// Everything `detect` learns. Serialized as the `detect --json` document.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Facts {
    /// contract: always 1 for this layout.
    pub schema: u32,
    /// contract: "windows" | "linux" | "macos".
    pub os: Os,
    /// contract (`arch`): CPU architecture as Rust names it ("x86_64", "aarch64", "x86").
    /// Named `cpu_arch` in Rust: "arch" elsewhere means a GPU architecture list.
    #[serde(rename = "arch")]
    pub cpu_arch: String,
    /// contract: running inside WSL2 (Linux kernel under Windows).
    pub wsl: bool,
    /// contract: every NVIDIA GPU found, in driver order.
    pub gpus: Vec<Gpu>,
    /// contract: the NVIDIA driver, or null when none answered.
    pub driver: Option<Driver>,
    /// What the GPU probe concluded, with a one-line explanation.
    #[serde(default)]
    pub gpu_state: GpuState,
    /// contract: the target interpreter, or null when none was found.
    pub python: Option<PythonFacts>,
    /// contract: the installed torch family in the target interpreter, or null.
    pub torch: Option<TorchFacts>,
    /// Every interpreter found, so a front end can offer a choice.
    #[serde(default)]
    pub python_candidates: Vec<PythonCandidate>,
    /// `CUDA_PATH` / nvcc, reported for information only: wheels do not need a toolkit.
    #[serde(default)]
    pub cuda_toolkit: Option<CudaToolkit>,
    /// Non-fatal observations made while probing (unreadable files, odd outputs).
    #[serde(default)]
    pub notes: Vec<String>,
}

/// Operating system family, as the contract spells it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Os {
    Windows,
    Linux,
    Macos,
}

impl Os {
    /// The OS this binary was built for.
    pub fn current() -> Os {
        if cfg!(windows) {
            Os::Windows
        } else if cfg!(target_os = "macos") {
            Os::Macos
        } else {
            Os::Linux
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Os::Windows => "windows",
            Os::Linux => "linux",
            Os::Macos => "macos",
        }
    }
}

/// One NVIDIA GPU.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Gpu {
    /// contract
    pub index: u32,
    /// contract: e.g. "NVIDIA GeForce RTX 3050 Laptop GPU".
    pub name: String,
    /// contract: total memory in MiB (null when the driver would not say).
    pub memory_mib: Option<u64>,
    /// contract: "8.6", or null when unknown.
    pub compute_capability: Option<String>,
    /// Where the compute capability came from.
    #[serde(default)]
    pub compute_capability_source: Option<FactSource>,
}

/// Where a fact came from; "inferred" facts are shown as such.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum FactSource {
    Nvml,
    NvidiaSmi,
    Proc,
    /// From the GPU-name table (assets/gpu_names.toml): a best guess.
    Inferred,
    /// From a torch probe (`torch.cuda.get_device_capability`).
    Torch,
}

/// The NVIDIA driver.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Driver {
    /// contract: "581.29".
    pub version: String,
    /// contract: highest CUDA the driver supports, "13.0"; null when unknown.
    pub cuda: Option<String>,
    /// Which probe answered.
    #[serde(default)]
    pub source: Option<FactSource>,
}

/// What the GPU probe concluded. Each state has a one-line explanation for humans.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(tag = "state", rename_all = "kebab-case")]
pub enum GpuState {
    /// At least one GPU and a working driver.
    Ready,
    /// No NVIDIA GPU and no NVIDIA driver found.
    #[default]
    NoGpu,
    /// The driver library is present but nvidia-smi/NVML cannot talk to the kernel driver
    /// (dGPU switched off on a hybrid laptop, Secure Boot blocking the module, driver not loaded).
    DriverNotLoaded { detail: String },
    /// "Driver/library version mismatch": the driver was updated without a reboot.
    VersionMismatch { detail: String },
    /// No nvidia-smi and no NVML, but there are signs of an NVIDIA GPU.
    ToolMissing { detail: String },
    /// A probe answered with something torchup could not read.
    Unreadable { detail: String },
    /// nvidia-smi (or NVML) did not answer in time: a wedged driver, often after suspend.
    TimedOut { detail: String },
}

/// The target Python interpreter.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PythonFacts {
    /// contract: the real interpreter (`sys.executable`).
    pub executable: String,
    /// contract: "3.11.7".
    pub version: String,
    /// contract: 64 or 32.
    pub bits: u8,
    /// contract: "venv" | "conda" | "system" | "other".
    pub env: EnvKind,
    /// contract: PEP 668 EXTERNALLY-MANAGED marker present (and not inside a venv).
    pub externally_managed: bool,
    /// "cpython", "pypy", ...
    #[serde(default)]
    pub implementation: String,
    /// `sysconfig.get_platform()`, e.g. "linux-x86_64", "win-amd64".
    #[serde(default)]
    pub platform: String,
    /// `sys.prefix`.
    #[serde(default)]
    pub prefix: String,
    /// pip's version, or null when pip is missing from this interpreter.
    #[serde(default)]
    pub pip_version: Option<String>,
    /// uv on PATH (any version), usable as `uv pip --python`.
    #[serde(default)]
    pub uv_available: bool,
    /// conda executable usable for this env (conda envs only).
    #[serde(default)]
    pub conda_available: bool,
    /// Why this interpreter was chosen ("--python", "VIRTUAL_ENV", "CONDA_PREFIX", "PATH", "py launcher").
    #[serde(default)]
    pub chosen_because: String,
    /// Packages in the user site that shadow this env (F06), e.g. "torch 2.1.0 in ~/.local/...".
    #[serde(default)]
    pub user_site_shadowing: Vec<String>,
    /// Index settings that point pip at the CPU index (F05): "PIP_EXTRA_INDEX_URL=...".
    #[serde(default)]
    pub pip_index_overrides: Vec<String>,
    /// `CUDA_VISIBLE_DEVICES` when set (F35: "" or "-1" hides every GPU).
    #[serde(default)]
    pub cuda_visible_devices: Option<String>,
}

/// Kind of Python environment.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum EnvKind {
    Venv,
    Conda,
    System,
    Other,
}

impl EnvKind {
    /// The contract's name: "venv" | "conda" | "system" | "other".
    pub fn as_str(self) -> &'static str {
        match self {
            EnvKind::Venv => "venv",
            EnvKind::Conda => "conda",
            EnvKind::System => "system",
            EnvKind::Other => "other",
        }
    }
}

/// An interpreter found during discovery.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PythonCandidate {
    /// The path as found (may be a shim or launcher).
    pub path: String,
    /// Where it was found: "--python", "VIRTUAL_ENV", "CONDA_PREFIX", ".venv", "PATH", "py -0p", "conda env".
    pub found_by: String,
    /// Version if the probe ran.
    pub version: Option<String>,
    /// Whether this is the target.
    pub chosen: bool,
    /// Why it cannot be used, if so (e.g. the Windows Store alias stub, F42).
    pub problem: Option<String>,
}

/// The packages that move together, torch first: torchvision, torchaudio and xformers are
/// compiled against one torch build, so installing, stashing, restoring or uninstalling
/// one of them means all of them. The one list of them.
pub const TORCH_FAMILY: [&str; 4] = ["torch", "torchvision", "torchaudio", "xformers"];

/// The installed torch family in the target interpreter.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
pub struct TorchFacts {
    /// contract: "2.5.1+cpu" — `torch/version.py`'s `__version__`.
    pub version: String,
    /// contract: `torch.version.cuda` ("12.4"), null for a CPU build.
    pub cuda: Option<String>,
    /// contract: torchvision version or null.
    pub torchvision: Option<String>,
    /// contract: torchaudio version or null.
    pub torchaudio: Option<String>,
    /// xformers version or null (compiled against torch: must move with it).
    #[serde(default)]
    pub xformers: Option<String>,
    /// The distribution version pip knows (PyPI wheels have no local label).
    #[serde(default)]
    pub dist_version: Option<String>,
    /// Who installed torch ("pip", "uv", "conda", ...), from INSTALLER / conda-meta.
    #[serde(default)]
    pub installer: Option<String>,
    /// site-packages directory holding torch.
    #[serde(default)]
    pub location: Option<String>,
    /// Other installed distributions that depend on torch and must move with it.
    #[serde(default)]
    pub dependents: Vec<String>,
}

impl TorchFacts {
    /// The wheel variant of the installed build: "cpu", "cu124", ... decided from
    /// `torch.version.cuda` (never from the version suffix, which PyPI wheels lack).
    pub fn variant(&self) -> String {
        crate::version::variant_of_torch_cuda(self.cuda.as_deref())
    }

    /// Every installed member of [`TORCH_FAMILY`] with its version, torch first.
    pub fn members(&self) -> Vec<(&'static str, &str)> {
        let companions = [&self.torchvision, &self.torchaudio, &self.xformers];
        let mut out = vec![(TORCH_FAMILY[0], self.version.as_str())];
        out.extend(TORCH_FAMILY[1..].iter().zip(companions).filter_map(|(name, v)| Some((*name, v.as_deref()?))));
        out
    }
}

/// A CUDA toolkit found on the machine (informational only).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CudaToolkit {
    pub cuda_path: Option<String>,
    pub nvcc_version: Option<String>,
}

/// Parse a compute capability "8.6" into (8, 6): the one "major.minor" rule.
pub use crate::version::parse_major_minor as parse_capability;

/// Fixtures for unit tests: one bare machine and one interpreter, which tests adjust with
/// struct-update syntax instead of spelling every field again.
#[cfg(test)]
impl Facts {
    /// A Linux x86_64 machine with nothing found: no GPU, no driver, no Python, no torch.
    pub(crate) fn bare_linux() -> Facts {
        Facts {
            schema: FACTS_SCHEMA,
            os: Os::Linux,
            cpu_arch: "x86_64".into(),
            wsl: false,
            gpus: vec![],
            driver: None,
            gpu_state: GpuState::default(),
            python: None,
            torch: None,
            python_candidates: vec![],
            cuda_toolkit: None,
            notes: vec![],
        }
    }
}

#[cfg(test)]
impl PythonFacts {
    /// A 64-bit CPython 3.11.7 venv at `prefix` with pip 24.2 (Linux paths), chosen
    /// because VIRTUAL_ENV pointed at it.
    pub(crate) fn venv_for_tests(prefix: &str) -> PythonFacts {
        PythonFacts {
            executable: format!("{prefix}/bin/python"),
            version: "3.11.7".into(),
            bits: 64,
            env: EnvKind::Venv,
            externally_managed: false,
            implementation: "cpython".into(),
            platform: "linux-x86_64".into(),
            prefix: prefix.into(),
            pip_version: Some("24.2".into()),
            uv_available: false,
            conda_available: false,
            chosen_because: "VIRTUAL_ENV".into(),
            user_site_shadowing: vec![],
            pip_index_overrides: vec![],
            cuda_visible_devices: None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_family_is_torch_first_then_what_is_installed() {
        let t = TorchFacts {
            version: "2.5.1+cpu".into(),
            torchaudio: Some("2.5.1+cpu".into()),
            xformers: Some("0.0.28.post3".into()),
            ..TorchFacts::default()
        };
        assert_eq!(t.members(), [("torch", "2.5.1+cpu"), ("torchaudio", "2.5.1+cpu"), ("xformers", "0.0.28.post3")]);
        assert!(t.members().iter().all(|(name, _)| TORCH_FAMILY.contains(name)));
    }

    #[test]
    fn variant_comes_from_cuda_field_not_suffix() {
        let t = TorchFacts { version: "2.15.0".into(), cuda: Some("13.2".into()), ..Default::default() };
        assert_eq!(t.variant(), "cu132");
        let cpu = TorchFacts { cuda: None, version: "2.5.1+cu124".into(), ..t };
        assert_eq!(cpu.variant(), "cpu");
    }

    #[test]
    fn capability_parses() {
        assert_eq!(parse_capability("8.6"), Some((8, 6)));
        assert_eq!(parse_capability(" 12.0 "), Some((12, 0)));
        assert_eq!(parse_capability("x"), None);
    }
}
