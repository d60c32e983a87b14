//! Reading nvidia-smi's text: the CSV query, the compute_cap query, the banner, and
//! the error messages. Pure functions over recorded text (docs/gpu-detection.md).

use std::sync::OnceLock;

use regex::Regex;
use thiserror::Error;

use crate::facts::parse_capability;

/// `--query-gpu` arguments for the per-GPU facts. `name` is last so a comma in a name
/// cannot shift the other fields; every driver since 2020 knows these four fields.
pub(crate) const QUERY_ARGS: [&str; 2] =
    ["--query-gpu=index,driver_version,memory.total,name", "--format=csv,noheader,nounits"];

/// Asked separately: the 470 branch rejects `compute_cap` and fails the whole command.
pub(crate) const COMPUTE_CAP_ARGS: [&str; 2] = ["--query-gpu=compute_cap", "--format=csv,noheader"];

/// One line of the CSV query.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct QueryRow {
    pub index: u32,
    pub driver_version: String,
    /// None when nvidia-smi printed `[N/A]`.
    pub memory_mib: Option<u64>,
    pub name: String,
}

/// Output that is not what nvidia-smi prints.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub(crate) enum ParseError {
    #[error("no output")]
    Empty,
    #[error("line {line}: expected 4 comma-separated fields, got {got:?}")]
    Fields { line: usize, got: String },
    #[error("line {line}: {what} {value:?} is not valid")]
    Value { line: usize, what: &'static str, value: String },
}

/// Parse `index, driver_version, memory.total, name` lines.
pub(crate) fn parse_query(text: &str) -> Result<Vec<QueryRow>, ParseError> {
    let mut rows = Vec::new();
    for (i, raw) in text.lines().enumerate() {
        let line_no = i + 1;
        let line = raw.trim();
        if line.is_empty() {
            continue;
        }
        let fields: Vec<&str> = line.splitn(4, ',').map(str::trim).collect();
        let [index, driver, memory, name] = fields[..] else {
            return Err(ParseError::Fields { line: line_no, got: shorten(line, 80) });
        };
        let bad = |what, value: &str| ParseError::Value { line: line_no, what, value: shorten(value, 60) };
        let index: u32 = index.parse().map_err(|_| bad("GPU index", index))?;
        if !is_version(driver) {
            return Err(bad("driver version", driver));
        }
        let memory_mib = if is_not_available(memory) {
            None
        } else {
            Some(memory.parse::<u64>().map_err(|_| bad("memory.total", memory))?)
        };
        if name.is_empty() || name.chars().any(char::is_control) {
            return Err(bad("GPU name", name));
        }
        rows.push(QueryRow { index, driver_version: driver.to_string(), memory_mib, name: name.to_string() });
    }
    if rows.is_empty() { Err(ParseError::Empty) } else { Ok(rows) }
}

/// Parse the compute_cap query: one "8.6" (or `[N/A]`) per GPU, in query order.
pub(crate) fn parse_compute_caps(text: &str) -> Result<Vec<Option<String>>, ParseError> {
    let mut caps = Vec::new();
    for (i, raw) in text.lines().enumerate() {
        let line = raw.trim();
        // tolerate a header line if a future version ignores noheader
        if line.is_empty() || line.eq_ignore_ascii_case("compute_cap") {
            continue;
        }
        if is_not_available(line) {
            caps.push(None);
            continue;
        }
        match parse_capability(line) {
            Some((major, minor)) => caps.push(Some(format!("{major}.{minor}"))),
            None => return Err(ParseError::Value { line: i + 1, what: "compute_cap", value: shorten(line, 60) }),
        }
    }
    if caps.is_empty() { Err(ParseError::Empty) } else { Ok(caps) }
}

/// What the banner of plain `nvidia-smi` says.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct Banner {
    /// `Driver Version:` (≤ R580) or `KMD Version:` (R610+). Never the `NVIDIA-SMI`
    /// number, which belongs to the tool and can differ (WSL, snaps).
    pub driver: Option<String>,
    /// `CUDA Version:` or `CUDA UMD Version:`: the highest CUDA the driver supports.
    /// None for `N/A`.
    pub cuda: Option<String>,
}

/// Parse the banner (also accepts the `nvidia-smi -q` "Name : value" layout).
pub(crate) fn parse_banner(text: &str) -> Banner {
    static DRIVER: OnceLock<Regex> = OnceLock::new();
    static CUDA: OnceLock<Regex> = OnceLock::new();
    // Literal patterns: compiling them cannot fail.
    let driver =
        DRIVER.get_or_init(|| Regex::new(r"(?:Driver|KMD)\s+Version\s*:\s*(\d+(?:\.\d+)+)").expect("valid regex"));
    let cuda = CUDA.get_or_init(|| Regex::new(r"CUDA(?:\s+UMD)?\s+Version\s*:\s*(\d+)\.(\d+)").expect("valid regex"));
    Banner {
        driver: driver.captures(text).map(|c| c[1].to_string()),
        cuda: cuda.captures(text).and_then(|c| {
            let major: u32 = c[1].parse().ok()?;
            let minor: u32 = c[2].parse().ok()?;
            Some(format!("{major}.{minor}"))
        }),
    }
}

/// Why nvidia-smi did not give facts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum SmiFailure {
    /// Exit 9, "couldn't communicate with the NVIDIA driver", NVML "Driver Not Loaded".
    DriverNotLoaded,
    /// "No devices were found": the driver answers but sees no GPU (dGPU switched off).
    NoDevices,
    /// "Driver/library version mismatch" (exit 18): updated without a reboot.
    VersionMismatch,
    /// `Field "compute_cap" is not a valid field to query.` (exit 2, 470 branch).
    InvalidField,
    /// The GPU fell off the bus (exit 15).
    GpuLost,
    /// Insufficient permissions (exit 4).
    NoPermission,
    /// nvidia-smi runs but cannot load NVML (exit 12): a broken driver install.
    LibraryMissing,
    /// Anything else that exited non-zero.
    Other,
}

/// Classify an error message, if it is one nvidia-smi is known to print. Checked before
/// the exit code, so the message decides even when the exit code is unusual.
pub(crate) fn classify_text(output: &str) -> Option<SmiFailure> {
    let o = output.to_ascii_lowercase();
    let has = |s: &str| o.contains(s);
    if has("version mismatch") {
        Some(SmiFailure::VersionMismatch)
    } else if has("couldn't communicate with the nvidia driver") || has("driver not loaded") {
        Some(SmiFailure::DriverNotLoaded)
    } else if has("no devices were found") || has("no supported gpus were found") {
        Some(SmiFailure::NoDevices)
    } else if has("is not a valid field to query") {
        Some(SmiFailure::InvalidField)
    } else if has("fallen off the bus") || has("gpu is lost") || has("unable to determine the device handle") {
        Some(SmiFailure::GpuLost)
    } else if has("insufficient permissions") {
        Some(SmiFailure::NoPermission)
    } else if has("shared library not found") || has("nvml shared library") {
        Some(SmiFailure::LibraryMissing)
    } else {
        None
    }
}

/// Classify a failed run: the text first, then nvidia-smi's exit code (which mirrors
/// NVML's return codes).
pub(crate) fn classify_failure(exit_code: i32, output: &str) -> SmiFailure {
    classify_text(output).unwrap_or(match exit_code {
        2 => SmiFailure::InvalidField,
        4 => SmiFailure::NoPermission,
        6 => SmiFailure::NoDevices,
        9 => SmiFailure::DriverNotLoaded,
        12 => SmiFailure::LibraryMissing,
        15 => SmiFailure::GpuLost,
        18 => SmiFailure::VersionMismatch,
        _ => SmiFailure::Other,
    })
}

/// The first non-empty line, shortened: what a state's `detail` quotes.
pub(crate) fn first_line(text: &str) -> String {
    let line = text.lines().map(str::trim).find(|l| !l.is_empty()).unwrap_or("(no output)");
    shorten(line, 160)
}

/// Cut `s` to at most `max` characters, marking the cut.
pub(crate) fn shorten(s: &str, max: usize) -> String {
    if s.chars().count() <= max {
        s.to_string()
    } else {
        let mut t: String = s.chars().take(max).collect();
        t.push('…');
        t
    }
}

fn is_version(s: &str) -> bool {
    !s.is_empty()
        && s.split('.').all(|p| !p.is_empty() && p.chars().all(|c| c.is_ascii_digit()))
        && s.chars().next().is_some_and(|c| c.is_ascii_digit())
}

fn is_not_available(s: &str) -> bool {
    let s = s.trim_matches(['[', ']']);
    s.eq_ignore_ascii_case("N/A") || s.eq_ignore_ascii_case("Not Supported") || s.eq_ignore_ascii_case("Unknown Error")
}

#[cfg(test)]
mod tests {
    use super::*;

    const FIX: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/nvidia-smi");

    fn fixture(scenario: &str, file: &str) -> String {
        std::fs::read_to_string(format!("{FIX}/{scenario}/{file}")).unwrap()
    }

    #[test]
    fn query_rtx3050_laptop_windows_crlf() {
        let text = fixture("rtx3050-laptop-581", "query.txt");
        assert!(text.contains("\r\n"), "the Windows recording keeps its CRLF line ends");
        let rows = parse_query(&text).unwrap();
        assert_eq!(
            rows,
            vec![QueryRow {
                index: 0,
                driver_version: "581.29".into(),
                memory_mib: Some(4096),
                name: "NVIDIA GeForce RTX 3050 Laptop GPU".into()
            }]
        );
    }

    #[test]
    fn query_two_gpus_keeps_order_and_names() {
        let rows = parse_query(&fixture("two-gpus", "query.txt")).unwrap();
        assert_eq!(rows.len(), 2);
        assert_eq!((rows[0].index, rows[0].name.as_str()), (0, "NVIDIA GeForce RTX 4090"));
        assert_eq!((rows[1].index, rows[1].memory_mib), (1, Some(11264)));
    }

    #[test]
    fn query_name_with_commas_survives() {
        let rows = parse_query("0, 560.94, 8192, NVIDIA RTX A2000 8GB, Lenovo, rev. 2\n").unwrap();
        assert_eq!(rows[0].name, "NVIDIA RTX A2000 8GB, Lenovo, rev. 2");
        assert_eq!(rows[0].memory_mib, Some(8192));
    }

    #[test]
    fn query_memory_not_available() {
        let rows = parse_query("0, 580.95.05, [N/A], NVIDIA GB10\n").unwrap();
        assert_eq!(rows[0].memory_mib, None);
    }

    #[test]
    fn query_rejects_garbage() {
        assert_eq!(parse_query(""), Err(ParseError::Empty));
        assert_eq!(parse_query("\n  \n"), Err(ParseError::Empty));
        assert!(matches!(parse_query("hello world"), Err(ParseError::Fields { line: 1, .. })));
        assert!(matches!(parse_query("x, 1.2, 3, n"), Err(ParseError::Value { what: "GPU index", .. })));
        assert!(matches!(parse_query("0, abc, 3, n"), Err(ParseError::Value { what: "driver version", .. })));
        assert!(matches!(parse_query("0, 1.2, 4GB, n"), Err(ParseError::Value { what: "memory.total", .. })));
        assert!(matches!(parse_query("0, 1.2, 4, "), Err(ParseError::Value { what: "GPU name", .. })));
        let garbage = fixture("garbage", "query.txt");
        assert!(parse_query(&garbage).is_err());
    }

    #[test]
    fn compute_caps() {
        assert_eq!(parse_compute_caps("8.6\r\n").unwrap(), vec![Some("8.6".to_string())]);
        assert_eq!(
            parse_compute_caps(&fixture("two-gpus", "compute_cap.txt")).unwrap(),
            vec![Some("8.9".to_string()), Some("6.1".to_string())]
        );
        assert_eq!(parse_compute_caps("compute_cap\n12.0\n[N/A]\n").unwrap(), vec![Some("12.0".to_string()), None]);
        assert!(parse_compute_caps("").is_err());
        assert!(parse_compute_caps("eight point six").is_err());
    }

    #[test]
    fn banner_old_format() {
        let b = parse_banner(&fixture("rtx3050-laptop-581", "banner.txt"));
        assert_eq!(b, Banner { driver: Some("581.29".into()), cuda: Some("13.0".into()) });
        let b = parse_banner(&fixture("gtx1080ti-570", "banner.txt"));
        assert_eq!(b, Banner { driver: Some("570.133.07".into()), cuda: Some("12.8".into()) });
    }

    #[test]
    fn banner_r610_kmd_and_umd_labels() {
        let b = parse_banner(&fixture("rtx5070-laptop-610", "banner.txt"));
        assert_eq!(b, Banner { driver: Some("610.43.02".into()), cuda: Some("13.3".into()) });
    }

    #[test]
    fn banner_never_uses_the_nvidia_smi_number() {
        // WSL: the Linux-side tool is 545.36, the Windows driver 546.33 (microsoft/WSL#11050).
        let wsl = "| NVIDIA-SMI 545.36                 Driver Version: 546.33       CUDA Version: 12.3     |";
        assert_eq!(parse_banner(wsl).driver.as_deref(), Some("546.33"));
        // A snap bundling a 470 tool on a 580 host (inference-snaps#89).
        let snap = "| NVIDIA-SMI 470.256.02   Driver Version: 580.95.05   CUDA Version: 13.0     |";
        assert_eq!(parse_banner(snap), Banner { driver: Some("580.95.05".into()), cuda: Some("13.0".into()) });
    }

    #[test]
    fn banner_cuda_not_available_and_q_layout() {
        let na = "| NVIDIA-SMI 575.64.03              Driver Version: 575.64.03      CUDA Version: N/A      |";
        assert_eq!(parse_banner(na), Banner { driver: Some("575.64.03".into()), cuda: None });
        let q =
            "Driver Version                            : 450.66\nCUDA Version                              : 11.0\n";
        assert_eq!(parse_banner(q), Banner { driver: Some("450.66".into()), cuda: Some("11.0".into()) });
        assert_eq!(parse_banner("garbage"), Banner::default());
    }

    #[test]
    fn failures_are_classified_from_recorded_text() {
        assert_eq!(classify_failure(9, &fixture("exit9-no-driver", "output.txt")), SmiFailure::DriverNotLoaded);
        assert_eq!(classify_failure(18, &fixture("version-mismatch", "output.txt")), SmiFailure::VersionMismatch);
        assert_eq!(classify_failure(2, &fixture("r470-no-compute-cap", "compute_cap.txt")), SmiFailure::InvalidField);
        assert_eq!(classify_failure(6, &fixture("no-devices", "output.txt")), SmiFailure::NoDevices);
        assert_eq!(classify_failure(0, "No supported GPUs were found"), SmiFailure::NoDevices);
        assert_eq!(classify_failure(255, "Failed to initialize NVML: Driver Not Loaded"), SmiFailure::DriverNotLoaded);
        assert_eq!(
            classify_failure(15, "Unable to determine the device handle for GPU0000:01:00.0: Unknown Error"),
            SmiFailure::GpuLost
        );
        assert_eq!(
            classify_failure(4, "Failed to initialize NVML: Insufficient Permissions"),
            SmiFailure::NoPermission
        );
    }

    #[test]
    fn failures_fall_back_to_exit_codes() {
        assert_eq!(classify_failure(9, ""), SmiFailure::DriverNotLoaded);
        assert_eq!(classify_failure(18, ""), SmiFailure::VersionMismatch);
        assert_eq!(classify_failure(6, ""), SmiFailure::NoDevices);
        assert_eq!(classify_failure(12, ""), SmiFailure::LibraryMissing);
        assert_eq!(classify_failure(1, "segfault"), SmiFailure::Other);
        assert_eq!(classify_text("0, 581.29, 4096, NVIDIA GeForce RTX 3050 Laptop GPU"), None);
    }

    #[test]
    fn first_line_and_shorten() {
        assert_eq!(first_line("\n\n  hello  \nworld"), "hello");
        assert_eq!(first_line(""), "(no output)");
        assert_eq!(shorten("abcdef", 3), "abc…");
    }
}
