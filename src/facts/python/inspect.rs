//! What can be known about a candidate interpreter without running it: whether it is a
//! venv's interpreter (Python's own rule: `pyvenv.cfg` next to the path it is started as,
//! or one directory up), a base interpreter binary, or a script (a pyenv/asdf shim), and
//! its version when the env records it (`pyvenv.cfg`, conda-meta).
//!
//! Running every candidate costs a Python start-up each (a pyenv shim costs ~200 ms here),
//! so `detect` identifies candidates this way and only runs the ones it must.

use std::io::Read;
use std::path::{Path, PathBuf};

use crate::facts::Os;

/// How a candidate was classified without running it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Shape {
    /// A virtual environment's interpreter; the environment directory.
    Venv(PathBuf),
    /// A real interpreter binary (system, python.org, conda, pyenv version).
    Binary,
    /// A script (`#!` shim, `.bat`/`.cmd`): what it runs is known only by running it.
    Script,
    /// A launcher command (`py -3`) or something unreadable.
    Unknown,
}

/// A candidate as seen from the filesystem.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Inspected {
    pub shape: Shape,
    /// Same interpreter ⇔ same identity; None when it can only be learnt by running it.
    pub identity: Option<Identity>,
    /// The version the environment records, if any.
    pub version: Option<String>,
}

/// The real binary and, for a venv, its directory (a venv shares the binary of its base).
pub(crate) type Identity = (String, String);

/// The identity marker for "not a venv".
pub(crate) const BASE: &str = "(base)";

/// Identity of an interpreter from what it says about itself.
pub(crate) fn identity_of(realpath: &str, prefix: &str, in_venv: bool) -> Identity {
    (canonical(Path::new(realpath)), if in_venv { canonical(Path::new(prefix)) } else { BASE.to_string() })
}

fn canonical(p: &Path) -> String {
    std::fs::canonicalize(p).unwrap_or_else(|_| p.to_path_buf()).to_string_lossy().into_owned()
}

/// Classify `argv` (program and leading arguments) without running it.
pub(crate) fn inspect(os: Os, argv: &[String]) -> Inspected {
    let unknown = Inspected { shape: Shape::Unknown, identity: None, version: None };
    let [program] = argv else { return unknown };
    let path = Path::new(program);
    if is_script(path) {
        return Inspected { shape: Shape::Script, identity: None, version: None };
    }
    if !path.is_file() {
        return unknown;
    }
    if let Some(dir) = venv_dir(path) {
        let version = std::fs::read_to_string(dir.join("pyvenv.cfg")).ok().and_then(|t| pyvenv_version(&t));
        let identity = (canonical(path), canonical(&dir));
        return Inspected { shape: Shape::Venv(dir), identity: Some(identity), version };
    }
    let prefix = match os {
        Os::Windows => path.parent(),
        _ => path.parent().and_then(Path::parent),
    };
    let version = prefix.and_then(conda_python_version);
    Inspected { shape: Shape::Binary, identity: Some((canonical(path), BASE.to_string())), version }
}

/// The venv an interpreter path belongs to, by CPython's rule (lexical, not resolved).
pub(crate) fn venv_dir(path: &Path) -> Option<PathBuf> {
    let dir = path.parent()?;
    [Some(dir), dir.parent()].into_iter().flatten().find(|d| d.join("pyvenv.cfg").is_file()).map(Path::to_path_buf)
}

/// A script rather than a binary: `#!` (Unix shims) or a Windows batch file (pyenv-win).
fn is_script(path: &Path) -> bool {
    let lower = path.to_string_lossy().to_ascii_lowercase();
    if lower.ends_with(".bat") || lower.ends_with(".cmd") {
        return true;
    }
    let mut head = [0u8; 2];
    std::fs::File::open(path).and_then(|mut f| f.read_exact(&mut head)).is_ok() && &head == b"#!"
}

/// `version = 3.11.7` (venv) or `version_info = 3.12.1.final.0` (virtualenv, uv).
pub(crate) fn pyvenv_version(text: &str) -> Option<String> {
    text.lines().find_map(|line| {
        let (k, v) = line.split_once('=')?;
        let k = k.trim().to_ascii_lowercase();
        if k != "version" && k != "version_info" {
            return None;
        }
        let parts: Vec<&str> = v.trim().split('.').take(3).collect();
        (parts.len() == 3 && parts.iter().all(|p| p.chars().all(|c| c.is_ascii_digit()) && !p.is_empty()))
            .then(|| parts.join("."))
    })
}

/// The Python version a conda prefix records (`conda-meta/python-3.11.7-h955ad1f_0.json`).
pub(crate) fn conda_python_version(prefix: &Path) -> Option<String> {
    let rd = std::fs::read_dir(prefix.join("conda-meta")).ok()?;
    rd.filter_map(|e| e.ok()).find_map(|e| {
        let name = e.file_name().to_string_lossy().into_owned();
        let rest = name.strip_prefix("python-")?.strip_suffix(".json")?;
        let version = rest.split('-').next()?;
        (version.split('.').count() == 3 && version.split('.').all(|p| p.parse::<u32>().is_ok()))
            .then(|| version.to_string())
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pyvenv_versions() {
        assert_eq!(pyvenv_version("home = /usr/bin\nversion = 3.11.7\n").as_deref(), Some("3.11.7"));
        assert_eq!(pyvenv_version("version_info = 3.12.1.final.0\n").as_deref(), Some("3.12.1"));
        assert_eq!(pyvenv_version("home = x\n"), None);
        assert_eq!(pyvenv_version("version = banana\n"), None);
    }

    #[cfg(unix)]
    #[test]
    fn shapes_on_a_real_tree() {
        let tmp = tempfile::tempdir().unwrap();
        let root = tmp.path();
        let venv = root.join("v");
        std::fs::create_dir_all(venv.join("bin")).unwrap();
        std::fs::write(venv.join("pyvenv.cfg"), "version = 3.12.1\n").unwrap();
        let base = root.join("base/bin/python3.12");
        std::fs::create_dir_all(base.parent().unwrap()).unwrap();
        std::fs::write(&base, b"\x7fELF....").unwrap();
        std::os::unix::fs::symlink(&base, venv.join("bin/python")).unwrap();
        std::fs::create_dir_all(root.join("base/conda-meta")).unwrap();
        std::fs::write(root.join("base/conda-meta/python-3.12.1-h1234_0.json"), "{}").unwrap();
        std::fs::write(root.join("base/conda-meta/python_abi-3.12-5_cp312.json"), "{}").unwrap();
        let shim = root.join("shims/python");
        std::fs::create_dir_all(shim.parent().unwrap()).unwrap();
        std::fs::write(&shim, "#!/usr/bin/env bash\nexec pyenv exec python \"$@\"\n").unwrap();

        let s = |p: &Path| vec![p.to_string_lossy().into_owned()];
        let v = inspect(Os::Linux, &s(&venv.join("bin/python")));
        assert_eq!(v.shape, Shape::Venv(venv.clone()));
        assert_eq!(v.version.as_deref(), Some("3.12.1"));
        let b = inspect(Os::Linux, &s(&base));
        assert_eq!(b.shape, Shape::Binary);
        assert_eq!(b.version.as_deref(), Some("3.12.1"), "from conda-meta");
        assert_eq!(v.identity.as_ref().unwrap().0, b.identity.as_ref().unwrap().0, "a venv shares its base's binary");
        assert_ne!(v.identity, b.identity, "but is another interpreter");
        assert_eq!(inspect(Os::Linux, &s(&shim)).shape, Shape::Script);
        assert_eq!(inspect(Os::Windows, &["py".into(), "-3".into()]).shape, Shape::Unknown);
        assert_eq!(inspect(Os::Windows, &s(Path::new("C:/pyenv-win/shims/python.bat"))).shape, Shape::Script);

        // A symlinked directory into the venv's bin is the base interpreter, as CPython sees it.
        std::os::unix::fs::symlink(venv.join("bin"), root.join("links")).unwrap();
        let l = inspect(Os::Linux, &s(&root.join("links/python")));
        assert_eq!(l.shape, Shape::Binary);
        assert_eq!(l.identity, b.identity);
    }
}
