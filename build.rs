//! Build metadata for `torchup --version` and `doctor` (what a bug report needs), and the
//! link arguments of the optional `torch` feature.
//!
//! Build info: `TORCHUP_GIT_COMMIT` (12 hex digits or "unknown"), `TORCHUP_BUILD_DATE`
//! (UTC, YYYY-MM-DD), `TORCHUP_DATA_VERSION` (`[meta] version` of assets/compat.toml) and
//! `TORCHUP_TARGET`. The commit comes from, in order: the `TORCHUP_GIT_COMMIT` variable (a
//! build from an unpacked sdist), `.cargo_vcs_info.json` (a `cargo package`d crate), `git`
//! (a checkout). The date honours `SOURCE_DATE_EPOCH` (reproducible builds). The script
//! re-runs only when HEAD moves, so a rebuild on the same commit keeps its date.
//!
//! torch: tch's own build script cannot pass link arguments to downstream binaries, and
//! without `--no-as-needed` libtorch_cuda is dropped and CUDA reads as unavailable.
use std::path::{Path, PathBuf};
use std::process::Command;

fn main() {
    println!("cargo:rerun-if-changed=build.rs");
    build_info();
    torch_link_args();
}

fn build_info() {
    let manifest_dir = PathBuf::from(std::env::var_os("CARGO_MANIFEST_DIR").unwrap_or_default());
    println!("cargo:rerun-if-changed=assets/compat.toml");
    println!("cargo:rerun-if-env-changed=TORCHUP_GIT_COMMIT");
    println!("cargo:rerun-if-env-changed=SOURCE_DATE_EPOCH");

    let commit = std::env::var("TORCHUP_GIT_COMMIT")
        .ok()
        .filter(|c| !c.trim().is_empty())
        .or_else(|| vcs_info_commit(&manifest_dir))
        .or_else(|| git_commit(&manifest_dir))
        .map(|c| c.trim().chars().take(12).collect::<String>())
        .unwrap_or_else(|| "unknown".to_string());
    let data = std::fs::read_to_string(manifest_dir.join("assets/compat.toml")).unwrap_or_default();
    let data_version = meta_version(&data).unwrap_or_else(|| "unknown".to_string());
    let epoch =
        std::env::var("SOURCE_DATE_EPOCH").ok().and_then(|s| s.trim().parse::<i64>().ok()).unwrap_or_else(|| {
            std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.as_secs() as i64).unwrap_or(0)
        });
    let target = std::env::var("TARGET").unwrap_or_default();

    println!("cargo:rustc-env=TORCHUP_GIT_COMMIT={commit}");
    println!("cargo:rustc-env=TORCHUP_BUILD_DATE={}", civil_date(epoch));
    println!("cargo:rustc-env=TORCHUP_DATA_VERSION={data_version}");
    println!("cargo:rustc-env=TORCHUP_TARGET={target}");
}

/// The commit `cargo package` recorded: `{"git": {"sha1": "<40 hex>"}, ...}`.
fn vcs_info_commit(dir: &Path) -> Option<String> {
    let text = std::fs::read_to_string(dir.join(".cargo_vcs_info.json")).ok()?;
    let rest = &text[text.find("\"sha1\"")? + 6..];
    let start = rest.find('"')? + 1;
    let len = rest[start..].find('"')?;
    let sha = &rest[start..start + len];
    sha.chars().all(|c| c.is_ascii_hexdigit()).then(|| sha.to_string())
}

/// HEAD of the checkout the crate is the root of (not of some repository it sits inside).
fn git_commit(dir: &Path) -> Option<String> {
    let top = git(dir, &["rev-parse", "--show-toplevel"])?;
    if std::fs::canonicalize(&top).ok()? != std::fs::canonicalize(dir).ok()? {
        return None;
    }
    // Re-run when HEAD moves: HEAD itself (a checkout or a branch switch) and the branch's ref.
    let mut watch = vec![git(dir, &["rev-parse", "--git-path", "HEAD"])];
    if let Some(branch) = git(dir, &["symbolic-ref", "-q", "HEAD"]) {
        watch.push(git(dir, &["rev-parse", "--git-path", &branch]));
    }
    watch.push(git(dir, &["rev-parse", "--git-path", "packed-refs"]));
    for path in watch.into_iter().flatten() {
        let path = dir.join(path);
        // A missing file would make cargo re-run the script on every build.
        if path.is_file() {
            println!("cargo:rerun-if-changed={}", path.display());
        }
    }
    git(dir, &["rev-parse", "HEAD"]).filter(|c| c.chars().all(|ch| ch.is_ascii_hexdigit()))
}

fn git(dir: &Path, args: &[&str]) -> Option<String> {
    let out = Command::new("git").arg("-C").arg(dir).args(args).output().ok()?;
    let text = String::from_utf8(out.stdout).ok()?.trim().to_string();
    (out.status.success() && !text.is_empty()).then_some(text)
}

/// `version = "..."` of the `[meta]` table (a unit test checks it against the parsed data).
fn meta_version(toml: &str) -> Option<String> {
    let mut in_meta = false;
    for line in toml.lines().map(str::trim) {
        if line.starts_with('[') {
            in_meta = line == "[meta]";
        } else if in_meta && let Some(value) = line.strip_prefix("version") {
            let value = value.trim_start().strip_prefix('=')?.trim();
            return Some(value.trim_matches('"').to_string());
        }
    }
    None
}

/// YYYY-MM-DD (UTC) of a Unix time: days to the proleptic Gregorian calendar
/// (H. Hinnant's `civil_from_days`).
fn civil_date(epoch_secs: i64) -> String {
    let z = epoch_secs.div_euclid(86_400) + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1_460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    format!("{year:04}-{month:02}-{day:02}")
}

fn torch_link_args() {
    if std::env::var_os("CARGO_FEATURE_TORCH").is_none() || std::env::var_os("CARGO_FEATURE_TORCH_CHECK").is_some() {
        return;
    }
    let os = std::env::var("CARGO_TARGET_OS").or_else(|_| std::env::var("CARGO_CFG_TARGET_OS")).unwrap_or_default();
    if os == "linux" {
        if let Some(lib) = std::env::var_os("DEP_TCH_LIBTORCH_LIB") {
            println!("cargo:rustc-link-arg=-Wl,-rpath={}", lib.to_string_lossy());
        }
        println!("cargo:rustc-link-arg=-Wl,--no-as-needed");
        println!("cargo:rustc-link-arg=-ltorch");
    }
}
