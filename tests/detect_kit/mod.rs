//! The detect tests' layer over the shared kit (`tests/support`): an isolated world whose
//! PATH is fully controlled (discovery reads PATH), venvs, the kit's fake torch family served
//! by its local index and installed with real pip, plus what the kit does not make: wheels
//! of arbitrary small packages and of a broken torch, "system-like" Python prefixes (PEP 668,
//! conda, the user site), and `pip install --target`.
#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;

use crate::support::env::Isolated;
use crate::support::index::IndexServer;
use crate::support::python as kit_python;
use crate::support::wheels::{Tags, WheelSpec, build_wheels};

/// The machine's base Python (the kit's: the real binary, never a pyenv shim).
pub fn base_python() -> &'static PathBuf {
    static BASE: OnceLock<PathBuf> = OnceLock::new();
    BASE.get_or_init(|| kit_python::base_python().expect("a base python3 for the detect tests"))
}

/// Where wheels come from.
#[derive(Debug, Clone, Copy)]
pub enum Source {
    /// The kit's local index, variant "cpu" or "cu124" (torch 2.5.1 family).
    Index(&'static str),
    /// This world's wheel directory (`--no-index --find-links`, `--no-deps`).
    Local,
}

/// A temporary world: the kit's isolated environment, an empty bin directory for PATH, a
/// wheel directory, and (on first use) the local index.
pub struct World {
    pub iso: Isolated,
    index: OnceLock<IndexServer>,
}

impl World {
    pub fn new() -> World {
        let iso = Isolated::with_prefix("torchup detect ").expect("isolated environment");
        for d in ["bin", "wheels"] {
            std::fs::create_dir_all(iso.path(d)).unwrap();
        }
        World { iso, index: OnceLock::new() }
    }

    pub fn root(&self) -> &Path {
        self.iso.root()
    }
    pub fn home(&self) -> PathBuf {
        self.iso.home()
    }
    pub fn bin(&self) -> PathBuf {
        self.iso.path("bin")
    }
    pub fn wheels(&self) -> PathBuf {
        self.iso.path("wheels")
    }

    /// The complete environment of a child: the kit's isolated variables, and PATH = the
    /// given directories then this world's empty bin (nothing of the developer's).
    pub fn env(&self, extra_path: &[&Path]) -> Vec<(String, String)> {
        let mut pairs: Vec<(String, String)> =
            self.iso.envs().into_iter().filter_map(|(k, v)| Some((k, v?))).filter(|(k, _)| k != "PATH").collect();
        let mut path: Vec<String> = extra_path.iter().map(|p| p.to_string_lossy().into_owned()).collect();
        path.push(self.bin().to_string_lossy().into_owned());
        pairs.push(("PATH".into(), path.join(":")));
        pairs
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

    /// A venv: with pip (the kit's fast venv), or `python3 -m venv --without-pip`.
    pub fn venv(&self, dir: &Path, with_pip: bool) -> PathBuf {
        if with_pip {
            return kit_python::make_venv_fast(dir, &self.iso).expect("venv").python;
        }
        let base = base_python().to_string_lossy().into_owned();
        self.run(&[&base, "-m", "venv", "--without-pip", &dir.to_string_lossy()]);
        dir.join("bin").join("python")
    }

    /// The kit's local index with the torch 2.5.1 family for cpu and cu124.
    pub fn index(&self) -> &IndexServer {
        self.index.get_or_init(|| {
            let tags = Tags::host().expect("host tags");
            for variant in ["cpu", "cu124"] {
                build_wheels(&self.iso.path(format!("idx/{variant}")), &WheelSpec::family("2.5.1", variant, &tags))
                    .expect("fake torch wheels");
            }
            IndexServer::start(self.iso.path("idx")).expect("local index")
        })
    }

    fn source_args(&self, source: Source) -> Vec<String> {
        match source {
            Source::Index(variant) => {
                vec![
                    "--index-url".into(),
                    self.index().url(variant),
                    "--timeout".into(),
                    "10".into(),
                    "--retries".into(),
                    "0".into(),
                ]
            }
            Source::Local => vec![
                "--no-index".into(),
                "--find-links".into(),
                self.wheels().to_string_lossy().into_owned(),
                "--no-deps".into(),
            ],
        }
    }

    /// Install into an interpreter with real pip: its own pip when it has one, else the base
    /// interpreter's pip driving it with `--python`.
    pub fn install(&self, python: &Path, source: Source, specs: &[&str]) {
        let py = python.to_string_lossy().into_owned();
        let has_pip = Command::new(python)
            .args(["-I", "-c", "import pip"])
            .env_clear()
            .envs(self.env(&[]))
            .stderr(std::process::Stdio::null())
            .status()
            .is_ok_and(|s| s.success());
        let base = base_python().to_string_lossy().into_owned();
        let mut argv: Vec<String> = if has_pip {
            vec![py, "-m".into(), "pip".into(), "install".into()]
        } else {
            vec![base, "-m".into(), "pip".into(), "--python".into(), py, "install".into()]
        };
        argv.push("--quiet".into());
        argv.extend(self.source_args(source));
        argv.extend(specs.iter().map(|s| s.to_string()));
        self.run(&argv.iter().map(String::as_str).collect::<Vec<_>>());
    }

    /// Install into a plain directory (a user site, a PYTHONPATH entry) with `--target`.
    pub fn install_target(&self, target: &Path, source: Source, specs: &[&str]) {
        let base = base_python().to_string_lossy().into_owned();
        let mut argv = vec![base, "-m".into(), "pip".into(), "install".into(), "--quiet".into()];
        argv.extend(["--target".into(), target.to_string_lossy().into_owned()]);
        argv.extend(self.source_args(source));
        argv.extend(specs.iter().map(|s| s.to_string()));
        self.run(&argv.iter().map(String::as_str).collect::<Vec<_>>());
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
        let purelib = self.purelib(&python);
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

/// A small wheel the kit does not make (any package; a broken torch), written with a
/// stored ZIP so no build tool is involved.
pub struct FakeWheel {
    pub name: String,
    pub version: String,
    pub requires: Vec<String>,
    /// (path inside the wheel, content)
    pub files: Vec<(String, String)>,
}

impl FakeWheel {
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
