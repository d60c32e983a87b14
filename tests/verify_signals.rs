//! A signal to `torchup verify` stops the smoke test's interpreter: SIGINT, SIGTERM and
//! SIGHUP through the command's cancel token, SIGKILL through the supervisor. The fake
//! torch is made slow to import so the interpreter is surely running when the signal comes.
#![cfg(target_os = "linux")]

mod support;

use std::process::Stdio;
use std::time::{Duration, Instant};

use anyhow::{Result, bail, ensure};

use support::env::Isolated;
use support::gpu::FakeGpu;
use support::index::IndexServer;
use support::python::{Venv, make_venv_fast};
use support::wheels::{Tags, WheelSpec, build_wheels};

const TREE_VAR: &str = "TORCHUP_TEST_TREE";

/// Live processes whose environment carries `TREE_VAR=<marker>`, with their argv.
fn tree_members(marker: &str) -> Vec<(i32, String)> {
    let needle = format!("{TREE_VAR}={marker}");
    let mut found = Vec::new();
    let Ok(rd) = std::fs::read_dir("/proc") else { return found };
    for e in rd.flatten() {
        let Some(pid) = e.file_name().to_str().and_then(|n| n.parse::<i32>().ok()) else { continue };
        let zombie = std::fs::read_to_string(format!("/proc/{pid}/stat"))
            .map(|s| s.rsplit_once(')').is_some_and(|(_, a)| a.trim_start().starts_with('Z')))
            .unwrap_or(true);
        if zombie {
            continue;
        }
        let Ok(env) = std::fs::read(format!("/proc/{pid}/environ")) else { continue };
        if env.split(|b| *b == 0).any(|kv| kv == needle.as_bytes()) {
            let argv = std::fs::read(format!("/proc/{pid}/cmdline")).unwrap_or_default();
            let argv = String::from_utf8_lossy(&argv).replace('\0', " ");
            found.push((pid, argv.chars().take(120).collect()));
        }
    }
    found
}

fn setup() -> Result<(Isolated, Venv)> {
    let iso = Isolated::new()?;
    let tags = Tags::host()?;
    build_wheels(&iso.path("idx/cpu"), &WheelSpec::family("2.5.1", "cpu", &tags))?;
    let index = IndexServer::start(iso.path("idx"))?;
    let venv = make_venv_fast(&iso.path("venv"), &iso)?;
    venv.pip_install(&iso, &index.url("cpu"), &["torch==2.5.1+cpu"])?.ok()?;
    Ok((iso, venv))
}

/// Start `torchup verify` with a torch that takes a minute to import, wait until its
/// interpreter runs, send `signal`, and check that the whole tree is gone.
fn signal_verify(iso: &Isolated, venv: &Venv, signal: i32, name: &str) -> Result<()> {
    let marker = format!("verify-{name}-{}", std::process::id());
    let mut cmd = iso.command(env!("CARGO_BIN_EXE_torchup"));
    cmd.args(["verify", "--json", "--python"])
        .arg(&venv.python)
        .env("TORCHUP_FAKE_GPU", FakeGpu::none().import_delay_ms(60_000.0).to_json())
        .env(TREE_VAR, &marker)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let mut child: std::process::Child = cmd.spawn()?;
    let start = Instant::now();
    // torchup, the supervisor and the interpreter running the smoke script
    while !tree_members(&marker).iter().any(|(_, argv)| argv.contains(" -c ")) {
        if start.elapsed() > Duration::from_secs(60) {
            let _ = child.kill();
            bail!("{name}: the smoke test never started: {:?}", tree_members(&marker));
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    let signalled = Instant::now();
    // SAFETY: kill(2) on our own child's pid.
    unsafe {
        libc::kill(child.id() as i32, signal);
    }
    let status = loop {
        if let Some(st) = child.try_wait()? {
            break st;
        }
        if signalled.elapsed() > Duration::from_secs(30) {
            let _ = child.kill();
            bail!("{name}: torchup did not stop within 30 s");
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    let mut stderr = String::new();
    if let Some(mut e) = child.stderr.take() {
        use std::io::Read;
        let _ = e.read_to_string(&mut stderr);
    }
    if signal == libc::SIGKILL {
        ensure!(status.code().is_none(), "{name}: {status}");
    } else {
        ensure!(status.code() == Some(1), "{name}: exit {status}, stderr: {stderr}");
        ensure!(stderr.contains("cancelled ("), "{name}: {stderr}");
        ensure!(!stderr.contains("panicked"), "{name}: {stderr}");
    }
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let left = tree_members(&marker);
        if left.is_empty() {
            return Ok(());
        }
        if Instant::now() > deadline {
            for (pid, _) in &left {
                // SAFETY: cleaning up processes this test started.
                unsafe {
                    libc::kill(*pid, libc::SIGKILL);
                }
            }
            bail!("{name}: survivors after the signal: {left:?}");
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}

#[test]
fn every_signal_to_verify_leaves_no_interpreter_running() -> Result<()> {
    let (iso, venv) = setup()?;
    for (sig, name) in
        [(libc::SIGINT, "SIGINT"), (libc::SIGTERM, "SIGTERM"), (libc::SIGHUP, "SIGHUP"), (libc::SIGKILL, "SIGKILL")]
    {
        signal_verify(&iso, &venv, sig, name)?;
    }
    Ok(())
}
