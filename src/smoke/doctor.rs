//! The `doctor` document: facts + smoke test + diagnoses, shaped for a bug report.
//!
//! Better than `python -m torch.utils.collect_env` where it matters for wheels: it shows
//! the CUDA runtime *inside the wheel* (`torch.version.cuda`) next to the CUDA level the
//! *driver* supports, and the wheel's GPU arch list next to each GPU's capability — not the
//! system nvcc, which pip/conda builds never use.

use jiff::Timestamp;
use jiff::tz::TimeZone;
use serde::{Deserialize, Serialize};

use super::render::{Comparison, Line, Tone, check_label, render_verify};
use super::{Change, SmokeReport};
use crate::build_info::BuildInfo;
use crate::describe;
use crate::facts::{Facts, parse_capability};
use crate::finding::Finding;

/// Schema version of the doctor document.
pub(crate) const DOCTOR_SCHEMA: u32 = 1;

/// The `doctor --json` document.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DoctorReport {
    pub schema: u32,
    pub torchup_version: String,
    /// Commit, build date, bundled data version and target of the torchup that wrote this
    /// (`torchup --version`); empty in documents from before it was recorded.
    #[serde(default)]
    pub build: BuildInfo,
    pub generated_at: Timestamp,
    /// What is true about this machine (the `detect --json` document).
    pub facts: Facts,
    /// The smoke test result (the `verify --json` document), null when it could not run.
    pub verify: Option<SmokeReport>,
    /// Why there is no smoke result (no interpreter, it would not start).
    pub verify_error: Option<String>,
    /// Driver vs wheel, arch list vs GPUs.
    pub cuda_stack: CudaStack,
    /// Differences from the last saved verify of this interpreter.
    pub changes: Vec<Change>,
    pub previous_verify_at: Option<Timestamp>,
    pub diagnoses: Vec<Finding>,
    /// The in-process check through the libtorch torchup was built with (feature `torch`),
    /// beside the Python smoke test; absent from builds without the feature.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub libtorch: Option<SmokeReport>,
}

/// The CUDA pieces side by side.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
pub struct CudaStack {
    pub driver_version: Option<String>,
    /// Highest CUDA the driver supports ("13.0").
    pub driver_cuda: Option<String>,
    /// The CUDA runtime bundled in the torch wheel (`torch.version.cuda`).
    pub wheel_cuda: Option<String>,
    /// The driver runs this wheel's CUDA build (`compat::driver_fit`: fully or by minor-version
    /// compatibility); null when the fit is unknown.
    pub driver_runs_wheel: Option<bool>,
    pub cudnn: Option<String>,
    /// `torch.cuda.get_arch_list()`.
    pub arch_list: Vec<String>,
    pub gpus: Vec<GpuArch>,
    /// A system CUDA toolkit (CUDA_PATH / nvcc): reported, but wheels never use it.
    pub system_toolkit: Option<String>,
}

/// One GPU's architecture against the wheel.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct GpuArch {
    pub name: String,
    pub compute_capability: Option<String>,
    /// Covered by the arch list (from the smoke test), null when torch could not tell.
    pub in_arch_list: Option<bool>,
}

impl CudaStack {
    pub fn from_parts(facts: &Facts, verify: Option<&SmokeReport>) -> CudaStack {
        let driver_version = facts.driver.as_ref().map(|d| d.version.clone());
        let driver_cuda = facts.driver.as_ref().and_then(|d| d.cuda.clone());
        let wheel_cuda = verify.and_then(|r| r.torch.cuda.clone()).or_else(|| facts.torch.as_ref()?.cuda.clone());
        // The one rule (compat::driver_fit), as the planner and the diagnoses judge it.
        let driver_runs = match (&facts.driver, &wheel_cuda) {
            (Some(d), Some(w)) => {
                let os = crate::compat::driver_fit::driver_os(facts.os, facts.wsl);
                crate::compat::driver_fit::fit_of_texts(Some(&d.version), d.cuda.as_deref(), w, os).runs()
            }
            _ => None,
        };
        // Torch's view of the devices when it has one (it knows arch coverage), else the driver's.
        let gpus = match verify.filter(|r| !r.devices.is_empty()) {
            Some(r) => r
                .devices
                .iter()
                .map(|d| GpuArch {
                    name: d.name.clone(),
                    compute_capability: d.compute_capability.clone(),
                    in_arch_list: d.arch_supported,
                })
                .collect(),
            None => facts
                .gpus
                .iter()
                .map(|g| GpuArch {
                    name: g.name.clone(),
                    compute_capability: g.compute_capability.clone(),
                    in_arch_list: None,
                })
                .collect(),
        };
        let system_toolkit = facts.cuda_toolkit.as_ref().and_then(|t| {
            let parts: Vec<String> = [t.nvcc_version.as_ref().map(|v| format!("nvcc {v}")), t.cuda_path.clone()]
                .into_iter()
                .flatten()
                .collect();
            (!parts.is_empty()).then(|| parts.join(", "))
        });
        CudaStack {
            driver_version,
            driver_cuda,
            wheel_cuda,
            driver_runs_wheel: driver_runs,
            cudnn: verify.and_then(|r| r.cudnn.clone()),
            arch_list: verify.map(|r| r.arch_list.clone()).unwrap_or_default(),
            gpus,
            system_toolkit,
        }
    }
}

/// The doctor report as markdown lines (paste-able into an issue).
pub(crate) fn render_doctor(report: &DoctorReport, tz: &TimeZone) -> Vec<Line> {
    let mut out = Vec::new();
    let mut push = |tone: Tone, text: String| out.push(Line { tone, text });
    let f = &report.facts;
    let when = report.generated_at.to_zoned_datetime(tz.clone()).strftime("%Y-%m-%d %H:%M %Z").to_string();
    push(Tone::Heading, "## torchup doctor report".into());
    push(Tone::Plain, String::new());
    let build = report.build.summary();
    let build = if build.is_empty() { build } else { format!(" ({build})") };
    push(
        Tone::Plain,
        format!(
            "torchup {}{build} · {when} · {} {}{}",
            report.torchup_version,
            f.os.as_str(),
            f.cpu_arch,
            if f.wsl { " (WSL2)" } else { "" }
        ),
    );

    push(Tone::Plain, String::new());
    push(Tone::Heading, "### GPU and driver".into());
    // The one wording of `describe`, as markdown list items.
    let several = f.gpus.len() > 1;
    for g in &f.gpus {
        let label = describe::gpu_label(g, several);
        push(Tone::Plain, format!("- {label} · {} · {}", describe::memory(g), describe::compute(g)));
    }
    match &f.driver {
        Some(d) => push(Tone::Plain, format!("- {}", describe::sentence(&describe::driver(d)))),
        None => push(Tone::Warn, "- Driver: none answered (no nvidia-smi / NVML)".into()),
    }
    if let Some(problem) = describe::gpu_problem(f) {
        push(Tone::Warn, format!("- GPU: {problem}"));
    }

    push(Tone::Plain, String::new());
    push(Tone::Heading, "### Python and torch".into());
    match &f.python {
        Some(p) => {
            push(Tone::Plain, format!("- {}", describe::python(p)));
            push(Tone::Plain, format!("- {}", describe::python_detail(p)));
        }
        None => push(Tone::Fail, "- No usable Python interpreter".into()),
    }
    if let Some(e) = &report.verify_error {
        push(Tone::Fail, format!("- smoke test could not run: {e}"));
    }
    match &f.torch {
        Some(t) => {
            push(Tone::Plain, format!("- {}", describe::torch(f)));
            if let Some(family) = describe::torch_family(t) {
                push(Tone::Plain, format!("- {family}"));
            }
            if let Some(loc) = &t.location {
                push(Tone::Plain, format!("- torch location: `{loc}`"));
            }
        }
        None if f.python.is_some() => push(Tone::Warn, "- torch: not importable (see the smoke test)".into()),
        None => {}
    }
    for w in describe::warnings(f) {
        push(Tone::Warn, format!("- warning: {w}"));
    }
    push(Tone::Plain, String::new());
    push(Tone::Heading, "### CUDA stack".into());
    let s = &report.cuda_stack;
    push(Tone::Plain, "| piece | value |".into());
    push(Tone::Plain, "|---|---|".into());
    push(Tone::Plain, format!("| driver supports CUDA | {} |", s.driver_cuda.as_deref().unwrap_or("unknown")));
    let wheel = match &s.wheel_cuda {
        Some(w) => format!("{w} (bundled in the wheel)"),
        None if f.torch.is_some() => "none: CPU-only build".into(),
        None => "unknown".into(),
    };
    push(Tone::Plain, format!("| torch wheel's CUDA runtime | {wheel} |"));
    let runs = match s.driver_runs_wheel {
        Some(true) => "yes",
        Some(false) => "NO: the driver is older than the wheel's CUDA needs",
        None => "unknown",
    };
    push(Tone::Plain, format!("| driver runs the wheel's CUDA | {runs} |"));
    push(Tone::Plain, format!("| cuDNN | {} |", s.cudnn.as_deref().unwrap_or("unknown")));
    let arch = if s.arch_list.is_empty() { "unknown (CUDA not usable)".into() } else { s.arch_list.join(" ") };
    push(Tone::Plain, format!("| wheel arch list | {arch} |"));
    for (i, g) in s.gpus.iter().enumerate() {
        let sm = g
            .compute_capability
            .as_deref()
            .and_then(parse_capability)
            .map(|(a, b)| format!("sm_{a}{b}"))
            .unwrap_or_else(|| "sm_?".into());
        let covered = match g.in_arch_list {
            Some(true) => "covered",
            Some(false) => "NOT covered: kernels fail with 'no kernel image'",
            None => "unknown",
        };
        push(Tone::Plain, format!("| GPU {i} {} | {sm}, {covered} |", g.name));
    }
    let toolkit = s.system_toolkit.as_deref().unwrap_or("none found");
    push(Tone::Plain, format!("| system CUDA toolkit | {toolkit} (not used by pip/conda wheels) |"));

    push(Tone::Plain, String::new());
    push(Tone::Heading, "### Smoke test".into());
    match &report.verify {
        Some(v) => {
            push(Tone::Plain, "```".into());
            let comparison = match report.previous_verify_at {
                Some(at) => Comparison::Since { at, changes: &report.changes },
                None => Comparison::None,
            };
            // The report's own diagnoses are part of the section below (with the facts').
            let without = SmokeReport { diagnoses: Vec::new(), ..v.clone() };
            for l in render_verify(&without, comparison, tz) {
                push(l.tone, l.text);
            }
            push(Tone::Plain, "```".into());
            if let Some(tail) = v.stderr_tail.as_deref().filter(|_| !v.ok) {
                push(Tone::Plain, String::new());
                push(Tone::Plain, "<details><summary>interpreter stderr (last lines)</summary>".into());
                push(Tone::Plain, String::new());
                push(Tone::Plain, "```".into());
                for l in tail.lines() {
                    push(Tone::Dim, l.to_string());
                }
                push(Tone::Plain, "```".into());
                push(Tone::Plain, "</details>".into());
            }
            if let Some(err) = v.import_error.as_deref() {
                push(Tone::Plain, String::new());
                push(Tone::Plain, format!("Full `{}` error:", check_label(super::check_names::IMPORT_TORCH)));
                push(Tone::Plain, "```".into());
                for l in err.lines() {
                    push(Tone::Dim, l.to_string());
                }
                push(Tone::Plain, "```".into());
            }
        }
        None => push(Tone::Fail, "Not run.".into()),
    }

    if let Some(lt) = &report.libtorch {
        push(Tone::Plain, String::new());
        push(Tone::Heading, "### libtorch check (built into torchup, feature `torch`)".into());
        for c in &lt.checks {
            let (mark, tone) = if c.ok { ("✓", Tone::Ok) } else { ("✗", Tone::Fail) };
            push(tone, format!("- {mark} {}: {}", check_label(&c.name), c.detail));
        }
        let verdict = if lt.ok { "CUDA works through libtorch." } else { "CUDA does not work through libtorch." };
        push(if lt.ok { Tone::Ok } else { Tone::Fail }, format!("- {verdict}"));
    }

    push(Tone::Plain, String::new());
    push(Tone::Heading, "### Diagnoses".into());
    if report.diagnoses.is_empty() {
        push(Tone::Plain, "No known problem matched.".into());
    }
    for d in &report.diagnoses {
        push(Tone::Warn, format!("- **{}** {}", d.id, d.title));
        for (i, fix) in d.fix.lines().enumerate() {
            let lead = if i == 0 { "fix: " } else { "" };
            push(Tone::Plain, format!("  {lead}{fix}"));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::facts::{Driver, FACTS_SCHEMA, Gpu, GpuState, Os, PythonFacts, TorchFacts};
    use crate::smoke::test_support::report;
    use crate::smoke::{Device, PythonInfo};

    fn verify() -> SmokeReport {
        let mut r = report("2.5.1+cu124", true);
        r.python = Some(PythonInfo {
            executable: "/venv/bin/python".into(),
            version: "3.11.7".into(),
            bits: 64,
            env: "venv".into(),
            ..Default::default()
        });
        r.devices = vec![Device {
            name: "NVIDIA GeForce RTX 3050 Laptop GPU".into(),
            memory_mib: Some(4095),
            compute_capability: Some("8.6".into()),
            arch_supported: Some(true),
        }];
        r.arch_list = vec!["sm_80".into(), "sm_86".into(), "sm_90".into()];
        r.cudnn = Some("9.1.0".into());
        r
    }

    fn facts() -> Facts {
        Facts {
            schema: FACTS_SCHEMA,
            os: Os::Linux,
            cpu_arch: "x86_64".into(),
            wsl: true,
            gpus: vec![Gpu {
                index: 0,
                name: "NVIDIA GeForce RTX 3050 Laptop GPU".into(),
                memory_mib: Some(4096),
                compute_capability: Some("8.6".into()),
                compute_capability_source: None,
            }],
            driver: Some(Driver { version: "581.29".into(), cuda: Some("13.0".into()), source: None }),
            gpu_state: GpuState::Ready,
            python: Some(PythonFacts { pip_version: Some("24.0".into()), ..PythonFacts::venv_for_tests("/venv") }),
            torch: Some(TorchFacts {
                version: "2.5.1+cu124".into(),
                cuda: Some("12.4".into()),
                torchvision: Some("0.20.1+cu124".into()),
                ..Default::default()
            }),
            python_candidates: vec![],
            cuda_toolkit: None,
            notes: vec![],
        }
    }

    #[test]
    fn the_cuda_stack_prefers_torchs_view_of_the_gpus() {
        let f = facts();
        let with = CudaStack::from_parts(&f, Some(&verify()));
        assert_eq!(with.gpus[0].in_arch_list, Some(true));
        assert_eq!((with.wheel_cuda.as_deref(), with.driver_runs_wheel), (Some("12.4"), Some(true)));
        let without = CudaStack::from_parts(&f, None);
        assert_eq!(without.gpus[0].in_arch_list, None, "the driver's list, coverage unknown");
        assert_eq!(without.wheel_cuda.as_deref(), Some("12.4"), "from the facts' torch");
    }

    #[test]
    fn the_markdown_report_puts_wheel_and_driver_side_by_side() {
        let v = verify();
        let facts = facts();
        let cuda_stack = CudaStack::from_parts(&facts, Some(&v));
        let report = DoctorReport {
            schema: DOCTOR_SCHEMA,
            torchup_version: "0.1.0".into(),
            build: BuildInfo::default(),
            generated_at: "2026-03-01T12:00:00Z".parse().unwrap(),
            facts,
            verify: Some(v),
            verify_error: None,
            cuda_stack,
            changes: vec![],
            previous_verify_at: None,
            diagnoses: vec![Finding {
                id: "F27".into(),
                title: "Sysmem fallback".into(),
                explanation: String::new(),
                fix: "Prefer No Sysmem Fallback".into(),
            }],
            libtorch: None,
        };
        let text: Vec<String> = render_doctor(&report, &TimeZone::UTC).into_iter().map(|l| l.text).collect();
        let all = text.join("\n");
        for want in [
            "## torchup doctor report",
            "torchup 0.1.0 · 2026-03-01 12:00 UTC · linux x86_64 (WSL2)",
            "- GPU: NVIDIA GeForce RTX 3050 Laptop GPU · 4.0 GB · compute 8.6 (Ampere)",
            "- Driver 581.29 · supports CUDA ≤ 13.0",
            "- Python 3.11.7 (venv) /venv/bin/python",
            "- PyTorch 2.5.1+cu124 — CUDA 12.4 build",
            "- torchvision 0.20.1+cu124",
            "| driver supports CUDA | 13.0 |",
            "| torch wheel's CUDA runtime | 12.4 (bundled in the wheel) |",
            "| driver runs the wheel's CUDA | yes |",
            "| wheel arch list | sm_80 sm_86 sm_90 |",
            "| GPU 0 NVIDIA GeForce RTX 3050 Laptop GPU | sm_86, covered |",
            "| system CUDA toolkit | none found (not used by pip/conda wheels) |",
            "GPU computation test: PASSED",
            "### Diagnoses\n- **F27** Sysmem fallback\n  fix: Prefer No Sysmem Fallback",
        ] {
            assert!(all.contains(want), "missing {want:?} in\n{all}");
        }
        assert!(!all.contains("libtorch"), "no libtorch section without the feature's result");
        let json = serde_json::to_value(&report).unwrap();
        assert!(json.get("libtorch").is_none(), "absent from builds without the feature");

        // Built with the `torch` feature: the libtorch check sits beside the Python smoke test.
        let libtorch = SmokeReport {
            checks: vec![super::super::Check {
                name: "cuda_available".into(),
                ok: false,
                detail: "libtorch: Cuda::is_available() = false, 0 device(s)".into(),
                ms: 0.1,
            }],
            ..SmokeReport::default()
        };
        let report = DoctorReport { libtorch: Some(libtorch), ..report };
        let all: Vec<String> = render_doctor(&report, &TimeZone::UTC).into_iter().map(|l| l.text).collect();
        let all = all.join("\n");
        assert!(
            all.contains(
                "### libtorch check (built into torchup, feature `torch`)\n- ✗ cuda.is_available(): libtorch: Cuda::is_available() = false, 0 device(s)\n- CUDA does not work through libtorch."
            ),
            "{all}"
        );
        assert!(all.find("### Smoke test") < all.find("### libtorch check"), "beside, after the Python test");
        assert_eq!(serde_json::to_value(&report).unwrap()["libtorch"]["checks"][0]["ok"], false);
    }
}
