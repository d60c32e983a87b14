//! `torchup install` as a user runs it, end to end: the real binary, real venvs, real pip
//! installing fake torch-family wheels from a local PEP 503 index on 127.0.0.1, a simulated
//! RTX 3050 Laptop (TORCHUP_FAKE_GPU) and its recorded nvidia-smi (TORCHUP_NVIDIA_SMI).
//! Only the GPU and the multi-GB wheels are stand-ins.

mod support;

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value;
use support::gpu::FakeGpu;
use support::index::Fault;
use support::proc::Output;

const LIMIT: Duration = Duration::from_secs(180);

/// The guide's laptop (tests/support/laptop.rs), with this file's helpers.
struct World(support::laptop::CpuLaptop);

impl std::ops::Deref for World {
    type Target = support::laptop::CpuLaptop;
    fn deref(&self) -> &Self::Target {
        &self.0
    }
}

/// A venv (in a path with spaces) holding the 2.5.1 CPU family, and an index with the
/// 2.5.1 families of `variants` (always including cpu, for rollback).
fn world(variants: &[&str]) -> World {
    World(support::laptop::CpuLaptop::new("torchup install ", variants))
}

impl World {
    fn command(&self, args: &[&str]) -> Command {
        let mut cmd = self.iso.command(env!("CARGO_BIN_EXE_torchup"));
        cmd.args(args)
            .arg("--python")
            .arg(&self.venv.python)
            .arg("--index-url")
            .arg(self.index.base_url())
            .env("TORCHUP_FAKE_GPU", FakeGpu::rtx3050_laptop().to_json())
            .env("TORCHUP_NVIDIA_SMI", support::laptop::rtx3050_smi())
            .env("NO_COLOR", "1")
            .current_dir(self.iso.root());
        cmd
    }

    fn torchup(&self, args: &[&str]) -> Output {
        support::proc::run(&mut self.command(args), LIMIT).unwrap()
    }

    /// `torch.__version__` and `torch.version.cuda` as the venv's Python sees them.
    fn torch_in_venv(&self) -> String {
        let o =
            self.venv.run_code_bare(&self.iso, "import torch; print(torch.__version__, torch.version.cuda)").unwrap();
        if o.success() { o.stdout.trim().to_string() } else { "absent".to_string() }
    }
}

fn report(o: &Output) -> Value {
    serde_json::from_str(&o.stdout)
        .unwrap_or_else(|e| panic!("stdout is not one JSON document ({e}):\n{}\nstderr:\n{}", o.stdout, o.stderr))
}

fn code(o: &Output) -> i32 {
    o.status.code().unwrap_or(-1)
}

#[test]
fn cpu_build_becomes_cu124_and_verify_passes() {
    let w = world(&["cu124", "cu121"]);
    let o = w.torchup(&["install", "--yes", "--json", "--variant", "cu124", "--torch", "2.5.1"]);
    let r = report(&o);
    assert_eq!(code(&o), 0, "{}\n{}", o.stdout, o.stderr);
    assert_eq!(r["outcome"], "installed");
    assert_eq!(r["installed"]["variant"], "cu124");
    assert_eq!(r["previous"]["version"], "2.5.1+cpu");
    assert_eq!(r["smoke"]["ok"], true);
    assert_eq!(w.torch_in_venv(), "2.5.1+cu124 12.4");
    // The companions moved with it, from the same index.
    let show = w.venv.pip(&w.iso, &["show", "torchvision"]).unwrap();
    assert!(show.stdout.contains("Version: 0.20.1+cu124"), "{}", show.stdout);
    // Exact pins from one index: every wheel came from /cu124/, none from another variant.
    let wheels: Vec<String> = w.index.requests().into_iter().filter(|p| p.ends_with(".whl")).collect();
    assert!(wheels.iter().any(|p| p.starts_with("/whl/cu124/torch-2.5.1+cu124")), "{wheels:?}");
    assert!(wheels.iter().filter(|p| !p.contains("+cpu")).all(|p| p.starts_with("/whl/cu124/")), "{wheels:?}");
    // The run log holds the install command: the fetched files, offline.
    let log = r["log_path"].as_str().expect("log path");
    let log = std::fs::read_to_string(log).unwrap();
    assert!(log.contains("--no-index"), "{log}");
    assert!(log.contains("torch-2.5.1+cu124-"), "{log}");
    // Every wheel was fetched once, before the change; nothing was left behind.
    let fetched = wheels.iter().filter(|p| p.contains("torch-2.5.1+cu124")).count();
    assert_eq!(fetched, 1, "{wheels:?}");

    let v = w.torchup(&["verify", "--json"]);
    assert_eq!(code(&v), 0, "{}\n{}", v.stdout, v.stderr);
    assert_eq!(report(&v)["ok"], true);
}

#[test]
fn missing_cu124_falls_back_to_cu121() {
    // The mirror has no cu124 wheels: the fetch finds none, and the guide's fallback is
    // fetched instead — all before the CPU build is touched.
    let w = world(&["cu121"]);
    let o = w.torchup(&["install", "--yes", "--json", "--force", "--variant", "cu124", "--torch", "2.5.1"]);
    let r = report(&o);
    assert_eq!(code(&o), 0, "{}\n{}", o.stdout, o.stderr);
    assert_eq!(r["outcome"], "installed", "{r}");
    assert_eq!(r["installed"]["variant"], "cu121");
    assert_eq!(w.torch_in_venv(), "2.5.1+cu121 12.1");
}

#[test]
fn both_builds_missing_change_nothing() {
    let w = world(&[]);
    let before = w.venv.pip(&w.iso, &["freeze"]).unwrap().stdout;
    let o = w.torchup(&["install", "--yes", "--json", "--force", "--variant", "cu124", "--torch", "2.5.1"]);
    let r = report(&o);
    assert_eq!(code(&o), 1, "{}\n{}", o.stdout, o.stderr);
    assert_eq!(r["outcome"], "unchanged", "{r}");
    assert!(r["environment"].as_str().unwrap().contains("2.5.1+cpu is still installed, untouched"), "{r}");
    assert_eq!(w.venv.pip(&w.iso, &["freeze"]).unwrap().stdout, before);
    assert_eq!(w.torch_in_venv(), "2.5.1+cpu None");
    let show = w.venv.pip(&w.iso, &["show", "torchaudio"]).unwrap();
    assert!(show.stdout.contains("Version: 2.5.1+cpu"), "companions restored too: {}", show.stdout);
}

#[test]
fn requirements_with_a_bare_torch_keep_the_cuda_build() {
    let w = world(&["cu124"]);
    let req = w.iso.path("requirements.txt");
    std::fs::write(&req, "torch\ntorchvision\n").unwrap();
    // The user's pip is pointed at the CPU index (F05): without the constraints file a bare
    // `torch` line could swap the CUDA build back.
    let mut cmd = w.command(&[
        "install",
        "--yes",
        "--json",
        "--variant",
        "cu124",
        "--torch",
        "2.5.1",
        "--with-requirements",
        req.to_str().unwrap(),
    ]);
    cmd.env("PIP_INDEX_URL", w.index.url("cpu"));
    let o = support::proc::run(&mut cmd, LIMIT).unwrap();
    let r = report(&o);
    assert_eq!(code(&o), 0, "{}\n{}", o.stdout, o.stderr);
    assert_eq!(r["outcome"], "installed");
    assert_eq!(w.torch_in_venv(), "2.5.1+cu124 12.4");
    // The requirements really ran, held by the constraints file.
    let log = std::fs::read_to_string(r["log_path"].as_str().unwrap()).unwrap();
    assert!(
        log.contains(&format!("-r {}", req.display())) || log.contains(&format!("-r \"{}\"", req.display())),
        "{log}"
    );
    assert!(log.contains("torch==2.5.1+cu124\n"), "constraints file content is logged: {log}");
    assert!(o.stderr.contains("[5/6] requirements"), "{}", o.stderr);
}

#[test]
fn dry_run_and_no_terminal_change_nothing() {
    let w = world(&["cu124"]);
    let o = w.torchup(&["install", "--dry-run", "--json", "--variant", "cu124", "--torch", "2.5.1"]);
    assert_eq!(code(&o), 0, "{}", o.stderr);
    assert_eq!(report(&o)["outcome"], "dry-run");
    // Not a terminal and no --yes: explain and exit 2, never prompt.
    let o = w.torchup(&["install", "--variant", "cu124", "--torch", "2.5.1"]);
    assert_eq!(code(&o), 2, "{}", o.stderr);
    assert!(o.stderr.contains("--yes"), "{}", o.stderr);
    // A build that does not exist is refused before anything changes, and --json still
    // prints one document.
    let o = w.torchup(&["install", "--yes", "--json", "--variant", "cu128", "--torch", "2.5.1"]);
    assert_eq!(code(&o), 1, "{}", o.stderr);
    let r = report(&o);
    assert_eq!(r["outcome"], "unchanged");
    assert!(o.stderr.contains("refused"), "{}", o.stderr);
    assert_eq!(w.torch_in_venv(), "2.5.1+cpu None");
}

/// Processes whose command line mentions `needle` (pip children left behind would).
fn processes_mentioning(needle: &str) -> Vec<String> {
    let mut found = Vec::new();
    for entry in std::fs::read_dir("/proc").unwrap().flatten() {
        if let Ok(cmdline) = std::fs::read(entry.path().join("cmdline")) {
            let text = String::from_utf8_lossy(&cmdline).replace('\0', " ");
            if text.contains(needle) && !text.contains("cargo") {
                found.push(text);
            }
        }
    }
    found
}

#[cfg(unix)]
#[test]
fn interrupting_the_download_changes_nothing_and_install_finishes() {
    let w = world(&["cu124"]);
    // A slow download, so the interrupt lands while torchup is fetching the CUDA wheel.
    w.index.fault("/whl/cu124/torch-2.5.1+cu124-*", Fault::Delay(Duration::from_secs(60)));
    let mut child = w
        .command(&["install", "--yes", "--json", "--variant", "cu124", "--torch", "2.5.1"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let stderr = child.stderr.take().unwrap();
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stderr).lines().map_while(Result::ok) {
            let _ = tx.send(line);
        }
    });
    let deadline = Instant::now() + Duration::from_secs(90);
    loop {
        let line = rx.recv_timeout(deadline.saturating_duration_since(Instant::now())).expect("the fetch starts");
        if line.contains("] fetch:") {
            break;
        }
    }
    std::thread::sleep(Duration::from_millis(500));
    // Ctrl-C in a terminal sends SIGINT to torchup (its children have their own group).
    // SAFETY: plain kill(2) on our own child.
    unsafe {
        libc::kill(child.id() as i32, libc::SIGINT);
    }
    let out = child.wait_with_output().unwrap();
    let r: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert_eq!(r["outcome"], "cancelled", "{r}");
    assert!(r["environment"].as_str().unwrap().contains("untouched"), "{r}");
    assert_eq!(w.torch_in_venv(), "2.5.1+cpu None");
    let venv_dir = w.venv.root.display().to_string();
    let leftovers = processes_mentioning(&venv_dir);
    assert!(leftovers.is_empty(), "processes left behind: {leftovers:?}");

    // And install, run again, finishes the job.
    w.index.clear_faults();
    let o = w.torchup(&["install", "--yes", "--json", "--variant", "cu124", "--torch", "2.5.1"]);
    assert_eq!(code(&o), 0, "{}\n{}", o.stdout, o.stderr);
    assert_eq!(w.torch_in_venv(), "2.5.1+cu124 12.4");
}
