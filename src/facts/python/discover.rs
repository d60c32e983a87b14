//! Finding interpreters without running them: the target order (`--python`, the active
//! `VIRTUAL_ENV`, the active `CONDA_PREFIX`, the environment torchup itself is installed in,
//! `python`/`python3` on PATH, Windows `py -3`) and every other candidate a front end can
//! offer (venvs in the current directory, conda envs).
//!
//! Everything is decided from a [`DiscoverInput`] (OS, environment, current directory) and
//! the filesystem, so the Windows rules run in the Linux tests.

use std::collections::HashSet;
use std::ffi::OsString;
use std::path::{Path, PathBuf};

use super::windows;
use crate::facts::Os;
use crate::facts::platform::HostEnv;

/// What discovery looks at.
#[derive(Debug, Clone)]
pub struct DiscoverInput<'a> {
    pub os: Os,
    pub env: &'a HostEnv,
    pub cwd: &'a Path,
    /// `--python PATH`.
    pub explicit: Option<&'a Path>,
}

/// An interpreter found, not yet run.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Found {
    /// Program and leading arguments: `["/p/.venv/bin/python"]`, or `["py", "-3"]`.
    pub argv: Vec<String>,
    /// How it is shown: the path, or "py -3".
    pub display: String,
    /// Where it was found ("--python", "VIRTUAL_ENV", "PATH", ".venv", "conda env", ...).
    pub found_by: String,
    /// Why it cannot be used; such candidates are never run.
    pub problem: Option<String>,
    /// Part of the target order (tried, in order, until one works).
    pub eligible: bool,
}

impl Found {
    fn path(path: &Path, found_by: &str, eligible: bool) -> Found {
        let display = path.to_string_lossy().into_owned();
        Found { argv: vec![display.clone()], display, found_by: found_by.to_string(), problem: None, eligible }
    }

    fn with_problem(mut self, problem: impl Into<String>) -> Found {
        self.problem = Some(problem.into());
        self
    }
}

/// `found_by` (and so `chosen_because`) of the environment torchup's own executable is in.
pub const INSTALLED_HERE: &str = "torchup is installed in this environment";

/// The environment torchup's own executable was installed into (`pip install torchup`
/// inside the env the user wants to fix): the executable sits in the env's `bin/` (Unix)
/// or `Scripts\` (Windows) folder next to an interpreter. Tool installers' private
/// environments (pipx, `uv tool`, uvx) are never a target: None, and discovery goes on as
/// usual.
pub fn installed_env_candidate(input: &DiscoverInput) -> Option<Found> {
    let env_dir = own_env_dir(input)?;
    if private_tool_env(env_dir, input.env).is_some() {
        return None;
    }
    let python = interpreter_in_dir(input.os, env_dir)?;
    Some(Found::path(&python, INSTALLED_HERE, true))
}

/// The environment folder whose `bin/` (`Scripts\`) holds torchup's own executable.
fn own_env_dir<'a>(input: &DiscoverInput<'a>) -> Option<&'a Path> {
    let scripts = input.env.own_exe()?.parent()?;
    let folder = scripts.file_name()?.to_string_lossy();
    let in_scripts = match input.os {
        Os::Windows => folder.eq_ignore_ascii_case("Scripts"),
        _ => folder == "bin",
    };
    if in_scripts { scripts.parent() } else { None }
}

/// uvx (and `pipx run`) put the private environment's `bin/` first on PATH while torchup
/// runs: its interpreter is listed with the reason it is never a target.
fn mark_private_tool_env(input: &DiscoverInput, found: &mut [Found]) {
    let Some(env_dir) = own_env_dir(input) else { return };
    let Some(owner) = private_tool_env(env_dir, input.env) else { return };
    let scripts = input.env.own_exe().and_then(Path::parent);
    for f in found.iter_mut().filter(|f| f.argv.len() == 1) {
        let dir = Path::new(&f.argv[0]).parent();
        if dir.is_some() && (dir == scripts || dir == Some(env_dir)) {
            f.eligible = false;
            f.problem = Some(format!(
                "the private environment {owner} runs torchup in; activate the env you train in or pass --python"
            ));
        }
    }
}

/// Which tool installer owns `env_dir`, when it is one's private environment: pipx (its
/// `pipx_metadata.json`, or a folder under a `pipx` home / `PIPX_HOME`), `uv tool` (its
/// `uv-receipt.toml`, or under `UV_TOOL_DIR`), uvx (a cached environment: inside a folder
/// marked with `CACHEDIR.TAG`, as uv's cache root is, under `UV_CACHE_DIR`, or a `uv`
/// folder's `archive-v*`/`environments-v*`/`builds-v*`). `uv venv` also writes a
/// `CACHEDIR.TAG`, but into the venv itself, so only the folders above it count.
pub fn private_tool_env(env_dir: &Path, env: &HostEnv) -> Option<&'static str> {
    if env_dir.join("pipx_metadata.json").is_file() {
        return Some("pipx");
    }
    if env_dir.join("uv-receipt.toml").is_file() {
        return Some("uv tool");
    }
    if env_dir.ancestors().skip(1).any(|dir| dir.join("CACHEDIR.TAG").is_file()) {
        return Some("uvx");
    }
    let under = |var: &str| env.get(var).is_some_and(|home| env_dir.starts_with(Path::new(&home)));
    if under("PIPX_HOME") {
        return Some("pipx");
    }
    if under("UV_TOOL_DIR") {
        return Some("uv tool");
    }
    if under("UV_CACHE_DIR") {
        return Some("uvx");
    }
    let names: Vec<String> = env_dir.iter().map(|c| c.to_string_lossy().to_ascii_lowercase()).collect();
    for pair in names.windows(2) {
        let (parent, child) = (pair[0].as_str(), pair[1].as_str());
        if (matches!(parent, "pipx" | ".pipx") && matches!(child, "venvs" | ".cache" | "cache"))
            || (parent == ".cache" && child == "pipx")
        {
            return Some("pipx");
        }
        if parent == "uv"
            && (child == "tools" || ["archive-v", "environments-v", "builds-v"].iter().any(|p| child.starts_with(p)))
        {
            return Some(if child == "tools" { "uv tool" } else { "uvx" });
        }
    }
    None
}

/// The interpreter of a virtual environment: `bin/python` (Unix), `Scripts\python.exe` (Windows).
pub fn venv_interpreter(os: Os, env_dir: &Path) -> PathBuf {
    match os {
        Os::Windows => env_dir.join("Scripts").join("python.exe"),
        _ => env_dir.join("bin").join("python"),
    }
}

/// The interpreter of a conda environment: `bin/python` (Unix), `python.exe` at the root (Windows).
pub fn conda_interpreter(os: Os, prefix: &Path) -> PathBuf {
    match os {
        Os::Windows => prefix.join("python.exe"),
        _ => prefix.join("bin").join("python"),
    }
}

/// The interpreter inside an environment directory of either layout (for `--python DIR`).
pub fn interpreter_in_dir(os: Os, dir: &Path) -> Option<PathBuf> {
    let mut options = vec![venv_interpreter(os, dir), conda_interpreter(os, dir)];
    if os != Os::Windows {
        options.push(dir.join("bin").join("python3"));
    }
    options.into_iter().find(|p| p.is_file())
}

/// conda installations whose `envs` folders are searched.
pub fn conda_roots(os: Os, env: &HostEnv) -> Vec<PathBuf> {
    match os {
        Os::Windows => windows::conda_roots(env),
        _ => {
            let mut roots = Vec::new();
            if let Some(home) = env.get("HOME") {
                for n in ["miniconda3", "anaconda3", "miniforge3", "mambaforge"] {
                    roots.push(Path::new(&home).join(n));
                }
            }
            roots.push(PathBuf::from("/opt/conda"));
            roots
        }
    }
}

/// The directories of a PATH-style list, split the way `os` splits it.
pub fn split_path_list(os: Os, value: &str) -> Vec<PathBuf> {
    let sep = if os == Os::Windows { ';' } else { ':' };
    value.split(sep).filter(|s| !s.is_empty()).map(|s| PathBuf::from(s.trim_matches('"'))).collect()
}

/// Names `python` is looked up by, in order.
fn python_names(os: Os) -> &'static [&'static str] {
    match os {
        Os::Windows => windows::PYTHON_EXE_NAMES,
        _ => &["python", "python3"],
    }
}

/// `python`/`python3` on PATH, in PATH order per name. Store aliases (Windows) are kept,
/// marked with their problem, and never eligible.
pub fn path_interpreters(input: &DiscoverInput) -> Vec<Found> {
    let Some(path_var) = input.env.get("PATH") else { return Vec::new() };
    let dirs = split_path_list(input.os, &path_var);
    let mut out = Vec::new();
    for name in python_names(input.os) {
        for dir in &dirs {
            let candidate = dir.join(name);
            if input.os == Os::Windows && windows::is_windows_apps_dir(dir, input.env) {
                // App Execution Aliases are reparse points that is_file() may not follow.
                if std::fs::symlink_metadata(&candidate).is_ok() {
                    let entries = list_names(dir);
                    let kind = windows::classify_store_alias(&candidate, input.env, &entries)
                        .unwrap_or(windows::StoreAlias::Stub);
                    out.push(Found::path(&candidate, "PATH", false).with_problem(windows::store_alias_problem(kind)));
                }
                continue;
            }
            if let Some(found) = executable_in(dir, name, input.cwd) {
                out.push(Found::path(&found, "PATH", true));
            }
        }
    }
    out
}

/// `name` in `dir` if it is an executable file (the `which` crate's rules: executable bit
/// on Unix, PATHEXT on Windows).
fn executable_in(dir: &Path, name: &str, cwd: &Path) -> Option<PathBuf> {
    let list: OsString = dir.as_os_str().to_owned();
    which::which_in(name, Some(list), cwd).ok()
}

fn list_names(dir: &Path) -> Vec<String> {
    std::fs::read_dir(dir)
        .map(|rd| rd.filter_map(|e| e.ok()).map(|e| e.file_name().to_string_lossy().into_owned()).collect())
        .unwrap_or_default()
}

/// The `py` launcher, if installed: on PATH, else in its fixed locations.
pub fn py_launcher(input: &DiscoverInput) -> Option<PathBuf> {
    if input.os != Os::Windows {
        return None;
    }
    if let Some(path_var) = input.env.get("PATH") {
        for dir in split_path_list(input.os, &path_var) {
            if let Some(p) = executable_in(&dir, "py.exe", input.cwd) {
                return Some(p);
            }
        }
    }
    windows::py_launcher_locations(input.env).into_iter().find(|p| p.is_file())
}

/// A virtual environment named by an environment variable; a stale variable (no
/// interpreter there) becomes a candidate with a problem.
fn env_dir_candidate(os: Os, var: &str, dir: &str, conda: bool) -> Found {
    let dir = Path::new(dir);
    let exe = if conda { conda_interpreter(os, dir) } else { venv_interpreter(os, dir) };
    if exe.is_file() {
        return Found::path(&exe, var, true);
    }
    // Some venvs only have python3 (Unix).
    if os != Os::Windows && !conda {
        let alt = dir.join("bin").join("python3");
        if alt.is_file() {
            return Found::path(&alt, var, true);
        }
    }
    Found::path(&exe, var, false)
        .with_problem(format!("{var} is set to {} but there is no interpreter there", dir.display()))
}

/// Venvs in the current directory: `.venv`, `venv`, `env`.
pub fn cwd_venvs(input: &DiscoverInput) -> Vec<Found> {
    let mut out = Vec::new();
    for name in [".venv", "venv", "env"] {
        let dir = input.cwd.join(name);
        if !dir.join("pyvenv.cfg").is_file() {
            continue;
        }
        let exe = venv_interpreter(input.os, &dir);
        if exe.is_file() {
            out.push(Found::path(&exe, name, false));
        } else {
            out.push(
                Found::path(&exe, name, false)
                    .with_problem(format!("{} has pyvenv.cfg but no interpreter", dir.display())),
            );
        }
    }
    out
}

/// conda base installs and every env under their `envs` folder (a folder counts when it
/// has `conda-meta`).
pub fn conda_envs(input: &DiscoverInput) -> Vec<Found> {
    let mut out = Vec::new();
    for root in conda_roots(input.os, input.env) {
        if root.join("conda-meta").is_dir() {
            let exe = conda_interpreter(input.os, &root);
            if exe.is_file() {
                out.push(Found::path(&exe, "conda base", false));
            }
        }
        let Ok(rd) = std::fs::read_dir(root.join("envs")) else { continue };
        let mut envs: Vec<PathBuf> = rd.filter_map(|e| e.ok()).map(|e| e.path()).collect();
        envs.sort();
        for env_dir in envs {
            if !env_dir.join("conda-meta").is_dir() {
                continue;
            }
            let exe = conda_interpreter(input.os, &env_dir);
            if exe.is_file() {
                out.push(Found::path(&exe, "conda env", false));
            }
        }
    }
    out
}

/// Resolve `--python`: a file, or an environment directory holding one.
pub fn explicit_candidate(input: &DiscoverInput, path: &Path) -> Found {
    let path = if path.is_relative() { input.cwd.join(path) } else { path.to_path_buf() };
    if path.is_dir() {
        return match interpreter_in_dir(input.os, &path) {
            Some(exe) => Found::path(&exe, "--python", true),
            None => Found::path(&path, "--python", true)
                .with_problem("a directory without bin/python or Scripts\\python.exe"),
        };
    }
    if std::fs::symlink_metadata(&path).is_err() {
        return Found::path(&path, "--python", true).with_problem("no such file");
    }
    if input.os == Os::Windows
        && let Some(kind) =
            windows::classify_store_alias(&path, input.env, &path.parent().map(list_names).unwrap_or_default())
    {
        return Found::path(&path, "--python", true).with_problem(windows::store_alias_problem(kind));
    }
    Found::path(&path, "--python", true)
}

/// Everything found, target order first (eligible ones), then the other candidates.
/// Entries with the same path are merged, keeping the first and listing every way it was found.
pub fn discover(input: &DiscoverInput) -> Vec<Found> {
    let mut all = Vec::new();
    if let Some(p) = input.explicit {
        all.push(explicit_candidate(input, p));
    }
    let explicit = input.explicit.is_some();
    let mut rest = Vec::new();
    if let Some(v) = input.env.get("VIRTUAL_ENV") {
        rest.push(env_dir_candidate(input.os, "VIRTUAL_ENV", &v, false));
    }
    if let Some(c) = input.env.get("CONDA_PREFIX") {
        rest.push(env_dir_candidate(input.os, "CONDA_PREFIX", &c, true));
    }
    rest.extend(installed_env_candidate(input));
    rest.extend(path_interpreters(input));
    if let Some(py) = py_launcher(input) {
        let launcher = py.to_string_lossy().into_owned();
        rest.push(Found {
            argv: vec![launcher, "-3".into()],
            display: "py -3".into(),
            found_by: "py launcher".into(),
            problem: None,
            eligible: true,
        });
    }
    rest.extend(cwd_venvs(input));
    rest.extend(conda_envs(input));
    mark_private_tool_env(input, &mut rest);
    if explicit {
        for f in &mut rest {
            f.eligible = false;
        }
    }
    all.extend(rest);
    merge_same_files(all)
}

/// A key that is equal for two spellings of the same path: the same text, compared
/// case-insensitively and with either slash when it looks like a Windows path. Symlinks are
/// deliberately not resolved: `links/python` through a symlinked directory is not the venv
/// it points into (Python finds `pyvenv.cfg` next to the path it was started as), so
/// deduplication by the interpreter's own answer happens after probing.
pub fn same_file_key(path: &str) -> String {
    if path.contains('\\') || path.as_bytes().get(1) == Some(&b':') {
        path.replace('\\', "/").to_ascii_lowercase()
    } else {
        path.to_string()
    }
}

fn merge_same_files(found: Vec<Found>) -> Vec<Found> {
    let mut out: Vec<Found> = Vec::new();
    let mut keys: Vec<String> = Vec::new();
    for f in found {
        let key = if f.argv.len() == 1 { same_file_key(&f.argv[0]) } else { f.argv.join(" ") };
        if let Some(i) = keys.iter().position(|k| *k == key) {
            let kept = &mut out[i];
            let labels: HashSet<&str> = kept.found_by.split(", ").collect();
            if !labels.contains(f.found_by.as_str()) {
                kept.found_by = format!("{}, {}", kept.found_by, f.found_by);
            }
            kept.eligible |= f.eligible && f.problem.is_none();
            continue;
        }
        keys.push(key);
        out.push(f);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[cfg(unix)]
    fn make_exe(path: &Path) {
        use std::os::unix::fs::PermissionsExt;
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(path, "#!/bin/sh\n").unwrap();
        std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o755)).unwrap();
    }

    #[test]
    fn layouts_per_os() {
        let d = Path::new("envdir");
        assert_eq!(venv_interpreter(Os::Windows, d), d.join("Scripts").join("python.exe"));
        assert_eq!(venv_interpreter(Os::Linux, d), d.join("bin").join("python"));
        assert_eq!(conda_interpreter(Os::Windows, d), d.join("python.exe"));
        assert_eq!(conda_interpreter(Os::Macos, d), d.join("bin").join("python"));
    }

    #[test]
    fn path_lists_split_per_os() {
        assert_eq!(
            split_path_list(Os::Windows, "C:\\Python312;\"C:\\Program Files\\x\";;D:\\y"),
            vec![PathBuf::from("C:\\Python312"), PathBuf::from("C:\\Program Files\\x"), PathBuf::from("D:\\y")]
        );
        assert_eq!(
            split_path_list(Os::Linux, "/usr/bin::/bin"),
            vec![PathBuf::from("/usr/bin"), PathBuf::from("/bin")]
        );
    }

    #[cfg(unix)]
    #[test]
    fn target_order_and_other_candidates() {
        let tmp = tempfile::tempdir().unwrap();
        let root = tmp.path();
        let active = root.join("active venv");
        make_exe(&active.join("bin/python"));
        let conda = root.join("home/miniconda3/envs/cyberpuppy");
        make_exe(&conda.join("bin/python"));
        std::fs::create_dir_all(conda.join("conda-meta")).unwrap();
        std::fs::create_dir_all(root.join("home/miniconda3/envs/not-an-env")).unwrap();
        let bindir = root.join("usr bin");
        make_exe(&bindir.join("python3"));
        let project = root.join("project");
        make_exe(&project.join(".venv/bin/python"));
        std::fs::write(project.join(".venv/pyvenv.cfg"), "home = /x\n").unwrap();

        let env = HostEnv::from_pairs([
            ("VIRTUAL_ENV", active.to_string_lossy().into_owned()),
            ("CONDA_PREFIX", conda.to_string_lossy().into_owned()),
            ("PATH", bindir.to_string_lossy().into_owned()),
            ("HOME", root.join("home").to_string_lossy().into_owned()),
        ]);
        let input = DiscoverInput { os: Os::Linux, env: &env, cwd: &project, explicit: None };
        let found = discover(&input);
        let by: Vec<(&str, bool)> = found.iter().map(|f| (f.found_by.as_str(), f.eligible)).collect();
        assert_eq!(
            by,
            vec![("VIRTUAL_ENV", true), ("CONDA_PREFIX, conda env", true), ("PATH", true), (".venv", false)],
            "{found:#?}"
        );
        assert!(found[0].display.contains("active venv/bin/python"));

        let explicit = project.join(".venv");
        let input = DiscoverInput { explicit: Some(&explicit), ..input };
        let found = discover(&input);
        assert_eq!(found[0].found_by, "--python, .venv");
        assert!(found[0].eligible);
        assert!(found.iter().skip(1).all(|f| !f.eligible));
    }

    #[cfg(unix)]
    #[test]
    fn stale_virtual_env_and_missing_explicit_are_problems() {
        let tmp = tempfile::tempdir().unwrap();
        let env = HostEnv::from_pairs([("VIRTUAL_ENV", tmp.path().join("gone").to_string_lossy().into_owned())]);
        let input = DiscoverInput { os: Os::Linux, env: &env, cwd: tmp.path(), explicit: None };
        let found = discover(&input);
        assert_eq!(found.len(), 1);
        assert!(!found[0].eligible);
        assert!(found[0].problem.as_deref().unwrap().contains("no interpreter"));

        let missing = Path::new("/nonexistent/python3");
        let input = DiscoverInput { explicit: Some(missing), ..input };
        assert_eq!(discover(&input)[0].problem.as_deref(), Some("no such file"));
    }

    /// Windows rules on a real directory tree: Scripts\python.exe venvs, conda envs with
    /// python.exe at the root under %USERPROFILE%, the Store stub on PATH, `py` in %SystemRoot%.
    #[cfg(unix)]
    #[test]
    fn windows_layout_on_a_real_tree() {
        let tmp = tempfile::tempdir().unwrap();
        let root = tmp.path();
        let profile = root.join("Users/Me");
        let local = profile.join("AppData/Local");
        let apps = local.join("Microsoft/WindowsApps");
        make_exe(&apps.join("python.exe"));
        make_exe(&apps.join("python3.exe"));
        let real = root.join("Program Files/Python311");
        make_exe(&real.join("python.exe"));
        let env_dir = profile.join("miniconda3/envs/cyberpuppy");
        make_exe(&env_dir.join("python.exe"));
        std::fs::create_dir_all(env_dir.join("conda-meta")).unwrap();
        let project = root.join("my project");
        make_exe(&project.join("venv/Scripts/python.exe"));
        std::fs::write(project.join("venv/pyvenv.cfg"), "home = C:\\Python311\n").unwrap();
        let sysroot = root.join("Windows");
        make_exe(&sysroot.join("py.exe"));

        let env = HostEnv::from_pairs([
            ("PATH", format!("{};{}", apps.display(), real.display())),
            ("LOCALAPPDATA", local.to_string_lossy().into_owned()),
            ("USERPROFILE", profile.to_string_lossy().into_owned()),
            ("SystemRoot", sysroot.to_string_lossy().into_owned()),
        ])
        .windows_style();
        let input = DiscoverInput { os: Os::Windows, env: &env, cwd: &project, explicit: None };
        let found = discover(&input);
        let summary: Vec<(String, &str, bool, bool)> = found
            .iter()
            .map(|f| {
                (f.display.replace(&*root.to_string_lossy(), ""), f.found_by.as_str(), f.eligible, f.problem.is_some())
            })
            .collect();
        assert_eq!(
            summary,
            vec![
                ("/Users/Me/AppData/Local/Microsoft/WindowsApps/python.exe".to_string(), "PATH", false, true),
                ("/Program Files/Python311/python.exe".to_string(), "PATH", true, false),
                ("/Users/Me/AppData/Local/Microsoft/WindowsApps/python3.exe".to_string(), "PATH", false, true),
                ("py -3".to_string(), "py launcher", true, false),
                ("/my project/venv/Scripts/python.exe".to_string(), "venv", false, false),
                ("/Users/Me/miniconda3/envs/cyberpuppy/python.exe".to_string(), "conda env", false, false),
            ]
        );
        assert!(found[0].problem.as_deref().unwrap().contains("F42"));
        assert_eq!(found[3].argv[1], "-3");

        // --python pointing at the stub is refused before it is ever run.
        let stub = apps.join("python.exe");
        let input = DiscoverInput { explicit: Some(&stub), ..input };
        assert!(discover(&input)[0].problem.as_deref().unwrap().contains("F42"));
    }

    /// A torchup binary at `exe` discovering with only `pairs` set.
    fn discover_as(os: Os, exe: &Path, cwd: &Path, pairs: Vec<(&str, String)>) -> Vec<Found> {
        let env = HostEnv::from_pairs(pairs).with_own_exe(exe);
        let env = if os == Os::Windows { env.windows_style() } else { env };
        discover(&DiscoverInput { os, env: &env, cwd, explicit: None })
    }

    fn targets(found: &[Found], root: &Path) -> Vec<(String, String)> {
        found
            .iter()
            .filter(|f| f.eligible)
            .map(|f| (f.display.replace(&*root.to_string_lossy(), ""), f.found_by.clone()))
            .collect()
    }

    /// `pip install torchup` into a venv, then `/p/.venv/bin/torchup` run without activating
    /// it: that venv comes before PATH; an active venv still comes first.
    #[cfg(unix)]
    #[test]
    fn torchup_installed_in_a_venv_targets_that_venv() {
        let tmp = tempfile::tempdir().unwrap();
        let root = tmp.path();
        let venv = root.join("proj/.venv");
        make_exe(&venv.join("bin/python"));
        make_exe(&venv.join("bin/torchup"));
        std::fs::write(venv.join("pyvenv.cfg"), "home = /usr/bin\n").unwrap();
        let usr = root.join("usr/bin");
        make_exe(&usr.join("python3"));
        let path = ("PATH", usr.display().to_string());
        let exe = venv.join("bin/torchup");

        let found = discover_as(Os::Linux, &exe, root, vec![path.clone()]);
        assert_eq!(
            targets(&found, root),
            vec![
                ("/proj/.venv/bin/python".to_string(), INSTALLED_HERE.to_string()),
                ("/usr/bin/python3".to_string(), "PATH".to_string())
            ]
        );

        let active = root.join("active");
        make_exe(&active.join("bin/python"));
        let found = discover_as(Os::Linux, &exe, root, vec![path, ("VIRTUAL_ENV", active.display().to_string())]);
        assert_eq!(targets(&found, root)[0], ("/active/bin/python".to_string(), "VIRTUAL_ENV".to_string()));
        assert_eq!(targets(&found, root)[1].1, INSTALLED_HERE);
    }

    /// The interpreter of the env is found in either layout: a venv's `bin/python3` only,
    /// a conda env's `bin/python`.
    #[cfg(unix)]
    #[test]
    fn torchup_in_a_conda_env_or_a_python3_only_venv() {
        let tmp = tempfile::tempdir().unwrap();
        let root = tmp.path();
        let conda = root.join("miniconda3/envs/train");
        make_exe(&conda.join("bin/python"));
        make_exe(&conda.join("bin/torchup"));
        std::fs::create_dir_all(conda.join("conda-meta")).unwrap();
        let found = discover_as(Os::Linux, &conda.join("bin/torchup"), root, vec![]);
        assert_eq!(targets(&found, root), vec![("/miniconda3/envs/train/bin/python".into(), INSTALLED_HERE.into())]);

        let venv = root.join("v3");
        make_exe(&venv.join("bin/python3"));
        let found = discover_as(Os::Linux, &venv.join("bin/torchup"), root, vec![]);
        assert_eq!(targets(&found, root), vec![("/v3/bin/python3".into(), INSTALLED_HERE.into())]);
    }

    /// pipx, `uv tool` and uvx keep torchup in a private env: never the target; neither is a
    /// folder without an interpreter (`cargo install` → ~/.cargo/bin) or a build folder.
    #[cfg(unix)]
    #[test]
    fn private_tool_envs_and_plain_folders_are_not_targets() {
        let tmp = tempfile::tempdir().unwrap();
        let root = tmp.path();
        let usr = root.join("usr/bin");
        make_exe(&usr.join("python3"));
        let path = || vec![("PATH", usr.display().to_string())];
        let only_path = vec![("/usr/bin/python3".to_string(), "PATH".to_string())];

        let private = |dir: &str, marker: Option<&str>| {
            let env_dir = root.join(dir);
            make_exe(&env_dir.join("bin/python"));
            std::fs::write(env_dir.join("pyvenv.cfg"), "home = /usr/bin\n").unwrap();
            if let Some(m) = marker {
                std::fs::write(env_dir.join(m), "{}").unwrap();
            }
            env_dir.join("bin/torchup")
        };
        for (dir, marker, owner) in [
            ("home/.local/share/pipx/venvs/torchup", None, "pipx"),
            ("somewhere/torchup", Some("pipx_metadata.json"), "pipx"),
            ("home/.cache/pipx/1a2b3c", None, "pipx"),
            ("home/.local/share/uv/tools/torchup", None, "uv tool"),
            ("elsewhere/torchup", Some("uv-receipt.toml"), "uv tool"),
            ("home/.cache/uv/archive-v0/Xb7pA3", None, "uvx"),
            ("home/.cache/uv/environments-v2/torchup-5f1e", None, "uvx"),
        ] {
            let exe = private(dir, marker);
            let env_dir = exe.parent().unwrap().parent().unwrap();
            assert_eq!(private_tool_env(env_dir, &HostEnv::default()), Some(owner), "{dir}");
            assert_eq!(targets(&discover_as(Os::Linux, &exe, root, path()), root), only_path, "{dir}");
        }
        // uvx's cache moved elsewhere: its root is marked CACHEDIR.TAG (a uv venv's own tag
        // does not count).
        let exe = private("my-uv-cache/archive-v0/Gme25B", None);
        std::fs::write(root.join("my-uv-cache/CACHEDIR.TAG"), "Signature: 8a477f597d28d172789f06886806bc55").unwrap();
        assert_eq!(targets(&discover_as(Os::Linux, &exe, root, path()), root), only_path);
        let uv_venv = root.join("proj/.venv");
        make_exe(&uv_venv.join("bin/python"));
        std::fs::write(uv_venv.join("CACHEDIR.TAG"), "Signature: 8a477f597d28d172789f06886806bc55").unwrap();
        let found = discover_as(Os::Linux, &uv_venv.join("bin/torchup"), root, path());
        assert_eq!(targets(&found, root)[0], ("/proj/.venv/bin/python".to_string(), INSTALLED_HERE.to_string()));
        // uvx runs torchup with its private env's bin first on PATH.
        let exe = private("home/.cache/uv/archive-v0/Q9x", None);
        let bin = exe.parent().unwrap();
        let found = discover_as(Os::Linux, &exe, root, vec![("PATH", format!("{}:{}", bin.display(), usr.display()))]);
        assert_eq!(targets(&found, root), only_path);
        assert!(found[0].problem.as_deref().unwrap().starts_with("the private environment uvx runs torchup in"));
        // A tool home moved by its variable.
        let exe = private("tools/mine/torchup", None);
        let found = discover_as(
            Os::Linux,
            &exe,
            root,
            vec![("PATH", usr.display().to_string()), ("UV_TOOL_DIR", root.join("tools/mine").display().to_string())],
        );
        assert_eq!(targets(&found, root), only_path);

        make_exe(&root.join("home/.cargo/bin/torchup"));
        let found = discover_as(Os::Linux, &root.join("home/.cargo/bin/torchup"), root, path());
        assert_eq!(targets(&found, root), only_path, "no interpreter next to it");
        make_exe(&root.join("target/debug/python"));
        let found = discover_as(Os::Linux, &root.join("target/debug/torchup"), root, path());
        assert_eq!(targets(&found, root), only_path, "not an env's bin folder");
    }

    /// Windows: `Scripts\torchup.exe` of a venv (`Scripts\python.exe`), of a conda env or a
    /// python.org install (`python.exe` one folder up); pipx's venvs are skipped.
    #[cfg(unix)]
    #[test]
    fn torchup_installed_on_windows_targets_its_env() {
        let tmp = tempfile::tempdir().unwrap();
        let root = tmp.path();
        let venv = root.join("my project/venv");
        make_exe(&venv.join("Scripts/python.exe"));
        std::fs::write(venv.join("pyvenv.cfg"), "home = C:\\Python311\n").unwrap();
        let found = discover_as(Os::Windows, &venv.join("Scripts/torchup.exe"), root, vec![]);
        assert_eq!(targets(&found, root), vec![("/my project/venv/Scripts/python.exe".into(), INSTALLED_HERE.into())]);

        let conda = root.join("Users/Me/miniconda3/envs/train");
        make_exe(&conda.join("python.exe"));
        std::fs::create_dir_all(conda.join("conda-meta")).unwrap();
        let found = discover_as(Os::Windows, &conda.join("Scripts/torchup.exe"), root, vec![]);
        assert_eq!(
            targets(&found, root),
            vec![("/Users/Me/miniconda3/envs/train/python.exe".into(), INSTALLED_HERE.into())]
        );

        let system = root.join("Python312");
        make_exe(&system.join("python.exe"));
        let found = discover_as(
            Os::Windows,
            &system.join("scripts/torchup.exe"),
            root,
            vec![("PATH", system.display().to_string())],
        );
        assert_eq!(
            targets(&found, root),
            vec![("/Python312/python.exe".into(), format!("{INSTALLED_HERE}, PATH"))],
            "the same interpreter found twice is one candidate"
        );

        let pipx = root.join("Users/Me/pipx/venvs/torchup");
        make_exe(&pipx.join("Scripts/python.exe"));
        let found = discover_as(Os::Windows, &pipx.join("Scripts/torchup.exe"), root, vec![]);
        assert!(targets(&found, root).is_empty(), "{found:#?}");
        // A Unix layout does not count on Windows.
        let found = discover_as(Os::Windows, &root.join("my project/venv/bin/torchup.exe"), root, vec![]);
        assert!(targets(&found, root).is_empty(), "{found:#?}");
    }

    #[cfg(unix)]
    #[test]
    fn same_paths_merge_but_symlinked_directories_wait_for_the_probe() {
        let tmp = tempfile::tempdir().unwrap();
        let real = tmp.path().join("usr/bin");
        make_exe(&real.join("python3"));
        std::os::unix::fs::symlink(&real, tmp.path().join("bin")).unwrap();
        let path = format!("{}:{}:{}", real.display(), tmp.path().join("bin").display(), real.display());
        let env = HostEnv::from_pairs([("PATH", path)]);
        let input = DiscoverInput { os: Os::Linux, env: &env, cwd: tmp.path(), explicit: None };
        let found = discover(&input);
        assert_eq!(found.len(), 2, "{found:#?}");
        assert_eq!(same_file_key("C:\\Python312\\python.exe"), same_file_key("c:/python312/PYTHON.EXE"));
    }
}
