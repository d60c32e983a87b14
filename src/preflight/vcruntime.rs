//! The Microsoft Visual C++ runtime that torch's Windows DLLs need. Without it
//! `import torch` fails with `[WinError 126] ... Error loading "...\c10.dll"`.

use std::path::{Path, PathBuf};

use super::Issue;

/// The catalogue id (F14: "torch's DLLs cannot load: the Visual C++ runtime is missing").
pub(super) const ID: &str = "F14";

/// The DLLs torch's Windows wheels import from the VC++ 2015–2022 runtime.
pub const VC_RUNTIME_DLLS: [&str; 3] = ["vcruntime140.dll", "msvcp140.dll", "vcruntime140_1.dll"];

/// Which runtime DLLs are missing from `system32`, and the issue to show.
/// `system32` is a Windows path as text, joined with `\\` so Linux tests see real Windows paths.
pub fn missing_vc_runtime(system32: &str, exists: impl Fn(&Path) -> bool) -> Option<Issue> {
    let system32 = system32.trim_end_matches('\\');
    let missing: Vec<&str> =
        VC_RUNTIME_DLLS.iter().copied().filter(|dll| !exists(&PathBuf::from(format!("{system32}\\{dll}")))).collect();
    if missing.is_empty() {
        return None;
    }
    Some(Issue::new(
        ID,
        format!(
            "The Visual C++ runtime is missing ({} not in {}): torch would fail with WinError 126.",
            missing.join(", "),
            system32
        ),
        "winget install Microsoft.VCRedist.2015+.x64   (or download vc_redist.x64.exe from Microsoft), then open a new terminal".into(),
        false,
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn all_present_is_fine() {
        assert_eq!(missing_vc_runtime(r"C:\Windows\System32", |_| true), None);
    }

    #[test]
    fn missing_dlls_are_named_with_the_winget_fix() {
        let have = [PathBuf::from(r"C:\Windows\System32\msvcp140.dll")];
        let issue = missing_vc_runtime(r"C:\Windows\System32\", |p| have.iter().any(|h| h == p)).unwrap();
        assert!(issue.title.contains("vcruntime140.dll, vcruntime140_1.dll"), "{}", issue.title);
        assert!(!issue.title.contains("msvcp140.dll,"));
        assert!(issue.fix.starts_with("winget install Microsoft.VCRedist.2015+.x64"));
    }
}
