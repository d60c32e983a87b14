//! The CUDA toolkit (`CUDA_PATH`, `nvcc --version`), reported for information only:
//! pip and conda wheels bring their own CUDA runtime and need just the driver
//! (the failure catalogue, docs/diagnoses.md). A toolkit version that differs from torch's is normal.

use std::sync::OnceLock;

use regex::Regex;
use tokio_util::sync::CancellationToken;

use super::GpuProbeOptions;
use super::locate::{is_executable_file, locate_nvcc};
use crate::exec::{RunSpec, Runner, TokioRunner};
use crate::facts::CudaToolkit;

/// `CUDA_PATH` from the environment and the version of the first nvcc found
/// (PATH, then `CUDA_PATH/bin`). None when neither exists.
pub async fn probe_toolkit(opts: &GpuProbeOptions) -> Option<CudaToolkit> {
    let cuda_path = opts.env.get("CUDA_PATH");
    let nvcc = locate_nvcc(&opts.platform, &opts.env, &is_executable_file);
    let nvcc_version = match nvcc {
        Some(p) => {
            let spec = RunSpec::new([p.to_string_lossy().into_owned(), "--version".to_string()]).timeout(opts.timeout);
            match TokioRunner.run(spec, None, CancellationToken::new()).await {
                Ok(out) if out.success() => parse_nvcc_version(&out.stdout),
                _ => None,
            }
        }
        None => None,
    };
    if cuda_path.is_none() && nvcc_version.is_none() {
        return None;
    }
    Some(CudaToolkit { cuda_path, nvcc_version })
}

/// "Cuda compilation tools, release 12.4, V12.4.131" → "12.4".
pub(crate) fn parse_nvcc_version(text: &str) -> Option<String> {
    static RE: OnceLock<Regex> = OnceLock::new();
    // A literal pattern: compiling it cannot fail.
    let re = RE.get_or_init(|| Regex::new(r"release\s+(\d+)\.(\d+)").expect("valid regex"));
    re.captures(text).map(|c| format!("{}.{}", &c[1], &c[2]))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nvcc_versions() {
        let linux = "nvcc: NVIDIA (R) Cuda compiler driver\nCopyright (c) 2005-2024 NVIDIA Corporation\nBuilt on Thu_Mar_28_02:18:24_PDT_2024\nCuda compilation tools, release 12.4, V12.4.131\nBuild cuda_12.4.r12.4/compiler.34097967_0\n";
        assert_eq!(parse_nvcc_version(linux).as_deref(), Some("12.4"));
        let windows = "nvcc: NVIDIA (R) Cuda compiler driver\r\nCuda compilation tools, release 11.8, V11.8.89\r\n";
        assert_eq!(parse_nvcc_version(windows).as_deref(), Some("11.8"));
        assert_eq!(parse_nvcc_version("command not found"), None);
    }
}
