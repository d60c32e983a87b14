//! The diagnosis rules against real messages (assets/diagnoses.toml examples, which come
//! from the failure catalogue in docs/diagnoses.md and from real pip runs), their near misses, and the
//! engine's ordering, substitution, per-OS fixes, probes and install-failure classification.

use serde_json::{Value, json};
use torchup::diagnose::{
    Diagnosis, FailureKind, OsContext, OsName, Rule, RuleKind, Rules, TextSource, analyze_install_failure,
    diagnose_facts, diagnose_smoke, diagnose_text, is_build_unavailable,
};
use torchup::facts::Facts;
use torchup::smoke::SmokeReport;

fn rules() -> &'static Rules {
    Rules::bundled()
}

fn ids(d: &[Diagnosis]) -> Vec<&str> {
    d.iter().map(|d| d.id.as_str()).collect()
}

/// The context a rule's examples are written for.
fn ctx_for(rule: &Rule) -> OsContext {
    match rule.spec.os.first() {
        Some(OsName::Wsl) => OsContext::wsl(),
        Some(OsName::Windows) => OsContext::windows(),
        Some(OsName::Macos) => OsContext::macos(),
        Some(OsName::Linux) | None => OsContext::linux(),
    }
}

/// The rule's `os` list admits this context (`linux` includes WSL).
fn allowed(rule: &Rule, ctx: &OsContext) -> bool {
    use torchup::facts::Os;
    rule.spec.os.is_empty()
        || rule.spec.os.iter().any(|o| match o {
            OsName::Windows => ctx.os == Os::Windows,
            OsName::Linux => ctx.os == Os::Linux,
            OsName::Wsl => ctx.wsl,
            OsName::Macos => ctx.os == Os::Macos,
        })
}

/// A healthy laptop: RTX 3050 Laptop, driver 560.94 (CUDA 12.6), a venv with torch 2.5.1+cu124.
fn baseline_facts() -> Value {
    json!({
        "schema": 1, "os": "linux", "arch": "x86_64", "wsl": false,
        "gpus": [{"index": 0, "name": "NVIDIA GeForce RTX 3050 Laptop GPU", "memory_mib": 4096, "compute_capability": "8.6"}],
        "driver": {"version": "560.94", "cuda": "12.6"},
        "gpu_state": {"state": "ready"},
        "python": {"executable": "/home/ana/venv/bin/python", "version": "3.11.7", "bits": 64, "env": "venv",
                   "externally_managed": false},
        "torch": {"version": "2.5.1+cu124", "cuda": "12.4", "torchvision": "0.20.1+cu124", "torchaudio": "2.5.1+cu124"}
    })
}

/// The same laptop's passing smoke test.
fn baseline_smoke() -> Value {
    json!({
        "schema": 1, "ok": true, "torch": {"version": "2.5.1+cu124", "cuda": "12.4"}, "cuda_available": true,
        "devices": [{"name": "NVIDIA GeForce RTX 3050 Laptop GPU", "memory_mib": 4096, "compute_capability": "8.6",
                     "arch_supported": true}],
        "checks": [
            {"name": "import_torch", "ok": true, "detail": "torch 2.5.1+cu124 from /venv/lib/python3.11/site-packages/torch", "ms": 900.0},
            {"name": "arch_supported", "ok": true, "detail": "GPU 0 (sm_86): covered by sm_86", "ms": 0.1},
            {"name": "matmul", "ok": true, "detail": "max abs diff 1.2e-4", "ms": 12.0}
        ],
        "diagnoses": [], "torch_importable": true, "warnings": [],
        "arch_list": ["sm_50", "sm_60", "sm_61", "sm_70", "sm_75", "sm_80", "sm_86", "sm_90"]
    })
}

/// JSON merge: objects merge key by key, anything else replaces.
fn merge(base: &mut Value, patch: &Value) {
    match (base, patch) {
        (Value::Object(b), Value::Object(p)) => {
            for (k, v) in p {
                merge(b.entry(k.clone()).or_insert(Value::Null), v);
            }
        }
        (b, p) => *b = p.clone(),
    }
}

fn facts_with(patch: &str) -> Facts {
    let mut v = baseline_facts();
    merge(&mut v, &serde_json::from_str(patch).unwrap_or_else(|e| panic!("patch {patch}: {e}")));
    serde_json::from_value(v).unwrap_or_else(|e| panic!("facts from {patch}: {e}"))
}

fn smoke_with(patch: &str) -> SmokeReport {
    let mut v = baseline_smoke();
    merge(&mut v, &serde_json::from_str(patch).unwrap_or_else(|e| panic!("patch {patch}: {e}")));
    serde_json::from_value(v).unwrap_or_else(|e| panic!("smoke from {patch}: {e}"))
}

/// Run a probe rule's example or near miss through the public entry points.
fn run_probe(rule: &Rule, patch: &str, ctx: &OsContext) -> Vec<Diagnosis> {
    let probe = rule.spec.probe.as_deref().unwrap_or_default();
    if probe.starts_with("facts.") {
        rules().diagnose_facts(&facts_with(patch), ctx)
    } else {
        rules().diagnose_smoke(&smoke_with(patch), ctx)
    }
}

// ---- every rule -------------------------------------------------------------------------

#[test]
fn every_rule_fires_on_its_examples_and_not_on_its_near_misses() {
    let mut failures = Vec::new();
    for rule in rules().rules() {
        let ctx = ctx_for(rule);
        let id = rule.spec.id.as_str();
        let examples = std::iter::once(&rule.spec.example).chain(&rule.spec.also_matches);
        let misses = std::iter::once(&rule.spec.near_miss).chain(&rule.spec.also_not);
        match rule.spec.kind {
            RuleKind::Text => {
                for ex in examples {
                    if !rule.matches_text(ex) {
                        failures.push(format!("{id}: pattern does not match its example {ex:?}"));
                    }
                    for stage in &rule.spec.stages {
                        let got = rules().diagnose_text(*stage, ex, &ctx);
                        if ids(&got).first() != Some(&id) {
                            failures.push(format!("{id} ({}): example gave {:?}", stage.as_str(), ids(&got)));
                        }
                    }
                }
                for miss in misses {
                    if rule.matches_text(miss) {
                        failures.push(format!("{id}: near miss matches: {miss:?}"));
                    }
                }
            }
            RuleKind::Probe => {
                for ex in examples {
                    let got = run_probe(rule, ex, &ctx);
                    if ids(&got).first() != Some(&id) {
                        failures.push(format!("{id} ({:?}): example {ex} gave {:?}", rule.spec.probe, ids(&got)));
                    }
                }
                for miss in misses {
                    let got = run_probe(rule, miss, &ctx);
                    if ids(&got).contains(&id) {
                        failures.push(format!("{id} ({:?}): near miss {miss} fired", rule.spec.probe));
                    }
                }
            }
        }
    }
    assert!(failures.is_empty(), "{} problems:\n{}", failures.len(), failures.join("\n"));
}

#[test]
fn every_rule_has_example_near_miss_and_a_fix_for_every_system() {
    let systems = [OsContext::windows(), OsContext::linux(), OsContext::wsl(), OsContext::macos()];
    for rule in rules().rules() {
        let id = &rule.spec.id;
        assert!(!rule.spec.example.trim().is_empty(), "{id}: example");
        assert!(!rule.spec.near_miss.trim().is_empty(), "{id}: near_miss");
        assert_ne!(rule.spec.example, rule.spec.near_miss, "{id}");
        for ctx in &systems {
            assert!(rule.spec.fix.for_context(ctx).is_some_and(|f| !f.trim().is_empty()), "{id}: no fix for {ctx:?}");
        }
    }
    // Rendered texts have no unfilled placeholders or brackets, on every system.
    let unfilled = regex::Regex::new(r"\{[A-Za-z0-9_]+(\|[a-z_]+)?\}").unwrap();
    for rule in rules().rules() {
        for ctx in systems.iter().filter(|c| allowed(rule, c)) {
            let rendered = match rule.spec.kind {
                RuleKind::Text => {
                    rule.spec.stages.iter().flat_map(|s| rules().diagnose_text(*s, &rule.spec.example, ctx)).collect()
                }
                RuleKind::Probe => run_probe(rule, &rule.spec.example, ctx),
            };
            assert!(!rendered.is_empty(), "{}: example did not fire on {ctx:?}", rule.spec.id);
            for d in rendered {
                for text in [&d.title, &d.explanation, &d.fix] {
                    assert!(!text.is_empty(), "{}: empty text", d.id);
                    assert!(!text.contains("[[") && !text.contains("]]"), "{}: {text}", d.id);
                    assert!(!unfilled.is_match(text), "{}: unfilled placeholder in {text}", d.id);
                }
            }
        }
    }
}

#[test]
fn the_catalog_is_covered() {
    // Every catalog row with a message signature or a probe condition (F27 has neither).
    let mut want: Vec<String> = (1..=44).filter(|n| *n != 27).map(|n| format!("F{n:02}")).collect();
    want.extend(["U01", "U02", "U03", "X01"].map(String::from));
    let have: std::collections::BTreeSet<&str> = rules().rules().iter().map(|r| r.spec.id.as_str()).collect();
    let missing: Vec<_> = want.iter().filter(|id| !have.contains(id.as_str())).collect();
    assert!(missing.is_empty(), "missing rules: {missing:?}");
    assert!(rules().rules().len() >= 40);
}

#[test]
fn baselines_are_healthy() {
    let f: Facts = serde_json::from_value(baseline_facts()).unwrap();
    assert_eq!(diagnose_facts(&f, &OsContext::linux()), vec![]);
    let s: SmokeReport = serde_json::from_value(baseline_smoke()).unwrap();
    assert_eq!(diagnose_smoke(&s, &OsContext::linux()), vec![]);
}

// ---- specific before generic ----------------------------------------------------------

const C10: &str = r#"OSError: [WinError 126] The specified module could not be found. Error loading "C:\Users\me\venv\Lib\site-packages\torch\lib\c10.dll" or one of its dependencies."#;
const FBGEMM: &str = r#"OSError: [WinError 126] The specified module could not be found. Error loading "C:\Users\me\venv\Lib\site-packages\torch\lib\fbgemm.dll" or one of its dependencies."#;
const SHM: &str = r#"OSError: [WinError 126] Das angegebene Modul wurde nicht gefunden. Error loading "C:\Users\Anna\AppData\Roaming\Python\Python312\site-packages\torch\lib\shm.dll" or one of its dependencies."#;

#[test]
fn specific_dll_rules_win_over_the_generic_one() {
    let w = OsContext::windows();
    assert_eq!(ids(&diagnose_text(TextSource::Verify, C10, &w)), ["F14"]);
    assert_eq!(ids(&diagnose_text(TextSource::Verify, FBGEMM, &w)), ["F15"]);
    assert_eq!(ids(&diagnose_text(TextSource::Verify, SHM, &w)), ["F16"]);
    // torch prints the VC++ hint next to the fbgemm error: still F15 alone.
    let both = format!(
        "Microsoft Visual C++ Redistributable is not installed, this may lead to the DLL load failure.\n{FBGEMM}"
    );
    assert_eq!(ids(&diagnose_text(TextSource::Verify, &both, &w)), ["F15"]);
}

#[test]
fn placeholder_versions_win_over_no_matching_distribution() {
    let text = "ERROR: Could not find a version that satisfies the requirement torch (from versions: 0.1.2, 0.1.2.post1, 0.1.2.post2)\nERROR: No matching distribution found for torch";
    let got = diagnose_text(TextSource::Install, text, &OsContext::windows());
    assert_eq!(ids(&got), ["F20"]);
    assert!(got[0].fix.contains("64-bit"), "{}", got[0].fix);
    // 32-bit Python: the fallback build would not exist either.
    assert_eq!(analyze_install_failure(TextSource::Install, text, &OsContext::windows()).kind, FailureKind::Other);
}

#[test]
fn arch_warnings_win_over_no_kernel_image() {
    let newer = "UserWarning: \nNVIDIA GeForce RTX 5070 Laptop GPU with CUDA capability sm_120 is not compatible with the current PyTorch installation.\nThe current PyTorch install supports CUDA capabilities sm_50 sm_60 sm_61 sm_70 sm_75 sm_80 sm_86 sm_90.\nRuntimeError: CUDA error: no kernel image is available for execution on the device";
    assert_eq!(ids(&diagnose_text(TextSource::Verify, newer, &OsContext::windows())), ["F11"]);
    let older = "Found GPU0 NVIDIA GeForce GTX 1080 Ti which is of cuda capability 6.1.\nRuntimeError: CUDA error: no kernel image is available for execution on the device";
    assert_eq!(ids(&diagnose_text(TextSource::Verify, older, &OsContext::linux())), ["F12"]);
    let bare = "RuntimeError: CUDA error: no kernel image is available for execution on the device";
    assert_eq!(ids(&diagnose_text(TextSource::Verify, bare, &OsContext::linux())), ["F13"]);
}

#[test]
fn not_compiled_with_cuda_wins_over_the_cpu_build_probe() {
    let s = smoke_with(
        r#"{"ok": false, "torch": {"version": "2.5.1+cpu", "cuda": null}, "cuda_available": false, "devices": [],
            "checks": [{"name": "matmul", "ok": false, "detail": "AssertionError: Torch not compiled with CUDA enabled", "ms": 1.0}]}"#,
    );
    assert_eq!(ids(&diagnose_smoke(&s, &OsContext::windows())), ["F02"]);
}

#[test]
fn torch_driver_message_wins_over_the_runtime_one() {
    let text = "The NVIDIA driver on your system is too old (found version 11040).\nCUDA driver version is insufficient for CUDA runtime version";
    assert_eq!(ids(&diagnose_text(TextSource::Verify, text, &OsContext::linux())), ["F09"]);
}

#[test]
fn proxy_errors_win_over_network_and_not_found() {
    let text = "WARNING: Retrying (Retry(total=0, connect=None, read=None, redirect=None, status=None)) after connection broken by 'ProxyError('Cannot connect to proxy.', NewConnectionError('<pip._vendor.urllib3.connection.HTTPSConnection object at 0x7f5a369cb610>: Failed to establish a new connection: [Errno 111] Connection refused'))': /whl/cu124/torch/\nERROR: Could not find a version that satisfies the requirement torch (from versions: none)\nERROR: No matching distribution found for torch";
    assert_eq!(ids(&diagnose_text(TextSource::Install, text, &OsContext::linux())), ["F33"]);
}

#[test]
fn one_finding_per_id() {
    let twice = format!(
        "{C10}\n{C10}\nMicrosoft Visual C++ Redistributable is not installed, this may lead to the DLL load failure."
    );
    assert_eq!(ids(&diagnose_text(TextSource::Verify, &twice, &OsContext::windows())), ["F14"]);
}

// ---- substitution and per-OS fixes ------------------------------------------------------

#[test]
fn driver_level_is_decoded() {
    let d = diagnose_text(
        TextSource::Verify,
        "UserWarning: CUDA initialization: The NVIDIA driver on your system is too old (found version 12020).",
        &OsContext::linux(),
    );
    assert_eq!(ids(&d), ["F09"]);
    assert!(d[0].explanation.contains("CUDA up to 12.2 (it reports 12020)"), "{}", d[0].explanation);
    assert!(d[0].fix.contains("a build for CUDA 12.x"), "{}", d[0].fix);
    let d = diagnose_text(TextSource::Verify, "too old (found version 11040)", &OsContext::linux());
    assert!(d.is_empty(), "only torch's full sentence counts: {d:?}");
    let d = diagnose_text(
        TextSource::Verify,
        "The NVIDIA driver on your system is too old (found version 11040).",
        &OsContext::windows(),
    );
    assert!(d[0].explanation.contains("CUDA up to 11.4"), "{}", d[0].explanation);
}

#[test]
fn captures_fill_explanations_and_fixes() {
    let l = OsContext::linux();
    let f11 = diagnose_text(TextSource::Verify, &rule_example("F11"), &l);
    assert!(
        f11[0].explanation.starts_with("NVIDIA GeForce RTX 5090 D is sm_120 (compute capability 12.0)"),
        "{}",
        f11[0].explanation
    );
    assert!(f11[0].explanation.contains("sm_50 sm_60 sm_61 sm_70 sm_75 sm_80 sm_86 sm_90"));

    let f12 = diagnose_text(TextSource::Verify, &rule_example("F12"), &l);
    assert!(
        f12[0].explanation.contains("NVIDIA GeForce MX350 has compute capability 6.1; this build supports 7.0 to 12.0"),
        "{}",
        f12[0].explanation
    );
    assert!(f12[0].fix.starts_with("torch recommends CUDA 12.6: `torchup install --variant cu126`"), "{}", f12[0].fix);

    let f30 = diagnose_text(TextSource::Install, &rule_example("F30"), &l);
    assert!(f30[0].explanation.starts_with("torch==2.5.1+cu124: the file pip got"), "{}", f30[0].explanation);

    let u01 = diagnose_text(TextSource::Uninstall, &rule_example("U01"), &OsContext::windows());
    assert!(
        u01[0].fix.contains(r#"Remove-Item -Recurse -Force "C:\Users\me\venv\Lib\site-packages\~orch*""#),
        "{}",
        u01[0].fix
    );
    assert!(u01[0].explanation.contains("(WinError 5)"), "{}", u01[0].explanation);

    let f24 = diagnose_text(TextSource::Verify, &rule_example("F24"), &l);
    assert!(f24[0].explanation.contains("(torch: CUDA 12.1, torchvision: CUDA 11.8)."), "{}", f24[0].explanation);

    let oom = diagnose_text(TextSource::Training, &rule_example("F26"), &l);
    assert!(
        oom[0].explanation.contains("allocate 20.00 MiB on a GPU with 4.00 GiB in total, of which 0 bytes was free"),
        "{}",
        oom[0].explanation
    );
}

#[test]
fn fixes_are_chosen_per_system() {
    let w = diagnose_text(TextSource::Verify, C10, &OsContext::windows());
    assert!(
        w[0].fix.starts_with("Install the Visual C++ runtime: `winget install --id Microsoft.VCRedist.2015+.x64 -e`"),
        "{}",
        w[0].fix
    );

    let disk = "ERROR: Could not install packages due to an OSError: [Errno 28] No space left on device";
    let win = diagnose_text(TextSource::Install, disk, &OsContext::windows());
    let lin = diagnose_text(TextSource::Install, disk, &OsContext::linux());
    assert!(win[0].fix.contains(r#"$env:TEMP = "D:\tmp""#), "{}", win[0].fix);
    assert!(lin[0].fix.contains("export TMPDIR=~/piptmp"), "{}", lin[0].fix);
    assert_ne!(win[0].fix, lin[0].fix);

    let smi = "NVIDIA-SMI has failed because it couldn't communicate with the NVIDIA driver.";
    let wsl = diagnose_text(TextSource::Detect, smi, &OsContext::wsl());
    let lin = diagnose_text(TextSource::Detect, smi, &OsContext::linux());
    let mac = diagnose_text(TextSource::Detect, smi, &OsContext::macos());
    assert!(wsl[0].fix.contains("wsl --shutdown"), "{}", wsl[0].fix);
    assert!(lin[0].fix.contains("prime-select on-demand"), "{}", lin[0].fix);
    assert!(mac[0].fix.starts_with("Turn the NVIDIA GPU on"), "{}", mac[0].fix);

    // WSL without its own text falls back to the Linux one.
    let pep = diagnose_text(TextSource::Install, "error: externally-managed-environment", &OsContext::wsl());
    assert!(pep[0].fix.contains("python3 -m venv ~/.venvs/torch"), "{}", pep[0].fix);
}

#[test]
fn fixes_name_the_target_interpreter() {
    let ctx = OsContext::windows().with_python(r"C:\Users\Ana Lopez\proj\.venv\Scripts\python.exe");
    let d = diagnose_text(TextSource::Install, &rule_example("F32"), &ctx);
    assert!(
        d[0].fix.contains(
            r#"Clear pip's cache: `& "C:\Users\Ana Lopez\proj\.venv\Scripts\python.exe" -m pip cache purge`"#
        ),
        "{}",
        d[0].fix
    );
    let d =
        diagnose_text(TextSource::Install, &rule_example("F32"), &OsContext::linux().with_python("/srv/v/bin/python"));
    assert!(d[0].fix.contains("`/srv/v/bin/python -m pip cache purge`"), "{}", d[0].fix);
}

#[test]
fn wsl_rules_apply_only_in_wsl() {
    let text = "OSError: libcuda.so: cannot open shared object file: No such file or directory";
    assert_eq!(ids(&diagnose_text(TextSource::Verify, text, &OsContext::wsl())), ["F34"]);
    assert!(diagnose_text(TextSource::Verify, text, &OsContext::linux()).is_empty());
    let nodriver = rule_example("F08");
    assert_eq!(ids(&diagnose_text(TextSource::Verify, &nodriver, &OsContext::wsl())), ["F34"]);
    assert_eq!(ids(&diagnose_text(TextSource::Verify, &nodriver, &OsContext::linux())), ["F08"]);
}

fn rule_example(id: &str) -> String {
    rules()
        .rules()
        .iter()
        .find(|r| r.spec.id == id && r.spec.kind == RuleKind::Text)
        .map(|r| r.spec.example.clone())
        .unwrap_or_else(|| panic!("no text rule {id}"))
}

// ---- smoke results ----------------------------------------------------------------------

#[test]
fn smoke_cpu_build() {
    let s = smoke_with(
        r#"{"ok": false, "torch": {"version": "2.5.1+cpu", "cuda": null}, "cuda_available": false, "devices": []}"#,
    );
    let d = diagnose_smoke(&s, &OsContext::windows());
    assert_eq!(ids(&d), ["F01"]);
    assert!(d[0].explanation.contains("torch 2.5.1+cpu imports"), "{}", d[0].explanation);
    assert!(d[0].fix.contains("torchup install"));
}

#[test]
fn smoke_import_error_winerror_126() {
    let patch = json!({
        "ok": false, "torch_importable": false, "torch": {"version": null, "cuda": null}, "cuda_available": false,
        "devices": [], "checks": [{"name": "import_torch", "ok": false, "detail": "OSError", "ms": 40.0}],
        "import_error": format!("Traceback (most recent call last):\n  File \"<string>\", line 1, in <module>\n{C10}"),
    });
    let d = diagnose_smoke(&smoke_with(&patch.to_string()), &OsContext::windows());
    assert_eq!(ids(&d), ["F14"]);
    assert!(d[0].explanation.contains("load c10.dll from torch\\lib (WinError 126)"), "{}", d[0].explanation);
    assert!(d[0].fix.contains("winget install --id Microsoft.VCRedist.2015+.x64 -e"));
}

#[test]
fn smoke_torch_absent_is_not_a_diagnosis() {
    let s = smoke_with(
        r#"{"ok": false, "torch_importable": false, "torch": {"version": null, "cuda": null}, "cuda_available": false,
            "devices": [], "checks": [{"name": "import_torch", "ok": false, "detail": "torch is not installed in this interpreter (ModuleNotFoundError: No module named 'torch')", "ms": 30.0}],
            "import_error": "ModuleNotFoundError: No module named 'torch'"}"#,
    );
    assert_eq!(diagnose_smoke(&s, &OsContext::linux()), vec![]);
}

#[test]
fn smoke_arch_missing_newer_and_older() {
    let ctx = OsContext::linux();
    let generic = smoke_with(
        r#"{"ok": false, "devices": [{"name": "NVIDIA GeForce RTX 3050 Laptop GPU", "memory_mib": 4096, "compute_capability": "8.6", "arch_supported": false}], "checks": []}"#,
    );
    let d = diagnose_smoke(&generic, &ctx);
    assert_eq!(ids(&d), ["F13"]);
    assert!(
        d[0].explanation.starts_with("NVIDIA GeForce RTX 3050 Laptop GPU is sm_86 (compute capability 8.6)"),
        "{}",
        d[0].explanation
    );

    let newer = smoke_with(
        r#"{"ok": false, "devices": [{"name": "NVIDIA GeForce RTX 5070 Laptop GPU", "memory_mib": 8151, "compute_capability": "12.0", "arch_supported": false}],
        "checks": [{"name": "arch_supported", "ok": false, "detail": "GPU 0 (sm_120) is NOT in this build's arch list", "ms": 0.1}],
        "arch_list": ["sm_50", "sm_60", "sm_70", "sm_75", "sm_80", "sm_86", "sm_90"]}"#,
    );
    let d = diagnose_smoke(&newer, &ctx);
    assert_eq!(ids(&d), ["F11"]);
    assert!(d[0].explanation.contains("(sm_50 sm_60 sm_70 sm_75 sm_80 sm_86 sm_90)"), "{}", d[0].explanation);

    let older = smoke_with(
        r#"{"ok": false, "devices": [{"name": "NVIDIA GeForce GTX 1080 Ti", "memory_mib": 11264, "compute_capability": "6.1", "arch_supported": false}],
        "checks": [{"name": "arch_supported", "ok": false, "detail": "GPU 0 (sm_61) is NOT in this build's arch list", "ms": 0.1}],
        "arch_list": ["sm_70", "sm_75", "sm_80", "sm_86", "sm_90", "sm_100", "sm_120", "compute_120"]}"#,
    );
    assert_eq!(ids(&diagnose_smoke(&older, &ctx)), ["F12"]);

    // torch's own warning is the better source: it wins, and there is one finding.
    let warned = smoke_with(
        r#"{"ok": false, "devices": [{"name": "NVIDIA GeForce RTX 5070 Laptop GPU", "memory_mib": 8151, "compute_capability": "12.0", "arch_supported": false}],
        "warnings": ["NVIDIA GeForce RTX 5070 Laptop GPU with CUDA capability sm_120 is not compatible with the current PyTorch installation.\nThe current PyTorch install supports CUDA capabilities sm_50 sm_60 sm_61 sm_70 sm_75 sm_80 sm_86 sm_90."]}"#,
    );
    let d = diagnose_smoke(&warned, &ctx);
    assert_eq!(ids(&d), ["F11"]);
    assert!(
        d[0].explanation.contains("but this build has kernels only for older architectures (sm_50 sm_60"),
        "{}",
        d[0].explanation
    );
}

#[test]
fn smoke_cuda_unavailable_reasons() {
    let unexplained = smoke_with(r#"{"ok": false, "cuda_available": false, "devices": [], "checks": []}"#);
    assert_eq!(ids(&diagnose_smoke(&unexplained, &OsContext::linux())), ["F08"]);
    assert_eq!(ids(&diagnose_smoke(&unexplained, &OsContext::wsl())), ["F34"]);

    let explained = smoke_with(
        r#"{"ok": false, "cuda_available": false, "devices": [], "checks": [],
            "warnings": ["UserWarning: CUDA initialization: The NVIDIA driver on your system is too old (found version 11040). Please update your GPU driver"]}"#,
    );
    let d = diagnose_smoke(&explained, &OsContext::linux());
    assert_eq!(ids(&d), ["F09"], "the fallback F08 gives way to the real reason");
    assert!(d[0].explanation.contains("11.4"));
}

// ---- facts ------------------------------------------------------------------------------

#[test]
fn facts_driver_too_old_for_the_build() {
    let f = facts_with(r#"{"driver": {"version": "470.86", "cuda": "11.4"}}"#);
    let d = diagnose_facts(&f, &OsContext::windows());
    assert_eq!(ids(&d), ["F09"]);
    assert_eq!(
        d[0].explanation,
        "Driver 470.86 supports CUDA up to 11.4, but torch 2.5.1+cu124 is built for CUDA 12.4: a CUDA 12.x build needs a CUDA 12.x driver."
    );
    // The floors are compat.toml's (Windows 12.x: 528.33), never a second copy.
    assert!(d[0].fix.contains("≥ 528.33 runs cu12x builds, ≥ 580 runs cu13x"), "{}", d[0].fix);

    // No CUDA level reported: derived from the driver floors.
    let f = facts_with(r#"{"driver": {"version": "470.86", "cuda": null}}"#);
    let d = diagnose_facts(&f, &OsContext::linux());
    assert!(d[0].explanation.contains("supports CUDA up to 11.x"), "{}", d[0].explanation);
    let f = facts_with(r#"{"driver": {"version": "390.157", "cuda": null}}"#);
    assert!(diagnose_facts(&f, &OsContext::linux())[0].explanation.contains("CUDA up to below 11.0"));

    // Minor-version compatibility: a 12.1 driver runs a 12.4 build; a 12.x driver does not run cu130.
    assert!(
        diagnose_facts(&facts_with(r#"{"driver": {"version": "531.14", "cuda": "12.1"}}"#), &OsContext::windows())
            .is_empty()
    );
    let cu130 = facts_with(
        r#"{"torch": {"version": "2.9.1+cu130", "cuda": "13.0", "torchvision": "0.24.1+cu130", "torchaudio": "2.9.1+cu130"}}"#,
    );
    assert_eq!(ids(&diagnose_facts(&cu130, &OsContext::linux())), ["F09"]);
}

#[test]
fn facts_cpu_build_only_matters_with_a_gpu() {
    let cpu =
        r#"{"torch": {"version": "2.5.1+cpu", "cuda": null, "torchvision": "0.20.1+cpu", "torchaudio": "2.5.1+cpu"}}"#;
    let d = diagnose_facts(&facts_with(cpu), &OsContext::windows());
    assert_eq!(ids(&d), ["F01"]);
    assert!(d[0].explanation.starts_with("torch 2.5.1+cpu is installed with `torch.version.cuda = None`"));
    let mut no_gpu = facts_with(cpu);
    no_gpu.gpus.clear();
    no_gpu.driver = None;
    no_gpu.gpu_state = torchup::facts::GpuState::NoGpu;
    assert!(diagnose_facts(&no_gpu, &OsContext::windows()).is_empty());
}

#[test]
fn facts_environment_problems() {
    let l = OsContext::linux();
    let pep =
        facts_with(r#"{"python": {"executable": "/usr/bin/python3", "env": "system", "externally_managed": true}}"#);
    let d = diagnose_facts(&pep, &l);
    assert_eq!(ids(&d), ["F21"]);
    assert!(d[0].explanation.starts_with("/usr/bin/python3 carries an EXTERNALLY-MANAGED marker"));

    let cvd = diagnose_facts(&facts_with(r#"{"python": {"cuda_visible_devices": "-1"}}"#), &l);
    assert_eq!(ids(&cvd), ["F35"]);
    assert!(cvd[0].explanation.contains("\"-1\" (a negative index hides every GPU)"), "{}", cvd[0].explanation);
    let cvd = diagnose_facts(&facts_with(r#"{"python": {"cuda_visible_devices": "2"}}"#), &l);
    assert!(cvd[0].explanation.contains("there is no GPU 2: this machine has 1"), "{}", cvd[0].explanation);
    let uuid = facts_with(r#"{"python": {"cuda_visible_devices": "GPU-5f2c1a9e-8d3b-4c7e-a1f0-2b9d8e7c6a51"}}"#);
    assert!(diagnose_facts(&uuid, &l).is_empty());

    let idx = facts_with(
        r#"{"python": {"pip_index_overrides": ["global.extra-index-url='https://download.pytorch.org/whl/cpu'"]}}"#,
    );
    let d = diagnose_facts(&idx, &OsContext::windows());
    assert_eq!(ids(&d), ["F05"]);
    assert!(d[0].fix.contains(r#"[Environment]::SetEnvironmentVariable("PIP_EXTRA_INDEX_URL", $null, "User")"#));

    let shadow = facts_with(
        r#"{"python": {"user_site_shadowing": ["torch 2.1.0 in /home/ana/.local/lib/python3.11/site-packages"]}}"#,
    );
    assert_eq!(ids(&diagnose_facts(&shadow, &l)), ["F06"]);
    assert_eq!(ids(&diagnose_facts(&facts_with(r#"{"python": {"bits": 32}}"#), &OsContext::windows())), ["F20"]);
}

#[test]
fn facts_gpu_states_and_texts() {
    let l = OsContext::linux();
    // The state and its detail text both say F38: one finding.
    let f = facts_with(
        r#"{"gpus": [], "driver": null, "gpu_state": {"state": "version-mismatch", "detail": "Failed to initialize NVML: Driver/library version mismatch"}}"#,
    );
    let d = diagnose_facts(&f, &l);
    assert_eq!(ids(&d), ["F38"]);
    assert!(d[0].fix.contains("sudo reboot"));

    let mut store = facts_with("{}");
    store.python = None;
    store.python_candidates = vec![torchup::facts::PythonCandidate {
        path: r"C:\Users\ana\AppData\Local\Microsoft\WindowsApps\python.exe".into(),
        found_by: "PATH".into(),
        version: None,
        chosen: false,
        problem: Some("Python was not found; run without arguments to install from the Microsoft Store, or disable this shortcut from Settings > Manage App Execution Aliases.".into()),
    }];
    let d = diagnose_facts(&store, &OsContext::windows());
    assert_eq!(ids(&d), ["F42"]);

    let mut note = facts_with("{}");
    note.notes
        .push("nvidia-smi --query-gpu=compute_cap failed: Field \"compute_cap\" is not a valid field to query.".into());
    assert_eq!(ids(&diagnose_facts(&note, &l)), ["F43"]);
}

#[test]
fn facts_companions_must_match_torch() {
    let d = diagnose_facts(&facts_with(r#"{"torch": {"torchvision": "0.20.1+cpu"}}"#), &OsContext::linux());
    assert_eq!(ids(&d), ["U02"]);
    assert_eq!(d[0].title, "torchvision does not match the installed torch");
    assert!(d[0].explanation.contains("torchvision is 0.20.1+cpu; it should be 0.20.x+cu124"), "{}", d[0].explanation);
    let audio = facts_with(r#"{"torch": {"torchaudio": "2.4.1+cu124"}}"#);
    assert!(
        diagnose_facts(&audio, &OsContext::linux())[0]
            .explanation
            .contains("torchaudio is 2.4.1+cu124; it should be 2.5.x+cu124")
    );
}

#[test]
fn doctor_merges_facts_and_smoke_once_per_id() {
    let f = facts_with(r#"{"torch": {"version": "2.5.1+cpu", "cuda": null, "torchvision": null, "torchaudio": null}}"#);
    let s = smoke_with(
        r#"{"ok": false, "torch": {"version": "2.5.1+cpu", "cuda": null}, "cuda_available": false, "devices": []}"#,
    );
    let d = rules().diagnose_all(Some(&f), Some(&s), &OsContext::linux());
    assert_eq!(ids(&d), ["F01"]);
}

// ---- install output ---------------------------------------------------------------------

#[test]
fn requirement_already_satisfied_keeping_the_cpu_build() {
    let text = "Looking in indexes: https://download.pytorch.org/whl/cu124\nRequirement already satisfied: torch in ./v/lib/python3.11/site-packages (2.5.1+cpu)";
    let d = diagnose_text(TextSource::Install, text, &OsContext::linux());
    assert_eq!(ids(&d), ["F03"]);
    assert!(d[0].explanation.contains("the installed torch 2.5.1+cpu"), "{}", d[0].explanation);
    // Putting the CPU build back on purpose is not a problem.
    assert!(diagnose_text(TextSource::Rollback, text, &OsContext::linux()).is_empty());
}

#[test]
fn requirements_replacing_the_cuda_build() {
    let d = diagnose_text(TextSource::Requirements, &rule_example("F07"), &OsContext::linux());
    assert_eq!(ids(&d), ["F07"]);
    assert!(d[0].explanation.contains("uninstalled torch 2.1.0+cu118 and put torch 2.1.2"), "{}", d[0].explanation);
}

#[test]
fn install_failures_are_classified() {
    let l = OsContext::linux();
    // Real pip 23.2 output against a local index that lacks the build.
    let missing = "Looking in indexes: http://127.0.0.1:18777/cu124\nERROR: Could not find a version that satisfies the requirement torch==2.5.1+cu124 (from versions: none)\nERROR: No matching distribution found for torch==2.5.1+cu124";
    let a = analyze_install_failure(TextSource::Install, missing, &l);
    assert_eq!(a.kind, FailureKind::BuildUnavailable);
    assert_eq!(ids(&a.diagnoses), ["F19"]);
    assert!(
        a.diagnoses[0].explanation.starts_with(
            "The index has no torch==2.5.1+cu124 wheel for this Python version and platform (versions it offers: none)."
        ),
        "{}",
        a.diagnoses[0].explanation
    );
    assert!(is_build_unavailable(missing));
    assert!(is_build_unavailable("ERROR: No matching distribution found for torchvision==0.20.1+cu124"));

    // The same "not found", caused by the network: roll back, do not try another build.
    let refused = format!(
        "WARNING: Retrying (Retry(total=0, connect=None, read=None, redirect=None, status=None)) after connection broken by 'NewConnectionError('<pip._vendor.urllib3.connection.HTTPConnection object at 0x7f35442bbb90>: Failed to establish a new connection: [Errno 111] Connection refused')': /cu124/torch/\n{missing}"
    );
    let a = analyze_install_failure(TextSource::Install, &refused, &l);
    assert_eq!((a.kind, ids(&a.diagnoses)), (FailureKind::Other, vec!["F31"]));
    assert!(!is_build_unavailable(&refused));

    let cases: [(&str, &str); 7] = [
        ("F21", "error: externally-managed-environment\n\n× This environment is externally managed"),
        ("F32", "ERROR: Could not install packages due to an OSError: [Errno 28] No space left on device"),
        (
            "F33",
            "Could not fetch URL https://download.pytorch.org/whl/cu124/torch/: There was a problem confirming the ssl certificate: HTTPSConnectionPool(host='download.pytorch.org', port=443): Max retries exceeded with url: /whl/cu124/torch/ (Caused by SSLError(SSLCertVerificationError(1, '[SSL: CERTIFICATE_VERIFY_FAILED] certificate verify failed: unable to get local issuer certificate (_ssl.c:1006)'))) - skipping\nERROR: No matching distribution found for torch==2.5.1+cu124",
        ),
        (
            "F33",
            "WARNING: Retrying (Retry(total=0, connect=None, read=None, redirect=None, status=None)) after connection broken by 'ProxyError('Cannot connect to proxy.', OSError('Tunnel connection failed: 407 Proxy Authentication Required'))': /whl/cu124/torch/\nERROR: No matching distribution found for torch",
        ),
        ("F30", &rule_example("F30")),
        (
            "F31",
            "pip._vendor.urllib3.exceptions.ReadTimeoutError: HTTPSConnectionPool(host='download.pytorch.org', port=443): Read timed out.",
        ),
        ("U01", &rule_example("U01")),
    ];
    for (id, text) in cases {
        let a = analyze_install_failure(TextSource::Install, text, &l);
        assert_eq!(ids(&a.diagnoses), [id], "{text}");
        assert_eq!(a.kind, FailureKind::Other, "{id}");
        assert!(!is_build_unavailable(text), "{id}");
    }

    let tls = analyze_install_failure(TextSource::Install, cases[2].1, &l);
    assert!(
        tls.diagnoses[0].explanation.contains("(unable to get local issuer certificate)"),
        "{}",
        tls.diagnoses[0].explanation
    );
    let proxy = analyze_install_failure(TextSource::Install, cases[3].1, &l);
    assert!(
        proxy.diagnoses[0].explanation.contains("the proxy answered 407 Proxy Authentication Required"),
        "{}",
        proxy.diagnoses[0].explanation
    );

    // A failure nobody recognises is "other", with no diagnosis.
    let a = analyze_install_failure(TextSource::Install, "ERROR: No matching distribution found for numpy==3.0.0", &l);
    assert_eq!((a.kind, a.diagnoses.len()), (FailureKind::Other, 0));
}

#[test]
fn a_pasted_log_is_read_with_every_rule() {
    let log = format!(
        "{C10}\n...\ntorch.OutOfMemoryError: CUDA out of memory. Tried to allocate 20.00 MiB. GPU 0 has a total capacity of 4.00 GiB of which 0 bytes is free."
    );
    assert_eq!(ids(&rules().diagnose_log(&log, &OsContext::windows())), ["F14", "F26"]);
}

#[test]
fn large_outputs_are_cheap() {
    // A pip run with raw progress output: tens of thousands of lines.
    let mut text = String::from("Collecting torch==2.5.1+cu124\n");
    for i in 0..50_000u64 {
        text.push_str(&format!("Progress {} of 2449300000\n", i * 48_986));
    }
    text.push_str("ERROR: Could not install packages due to an OSError: [Errno 28] No space left on device\n");
    let start = std::time::Instant::now();
    let d = diagnose_text(TextSource::Install, &text, &OsContext::linux());
    let elapsed = start.elapsed();
    assert_eq!(ids(&d), ["F32"]);
    eprintln!("diagnosed {} KiB in {elapsed:?}", text.len() / 1024);
    assert!(elapsed < std::time::Duration::from_secs(5), "{elapsed:?}");
}

// ---- real-wheel failures (issue 12): messages recorded from real torch wheels ----------------

fn real_fixture(name: &str) -> String {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/real_torch").join(name);
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

fn requires(name: &str) -> Vec<String> {
    real_fixture(name).lines().filter(|l| !l.trim().is_empty()).map(str::to_string).collect()
}

/// The smoke report of a torch that is installed but failed to import with this traceback.
fn broken_import(traceback: &str, installed: &str, reqs: Vec<String>) -> SmokeReport {
    let last = traceback.lines().rev().find(|l| !l.trim().is_empty()).unwrap_or_default().to_string();
    smoke_with(
        &json!({
            "ok": false, "torch_importable": false, "torch": {"version": null, "cuda": null},
            "cuda_available": false, "devices": [], "cudnn": null, "arch_list": [], "gpu_gflops": null, "cpu_gflops": null,
            "warnings": [], "checks": [{"name": "import_torch", "ok": false, "detail": last, "ms": 900.0}],
            "import_error": traceback, "torch_installed": installed, "torch_requires": reqs,
        })
        .to_string(),
    )
}

#[test]
fn missing_cuda_libraries_of_real_linux_wheels_name_the_wheel_that_ships_them() {
    let ctx = OsContext::linux().with_python("/home/me/venv/bin/python");
    let r251 = || requires("requires-torch251.txt");
    let r2130 = || requires("requires-torch2130.txt");
    let cases = [
        ("linux-torch251-no-cudnn.txt", "2.5.1+cu124", r251(), "libcudnn.so.9", "nvidia-cudnn-cu12==9.1.0.70"),
        (
            "linux-torch251-no-nvjitlink.txt",
            "2.5.1+cu124",
            r251(),
            "libnvJitLink.so.12",
            "nvidia-nvjitlink-cu12==12.4.127",
        ),
        (
            "linux-torch251-no-cuda_runtime.txt",
            "2.5.1+cu124",
            r251(),
            "libcudart.so.*[0-9]",
            "nvidia-cuda-runtime-cu12==12.4.127",
        ),
        (
            "linux-torch251-no-cublas_cudart.txt",
            "2.5.1+cu124",
            r251(),
            "libcublas.so.*[0-9]",
            "nvidia-cublas-cu12==12.4.5.8",
        ),
        ("linux-torch251-no-all.txt", "2.5.1+cu124", r251(), "libcublas.so.*[0-9]", "nvidia-cublas-cu12==12.4.5.8"),
        (
            "linux-torch2130-no-cusparselt.txt",
            "2.13.0+cu130",
            r2130(),
            "libcusparseLt.so.0",
            "nvidia-cusparselt-cu13==0.8.1",
        ),
        ("linux-torch2130-no-cudnn.txt", "2.13.0+cu130", r2130(), "libcudnn.so.9", "nvidia-cudnn-cu13==9.20.0.48"),
        (
            "linux-torch2130-no-cu13.txt",
            "2.13.0+cu130",
            r2130(),
            "libcublasLt.so.*[0-9]",
            "cuda-toolkit[cublas]==13.0.3",
        ),
    ];
    for (file, installed, reqs, lib, pin) in cases {
        let report = broken_import(&real_fixture(file), installed, reqs);
        let d = diagnose_smoke(&report, &ctx);
        assert_eq!(ids(&d), ["L01"], "{file}: {d:?}");
        assert!(d[0].title.contains(&format!("torch cannot load {lib}")), "{file}: {}", d[0].title);
        assert!(d[0].explanation.contains(&format!("torch {installed} is installed but does not import")), "{file}");
        assert!(d[0].explanation.contains(pin), "{file}: {}", d[0].explanation);
        assert!(
            d[0].fix
                .contains(&format!("/home/me/venv/bin/python -m pip install --force-reinstall --no-deps \"{pin}\"")),
            "{file}: {}",
            d[0].fix
        );
        assert!(d[0].fix.contains("torchup install --resume") && d[0].fix.contains("fresh venv"), "{file}");
        // The same text pasted as a log (no metadata): still L01, naming both majors' wheels.
        let log = diagnose_text(TextSource::Training, &real_fixture(file), &ctx);
        assert_eq!(ids(&log), ["L01"], "{file}");
        assert!(log[0].explanation.contains("(CUDA 12 builds) or"), "{file}: {}", log[0].explanation);
    }
}

#[test]
fn windows_cuda_dlls_from_published_messages_are_the_torch_wheel_not_vcredist() {
    for (file, dll) in [("windows-cudnn64_9.txt", "cudnn64_9.dll"), ("windows-c10_cuda.txt", "c10_cuda.dll")] {
        let text = real_fixture(file);
        let d = diagnose_text(TextSource::Verify, &text, &OsContext::windows());
        assert_eq!(ids(&d), ["L02"], "{file}: F14 (VC++) is overridden: {d:?}");
        assert!(d[0].title.contains(dll), "{}", d[0].title);
        assert!(d[0].fix.contains("torchup install --resume"), "{}", d[0].fix);
        // As an import error in a smoke report: the Linux probe stays out of it.
        let report = broken_import(&text, "2.5.1+cu124", vec![]);
        assert_eq!(ids(&diagnose_smoke(&report, &OsContext::windows())), ["L02"], "{file}");
    }
    // c10.dll itself failing is still the VC++ runtime.
    assert_eq!(ids(&diagnose_text(TextSource::Verify, &rule_example("F14"), &OsContext::windows())), ["F14"]);
}

#[test]
fn cudnn_version_incompatibility_of_real_wheels_is_diagnosed() {
    let text = real_fixture("linux-torch2130-with-cudnn910.txt");
    let d = diagnose_text(TextSource::Verify, &text, &OsContext::linux());
    assert_eq!(ids(&d), ["L03"], "{d:?}");
    assert!(
        d[0].explanation.starts_with("torch was built against cuDNN 9.20.0 but loaded cuDNN 9.1.0"),
        "{}",
        d[0].explanation
    );
    assert!(d[0].fix.contains("LD_LIBRARY_PATH"));
    // In a smoke report the failure is the cudnn_conv check's detail.
    let last = text.lines().rev().find(|l| !l.trim().is_empty()).unwrap();
    let s = smoke_with(
        &json!({"ok": false, "checks": [
            {"name": "matmul", "ok": true, "detail": "GPU 0: 1000x1000 matmul matches the CPU (relative error 1.2e-07)", "ms": 80.0},
            {"name": "cudnn_conv", "ok": false, "detail": last, "ms": 3.0}]})
        .to_string(),
    );
    assert_eq!(ids(&diagnose_smoke(&s, &OsContext::windows())), ["L03"]);
}

#[test]
fn the_numpy_warning_of_real_torch_is_not_a_diagnosis() {
    let warning = "UserWarning: Failed to initialize NumPy: No module named 'numpy' (Triggered internally at ../torch/csrc/utils/tensor_numpy.cpp:84.)";
    let s = smoke_with(&json!({"warnings": [warning]}).to_string());
    assert_eq!(diagnose_smoke(&s, &OsContext::linux()), vec![]);
    // NumPy 2 against a torch built for NumPy 1 is F29, a different message.
    let f29 = "UserWarning: Failed to initialize NumPy: _ARRAY_API not found (Triggered internally at ../torch/csrc/utils/tensor_numpy.cpp:84.)";
    assert_eq!(ids(&diagnose_text(TextSource::Verify, f29, &OsContext::linux())), ["F29"]);
}
