//! `torchup install` on an externally-managed (PEP 668) interpreter: no
//! `--break-system-packages`; torchup creates a venv next to the project and installs the
//! CUDA build there, leaving the system Python untouched.

mod detect_kit;
mod support;

use std::path::Path;
use std::process::Command;
use std::time::Duration;

use detect_kit::{Source, World};
use serde_json::Value;
use support::gpu::FakeGpu;

#[test]
fn externally_managed_python_gets_a_venv_with_the_cuda_build() {
    let w = World::new();
    let prefix = w.root().join("system python");
    let py = w.system_prefix(&prefix);
    let stdlib = w.ask(&py, "import sysconfig; print(sysconfig.get_path('stdlib'))");
    std::fs::write(Path::new(stdlib.trim()).join("EXTERNALLY-MANAGED"), "[externally-managed]\nError=use apt\n")
        .unwrap();
    w.install_target(&w.purelib(&py), Source::Index("cpu"), &["torch==2.5.1+cpu"]);
    let project = w.root().join("my project");
    std::fs::create_dir_all(&project).unwrap();

    let smi = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/nvidia-smi/rtx3050-laptop-581/nvidia-smi");
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_torchup"));
    cmd.args(["install", "--yes", "--json", "--variant", "cu124", "--torch", "2.5.1", "--python"])
        .arg(&py)
        .args(["--index-url", &w.index().base_url()])
        .env_clear()
        .envs(w.env(&[Path::new("/usr/bin"), Path::new("/bin")]))
        .env("TORCHUP_FAKE_GPU", FakeGpu::rtx3050_laptop().to_json())
        .env("TORCHUP_NVIDIA_SMI", &smi)
        .current_dir(&project);
    let out = support::proc::run(&mut cmd, Duration::from_secs(240)).unwrap();
    let r: Value = serde_json::from_str(&out.stdout).unwrap_or_else(|e| panic!("{e}\n{}\n{}", out.stdout, out.stderr));
    assert_eq!(out.status.code(), Some(0), "{}\n{}", out.stdout, out.stderr);
    assert_eq!(r["outcome"], "installed", "{r}");

    let venv_python = project.join(".venv/bin/python");
    assert!(venv_python.exists(), "the venv was created in the project: {r}");
    assert_eq!(w.ask(&venv_python, "import torch; print(torch.__version__)").trim(), "2.5.1+cu124");
    // The system interpreter still has its own build: nothing was forced into it.
    assert_eq!(w.ask(&py, "import torch; print(torch.__version__)").trim(), "2.5.1+cpu");
    assert!(!out.stderr.contains("--break-system-packages"), "{}", out.stderr);
}
