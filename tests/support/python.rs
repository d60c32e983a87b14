//! The machine's base Python and real venvs made from it.
//!
//! The base interpreter is addressed by its resolved `sys.executable`, never through a
//! pyenv shim: the shims read `$HOME/.pyenv`, and the isolated HOME would break them.

use std::ffi::OsStr;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;
use std::time::Duration;

use anyhow::{Context, Result, anyhow, bail};

use super::env::Isolated;
use super::proc::{self, Output};

/// How long venv creation may take (ensurepip unpacks pip: ~2.5 s here).
pub const VENV_TIMEOUT: Duration = Duration::from_secs(120);
/// How long a pip install from the local index may take.
pub const PIP_TIMEOUT: Duration = Duration::from_secs(180);
/// How long a small script may take.
pub const SCRIPT_TIMEOUT: Duration = Duration::from_secs(60);

/// The base interpreter: `python3` (or `python` on Windows) from PATH, resolved to the
/// real executable via `sys.executable`. Cached for the test binary's lifetime.
pub fn base_python() -> Result<PathBuf> {
    static BASE: OnceLock<Result<PathBuf, String>> = OnceLock::new();
    BASE.get_or_init(|| find_base_python().map_err(|e| format!("{e:#}"))).clone().map_err(|e| anyhow!(e))
}

fn find_base_python() -> Result<PathBuf> {
    let candidates: &[&str] = if cfg!(windows) { &["python", "python3", "py"] } else { &["python3", "python"] };
    let mut tried = Vec::new();
    for name in candidates {
        let Ok(found) = which::which(name) else {
            tried.push(format!("{name}: not on PATH"));
            continue;
        };
        // `base_prefix` rather than `executable`: when PATH's python3 is itself inside a venv,
        // tests must still build venvs from the real base installation.
        let code = "import sys,os\n\
                    exe=sys.executable\n\
                    if sys.prefix!=sys.base_prefix:\n\
                    \x20   cand=[os.path.join(sys.base_prefix,'bin','python3'),os.path.join(sys.base_prefix,'python.exe')]\n\
                    \x20   exe=next((c for c in cand if os.path.exists(c)),exe)\n\
                    print(os.path.realpath(exe))";
        let out = proc::run(Command::new(&found).args(["-c", code]), SCRIPT_TIMEOUT);
        match out {
            Ok(o) if o.success() => {
                let p = PathBuf::from(o.stdout.trim());
                if p.is_file() {
                    return Ok(p);
                }
                tried.push(format!("{name}: sys.executable {p:?} is not a file"));
            }
            Ok(o) => tried.push(format!("{name}: {}", o.stderr.trim())),
            Err(e) => tried.push(format!("{name}: {e:#}")),
        }
    }
    bail!("no usable base Python 3 found (install python3 and python3-venv): {}", tried.join("; "))
}

/// Facts about an interpreter that wheel tags depend on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PyInfo {
    /// "3.11.7"
    pub version: String,
    /// "cp311"
    pub cp_tag: String,
    /// The most specific platform tag pip always accepts here: "linux_x86_64", "win_amd64", ...
    pub platform_tag: String,
}

/// Ask `python` for its version and tags (cached per path).
pub fn py_info(python: &Path) -> Result<PyInfo> {
    use std::collections::HashMap;
    use std::sync::Mutex;
    static CACHE: OnceLock<Mutex<HashMap<PathBuf, PyInfo>>> = OnceLock::new();
    let cache = CACHE.get_or_init(Default::default);
    if let Some(info) = cache.lock().map_err(|_| anyhow!("py_info cache poisoned"))?.get(python) {
        return Ok(info.clone());
    }
    let code = "import sys,sysconfig\n\
                v=sys.version_info\n\
                print('%d.%d.%d'%(v[0],v[1],v[2]))\n\
                print('cp%d%d'%(v[0],v[1]))\n\
                print(sysconfig.get_platform().replace('-','_').replace('.','_'))";
    let out = proc::run(Command::new(python).args(["-c", code]), SCRIPT_TIMEOUT)?.ok()?;
    let mut lines = out.stdout.lines();
    let mut next = |what: &str| lines.next().map(str::trim).map(String::from).with_context(|| format!("no {what}"));
    let info = PyInfo { version: next("version")?, cp_tag: next("cp tag")?, platform_tag: next("platform")? };
    cache.lock().map_err(|_| anyhow!("py_info cache poisoned"))?.insert(python.to_path_buf(), info.clone());
    Ok(info)
}

/// A real venv made with `python -m venv` (pip included).
#[derive(Debug, Clone)]
pub struct Venv {
    pub root: PathBuf,
    pub python: PathBuf,
}

/// Create a venv at `dir` (which must not exist yet, or be empty) with the base Python,
/// running inside `iso`'s environment. ~2.5 s on this machine (ensurepip).
pub fn make_venv(dir: &Path, iso: &Isolated) -> Result<Venv> {
    let base = base_python()?;
    let mut cmd = iso.command(&base);
    cmd.arg("-m").arg("venv").arg(dir);
    proc::run(&mut cmd, VENV_TIMEOUT)?.ok().context("python -m venv failed")?;
    let python = if cfg!(windows) { dir.join("Scripts").join("python.exe") } else { dir.join("bin").join("python") };
    if !python.exists() {
        bail!("venv at {} has no interpreter at {}", dir.display(), python.display());
    }
    Ok(Venv { root: dir.to_path_buf(), python })
}

/// Put the pip wheel that ensurepip bundles into a `--without-pip` venv, byte-compiled, with
/// the INSTALLER file and (on Unix) the `pip`/`pip3`/`pip3.X` scripts ensurepip would write.
/// Prints "no-bundled-pip" when this Python has no bundled wheel (some distro builds).
const INSTALL_BUNDLED_PIP: &str = r##"
import compileall, glob, os, sys, sysconfig, zipfile
import ensurepip
# CPython keeps it in ensurepip/_bundled. Debian's python3-venv keeps a debundled pip in
# /usr/share/python-wheels that needs its sibling wheels: left to the real ensurepip.
wheels = sorted(glob.glob(os.path.join(os.path.dirname(ensurepip.__file__), "_bundled", "pip-*.whl")))
if not wheels:
    print("no-bundled-pip")
    sys.exit(0)
site = sysconfig.get_paths()["purelib"]
with zipfile.ZipFile(wheels[-1]) as z:
    z.extractall(site)
    info = [n.split("/")[0] for n in z.namelist() if n.split("/")[0].endswith(".dist-info")][0]
with open(os.path.join(site, info, "INSTALLER"), "w") as f:
    f.write("pip\n")
if os.name != "nt":
    launcher = ("#!%s\n# -*- coding: utf-8 -*-\nimport re\nimport sys\nfrom pip._internal.cli.main import main\n"
                "if __name__ == '__main__':\n    sys.argv[0] = re.sub(r'(-script\\.pyw|\\.exe)?$', '', sys.argv[0])\n"
                "    sys.exit(main())\n") % sys.executable
    for name in ("pip", "pip3", "pip%d.%d" % sys.version_info[:2]):
        path = os.path.join(os.path.dirname(sys.executable), name)
        with open(path, "w") as f:
            f.write(launcher)
        os.chmod(path, 0o755)
compileall.compile_dir(os.path.join(site, "pip"), quiet=1, workers=0)
print("ok")
"##;

/// A venv made by `python -m venv --without-pip`, then given the same pip that ensurepip
/// would install (its bundled wheel, unpacked and byte-compiled). About 3x cheaper than
/// [`make_venv`] (ensurepip runs a whole pip install); no setuptools (3.12+ venvs have
/// none either). Falls back to [`make_venv`] when the Python bundles no pip wheel.
pub fn make_venv_fast(dir: &Path, iso: &Isolated) -> Result<Venv> {
    let base = base_python()?;
    let mut cmd = iso.command(&base);
    cmd.args(["-m", "venv", "--without-pip"]).arg(dir);
    proc::run(&mut cmd, VENV_TIMEOUT)?.ok().context("python -m venv --without-pip failed")?;
    let python = if cfg!(windows) { dir.join("Scripts").join("python.exe") } else { dir.join("bin").join("python") };
    let mut cmd = iso.command(&python);
    // Byte-compiling pip is the point here, whatever PYTHONDONTWRITEBYTECODE says.
    cmd.env_remove("PYTHONDONTWRITEBYTECODE").args(["-c", INSTALL_BUNDLED_PIP]);
    let out = proc::run(&mut cmd, VENV_TIMEOUT)?.ok().context("installing the bundled pip")?;
    if out.stdout.trim() == "no-bundled-pip" {
        std::fs::remove_dir_all(dir).with_context(|| format!("removing {}", dir.display()))?;
        return make_venv(dir, iso);
    }
    Ok(Venv { root: dir.to_path_buf(), python })
}

impl Venv {
    /// Run `python -m pip <args>` in `iso`'s environment; returns the output whatever the exit code.
    pub fn pip(&self, iso: &Isolated, args: &[&str]) -> Result<Output> {
        let mut cmd = iso.command(&self.python);
        cmd.args(["-m", "pip"]).args(args);
        proc::run(&mut cmd, PIP_TIMEOUT)
    }

    /// `pip install --index-url <index_url> <reqs...>` (no other index, no cache surprises).
    pub fn pip_install(&self, iso: &Isolated, index_url: &str, reqs: &[&str]) -> Result<Output> {
        let mut args = vec!["install", "--index-url", index_url, "--timeout", "10", "--retries", "0"];
        args.extend_from_slice(reqs);
        self.pip(iso, &args)
    }

    /// `pip uninstall -y <pkgs...>`.
    pub fn pip_uninstall(&self, iso: &Isolated, pkgs: &[&str]) -> Result<Output> {
        let mut args = vec!["uninstall", "-y"];
        args.extend_from_slice(pkgs);
        self.pip(iso, &args)
    }

    /// Run a Python program (`-c code`) with `iso`'s environment plus `extra` variables
    /// (`&[("CUDA_VISIBLE_DEVICES", "1")]`, or `&[gpu.env()]` with a [`super::gpu::FakeGpu`]).
    pub fn run_code<K: AsRef<OsStr>, V: AsRef<OsStr>>(
        &self,
        iso: &Isolated,
        code: &str,
        extra: &[(K, V)],
    ) -> Result<Output> {
        let mut cmd = iso.command(&self.python);
        for (k, v) in extra {
            cmd.env(k, v);
        }
        cmd.args(["-c", code]);
        proc::run(&mut cmd, SCRIPT_TIMEOUT)
    }

    /// [`Venv::run_code`] with no extra variables.
    pub fn run_code_bare(&self, iso: &Isolated, code: &str) -> Result<Output> {
        self.run_code::<&str, &str>(iso, code, &[])
    }

    /// The venv's site-packages directory (asked from the interpreter).
    pub fn site_packages(&self, iso: &Isolated) -> Result<PathBuf> {
        let out = self.run_code_bare(iso, "import sysconfig;print(sysconfig.get_paths()['purelib'])")?.ok()?;
        Ok(PathBuf::from(out.stdout.trim()))
    }
}
