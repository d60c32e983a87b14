//! Free disk space for the download (pip's temp dir and cache) and the installed env. A
//! CUDA build of torch is a 2.5–3 GB download and 5–7 GB installed (F32: "No space left on
//! device" / "[Errno 28]" halfway through otherwise).

use std::path::PathBuf;

use super::Issue;

/// The catalogue id (F32: "The disk is full").
pub(super) const ID: &str = "F32";

/// A place that needs space.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SpaceNeed {
    /// "temporary files (%TEMP%)", "pip cache", "the Python environment".
    pub label: String,
    pub path: PathBuf,
    pub bytes: u64,
}

const GB: u64 = 1_000_000_000;

/// What a build needs, roughly (measured sizes of torch 2.5–2.9 wheels and their installs).
pub fn needs_for(variant: &str, temp: PathBuf, env_prefix: PathBuf, pip_cache: Option<PathBuf>) -> Vec<SpaceNeed> {
    let (download, installed) = if variant == "cpu" { (GB / 4, GB) } else { (3 * GB, 7 * GB) };
    let mut v = vec![
        SpaceNeed { label: "temporary files".into(), path: temp, bytes: download },
        SpaceNeed { label: "the Python environment".into(), path: env_prefix, bytes: installed },
    ];
    if let Some(cache) = pip_cache {
        v.push(SpaceNeed { label: "pip's cache".into(), path: cache, bytes: download });
    }
    v
}

/// Group needs by volume (places on one drive share its free space) and report the
/// volumes that lack room. `volume` names the volume of a path; `free` its free bytes.
pub fn space_issues(
    needs: &[SpaceNeed],
    volume: impl Fn(&std::path::Path) -> Option<String>,
    free: impl Fn(&std::path::Path) -> Option<u64>,
) -> Vec<Issue> {
    let mut volumes: Vec<(String, u64, Vec<&SpaceNeed>, Option<u64>)> = Vec::new();
    for need in needs {
        let vol = volume(&need.path).unwrap_or_else(|| need.path.display().to_string());
        match volumes.iter_mut().find(|(v, ..)| *v == vol) {
            Some((_, total, list, _)) => {
                *total += need.bytes;
                list.push(need);
            }
            None => volumes.push((vol, need.bytes, vec![need], free(&need.path))),
        }
    }
    volumes
        .into_iter()
        .filter_map(|(vol, total, list, free)| {
            let free = free?;
            (free < total).then(|| {
                Issue::new(
                    ID,
                    format!(
                        "Not enough free space on {vol} ({} free, about {} needed for {}).",
                        gb(free),
                        gb(total),
                        list.iter().map(|n| n.label.as_str()).collect::<Vec<_>>().join(" + ")
                    ),
                    format!(
                        "Free at least {} on {vol}, or point TMP/TEMP and PIP_CACHE_DIR at a drive with room.",
                        gb(total - free)
                    ),
                    true,
                )
            })
        })
        .collect()
}

fn gb(b: u64) -> String {
    format!("{:.1} GB", b as f64 / GB as f64)
}

/// The volume of a path: the drive letter on Windows-style paths, else the device number.
pub fn volume_of(path: &std::path::Path) -> Option<String> {
    let s = path.to_string_lossy();
    let b = s.as_bytes();
    if b.len() >= 2 && b[1] == b':' && b[0].is_ascii_alphabetic() {
        return Some(format!("{}:", (b[0] as char).to_ascii_uppercase()));
    }
    device_of(path)
}

#[cfg(unix)]
fn device_of(path: &std::path::Path) -> Option<String> {
    use std::os::unix::fs::MetadataExt;
    // The path may not exist yet (a new venv): use its nearest existing ancestor.
    let existing = path.ancestors().find(|p| p.exists())?;
    let dev = std::fs::metadata(existing).ok()?.dev();
    Some(format!("the disk holding {} (device {dev})", existing.display()))
}

#[cfg(not(unix))]
fn device_of(path: &std::path::Path) -> Option<String> {
    Some(path.display().to_string())
}

/// Free bytes on the volume of `path` (or of its nearest existing ancestor).
pub fn free_bytes(path: &std::path::Path) -> Option<u64> {
    let existing = path.ancestors().find(|p| p.exists())?;
    fs4::available_space(existing).ok()
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::Path;

    #[test]
    fn places_on_one_drive_add_up() {
        let needs = needs_for("cu124", r"C:\Users\a\AppData\Local\Temp".into(), r"C:\Users\a\env".into(), None);
        let issues = space_issues(&needs, volume_of, |_| Some(8 * GB));
        assert_eq!(issues.len(), 1);
        assert!(issues[0].title.contains("on C: (8.0 GB free, about 10.0 GB needed"), "{}", issues[0].title);
        assert!(issues[0].fix.contains("Free at least 2.0 GB on C:"));
    }

    #[test]
    fn separate_drives_are_judged_separately() {
        let needs = needs_for("cu124", r"C:\Temp".into(), r"D:\envs\a".into(), Some(r"C:\pipcache".into()));
        let free = |p: &Path| Some(if p.to_string_lossy().starts_with('C') { 5 * GB } else { 100 * GB });
        let issues = space_issues(&needs, volume_of, free);
        assert_eq!(issues.len(), 1);
        assert!(issues[0].title.contains("C:") && issues[0].title.contains("pip's cache"));
    }

    #[test]
    fn enough_space_or_unknown_space_is_silent() {
        let needs = needs_for("cpu", "/tmp".into(), "/home/u/.venv".into(), None);
        assert!(space_issues(&needs, volume_of, |_| Some(50 * GB)).is_empty());
        assert!(space_issues(&needs, volume_of, |_| None).is_empty());
    }

    #[test]
    fn real_free_space_is_readable_here() {
        let dir = tempfile::tempdir().unwrap();
        assert!(free_bytes(&dir.path().join("not-yet-created")).unwrap() > 0);
        assert!(volume_of(dir.path()).unwrap().contains("device"));
    }
}
