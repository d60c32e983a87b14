//! The human view of a smoke report, as plain data: lines with a tone. The CLI prints
//! them (coloured by tone when allowed), the TUI styles them; neither shares code with
//! the other beyond this.

use std::fmt;

use jiff::Timestamp;
use jiff::tz::TimeZone;

use super::{Change, SmokeReport, check_names};

/// How a line should look.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Tone {
    Plain,
    Heading,
    Ok,
    Fail,
    Warn,
    /// Secondary information (continuation of details).
    Dim,
}

/// One line of output.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Line {
    pub tone: Tone,
    pub text: String,
}

impl Line {
    fn new(tone: Tone, text: impl Into<String>) -> Line {
        Line { tone, text: text.into() }
    }
}

impl fmt::Display for Line {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.text)
    }
}

/// What to say about the previous result.
#[derive(Debug, Clone, Copy)]
pub enum Comparison<'a> {
    /// Not part of this view (e.g. a smoke test between install stages).
    None,
    /// No earlier result for this interpreter.
    FirstRun,
    /// The previous result and what changed since.
    Since { at: Timestamp, changes: &'a [Change] },
}

/// Human label of a check.
pub fn check_label(name: &str) -> &str {
    match name {
        check_names::IMPORT_TORCH => "import torch",
        check_names::CUDA_BUILD => "CUDA build",
        check_names::CUDA_AVAILABLE => "cuda.is_available()",
        check_names::DEVICES => "GPU devices",
        check_names::ARCH_SUPPORTED => "GPU arch in the build",
        check_names::MATMUL => "GPU matmul vs CPU",
        check_names::FP16_AUTOCAST => "fp16 autocast",
        check_names::CUDNN_CONV => "cuDNN conv2d",
        check_names::THROUGHPUT => "GPU vs CPU speed",
        check_names::SMOKE_SCRIPT => "smoke test script",
        other => other,
    }
}

fn ms_text(ms: f64) -> String {
    if ms < 10.0 { format!("{ms:.1} ms") } else { format!("{ms:.0} ms") }
}

/// The guide's verification lines, exactly as its script prints them on success.
pub fn guide_lines(report: &SmokeReport) -> Vec<Line> {
    let mut out = Vec::new();
    let Some(version) = report.torch.version.as_deref().filter(|_| report.torch_importable) else {
        let text = match &report.torch_installed {
            Some(v) => format!("PyTorch version: {v} (installed, cannot be imported)"),
            None => "PyTorch version: (torch cannot be imported)".to_string(),
        };
        out.push(Line::new(Tone::Fail, text));
        out.push(Line::new(Tone::Fail, "GPU not detected!"));
        return out;
    };
    out.push(Line::new(Tone::Plain, format!("PyTorch version: {version}")));
    // What the guide's reader looks for is red when it is wrong: no CUDA, or a CPU build.
    let (available, tone) = if report.cuda_available { ("True", Tone::Plain) } else { ("False", Tone::Fail) };
    out.push(Line::new(tone, format!("CUDA available: {available}")));
    let (cuda, tone) = match report.torch.cuda.as_deref() {
        Some(v) => (v, Tone::Plain),
        None => ("None", Tone::Fail),
    };
    out.push(Line::new(tone, format!("CUDA version: {cuda}")));
    if !report.cuda_available || report.devices.is_empty() {
        out.push(Line::new(Tone::Fail, "GPU not detected!"));
        return out;
    }
    for (i, d) in report.devices.iter().enumerate() {
        let gpu = if i == 0 { "GPU".to_string() } else { format!("GPU {i}") };
        out.push(Line::new(Tone::Plain, format!("{gpu} Name: {}", d.name)));
        let memory = d.memory_mib.map(crate::describe::gigabytes).unwrap_or_else(|| "unknown".into());
        out.push(Line::new(Tone::Plain, format!("{gpu} Memory: {memory}")));
    }
    out.push(match report.check(check_names::MATMUL) {
        Some(c) if c.ok => Line::new(Tone::Ok, "GPU computation test: PASSED"),
        Some(_) => Line::new(Tone::Fail, "GPU computation test: FAILED"),
        None => Line::new(Tone::Fail, "GPU computation test: NOT RUN"),
    });
    out
}

/// The full verify view: the guide's lines, every check, the speed-up, diagnoses, the
/// changes since last time and the verdict.
pub fn render_verify(report: &SmokeReport, comparison: Comparison<'_>, tz: &TimeZone) -> Vec<Line> {
    let mut out = guide_lines(report);

    out.push(Line::new(Tone::Plain, ""));
    out.push(Line::new(Tone::Heading, "Checks:"));
    let width = report.checks.iter().map(|c| check_label(&c.name).chars().count()).max().unwrap_or(0);
    for c in &report.checks {
        let (mark, tone) = if c.ok { ("✓", Tone::Ok) } else { ("✗", Tone::Fail) };
        let mut details = c.detail.lines().filter(|l| !l.trim().is_empty());
        let first = details.next().unwrap_or("");
        let label = check_label(&c.name);
        out.push(Line::new(tone, format!("  {mark} {label:<width$}  {:>8}  {first}", ms_text(c.ms))));
        let indent = " ".repeat(width + 16);
        for more in details {
            out.push(Line::new(Tone::Dim, format!("{indent}{more}")));
        }
    }

    if let (Some(ratio), Some(g), Some(c)) = (report.speedup(), report.gpu_gflops, report.cpu_gflops) {
        out.push(Line::new(Tone::Plain, ""));
        let verdict = if ratio >= 1.0 {
            format!("the GPU is {ratio:.1}× faster than the CPU")
        } else {
            format!("the GPU is slower than the CPU here ({ratio:.2}×)")
        };
        out.push(Line::new(
            Tone::Plain,
            format!(
                "Speed: {verdict} on an fp32 matmul ({g:.0} vs {c:.0} GFLOP/s); the guide expects 5–10× for training"
            ),
        ));
    }

    // Warnings already shown under the check that raised them are not repeated.
    let loose: Vec<&String> =
        report.warnings.iter().filter(|w| !report.checks.iter().any(|c| c.detail.contains(w.as_str()))).collect();
    if !loose.is_empty() {
        out.push(Line::new(Tone::Plain, ""));
        out.push(Line::new(Tone::Heading, "Warnings:"));
        for w in loose {
            out.push(Line::new(Tone::Warn, format!("  {w}")));
        }
    }

    if !report.notes.is_empty() {
        out.push(Line::new(Tone::Plain, ""));
        out.push(Line::new(Tone::Heading, "Notes:"));
        for n in &report.notes {
            out.push(Line::new(Tone::Dim, format!("  {n}")));
        }
    }

    if !report.diagnoses.is_empty() {
        out.push(Line::new(Tone::Plain, ""));
        out.push(Line::new(Tone::Heading, "Diagnoses:"));
        for d in &report.diagnoses {
            out.push(Line::new(Tone::Warn, format!("  [{}] {}", d.id, d.title)));
            for (i, fix) in d.fix.lines().enumerate() {
                let lead = if i == 0 { "fix: " } else { "     " };
                out.push(Line::new(Tone::Plain, format!("      {lead}{fix}")));
            }
        }
    }

    match comparison {
        Comparison::None => {}
        Comparison::FirstRun => {
            out.push(Line::new(Tone::Plain, ""));
            out.push(Line::new(Tone::Dim, "First saved verify for this interpreter: nothing to compare with yet."));
        }
        Comparison::Since { at, changes } => {
            out.push(Line::new(Tone::Plain, ""));
            let when = at.to_zoned_datetime(tz.clone()).strftime("%Y-%m-%d %H:%M %Z").to_string();
            if changes.is_empty() {
                out.push(Line::new(Tone::Dim, format!("Nothing changed since the last verify ({when}).")));
            } else {
                out.push(Line::new(Tone::Heading, format!("Changed since the last verify ({when}):")));
                for c in changes {
                    let tone = match c {
                        Change::Cuda { to_ok: false, .. } => Tone::Fail,
                        Change::Cuda { to_ok: true, .. } => Tone::Ok,
                        _ => Tone::Plain,
                    };
                    out.push(Line::new(tone, format!("  {c}")));
                }
            }
        }
    }

    out.push(Line::new(Tone::Plain, ""));
    let v = verdict(report);
    out.push(Line::new(v.tone, format!("Result: {}", v.text)));
    out
}

/// The verdict on a report in one sentence, the one wording for `torchup verify` and the
/// wizard: "CUDA works: torch 2.5.1+cu124 on NVIDIA GeForce RTX 3050 Laptop GPU." or
/// "CUDA does not work. First failure: …".
pub fn verdict(report: &SmokeReport) -> Line {
    match report.first_failure() {
        None if report.ok => {
            let version = report.torch.version.as_deref().unwrap_or("?");
            let gpu = report.devices.first().map(|d| d.name.as_str()).unwrap_or("the GPU");
            Line::new(Tone::Ok, format!("CUDA works: torch {version} on {gpu}."))
        }
        None => Line::new(Tone::Fail, "CUDA does not work (the GPU test did not run)."),
        Some(c) => {
            let first = c.detail.lines().next().unwrap_or("");
            Line::new(Tone::Fail, format!("CUDA does not work. First failure: {}: {first}", check_label(&c.name)))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::finding::Finding;
    use crate::smoke::test_support::report;
    use crate::smoke::{Check, Device};

    fn text(lines: &[Line]) -> Vec<String> {
        lines.iter().map(|l| l.text.clone()).collect()
    }

    fn working() -> SmokeReport {
        let mut r = report("2.5.1+cu124", true);
        r.devices = vec![Device {
            name: "NVIDIA GeForce RTX 3050 Laptop GPU".into(),
            memory_mib: Some(4095),
            compute_capability: Some("8.6".into()),
            arch_supported: Some(true),
        }];
        r.checks = vec![
            Check { name: "import_torch".into(), ok: true, detail: "torch 2.5.1+cu124 from /venv".into(), ms: 812.4 },
            Check {
                name: "arch_supported".into(),
                ok: true,
                detail: "GPU 0 (sm_86): covered by sm_86\narch list: sm_50 sm_86".into(),
                ms: 0.1,
            },
            Check { name: "matmul".into(), ok: true, detail: "GPU 0: matches".into(), ms: 31.0 },
        ];
        r.gpu_gflops = Some(4215.0);
        r.cpu_gflops = Some(312.0);
        r
    }

    #[test]
    fn success_prints_the_guides_lines_exactly() {
        let lines = text(&guide_lines(&working()));
        assert_eq!(
            lines,
            vec![
                "PyTorch version: 2.5.1+cu124",
                "CUDA available: True",
                "CUDA version: 12.4",
                "GPU Name: NVIDIA GeForce RTX 3050 Laptop GPU",
                "GPU Memory: 4.0 GB",
                "GPU computation test: PASSED",
            ]
        );
    }

    #[test]
    fn a_cpu_build_is_not_detected() {
        let mut r = report("2.5.1+cpu", false);
        r.torch.cuda = None;
        assert_eq!(
            text(&guide_lines(&r)),
            vec!["PyTorch version: 2.5.1+cpu", "CUDA available: False", "CUDA version: None", "GPU not detected!"]
        );
        // What is wrong is red (the wizard's Result block and the CLI colour by tone).
        let tones: Vec<Tone> = guide_lines(&r).iter().map(|l| l.tone).collect();
        assert_eq!(tones, [Tone::Plain, Tone::Fail, Tone::Fail, Tone::Fail]);
        r.torch_importable = false;
        assert_eq!(text(&guide_lines(&r))[1], "GPU not detected!");
    }

    #[test]
    fn the_full_view_has_checks_speed_diagnoses_and_changes() {
        let mut r = working();
        r.diagnoses = vec![Finding {
            id: "F09".into(),
            title: "Driver too old".into(),
            explanation: String::new(),
            fix: "Update the driver".into(),
        }];
        let changes = [Change::Cuda { from_ok: false, to_ok: true }];
        let at: Timestamp = "2026-01-02T10:00:00Z".parse().unwrap();
        let lines = render_verify(&r, Comparison::Since { at, changes: &changes }, &TimeZone::UTC);
        let all = text(&lines).join("\n");
        assert!(all.contains("  ✓ import torch             812 ms  torch 2.5.1+cu124 from /venv"), "{all}");
        assert!(all.contains("  ✓ GPU arch in the build    0.1 ms  GPU 0 (sm_86): covered by sm_86"), "{all}");
        assert!(all.contains("\n                                     arch list: sm_50 sm_86"), "{all}");
        assert!(all.contains("13.5× faster than the CPU on an fp32 matmul (4215 vs 312 GFLOP/s)"), "{all}");
        assert!(all.contains("  [F09] Driver too old\n      fix: Update the driver"), "{all}");
        assert!(all.contains("Changed since the last verify (2026-01-02 10:00 UTC):\n  CUDA failing → ok"), "{all}");
        assert_eq!(
            lines.last().unwrap().text,
            "Result: CUDA works: torch 2.5.1+cu124 on NVIDIA GeForce RTX 3050 Laptop GPU."
        );
        assert_eq!(lines.last().unwrap().tone, Tone::Ok);
    }

    #[test]
    fn a_failure_names_the_first_failed_check() {
        let mut r = working();
        r.ok = false;
        r.checks[2] = Check {
            name: "matmul".into(),
            ok: false,
            detail: "GPU 0: RuntimeError: no kernel image\nmore".into(),
            ms: 2.0,
        };
        let lines = render_verify(&r, Comparison::FirstRun, &TimeZone::UTC);
        let all = text(&lines).join("\n");
        assert!(all.contains("GPU computation test: FAILED"));
        assert!(all.contains("  ✗ GPU matmul vs CPU"));
        assert!(all.contains("First saved verify for this interpreter"));
        assert_eq!(
            lines.last().unwrap().text,
            "Result: CUDA does not work. First failure: GPU matmul vs CPU: GPU 0: RuntimeError: no kernel image"
        );
    }

    #[test]
    fn warnings_shown_under_a_check_are_not_repeated() {
        let mut r = working();
        r.checks[0].detail.push_str("\nwarning: UserWarning: shown with the check");
        r.warnings = vec!["UserWarning: shown with the check".into(), "after reporting, exit code 3".into()];
        let all = text(&render_verify(&r, Comparison::None, &TimeZone::UTC)).join("\n");
        assert_eq!(all.matches("shown with the check").count(), 1, "{all}");
        assert!(all.contains("Warnings:\n  after reporting, exit code 3"), "{all}");
    }
}
