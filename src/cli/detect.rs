//! `torchup detect`: the facts about this machine and the target Python, as a short human
//! summary in the guide's spirit or (`--json`) the document of docs/contract.md.
//!
//! Exit codes: 0 ok; 3 when no Python can be used (the JSON document is still printed,
//! with `"python": null`).

use crate::facts::gather::{GatherOptions, gather_report};
use crate::facts::platform::{HostEnv, Platform};
use crate::facts::python::discover::INSTALLED_HERE;
use crate::facts::{FactSource, Facts, GpuState, PythonCandidate, parse_capability};

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

/// The human summary: GPU, Python, PyTorch, then warnings, other interpreters and notes.
pub fn render(f: &Facts) -> String {
    let mut out = Vec::new();
    out.extend(gpu_lines(f));
    out.extend(python_lines(f));
    out.extend(torch_lines(f));
    if let Some(tk) = &f.cuda_toolkit {
        let mut parts = Vec::new();
        if let Some(v) = &tk.nvcc_version {
            parts.push(format!("nvcc {v}"));
        }
        if let Some(p) = &tk.cuda_path {
            parts.push(format!("CUDA_PATH={p}"));
        }
        out.push(format!(
            "CUDA toolkit: {} (not needed for PyTorch wheels; only for building extensions)",
            parts.join(" · ")
        ));
    }
    for w in warnings(f) {
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
    for n in &f.notes {
        out.push(format!("note: {n}"));
    }
    let mut s = out.join("\n");
    s.push('\n');
    s
}

/// "4.0 GB" from MiB, one decimal as in the guide.
fn gigabytes(mib: u64) -> String {
    format!("{:.1} GB", mib as f64 / 1024.0)
}

fn gpu_lines(f: &Facts) -> Vec<String> {
    let driver = f.driver.as_ref().map(|d| {
        let cuda = d.cuda.as_deref().map(|c| format!(" · supports CUDA ≤ {c}")).unwrap_or_default();
        format!("driver {}{cuda}", d.version)
    });
    let describe = |g: &crate::facts::Gpu| {
        let mut parts = vec![g.name.clone()];
        if let Some(m) = g.memory_mib {
            parts.push(gigabytes(m));
        }
        parts.push(String::new()); // driver slot, filled below for a single GPU
        if let Some(cc) = &g.compute_capability {
            let inferred = if g.compute_capability_source == Some(FactSource::Inferred) {
                " (inferred from the name)"
            } else {
                ""
            };
            parts.push(format!("compute {cc}{inferred}"));
        }
        parts
    };
    let mut out = Vec::new();
    match f.gpus.len() {
        0 => {}
        1 => {
            let mut parts = describe(&f.gpus[0]);
            match &driver {
                Some(d) => parts[2].clone_from(d),
                None => {
                    parts.remove(2);
                }
            }
            out.push(format!("GPU: {}", parts.join(" · ")));
        }
        _ => {
            for g in &f.gpus {
                let mut parts = describe(g);
                parts.remove(2);
                out.push(format!("GPU {}: {}", g.index, parts.join(" · ")));
            }
            if let Some(d) = &driver {
                out.push(format!("Driver: {}", d.trim_start_matches("driver ")));
            }
        }
    }
    match &f.gpu_state {
        GpuState::Ready if f.gpus.is_empty() => out.push("GPU: the driver answered but listed no GPU".into()),
        GpuState::Ready => {}
        state => {
            let platform = Platform { os: f.os, arch: f.arch.clone(), wsl: f.wsl };
            out.push(format!("GPU: {}", state.explanation_for(&platform)));
        }
    }
    out
}

fn python_lines(f: &Facts) -> Vec<String> {
    let Some(p) = &f.python else {
        return vec!["Python: no usable interpreter found".into()];
    };
    let bits = if p.bits == 32 { ", 32-bit" } else { "" };
    let mut out = vec![format!("Python {} ({}{bits}) {}", p.version, p.env.as_str(), p.executable)];
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
    out.push(format!("  {}", detail.join(" · ")));
    out
}

fn torch_lines(f: &Facts) -> Vec<String> {
    if f.python.is_none() {
        return Vec::new();
    }
    let Some(t) = &f.torch else {
        return vec!["PyTorch: not installed in this Python".into()];
    };
    let mut out = Vec::new();
    match &t.cuda {
        None => out.push(format!("PyTorch {} — CPU-only build: CUDA not usable", t.version)),
        Some(c) => {
            let mut line = format!("PyTorch {} — CUDA {c} build", t.version);
            let driver_cuda =
                f.driver.as_ref().and_then(|d| d.cuda.as_deref()).and_then(crate::version::parse_major_minor);
            match (crate::version::parse_major_minor(c), driver_cuda) {
                (Some(need), Some(have)) if need > have => line.push_str(&format!(
                    ": needs a driver that supports CUDA {c}; this driver supports ≤ {}.{}",
                    have.0, have.1
                )),
                _ if f.gpus.is_empty() => line.push_str(" (no NVIDIA GPU found here, so CUDA cannot be used)"),
                _ => {}
            }
            out.push(line);
        }
    }
    let mut family = Vec::new();
    if let Some(v) = &t.torchvision {
        family.push(format!("torchvision {v}"));
    }
    if let Some(v) = &t.torchaudio {
        family.push(format!("torchaudio {v}"));
    }
    if let Some(v) = &t.xformers {
        family.push(format!("xformers {v}"));
    }
    if let Some(i) = &t.installer {
        family.push(format!("installed by {i}"));
    }
    if !family.is_empty() {
        out.push(format!("  {}", family.join(" · ")));
    }
    if !t.dependents.is_empty() {
        out.push(format!("  needed by: {}", t.dependents.join(", ")));
    }
    out
}

/// Problems worth a warning, each with what to do (catalogue ids from docs/diagnoses.md in parentheses).
pub fn warnings(f: &Facts) -> Vec<String> {
    let mut w = Vec::new();
    let Some(p) = &f.python else { return w };
    for c in f.python_candidates.iter().filter(|c| !c.chosen && c.problem.is_some()) {
        let active =
            ["VIRTUAL_ENV", "CONDA_PREFIX"].into_iter().find(|v| c.found_by.split([',', ';']).any(|l| l.trim() == *v));
        if let (Some(var), Some(problem)) = (active, &c.problem) {
            w.push(format!(
                "the active environment ({var}) cannot be used: {problem}; torchup uses {} instead. \
                 Re-activate the env you train in, or pass --python",
                p.executable
            ));
        }
    }
    for o in &p.pip_index_overrides {
        w.push(format!(
            "pip is pointed at the CPU-only index: {o} (F05); an install would pick the +cpu build. \
             Clear the variable or remove the line from the config file"
        ));
    }
    for s in &p.user_site_shadowing {
        w.push(format!(
            "{s} is imported before this env's packages (F06); remove it, or set PYTHONNOUSERSITE=1 when you run Python"
        ));
    }
    if let Some(v) = &p.cuda_visible_devices {
        let hides_all = v.trim().is_empty() || v.trim() == "-1";
        let beyond = !f.gpus.is_empty()
            && v.split(',').map(str::trim).all(|i| i.parse::<usize>().is_ok_and(|i| i >= f.gpus.len()));
        if hides_all || beyond {
            w.push(format!(
                "CUDA_VISIBLE_DEVICES={v:?} hides every GPU from CUDA (F35); unset it or set it to 0 before Python starts"
            ));
        } else {
            w.push(format!("CUDA_VISIBLE_DEVICES={v:?}: CUDA sees only these GPUs (F35)"));
        }
    }
    if p.externally_managed {
        w.push(
            "this Python is externally managed (PEP 668): pip refuses to install into it; create a venv \
             (python3 -m venv .venv) and pass --python .venv/bin/python"
                .into(),
        );
    }
    if p.bits == 32 {
        w.push("32-bit Python: PyTorch has no 32-bit wheels; install 64-bit Python".into());
    }
    if let (Some(t), Some(_)) = (&f.torch, f.gpus.first())
        && t.cuda.is_none()
    {
        let cc = f.gpus.iter().filter_map(|g| g.compute_capability.as_deref().and_then(parse_capability)).min();
        let cc = cc.map(|(a, b)| format!(" (compute {a}.{b})")).unwrap_or_default();
        w.push(format!(
            "an NVIDIA GPU{cc} is here but PyTorch is the CPU build; `torchup plan` shows which CUDA build fits"
        ));
    }
    w
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::facts::{Driver, EnvKind, Gpu, Os, PythonFacts, TorchFacts};

    fn facts() -> Facts {
        Facts {
            schema: 1,
            os: Os::Windows,
            arch: "x86_64".into(),
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
                version: "3.11.7".into(),
                bits: 64,
                env: EnvKind::Conda,
                externally_managed: false,
                implementation: "cpython".into(),
                platform: "win-amd64".into(),
                prefix: "C:\\Users\\Me\\miniconda3\\envs\\cyberpuppy".into(),
                pip_version: Some("24.0".into()),
                uv_available: false,
                conda_available: true,
                chosen_because: "CONDA_PREFIX".into(),
                user_site_shadowing: vec![],
                pip_index_overrides: vec![],
                cuda_visible_devices: None,
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
            "GPU: NVIDIA GeForce RTX 3050 Laptop GPU · 4.0 GB · driver 581.29 · supports CUDA ≤ 13.0 · compute 8.6"
        );
        assert_eq!(lines[1], "Python 3.11.7 (conda) C:\\Users\\Me\\miniconda3\\envs\\cyberpuppy\\python.exe");
        assert_eq!(lines[2], "  chosen from CONDA_PREFIX · pip 24.0 · conda available");
        assert_eq!(lines[3], "PyTorch 2.5.1+cpu — CPU-only build: CUDA not usable");
        assert_eq!(lines[4], "  torchvision 0.20.1+cpu · installed by pip");
        assert!(lines[5].starts_with("warning: an NVIDIA GPU (compute 8.6) is here but PyTorch is the CPU build"));
    }

    #[test]
    fn cuda_build_newer_than_the_driver() {
        let mut f = facts();
        f.driver.as_mut().unwrap().cuda = Some("12.2".into());
        f.torch.as_mut().unwrap().cuda = Some("12.4".into());
        f.torch.as_mut().unwrap().version = "2.5.1+cu124".into();
        let text = render(&f);
        assert!(text.contains("PyTorch 2.5.1+cu124 — CUDA 12.4 build: needs a driver that supports CUDA 12.4; this driver supports ≤ 12.2"), "{text}");
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
        assert!(text.contains("GPU 1: NVIDIA GeForce GTX 1080 Ti · 11.0 GB · compute 6.1 (inferred from the name)"));
        assert!(text.contains("Driver: 581.29 · supports CUDA ≤ 13.0"));
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
        assert!(!text.contains("PyTorch"));
    }
}
