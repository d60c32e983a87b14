//! The test kit proven end to end: fake wheels built, served by the local index, installed
//! by real pip into real venvs, and the fake torch behaving like real torch on simulated GPUs.

mod support;

use std::io::{Read, Write};
use std::net::TcpStream;
use std::process::Command;
use std::time::{Duration, Instant};

use anyhow::{Context, Result};
use serde_json::Value;

use support::env::Isolated;
use support::gpu::{FakeDevice, FakeGpu};
use support::index::{Fault, IndexServer};
use support::python::{Venv, make_venv, make_venv_fast};
use support::wheels::{Tags, WheelSpec, build_wheels, default_arch_list};

/// What a smoke test would look at, printed as one JSON document.
const PROBE: &str = r#"
import json, sys, warnings
r = {}
with warnings.catch_warnings(record=True) as w:
    warnings.simplefilter("always")
    try:
        import torch
    except Exception as e:
        print(json.dumps({"import_error": "%s: %s" % (type(e).__name__, e)}))
        sys.exit(0)
    r["version"] = torch.__version__
    r["cuda"] = torch.version.cuda
    r["available"] = torch.cuda.is_available()
    r["count"] = torch.cuda.device_count()
    r["arch"] = torch.cuda.get_arch_list()
    r["cudnn"] = torch.backends.cudnn.version()
    torch.manual_seed(0)
    a = torch.randn(1000, 1000)
    b = torch.randn(1000, 1000)
    cpu = a @ b
    try:
        r["name"] = torch.cuda.get_device_name(0)
        r["cc"] = list(torch.cuda.get_device_capability(0))
        r["total_memory"] = torch.cuda.get_device_properties(0).total_memory
        gpu = a.cuda() @ b.cuda()
        torch.cuda.synchronize()
        r["max_diff"] = (gpu.cpu() - cpu).abs().max().item()
        r["close"] = torch.allclose(gpu.cpu(), cpu, rtol=1e-3, atol=1e-3)
        r["close_default_tol"] = torch.allclose(gpu.cpu(), cpu)
    except Exception as e:
        r["error"] = "%s: %s" % (type(e).__name__, e)
    # One of torch's own kernels on the GPU (cuBLAS above covers more architectures).
    try:
        r["kernel_sum"] = (a.cuda() * 2).sum().item()
    except Exception as e:
        r["kernel_error"] = "%s: %s" % (type(e).__name__, e)
r["warnings"] = [str(x.message) for x in w]
print(json.dumps(r))
"#;

fn probe(venv: &Venv, iso: &Isolated, gpu: Option<&FakeGpu>, extra: &[(&str, &str)]) -> Result<Value> {
    let json;
    let mut env: Vec<(&str, &str)> = extra.to_vec();
    if let Some(g) = gpu {
        json = g.to_json();
        env.push(("TORCHUP_FAKE_GPU", &json));
    }
    let out = venv.run_code(iso, PROBE, &env)?.ok()?;
    let line = out.stdout.lines().last().context("probe printed nothing")?;
    serde_json::from_str(line).with_context(|| format!("probe output {:?}", out.stdout))
}

/// torch's warnings, without the numpy-absent one real torch (and the fake) print at import
/// in a venv without numpy (checked in `cpu_then_cu124_with_real_pip_on_simulated_gpus`).
fn warnings_text(v: &Value) -> String {
    v["warnings"]
        .as_array()
        .map(|a| {
            a.iter()
                .filter_map(Value::as_str)
                .filter(|w| !w.starts_with("Failed to initialize NumPy: No module named 'numpy'"))
                .collect::<Vec<_>>()
                .join("\n")
        })
        .unwrap_or_default()
}

fn pip_ok(venv: &Venv, iso: &Isolated, index: &str, reqs: &[&str]) -> Result<String> {
    let out = venv.pip_install(iso, index, reqs)?.ok()?;
    Ok(out.combined())
}

/// A plain HTTP/1.0 GET, so the index is checked without pip in between.
fn http_get(origin: &str, path: &str) -> Result<(u16, String, Vec<u8>)> {
    let addr = origin.trim_start_matches("http://");
    let mut s = TcpStream::connect(addr)?;
    s.set_read_timeout(Some(Duration::from_secs(10)))?;
    write!(s, "GET {path} HTTP/1.0\r\nHost: {addr}\r\n\r\n")?;
    let mut buf = Vec::new();
    s.read_to_end(&mut buf)?;
    let split = buf.windows(4).position(|w| w == b"\r\n\r\n").context("no header end")?;
    let head = String::from_utf8_lossy(&buf[..split]).into_owned();
    let status = head.split_whitespace().nth(1).and_then(|c| c.parse().ok()).context("no status")?;
    Ok((status, head, buf[split + 4..].to_vec()))
}

#[test]
fn isolated_env_removes_and_sets_what_it_must() -> Result<()> {
    let iso = Isolated::new()?;
    let envs = iso.envs();
    let get = |k: &str| envs.iter().rev().find(|(n, _)| n == k).map(|(_, v)| v.clone());
    for removed in [
        "PIP_INDEX_URL",
        "PIP_EXTRA_INDEX_URL",
        "PIP_FIND_LINKS",
        "PIP_TRUSTED_HOST",
        "VIRTUAL_ENV",
        "CONDA_PREFIX",
        "CONDA_DEFAULT_ENV",
        "PYTHONPATH",
        "PYTHONHOME",
        "PYTHONUSERBASE",
        "CUDA_VISIBLE_DEVICES",
        "NO_COLOR",
    ] {
        assert_eq!(get(removed), Some(None), "{removed} must be removed");
    }
    let home = iso.home().to_string_lossy().into_owned();
    assert_eq!(get("HOME"), Some(Some(home.clone())));
    assert_eq!(get("USERPROFILE"), Some(Some(home.clone())));
    for k in ["APPDATA", "LOCALAPPDATA", "XDG_CONFIG_HOME", "XDG_CACHE_HOME", "XDG_DATA_HOME", "XDG_STATE_HOME"] {
        assert!(get(k).flatten().is_some_and(|v| v.starts_with(&home)), "{k} under the temp HOME");
    }
    assert_eq!(get("TORCHUP_STATE_DIR"), Some(Some(iso.state_dir().to_string_lossy().into_owned())));
    assert_eq!(get("TORCHUP_CACHE_DIR"), Some(Some(iso.cache_dir().to_string_lossy().into_owned())));
    assert_eq!(get("PIP_DISABLE_PIP_VERSION_CHECK"), Some(Some("1".into())));
    assert_eq!(get("PIP_NO_INPUT"), Some(Some("1".into())));
    assert_eq!(get("PYTHONDONTWRITEBYTECODE"), Some(Some("1".into())));
    assert!(get("PATH").is_none(), "PATH is inherited untouched");

    // What a child really sees: a variable set on the Command before `apply` that the kit
    // removes is gone, and HOME is the temp one.
    let py = support::python::base_python()?;
    let mut cmd = Command::new(&py);
    cmd.env("PIP_INDEX_URL", "https://example.invalid/simple").env("CUDA_VISIBLE_DEVICES", "3");
    iso.apply(&mut cmd);
    cmd.args(["-c", "import os,json;print(json.dumps(dict(os.environ)))"]);
    let out = support::proc::run(&mut cmd, Duration::from_secs(30))?.ok()?;
    let seen: Value = serde_json::from_str(out.stdout.trim())?;
    assert!(seen.get("PIP_INDEX_URL").is_none());
    assert!(seen.get("CUDA_VISIBLE_DEVICES").is_none());
    assert_eq!(seen["HOME"], home.as_str());
    assert_eq!(seen["PIP_CONFIG_FILE"], if cfg!(windows) { "NUL" } else { "/dev/null" });
    assert!(seen.get("PATH").is_some());
    Ok(())
}

#[test]
fn wheel_names_arch_lists_and_companions_follow_the_real_releases() -> Result<()> {
    let linux = Tags::new("cp311", "cp311", "linux_x86_64");
    let win = Tags::new("cp311", "cp311", "win_amd64");
    assert_eq!(WheelSpec::torch("2.5.1", "cu124", &linux).filename(), "torch-2.5.1+cu124-cp311-cp311-linux_x86_64.whl");
    assert_eq!(
        default_arch_list("2.5.1", "cu124", "windows"),
        ["sm_50", "sm_60", "sm_61", "sm_70", "sm_75", "sm_80", "sm_86", "sm_90"]
    );
    assert_eq!(
        default_arch_list("2.8.0", "cu128", "linux"),
        ["sm_70", "sm_75", "sm_80", "sm_86", "sm_90", "sm_100", "sm_120"]
    );
    assert_eq!(
        default_arch_list("2.7.0", "cu128", "linux"),
        ["sm_75", "sm_80", "sm_86", "sm_90", "sm_100", "sm_120", "compute_120"]
    );
    let fam = WheelSpec::family("2.5.1", "cu121", &win);
    let names: Vec<String> = fam.iter().map(WheelSpec::filename).collect();
    assert_eq!(
        names,
        [
            "torch-2.5.1+cu121-cp311-cp311-win_amd64.whl",
            "torchvision-0.20.1+cu121-cp311-cp311-win_amd64.whl",
            "torchaudio-2.5.1+cu121-cp311-cp311-win_amd64.whl"
        ]
    );
    assert_eq!(fam[1].requires, ["torch==2.5.1"]);
    assert_eq!(fam[0].cuda.as_deref(), Some("12.1"));
    assert!(WheelSpec::torch("2.5.1", "cpu", &linux).arch_list.is_empty());
    // torchaudio stops at 2.11
    assert_eq!(WheelSpec::family("2.12.0", "cu130", &linux).len(), 2);

    // A PyPI-style wheel: no label in pip's version, the build's label in torch/version.py.
    let iso = Isolated::new()?;
    let host = Tags::host()?;
    let pypi = WheelSpec::torch("2.15.0", "cu132", &host).without_local();
    let built = build_wheels(&iso.path("pypi"), std::slice::from_ref(&pypi))?;
    assert_eq!(built[0].filename, format!("torch-2.15.0-{}.whl", host.triple()));
    let read = "import sys,zipfile;z=zipfile.ZipFile(sys.argv[1]);print(z.read('torch/version.py').decode());\
                print(z.read('torch-2.15.0.dist-info/METADATA').decode())";
    let mut cmd = Command::new(support::python::base_python()?);
    cmd.args(["-c", read]).arg(&built[0].path);
    let text = support::proc::run(&mut cmd, Duration::from_secs(30))?.ok()?.stdout;
    assert!(text.contains("__version__ = '2.15.0+cu132'"), "{text}");
    assert!(text.contains("cuda: Optional[str] = '13.2'"), "{text}");
    assert!(text.contains("Version: 2.15.0\n") && text.contains("Requires-Python: >=3.11"), "{text}");
    // Same spec, same bytes: archives are deterministic.
    let again = build_wheels(&iso.path("again"), &[pypi])?;
    assert_eq!(again[0].sha256, built[0].sha256);
    Ok(())
}

#[test]
fn index_serves_pytorch_shaped_pages_records_requests_and_injects_faults() -> Result<()> {
    let iso = Isolated::new()?;
    let root = iso.path("index");
    let tags = Tags::host()?;
    let built = build_wheels(&root.join("cu124"), &WheelSpec::family("2.5.1", "cu124", &tags))?;
    let server = IndexServer::start(&root)?;
    assert!(server.base_url().starts_with("http://127.0.0.1:") && server.base_url().ends_with("/whl"));

    let (status, head, body) = http_get(server.origin(), "/whl/cu124/torch/")?;
    assert_eq!(status, 200);
    assert!(head.to_ascii_lowercase().contains("content-type: text/html"));
    let page = String::from_utf8(body)?;
    let torch = &built[0];
    let href = format!(
        "<a href=\"/whl/cu124/{}#sha256={}\">{}</a><br/>",
        torch.filename.replace('+', "%2B"),
        torch.sha256,
        torch.filename
    );
    assert!(page.starts_with("<!DOCTYPE html>\n<html>\n  <body>\n    <h1>Links for torch</h1>\n"), "{page}");
    assert!(page.contains(&href), "{page}\nlacks {href}");
    assert!(!page.contains("torchvision"), "only torch on torch's page");

    let (_, _, listing) = http_get(server.origin(), "/whl/cu124/")?;
    let listing = String::from_utf8(listing)?;
    for pkg in ["torch", "torchvision", "torchaudio"] {
        assert!(listing.contains(&format!("<a href=\"{pkg}/\">{pkg}</a>")), "{listing}");
    }

    let wheel_path = format!("/whl/cu124/{}", torch.filename.replace('+', "%2B"));
    let (status, _, bytes) = http_get(server.origin(), &wheel_path)?;
    assert_eq!(status, 200);
    assert_eq!(bytes, std::fs::read(&torch.path)?);
    assert_eq!(http_get(server.origin(), "/whl/cu999/torch/")?.0, 404);

    // Requests are recorded decoded.
    let reqs = server.requests();
    assert!(reqs.contains(&"/whl/cu124/torch/".to_string()));
    assert!(reqs.contains(&format!("/whl/cu124/{}", torch.filename)), "{reqs:?}");

    // Faults: permanent, transient, prefix, delay, garbage, redirect.
    server.fault("/whl/cu124/torch/", Fault::ServerError);
    assert_eq!(http_get(server.origin(), "/whl/cu124/torch/")?.0, 500);
    assert_eq!(http_get(server.origin(), "/whl/cu124/torch/")?.0, 500);
    server.clear_faults();
    server.fault_times("/whl/cu124/*", Fault::NotFound, 1);
    assert_eq!(http_get(server.origin(), "/whl/cu124/torchvision/")?.0, 404);
    assert_eq!(http_get(server.origin(), "/whl/cu124/torchvision/")?.0, 200);
    server.fault_times("/whl/cu124/torch/", Fault::Delay(Duration::from_millis(300)), 1);
    let t = Instant::now();
    assert_eq!(http_get(server.origin(), "/whl/cu124/torch/")?.0, 200);
    assert!(t.elapsed() >= Duration::from_millis(300));
    server.fault_times(&format!("/whl/cu124/{}", torch.filename), Fault::Garbage, 1);
    let (status, _, junk) = http_get(server.origin(), &wheel_path)?;
    assert_eq!(status, 200);
    assert_ne!(junk, bytes);
    assert_eq!(junk.len(), bytes.len());
    server.fault_times("/whl/cu124/torch/", Fault::Redirect("/whl/cu124/torchaudio/".into()), 1);
    let (status, head, _) = http_get(server.origin(), "/whl/cu124/torch/")?;
    assert_eq!(status, 302);
    assert!(head.contains("/whl/cu124/torchaudio/"), "{head}");
    Ok(())
}

/// The guide's journey on one venv: CPU build, then the cu124 build, on simulated machines.
#[test]
fn cpu_then_cu124_with_real_pip_on_simulated_gpus() -> Result<()> {
    // A space in every path: venv, index root, HOME.
    let iso = Isolated::with_prefix("torchup test ")?;
    let root = iso.path("wheel house");
    let tags = Tags::host()?;
    for variant in ["cpu", "cu124", "cu121"] {
        build_wheels(&root.join(variant), &WheelSpec::family("2.5.1", variant, &tags))?;
    }
    let server = IndexServer::start(&root)?;
    let venv = make_venv(&iso.path("my venv"), &iso)?;

    let log = pip_ok(&venv, &iso, &server.url("cpu"), &["torch==2.5.1+cpu"])?;
    assert!(log.contains("Successfully installed torch-2.5.1+cpu"), "{log}");
    assert!(server.requests().contains(&"/whl/cpu/torch/".to_string()));

    // Detection reads version.py as text, without importing torch.
    let site = venv.site_packages(&iso)?;
    let version_py = std::fs::read_to_string(site.join("torch").join("version.py"))?;
    assert!(version_py.contains("__version__ = '2.5.1+cpu'"), "{version_py}");
    assert!(version_py.contains("cuda: Optional[str] = None"), "{version_py}");

    let cpu = probe(&venv, &iso, Some(&FakeGpu::rtx3050_laptop()), &[])?;
    assert_eq!(cpu["version"], "2.5.1+cpu");
    assert_eq!(cpu["cuda"], Value::Null);
    assert_eq!(cpu["available"], false);
    assert_eq!(cpu["arch"], serde_json::json!([]));
    assert_eq!(cpu["cudnn"], Value::Null);
    assert_eq!(cpu["error"], "AssertionError: Torch not compiled with CUDA enabled");

    let out = venv.pip_uninstall(&iso, &["torch", "torchvision", "torchaudio"])?.ok()?;
    assert!(out.stdout.contains("Successfully uninstalled torch-2.5.1+cpu"), "{}", out.stdout);

    let log = pip_ok(&venv, &iso, &server.url("cu124"), &["torch==2.5.1+cu124", "torchvision==0.20.1+cu124"])?;
    assert!(log.contains("torch-2.5.1+cu124") && log.contains("torchvision-0.20.1+cu124"), "{log}");
    let version_py = std::fs::read_to_string(site.join("torch").join("version.py"))?;
    assert!(version_py.contains("cuda: Optional[str] = '12.4'"), "{version_py}");

    // RTX 3050 Laptop (8.6) with a 13.0 driver: works, GPU result matches the CPU result.
    let ok = probe(&venv, &iso, Some(&FakeGpu::rtx3050_laptop()), &[])?;
    assert_eq!(ok["available"], true, "{ok}");
    assert_eq!(ok["cuda"], "12.4");
    assert_eq!(ok["count"], 1);
    assert_eq!(ok["name"], "NVIDIA GeForce RTX 3050 Laptop GPU");
    assert_eq!(ok["cc"], serde_json::json!([8, 6]));
    assert_eq!(ok["total_memory"], 4096u64 * 1024 * 1024);
    assert_eq!(ok["cudnn"], 90100);
    assert_eq!(ok["error"], Value::Null, "{ok}");
    let diff = ok["max_diff"].as_f64().context("max_diff")?;
    assert!(diff > 0.0 && diff < 1e-3, "float32 rounding differences only: {diff}");
    assert_eq!(ok["close"], true);
    // as with real torch, default tolerances are too tight for a 1000x1000 GPU matmul
    assert_eq!(ok["close_default_tol"], false);
    assert_eq!(warnings_text(&ok), "");
    assert!(ok["kernel_sum"].is_number(), "{ok}");
    // Real torch's import-time warning in a venv without numpy, word for word (torch 2.5.1).
    assert_eq!(
        ok["warnings"][0],
        "Failed to initialize NumPy: No module named 'numpy' (Triggered internally at ../torch/csrc/utils/tensor_numpy.cpp:84.)"
    );

    // The driver supports only CUDA 11.4 (R470): too old for a 12.x build.
    let old = probe(&venv, &iso, Some(&FakeGpu::rtx3050_laptop().driver(Some("11.4"))), &[])?;
    assert_eq!(old["available"], false);
    let w = warnings_text(&old);
    assert!(
        w.starts_with("CUDA initialization: The NVIDIA driver on your system is too old (found version 11040)."),
        "{w}"
    );
    assert!(old["error"].as_str().is_some_and(|e| e.contains("too old (found version 11040)")), "{old}");
    // NVML still sees the card, like real torch's device_count().
    assert_eq!(old["count"], 1);

    // A 12.2 driver runs a 12.4 build (CUDA minor-version compatibility), as on real machines.
    let minor = probe(&venv, &iso, Some(&FakeGpu::rtx3050_laptop().driver(Some("12.2"))), &[])?;
    assert_eq!(minor["available"], true, "{minor}");

    // No NVIDIA driver at all (the variable unset): unavailable without a warning.
    let none = probe(&venv, &iso, None, &[])?;
    assert_eq!(none["available"], false);
    assert_eq!(none["count"], 0);
    assert_eq!(warnings_text(&none), "");
    assert!(none["error"].as_str().is_some_and(|e| e.starts_with("RuntimeError: Found no NVIDIA driver")), "{none}");

    // CUDA_VISIBLE_DEVICES hides the GPU.
    for hidden in ["", "-1"] {
        let v = probe(&venv, &iso, Some(&FakeGpu::rtx3050_laptop()), &[("CUDA_VISIBLE_DEVICES", hidden)])?;
        assert_eq!(v["available"], false, "CUDA_VISIBLE_DEVICES={hidden:?}");
        assert_eq!(v["error"], "RuntimeError: No CUDA GPUs are available");
    }

    // A GPU newer than the build (sm_120 on cu124): available, warned, no kernel image.
    let new = probe(&venv, &iso, Some(&FakeGpu::rtx5070_laptop()), &[])?;
    assert_eq!(new["available"], true);
    assert!(
        warnings_text(&new)
            .contains("NVIDIA GeForce RTX 5070 Laptop GPU with CUDA capability sm_120 is not compatible with the current PyTorch installation."),
        "{new}"
    );
    // cuBLAS runs the matmul (as real cuBLAS does); torch's own kernels have no image.
    assert_eq!(new["close"], true, "{new}");
    assert!(
        new["kernel_error"].as_str().is_some_and(
            |e| e.starts_with("RuntimeError: CUDA error: no kernel image is available for execution on the device")
        ),
        "{new}"
    );

    // Faults: wrong results, and a Windows DLL failure.
    let bad = probe(&venv, &iso, Some(&FakeGpu::rtx3050_laptop().wrong_results()), &[])?;
    assert_eq!(bad["close"], false);
    assert!(bad["max_diff"].as_f64().is_some_and(|d| d > 1.0), "{bad}");
    let dll = probe(&venv, &iso, Some(&FakeGpu::rtx3050_laptop().import_error_winerror126()), &[])?;
    let e = dll["import_error"].as_str().context("import error")?;
    assert!(e.starts_with("OSError: [WinError 126] The specified module could not be found. Error loading \""), "{e}");
    assert!(e.ends_with("\\torch\\lib\\c10.dll\" or one of its dependencies."), "{e}");

    // torchvision was installed from the same index and imports against this torch.
    let tv = venv.run_code_bare(&iso, "import torchvision;print(torchvision.__version__)")?.ok()?;
    assert_eq!(tv.stdout.trim(), "0.20.1+cu124");
    Ok(())
}

/// A Pascal GPU on torch 2.8's cu128 build (sm_70..sm_120): the kernel is missing; the
/// cu126 build of the same release works. Also pip's own failures against the index.
#[test]
fn pascal_on_cu128_and_pip_failures_from_the_index() -> Result<()> {
    let iso = Isolated::new()?;
    let root = iso.path("index");
    let tags = Tags::host()?;
    build_wheels(&root.join("cu128"), &WheelSpec::family("2.8.0", "cu128", &tags))?;
    build_wheels(&root.join("cu126"), &[WheelSpec::torch("2.8.0", "cu126", &tags)])?;
    // Wheels for another Python only: pip must find nothing.
    let other_py = if tags.python == "cp312" { tags.with_cpython(3, 13) } else { tags.with_cpython(3, 12) };
    build_wheels(&root.join("cu129"), &[WheelSpec::torch("2.8.0", "cu129", &other_py)])?;
    let server = IndexServer::start(&root)?;
    let venv = make_venv_fast(&iso.path("venv"), &iso)?;

    pip_ok(&venv, &iso, &server.url("cu128"), &["torch==2.8.0+cu128"])?;
    let pascal = probe(&venv, &iso, Some(&FakeGpu::gtx1080ti()), &[])?;
    assert_eq!(pascal["available"], true);
    assert_eq!(pascal["arch"], serde_json::json!(["sm_70", "sm_75", "sm_80", "sm_86", "sm_90", "sm_100", "sm_120"]));
    let w = warnings_text(&pascal);
    assert!(w.contains("Found GPU0 NVIDIA GeForce GTX 1080 Ti which is of cuda capability 6.1."), "{w}");
    assert!(
        w.contains("Minimum and Maximum cuda capability supported by this version of PyTorch is\n    (7.0) - (12.0)"),
        "{w}"
    );
    assert!(w.contains("configurations:  12.6 following instructions"), "{w}");
    assert!(w.contains("with CUDA capability sm_61 is not compatible"), "{w}");
    assert_eq!(pascal["close"], true, "cuBLAS 12 still runs on Pascal: {pascal}");
    assert!(
        pascal["kernel_error"].as_str().is_some_and(
            |e| e.starts_with("RuntimeError: CUDA error: no kernel image is available for execution on the device")
        ),
        "{pascal}"
    );
    // The RTX 3050 is fine on the same build.
    assert_eq!(probe(&venv, &iso, Some(&FakeGpu::rtx3050_laptop()), &[])?["close"], true);

    // Same release, cu126 build: Pascal works. `==2.8.0+cu126` replaces `+cu128`.
    let log = pip_ok(&venv, &iso, &server.url("cu126"), &["torch==2.8.0+cu126"])?;
    assert!(log.contains("Successfully installed torch-2.8.0+cu126"), "{log}");
    let fixed = probe(&venv, &iso, Some(&FakeGpu::gtx1080ti()), &[])?;
    assert_eq!(fixed["close"], true, "{fixed}");
    assert_eq!(warnings_text(&fixed), "");

    // No wheel for this Python on the index.
    let out = venv.pip_install(&iso, &server.url("cu129"), &["torch==2.8.0+cu129"])?;
    assert!(!out.success());
    assert!(out.stderr.contains("No matching distribution found for torch==2.8.0+cu129"), "{}", out.stderr);
    assert!(out.stderr.contains("(from versions: none)"), "{}", out.stderr);

    // The index answers 404 for the project page: pip finds nothing either.
    server.fault("/whl/cu128/torch/", Fault::NotFound);
    let out = venv.pip_install(&iso, &server.url("cu128"), &["torch==2.8.0+cu128"])?;
    assert!(out.stderr.contains("No matching distribution found"), "{}", out.stderr);
    server.clear_faults();

    // A corrupted download is caught by the #sha256 in the link.
    let wheel = WheelSpec::torch("2.8.0", "cu128", &tags).filename();
    server.fault(&format!("/whl/cu128/{wheel}"), Fault::Garbage);
    let out = venv.pip(
        &iso,
        &["install", "--force-reinstall", "--no-cache-dir", "--index-url", &server.url("cu128"), "torch==2.8.0+cu128"],
    )?;
    assert!(!out.success());
    assert!(out.stderr.contains("THESE PACKAGES DO NOT MATCH THE HASHES"), "{}", out.stderr);
    server.clear_faults();

    // A download slower than pip's --timeout (a slow index page is silently "no versions"
    // for pip; a slow wheel is the visible error). cu126 is installed: force a download.
    let wheel = WheelSpec::torch("2.8.0", "cu126", &tags).filename();
    server.fault_times(&format!("/whl/cu126/{wheel}"), Fault::Delay(Duration::from_secs(3)), 1);
    let out = venv.pip(
        &iso,
        &["install", "--force-reinstall", "--no-cache-dir", "--timeout", "0.5", "--retries", "0"]
            .into_iter()
            .chain(["--index-url", &server.url("cu126"), "torch==2.8.0+cu126"])
            .collect::<Vec<_>>(),
    )?;
    assert!(!out.success());
    assert!(out.combined().contains("Read timed out. (read timeout=0.5)"), "{}", out.combined());
    Ok(())
}

/// The fake torch's behaviour comes from the simulated machine: time, precision, memory,
/// device visibility, companions built for another torch, PTX-only builds, crashes.
#[test]
fn fake_torch_behaviour_follows_the_simulated_machine() -> Result<()> {
    let iso = Isolated::new()?;
    let root = iso.path("index");
    let tags = Tags::host()?;
    build_wheels(&root.join("cu124"), &[WheelSpec::torch("2.5.1", "cu124", &tags)])?;
    build_wheels(
        &root.join("extras"),
        &[
            WheelSpec::torchvision("0.20.1", "cu118", "2.5.1", &tags),
            WheelSpec::xformers("0.0.28.post3", "2.5.1+cu121", &tags),
        ],
    )?;
    // A build with only Ampere SASS plus PTX: newer GPUs need the driver to JIT it.
    build_wheels(
        &root.join("ptx"),
        &[WheelSpec::torch("2.5.1", "cu124", &tags).with_arch_list(&["sm_80", "compute_80"])],
    )?;
    let server = IndexServer::start(&root)?;
    let venv = make_venv_fast(&iso.path("venv"), &iso)?;
    let extras = server.url("extras");
    pip_ok(
        &venv,
        &iso,
        &server.url("cu124"),
        &["--extra-index-url", &extras, "--no-deps", "torch==2.5.1+cu124", "torchvision==0.20.1+cu118", "xformers"],
    )?;

    // Throughput: 2 GFLOP per matmul, 10 ms at 200 GFLOPS on the CPU, 0.5 ms at 4000 on the GPU
    // (50 GPU matmuls, 25 ms, so one preemption of the test process cannot swamp the figure).
    let code = r#"
import json, time, warnings, torch
a = torch.randn(1000, 1000); b = torch.randn(1000, 1000)
t = time.perf_counter()
for _ in range(5): c = a @ b
cpu_s = (time.perf_counter() - t) / 5
ga, gb = a.cuda(), b.cuda()
torch.cuda.synchronize()
t = time.perf_counter()
for _ in range(50): g = ga @ gb
torch.cuda.synchronize()
gpu_s = (time.perf_counter() - t) / 50
s = torch.cuda.Event(enable_timing=True); e = torch.cuda.Event(enable_timing=True)
s.record()
for _ in range(50): g = ga @ gb
e.record(); torch.cuda.synchronize()
ev_ms = s.elapsed_time(e) / 50
with torch.amp.autocast("cuda"):
    h = ga @ gb
with warnings.catch_warnings(record=True) as w:
    warnings.simplefilter("always")
    with torch.cuda.amp.autocast():
        pass
conv = torch.nn.functional.conv2d(torch.randn(1, 3, 32, 32, device="cuda"), torch.randn(8, 3, 3, 3, device="cuda"))
free, total = torch.cuda.mem_get_info()
t = torch.tensor([[1.0, 2.0], [3.0, 4.0]], device="cuda")
try:
    torch.randn(40000, 40000, device="cuda")
    oom = None
except torch.OutOfMemoryError as err:
    oom = str(err)
print(json.dumps({"cpu_s": cpu_s, "gpu_s": gpu_s, "ev_ms": ev_ms, "amp": str(h.dtype),
  "amp_diff": (h.float().cpu() - c).abs().max().item(), "fp32_diff": (g.cpu() - c).abs().max().item(),
  "deprecated": [str(x.message) for x in w], "conv": list(conv.shape), "free": free, "total": total, "oom": oom,
  "ones": float((torch.ones(256, 256, device="cuda") @ torch.ones(256, 256, device="cuda")).sum()),
  "exact": [(t @ t).sum().item(), (t @ t).max().item(), torch.arange(10).sum().item()]}))
"#;
    let gpu = FakeGpu::new(vec![FakeDevice::rtx3050_laptop().gflops(4000.0)], "13.0").cpu_gflops(200.0);
    let out = venv.run_code(&iso, code, &[gpu.env()])?.ok()?;
    let r: Value = serde_json::from_str(out.stdout.trim())?;
    let cpu_s = r["cpu_s"].as_f64().context("cpu_s")?;
    let gpu_s = r["gpu_s"].as_f64().context("gpu_s")?;
    let ev_ms = r["ev_ms"].as_f64().context("ev_ms")?;
    assert!((0.008..0.1).contains(&cpu_s), "cpu {cpu_s}");
    assert!(cpu_s / gpu_s > 4.0, "cpu {cpu_s} gpu {gpu_s}");
    assert!((0.4..3.0).contains(&ev_ms), "event {ev_ms} ms");
    assert_eq!(r["amp"], "torch.float16");
    let amp = r["amp_diff"].as_f64().context("amp_diff")?;
    let fp32 = r["fp32_diff"].as_f64().context("fp32_diff")?;
    assert!((1e-3..0.5).contains(&amp) && amp > 20.0 * fp32, "fp16 error {amp} vs fp32 {fp32}");
    assert!(
        r["deprecated"][0].as_str().is_some_and(|w| w.starts_with("`torch.cuda.amp.autocast(args...)` is deprecated"))
    );
    assert_eq!(r["conv"], serde_json::json!([1, 8, 30, 30]));
    assert_eq!(r["total"], 4096u64 * 1024 * 1024);
    assert!(r["free"].as_u64().is_some_and(|f| f < 4096 * 1024 * 1024 && f > 3000 * 1024 * 1024));
    assert!(
        r["oom"].as_str().is_some_and(|m| m.starts_with("CUDA out of memory. Tried to allocate 5.96 GiB. GPU 0")),
        "{r}"
    );
    assert_eq!(r["ones"], 256.0f64.powi(3));
    // Small tensors carry their real values.
    assert_eq!(r["exact"], serde_json::json!([54.0, 22.0, 45]));

    // Device visibility on a two-GPU machine.
    let two = FakeGpu::new(vec![FakeDevice::gtx1080ti(), FakeDevice::rtx3050_laptop()], "13.0");
    let names = "import torch;print([torch.cuda.get_device_name(i) for i in range(torch.cuda.device_count())])";
    for (cvd, want) in [
        (None, "['NVIDIA GeForce GTX 1080 Ti', 'NVIDIA GeForce RTX 3050 Laptop GPU']"),
        (Some("1"), "['NVIDIA GeForce RTX 3050 Laptop GPU']"),
        (Some("1,0"), "['NVIDIA GeForce RTX 3050 Laptop GPU', 'NVIDIA GeForce GTX 1080 Ti']"),
        (Some("0,7,1"), "['NVIDIA GeForce GTX 1080 Ti']"),
        (Some("7"), "[]"),
    ] {
        let (k, v) = two.env();
        let mut env = vec![(k.as_str(), v.as_str())];
        if let Some(c) = cvd {
            env.push(("CUDA_VISIBLE_DEVICES", c));
        }
        let out = venv.run_code(&iso, names, &env)?.ok()?;
        assert_eq!(out.stdout.trim(), want, "CUDA_VISIBLE_DEVICES={cvd:?}");
    }

    // Companions built for another CUDA major / another torch build.
    let tv = venv.run_code_bare(&iso, "import torchvision")?;
    assert!(!tv.success());
    assert!(
        tv.stderr.contains(
            "RuntimeError: Detected that PyTorch and torchvision were compiled with different CUDA major versions. \
             PyTorch has CUDA Version=12.4 and torchvision has CUDA Version=11.8."
        ),
        "{}",
        tv.stderr
    );
    let xf = venv.run_code_bare(&iso, "import xformers")?.ok()?;
    assert!(xf.stderr.contains("PyTorch 2.5.1+cu121 with CUDA 1201 (you have 2.5.1+cu124)"), "{}", xf.stderr);

    // A native crash and a slow import.
    let crash = venv.run_code(&iso, "import torch", &[gpu.clone().crash("import").env()])?;
    assert!(!crash.success());
    #[cfg(unix)]
    {
        use std::os::unix::process::ExitStatusExt;
        assert_eq!(crash.status.signal(), Some(11), "killed by SIGSEGV");
    }
    let slow = venv.run_code(&iso, "import torch", &[gpu.clone().import_delay_ms(400.0).env()])?.ok()?;
    assert!(slow.duration >= Duration::from_millis(400));

    // PTX-only coverage: a Hopper GPU (9.0) on a build with sm_80 + compute_80 runs after the
    // driver JITs the PTX, but only with a driver as new as the build's CUDA.
    pip_ok(&venv, &iso, &server.url("ptx"), &["--force-reinstall", "--no-deps", "torch==2.5.1+cu124"])?;
    let hopper = |driver: &str| FakeGpu::new(vec![FakeDevice::new("NVIDIA H100 PCIe", 81559, [9, 0])], driver);
    let ok = probe(&venv, &iso, Some(&hopper("13.0")), &[])?;
    assert_eq!(ok["close"], true, "{ok}");
    let old_driver = probe(&venv, &iso, Some(&hopper("12.2")), &[])?;
    // cuBLAS has SASS for sm_90 and needs no JIT; torch's own PTX kernels cannot be compiled.
    assert_eq!(old_driver["close"], true, "{old_driver}");
    assert!(
        old_driver["kernel_error"]
            .as_str()
            .is_some_and(|e| e
                .starts_with("RuntimeError: CUDA error: the provided PTX was compiled with an unsupported toolchain.")),
        "{old_driver}"
    );
    Ok(())
}
