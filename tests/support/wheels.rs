//! Fake torch-family wheels: real wheel files (dist-info, RECORD with hashes) that real pip
//! installs, holding the pure-Python fake packages in tests/support/fake_torch/ plus the
//! build facts baked per wheel (version, CUDA level, compiled architectures, cuDNN).
//!
//! The archive is written by tests/support/wheelbuild.py (zipfile + hashlib), run by the
//! base Python; this module decides what goes in it.

use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::{Context, Result, bail};
use serde::{Deserialize, Serialize};
use serde_json::json;

use super::proc;
use super::python::{base_python, py_info};

/// Where the fake packages' sources live.
pub fn fake_source_root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/support/fake_torch")
}

fn builder_script() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/support/wheelbuild.py")
}

/// The packages the kit can build.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Package {
    Torch,
    Torchvision,
    Torchaudio,
    Xformers,
}

impl Package {
    pub fn name(self) -> &'static str {
        match self {
            Package::Torch => "torch",
            Package::Torchvision => "torchvision",
            Package::Torchaudio => "torchaudio",
            Package::Xformers => "xformers",
        }
    }
}

/// A wheel's compatibility tags.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Tags {
    pub python: String,
    pub abi: String,
    pub platform: String,
}

impl Tags {
    pub fn new(python: &str, abi: &str, platform: &str) -> Tags {
        Tags { python: python.into(), abi: abi.into(), platform: platform.into() }
    }

    /// The exact tags of `python` (e.g. cp311-cp311-linux_x86_64): pip always accepts them.
    pub fn of(python: &Path) -> Result<Tags> {
        let info = py_info(python)?;
        Ok(Tags::new(&info.cp_tag, &info.cp_tag, &info.platform_tag))
    }

    /// The base Python's tags; what venvs made by [`super::python::make_venv`] accept.
    pub fn host() -> Result<Tags> {
        Tags::of(&base_python()?)
    }

    /// The same platform for another CPython, e.g. `host.with_cpython(3, 12)` to build wheels
    /// this interpreter will reject ("No matching distribution found").
    pub fn with_cpython(&self, major: u32, minor: u32) -> Tags {
        let cp = format!("cp{major}{minor}");
        Tags::new(&cp, &cp, &self.platform)
    }

    pub fn with_platform(&self, platform: &str) -> Tags {
        Tags::new(&self.python, &self.abi, platform)
    }

    /// "linux", "windows" or "macos", from the platform tag (decides the arch-list table).
    pub fn os(&self) -> &'static str {
        if self.platform.starts_with("win") {
            "windows"
        } else if self.platform.starts_with("macosx") {
            "macos"
        } else {
            "linux"
        }
    }

    pub fn triple(&self) -> String {
        format!("{}-{}-{}", self.python, self.abi, self.platform)
    }
}

/// Everything that decides one wheel. Start from [`WheelSpec::torch`] and friends, adjust
/// with the `with_*` methods.
#[derive(Debug, Clone)]
pub struct WheelSpec {
    pub package: Package,
    /// Public version, "2.5.1".
    pub version: String,
    /// Local label: "cu124", "cpu", or None (a PyPI-style wheel).
    pub local: Option<String>,
    pub tags: Tags,
    /// CUDA level baked in ("12.4"); None for a CPU build.
    pub cuda: Option<String>,
    /// torch only: `torch.cuda.get_arch_list()` of this build.
    pub arch_list: Vec<String>,
    /// torch only: `torch.backends.cudnn.version()`.
    pub cudnn: Option<u32>,
    /// Companions: the torch they were compiled against ("2.5.1+cu124").
    pub torch_version: Option<String>,
    /// Requires-Dist lines.
    pub requires: Vec<String>,
    pub requires_python: Option<String>,
    /// Benchmarks: MiB of incompressible bulk inside the package (0: none).
    pub payload_mib: u32,
}

impl WheelSpec {
    /// torch `version` for `variant` ("cpu", "cu124", ...), with the real release's arch list
    /// for the tags' OS (docs/planner.md, arch lists), its cuDNN and Requires-Python.
    pub fn torch(version: &str, variant: &str, tags: &Tags) -> WheelSpec {
        let cuda = variant_cuda(variant);
        WheelSpec {
            package: Package::Torch,
            version: version.into(),
            local: Some(variant.into()),
            tags: tags.clone(),
            arch_list: if cuda.is_some() { default_arch_list(version, variant, tags.os()) } else { Vec::new() },
            cudnn: default_cudnn(version, variant),
            cuda,
            torch_version: None,
            requires: Vec::new(),
            requires_python: Some(torch_requires_python(version).into()),
            payload_mib: 0,
        }
    }

    /// torchvision `version` for `variant`, built against torch `torch_version` ("2.5.1");
    /// `Requires-Dist: torch==2.5.1` like the real wheels (no local label: pip lets an
    /// installed `+cpu` torch satisfy it, which is the trap torchup must avoid).
    pub fn torchvision(version: &str, variant: &str, torch_version: &str, tags: &Tags) -> WheelSpec {
        Self::companion(Package::Torchvision, version, variant, torch_version, tags)
    }

    /// torchaudio, as [`WheelSpec::torchvision`].
    pub fn torchaudio(version: &str, variant: &str, torch_version: &str, tags: &Tags) -> WheelSpec {
        Self::companion(Package::Torchaudio, version, variant, torch_version, tags)
    }

    /// xformers `version` built for exactly `torch_full_version` ("2.5.1+cu124"); PyPI-style
    /// (no local label), pinned to the torch base version.
    pub fn xformers(version: &str, torch_full_version: &str, tags: &Tags) -> WheelSpec {
        let base = torch_full_version.split('+').next().unwrap_or(torch_full_version);
        let variant = torch_full_version.split_once('+').map(|(_, l)| l).unwrap_or("cpu");
        let mut spec = Self::companion(Package::Xformers, version, variant, base, tags);
        spec.local = None;
        spec.torch_version = Some(torch_full_version.into());
        spec
    }

    fn companion(package: Package, version: &str, variant: &str, torch_version: &str, tags: &Tags) -> WheelSpec {
        let base = torch_version.split('+').next().unwrap_or(torch_version);
        WheelSpec {
            package,
            version: version.into(),
            local: Some(variant.into()),
            tags: tags.clone(),
            cuda: variant_cuda(variant),
            arch_list: Vec::new(),
            cudnn: None,
            torch_version: Some(format!("{base}+{variant}")),
            requires: vec![format!("torch=={base}")],
            requires_python: Some(torch_requires_python(base).into()),
            payload_mib: 0,
        }
    }

    /// torch `torch_version` for `variant` with its paired torchvision and torchaudio (when that
    /// release has one), as on download.pytorch.org.
    pub fn family(torch_version: &str, variant: &str, tags: &Tags) -> Vec<WheelSpec> {
        let mut out = vec![WheelSpec::torch(torch_version, variant, tags)];
        let (tv, ta) = companion_versions(torch_version);
        if let Some(tv) = tv {
            out.push(WheelSpec::torchvision(&tv, variant, torch_version, tags));
        }
        if let Some(ta) = ta {
            out.push(WheelSpec::torchaudio(&ta, variant, torch_version, tags));
        }
        out
    }

    pub fn with_arch_list(mut self, arches: &[&str]) -> Self {
        self.arch_list = arches.iter().map(|s| s.to_string()).collect();
        self
    }

    pub fn with_cuda(mut self, cuda: Option<&str>) -> Self {
        self.cuda = cuda.map(String::from);
        self
    }

    pub fn with_cudnn(mut self, cudnn: Option<u32>) -> Self {
        self.cudnn = cudnn;
        self
    }

    pub fn with_tags(mut self, tags: &Tags) -> Self {
        self.tags = tags.clone();
        self
    }

    pub fn with_requires(mut self, reqs: &[&str]) -> Self {
        self.requires = reqs.iter().map(|s| s.to_string()).collect();
        self
    }

    pub fn with_payload_mib(mut self, mib: u32) -> Self {
        self.payload_mib = mib;
        self
    }

    pub fn with_requires_python(mut self, spec: Option<&str>) -> Self {
        self.requires_python = spec.map(String::from);
        self
    }

    /// Drop the local label (a PyPI-style "2.15.0" whose version.py still says +cu132).
    pub fn without_local(mut self) -> Self {
        self.local = None;
        self
    }

    /// "2.5.1+cu124" or "2.5.1".
    pub fn full_version(&self) -> String {
        match &self.local {
            Some(l) => format!("{}+{}", self.version, l),
            None => self.version.clone(),
        }
    }

    /// The wheel's file name.
    pub fn filename(&self) -> String {
        format!("{}-{}-{}.whl", self.package.name(), self.full_version(), self.tags.triple())
    }

    fn to_request(&self) -> serde_json::Value {
        let mut build = serde_json::Map::new();
        build.insert("cuda".into(), json!(self.cuda));
        build.insert("os".into(), json!(self.tags.os()));
        if self.package == Package::Torch {
            // torch/version.py carries the full version even when the wheel has no label
            // (PyPI wheels do that), so the baked version is the build's, with label.
            let label = self.local.clone().or_else(|| self.cuda.as_ref().map(|c| format!("cu{}", c.replace('.', ""))));
            let full = match label {
                Some(l) => format!("{}+{}", self.version, l),
                None => self.version.clone(),
            };
            build.insert("version".into(), json!(full));
            build.insert("arch_list".into(), json!(self.arch_list));
            build.insert("cudnn".into(), json!(self.cudnn));
        } else {
            build.insert("version".into(), json!(self.full_version()));
            build.insert("torch_version".into(), json!(self.torch_version));
            if let Some(py) = self.tags.python.strip_prefix("cp") {
                build.insert("python".into(), json!(format!("{}.{}", &py[..1], &py[1..])));
            }
        }
        json!({
            "package": self.package.name(),
            "version": self.version,
            "local": self.local,
            "python_tag": self.tags.python,
            "abi_tag": self.tags.abi,
            "platform_tag": self.tags.platform,
            "requires": self.requires,
            "requires_python": self.requires_python,
            "payload_mib": self.payload_mib,
            "build": build,
        })
    }
}

/// A wheel on disk.
#[derive(Debug, Clone, Deserialize, Serialize)]
pub struct BuiltWheel {
    pub filename: String,
    pub path: PathBuf,
    /// Hex SHA-256 of the file.
    pub sha256: String,
    pub size: u64,
}

/// Build `specs` into `out_dir` (created if needed) with the base Python. One interpreter run
/// for all of them (~0.1 s).
pub fn build_wheels(out_dir: &Path, specs: &[WheelSpec]) -> Result<Vec<BuiltWheel>> {
    if specs.is_empty() {
        return Ok(Vec::new());
    }
    std::fs::create_dir_all(out_dir).with_context(|| format!("creating {}", out_dir.display()))?;
    let request = json!({
        "source_root": fake_source_root(),
        "out_dir": out_dir,
        "wheels": specs.iter().map(WheelSpec::to_request).collect::<Vec<_>>(),
    });
    let req_file = tempfile::Builder::new().prefix("wheelbuild-").suffix(".json").tempfile()?;
    std::fs::write(req_file.path(), serde_json::to_vec(&request)?)?;
    let mut cmd = std::process::Command::new(base_python()?);
    cmd.arg(builder_script()).arg(req_file.path()).env("PYTHONDONTWRITEBYTECODE", "1");
    let out = proc::run(&mut cmd, Duration::from_secs(60))?.ok().context("building fake wheels")?;
    let built: Vec<BuiltWheel> =
        serde_json::from_str(&out.stdout).with_context(|| format!("wheelbuild.py printed {:?}", out.stdout))?;
    if built.len() != specs.len() {
        bail!("asked for {} wheels, got {}", specs.len(), built.len());
    }
    Ok(built)
}

/// The CUDA level of a variant: "cu124" -> "12.4", "cu118" -> "11.8", "cu130" -> "13.0";
/// None for "cpu" or anything else.
pub fn variant_cuda(variant: &str) -> Option<String> {
    let digits = variant.strip_prefix("cu")?;
    if digits.len() < 3 || !digits.chars().all(|c| c.is_ascii_digit()) {
        return None;
    }
    let (major, minor) = digits.split_at(digits.len() - 1);
    Some(format!("{major}.{minor}"))
}

fn minor_of(torch_version: &str) -> (u32, u32, u32) {
    let mut it = torch_version.split('+').next().unwrap_or("").split('.').map(|p| p.parse::<u32>().unwrap_or(0));
    (it.next().unwrap_or(0), it.next().unwrap_or(0), it.next().unwrap_or(0))
}

fn variant_number(variant: &str) -> u32 {
    variant.strip_prefix("cu").and_then(|d| d.parse().ok()).unwrap_or(0)
}

/// `TORCH_CUDA_ARCH_LIST` of the official wheels (docs/planner.md, arch lists), as
/// `torch.cuda.get_arch_list()` shows it: "7.5" -> "sm_75", "12.0+PTX" -> "sm_120" plus a
/// trailing "compute_120". Unknown variants take the nearest older known one.
pub fn default_arch_list(torch_version: &str, variant: &str, os: &str) -> Vec<String> {
    let (_, minor, _) = minor_of(torch_version);
    let v = variant_number(variant);
    let windows = os == "windows";
    let list: &str = match (v, windows) {
        (0..=117, false) => "3.7;5.0;6.0;7.0;7.5;8.0;8.6",
        (0..=117, true) => "3.7+PTX;5.0;6.0;6.1;7.0;7.5;8.0;8.6",
        (118..=120, false) => "3.7;5.0;6.0;7.0;7.5;8.0;8.6;9.0",
        (118..=120, true) => "3.7+PTX;5.0;6.0;6.1;7.0;7.5;8.0;8.6;9.0",
        (121..=127, false) => "5.0;6.0;7.0;7.5;8.0;8.6;9.0",
        (121..=127, true) => "5.0;6.0;6.1;7.0;7.5;8.0;8.6;9.0",
        (128, _) if minor <= 7 => {
            if windows {
                "7.5;8.0;8.6;9.0;10.0;12.0"
            } else {
                "7.5;8.0;8.6;9.0;10.0;12.0+PTX"
            }
        }
        (128, _) if minor <= 10 => "7.0;7.5;8.0;8.6;9.0;10.0;12.0",
        (128, _) => "7.5;8.0;8.6;9.0;10.0;12.0",
        (129, false) => "7.0;7.5;8.0;8.6;9.0;10.0;12.0+PTX",
        (129, true) => "7.0;7.5;8.0;8.6;9.0;10.0;12.0",
        (_, false) => "7.5;8.0;8.6;9.0;10.0;12.0+PTX",
        (_, true) => "7.5;8.0;8.6;9.0;10.0;12.0",
    };
    let mut sass = Vec::new();
    let mut ptx = Vec::new();
    for entry in list.split(';') {
        let (cc, is_ptx) = match entry.strip_suffix("+PTX") {
            Some(cc) => (cc, true),
            None => (entry, false),
        };
        let n = cc.replace('.', "");
        sass.push(format!("sm_{n}"));
        if is_ptx {
            ptx.push(format!("compute_{n}"));
        }
    }
    sass.extend(ptx);
    sass
}

/// `torch.backends.cudnn.version()` of the official wheels (docs/planner.md).
pub fn default_cudnn(torch_version: &str, variant: &str) -> Option<u32> {
    let v = variant_number(variant);
    if v == 0 {
        return None;
    }
    let (_, minor, _) = minor_of(torch_version);
    Some(match minor {
        0 if v <= 117 => 8500,
        0..=3 if v <= 118 => 8700,
        0..=3 => 8902,
        4..=6 => 90100,
        7 => match v {
            126 => 90501,
            128.. => 90701,
            _ => 90100,
        },
        8..=9 => 91002,
        _ if v <= 126 => 91002,
        10 => 91501,
        11 => 91701,
        12..=13 => 92000,
        _ => 92400,
    })
}

/// Requires-Python of a torch release.
pub fn torch_requires_python(torch_version: &str) -> &'static str {
    match minor_of(torch_version).1 {
        0..=5 => ">=3.8.0",
        6..=8 => ">=3.9.0",
        9..=14 => ">=3.10",
        _ => ">=3.11",
    }
}

/// The torchvision and torchaudio released with a torch version (torchaudio stops at 2.11).
pub fn companion_versions(torch_version: &str) -> (Option<String>, Option<String>) {
    let (major, minor, patch) = minor_of(torch_version);
    if major != 2 {
        return (None, None);
    }
    if minor == 0 {
        return (Some(format!("0.15.{}", patch + 1)), Some(format!("2.0.{}", patch + 1)));
    }
    let tv = Some(format!("0.{}.{}", minor + 15, patch));
    let ta = (minor <= 11).then(|| format!("2.{minor}.{patch}"));
    (tv, ta)
}
