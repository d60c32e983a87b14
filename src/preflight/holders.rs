//! Python processes that run from the environment being changed. On Windows they keep
//! torch's DLLs locked, so `pip uninstall` fails with `[WinError 5] Access is denied` or
//! `[WinError 32]` halfway (U01); on any OS they keep running the old build.

use std::path::{Path, PathBuf};

use super::Issue;

/// The catalogue id (U01: "Windows could not remove torch: its files are in use").
pub(super) const ID: &str = "U01";

/// A process using the environment.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Holder {
    pub pid: u32,
    pub name: String,
    pub exe: PathBuf,
}

/// Processes (other than `own_pids`) whose executable lies inside `env_prefix`, from a list
/// of (pid, name, exe) — a pure filter, fed by [`running_processes`] in real use.
pub fn processes_using(env_prefix: &Path, processes: &[(u32, String, PathBuf)], own_pids: &[u32]) -> Vec<Holder> {
    let prefix = normalize(env_prefix);
    let mut v: Vec<Holder> = processes
        .iter()
        .filter(|(pid, _, exe)| !own_pids.contains(pid) && normalize(exe).starts_with(&prefix))
        .map(|(pid, name, exe)| Holder { pid: *pid, name: name.clone(), exe: exe.clone() })
        .collect();
    v.sort_by_key(|h| h.pid);
    v
}

/// Case-folded, separator-normalized path text (Windows paths compare case-insensitively).
fn normalize(p: &Path) -> String {
    let s = p.to_string_lossy().replace('\\', "/");
    let s = s.trim_end_matches('/').to_string();
    if s.len() >= 2 && s.as_bytes()[1] == b':' { s.to_lowercase() + "/" } else { s + "/" }
}

/// The issue to show for holders.
pub fn holders_issue(holders: &[Holder], windows: bool) -> Option<Issue> {
    if holders.is_empty() {
        return None;
    }
    let list = holders.iter().map(|h| format!("{} (pid {})", h.name, h.pid)).collect::<Vec<_>>().join(", ");
    let kill = if windows {
        holders.iter().map(|h| format!("Stop-Process -Id {}", h.pid)).collect::<Vec<_>>().join("; ")
    } else {
        format!("kill {}", holders.iter().map(|h| h.pid.to_string()).collect::<Vec<_>>().join(" "))
    };
    Some(Issue::new(
        ID,
        format!(
            "Python is running from this environment: {list}.{}",
            if windows { " Windows keeps torch's DLLs locked, so the uninstall would fail halfway." } else { "" }
        ),
        format!("Close those programs (Jupyter kernels, IDE consoles, training runs), or: {kill}"),
        windows,
    ))
}

/// Every running process with a known executable, as (pid, name, exe).
pub fn running_processes() -> Vec<(u32, String, PathBuf)> {
    use sysinfo::{ProcessRefreshKind, RefreshKind, System, UpdateKind};
    let Ok(sys) = System::new_with_specifics(
        RefreshKind::nothing().with_processes(ProcessRefreshKind::nothing().with_exe(UpdateKind::Always)),
    ) else {
        return Vec::new();
    };
    sys.processes()
        .iter()
        .filter_map(|(pid, p)| Some((pid.as_u32(), p.name().to_string_lossy().into_owned(), p.exe()?.to_path_buf())))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_windows_processes_case_insensitively_and_skips_our_own() {
        let procs = vec![
            (10, "python.exe".to_string(), PathBuf::from(r"C:\Users\A\envs\cyberpuppy\python.exe")),
            (11, "python.exe".to_string(), PathBuf::from(r"c:\users\a\envs\cyberpuppy\Scripts\jupyter.exe")),
            (12, "python.exe".to_string(), PathBuf::from(r"C:\Users\A\envs\other\python.exe")),
            (13, "python.exe".to_string(), PathBuf::from(r"C:\Users\A\envs\cyberpuppy\python.exe")),
        ];
        let h = processes_using(Path::new(r"C:\Users\A\envs\cyberpuppy"), &procs, &[13]);
        assert_eq!(h.iter().map(|h| h.pid).collect::<Vec<_>>(), vec![10, 11]);
        let issue = holders_issue(&h, true).unwrap();
        assert!(issue.blocking);
        assert!(issue.fix.contains("Stop-Process -Id 10; Stop-Process -Id 11"));
    }

    #[test]
    fn prefix_must_match_whole_components() {
        let procs = vec![(1, "python".to_string(), PathBuf::from("/home/u/.venv2/bin/python"))];
        assert!(processes_using(Path::new("/home/u/.venv"), &procs, &[]).is_empty());
    }

    #[test]
    fn sees_a_real_process_running_from_a_directory() {
        let me = std::env::current_exe().unwrap();
        let dir = me.parent().unwrap();
        let procs = running_processes();
        let found = processes_using(dir, &procs, &[]);
        assert!(found.iter().any(|h| h.pid == std::process::id()), "{found:?}");
    }
}
