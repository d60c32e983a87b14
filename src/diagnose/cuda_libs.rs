//! Which wheel ships a CUDA library torch could not load.
//!
//! On Linux the PyPI torch wheels do not carry the CUDA libraries: they depend on
//! `nvidia-*` wheels (`nvidia-cudnn-cu12`, or for CUDA 13 builds `cuda-toolkit[cublas,…]`,
//! whose extras pull `nvidia-cublas` …). When one of those is missing (a half-finished install,
//! a variant swap, a `--no-deps` install), `import torch` fails with the library's file name:
//!
//! - `ImportError: libcudnn.so.9: cannot open shared object file: No such file or directory`
//!   (the dynamic loader, from `torch._C`);
//! - `ValueError: libcublas.so.*[0-9] not found in the system path [...]` (torch's own
//!   preload of the `nvidia/*` folders, when `libtorch_global_deps.so` could not load).
//!
//! On Windows the CUDA DLLs live inside the torch wheel (`torch\lib`), so the wheel to
//! reinstall is torch itself: `OSError: [WinError 126] … Error loading "…\torch\lib\cudnn64_9.dll"
//! or one of its dependencies.` (c10.dll loads first, so a failing `c10_cuda.dll` means a
//! CUDA DLL behind it is missing, not the VC++ runtime).
//!
//! The exact messages are recorded from real wheels in tests/fixtures/real_torch.

use std::sync::LazyLock;

use regex::Regex;

/// A family of CUDA libraries and the wheel that ships it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Family {
    /// Library file stem as the loader names it (`libcudnn.so.9` → `cudnn`, `cudnn64_9.dll`).
    pub stem: &'static str,
    /// Distribution name of the Linux wheel without the `-cuNN` suffix (`nvidia-cudnn`).
    pub wheel: &'static str,
    /// The `cuda-toolkit[...]` extra that installs it (CUDA 13 builds), if any.
    pub toolkit_extra: Option<&'static str>,
}

const fn fam(stem: &'static str, wheel: &'static str, toolkit_extra: Option<&'static str>) -> Family {
    Family { stem, wheel, toolkit_extra }
}

/// Longer stems first: `cublasLt` before `cublas`, `cusparseLt` before `cusparse`.
const FAMILIES: &[Family] = &[
    fam("cudnn", "nvidia-cudnn", None),
    fam("cublasLt", "nvidia-cublas", Some("cublas")),
    fam("cublas", "nvidia-cublas", Some("cublas")),
    fam("cudart", "nvidia-cuda-runtime", Some("cudart")),
    fam("nvJitLink", "nvidia-nvjitlink", Some("nvjitlink")),
    fam("cusparseLt", "nvidia-cusparselt", None),
    fam("cusparse", "nvidia-cusparse", Some("cusparse")),
    fam("cufft", "nvidia-cufft", Some("cufft")),
    fam("curand", "nvidia-curand", Some("curand")),
    fam("cusolver", "nvidia-cusolver", Some("cusolver")),
    fam("cufile", "nvidia-cufile", Some("cufile")),
    fam("nccl", "nvidia-nccl", None),
    fam("nvrtc", "nvidia-cuda-nvrtc", Some("nvrtc")),
    fam("cupti", "nvidia-cuda-cupti", Some("cupti")),
    fam("nvToolsExt", "nvidia-nvtx", Some("nvtx")),
];

/// A library torch could not load, as named in the error.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct MissingLibrary {
    /// As the message names it: `libcudnn.so.9`, `libcublas.so.*[0-9]`, `cudnn64_9.dll`.
    pub file: String,
    /// The Linux wheel family; None for torch's own Windows DLLs (`c10_cuda.dll`).
    pub family: Option<Family>,
    /// A Windows DLL from `torch\lib`: the torch wheel itself ships it.
    pub windows: bool,
}

static LINUX_LOADER: LazyLock<Regex> = LazyLock::new(|| {
    // Invariant: a literal pattern.
    Regex::new(r"(lib[A-Za-z_]+\.so(?:\.[0-9]+)*): cannot open shared object file").expect("valid regex")
});
static LINUX_PRELOAD: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"(lib[A-Za-z_]+\.so\.\*\[0-9\]) not found in the system path").expect("valid regex"));
static WINDOWS_DLL: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(
        r#"\[WinError 126\].*?Error loading "[^"]*?[\\/]+torch[\\/]+lib[\\/]+((?:cudnn|cublas|cudart|cufft|curand|cusolver|cusparse|nvJitLink|nvrtc|cupti|nvToolsExt|c10_cuda|torch_cuda|caffe2_nvrtc)[^"\\/]*\.dll)" or one of its dependencies"#,
    )
    .expect("valid regex")
});

/// The family a library file belongs to (`libcublasLt.so.12` → cublas).
pub(crate) fn family_of(file: &str) -> Option<Family> {
    let stem = file.strip_prefix("lib").unwrap_or(file);
    FAMILIES.iter().copied().find(|f| stem.starts_with(f.stem))
}

/// The CUDA library named in an import error, if any. Libraries that are not CUDA's
/// (`libgomp.so.1`, `libcuda.so`: the driver, F34) are not matched.
pub(crate) fn missing_library(text: &str) -> Option<MissingLibrary> {
    for re in [&*LINUX_PRELOAD, &*LINUX_LOADER] {
        for cap in re.captures_iter(text) {
            let file = cap[1].to_string();
            if let Some(family) = family_of(&file) {
                return Some(MissingLibrary { file, family: Some(family), windows: false });
            }
        }
    }
    let cap = WINDOWS_DLL.captures(text)?;
    let file = cap[1].to_string();
    Some(MissingLibrary { family: family_of(&file), file, windows: true })
}

/// One `Requires-Dist` entry: `nvidia-cudnn-cu12 (==9.1.0.70) ; platform_system == "Linux"`
/// or `cuda-toolkit[cublas,cudart]==13.0.3; platform_system == "Linux"`.
struct Requirement {
    name: String,
    extras: Vec<String>,
    spec: String,
}

fn parse_requirement(line: &str) -> Option<Requirement> {
    let head = line.split(';').next()?.trim();
    let end =
        head.find(|c: char| !(c.is_ascii_alphanumeric() || c == '-' || c == '_' || c == '.')).unwrap_or(head.len());
    let name = head[..end].to_ascii_lowercase().replace('_', "-");
    if name.is_empty() {
        return None;
    }
    let mut rest = head[end..].trim();
    let mut extras = Vec::new();
    if let Some(inner) = rest.strip_prefix('[') {
        let close = inner.find(']')?;
        extras = inner[..close].split(',').map(|e| e.trim().to_ascii_lowercase()).collect();
        rest = inner[close + 1..].trim();
    }
    let spec: String =
        rest.trim_start_matches('(').trim_end_matches(')').chars().filter(|c| !c.is_whitespace()).collect();
    Some(Requirement { name, extras, spec })
}

/// `nvidia-cudnn` matches `nvidia-cudnn`, `nvidia-cudnn-cu12`, `nvidia-cudnn-cu13`, but
/// `nvidia-cusparse` does not match `nvidia-cusparselt-cu13`.
fn is_family_wheel(name: &str, wheel: &str) -> bool {
    match name.strip_prefix(wheel) {
        Some("") => true,
        Some(rest) => rest.strip_prefix("-cu").is_some_and(|n| !n.is_empty() && n.chars().all(|c| c.is_ascii_digit())),
        None => false,
    }
}

/// The wheel that ships a family, as torch's `Requires-Dist` pins it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct WheelPin {
    /// What pip installs: `nvidia-cudnn-cu12==9.1.0.70`, `cuda-toolkit[cudart]==13.0.3`.
    pub pin: String,
    /// The wheel the files come from: `nvidia-cudnn-cu12`, `nvidia-cuda-runtime`.
    pub wheel: String,
}

/// The requirement that installs this family, from torch's `Requires-Dist`.
pub(crate) fn wheel_for(family: &Family, requires: &[String]) -> Option<WheelPin> {
    let reqs: Vec<Requirement> = requires.iter().map(String::as_str).filter_map(parse_requirement).collect();
    if let Some(r) = reqs.iter().find(|r| is_family_wheel(&r.name, family.wheel)) {
        return Some(WheelPin { pin: format!("{}{}", r.name, r.spec), wheel: r.name.clone() });
    }
    let extra = family.toolkit_extra?;
    let r = reqs.iter().find(|r| r.name == "cuda-toolkit" && r.extras.iter().any(|e| e == extra))?;
    Some(WheelPin { pin: format!("cuda-toolkit[{extra}]{}", r.spec), wheel: family.wheel.to_string() })
}

/// Without torch's metadata (a pasted log): the family's wheel names for both CUDA majors.
pub(crate) fn generic_wheel(file: &str) -> Option<String> {
    let f = family_of(file)?;
    Some(format!("{0}-cu12 (CUDA 12 builds) or {0}-cu13 / cuda-toolkit (CUDA 13 builds)", f.wheel))
}

#[cfg(test)]
mod tests {
    use super::*;

    const TORCH_251: &[&str] = &[
        r#"nvidia-cuda-runtime-cu12 (==12.4.127) ; platform_system == "Linux" and platform_machine == "x86_64""#,
        r#"nvidia-cudnn-cu12 (==9.1.0.70) ; platform_system == "Linux" and platform_machine == "x86_64""#,
        r#"nvidia-cublas-cu12 (==12.4.5.8) ; platform_system == "Linux" and platform_machine == "x86_64""#,
        r#"nvidia-cusparse-cu12 (==12.3.1.170) ; platform_system == "Linux" and platform_machine == "x86_64""#,
        r#"nvidia-nvjitlink-cu12 (==12.4.127) ; platform_system == "Linux" and platform_machine == "x86_64""#,
    ];
    const TORCH_2130: &[&str] = &[
        r#"cuda-toolkit[cublas,cudart,cufft,cufile,cupti,curand,cusolver,cusparse,nvjitlink,nvrtc,nvtx]==13.0.3; platform_system == "Linux""#,
        r#"nvidia-cudnn-cu13==9.20.0.48; platform_system == "Linux""#,
        r#"nvidia-cusparselt-cu13==0.8.1; platform_system == "Linux""#,
    ];

    fn reqs(r: &[&str]) -> Vec<String> {
        r.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn the_library_is_found_in_each_real_form() {
        let m =
            missing_library("ImportError: libcudnn.so.9: cannot open shared object file: No such file or directory")
                .unwrap();
        assert_eq!((m.file.as_str(), m.family.unwrap().stem, m.windows), ("libcudnn.so.9", "cudnn", false));
        let m = missing_library("ValueError: libcublas.so.*[0-9] not found in the system path ['', '/x']").unwrap();
        assert_eq!((m.file.as_str(), m.family.unwrap().stem), ("libcublas.so.*[0-9]", "cublas"));
        let m = missing_library("ImportError: libcusparseLt.so.0: cannot open shared object file").unwrap();
        assert_eq!(m.family.unwrap().wheel, "nvidia-cusparselt");
        let m = missing_library(
            r#"OSError: [WinError 126] The specified module could not be found. Error loading "D:\app\venv\lib\site-packages\torch\lib\cudnn64_9.dll" or one of its dependencies."#,
        )
        .unwrap();
        assert_eq!((m.file.as_str(), m.windows), ("cudnn64_9.dll", true));
        let m = missing_library(
            r#"OSError: [WinError 126] The specified module was not found. Error loading "X:\w\torch\lib\c10_cuda.dll" or one of its dependencies."#,
        )
        .unwrap();
        assert_eq!((m.file.as_str(), m.family, m.windows), ("c10_cuda.dll", None, true));
    }

    #[test]
    fn other_libraries_are_not_cuda_wheels() {
        assert_eq!(missing_library("OSError: libcuda.so: cannot open shared object file"), None);
        assert_eq!(missing_library("ImportError: libgomp.so.1: cannot open shared object file"), None);
        assert_eq!(
            missing_library(
                r#"OSError: [WinError 126] x. Error loading "C:\v\torch\lib\c10.dll" or one of its dependencies."#
            ),
            None,
            "c10.dll is the VC++ runtime case (F14)"
        );
    }

    #[test]
    fn the_wheel_comes_from_requires_dist() {
        let pin = |lib: &str, r: &[&str]| wheel_for(&family_of(lib).unwrap(), &reqs(r)).map(|w| (w.pin, w.wheel));
        let both = |a: &str, b: &str| Some((a.to_string(), b.to_string()));
        assert_eq!(pin("libcudnn.so.9", TORCH_251), both("nvidia-cudnn-cu12==9.1.0.70", "nvidia-cudnn-cu12"));
        assert_eq!(pin("libcudnn.so.9", TORCH_2130), both("nvidia-cudnn-cu13==9.20.0.48", "nvidia-cudnn-cu13"));
        assert_eq!(
            pin("libcusparse.so.12", TORCH_251),
            both("nvidia-cusparse-cu12==12.3.1.170", "nvidia-cusparse-cu12")
        );
        assert_eq!(
            pin("libcusparseLt.so.0", TORCH_2130),
            both("nvidia-cusparselt-cu13==0.8.1", "nvidia-cusparselt-cu13")
        );
        assert_eq!(pin("libcusparseLt.so.0", TORCH_251), None, "torch 2.5.1 does not use cuSPARSELt");
        assert_eq!(pin("libcudart.so.13", TORCH_2130), both("cuda-toolkit[cudart]==13.0.3", "nvidia-cuda-runtime"));
        assert_eq!(pin("libcudart.so.12", &[]), None);
    }

    #[test]
    fn a_log_without_metadata_names_both_majors() {
        assert_eq!(
            generic_wheel("libnvJitLink.so.12").as_deref(),
            Some("nvidia-nvjitlink-cu12 (CUDA 12 builds) or nvidia-nvjitlink-cu13 / cuda-toolkit (CUDA 13 builds)")
        );
        assert_eq!(generic_wheel("c10_cuda.dll"), None);
    }
}
