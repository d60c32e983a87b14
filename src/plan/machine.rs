//! The facts the planner decides on, read once from [`Facts`]: wheel platform, CPython
//! version, driver (and which driver table applies), GPUs with their capabilities.

use crate::compat::arch::Capability;
use crate::compat::data::CudaVersion;
use crate::compat::driver::DriverVersion;
use crate::compat::platform::{PyVersion, WheelPlatform};
use crate::facts::{Facts, Gpu, Os, parse_capability};

/// The driver as far as the plan is concerned.
#[derive(Debug, Clone)]
pub(crate) enum DriverState {
    /// No NVIDIA driver answered.
    Missing,
    /// A version string that is not a driver version.
    Unreadable(String),
    Known(DriverVersion),
}

/// One GPU, named for messages.
#[derive(Debug, Clone)]
pub(crate) struct GpuView {
    pub index: u32,
    /// "RTX 3050 Laptop" (vendor words dropped).
    pub short: String,
    pub cap: Option<Capability>,
    /// The capability was inferred from the GPU name, not read from the driver.
    pub inferred: bool,
}

/// Why no wheel at all can install into the target interpreter.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum PythonProblem {
    /// No interpreter was found.
    Missing,
    /// A 32-bit interpreter: PyTorch publishes no 32-bit wheels.
    Bits32,
    /// PyPy, GraalPy, ...: PyTorch publishes CPython wheels only.
    NotCPython(String),
    /// The version string could not be read.
    BadVersion(String),
    /// The interpreter's platform has no PyTorch wheels (Windows on ARM, 32-bit Linux, ...).
    NoWheelsFor(String),
}

/// What the planner needs to know about the machine.
#[derive(Debug, Clone)]
pub(crate) struct Machine {
    pub os: Os,
    /// The driver table that applies: WSL runs the Windows driver.
    pub driver_os: Os,
    pub wsl: bool,
    pub platform: Option<WheelPlatform>,
    /// The platform of the OS and CPU, ignoring the interpreter ("what a 64-bit Python would get").
    pub os_platform: Option<WheelPlatform>,
    pub python: Option<PyVersion>,
    pub python_problem: Option<PythonProblem>,
    pub driver: DriverState,
    /// The highest CUDA the driver supports, as it reports it ("13.0"): variants up to it
    /// run with full features, newer ones by minor-version compatibility.
    pub driver_cuda: Option<CudaVersion>,
    pub gpus: Vec<GpuView>,
}

impl Machine {
    pub(crate) fn from_facts(f: &Facts) -> Machine {
        let driver = match &f.driver {
            None => DriverState::Missing,
            Some(d) => match d.version.parse::<DriverVersion>() {
                Ok(v) => DriverState::Known(v),
                Err(_) => DriverState::Unreadable(d.version.clone()),
            },
        };
        let gpus = f.gpus.iter().map(gpu_view).collect();
        let (platform, python, python_problem) = match &f.python {
            None => (WheelPlatform::of_interpreter(f.os, &f.cpu_arch, ""), None, Some(PythonProblem::Missing)),
            Some(p) => {
                let platform = WheelPlatform::of_interpreter(f.os, &f.cpu_arch, &p.platform);
                let version = PyVersion::parse(&p.version);
                let implementation = p.implementation.to_ascii_lowercase();
                let problem = if p.bits == 32 || p.platform.eq_ignore_ascii_case("win32") {
                    Some(PythonProblem::Bits32)
                } else if !implementation.is_empty() && implementation != "cpython" {
                    Some(PythonProblem::NotCPython(p.implementation.clone()))
                } else if version.is_none() {
                    Some(PythonProblem::BadVersion(p.version.clone()))
                } else if platform.is_none() {
                    let label = if p.platform.is_empty() {
                        format!("{} {}", f.os.as_str(), f.cpu_arch)
                    } else {
                        p.platform.clone()
                    };
                    Some(PythonProblem::NoWheelsFor(label))
                } else {
                    None
                };
                (platform, version, problem)
            }
        };
        Machine {
            os: f.os,
            driver_os: crate::compat::driver_fit::driver_os(f.os, f.wsl),
            wsl: f.wsl,
            platform,
            os_platform: WheelPlatform::of_interpreter(f.os, &f.cpu_arch, ""),
            python,
            python_problem,
            driver,
            driver_cuda: f.driver.as_ref().and_then(|d| d.cuda.as_deref()).and_then(|c| c.trim().parse().ok()),
            gpus,
        }
    }

    /// The GPU whose capability decides (the oldest); None when none is known.
    pub(crate) fn oldest_gpu(&self) -> Option<&GpuView> {
        self.gpus.iter().filter(|g| g.cap.is_some()).min_by_key(|g| g.cap)
    }

    /// Some GPU's capability is unknown.
    pub(crate) fn unknown_capability(&self) -> bool {
        self.gpus.iter().any(|g| g.cap.is_none())
    }

    pub(crate) fn driver_version(&self) -> Option<&DriverVersion> {
        match &self.driver {
            DriverState::Known(v) => Some(v),
            _ => None,
        }
    }

    /// "Windows" / "Linux" / "WSL (Windows driver)", naming the driver table in reasons.
    pub(crate) fn driver_table_name(&self) -> &'static str {
        match (self.driver_os, self.wsl) {
            (Os::Windows, true) => "Windows driver under WSL",
            (Os::Windows, false) => "Windows",
            _ => "Linux",
        }
    }
}

fn gpu_view(g: &Gpu) -> GpuView {
    GpuView {
        index: g.index,
        short: short_gpu_name(&g.name),
        cap: g.compute_capability.as_deref().and_then(parse_capability).map(|(a, b)| Capability::new(a, b)),
        inferred: g.compute_capability_source == Some(crate::facts::FactSource::Inferred),
    }
}

/// "NVIDIA GeForce RTX 3050 Laptop GPU" → "RTX 3050 Laptop".
pub(crate) fn short_gpu_name(name: &str) -> String {
    let words: Vec<&str> = name
        .split_whitespace()
        .filter(|w| !matches!(w.to_ascii_lowercase().as_str(), "nvidia" | "geforce" | "gpu" | "(tm)"))
        .collect();
    if words.is_empty() { name.trim().to_string() } else { words.join(" ") }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn short_names() {
        assert_eq!(short_gpu_name("NVIDIA GeForce RTX 3050 Laptop GPU"), "RTX 3050 Laptop");
        assert_eq!(short_gpu_name("NVIDIA GeForce GTX 1080 Ti"), "GTX 1080 Ti");
        assert_eq!(short_gpu_name("Tesla V100-SXM2-16GB"), "Tesla V100-SXM2-16GB");
        assert_eq!(short_gpu_name("NVIDIA"), "NVIDIA");
    }
}
