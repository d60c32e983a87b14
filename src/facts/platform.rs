//! The host: OS, CPU architecture, WSL, and a snapshot of the environment variables
//! torchup reads (and where torchup's own executable is). Functions take a [`HostEnv`] value instead of reading the process
//! environment, so every platform's behaviour (Windows paths included) is testable
//! on Linux without `std::env::set_var`.

use std::collections::BTreeMap;
use std::ffi::OsString;
use std::path::{Path, PathBuf};

use super::Os;

/// Environment variables as a value, plus the path of torchup's own executable (an
/// installed torchup targets the environment it sits in: python discovery).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct HostEnv {
    vars: BTreeMap<String, OsString>,
    /// Windows compares variable names case-insensitively.
    case_insensitive: bool,
    /// Where the running torchup binary is; None in tests unless they set it.
    own_exe: Option<PathBuf>,
}

impl HostEnv {
    /// The current process environment and executable.
    pub fn capture() -> Self {
        HostEnv {
            vars: std::env::vars_os().filter_map(|(k, v)| Some((k.into_string().ok()?, v))).collect(),
            case_insensitive: cfg!(windows),
            own_exe: std::env::current_exe().ok(),
        }
    }

    /// An environment made of the given pairs (tests, other platforms).
    pub fn from_pairs<K: Into<String>, V: Into<OsString>>(pairs: impl IntoIterator<Item = (K, V)>) -> Self {
        HostEnv {
            vars: pairs.into_iter().map(|(k, v)| (k.into(), v.into())).collect(),
            case_insensitive: false,
            own_exe: None,
        }
    }

    /// This environment as seen by a torchup binary at `exe`.
    pub fn with_own_exe(mut self, exe: impl Into<PathBuf>) -> Self {
        self.own_exe = Some(exe.into());
        self
    }

    /// The path of the running torchup binary (None when not captured).
    pub fn own_exe(&self) -> Option<&Path> {
        self.own_exe.as_deref()
    }

    /// Treat names case-insensitively, as Windows does.
    pub fn windows_style(mut self) -> Self {
        self.case_insensitive = true;
        self
    }

    pub fn get_os(&self, name: &str) -> Option<&OsString> {
        if self.case_insensitive {
            self.vars.iter().find(|(k, _)| k.eq_ignore_ascii_case(name)).map(|(_, v)| v)
        } else {
            self.vars.get(name)
        }
    }

    /// A variable as UTF-8 text; non-empty values only.
    pub fn get(&self, name: &str) -> Option<String> {
        self.get_os(name).map(|v| v.to_string_lossy().into_owned()).filter(|v| !v.is_empty())
    }

    /// A variable that is set, even if empty (CUDA_VISIBLE_DEVICES="" matters).
    pub fn get_raw(&self, name: &str) -> Option<String> {
        self.get_os(name).map(|v| v.to_string_lossy().into_owned())
    }

    /// This environment with changes applied (`Some` sets, `None` removes), as a child
    /// given those changes would see it.
    pub fn with_changes(&self, changes: &[(String, Option<String>)]) -> HostEnv {
        let mut out = self.clone();
        for (k, v) in changes {
            let existing = out
                .vars
                .keys()
                .find(|name| if out.case_insensitive { name.eq_ignore_ascii_case(k) } else { *name == k })
                .cloned();
            if let Some(name) = existing {
                out.vars.remove(&name);
            }
            if let Some(v) = v {
                out.vars.insert(k.clone(), OsString::from(v));
            }
        }
        out
    }

    pub fn iter(&self) -> impl Iterator<Item = (&str, &OsString)> {
        self.vars.iter().map(|(k, v)| (k.as_str(), v))
    }
}

/// OS, architecture and WSL.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Platform {
    pub os: Os,
    /// "x86_64", "aarch64", "x86", ...
    pub cpu_arch: String,
    pub wsl: bool,
}

impl Platform {
    /// This machine.
    pub fn current() -> Platform {
        let os = Os::current();
        let wsl = os == Os::Linux && std::fs::read_to_string("/proc/version").map(|v| is_wsl(&v)).unwrap_or(false);
        Platform { os, cpu_arch: std::env::consts::ARCH.to_string(), wsl }
    }
}

/// `/proc/version` of a WSL kernel names Microsoft ("...-microsoft-standard-WSL2").
pub fn is_wsl(proc_version: &str) -> bool {
    let v = proc_version.to_ascii_lowercase();
    v.contains("microsoft") || v.contains("wsl")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wsl_kernels_are_recognised() {
        assert!(is_wsl("Linux version 5.15.167.4-microsoft-standard-WSL2 (root@f9c826d3017f) (gcc (GCC) 11.2.0)"));
        assert!(is_wsl("Linux version 4.4.0-19041-Microsoft (Microsoft@Microsoft.com) (gcc version 5.4.0 (GCC) )"));
        assert!(!is_wsl("Linux version 6.1.0-28-amd64 (debian-kernel@lists.debian.org) (gcc-12 (Debian 12.2.0-14)"));
    }

    #[test]
    fn changes_set_and_remove() {
        let env = HostEnv::from_pairs([("Path", "a"), ("KEEP", "1")]).windows_style();
        let changed = env.with_changes(&[("PATH".into(), Some("b".into())), ("KEEP".into(), None)]);
        assert_eq!(changed.get("path").as_deref(), Some("b"));
        assert_eq!(changed.get("KEEP"), None);
    }

    #[test]
    fn windows_env_is_case_insensitive() {
        let env = HostEnv::from_pairs([("SystemRoot", "C:\\Windows"), ("EMPTY", "")]).windows_style();
        assert_eq!(env.get("SYSTEMROOT").as_deref(), Some("C:\\Windows"));
        assert_eq!(env.get("EMPTY"), None);
        assert_eq!(env.get_raw("EMPTY").as_deref(), Some(""));
        let unix = HostEnv::from_pairs([("SystemRoot", "x")]);
        assert_eq!(unix.get("SYSTEMROOT"), None);
    }
}
