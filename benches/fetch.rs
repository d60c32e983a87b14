//! torchup's own download against `python -m pip download --no-deps` of the same wheel from
//! the same local server (docs/benchmarks.md, "fetch").
//!
//! A real wheel with an incompressible payload (default 64 MiB) behind the fault-injecting
//! file server on 127.0.0.1, in three settings: (a) every connection held to 4 MiB/s with
//! Range support (a CDN edge that throttles per connection), (b) the total bandwidth held to
//! 16 MiB/s (a slow link), (c) unthrottled loopback. pip is the one in a fresh venv (isolated:
//! temp HOME, no pip config, `--no-cache-dir`), verifying the same `#sha256=`. torchup runs
//! in this process with a fresh wheelhouse per round (fetch + verify + store).
//! Then "killed at 50 %": a child process fetching the wheel is SIGKILLed once half the bytes
//! were sent; a new run must fetch at most 60 % of the wheel.
//! `TORCHUP_BENCH_PAYLOAD_MIB`, `TORCHUP_BENCH_ROUNDS` change the defaults.
//! Run: `cargo bench --bench fetch`.

#[path = "../tests/support/mod.rs"]
mod support;

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use support::env::Isolated;
use support::faults::{FileServer, ServeOptions};
use support::python::make_venv_fast;
use support::wheels::{Tags, WheelSpec, build_wheels};
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;
use torchup::fetch::{FetchItem, FetchOptions, Fetched, Fetcher, NetConfig, Wheelhouse};

const MIB: u64 = 1024 * 1024;
const CHILD: &str = "TORCHUP_BENCH_FETCH_CHILD";

fn env_u32(name: &str, default: u32) -> u32 {
    std::env::var(name).ok().and_then(|v| v.parse().ok()).unwrap_or(default)
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(|a, b| a.total_cmp(b));
    v[v.len() / 2]
}

/// Fetch `item` into a wheelhouse at `root` with the default options.
fn torchup_fetch(root: &Path, item: &FetchItem) -> Fetched {
    let rt = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().expect("runtime");
    rt.block_on(async {
        let f = Fetcher::new(Wheelhouse::new(root), NetConfig::direct(), FetchOptions::default()).expect("fetcher");
        let (tx, mut rx) = mpsc::channel(256);
        let drain = tokio::spawn(async move { while rx.recv().await.is_some() {} });
        let got = f.fetch_all(vec![item.clone()], tx, CancellationToken::new()).await.expect("torchup fetch");
        drain.await.expect("drain");
        got.into_iter().next().expect("one file")
    })
}

fn main() {
    // Child mode: fetch and exit (killed by the parent halfway).
    if let Ok(spec) = std::env::var(CHILD) {
        let v: serde_json::Value = serde_json::from_str(&spec).expect("child spec");
        let item = FetchItem {
            url: v["url"].as_str().expect("url").into(),
            filename: v["filename"].as_str().expect("filename").into(),
            sha256: v["sha256"].as_str().map(str::to_string),
            size: None,
        };
        torchup_fetch(Path::new(v["root"].as_str().expect("root")), &item);
        return;
    }
    let payload = env_u32("TORCHUP_BENCH_PAYLOAD_MIB", 64);
    let rounds = env_u32("TORCHUP_BENCH_ROUNDS", 1).max(1);
    let iso = Isolated::with_prefix("torchup-bench-fetch ").expect("temp dir");
    let tags = Tags::host().expect("host tags");
    let spec = WheelSpec::torch("2.5.1", "cu124", &tags).with_payload_mib(payload);
    let wheel = build_wheels(&iso.path("srv"), &[spec]).expect("payload wheel").remove(0);
    let server = FileServer::start(iso.path("srv")).expect("server");
    let venv = make_venv_fast(&iso.path("venv"), &iso).expect("venv");
    let pip_version = venv.pip(&iso, &["--version"]).expect("pip --version").stdout;
    let item = FetchItem {
        url: server.url(&wheel.filename),
        filename: wheel.filename.clone(),
        sha256: Some(wheel.sha256.clone()),
        size: Some(wheel.size),
    };
    println!(
        "fetch: {} ({:.1} MiB), {rounds} round(s); pip: {}",
        wheel.filename,
        wheel.size as f64 / MIB as f64,
        pip_version.trim()
    );

    let settings = [
        (
            "a) 4 MiB/s per connection, Range",
            ServeOptions { per_connection_bps: Some(4 * MIB), ..ServeOptions::default() },
        ),
        ("b) 16 MiB/s in total", ServeOptions { total_bps: Some(16 * MIB), ..ServeOptions::default() }),
        ("c) unthrottled loopback", ServeOptions::default()),
    ];
    let mut n = 0;
    for (name, opts) in settings {
        server.set_options(opts);
        let (mut pip, mut tu) = (Vec::new(), Vec::new());
        for round in 0..rounds {
            n += 1;
            // pip download, verifying the same hash.
            let dest = iso.path(format!("pip-{n}"));
            let mut cmd = iso.command(&venv.python);
            cmd.args([
                "-m",
                "pip",
                "download",
                "--no-deps",
                "--no-cache-dir",
                "--disable-pip-version-check",
                "-q",
                "-d",
            ])
            .arg(&dest)
            .arg(format!("{}#sha256={}", item.url, wheel.sha256));
            let start = Instant::now();
            let out = support::proc::run(&mut cmd, Duration::from_secs(600)).expect("pip runs");
            assert!(out.success(), "pip download failed: {}", out.combined());
            let t_pip = start.elapsed().as_secs_f64();
            let _ = std::fs::remove_dir_all(&dest);
            // torchup, fresh wheelhouse.
            let root = iso.path(format!("wh-{n}"));
            let start = Instant::now();
            let got = torchup_fetch(&root, &item);
            let t_tu = start.elapsed().as_secs_f64();
            assert_eq!(got.downloaded_bytes, wheel.size);
            let _ = std::fs::remove_dir_all(&root);
            println!("  {name}, round {round}: pip {t_pip:.2} s, torchup {t_tu:.2} s, ratio {:.2}", t_tu / t_pip);
            pip.push(t_pip);
            tu.push(t_tu);
        }
        let (p, t) = (median(pip), median(tu));
        println!("{name}: median pip {p:.2} s, torchup {t:.2} s, ratio {:.2}", t / p);
    }

    // Killed at 50 %: a child process fetches at 4 MiB/s per connection and is SIGKILLed.
    server.set_options(ServeOptions { per_connection_bps: Some(4 * MIB), ..ServeOptions::default() });
    server.clear_requests();
    let root: PathBuf = iso.path("wh-killed");
    let spec = serde_json::json!({"url": item.url, "filename": item.filename, "sha256": item.sha256, "root": root});
    let mut child = std::process::Command::new(std::env::current_exe().expect("own path"))
        .env(CHILD, spec.to_string())
        .stdout(std::process::Stdio::null())
        .spawn()
        .expect("child");
    let half = wheel.size / 2;
    let deadline = Instant::now() + Duration::from_secs(300);
    while server.bytes_sent() < half && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(5));
    }
    child.kill().expect("SIGKILL");
    let _ = child.wait();
    let sent_before = server.bytes_sent();
    server.set_options(ServeOptions::default());
    let got = torchup_fetch(&root, &item);
    let share = got.downloaded_bytes as f64 / wheel.size as f64;
    println!(
        "killed at {:.0} % (SIGKILL), the re-run fetched {:.1} % of the wheel ({} of {} bytes; budget 60 %)",
        sent_before as f64 / wheel.size as f64 * 100.0,
        share * 100.0,
        got.downloaded_bytes,
        wheel.size
    );
}
