//! The wheel as a user gets it: `pip install torchup-*.whl` with real pip into a fresh venv
//! that holds the kit's fake CPU torch, then the installed `torchup --version`, `torchup
//! detect --json` (it must target that venv without activation), `python -m torchup
//! --version`, and `uvx --from <wheel> torchup` (which must not target uvx's private env).
//!
//! Needs a built wheel, so it is ignored in the default run; scripts/wheel_ci.sh (called by
//! .ci/run) builds one and runs this with TORCHUP_WHEEL=<path> (and TORCHUP_UVX=<uvx>).
#![cfg(unix)]

mod detect_kit;
mod support;

use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::time::Instant;

use detect_kit::{Source, World, base_python};
use serde_json::Value;
use torchup::facts::python::discover::INSTALLED_HERE;

fn run(w: &World, argv: &[&Path], args: &[&str], extra: &[(&str, &str)]) -> Output {
    let started = Instant::now();
    let out = Command::new(argv[0])
        .args(&argv[1..])
        .args(args)
        .env_clear()
        .envs(w.env(&[]))
        .envs(extra.iter().copied())
        .current_dir(w.root())
        .output()
        .unwrap_or_else(|e| panic!("cannot run {}: {e}", argv[0].display()));
    eprintln!("  {:.1} s  {} {}", started.elapsed().as_secs_f64(), argv[0].display(), args.join(" "));
    assert!(
        out.status.success(),
        "{} {args:?} failed:\n{}\n{}",
        argv[0].display(),
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    out
}

fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

fn assert_version_line(line: &str) {
    let v = line.trim_end();
    assert!(v.starts_with(&format!("torchup {} (commit ", env!("CARGO_PKG_VERSION"))), "{v}");
    assert!(v.contains(&format!("compat data {}, ", torchup::build_info::DATA_VERSION)), "{v}");
}

fn wheel() -> PathBuf {
    let w = std::env::var_os("TORCHUP_WHEEL")
        .map(PathBuf::from)
        .expect("TORCHUP_WHEEL=<path of a torchup wheel>; scripts/wheel_ci.sh builds one and sets it");
    assert!(w.is_file(), "TORCHUP_WHEEL={} is not a file", w.display());
    w
}

#[test]
#[ignore = "needs a built wheel: run by scripts/wheel_ci.sh with TORCHUP_WHEEL"]
fn pip_installed_wheel_runs_and_targets_its_venv() {
    let wheel = wheel();
    let w = World::new();
    // python3 on PATH is the base interpreter, so "targets the venv" is not PATH's doing.
    std::os::unix::fs::symlink(base_python(), w.bin().join("python3")).unwrap();
    let venv = w.root().join("My Project/.venv");
    let py = w.venv(&venv, true);
    let started = Instant::now();
    w.install(&py, Source::Index("cpu"), &["torch==2.5.1+cpu"]);
    eprintln!("  {:.1} s  fake CPU torch installed", started.elapsed().as_secs_f64());
    let install = run(&w, &[&py], &["-m", "pip", "install", "--no-index", &wheel.to_string_lossy()], &[]);
    assert!(stdout(&install).contains("Successfully installed torchup-"), "{}", stdout(&install));

    let exe = venv.join("bin/torchup");
    assert!(exe.is_file(), "pip put the binary in the venv's bin folder");
    let version = stdout(&run(&w, &[&exe], &["--version"], &[]));
    assert_version_line(&version);

    let doc: Value = serde_json::from_str(&stdout(&run(&w, &[&exe], &["detect", "--json"], &[]))).unwrap();
    assert_eq!(doc["python"]["executable"], py.display().to_string(), "{doc}");
    assert_eq!(doc["python"]["chosen_because"], INSTALLED_HERE);
    assert_eq!(doc["torch"]["version"], "2.5.1+cpu");

    let shim = stdout(&run(&w, &[&py], &["-m", "torchup", "--version"], &[]));
    assert_eq!(shim, version, "python -m torchup runs the same binary");
}

#[test]
#[ignore = "needs a built wheel and uv: run by scripts/wheel_ci.sh with TORCHUP_WHEEL and TORCHUP_UVX"]
fn uvx_runs_the_wheel_and_never_targets_its_private_env() {
    let wheel = wheel();
    let uvx = std::env::var_os("TORCHUP_UVX").map(PathBuf::from).expect("TORCHUP_UVX=<path of uvx>");
    let w = World::new();
    std::os::unix::fs::symlink(base_python(), w.bin().join("python3")).unwrap();
    // uv's default cache under the isolated XDG_CACHE_HOME.
    let cache = w.home().join(".cache/uv");
    let uv_env = [("UV_PYTHON_DOWNLOADS", "never"), ("UV_NO_CONFIG", "1"), ("UV_OFFLINE", "1")];
    let from = ["--from", wheel.to_str().unwrap(), "torchup"];
    let version = stdout(&run(&w, &[&uvx], &[&from[..], &["--version"]].concat(), &uv_env));
    assert_version_line(&version);

    // uvx's cached env holds a python next to torchup; it is not the user's environment.
    let doc: Value =
        serde_json::from_str(&stdout(&run(&w, &[&uvx], &[&from[..], &["detect", "--json"]].concat(), &uv_env)))
            .unwrap();
    assert_eq!(doc["python"]["chosen_because"], "PATH", "{doc}");
    assert!(cache.join("CACHEDIR.TAG").is_file(), "uvx used the isolated cache");
    assert!(!doc["python"]["executable"].as_str().unwrap().starts_with(&*cache.to_string_lossy()), "{doc}");
}
