//! pip uninstalls by first renaming a package's files to a stash whose name starts with
//! `~` (torch → `~orch`). When Windows refuses to delete a locked DLL, those folders stay
//! behind and confuse the next install ("WARNING: Ignoring invalid distribution ~orch").

use std::path::{Path, PathBuf};

use crate::facts::TORCH_FAMILY as FAMILY;

/// Whether a site-packages entry is a stash leftover of a torch-family package.
fn is_family_stash(name: &str) -> bool {
    let Some(rest) = name.strip_prefix('~') else { return false };
    FAMILY.iter().any(|pkg| {
        let tail = &pkg[1..];
        rest == tail || rest.strip_prefix(tail).is_some_and(|r| r.starts_with('-') && r.ends_with(".dist-info"))
    })
}

/// The leftovers in `site_packages`.
pub fn stash_leftovers(site_packages: &Path) -> Vec<PathBuf> {
    let Ok(entries) = std::fs::read_dir(site_packages) else { return Vec::new() };
    let mut found: Vec<PathBuf> = entries
        .filter_map(Result::ok)
        .filter(|e| e.file_name().to_str().is_some_and(is_family_stash))
        .map(|e| e.path())
        .collect();
    found.sort();
    found
}

/// Remove the leftovers; returns the ones that could not be removed (still locked).
pub fn remove_leftovers(site_packages: &Path) -> Vec<PathBuf> {
    stash_leftovers(site_packages)
        .into_iter()
        .filter(|p| if p.is_dir() { std::fs::remove_dir_all(p).is_err() } else { std::fs::remove_file(p).is_err() })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn recognises_only_family_stashes() {
        for yes in ["~orch", "~orchvision", "~orchaudio", "~formers", "~orch-2.5.1+cpu.dist-info"] {
            assert!(is_family_stash(yes), "{yes}");
        }
        for no in ["torch", "~umpy", "~orchx", "~orch-2.5.1+cpu", "~", "~orchvision.pth"] {
            assert!(!is_family_stash(no), "{no}");
        }
    }

    #[test]
    fn finds_and_removes_leftovers() {
        let dir = tempfile::tempdir().unwrap();
        let sp = dir.path();
        std::fs::create_dir_all(sp.join("~orch/lib")).unwrap();
        std::fs::write(sp.join("~orch/lib/c10.dll"), b"x").unwrap();
        std::fs::create_dir_all(sp.join("~orch-2.5.1+cpu.dist-info")).unwrap();
        std::fs::create_dir_all(sp.join("~umpy")).unwrap();
        std::fs::create_dir_all(sp.join("torch")).unwrap();
        assert_eq!(stash_leftovers(sp).len(), 2);
        assert!(remove_leftovers(sp).is_empty());
        assert!(stash_leftovers(sp).is_empty());
        assert!(sp.join("~umpy").exists() && sp.join("torch").exists());
    }
}
