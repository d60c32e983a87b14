//! F05: pip settings that send installs to the CPU-only index (`.../whl/cpu`), from the
//! environment (`PIP_INDEX_URL`, `PIP_EXTRA_INDEX_URL`, uv's equivalents) and from the pip
//! configuration files pip itself would read for the target interpreter.

use std::path::{Path, PathBuf};
use std::sync::LazyLock;

use regex::Regex;

use crate::facts::Os;
use crate::facts::platform::HostEnv;

/// Variables whose value is an index URL pip or uv would use.
pub(crate) const INDEX_VARS: &[&str] =
    &["PIP_INDEX_URL", "PIP_EXTRA_INDEX_URL", "UV_INDEX_URL", "UV_EXTRA_INDEX_URL", "UV_DEFAULT_INDEX", "UV_INDEX"];

/// An index URL that serves only CPU wheels: the PyTorch index's `cpu` (or `cpu-cxx11-abi`)
/// variant, or a mirror with the same layout.
static CPU_INDEX: LazyLock<Regex> =
    // Invariant: a constant pattern that compiles (checked by the tests).
    LazyLock::new(|| Regex::new(r"(?i)/whl/cpu(?:[/\-\s]|$)").expect("valid regex"));

/// Whether a URL (or a space-separated list of them) points at a CPU-only index.
pub(crate) fn is_cpu_index(value: &str) -> bool {
    CPU_INDEX.is_match(value)
}

/// The configuration files pip reads, in pip's order (global, user, site, `PIP_CONFIG_FILE`).
/// `PIP_CONFIG_FILE=os.devnull` turns every file off; an existing `PIP_CONFIG_FILE` replaces
/// the user files. `prefix` is the interpreter's `sys.prefix` (site file).
pub(crate) fn config_files(os: Os, env: &HostEnv, prefix: Option<&Path>) -> Vec<PathBuf> {
    let pip_config_file = env.get("PIP_CONFIG_FILE");
    if let Some(f) = &pip_config_file {
        let devnull = if os == Os::Windows { f.eq_ignore_ascii_case("nul") } else { f == "/dev/null" };
        if devnull {
            return Vec::new();
        }
    }
    let home = env.get(if os == Os::Windows { "USERPROFILE" } else { "HOME" }).map(PathBuf::from);
    let mut files = Vec::new();
    match os {
        Os::Windows => {
            if let Some(pd) = env.get("ProgramData") {
                files.push(Path::new(&pd).join("pip").join("pip.ini"));
            }
        }
        Os::Macos => files.push(PathBuf::from("/Library/Application Support/pip/pip.conf")),
        Os::Linux => {
            let dirs = env.get("XDG_CONFIG_DIRS").unwrap_or_else(|| "/etc/xdg".into());
            for d in dirs.split(':').filter(|d| !d.is_empty()) {
                files.push(Path::new(d).join("pip").join("pip.conf"));
            }
            files.push(PathBuf::from("/etc/pip.conf"));
        }
    }
    let replaces_user = pip_config_file.as_deref().is_some_and(|f| Path::new(f).exists());
    if !replaces_user {
        match os {
            Os::Windows => {
                if let Some(h) = &home {
                    files.push(h.join("pip").join("pip.ini"));
                }
                if let Some(appdata) = env.get("APPDATA") {
                    files.push(Path::new(&appdata).join("pip").join("pip.ini"));
                }
            }
            _ => {
                if let Some(h) = &home {
                    files.push(h.join(".pip").join("pip.conf"));
                    if os == Os::Macos {
                        files.push(h.join("Library/Application Support/pip/pip.conf"));
                    }
                }
                let xdg =
                    env.get("XDG_CONFIG_HOME").map(PathBuf::from).or_else(|| home.as_ref().map(|h| h.join(".config")));
                if let Some(x) = xdg {
                    files.push(x.join("pip").join("pip.conf"));
                }
            }
        }
    }
    if let Some(p) = prefix {
        files.push(p.join(if os == Os::Windows { "pip.ini" } else { "pip.conf" }));
    }
    if let Some(f) = pip_config_file {
        files.push(PathBuf::from(f));
    }
    files
}

/// `(key, value)` of every index setting in a pip config file's text that points at a CPU
/// index. Multi-line values (indented continuation lines) are followed.
pub(crate) fn cpu_index_settings(text: &str) -> Vec<(String, String)> {
    index_settings(text).into_iter().filter(|(_, url)| is_cpu_index(url)).collect()
}

/// The user's own package index for everything else (a PyPI mirror in `PIP_INDEX_URL` or
/// pip.conf's `index-url`), credentials masked, ready to show: torchup keeps it for the
/// dependencies pip resolves (nvidia-*, requirements) and says so in the plan and Review.
pub(crate) fn pypi_index_settings(os: Os, env: &HostEnv, prefix: Option<&Path>) -> Vec<String> {
    let mut out = Vec::new();
    for var in ["PIP_INDEX_URL", "UV_DEFAULT_INDEX", "UV_INDEX_URL"] {
        if let Some(v) = env.get(var).filter(|v| !v.trim().is_empty() && !is_cpu_index(v)) {
            out.push(format!("{var}={}", crate::redact::redact_text(v.trim())));
        }
    }
    for file in config_files(os, env, prefix) {
        let Ok(text) = std::fs::read_to_string(&file) else { continue };
        for (key, url) in index_settings(&text) {
            if key == "index-url" && !is_cpu_index(&url) {
                out.push(format!("{}: index-url = {}", file.display(), crate::redact::redact_text(&url)));
            }
        }
    }
    out
}

/// `(key, url)` of every `index-url` / `extra-index-url` value in a pip config file (any
/// section: pip reads them for install, download and wheel alike).
fn index_settings(text: &str) -> Vec<(String, String)> {
    let mut out = Vec::new();
    for PipSetting { key, value, .. } in parse(text) {
        if matches!(key.as_str(), "index-url" | "extra-index-url") {
            out.extend(value.split_whitespace().map(|url| (key.clone(), url.to_string())));
        }
    }
    out
}

/// One `key = value` of a pip configuration file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct PipSetting {
    /// Lower-case: "global", "install", …
    pub(crate) section: String,
    /// Lower-case, `_` as `-`: `client_cert` is "client-cert", as pip reads it.
    pub(crate) key: String,
    /// Indented continuation lines joined with spaces.
    pub(crate) value: String,
}

/// Every setting of a pip configuration file (an INI file as Python's configparser reads it:
/// `[section]`, `key = value` or `key: value`, `#`/`;` comment lines, indented continuation
/// lines), in file order. The one reader of pip.conf: the index settings here and the
/// network settings of the downloader both come from it.
pub(crate) fn parse(text: &str) -> Vec<PipSetting> {
    let mut out: Vec<PipSetting> = Vec::new();
    let mut section = String::new();
    let mut open = false; // the last setting may still take continuation lines
    for line in text.lines() {
        let trimmed = line.trim();
        if trimmed.is_empty() || trimmed.starts_with('#') || trimmed.starts_with(';') {
            continue;
        }
        if let Some(name) = trimmed.strip_prefix('[').and_then(|s| s.strip_suffix(']')) {
            section = name.trim().to_ascii_lowercase();
            open = false;
            continue;
        }
        if open
            && line.starts_with([' ', '\t'])
            && let Some(last) = out.last_mut()
        {
            if !last.value.is_empty() {
                last.value.push(' ');
            }
            last.value.push_str(trimmed);
            continue;
        }
        let Some((key, value)) = trimmed.split_once(['=', ':']) else {
            open = false;
            continue;
        };
        let key = key.trim().to_ascii_lowercase().replace('_', "-");
        out.push(PipSetting { section: section.clone(), key, value: value.trim().to_string() });
        open = true;
    }
    out
}

/// Every setting that points pip or uv at the CPU index, ready to show:
/// `PIP_EXTRA_INDEX_URL=https://download.pytorch.org/whl/cpu`,
/// `/etc/pip.conf: extra-index-url = https://download.pytorch.org/whl/cpu`.
pub(crate) fn cpu_index_overrides(os: Os, env: &HostEnv, prefix: Option<&Path>) -> Vec<String> {
    let mut out = Vec::new();
    for var in INDEX_VARS {
        if let Some(v) = env.get(var)
            && is_cpu_index(&v)
        {
            out.push(format!("{var}={v}"));
        }
    }
    for file in config_files(os, env, prefix) {
        let Ok(text) = std::fs::read_to_string(&file) else { continue };
        for (key, url) in cpu_index_settings(&text) {
            out.push(format!("{}: {key} = {url}", file.display()));
        }
    }
    out
}

#[cfg(test)]
mod pypi_index_tests {
    use super::*;

    #[test]
    fn the_users_pypi_mirror_is_found_and_masked() {
        let dir = tempfile::tempdir().unwrap();
        let conf = dir.path().join("pip.conf");
        std::fs::write(&conf, "[global]\nindex-url = https://u:tok@mirrors.example/simple\nextra-index-url = https://download.pytorch.org/whl/cpu\n").unwrap();
        let env = HostEnv::from_pairs([
            ("PIP_CONFIG_FILE", conf.to_str().unwrap()),
            ("PIP_INDEX_URL", "https://pypi.tuna.example/simple"),
            ("HOME", dir.path().to_str().unwrap()),
            ("XDG_CONFIG_DIRS", dir.path().join("none").to_str().unwrap()),
        ]);
        let got = pypi_index_settings(Os::Linux, &env, None);
        assert!(got.contains(&"PIP_INDEX_URL=https://pypi.tuna.example/simple".to_string()), "{got:?}");
        assert!(got.iter().any(|l| l.ends_with("index-url = https://u:***@mirrors.example/simple")), "{got:?}");
        assert!(!got.iter().any(|l| l.contains("whl/cpu") || l.contains("tok@")), "{got:?}");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_reader_for_every_pip_setting() {
        let text = "# comment\n[GLOBAL]\nindex_url = https://a/simple\nextra-index-url =\n    https://b/whl/cpu\n\thttps://c/x\n\
                    ; other comment\n[install]\nclient_cert: /k.pem\ntrusted-host = a\n  b\nnot a setting\n  not a continuation\n";
        let got: Vec<(String, String, String)> = parse(text).into_iter().map(|s| (s.section, s.key, s.value)).collect();
        let want = [
            ("global", "index-url", "https://a/simple"),
            ("global", "extra-index-url", "https://b/whl/cpu https://c/x"),
            ("install", "client-cert", "/k.pem"),
            ("install", "trusted-host", "a b"),
        ];
        assert_eq!(got, want.map(|(a, b, c)| (a.to_string(), b.to_string(), c.to_string())));
        // The index settings read through it (the downloader's network settings too: fetch::net).
        assert_eq!(cpu_index_settings(text), [("extra-index-url".to_string(), "https://b/whl/cpu".to_string())]);
    }

    #[test]
    fn cpu_index_urls() {
        assert!(is_cpu_index("https://download.pytorch.org/whl/cpu"));
        assert!(is_cpu_index("https://download.pytorch.org/whl/cpu/"));
        assert!(is_cpu_index("https://pypi.org/simple https://download.pytorch.org/whl/CPU"));
        assert!(is_cpu_index("http://mirror.local/pytorch/whl/cpu"));
        assert!(!is_cpu_index("https://download.pytorch.org/whl/cu124"));
        assert!(is_cpu_index("https://download.pytorch.org/whl/cpu-cxx11-abi"));
        assert!(!is_cpu_index("https://example.org/whl/cpuinfo"));
        assert!(!is_cpu_index("https://pypi.org/simple"));
    }

    #[test]
    fn config_text_settings() {
        let text = "[global]\n# extra-index-url = https://download.pytorch.org/whl/cpu\nindex-url = https://pypi.org/simple\n\
                    extra-index-url =\n    https://example.org/simple\n    https://download.pytorch.org/whl/cpu\n\
                    [install]\nextra_index_url: https://download.pytorch.org/whl/cpu\ntimeout = 60\n  https://download.pytorch.org/whl/cpu\n";
        assert_eq!(
            cpu_index_settings(text),
            vec![
                ("extra-index-url".to_string(), "https://download.pytorch.org/whl/cpu".to_string()),
                ("extra-index-url".to_string(), "https://download.pytorch.org/whl/cpu".to_string()),
            ]
        );
    }

    #[test]
    fn devnull_turns_config_files_off() {
        let env = HostEnv::from_pairs([("PIP_CONFIG_FILE", "/dev/null"), ("HOME", "/home/u")]);
        assert!(config_files(Os::Linux, &env, Some(Path::new("/p"))).is_empty());
        let env = HostEnv::from_pairs([("PIP_CONFIG_FILE", "NUL")]).windows_style();
        assert!(config_files(Os::Windows, &env, None).is_empty());
    }

    #[test]
    fn file_locations_per_os() {
        let env = HostEnv::from_pairs([("HOME", "/home/u")]);
        let files = config_files(Os::Linux, &env, Some(Path::new("/venv")));
        assert_eq!(
            files,
            vec![
                PathBuf::from("/etc/xdg/pip/pip.conf"),
                PathBuf::from("/etc/pip.conf"),
                PathBuf::from("/home/u/.pip/pip.conf"),
                PathBuf::from("/home/u/.config/pip/pip.conf"),
                PathBuf::from("/venv/pip.conf"),
            ]
        );
        let env = HostEnv::from_pairs([
            ("USERPROFILE", "C:\\Users\\Me"),
            ("APPDATA", "C:\\Users\\Me\\AppData\\Roaming"),
            ("ProgramData", "C:\\ProgramData"),
        ])
        .windows_style();
        let files = config_files(Os::Windows, &env, Some(Path::new("C:\\env")));
        assert_eq!(files[0], Path::new("C:\\ProgramData").join("pip").join("pip.ini"));
        assert!(files.contains(&Path::new("C:\\Users\\Me\\AppData\\Roaming").join("pip").join("pip.ini")));
        assert_eq!(files.last().unwrap(), &Path::new("C:\\env").join("pip.ini"));
    }

    #[test]
    fn overrides_from_env_and_real_files() {
        let tmp = tempfile::tempdir().unwrap();
        let conf = tmp.path().join("my pip.conf");
        std::fs::write(&conf, "[global]\nextra-index-url = https://download.pytorch.org/whl/cpu\n").unwrap();
        let env = HostEnv::from_pairs([
            ("PIP_CONFIG_FILE", conf.to_string_lossy().into_owned()),
            ("PIP_EXTRA_INDEX_URL", "https://download.pytorch.org/whl/cpu".into()),
            ("PIP_INDEX_URL", "https://pypi.org/simple".into()),
            ("XDG_CONFIG_DIRS", tmp.path().join("none").to_string_lossy().into_owned()),
        ]);
        let got = cpu_index_overrides(Os::Linux, &env, Some(tmp.path()));
        assert_eq!(got[0], "PIP_EXTRA_INDEX_URL=https://download.pytorch.org/whl/cpu");
        assert!(got.iter().any(|l| l.contains("my pip.conf: extra-index-url = https://download.pytorch.org/whl/cpu")));
        // /etc/pip.conf of this machine may exist; everything we found is CPU-index related.
        assert!(got.iter().all(|l| is_cpu_index(l)));
    }
}
