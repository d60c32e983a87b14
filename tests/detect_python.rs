//! Python detection against real interpreters: real venvs, fake torch wheels installed by
//! real pip, system-like prefixes for PEP 668 / conda / the user site, and fake
//! interpreters that print garbage or hang. Every child runs in an isolated environment.
#![cfg(unix)]

mod detect_kit;
mod support;

use std::path::{Path, PathBuf};
use std::time::Duration;

use detect_kit::{FakeWheel, Source, World, script};
use torchup::exec::TokioRunner;
use torchup::facts::platform::HostEnv;
use torchup::facts::python::{CandidateProbing, PythonDetection, PythonError, PythonOptions, detect};
use torchup::facts::{EnvKind, Os};

fn options(world: &World, extra_env: &[(&str, String)], extra_path: &[&Path]) -> PythonOptions {
    let mut pairs = world.env(extra_path);
    pairs.extend(extra_env.iter().map(|(k, v)| (k.to_string(), v.clone())));
    let mut o = PythonOptions::new(Os::Linux, HostEnv::from_pairs(pairs), world.root().to_path_buf());
    o.timeout = Duration::from_secs(30);
    o
}

async fn run(o: &PythonOptions) -> PythonDetection {
    detect(o, &TokioRunner).await
}

fn s(p: &Path) -> String {
    p.to_string_lossy().into_owned()
}

/// Small packages that depend on torch (one only through an extra).
fn dependents_wheels(w: &World) {
    w.wheel(&FakeWheel::package("fake-accelerate", "1.1.0", &["numpy>=1.17", "torch>=1.10.0"]));
    w.wheel(&FakeWheel::package("fake-transformers", "4.46.0", &["torch>=2.0; extra == \"torch\"", "tqdm"]));
}

#[tokio::test]
async fn cpu_build_in_a_venv_with_pip_and_spaces_in_the_path() {
    let w = World::new();
    dependents_wheels(&w);
    let venv = w.root().join("my projects/env with spaces");
    let py = w.venv(&venv, true);
    w.install(&py, Source::Index("cpu"), &["torch==2.5.1+cpu", "torchvision==0.20.1+cpu"]);
    w.install(&py, Source::Local, &["fake-accelerate", "fake-transformers"]);

    let d = run(&options(&w, &[("VIRTUAL_ENV", s(&venv))], &[])).await;
    assert_eq!(d.error, None);
    let p = d.python.expect("a target");
    assert_eq!(p.env, EnvKind::Venv);
    assert_eq!(p.chosen_because, "VIRTUAL_ENV");
    assert!(p.executable.contains("env with spaces/bin/python"), "{}", p.executable);
    assert_eq!(p.bits, 64);
    assert_eq!(p.implementation, "cpython");
    assert!(!p.externally_managed);
    assert!(p.pip_version.is_some(), "the venv has pip");
    assert_eq!(p.pip_index_overrides, Vec::<String>::new());
    assert_eq!(p.cuda_visible_devices, None);
    assert!(p.user_site_shadowing.is_empty());

    let t = d.torch.expect("torch is installed");
    assert_eq!(t.version, "2.5.1+cpu");
    assert_eq!(t.cuda, None);
    assert_eq!(t.variant(), "cpu");
    assert_eq!(t.torchvision.as_deref(), Some("0.20.1+cpu"));
    assert_eq!(t.torchaudio, None);
    assert_eq!(t.installer.as_deref(), Some("pip"));
    assert!(t.location.as_deref().unwrap().ends_with("site-packages"));
    assert_eq!(
        t.dependents,
        vec!["fake-accelerate 1.1.0 (torch>=1.10.0)".to_string(), "torchvision 0.20.1+cpu (torch==2.5.1)".into()],
        "extra-only requirements do not count"
    );
    let chosen: Vec<_> = d.candidates.iter().filter(|c| c.chosen).collect();
    assert_eq!(chosen.len(), 1);
    assert_eq!(chosen[0].version.as_deref(), Some(p.version.as_str()));
    assert!(d.notes.is_empty(), "{:?}", d.notes);
}

#[tokio::test]
async fn cuda_build_chosen_with_explicit_python() {
    let w = World::new();
    let venv = w.root().join("cu venv");
    let py = w.venv(&venv, false);
    w.install(
        &py,
        Source::Index("cu124"),
        &["torch==2.5.1+cu124", "torchvision==0.20.1+cu124", "torchaudio==2.5.1+cu124"],
    );
    // Another venv is active, but --python wins.
    let other = w.root().join("other");
    w.venv(&other, false);

    let mut o = options(&w, &[("VIRTUAL_ENV", s(&other))], &[]);
    o.explicit = Some(py.clone());
    let d = run(&o).await;
    let p = d.python.expect("a target");
    assert_eq!(p.chosen_because, "--python");
    assert_eq!(p.pip_version, None, "a venv made --without-pip has no pip");
    let t = d.torch.expect("torch");
    assert_eq!(t.version, "2.5.1+cu124");
    assert_eq!(t.cuda.as_deref(), Some("12.4"));
    assert_eq!(t.variant(), "cu124");
    assert_eq!(t.torchaudio.as_deref(), Some("2.5.1+cu124"));
    let active = d.candidates.iter().find(|c| c.found_by == "VIRTUAL_ENV").expect("the active venv is still listed");
    assert!(!active.chosen);
    assert!(active.version.is_some(), "other candidates get a quick probe");

    // The same venv given as a directory resolves to its interpreter.
    o.explicit = Some(venv.clone());
    let d = run(&o).await;
    assert_eq!(d.torch.unwrap().cuda.as_deref(), Some("12.4"));
}

#[tokio::test]
async fn no_torch_and_a_broken_torch() {
    let w = World::new();
    w.wheel(&FakeWheel::broken_torch("2.5.1"));
    let venv = w.root().join("plain");
    let py = w.venv(&venv, false);
    let o = options(&w, &[("VIRTUAL_ENV", s(&venv))], &[]);
    let d = run(&o).await;
    assert!(d.python.is_some());
    assert_eq!(d.torch, None);

    w.install(&py, Source::Local, &["torch==2.5.1"]);
    let d = run(&o).await;
    let t = d.torch.expect("a broken torch is still reported");
    assert_eq!(t.version, "2.5.1", "falls back to the distribution version");
    assert_eq!(t.cuda, None);
    assert!(d.notes.iter().any(|n| n.contains("torch looks broken") && n.contains("version.py")), "{:?}", d.notes);
}

#[tokio::test]
async fn pep668_marker_applies_to_the_system_python_not_its_venvs() {
    let w = World::new();
    let prefix = w.root().join("usr local");
    let py = w.system_prefix(&prefix);
    let stdlib = PathBuf::from(w.ask(&py, "import sysconfig; print(sysconfig.get_path('stdlib'))"));
    std::fs::write(stdlib.join("EXTERNALLY-MANAGED"), "[externally-managed]\nError=use apt\n").unwrap();

    let mut o = options(&w, &[], &[]);
    o.explicit = Some(py.clone());
    let d = run(&o).await;
    let p = d.python.expect("target");
    assert_eq!(p.env, EnvKind::System);
    assert!(p.externally_managed);
    assert_eq!(p.prefix, s(&prefix));

    let venv = w.root().join("venv from system");
    let vpy = w.run(&[&s(&py), "-m", "venv", "--without-pip", &s(&venv)]);
    drop(vpy);
    o.explicit = Some(venv.join("bin/python"));
    let d = run(&o).await;
    let p = d.python.expect("target");
    assert_eq!(p.env, EnvKind::Venv);
    assert!(!p.externally_managed, "PEP 668 does not apply inside a venv");
}

#[tokio::test]
async fn conda_like_prefix_is_chosen_from_conda_prefix() {
    let w = World::new();
    let env_dir = w.home().join("miniconda3/envs/cyberpuppy");
    let py = w.system_prefix(&env_dir);
    std::fs::create_dir_all(env_dir.join("conda-meta")).unwrap();
    std::fs::write(env_dir.join("conda-meta/history"), "").unwrap();
    // conda envs keep python at bin/python on Unix.
    std::os::unix::fs::symlink("python3", env_dir.join("bin/python")).unwrap();
    w.install_target(&w.purelib(&py), Source::Index("cpu"), &["torch==2.5.1+cpu"]);

    let d = run(&options(&w, &[("CONDA_PREFIX", s(&env_dir))], &[])).await;
    let p = d.python.expect("target");
    assert_eq!(p.env, EnvKind::Conda);
    assert_eq!(p.chosen_because, "CONDA_PREFIX, conda env", "also found under ~/miniconda3/envs");
    assert!(!p.conda_available, "no conda executable in this world");
    assert_eq!(d.torch.unwrap().version, "2.5.1+cpu");

    // Without CONDA_PREFIX the env is still offered, but not chosen (nothing else on PATH).
    let d = run(&options(&w, &[], &[])).await;
    assert!(d.python.is_none());
    assert!(d.candidates.iter().any(|c| c.found_by == "conda env" && c.version.is_some()));
    assert!(matches!(d.error, Some(PythonError::NotFound { .. })));
}

#[tokio::test]
async fn user_site_and_pythonpath_shadowing() {
    let w = World::new();
    let prefix = w.root().join("sys");
    let py = w.system_prefix(&prefix);
    w.install_target(&w.purelib(&py), Source::Index("cu124"), &["torch==2.5.1+cu124"]);
    let user_site = w.user_site(&py);
    assert!(user_site.starts_with(w.home()), "HOME is the world's: {user_site:?}");
    w.install_target(&user_site, Source::Index("cpu"), &["torch==2.5.1+cpu"]);

    let mut o = options(&w, &[], &[]);
    o.explicit = Some(py.clone());
    let d = run(&o).await;
    let p = d.python.expect("target");
    assert_eq!(p.user_site_shadowing.len(), 1, "{:?}", p.user_site_shadowing);
    assert!(p.user_site_shadowing[0].starts_with("torch 2.5.1+cpu in "));
    assert!(p.user_site_shadowing[0].ends_with("(user site)"));
    assert_eq!(d.torch.unwrap().cuda.as_deref(), Some("12.4"), "the env's own torch is reported");

    let mut o2 = options(&w, &[("PYTHONNOUSERSITE", "1".into())], &[]);
    o2.explicit = Some(py.clone());
    assert!(run(&o2).await.python.unwrap().user_site_shadowing.is_empty(), "PYTHONNOUSERSITE turns the user site off");

    let extra = w.root().join("extra path");
    w.install_target(&extra, Source::Index("cpu"), &["torch==2.5.1+cpu"]);
    let venv = w.root().join("venv");
    let vpy = w.venv(&venv, false);
    let mut o3 = options(&w, &[("PYTHONPATH", s(&extra))], &[]);
    o3.explicit = Some(vpy);
    let p = run(&o3).await.python.unwrap();
    assert_eq!(
        p.user_site_shadowing.len(),
        1,
        "a venv hides the user site, PYTHONPATH still shadows: {:?}",
        p.user_site_shadowing
    );
    assert!(p.user_site_shadowing[0].ends_with("(PYTHONPATH)"));
}

#[tokio::test]
async fn cpu_index_settings_and_cuda_visible_devices() {
    let w = World::new();
    let venv = w.root().join("v");
    w.venv(&venv, false);
    std::fs::write(venv.join("pip.conf"), "[global]\nextra-index-url = https://download.pytorch.org/whl/cpu\n")
        .unwrap();
    let conf = w.root().join("pip config.ini");
    std::fs::write(&conf, "[install]\nindex-url = https://pypi.org/simple\n").unwrap();
    let o = options(
        &w,
        &[
            ("VIRTUAL_ENV", s(&venv)),
            ("PIP_CONFIG_FILE", s(&conf)),
            ("PIP_EXTRA_INDEX_URL", "https://download.pytorch.org/whl/cpu/".into()),
            ("CUDA_VISIBLE_DEVICES", String::new()),
        ],
        &[],
    );
    let p = run(&o).await.python.unwrap();
    assert_eq!(p.cuda_visible_devices.as_deref(), Some(""), "an empty value is a fact (it hides every GPU)");
    assert!(p.pip_index_overrides.contains(&"PIP_EXTRA_INDEX_URL=https://download.pytorch.org/whl/cpu/".to_string()));
    assert!(
        p.pip_index_overrides.iter().any(|l| l.contains(&format!(
            "{}: extra-index-url = https://download.pytorch.org/whl/cpu",
            venv.join("pip.conf").display()
        ))),
        "{:?}",
        p.pip_index_overrides
    );
    assert!(!p.pip_index_overrides.iter().any(|l| l.contains("pypi.org")));
}

#[tokio::test]
async fn missing_and_broken_interpreters() {
    let w = World::new();
    let mut o = options(&w, &[], &[]);
    o.explicit = Some(w.root().join("no such/python3"));
    let d = run(&o).await;
    assert!(d.python.is_none());
    let msg = d.error.unwrap().to_string();
    assert!(msg.contains("no such file") && msg.contains("pass the path of python.exe/python3"), "{msg}");

    // Nothing at all.
    let d = run(&options(&w, &[], &[])).await;
    assert!(d.python.is_none());
    assert!(d.error.unwrap().to_string().starts_with("no working Python found"));

    // An interpreter that prints garbage.
    let garbage = w.root().join("fake bin/python");
    script(&garbage, "printf '\\033[31mSegmentation fault\\000\\001 \\377\\n'");
    o.explicit = Some(garbage.clone());
    let d = run(&o).await;
    let msg = d.error.unwrap().to_string();
    assert!(msg.contains("could not be read") && msg.contains("Segmentation fault"), "{msg}");

    // The marker with broken JSON.
    let half = w.root().join("fake bin/python-half");
    script(&half, "echo 'TORCHUP_PROBE {\"probe\": 1, \"version\": '");
    o.explicit = Some(half);
    assert!(run(&o).await.error.unwrap().to_string().contains("could not be read"));

    // One that crashes.
    let crash = w.root().join("fake bin/python-crash");
    script(&crash, "echo 'Fatal Python error: init_fs_encoding' >&2; exit 1");
    o.explicit = Some(crash);
    let msg = run(&o).await.error.unwrap().to_string();
    assert!(msg.contains("exit code 1") && msg.contains("init_fs_encoding"), "{msg}");

    // One that hangs is killed after the timeout.
    let hang = w.root().join("fake bin/python-hang");
    script(&hang, "PATH=/usr/bin:/bin; sleep 30");
    o.explicit = Some(hang);
    o.timeout = Duration::from_millis(700);
    let started = std::time::Instant::now();
    let msg = run(&o).await.error.unwrap().to_string();
    assert!(msg.contains("no answer within"), "{msg}");
    assert!(started.elapsed() < Duration::from_secs(10));

    // A directory is not an interpreter.
    o.explicit = Some(w.home());
    assert!(run(&o).await.error.unwrap().to_string().contains("a directory without bin/python"));
}

#[tokio::test]
async fn path_order_fallback_and_dedup_by_real_executable() {
    let w = World::new();
    let venv = w.root().join("venv a");
    w.venv(&venv, false);
    // PATH: a broken `python` first, then the venv's bin, then a shim that execs the venv
    // python (as pyenv's shims do).
    let bad = w.root().join("bad bin");
    script(&bad.join("python"), "exit 7");
    let shims = w.root().join("shims");
    script(&shims.join("python3"), &format!("exec '{}' \"$@\"", venv.join("bin/python").display()));
    // The same venv is also the current directory's .venv (through a symlink).
    let project = w.root().join("project");
    std::fs::create_dir_all(&project).unwrap();
    std::os::unix::fs::symlink(&venv, project.join(".venv")).unwrap();
    // A symlinked directory into the venv's bin runs the *base* interpreter: Python looks
    // for pyvenv.cfg next to the path it was started as. It must stay a separate candidate.
    let links = w.root().join("links");
    std::os::unix::fs::symlink(venv.join("bin"), &links).unwrap();

    let venv_bin = venv.join("bin");
    let mut o = options(&w, &[], &[&bad, &venv_bin, &shims, &links]);
    o.cwd = project.clone();
    let d = run(&o).await;
    let p = d.python.expect("falls back past the broken python");
    assert_eq!(p.chosen_because, "PATH");
    assert_eq!(p.env, EnvKind::Venv);
    let chosen = &d.candidates[0];
    assert!(chosen.chosen);
    assert_eq!(chosen.path, s(&venv.join("bin/python")));
    for alias in ["venv a/bin/python3 (PATH)", ".venv/bin/python (.venv)"] {
        assert!(chosen.found_by.contains(alias), "{alias} is the same interpreter: {}", chosen.found_by);
    }
    assert!(d.candidates[1].problem.as_deref().unwrap().contains("exit code 7"));
    let via_link = &d.candidates[2];
    assert!(via_link.path.starts_with(&s(&links)), "{via_link:#?}");
    assert!(via_link.problem.is_none() && via_link.version.is_some());
    assert!(
        via_link.found_by.contains("also"),
        "links/python and links/python3 are one base interpreter: {via_link:#?}"
    );
    // By default shims are not run (each costs a start-up): listed, without a version.
    assert_eq!(d.candidates.len(), 4, "{:#?}", d.candidates);
    assert!(d.candidates[3].path.ends_with("shims/python3") && d.candidates[3].version.is_none());

    // Probing everything runs the shim and finds it is the chosen venv.
    o.probe_candidates = CandidateProbing::All;
    let d = run(&o).await;
    assert_eq!(d.candidates.len(), 3, "{:#?}", d.candidates);
    assert!(d.candidates[0].found_by.contains("shims/python3 (PATH)"), "{:#?}", d.candidates[0]);
}

/// The Windows flow, run on Linux: no python on PATH, only the `py` launcher in %SystemRoot%.
/// The fake launcher answers `-0p` with a real listing (a venv with spaces, the base Python,
/// the Store stub) and runs the real interpreter for `-3`, as py.exe does.
#[tokio::test]
async fn windows_py_launcher_flow() {
    let w = World::new();
    let venv = w.root().join("Users/Me/my proj/.venv");
    let vpy = w.venv(&venv, false);
    let base = detect_kit::base_python();
    let local = w.root().join("Users/Me/AppData/Local");
    let stub = local.join("Microsoft/WindowsApps/python.exe");
    script(
        &stub,
        "echo 'Python was not found; run without arguments to install from the Microsoft Store' >&2; exit 9009",
    );
    let sysroot = w.root().join("Windows");
    let listing = format!(
        "  -V:3.12 *        {}\n  -V:3.11          {}\n  -V:Store         {}\n",
        base.display(),
        vpy.display(),
        stub.display()
    );
    std::fs::write(w.root().join("listing.txt"), listing).unwrap();
    script(
        &sysroot.join("py.exe"),
        &format!(
            "if [ \"$1\" = -0p ]; then exec /bin/cat '{}'; fi\nif [ \"$1\" = -3 ]; then shift; exec '{}' \"$@\"; fi\nexit 103",
            w.root().join("listing.txt").display(),
            base.display()
        ),
    );
    let mut pairs = w.env(&[]);
    pairs.push(("SystemRoot".into(), s(&sysroot)));
    pairs.push(("LOCALAPPDATA".into(), s(&local)));
    pairs.push(("USERPROFILE".into(), s(&w.root().join("Users/Me"))));
    let mut o = PythonOptions::new(Os::Windows, HostEnv::from_pairs(pairs).windows_style(), w.root().to_path_buf());
    o.timeout = Duration::from_secs(30);
    let d = run(&o).await;

    let p = d.python.expect("py -3 is the target when nothing else is there");
    assert_eq!(p.chosen_because, "py launcher");
    assert_eq!(p.executable, s(base));
    let chosen = &d.candidates[0];
    assert_eq!(chosen.path, "py -3");
    assert!(chosen.found_by.contains(&format!("also {} (py -0p)", base.display())), "{chosen:#?}");
    let listed_venv = d.candidates.iter().find(|c| c.path == s(&vpy)).expect("the venv from py -0p");
    assert_eq!(listed_venv.found_by, "py -0p");
    assert_eq!(listed_venv.version.as_deref(), Some(p.version.as_str()), "from its pyvenv.cfg");
    let listed_stub = d.candidates.iter().find(|c| c.path == s(&stub)).expect("the stub is listed");
    assert!(listed_stub.problem.as_deref().unwrap().contains("F42"));
    assert_eq!(d.candidates.len(), 3, "{:#?}", d.candidates);
}
