//! An extra, in-process check through libtorch (feature `torch`): the same matmul-vs-CPU
//! comparison as the Python smoke test, run by the libtorch torchup was built against.
//! It complements, never replaces, the Python test: tch pins libtorch 2.13 at build time,
//! while the user's code runs whatever torch their interpreter has.

use std::time::Instant;

use tch::{Cuda, Device, Kind, Tensor};

use super::{Check, SmokeReport, TorchInfo, VERIFY_SCHEMA, check_names};

fn timed<T>(f: impl FnOnce() -> T) -> (T, f64) {
    let start = Instant::now();
    let v = f();
    (v, start.elapsed().as_secs_f64() * 1000.0)
}

/// CUDA through libtorch: availability, then a 1000×1000 matmul compared with the CPU.
pub(crate) fn run() -> SmokeReport {
    let mut checks = Vec::new();
    let (available, ms) = timed(Cuda::is_available);
    let count = Cuda::device_count();
    checks.push(Check {
        name: check_names::CUDA_AVAILABLE.into(),
        ok: available,
        detail: format!("libtorch: Cuda::is_available() = {available}, {count} device(s)"),
        ms,
    });
    if available {
        let (result, ms) = timed(matmul_matches_cpu);
        let (ok, detail) = match result {
            Ok(err) => (err < 1e-2, format!("libtorch: 1000x1000 matmul on cuda:0, relative error {err:.1e}")),
            Err(e) => (false, format!("libtorch: {e}")),
        };
        checks.push(Check { name: check_names::MATMUL.into(), ok, detail, ms });
    }
    let ok = SmokeReport::cuda_works(&checks);
    SmokeReport {
        schema: VERIFY_SCHEMA,
        ok,
        torch: TorchInfo { version: Some("libtorch (tch 0.26)".into()), cuda: None },
        cuda_available: available,
        torch_importable: true,
        checks,
        ..SmokeReport::default()
    }
}

/// Relative error of a GPU matmul against the CPU result.
fn matmul_matches_cpu() -> Result<f64, tch::TchError> {
    let a = Tensor::f_randn([1000, 1000], (Kind::Float, Device::Cpu))?;
    let b = Tensor::f_randn([1000, 1000], (Kind::Float, Device::Cpu))?;
    let cpu = a.f_matmul(&b)?;
    let gpu = a.f_to_device(Device::Cuda(0))?.f_matmul(&b.f_to_device(Device::Cuda(0))?)?;
    Cuda::synchronize(0);
    let diff = (&gpu.f_to_device(Device::Cpu)? - &cpu).f_abs()?.f_max()?.f_double_value(&[])?;
    let scale = cpu.f_abs()?.f_max()?.f_double_value(&[])?.max(1e-12);
    Ok(diff / scale)
}
