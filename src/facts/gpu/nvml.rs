//! NVML through nvml-wrapper, which loads the library at run time: a machine without
//! the NVIDIA driver gets a "library missing" outcome, never a crash or a link error.
//!
//! NVML calls block (FFI into the driver), and a wedged driver can block them for good.
//! The probe therefore runs on its own OS thread and the caller waits with a timeout; a
//! stuck thread is abandoned and cannot hold up process exit (a `spawn_blocking` task
//! would: dropping the tokio runtime waits for blocking tasks).

use std::ffi::OsString;
use std::time::Duration;

use nvml_wrapper::Nvml;
use nvml_wrapper::error::NvmlError;

use crate::facts::{FactSource, Gpu};

/// What NVML said.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum NvmlOutcome {
    /// NVML initialised. `gpus` may be empty (the driver sees no GPU).
    Answered(NvmlReport),
    /// NVML could not be used.
    Failed(NvmlFailure),
}

/// Facts from an initialised NVML.
#[derive(Debug, Clone, PartialEq, Default)]
pub(crate) struct NvmlReport {
    pub gpus: Vec<Gpu>,
    pub driver_version: Option<String>,
    /// "13.0", from `nvmlSystemGetCudaDriverVersion_v2`.
    pub cuda: Option<String>,
    /// Which library answered.
    pub library: String,
    pub notes: Vec<String>,
}

/// Why NVML could not be used.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum NvmlFailure {
    /// No library at any candidate path: no NVIDIA driver installed (or not where we look).
    LibraryMissing(String),
    /// The library loaded but the kernel driver is not loaded / not reachable.
    DriverNotLoaded(String),
    /// "Driver/library version mismatch": updated without a reboot.
    VersionMismatch(String),
    /// The user may not open the GPU device files.
    NoPermission(String),
    /// The GPU fell off the bus.
    GpuLost(String),
    /// NVML did not answer in time.
    TimedOut(String),
    /// Anything else (old driver missing a symbol, unknown error).
    Other(String),
}

impl NvmlFailure {
    pub(crate) fn detail(&self) -> &str {
        match self {
            NvmlFailure::LibraryMissing(d)
            | NvmlFailure::DriverNotLoaded(d)
            | NvmlFailure::VersionMismatch(d)
            | NvmlFailure::NoPermission(d)
            | NvmlFailure::GpuLost(d)
            | NvmlFailure::TimedOut(d)
            | NvmlFailure::Other(d) => d,
        }
    }
}

/// Map an NVML error to what it means for the probe.
pub(crate) fn classify(err: &NvmlError) -> NvmlFailure {
    let text = format!("NVML: {err}");
    match err {
        NvmlError::LibloadingError(_) | NvmlError::LibraryNotFound => NvmlFailure::LibraryMissing(text),
        NvmlError::DriverNotLoaded => NvmlFailure::DriverNotLoaded(text),
        NvmlError::LibRmVersionMismatch => NvmlFailure::VersionMismatch(text),
        NvmlError::NoPermission | NvmlError::OperatingSystem => NvmlFailure::NoPermission(text),
        NvmlError::GpuLost => NvmlFailure::GpuLost(text),
        NvmlError::Timeout => NvmlFailure::TimedOut(text),
        _ => NvmlFailure::Other(text),
    }
}

/// `cuDriverGetVersion` encoding: 12080 → "12.8", 13000 → "13.0", 12020 → "12.2".
pub(crate) fn format_cuda_level(v: i32) -> Option<String> {
    (v > 0).then(|| {
        format!("{}.{}", nvml_wrapper::cuda_driver_version_major(v), nvml_wrapper::cuda_driver_version_minor(v))
    })
}

/// Probe NVML on a separate thread, giving up after `timeout`.
pub(crate) async fn probe(candidates: Vec<OsString>, timeout: Duration) -> NvmlOutcome {
    let (tx, rx) = tokio::sync::oneshot::channel();
    let spawned = std::thread::Builder::new().name("torchup-nvml".into()).spawn(move || {
        // The receiver may be gone after a timeout; nothing to do then.
        let _ = tx.send(probe_blocking(&candidates));
    });
    if let Err(e) = spawned {
        return NvmlOutcome::Failed(NvmlFailure::Other(format!("could not start the NVML probe thread: {e}")));
    }
    match tokio::time::timeout(timeout, rx).await {
        Ok(Ok(outcome)) => outcome,
        Ok(Err(_)) => NvmlOutcome::Failed(NvmlFailure::Other("the NVML probe thread stopped without an answer".into())),
        Err(_) => NvmlOutcome::Failed(NvmlFailure::TimedOut(format!(
            "NVML did not answer within {} s",
            timeout.as_secs_f32()
        ))),
    }
}

/// Try each candidate library; the first that loads decides.
pub(crate) fn probe_blocking(candidates: &[OsString]) -> NvmlOutcome {
    let mut last_missing = None;
    for lib in candidates {
        match Nvml::builder().lib_path(lib).init() {
            Ok(nvml) => return NvmlOutcome::Answered(read(&nvml, lib)),
            Err(e @ (NvmlError::LibloadingError(_) | NvmlError::LibraryNotFound)) => {
                last_missing = Some(format!("NVML: {} ({})", e, lib.to_string_lossy()));
            }
            Err(e) => return NvmlOutcome::Failed(classify(&e)),
        }
    }
    NvmlOutcome::Failed(NvmlFailure::LibraryMissing(
        last_missing.unwrap_or_else(|| "NVML is not available on this platform".to_string()),
    ))
}

/// Read every GPU. Per-device failures become notes: laptops and old drivers refuse
/// some calls (memory_info needs R510+), and one bad call must not hide the GPU.
fn read(nvml: &Nvml, lib: &OsString) -> NvmlReport {
    let mut r = NvmlReport { library: lib.to_string_lossy().into_owned(), ..Default::default() };
    r.driver_version = nvml.sys_driver_version().map_err(|e| r.notes.push(format!("NVML driver version: {e}"))).ok();
    r.cuda = match nvml.sys_cuda_driver_version() {
        Ok(v) => format_cuda_level(v),
        Err(e) => {
            r.notes.push(format!("NVML CUDA driver version: {e}"));
            None
        }
    };
    let count = match nvml.device_count() {
        Ok(c) => c,
        Err(e) => {
            r.notes.push(format!("NVML device count: {e}"));
            0
        }
    };
    for index in 0..count {
        let dev = match nvml.device_by_index(index) {
            Ok(d) => d,
            Err(e) => {
                r.notes.push(format!("NVML GPU {index}: {e}"));
                continue;
            }
        };
        let name = dev.name().unwrap_or_else(|e| {
            r.notes.push(format!("NVML GPU {index} name: {e}"));
            "NVIDIA GPU (name unavailable)".to_string()
        });
        let memory_mib = match dev.memory_info() {
            Ok(m) => Some(m.total / (1024 * 1024)),
            Err(e) => {
                r.notes.push(format!("NVML GPU {index} memory: {e}"));
                None
            }
        };
        let compute_capability = match dev.cuda_compute_capability() {
            Ok(c) => Some(format!("{}.{}", c.major, c.minor)),
            Err(e) => {
                r.notes.push(format!("NVML GPU {index} compute capability: {e}"));
                None
            }
        };
        let compute_capability_source = compute_capability.as_ref().map(|_| FactSource::Nvml);
        r.gpus.push(Gpu { index, name, memory_mib, compute_capability, compute_capability_source });
    }
    r
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cuda_levels() {
        assert_eq!(format_cuda_level(12080).as_deref(), Some("12.8"));
        assert_eq!(format_cuda_level(13000).as_deref(), Some("13.0"));
        assert_eq!(format_cuda_level(12020).as_deref(), Some("12.2"));
        assert_eq!(format_cuda_level(11040).as_deref(), Some("11.4"));
        assert_eq!(format_cuda_level(0), None);
    }

    #[test]
    fn errors_map_to_states() {
        assert!(matches!(classify(&NvmlError::DriverNotLoaded), NvmlFailure::DriverNotLoaded(_)));
        assert!(matches!(classify(&NvmlError::LibRmVersionMismatch), NvmlFailure::VersionMismatch(_)));
        assert!(matches!(classify(&NvmlError::LibraryNotFound), NvmlFailure::LibraryMissing(_)));
        assert!(matches!(classify(&NvmlError::NoPermission), NvmlFailure::NoPermission(_)));
        assert!(matches!(classify(&NvmlError::GpuLost), NvmlFailure::GpuLost(_)));
        assert!(matches!(classify(&NvmlError::FailedToLoadSymbol("nvmlInit_v2".into())), NvmlFailure::Other(_)));
        assert_eq!(
            classify(&NvmlError::LibRmVersionMismatch).detail(),
            "NVML: RM detects a driver/library version mismatch"
        );
    }

    #[test]
    fn missing_library_is_a_state_not_a_crash() {
        // A real dlopen of paths that do not exist: the libloading error path.
        let out = probe_blocking(&[
            OsString::from("/nonexistent/torchup/libnvidia-ml.so.1"),
            OsString::from("/nonexistent/torchup/other/libnvidia-ml.so.1"),
        ]);
        match out {
            NvmlOutcome::Failed(NvmlFailure::LibraryMissing(d)) => {
                assert!(d.contains("/nonexistent/torchup/other/libnvidia-ml.so.1"), "{d}")
            }
            other => panic!("expected LibraryMissing, got {other:?}"),
        }
        assert!(matches!(probe_blocking(&[]), NvmlOutcome::Failed(NvmlFailure::LibraryMissing(_))));
    }

    #[tokio::test]
    async fn async_probe_reports_missing_library() {
        let out = probe(vec![OsString::from("/nonexistent/torchup/libnvidia-ml.so.1")], Duration::from_secs(5)).await;
        assert!(matches!(out, NvmlOutcome::Failed(NvmlFailure::LibraryMissing(_))), "{out:?}");
    }
}
