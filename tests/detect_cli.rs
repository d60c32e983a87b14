//! `torchup detect` as a user runs it: the real binary, a real venv with fake torch wheels
//! installed by real pip, an explicit isolated environment (never the developer's).
#![cfg(unix)]

mod detect_kit;
mod support;

use std::path::Path;
use std::process::{Command, Output};

use detect_kit::{Source, World};
use serde_json::Value;

fn torchup(world: &World, args: &[&str], extra_env: &[(&str, &str)], cwd: &Path) -> Output {
    Command::new(env!("CARGO_BIN_EXE_torchup"))
        .args(args)
        .env_clear()
        .envs(world.env(&[]))
        .envs(extra_env.iter().map(|(k, v)| (k.to_string(), v.to_string())))
        .current_dir(cwd)
        .output()
        .expect("run torchup")
}

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

/// A world with one venv (spaces in its path) holding the CPU build and torchvision.
fn cpu_world() -> (World, std::path::PathBuf) {
    let w = World::new();
    let venv = w.root().join("My Project/.venv");
    let py = w.venv(&venv, false);
    w.install(&py, Source::Index("cpu"), &["torch==2.5.1+cpu", "torchvision==0.20.1+cpu"]);
    (w, venv)
}

#[test]
fn json_document_has_every_contract_field() {
    let (w, venv) = cpu_world();
    let out = torchup(&w, &["detect", "--json"], &[("VIRTUAL_ENV", venv.to_str().unwrap())], w.root());
    assert_eq!(out.status.code(), Some(0), "stderr: {}", text(&out.stderr));
    assert!(out.stderr.is_empty(), "nothing on stderr without problems: {}", text(&out.stderr));
    let doc: Value = serde_json::from_slice(&out.stdout).expect("exactly one JSON document on stdout");

    assert_eq!(doc["schema"], 1);
    assert_eq!(doc["os"], "linux");
    assert_eq!(doc["arch"], std::env::consts::ARCH);
    assert!(doc["wsl"].is_boolean());
    assert!(doc["gpus"].is_array());
    for g in doc["gpus"].as_array().unwrap() {
        for k in ["index", "name", "memory_mib", "compute_capability"] {
            assert!(g.get(k).is_some(), "gpu field {k}");
        }
    }
    assert!(doc.get("driver").is_some(), "driver is present (object or null)");
    if !doc["driver"].is_null() {
        assert!(doc["driver"].get("version").is_some() && doc["driver"].get("cuda").is_some());
    }

    let p = &doc["python"];
    for k in ["executable", "version", "bits", "env", "externally_managed"] {
        assert!(p.get(k).is_some(), "python field {k}");
    }
    assert_eq!(p["env"], "venv");
    assert_eq!(p["bits"], 64);
    assert_eq!(p["externally_managed"], false);
    assert!(p["executable"].as_str().unwrap().contains("My Project/.venv/bin/python"));
    let version = p["version"].as_str().unwrap();
    assert_eq!(version.split('.').count(), 3, "{version}");

    let t = &doc["torch"];
    for k in ["version", "cuda", "torchvision", "torchaudio"] {
        assert!(t.get(k).is_some(), "torch field {k}");
    }
    assert_eq!(t["version"], "2.5.1+cpu");
    assert!(t["cuda"].is_null());
    assert_eq!(t["torchvision"], "0.20.1+cpu");
    assert!(t["torchaudio"].is_null());
}

#[test]
fn human_summary_in_the_guides_words() {
    let (w, venv) = cpu_world();
    let out =
        torchup(&w, &["detect"], &[("VIRTUAL_ENV", venv.to_str().unwrap()), ("CUDA_VISIBLE_DEVICES", "-1")], w.root());
    assert_eq!(out.status.code(), Some(0), "stderr: {}", text(&out.stderr));
    let stdout = text(&out.stdout);
    let python_line = stdout.lines().find(|l| l.starts_with("Python ")).expect(&stdout);
    assert!(python_line.contains(" (venv) ") && python_line.ends_with("My Project/.venv/bin/python"), "{python_line}");
    assert!(stdout.contains("chosen from VIRTUAL_ENV"));
    assert!(stdout.contains("PyTorch 2.5.1+cpu — CPU-only build: CUDA not usable"), "{stdout}");
    assert!(stdout.contains("torchvision 0.20.1+cpu · installed by pip"));
    let cvd = stdout.lines().find(|l| l.starts_with("warning: CUDA_VISIBLE_DEVICES=\"-1\" hides every GPU from CUDA"));
    assert!(cvd.is_some_and(|l| l.ends_with("(F35)")), "{stdout}");
    assert!(stdout.lines().next().unwrap().starts_with("GPU"), "the GPU comes first: {stdout}");
}

#[test]
fn cuda_build_found_through_python_flag_relative_to_the_current_directory() {
    let w = World::new();
    let project = w.root().join("proj");
    let py = w.venv(&project.join("venv"), false);
    w.install(&py, Source::Index("cu124"), &["torch==2.5.1+cu124"]);
    let out = torchup(&w, &["--python", "venv/bin/python", "detect", "--json"], &[], &project);
    assert_eq!(out.status.code(), Some(0), "stderr: {}", text(&out.stderr));
    let doc: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(doc["torch"]["cuda"], "12.4");
    assert_eq!(doc["python"]["chosen_because"], "--python, venv");
}

#[test]
fn missing_python_flag_exits_3_with_the_fix() {
    let w = World::new();
    let out = torchup(&w, &["--python", "/nonexistent/python3", "detect"], &[], w.root());
    assert_eq!(out.status.code(), Some(3));
    let stderr = text(&out.stderr);
    assert_eq!(stderr.lines().count(), 1, "one line: {stderr}");
    assert_eq!(
        stderr.trim(),
        "torchup: --python /nonexistent/python3: no such file; pass the path of python.exe/python3 of the env you train in"
    );

    // --json still prints the document, with python null.
    let out = torchup(&w, &["--python", "/nonexistent/python3", "detect", "--json"], &[], w.root());
    assert_eq!(out.status.code(), Some(3));
    let doc: Value = serde_json::from_slice(&out.stdout).expect("the JSON document");
    assert!(doc["python"].is_null() && doc["torch"].is_null());
    assert_eq!(doc["python_candidates"][0]["problem"], "no such file");
}

#[test]
fn no_python_anywhere_exits_3() {
    let w = World::new();
    let out = torchup(&w, &["detect"], &[], w.root());
    assert_eq!(out.status.code(), Some(3), "stdout: {}", text(&out.stdout));
    let stderr = text(&out.stderr);
    assert!(stderr.starts_with("torchup: no working Python found"), "{stderr}");
    assert!(stderr.contains("--python PATH"));
    assert!(text(&out.stdout).contains("Python: no usable interpreter found"));
}

#[test]
fn not_a_python_exits_3() {
    let w = World::new();
    let fake = w.root().join("not python.sh");
    detect_kit::script(&fake, "echo 'hello, I am a shell script'");
    let out = torchup(&w, &["--python", fake.to_str().unwrap(), "detect"], &[], w.root());
    assert_eq!(out.status.code(), Some(3));
    let stderr = text(&out.stderr);
    assert!(stderr.contains("its answer could not be read: hello, I am a shell script"), "{stderr}");
}

#[test]
fn usage_errors_exit_2() {
    let w = World::new();
    let out = torchup(&w, &["detect", "--jsn"], &[], w.root());
    assert_eq!(out.status.code(), Some(2));
    assert!(text(&out.stderr).contains("--jsn"));
}
