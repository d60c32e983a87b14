//! Install overhead: `torchup install --yes` against the bare pip commands it wraps, on the
//! same local index and the same wheels (issue 4: at most 5 % more).
//!
//! The torch wheel carries an incompressible payload (default 1024 MiB; real CUDA wheels are
//! ~2.5 GB) so pip's download and unpack are real work; the fake GPU's simulated time is
//! scaled down so the smoke tests cost what torchup's own process and Python start-ups cost.
//! `TORCHUP_BENCH_PAYLOAD_MIB` and `TORCHUP_BENCH_ROUNDS` change the defaults.
//! Run: `cargo bench --bench install`.

#[path = "../tests/support/mod.rs"]
mod support;

use std::path::Path;
use std::time::{Duration, Instant};

use support::env::Isolated;
use support::gpu::FakeGpu;
use support::index::IndexServer;
use support::python::{Venv, make_venv_fast};
use support::wheels::{Tags, WheelSpec, build_wheels};

const CPU: [&str; 3] = ["torch==2.5.1+cpu", "torchvision==0.20.1+cpu", "torchaudio==2.5.1+cpu"];
const CUDA: [&str; 3] = ["torch==2.5.1+cu124", "torchvision==0.20.1+cu124", "torchaudio==2.5.1+cu124"];

fn env_u32(name: &str, default: u32) -> u32 {
    std::env::var(name).ok().and_then(|v| v.parse().ok()).unwrap_or(default)
}

fn cpu_venv(iso: &Isolated, index: &IndexServer, name: &str) -> Venv {
    let venv = make_venv_fast(&iso.path(name), iso).expect("venv");
    venv.pip_install(iso, &index.url("cpu"), &CPU).expect("pip").ok().expect("cpu family installs");
    venv
}

fn timed(cmd: &mut std::process::Command) -> Duration {
    let start = Instant::now();
    let out = support::proc::run(cmd, Duration::from_secs(1800)).expect("runs");
    assert!(out.success(), "{}\n{}", out.stdout, out.stderr);
    start.elapsed()
}

/// The bare commands torchup wraps: uninstall the CPU family, install the CUDA family.
fn bare_run(iso: &Isolated, index: &IndexServer, round: u32) -> Duration {
    let a = cpu_venv(iso, index, &format!("bare {round}"));
    let mut un = iso.command(&a.python);
    un.args(["-m", "pip", "uninstall", "-y", "torch", "torchvision", "torchaudio"]);
    let mut inst = iso.command(&a.python);
    inst.args(["-m", "pip", "install", "--no-cache-dir"]).args(CUDA).args(["--index-url", &index.url("cu124")]);
    let t = timed(&mut un) + timed(&mut inst);
    let _ = std::fs::remove_dir_all(&a.root);
    t
}

/// `torchup install --yes` doing the same, with its smoke test after every stage.
fn torchup_run(iso: &Isolated, index: &IndexServer, round: u32, gpu: &str, smi: &Path) -> Duration {
    let b = cpu_venv(iso, index, &format!("torchup {round}"));
    let mut tu = iso.command(env!("CARGO_BIN_EXE_torchup"));
    tu.args(["install", "--yes", "--variant", "cu124", "--torch", "2.5.1", "--python"])
        .arg(&b.python)
        .args(["--index-url", &index.base_url()])
        .env("TORCHUP_FAKE_GPU", gpu)
        .env("TORCHUP_NVIDIA_SMI", smi)
        .current_dir(iso.root());
    let t = timed(&mut tu);
    let _ = std::fs::remove_dir_all(&b.root);
    t
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(|a, b| a.total_cmp(b));
    v[v.len() / 2]
}

fn main() {
    let payload = env_u32("TORCHUP_BENCH_PAYLOAD_MIB", 1024);
    let rounds = env_u32("TORCHUP_BENCH_ROUNDS", 3).max(1);
    let iso = Isolated::with_prefix("torchup-bench-install ").expect("temp dir");
    let tags = Tags::host().expect("host tags");
    build_wheels(&iso.path("idx/cpu"), &WheelSpec::family("2.5.1", "cpu", &tags)).expect("cpu wheels");
    let mut cuda = WheelSpec::family("2.5.1", "cu124", &tags);
    cuda[0] = cuda[0].clone().with_payload_mib(payload);
    build_wheels(&iso.path("idx/cu124"), &cuda).expect("cu124 wheels");
    let index = IndexServer::start(iso.path("idx")).expect("index");
    let smi = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/nvidia-smi/rtx3050-laptop-581/nvidia-smi");
    let gpu = FakeGpu::rtx3050_laptop().time_scale(0.01).to_json();
    println!("install overhead: torch wheel payload {payload} MiB, {rounds} rounds, local index {}", index.base_url());

    let (mut bare, mut wrapped) = (Vec::new(), Vec::new());
    for round in 0..rounds {
        // Alternate which runs first, so neither side always gets the warmer caches.
        let (t_bare, t_tu) = if round % 2 == 0 {
            let b = bare_run(&iso, &index, round);
            (b, torchup_run(&iso, &index, round, &gpu, &smi))
        } else {
            let t = torchup_run(&iso, &index, round, &gpu, &smi);
            (bare_run(&iso, &index, round), t)
        };
        println!(
            "  round {round}: bare pip {:.2} s, torchup install {:.2} s ({:+.1} %)",
            t_bare.as_secs_f64(),
            t_tu.as_secs_f64(),
            (t_tu.as_secs_f64() / t_bare.as_secs_f64() - 1.0) * 100.0
        );
        bare.push(t_bare.as_secs_f64());
        wrapped.push(t_tu.as_secs_f64());
    }
    // What torchup adds besides pip's own work: detection + planning + preflight (a dry run)
    // and one smoke test (three run during an install: baseline, after uninstall, after install).
    let probe = cpu_venv(&iso, &index, "fixed costs");
    let (mut dry, mut smoke) = (Vec::new(), Vec::new());
    for _ in 0..rounds {
        let mut d = iso.command(env!("CARGO_BIN_EXE_torchup"));
        d.args(["install", "--dry-run", "--variant", "cu124", "--torch", "2.5.1", "--python"])
            .arg(&probe.python)
            .args(["--index-url", &index.base_url()])
            .env("TORCHUP_FAKE_GPU", &gpu)
            .env("TORCHUP_NVIDIA_SMI", &smi)
            .current_dir(iso.root());
        dry.push(timed(&mut d).as_secs_f64());
        let mut v = iso.command(&probe.python);
        v.args(["-c", torchup::smoke::SMOKE_TEST_PY]).env("TORCHUP_FAKE_GPU", &gpu);
        smoke.push(timed(&mut v).as_secs_f64());
    }
    println!(
        "fixed costs (median): detect + plan + preflight {:.2} s, one smoke test by hand {:.2} s",
        median(dry),
        median(smoke)
    );
    let (b, t) = (median(bare), median(wrapped));
    println!(
        "median: bare pip {b:.2} s, torchup install {t:.2} s, ratio {:.3} ({:+.1} %; budget +5 %)",
        t / b,
        (t / b - 1.0) * 100.0
    );
}
