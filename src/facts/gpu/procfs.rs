//! Linux last resorts: the loaded kernel module's version (`/proc/driver/nvidia/version`,
//! `/sys/module/nvidia/version`) and NVIDIA display controllers on the PCI bus (a sign of
//! a GPU even when no driver answers). Paths are parameters so tests use fixtures.

use std::path::{Path, PathBuf};

/// Where the Linux driver files are. `None` skips that source.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct DriverFiles {
    /// `/proc/driver/nvidia/version`.
    pub proc_version: Option<PathBuf>,
    /// `/sys/module/nvidia/version`.
    pub module_version: Option<PathBuf>,
    /// `/sys/bus/pci/devices`.
    pub pci_devices: Option<PathBuf>,
}

impl DriverFiles {
    /// The real locations on Linux.
    pub fn system() -> Self {
        DriverFiles {
            proc_version: Some("/proc/driver/nvidia/version".into()),
            module_version: Some("/sys/module/nvidia/version".into()),
            pci_devices: Some("/sys/bus/pci/devices".into()),
        }
    }

    /// Read nothing (other platforms, tests).
    pub fn none() -> Self {
        DriverFiles::default()
    }
}

/// The kernel module version from `/proc/driver/nvidia/version`, e.g.
/// `NVRM version: NVIDIA UNIX x86_64 Kernel Module  550.54.14  Thu Feb 22 ...` or
/// `NVRM version: NVIDIA UNIX Open Kernel Module for x86_64  570.133.07  Release Build ...`.
pub(crate) fn parse_proc_version(text: &str) -> Option<String> {
    let line = text.lines().find(|l| l.trim_start().starts_with("NVRM version:"))?;
    let after = line.split_once("Kernel Module")?.1;
    after.split_whitespace().find(|t| is_driver_version(t)).map(str::to_string)
}

/// `/sys/module/nvidia/version` holds just the version.
pub(crate) fn parse_module_version(text: &str) -> Option<String> {
    let t = text.trim();
    is_driver_version(t).then(|| t.to_string())
}

/// The loaded kernel module's version, from whichever file answers first.
pub(crate) fn loaded_driver_version(files: &DriverFiles) -> Option<(String, PathBuf)> {
    let read = |p: &Option<PathBuf>, parse: fn(&str) -> Option<String>| {
        let p = p.as_ref()?;
        let text = std::fs::read_to_string(p).ok()?;
        parse(&text).map(|v| (v, p.clone()))
    };
    read(&files.proc_version, parse_proc_version).or_else(|| read(&files.module_version, parse_module_version))
}

/// An NVIDIA display controller on the PCI bus.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct PciGpu {
    /// "0000:01:00.0".
    pub slot: String,
    /// "10de:25a2".
    pub id: String,
}

/// NVIDIA (vendor 0x10de) devices of PCI class 0x03 (display: VGA or 3D controller).
/// The HDMI audio function of the same card (class 0x04) is not a GPU.
pub(crate) fn nvidia_pci_gpus(devices_dir: &Path) -> Vec<PciGpu> {
    let Ok(entries) = std::fs::read_dir(devices_dir) else { return Vec::new() };
    let mut found: Vec<PciGpu> = entries
        .filter_map(Result::ok)
        .filter_map(|e| {
            let dir = e.path();
            let read = |f: &str| std::fs::read_to_string(dir.join(f)).ok().map(|s| s.trim().to_ascii_lowercase());
            let vendor = read("vendor")?;
            let class = read("class")?;
            if vendor != "0x10de" || !class.starts_with("0x03") {
                return None;
            }
            let device = read("device").unwrap_or_default();
            Some(PciGpu {
                slot: e.file_name().to_string_lossy().into_owned(),
                id: format!("10de:{}", device.trim_start_matches("0x")),
            })
        })
        .collect();
    found.sort_by(|a, b| a.slot.cmp(&b.slot));
    found
}

fn is_driver_version(s: &str) -> bool {
    let parts: Vec<&str> = s.split('.').collect();
    parts.len() >= 2 && parts.iter().all(|p| !p.is_empty() && p.chars().all(|c| c.is_ascii_digit()))
}

#[cfg(test)]
mod tests {
    use super::*;

    const PROPRIETARY: &str = "NVRM version: NVIDIA UNIX x86_64 Kernel Module  550.54.14  Thu Feb 22 01:44:30 UTC 2024\nGCC version:  gcc version 12.2.0 (Debian 12.2.0-14)\n";
    const OPEN: &str = "NVRM version: NVIDIA UNIX Open Kernel Module for x86_64  570.133.07  Release Build  (dvs-builder@U16-I3-B03-4-3)  Fri Mar 14 13:26:38 UTC 2025\nGCC version:  gcc version 13.3.0 (Ubuntu 13.3.0-6ubuntu2~24.04)\n";
    const AARCH64: &str = "NVRM version: NVIDIA UNIX aarch64 Kernel Module  535.183.01  Sun May 12 19:35:29 UTC 2024\n";
    const LEGACY_390: &str = "NVRM version: NVIDIA UNIX x86_64 Kernel Module  390.157  Wed Oct 12 09:19:07 UTC 2022\nGCC version:  gcc version 9.4.0 (Ubuntu 9.4.0-1ubuntu1~20.04.1)\n";

    #[test]
    fn proc_version_proprietary_open_and_arm() {
        assert_eq!(parse_proc_version(PROPRIETARY).as_deref(), Some("550.54.14"));
        assert_eq!(parse_proc_version(OPEN).as_deref(), Some("570.133.07"));
        assert_eq!(parse_proc_version(AARCH64).as_deref(), Some("535.183.01"));
        assert_eq!(parse_proc_version(LEGACY_390).as_deref(), Some("390.157"));
    }

    #[test]
    fn proc_version_garbage() {
        assert_eq!(parse_proc_version(""), None);
        assert_eq!(parse_proc_version("GCC version: 12.2.0"), None);
        assert_eq!(parse_proc_version("NVRM version: NVIDIA UNIX x86_64 Kernel Module  (none)"), None);
    }

    #[test]
    fn module_version() {
        assert_eq!(parse_module_version("580.95.05\n").as_deref(), Some("580.95.05"));
        assert_eq!(parse_module_version("x\n"), None);
        assert_eq!(parse_module_version("580"), None);
    }

    #[test]
    fn loaded_version_prefers_proc_then_sys() {
        let dir = tempfile::tempdir().unwrap();
        let proc_v = dir.path().join("version");
        let sys_v = dir.path().join("module_version");
        std::fs::write(&sys_v, "580.95.05\n").unwrap();
        let files =
            DriverFiles { proc_version: Some(proc_v.clone()), module_version: Some(sys_v.clone()), pci_devices: None };
        assert_eq!(loaded_driver_version(&files), Some(("580.95.05".to_string(), sys_v.clone())));
        std::fs::write(&proc_v, OPEN).unwrap();
        assert_eq!(loaded_driver_version(&files), Some(("570.133.07".to_string(), proc_v)));
        assert_eq!(loaded_driver_version(&DriverFiles::none()), None);
    }

    fn pci_dev(root: &Path, slot: &str, vendor: &str, device: &str, class: &str) {
        let d = root.join(slot);
        std::fs::create_dir_all(&d).unwrap();
        std::fs::write(d.join("vendor"), format!("{vendor}\n")).unwrap();
        std::fs::write(d.join("device"), format!("{device}\n")).unwrap();
        std::fs::write(d.join("class"), format!("{class}\n")).unwrap();
    }

    #[test]
    fn pci_scan_finds_nvidia_display_controllers_only() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path();
        pci_dev(root, "0000:00:02.0", "0x8086", "0xa7a0", "0x030000"); // Intel iGPU
        pci_dev(root, "0000:01:00.0", "0x10de", "0x25a2", "0x030200"); // RTX 3050 Laptop (3D controller)
        pci_dev(root, "0000:01:00.1", "0x10de", "0x2291", "0x040300"); // its HDMI audio
        pci_dev(root, "0000:02:00.0", "0x10DE", "0x1B06", "0x030000"); // GTX 1080 Ti (VGA)
        let got = nvidia_pci_gpus(root);
        assert_eq!(
            got,
            vec![
                PciGpu { slot: "0000:01:00.0".into(), id: "10de:25a2".into() },
                PciGpu { slot: "0000:02:00.0".into(), id: "10de:1b06".into() },
            ]
        );
        assert!(nvidia_pci_gpus(&root.join("missing")).is_empty());
    }
}
