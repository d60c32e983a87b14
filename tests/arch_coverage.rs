//! GPU-architecture coverage is decided once (`compat::arch::ArchList::coverage`). This table
//! feeds the same (GPU capability, arch list) rows through every place that used to decide
//! it on its own:
//!
//! - the planner's lists (compat.toml notation, `8.6;12.0+PTX`),
//! - the smoke report reader (the script now only reports `get_arch_list()` and the
//!   capability; `smoke::parse::interpret` judges),
//! - the diagnoses (they read the report's `arch_list`, not `sm_` tokens out of text),
//! - the fake torch's simulated hardware (`kernel_support` in tests/support/fake_torch),
//!   which must agree with the hardware rule `ArchList::run_on` the decision is built on.

mod support;

use std::time::Duration;

use serde_json::json;
use torchup::compat::arch::{ArchList, ArchMatch, Capability, Coverage};
use torchup::diagnose::{OsContext, diagnose_smoke};
use torchup::exec::{ExitState, RunOutcome};
use torchup::smoke::parse::interpret;

/// (GPU capability, torch's arch list, expected coverage).
fn table() -> Vec<(&'static str, Vec<&'static str>, Coverage)> {
    let cc = |s: &str| s.parse::<Capability>().unwrap();
    vec![
        ("8.6", vec!["sm_50", "sm_80", "sm_86", "sm_90"], Coverage::Native(cc("8.6"))),
        ("8.9", vec!["sm_80", "sm_86"], Coverage::Native(cc("8.6"))),
        ("8.6", vec!["sm_80"], Coverage::Native(cc("8.0"))),
        ("12.0", vec!["sm_80", "sm_90"], Coverage::None),
        ("12.0", vec!["sm_80", "sm_90", "compute_90"], Coverage::Jit(cc("9.0"))),
        // Legacy PTX below newer SASS (Windows cu11x "3.7+PTX"): the hardware can JIT it, but
        // it lacks every kernel newer GPUs need; the script used to call this covered.
        ("8.6", vec!["sm_37", "compute_37", "sm_50", "sm_60", "sm_70"], Coverage::LegacyPtx(cc("3.7"))),
        ("8.6", vec!["compute_89"], Coverage::None),
        ("9.0", vec!["sm_90a"], Coverage::Native(cc("9.0"))),
        ("9.1", vec!["sm_90a"], Coverage::None),
        ("10.3", vec!["sm_100f"], Coverage::Native(cc("10.0"))),
        ("7.5", vec!["sm_80", "sm_86"], Coverage::None),
        ("6.1", vec!["sm_60", "compute_60"], Coverage::Native(cc("6.0"))),
        ("13.0", vec!["sm_75", "sm_120", "compute_120"], Coverage::Jit(cc("12.0"))),
        ("6.1", vec!["sm_75", "sm_120", "compute_120"], Coverage::None),
    ]
}

/// The list in compat.toml's notation, when it can say it (no arch-specific cubins).
fn compat_notation(names: &[&str]) -> Option<String> {
    let mut out: Vec<String> = Vec::new();
    for n in names {
        if n.ends_with('a') {
            return None;
        }
        let (ptx, digits) = match (n.strip_prefix("sm_"), n.strip_prefix("compute_")) {
            (Some(d), _) => (false, d.trim_end_matches('f')),
            (_, Some(d)) => (true, d),
            _ => return None,
        };
        let cap = format!("{}.{}", &digits[..digits.len() - 1], &digits[digits.len() - 1..]);
        match out.iter_mut().find(|e| e.trim_end_matches("+PTX") == cap) {
            Some(e) if ptx => e.push_str("+PTX"),
            Some(_) => {}
            None => out.push(if ptx { format!("{cap}+PTX") } else { cap }),
        }
    }
    Some(out.join(";"))
}

#[test]
fn the_planner_lists_and_torch_lists_decide_alike() {
    for (gpu, names, want) in table() {
        let cap: Capability = gpu.parse().unwrap();
        let torch = ArchList::from_torch_names(&names).unwrap();
        assert_eq!(torch.coverage(cap), want, "{gpu} on {names:?} (torch names)");
        if let Some(compat) = compat_notation(&names) {
            let planner: ArchList = compat.parse().unwrap();
            assert_eq!(planner.coverage(cap), want, "{gpu} on {compat} (compat.toml notation)");
        }
    }
}

/// What the smoke script prints for one device and this arch list (its raw facts only).
fn script_document(gpu: &str, names: &[&str]) -> String {
    json!({
        "schema": 1,
        "torch": {"version": "2.5.1+cu124", "cuda": "12.4"},
        "cuda_available": true,
        "devices": [{"name": "NVIDIA GeForce RTX 3050 Laptop GPU", "memory_mib": 4096, "compute_capability": gpu}],
        "checks": [
            {"name": "import_torch", "ok": true, "detail": "", "ms": 1.0},
            {"name": "arch_supported", "ok": true, "detail": format!("arch list: {}", names.join(" ")), "ms": 0.1},
            {"name": "matmul", "ok": true, "detail": "", "ms": 1.0}
        ],
        "arch_list": names,
    })
    .to_string()
}

#[test]
fn the_smoke_report_and_the_diagnoses_follow_the_same_decision() {
    for (gpu, names, want) in table() {
        let outcome = RunOutcome {
            state: ExitState::Code(0),
            stdout: script_document(gpu, &names),
            stderr: String::new(),
            duration: Duration::from_millis(10),
        };
        let report = interpret(&outcome, "python", Duration::from_secs(60)).unwrap();
        let supported = want.supported();
        assert_eq!(report.devices[0].arch_supported, Some(supported), "{gpu} on {names:?}");
        assert_eq!(report.check("arch_supported").map(|c| c.ok), Some(supported), "{gpu} on {names:?}");
        assert_eq!(report.ok, supported, "CUDA works only on a covered GPU: {gpu} on {names:?}");

        let found = diagnose_smoke(&report, &OsContext::linux());
        let arch_finding = found.iter().any(|d| ["F11", "F12", "F13"].contains(&d.id.as_str()));
        assert_eq!(arch_finding, !supported, "{gpu} on {names:?}: {found:?}");
    }
}

#[test]
fn the_fake_torch_hardware_agrees_with_the_rule_the_decision_is_built_on() {
    let kit = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/support/fake_torch/torch");
    let dir = tempfile::tempdir().unwrap();
    let pkg = dir.path().join("torch");
    std::fs::create_dir(&pkg).unwrap();
    std::fs::write(pkg.join("__init__.py"), "").unwrap();
    for f in ["_C.py", "_build.py", "_machine.py"] {
        std::fs::copy(kit.join(f), pkg.join(f)).unwrap();
    }
    std::fs::write(pkg.join("_fake_build.py"), "BUILD = {'version': '2.5.1+cu124', 'cuda': '12.4', 'arch_list': []}\n")
        .unwrap();
    let rows: Vec<_> = table().into_iter().map(|(gpu, names, _)| json!([gpu, names])).collect();
    let code = "import json, sys\n\
                sys.path.insert(0, sys.argv[1])\n\
                from torch import _C, _build\n\
                out = []\n\
                for gpu, names in json.loads(sys.argv[2]):\n\
                \x20   _build.BUILD['arch_list'] = names\n\
                \x20   major, minor = (int(x) for x in gpu.split('.'))\n\
                \x20   out.append(_C.kernel_support((major, minor)))\n\
                print(json.dumps(out))";
    let out = std::process::Command::new(support::python::base_python().unwrap())
        .args(["-I", "-c", code])
        .arg(dir.path())
        .arg(serde_json::Value::Array(rows).to_string())
        .env("PYTHONDONTWRITEBYTECODE", "1")
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let got: Vec<Option<String>> = serde_json::from_slice(&out.stdout).unwrap();
    for ((gpu, names, _), fake) in table().into_iter().zip(got) {
        // The fake torch models plain sm_/compute_ entries only; arch-specific cubins are
        // not in its builds.
        if names.iter().any(|n| n.ends_with('a') || n.ends_with('f')) {
            continue;
        }
        let rule = match ArchList::from_torch_names(&names).unwrap().run_on(gpu.parse().unwrap()) {
            ArchMatch::Sass(_) => Some("sass"),
            ArchMatch::Ptx(_) => Some("ptx"),
            ArchMatch::None => None,
        };
        assert_eq!(fake.as_deref(), rule, "{gpu} on {names:?}");
    }
}
