//! `torchup verify`, `torchup doctor` and bare `torchup` without a terminal, as a user runs
//! them: the real binary, a real temp venv, the fake torch, an isolated environment.

mod smoke_fake;

use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value;
use smoke_fake::{FakeEnv, RTX_3050_LAPTOP};

struct Case {
    env: FakeEnv,
    state: PathBuf,
}

impl Case {
    fn new() -> Case {
        let env = FakeEnv::new();
        let state = env.path().join("state");
        Case { env, state }
    }

    fn history(&self) -> PathBuf {
        self.state.join("verify-history.jsonl")
    }

    /// Run torchup with a clean environment: the fake torch behaves as `spec`, PATH is `path`.
    fn run(&self, args: &[&str], spec: Option<&str>, path: &str) -> Output {
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_torchup"));
        cmd.args(args)
            .env_clear()
            .env("PATH", path)
            .env("TORCHUP_STATE_DIR", &self.state)
            .env("TORCHUP_CACHE_DIR", self.env.path().join("cache"));
        cmd.env("NO_COLOR", "1").env("TORCHUP_NVIDIA_SMI", self.env.path().join("no-nvidia-smi"));
        for (k, v) in self.env.env(spec) {
            if let Some(v) = v {
                cmd.env(k, v);
            }
        }
        run_bounded(cmd)
    }

    fn verify(&self, extra: &[&str], spec: Option<&str>) -> Output {
        let python = self.env.python.display().to_string();
        let mut args = vec!["verify", "--python", &python];
        args.extend_from_slice(extra);
        self.run(&args, spec, "/usr/bin:/bin")
    }
}

fn run_bounded(mut cmd: Command) -> Output {
    let mut child = cmd.stdin(Stdio::null()).stdout(Stdio::piped()).stderr(Stdio::piped()).spawn().unwrap();
    let started = Instant::now();
    loop {
        if child.try_wait().unwrap().is_some() {
            return child.wait_with_output().unwrap();
        }
        if started.elapsed() > Duration::from_secs(90) {
            let _ = child.kill();
            panic!("torchup did not finish in 90 s");
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

fn code(o: &Output) -> i32 {
    o.status.code().unwrap_or(-1)
}

fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

fn json(o: &Output) -> Value {
    serde_json::from_slice(&o.stdout).unwrap_or_else(|e| panic!("not one JSON document ({e}):\n{}", stdout(o)))
}

fn working_spec() -> String {
    format!(r#"{{"devices": [{RTX_3050_LAPTOP}]}}"#)
}

#[test]
fn verify_json_follows_the_contract_and_reports_changes() {
    let case = Case::new();
    let first = case.verify(&["--json"], Some(&working_spec()));
    assert_eq!(code(&first), 0, "{}", stderr(&first));
    let doc = json(&first);
    assert_eq!(doc["schema"], 1);
    assert_eq!(doc["ok"], true);
    assert_eq!(doc["torch"], serde_json::json!({"version": "2.5.1+cu124", "cuda": "12.4"}));
    assert_eq!(doc["cuda_available"], true);
    assert_eq!(
        doc["devices"],
        serde_json::json!([{"name": "NVIDIA GeForce RTX 3050 Laptop GPU", "memory_mib": 4095,
                            "compute_capability": "8.6", "arch_supported": true}])
    );
    let checks = doc["checks"].as_array().unwrap();
    assert_eq!(checks.len(), 9);
    for c in checks {
        assert!(c["name"].is_string() && c["ok"].is_boolean() && c["detail"].is_string() && c["ms"].is_number(), "{c}");
    }
    assert_eq!(doc["diagnoses"], serde_json::json!([]));
    assert_eq!(doc["changes"], serde_json::json!([]));
    assert_eq!(doc["previous_at"], Value::Null);
    assert_eq!(doc["history_file"], case.history().display().to_string());

    // Later torch was "upgraded" to a build without kernels for this GPU.
    let broken = format!(
        r#"{{"version": "2.9.1+cu130", "cuda": "13.0", "devices": [{RTX_3050_LAPTOP}],
            "kernel_error": "CUDA error: no kernel image is available for execution on the device"}}"#
    );
    let second = case.verify(&["--json"], Some(&broken));
    assert_eq!(code(&second), 1, "CUDA does not work: exit 1");
    let doc = json(&second);
    assert_eq!(doc["ok"], false);
    let changes = doc["changes"].as_array().unwrap();
    assert!(
        changes.contains(&serde_json::json!({"what": "torch", "from": "2.5.1+cu124", "to": "2.9.1+cu130",
                                             "from_cuda": "12.4", "to_cuda": "13.0"})),
        "{changes:?}"
    );
    assert!(changes.contains(&serde_json::json!({"what": "cuda", "from_ok": true, "to_ok": false})), "{changes:?}");
    assert!(doc["previous_at"].is_string());
    let saved = std::fs::read_to_string(case.history()).unwrap();
    assert_eq!(saved.lines().count(), 2);
}

#[test]
fn verify_prints_the_guides_lines_then_the_checks() {
    let case = Case::new();
    // Steady matmul costs: the fake's bare arithmetic is too fast to time reproducibly.
    let spec = format!(r#"{{"devices": [{RTX_3050_LAPTOP}], "matmul_ms": {{"cpu": 20, "cuda": 2}}}}"#);
    let out = case.verify(&[], Some(&spec));
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    let text = stdout(&out);
    let guide = "PyTorch version: 2.5.1+cu124\nCUDA available: True\nCUDA version: 12.4\n\
                 GPU Name: NVIDIA GeForce RTX 3050 Laptop GPU\nGPU Memory: 4.0 GB\nGPU computation test: PASSED\n";
    assert!(text.contains(guide), "{text}");
    assert!(text.contains("  ✓ import torch") && text.contains("  ✓ GPU matmul vs CPU"), "{text}");
    assert!(text.contains("First saved verify for this interpreter"), "{text}");
    assert!(text.trim_end().ends_with("Result: CUDA works."), "{text}");
    assert!(!text.contains("\x1b["), "NO_COLOR and a pipe: no escape codes");

    assert!(text.contains("Speed: the GPU is "), "{text}");
    let again = case.verify(&[], Some(&spec));
    assert!(stdout(&again).contains("Nothing changed since the last verify"), "{}", stdout(&again));
}

#[test]
fn verify_fails_on_a_cpu_build() {
    let case = Case::new();
    let out = case.verify(&["--json"], Some(r#"{"version": "2.5.1+cpu", "cuda": null}"#));
    assert_eq!(code(&out), 1);
    let doc = json(&out);
    assert_eq!(doc["ok"], false);
    assert_eq!(doc["cuda_available"], false);
    assert_eq!(doc["torch"]["cuda"], Value::Null);
    let human = case.verify(&[], Some(r#"{"version": "2.5.1+cpu", "cuda": null}"#));
    assert!(stdout(&human).contains("CUDA available: False\nCUDA version: None\nGPU not detected!"));
    assert!(stdout(&human).contains("Result: CUDA does not work. First failure: CUDA build: CPU-only build"));
}

#[test]
fn bad_interpreters_are_one_line_errors_with_the_right_exit_code() {
    let case = Case::new();
    let out = case.run(&["verify", "--python", "/nonexistent/python"], None, "/usr/bin:/bin");
    assert_eq!(code(&out), 2);
    let err = stderr(&out);
    assert_eq!(err.trim().lines().count(), 1, "{err}");
    assert!(err.contains("--python /nonexistent/python: no such interpreter"), "{err}");

    let empty = case.env.path().join("empty-path");
    std::fs::create_dir_all(&empty).unwrap();
    let out = case.run(&["verify", "--json"], None, empty.to_str().unwrap());
    assert_eq!(code(&out), 3);
    assert!(stderr(&out).contains("no Python found on PATH"), "{}", stderr(&out));
    assert!(out.stdout.is_empty());

    #[cfg(unix)]
    {
        let out = case.run(&["verify", "--python", "/bin/false"], None, "/usr/bin:/bin");
        assert_eq!(code(&out), 3, "{}", stderr(&out));
        assert!(stderr(&out).contains("did not run the smoke test"), "{}", stderr(&out));
    }
}

#[test]
fn verify_still_reports_when_the_history_cannot_be_saved() {
    let mut case = Case::new();
    let blocker = case.env.path().join("a-file");
    std::fs::write(&blocker, "").unwrap();
    case.state = blocker.join("state");
    let out = case.verify(&["--json"], Some(&working_spec()));
    assert_eq!(code(&out), 0);
    assert_eq!(json(&out)["history_file"], Value::Null);
    assert!(stderr(&out).contains("the result was not saved"), "{}", stderr(&out));
}

#[test]
fn doctor_json_has_facts_verify_and_the_cuda_stack() {
    let case = Case::new();
    let python = case.env.python.display().to_string();
    let out = case.run(&["doctor", "--json", "--python", &python], Some(&working_spec()), "/usr/bin:/bin");
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    let doc = json(&out);
    assert_eq!(doc["schema"], 1);
    assert_eq!(doc["torchup_version"], env!("CARGO_PKG_VERSION"));
    assert_eq!(doc["facts"]["os"], "linux");
    assert_eq!(doc["facts"]["python"]["env"], "venv");
    assert_eq!(doc["facts"]["python"]["chosen_because"], "--python");
    assert_eq!(doc["facts"]["torch"]["version"], "2.5.1+cu124");
    assert_eq!(doc["verify"]["ok"], true);
    assert_eq!(doc["cuda_stack"]["wheel_cuda"], "12.4");
    assert_eq!(doc["cuda_stack"]["arch_list"].as_array().unwrap().len(), 8);
    assert_eq!(doc["cuda_stack"]["gpus"][0]["in_arch_list"], true);
    assert!(!case.history().exists(), "doctor does not write the verify history");
}

#[test]
fn doctor_prints_markdown_for_a_bug_report() {
    let case = Case::new();
    let python = case.env.python.display().to_string();
    let out = case.run(&["doctor", "--python", &python], Some(&working_spec()), "/usr/bin:/bin");
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    let text = stdout(&out);
    for want in [
        "## torchup doctor report",
        "### CUDA stack",
        "| torch wheel's CUDA runtime | 12.4 (bundled in the wheel) |",
        "| GPU 0 NVIDIA GeForce RTX 3050 Laptop GPU | sm_86, covered |",
        "(not used by pip/conda wheels)",
        "GPU computation test: PASSED",
    ] {
        assert!(text.contains(want), "missing {want:?} in\n{text}");
    }
}

#[test]
fn doctor_without_python_still_reports_and_exits_3() {
    let case = Case::new();
    let empty = case.env.path().join("empty-path");
    std::fs::create_dir_all(&empty).unwrap();
    let out = case.run(&["doctor"], None, empty.to_str().unwrap());
    assert_eq!(code(&out), 3);
    let text = stdout(&out);
    assert!(text.contains("- No usable Python interpreter"), "{text}");
    assert!(text.contains("no Python found on PATH"), "{text}");
}

#[test]
fn bare_torchup_without_a_terminal_prints_the_doctor_report_and_how_to_go_on() {
    let case = Case::new();
    let python = case.env.python.display().to_string();
    let out = case.run(&["--python", &python], Some(&working_spec()), "/usr/bin:/bin");
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    let text = stdout(&out);
    assert!(text.contains("## torchup doctor report"), "{text}");
    assert!(text.contains("`torchup install --yes`") && text.contains("`torchup plan`"), "{text}");
}

#[test]
fn the_interpreter_from_path_is_used_without_python_flag() {
    let case = Case::new();
    // A PATH whose python3 is the venv's: the fallback finds it.
    let bin = case.env.python.parent().unwrap().to_path_buf();
    let out = case.run(&["verify", "--json"], Some(&working_spec()), &format!("{}:/usr/bin:/bin", bin.display()));
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    let doc = json(&out);
    assert!(Path::new(doc["interpreter"].as_str().unwrap()).starts_with(&bin), "{}", doc["interpreter"]);
}
