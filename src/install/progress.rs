//! Turning pip's output into progress: `--progress-bar raw` lines ("Progress N of M",
//! pip ≥ 24.1) give bytes; otherwise the phase lines ("Downloading torch-…whl (2.4 GB)",
//! "Installing collected packages: …") give a label.

use std::sync::LazyLock;

use regex::Regex;

/// What a line of pip output says about progress.
#[derive(Debug, Clone, PartialEq)]
pub enum PipProgress {
    /// A download started: file name and the size pip announced, in bytes when parseable.
    Download { file: String, total: Option<u64> },
    /// Raw progress bytes of the current download.
    Bytes { done: u64, total: u64 },
    /// A phase change worth showing ("Installing collected packages: torch").
    Phase(String),
}

static DOWNLOADING: LazyLock<Regex> = LazyLock::new(|| {
    // Literal pattern, checked by the tests below.
    Regex::new(r"^\s*Downloading\s+(\S+?)\s+\((\d+(?:\.\d+)?)\s*(kB|KB|MB|GB|B|bytes)\)").expect("valid regex")
});
static RAW: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"^\s*Progress\s+(\d+)\s+of\s+(\d+)\s*$").expect("valid regex"));

/// Interpret one line of pip output.
pub fn parse_pip_line(line: &str) -> Option<PipProgress> {
    if let Some(c) = RAW.captures(line) {
        return Some(PipProgress::Bytes { done: c[1].parse().ok()?, total: c[2].parse().ok()? });
    }
    if let Some(c) = DOWNLOADING.captures(line) {
        let file = c[1].rsplit('/').next().unwrap_or(&c[1]).replace("%2B", "+");
        return Some(PipProgress::Download { file, total: size_bytes(&c[2], &c[3]) });
    }
    let t = line.trim();
    for prefix in [
        "Installing collected packages:",
        "Attempting uninstall:",
        "Successfully installed",
        "Successfully uninstalled",
    ] {
        if t.starts_with(prefix) {
            return Some(PipProgress::Phase(t.to_string()));
        }
    }
    None
}

fn size_bytes(number: &str, unit: &str) -> Option<u64> {
    let n: f64 = number.parse().ok()?;
    // pip prints decimal units (rich's filesize.decimal).
    let mult = match unit {
        "B" | "bytes" => 1.0,
        "kB" | "KB" => 1e3,
        "MB" => 1e6,
        "GB" => 1e9,
        _ => return None,
    };
    Some((n * mult) as u64)
}

/// Whether this pip version understands `--progress-bar raw` (added in pip 24.1).
pub fn pip_supports_raw_progress(pip_version: &str) -> bool {
    let mut parts = pip_version.split('.').map(|p| p.chars().take_while(char::is_ascii_digit).collect::<String>());
    let major: u32 = parts.next().and_then(|p| p.parse().ok()).unwrap_or(0);
    let minor: u32 = parts.next().and_then(|p| p.parse().ok()).unwrap_or(0);
    (major, minor) >= (24, 1)
}

/// Human-readable byte count ("2.4 GB").
pub fn human_bytes(n: u64) -> String {
    let n = n as f64;
    if n >= 1e9 {
        format!("{:.1} GB", n / 1e9)
    } else if n >= 1e6 {
        format!("{:.1} MB", n / 1e6)
    } else if n >= 1e3 {
        format!("{:.0} kB", n / 1e3)
    } else {
        format!("{n:.0} B")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn download_lines_give_file_and_size() {
        assert_eq!(
            parse_pip_line(
                "Downloading https://download.pytorch.org/whl/cu124/torch-2.5.1%2Bcu124-cp311-cp311-win_amd64.whl (2449.3 MB)"
            ),
            Some(PipProgress::Download {
                file: "torch-2.5.1+cu124-cp311-cp311-win_amd64.whl".into(),
                total: Some(2_449_300_000)
            })
        );
        assert_eq!(
            parse_pip_line("  Downloading torchvision-0.20.1-cp311-cp311-manylinux1_x86_64.whl (7.2 MB)"),
            Some(PipProgress::Download {
                file: "torchvision-0.20.1-cp311-cp311-manylinux1_x86_64.whl".into(),
                total: Some(7_200_000)
            })
        );
        assert_eq!(
            parse_pip_line("Downloading foo-1.0-py3-none-any.whl (812 bytes)"),
            Some(PipProgress::Download { file: "foo-1.0-py3-none-any.whl".into(), total: Some(812) })
        );
    }

    #[test]
    fn raw_progress_lines_give_bytes() {
        assert_eq!(
            parse_pip_line("Progress 10240 of 8239447"),
            Some(PipProgress::Bytes { done: 10240, total: 8239447 })
        );
        assert_eq!(parse_pip_line("Progressive 1 of 2"), None);
    }

    #[test]
    fn phases_and_noise() {
        assert!(matches!(parse_pip_line("Installing collected packages: torch"), Some(PipProgress::Phase(_))));
        assert_eq!(parse_pip_line("Looking in indexes: https://download.pytorch.org/whl/cu124"), None);
        assert_eq!(parse_pip_line("Collecting torch==2.5.1+cu124"), None);
    }

    #[test]
    fn raw_progress_needs_pip_24_1() {
        assert!(!pip_supports_raw_progress("23.2.1"));
        assert!(!pip_supports_raw_progress("24.0"));
        assert!(pip_supports_raw_progress("24.1"));
        assert!(pip_supports_raw_progress("25.3"));
        assert!(!pip_supports_raw_progress("garbage"));
    }

    #[test]
    fn bytes_are_human() {
        assert_eq!(human_bytes(2_449_300_000), "2.4 GB");
        assert_eq!(human_bytes(7_200_000), "7.2 MB");
        assert_eq!(human_bytes(512), "512 B");
    }
}
