//! Gathering every fact at once: the platform, the GPU probe, the Python probe and the CUDA
//! toolkit check run concurrently, so `detect` costs about one Python start-up.

use std::path::{Path, PathBuf};
use std::sync::LazyLock;
use std::time::Duration;

use regex::Regex;
use tokio_util::sync::CancellationToken;

use super::gpu::{self, GpuProbeOptions};
use super::platform::{HostEnv, Platform};
use super::python::{self, CandidateProbing, PythonError, PythonOptions};
use super::{CudaToolkit, FACTS_SCHEMA, Facts, Os};
use crate::exec::{RunSpec, Runner, TokioRunner};

/// What to gather, and from where. Build it with [`GatherOptions::for_host`] for this
/// machine; tests build it from an explicit [`HostEnv`].
#[derive(Debug, Clone)]
pub struct GatherOptions {
    pub platform: Platform,
    pub env: HostEnv,
    pub cwd: PathBuf,
    /// `--python PATH`.
    pub python: Option<PathBuf>,
    pub gpu: GpuProbeOptions,
    /// Per Python call.
    pub python_timeout: Duration,
    /// Which other interpreters are run to identify them (for the list of candidates).
    pub probe_candidates: CandidateProbing,
}

impl GatherOptions {
    /// Options for this machine with the given environment and working directory.
    pub fn for_host(platform: Platform, env: HostEnv, cwd: PathBuf) -> Self {
        let gpu = GpuProbeOptions::for_host(platform.clone(), env.clone());
        GatherOptions {
            platform,
            env,
            cwd,
            python: None,
            gpu,
            python_timeout: Duration::from_secs(20),
            probe_candidates: CandidateProbing::Binaries,
        }
    }

    fn python_options(&self) -> PythonOptions {
        let mut o = PythonOptions::new(self.platform.os, self.env.clone(), self.cwd.clone());
        o.explicit = self.python.clone();
        o.timeout = self.python_timeout;
        o.probe_candidates = self.probe_candidates;
        o
    }
}

/// The facts, and why there is no target Python when there is none.
#[derive(Debug, Clone)]
pub struct Gathered {
    pub facts: Facts,
    pub python_error: Option<PythonError>,
    /// The target's full probe report (more than the contract carries).
    pub python_report: Option<python::probe::ProbeReport>,
}

/// Gather every fact about this machine and the target Python. Never fails: missing
/// things are states in [`Facts`].
pub async fn gather(opts: &GatherOptions) -> Facts {
    gather_report(opts).await.facts
}

/// [`gather`], keeping the reason when no Python could be used (for exit code 3).
pub async fn gather_report(opts: &GatherOptions) -> Gathered {
    gather_with(opts, &TokioRunner).await
}

/// [`gather_report`] with a given process runner.
pub async fn gather_with<R: Runner>(opts: &GatherOptions, runner: &R) -> Gathered {
    let py_opts = opts.python_options();
    let (gpu, py, toolkit) = tokio::join!(
        gpu::probe(&opts.gpu),
        python::detect(&py_opts, runner),
        cuda_toolkit(opts.platform.os, &opts.env, &opts.cwd, runner)
    );
    let mut notes = gpu.notes;
    notes.extend(py.notes);
    let facts = Facts {
        schema: FACTS_SCHEMA,
        os: opts.platform.os,
        arch: opts.platform.arch.clone(),
        wsl: opts.platform.wsl,
        gpus: gpu.gpus,
        driver: gpu.driver,
        gpu_state: gpu.state,
        python: py.python,
        torch: py.torch,
        python_candidates: py.candidates,
        cuda_toolkit: toolkit,
        notes,
    };
    Gathered { facts, python_error: py.error, python_report: py.report }
}

static NVCC_RELEASE: LazyLock<Regex> =
    // Invariant: a constant pattern that compiles (checked by the tests).
    LazyLock::new(|| Regex::new(r"release (\d+\.\d+), V(\d+\.\d+\.\d+)").expect("valid regex"));

/// nvcc's version from `nvcc --version` ("12.4.131").
pub fn parse_nvcc_version(text: &str) -> Option<String> {
    NVCC_RELEASE.captures(text).map(|c| c[2].to_string())
}

/// `CUDA_PATH` and nvcc, for information only: pip and conda wheels bundle their CUDA
/// runtime, so a toolkit is never needed to run them (only to compile extensions).
pub async fn cuda_toolkit<R: Runner>(os: Os, env: &HostEnv, cwd: &Path, runner: &R) -> Option<CudaToolkit> {
    let cuda_path = env.get("CUDA_PATH");
    let exe = if os == Os::Windows { "nvcc.exe" } else { "nvcc" };
    let nvcc = cuda_path.as_ref().map(|p| Path::new(p).join("bin").join(exe)).filter(|p| p.is_file()).or_else(|| {
        let path = env.get("PATH")?;
        let dirs = python::discover::split_path_list(os, &path);
        let list = std::env::join_paths(dirs).ok()?;
        which::which_in(exe, Some(list), cwd).ok()
    });
    let nvcc_version = match nvcc {
        Some(nvcc) => {
            let mut spec = RunSpec::new([nvcc.to_string_lossy().into_owned(), "--version".into()])
                .timeout(Duration::from_secs(10));
            spec.clear_env = true;
            spec.env = env.iter().map(|(k, v)| (k.to_string(), Some(v.to_string_lossy().into_owned()))).collect();
            match runner.run(spec, None, CancellationToken::new()).await {
                Ok(out) => parse_nvcc_version(&out.stdout),
                Err(_) => None,
            }
        }
        None => None,
    };
    if cuda_path.is_none() && nvcc_version.is_none() {
        return None;
    }
    Some(CudaToolkit { cuda_path, nvcc_version })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nvcc_banner() {
        let text = "nvcc: NVIDIA (R) Cuda compiler driver\nCopyright (c) 2005-2024 NVIDIA Corporation\n\
                    Built on Thu_Mar_28_02:30:10_Pacific_Daylight_Time_2024\nCuda compilation tools, release 12.4, V12.4.131\n\
                    Build cuda_12.4.r12.4/compiler.34097967_0\n";
        assert_eq!(parse_nvcc_version(text).as_deref(), Some("12.4.131"));
        assert_eq!(parse_nvcc_version("garbage"), None);
    }

    #[cfg(unix)]
    #[tokio::test]
    async fn toolkit_from_cuda_path_and_a_real_nvcc_script() {
        use std::os::unix::fs::PermissionsExt;
        let tmp = tempfile::tempdir().unwrap();
        let bin = tmp.path().join("CUDA v12.4/bin");
        std::fs::create_dir_all(&bin).unwrap();
        let nvcc = bin.join("nvcc");
        std::fs::write(&nvcc, "#!/bin/sh\necho 'Cuda compilation tools, release 12.4, V12.4.131'\n").unwrap();
        std::fs::set_permissions(&nvcc, std::fs::Permissions::from_mode(0o755)).unwrap();
        let env = HostEnv::from_pairs([
            ("CUDA_PATH", tmp.path().join("CUDA v12.4").to_string_lossy().into_owned()),
            ("PATH", "/usr/bin:/bin".into()),
        ]);
        let tk = cuda_toolkit(Os::Linux, &env, tmp.path(), &TokioRunner).await.unwrap();
        assert_eq!(tk.nvcc_version.as_deref(), Some("12.4.131"));
        assert!(tk.cuda_path.unwrap().ends_with("CUDA v12.4"));
        let none =
            cuda_toolkit(Os::Linux, &HostEnv::from_pairs([("PATH", "/nonexistent")]), tmp.path(), &TokioRunner).await;
        assert_eq!(none, None);
    }
}
