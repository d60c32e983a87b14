//! The bundled compatibility data (assets/compat.toml): CUDA variants with their driver
//! floors, torch releases with Python range, companions and per-platform architecture lists.
//!
//! The file is embedded in the binary, parsed with serde and validated once; a broken file
//! is a build defect caught by the tests, but loading still reports it as an error.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;
use std::str::FromStr;
use std::sync::OnceLock;

use pep440_rs::Version;
use serde::Deserialize;

use super::arch::{ArchList, Capability};
use super::driver::DriverVersion;
use super::platform::{PyRange, PyVersion, WheelPlatform};
use crate::facts::Os;

/// The data file shipped in the binary.
pub const BUNDLED_TOML: &str = include_str!("../../assets/compat.toml");

/// How well a row is established (the evidence labels in assets/compat.toml, docs/planner.md).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Deserialize)]
pub enum Evidence {
    /// Read in the named source file.
    #[serde(rename = "SRC")]
    Src,
    /// Stated in an issue / PR thread.
    #[serde(rename = "ISSUE")]
    Issue,
    /// A secondary copy of an upstream page.
    #[serde(rename = "2ND")]
    Second,
    /// Inference: a decision resting on it says so.
    #[serde(rename = "UNCONFIRMED")]
    Unconfirmed,
}

impl Evidence {
    pub fn label(self) -> &'static str {
        match self {
            Evidence::Src => "[SRC]",
            Evidence::Issue => "[ISSUE]",
            Evidence::Second => "[2ND]",
            Evidence::Unconfirmed => "[UNCONFIRMED]",
        }
    }

    pub fn is_unconfirmed(self) -> bool {
        self == Evidence::Unconfirmed
    }
}

/// Loading or validating the data failed.
#[derive(Debug, thiserror::Error)]
pub enum CompatError {
    #[error("the compatibility data is not valid TOML: {0}")]
    Toml(#[from] toml::de::Error),
    #[error("the compatibility data is inconsistent: {0}")]
    Invalid(String),
}

fn invalid(msg: impl Into<String>) -> CompatError {
    CompatError::Invalid(msg.into())
}

/// A CUDA version such as 13.0, parsed from "13.0" or a variant name "cu130".
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct CudaVersion {
    pub major: u32,
    pub minor: u32,
}

impl CudaVersion {
    /// "cu130" → 13.0, "cu118" → 11.8, "cu134" → 13.4 (the last digit is the minor).
    pub fn of_variant(name: &str) -> Option<CudaVersion> {
        let (major, minor) = crate::version::cuda_of_variant(name)?;
        Some(CudaVersion { major, minor })
    }

    /// The variant name for this CUDA version: 12.4 → "cu124".
    pub fn variant(self) -> String {
        crate::version::variant_of(self.major, self.minor)
    }
}

impl FromStr for CudaVersion {
    type Err = CompatError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let (major, minor) =
            crate::version::parse_major_minor(s).ok_or_else(|| invalid(format!("'{s}' is not a CUDA version")))?;
        Ok(CudaVersion { major, minor })
    }
}

impl fmt::Display for CudaVersion {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}.{}", self.major, self.minor)
    }
}

/// A value per driver table (Linux or Windows).
#[derive(Debug, Clone)]
pub struct PerOs<T> {
    pub linux: T,
    pub windows: T,
}

impl<T> PerOs<T> {
    /// The entry for a driver of this OS (macOS never gets here: it has no CUDA).
    pub fn get(&self, os: Os) -> &T {
        match os {
            Os::Windows => &self.windows,
            Os::Linux | Os::Macos => &self.linux,
        }
    }
}

/// A driver requirement row.
#[derive(Debug, Clone)]
pub struct DriverReq {
    pub version: PerOs<DriverVersion>,
    pub evidence: Evidence,
    pub note: Option<String>,
}

/// A CUDA variant (a /whl/<variant> index).
#[derive(Debug, Clone)]
pub struct VariantInfo {
    pub name: String,
    pub cuda: CudaVersion,
    /// The toolkit build PyTorch compiled with ("12.6.3").
    pub toolkit: String,
    /// Minimum driver to run the wheel at all (minor-version compatibility).
    pub floor: DriverReq,
    /// Driver for full features, PTX JIT included (the toolkit driver).
    pub full: DriverReq,
    /// pytorch-cuda version on the frozen `pytorch` conda channel.
    pub conda: Option<String>,
}

/// One CUDA wheel build: a variant on a platform, and its architecture list.
#[derive(Debug, Clone)]
pub struct Build {
    pub variant: String,
    pub platform: WheelPlatform,
    pub arch: ArchList,
    pub evidence: Evidence,
    pub source: String,
    pub note: Option<String>,
}

/// A release line (2.5): what its patch releases share.
#[derive(Debug, Clone)]
pub struct Line {
    pub minor: String,
    pub python: PyRange,
    /// The CUDA build plain `pip install torch` gives on Linux x86_64.
    pub pypi_linux: Option<String>,
    /// How well `pypi_linux` is established (defaults to the line's evidence), and where from.
    pub pypi_evidence: Evidence,
    pub pypi_source: Option<String>,
    /// Published on the `pytorch` conda channel (torch ≤ 2.5).
    pub conda_channel: bool,
    pub evidence: Evidence,
    pub note: Option<String>,
    /// Platforms with CPU wheels.
    pub cpu: Vec<WheelPlatform>,
    pub builds: Vec<Build>,
}

/// One torch release and its companions.
#[derive(Debug, Clone)]
pub struct Release {
    /// "2.5.1".
    pub torch: String,
    pub version: Version,
    /// Index into [`CompatData::lines`].
    pub line: usize,
    pub torchvision: String,
    /// None from 2.12 on: torchaudio stopped at 2.11.
    pub torchaudio: Option<String>,
    /// Evidence for the release row and its companion pins.
    pub evidence: Evidence,
    pub note: Option<String>,
}

/// The last torchaudio release and what it works with.
#[derive(Debug, Clone)]
pub struct TorchaudioLast {
    pub version: String,
    pub evidence: Evidence,
    pub note: Option<String>,
}

/// Data file header.
#[derive(Debug, Clone, Deserialize)]
pub struct Meta {
    pub version: String,
    pub date: String,
    pub source: String,
}

/// The validated compatibility data.
#[derive(Debug, Clone)]
pub struct CompatData {
    pub meta: Meta,
    variants: BTreeMap<String, VariantInfo>,
    lines: Vec<Line>,
    /// Ascending by version.
    releases: Vec<Release>,
    pub torchaudio_last: TorchaudioLast,
}

impl CompatData {
    /// The bundled data, parsed once per process.
    pub fn bundled() -> Result<&'static CompatData, CompatError> {
        static DATA: OnceLock<Result<CompatData, String>> = OnceLock::new();
        DATA.get_or_init(|| CompatData::from_toml_str(BUNDLED_TOML).map_err(|e| e.to_string()))
            .as_ref()
            .map_err(|e| CompatError::Invalid(e.clone()))
    }

    /// Parse and validate a data file.
    pub fn from_toml_str(s: &str) -> Result<CompatData, CompatError> {
        let raw: RawData = toml::from_str(s)?;
        raw.validate()
    }

    /// Every variant, ascending by CUDA version.
    pub fn variants(&self) -> impl Iterator<Item = &VariantInfo> {
        let mut v: Vec<&VariantInfo> = self.variants.values().collect();
        v.sort_by_key(|x| x.cuda);
        v.into_iter()
    }

    pub fn variant(&self, name: &str) -> Option<&VariantInfo> {
        self.variants.get(name)
    }

    /// Every release, ascending.
    pub fn releases(&self) -> &[Release] {
        &self.releases
    }

    pub fn lines(&self) -> &[Line] {
        &self.lines
    }

    /// The release with this exact version ("2.5.1"; a local label is ignored).
    pub fn release(&self, torch: &str) -> Option<&Release> {
        let v = Version::from_str(torch.trim()).ok()?.without_local();
        self.releases.iter().find(|r| r.version == v)
    }

    /// The CUDA variant PyPI's own Linux x86_64 wheel of `torch` is built for (e.g. 2.5.1 →
    /// cu124), and how well that is established. PyPI's Windows and macOS wheels are CPU-only.
    pub fn pypi_linux_variant(&self, torch: &str) -> Option<(&str, Evidence)> {
        let base = torch.split('+').next().unwrap_or(torch);
        let line = self.line_of(self.release(base)?);
        line.pypi_linux.as_deref().map(|v| (v, line.pypi_evidence))
    }

    /// The CUDA variant of PyPI's Linux wheels of a torch family member ("torch" 2.5.1,
    /// "torchvision" 0.20.1, "torchaudio" 2.5.1): through the release that pins it.
    pub fn pypi_linux_variant_of(&self, package: &str, version: &str) -> Option<&str> {
        let base = version.split('+').next().unwrap_or(version);
        let r = match package {
            "torch" => self.release(base),
            "torchvision" => self.releases().iter().find(|r| r.torchvision == base),
            "torchaudio" => self.releases().iter().find(|r| r.torchaudio.as_deref() == Some(base)),
            _ => None,
        }?;
        self.line_of(r).pypi_linux.as_deref()
    }

    pub fn line_of(&self, r: &Release) -> &Line {
        &self.lines[r.line]
    }

    /// The CUDA build of a release for a variant on a platform.
    pub fn build(&self, r: &Release, variant: &str, platform: WheelPlatform) -> Option<&Build> {
        self.line_of(r).builds.iter().find(|b| b.variant == variant && b.platform == platform)
    }

    /// The newest known build of the same CUDA major on a platform, for variants or
    /// releases the index lists but this data does not know ("assume the newest arch list").
    pub fn newest_build_of_major(&self, major: u32, platform: WheelPlatform) -> Option<(&Release, &Build)> {
        self.releases
            .iter()
            .rev()
            .filter_map(|r| {
                let best = self
                    .line_of(r)
                    .builds
                    .iter()
                    .filter(|b| b.platform == platform)
                    .filter(|b| CudaVersion::of_variant(&b.variant).is_some_and(|c| c.major == major))
                    .max_by_key(|b| CudaVersion::of_variant(&b.variant))?;
                Some((r, best))
            })
            .next()
    }

    /// The newest known variant of a CUDA major (its driver rows stand in for unknown ones).
    pub fn newest_variant_of_major(&self, major: u32) -> Option<&VariantInfo> {
        self.variants.values().filter(|v| v.cuda.major == major).max_by_key(|v| v.cuda)
    }

    /// The oldest GPU any CUDA build on this platform runs natively (for "too old" messages).
    pub fn oldest_supported(&self, platform: WheelPlatform) -> Option<(Capability, &Release, &Build)> {
        self.releases
            .iter()
            .flat_map(|r| self.line_of(r).builds.iter().filter(move |b| b.platform == platform).map(move |b| (r, b)))
            .filter_map(|(r, b)| Some((b.arch.min_sass()?, r, b)))
            .min_by(|a, b| a.0.cmp(&b.0).then(b.1.version.cmp(&a.1.version)))
    }
}

// ----- raw file model --------------------------------------------------------------------

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawData {
    meta: Meta,
    variants: BTreeMap<String, RawVariant>,
    torchaudio: RawTorchaudio,
    line: Vec<RawLine>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawVariant {
    cuda: String,
    toolkit: String,
    floor: RawDriverReq,
    full: RawDriverReq,
    conda: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawDriverReq {
    linux: String,
    windows: String,
    evidence: Evidence,
    note: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawTorchaudio {
    last: String,
    evidence: Evidence,
    note: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawLine {
    minor: String,
    python: RawPy,
    pypi_linux: Option<String>,
    pypi_evidence: Option<Evidence>,
    pypi_source: Option<String>,
    #[serde(default)]
    conda_channel: bool,
    evidence: Evidence,
    note: Option<String>,
    cpu: Vec<WheelPlatform>,
    releases: Vec<RawRelease>,
    cuda: Vec<RawBuild>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawPy {
    min: String,
    max: String,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawRelease {
    torch: String,
    torchvision: String,
    torchaudio: Option<String>,
    evidence: Evidence,
    note: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawBuild {
    variant: String,
    platform: WheelPlatform,
    arch: String,
    evidence: Evidence,
    source: String,
    note: Option<String>,
}

fn driver(s: &str, what: &str) -> Result<DriverVersion, CompatError> {
    s.parse().map_err(|e| invalid(format!("{what}: {e}")))
}

fn version(s: &str, what: &str) -> Result<Version, CompatError> {
    Version::from_str(s).map_err(|e| invalid(format!("{what}: '{s}' is not a PEP 440 version ({e})")))
}

impl RawDriverReq {
    fn validate(self, what: &str) -> Result<DriverReq, CompatError> {
        Ok(DriverReq {
            version: PerOs {
                linux: driver(&self.linux, &format!("{what} (linux)"))?,
                windows: driver(&self.windows, &format!("{what} (windows)"))?,
            },
            evidence: self.evidence,
            note: self.note,
        })
    }
}

impl RawData {
    fn validate(self) -> Result<CompatData, CompatError> {
        if self.meta.version.trim().is_empty() {
            return Err(invalid("meta.version is empty"));
        }
        jiff::civil::Date::from_str(&self.meta.date)
            .map_err(|e| invalid(format!("meta.date '{}' is not a date: {e}", self.meta.date)))?;

        let mut variants = BTreeMap::new();
        for (name, rv) in self.variants {
            let cuda: CudaVersion = rv.cuda.parse()?;
            if CudaVersion::of_variant(&name) != Some(cuda) {
                return Err(invalid(format!("variant {name}: cuda = \"{cuda}\" does not match its name")));
            }
            let floor = rv.floor.validate(&format!("variant {name} floor"))?;
            let full = rv.full.validate(&format!("variant {name} full"))?;
            if full.version.linux < floor.version.linux || full.version.windows < floor.version.windows {
                return Err(invalid(format!("variant {name}: the full-feature driver is below the floor")));
            }
            variants
                .insert(name.clone(), VariantInfo { name, cuda, toolkit: rv.toolkit, floor, full, conda: rv.conda });
        }

        let mut lines = Vec::new();
        let mut releases: Vec<Release> = Vec::new();
        for (li, rl) in self.line.into_iter().enumerate() {
            let what = format!("line {}", rl.minor);
            let python = PyRange {
                min: PyVersion::parse(&rl.python.min).ok_or_else(|| invalid(format!("{what}: bad python.min")))?,
                max: PyVersion::parse(&rl.python.max).ok_or_else(|| invalid(format!("{what}: bad python.max")))?,
            };
            if python.min > python.max || python.min.major != 3 {
                return Err(invalid(format!("{what}: python range {python} is empty")));
            }
            if rl.releases.is_empty() || rl.cuda.is_empty() || rl.cpu.is_empty() {
                return Err(invalid(format!("{what}: needs releases, cuda builds and cpu platforms")));
            }
            let mut seen = BTreeSet::new();
            let mut builds = Vec::new();
            for b in rl.cuda {
                let bwhat = format!("{what} build {} {}", b.variant, b.platform);
                if !variants.contains_key(&b.variant) {
                    return Err(invalid(format!("{bwhat}: unknown variant")));
                }
                if b.platform.os() == Os::Macos {
                    return Err(invalid(format!("{bwhat}: macOS has no CUDA builds")));
                }
                if !seen.insert((b.variant.clone(), b.platform)) {
                    return Err(invalid(format!("{bwhat}: listed twice")));
                }
                let arch = b.arch.parse().map_err(|e| invalid(format!("{bwhat}: {e}")))?;
                builds.push(Build {
                    variant: b.variant,
                    platform: b.platform,
                    arch,
                    evidence: b.evidence,
                    source: b.source,
                    note: b.note,
                });
            }
            if let Some(p) = &rl.pypi_linux
                && !builds.iter().any(|b| &b.variant == p && b.platform == WheelPlatform::LinuxX86_64)
            {
                return Err(invalid(format!("{what}: pypi_linux {p} is not one of its linux-x86_64 builds")));
            }
            for r in rl.releases {
                let v = version(&r.torch, &what)?;
                if v.is_local() || !r.torch.starts_with(&format!("{}.", rl.minor)) {
                    return Err(invalid(format!("{what}: release {} does not belong to it", r.torch)));
                }
                version(&r.torchvision, &format!("{what} torchvision"))?;
                if let Some(a) = &r.torchaudio {
                    version(a, &format!("{what} torchaudio"))?;
                }
                if let Some(prev) = releases.last()
                    && prev.version >= v
                {
                    return Err(invalid(format!("releases out of order: {} after {}", r.torch, prev.torch)));
                }
                releases.push(Release {
                    torch: r.torch,
                    version: v,
                    line: li,
                    torchvision: r.torchvision,
                    torchaudio: r.torchaudio,
                    evidence: r.evidence,
                    note: r.note,
                });
            }
            lines.push(Line {
                minor: rl.minor,
                python,
                pypi_linux: rl.pypi_linux,
                pypi_evidence: rl.pypi_evidence.unwrap_or(rl.evidence),
                pypi_source: rl.pypi_source,
                conda_channel: rl.conda_channel,
                evidence: rl.evidence,
                note: rl.note,
                cpu: rl.cpu,
                builds,
            });
        }

        let last = &self.torchaudio.last;
        if !releases.iter().any(|r| r.torchaudio.as_deref() == Some(last.as_str())) {
            return Err(invalid(format!("torchaudio.last {last} is not the torchaudio of any release")));
        }
        let last_v = version(last, "torchaudio.last")?;
        if let Some(r) = releases.iter().find(|r| r.version > last_v && r.torchaudio.is_some()) {
            return Err(invalid(format!("torch {} pins a torchaudio, but torchaudio stopped at {last}", r.torch)));
        }

        Ok(CompatData {
            meta: self.meta,
            variants,
            lines,
            releases,
            torchaudio_last: TorchaudioLast {
                version: self.torchaudio.last,
                evidence: self.torchaudio.evidence,
                note: self.torchaudio.note,
            },
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bundled_data_loads_and_validates() {
        let d = CompatData::bundled().expect("bundled data must validate");
        assert!(!d.releases().is_empty());
        assert_eq!(d.meta.date, "2026-11-24");
    }

    #[test]
    fn cuda_versions_from_variant_names() {
        assert_eq!(CudaVersion::of_variant("cu118"), Some(CudaVersion { major: 11, minor: 8 }));
        assert_eq!(CudaVersion::of_variant("cu134"), Some(CudaVersion { major: 13, minor: 4 }));
        assert_eq!(CudaVersion::of_variant("cu92"), Some(CudaVersion { major: 9, minor: 2 }));
        assert_eq!(CudaVersion::of_variant("cpu"), None);
        assert_eq!(CudaVersion::of_variant("cu1"), None);
        assert_eq!(CudaVersion { major: 12, minor: 4 }.variant(), "cu124");
    }

    #[test]
    fn broken_files_are_refused_with_the_row_named() {
        let bad_arch = BUNDLED_TOML.replacen("arch = \"3.7;5.0;6.0;7.0;7.5;8.0;8.6\"", "arch = \"3.7;x\"", 1);
        let e = CompatData::from_toml_str(&bad_arch).unwrap_err().to_string();
        assert!(e.contains("line 2.0 build cu117 linux-x86_64"), "{e}");

        let unknown_variant = BUNDLED_TOML.replacen("{ variant = \"cu117\"", "{ variant = \"cu999\"", 1);
        let e = CompatData::from_toml_str(&unknown_variant).unwrap_err().to_string();
        assert!(e.contains("unknown variant"), "{e}");

        let bad_floor = BUNDLED_TOML.replacen("linux = \"450.80.02\"", "linux = \"450.x\"", 1);
        let e = CompatData::from_toml_str(&bad_floor).unwrap_err().to_string();
        assert!(e.contains("variant cu117 floor (linux)"), "{e}");

        let audio = BUNDLED_TOML.replacen(
            "{ torch = \"2.13.0\", torchvision = \"0.28.0\"",
            "{ torch = \"2.13.0\", torchvision = \"0.28.0\", torchaudio = \"2.13.0\"",
            1,
        );
        let e = CompatData::from_toml_str(&audio).unwrap_err().to_string();
        assert!(e.contains("torchaudio stopped at 2.11.0"), "{e}");

        let e = CompatData::from_toml_str("meta = 1").unwrap_err().to_string();
        assert!(e.contains("not valid TOML"), "{e}");
    }
}
