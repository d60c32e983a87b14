//! Wheel platforms and CPython tags: which wheels can install into an interpreter.

use std::fmt;

use serde::{Deserialize, Serialize};

use crate::facts::Os;

/// A platform PyTorch publishes wheels for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub enum WheelPlatform {
    #[serde(rename = "linux-x86_64")]
    LinuxX86_64,
    #[serde(rename = "linux-aarch64")]
    LinuxAarch64,
    #[serde(rename = "windows-x86_64")]
    WindowsX86_64,
    #[serde(rename = "macos-arm64")]
    MacosArm64,
    #[serde(rename = "macos-x86_64")]
    MacosX86_64,
}

impl WheelPlatform {
    pub fn os(self) -> Os {
        match self {
            WheelPlatform::LinuxX86_64 | WheelPlatform::LinuxAarch64 => Os::Linux,
            WheelPlatform::WindowsX86_64 => Os::Windows,
            WheelPlatform::MacosArm64 | WheelPlatform::MacosX86_64 => Os::Macos,
        }
    }

    /// The name used in the data file.
    pub fn as_str(self) -> &'static str {
        match self {
            WheelPlatform::LinuxX86_64 => "linux-x86_64",
            WheelPlatform::LinuxAarch64 => "linux-aarch64",
            WheelPlatform::WindowsX86_64 => "windows-x86_64",
            WheelPlatform::MacosArm64 => "macos-arm64",
            WheelPlatform::MacosX86_64 => "macos-x86_64",
        }
    }

    /// How wheel file names spell it, for messages ("win_amd64").
    pub fn wheel_tag(self) -> &'static str {
        match self {
            WheelPlatform::LinuxX86_64 => "manylinux x86_64",
            WheelPlatform::LinuxAarch64 => "manylinux aarch64",
            WheelPlatform::WindowsX86_64 => "win_amd64",
            WheelPlatform::MacosArm64 => "macosx arm64",
            WheelPlatform::MacosX86_64 => "macosx x86_64",
        }
    }

    /// The platform of an interpreter from `sysconfig.get_platform()` ("win-amd64",
    /// "linux-x86_64", "macosx-11.0-arm64"), falling back to the OS and CPU architecture.
    /// None when PyTorch publishes nothing for it (32-bit, Windows on ARM, ...).
    pub fn of_interpreter(os: Os, machine_arch: &str, sysconfig_platform: &str) -> Option<WheelPlatform> {
        let p = sysconfig_platform.trim().to_ascii_lowercase();
        if !p.is_empty() {
            return match os {
                Os::Windows => (p == "win-amd64").then_some(WheelPlatform::WindowsX86_64),
                Os::Linux if p.ends_with("x86_64") => Some(WheelPlatform::LinuxX86_64),
                Os::Linux if p.ends_with("aarch64") || p.ends_with("arm64") => Some(WheelPlatform::LinuxAarch64),
                Os::Linux => None,
                Os::Macos if p.ends_with("arm64") => Some(WheelPlatform::MacosArm64),
                Os::Macos if p.ends_with("x86_64") => Some(WheelPlatform::MacosX86_64),
                Os::Macos if p.ends_with("universal2") => Some(macos_by_arch(machine_arch)),
                Os::Macos => None,
            };
        }
        match (os, machine_arch) {
            (Os::Windows, "x86_64") => Some(WheelPlatform::WindowsX86_64),
            (Os::Linux, "x86_64") => Some(WheelPlatform::LinuxX86_64),
            (Os::Linux, "aarch64") => Some(WheelPlatform::LinuxAarch64),
            (Os::Macos, a) if a == "aarch64" || a == "x86_64" => Some(macos_by_arch(a)),
            _ => None,
        }
    }
}

fn macos_by_arch(arch: &str) -> WheelPlatform {
    if arch == "x86_64" { WheelPlatform::MacosX86_64 } else { WheelPlatform::MacosArm64 }
}

impl fmt::Display for WheelPlatform {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A CPython minor version (3, 11), spelled "cp311" in wheel tags.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct PyVersion {
    pub major: u32,
    pub minor: u32,
}

impl PyVersion {
    pub const fn new(major: u32, minor: u32) -> Self {
        PyVersion { major, minor }
    }

    /// "3.11.7", "3.12", "3.13.0rc1" → (3, 11) ...
    pub fn parse(s: &str) -> Option<PyVersion> {
        let mut it = s.trim().split('.');
        let major = it.next()?.parse().ok()?;
        let minor_text: String = it.next()?.chars().take_while(|c| c.is_ascii_digit()).collect();
        Some(PyVersion { major, minor: minor_text.parse().ok()? })
    }

    /// "cp311".
    pub fn tag(self) -> String {
        format!("cp{}{}", self.major, self.minor)
    }
}

impl fmt::Display for PyVersion {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}.{}", self.major, self.minor)
    }
}

/// The CPython versions a release publishes wheels for (inclusive).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PyRange {
    pub min: PyVersion,
    pub max: PyVersion,
}

impl PyRange {
    pub fn contains(self, v: PyVersion) -> bool {
        self.min <= v && v <= self.max
    }
}

impl fmt::Display for PyRange {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}–{}", self.min.tag(), self.max.tag())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn interpreter_platforms() {
        assert_eq!(
            WheelPlatform::of_interpreter(Os::Windows, "x86_64", "win-amd64"),
            Some(WheelPlatform::WindowsX86_64)
        );
        assert_eq!(WheelPlatform::of_interpreter(Os::Windows, "x86_64", "win32"), None, "32-bit Python");
        assert_eq!(WheelPlatform::of_interpreter(Os::Windows, "aarch64", "win-arm64"), None);
        assert_eq!(
            WheelPlatform::of_interpreter(Os::Linux, "x86_64", "linux-x86_64"),
            Some(WheelPlatform::LinuxX86_64)
        );
        assert_eq!(WheelPlatform::of_interpreter(Os::Linux, "aarch64", ""), Some(WheelPlatform::LinuxAarch64));
        assert_eq!(
            WheelPlatform::of_interpreter(Os::Macos, "aarch64", "macosx-11.0-arm64"),
            Some(WheelPlatform::MacosArm64)
        );
        assert_eq!(WheelPlatform::of_interpreter(Os::Linux, "x86", "linux-i686"), None);
    }

    #[test]
    fn python_versions() {
        assert_eq!(PyVersion::parse("3.11.7"), Some(PyVersion::new(3, 11)));
        assert_eq!(PyVersion::parse("3.14.0rc2"), Some(PyVersion::new(3, 14)));
        assert_eq!(PyVersion::parse("3.15"), Some(PyVersion::new(3, 15)));
        assert_eq!(PyVersion::parse("x"), None);
        let r = PyRange { min: PyVersion::new(3, 9), max: PyVersion::new(3, 13) };
        assert!(
            r.contains(PyVersion::new(3, 13))
                && !r.contains(PyVersion::new(3, 14))
                && !r.contains(PyVersion::new(3, 8))
        );
        assert_eq!(r.to_string(), "cp39–cp313");
    }
}
