//! Where nvidia-smi, nvcc and the NVML library live, per platform.
//!
//! Every function here is pure: it takes the [`Platform`], the [`HostEnv`] and a
//! file-exists predicate, so the Windows and WSL rules run in the Linux test suite.
//! (The `which` crate cannot do this: it reads the real filesystem and splits PATH with
//! the separator of the machine it runs on, so a Windows PATH cannot be searched on Linux.)

use std::ffi::OsString;
use std::path::{Path, PathBuf};

use crate::facts::Os;
use crate::facts::platform::{HostEnv, Platform};

/// Where WSL2 mounts the Windows driver's Linux user-mode libraries and tools.
pub(crate) const WSL_LIB_DIR: &str = "/usr/lib/wsl/lib";

/// How nvidia-smi was found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum FoundBy {
    /// `TORCHUP_NVIDIA_SMI`.
    Override,
    /// A directory on PATH.
    Path,
    /// `%SystemRoot%\System32` (Windows DCH drivers, since Windows 10 1809).
    System32,
    /// `%ProgramFiles%\NVIDIA Corporation\NVSMI` (older, non-DCH Windows drivers).
    NvsmiFolder,
    /// `/usr/lib/wsl/lib` (WSL2: supplied by the Windows driver).
    WslLib,
}

impl FoundBy {
    pub(crate) fn describe(self) -> &'static str {
        match self {
            FoundBy::Override => "TORCHUP_NVIDIA_SMI",
            FoundBy::Path => "PATH",
            FoundBy::System32 => "System32",
            FoundBy::NvsmiFolder => "the NVSMI folder",
            FoundBy::WslLib => WSL_LIB_DIR,
        }
    }
}

/// A located program.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Located {
    pub path: PathBuf,
    pub found_by: FoundBy,
}

/// Find nvidia-smi: the override, then PATH, then (Windows) System32 and the NVSMI
/// folder, then (WSL) `/usr/lib/wsl/lib`. The override is returned even when it does
/// not exist, so the probe can say exactly which path failed.
pub(crate) fn locate_nvidia_smi(
    platform: &Platform,
    env: &HostEnv,
    override_path: Option<&Path>,
    exists: &dyn Fn(&Path) -> bool,
) -> Option<Located> {
    if let Some(p) = override_path {
        return Some(Located { path: p.to_path_buf(), found_by: FoundBy::Override });
    }
    if let Some(path) = search_path(platform, env, "nvidia-smi", exists) {
        return Some(Located { path, found_by: FoundBy::Path });
    }
    let fixed: Vec<(PathBuf, FoundBy)> = match platform.os {
        Os::Windows => vec![
            (join(platform, &system_root(env), &["System32", "nvidia-smi.exe"]), FoundBy::System32),
            (
                join(platform, &program_files(env), &["NVIDIA Corporation", "NVSMI", "nvidia-smi.exe"]),
                FoundBy::NvsmiFolder,
            ),
        ],
        Os::Linux if platform.wsl => vec![(join(platform, WSL_LIB_DIR, &["nvidia-smi"]), FoundBy::WslLib)],
        _ => vec![],
    };
    fixed.into_iter().find(|(p, _)| exists(p)).map(|(path, found_by)| Located { path, found_by })
}

/// NVML libraries to try, in order. The first entry may be a bare library name that the
/// system loader resolves (Linux); on Windows only absolute paths are used, so a stray
/// `nvml.dll` in the current directory is never loaded.
pub(crate) fn nvml_library_candidates(platform: &Platform, env: &HostEnv) -> Vec<OsString> {
    match platform.os {
        Os::Windows => vec![
            join(platform, &system_root(env), &["System32", "nvml.dll"]).into_os_string(),
            join(platform, &program_files(env), &["NVIDIA Corporation", "NVSMI", "nvml.dll"]).into_os_string(),
        ],
        Os::Linux => {
            let mut v = vec![OsString::from("libnvidia-ml.so.1")];
            if platform.wsl {
                v.push(join(platform, WSL_LIB_DIR, &["libnvidia-ml.so.1"]).into_os_string());
            }
            v
        }
        Os::Macos => vec![],
    }
}

/// Find nvcc: PATH first, then `CUDA_PATH/bin`.
pub(crate) fn locate_nvcc(platform: &Platform, env: &HostEnv, exists: &dyn Fn(&Path) -> bool) -> Option<PathBuf> {
    if let Some(p) = search_path(platform, env, "nvcc", exists) {
        return Some(p);
    }
    let cuda_path = env.get("CUDA_PATH")?;
    let exe = if platform.os == Os::Windows { "nvcc.exe" } else { "nvcc" };
    let p = join(platform, &cuda_path, &["bin", exe]);
    exists(&p).then_some(p)
}

/// Search PATH (from `env`, split the way `platform` splits it) for `program`.
/// On Windows each `PATHEXT` extension is tried (default `.COM;.EXE;.BAT;.CMD`).
pub(crate) fn search_path(
    platform: &Platform,
    env: &HostEnv,
    program: &str,
    exists: &dyn Fn(&Path) -> bool,
) -> Option<PathBuf> {
    let path_var = env.get("PATH")?;
    let windows = platform.os == Os::Windows;
    let names: Vec<String> = if windows {
        let exts = env.get("PATHEXT").unwrap_or_else(|| ".COM;.EXE;.BAT;.CMD".to_string());
        exts.split(';')
            .map(str::trim)
            .filter(|e| !e.is_empty())
            .map(|e| format!("{program}{}", e.to_ascii_lowercase()))
            .collect()
    } else {
        vec![program.to_string()]
    };
    let sep = if windows { ';' } else { ':' };
    path_var
        .split(sep)
        .map(|d| d.trim().trim_matches('"'))
        // An empty entry means "the current directory" to POSIX shells; never search it.
        .filter(|d| !d.is_empty())
        .flat_map(|dir| names.iter().map(move |n| join(platform, dir, &[n])))
        .find(|p| exists(p))
}

/// Join path parts with the separator of `platform` (not of the machine we run on).
pub(crate) fn join(platform: &Platform, base: &str, parts: &[&str]) -> PathBuf {
    let sep = if platform.os == Os::Windows { '\\' } else { '/' };
    // "/" trims to "", which the loop turns back into "/part".
    let mut s = base.trim_end_matches(['\\', '/']).to_string();
    for part in parts {
        s.push(sep);
        s.push_str(part);
    }
    PathBuf::from(s)
}

fn system_root(env: &HostEnv) -> String {
    env.get("SystemRoot").or_else(|| env.get("windir")).unwrap_or_else(|| r"C:\Windows".to_string())
}

fn program_files(env: &HostEnv) -> String {
    // ProgramW6432 is the 64-bit folder even when read from a 32-bit process.
    env.get("ProgramW6432").or_else(|| env.get("ProgramFiles")).unwrap_or_else(|| r"C:\Program Files".to_string())
}

/// The real file-exists test for programs: a regular file, executable on Unix.
pub(crate) fn is_executable_file(p: &Path) -> bool {
    let Ok(meta) = std::fs::metadata(p) else { return false };
    if !meta.is_file() {
        return false;
    }
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        meta.permissions().mode() & 0o111 != 0
    }
    #[cfg(not(unix))]
    {
        true
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeSet;

    fn windows() -> Platform {
        Platform { os: Os::Windows, cpu_arch: "x86_64".into(), wsl: false }
    }
    fn linux() -> Platform {
        Platform { os: Os::Linux, cpu_arch: "x86_64".into(), wsl: false }
    }
    fn wsl() -> Platform {
        Platform { os: Os::Linux, cpu_arch: "x86_64".into(), wsl: true }
    }

    fn fs(files: &[&str]) -> impl Fn(&Path) -> bool {
        let set: BTreeSet<String> = files.iter().map(|s| s.to_string()).collect();
        move |p: &Path| set.contains(&p.to_string_lossy().into_owned())
    }

    fn win_env(path: &str) -> HostEnv {
        HostEnv::from_pairs([
            ("Path", path),
            ("SystemRoot", r"C:\WINDOWS"),
            ("ProgramFiles", r"C:\Program Files"),
            ("PATHEXT", ".COM;.EXE;.BAT;.CMD;.VBS"),
        ])
        .windows_style()
    }

    #[test]
    fn windows_dch_driver_is_found_in_system32() {
        let env = win_env(r"C:\Python312\Scripts\;C:\Python312\");
        let exists = fs(&[r"C:\WINDOWS\System32\nvidia-smi.exe"]);
        let got = locate_nvidia_smi(&windows(), &env, None, &exists).unwrap();
        assert_eq!(got.path, PathBuf::from(r"C:\WINDOWS\System32\nvidia-smi.exe"));
        assert_eq!(got.found_by, FoundBy::System32);
    }

    #[test]
    fn windows_legacy_driver_is_found_in_nvsmi_when_system32_has_none() {
        let env = win_env(r"C:\Python312\");
        let exists = fs(&[r"C:\Program Files\NVIDIA Corporation\NVSMI\nvidia-smi.exe"]);
        let got = locate_nvidia_smi(&windows(), &env, None, &exists).unwrap();
        assert_eq!(got.path, PathBuf::from(r"C:\Program Files\NVIDIA Corporation\NVSMI\nvidia-smi.exe"));
        assert_eq!(got.found_by, FoundBy::NvsmiFolder);
    }

    #[test]
    fn windows_path_wins_over_fixed_folders_and_handles_quotes_and_pathext() {
        let env = win_env(r#"C:\Python312\;"D:\Tools\nv smi\";C:\WINDOWS\System32"#);
        let exists = fs(&[r"D:\Tools\nv smi\nvidia-smi.exe", r"C:\WINDOWS\System32\nvidia-smi.exe"]);
        let got = locate_nvidia_smi(&windows(), &env, None, &exists).unwrap();
        assert_eq!(got.path, PathBuf::from(r"D:\Tools\nv smi\nvidia-smi.exe"));
        assert_eq!(got.found_by, FoundBy::Path);
    }

    #[test]
    fn windows_defaults_when_variables_are_missing() {
        let env = HostEnv::from_pairs([("PATH", r"C:\x")]).windows_style();
        let exists = fs(&[r"C:\Windows\System32\nvidia-smi.exe"]);
        let got = locate_nvidia_smi(&windows(), &env, None, &exists).unwrap();
        assert_eq!(got.found_by, FoundBy::System32);
    }

    #[test]
    fn windows_nothing_found() {
        let env = win_env(r"C:\Python312\");
        assert_eq!(locate_nvidia_smi(&windows(), &env, None, &fs(&[])), None);
    }

    #[test]
    fn wsl_falls_back_to_wsl_lib_and_ignores_windows_exe_on_path() {
        let env = HostEnv::from_pairs([("PATH", "/usr/local/bin:/usr/bin:/mnt/c/WINDOWS/system32")]);
        let exists = fs(&["/mnt/c/WINDOWS/system32/nvidia-smi.exe", "/usr/lib/wsl/lib/nvidia-smi"]);
        let got = locate_nvidia_smi(&wsl(), &env, None, &exists).unwrap();
        assert_eq!(got.path, PathBuf::from("/usr/lib/wsl/lib/nvidia-smi"));
        assert_eq!(got.found_by, FoundBy::WslLib);
    }

    #[test]
    fn plain_linux_does_not_look_in_wsl_lib() {
        let env = HostEnv::from_pairs([("PATH", "/usr/bin")]);
        let exists = fs(&["/usr/lib/wsl/lib/nvidia-smi"]);
        assert_eq!(locate_nvidia_smi(&linux(), &env, None, &exists), None);
        let exists = fs(&["/usr/bin/nvidia-smi"]);
        assert_eq!(
            locate_nvidia_smi(&linux(), &env, None, &exists).unwrap().path,
            PathBuf::from("/usr/bin/nvidia-smi")
        );
    }

    #[test]
    fn empty_path_entries_are_not_the_current_directory() {
        let env = HostEnv::from_pairs([("PATH", ":/opt/bin:")]);
        let exists = fs(&["/nvidia-smi", "nvidia-smi", "/opt/bin/nvidia-smi"]);
        assert_eq!(search_path(&linux(), &env, "nvidia-smi", &exists), Some(PathBuf::from("/opt/bin/nvidia-smi")));
    }

    #[test]
    fn override_is_returned_even_if_missing() {
        let env = HostEnv::from_pairs([("PATH", "/usr/bin")]);
        let got = locate_nvidia_smi(&linux(), &env, Some(Path::new("/nope/nvidia-smi")), &fs(&["/usr/bin/nvidia-smi"]));
        assert_eq!(got, Some(Located { path: "/nope/nvidia-smi".into(), found_by: FoundBy::Override }));
    }

    #[test]
    fn nvml_candidates_per_platform() {
        let env = win_env("");
        let w = nvml_library_candidates(&windows(), &env);
        assert_eq!(
            w,
            vec![
                OsString::from(r"C:\WINDOWS\System32\nvml.dll"),
                OsString::from(r"C:\Program Files\NVIDIA Corporation\NVSMI\nvml.dll")
            ]
        );
        let e = HostEnv::default();
        assert_eq!(nvml_library_candidates(&linux(), &e), vec![OsString::from("libnvidia-ml.so.1")]);
        assert_eq!(
            nvml_library_candidates(&wsl(), &e),
            vec![OsString::from("libnvidia-ml.so.1"), OsString::from("/usr/lib/wsl/lib/libnvidia-ml.so.1")]
        );
        let mac = Platform { os: Os::Macos, cpu_arch: "aarch64".into(), wsl: false };
        assert!(nvml_library_candidates(&mac, &e).is_empty());
    }

    #[test]
    fn program_w6432_is_preferred_for_the_nvsmi_folder() {
        let env =
            HostEnv::from_pairs([("ProgramFiles", r"C:\Program Files (x86)"), ("ProgramW6432", r"C:\Program Files")])
                .windows_style();
        let exists = fs(&[r"C:\Program Files\NVIDIA Corporation\NVSMI\nvidia-smi.exe"]);
        assert!(locate_nvidia_smi(&windows(), &env, None, &exists).is_some());
    }

    #[test]
    fn nvcc_from_path_then_cuda_path() {
        let env = win_env(r"C:\x").windows_style();
        let env_cuda = HostEnv::from_pairs([
            ("PATH", r"C:\x"),
            ("CUDA_PATH", r"C:\Program Files\NVIDIA GPU Computing Toolkit\CUDA\v12.4\"),
        ])
        .windows_style();
        let exists = fs(&[r"C:\Program Files\NVIDIA GPU Computing Toolkit\CUDA\v12.4\bin\nvcc.exe"]);
        assert_eq!(locate_nvcc(&windows(), &env, &exists), None);
        assert_eq!(
            locate_nvcc(&windows(), &env_cuda, &exists),
            Some(PathBuf::from(r"C:\Program Files\NVIDIA GPU Computing Toolkit\CUDA\v12.4\bin\nvcc.exe"))
        );
        let lin = HostEnv::from_pairs([("PATH", "/usr/local/cuda/bin:/usr/bin")]);
        assert_eq!(
            locate_nvcc(&linux(), &lin, &fs(&["/usr/local/cuda/bin/nvcc"])),
            Some(PathBuf::from("/usr/local/cuda/bin/nvcc"))
        );
    }

    #[test]
    fn join_uses_the_platform_separator() {
        assert_eq!(
            join(&windows(), r"C:\Windows\", &["System32", "x.exe"]),
            PathBuf::from(r"C:\Windows\System32\x.exe")
        );
        assert_eq!(join(&linux(), "/usr/lib/", &["a"]), PathBuf::from("/usr/lib/a"));
        assert_eq!(join(&linux(), "/", &["bin", "a"]), PathBuf::from("/bin/a"));
    }

    #[cfg(unix)]
    #[test]
    fn executable_check_on_real_files() {
        let dir = tempfile::tempdir().unwrap();
        let f = dir.path().join("tool");
        std::fs::write(&f, "#!/bin/sh\n").unwrap();
        assert!(!is_executable_file(&f));
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&f, std::fs::Permissions::from_mode(0o755)).unwrap();
        assert!(is_executable_file(&f));
        assert!(!is_executable_file(dir.path()));
        assert!(!is_executable_file(&dir.path().join("missing")));
    }
}
