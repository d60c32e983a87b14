//! torchup as an installed tool: a binary sitting in an environment's `bin/` folder (where
//! `pip install torchup` puts it) targets that environment without activation; one in a
//! tool installer's private environment (pipx) does not. The real binary is hard-linked (or
//! copied) into real venvs holding the kit's fake CPU torch, installed by real pip.
#![cfg(unix)]

mod detect_kit;
mod support;

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use detect_kit::{Source, World, base_python};
use serde_json::Value;
use torchup::facts::python::discover::INSTALLED_HERE;

/// The torchup binary placed at `<env>/bin/torchup`, as a wheel install places it.
fn install_binary(env_dir: &Path) -> PathBuf {
    let dest = env_dir.join("bin").join("torchup");
    let src = Path::new(env!("CARGO_BIN_EXE_torchup"));
    if std::fs::hard_link(src, &dest).is_err() {
        std::fs::copy(src, &dest).expect("copy the torchup binary");
    }
    dest
}

/// Run `exe` in the world with no venv/conda env active and PATH = the world's bin folder.
fn run(w: &World, exe: &Path, args: &[&str]) -> Output {
    Command::new(exe)
        .args(args)
        .env_clear()
        .envs(w.env(&[]))
        .current_dir(w.root())
        .output()
        .expect("run the installed torchup")
}

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

/// A world whose PATH has a `python3` (the base interpreter) and one venv with the CPU build.
fn world_with_venv(name: &str) -> (World, PathBuf) {
    let w = World::new();
    std::os::unix::fs::symlink(base_python(), w.bin().join("python3")).unwrap();
    let venv = w.root().join(name);
    let py = w.venv(&venv, false);
    w.install(&py, Source::Index("cpu"), &["torch==2.5.1+cpu"]);
    (w, venv)
}

#[test]
fn torchup_installed_in_a_venv_targets_it_without_activation() {
    let (w, venv) = world_with_venv("My Project/.venv");
    let exe = install_binary(&venv);

    let out = run(&w, &exe, &["detect", "--json"]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let doc: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(doc["python"]["executable"], venv.join("bin/python").display().to_string());
    assert_eq!(doc["python"]["chosen_because"], INSTALLED_HERE);
    assert_eq!(doc["torch"]["version"], "2.5.1+cpu");

    let human = text(&run(&w, &exe, &["detect"]).stdout);
    assert!(human.contains("chosen because torchup is installed in this environment"), "{human}");

    // The same binary outside any env (a build folder) uses python3 on PATH: no torch there.
    let out = Command::new(env!("CARGO_BIN_EXE_torchup"))
        .args(["detect", "--json"])
        .env_clear()
        .envs(w.env(&[]))
        .current_dir(w.root())
        .output()
        .unwrap();
    let doc: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(doc["python"]["chosen_because"], "PATH", "{doc}");
}

#[test]
fn torchup_in_a_pipx_private_venv_uses_the_usual_discovery() {
    let (w, venv) = world_with_venv("home/.local/share/pipx/venvs/torchup");
    std::fs::write(venv.join("pipx_metadata.json"), "{}").unwrap();
    let exe = install_binary(&venv);

    let out = run(&w, &exe, &["detect", "--json"]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let doc: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(doc["python"]["chosen_because"], "PATH", "{doc}");
    assert_eq!(doc["python"]["executable"], w.bin().join("python3").display().to_string());
    assert!(doc["torch"].is_null(), "the pipx env's torch is not the user's: {doc}");
}
