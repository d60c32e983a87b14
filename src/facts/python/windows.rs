//! Windows-specific discovery as plain functions over text, paths and a [`HostEnv`], so
//! the Linux test run covers them: the `py` launcher's `py -0p` listing, the Microsoft
//! Store alias stub (F42), and where conda and the launcher live.

use std::path::{Path, PathBuf};

use crate::facts::platform::HostEnv;

/// One interpreter listed by `py -0p`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct PyLauncherEntry {
    /// The selector: "-V:3.12", "-V:ContinuumAnalytics/Anaconda39-64" (launcher 3.11+),
    /// "-3.9-64" (older launchers); empty for the active venv line.
    pub tag: String,
    /// The interpreter path, exactly as printed (spaces kept).
    pub path: String,
    /// Marked with `*`: what a bare `py` runs.
    pub default: bool,
    /// The line for the active virtual environment (`*  C:\...\Scripts\python.exe`).
    pub active_venv: bool,
}

/// Parse `py -0p` output. Both launcher generations are understood:
///
/// ```text
///  -V:3.12 *        C:\Users\me\AppData\Local\Programs\Python\Python312\python.exe
///  -V:3.11          C:\Program Files\Python311\python.exe
///  *                C:\proj\.venv\Scripts\python.exe
///  -3.9-64        C:\Python39\python.exe *
/// ```
/// Headers ("Installed Pythons found by ...") and "No Installed Pythons Found!" are skipped;
/// lines without a path (plain `py -0`) give nothing.
pub(crate) fn parse_py_list(text: &str) -> Vec<PyLauncherEntry> {
    let mut out = Vec::new();
    for raw in text.lines() {
        let line = raw.trim();
        let (tag, rest, active_venv) = if let Some(rest) = line.strip_prefix('*') {
            (String::new(), rest, true)
        } else if line.starts_with('-') {
            match line.split_once(char::is_whitespace) {
                Some((tag, rest)) => (tag.to_string(), rest, false),
                None => continue,
            }
        } else {
            continue;
        };
        let mut rest = rest.trim();
        let mut default = active_venv;
        if let Some(r) = rest.strip_prefix('*') {
            default = true;
            rest = r.trim_start();
        }
        if let Some(r) = rest.strip_suffix(" *").or_else(|| rest.strip_suffix("\t*")) {
            default = true;
            rest = r.trim_end();
        }
        if !looks_like_path(rest) {
            continue;
        }
        out.push(PyLauncherEntry { tag, path: rest.to_string(), default, active_venv });
    }
    out
}

fn looks_like_path(s: &str) -> bool {
    !s.is_empty() && (s.contains('\\') || s.contains('/') || s.to_ascii_lowercase().ends_with(".exe"))
}

/// Lower-cased, forward-slashed, without a trailing slash: for comparing Windows paths
/// whatever separator and case they were written with.
fn norm(s: &str) -> String {
    let mut n = s.replace('\\', "/").to_ascii_lowercase();
    while n.len() > 1 && n.ends_with('/') {
        n.pop();
    }
    n
}

/// The directory holding the Store's App Execution Aliases: `%LOCALAPPDATA%\Microsoft\WindowsApps`.
pub(crate) fn windows_apps_dir(env: &HostEnv) -> Option<PathBuf> {
    env.get("LOCALAPPDATA").map(|l| Path::new(&l).join("Microsoft").join("WindowsApps"))
}

/// Whether `dir` is the WindowsApps alias directory (the one from LOCALAPPDATA, or any
/// `...\Microsoft\WindowsApps` when LOCALAPPDATA is not set).
pub(crate) fn is_windows_apps_dir(dir: &Path, env: &HostEnv) -> bool {
    let d = norm(&dir.to_string_lossy());
    if let Some(apps) = windows_apps_dir(env)
        && d == norm(&apps.to_string_lossy())
    {
        return true;
    }
    d.ends_with("/microsoft/windowsapps")
}

/// What a `python.exe` found in the WindowsApps directory is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum StoreAlias {
    /// The stub that only opens the Store ("Python was not found; run without arguments to
    /// install from the Microsoft Store", F42): no Python is installed behind it.
    Stub,
    /// An alias of a Python installed from the Store (a `PythonSoftwareFoundation.Python.*`
    /// package folder sits next to it).
    StorePython,
}

/// Classify an interpreter path that lives in the WindowsApps directory; `None` when it
/// does not live there. `dir_entries` are the names in that directory.
pub(crate) fn classify_store_alias(path: &Path, env: &HostEnv, dir_entries: &[String]) -> Option<StoreAlias> {
    let parent = path.parent()?;
    if !is_windows_apps_dir(parent, env) {
        return None;
    }
    let store_python =
        dir_entries.iter().any(|n| n.to_ascii_lowercase().starts_with("pythonsoftwarefoundation.python."));
    Some(if store_python { StoreAlias::StorePython } else { StoreAlias::Stub })
}

/// The problem text shown for a Store alias; torchup never chooses one.
pub(crate) fn store_alias_problem(kind: StoreAlias) -> String {
    match kind {
        StoreAlias::Stub => "Microsoft Store alias stub, not a Python (F42): install 64-bit Python from python.org \
                             (tick \"Add to PATH\") or use `py -3`, and turn off the python.exe alias in Settings > Apps > \
                             Advanced app settings > App execution aliases"
            .to_string(),
        StoreAlias::StorePython => "Microsoft Store Python alias: its package folder is read-only and pip falls back to \
                                    the user site, so torchup does not install into it; use python.org Python or a venv"
            .to_string(),
    }
}

/// The names `python` resolves to on Windows.
pub(crate) const PYTHON_EXE_NAMES: &[&str] = &["python.exe", "python3.exe"];

/// Where the `py` launcher is, besides PATH: the all-users copy in %SystemRoot% and the
/// per-user one in %LOCALAPPDATA%\Programs\Python\Launcher.
pub(crate) fn py_launcher_locations(env: &HostEnv) -> Vec<PathBuf> {
    let mut out = Vec::new();
    if let Some(root) = env.get("SystemRoot").or_else(|| env.get("windir")) {
        out.push(Path::new(&root).join("py.exe"));
    }
    if let Some(local) = env.get("LOCALAPPDATA") {
        out.push(Path::new(&local).join("Programs").join("Python").join("Launcher").join("py.exe"));
    }
    out
}

/// conda installations on Windows: per user (%USERPROFILE%\miniconda3, anaconda3,
/// miniforge3, mambaforge) and all users (%ProgramData%\...).
pub(crate) fn conda_roots(env: &HostEnv) -> Vec<PathBuf> {
    const NAMES: &[&str] = &["miniconda3", "anaconda3", "miniforge3", "mambaforge"];
    let mut out = Vec::new();
    for base in [env.get("USERPROFILE"), env.get("ProgramData")].into_iter().flatten() {
        for n in NAMES {
            out.push(Path::new(&base).join(n));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn new_launcher_listing() {
        let text = "  -V:3.12 *        C:\\Users\\Me\\AppData\\Local\\Programs\\Python\\Python312\\python.exe\n  \
                    -V:3.11          C:\\Program Files\\Python311\\python.exe\n  \
                    -V:ContinuumAnalytics/Anaconda39-64 C:\\Users\\Me\\anaconda3\\python.exe\n";
        let got = parse_py_list(text);
        assert_eq!(got.len(), 3);
        assert_eq!(got[0].tag, "-V:3.12");
        assert!(got[0].default);
        assert_eq!(got[0].path, "C:\\Users\\Me\\AppData\\Local\\Programs\\Python\\Python312\\python.exe");
        assert_eq!(got[1].path, "C:\\Program Files\\Python311\\python.exe", "spaces in paths are kept");
        assert!(!got[1].default);
        assert_eq!(got[2].tag, "-V:ContinuumAnalytics/Anaconda39-64");
    }

    #[test]
    fn active_venv_line() {
        let text = "  *               C:\\work\\my proj\\.venv\\Scripts\\python.exe\n  -V:3.12          C:\\Python312\\python.exe\n";
        let got = parse_py_list(text);
        assert_eq!(got[0].path, "C:\\work\\my proj\\.venv\\Scripts\\python.exe");
        assert!(got[0].active_venv);
        assert!(got[0].tag.is_empty());
        assert!(!got[1].active_venv);
    }

    #[test]
    fn old_launcher_listing_marks_default_at_the_end() {
        let text = "Installed Pythons found by py Launcher for Windows\n \
                    -3.9-64        C:\\Users\\Me\\AppData\\Local\\Programs\\Python\\Python39\\python.exe *\n \
                    -3.8-32\tC:\\Program Files (x86)\\Python38-32\\python.exe\n";
        let got = parse_py_list(text);
        assert_eq!(got.len(), 2);
        assert!(got[0].default);
        assert!(got[0].path.ends_with("Python39\\python.exe"));
        assert_eq!(got[1].tag, "-3.8-32");
        assert_eq!(got[1].path, "C:\\Program Files (x86)\\Python38-32\\python.exe");
        assert!(!got[1].default);
    }

    #[test]
    fn listings_without_paths_give_nothing() {
        assert!(parse_py_list("No Installed Pythons Found!\n").is_empty());
        assert!(parse_py_list(" -V:3.12 *        Python 3.12 (64-bit)\n").is_empty());
        assert!(parse_py_list("").is_empty());
        assert!(parse_py_list("\u{fffd}\u{fffd} garbage -\n-\n*\n").is_empty());
    }

    fn win_env() -> HostEnv {
        HostEnv::from_pairs([
            ("LOCALAPPDATA", "C:\\Users\\Me\\AppData\\Local"),
            ("USERPROFILE", "C:\\Users\\Me"),
            ("ProgramData", "C:\\ProgramData"),
            ("SystemRoot", "C:\\Windows"),
        ])
        .windows_style()
    }

    #[test]
    fn store_stub_is_recognised_whatever_the_case_or_separator() {
        let env = win_env();
        let stub = PathBuf::from("c:/users/me/appdata/local/Microsoft/WindowsApps/python.exe");
        assert!(is_windows_apps_dir(stub.parent().unwrap(), &env));
        assert_eq!(
            classify_store_alias(&stub, &env, &["python.exe".into(), "python3.exe".into()]),
            Some(StoreAlias::Stub)
        );
        let with_store_python = ["python.exe".to_string(), "PythonSoftwareFoundation.Python.3.12_qbz5n2kfra8p0".into()];
        assert_eq!(classify_store_alias(&stub, &env, &with_store_python), Some(StoreAlias::StorePython));
        assert_eq!(classify_store_alias(Path::new("C:/Python312/python.exe"), &env, &[]), None);
        assert!(store_alias_problem(StoreAlias::Stub).contains("F42"));
    }

    #[test]
    fn windows_apps_without_localappdata() {
        let env = HostEnv::default();
        assert!(is_windows_apps_dir(Path::new("D:/Profiles/x/AppData/Local/Microsoft/WindowsApps/"), &env));
        assert!(!is_windows_apps_dir(Path::new("C:/Program Files/WindowsApps"), &env));
    }

    #[test]
    fn conda_and_launcher_locations_come_from_the_environment() {
        let env = win_env();
        let roots = conda_roots(&env);
        assert!(roots.contains(&Path::new("C:\\Users\\Me").join("miniconda3")));
        assert!(roots.contains(&Path::new("C:\\Users\\Me").join("anaconda3")));
        assert!(roots.contains(&Path::new("C:\\ProgramData").join("miniconda3")));
        let py = py_launcher_locations(&env);
        assert_eq!(py[0], Path::new("C:\\Windows").join("py.exe"));
        assert!(py[1].ends_with("Launcher/py.exe") || py[1].to_string_lossy().ends_with("Launcher\\py.exe"));
        assert!(conda_roots(&HostEnv::default()).is_empty());
    }
}
