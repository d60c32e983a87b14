//! Turning what the smoke script left behind into a [`SmokeReport`].
//!
//! The script prints one JSON document on stdout and, with `--progress`, a line on stderr
//! before each check (`torchup-smoke: begin NAME`) and the document so far after it
//! (`torchup-smoke: partial {...}`). So even when the interpreter crashes inside a CUDA
//! call or hangs, torchup knows which checks passed and which one never came back.
//!
//! Decision: once the script has started, every outcome is a report (a crash or a timeout
//! becomes a failed check, so it is saved, compared and diagnosed like any other result).
//! Only an interpreter that never started the script is a [`SmokeError`].

use std::collections::BTreeMap;
use std::time::Duration;

use serde::Deserialize;

use super::run::SmokeError;
use super::{Check, Device, PythonInfo, SmokeReport, TorchInfo, VERIFY_SCHEMA, check_names};
use crate::compat::arch::{ArchList, Capability, Coverage};
use crate::exec::{ExitState, RunOutcome};

/// Prefix of the script's progress lines on stderr.
pub const PROGRESS_PREFIX: &str = "torchup-smoke: ";

/// Keep at most this much of the interpreter's stderr in the report.
const STDERR_TAIL_LINES: usize = 30;
const STDERR_TAIL_BYTES: usize = 4000;

/// The script's document, read leniently: every field may be missing or null.
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
struct ScriptDoc {
    schema: Option<u32>,
    torch: Option<ScriptTorch>,
    cuda_available: Option<bool>,
    devices: Vec<ScriptDevice>,
    checks: Vec<ScriptCheck>,
    torch_importable: Option<bool>,
    import_error: Option<String>,
    torch_installed: Option<String>,
    torch_requires: Vec<String>,
    warnings: Vec<String>,
    gpu_gflops: Option<f64>,
    cpu_gflops: Option<f64>,
    cudnn: Option<String>,
    arch_list: Vec<String>,
    python: Option<PythonInfo>,
    torch_path: Option<String>,
    torch_from_user_site: Option<bool>,
    packages: BTreeMap<String, String>,
    cuda_visible_devices: Option<String>,
    captured_stdout: Option<String>,
    total_ms: Option<f64>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
struct ScriptTorch {
    version: Option<String>,
    cuda: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
struct ScriptDevice {
    name: Option<String>,
    memory_mib: Option<u64>,
    compute_capability: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
struct ScriptCheck {
    name: Option<String>,
    ok: Option<bool>,
    detail: Option<String>,
    ms: Option<f64>,
}

impl ScriptDoc {
    /// A document is ours when it carries a schema number.
    fn parse(text: &str) -> Option<ScriptDoc> {
        let doc: ScriptDoc = serde_json::from_str(text.trim()).ok()?;
        doc.schema.is_some().then_some(doc)
    }

    fn into_report(self) -> SmokeReport {
        let torch = self.torch.unwrap_or_default();
        let checks: Vec<Check> = self
            .checks
            .into_iter()
            .map(|c| Check {
                name: c.name.unwrap_or_else(|| "unnamed".into()),
                ok: c.ok.unwrap_or(false),
                detail: c.detail.unwrap_or_default(),
                ms: c.ms.unwrap_or(0.0),
            })
            .collect();
        let mut devices: Vec<Device> = self
            .devices
            .into_iter()
            .map(|d| Device {
                name: d.name.unwrap_or_else(|| "unknown GPU".into()),
                memory_mib: d.memory_mib,
                compute_capability: d.compute_capability,
                arch_supported: None,
            })
            .collect();
        let mut checks = checks;
        judge_arch_coverage(&mut devices, &mut checks, &self.arch_list);
        let mut python = self.python;
        if let Some(p) = python.as_mut().filter(|p| p.base_prefix.is_some()) {
            decide_env(p);
        }
        let mut report = SmokeReport {
            schema: VERIFY_SCHEMA,
            // Recomputed here, never taken from the script: one definition of "CUDA works".
            ok: SmokeReport::cuda_works(&checks),
            torch: TorchInfo { version: torch.version, cuda: torch.cuda },
            cuda_available: self.cuda_available.unwrap_or(false),
            devices,
            checks,
            diagnoses: Vec::new(),
            torch_importable: self.torch_importable.unwrap_or(false),
            import_error: self.import_error,
            torch_installed: self.torch_installed,
            torch_requires: self.torch_requires,
            warnings: self.warnings,
            notes: Vec::new(),
            gpu_gflops: self.gpu_gflops,
            cpu_gflops: self.cpu_gflops,
            cudnn: self.cudnn,
            arch_list: self.arch_list,
            python,
            torch_path: self.torch_path,
            torch_from_user_site: self.torch_from_user_site.unwrap_or(false),
            packages: self.packages,
            cuda_visible_devices: self.cuda_visible_devices,
            captured_stdout: self.captured_stdout,
            stderr_tail: None,
            total_ms: self.total_ms.unwrap_or(0.0),
        };
        super::notes::separate(&mut report);
        report
    }
}

/// Judge the script's raw facts (each device's capability, `torch.cuda.get_arch_list()`)
/// with torchup's one coverage rule ([`ArchList::coverage`]): set each device's
/// `arch_supported` and write the `arch_supported` check's verdict and detail. The script
/// only reports; it never decides.
pub fn judge_arch_coverage(devices: &mut [Device], checks: &mut [Check], arch_list: &[String]) {
    let Some(check) = checks.iter_mut().find(|c| c.name == check_names::ARCH_SUPPORTED) else { return };
    let Some(list) = ArchList::from_torch_names(arch_list) else {
        check.ok = true;
        check.detail = "torch reported no arch list; the kernel tests below decide".into();
        return;
    };
    let mut ok = true;
    let mut lines = Vec::new();
    for (i, dev) in devices.iter_mut().enumerate() {
        let Some(cap) = dev.compute_capability.as_deref().and_then(|c| c.parse::<Capability>().ok()) else {
            lines.push(format!("GPU {i}: compute capability unknown, not checked"));
            continue;
        };
        let coverage = list.coverage(cap);
        dev.arch_supported = Some(coverage.supported());
        let sm = cap.sm();
        lines.push(match coverage {
            Coverage::Native(s) => format!("GPU {i} ({sm}): covered by {}", list.torch_name_of(s)),
            Coverage::Jit(p) => format!("GPU {i} ({sm}): only PTX {} (JIT-compiled on first use)", p.compute()),
            Coverage::LegacyPtx(p) => {
                ok = false;
                format!(
                    "GPU {i} ({sm}): only legacy PTX {}, which lacks the kernels newer GPUs need: this build does not support it",
                    p.compute()
                )
            }
            Coverage::None => {
                ok = false;
                format!(
                    "GPU {i} ({sm}) is NOT in this build's arch list: kernels will fail with 'no kernel image is available for execution on the device'"
                )
            }
        });
    }
    lines.push(format!("arch list: {}", arch_list.join(" ")));
    check.ok = ok;
    check.detail = lines.join("\n");
}

/// The kind of environment and PEP 668, decided by the probe's rule from the script's raw
/// facts (the script does not decide).
fn decide_env(p: &mut PythonInfo) {
    use crate::facts::python::report::{EnvMarkers, env_kind_of, externally_managed};
    let kind = env_kind_of(&EnvMarkers {
        prefix: &p.prefix,
        base_prefix: p.base_prefix.as_deref().unwrap_or_default(),
        pyvenv_cfg: p.pyvenv_cfg,
        conda_meta: p.conda_meta,
        embedded: p.embedded,
        implementation: &p.implementation,
    });
    p.env = kind.as_str().to_string();
    p.externally_managed = externally_managed(p.externally_managed_marker, kind);
}

/// The final document on stdout: the whole text, or else the last line that parses
/// (something may have slipped onto stdout before it).
fn find_document(stdout: &str) -> Option<ScriptDoc> {
    ScriptDoc::parse(stdout)
        .or_else(|| stdout.lines().rev().filter(|l| l.trim_start().starts_with('{')).find_map(ScriptDoc::parse))
}

/// What the progress lines on stderr said, and the rest of stderr.
#[derive(Debug, Default)]
struct Progress<'a> {
    /// The last check the script started.
    running: Option<&'a str>,
    /// The last complete partial document.
    partial: Option<ScriptDoc>,
    /// stderr without the progress lines.
    other: Vec<&'a str>,
}

fn scan_progress(stderr: &str) -> Progress<'_> {
    let mut p = Progress::default();
    let mut last_partial = None;
    for line in stderr.lines() {
        match line.strip_prefix(PROGRESS_PREFIX) {
            Some(rest) => {
                if let Some(name) = rest.strip_prefix("begin ") {
                    p.running = Some(name.trim());
                } else if let Some(json) = rest.strip_prefix("partial ") {
                    last_partial = Some(json);
                }
            }
            None => p.other.push(line),
        }
    }
    // Only the last one matters; a truncated one (killed mid-write) falls back to nothing.
    p.partial = last_partial.and_then(ScriptDoc::parse);
    p
}

/// The last lines of stderr, bounded in lines and bytes.
fn tail(lines: &[&str]) -> Option<String> {
    let kept: Vec<&str> =
        lines.iter().rev().filter(|l| !l.trim().is_empty()).take(STDERR_TAIL_LINES).copied().collect();
    if kept.is_empty() {
        return None;
    }
    let mut text = kept.into_iter().rev().collect::<Vec<_>>().join("\n");
    if text.len() > STDERR_TAIL_BYTES {
        let mut cut = text.len() - STDERR_TAIL_BYTES;
        while !text.is_char_boundary(cut) {
            cut += 1;
        }
        text = format!("…{}", &text[cut..]);
    }
    Some(text)
}

/// The most telling stderr line for a one-line message: a fatal error if there is one,
/// else the last non-empty line.
fn telling_line(lines: &[&str]) -> Option<String> {
    let pick = lines
        .iter()
        .rev()
        .find(|l| l.contains("Fatal Python error") || l.contains("Error:") || l.contains("error:"))
        .or_else(|| lines.iter().rev().find(|l| !l.trim().is_empty()))?;
    let one = pick.trim();
    Some(if one.chars().count() > 200 {
        format!("{}…", one.chars().take(200).collect::<String>())
    } else {
        one.into()
    })
}

/// How the interpreter ended, in words (Windows NTSTATUS crash codes decoded).
pub fn describe_exit(state: ExitState, timeout: Duration) -> String {
    match state {
        ExitState::TimedOut => format!("no answer within {} s, so it was stopped", timeout.as_secs()),
        ExitState::Cancelled => "cancelled".into(),
        ExitState::Signal => "the interpreter crashed (killed by a signal)".into(),
        ExitState::Code(0) => "the interpreter exited without a report".into(),
        ExitState::Code(c) => {
            let what = match c as u32 {
                0xC000_0005 => " (access violation)",
                0xC000_001D => " (illegal instruction: this CPU lacks an instruction the build needs)",
                0xC000_0135 => " (a DLL was not found)",
                0xC000_0139 => " (a DLL entry point was not found)",
                0xC000_0409 => " (stack buffer overrun / fail-fast)",
                0xC000_00FD => " (stack overflow)",
                _ => "",
            };
            if (c as u32) >= 0xC000_0000 {
                format!("the interpreter crashed (exit code 0x{:08X}{what})", c as u32)
            } else {
                format!("the interpreter crashed (exit code {c})")
            }
        }
    }
}

/// Interpret a finished run of the smoke script.
pub fn interpret(outcome: &RunOutcome, python: &str, timeout: Duration) -> Result<SmokeReport, SmokeError> {
    if outcome.state == ExitState::Cancelled {
        return Err(SmokeError::Cancelled);
    }
    let progress = scan_progress(&outcome.stderr);
    let stderr_tail = tail(&progress.other);

    if let Some(doc) = find_document(&outcome.stdout) {
        let mut report = doc.into_report();
        report.stderr_tail = stderr_tail;
        if !outcome.state.success() {
            // Reported, then died (CUDA teardown crashes happen): the result stands.
            report.warnings.push(format!("after reporting, {}", describe_exit(outcome.state, timeout)));
        }
        return Ok(report);
    }

    let Some(running) = progress.running else {
        let last_line = telling_line(&progress.other).unwrap_or_else(|| "no output".into());
        return Err(match outcome.state {
            ExitState::TimedOut => SmokeError::TimedOut { python: python.into(), secs: timeout.as_secs() },
            state => SmokeError::NotStarted { python: python.into(), state: state.describe(), last_line },
        });
    };

    // The script started but never printed its document: keep what it had reported.
    let mut report = progress
        .partial
        .map(ScriptDoc::into_report)
        .unwrap_or_else(|| ScriptDoc { schema: Some(VERIFY_SCHEMA), ..ScriptDoc::default() }.into_report());
    let mut detail = describe_exit(outcome.state, timeout);
    if let Some(line) = telling_line(&progress.other) {
        detail.push_str(": ");
        detail.push_str(&line);
    }
    let name = if report.check(running).is_some() { check_names::SMOKE_SCRIPT } else { running };
    report.checks.push(Check {
        name: name.to_string(),
        ok: false,
        detail,
        ms: outcome.duration.as_secs_f64() * 1000.0,
    });
    report.ok = false;
    report.stderr_tail = stderr_tail;
    Ok(report)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The kind of environment and PEP 668 are decided once: the Python probe's report and
    /// the smoke script's report, fed the same raw facts, come out the same.
    #[test]
    fn env_kind_is_one_decision_for_the_probe_and_the_smoke_report() {
        use crate::facts::python::probe::ProbeReport;
        use crate::facts::python::report::{env_kind, externally_managed};
        // (prefix, base_prefix, pyvenv.cfg, conda-meta, embedded, implementation, marker)
        let table = [
            ("/v", "/usr", true, false, false, "cpython", true),
            ("/v", "/usr", false, false, false, "cpython", false),
            ("/usr", "/usr", false, false, false, "cpython", true),
            ("/c", "/c", false, true, false, "cpython", false),
            ("/c/envs/x", "/c", true, true, false, "cpython", false),
            ("C:/py", "C:/py", false, false, true, "cpython", false),
            ("/g", "/g", false, false, false, "graalpy", false),
        ];
        for (prefix, base, cfg, conda, embedded, implementation, marker) in table {
            let probe = ProbeReport {
                prefix: prefix.into(),
                base_prefix: base.into(),
                pyvenv_cfg: cfg,
                conda_meta: conda,
                embedded,
                implementation: implementation.into(),
                ..Default::default()
            };
            let kind = env_kind(&probe);
            let doc = serde_json::json!({
                "schema": 1,
                "checks": [],
                "python": {"executable": "/x/python", "prefix": prefix, "base_prefix": base, "pyvenv_cfg": cfg,
                           "conda_meta": conda, "embedded": embedded, "implementation": implementation,
                           "externally_managed_marker": marker}
            });
            let r = interpret(&outcome(ExitState::Code(0), &doc.to_string(), ""), "py", T).unwrap();
            let py = r.python.unwrap();
            assert_eq!(py.env, kind.as_str(), "{prefix} {base} cfg={cfg} conda={conda}");
            assert_eq!(py.externally_managed, externally_managed(marker, kind), "{prefix}");
        }
    }

    fn outcome(state: ExitState, stdout: &str, stderr: &str) -> RunOutcome {
        RunOutcome { state, stdout: stdout.into(), stderr: stderr.into(), duration: Duration::from_millis(1500) }
    }

    const T: Duration = Duration::from_secs(120);

    const GOOD: &str = r#"{"schema": 1, "ok": true, "torch": {"version": "2.5.1+cu124", "cuda": "12.4"},
        "cuda_available": true,
        "devices": [{"name": "NVIDIA GeForce RTX 3050 Laptop GPU", "memory_mib": 4095, "compute_capability": "8.6", "arch_supported": true}],
        "checks": [{"name": "import_torch", "ok": true, "detail": "torch 2.5.1+cu124", "ms": 800.0},
                   {"name": "matmul", "ok": true, "detail": "matches", "ms": 30.5}],
        "diagnoses": [], "gpu_gflops": 4000.0, "cpu_gflops": 300.0, "future_field": [1, 2]}"#;

    #[test]
    fn a_complete_document_parses_and_ok_is_recomputed() {
        let r = interpret(&outcome(ExitState::Code(0), GOOD, ""), "py", T).unwrap();
        assert!(r.ok);
        assert_eq!(r.torch.version.as_deref(), Some("2.5.1+cu124"));
        assert_eq!(r.devices[0].memory_mib, Some(4095));
        assert_eq!(r.checks.len(), 2);
        // The script's own "ok" is not trusted: a failing check makes it false.
        let lying = GOOD.replace(r#""ok": true, "detail": "matches""#, r#""ok": false, "detail": "differs""#);
        let r = interpret(&outcome(ExitState::Code(0), &lying, ""), "py", T).unwrap();
        assert!(!r.ok);
    }

    #[test]
    fn noise_before_the_document_is_skipped() {
        let stdout = format!("Microsoft Visual C++ Redistributable is not installed\n{}\n", GOOD.replace('\n', " "));
        let r = interpret(&outcome(ExitState::Code(0), &stdout, ""), "py", T).unwrap();
        assert!(r.ok);
    }

    #[test]
    fn nulls_and_missing_fields_are_tolerated() {
        let doc = r#"{"schema": 1, "torch": null, "checks": [{"name": "import_torch", "ok": null, "ms": null}], "devices": [{}]}"#;
        let r = interpret(&outcome(ExitState::Code(0), doc, ""), "py", T).unwrap();
        assert!(!r.ok);
        assert_eq!(r.checks[0].detail, "");
        assert_eq!(r.devices[0].name, "unknown GPU");
    }

    #[test]
    fn foreign_json_is_not_a_report() {
        let err = interpret(&outcome(ExitState::Code(0), r#"{"hello": 1}"#, ""), "/bin/echo", T).unwrap_err();
        assert!(matches!(err, SmokeError::NotStarted { .. }), "{err:?}");
    }

    #[test]
    fn garbage_without_progress_means_the_script_never_started() {
        let err = interpret(
            &outcome(ExitState::Code(1), "", "  File \"<string>\", line 40\nSyntaxError: invalid syntax\n"),
            "/usr/bin/python2",
            T,
        )
        .unwrap_err();
        let msg = err.to_string();
        assert!(msg.contains("/usr/bin/python2") && msg.contains("SyntaxError: invalid syntax"), "{msg}");
        assert!(!msg.contains('\n'), "one line: {msg}");
    }

    #[test]
    fn a_timeout_before_the_script_started_is_an_error() {
        let err = interpret(&outcome(ExitState::TimedOut, "", ""), "py", Duration::from_secs(7)).unwrap_err();
        assert!(matches!(err, SmokeError::TimedOut { secs: 7, .. }));
        assert!(matches!(interpret(&outcome(ExitState::Cancelled, GOOD, ""), "py", T), Err(SmokeError::Cancelled)));
    }

    #[test]
    fn a_crash_mid_check_keeps_the_partial_report() {
        let partial = r#"{"schema": 1, "torch": {"version": "2.5.1+cu124", "cuda": "12.4"}, "cuda_available": true,
            "checks": [{"name": "import_torch", "ok": true, "detail": "", "ms": 1.0}]}"#
            .replace('\n', " ");
        let stderr = format!(
            "{PROGRESS_PREFIX}begin import_torch\n{PROGRESS_PREFIX}partial {partial}\n{PROGRESS_PREFIX}begin cuda_build\n\
             Fatal Python error: Segmentation fault\n\nCurrent thread 0x1 (most recent call first):\n  File \"x.py\", line 3 in f\n"
        );
        let r = interpret(&outcome(ExitState::Signal, "", &stderr), "py", T).unwrap();
        assert!(!r.ok);
        assert_eq!(r.torch.version.as_deref(), Some("2.5.1+cu124"));
        let last = r.checks.last().unwrap();
        assert_eq!(last.name, "cuda_build");
        assert!(!last.ok);
        assert!(last.detail.contains("crashed") && last.detail.contains("Fatal Python error: Segmentation fault"));
        let tail = r.stderr_tail.unwrap();
        assert!(tail.contains("line 3 in f") && !tail.contains(PROGRESS_PREFIX));
    }

    #[test]
    fn a_truncated_partial_falls_back_to_an_empty_report() {
        let stderr = format!("{PROGRESS_PREFIX}begin import_torch\n{PROGRESS_PREFIX}partial {{\"schema\": 1, \"che");
        let r = interpret(&outcome(ExitState::TimedOut, "", &stderr), "py", Duration::from_secs(5)).unwrap();
        assert_eq!(r.checks.len(), 1);
        assert_eq!(r.checks[0].name, "import_torch");
        assert!(r.checks[0].detail.contains("no answer within 5 s"), "{}", r.checks[0].detail);
    }

    #[test]
    fn a_crash_between_checks_is_a_smoke_script_failure() {
        let partial = r#"{"schema": 1, "checks": [{"name": "import_torch", "ok": true, "detail": "", "ms": 1.0}]}"#;
        let stderr = format!("{PROGRESS_PREFIX}begin import_torch\n{PROGRESS_PREFIX}partial {partial}\n");
        let r = interpret(&outcome(ExitState::Code(0xC000_0005_u32 as i32), "", &stderr), "py", T).unwrap();
        let last = r.checks.last().unwrap();
        assert_eq!(last.name, check_names::SMOKE_SCRIPT);
        assert!(last.detail.contains("0xC0000005 (access violation)"), "{}", last.detail);
    }

    #[test]
    fn a_crash_after_reporting_is_a_warning() {
        let r = interpret(&outcome(ExitState::Code(3), GOOD, ""), "py", T).unwrap();
        assert!(r.ok);
        assert!(r.warnings.iter().any(|w| w.contains("after reporting") && w.contains("exit code 3")));
    }

    #[test]
    fn stderr_tail_is_bounded() {
        let long: String = (0..500).map(|i| format!("line {i} {}\n", "x".repeat(50))).collect();
        let r = interpret(&outcome(ExitState::Code(0), GOOD, &long), "py", T).unwrap();
        let tail = r.stderr_tail.unwrap();
        assert!(tail.len() <= STDERR_TAIL_BYTES + 4);
        assert!(tail.ends_with(&format!("line 499 {}", "x".repeat(50))));
    }
}
