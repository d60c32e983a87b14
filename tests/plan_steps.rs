//! The steps of a plan, argv by argv: the interpreter's own pip, exact pins from one index,
//! constraints for a requirements file, conda's Option B, PEP 668 venvs.

use torchup::compat::data::CompatData;
use torchup::facts::Facts;
use torchup::plan::{Manager, Plan, Request, Step, StepKind, plan, steps};
use torchup::shell::Shell;

fn facts(name: &str) -> Facts {
    let path = format!("{}/tests/fixtures/facts/{name}.json", env!("CARGO_MANIFEST_DIR"));
    serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap()
}

fn run_with(f: &Facts, edit: impl FnOnce(&mut Request)) -> Plan {
    let mut req = Request { index_url: "https://download.pytorch.org/whl".into(), ..Request::default() };
    edit(&mut req);
    plan(f, &req, CompatData::bundled().unwrap(), None)
}

fn run(name: &str, edit: impl FnOnce(&mut Request)) -> Plan {
    run_with(&facts(name), edit)
}

fn argv(s: &Step) -> Vec<&str> {
    s.argv.iter().map(String::as_str).collect()
}

fn stages(p: &Plan) -> Vec<StepKind> {
    p.steps.iter().map(|s| s.stage).collect()
}

const WIN_PY: &str = r"C:\Users\mei\miniconda3\envs\cyberpuppy\python.exe";

/// The step of a stage.
fn step(p: &Plan, stage: StepKind) -> &Step {
    p.steps.iter().find(|s| s.stage == stage).unwrap_or_else(|| panic!("no {stage:?} step in {:?}", stages(p)))
}

#[test]
fn guide_machine_pip_steps() {
    let p = run("win-rtx3050-581-py311-conda-cpu", |_| {});
    // Fetch every byte first; then move the CPU build aside; install the fetched files
    // offline; verify with the embedded smoke test.
    assert_eq!(stages(&p), [StepKind::Fetch, StepKind::Uninstall, StepKind::Install, StepKind::Verify]);
    assert!(p.steps[0].argv.is_empty(), "the fetch is torchup's own work");
    assert!(p.steps[0].summary.contains("https://download.pytorch.org/whl/cu130"), "{}", p.steps[0].summary);
    assert!(p.steps[1].argv.is_empty(), "the uninstall is torchup's rename into the stash");
    assert!(p.steps[1].summary.contains("torch, torchvision, torchaudio aside"), "{}", p.steps[1].summary);
    assert_eq!(
        argv(&p.steps[2]),
        [
            WIN_PY,
            "-m",
            "pip",
            "install",
            "--no-index",
            "--find-links",
            steps::WHEELHOUSE_PLACEHOLDER,
            "torch==2.15.0+cu130",
            "torchvision==0.30.0+cu130",
            "torchaudio==2.11.0+cu130",
        ]
    );
    assert!(p.steps[3].argv.is_empty() && p.steps[3].summary.contains("torchup smoke-script"));
    assert_eq!(p.target_python.as_deref(), Some(WIN_PY));
    let c = p.choice.as_ref().unwrap();
    assert_eq!((c.manager, c.torchaudio.as_deref()), (Manager::Pip, Some("2.11.0+cu130")));
    assert_eq!(c.index_url, "https://download.pytorch.org/whl/cu130");
    // The fallback is fetched and installed the same way, from its own index.
    let f = p.fallback.as_ref().unwrap();
    assert_eq!(f.choice.index_url, "https://download.pytorch.org/whl/cu126");
    let fi = f.steps.iter().find(|s| s.stage == StepKind::Install).unwrap();
    assert!(fi.argv.contains(&"torch==2.14.0+cu126".to_string()), "{:?}", fi.argv);
}

#[test]
fn uninstall_lists_only_what_is_installed() {
    let p = run("win-rtx4060-laptop-566-py312", |_| {});
    assert!(step(&p, StepKind::Uninstall).summary.contains("move the installed torch, torchvision aside"));
    let p = run("linux-gtx1080ti-535-py312-venv", |_| {});
    assert_eq!(
        stages(&p),
        [StepKind::Fetch, StepKind::Install, StepKind::Verify],
        "nothing installed, nothing to move aside"
    );
    let p = run("win-rtx3050-581-torch251-cu124-cputv", |_| {});
    assert!(step(&p, StepKind::Uninstall).summary.contains("torch, torchvision, torchaudio, xformers aside"));
}

#[test]
fn torchaudio_is_never_pinned_to_torch_after_2_11() {
    // Installed torchaudio, torch 2.14.1 on cu126: torchaudio 2.11.0 comes back.
    let p = run("linux-multigpu-4090-1080ti-575", |_| {});
    let install = step(&p, StepKind::Install);
    assert!(install.argv.contains(&"torchaudio==2.11.0+cu126".to_string()), "{:?}", install.argv);
    // cu132 has no modern torchaudio: it is dropped and the user is told.
    let p = run("linux-multigpu-4090-1080ti-575", |r| {
        r.variant = Some("cu132".into());
        r.force = true;
    });
    assert!(!p.steps.iter().flat_map(|s| &s.argv).any(|a| a.starts_with("torchaudio==")));
    assert!(p.warnings.iter().any(|w| w.contains("torchaudio has no build on the cu132 index")));
    // Not installed and torch > 2.11: not added.
    let p = run("linux-rtx5070-laptop-580-py312", |_| {});
    assert!(!step(&p, StepKind::Install).argv.iter().any(|a| a.starts_with("torchaudio")));
    // torch ≤ 2.11: the guide's trio.
    let p = run("linux-rtx3050-580-py38", |_| {});
    assert!(step(&p, StepKind::Install).argv.contains(&"torchaudio==2.4.1+cu124".to_string()));
}

#[test]
fn one_index_only_and_no_dangerous_flags_in_any_plan() {
    let dir = format!("{}/tests/fixtures/facts", env!("CARGO_MANIFEST_DIR"));
    for entry in std::fs::read_dir(&dir).unwrap() {
        let name = entry.unwrap().file_name().to_string_lossy().trim_end_matches(".json").to_string();
        for manager in [Manager::Pip, Manager::Uv, Manager::Conda] {
            let p = run(&name, |r| {
                r.manager = manager;
                r.requirements = Some("/home/user/project/requirements.txt".into());
            });
            let all: Vec<&Step> = p.steps.iter().chain(p.fallback.iter().flat_map(|f| f.steps.iter())).collect();
            for s in all {
                for bad in ["--extra-index-url", "--trusted-host", "--break-system-packages", "--user"] {
                    assert!(!s.argv.iter().any(|a| a == bad), "{name} {manager:?}: {bad} in {:?}", s.argv);
                }
                assert!(!s.argv.iter().any(|a| a == "pip" && s.argv[0] == "pip"), "{name}: bare pip");
                if s.stage == StepKind::Install && s.argv[0] != "conda" {
                    // Installs read only the fetched files.
                    assert!(s.argv.iter().any(|a| a == "--no-index"), "{name}: {:?}", s.argv);
                    assert!(!s.argv.iter().any(|a| a == "--index-url"), "{name}: {:?}", s.argv);
                    for pin in s.argv.iter().filter(|a| a.starts_with("torch")) {
                        assert!(pin.contains("=="), "{name}: unpinned {pin}");
                    }
                }
            }
        }
    }
}

#[test]
fn uv_manager() {
    let mut f = facts("linux-gtx1080ti-535-py312-venv");
    f.python.as_mut().unwrap().uv_available = true;
    f.torch = facts("linux-multigpu-4090-1080ti-575").torch;
    let p = run_with(&f, |r| r.manager = Manager::Uv);
    let py = "/home/ana/proj/.venv/bin/python";
    assert_eq!(stages(&p), [StepKind::Fetch, StepKind::Uninstall, StepKind::Install, StepKind::Verify]);
    assert_eq!(
        argv(step(&p, StepKind::Install)),
        [
            "uv",
            "pip",
            "install",
            "--python",
            py,
            "--no-index",
            "--find-links",
            steps::WHEELHOUSE_PLACEHOLDER,
            "torch==2.14.1+cu126",
            "torchvision==0.29.1+cu126",
            "torchaudio==2.11.0+cu126",
        ]
    );
    assert_eq!(p.choice.as_ref().unwrap().manager, Manager::Uv);
    // Without uv on PATH the plan says so and uses pip.
    let p = run("linux-gtx1080ti-535-py312-venv", |r| r.manager = Manager::Uv);
    assert_eq!(p.choice.as_ref().unwrap().manager, Manager::Pip);
    assert!(p.warnings.iter().any(|w| w.contains("uv was not found on PATH")));
}

#[test]
fn conda_option_b_for_torch_2_5() {
    let p = run("win-rtx3050-581-py311-conda-cpu", |r| {
        r.manager = Manager::Conda;
        r.torch = Some("2.5.1".into());
        r.variant = Some("cu124".into());
    });
    let prefix = r"C:\Users\mei\miniconda3\envs\cyberpuppy";
    let conda = |extra: &'static str| {
        vec![
            "conda",
            "install",
            "-p",
            prefix,
            "-y",
            extra,
            "pytorch==2.5.1",
            "torchvision==0.20.1",
            "torchaudio==2.5.1",
            "pytorch-cuda=12.4",
            "-c",
            "pytorch",
            "-c",
            "nvidia",
        ]
    };
    // conda fetches into its package cache first, installs offline from it.
    assert_eq!(argv(step(&p, StepKind::Fetch)), conda("--download-only"));
    assert_eq!(argv(step(&p, StepKind::Install)), conda("--offline"));
    // torch came from pip in this env: torchup moves it aside (RECORD), conda installs.
    assert!(step(&p, StepKind::Uninstall).argv.is_empty());
    let c = p.choice.as_ref().unwrap();
    assert_eq!((c.manager, c.index_url.as_str()), (Manager::Conda, steps::CONDA_CHANNEL_URL));
}

#[test]
fn conda_installed_torch_leaves_through_conda_then_pip_installs() {
    let p = run("linux-conda-condatorch-580-py311", |_| {});
    let prefix = "/home/mei/miniconda3/envs/cyberpuppy";
    assert_eq!(
        argv(step(&p, StepKind::Uninstall)),
        ["conda", "remove", "-p", prefix, "-y", "pytorch", "torchvision", "torchaudio"]
    );
    assert_eq!(
        argv(step(&p, StepKind::Install))[..5],
        [&format!("{prefix}/bin/python") as &str, "-m", "pip", "install", "--no-index"]
    );
    // Without conda on PATH: torchup warns what to run if pip and conda conflict.
    let mut f = facts("linux-conda-condatorch-580-py311");
    f.python.as_mut().unwrap().conda_available = false;
    let p = run_with(&f, |_| {});
    assert!(step(&p, StepKind::Uninstall).argv.is_empty());
    assert!(p.warnings.iter().any(|w| w.contains(&format!("conda remove -p {prefix} pytorch"))));
}

#[test]
fn requirements_go_in_under_a_constraints_file() {
    let p = run("linux-gtx1080ti-535-py312-venv", |r| {
        r.requirements = Some("requirements.txt".into());
        r.workdir = Some("/home/ana/proj".into());
        r.constraints_file = Some("/home/ana/.local/state/torchup/constraints/torch-constraints.txt".into());
    });
    assert_eq!(stages(&p), [StepKind::Fetch, StepKind::Install, StepKind::Requirements, StepKind::Verify]);
    let s = step(&p, StepKind::Requirements);
    let cons = "/home/ana/.local/state/torchup/constraints/torch-constraints.txt";
    assert_eq!(
        argv(s),
        [
            "/home/ana/proj/.venv/bin/python",
            "-m",
            "pip",
            "install",
            "-r",
            "/home/ana/proj/requirements.txt",
            "-c",
            cons
        ]
    );
    assert_eq!(s.writes.len(), 1);
    assert_eq!(s.writes[0].0, cons);
    let lines: Vec<&str> = s.writes[0].1.lines().filter(|l| !l.starts_with('#')).collect();
    assert_eq!(lines, ["torch==2.14.1+cu126", "torchvision==0.29.1+cu126"]);
}

#[test]
fn pep668_plans_a_venv_and_installs_into_it() {
    let p = run("linux-debian-pep668-rtx3050-580", |r| r.workdir = Some("/home/deb/proj".into()));
    assert_eq!(stages(&p), [StepKind::Venv, StepKind::Fetch, StepKind::Install, StepKind::Verify]);
    assert_eq!(argv(&p.steps[0]), ["/usr/bin/python3", "-m", "venv", "/home/deb/proj/.venv"]);
    assert_eq!(step(&p, StepKind::Install).argv[0], "/home/deb/proj/.venv/bin/python");
    assert_eq!(p.target_python.as_deref(), Some("/home/deb/proj/.venv/bin/python"));
    let f = p.fallback.as_ref().unwrap();
    assert!(
        f.steps
            .iter()
            .all(|s| s.stage != StepKind::Venv && s.argv.first().map(String::as_str) != Some("/usr/bin/python3"))
    );
    // With uv, uv makes the venv.
    let mut facts = facts("linux-debian-pep668-rtx3050-580");
    facts.python.as_mut().unwrap().uv_available = true;
    let p = run_with(&facts, |r| {
        r.manager = Manager::Uv;
        r.workdir = Some("/home/deb/proj".into());
    });
    assert_eq!(argv(&p.steps[0]), ["uv", "venv", "--python", "/usr/bin/python3", "/home/deb/proj/.venv"]);
}

#[test]
fn windows_venv_paths() {
    let mut f = facts("win-titanv-572-py311");
    f.python.as_mut().unwrap().externally_managed = true;
    let p = run_with(&f, |r| r.workdir = Some(r"C:\work\proj".into()));
    assert_eq!(p.target_python.as_deref(), Some(r"C:\work\proj\.venv\Scripts\python.exe"));
}

#[test]
fn mirror_index_url() {
    let p = run("linux-gtx1080ti-535-py312-venv", |r| r.index_url = "https://mirror.corp.example/pytorch/whl/".into());
    assert_eq!(p.choice.as_ref().unwrap().index_url, "https://mirror.corp.example/pytorch/whl/cu126");
    assert!(step(&p, StepKind::Fetch).summary.contains("https://mirror.corp.example/pytorch/whl/cu126"));
}

#[test]
fn commands_are_quoted_for_the_target_shell() {
    let p = run("win-rtx3050-581-py311-conda-cpu", |_| {});
    let line = Shell::PowerShell.render(&step(&p, StepKind::Install).argv);
    assert!(
        line.starts_with(r"C:\Users\mei\miniconda3\envs\cyberpuppy\python.exe -m pip install --no-index"),
        "{line}"
    );
    let p =
        run("linux-gtx1080ti-535-py312-venv", |r| r.links_dir = Some("/home/ana/.cache/torchup/wheel house".into()));
    let line = Shell::Posix.render(&step(&p, StepKind::Install).argv);
    assert_eq!(
        line,
        "/home/ana/proj/.venv/bin/python -m pip install --no-index --find-links \"/home/ana/.cache/torchup/wheel house\" torch==2.14.1+cu126 torchvision==0.29.1+cu126"
    );
}

#[test]
fn nothing_to_do_only_verifies() {
    let p = run("linux-rtx3050-580-torch28-cu128", |_| {});
    assert!(p.nothing_to_do);
    assert_eq!(stages(&p), [StepKind::Verify]);
    assert!(p.steps[0].argv.is_empty(), "the embedded smoke test");
}

/// A token in the index URL reaches pip's argv only: the fetch step's summary, which the
/// Review and Run screens and `plan` print, masks it where it is made.
#[test]
fn an_index_credential_stays_out_of_the_step_texts() {
    let p = run("win-rtx3050-581-py311-conda-cpu", |r| r.index_url = "https://mei:s3cret-token@mirror.lan/whl".into());
    let fetch = step(&p, StepKind::Fetch);
    assert!(fetch.summary.contains("https://mei:***@mirror.lan/whl/"), "{}", fetch.summary);
    for s in &p.steps {
        assert!(!s.summary.contains("s3cret") && !s.changes.contains("s3cret"), "{s:?}");
    }
}
