//! One-line explanations of [`GpuState`]: what was found and what to do about it
//! (catalogue ids F34, F36–F38, docs/diagnoses.md). Plain text; front ends decide how to show it.

use crate::facts::platform::Platform;
use crate::facts::{GpuState, Os};

impl GpuState {
    /// A few words for a status line: "ready", "driver not loaded", ...
    pub fn summary(&self) -> &'static str {
        match self {
            GpuState::Ready => "ready",
            GpuState::NoGpu => "no NVIDIA GPU",
            GpuState::DriverNotLoaded { .. } => "driver cannot reach the GPU",
            GpuState::VersionMismatch { .. } => "driver/library version mismatch",
            GpuState::ToolMissing { .. } => "GPU suspected, driver tools missing",
            GpuState::Unreadable { .. } => "unreadable driver output",
            GpuState::TimedOut { .. } => "driver did not answer",
        }
    }

    /// What the state means and what to do, on one line, for any platform.
    pub fn explanation(&self) -> String {
        self.explain(None)
    }

    /// Like [`GpuState::explanation`], with the fix spelled out for this platform.
    pub fn explanation_for(&self, platform: &Platform) -> String {
        self.explain(Some(platform))
    }

    fn explain(&self, platform: Option<&Platform>) -> String {
        let kind = platform.map(Kind::of);
        match self {
            GpuState::Ready => "An NVIDIA GPU and a working driver were found.".to_string(),
            GpuState::NoGpu => {
                let fix = match kind {
                    Some(Kind::Wsl) => {
                        "in WSL2 the GPU comes from the Windows NVIDIA driver: install it on Windows (never a Linux driver inside WSL) and check `wsl -l -v` shows VERSION 2"
                    }
                    Some(Kind::Mac) => "macOS has no CUDA support; only the CPU build of PyTorch runs here",
                    _ => {
                        "if this machine has an NVIDIA GPU, install the NVIDIA driver; otherwise only the CPU build of PyTorch can run"
                    }
                };
                format!("No NVIDIA GPU or driver was found — {fix}.")
            }
            GpuState::DriverNotLoaded { detail } => {
                let fix = match kind {
                    Some(Kind::Windows) => {
                        "switch the laptop's GPU mode from Eco/iGPU-only to Standard/Hybrid (Armoury Crate, Vantage, G-Helper) and reboot, and check the GPU is enabled in Device Manager"
                    }
                    Some(Kind::Wsl) => "update the Windows NVIDIA driver, run `wsl --shutdown`, and start WSL again",
                    Some(Kind::Linux) => {
                        "on a hybrid laptop run `sudo prime-select on-demand` and reboot; with Secure Boot enrol the driver's key (`sudo mokutil --import ...`) or disable it; `lsmod | grep nvidia` shows whether the module is loaded"
                    }
                    _ => {
                        "on a hybrid laptop switch the GPU mode to Standard/Hybrid and reboot; on Linux check Secure Boot and that the nvidia module is loaded"
                    }
                };
                format!("The NVIDIA driver cannot reach the GPU ({detail}) — {fix}.")
            }
            GpuState::VersionMismatch { detail } => format!(
                "The NVIDIA driver was updated but the old one is still running ({detail}) — reboot, then run torchup again."
            ),
            GpuState::ToolMissing { detail } => {
                let fix = match kind {
                    Some(Kind::Windows) => {
                        "install or repair the NVIDIA driver from nvidia.com (it brings nvidia-smi into C:\\Windows\\System32)"
                    }
                    Some(Kind::Wsl) => {
                        "install the NVIDIA driver on Windows; WSL2 finds nvidia-smi in /usr/lib/wsl/lib"
                    }
                    _ => {
                        "install the NVIDIA driver and its utilities (e.g. `sudo ubuntu-drivers install`, or nvidia-utils) or set TORCHUP_NVIDIA_SMI to your nvidia-smi"
                    }
                };
                format!("An NVIDIA GPU may be here, but no NVIDIA tool answered ({detail}) — {fix}.")
            }
            GpuState::Unreadable { detail } => format!(
                "The NVIDIA driver answered with something torchup cannot read ({detail}) — run `nvidia-smi` yourself and include its output in a bug report."
            ),
            GpuState::TimedOut { detail } => format!(
                "The NVIDIA driver did not answer ({detail}) — it may be stuck (often after suspend/resume): reboot, then run torchup again."
            ),
        }
    }
}

#[derive(Clone, Copy)]
enum Kind {
    Windows,
    Linux,
    Wsl,
    Mac,
}

impl Kind {
    fn of(p: &Platform) -> Kind {
        match p.os {
            Os::Windows => Kind::Windows,
            Os::Macos => Kind::Mac,
            Os::Linux if p.wsl => Kind::Wsl,
            Os::Linux => Kind::Linux,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn all() -> Vec<GpuState> {
        let d = || "nvidia-smi: exit 9".to_string();
        vec![
            GpuState::Ready,
            GpuState::NoGpu,
            GpuState::DriverNotLoaded { detail: d() },
            GpuState::VersionMismatch { detail: d() },
            GpuState::ToolMissing { detail: d() },
            GpuState::Unreadable { detail: d() },
            GpuState::TimedOut { detail: d() },
        ]
    }

    fn platforms() -> Vec<Platform> {
        vec![
            Platform { os: Os::Windows, cpu_arch: "x86_64".into(), wsl: false },
            Platform { os: Os::Linux, cpu_arch: "x86_64".into(), wsl: false },
            Platform { os: Os::Linux, cpu_arch: "x86_64".into(), wsl: true },
            Platform { os: Os::Macos, cpu_arch: "aarch64".into(), wsl: false },
        ]
    }

    #[test]
    fn every_state_has_a_one_line_explanation_with_its_detail() {
        for s in all() {
            let mut texts = vec![s.explanation()];
            texts.extend(platforms().iter().map(|p| s.explanation_for(p)));
            for t in texts {
                assert!(!t.contains('\n'), "{t}");
                assert!(t.ends_with('.'), "{t}");
                if !matches!(s, GpuState::Ready | GpuState::NoGpu) {
                    assert!(t.contains("nvidia-smi: exit 9"), "the detail is quoted: {t}");
                    assert!(t.contains(" — "), "a fix follows: {t}");
                }
            }
            assert!(!s.summary().is_empty());
        }
    }

    #[test]
    fn fixes_fit_the_platform() {
        let [win, linux, wsl, mac] = platforms().try_into().unwrap();
        let dnl = GpuState::DriverNotLoaded { detail: "x".into() };
        assert!(dnl.explanation_for(&win).contains("Device Manager"));
        assert!(dnl.explanation_for(&linux).contains("mokutil"));
        assert!(dnl.explanation_for(&wsl).contains("wsl --shutdown"));
        assert!(GpuState::NoGpu.explanation_for(&wsl).contains("Windows NVIDIA driver"));
        assert!(GpuState::NoGpu.explanation_for(&mac).contains("macOS"));
        assert!(GpuState::VersionMismatch { detail: "x".into() }.explanation_for(&linux).contains("reboot"));
        assert!(GpuState::ToolMissing { detail: "x".into() }.explanation_for(&win).contains("System32"));
    }
}
