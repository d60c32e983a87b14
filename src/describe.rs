//! The facts in words: one wording for every front end. `torchup detect`'s summary, the
//! wizard's Check screen and the doctor report all describe GPUs, the driver, the Python
//! and its torch with these functions (as `smoke::render` is the one view of a smoke
//! report), so a fact reads the same wherever a user meets it.
//!
//! Each function returns plain text; the callers only arrange and style it.

use crate::compat::driver_fit::{DriverFit, driver_os, fit_of_texts};
use crate::facts::gpu::names::architecture_of;
use crate::facts::platform::Platform;
use crate::facts::{Driver, EnvKind, FactSource, Facts, Gpu, GpuState, PythonFacts, TorchFacts};

/// Sizes and transfers for people, in decimal units as pip and browsers show them: "512 B",
/// "812 kB", "7.2 MB", "2.45 GB", "12.9 GB" (three significant digits from a gigabyte up, so
/// a download's progress moves every 10 MB). The one wording of a byte count: the CLI's
/// fetch lines, the wizard's gauge, the wheelhouse listing and the fetcher's and swap's disk-space errors.
pub(crate) fn bytes(n: u64) -> String {
    let n = n as f64;
    if n >= 1e10 {
        format!("{:.1} GB", n / 1e9)
    } else if n >= 1e9 {
        format!("{:.2} GB", n / 1e9)
    } else if n >= 1e6 {
        format!("{:.1} MB", n / 1e6)
    } else if n >= 1e3 {
        format!("{:.0} kB", n / 1e3)
    } else {
        format!("{n:.0} B")
    }
}

/// Memory in the guide's unit: "4.0 GB" from MiB, one decimal (also the smoke report's
/// verification block).
pub(crate) fn gigabytes(mib: u64) -> String {
    format!("{:.1} GB", mib as f64 / 1024.0)
}

/// A GPU's memory, or "memory unknown".
pub(crate) fn memory(g: &Gpu) -> String {
    g.memory_mib.map(gigabytes).unwrap_or_else(|| "memory unknown".into())
}

/// "compute 8.6 (Ampere)", "compute 6.1 (Pascal, inferred from the name)", or
/// "compute capability unknown".
pub(crate) fn compute(g: &Gpu) -> String {
    let Some(cc) = g.compute_capability.as_deref() else { return "compute capability unknown".into() };
    let mut notes: Vec<&str> = architecture_of(cc).into_iter().collect();
    if g.compute_capability_source == Some(FactSource::Inferred) {
        notes.push("inferred from the name");
    }
    if notes.is_empty() { format!("compute {cc}") } else { format!("compute {cc} ({})", notes.join(", ")) }
}

/// "GPU: NAME" for the only GPU, "GPU 1: NAME" when there are several.
pub(crate) fn gpu_label(g: &Gpu, several: bool) -> String {
    if several { format!("GPU {}: {}", g.index, g.name) } else { format!("GPU: {}", g.name) }
}

/// "driver 581.29 · supports CUDA ≤ 13.0" (the level when the driver reports one).
pub(crate) fn driver(d: &Driver) -> String {
    match d.cuda.as_deref() {
        Some(c) => format!("driver {} · supports CUDA ≤ {c}", d.version),
        None => format!("driver {}", d.version),
    }
}

/// What a GPU state other than Ready means and what to do, for this platform when known.
pub(crate) fn gpu_state(state: &GpuState, platform: Option<&Platform>) -> Option<String> {
    match (state, platform) {
        (GpuState::Ready, _) => None,
        (s, Some(p)) => Some(s.explanation_for(p)),
        (s, None) => Some(s.explanation()),
    }
}

/// The platform the facts were gathered on.
pub(crate) fn platform(f: &Facts) -> Platform {
    Platform { os: f.os, cpu_arch: f.cpu_arch.clone(), wsl: f.wsl }
}

/// What is wrong with the GPU side of these facts, if anything: the state's explanation,
/// or a driver that answered without listing a GPU.
pub(crate) fn gpu_problem(f: &Facts) -> Option<String> {
    match &f.gpu_state {
        GpuState::Ready if f.gpus.is_empty() => Some("the driver answered but listed no GPU".into()),
        state => gpu_state(state, Some(&platform(f))),
    }
}

/// "Python 3.11.7 (conda env, 32-bit) PATH".
pub(crate) fn python(p: &PythonFacts) -> String {
    let bits = if p.bits == 32 { ", 32-bit" } else { "" };
    format!("Python {} ({}{bits}) {}", p.version, env_kind(p.env), p.executable)
}

/// What kind of environment, in words: "venv", "conda env", "system Python", "other env".
pub(crate) fn env_kind(kind: EnvKind) -> &'static str {
    match kind {
        EnvKind::Venv => "venv",
        EnvKind::Conda => "conda env",
        EnvKind::System => "system Python",
        EnvKind::Other => "other env",
    }
}

/// Why this Python, its pip, and the other installers it has: "chosen from CONDA_PREFIX ·
/// pip 24.0 · conda available".
pub(crate) fn python_detail(p: &PythonFacts) -> String {
    use crate::facts::python::discover::INSTALLED_HERE;
    let mut detail = Vec::new();
    if p.chosen_because.starts_with(INSTALLED_HERE) {
        detail.push(format!("chosen because {}", p.chosen_because));
    } else if !p.chosen_because.is_empty() {
        detail.push(format!("chosen from {}", p.chosen_because));
    }
    detail.push(match &p.pip_version {
        Some(v) => format!("pip {v}"),
        None => "no pip in this Python".into(),
    });
    if p.uv_available {
        detail.push("uv available".into());
    }
    if p.conda_available {
        detail.push("conda available".into());
    }
    detail.join(" · ")
}

/// The installed torch in one line, judged against this machine's driver and GPUs by the
/// one driver rule: "PyTorch 2.5.1+cpu — CPU-only build: CUDA not usable".
pub(crate) fn torch(f: &Facts) -> String {
    match &f.torch {
        None => "PyTorch: not installed in this Python".into(),
        Some(t) => format!("PyTorch {} — {}", t.version, torch_state(t, f)),
    }
}

/// What the installed build can do here: "CPU-only build: CUDA not usable", "CUDA 12.4
/// build", "CUDA 13.0 build: driver 560.94 (supports CUDA ≤ 12.6) is too old for it".
pub(crate) fn torch_state(t: &TorchFacts, f: &Facts) -> String {
    let Some(c) = &t.cuda else { return "CPU-only build: CUDA not usable".into() };
    let mut line = format!("CUDA {c} build");
    match (torch_fit(t, f), &f.driver) {
        (DriverFit::TooOld, Some(d)) => {
            let level = d.cuda.as_deref().map(|l| format!(" (supports CUDA ≤ {l})")).unwrap_or_default();
            line.push_str(&format!(": driver {}{level} is too old for it", d.version));
        }
        _ if f.gpus.is_empty() => line.push_str(" (no NVIDIA GPU found here, so CUDA cannot be used)"),
        (DriverFit::MinorCompatible, _) => {
            line.push_str(" (runs on this driver by minor-version compatibility: no PTX JIT)");
        }
        _ => {}
    }
    line
}

/// Whether this machine's driver runs the installed CUDA build (the one rule,
/// `compat::driver_fit`); Unknown for a CPU build or an unknown driver.
pub(crate) fn torch_fit(t: &TorchFacts, f: &Facts) -> DriverFit {
    match (&t.cuda, &f.driver) {
        (Some(c), Some(d)) => fit_of_texts(Some(&d.version), d.cuda.as_deref(), c, driver_os(f.os, f.wsl)),
        _ => DriverFit::Unknown,
    }
}

/// The text with its first letter capitalised, for a line that starts with it.
pub(crate) fn sentence(text: &str) -> String {
    let mut chars = text.chars();
    match chars.next() {
        Some(first) => first.to_uppercase().chain(chars).collect(),
        None => String::new(),
    }
}

/// The torch family and installer: "torchvision 0.20.1+cpu · installed by pip".
pub(crate) fn torch_family(t: &TorchFacts) -> Option<String> {
    let mut family: Vec<String> = t.members().into_iter().skip(1).map(|(name, v)| format!("{name} {v}")).collect();
    if let Some(i) = &t.installer {
        family.push(format!("installed by {i}"));
    }
    (!family.is_empty()).then(|| family.join(" · "))
}

/// The system CUDA Toolkit, and that wheels do not need it.
pub(crate) fn toolkit(f: &Facts) -> String {
    match &f.cuda_toolkit {
        Some(tk) => {
            let mut parts = Vec::new();
            if let Some(v) = &tk.nvcc_version {
                parts.push(format!("nvcc {v}"));
            }
            if let Some(p) = &tk.cuda_path {
                parts.push(format!("CUDA_PATH={p}"));
            }
            let what = if parts.is_empty() { String::new() } else { format!(" ({})", parts.join(" · ")) };
            format!(
                "CUDA Toolkit{what} installed: PyTorch wheels do not use it (they bring their own CUDA runtime); it only matters for compiling extensions"
            )
        }
        None => {
            "No CUDA Toolkit is needed: PyTorch wheels bring their own CUDA runtime; only the driver matters".into()
        }
    }
}

/// A problem in the facts worth a warning, with what to do.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Warning {
    /// The catalogue id (docs/diagnoses.md) when the problem has one.
    pub id: Option<&'static str>,
    pub text: String,
}

impl std::fmt::Display for Warning {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self.id {
            Some(id) => write!(f, "{} ({id})", self.text),
            None => f.write_str(&self.text),
        }
    }
}

/// The catalogue ids of the environment's problems that bite an install or its verify
/// step whatever build is chosen: the planner repeats these warnings in every plan.
pub(crate) const ENVIRONMENT_PROBLEMS: [&str; 3] = ["F05", "F06", "F35"];

/// The id of "a GPU is here but torch is the CPU build" (what the wizard's verdict says).
pub(crate) const CPU_BUILD_WITH_GPU: &str = "F01";

/// Problems worth a warning, each with what to do.
pub(crate) fn warnings(f: &Facts) -> Vec<Warning> {
    let mut w = Vec::new();
    let Some(p) = &f.python else { return w };
    let mut push = |id: Option<&'static str>, text: String| w.push(Warning { id, text });
    for c in f.python_candidates.iter().filter(|c| !c.chosen && c.problem.is_some()) {
        let active =
            ["VIRTUAL_ENV", "CONDA_PREFIX"].into_iter().find(|v| c.found_by.split([',', ';']).any(|l| l.trim() == *v));
        if let (Some(var), Some(problem)) = (active, &c.problem) {
            push(
                None,
                format!(
                    "the active environment ({var}) cannot be used: {problem}; torchup uses {} instead. \
                     Re-activate the env you train in, or pass --python",
                    p.executable
                ),
            );
        }
    }
    for o in &p.pip_index_overrides {
        push(
            Some("F05"),
            format!(
                "pip is configured with {o}: torchup installs from the index it chose, but plain `pip install`s \
                 can pull the +cpu build back; clear the variable or remove the line from the config file"
            ),
        );
    }
    for s in &p.user_site_shadowing {
        push(
            Some("F06"),
            format!(
                "{s} is imported before this env's packages, so an old build shadows any new one; remove it, \
                 or set PYTHONNOUSERSITE=1 when you run Python"
            ),
        );
    }
    if let Some(v) = &p.cuda_visible_devices {
        let hides_all = v.trim().is_empty() || v.trim() == "-1";
        let beyond = !f.gpus.is_empty()
            && v.split(',').map(str::trim).all(|i| i.parse::<usize>().is_ok_and(|i| i >= f.gpus.len()));
        if hides_all || beyond {
            push(
                Some("F35"),
                format!(
                    "CUDA_VISIBLE_DEVICES={v:?} hides every GPU from CUDA (the smoke test fails while it is set); \
                     unset it or set it to 0 before Python starts"
                ),
            );
        } else {
            push(Some("F35"), format!("CUDA_VISIBLE_DEVICES={v:?}: CUDA sees only these GPUs"));
        }
    }
    if p.externally_managed {
        push(
            None,
            "this Python is externally managed (PEP 668): pip refuses to install into it, so `torchup install` \
             puts torch into a new venv (the plan names it); or make your own venv and pass --python"
                .into(),
        );
    }
    if p.bits == 32 {
        push(None, "32-bit Python: PyTorch has no 32-bit wheels; install 64-bit Python".into());
    }
    if let (Some(t), Some(_)) = (&f.torch, f.gpus.first())
        && t.cuda.is_none()
    {
        let cc = f
            .gpus
            .iter()
            .filter_map(|g| g.compute_capability.as_deref().and_then(crate::facts::parse_capability))
            .min();
        let cc = cc.map(|(a, b)| format!(" (compute {a}.{b})")).unwrap_or_default();
        push(
            Some(CPU_BUILD_WITH_GPU),
            format!(
                "an NVIDIA GPU{cc} is here but PyTorch is the CPU build; `torchup plan` shows which CUDA build fits"
            ),
        );
    }
    w
}

/// What else is worth knowing: WSL's driver, detection's own notes, and the CUDA Toolkit.
pub(crate) fn notes(f: &Facts) -> Vec<String> {
    let mut n = Vec::new();
    if f.wsl {
        n.push("WSL: the Windows NVIDIA driver provides CUDA here; do not install a Linux driver inside WSL".into());
    }
    n.extend(f.notes.iter().cloned());
    n.push(toolkit(f));
    n
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn byte_counts_in_one_wording() {
        assert_eq!(bytes(512), "512 B");
        assert_eq!(bytes(812_000), "812 kB");
        assert_eq!(bytes(7_200_000), "7.2 MB");
        assert_eq!(bytes(2_449_300_000), "2.45 GB");
        assert_eq!(bytes(12_880_000_000), "12.9 GB");
    }

    #[test]
    fn gigabytes_as_the_guide_prints_them() {
        assert_eq!(gigabytes(4096), "4.0 GB");
        assert_eq!(gigabytes(3962), "3.9 GB");
    }
}
