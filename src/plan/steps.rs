//! The steps of a plan, in the order the engine runs them: create a venv (PEP 668), fetch
//! every file of the build into torchup's wheelhouse (nothing changes yet), move the installed
//! torch family aside (the guide's "uninstall"; kept until the new build passes), install the
//! fetched files offline, install a requirements file under a constraints file, verify with
//! the embedded smoke test.
//!
//! Always `<python> -m pip` (or `uv pip --python <python>`, or conda with `-p <prefix>`), so
//! the install lands in the interpreter that runs the code. The install step reads only the
//! wheelhouse (`--no-index --find-links`): the pins are exact and come from one index, and
//! they were fetched from it (resumable, hash-checked) before anything changed. `--index-url`
//! only, never `--extra-index-url` or `--trusted-host`.

use super::catalog::{AudioPin, Offer};
use super::{Choice, Manager, Request, Step, StepKind};
use crate::compat::index_url::OFFICIAL_INDEX_URL;
use crate::facts::{EnvKind, Facts, Os, PythonFacts};

/// The conda channel of the guide's Option B (frozen at torch 2.5).
pub const CONDA_CHANNEL_URL: &str = "https://conda.anaconda.org/pytorch";

/// Where the install step finds the fetched files when the request names no directory
/// (the session fills in the real per-environment directory of the wheelhouse).
pub const WHEELHOUSE_PLACEHOLDER: &str = "<wheelhouse>";

/// Steps plus what they imply.
#[derive(Debug, Clone, Default)]
pub struct Steps {
    pub steps: Vec<Step>,
    pub choice: Option<Choice>,
    /// The interpreter the steps install into.
    pub target_python: Option<String>,
    pub warnings: Vec<String>,
}

/// What is installed before the steps run.
#[derive(Debug, Clone, Default)]
pub struct Installed {
    /// pip distribution names present ("torch", "torchvision", ...), in family order.
    pub members: Vec<String>,
    /// Whether torch was installed by conda (remove it with conda).
    pub by_conda: bool,
}

impl Installed {
    /// The family as the detect facts describe it.
    pub fn from_facts(f: &Facts) -> Installed {
        let Some(t) = &f.torch else { return Installed::default() };
        let members = t.members().into_iter().map(|(name, _)| name.to_string()).collect();
        Installed { members, by_conda: t.installer.as_deref().is_some_and(|i| i.eq_ignore_ascii_case("conda")) }
    }
}

/// Which front end runs the steps, after checking what the machine has.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Runner {
    Pip,
    Uv,
    /// `conda install ... pytorch-cuda=X.Y -c pytorch -c nvidia`.
    Conda,
}

/// Index base without a trailing slash.
pub fn index_base(req: &Request) -> String {
    let b = req.index_url.trim().trim_end_matches('/');
    if b.is_empty() { OFFICIAL_INDEX_URL.to_string() } else { b.to_string() }
}

/// Join path parts the way the target OS spells them.
pub fn join(os: Os, base: &str, part: &str) -> String {
    let sep = if os == Os::Windows { '\\' } else { '/' };
    if base.ends_with(['/', '\\']) { format!("{base}{part}") } else { format!("{base}{sep}{part}") }
}

fn is_absolute(os: Os, p: &str) -> bool {
    match os {
        Os::Windows => {
            let b = p.as_bytes();
            p.starts_with("\\\\")
                || (b.len() >= 3 && b[0].is_ascii_alphabetic() && b[1] == b':' && (b[2] == b'\\' || b[2] == b'/'))
        }
        _ => p.starts_with('/'),
    }
}

/// The interpreter inside a venv directory.
pub fn venv_python(os: Os, venv: &str) -> String {
    match os {
        Os::Windows => join(os, &join(os, venv, "Scripts"), "python.exe"),
        _ => join(os, &join(os, venv, "bin"), "python"),
    }
}

/// Build the steps for installing `o`. `installed` is what is present before (for a
/// fallback: what the failed attempt may have left). `main` is false for the fallback's
/// steps, which reuse the main plan's venv.
pub fn build(facts: &Facts, req: &Request, o: &Offer<'_>, installed: &Installed, main: bool) -> Steps {
    let mut out = Steps::default();
    let Some(p) = &facts.python else { return out };
    let os = facts.os;

    let runner = pick_runner(req, p, o, &mut out.warnings);
    let manager = match runner {
        Runner::Pip => Manager::Pip,
        Runner::Uv => Manager::Uv,
        Runner::Conda => Manager::Conda,
    };

    // PEP 668: never --break-system-packages; a venv next to the project instead.
    let mut python = p.executable.clone();
    let mut installed = installed.clone();
    if p.externally_managed && runner != Runner::Conda {
        let venv = match &req.workdir {
            Some(w) => join(os, w, ".venv"),
            None => ".venv".to_string(),
        };
        let vpy = venv_python(os, &venv);
        if main {
            let argv = match runner {
                Runner::Uv => vec!["uv".into(), "venv".into(), "--python".into(), python.clone(), venv.clone()],
                _ => vec![python.clone(), "-m".into(), "venv".into(), venv.clone()],
            };
            out.steps.push(Step {
                stage: StepKind::Venv,
                argv,
                summary: format!("create a virtual environment at {venv}"),
                changes: format!("creates {venv}; the system Python is left alone"),
                writes: vec![],
            });
            out.warnings.push(format!(
                "{} is externally managed (PEP 668): torchup will not use --break-system-packages; it installs into a new venv at {venv} — run your code with {vpy}{}",
                p.executable,
                if os == Os::Linux { " (Debian/Ubuntu may need `sudo apt install python3-venv` first)" } else { "" }
            ));
        }
        python = vpy;
        if main {
            // A fresh venv holds nothing to uninstall; the system's torch stays as it is.
            installed = Installed::default();
        }
    }
    out.target_python = Some(python.clone());

    let base = index_base(req);
    let pins = pins(facts, o, runner, &mut out.warnings);
    let index_url = match runner {
        Runner::Conda => CONDA_CHANNEL_URL.to_string(),
        _ => format!("{base}/{}", o.variant),
    };

    let label_list = pins.iter().map(|(n, v)| format!("{n} {v}")).collect::<Vec<_>>().join(", ");
    let from = if runner == Runner::Conda {
        "the pytorch and nvidia conda channels".to_string()
    } else {
        // The summary is only ever shown: a credential in the index URL stays out of it.
        crate::redact::redact_text(&index_url).into_owned()
    };
    let links = req.links_dir.clone().unwrap_or_else(|| WHEELHOUSE_PLACEHOLDER.to_string());
    let pin_args = || -> Vec<String> {
        pins.iter()
            .map(|(n, v)| {
                format!("{}=={v}", if runner == Runner::Conda && n == "torch" { "pytorch" } else { n.as_str() })
            })
            .collect()
    };
    let conda_install = |extra: &str| -> Vec<String> {
        let mut a = vec!["conda".into(), "install".into(), "-p".into(), p.prefix.clone(), "-y".into(), extra.into()];
        a.extend(pin_args());
        a.push(format!("pytorch-cuda={}", o.conda.clone().unwrap_or_default()));
        a.extend(["-c".into(), "pytorch".into(), "-c".into(), "nvidia".into()]);
        a
    };

    // Fetch: torchup's own resumable, verified download (conda: its package cache).
    out.steps.push(Step {
        stage: StepKind::Fetch,
        argv: if runner == Runner::Conda { conda_install("--download-only") } else { Vec::new() },
        summary: format!("download and verify {label_list} and their dependencies from {from} (nothing changes yet)"),
        changes: "nothing in the environment; the files go to torchup's wheelhouse".into(),
        writes: vec![],
    });

    uninstall_step(&mut out, p, &installed);

    let install_argv = match runner {
        Runner::Pip => {
            let mut a = vec![python.clone(), "-m".into(), "pip".into(), "install".into(), "--no-index".into()];
            a.extend(["--find-links".into(), links.clone()]);
            a.extend(pin_args());
            a
        }
        Runner::Uv => {
            let mut a = vec!["uv".into(), "pip".into(), "install".into(), "--python".into(), python.clone()];
            a.extend(["--no-index".into(), "--find-links".into(), links.clone()]);
            a.extend(pin_args());
            a
        }
        Runner::Conda => conda_install("--offline"),
    };
    out.steps.push(Step {
        stage: StepKind::Install,
        argv: install_argv,
        summary: format!("install the fetched {label_list} (offline, from the verified files)"),
        changes: format!("installs {label_list}"),
        writes: vec![],
    });

    if let Some(r) = &req.requirements {
        requirements_step(&mut out, facts, req, &python, runner, &pins, r);
    }

    out.steps.push(verify_step(o.cuda.is_some()));

    let pin_of = |name: &str| pins.iter().find(|(n, _)| n == name).map(|(_, v)| v.clone());
    out.choice = Some(Choice {
        torch: o.torch.clone(),
        variant: o.variant.clone(),
        index_url,
        manager,
        torchvision: pin_of("torchvision"),
        torchaudio: pin_of("torchaudio"),
    });
    out
}

fn pick_runner(req: &Request, p: &PythonFacts, o: &Offer<'_>, warnings: &mut Vec<String>) -> Runner {
    match req.manager {
        Manager::Pip => {
            if p.pip_version.is_none() && !p.externally_managed {
                warnings.push(format!(
                    "pip was not found in {}: if the install fails with 'No module named pip', run `{} -m ensurepip --upgrade` first (or use --manager uv)",
                    p.executable, p.executable
                ));
            }
            Runner::Pip
        }
        Manager::Uv if p.uv_available => Runner::Uv,
        Manager::Uv => {
            warnings.push("uv was not found on PATH: the steps use pip instead".into());
            Runner::Pip
        }
        Manager::Conda if p.env != EnvKind::Conda => {
            warnings.push("--manager conda: the target Python is not a conda env; the steps use pip".into());
            Runner::Pip
        }
        Manager::Conda if !p.conda_available => {
            warnings.push("--manager conda: conda was not found; the steps use the env's pip".into());
            Runner::Pip
        }
        Manager::Conda if o.conda.is_none() => {
            warnings.push(format!(
                "torch {} is not on the pytorch conda channel (2.5 was the last release there): the env's pip installs it from the wheel index",
                o.label()
            ));
            Runner::Pip
        }
        Manager::Conda => Runner::Conda,
    }
}

/// (distribution, exact version) pairs, torch first. Local labels pin the variant; conda
/// uses plain versions.
fn pins(facts: &Facts, o: &Offer<'_>, runner: Runner, warnings: &mut Vec<String>) -> Vec<(String, String)> {
    let label = |v: &str| -> String {
        let macos = facts.os == Os::Macos;
        if runner == Runner::Conda || (macos && o.variant == "cpu") {
            v.to_string()
        } else {
            format!("{v}+{}", o.variant)
        }
    };
    let mut out =
        vec![("torch".to_string(), label(&o.torch)), ("torchvision".to_string(), label(&o.torchvision.version))];
    let had_audio = facts.torch.as_ref().is_some_and(|t| t.torchaudio.is_some());
    match &o.torchaudio {
        AudioPin::Paired(p) => out.push(("torchaudio".into(), label(&p.version))),
        AudioPin::IfInstalled(p) if had_audio => {
            out.push(("torchaudio".into(), label(&p.version)));
            warnings.push(format!(
                "torchaudio stopped at {}: it is reinstalled as {} (it supports torch ≥ 2.11), not as {}",
                p.version, p.version, o.torch
            ));
        }
        AudioPin::Unavailable if had_audio => warnings.push(format!(
            "torchaudio has no build on the {} index (its last release, 2.11.0, is not there): it is removed and not reinstalled; choose cu130 or cu126 if you need it",
            o.variant
        )),
        _ => {}
    }
    if facts.torch.as_ref().is_some_and(|t| t.xformers.is_some()) {
        warnings.push(format!(
            "xformers is compiled against one torch build: it is removed; afterwards install an xformers release made for torch {}",
            o.label()
        ));
    }
    out
}

fn uninstall_step(out: &mut Steps, p: &PythonFacts, installed: &Installed) {
    if installed.members.is_empty() {
        return;
    }
    let list = installed.members.join(", ");
    let conda_can = p.env == EnvKind::Conda && p.conda_available;
    if installed.by_conda && conda_can {
        // conda-installed torch leaves through conda (its revision history is the way back),
        // or pip and conda fight over it.
        let conda_names: Vec<String> = installed
            .members
            .iter()
            .filter(|m| *m != "xformers")
            .map(|m| if m == "torch" { "pytorch".to_string() } else { m.clone() })
            .collect();
        let mut argv = vec!["conda".to_string(), "remove".into(), "-p".into(), p.prefix.clone(), "-y".into()];
        argv.extend(conda_names.iter().cloned());
        out.steps.push(Step {
            stage: StepKind::Uninstall,
            argv,
            summary: format!(
                "remove the conda-installed {} (conda's revision history restores it)",
                conda_names.join(", ")
            ),
            changes: format!("removes {} from the conda env", conda_names.join(", ")),
            writes: vec![],
        });
        return;
    }
    if installed.by_conda {
        out.warnings.push(format!(
            "torch was installed by conda: torchup moves pip's view of it aside; if the install fails with a conda conflict, run `conda remove -p {} pytorch` and run torchup again",
            p.prefix
        ));
    }
    // torchup's own work: every file the distributions' RECORDs list is renamed into a stash
    // beside site-packages (instant, no extra space) and renamed back on any failure.
    out.steps.push(Step {
        stage: StepKind::Uninstall,
        argv: Vec::new(),
        summary: format!("move the installed {list} aside (kept until the new build passes the smoke test)"),
        changes: format!("removes {list} from the environment; the files are kept for a rollback"),
        writes: vec![],
    });
}

/// The last step: the embedded smoke test (`torchup smoke-script` prints it).
pub fn verify_step(cuda: bool) -> Step {
    Step {
        stage: StepKind::Verify,
        argv: Vec::new(),
        summary: if cuda {
            "run torchup's GPU smoke test (`torchup smoke-script` prints it): import, CUDA build, GPU architecture, a matmul on the GPU compared with the CPU".into()
        } else {
            "run torchup's smoke test (`torchup smoke-script` prints it): import and compute".into()
        },
        changes: "nothing; the moved-aside previous build is deleted once it passes".into(),
        writes: vec![],
    }
}

fn requirements_step(
    out: &mut Steps,
    facts: &Facts,
    req: &Request,
    python: &str,
    runner: Runner,
    pins: &[(String, String)],
    requirements: &str,
) {
    let os = facts.os;
    let req_path = match &req.workdir {
        Some(w) if !is_absolute(os, requirements) => join(os, w, requirements),
        _ => requirements.to_string(),
    };
    let constraints = req.constraints_file.clone().unwrap_or_else(|| match &req.workdir {
        Some(w) => join(os, w, "torchup-constraints.txt"),
        None => "torchup-constraints.txt".into(),
    });
    // Conda's packages report plain versions to pip; wheels carry the local label.
    let mut content =
        String::from("# Written by torchup: keeps the planned torch build while installing requirements.\n");
    for (n, v) in pins {
        content.push_str(&format!("{n}=={v}\n"));
    }
    let argv = match runner {
        Runner::Uv => vec![
            "uv".to_string(),
            "pip".into(),
            "install".into(),
            "--python".into(),
            python.to_string(),
            "-r".into(),
            req_path.clone(),
            "-c".into(),
            constraints.clone(),
        ],
        // Inside a conda env the requirements go through the env's pip.
        Runner::Pip | Runner::Conda => vec![
            python.to_string(),
            "-m".into(),
            "pip".into(),
            "install".into(),
            "-r".into(),
            req_path.clone(),
            "-c".into(),
            constraints.clone(),
        ],
    };
    let torch = pins.first().map(|(_, v)| v.clone()).unwrap_or_default();
    out.steps.push(Step {
        stage: StepKind::Requirements,
        argv,
        summary: format!("install {req_path} with torch held at {torch} by the constraints file {constraints}"),
        changes: format!("installs the packages of {req_path}; writes {constraints}"),
        writes: vec![(constraints, content)],
    });
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_per_os() {
        assert_eq!(join(Os::Windows, "C:\\proj", ".venv"), "C:\\proj\\.venv");
        assert_eq!(join(Os::Linux, "/home/a/proj/", ".venv"), "/home/a/proj/.venv");
        assert_eq!(venv_python(Os::Windows, "C:\\p\\.venv"), "C:\\p\\.venv\\Scripts\\python.exe");
        assert_eq!(venv_python(Os::Linux, "/p/.venv"), "/p/.venv/bin/python");
        assert!(is_absolute(Os::Windows, "D:\\x\\r.txt") && !is_absolute(Os::Windows, "r.txt"));
        assert!(is_absolute(Os::Linux, "/x") && !is_absolute(Os::Linux, "x/y"));
    }

    #[test]
    fn index_base_trims() {
        let r = Request { index_url: "https://mirror.example/whl/".into(), ..Request::default() };
        assert_eq!(index_base(&r), "https://mirror.example/whl");
        assert_eq!(index_base(&Request::default()), OFFICIAL_INDEX_URL);
    }
}
