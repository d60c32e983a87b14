//! The embedded smoke script, run by real Pythons in real venvs into which real pip installed
//! the test kit's fake torch wheels from the local index; the simulated machine comes from
//! TORCHUP_FAKE_GPU. Every outcome must be reported truthfully.

mod support;

use std::path::Path;
use std::time::{Duration, Instant};

use support::env::Isolated;
use support::gpu::{FakeDevice, FakeGpu};
use support::index::IndexServer;
use support::python::{Venv, base_python, make_venv_fast};
use support::wheels::{Tags, WheelSpec, build_wheels};
use tokio_util::sync::CancellationToken;
use torchup::exec::{RunSpec, Runner, TokioRunner};
use torchup::smoke::render::guide_lines;
use torchup::smoke::{self, SmokeError, SmokeReport, check_names};

const T: Duration = Duration::from_secs(90);

/// An isolated world: a venv (paths with spaces) with `reqs` installed by real pip from a
/// local index serving the `wheels`.
struct World {
    iso: Isolated,
    venv: Venv,
}

fn world(wheels: &[(&str, Vec<WheelSpec>)], reqs: Option<(&str, &[&str])>) -> World {
    let iso = Isolated::with_prefix("torchup smoke ").unwrap();
    for (variant, specs) in wheels {
        build_wheels(&iso.path(format!("idx/{variant}")), specs).unwrap();
    }
    let venv = make_venv_fast(&iso.path("venv"), &iso).unwrap();
    if let Some((variant, reqs)) = reqs {
        let index = IndexServer::start(iso.path("idx")).unwrap();
        venv.pip_install(&iso, &index.url(variant), reqs).unwrap().ok().unwrap();
    }
    World { iso, venv }
}

fn cu124_world() -> World {
    let tags = Tags::host().unwrap();
    world(
        &[("cu124", WheelSpec::family("2.5.1", "cu124", &tags))],
        Some(("cu124", &["torch==2.5.1+cu124", "torchvision==0.20.1+cu124"])),
    )
}

impl World {
    fn env(&self, gpu: &FakeGpu, extra: &[(&str, &str)]) -> Vec<(String, Option<String>)> {
        let mut env = self.iso.envs();
        env.push(gpu.env_change());
        env.extend(extra.iter().map(|(k, v)| (k.to_string(), Some(v.to_string()))));
        env
    }

    async fn smoke(&self, gpu: &FakeGpu, extra: &[(&str, &str)]) -> SmokeReport {
        smoke::run(&self.venv.python, &self.env(gpu, extra), &TokioRunner, T)
            .await
            .unwrap_or_else(|e| panic!("the smoke test should report: {e}"))
    }
}

/// WinError 126 at import, after torch printed its VC++ hint to stdout.
fn dll_error() -> FakeGpu {
    let mut gpu = FakeGpu::rtx3050_laptop().import_error_winerror126();
    gpu.vcredist_missing = true;
    gpu
}

fn names(r: &SmokeReport) -> Vec<&str> {
    r.checks.iter().map(|c| c.name.as_str()).collect()
}

fn detail<'a>(r: &'a SmokeReport, name: &str) -> &'a str {
    &r.check(name).unwrap_or_else(|| panic!("no {name} check in {:?}", names(r))).detail
}

fn guide(r: &SmokeReport) -> Vec<String> {
    guide_lines(r).into_iter().map(|l| l.text).collect()
}

#[tokio::test]
async fn a_cu124_build_on_simulated_machines() {
    let w = cu124_world();

    // The guide's laptop with a current driver: everything passes.
    let r = w.smoke(&FakeGpu::rtx3050_laptop(), &[]).await;
    assert!(r.ok, "{:#?}", r.checks);
    assert_eq!(names(&r), check_names::ALL);
    assert_eq!(
        guide(&r),
        [
            "PyTorch version: 2.5.1+cu124",
            "CUDA available: True",
            "CUDA version: 12.4",
            "GPU Name: NVIDIA GeForce RTX 3050 Laptop GPU",
            "GPU Memory: 4.0 GB",
            "GPU computation test: PASSED",
        ]
    );
    assert_eq!(r.devices[0].compute_capability.as_deref(), Some("8.6"));
    assert_eq!(r.devices[0].arch_supported, Some(true));
    assert!(detail(&r, "arch_supported").contains("covered by sm_86"), "{}", detail(&r, "arch_supported"));
    assert!(r.cudnn.is_some(), "cuDNN version reported");
    assert_eq!(r.packages.get("torchvision").map(String::as_str), Some("0.20.1+cu124"));
    let (g, c) = (r.gpu_gflops.unwrap(), r.cpu_gflops.unwrap());
    assert!(g > 5.0 * c, "the simulated GPU is ~55x the CPU: {g} vs {c}");
    let py = r.python.as_ref().unwrap();
    assert_eq!(py.env, "venv");
    assert!(py.executable.starts_with(w.iso.root().to_str().unwrap()), "{py:?}");
    assert!(r.torch_path.as_deref().unwrap().contains("site-packages"));

    // A Pascal card: sm_61 runs sm_60 code.
    let r = w.smoke(&FakeGpu::gtx1080ti(), &[]).await;
    assert!(r.ok, "{:#?}", r.checks);
    assert!(detail(&r, "arch_supported").contains("GPU 0 (sm_61): covered by sm_60"));

    // Driver too old for CUDA 12 (R470 reports 11.4): the warning is kept.
    let r = w.smoke(&FakeGpu::rtx3050_laptop().driver(Some("11.4")), &[]).await;
    assert!(!r.ok && !r.cuda_available);
    assert_eq!(names(&r), ["import_torch", "cuda_build", "cuda_available"]);
    assert!(detail(&r, "cuda_available").contains("found version 11040"), "{}", detail(&r, "cuda_available"));
    assert!(r.warnings.iter().any(|w| w.starts_with("UserWarning: CUDA initialization: The NVIDIA driver")));

    // No driver at all.
    let r = w.smoke(&FakeGpu::none(), &[]).await;
    assert!(!r.ok && !r.cuda_available);
    assert_eq!(guide(&r).last().unwrap(), "GPU not detected!");

    // CUDA hidden by the environment (F35): the value is in the detail.
    let r = w.smoke(&FakeGpu::rtx3050_laptop(), &[("CUDA_VISIBLE_DEVICES", "")]).await;
    assert!(!r.cuda_available);
    assert!(detail(&r, "cuda_available").contains("CUDA_VISIBLE_DEVICES=''"), "{}", detail(&r, "cuda_available"));
    assert_eq!(r.cuda_visible_devices.as_deref(), Some(""));

    // An RTX 50 laptop on a cu124 build: is_available() says True, the report says no.
    let r = w.smoke(&FakeGpu::rtx5070_laptop(), &[]).await;
    assert!(r.cuda_available && !r.ok);
    assert_eq!(r.devices[0].arch_supported, Some(false));
    assert!(detail(&r, "arch_supported").contains("GPU 0 (sm_120) is NOT in this build's arch list"));
    assert!(detail(&r, "matmul").contains("no kernel image is available"), "{}", detail(&r, "matmul"));
    assert_eq!(names(&r).last(), Some(&"matmul"), "the chain stops after a failed matmul");
    assert!(r.warnings.iter().any(|w| w.contains("sm_120")), "torch's own warning kept: {:?}", r.warnings);

    // Kernels that compute garbage.
    let r = w.smoke(&FakeGpu::rtx3050_laptop().wrong_results(), &[]).await;
    assert!(!r.ok);
    assert!(detail(&r, "matmul").contains("differs from the CPU"), "{}", detail(&r, "matmul"));

    // Two GPUs, one too new for the build: the oldest and the newest both matter.
    let two = FakeGpu::new(vec![FakeDevice::rtx3050_laptop(), FakeDevice::rtx5070_laptop()], "13.0");
    let r = w.smoke(&two, &[]).await;
    assert_eq!(r.devices.len(), 2);
    assert_eq!((r.devices[0].arch_supported, r.devices[1].arch_supported), (Some(true), Some(false)));
    assert!(!r.ok);
    assert!(guide(&r).contains(&"GPU 1 Name: NVIDIA GeForce RTX 5070 Laptop GPU".to_string()));

    // A Windows DLL error, with torch's VC++ hint printed to stdout first.
    let r = w.smoke(&dll_error(), &[]).await;
    assert!(!r.ok && !r.torch_importable);
    let d = detail(&r, "import_torch");
    assert!(d.starts_with("OSError: [WinError 126] The specified module could not be found."), "{d}");
    assert!(d.contains(r#"\torch\lib\c10.dll" or one of its dependencies."#), "{d}");
    assert!(d.contains("Microsoft Visual C++ Redistributable is not installed"), "{d}");
    assert!(r.captured_stdout.as_deref().unwrap().contains("Visual C++"));
    assert!(r.import_error.as_deref().unwrap().contains("Traceback"));

    // A segfault inside a CUDA call: the checks before it survive.
    let r = w.smoke(&FakeGpu::rtx3050_laptop().crash("kernel"), &[]).await;
    assert!(!r.ok);
    let last = r.checks.last().unwrap();
    assert!(!last.ok && last.detail.contains("crashed"), "{last:?}");
    assert!(r.checks[..r.checks.len() - 1].iter().all(|c| c.ok), "{:#?}", r.checks);
    assert_eq!(r.torch.version.as_deref(), Some("2.5.1+cu124"));
    assert!(r.stderr_tail.as_deref().unwrap().contains("Fatal Python error"), "{:?}", r.stderr_tail);
}

#[tokio::test]
async fn stdout_is_one_document_and_the_current_directory_cannot_hijack_it() {
    let w = cu124_world();
    let cwd = w.iso.path("project");
    std::fs::create_dir_all(&cwd).unwrap();
    std::fs::write(cwd.join("json.py"), "raise SystemExit('hijacked json')\n").unwrap();
    std::fs::write(cwd.join("torch.py"), "raise SystemExit('hijacked torch')\n").unwrap();
    for gpu in [FakeGpu::rtx3050_laptop(), dll_error()] {
        let mut spec = RunSpec::new(smoke::run::argv(&w.venv.python)).envs(&w.env(&gpu, &[])).timeout(T);
        spec.cwd = Some(cwd.clone());
        let out = TokioRunner.run(spec, None, CancellationToken::new()).await.unwrap();
        assert!(out.success(), "{}", out.stderr);
        assert_eq!(out.stdout.trim().lines().count(), 1, "{}", out.stdout);
        let doc: serde_json::Value = serde_json::from_str(&out.stdout).expect("stdout is one JSON document");
        assert_eq!(doc["schema"], 1);
        let imported = doc["torch"]["version"] == "2.5.1+cu124";
        let dll_error = doc["import_error"].as_str().is_some_and(|e| e.contains("WinError 126"));
        assert!(imported || dll_error, "the venv's torch, not ./torch.py: {doc}");
    }
}

#[tokio::test]
async fn a_cpu_build_stops_at_the_cuda_build_check() {
    let tags = Tags::host().unwrap();
    let w = world(&[("cpu", WheelSpec::family("2.5.1", "cpu", &tags))], Some(("cpu", &["torch==2.5.1+cpu"])));
    let r = w.smoke(&FakeGpu::rtx3050_laptop(), &[]).await;
    assert!(!r.ok && !r.cuda_available);
    assert_eq!(names(&r), ["import_torch", "cuda_build"]);
    assert_eq!((r.torch.version.as_deref(), r.torch.cuda.as_deref()), (Some("2.5.1+cpu"), None));
    assert!(detail(&r, "cuda_build").contains("CPU-only build"));
    assert_eq!(
        guide(&r),
        ["PyTorch version: 2.5.1+cpu", "CUDA available: False", "CUDA version: None", "GPU not detected!"]
    );
}

#[tokio::test]
async fn a_build_without_cudnn_fails_only_the_cudnn_check() {
    let tags = Tags::host().unwrap();
    let torch = WheelSpec::torch("2.5.1", "cu124", &tags).with_cudnn(None);
    let w = world(&[("cu124", vec![torch])], Some(("cu124", &["torch==2.5.1+cu124"])));
    let r = w.smoke(&FakeGpu::rtx3050_laptop(), &[]).await;
    assert!(!r.ok);
    assert!(detail(&r, "cudnn_conv").contains("cuDNN is not available"), "{}", detail(&r, "cudnn_conv"));
    assert!(r.checks.iter().filter(|c| c.name != "cudnn_conv").all(|c| c.ok), "{:#?}", r.checks);
}

#[tokio::test]
async fn torch_missing_is_reported_not_raised() {
    let w = world(&[], None);
    let r = w.smoke(&FakeGpu::rtx3050_laptop(), &[]).await;
    assert!(!r.ok && !r.torch_importable);
    assert_eq!(names(&r), ["import_torch"]);
    assert!(detail(&r, "import_torch").contains("torch is not installed"), "{}", detail(&r, "import_torch"));
    assert!(r.import_error.as_deref().unwrap().contains("ModuleNotFoundError: No module named 'torch'"));
    assert_eq!(guide(&r), ["PyTorch version: (torch cannot be imported)", "GPU not detected!"]);
}

/// The oldest syntax each embedded script promises, checked by this machine's Python with
/// `ast.parse(feature_version=…)` (no old interpreter needed: building one from python.org
/// is not possible on these machines). The grammar of 3.6 has no walrus, no positional-only
/// parameters, no `f"{x=}"`, no parenthesised context managers; 3.4 has no f-strings either.
#[test]
fn embedded_scripts_parse_as_their_promised_python() {
    let dir = tempfile::tempdir().unwrap();
    let cases = [
        ("smoke_test.py", smoke::SMOKE_TEST_PY, (3, 6)),
        ("probe.py", torchup::facts::python::probe::PROBE_SCRIPT, (3, 4)),
    ];
    for (name, source, (major, minor)) in cases {
        let path = dir.path().join(name);
        std::fs::write(&path, source).unwrap();
        let code = "import ast, sys\n\
                    src = open(sys.argv[1], encoding='utf-8').read()\n\
                    ast.parse(src, filename=sys.argv[1], feature_version=(int(sys.argv[2]), int(sys.argv[3])))\n\
                    print('ok')";
        let out = std::process::Command::new(base_python().unwrap())
            .args(["-I", "-c", code])
            .arg(&path)
            .arg(major.to_string())
            .arg(minor.to_string())
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{name} is not Python {major}.{minor} syntax: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    // The check can fail: a walrus is not 3.6 syntax.
    let bad = dir.path().join("bad.py");
    std::fs::write(&bad, "if (n := 1):\n    pass\n").unwrap();
    let out = std::process::Command::new(base_python().unwrap())
        .args(["-I", "-c", "import ast, sys; ast.parse(open(sys.argv[1]).read(), feature_version=(3, 6))"])
        .arg(&bad)
        .output()
        .unwrap();
    assert!(!out.status.success(), "feature_version must reject 3.8 syntax");
}

#[cfg(unix)]
fn alive(pid: i32) -> bool {
    // A zombie still has a /proc entry; count running processes only.
    std::fs::read_to_string(format!("/proc/{pid}/stat"))
        .map(|s| !s.rsplit(')').next().unwrap_or("").trim_start().starts_with('Z'))
        .unwrap_or(false)
}

#[cfg(unix)]
#[tokio::test]
async fn a_hang_times_out_and_leaves_no_process_behind() {
    let w = cu124_world();
    // A .pth line runs at interpreter start-up: it starts a sleeping child and records both
    // pids, so the test sees whether the whole process group went away.
    let pids = w.iso.path("pids");
    let site = w.venv.site_packages(&w.iso).unwrap();
    // (The child is marked so that its own start-up does not start another one.)
    let line = format!(
        "import os, subprocess, sys; p = None if os.environ.get('SLEEPER_CHILD') else \
         subprocess.Popen([sys.executable, '-c', 'import time; time.sleep(600)'], env=dict(os.environ, SLEEPER_CHILD='1')); \
         p and open({:?}, 'w').write('%d %d' % (os.getpid(), p.pid))\n",
        pids.display().to_string()
    );
    std::fs::write(site.join("zz_spawn_sleeper.pth"), line).unwrap();

    let gpu = FakeGpu::rtx3050_laptop().import_delay_ms(600_000.0);
    let started = Instant::now();
    let r = smoke::run(&w.venv.python, &w.env(&gpu, &[]), &TokioRunner, Duration::from_secs(3)).await.unwrap();
    assert!(started.elapsed() < Duration::from_secs(20), "took {:?}", started.elapsed());
    assert!(!r.ok);
    assert_eq!(names(&r), ["import_torch"]);
    assert!(detail(&r, "import_torch").contains("no answer within 3 s"), "{}", detail(&r, "import_torch"));
    let pids: Vec<i32> =
        std::fs::read_to_string(&pids).unwrap().split_whitespace().map(|p| p.parse().unwrap()).collect();
    assert_eq!(pids.len(), 2);
    for _ in 0..50 {
        if pids.iter().all(|p| !alive(*p)) {
            return;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    panic!("left behind: {:?}", pids.iter().filter(|p| alive(**p)).collect::<Vec<_>>());
}

#[tokio::test]
async fn an_interpreter_that_does_not_run_the_script_is_an_error() {
    let err = smoke::run(Path::new("/nonexistent/python3"), &[], &TokioRunner, T).await.unwrap_err();
    assert!(matches!(err, SmokeError::Spawn { .. }), "{err:?}");
    assert!(err.to_string().contains("--python"));

    #[cfg(unix)]
    {
        let err = smoke::run(Path::new("/bin/false"), &[], &TokioRunner, T).await.unwrap_err();
        assert!(matches!(err, SmokeError::NotStarted { .. }), "{err:?}");
    }
    // What Python 2 prints for the script (no Python 2 can be had on these machines; this
    // is its exact output): one line naming the fix, no traceback.
    let py2 = torchup::exec::RunOutcome {
        state: torchup::exec::ExitState::Code(1),
        stdout: String::new(),
        stderr: "  File \"<string>\", line 47\n    def _now_ms():\n    ^\nSyntaxError: invalid syntax\n".into(),
        duration: Duration::from_millis(20),
    };
    let msg = smoke::parse::interpret(&py2, "/usr/bin/python2.7", T).unwrap_err().to_string();
    assert!(msg.contains("SyntaxError") && msg.contains("Python 3.6+") && !msg.contains('\n'), "{msg}");
}

// ---- honesty against real torch (issue 12) ------------------------------------------------

/// The script with its GPU-side comparison removed: the matmul's difference is then only
/// computed on the CPU, so nothing but cuBLAS runs on the GPU during the check.
fn without_gpu_side_comparison(script: &str) -> String {
    let line = "                on_gpu = ((gc - ref.to(dev)).norm() / ref.to(dev).norm()).item()\n";
    let cond = "math.isfinite(err) and math.isfinite(on_gpu) and err <= MATMUL_RTOL";
    assert_eq!(script.matches(line).count(), 1, "the GPU-side comparison moved: update this mutation");
    assert_eq!(script.matches(cond).count(), 1, "the matmul verdict moved: update this mutation");
    script.replace(line, "").replace(cond, "math.isfinite(err) and err <= MATMUL_RTOL")
}

/// Run a copy of the script text with the venv's interpreter (same environment as `smoke`).
fn run_script_text(w: &World, script: &str, gpu: &FakeGpu) -> SmokeReport {
    let env = [gpu.env()];
    let out = w.venv.run_code(&w.iso, script, &env).unwrap();
    serde_json::from_str(out.stdout.trim()).unwrap_or_else(|e| panic!("{e}: {}\n{}", out.stdout, out.stderr))
}

/// Real cuBLAS ships kernels for more architectures than torch's fat binary, so on a GPU the
/// build lacks a bare matmul succeeds while torch's own kernels fail. The fake behaves so;
/// this proves the script's GPU-side comparison is what catches it (a mutation test).
#[tokio::test]
async fn the_gpu_side_comparison_is_what_catches_a_missing_architecture() {
    let w = cu124_world();
    let gpu = FakeGpu::rtx5070_laptop();

    let real = w.smoke(&gpu, &[]).await;
    let m = real.check("matmul").unwrap();
    assert!(!m.ok && m.detail.contains("no kernel image is available"), "{}", m.detail);

    let mutant = run_script_text(&w, &without_gpu_side_comparison(smoke::SMOKE_TEST_PY), &gpu);
    let m = mutant.check("matmul").unwrap();
    assert!(m.ok, "without the GPU-side comparison the matmul check wrongly passes: {}", m.detail);
    assert!(m.detail.contains("matmul matches the CPU"), "{}", m.detail);
    // Torch's own kernels still fail later (the fp16 cast), so the fake is not lenient.
    let fp16 = mutant.check("fp16_autocast").unwrap();
    assert!(!fp16.ok && fp16.detail.contains("no kernel image"), "{}", fp16.detail);
    // The throughput check only runs cuBLAS: it passes, as on real hardware.
    assert!(mutant.check("throughput").is_some_and(|c| c.ok));

    // The unmodified copy run the same way agrees with smoke::run (the harness is not the cause).
    let same = run_script_text(&w, smoke::SMOKE_TEST_PY, &gpu);
    assert!(!same.check("matmul").unwrap().ok);
}

/// Real torch warns "Failed to initialize NumPy: No module named 'numpy'" at import in a venv
/// without numpy (the kit's venvs have none). It is a note, never a failure or a diagnosis.
#[tokio::test]
async fn the_numpy_warning_is_a_note_and_a_shadowing_cudnn_is_diagnosed() {
    let w = cu124_world();
    let r = w.smoke(&FakeGpu::rtx3050_laptop(), &[]).await;
    assert!(r.ok, "{:#?}", r.checks);
    assert_eq!(r.notes, [smoke::notes::NUMPY_ABSENT]);
    assert!(!r.warnings.iter().any(|w| w.contains("NumPy")), "{:?}", r.warnings);
    assert!(detail(&r, "import_torch").contains("note: numpy is not installed"), "{}", detail(&r, "import_torch"));
    let mut r = r;
    smoke::diagnoses::attach(&mut r, &torchup::diagnose::OsContext::linux());
    assert!(r.diagnoses.is_empty(), "{:?}", r.diagnoses);

    // Another cuDNN 9.0 shadows the build's 9.1: torch raises, the conv check fails, L03.
    let mut r = w.smoke(&FakeGpu::rtx3050_laptop().cudnn_runtime(90000), &[]).await;
    assert!(!r.ok);
    let conv = detail(&r, "cudnn_conv");
    assert!(
        conv.starts_with("RuntimeError: cuDNN version incompatibility: PyTorch was compiled  against (9, 1, 0) but found runtime version (9, 0, 0)."),
        "{conv}"
    );
    smoke::diagnoses::attach(&mut r, &torchup::diagnose::OsContext::linux());
    assert_eq!(r.diagnoses.iter().map(|d| d.id.as_str()).collect::<Vec<_>>(), ["L03"]);
    // A newer minor is compatible (cuDNN minor versions are backwards-compatible).
    let r = w.smoke(&FakeGpu::rtx3050_laptop().cudnn_runtime(90300), &[]).await;
    assert!(r.ok, "{:#?}", r.checks);
}

/// A torch that is installed but does not import is named as such (history says "installed,
/// does not import", never "none").
#[tokio::test]
async fn an_installed_torch_that_does_not_import_reports_its_version() {
    let w = cu124_world();
    let r = w.smoke(&dll_error(), &[]).await;
    assert!(!r.torch_importable);
    assert_eq!(r.torch.version, None);
    assert_eq!(r.torch_installed.as_deref(), Some("2.5.1+cu124"));
}
