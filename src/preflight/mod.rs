//! Checks before anything changes, so users meet a warning with a fix instead of a
//! failure halfway: the Visual C++ runtime on Windows (WinError 126 otherwise), free disk
//! space for multi-GB wheels (F32), Python processes that hold torch's files open
//! (WinError 5/32 on uninstall, U01), and pip's half-removed `~orch` leftovers.
//!
//! Decisions are pure functions taking the platform, paths and probes as values, so the
//! Windows behaviour is tested on Linux; the thin OS-touching parts are at the bottom.

mod holders;
mod leftovers;
mod space;
mod vcruntime;

pub use holders::{Holder, holders_issue, processes_using, running_processes};
pub use leftovers::{remove_leftovers, stash_leftovers};
pub use space::{SpaceNeed, free_bytes, needs_for, space_issues, volume_of};
pub use vcruntime::{VC_RUNTIME_DLLS, missing_vc_runtime};

use serde::{Deserialize, Serialize};

use crate::finding::Finding;

/// A problem found before installing: a [`Finding`] (id from the one catalogue, F14 for
/// the VC++ runtime, F32 for disk space, U01 for files held open) that may block the install.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Issue {
    #[serde(flatten)]
    pub finding: Finding,
    /// The install cannot succeed until this is fixed.
    pub blocking: bool,
}

impl Issue {
    /// An issue with this catalogue id, one-line title (what is wrong here) and fix.
    pub fn new(id: &str, title: String, fix: String, blocking: bool) -> Issue {
        Issue { finding: Finding { id: id.into(), title, explanation: String::new(), fix }, blocking }
    }
}

impl std::ops::Deref for Issue {
    type Target = Finding;
    fn deref(&self) -> &Finding {
        &self.finding
    }
}

/// The catalogue ids the checks here use (each is a rule in assets/diagnoses.toml).
pub const ISSUE_IDS: [&str; 3] = [vcruntime::ID, space::ID, holders::ID];

use std::path::{Path, PathBuf};

use crate::facts::platform::HostEnv;
use crate::facts::{Facts, Os};
use crate::plan::Plan;

/// What the checks need from the machine; a trait so tests describe any machine.
pub trait HostProbe {
    fn exists(&self, path: &Path) -> bool;
    fn free_bytes(&self, path: &Path) -> Option<u64>;
    fn volume(&self, path: &Path) -> Option<String>;
    fn processes(&self) -> Vec<(u32, String, PathBuf)>;
}

/// The machine torchup runs on.
pub struct RealHost;

impl HostProbe for RealHost {
    fn exists(&self, path: &Path) -> bool {
        path.exists()
    }
    fn free_bytes(&self, path: &Path) -> Option<u64> {
        free_bytes(path)
    }
    fn volume(&self, path: &Path) -> Option<String> {
        volume_of(path)
    }
    fn processes(&self) -> Vec<(u32, String, PathBuf)> {
        running_processes()
    }
}

/// Every issue for carrying out `plan` on the machine described by `facts`.
pub fn check(facts: &Facts, plan: &Plan, env: &HostEnv, host: &impl HostProbe) -> Vec<Issue> {
    let (Some(choice), Some(python)) = (&plan.choice, &facts.python) else { return Vec::new() };
    if plan.nothing_to_do {
        return Vec::new();
    }
    let windows = facts.os == Os::Windows;
    let mut issues = Vec::new();
    if windows {
        let root = env.get("SystemRoot").unwrap_or_else(|| r"C:\Windows".into());
        let system32 = format!(r"{}\System32", root.trim_end_matches('\\'));
        issues.extend(missing_vc_runtime(&system32, |p| host.exists(p)));
    }
    let no_cache = plan.steps.iter().any(|s| s.argv.iter().any(|a| a == "--no-cache-dir"))
        || env.get("PIP_NO_CACHE_DIR").is_some();
    let needs = needs_for(
        &choice.variant,
        temp_dir(facts.os, env),
        PathBuf::from(&python.prefix),
        (!no_cache).then(|| pip_cache_dir(facts.os, env)).flatten(),
    );
    issues.extend(space_issues(&needs, |p| host.volume(p), |p| host.free_bytes(p)));
    let holders = processes_using(Path::new(&python.prefix), &host.processes(), &[std::process::id()]);
    issues.extend(holders_issue(&holders, windows));
    issues
}

/// Where pip unpacks downloads.
fn temp_dir(os: Os, env: &HostEnv) -> PathBuf {
    let keys: &[&str] = if os == Os::Windows { &["TMP", "TEMP"] } else { &["TMPDIR"] };
    keys.iter()
        .find_map(|k| env.get(k))
        .map(PathBuf::from)
        .unwrap_or_else(|| if os == Os::Windows { PathBuf::from(r"C:\Windows\Temp") } else { PathBuf::from("/tmp") })
}

/// pip's cache directory (PIP_CACHE_DIR, else the platform default).
fn pip_cache_dir(os: Os, env: &HostEnv) -> Option<PathBuf> {
    if let Some(d) = env.get("PIP_CACHE_DIR") {
        return Some(PathBuf::from(d));
    }
    match os {
        Os::Windows => env.get("LOCALAPPDATA").map(|l| PathBuf::from(format!(r"{l}\pip\Cache"))),
        Os::Macos => env.get("HOME").map(|h| PathBuf::from(h).join("Library/Caches/pip")),
        Os::Linux => env
            .get("XDG_CACHE_HOME")
            .map(|x| PathBuf::from(x).join("pip"))
            .or_else(|| env.get("HOME").map(|h| PathBuf::from(h).join(".cache/pip"))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::facts::{EnvKind, PythonFacts};
    use crate::plan::{Choice, Manager, PLAN_SCHEMA};

    struct FakeHost {
        files: Vec<PathBuf>,
        free: u64,
        procs: Vec<(u32, String, PathBuf)>,
    }

    impl HostProbe for FakeHost {
        fn exists(&self, path: &Path) -> bool {
            self.files.iter().any(|f| f == path)
        }
        fn free_bytes(&self, _: &Path) -> Option<u64> {
            Some(self.free)
        }
        fn volume(&self, path: &Path) -> Option<String> {
            volume_of(path)
        }
        fn processes(&self) -> Vec<(u32, String, PathBuf)> {
            self.procs.clone()
        }
    }

    fn windows_case() -> (Facts, Plan) {
        let facts = Facts {
            schema: 1,
            os: Os::Windows,
            cpu_arch: "x86_64".into(),
            wsl: false,
            gpus: vec![],
            driver: None,
            gpu_state: Default::default(),
            python: Some(PythonFacts {
                executable: r"C:\Users\A\envs\cyberpuppy\python.exe".into(),
                version: "3.11.9".into(),
                env: EnvKind::Conda,
                platform: "win-amd64".into(),
                prefix: r"C:\Users\A\envs\cyberpuppy".into(),
                conda_available: true,
                chosen_because: "CONDA_PREFIX".into(),
                ..PythonFacts::venv_for_tests("/unused")
            }),
            torch: None,
            python_candidates: vec![],
            cuda_toolkit: None,
            notes: vec![],
        };
        let plan = Plan {
            schema: PLAN_SCHEMA,
            choice: Some(Choice {
                torch: "2.5.1".into(),
                variant: "cu124".into(),
                index_url: "https://download.pytorch.org/whl/cu124".into(),
                manager: Manager::Pip,
                torchvision: None,
                torchaudio: None,
            }),
            candidates: vec![],
            steps: vec![],
            nothing_to_do: false,
            warnings: vec![],
            explanation: String::new(),
            fallback: None,
            data_source: "bundled".into(),
            data_version: String::new(),
            target_python: None,
            refused: None,
        };
        (facts, plan)
    }

    #[test]
    fn a_bare_windows_laptop_gets_every_warning_before_installing() {
        let (facts, plan) = windows_case();
        let env = HostEnv::from_pairs([
            ("SystemRoot", r"C:\WINDOWS"),
            ("TEMP", r"C:\Users\A\AppData\Local\Temp"),
            ("LOCALAPPDATA", r"C:\Users\A\AppData\Local"),
        ])
        .windows_style();
        let host = FakeHost {
            files: vec![PathBuf::from(r"C:\WINDOWS\System32\msvcp140.dll")],
            free: 4_000_000_000,
            procs: vec![(4242, "python.exe".into(), PathBuf::from(r"C:\Users\A\envs\cyberpuppy\python.exe"))],
        };
        let ids: Vec<String> = check(&facts, &plan, &env, &host).into_iter().map(|i| i.finding.id).collect();
        assert_eq!(ids, vec!["F14", "F32", "U01"]);
    }

    #[test]
    fn a_ready_machine_gets_none() {
        let (facts, plan) = windows_case();
        let env = HostEnv::from_pairs([("SystemRoot", r"C:\Windows")]).windows_style();
        let host = FakeHost {
            files: VC_RUNTIME_DLLS.iter().map(|d| PathBuf::from(format!(r"C:\Windows\System32\{d}"))).collect(),
            free: 500_000_000_000,
            procs: vec![],
        };
        assert!(check(&facts, &plan, &env, &host).is_empty());
    }

    #[test]
    fn every_preflight_id_is_the_catalogue_rule_for_the_same_problem() {
        let rules = crate::diagnose::Rules::bundled();
        let title =
            |id: &str| rules.rules().iter().find(|r| r.spec.id == id).map(|r| r.spec.title.clone()).unwrap_or_default();
        // One catalogue: preflight names the rule that diagnoses the same failure later.
        assert!(title(vcruntime::ID).contains("Visual C++ runtime"), "{}", title(vcruntime::ID));
        assert!(title(space::ID).contains("disk is full"), "{}", title(space::ID));
        assert!(title(holders::ID).contains("files are in use"), "{}", title(holders::ID));
        assert_eq!(ISSUE_IDS, ["F14", "F32", "U01"]);
    }
}
