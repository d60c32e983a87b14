//! Decision tables: real machine profiles (tests/fixtures/facts/*.json, shaped like
//! `torchup detect --json`) planned from the bundled data. Each row asserts the exact build,
//! the fallback, and the reasons a user would read.

use torchup::compat::data::CompatData;
use torchup::facts::Facts;
use torchup::plan::{Candidate, Manager, Plan, Request, plan};

fn facts(name: &str) -> Facts {
    let path = format!("{}/tests/fixtures/facts/{name}.json", env!("CARGO_MANIFEST_DIR"));
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path}: {e}"));
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("{path}: {e}"))
}

fn request() -> Request {
    Request {
        index_url: "https://download.pytorch.org/whl".into(),
        workdir: Some("/home/user/project".into()),
        constraints_file: Some("/home/user/.local/state/torchup/constraints.txt".into()),
        ..Request::default()
    }
}

fn run(name: &str, edit: impl FnOnce(&mut Request)) -> Plan {
    let mut req = request();
    edit(&mut req);
    plan(&facts(name), &req, CompatData::bundled().unwrap(), None)
}

fn auto(name: &str) -> Plan {
    run(name, |_| {})
}

fn label(p: &Plan) -> Option<String> {
    p.choice.as_ref().map(|c| format!("{}+{}", c.torch, c.variant))
}

fn fallback(p: &Plan) -> Option<String> {
    p.fallback.as_ref().map(|f| format!("{}+{}", f.choice.torch, f.choice.variant))
}

fn row<'a>(p: &'a Plan, variant: &str, torch: &str) -> &'a Candidate {
    p.candidates
        .iter()
        .find(|c| c.variant == variant && c.torch == torch)
        .unwrap_or_else(|| panic!("no row {variant} {torch} in {:#?}", p.candidates))
}

fn has_reason(c: &Candidate, needle: &str) -> bool {
    c.reasons.iter().any(|r| r.contains(needle))
}

fn warned(p: &Plan, needle: &str) -> bool {
    p.warnings.iter().any(|w| w.contains(needle))
}

#[track_caller]
fn expect(p: &Plan, choice: Option<&str>, fb: Option<&str>) {
    assert_eq!(label(p).as_deref(), choice, "choice; explanation: {}; warnings: {:#?}", p.explanation, p.warnings);
    assert_eq!(fallback(p).as_deref(), fb, "fallback; explanation: {}", p.explanation);
}

#[test]
fn guide_machine_windows_rtx3050_laptop_581_gets_cu130() {
    let p = auto("win-rtx3050-581-py311-conda-cpu");
    expect(&p, Some("2.15.0+cu130"), Some("2.14.0+cu126"));
    assert!(
        p.explanation.starts_with("RTX 3050 Laptop = compute 8.6, driver 581.29 ≥ 580 → cu130, torch 2.15.0"),
        "{}",
        p.explanation
    );
    let r = row(&p, "cu130", "2.15.0");
    assert!(r.ok && r.recommended && r.unconfirmed, "2.15 rows rest on assumed arch lists: {r:#?}");
    assert!(has_reason(r, "driver 581.29 ≥ 580 (cu130 floor, Windows)"));
    assert!(has_reason(r, "RTX 3050 Laptop 8.6: sm_86"));
    assert!(has_reason(r, "cp311 win_amd64 wheel"));
    // cu132 runs too, but its full-feature driver (R595) is not met: cu130 is preferred.
    let r132 = row(&p, "cu132", "2.15.0");
    assert!(r132.ok && !r132.recommended);
    assert!(has_reason(r132, "below the cu132 toolkit driver 595"));
    // The guide's own choices stay visible with verdicts.
    assert!(row(&p, "cu124", "2.6.0").ok);
    assert!(row(&p, "cu121", "2.5.1").ok);
    assert!(warned(&p, "rests on unconfirmed data"));
    assert!(warned(&p, "torchaudio stopped at 2.11.0"));
    assert_eq!(p.data_source, "bundled");
    assert_eq!(p.data_version, "2026.11.24");
}

#[test]
fn guide_variant_cu124_falls_back_to_cu121() {
    let p = run("win-rtx3050-581-py311-conda-cpu", |r| r.variant = Some("cu124".into()));
    expect(&p, Some("2.6.0+cu124"), Some("2.5.1+cu121"));
    assert!(
        p.explanation.starts_with("--variant cu124: RTX 3050 Laptop = compute 8.6, driver 581.29 ≥ 528.33 → cu124")
    );
    let c = p.choice.as_ref().unwrap();
    assert_eq!(c.index_url, "https://download.pytorch.org/whl/cu124");
    assert_eq!(c.torchvision.as_deref(), Some("0.21.0+cu124"));
    assert_eq!(c.torchaudio.as_deref(), Some("2.6.0+cu124"));
}

#[test]
fn keep_version_changes_only_the_build() {
    let p = run("win-rtx3050-581-py311-conda-cpu", |r| r.keep_version = true);
    expect(&p, Some("2.5.1+cu124"), Some("2.5.1+cu121"));
    assert!(p.explanation.starts_with("keeping torch 2.5.1:"), "{}", p.explanation);
    // Only 2.5.1 rows: cu124, cu121, cu118.
    assert!(p.candidates.iter().all(|c| c.torch == "2.5.1"), "{:#?}", p.candidates);
    assert_eq!(p.candidates.len(), 3);
}

#[test]
fn keep_version_without_torch_is_refused() {
    let p = run("linux-gtx1080ti-535-py312-venv", |r| r.keep_version = true);
    expect(&p, None, None);
    assert!(p.refused.as_deref().unwrap().contains("no torch is installed"));
}

#[test]
fn pascal_gtx1080ti_on_535_stays_on_cu126_and_torch_2_14() {
    let p = auto("linux-gtx1080ti-535-py312-venv");
    expect(&p, Some("2.14.1+cu126"), Some("2.7.1+cu118"));
    assert!(
        p.explanation.starts_with("GTX 1080 Ti = compute 6.1, driver 535.183.01 ≥ 525.60.13 → cu126, torch 2.14.1")
    );
    let r = row(&p, "cu126", "2.14.1");
    assert!(has_reason(r, "GTX 1080 Ti 6.1: sm_60"));
    assert!(has_reason(r, "below the cu126 toolkit driver 560.35.05: runs by minor-version compatibility"));
    let r = row(&p, "cu128", "2.11.0");
    assert_eq!(r.arch_ok, Some(false), "uv#14742: cu128 has no Pascal code");
    assert!(has_reason(r, "GTX 1080 Ti 6.1: not in cu128 list 7.5;8.0;8.6;9.0;10.0;12.0"));
    assert!(warned(
        &p,
        "torch 2.15.0 has no build for GTX 1080 Ti (compute 6.1); torch 2.14.1 is the newest that runs on it"
    ));
    // 2.14.1's torchvision pin is inferred: say so.
    assert!(warned(&p, "torchvision 0.29.1 is assumed"));
}

#[test]
fn volta_titan_v_on_windows_572() {
    let p = auto("win-titanv-572-py311");
    expect(&p, Some("2.14.1+cu126"), Some("2.6.0+cu124"));
    assert!(has_reason(row(&p, "cu126", "2.14.1"), "TITAN V 7.0: sm_70"));
    assert!(warned(&p, "torch 2.15.0 has no build for TITAN V (compute 7.0)"));
}

#[test]
fn volta_asking_for_cu128_gets_the_last_release_with_sm70() {
    // cu128 carried Volta in 2.8–2.10 and dropped it again in 2.11.
    let p = run("win-titanv-572-py311", |r| r.variant = Some("cu128".into()));
    expect(&p, Some("2.10.0+cu128"), Some("2.10.0+cu126"));
}

#[test]
fn turing_gtx1650_laptop_on_old_windows_512_driver_gets_cu118() {
    let p = auto("win-gtx1650-laptop-512-py310");
    expect(&p, Some("2.7.1+cu118"), Some("2.0.1+cu117"));
    let r = row(&p, "cu126", "2.14.1");
    assert_eq!(r.driver_ok, Some(false));
    assert!(has_reason(r, "driver 512.78 < 528.33 (cu126 floor, Windows)"));
    assert!(warned(
        &p,
        "updating the NVIDIA driver to ≥ 528.33 (Windows) would unlock torch 2.14.1 (cu126); ≥ 580 adds cu130, cu132"
    ));
    // The Windows cu118 arch list for 2.7 is assumed from 2.5.
    assert!(row(&p, "cu118", "2.7.1").unconfirmed);
}

#[test]
fn turing_on_linux_470_driver() {
    let p = auto("linux-gtx1650-470-py310");
    expect(&p, Some("2.7.1+cu118"), Some("2.0.1+cu117"));
    assert!(p.explanation.contains("driver 470.256.02 ≥ 450.80.02 → cu118"));
    assert!(warned(&p, "updating the NVIDIA driver to ≥ 525.60.13 (Linux) would unlock torch 2.14.1 (cu126)"));
}

#[test]
fn ada_rtx4060_laptop_on_566_waits_for_r580_to_get_2_15() {
    let p = auto("win-rtx4060-laptop-566-py312");
    expect(&p, Some("2.14.1+cu126"), Some("2.6.0+cu124"));
    assert!(has_reason(row(&p, "cu126", "2.14.1"), "RTX 4060 Laptop 8.9: sm_86"));
    assert!(warned(&p, "updating the NVIDIA driver to ≥ 580 (Windows) would unlock torch 2.15.0 (cu130, cu132)"));
    // The CPU torchvision goes too (moved aside with torch).
    let uninstall = p.steps.iter().find(|s| s.stage == torchup::plan::StepKind::Uninstall).unwrap();
    assert!(uninstall.summary.contains("torch, torchvision aside"), "{}", uninstall.summary);
}

#[test]
fn blackwell_rtx5070_laptop_on_580() {
    let p = auto("linux-rtx5070-laptop-580-py312");
    expect(&p, Some("2.15.0+cu130"), Some("2.11.0+cu128"));
    assert!(has_reason(row(&p, "cu130", "2.15.0"), "RTX 5070 Laptop 12.0: sm_120"));
    let r = row(&p, "cu126", "2.14.1");
    assert_eq!(r.arch_ok, Some(false), "no sm_120 and no PTX in cu126");
}

#[test]
fn blackwell_on_570_gets_the_last_cu128() {
    let p = auto("linux-rtx5070-laptop-570-py312");
    expect(&p, Some("2.11.0+cu128"), None);
    assert!(warned(&p, "the installed torch 2.7.1+cu126 cannot run here: RTX 5070 Laptop 12.0: not in cu126 list"));
    assert!(warned(&p, "updating the NVIDIA driver to ≥ 580.65.06 (Linux) would unlock torch 2.15.0 (cu130, cu132)"));
}

#[test]
fn python_38_caps_torch_at_2_4() {
    let p = auto("linux-rtx3050-580-py38");
    expect(&p, Some("2.4.1+cu124"), Some("2.4.1+cu121"));
    assert!(warned(&p, "Python 3.8 limits torch to 2.4.1: 64-bit Python 3.11 would allow torch 2.15.0+cu130"));
    let r = row(&p, "cu130", "2.15.0");
    assert_eq!(r.python_ok, Some(false));
    assert!(has_reason(r, "no cp38 wheel (torch 2.15.0: cp311–cp315)"));
}

#[test]
fn python_314_on_pascal() {
    let p = auto("linux-gtx1080ti-580-py314");
    expect(&p, Some("2.14.1+cu126"), None);
    assert!(has_reason(row(&p, "cu126", "2.14.1"), "cp314 manylinux x86_64 wheel"));
    assert_eq!(row(&p, "cu124", "2.6.0").python_ok, Some(false));
}

#[test]
fn python_315_on_pascal_has_no_build_and_names_the_fix() {
    let p = auto("win-gtx1080-581-py315");
    expect(&p, None, None);
    assert!(!p.nothing_to_do && p.refused.is_none() && p.steps.is_empty());
    let fix = "no CUDA build of PyTorch supports Python 3.15 on this machine: install 64-bit Python 3.14 from python.org (torch 2.14.1+cu126 supports it)";
    assert!(warned(&p, fix), "{:#?}", p.warnings);
    assert!(p.explanation.contains(fix));
}

#[test]
fn python_315_on_ampere_gets_2_15() {
    let p = auto("linux-rtx3060-590-py315");
    expect(&p, Some("2.15.0+cu130"), None);
    // Driver 590 reports CUDA 13.1: cu130 has full features, cu132 not.
    assert!(has_reason(row(&p, "cu132", "2.15.0"), "below the cu132 toolkit driver 595.58.03"));
}

#[test]
fn two_gpu_generations_the_oldest_decides() {
    let p = auto("linux-multigpu-4090-1080ti-575");
    expect(&p, Some("2.14.1+cu126"), Some("2.7.1+cu118"));
    assert!(p.explanation.starts_with("oldest GPU GTX 1080 Ti = compute 6.1, driver 575.64.03 ≥ 525.60.13 → cu126"));
    let r = row(&p, "cu130", "2.15.0");
    assert!(has_reason(r, "GTX 1080 Ti 6.1: not in cu130 list"));
    assert!(!has_reason(r, "RTX 4090 8.9: not"), "the 4090 is fine on cu130");
    assert!(has_reason(row(&p, "cu126", "2.14.1"), "RTX 4090 8.9: sm_86; GTX 1080 Ti 6.1: sm_60"));
    assert!(warned(&p, "the installed torch 2.9.1+cu128 cannot run here: GTX 1080 Ti 6.1: not in cu128 list"));
}

#[test]
fn no_gpu_means_no_cuda_choice() {
    let p = auto("linux-nogpu-py312");
    expect(&p, None, None);
    assert!(p.steps.is_empty() && !p.nothing_to_do);
    assert!(warned(&p, "no NVIDIA GPU was found"));
    assert!(warned(&p, "--variant cpu"));
    assert!(p.candidates.iter().all(|c| !c.ok && c.reasons.iter().any(|r| r == "no NVIDIA GPU found")));
}

#[test]
fn gpu_without_driver_says_which_driver_to_install() {
    let p = auto("linux-quadro-p1000-nodriver");
    expect(&p, None, None);
    assert!(warned(
        &p,
        "no NVIDIA driver was found: install the current NVIDIA driver (Linux); ≥ 450.80.02 runs torch 2.7.1 (cu118), ≥ 525.60.13: torch 2.14.1 (cu126)"
    ));
    assert!(has_reason(row(&p, "cu126", "2.14.1"), "no NVIDIA driver found (cu126 needs ≥ 525.60.13 on Linux)"));
    // The capability came from the name table: said so.
    assert!(has_reason(row(&p, "cu126", "2.14.1"), "Quadro P1000 6.1 (inferred from the name): sm_60"));
}

#[test]
fn macos_has_no_cuda() {
    let p = auto("macos-arm64-py312");
    expect(&p, None, None);
    assert!(warned(&p, "macOS has no CUDA builds of PyTorch"));
    let r = row(&p, "cu124", "2.6.0");
    assert!(!r.ok && has_reason(r, "macOS: no CUDA builds"));
}

#[test]
fn macos_cpu_build_when_asked() {
    let p = run("macos-arm64-py312", |r| r.variant = Some("cpu".into()));
    expect(&p, Some("2.15.0+cpu"), None);
    let install = p.steps.iter().find(|s| s.stage == torchup::plan::StepKind::Install).unwrap();
    assert!(
        install.argv.contains(&"torch==2.15.0".to_string()),
        "macOS CPU wheels carry no +cpu label: {:?}",
        install.argv
    );
    assert_eq!(p.choice.as_ref().unwrap().index_url, "https://download.pytorch.org/whl/cpu");
    assert!(install.argv.contains(&"--no-index".to_string()), "installed from the fetched files: {:?}", install.argv);
}

#[test]
fn windows_32bit_python() {
    let p = auto("win-rtx3050-581-py312-32bit");
    expect(&p, None, None);
    assert!(warned(&p, "install 64-bit Python 3.12 from python.org"));
    assert!(row(&p, "cu130", "2.15.0").reasons.iter().any(|r| r.contains("32-bit Python")));
}

#[test]
fn installed_cuda_build_that_runs_is_nothing_to_do() {
    let p = auto("linux-rtx3050-580-torch28-cu128");
    assert!(p.nothing_to_do);
    expect(&p, None, None);
    assert!(p.explanation.starts_with("torch 2.8.0+cu128 already runs here: RTX 3050 Laptop = compute 8.6"));
    assert!(p.explanation.contains("a newer build exists: torch 2.15.0+cu130 (torchup plan --torch 2.15.0)"));
    assert_eq!(p.steps.len(), 1);
    assert_eq!(p.steps[0].stage, torchup::plan::StepKind::Verify);
    // Asking for something else is still planned.
    let p = run("linux-rtx3050-580-torch28-cu128", |r| r.torch = Some("2.15.0".into()));
    // The pinned version stays pinned: 2.15 has no lower CUDA build, so no fallback.
    expect(&p, Some("2.15.0+cu130"), None);
    // keep-version of a good build: nothing to do.
    assert!(run("linux-rtx3050-580-torch28-cu128", |r| r.keep_version = true).nothing_to_do);
}

#[test]
fn cuda_build_with_a_cpu_torchvision_is_reinstalled_as_a_set() {
    let p = auto("win-rtx3050-581-torch251-cu124-cputv");
    assert!(!p.nothing_to_do);
    expect(&p, Some("2.5.1+cu124"), Some("2.5.1+cu121"));
    assert!(p.explanation.starts_with("torchvision 0.20.1+cpu does not match torch 2.5.1+cu124"));
    assert!(warned(&p, "xformers is compiled against one torch build"));
    assert!(warned(&p, "accelerate 1.1.1"));
    assert!(!warned(&p, "depend on torch; compiled ones must be rebuilt for the new build: xformers"));
}

#[test]
fn forced_invalid_variant_is_refused_then_planned_with_force() {
    let p = run("linux-gtx1080ti-535-py312-venv", |r| r.variant = Some("cu130".into()));
    expect(&p, None, None);
    let why = p.refused.as_deref().unwrap();
    assert!(why.starts_with("torch 2.15.0+cu130 will not run here: driver 535.183.01 < 580.65.06 (cu130 floor, Linux); GTX 1080 Ti 6.1: not in cu130 list"), "{why}");
    assert!(why.contains("--force"));
    assert!(p.steps.is_empty());

    let p = run("linux-gtx1080ti-535-py312-venv", |r| {
        r.variant = Some("cu130".into());
        r.force = true;
    });
    expect(&p, Some("2.15.0+cu130"), Some("2.14.0+cu126"));
    assert!(p.refused.is_none());
    assert!(p.explanation.starts_with("forced: GTX 1080 Ti = compute 6.1, driver 535.183.01 < 580.65.06 → cu130"));
    assert!(warned(&p, "--force: torch 2.15.0+cu130 fails its checks"));
}

#[test]
fn pascal_asking_for_cu128_is_refused_with_the_architecture_reason() {
    let p = run("linux-gtx1080ti-580-py314", |r| r.variant = Some("cu128".into()));
    expect(&p, None, None);
    assert!(p.refused.as_deref().unwrap().contains("GTX 1080 Ti 6.1: not in cu128 list 7.5;8.0;8.6;9.0;10.0;12.0"));
}

#[test]
fn force_cannot_conjure_a_missing_wheel() {
    let p = run("win-gtx1080-581-py315", |r| {
        r.variant = Some("cu126".into());
        r.force = true;
    });
    expect(&p, None, None);
    assert!(p.refused.as_deref().unwrap().contains("--force cannot help"), "{:?}", p.refused);
}

#[test]
fn explicit_torch_versions() {
    let p = run("win-rtx3050-581-py311-conda-cpu", |r| r.torch = Some("2.5".into()));
    expect(&p, Some("2.5.1+cu124"), Some("2.5.1+cu121"));
    let p = run("win-rtx3050-581-py311-conda-cpu", |r| r.torch = Some("2.5.1+cu121".into()));
    expect(&p, Some("2.5.1+cu121"), Some("2.5.1+cu118"));
    let p = run("win-rtx3050-581-py311-conda-cpu", |r| r.torch = Some("2.16.0".into()));
    expect(&p, None, None);
    assert!(p.refused.as_deref().unwrap().contains("torch 2.16.0 is not in the bundled data"));
    let p = run("win-rtx3050-581-py311-conda-cpu", |r| {
        r.torch = Some("2.15.0".into());
        r.variant = Some("cu124".into());
    });
    expect(&p, None, None);
    assert!(p.refused.as_deref().unwrap().contains("torch 2.15.0 has no cu124 build (cu124: torch 2.4.0–2.6.0)"));
    // The guide's rows are there even for a torch that lacks them.
    let p = run("win-rtx3050-581-py311-conda-cpu", |r| r.torch = Some("2.15.0".into()));
    assert!(has_reason(row(&p, "cu124", "2.15.0"), "torch 2.15.0 has no cu124 build"));
    assert!(has_reason(row(&p, "cu121", "2.15.0"), "torch 2.15.0 has no cu121 build"));
    let p = run("win-rtx3050-581-py311-conda-cpu", |r| r.variant = Some("cu999".into()));
    assert!(p.refused.as_deref().unwrap().contains("cu999 is not a variant torchup knows"));
    let p = run("win-rtx3050-581-py311-conda-cpu", |r| r.variant = Some("rocm6.2".into()));
    assert!(p.refused.as_deref().unwrap().contains("is not a variant"));
}

#[test]
fn blackwell_cannot_have_an_old_torch() {
    let p = run("linux-rtx5070-laptop-580-py312", |r| r.torch = Some("2.6.0".into()));
    expect(&p, None, None);
    assert!(p.refused.as_deref().unwrap().contains("RTX 5070 Laptop 12.0: not in"));
}

#[test]
fn pep668_system_python_gets_a_venv() {
    let p = auto("linux-debian-pep668-rtx3050-580");
    expect(&p, Some("2.15.0+cu130"), Some("2.14.0+cu126"));
    assert!(warned(&p, "externally managed (PEP 668)"));
    assert!(!p.warnings.iter().any(|w| w.contains("pip was not found")), "the venv brings its own pip");
    assert_eq!(p.target_python.as_deref(), Some("/home/user/project/.venv/bin/python"));
    for s in p.steps.iter().chain(p.fallback.iter().flat_map(|f| f.steps.iter())) {
        assert!(!s.argv.iter().any(|a| a == "--break-system-packages"));
    }
}

#[test]
fn unknown_capability_is_not_silently_passed() {
    let p = auto("linux-unknown-cc-580");
    expect(&p, Some("2.15.0+cu130"), Some("2.14.0+cu126"));
    let r = row(&p, "cu130", "2.15.0");
    assert_eq!(r.arch_ok, None);
    assert!(r.unconfirmed);
    assert!(has_reason(r, "GPU 0 (Graphics Device): compute capability unknown, architecture not checked"));
    assert!(warned(&p, "the architecture check could not be made"));
    assert!(p.explanation.contains("compute unknown"));
}

#[test]
fn kepler_is_too_old_for_every_build() {
    let p = auto("linux-kepler-gtx780m-470");
    expect(&p, None, None);
    assert!(warned(
        &p,
        "GTX 780M (compute 3.0) is older than every PyTorch CUDA build for linux-x86_64 (the oldest supported is compute 3.7"
    ));
    assert!(warned(&p, "--variant cpu"));
}

#[test]
fn dgx_spark_gb10_on_aarch64() {
    let p = auto("linux-aarch64-gb10-580-py312");
    expect(&p, Some("2.15.0+cu130"), None);
    assert!(has_reason(row(&p, "cu130", "2.15.0"), "GB10 12.1: sm_120"));
    assert!(has_reason(row(&p, "cu130", "2.15.0"), "cp312 manylinux aarch64 wheel"));
}

#[test]
fn wsl_uses_the_windows_driver_table() {
    // 528.24 passes Linux's 525.60.13 floor but not Windows' 528.33: WSL runs the Windows driver.
    let p = auto("wsl-rtx3050-528-py311");
    expect(&p, Some("2.7.1+cu118"), Some("2.0.1+cu117"));
    assert!(has_reason(row(&p, "cu126", "2.14.1"), "driver 528.24 < 528.33 (cu126 floor, Windows driver under WSL)"));
}

#[test]
fn conda_option_b_only_up_to_torch_2_5() {
    let p = run("win-rtx3050-581-py311-conda-cpu", |r| {
        r.manager = Manager::Conda;
        r.torch = Some("2.5.1".into());
        r.variant = Some("cu124".into());
    });
    expect(&p, Some("2.5.1+cu124"), Some("2.5.1+cu121"));
    assert_eq!(p.choice.as_ref().unwrap().manager, Manager::Conda);
    let p = run("win-rtx3050-581-py311-conda-cpu", |r| r.manager = Manager::Conda);
    expect(&p, Some("2.15.0+cu130"), Some("2.14.0+cu126"));
    assert_eq!(p.choice.as_ref().unwrap().manager, Manager::Pip, "torch 2.15 goes through the env's pip");
    assert!(warned(&p, "not on the pytorch conda channel (2.5 was the last release there)"));
}

#[test]
fn every_plan_names_its_data_and_keeps_guide_rows() {
    let dir = format!("{}/tests/fixtures/facts", env!("CARGO_MANIFEST_DIR"));
    let mut n = 0;
    for entry in std::fs::read_dir(&dir).unwrap() {
        let name = entry.unwrap().file_name().to_string_lossy().trim_end_matches(".json").to_string();
        let p = auto(&name);
        n += 1;
        assert_eq!(p.data_source, "bundled", "{name}");
        assert!(!p.explanation.is_empty(), "{name}");
        for v in ["cu124", "cu121"] {
            assert!(p.candidates.iter().any(|c| c.variant == v), "{name}: guide row {v} missing");
        }
        assert_eq!(p.candidates.iter().filter(|c| c.recommended).count(), usize::from(p.choice.is_some()), "{name}");
        if let Some(c) = &p.choice {
            let r = row(&p, &c.variant, &c.torch);
            assert!(r.recommended && r.ok, "{name}: the choice is an ok row");
        }
    }
    assert!(n >= 20, "only {n} profiles");
}

#[test]
fn legacy_ptx_does_not_make_blackwell_run_old_windows_builds() {
    // Windows cu118 has "3.7+PTX": NVIDIA's rule alone would accept an RTX 50xx.
    let mut f = facts("win-rtx3050-581-py311-conda-cpu");
    f.gpus[0].name = "NVIDIA GeForce RTX 5070 Laptop GPU".into();
    f.gpus[0].compute_capability = Some("12.0".into());
    let p = plan(&f, &Request { torch: Some("2.5.1".into()), ..request() }, CompatData::bundled().unwrap(), None);
    assert_eq!(label(&p), None);
    let r = row(&p, "cu118", "2.5.1");
    assert_eq!(r.arch_ok, Some(false));
    assert!(has_reason(r, "RTX 5070 Laptop 12.0: only legacy PTX compute_37"), "{r:#?}");
}

#[test]
fn forward_ptx_runs_a_gpu_newer_than_the_data() {
    // A compute 13.0 GPU on Linux runs cu130's 12.0+PTX through JIT (driver 590 reports 13.1).
    let mut f = facts("linux-rtx3060-590-py315");
    f.gpus[0].name = "NVIDIA Future GPU".into();
    f.gpus[0].compute_capability = Some("13.0".into());
    let p = auto_facts(&f);
    assert_eq!(label(&p).as_deref(), Some("2.15.0+cu130"));
    assert!(has_reason(
        row(&p, "cu130", "2.15.0"),
        "Future 13.0: only via PTX compute_120 (JIT-compiled on first use)"
    ));
    // On Windows the builds carry no PTX: nothing runs, and the plan says the GPU is newer
    // than the data.
    let mut w = facts("win-rtx3050-581-py311-conda-cpu");
    w.gpus[0].compute_capability = Some("13.0".into());
    let p = auto_facts(&w);
    assert_eq!(label(&p), None);
    assert!(warned(&p, "is newer than every build in the bundled data (2026-11-24): run without --offline"));
}

fn auto_facts(f: &Facts) -> Plan {
    plan(f, &request(), CompatData::bundled().unwrap(), None)
}
