//! Turning the probe's report into the contract types ([`PythonFacts`], [`TorchFacts`])
//! plus notes, adding what torchup knows from outside the interpreter (PATH, pip config).

use std::path::Path;

use super::pipconf;
use super::probe::ProbeReport;
use crate::facts::platform::HostEnv;
use crate::facts::{EnvKind, Os, PythonFacts, TorchFacts};

/// What an interpreter says about where it lives: the raw facts both embedded scripts
/// (the Python probe and the smoke test) report. Rust decides from them; the scripts don't.
#[derive(Debug, Clone, Copy)]
pub(crate) struct EnvMarkers<'a> {
    /// `sys.prefix`, `sys.base_prefix` (empty when unknown).
    pub prefix: &'a str,
    pub base_prefix: &'a str,
    /// `pyvenv.cfg` exists in the prefix.
    pub pyvenv_cfg: bool,
    /// `conda-meta` is a directory in the prefix.
    pub conda_meta: bool,
    /// An embeddable distribution (a `._pth` file next to python.exe).
    pub embedded: bool,
    /// `sys.implementation.name`.
    pub implementation: &'a str,
}

/// The kind of environment, from the prefixes: a venv when `sys.prefix != sys.base_prefix`
/// or `pyvenv.cfg` exists; conda when `conda-meta` is in the prefix; "other" for an
/// embeddable distribution or an interpreter that is not CPython/PyPy; otherwise a system
/// (base) install. The one decision for the probe and the smoke report.
pub(crate) fn env_kind_of(m: &EnvMarkers<'_>) -> EnvKind {
    if m.pyvenv_cfg || (!m.base_prefix.is_empty() && m.prefix != m.base_prefix) {
        EnvKind::Venv
    } else if m.conda_meta {
        EnvKind::Conda
    } else if m.embedded || !matches!(m.implementation, "cpython" | "pypy") {
        EnvKind::Other
    } else {
        EnvKind::System
    }
}

/// PEP 668: pip refuses to install into an interpreter whose stdlib holds an
/// `EXTERNALLY-MANAGED` marker, except inside a virtual environment.
pub(crate) fn externally_managed(marker_present: bool, kind: EnvKind) -> bool {
    marker_present && kind != EnvKind::Venv
}

/// The kind of environment of a probed interpreter ([`env_kind_of`]).
pub(crate) fn env_kind(r: &ProbeReport) -> EnvKind {
    env_kind_of(&EnvMarkers {
        prefix: &r.prefix,
        base_prefix: &r.base_prefix,
        pyvenv_cfg: r.pyvenv_cfg || r.in_venv,
        conda_meta: r.conda_meta,
        embedded: r.embedded,
        implementation: &r.implementation,
    })
}

/// Where a conda executable for this env can be found: `CONDA_EXE`, `conda` on PATH,
/// or the installation the env lives in (`<root>/envs/<name>`).
fn conda_available(os: Os, env: &HostEnv, prefix: &Path, cwd: &Path) -> bool {
    if env.get("CONDA_EXE").is_some_and(|p| Path::new(&p).is_file()) {
        return true;
    }
    if on_path(os, env, "conda", cwd) {
        return true;
    }
    let roots = [Some(prefix), prefix.parent().and_then(Path::parent)];
    roots.into_iter().flatten().any(|root| {
        let names: &[&str] = if os == Os::Windows {
            &["Scripts/conda.exe", "condabin/conda.bat"]
        } else {
            &["bin/conda", "condabin/conda"]
        };
        names.iter().any(|n| root.join(n).is_file())
    })
}

/// Whether `name` is an executable on the PATH in `env`.
pub(crate) fn on_path(os: Os, env: &HostEnv, name: &str, cwd: &Path) -> bool {
    let Some(path) = env.get("PATH") else { return false };
    let dirs = super::discover::split_path_list(os, &path);
    let Ok(list) = std::env::join_paths(dirs) else { return false };
    which::which_in(name, Some(list), cwd).is_ok()
}

/// Who installed torch: the dist-info INSTALLER, else conda when a `pytorch` package
/// record is in `conda-meta`.
fn torch_installer(r: &ProbeReport) -> Option<String> {
    let from_dist = r.torch.as_ref().and_then(|t| t.installer.clone());
    if from_dist.is_some() {
        return from_dist;
    }
    if r.conda_meta {
        let meta = Path::new(&r.prefix).join("conda-meta");
        let found = std::fs::read_dir(meta).ok()?.filter_map(|e| e.ok()).any(|e| {
            let n = e.file_name().to_string_lossy().to_ascii_lowercase();
            (n.starts_with("pytorch-") || n.starts_with("torch-")) && n.ends_with(".json")
        });
        if found {
            return Some("conda".into());
        }
    }
    None
}

/// What the front ends need from outside the report.
#[derive(Debug, Clone)]
pub(crate) struct Context<'a> {
    pub os: Os,
    pub env: &'a HostEnv,
    pub cwd: &'a Path,
    pub chosen_because: &'a str,
}

/// The contract types and notes for one probed interpreter.
pub(crate) fn to_facts(r: &ProbeReport, ctx: &Context) -> (PythonFacts, Option<TorchFacts>, Vec<String>) {
    let kind = env_kind(r);
    let prefix = Path::new(&r.prefix);
    let mut shadowing = r.user_site.shadowing.clone();
    shadowing.extend(r.pythonpath_shadowing.iter().cloned());
    let python = PythonFacts {
        executable: r.executable.clone(),
        version: r.version.clone(),
        bits: r.bits,
        env: kind,
        externally_managed: externally_managed(r.externally_managed_marker.is_some(), kind),
        implementation: r.implementation.clone(),
        platform: r.platform.clone(),
        prefix: r.prefix.clone(),
        pip_version: r.pip.clone(),
        uv_available: on_path(ctx.os, ctx.env, "uv", ctx.cwd),
        conda_available: kind == EnvKind::Conda && conda_available(ctx.os, ctx.env, prefix, ctx.cwd),
        chosen_because: ctx.chosen_because.to_string(),
        user_site_shadowing: shadowing,
        pip_index_overrides: pipconf::cpu_index_overrides(ctx.os, ctx.env, Some(prefix)),
        cuda_visible_devices: ctx.env.get_raw("CUDA_VISIBLE_DEVICES"),
    };

    let mut notes: Vec<String> = r.errors.iter().map(|e| format!("probe: {e}")).collect();
    let torch = r.torch.as_ref().map(|t| {
        if let Some(err) = &t.version_py_error {
            notes.push(format!(
                "torch looks broken: {err}; its CUDA build is unknown (shown as none). Reinstalling torch fixes this"
            ));
        }
        if let Some(hip) = &t.hip {
            notes.push(format!("torch is a ROCm build (HIP {hip}), made for AMD GPUs: CUDA is not usable with it"));
        }
        TorchFacts {
            version: t.version.clone().or_else(|| t.dist_version.clone()).unwrap_or_else(|| "unknown".into()),
            cuda: t.cuda.clone(),
            torchvision: r.torchvision.as_ref().and_then(|m| m.version.clone()),
            torchaudio: r.torchaudio.as_ref().and_then(|m| m.version.clone()),
            xformers: r.xformers.as_ref().and_then(|m| m.dist_version.clone().or_else(|| m.version.clone())),
            dist_version: t.dist_version.clone(),
            installer: torch_installer(r),
            location: t.location.clone(),
            dependents: r.dependents.clone(),
        }
    });
    if torch.is_none() {
        for (name, m) in [("torchvision", &r.torchvision), ("torchaudio", &r.torchaudio)] {
            if let Some(m) = m {
                notes.push(format!(
                    "{name} {} is installed without torch",
                    m.version.as_deref().unwrap_or("(unknown version)")
                ));
            }
        }
    }
    if r.bits == 32 {
        notes.push("this is a 32-bit Python: PyTorch publishes 64-bit wheels only".into());
    }
    if r.gil_disabled {
        notes.push("this is a free-threaded (no-GIL) Python build: it needs the separate cp3XXt torch wheels".into());
    }
    (python, torch, notes)
}

#[cfg(test)]
mod tests {
    use super::super::probe::FamilyMember;
    use super::*;

    fn report() -> ProbeReport {
        ProbeReport {
            probe: 1,
            executable: "/e/bin/python".into(),
            version: "3.11.7".into(),
            bits: 64,
            implementation: "cpython".into(),
            prefix: "/e".into(),
            base_prefix: "/e".into(),
            ..Default::default()
        }
    }

    #[test]
    fn env_kinds() {
        let mut r = report();
        assert_eq!(env_kind(&r), EnvKind::System);
        r.conda_meta = true;
        assert_eq!(env_kind(&r), EnvKind::Conda);
        r.base_prefix = "/base".into();
        assert_eq!(env_kind(&r), EnvKind::Venv, "a venv made from a conda Python is a venv");
        let mut r = report();
        r.embedded = true;
        assert_eq!(env_kind(&r), EnvKind::Other);
        let mut r = report();
        r.implementation = "graalpy".into();
        assert_eq!(env_kind(&r), EnvKind::Other);
    }

    #[test]
    fn facts_from_a_report() {
        let mut r = report();
        r.externally_managed_marker = Some("/usr/lib/python3.11/EXTERNALLY-MANAGED".into());
        r.pip = Some("24.0".into());
        r.user_site.shadowing = vec!["torch 2.1.0 in /h/.local/lib/python3.11/site-packages (user site)".into()];
        r.torch = Some(FamilyMember {
            version: Some("2.5.1+cu124".into()),
            dist_version: Some("2.5.1+cu124".into()),
            cuda: Some("12.4".into()),
            installer: Some("pip".into()),
            ..Default::default()
        });
        r.torchvision = Some(FamilyMember { version: Some("0.20.1+cu124".into()), ..Default::default() });
        r.xformers = Some(FamilyMember { dist_version: Some("0.0.28.post3".into()), ..Default::default() });
        r.dependents = vec!["xformers 0.0.28.post3 (torch==2.5.1)".into()];
        let env = HostEnv::from_pairs([("CUDA_VISIBLE_DEVICES", ""), ("PIP_CONFIG_FILE", "/dev/null")]);
        let ctx = Context { os: Os::Linux, env: &env, cwd: Path::new("/"), chosen_because: "PATH" };
        let (py, torch, notes) = to_facts(&r, &ctx);
        assert!(notes.is_empty(), "{notes:?}");
        assert_eq!(py.env, EnvKind::System);
        assert!(py.externally_managed);
        assert_eq!(py.cuda_visible_devices.as_deref(), Some(""));
        assert_eq!(py.chosen_because, "PATH");
        assert_eq!(py.user_site_shadowing.len(), 1);
        assert!(!py.uv_available);
        let torch = torch.unwrap();
        assert_eq!(torch.variant(), "cu124");
        assert_eq!(torch.torchvision.as_deref(), Some("0.20.1+cu124"));
        assert_eq!(torch.torchaudio, None);
        assert_eq!(torch.xformers.as_deref(), Some("0.0.28.post3"));
        assert_eq!(torch.installer.as_deref(), Some("pip"));
    }

    #[test]
    fn broken_torch_and_rocm_are_noted() {
        let mut r = report();
        r.torch = Some(FamilyMember {
            version: Some("2.5.1".into()),
            version_py_error: Some("/e/torch/version.py is not valid Python".into()),
            hip: Some("6.2".into()),
            ..Default::default()
        });
        let env = HostEnv::default();
        let ctx = Context { os: Os::Linux, env: &env, cwd: Path::new("/"), chosen_because: "--python" };
        let (_, torch, notes) = to_facts(&r, &ctx);
        assert_eq!(torch.unwrap().cuda, None);
        assert!(notes[0].contains("torch looks broken"));
        assert!(notes[1].contains("ROCm"));
    }

    #[test]
    fn conda_installer_from_conda_meta() {
        let tmp = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(tmp.path().join("conda-meta")).unwrap();
        std::fs::write(tmp.path().join("conda-meta/pytorch-2.5.1-py3.11_cuda12.4_cudnn9.1.0_0.json"), "{}").unwrap();
        let mut r = report();
        r.prefix = tmp.path().to_string_lossy().into_owned();
        r.base_prefix = r.prefix.clone();
        r.conda_meta = true;
        r.torch = Some(FamilyMember { version: Some("2.5.1".into()), cuda: Some("12.4".into()), ..Default::default() });
        assert_eq!(torch_installer(&r).as_deref(), Some("conda"));
    }
}
