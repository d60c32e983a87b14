//! A small test kit for the detect tests: an isolated environment, real venvs, fake torch
//! wheels installed by real pip, and "system-like" Python prefixes (for PEP 668, conda and
//! the user site). Temporary: the shared kit on the `testkit` branch replaces it once merged.
#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;

/// The machine's python3, resolved to the real binary once (PATH may hold slow shims).
pub fn base_python() -> &'static PathBuf {
    static BASE: OnceLock<PathBuf> = OnceLock::new();
    BASE.get_or_init(|| {
        let out = Command::new("python3")
            .args(["-I", "-c", "import sys; print(sys.executable)"])
            .output()
            .expect("python3 must be installed to run the detect tests (apt-get install python3 python3-venv)");
        assert!(out.status.success(), "python3 failed: {}", String::from_utf8_lossy(&out.stderr));
        PathBuf::from(String::from_utf8_lossy(&out.stdout).trim())
    })
}

/// A temporary world: HOME, an empty bin directory for PATH, a wheel directory.
pub struct World {
    pub dir: tempfile::TempDir,
}

impl World {
    pub fn new() -> World {
        let dir = tempfile::Builder::new().prefix("torchup detect ").tempdir().expect("tempdir");
        for d in ["home", "bin", "wheels", "state"] {
            std::fs::create_dir_all(dir.path().join(d)).unwrap();
        }
        World { dir }
    }

    pub fn root(&self) -> &Path {
        self.dir.path()
    }
    pub fn home(&self) -> PathBuf {
        self.root().join("home")
    }
    pub fn bin(&self) -> PathBuf {
        self.root().join("bin")
    }
    pub fn wheels(&self) -> PathBuf {
        self.root().join("wheels")
    }

    /// The isolated environment every child gets: temp HOME, no pip config, no index
    /// variables, PATH = an empty directory of this world (plus `extra_path` first).
    pub fn env(&self, extra_path: &[&Path]) -> Vec<(String, String)> {
        let mut path: Vec<String> = extra_path.iter().map(|p| p.to_string_lossy().into_owned()).collect();
        path.push(self.bin().to_string_lossy().into_owned());
        vec![
            ("PATH".into(), path.join(":")),
            ("HOME".into(), self.home().to_string_lossy().into_owned()),
            ("PIP_CONFIG_FILE".into(), "/dev/null".into()),
            ("PIP_DISABLE_PIP_VERSION_CHECK".into(), "1".into()),
            ("PIP_NO_INPUT".into(), "1".into()),
            ("PIP_CACHE_DIR".into(), self.home().join(".cache/pip").to_string_lossy().into_owned()),
            ("TORCHUP_STATE_DIR".into(), self.root().join("state").to_string_lossy().into_owned()),
            ("TORCHUP_CACHE_DIR".into(), self.root().join("state/cache").to_string_lossy().into_owned()),
            ("LANG".into(), "C.UTF-8".into()),
        ]
    }

    /// Run a program in the isolated environment; panic with its output on failure.
    pub fn run(&self, argv: &[&str]) -> String {
        let out = Command::new(argv[0])
            .args(&argv[1..])
            .env_clear()
            .envs(self.env(&[]))
            .current_dir(self.root())
            .output()
            .unwrap_or_else(|e| panic!("cannot run {argv:?}: {e}"));
        assert!(
            out.status.success(),
            "{argv:?} failed:\n{}\n{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    /// `python3 -m venv DIR` (with pip only when asked: ensurepip takes seconds).
    pub fn venv(&self, dir: &Path, with_pip: bool) -> PathBuf {
        let base = base_python().to_string_lossy().into_owned();
        let d = dir.to_string_lossy().into_owned();
        let mut argv = vec![base.as_str(), "-m", "venv"];
        if !with_pip {
            argv.push("--without-pip");
        }
        argv.push(&d);
        self.run(&argv);
        dir.join("bin").join("python")
    }

    /// Install from the wheel directory with real pip: the target's own pip when it has
    /// one, else the base interpreter's pip driving it with `--python`.
    pub fn pip_install(&self, python: &Path, specs: &[&str]) {
        let wheels = self.wheels().to_string_lossy().into_owned();
        let py = python.to_string_lossy().into_owned();
        let has_pip = Command::new(python)
            .args(["-I", "-c", "import pip"])
            .env_clear()
            .envs(self.env(&[]))
            .stderr(std::process::Stdio::null())
            .status()
            .is_ok_and(|s| s.success());
        let base = base_python().to_string_lossy().into_owned();
        let mut argv: Vec<&str> = if has_pip {
            vec![py.as_str(), "-m", "pip", "install"]
        } else {
            vec![base.as_str(), "-m", "pip", "--python", py.as_str(), "install"]
        };
        argv.extend(["--no-index", "--find-links", wheels.as_str(), "--no-deps", "--quiet"]);
        argv.extend(specs);
        self.run(&argv);
    }

    /// Install into a plain directory (a user site, a PYTHONPATH entry) with `--target`.
    pub fn pip_install_target(&self, target: &Path, specs: &[&str]) {
        let wheels = self.wheels().to_string_lossy().into_owned();
        let t = target.to_string_lossy().into_owned();
        let base = base_python().to_string_lossy().into_owned();
        let mut argv = vec![base.as_str(), "-m", "pip", "install", "--no-index", "--find-links", wheels.as_str()];
        argv.extend(["--no-deps", "--quiet", "--target", t.as_str()]);
        argv.extend(specs);
        self.run(&argv);
    }

    /// Ask an interpreter something (isolated), e.g. its site-packages.
    pub fn ask(&self, python: &Path, code: &str) -> String {
        let p = python.to_string_lossy().into_owned();
        self.run(&[p.as_str(), "-I", "-c", code]).trim().to_string()
    }

    /// A "system" Python living in `prefix`: a copy of the base binary with the standard
    /// library linked in, and its own empty site-packages. Returns its interpreter.
    pub fn system_prefix(&self, prefix: &Path) -> PathBuf {
        let info = self.ask(
            base_python(),
            "import sys, sysconfig, os; print(os.path.realpath(sys.executable)); print(sysconfig.get_path('stdlib'))",
        );
        let mut lines = info.lines();
        let exe = PathBuf::from(lines.next().unwrap());
        let stdlib = PathBuf::from(lines.next().unwrap());
        let lib = prefix.join("lib").join(stdlib.file_name().unwrap());
        std::fs::create_dir_all(&lib).unwrap();
        std::fs::create_dir_all(prefix.join("bin")).unwrap();
        for entry in std::fs::read_dir(&stdlib).unwrap() {
            let entry = entry.unwrap();
            let name = entry.file_name();
            if name == "site-packages" || name == "dist-packages" || name == "EXTERNALLY-MANAGED" {
                continue;
            }
            std::os::unix::fs::symlink(entry.path(), lib.join(&name)).unwrap();
        }
        let python = prefix.join("bin").join("python3");
        std::fs::copy(&exe, &python).unwrap();
        let purelib = PathBuf::from(self.ask(&python, "import sysconfig; print(sysconfig.get_path('purelib'))"));
        assert!(
            purelib.starts_with(prefix),
            "the copied interpreter did not take {prefix:?} as its prefix: {purelib:?}"
        );
        std::fs::create_dir_all(&purelib).unwrap();
        python
    }

    /// The directory `import x` searches first in an env: its purelib.
    pub fn purelib(&self, python: &Path) -> PathBuf {
        PathBuf::from(self.ask(python, "import sysconfig; print(sysconfig.get_path('purelib'))"))
    }

    /// The user site of an interpreter under this world's HOME.
    pub fn user_site(&self, python: &Path) -> PathBuf {
        PathBuf::from(self.ask(python, "import site; print(site.getusersitepackages())"))
    }

    /// Write a wheel into the wheel directory.
    pub fn wheel(&self, w: &FakeWheel) -> PathBuf {
        w.write(&self.wheels())
    }
}

/// A fake distribution to be packed as a wheel.
pub struct FakeWheel {
    pub name: String,
    pub version: String,
    pub requires: Vec<String>,
    /// (path inside the wheel, content)
    pub files: Vec<(String, String)>,
}

impl FakeWheel {
    /// torch with a real-looking torch/version.py; `cuda` None is the CPU build.
    pub fn torch(version: &str, cuda: Option<&str>) -> FakeWheel {
        let cuda = cuda.map(|c| format!("'{c}'")).unwrap_or_else(|| "None".into());
        FakeWheel {
            name: "torch".into(),
            version: version.into(),
            requires: vec!["filelock".into(), "typing-extensions>=4.8.0".into()],
            files: vec![
                (
                    "torch/__init__.py".into(),
                    "from torch import version as version\n__version__ = version.__version__\n".into(),
                ),
                (
                    "torch/version.py".into(),
                    format!(
                        "from typing import Optional\n\n__all__ = ['__version__', 'debug', 'cuda', 'git_version', 'hip']\n\
                         __version__ = '{version}'\ndebug = False\ncuda: Optional[str] = {cuda}\n\
                         git_version = 'a8d6afb511a69687bbb2b7e88a3cf67917e1697e'\nhip: Optional[str] = None\n\
                         xpu: Optional[str] = None\n"
                    ),
                ),
            ],
        }
    }

    /// A torch whose version.py is not Python.
    pub fn broken_torch(version: &str) -> FakeWheel {
        FakeWheel {
            name: "torch".into(),
            version: version.into(),
            requires: vec![],
            files: vec![
                ("torch/__init__.py".into(), String::new()),
                ("torch/version.py".into(), "__version__ = '2.5.1+cu1\u{0}\u{1}<<<<<<< garbage\n\tcuda: = ((\n".into()),
            ],
        }
    }

    /// A companion (torchvision, torchaudio) with a version.py and a pin on torch.
    pub fn companion(name: &str, version: &str, torch_pin: &str) -> FakeWheel {
        FakeWheel {
            name: name.into(),
            version: version.into(),
            requires: vec![format!("torch=={torch_pin}")],
            files: vec![
                (format!("{name}/__init__.py"), String::new()),
                (format!("{name}/version.py"), format!("__version__ = '{version}'\ngit_version = 'abc'\n")),
            ],
        }
    }

    /// Any small package with the given requirements.
    pub fn package(name: &str, version: &str, requires: &[&str]) -> FakeWheel {
        let module = name.replace('-', "_");
        FakeWheel {
            name: name.into(),
            version: version.into(),
            requires: requires.iter().map(|r| r.to_string()).collect(),
            files: vec![(format!("{module}/__init__.py"), String::new())],
        }
    }

    pub fn filename(&self) -> String {
        format!("{}-{}-py3-none-any.whl", self.name.replace('-', "_"), self.version)
    }

    fn write(&self, dir: &Path) -> PathBuf {
        let dist_info = format!("{}-{}.dist-info", self.name.replace('-', "_"), self.version);
        let mut metadata = format!("Metadata-Version: 2.1\nName: {}\nVersion: {}\n", self.name, self.version);
        for r in &self.requires {
            metadata.push_str(&format!("Requires-Dist: {r}\n"));
        }
        metadata.push_str("\nA fake package built by torchup's tests.\n");
        let wheel = "Wheel-Version: 1.0\nGenerator: torchup-tests\nRoot-Is-Purelib: true\nTag: py3-none-any\n";
        let mut files = self.files.clone();
        files.push((format!("{dist_info}/METADATA"), metadata));
        files.push((format!("{dist_info}/WHEEL"), wheel.into()));
        let mut record: String = files.iter().map(|(p, _)| format!("{p},,\n")).collect();
        record.push_str(&format!("{dist_info}/RECORD,,\n"));
        files.push((format!("{dist_info}/RECORD"), record));
        let path = dir.join(self.filename());
        std::fs::write(&path, zip_stored(&files)).unwrap();
        path
    }
}

/// A ZIP archive with every member stored (no compression): all a wheel needs.
pub fn zip_stored(files: &[(String, String)]) -> Vec<u8> {
    let mut out = Vec::new();
    let mut central = Vec::new();
    for (name, content) in files {
        let data = content.as_bytes();
        let crc = crc32(data);
        let offset = out.len() as u32;
        out.extend_from_slice(&0x0403_4b50u32.to_le_bytes());
        out.extend_from_slice(&[20, 0, 0, 0, 0, 0, 0, 0, 0x21, 0]); // version, flags, method, time, date
        out.extend_from_slice(&crc.to_le_bytes());
        out.extend_from_slice(&(data.len() as u32).to_le_bytes());
        out.extend_from_slice(&(data.len() as u32).to_le_bytes());
        out.extend_from_slice(&(name.len() as u16).to_le_bytes());
        out.extend_from_slice(&0u16.to_le_bytes());
        out.extend_from_slice(name.as_bytes());
        out.extend_from_slice(data);

        central.extend_from_slice(&0x0201_4b50u32.to_le_bytes());
        central.extend_from_slice(&[20, 3, 20, 0, 0, 0, 0, 0, 0, 0, 0x21, 0]); // made by, needed, flags, method, time, date
        central.extend_from_slice(&crc.to_le_bytes());
        central.extend_from_slice(&(data.len() as u32).to_le_bytes());
        central.extend_from_slice(&(data.len() as u32).to_le_bytes());
        central.extend_from_slice(&(name.len() as u16).to_le_bytes());
        central.extend_from_slice(&[0, 0, 0, 0, 0, 0, 0, 0]); // extra, comment, disk, internal attrs
        central.extend_from_slice(&(0o100644u32 << 16).to_le_bytes()); // external attrs: a regular file
        central.extend_from_slice(&offset.to_le_bytes());
        central.extend_from_slice(name.as_bytes());
    }
    let cd_offset = out.len() as u32;
    out.extend_from_slice(&central);
    out.extend_from_slice(&0x0605_4b50u32.to_le_bytes());
    out.extend_from_slice(&[0, 0, 0, 0]);
    out.extend_from_slice(&(files.len() as u16).to_le_bytes());
    out.extend_from_slice(&(files.len() as u16).to_le_bytes());
    out.extend_from_slice(&(central.len() as u32).to_le_bytes());
    out.extend_from_slice(&cd_offset.to_le_bytes());
    out.extend_from_slice(&0u16.to_le_bytes());
    out
}

fn crc32(data: &[u8]) -> u32 {
    let mut crc = 0xFFFF_FFFFu32;
    for &b in data {
        crc ^= b as u32;
        for _ in 0..8 {
            crc = if crc & 1 != 0 { (crc >> 1) ^ 0xEDB8_8320 } else { crc >> 1 };
        }
    }
    !crc
}

/// An executable shell script (fake interpreters for garbage, hangs and shims).
pub fn script(path: &Path, body: &str) {
    use std::os::unix::fs::PermissionsExt;
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    std::fs::write(path, format!("#!/bin/sh\n{body}\n")).unwrap();
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o755)).unwrap();
}
