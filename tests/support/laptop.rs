//! The guide's starting point as a ready-made world: a venv (in a path with spaces) holding
//! the torch 2.5.1 CPU family, a local index serving the 2.5.1 families of the given
//! variants (cpu always), and the recorded nvidia-smi of the guide's RTX 3050 Laptop.

use std::path::{Path, PathBuf};

use super::env::Isolated;
use super::index::IndexServer;
use super::python::{Venv, make_venv_fast};
use super::wheels::{Tags, WheelSpec, build_wheels};

/// The CPU family the guide starts from.
pub const CPU_FAMILY: [&str; 3] = ["torch==2.5.1+cpu", "torchvision==0.20.1+cpu", "torchaudio==2.5.1+cpu"];

pub struct CpuLaptop {
    pub iso: Isolated,
    pub index: IndexServer,
    pub venv: Venv,
}

impl CpuLaptop {
    /// `prefix` names the temp dir (keep a space in it); `variants` are served besides cpu.
    pub fn new(prefix: &str, variants: &[&str]) -> CpuLaptop {
        let iso = Isolated::with_prefix(prefix).expect("isolated environment");
        let tags = Tags::host().expect("host tags");
        for v in variants.iter().chain(["cpu"].iter()) {
            build_wheels(&iso.path(format!("idx/{v}")), &WheelSpec::family("2.5.1", v, &tags)).expect("wheels");
        }
        let index = IndexServer::start(iso.path("idx")).expect("local index");
        let venv = make_venv_fast(&iso.path("my venv"), &iso).expect("venv");
        venv.pip_install(&iso, &index.url("cpu"), &CPU_FAMILY).expect("pip runs").ok().expect("cpu family installs");
        CpuLaptop { iso, index, venv }
    }
}

/// The recorded nvidia-smi of the RTX 3050 Laptop on driver 581.29 (CUDA 13.0).
pub fn rtx3050_smi() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/nvidia-smi/rtx3050-laptop-581/nvidia-smi")
}
