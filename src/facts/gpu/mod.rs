//! GPU and driver facts: NVML first, then nvidia-smi, then the Linux driver files.
//!
//! Never fails: every problem becomes a [`GpuState`] with a one-line explanation
//! ([`GpuState::explanation`]). Everything read from the environment comes from
//! [`GpuProbeOptions::env`], so Windows and WSL behaviour is tested on Linux.
//! Decisions are written down in docs/gpu-detection.md.

pub(crate) mod locate;
pub(crate) mod names;
pub(crate) mod nvml;
pub(crate) mod procfs;
pub(crate) mod smi;
pub(crate) mod smi_text;
mod state;
pub(crate) mod toolkit;

use std::path::PathBuf;
use std::time::Duration;

pub use procfs::DriverFiles;
pub use toolkit::probe_toolkit;

use self::nvml::{NvmlFailure, NvmlOutcome, NvmlReport};
use self::procfs::PciGpu;
use self::smi::{SmiOutcome, SmiReport};
use super::platform::{HostEnv, Platform};
use super::{Driver, FactSource, Gpu, GpuState, Os};

/// How to probe.
#[derive(Debug, Clone)]
pub struct GpuProbeOptions {
    pub platform: Platform,
    pub env: HostEnv,
    /// TORCHUP_NVIDIA_SMI: use this nvidia-smi and skip NVML.
    pub nvidia_smi_override: Option<PathBuf>,
    /// Per nvidia-smi call (and for NVML as a whole).
    pub timeout: Duration,
    /// Try NVML first (ignored when `nvidia_smi_override` is set).
    pub nvml: bool,
    /// Linux driver files consulted when NVML and nvidia-smi give nothing.
    pub driver_files: DriverFiles,
}

impl GpuProbeOptions {
    /// Options for this machine, honouring TORCHUP_NVIDIA_SMI from `env`. With the
    /// override set, that nvidia-smi is the whole truth: no NVML and no driver files,
    /// so a recorded scenario gives the same facts on every machine.
    pub fn for_host(platform: Platform, env: HostEnv) -> Self {
        let nvidia_smi_override = env.get("TORCHUP_NVIDIA_SMI").map(PathBuf::from);
        let driver_files = if platform.os == Os::Linux && nvidia_smi_override.is_none() {
            DriverFiles::system()
        } else {
            DriverFiles::none()
        };
        GpuProbeOptions {
            platform,
            env,
            nvidia_smi_override,
            timeout: Duration::from_secs(10),
            nvml: true,
            driver_files,
        }
    }

    /// Options that consult nothing but the given nvidia-smi (tests, recorded scenarios).
    pub fn with_nvidia_smi(platform: Platform, env: HostEnv, nvidia_smi: impl Into<PathBuf>) -> Self {
        GpuProbeOptions {
            platform,
            env,
            nvidia_smi_override: Some(nvidia_smi.into()),
            timeout: Duration::from_secs(10),
            nvml: false,
            driver_files: DriverFiles::none(),
        }
    }
}

/// What the GPU probe found.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct GpuProbe {
    pub gpus: Vec<Gpu>,
    pub driver: Option<Driver>,
    pub state: GpuState,
    pub notes: Vec<String>,
    /// The nvidia-smi that was run, if any.
    pub nvidia_smi: Option<PathBuf>,
    /// The NVML library that answered, if any.
    pub nvml_library: Option<String>,
}

/// Probe GPUs and the driver. Never fails: every problem is a [`GpuState`].
pub async fn probe(opts: &GpuProbeOptions) -> GpuProbe {
    let mut out = GpuProbe::default();
    if opts.platform.os == Os::Macos {
        out.notes.push("macOS: NVIDIA CUDA is not supported, so no GPU probe runs".into());
        return out;
    }

    // 1. NVML (skipped when TORCHUP_NVIDIA_SMI forces an nvidia-smi).
    let mut nvml_failure = None;
    let mut nvml_empty = None;
    if opts.nvml && opts.nvidia_smi_override.is_none() {
        let candidates = locate::nvml_library_candidates(&opts.platform, &opts.env);
        match nvml::probe(candidates, opts.timeout).await {
            NvmlOutcome::Answered(r) if !r.gpus.is_empty() => {
                take_nvml(&mut out, r);
                if has_gaps(&out) {
                    fill_gaps_from_smi(&mut out, opts).await;
                }
                infer_missing_capabilities(&mut out);
                return out;
            }
            NvmlOutcome::Answered(r) => {
                out.notes.push(format!("NVML ({}) answered but reports no GPU", r.library));
                out.notes.extend(r.notes.iter().cloned());
                nvml_empty = Some(r);
            }
            NvmlOutcome::Failed(f) => {
                out.notes.push(f.detail().to_string());
                nvml_failure = Some(f);
            }
        }
    }

    // 2. nvidia-smi.
    let located = locate::locate_nvidia_smi(
        &opts.platform,
        &opts.env,
        opts.nvidia_smi_override.as_deref(),
        &locate::is_executable_file,
    );
    let mut smi_state = None;
    match &located {
        Some(loc) => {
            out.nvidia_smi = Some(loc.path.clone());
            match smi::probe(&loc.path, opts.timeout).await {
                SmiOutcome::Answered(r) => {
                    take_smi(&mut out, r);
                    infer_missing_capabilities(&mut out);
                    return out;
                }
                SmiOutcome::Failed(state) => smi_state = Some(state),
                SmiOutcome::NotRunnable(why) => {
                    let what = format!("nvidia-smi from {}: {why}", loc.found_by.describe());
                    out.notes.push(what.clone());
                    if loc.found_by == locate::FoundBy::Override {
                        smi_state = Some(GpuState::ToolMissing { detail: what });
                    }
                }
            }
        }
        None => out.notes.push("nvidia-smi was not found".into()),
    }

    // 3. Linux driver files: the loaded module's version, and GPUs on the PCI bus.
    let loaded = procfs::loaded_driver_version(&opts.driver_files);
    if let Some((version, path)) = &loaded {
        out.notes.push(format!("{} says kernel module {version} is loaded", path.display()));
        out.driver = Some(Driver { version: version.clone(), cuda: None, source: Some(FactSource::Proc) });
    } else if let Some(r) = &nvml_empty
        && let Some(v) = &r.driver_version
    {
        out.driver = Some(Driver { version: v.clone(), cuda: r.cuda.clone(), source: Some(FactSource::Nvml) });
    }
    let pci = opts.driver_files.pci_devices.as_deref().map(procfs::nvidia_pci_gpus).unwrap_or_default();

    out.state = conclude(Evidence {
        smi: smi_state,
        nvml_failure: nvml_failure.as_ref(),
        nvml_empty: nvml_empty.as_ref(),
        loaded: loaded.as_ref().map(|(v, _)| v.as_str()),
        pci: &pci,
    });
    out
}

/// What the probes that did not answer with GPUs left behind.
struct Evidence<'a> {
    smi: Option<GpuState>,
    nvml_failure: Option<&'a NvmlFailure>,
    nvml_empty: Option<&'a NvmlReport>,
    /// The loaded kernel module's version (Linux).
    loaded: Option<&'a str>,
    pci: &'a [PciGpu],
}

/// Decide the state when no probe produced a GPU. nvidia-smi's own words come first,
/// then NVML's, then the driver files; "no GPU" only when nothing points at one.
fn conclude(e: Evidence<'_>) -> GpuState {
    let loaded_note = |detail: String| match e.loaded {
        Some(v) => format!("{detail}; the running kernel module is {v}"),
        None => detail,
    };
    if let Some(state) = e.smi {
        return match state {
            GpuState::VersionMismatch { detail } => GpuState::VersionMismatch { detail: loaded_note(detail) },
            other => other,
        };
    }
    if let Some(f) = e.nvml_failure {
        let detail = f.detail().to_string();
        match f {
            NvmlFailure::DriverNotLoaded(_) | NvmlFailure::NoPermission(_) | NvmlFailure::GpuLost(_) => {
                return GpuState::DriverNotLoaded { detail };
            }
            NvmlFailure::VersionMismatch(_) => return GpuState::VersionMismatch { detail: loaded_note(detail) },
            NvmlFailure::TimedOut(_) => return GpuState::TimedOut { detail },
            NvmlFailure::LibraryMissing(_) | NvmlFailure::Other(_) => {}
        }
    }
    if let Some(r) = e.nvml_empty {
        let driver = r.driver_version.as_deref().unwrap_or("(version unknown)");
        return GpuState::DriverNotLoaded { detail: format!("NVML: driver {driver} is installed but sees no GPU") };
    }
    if let Some(v) = e.loaded {
        return GpuState::ToolMissing {
            detail: format!("kernel module {v} is loaded, but neither NVML nor nvidia-smi answered"),
        };
    }
    if !e.pci.is_empty() {
        let list: Vec<String> = e.pci.iter().map(|g| format!("{} at {}", g.id, g.slot)).collect();
        return GpuState::ToolMissing {
            detail: format!("NVIDIA GPU on the PCI bus ({}) but no NVIDIA driver answered", list.join(", ")),
        };
    }
    if let Some(NvmlFailure::Other(detail)) = e.nvml_failure {
        return GpuState::Unreadable { detail: detail.clone() };
    }
    GpuState::NoGpu
}

fn take_nvml(out: &mut GpuProbe, r: NvmlReport) {
    out.state = GpuState::Ready;
    out.driver =
        r.driver_version.map(|version| Driver { version, cuda: r.cuda.clone(), source: Some(FactSource::Nvml) });
    out.gpus = r.gpus;
    out.notes.extend(r.notes);
    out.nvml_library = Some(r.library);
}

fn take_smi(out: &mut GpuProbe, r: SmiReport) {
    out.state = GpuState::Ready;
    out.driver = Some(Driver { version: r.driver_version, cuda: r.cuda, source: Some(FactSource::NvidiaSmi) });
    out.gpus = r.gpus;
    out.notes.extend(r.notes);
}

/// NVML answered but left something out (memory_info needs R510+, the CUDA level needs
/// libcuda).
fn has_gaps(out: &GpuProbe) -> bool {
    out.driver.as_ref().is_none_or(|d| d.cuda.is_none())
        || out.gpus.iter().any(|g| g.memory_mib.is_none() || g.compute_capability.is_none())
}

/// Complete NVML's answer from nvidia-smi, matching GPUs by index.
async fn fill_gaps_from_smi(out: &mut GpuProbe, opts: &GpuProbeOptions) {
    let Some(loc) = locate::locate_nvidia_smi(&opts.platform, &opts.env, None, &locate::is_executable_file) else {
        return;
    };
    let SmiOutcome::Answered(r) = smi::probe(&loc.path, opts.timeout).await else { return };
    out.nvidia_smi = Some(loc.path);
    merge_smi(out, &r);
}

/// Fill what NVML left unknown from an nvidia-smi report; never overwrite NVML's facts.
fn merge_smi(out: &mut GpuProbe, r: &SmiReport) {
    let mut filled = Vec::new();
    for g in &mut out.gpus {
        let Some(s) = r.gpus.iter().find(|s| s.index == g.index) else { continue };
        if g.memory_mib.is_none() && s.memory_mib.is_some() {
            g.memory_mib = s.memory_mib;
            filled.push(format!("GPU {} memory", g.index));
        }
        if g.compute_capability.is_none() && s.compute_capability.is_some() {
            g.compute_capability = s.compute_capability.clone();
            g.compute_capability_source = s.compute_capability_source;
            filled.push(format!("GPU {} compute capability", g.index));
        }
    }
    match &mut out.driver {
        Some(d) if d.cuda.is_none() && r.cuda.is_some() => {
            d.cuda = r.cuda.clone();
            filled.push("CUDA level".into());
        }
        None => {
            out.driver = Some(Driver {
                version: r.driver_version.clone(),
                cuda: r.cuda.clone(),
                source: Some(FactSource::NvidiaSmi),
            });
            filled.push("driver".into());
        }
        _ => {}
    }
    if !filled.is_empty() {
        out.notes.push(format!("from nvidia-smi (NVML did not say): {}", filled.join(", ")));
    }
}

/// Fill unknown compute capabilities from the GPU-name table, marked as inferred.
fn infer_missing_capabilities(out: &mut GpuProbe) {
    for g in out.gpus.iter_mut().filter(|g| g.compute_capability.is_none()) {
        match names::infer_capability(&g.name) {
            Some(m) => {
                out.notes.push(format!(
                    "GPU {}: compute capability {} inferred from the name ({})",
                    g.index, m.cc, m.family
                ));
                g.compute_capability = Some(m.cc.to_string());
                g.compute_capability_source = Some(FactSource::Inferred);
            }
            None => out.notes.push(format!("GPU {}: compute capability unknown for {:?}", g.index, g.name)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn evidence<'a>() -> Evidence<'a> {
        Evidence { smi: None, nvml_failure: None, nvml_empty: None, loaded: None, pci: &[] }
    }

    #[test]
    fn nothing_at_all_is_no_gpu() {
        assert_eq!(conclude(evidence()), GpuState::NoGpu);
        let missing = NvmlFailure::LibraryMissing("NVML: not found".into());
        assert_eq!(conclude(Evidence { nvml_failure: Some(&missing), ..evidence() }), GpuState::NoGpu);
    }

    #[test]
    fn nvidia_smi_words_come_first() {
        let dnl = NvmlFailure::DriverNotLoaded("NVML: NVIDIA driver is not loaded".into());
        let state = conclude(Evidence {
            smi: Some(GpuState::Unreadable { detail: "smi".into() }),
            nvml_failure: Some(&dnl),
            ..evidence()
        });
        assert_eq!(state, GpuState::Unreadable { detail: "smi".into() });
    }

    #[test]
    fn version_mismatch_names_the_running_module() {
        let state = conclude(Evidence {
            smi: Some(GpuState::VersionMismatch { detail: "nvidia-smi exit 18: ...".into() }),
            loaded: Some("550.54.14"),
            ..evidence()
        });
        assert_eq!(
            state,
            GpuState::VersionMismatch {
                detail: "nvidia-smi exit 18: ...; the running kernel module is 550.54.14".into()
            }
        );
        let vm = NvmlFailure::VersionMismatch("NVML: mismatch".into());
        let state = conclude(Evidence { nvml_failure: Some(&vm), ..evidence() });
        assert_eq!(state, GpuState::VersionMismatch { detail: "NVML: mismatch".into() });
    }

    #[test]
    fn nvml_failures_without_nvidia_smi() {
        let dnl = NvmlFailure::DriverNotLoaded("NVML: NVIDIA driver is not loaded".into());
        assert!(matches!(
            conclude(Evidence { nvml_failure: Some(&dnl), ..evidence() }),
            GpuState::DriverNotLoaded { .. }
        ));
        let t = NvmlFailure::TimedOut("NVML did not answer within 10 s".into());
        assert!(matches!(conclude(Evidence { nvml_failure: Some(&t), ..evidence() }), GpuState::TimedOut { .. }));
        let other = NvmlFailure::Other("NVML: function symbol failed to load".into());
        assert!(matches!(conclude(Evidence { nvml_failure: Some(&other), ..evidence() }), GpuState::Unreadable { .. }));
    }

    #[test]
    fn nvml_with_zero_gpus_means_the_driver_cannot_reach_one() {
        let r = NvmlReport { driver_version: Some("581.29".into()), ..Default::default() };
        assert_eq!(
            conclude(Evidence { nvml_empty: Some(&r), ..evidence() }),
            GpuState::DriverNotLoaded { detail: "NVML: driver 581.29 is installed but sees no GPU".into() }
        );
    }

    #[test]
    fn signs_of_a_gpu_without_tools() {
        let s = conclude(Evidence { loaded: Some("550.54.14"), ..evidence() });
        assert!(matches!(&s, GpuState::ToolMissing { detail } if detail.contains("550.54.14")), "{s:?}");
        let pci = [PciGpu { slot: "0000:01:00.0".into(), id: "10de:25a2".into() }];
        let s = conclude(Evidence { pci: &pci, ..evidence() });
        assert!(
            matches!(&s, GpuState::ToolMissing { detail } if detail.contains("10de:25a2 at 0000:01:00.0")),
            "{s:?}"
        );
    }

    #[test]
    fn inference_fills_only_unknown_capabilities() {
        let mut out = GpuProbe {
            gpus: vec![
                Gpu {
                    index: 0,
                    name: "NVIDIA GeForce GTX 1650".into(),
                    memory_mib: None,
                    compute_capability: None,
                    compute_capability_source: None,
                },
                Gpu {
                    index: 1,
                    name: "NVIDIA GeForce RTX 3050 A Laptop GPU".into(),
                    memory_mib: None,
                    compute_capability: Some("8.9".into()),
                    compute_capability_source: Some(FactSource::NvidiaSmi),
                },
                Gpu {
                    index: 2,
                    name: "Mystery Accelerator".into(),
                    memory_mib: None,
                    compute_capability: None,
                    compute_capability_source: None,
                },
            ],
            ..Default::default()
        };
        infer_missing_capabilities(&mut out);
        assert_eq!(out.gpus[0].compute_capability.as_deref(), Some("7.5"));
        assert_eq!(out.gpus[0].compute_capability_source, Some(FactSource::Inferred));
        assert_eq!(out.gpus[1].compute_capability_source, Some(FactSource::NvidiaSmi));
        assert_eq!(out.gpus[2].compute_capability, None);
        assert!(out.notes.iter().any(|n| n.contains("GPU 2: compute capability unknown")));
    }

    #[test]
    fn nvidia_smi_fills_only_what_nvml_left_out() {
        // An R470 driver: NVML has no memory_info_v2 and libcuda is missing.
        let mut out = GpuProbe {
            gpus: vec![Gpu {
                index: 0,
                name: "NVIDIA GeForce GTX 1080 Ti".into(),
                memory_mib: None,
                compute_capability: Some("6.1".into()),
                compute_capability_source: Some(FactSource::Nvml),
            }],
            driver: Some(Driver { version: "470.256.02".into(), cuda: None, source: Some(FactSource::Nvml) }),
            state: GpuState::Ready,
            ..Default::default()
        };
        let smi = SmiReport {
            gpus: vec![Gpu {
                index: 0,
                name: "NVIDIA GeForce GTX 1080 Ti".into(),
                memory_mib: Some(11264),
                compute_capability: None,
                compute_capability_source: None,
            }],
            driver_version: "470.256.02".into(),
            cuda: Some("11.4".into()),
            notes: vec![],
        };
        merge_smi(&mut out, &smi);
        assert_eq!(out.gpus[0].memory_mib, Some(11264));
        assert_eq!(out.gpus[0].compute_capability_source, Some(FactSource::Nvml));
        let d = out.driver.as_ref().unwrap();
        assert_eq!((d.cuda.as_deref(), d.source), (Some("11.4"), Some(FactSource::Nvml)));
        assert_eq!(out.notes, vec!["from nvidia-smi (NVML did not say): GPU 0 memory, CUDA level".to_string()]);

        let mut no_driver = GpuProbe { gpus: out.gpus.clone(), ..Default::default() };
        merge_smi(&mut no_driver, &smi);
        assert_eq!(no_driver.driver.unwrap().source, Some(FactSource::NvidiaSmi));
    }

    #[test]
    fn for_host_reads_the_override_from_env_and_then_trusts_only_it() {
        let linux = Platform { os: Os::Linux, cpu_arch: "x86_64".into(), wsl: false };
        let o =
            GpuProbeOptions::for_host(linux.clone(), HostEnv::from_pairs([("TORCHUP_NVIDIA_SMI", "/x/nvidia-smi")]));
        assert_eq!(o.nvidia_smi_override, Some(PathBuf::from("/x/nvidia-smi")));
        assert_eq!(o.driver_files, DriverFiles::none());
        let o = GpuProbeOptions::for_host(linux, HostEnv::from_pairs([("TORCHUP_NVIDIA_SMI", "")]));
        assert_eq!(o.nvidia_smi_override, None);
        assert_eq!(o.driver_files, DriverFiles::system());
        let win = Platform { os: Os::Windows, cpu_arch: "x86_64".into(), wsl: false };
        assert_eq!(GpuProbeOptions::for_host(win, HostEnv::default()).driver_files, DriverFiles::none());
    }
}
