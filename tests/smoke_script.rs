//! The embedded smoke script run by a real Python (in a real temp venv) against a fake
//! torch package: every outcome the script must report truthfully.

mod smoke_fake;

use std::time::{Duration, Instant};

use smoke_fake::{FakeEnv, RTX_3050_LAPTOP, RTX_5070_LAPTOP, base_python};
use tokio_util::sync::CancellationToken;
use torchup::exec::{RunSpec, Runner, TokioRunner};
use torchup::smoke::render::guide_lines;
use torchup::smoke::{self, SmokeError, SmokeReport, check_names};

const T: Duration = Duration::from_secs(60);

async fn smoke_with(env: &FakeEnv, spec: Option<&str>) -> SmokeReport {
    smoke::run(&env.python, &env.env(spec), &TokioRunner, T).await.expect("the smoke test should report")
}

fn names(r: &SmokeReport) -> Vec<&str> {
    r.checks.iter().map(|c| c.name.as_str()).collect()
}

fn detail<'a>(r: &'a SmokeReport, name: &str) -> &'a str {
    &r.check(name).unwrap_or_else(|| panic!("no {name} check in {:?}", names(r))).detail
}

#[tokio::test]
async fn a_working_gpu_passes_every_check() {
    let env = FakeEnv::new();
    let r = smoke_with(&env, Some(&format!(r#"{{"devices": [{RTX_3050_LAPTOP}]}}"#))).await;
    assert!(r.ok, "{:#?}", r.checks);
    assert_eq!(names(&r), check_names::ALL);
    assert!(r.torch_importable && r.cuda_available);
    assert_eq!(r.devices[0].memory_mib, Some(4095));
    assert_eq!(r.devices[0].arch_supported, Some(true));
    assert_eq!(r.cudnn.as_deref(), Some("9.1.0"));
    assert!(r.gpu_gflops.is_some() && r.cpu_gflops.is_some());
    assert!(detail(&r, "matmul").contains("matches the CPU"));
    assert!(detail(&r, "fp16_autocast").contains("float16"));
    let py = r.python.as_ref().unwrap();
    assert_eq!(py.env, "venv");
    assert!(py.executable.starts_with(env.path().to_str().unwrap()), "{py:?}");
    let lines: Vec<String> = guide_lines(&r).into_iter().map(|l| l.text).collect();
    assert_eq!(
        lines,
        [
            "PyTorch version: 2.5.1+cu124",
            "CUDA available: True",
            "CUDA version: 12.4",
            "GPU Name: NVIDIA GeForce RTX 3050 Laptop GPU",
            "GPU Memory: 4.0 GB",
            "GPU computation test: PASSED",
        ]
    );
}

#[tokio::test]
async fn torch_missing_is_reported_not_raised() {
    let env = FakeEnv::new();
    let r = smoke_with(&env, None).await;
    assert!(!r.ok && !r.torch_importable);
    assert_eq!(names(&r), ["import_torch"]);
    assert!(detail(&r, "import_torch").contains("torch is not installed"), "{}", detail(&r, "import_torch"));
    assert!(r.import_error.as_deref().unwrap().contains("ModuleNotFoundError: No module named 'torch'"));
}

#[tokio::test]
async fn a_windows_dll_error_keeps_the_full_text_and_torchs_hint() {
    let env = FakeEnv::new();
    let spec = r#"{"print_on_import": "Microsoft Visual C++ Redistributable is not installed, this may lead to the DLL load failure.",
        "import_error": "[WinError 126] The specified module could not be found. Error loading \"C:\\Users\\me\\venv\\Lib\\site-packages\\torch\\lib\\c10.dll\" or one of its dependencies."}"#;
    let r = smoke_with(&env, Some(spec)).await;
    assert!(!r.ok);
    let d = detail(&r, "import_torch");
    assert!(d.starts_with("OSError: [WinError 126] The specified module could not be found."), "{d}");
    assert!(d.contains(r#"torch\lib\c10.dll" or one of its dependencies."#), "{d}");
    assert!(d.contains("Microsoft Visual C++ Redistributable is not installed"), "{d}");
    // torch's print went into the document, not onto stdout in front of it.
    assert!(r.captured_stdout.as_deref().unwrap().contains("Visual C++"));
    assert!(r.import_error.as_deref().unwrap().contains("Traceback"));
}

#[tokio::test]
async fn a_cpu_build_stops_at_the_cuda_build_check() {
    let env = FakeEnv::new();
    let r = smoke_with(&env, Some(r#"{"version": "2.5.1+cpu", "cuda": null}"#)).await;
    assert!(!r.ok && !r.cuda_available);
    assert_eq!(names(&r), ["import_torch", "cuda_build"]);
    assert_eq!(r.torch.version.as_deref(), Some("2.5.1+cpu"));
    assert_eq!(r.torch.cuda, None);
    assert!(detail(&r, "cuda_build").contains("CPU-only build"));
    assert_eq!(guide_lines(&r).last().unwrap().text, "GPU not detected!");
}

#[tokio::test]
async fn an_old_driver_warning_is_captured() {
    let env = FakeEnv::new();
    let warning = "CUDA initialization: The NVIDIA driver on your system is too old (found version 12020). Please update your GPU driver by downloading and installing a new version from the URL: http://www.nvidia.com/Download/index.aspx";
    let spec =
        format!(r#"{{"version": "2.9.1+cu130", "cuda": "13.0", "available": false, "avail_warning": "{warning}"}}"#);
    let r = smoke_with(&env, Some(&spec)).await;
    assert!(!r.ok && !r.cuda_available);
    assert_eq!(names(&r), ["import_torch", "cuda_build", "cuda_available"]);
    let d = detail(&r, "cuda_available");
    assert!(d.contains("is_available() = False") && d.contains("found version 12020"), "{d}");
    assert_eq!(r.warnings, [format!("UserWarning: {warning}")]);
}

#[tokio::test]
async fn a_gpu_newer_than_the_build_fails_the_arch_check_and_the_kernels() {
    let env = FakeEnv::new();
    let spec = format!(
        r#"{{"devices": [{RTX_5070_LAPTOP}],
            "capability_warning": "NVIDIA GeForce RTX 5070 Laptop GPU with CUDA capability sm_120 is not compatible with the current PyTorch installation.",
            "kernel_error": "CUDA error: no kernel image is available for execution on the device"}}"#
    );
    let r = smoke_with(&env, Some(&spec)).await;
    assert!(!r.ok && r.cuda_available, "is_available() said True, the report must still fail");
    assert_eq!(r.devices[0].arch_supported, Some(false));
    assert!(detail(&r, "arch_supported").contains("(sm_120) is NOT in this build's arch list"));
    assert!(detail(&r, "devices").contains("sm_120 is not compatible"), "warning attached to the check that raised it");
    assert!(detail(&r, "matmul").contains("no kernel image is available"));
    assert_eq!(names(&r).last(), Some(&"matmul"), "the chain stops after a failed matmul");
}

#[tokio::test]
async fn a_wrong_matmul_result_is_caught() {
    let env = FakeEnv::new();
    let r = smoke_with(&env, Some(r#"{"wrong_matmul": true}"#)).await;
    assert!(!r.ok);
    assert!(detail(&r, "matmul").contains("differs from the CPU"), "{}", detail(&r, "matmul"));
}

#[tokio::test]
async fn fp16_and_cudnn_failures_fail_the_verdict() {
    let env = FakeEnv::new();
    let r = smoke_with(&env, Some(r#"{"autocast_dtype": "bfloat16", "cudnn": null}"#)).await;
    assert!(!r.ok);
    assert!(detail(&r, "fp16_autocast").contains("not float16"), "{}", detail(&r, "fp16_autocast"));
    assert!(detail(&r, "cudnn_conv").contains("cuDNN is not available"));
    assert!(r.check("matmul").unwrap().ok);
}

#[tokio::test]
async fn a_crash_inside_a_cuda_call_keeps_the_checks_before_it() {
    let env = FakeEnv::new();
    let r = smoke_with(&env, Some(r#"{"crash": "matmul"}"#)).await;
    assert!(!r.ok);
    assert_eq!(names(&r), ["import_torch", "cuda_build", "cuda_available", "devices", "arch_supported", "matmul"]);
    let d = detail(&r, "matmul");
    assert!(d.contains("crashed") && d.contains("Fatal Python error: Aborted"), "{d}");
    assert!(r.stderr_tail.as_deref().unwrap().contains("__matmul__"), "faulthandler names the Python line");
    assert_eq!(r.devices.len(), 1, "devices reported before the crash survive");
}

#[cfg(unix)]
fn alive(pid: i32) -> bool {
    // A zombie still has a /proc entry; only count running processes.
    std::fs::read_to_string(format!("/proc/{pid}/stat"))
        .map(|s| !s.rsplit(')').next().unwrap_or("").trim_start().starts_with('Z'))
        .unwrap_or(false)
}

#[cfg(unix)]
#[tokio::test]
async fn a_hang_times_out_and_leaves_no_process_behind() {
    let env = FakeEnv::new();
    let pid_file = env.path().join("pids");
    let spec = format!(r#"{{"hang": "matmul", "pid_file": "{}"}}"#, pid_file.display());
    let started = Instant::now();
    let r = smoke::run(&env.python, &env.env(Some(&spec)), &TokioRunner, Duration::from_secs(3)).await.unwrap();
    assert!(started.elapsed() < Duration::from_secs(15), "took {:?}", started.elapsed());
    assert!(!r.ok);
    assert!(detail(&r, "matmul").contains("no answer within 3 s"), "{}", detail(&r, "matmul"));
    let pids: Vec<i32> =
        std::fs::read_to_string(&pid_file).unwrap().split_whitespace().map(|p| p.parse().unwrap()).collect();
    assert_eq!(pids.len(), 2, "the interpreter and the child it started");
    for _ in 0..50 {
        if pids.iter().all(|p| !alive(*p)) {
            return;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    panic!("left behind: {:?}", pids.iter().filter(|p| alive(**p)).collect::<Vec<_>>());
}

#[tokio::test]
async fn an_interpreter_that_is_not_python_3_is_an_error() {
    let missing = std::path::Path::new("/nonexistent/python3");
    let err = smoke::run(missing, &[], &TokioRunner, T).await.unwrap_err();
    assert!(matches!(err, SmokeError::Spawn { .. }), "{err:?}");
    assert!(err.to_string().contains("--python"));

    #[cfg(unix)]
    {
        let err = smoke::run(std::path::Path::new("/bin/false"), &[], &TokioRunner, T).await.unwrap_err();
        assert!(matches!(err, SmokeError::NotStarted { .. }), "{err:?}");
    }
    // A real Python 2, when this machine has one (pyenv): it cannot even parse the script.
    if let Some(py2) = pyenv_python("2.") {
        let err = smoke::run(&py2, &[], &TokioRunner, T).await.unwrap_err();
        let msg = err.to_string();
        assert!(msg.contains("SyntaxError") && msg.contains("Python 3.6+") && !msg.contains('\n'), "{msg}");
    }
}

fn pyenv_python(prefix: &str) -> Option<std::path::PathBuf> {
    let root = dirs_pyenv()?;
    let mut found: Vec<_> = std::fs::read_dir(root)
        .ok()?
        .filter_map(|e| e.ok())
        .filter(|e| e.file_name().to_string_lossy().starts_with(prefix))
        .map(|e| e.path().join("bin").join("python"))
        .filter(|p| p.exists())
        .collect();
    found.sort();
    found.into_iter().next()
}

fn dirs_pyenv() -> Option<std::path::PathBuf> {
    let exe = base_python();
    // …/.pyenv/versions/3.11.7/bin/python3 → …/.pyenv/versions
    let versions = exe.parent()?.parent()?.parent()?;
    (versions.file_name()? == "versions").then(|| versions.to_path_buf())
}

#[tokio::test]
async fn the_oldest_supported_python_runs_the_script() {
    // Python 3.6 syntax is promised (docs/smoke-test.md); check it when pyenv has one.
    let Some(py36) = pyenv_python("3.6.") else {
        eprintln!("no pyenv Python 3.6 on this machine; the syntax promise is unchecked here");
        return;
    };
    let env = FakeEnv::new();
    let r = smoke::run(&py36, &env.env(Some("{}")), &TokioRunner, T).await.unwrap();
    assert!(r.ok, "{:#?}", r.checks);
    assert!(r.python.unwrap().version.starts_with("3.6."));
}

#[tokio::test]
async fn files_in_the_current_directory_cannot_hijack_the_script() {
    let env = FakeEnv::new();
    let cwd = env.path().join("project");
    std::fs::create_dir_all(&cwd).unwrap();
    std::fs::write(cwd.join("json.py"), "raise SystemExit('hijacked json')\n").unwrap();
    std::fs::write(cwd.join("warnings.py"), "raise SystemExit('hijacked warnings')\n").unwrap();
    let mut spec = RunSpec::new(smoke::run::argv(&env.python)).envs(&env.env(Some("{}"))).timeout(T);
    spec.cwd = Some(cwd);
    let out = TokioRunner.run(spec, None, CancellationToken::new()).await.unwrap();
    let r = torchup::smoke::parse::interpret(&out, "python", T).unwrap();
    assert!(r.ok, "{:#?}\n{}", r.checks, out.stderr);
}

#[tokio::test]
async fn stdout_is_exactly_one_json_document() {
    let env = FakeEnv::new();
    for spec in [
        r#"{"print_on_import": "noise from torch"}"#,
        r#"{"print_on_import": "noise", "import_error": "boom"}"#,
        r#"{"cuda": null}"#,
    ] {
        let spec = RunSpec::new(smoke::run::argv(&env.python)).envs(&env.env(Some(spec))).timeout(T);
        let out = TokioRunner.run(spec, None, CancellationToken::new()).await.unwrap();
        assert!(out.success());
        let doc: serde_json::Value = serde_json::from_str(&out.stdout).expect("stdout must be one JSON document");
        assert_eq!(doc["schema"], 1);
        assert_eq!(out.stdout.trim().lines().count(), 1);
    }
}

#[test]
fn arch_coverage_follows_cuda_binary_compatibility() {
    // Load the script's covering_arch() without running main().
    let dir = tempfile::tempdir().unwrap();
    let script = dir.path().join("smoke_test.py");
    std::fs::write(&script, smoke::SMOKE_TEST_PY).unwrap();
    let code = "import json, sys\nns = {'__name__': 'smoke'}\nexec(compile(open(sys.argv[1]).read(), 'smoke_test.py', 'exec'), ns)\n\
                cases = json.loads(input())\nprint(json.dumps([ns['covering_arch'](tuple(c), a) for c, a in cases]))";
    let cases = serde_json::json!([
        [[8, 6], ["sm_50", "sm_80", "sm_86", "sm_90"]],
        [[8, 9], ["sm_80", "sm_86"]],
        [[8, 6], ["sm_80"]],
        [[12, 0], ["sm_80", "sm_90"]],
        [[12, 0], ["sm_90", "compute_90"]],
        [[8, 6], ["compute_89"]],
        [[9, 0], ["sm_90a"]],
        [[9, 1], ["sm_90a"]],
        [[10, 3], ["sm_100f"]],
        [[7, 5], ["sm_80", "sm_86"]],
        [[6, 1], ["sm_60", "compute_60"]],
        [[12, 0], []]
    ]);
    let mut child = std::process::Command::new(base_python())
        .args(["-c", code])
        .arg(&script)
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    use std::io::Write;
    child.stdin.take().unwrap().write_all(format!("{cases}\n").as_bytes()).unwrap();
    let out = child.wait_with_output().unwrap();
    let got: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(
        got,
        serde_json::json!([
            "sm_86",
            "sm_86",
            "sm_80",
            null,
            "compute_90",
            null,
            "sm_90a",
            null,
            "sm_100f",
            null,
            "sm_60",
            null
        ])
    );
}
