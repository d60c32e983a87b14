//! Which wheels an interpreter can install: Python/ABI/platform tag matching.
//!
//! This is a deliberate subset of `packaging.tags` for CPython on the three desktop OSes,
//! enough to say which torch versions an index offers for *this* Python. pip still makes the
//! final choice; this only keeps the plan from pinning a version that has no wheel here.

use std::str::FromStr;

use pep440_rs::Version;

use super::available::{VariantListing, WheelFile};
use crate::facts::{Os, PythonFacts};

/// CPU architecture, normalized across the spellings of `uname`, Windows and wheel tags.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum CpuArch {
    X86_64,
    Aarch64,
    X86,
}

impl CpuArch {
    /// "x86_64"/"amd64"/"x64", "aarch64"/"arm64", "i686"/"i386"/"x86"/"win32".
    pub fn parse(s: &str) -> Option<CpuArch> {
        match s.to_ascii_lowercase().as_str() {
            "x86_64" | "amd64" | "x64" => Some(CpuArch::X86_64),
            "aarch64" | "arm64" => Some(CpuArch::Aarch64),
            "i686" | "i586" | "i486" | "i386" | "x86" | "win32" => Some(CpuArch::X86),
            _ => None,
        }
    }
}

/// What a wheel must fit: a CPython X.Y on an OS and architecture.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InterpreterTags {
    pub major: u32,
    pub minor: u32,
    /// A free-threaded build (`python3.13t`) needs `cp313t` wheels and nothing else.
    pub free_threaded: bool,
    pub os: Os,
    pub cpu_arch: CpuArch,
    /// glibc version on Linux; None = unknown, any `manylinux_X_Y` is accepted.
    pub glibc: Option<(u32, u32)>,
    /// macOS version; None = unknown, any `macosx_X_Y` is accepted.
    pub macos: Option<(u32, u32)>,
}

/// Why interpreter tags could not be built from what detection found.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TagsError {
    #[error("cannot read the Python version `{0}` (expected e.g. 3.11.7)")]
    BadVersion(String),
    #[error("unknown CPU architecture `{0}` (expected x86_64, aarch64/arm64 or x86)")]
    BadArch(String),
}

impl InterpreterTags {
    /// A CPython `major.minor` on `os`/`arch`, libc and macOS versions unknown.
    pub fn new(major: u32, minor: u32, os: Os, arch: CpuArch) -> InterpreterTags {
        InterpreterTags { major, minor, free_threaded: false, os, cpu_arch: arch, glibc: None, macos: None }
    }

    /// From detected facts: the version "3.11.7", `sysconfig.get_platform()` when known
    /// (it tells a 32-bit Python on a 64-bit OS apart), else the OS architecture and bits.
    pub fn from_python(py: &PythonFacts, os: Os, os_arch: &str) -> Result<InterpreterTags, TagsError> {
        let (major, minor) = parse_major_minor(&py.version).ok_or_else(|| TagsError::BadVersion(py.version.clone()))?;
        let arch = arch_from_sysconfig(&py.platform)
            .or_else(|| {
                let a = CpuArch::parse(os_arch)?;
                // A 32-bit Python on a 64-bit x86 OS installs 32-bit wheels.
                Some(if py.bits == 32 && a == CpuArch::X86_64 { CpuArch::X86 } else { a })
            })
            .ok_or_else(|| TagsError::BadArch(os_arch.to_string()))?;
        let mut tags = InterpreterTags::new(major, minor, os, arch);
        tags.macos = macos_from_sysconfig(&py.platform);
        Ok(tags)
    }

    /// Whether a wheel with these tag sets installs here (any combination may match).
    pub fn accepts(&self, python_tags: &[String], abi_tags: &[String], platform_tags: &[String]) -> bool {
        platform_tags.iter().any(|p| self.platform_ok(p))
            && python_tags.iter().any(|py| abi_tags.iter().any(|abi| self.python_abi_ok(py, abi)))
    }

    /// Whether one wheel file of a listing installs here.
    pub fn accepts_file(&self, file: &WheelFile) -> bool {
        let split = |s: &str| s.split('.').map(str::to_string).collect::<Vec<_>>();
        self.accepts(&split(&file.python_tag), &split(&file.abi_tag), &split(&file.platform_tag))
    }

    fn python_abi_ok(&self, py: &str, abi: &str) -> bool {
        let cp_exact = format!("cp{}{}", self.major, self.minor);
        if self.free_threaded {
            // Free-threaded builds take only their own ABI (abi3 and pure wheels aside).
            return (py == cp_exact && abi == format!("{cp_exact}t")) || (abi == "none" && self.pure_python_ok(py));
        }
        match abi {
            "none" => py == cp_exact || self.pure_python_ok(py),
            "abi3" => cp_minor(py, self.major).is_some_and(|m| m >= 2 && m <= self.minor),
            _ => py == cp_exact && abi == cp_exact,
        }
    }

    /// `py3`, or `py3Y` with Y ≤ this minor.
    fn pure_python_ok(&self, py: &str) -> bool {
        let Some(rest) = py.strip_prefix("py") else { return false };
        let major = self.major.to_string();
        match rest.strip_prefix(major.as_str()) {
            Some("") => true,
            Some(minor) => minor.parse::<u32>().is_ok_and(|m| m <= self.minor),
            None => false,
        }
    }

    fn platform_ok(&self, tag: &str) -> bool {
        if tag == "any" {
            return true;
        }
        match self.os {
            Os::Windows => {
                tag == match self.cpu_arch {
                    CpuArch::X86_64 => "win_amd64",
                    CpuArch::Aarch64 => "win_arm64",
                    CpuArch::X86 => "win32",
                }
            }
            Os::Linux => self.linux_ok(tag),
            Os::Macos => self.macos_ok(tag),
        }
    }

    fn linux_ok(&self, tag: &str) -> bool {
        let arch = match self.cpu_arch {
            CpuArch::X86_64 => "x86_64",
            CpuArch::Aarch64 => "aarch64",
            CpuArch::X86 => "i686",
        };
        let Some(head) = tag.strip_suffix(arch).and_then(|h| h.strip_suffix('_')) else { return false };
        let needed = match head {
            "linux" => return true,
            "manylinux1" => (2, 5),
            "manylinux2010" => (2, 12),
            "manylinux2014" => (2, 17),
            _ => match head.strip_prefix("manylinux_").and_then(parse_pair) {
                Some(v) => v,
                // musllinux and anything unknown: not for a glibc desktop.
                None => return false,
            },
        };
        self.glibc.is_none_or(|have| have >= needed)
    }

    fn macos_ok(&self, tag: &str) -> bool {
        let Some(rest) = tag.strip_prefix("macosx_") else { return false };
        // rest = "11_0_arm64" / "10_9_universal2" / "10_15_x86_64"
        let mut it = rest.splitn(3, '_');
        let (Some(maj), Some(min), Some(arch)) = (it.next(), it.next(), it.next()) else { return false };
        let (Ok(maj), Ok(min)) = (maj.parse::<u32>(), min.parse::<u32>()) else { return false };
        let arch_ok = match self.cpu_arch {
            CpuArch::Aarch64 => matches!(arch, "arm64" | "universal2"),
            CpuArch::X86_64 => matches!(arch, "x86_64" | "intel" | "universal2" | "universal" | "fat64" | "fat3"),
            CpuArch::X86 => matches!(arch, "i386" | "intel" | "universal" | "fat" | "fat3" | "fat32"),
        };
        arch_ok && self.macos.is_none_or(|have| have >= (maj, min))
    }
}

/// The versions of a listing that have at least one wheel for this interpreter, newest first,
/// each once (local labels kept: "2.5.1+cu124").
pub fn versions_for(listing: &VariantListing, tags: &InterpreterTags) -> Vec<Version> {
    let mut out: Vec<Version> =
        compatible_files(listing, tags).filter_map(|f| Version::from_str(&f.version).ok()).collect();
    out.sort_unstable_by(|a, b| b.cmp(a));
    out.dedup();
    out
}

/// The wheel files of a listing that install on this interpreter.
pub fn compatible_files<'a>(
    listing: &'a VariantListing,
    tags: &'a InterpreterTags,
) -> impl Iterator<Item = &'a WheelFile> + 'a {
    listing.files.iter().filter(move |f| tags.accepts_file(f))
}

/// "3.11.7" → (3, 11).
fn parse_major_minor(version: &str) -> Option<(u32, u32)> {
    let mut it = version.trim().split('.');
    let major = it.next()?.parse().ok()?;
    let minor_raw = it.next()?;
    // "3.13t" / "3.14.0rc1": take the leading digits of the minor.
    let digits: String = minor_raw.chars().take_while(char::is_ascii_digit).collect();
    Some((major, digits.parse().ok()?))
}

/// `cp3Y` → Y when the major matches.
fn cp_minor(py: &str, major: u32) -> Option<u32> {
    py.strip_prefix("cp")?.strip_prefix(major.to_string().as_str())?.parse().ok()
}

/// "2_28" → (2, 28).
fn parse_pair(s: &str) -> Option<(u32, u32)> {
    let (a, b) = s.split_once('_')?;
    Some((a.parse().ok()?, b.parse().ok()?))
}

/// `sysconfig.get_platform()`: "linux-x86_64", "win-amd64", "win32", "macosx-11.0-arm64".
fn arch_from_sysconfig(platform: &str) -> Option<CpuArch> {
    if platform == "win32" {
        return Some(CpuArch::X86);
    }
    CpuArch::parse(platform.rsplit('-').next()?)
}

/// "macosx-11.0-arm64" → (11, 0).
fn macos_from_sysconfig(platform: &str) -> Option<(u32, u32)> {
    let mut it = platform.strip_prefix("macosx-")?.split('-');
    let (a, b) = it.next()?.split_once('.')?;
    Some((a.parse().ok()?, b.parse().ok()?))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::compat::wheel_name::WheelName;

    fn linux(minor: u32) -> InterpreterTags {
        InterpreterTags::new(3, minor, Os::Linux, CpuArch::X86_64)
    }

    fn ok(tags: &InterpreterTags, file: &str) -> bool {
        let w = WheelName::parse(file).unwrap();
        tags.accepts(&w.python_tags, &w.abi_tags, &w.platform_tags)
    }

    #[test]
    fn tag_table() {
        let win = InterpreterTags::new(3, 11, Os::Windows, CpuArch::X86_64);
        let win32 = InterpreterTags::new(3, 11, Os::Windows, CpuArch::X86);
        let win_arm = InterpreterTags::new(3, 12, Os::Windows, CpuArch::Aarch64);
        let mac = InterpreterTags::new(3, 12, Os::Macos, CpuArch::Aarch64);
        let mut mac_old = InterpreterTags::new(3, 12, Os::Macos, CpuArch::Aarch64);
        mac_old.macos = Some((10, 15));
        let mac_intel = InterpreterTags::new(3, 12, Os::Macos, CpuArch::X86_64);
        let arm = InterpreterTags::new(3, 12, Os::Linux, CpuArch::Aarch64);
        let mut old_glibc = linux(12);
        old_glibc.glibc = Some((2, 17));
        let mut ft = linux(13);
        ft.free_threaded = true;

        let table: &[(&InterpreterTags, &str, bool)] = &[
            // Linux x86_64: every spelling of the platform.
            (&linux(11), "torch-2.5.1+cu124-cp311-cp311-linux_x86_64.whl", true),
            (&linux(11), "torch-2.5.1+cu124-cp311-cp311-manylinux1_x86_64.whl", true),
            (&linux(11), "torch-2.5.1+cu124-cp311-cp311-manylinux2014_x86_64.whl", true),
            (&linux(11), "torch-2.7.0+cu128-cp311-cp311-manylinux_2_28_x86_64.whl", true),
            (&linux(11), "torch-2.7.0+cu128-cp311-cp311-manylinux_2_28_aarch64.whl", false),
            (&linux(11), "torch-2.5.1+cu124-cp311-cp311-win_amd64.whl", false),
            (&linux(11), "torch-2.5.1-cp311-none-macosx_11_0_arm64.whl", false),
            (&linux(11), "x-1.0-cp311-cp311-musllinux_1_2_x86_64.whl", false),
            (&linux(11), "torch-2.5.1+cu124-cp311-cp311-linux_i686.whl", false),
            // Python version must match exactly for cpXY/cpXY.
            (&linux(12), "torch-2.5.1+cu124-cp311-cp311-linux_x86_64.whl", false),
            (&linux(9), "torch-2.5.1+cu124-cp39-cp39-linux_x86_64.whl", true),
            (&linux(14), "torch-2.9.0+cu130-cp314-cp314-manylinux_2_28_x86_64.whl", true),
            // Free-threaded ABI only for free-threaded interpreters, and vice versa.
            (&linux(13), "torch-2.6.0+cu124-cp313-cp313t-linux_x86_64.whl", false),
            (&ft, "torch-2.6.0+cu124-cp313-cp313t-linux_x86_64.whl", true),
            (&ft, "torch-2.6.0+cu124-cp313-cp313-linux_x86_64.whl", false),
            (&ft, "x-1.0-cp39-abi3-manylinux2014_x86_64.whl", false),
            (&ft, "x-1.0-py3-none-any.whl", true),
            // glibc floor when known.
            (&old_glibc, "torch-2.7.0+cu128-cp312-cp312-manylinux_2_28_x86_64.whl", false),
            (&old_glibc, "torch-2.5.1+cu124-cp312-cp312-manylinux2014_x86_64.whl", true),
            (&old_glibc, "torch-2.5.1+cu124-cp312-cp312-manylinux_2_17_x86_64.whl", true),
            // abi3 and pure wheels.
            (&linux(12), "x-1.0-cp39-abi3-manylinux_2_17_x86_64.whl", true),
            (&linux(12), "x-1.0-cp313-abi3-manylinux_2_17_x86_64.whl", false),
            (&linux(12), "x-1.0-py3-none-any.whl", true),
            (&linux(12), "x-1.0-py2.py3-none-any.whl", true),
            (&linux(12), "x-1.0-py2-none-any.whl", false),
            (&linux(12), "x-1.0-py313-none-any.whl", false),
            (&linux(12), "x-1.0-py310-none-any.whl", true),
            (&linux(12), "x-1.0-cp312-none-any.whl", true),
            (&linux(12), "x-1.0-pp310-pypy310_pp73-manylinux2014_x86_64.whl", false),
            // Dotted platform sets: any member may match.
            (&arm, "n-2.1.0-cp312-cp312-manylinux_2_17_aarch64.manylinux2014_aarch64.whl", true),
            (&arm, "torch-2.7.0+cu128-cp312-cp312-manylinux_2_28_aarch64.whl", true),
            (&arm, "torch-2.7.0+cu128-cp312-cp312-manylinux_2_28_x86_64.whl", false),
            // Windows.
            (&win, "torch-2.5.1+cu124-cp311-cp311-win_amd64.whl", true),
            (&win, "torch-2.5.1+cu124-cp311-cp311-linux_x86_64.whl", false),
            (&win32, "torch-2.5.1+cu124-cp311-cp311-win_amd64.whl", false),
            (&win32, "x-1.0-cp311-cp311-win32.whl", true),
            (&win_arm, "torch-2.7.0-cp312-cp312-win_arm64.whl", true),
            (&win_arm, "torch-2.7.0-cp312-cp312-win_amd64.whl", false),
            // macOS.
            (&mac, "torch-2.5.1-cp312-none-macosx_11_0_arm64.whl", true),
            (&mac, "x-1.0-cp312-cp312-macosx_10_9_universal2.whl", true),
            (&mac, "torch-2.2.2-cp312-none-macosx_10_9_x86_64.whl", false),
            (&mac_old, "torch-2.5.1-cp312-none-macosx_11_0_arm64.whl", false),
            (&mac_intel, "torch-2.2.2-cp312-none-macosx_10_9_x86_64.whl", true),
            (&mac_intel, "torch-2.5.1-cp312-none-macosx_11_0_arm64.whl", false),
            (&mac, "x-1.0-cp312-cp312-macosx_garbage.whl", false),
        ];
        for (tags, file, want) in table {
            assert_eq!(ok(tags, file), *want, "{file} for {tags:?}");
        }
    }

    #[test]
    fn versions_for_filters_sorts_and_dedups() {
        let names = [
            "torch-2.4.0+cu124-cp311-cp311-linux_x86_64.whl",
            "torch-2.5.1+cu124-cp311-cp311-linux_x86_64.whl",
            "torch-2.5.1+cu124-cp311-cp311-manylinux_2_28_x86_64.whl",
            "torch-2.10.0+cu124-cp311-cp311-win_amd64.whl",
            "torch-2.6.0+cu124-cp312-cp312-linux_x86_64.whl",
            "torch-2.9.0+cu124-cp311-cp311-linux_x86_64.whl",
        ];
        let files = names
            .iter()
            .map(|n| {
                let w = WheelName::parse(n).unwrap();
                WheelFile {
                    filename: n.to_string(),
                    name: w.name,
                    version: w.version.to_string(),
                    python_tag: w.python_tags.join("."),
                    abi_tag: w.abi_tags.join("."),
                    platform_tag: w.platform_tags.join("."),
                    url: format!("https://example.test/{n}"),
                    sha256: None,
                }
            })
            .collect();
        let listing = VariantListing { variant: "cu124".into(), package: "torch".into(), files };
        let got: Vec<String> = versions_for(&listing, &linux(11)).iter().map(ToString::to_string).collect();
        assert_eq!(got, ["2.9.0+cu124", "2.5.1+cu124", "2.4.0+cu124"]);
        let win = InterpreterTags::new(3, 11, Os::Windows, CpuArch::X86_64);
        let got: Vec<String> = versions_for(&listing, &win).iter().map(ToString::to_string).collect();
        assert_eq!(got, ["2.10.0+cu124"]);
        assert!(versions_for(&listing, &linux(13)).is_empty());
    }

    #[test]
    fn tags_from_detected_python() {
        // Built from JSON so that fields added to PythonFacts later do not break this test.
        let mut py: PythonFacts = serde_json::from_value(serde_json::json!({
            "executable": "/usr/bin/python3", "version": "3.11.7", "bits": 64, "env": "system",
            "externally_managed": false, "platform": "linux-x86_64"
        }))
        .unwrap();
        let t = InterpreterTags::from_python(&py, Os::Linux, "x86_64").unwrap();
        assert_eq!((t.major, t.minor, t.cpu_arch), (3, 11, CpuArch::X86_64));

        py.platform = "win32".into();
        py.bits = 32;
        let t = InterpreterTags::from_python(&py, Os::Windows, "AMD64").unwrap();
        assert_eq!(t.cpu_arch, CpuArch::X86);

        py.platform = String::new();
        let t = InterpreterTags::from_python(&py, Os::Windows, "AMD64").unwrap();
        assert_eq!(t.cpu_arch, CpuArch::X86, "32-bit Python on 64-bit Windows");

        py.platform = "macosx-11.0-arm64".into();
        py.bits = 64;
        py.version = "3.13.0rc1".into();
        let t = InterpreterTags::from_python(&py, Os::Macos, "arm64").unwrap();
        assert_eq!((t.minor, t.cpu_arch, t.macos), (13, CpuArch::Aarch64, Some((11, 0))));

        py.version = "three".into();
        assert!(InterpreterTags::from_python(&py, Os::Macos, "arm64").unwrap_err().to_string().contains("3.11.7"));
        py.version = "3.12.1".into();
        py.platform = String::new();
        assert!(InterpreterTags::from_python(&py, Os::Linux, "riscv64").unwrap_err().to_string().contains("riscv64"));
    }
}
