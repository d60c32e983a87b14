//! Gathering every fact at once: the platform, the GPU probe, the Python probe and the CUDA
//! toolkit check run concurrently, so `detect` costs about one Python start-up.

use std::path::PathBuf;
use std::time::Duration;

use super::gpu::{self, GpuProbeOptions};
use super::platform::{HostEnv, Platform};
use super::python::{self, CandidateProbing, PythonError, PythonOptions};
use super::{FACTS_SCHEMA, Facts};
use crate::exec::{Runner, TokioRunner};

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
/// things are states in [`Facts`]; the reason no Python could be used is kept (exit 3).
pub(crate) async fn gather_report(opts: &GatherOptions) -> Gathered {
    gather_with(opts, &TokioRunner).await
}

/// [`gather_report`] with a given process runner.
pub(crate) async fn gather_with<R: Runner>(opts: &GatherOptions, runner: &R) -> Gathered {
    gather_observed(opts, runner, &|_| {}).await
}

/// One probe's result, as soon as it is known (before the others finish).
#[derive(Debug, Clone, Copy)]
pub enum Partial<'a> {
    Gpu(&'a gpu::GpuProbe),
    Python(&'a python::PythonDetection),
}

/// [`gather_with`], telling `observe` about each probe as it finishes, so a front end can
/// show the GPU while Python is still importing torch (the wizard's live Check screen).
pub(crate) async fn gather_observed<R: Runner>(
    opts: &GatherOptions,
    runner: &R,
    observe: &(dyn Fn(Partial<'_>) + Sync),
) -> Gathered {
    let py_opts = opts.python_options();
    let gpu_probe = async {
        let g = gpu::probe(&opts.gpu).await;
        observe(Partial::Gpu(&g));
        g
    };
    let py_probe = async {
        let p = python::detect(&py_opts, runner).await;
        observe(Partial::Python(&p));
        p
    };
    let (gpu, py, toolkit) = tokio::join!(gpu_probe, py_probe, gpu::probe_toolkit(&opts.gpu));
    let mut notes = gpu.notes;
    notes.extend(py.notes);
    let facts = Facts {
        schema: FACTS_SCHEMA,
        os: opts.platform.os,
        cpu_arch: opts.platform.cpu_arch.clone(),
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
