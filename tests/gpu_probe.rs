//! The GPU probe end to end, against fake nvidia-smi scripts that print outputs of real
//! cards (tests/fixtures/nvidia-smi/). Each run is a real child process through the
//! process runner; nothing here reads the machine's own GPU, driver or environment.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use torchup::facts::gpu::{self, DriverFiles, GpuProbe, GpuProbeOptions};
use torchup::facts::platform::{HostEnv, Platform};
use torchup::facts::{CudaToolkit, Driver, FactSource, Gpu, GpuState, Os};

fn fixtures() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/nvidia-smi")
}

fn smi(scenario: &str) -> PathBuf {
    fixtures().join(scenario).join("nvidia-smi")
}

fn linux() -> Platform {
    Platform { os: Os::Linux, cpu_arch: "x86_64".into(), wsl: false }
}

async fn run_scenario(scenario: &str) -> GpuProbe {
    let opts = GpuProbeOptions::with_nvidia_smi(linux(), HostEnv::default(), smi(scenario));
    gpu::probe(&opts).await
}

fn gpu(index: u32, name: &str, memory_mib: u64, cc: &str, source: FactSource) -> Gpu {
    Gpu {
        index,
        name: name.into(),
        memory_mib: Some(memory_mib),
        compute_capability: Some(cc.into()),
        compute_capability_source: Some(source),
    }
}

fn driver(version: &str, cuda: &str) -> Option<Driver> {
    Some(Driver { version: version.into(), cuda: Some(cuda.into()), source: Some(FactSource::NvidiaSmi) })
}

#[tokio::test]
async fn rtx3050_laptop_on_581() {
    let p = run_scenario("rtx3050-laptop-581").await;
    assert_eq!(p.state, GpuState::Ready, "{p:?}");
    assert_eq!(p.gpus, vec![gpu(0, "NVIDIA GeForce RTX 3050 Laptop GPU", 4096, "8.6", FactSource::NvidiaSmi)]);
    assert_eq!(p.driver, driver("581.29", "13.0"));
    assert_eq!(p.nvidia_smi, Some(smi("rtx3050-laptop-581")));
    assert!(p.notes.is_empty(), "a clean answer leaves no notes: {:?}", p.notes);
}

#[tokio::test]
async fn gtx1080ti_on_570() {
    let p = run_scenario("gtx1080ti-570").await;
    assert_eq!(p.state, GpuState::Ready);
    assert_eq!(p.gpus, vec![gpu(0, "NVIDIA GeForce GTX 1080 Ti", 11264, "6.1", FactSource::NvidiaSmi)]);
    assert_eq!(p.driver, driver("570.133.07", "12.8"));
}

#[tokio::test]
async fn rtx5070_laptop_on_r610_banner() {
    let p = run_scenario("rtx5070-laptop-610").await;
    assert_eq!(p.state, GpuState::Ready);
    assert_eq!(p.gpus, vec![gpu(0, "NVIDIA GeForce RTX 5070 Laptop GPU", 8151, "12.0", FactSource::NvidiaSmi)]);
    assert_eq!(p.driver, driver("610.43.02", "13.3"), "KMD Version / CUDA UMD Version are read");
}

#[tokio::test]
async fn two_gpus_of_different_generations() {
    let p = run_scenario("two-gpus").await;
    assert_eq!(p.state, GpuState::Ready);
    assert_eq!(
        p.gpus,
        vec![
            gpu(0, "NVIDIA GeForce RTX 4090", 24564, "8.9", FactSource::NvidiaSmi),
            gpu(1, "NVIDIA GeForce GTX 1080 Ti", 11264, "6.1", FactSource::NvidiaSmi),
        ]
    );
    assert_eq!(p.driver, driver("570.133.07", "12.8"));
}

#[tokio::test]
async fn a_name_with_commas_stays_whole() {
    let p = run_scenario("comma-name").await;
    assert_eq!(p.state, GpuState::Ready);
    assert_eq!(
        p.gpus,
        vec![gpu(0, "NVIDIA RTX A2000 8GB Laptop GPU, Lenovo, rev. 2", 8192, "8.6", FactSource::NvidiaSmi)]
    );
    assert_eq!(p.driver, driver("560.94", "12.6"));
}

#[tokio::test]
async fn r470_without_compute_cap_infers_it_from_the_name() {
    let p = run_scenario("r470-no-compute-cap").await;
    assert_eq!(p.state, GpuState::Ready);
    assert_eq!(p.gpus, vec![gpu(0, "NVIDIA GeForce GTX 1650 Ti with Max-Q Design", 3911, "7.5", FactSource::Inferred)]);
    assert_eq!(p.driver, driver("470.256.02", "11.4"));
    assert!(p.notes.iter().any(|n| n.contains("470 branch")), "{:?}", p.notes);
    assert!(p.notes.iter().any(|n| n.contains("inferred from the name")), "{:?}", p.notes);
}

#[tokio::test]
async fn exit9_couldnt_communicate_is_driver_not_loaded() {
    let p = run_scenario("exit9-no-driver").await;
    match &p.state {
        GpuState::DriverNotLoaded { detail } => {
            assert!(detail.starts_with("nvidia-smi exit 9:"), "{detail}");
            assert!(detail.contains("couldn't communicate with the NVIDIA driver"), "{detail}");
        }
        other => panic!("expected DriverNotLoaded, got {other:?}"),
    }
    assert!(p.gpus.is_empty());
    assert_eq!(p.driver, None);
}

#[tokio::test]
async fn version_mismatch_says_reboot() {
    let p = run_scenario("version-mismatch").await;
    assert!(
        matches!(&p.state, GpuState::VersionMismatch { detail } if detail.contains("Driver/library version mismatch")),
        "{:?}",
        p.state
    );
    assert!(p.state.explanation().contains("reboot"));
    assert!(p.gpus.is_empty());
}

#[tokio::test]
async fn no_devices_means_the_driver_cannot_reach_a_gpu() {
    let p = run_scenario("no-devices").await;
    assert!(
        matches!(&p.state, GpuState::DriverNotLoaded { detail } if detail.contains("No devices were found")),
        "{:?}",
        p.state
    );
}

#[tokio::test]
async fn garbage_output_is_unreadable_not_a_panic() {
    let p = run_scenario("garbage").await;
    match &p.state {
        GpuState::Unreadable { detail } => {
            assert!(detail.contains("LD_PRELOAD"), "the detail quotes the output: {detail}")
        }
        other => panic!("expected Unreadable, got {other:?}"),
    }
    assert!(p.gpus.is_empty());
    assert_eq!(p.driver, None);
}

#[tokio::test]
async fn a_hung_nvidia_smi_times_out_into_a_state() {
    let mut opts = GpuProbeOptions::with_nvidia_smi(linux(), HostEnv::default(), smi("hang"));
    opts.timeout = Duration::from_secs(1);
    let started = Instant::now();
    let p = gpu::probe(&opts).await;
    let took = started.elapsed();
    assert!(matches!(&p.state, GpuState::TimedOut { detail } if detail.contains("within 1 s")), "{:?}", p.state);
    // The three calls run concurrently and are killed at the deadline (the script's
    // sleep is 30 s), so this guards against a hang, not a speed.
    assert!(took < Duration::from_secs(10), "took {took:?}");
}

#[tokio::test]
async fn override_that_does_not_exist_is_named() {
    let p = run_scenario("no-such-scenario").await;
    match &p.state {
        GpuState::ToolMissing { detail } => {
            assert!(detail.contains("TORCHUP_NVIDIA_SMI"), "{detail}");
            assert!(detail.contains("no-such-scenario"), "{detail}");
        }
        other => panic!("expected ToolMissing, got {other:?}"),
    }
}

#[tokio::test]
async fn override_that_cannot_run_is_named() {
    let dir = tempfile::tempdir().unwrap();
    let not_exec = dir.path().join("nvidia-smi");
    std::fs::write(&not_exec, "#!/bin/sh\necho hi\n").unwrap(); // no exec bit
    let opts = GpuProbeOptions::with_nvidia_smi(linux(), HostEnv::default(), &not_exec);
    let p = gpu::probe(&opts).await;
    assert!(matches!(&p.state, GpuState::ToolMissing { detail } if detail.contains("cannot start")), "{:?}", p.state);
}

/// Options that search PATH (from the given env) instead of an override, with NVML and
/// the machine's driver files switched off.
fn path_search(platform: Platform, path: &Path) -> GpuProbeOptions {
    let env = HostEnv::from_pairs([("PATH", path.as_os_str().to_owned())]);
    let mut opts = GpuProbeOptions::for_host(platform, env);
    opts.nvml = false;
    opts.driver_files = DriverFiles::none();
    opts
}

#[tokio::test]
async fn nvidia_smi_is_found_on_path_from_the_given_env() {
    let dir = fixtures().join("gtx1080ti-570");
    let p = gpu::probe(&path_search(linux(), &dir)).await;
    assert_eq!(p.state, GpuState::Ready);
    assert_eq!(p.nvidia_smi, Some(dir.join("nvidia-smi")));
    assert_eq!(p.gpus[0].name, "NVIDIA GeForce GTX 1080 Ti");
}

#[tokio::test]
async fn nothing_anywhere_is_no_gpu() {
    let empty = tempfile::tempdir().unwrap();
    let p = gpu::probe(&path_search(linux(), empty.path())).await;
    assert_eq!(p.state, GpuState::NoGpu);
    assert!(p.gpus.is_empty());
    assert_eq!(p.driver, None);
    assert!(p.notes.iter().any(|n| n.contains("nvidia-smi was not found")));
}

#[tokio::test]
async fn loaded_kernel_module_without_tools_is_tool_missing_with_the_driver() {
    let empty = tempfile::tempdir().unwrap();
    let proc_version = empty.path().join("version");
    std::fs::write(
        &proc_version,
        "NVRM version: NVIDIA UNIX Open Kernel Module for x86_64  570.133.07  Release Build  (dvs-builder@U16-I3-B03-4-3)  Fri Mar 14 13:26:38 UTC 2025\n",
    )
    .unwrap();
    let mut opts = path_search(linux(), empty.path());
    opts.driver_files.proc_version = Some(proc_version);
    let p = gpu::probe(&opts).await;
    assert!(matches!(&p.state, GpuState::ToolMissing { detail } if detail.contains("570.133.07")), "{:?}", p.state);
    assert_eq!(p.driver, Some(Driver { version: "570.133.07".into(), cuda: None, source: Some(FactSource::Proc) }));
}

#[tokio::test]
async fn nvidia_gpu_on_the_pci_bus_without_a_driver_is_tool_missing() {
    let empty = tempfile::tempdir().unwrap();
    let pci = tempfile::tempdir().unwrap();
    let dev = pci.path().join("0000:01:00.0");
    std::fs::create_dir(&dev).unwrap();
    std::fs::write(dev.join("vendor"), "0x10de\n").unwrap();
    std::fs::write(dev.join("device"), "0x25a2\n").unwrap();
    std::fs::write(dev.join("class"), "0x030200\n").unwrap();
    let mut opts = path_search(linux(), empty.path());
    opts.driver_files.pci_devices = Some(pci.path().to_path_buf());
    let p = gpu::probe(&opts).await;
    assert!(matches!(&p.state, GpuState::ToolMissing { detail } if detail.contains("10de:25a2")), "{:?}", p.state);
    assert_eq!(p.driver, None);
}

#[tokio::test]
async fn macos_is_no_gpu_without_probing() {
    let mac = Platform { os: Os::Macos, cpu_arch: "aarch64".into(), wsl: false };
    let p = gpu::probe(&GpuProbeOptions::with_nvidia_smi(mac.clone(), HostEnv::default(), smi("hang"))).await;
    assert_eq!(p.state, GpuState::NoGpu);
    assert!(p.state.explanation_for(&mac).contains("macOS"));
}

#[tokio::test]
async fn every_failure_state_explains_itself_in_one_line() {
    for scenario in ["exit9-no-driver", "version-mismatch", "no-devices", "garbage", "no-such-scenario"] {
        let p = run_scenario(scenario).await;
        assert_ne!(p.state, GpuState::Ready, "{scenario}");
        let text = p.state.explanation_for(&linux());
        assert!(!text.contains('\n') && text.contains(" — "), "{scenario}: {text}");
    }
}

#[tokio::test]
async fn toolkit_from_cuda_path_and_nvcc() {
    let bin = tempfile::tempdir().unwrap();
    let nvcc = bin.path().join("nvcc");
    std::fs::write(
        &nvcc,
        "#!/bin/sh\n[ \"$1\" = --version ] || exit 2\necho 'nvcc: NVIDIA (R) Cuda compiler driver'\necho 'Cuda compilation tools, release 12.4, V12.4.131'\n",
    )
    .unwrap();
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(&nvcc, std::fs::Permissions::from_mode(0o755)).unwrap();

    let env = HostEnv::from_pairs([
        ("PATH", bin.path().as_os_str().to_owned()),
        ("CUDA_PATH", "/usr/local/cuda-12.4".into()),
    ]);
    let opts = GpuProbeOptions::for_host(linux(), env);
    assert_eq!(
        gpu::probe_toolkit(&opts).await,
        Some(CudaToolkit { cuda_path: Some("/usr/local/cuda-12.4".into()), nvcc_version: Some("12.4".into()) })
    );

    let none = GpuProbeOptions::for_host(linux(), HostEnv::from_pairs([("PATH", "/nonexistent/torchup")]));
    assert_eq!(gpu::probe_toolkit(&none).await, None);
}
