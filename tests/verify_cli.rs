//! `torchup verify`, `torchup doctor` and bare `torchup` without a terminal, as a user runs
//! them: the real binary, real venvs with fake torch wheels installed by real pip from the
//! local index, a simulated GPU (TORCHUP_FAKE_GPU) and a recorded nvidia-smi
//! (TORCHUP_NVIDIA_SMI), in an isolated environment.

mod support;

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use serde_json::{Value, json};
use support::env::Isolated;
use support::gpu::FakeGpu;
use support::index::IndexServer;
use support::proc::Output;
use support::python::{Venv, make_venv_fast};
use support::wheels::{Tags, WheelSpec, build_wheels};

const LIMIT: Duration = Duration::from_secs(120);

struct World {
    iso: Isolated,
    index: IndexServer,
    venv: Venv,
}

/// A venv holding `reqs` from `variant`, with the cpu/cu124 2.5.1 and cu130 2.9.1 families
/// on the local index.
fn world(variant: &str, reqs: &[&str]) -> World {
    let iso = Isolated::with_prefix("torchup verify ").unwrap();
    let tags = Tags::host().unwrap();
    for (version, v) in [("2.5.1", "cpu"), ("2.5.1", "cu124"), ("2.9.1", "cu130")] {
        build_wheels(&iso.path(format!("idx/{v}")), &WheelSpec::family(version, v, &tags)).unwrap();
    }
    let index = IndexServer::start(iso.path("idx")).unwrap();
    let venv = make_venv_fast(&iso.path("venv"), &iso).unwrap();
    venv.pip_install(&iso, &index.url(variant), reqs).unwrap().ok().unwrap();
    World { iso, index, venv }
}

/// A recorded nvidia-smi (tests/fixtures/nvidia-smi/<scenario>).
fn smi(scenario: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/nvidia-smi").join(scenario).join("nvidia-smi")
}

/// A copy of a recorded nvidia-smi with the driver version and CUDA level replaced: the same
/// laptop after a driver change.
fn smi_with_driver(iso: &Isolated, scenario: &str, from: (&str, &str), to: (&str, &str)) -> PathBuf {
    let src = smi(scenario).parent().unwrap().to_path_buf();
    let dst = iso.path(format!("smi-{}", to.0));
    std::fs::create_dir_all(&dst).unwrap();
    for entry in std::fs::read_dir(&src).unwrap() {
        let entry = entry.unwrap();
        let text = std::fs::read_to_string(entry.path()).unwrap();
        let text = text
            .replace(from.0, to.0)
            .replace(&format!("CUDA Version: {}", from.1), &format!("CUDA Version: {}", to.1));
        let path = dst.join(entry.file_name());
        std::fs::write(&path, text).unwrap();
        std::fs::set_permissions(&path, std::fs::metadata(entry.path()).unwrap().permissions()).unwrap();
    }
    dst.join("nvidia-smi")
}

/// torchup in `iso`'s environment on a simulated machine.
fn torchup(iso: &Isolated, args: &[&str], gpu: &FakeGpu, nvidia_smi: &Path) -> Output {
    let mut cmd = iso.command(env!("CARGO_BIN_EXE_torchup"));
    cmd.args(args).env("TORCHUP_FAKE_GPU", gpu.to_json()).env("TORCHUP_NVIDIA_SMI", nvidia_smi).env("NO_COLOR", "1");
    support::proc::run(&mut cmd, LIMIT).unwrap()
}

fn code(o: &Output) -> i32 {
    o.status.code().unwrap_or(-1)
}

fn doc(o: &Output) -> Value {
    serde_json::from_str(&o.stdout).unwrap_or_else(|e| panic!("not one JSON document ({e}):\n{}", o.stdout))
}

impl World {
    fn verify(&self, extra: &[&str], gpu: &FakeGpu, nvidia_smi: &Path) -> Output {
        let python = self.venv.python.display().to_string();
        let mut args = vec!["verify", "--python", &python];
        args.extend_from_slice(extra);
        torchup(&self.iso, &args, gpu, nvidia_smi)
    }

    fn history(&self) -> PathBuf {
        self.iso.state_dir().join("verify-history.jsonl")
    }
}

/// "Nothing changed since the last verify", or only the measured matmul speed moved: the
/// fake GPU's figures are timed with the wall clock, so a loaded test machine can shift one
/// past the 20 % noise threshold between two runs. Anything else that changed fails.
fn unchanged_but_for_speed(stdout: &str) -> bool {
    if stdout.contains("Nothing changed since the last verify") {
        return true;
    }
    let Some((_, after)) = stdout.split_once("Changed since the last verify") else { return false };
    let listed: Vec<&str> = after.lines().skip(1).take_while(|l| l.starts_with("  ")).collect();
    !listed.is_empty() && listed.iter().all(|l| l.contains("matmul throughput"))
}

#[test]
fn verify_json_follows_the_contract_and_says_what_changed() {
    let w = world("cu124", &["torch==2.5.1+cu124", "torchvision==0.20.1+cu124"]);
    let laptop = FakeGpu::rtx3050_laptop();
    let first = w.verify(&["--json"], &laptop, &smi("rtx3050-laptop-581"));
    assert_eq!(code(&first), 0, "{}", first.stderr);
    let d = doc(&first);
    assert_eq!(d["schema"], 1);
    assert_eq!(d["ok"], true);
    assert_eq!(d["torch"], json!({"version": "2.5.1+cu124", "cuda": "12.4"}));
    assert_eq!(d["cuda_available"], true);
    assert_eq!(
        d["devices"],
        json!([{"name": "NVIDIA GeForce RTX 3050 Laptop GPU", "memory_mib": 4096,
                "compute_capability": "8.6", "arch_supported": true}])
    );
    let checks = d["checks"].as_array().unwrap();
    assert_eq!(checks.len(), 9);
    for c in checks {
        assert!(c["name"].is_string() && c["ok"] == true && c["detail"].is_string() && c["ms"].is_number(), "{c}");
    }
    assert_eq!(d["diagnoses"], json!([]));
    assert_eq!(d["changes"], json!([]));
    assert_eq!(d["driver"]["version"], "581.29");
    assert_eq!(d["history_file"], w.history().display().to_string());

    // Later: torch upgraded to a cu130 build (real pip replaces the family), and an older
    // OEM driver (CUDA 12.9) installed. cu130 needs a CUDA 13 driver.
    w.venv
        .pip_install(&w.iso, &w.index.url("cu130"), &["torch==2.9.1+cu130", "torchvision==0.24.1+cu130"])
        .unwrap()
        .ok()
        .unwrap();
    let old_driver = smi_with_driver(&w.iso, "rtx3050-laptop-581", ("581.29", "13.0"), ("575.64", "12.9"));
    let second = w.verify(&["--json"], &laptop.clone().driver(Some("12.9")), &old_driver);
    assert_eq!(code(&second), 1, "CUDA does not work: exit 1\n{}", second.stderr);
    let d = doc(&second);
    assert_eq!(d["ok"], false);
    let changes = d["changes"].as_array().unwrap();
    for want in [
        json!({"what": "driver", "from": "581.29", "to": "575.64", "from_cuda": "13.0", "to_cuda": "12.9"}),
        json!({"what": "torch", "from": "2.5.1+cu124", "to": "2.9.1+cu130", "from_cuda": "12.4", "to_cuda": "13.0"}),
        json!({"what": "cuda", "from_ok": true, "to_ok": false}),
    ] {
        assert!(changes.contains(&want), "missing {want} in {changes:?}");
    }
    let ids: Vec<&str> = d["diagnoses"].as_array().unwrap().iter().filter_map(|x| x["id"].as_str()).collect();
    assert!(ids.contains(&"F09"), "driver too old for the build: {ids:?}");
    assert!(d["previous_at"].is_string());
    assert_eq!(std::fs::read_to_string(w.history()).unwrap().lines().count(), 2);
}

#[test]
fn one_venv_many_views() {
    let w = world("cu124", &["torch==2.5.1+cu124", "torchvision==0.20.1+cu124"]);
    let laptop = FakeGpu::rtx3050_laptop();
    let smi = smi("rtx3050-laptop-581");

    // verify, human: the guide's lines, the checks, the verdict, no colour into a pipe.
    let out = w.verify(&[], &laptop, &smi);
    assert_eq!(code(&out), 0, "{}", out.stderr);
    let guide = "PyTorch version: 2.5.1+cu124\nCUDA available: True\nCUDA version: 12.4\n\
                 GPU Name: NVIDIA GeForce RTX 3050 Laptop GPU\nGPU Memory: 4.0 GB\nGPU computation test: PASSED\n";
    assert!(out.stdout.contains(guide), "{}", out.stdout);
    assert!(out.stdout.contains("  ✓ import torch") && out.stdout.contains("  ✓ GPU matmul vs CPU"));
    assert!(out.stdout.contains("Speed: the GPU is "), "{}", out.stdout);
    assert!(out.stdout.contains("First saved verify for this interpreter"), "{}", out.stdout);
    let last = out.stdout.trim_end().lines().last().unwrap_or_default();
    assert!(last.starts_with("Result: CUDA works: torch ") && last.ends_with("GPU."), "{}", out.stdout);
    assert!(!out.stdout.contains("\x1b["));
    let again = w.verify(&[], &laptop, &smi);
    assert!(unchanged_but_for_speed(&again.stdout), "{}", again.stdout);

    // doctor --json: facts from the recorded nvidia-smi, the smoke result, the CUDA stack.
    let python = w.venv.python.display().to_string();
    let saved = std::fs::read_to_string(w.history()).unwrap();
    let out = torchup(&w.iso, &["doctor", "--json", "--python", &python], &laptop, &smi);
    assert_eq!(code(&out), 0, "{}", out.stderr);
    let d = doc(&out);
    assert_eq!(d["schema"], 1);
    assert_eq!(d["torchup_version"], env!("CARGO_PKG_VERSION"));
    assert_eq!(d["build"]["version"], env!("CARGO_PKG_VERSION"));
    assert_eq!(d["build"]["data_version"], torchup::build_info::DATA_VERSION);
    assert_eq!(d["build"]["commit"], torchup::build_info::GIT_COMMIT);
    assert_eq!(d["facts"]["os"], "linux");
    assert_eq!(d["facts"]["driver"]["version"], "581.29");
    assert_eq!(d["facts"]["gpus"][0]["memory_mib"], 4096);
    assert_eq!(d["facts"]["python"]["env"], "venv");
    assert!(d["facts"]["python"]["chosen_because"].as_str().unwrap().starts_with("--python"));
    assert_eq!(d["facts"]["torch"]["torchvision"], "0.20.1+cu124");
    assert_eq!(d["verify"]["ok"], true);
    assert_eq!(d["cuda_stack"]["driver_cuda"], "13.0");
    assert_eq!(d["cuda_stack"]["wheel_cuda"], "12.4");
    assert_eq!(d["cuda_stack"]["driver_runs_wheel"], true);
    assert_eq!(d["cuda_stack"]["gpus"][0]["in_arch_list"], true);
    let changes: Vec<&Value> = d["changes"].as_array().unwrap().iter().filter(|c| c["what"] != "throughput").collect();
    assert!(changes.is_empty(), "compared with the last verify: {changes:?}");
    assert_eq!(std::fs::read_to_string(w.history()).unwrap(), saved, "doctor does not write the history");

    // doctor, human: markdown for a bug report.
    let out = torchup(&w.iso, &["doctor", "--python", &python], &laptop, &smi);
    assert_eq!(code(&out), 0, "{}", out.stderr);
    for want in [
        "## torchup doctor report",
        "- Driver 581.29 · supports CUDA ≤ 13.0",
        "### CUDA stack",
        "| torch wheel's CUDA runtime | 12.4 (bundled in the wheel) |",
        "| driver runs the wheel's CUDA | yes |",
        "| GPU 0 NVIDIA GeForce RTX 3050 Laptop GPU | sm_86, covered |",
        "(not used by pip/conda wheels)",
        "GPU computation test: PASSED",
        "### Diagnoses",
    ] {
        assert!(out.stdout.contains(want), "missing {want:?} in\n{}", out.stdout);
    }

    // Bare torchup without a terminal: the doctor report and how to go on.
    let out = torchup(&w.iso, &["--python", &python], &laptop, &smi);
    assert_eq!(code(&out), 0, "{}", out.stderr);
    assert!(out.stdout.contains("## torchup doctor report"), "{}", out.stdout);
    assert!(out.stdout.contains("`torchup install --yes`") && out.stdout.contains("`torchup plan`"));

    // Without --python: the first python3 on PATH (here the venv's).
    let bin = w.venv.python.parent().unwrap().to_path_buf();
    let mut cmd = w.iso.command(env!("CARGO_BIN_EXE_torchup"));
    cmd.args(["verify", "--json"]).env("PATH", format!("{}:/usr/bin:/bin", bin.display()));
    cmd.env("TORCHUP_FAKE_GPU", laptop.to_json()).env("TORCHUP_NVIDIA_SMI", &smi);
    let out = support::proc::run(&mut cmd, LIMIT).unwrap();
    assert_eq!(code(&out), 0, "{}", out.stderr);
    assert!(Path::new(doc(&out)["interpreter"].as_str().unwrap()).starts_with(&bin));

    // An unwritable state directory: the result is still reported.
    let blocker = w.iso.path("a-file");
    std::fs::write(&blocker, "").unwrap();
    let mut cmd = w.iso.command(env!("CARGO_BIN_EXE_torchup"));
    cmd.args(["verify", "--json", "--python", &python]).env("TORCHUP_STATE_DIR", blocker.join("state"));
    cmd.env("TORCHUP_FAKE_GPU", laptop.to_json()).env("TORCHUP_NVIDIA_SMI", &smi);
    let out = support::proc::run(&mut cmd, LIMIT).unwrap();
    assert_eq!(code(&out), 0);
    assert_eq!(doc(&out)["history_file"], Value::Null);
    assert!(out.stderr.contains("the result was not saved"), "{}", out.stderr);
}

#[test]
fn a_cpu_build_fails_verify_and_doctor_says_why() {
    let w = world("cpu", &["torch==2.5.1+cpu", "torchvision==0.20.1+cpu"]);
    let laptop = FakeGpu::rtx3050_laptop();
    let smi = smi("rtx3050-laptop-581");
    let out = w.verify(&["--json"], &laptop, &smi);
    assert_eq!(code(&out), 1);
    let d = doc(&out);
    assert_eq!(
        (d["ok"].clone(), d["cuda_available"].clone(), d["torch"]["cuda"].clone()),
        (json!(false), json!(false), Value::Null)
    );
    let ids: Vec<&str> = d["diagnoses"].as_array().unwrap().iter().filter_map(|x| x["id"].as_str()).collect();
    assert_eq!(ids, ["F01"], "{}", d["diagnoses"]);

    let human = w.verify(&[], &laptop, &smi);
    assert!(human.stdout.contains("CUDA available: False\nCUDA version: None\nGPU not detected!"), "{}", human.stdout);
    assert!(human.stdout.contains("[F01] "), "{}", human.stdout);
    assert!(human.stdout.contains("Result: CUDA does not work. First failure: CUDA build: CPU-only build"));

    let python = w.venv.python.display().to_string();
    let out = torchup(&w.iso, &["doctor", "--python", &python], &laptop, &smi);
    assert_eq!(code(&out), 0, "doctor is a report: {}", out.stderr);
    assert!(out.stdout.contains("| torch wheel's CUDA runtime | none: CPU-only build |"), "{}", out.stdout);
    assert!(out.stdout.contains("- **F01** "), "{}", out.stdout);
}

#[test]
fn unusable_interpreters_are_one_line_errors_with_the_right_exit_code() {
    let iso = Isolated::new().unwrap();
    let gpu = FakeGpu::rtx3050_laptop();
    let smi = smi("rtx3050-laptop-581");

    let out = torchup(&iso, &["verify", "--python", "/nonexistent/python"], &gpu, &smi);
    assert_eq!(code(&out), 2);
    assert_eq!(out.stderr.trim().lines().count(), 1, "{}", out.stderr);
    assert!(out.stderr.contains("--python /nonexistent/python: no such file"), "{}", out.stderr);

    #[cfg(unix)]
    {
        let out = torchup(&iso, &["verify", "--python", "/bin/false"], &gpu, &smi);
        assert_eq!(code(&out), 3, "{}", out.stderr);
        assert!(out.stderr.contains("did not run the smoke test"), "{}", out.stderr);
    }

    // No Python on PATH at all: only the two tools the recorded nvidia-smi script uses.
    let empty = iso.path("tools-only");
    std::fs::create_dir_all(&empty).unwrap();
    #[cfg(unix)]
    for tool in ["dirname", "cat"] {
        std::os::unix::fs::symlink(which::which(tool).unwrap(), empty.join(tool)).unwrap();
    }
    let run_empty = |args: &[&str]| {
        let mut cmd: Command = iso.command(env!("CARGO_BIN_EXE_torchup"));
        cmd.args(args).env("PATH", &empty).env("TORCHUP_NVIDIA_SMI", &smi).env("NO_COLOR", "1");
        support::proc::run(&mut cmd, LIMIT).unwrap()
    };
    let out = run_empty(&["verify", "--json"]);
    assert_eq!(code(&out), 3);
    assert!(out.stderr.contains("no working Python found"), "{}", out.stderr);
    assert!(out.stdout.is_empty());

    // doctor still describes the machine, and exits 3.
    let out = run_empty(&["doctor"]);
    assert_eq!(code(&out), 3);
    assert!(out.stdout.contains("- No usable Python interpreter"), "{}", out.stdout);
    assert!(out.stdout.contains("NVIDIA GeForce RTX 3050 Laptop GPU"), "GPU facts still there: {}", out.stdout);
}
