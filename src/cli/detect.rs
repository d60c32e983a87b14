//! `torchup detect`: the facts about this machine and the target Python, as a short human
//! summary in the guide's spirit or (`--json`) the document of docs/contract.md.
//!
//! Exit codes: 0 ok; 3 when no Python can be used (the JSON document is still printed,
//! with `"python": null`).

use crate::describe;
use crate::facts::gather::{GatherOptions, gather_report};
use crate::facts::platform::{HostEnv, Platform};
use crate::facts::{Facts, PythonCandidate};

use super::{CliError, Exit, GlobalArgs, output};

pub async fn run(g: &GlobalArgs, json: bool) -> Result<Exit, CliError> {
    let cwd = std::env::current_dir()
        .map_err(|e| CliError::environment(format!("cannot read the current directory ({e}); cd into your project")))?;
    let mut opts = GatherOptions::for_host(Platform::current(), HostEnv::capture(), cwd);
    opts.python = g.python.clone();
    let gathered = gather_report(&opts).await;
    if json {
        output::print_json(&gathered.facts)?;
    } else {
        crate::out!("{}", render(&gathered.facts));
    }
    match gathered.python_error {
        Some(e) => Err(CliError::environment(e.to_string())),
        None => Ok(Exit::Ok),
    }
}

/// The human summary: GPU, Python, PyTorch, then warnings, other interpreters and notes,
/// in the one wording of [`crate::describe`].
pub fn render(f: &Facts) -> String {
    let mut out = Vec::new();
    out.extend(gpu_lines(f));
    match &f.python {
        None => out.push("Python: no usable interpreter found".into()),
        Some(p) => {
            out.push(describe::python(p));
            out.push(format!("  {}", describe::python_detail(p)));
            out.push(describe::torch(f));
            if let Some(t) = &f.torch {
                out.extend(describe::torch_family(t).map(|family| format!("  {family}")));
                if !t.dependents.is_empty() {
                    out.push(format!("  needed by: {}", t.dependents.join(", ")));
                }
            }
        }
    }
    for w in describe::warnings(f) {
        out.push(format!("warning: {w}"));
    }
    let others: Vec<&PythonCandidate> = f.python_candidates.iter().filter(|c| !c.chosen).collect();
    if !others.is_empty() {
        out.push("Other Pythons found (use one with --python PATH):".into());
        for c in others {
            let version = c.version.as_deref().map(|v| format!(" {v}")).unwrap_or_default();
            let problem = c.problem.as_deref().map(|p| format!(" — {p}")).unwrap_or_default();
            out.push(format!("  {}{version} ({}){problem}", c.path, c.found_by));
        }
    }
    for n in describe::notes(f) {
        out.push(format!("note: {n}"));
    }
    let mut s = out.join("\n");
    s.push('\n');
    s
}

/// One line per GPU (with the driver on the line of a single GPU), then what is wrong.
fn gpu_lines(f: &Facts) -> Vec<String> {
    let several = f.gpus.len() > 1;
    let mut out: Vec<String> = f
        .gpus
        .iter()
        .map(|g| {
            let mut parts = vec![describe::gpu_label(g, several), describe::memory(g)];
            if !several && let Some(d) = &f.driver {
                parts.push(describe::driver(d));
            }
            parts.push(describe::compute(g));
            parts.join(" · ")
        })
        .collect();
    if several && let Some(d) = &f.driver {
        out.push(format!("GPUs' {}", describe::driver(d)));
    }
    if let Some(problem) = describe::gpu_problem(f) {
        out.push(format!("GPU: {problem}"));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::facts::{Driver, EnvKind, FactSource, Gpu, GpuState, Os, PythonFacts, TorchFacts};

    fn facts() -> Facts {
        Facts {
            schema: 1,
            os: Os::Windows,
            cpu_arch: "x86_64".into(),
            wsl: false,
            gpus: vec![Gpu {
                index: 0,
                name: "NVIDIA GeForce RTX 3050 Laptop GPU".into(),
                memory_mib: Some(4096),
                compute_capability: Some("8.6".into()),
                compute_capability_source: Some(FactSource::Nvml),
            }],
            driver: Some(Driver {
                version: "581.29".into(),
                cuda: Some("13.0".into()),
                source: Some(FactSource::Nvml),
            }),
            gpu_state: GpuState::Ready,
            python: Some(PythonFacts {
                executable: "C:\\Users\\Me\\miniconda3\\envs\\cyberpuppy\\python.exe".into(),
                env: EnvKind::Conda,
                platform: "win-amd64".into(),
                prefix: "C:\\Users\\Me\\miniconda3\\envs\\cyberpuppy".into(),
                pip_version: Some("24.0".into()),
                conda_available: true,
                chosen_because: "CONDA_PREFIX".into(),
                ..PythonFacts::venv_for_tests("/unused")
            }),
            torch: Some(TorchFacts {
                version: "2.5.1+cpu".into(),
                cuda: None,
                torchvision: Some("0.20.1+cpu".into()),
                torchaudio: None,
                xformers: None,
                dist_version: Some("2.5.1+cpu".into()),
                installer: Some("pip".into()),
                ..Default::default()
            }),
            python_candidates: vec![],
            cuda_toolkit: None,
            notes: vec![],
        }
    }

    #[test]
    fn the_guides_laptop() {
        let text = render(&facts());
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(
            lines[0],
            "GPU: NVIDIA GeForce RTX 3050 Laptop GPU · 4.0 GB · driver 581.29 · supports CUDA ≤ 13.0 · compute 8.6 (Ampere)"
        );
        assert_eq!(lines[1], "Python 3.11.7 (conda env) C:\\Users\\Me\\miniconda3\\envs\\cyberpuppy\\python.exe");
        assert_eq!(lines[2], "  chosen from CONDA_PREFIX · pip 24.0 · conda available");
        assert_eq!(lines[3], "PyTorch 2.5.1+cpu — CPU-only build: CUDA not usable");
        assert_eq!(lines[4], "  torchvision 0.20.1+cpu · installed by pip");
        assert!(lines[5].starts_with("warning: an NVIDIA GPU (compute 8.6) is here but PyTorch is the CPU build"));
    }

    /// The driver rule of `compat::driver_fit`, as the planner applies it: a newer minor runs
    /// by minor-version compatibility, a newer major does not run at all.
    #[test]
    fn cuda_builds_judged_against_the_driver() {
        let mut f = facts();
        f.driver = Some(Driver { version: "536.23".into(), cuda: Some("12.2".into()), source: None });
        f.torch.as_mut().unwrap().cuda = Some("12.4".into());
        f.torch.as_mut().unwrap().version = "2.5.1+cu124".into();
        let text = render(&f);
        assert!(
            text.contains(
                "PyTorch 2.5.1+cu124 — CUDA 12.4 build (runs on this driver by minor-version compatibility: no PTX JIT)"
            ),
            "{text}"
        );
        f.torch.as_mut().unwrap().cuda = Some("13.0".into());
        f.torch.as_mut().unwrap().version = "2.9.1+cu130".into();
        let text = render(&f);
        assert!(
            text.contains(
                "PyTorch 2.9.1+cu130 — CUDA 13.0 build: driver 536.23 (supports CUDA ≤ 12.2) is too old for it"
            ),
            "{text}"
        );
        f.driver.as_mut().unwrap().version = "581.29".into();
        f.driver.as_mut().unwrap().cuda = Some("13.0".into());
        assert!(render(&f).contains("PyTorch 2.9.1+cu130 — CUDA 13.0 build\n"), "a fitting driver: no remark");
    }

    #[test]
    fn no_gpu_no_torch_and_warnings() {
        let mut f = facts();
        f.gpus.clear();
        f.driver = None;
        f.gpu_state = GpuState::NoGpu;
        f.torch = None;
        let p = f.python.as_mut().unwrap();
        p.env = EnvKind::System;
        p.externally_managed = true;
        p.cuda_visible_devices = Some("-1".into());
        p.pip_index_overrides = vec!["PIP_EXTRA_INDEX_URL=https://download.pytorch.org/whl/cpu".into()];
        p.user_site_shadowing = vec!["torch 2.1.0 in /home/u/.local/lib/python3.11/site-packages (user site)".into()];
        f.python_candidates = vec![PythonCandidate {
            path: "C:\\Users\\Me\\AppData\\Local\\Microsoft\\WindowsApps\\python.exe".into(),
            found_by: "PATH".into(),
            version: None,
            chosen: false,
            problem: Some("Microsoft Store alias stub, not a Python (F42)".into()),
        }];
        f.python_candidates.push(PythonCandidate {
            path: "/gone/bin/python".into(),
            found_by: "VIRTUAL_ENV".into(),
            version: None,
            chosen: false,
            problem: Some("VIRTUAL_ENV is set to /gone but there is no interpreter there".into()),
        });
        let text = render(&f);
        assert!(text.contains("warning: the active environment (VIRTUAL_ENV) cannot be used"), "{text}");
        assert!(text.contains("GPU: No NVIDIA GPU or driver was found"), "{text}");
        assert!(text.contains("PyTorch: not installed in this Python"));
        assert!(
            text.contains("(F05)")
                && text.contains("(F06)")
                && text.contains("hides every GPU")
                && text.contains("PEP 668")
        );
        assert!(text.contains("WindowsApps\\python.exe (PATH) — Microsoft Store alias stub"));
    }

    #[test]
    fn several_gpus_and_visible_devices_beyond_them() {
        let mut f = facts();
        let mut second = f.gpus[0].clone();
        second.index = 1;
        second.name = "NVIDIA GeForce GTX 1080 Ti".into();
        second.memory_mib = Some(11264);
        second.compute_capability = Some("6.1".into());
        second.compute_capability_source = Some(FactSource::Inferred);
        f.gpus.push(second);
        f.python.as_mut().unwrap().cuda_visible_devices = Some("2".into());
        let text = render(&f);
        assert!(text.contains("GPU 0: NVIDIA GeForce RTX 3050 Laptop GPU · 4.0 GB · compute 8.6"), "{text}");
        assert!(
            text.contains("GPU 1: NVIDIA GeForce GTX 1080 Ti · 11.0 GB · compute 6.1 (Pascal, inferred from the name)")
        );
        assert!(text.contains("GPUs' driver 581.29 · supports CUDA ≤ 13.0"), "{text}");
        assert!(text.contains("CUDA_VISIBLE_DEVICES=\"2\" hides every GPU"));
        assert!(text.contains("(compute 6.1)"), "the oldest GPU decides");
    }

    #[test]
    fn no_python() {
        let mut f = facts();
        f.python = None;
        f.torch = None;
        let text = render(&f);
        assert!(text.contains("Python: no usable interpreter found"));
        assert!(!text.lines().any(|l| l.starts_with("PyTorch")), "{text}");
    }
}
