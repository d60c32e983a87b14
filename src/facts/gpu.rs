//! GPU and driver facts: NVML first, then nvidia-smi, then /proc (Linux).
//!
//! (API outline; the `gpu` branch implements the probes behind it.)

use std::path::PathBuf;
use std::time::Duration;

use super::platform::{HostEnv, Platform};
use super::{Driver, Gpu, GpuState};

/// How to probe.
#[derive(Debug, Clone)]
pub struct GpuProbeOptions {
    pub platform: Platform,
    pub env: HostEnv,
    /// TORCHUP_NVIDIA_SMI: use this nvidia-smi and skip NVML.
    pub nvidia_smi_override: Option<PathBuf>,
    /// Per nvidia-smi call.
    pub timeout: Duration,
}

impl GpuProbeOptions {
    /// Options for this machine, honouring TORCHUP_NVIDIA_SMI from `env`.
    pub fn for_host(platform: Platform, env: HostEnv) -> Self {
        let nvidia_smi_override = env.get("TORCHUP_NVIDIA_SMI").map(PathBuf::from);
        GpuProbeOptions { platform, env, nvidia_smi_override, timeout: Duration::from_secs(10) }
    }
}

/// What the GPU probe found.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct GpuProbe {
    pub gpus: Vec<Gpu>,
    pub driver: Option<Driver>,
    pub state: GpuState,
    pub notes: Vec<String>,
}

/// Probe GPUs and the driver. Never fails: every problem is a [`GpuState`].
pub async fn probe(_opts: &GpuProbeOptions) -> GpuProbe {
    GpuProbe::default()
}
