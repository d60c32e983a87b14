//! The real-wheel tier: torchup against a REAL torch 2.5.1 (the CUDA 12.4 build on PyPI, with
//! its nvidia-* wheels) on this GPU-less machine, not the test kit's fake.
//!
//! Every test is `#[ignore]`: the venv is a ~2.8 GB download. `scripts/real_torch.sh` creates
//! it once under a cache path and runs `cargo test --test real_torch -- --ignored` with
//!   TORCHUP_REAL_TORCH_VENV       the cached torch 2.5.1 venv
//!   TORCHUP_REAL_TORCH_WORK       where broken copies go (same filesystem: hard links)
//!   TORCHUP_REAL_TORCH_2130_VENV  optional: a torch 2.13.0 (+cu130) venv, for cuSPARSELt and
//!                                 the cuDNN incompatibility (set when the script made it)
//! Broken variants are `cp -al` copies of the venv with one `nvidia/*` folder removed: no
//! second download, and the cached venv is never changed.

mod support;

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use serde_json::Value;
use support::env::Isolated;
use support::proc::Output;
use torchup::diagnose::{OsContext, TextSource, diagnose_text};
use torchup::exec::TokioRunner;
use torchup::smoke::{self, SmokeReport};

/// Real torch imports in 2-30 s depending on the disk cache and the machine's load.
const LIMIT: Duration = Duration::from_secs(300);

fn venv_from(var: &str) -> Option<PathBuf> {
    let dir = PathBuf::from(std::env::var_os(var)?);
    dir.join("bin/python").exists().then_some(dir)
}

fn real_venv() -> PathBuf {
    venv_from("TORCHUP_REAL_TORCH_VENV")
        .unwrap_or_else(|| panic!("TORCHUP_REAL_TORCH_VENV is not a venv: run this tier with scripts/real_torch.sh"))
}

fn work_dir() -> PathBuf {
    let dir = std::env::var_os("TORCHUP_REAL_TORCH_WORK")
        .map(PathBuf::from)
        .unwrap_or_else(|| real_venv().parent().expect("the venv has a parent").join("work"));
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// The site-packages of a venv (the tier's venvs are made by the script's Python 3).
fn site(venv: &Path) -> PathBuf {
    let lib = venv.join("lib");
    let py = std::fs::read_dir(&lib)
        .unwrap()
        .filter_map(|e| e.ok())
        .find(|e| e.file_name().to_string_lossy().starts_with("python3"))
        .unwrap_or_else(|| panic!("no python3.* in {}", lib.display()));
    py.path().join("site-packages")
}

/// A hard-linked copy of `venv` (`cp -al`), removed when dropped.
struct VenvCopy {
    dir: PathBuf,
}

impl VenvCopy {
    fn of(venv: &Path, name: &str) -> VenvCopy {
        let dir = work_dir().join(format!("{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        let st = Command::new("cp").arg("-al").arg(venv).arg(&dir).status().unwrap();
        assert!(st.success(), "cp -al {} {}", venv.display(), dir.display());
        VenvCopy { dir }
    }

    fn python(&self) -> PathBuf {
        self.dir.join("bin/python")
    }

    /// Remove `nvidia/<name>` (unlinks only this copy's names; the cached venv keeps its files).
    fn remove_nvidia(&self, name: &str) -> &VenvCopy {
        let path = site(&self.dir).join("nvidia").join(name);
        assert!(path.exists(), "{} is not in this venv", path.display());
        std::fs::remove_dir_all(&path).unwrap();
        self
    }
}

impl Drop for VenvCopy {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

fn torchup(iso: &Isolated, args: &[&str]) -> Output {
    let mut cmd = iso.command(env!("CARGO_BIN_EXE_torchup"));
    cmd.args(args).env("NO_COLOR", "1");
    support::proc::run(&mut cmd, LIMIT).unwrap()
}

fn code(o: &Output) -> i32 {
    o.status.code().unwrap_or(-1)
}

fn doc(o: &Output) -> Value {
    serde_json::from_str(&o.stdout)
        .unwrap_or_else(|e| panic!("not one JSON document ({e}):\n{}\n{}", o.stdout, o.stderr))
}

fn names(d: &Value) -> Vec<String> {
    d["checks"].as_array().unwrap().iter().map(|c| c["name"].as_str().unwrap().to_string()).collect()
}

fn diagnosis_ids(d: &Value) -> Vec<String> {
    d["diagnoses"].as_array().unwrap().iter().map(|x| x["id"].as_str().unwrap().to_string()).collect()
}

#[test]
#[ignore = "real torch: run scripts/real_torch.sh"]
fn detect_reads_the_real_build() {
    let venv = real_venv();
    let iso = Isolated::with_prefix("torchup real ").unwrap();
    let python = venv.join("bin/python").display().to_string();
    let out = torchup(&iso, &["detect", "--json", "--python", &python]);
    assert_eq!(code(&out), 0, "{}", out.stderr);
    let d = doc(&out);
    assert_eq!(d["torch"]["version"], "2.5.1+cu124", "{d:#}");
    assert_eq!(d["torch"]["cuda"], "12.4");
    assert_eq!(d["python"]["env"], "venv");
    assert_eq!(d["gpus"], serde_json::json!([]), "no GPU on this machine");
}

/// The script itself, by hand, against real torch: the CUDA build is there, CUDA is not
/// available (no driver), and the CPU figure is measured anyway.
#[test]
#[ignore = "real torch: run scripts/real_torch.sh"]
fn the_smoke_script_against_real_torch_without_a_gpu() {
    let venv = real_venv();
    let iso = Isolated::with_prefix("torchup real ").unwrap();
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("assets/smoke_test.py");
    let mut cmd = iso.command(venv.join("bin/python"));
    cmd.arg(&script);
    let out = support::proc::run(&mut cmd, LIMIT).unwrap();
    assert!(out.success(), "{}", out.stderr);
    let d: Value = serde_json::from_str(&out.stdout).unwrap();
    assert_eq!(d["schema"], 1);
    assert_eq!(d["ok"], false);
    assert_eq!(d["torch"]["version"], "2.5.1+cu124");
    assert_eq!(d["torch"]["cuda"], "12.4");
    assert_eq!(d["torch_importable"], true);
    assert_eq!(d["cuda_available"], false);
    assert_eq!(names(&d), ["import_torch", "cuda_build", "cuda_available"]);
    let oks: Vec<bool> = d["checks"].as_array().unwrap().iter().map(|c| c["ok"].as_bool().unwrap()).collect();
    assert_eq!(oks, [true, true, false]);
    assert_eq!(d["checks"][1]["detail"], "built for CUDA 12.4 (the runtime ships inside the wheel)");
    assert_eq!(d["checks"][2]["detail"], "torch.cuda.is_available() = False");
    let cpu = d["cpu_gflops"].as_f64().unwrap_or_else(|| panic!("a CPU figure: {d:#}"));
    assert!(cpu > 0.5, "fp32 1024x1024 matmul on the CPU: {cpu} GFLOP/s");
    assert_eq!(d["gpu_gflops"], Value::Null);
    // Real torch warns about numpy in a fresh venv; the raw document keeps it as a warning
    // (torchup turns it into a note).
    let w = d["warnings"].as_array().unwrap();
    assert!(
        w.iter().any(|w| w
            .as_str()
            .unwrap()
            .starts_with("UserWarning: Failed to initialize NumPy: No module named 'numpy'")),
        "{w:?}"
    );
    eprintln!("real torch 2.5.1, no GPU: CPU {cpu} GFLOP/s, script {} ms", d["total_ms"]);
}

/// `verify` and `doctor` on real torch, then the same venv with cuDNN removed: the history
/// says "installed, does not import" and the missing wheel is named.
#[test]
#[ignore = "real torch: run scripts/real_torch.sh"]
fn verify_doctor_and_history_on_real_torch() {
    let copy = VenvCopy::of(&real_venv(), "verify");
    let iso = Isolated::with_prefix("torchup real ").unwrap();
    let python = copy.python().display().to_string();

    let start = Instant::now();
    let out = torchup(&iso, &["verify", "--json", "--python", &python]);
    let verify_time = start.elapsed();
    assert_eq!(code(&out), 1, "no GPU: verify fails: {}", out.stderr);
    let d = doc(&out);
    assert_eq!(d["ok"], false);
    assert_eq!(d["torch"]["version"], "2.5.1+cu124");
    assert_eq!(d["torch"]["cuda"], "12.4");
    assert_eq!(d["cuda_available"], false);
    assert_eq!(names(&d), ["import_torch", "cuda_build", "cuda_available"]);
    assert_eq!(diagnosis_ids(&d), ["F08"], "the driver diagnosis: {:#}", d["diagnoses"]);
    assert!(d["cpu_gflops"].as_f64().is_some_and(|g| g > 0.0), "{d:#}");
    // numpy absent: a note, not a warning, not a diagnosis.
    assert_eq!(d["notes"], serde_json::json!([smoke::notes::NUMPY_ABSENT]));
    assert!(!d["warnings"].as_array().unwrap().iter().any(|w| w.as_str().unwrap().contains("NumPy")), "{d:#}");

    // doctor: a report (exit 0) with the same smoke result and the CUDA stack.
    let start = Instant::now();
    let out = torchup(&iso, &["doctor", "--json", "--python", &python]);
    let doctor_time = start.elapsed();
    assert_eq!(code(&out), 0, "{}", out.stderr);
    let d = doc(&out);
    assert_eq!(d["facts"]["torch"]["version"], "2.5.1+cu124");
    assert_eq!(d["verify"]["torch"]["cuda"], "12.4");
    assert_eq!(d["cuda_stack"]["wheel_cuda"], "12.4");
    assert!(diagnosis_ids(&d).contains(&"F08".to_string()), "{:#}", d["diagnoses"]);

    // What collect_env costs with the same interpreter (doctor's budget is about that).
    let start = Instant::now();
    let mut cmd = iso.command(copy.python());
    cmd.args(["-m", "torch.utils.collect_env"]);
    let env_out = support::proc::run(&mut cmd, LIMIT).unwrap();
    let collect_env_time = start.elapsed();
    assert!(env_out.stdout.contains("PyTorch version: 2.5.1+cu124"), "{}", env_out.stdout);
    eprintln!(
        "real torch 2.5.1: verify {:.1} s, doctor {:.1} s, python -m torch.utils.collect_env {:.1} s",
        verify_time.as_secs_f64(),
        doctor_time.as_secs_f64(),
        collect_env_time.as_secs_f64()
    );

    // The same interpreter after its cuDNN wheel's files went missing. The human view first:
    // what changed since the working run, in words.
    copy.remove_nvidia("cudnn");
    let out = torchup(&iso, &["verify", "--python", &python]);
    assert_eq!(code(&out), 1, "{}", out.stderr);
    assert!(out.stdout.contains("PyTorch version: 2.5.1+cu124 (installed, cannot be imported)"), "{}", out.stdout);
    assert!(out.stdout.contains("torch 2.5.1+cu124 → 2.5.1+cu124 (installed, does not import)"), "{}", out.stdout);
    assert!(out.stdout.contains("[L01] torch cannot load libcudnn.so.9"), "{}", out.stdout);

    // The JSON document of the same state: the wheel is named; nothing changed since.
    let out = torchup(&iso, &["verify", "--json", "--python", &python]);
    assert_eq!(code(&out), 1, "{}", out.stderr);
    let d = doc(&out);
    assert_eq!(d["torch_importable"], false);
    assert_eq!(d["torch_installed"], "2.5.1+cu124");
    assert!(
        d["import_error"]
            .as_str()
            .unwrap()
            .ends_with("ImportError: libcudnn.so.9: cannot open shared object file: No such file or directory"),
        "{}",
        d["import_error"]
    );
    assert_eq!(diagnosis_ids(&d), ["L01"], "{:#}", d["diagnoses"]);
    let fix = d["diagnoses"][0]["fix"].as_str().unwrap();
    assert!(fix.contains("--force-reinstall --no-deps \"nvidia-cudnn-cu12==9.1.0.70\""), "{fix}");
    assert_eq!(d["changes"], serde_json::json!([]), "the broken state was saved by the run before");
}

/// One library family removed at a time from hard-linked copies; each real import error is
/// diagnosed with the wheel torch's Requires-Dist names.
#[tokio::test]
#[ignore = "real torch: run scripts/real_torch.sh"]
async fn missing_cuda_libraries_on_real_imports() {
    let venv = real_venv();
    let cases: &[(&[&str], &str, &str)] = &[
        (&["cudnn"], "libcudnn.so.9", "nvidia-cudnn-cu12==9.1.0.70"),
        (&["nvjitlink"], "libnvJitLink.so.12", "nvidia-nvjitlink-cu12==12.4.127"),
        (&["cuda_runtime"], "libcudart.so.*[0-9]", "nvidia-cuda-runtime-cu12==12.4.127"),
        (&["cublas", "cuda_runtime"], "libcublas.so.*[0-9]", "nvidia-cublas-cu12==12.4.5.8"),
        (&["cusparse"], "libcusparse.so.12", "nvidia-cusparse-cu12==12.3.1.170"),
    ];
    let mut all = vec![];
    for (removed, lib, pin) in cases {
        all.push(check_missing(&venv, removed, lib, pin, "2.5.1+cu124").await);
    }
    if let Some(v2130) = venv_from("TORCHUP_REAL_TORCH_2130_VENV") {
        all.push(
            check_missing(
                &v2130,
                &["cusparselt"],
                "libcusparseLt.so.0",
                "nvidia-cusparselt-cu13==0.8.1",
                "2.13.0+cu130",
            )
            .await,
        );
        all.push(
            check_missing(&v2130, &["cu13"], "libcublasLt.so.*[0-9]", "cuda-toolkit[cublas]==13.0.3", "2.13.0+cu130")
                .await,
        );
    } else {
        eprintln!(
            "NOTE: TORCHUP_REAL_TORCH_2130_VENV not set: the torch 2.13.0 cases (cuSPARSELt, cuda-toolkit) were not run"
        );
    }
    eprintln!("{}", all.join("\n"));
}

async fn check_missing(venv: &Path, removed: &[&str], lib: &str, pin: &str, installed: &str) -> String {
    let copy = VenvCopy::of(venv, &format!("no-{}", removed.join("-")));
    for r in removed {
        copy.remove_nvidia(r);
    }
    let iso = Isolated::with_prefix("torchup real ").unwrap();
    let mut report: SmokeReport = smoke::run(&copy.python(), &iso.envs(), &TokioRunner, LIMIT).await.unwrap();
    assert!(!report.torch_importable, "{removed:?}: {:#?}", report.checks);
    assert_eq!(report.torch_installed.as_deref(), Some(installed));
    let err = report.import_error.clone().unwrap_or_default();
    assert!(err.contains(lib), "{removed:?}: {err}");
    let ctx = OsContext::linux().with_python(copy.python().display().to_string());
    smoke::diagnoses::attach(&mut report, &ctx);
    let ids: Vec<&str> = report.diagnoses.iter().map(|d| d.id.as_str()).collect();
    assert_eq!(ids, ["L01"], "{removed:?}: {err}");
    assert!(report.diagnoses[0].title.contains(lib), "{}", report.diagnoses[0].title);
    assert!(report.diagnoses[0].fix.contains(&format!("\"{pin}\"")), "{removed:?}: {}", report.diagnoses[0].fix);
    format!("{removed:?} → {} → {pin}", err.lines().last().unwrap_or_default())
}

/// torch 2.13.0 built against cuDNN 9.20 loading torch 2.5.1's cuDNN 9.1.0 (both real wheels).
#[test]
#[ignore = "real torch: run scripts/real_torch.sh"]
fn cudnn_version_incompatibility_on_real_wheels() {
    let Some(v2130) = venv_from("TORCHUP_REAL_TORCH_2130_VENV") else {
        eprintln!("NOTE: TORCHUP_REAL_TORCH_2130_VENV not set: the cuDNN incompatibility was not reproduced");
        return;
    };
    let copy = VenvCopy::of(&v2130, "old-cudnn");
    copy.remove_nvidia("cudnn");
    let old = site(&real_venv()).join("nvidia/cudnn");
    let st = Command::new("cp").arg("-al").arg(&old).arg(site(&copy.dir).join("nvidia/cudnn")).status().unwrap();
    assert!(st.success());
    let iso = Isolated::with_prefix("torchup real ").unwrap();
    let mut cmd = iso.command(copy.python());
    cmd.args(["-c", "import torch; torch.backends.cudnn.version()"]);
    let out = support::proc::run(&mut cmd, LIMIT).unwrap();
    assert!(!out.success());
    assert!(
        out.stderr.contains(
            "RuntimeError: cuDNN version incompatibility: PyTorch was compiled  against (9, 20, 0) but found runtime version (9, 1, 0)."
        ),
        "{}",
        out.stderr
    );
    let d = diagnose_text(TextSource::Verify, &out.stderr, &OsContext::linux());
    assert_eq!(d.iter().map(|d| d.id.as_str()).collect::<Vec<_>>(), ["L03"]);
    assert!(d[0].explanation.starts_with("torch was built against cuDNN 9.20.0 but loaded cuDNN 9.1.0"));
}
