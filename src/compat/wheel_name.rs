//! Wheel file names (`{name}-{ver}(-{build})?-{py}-{abi}-{plat}.whl`) and PEP 503 names.
//!
//! No light crate does this (docs/dependencies.md), so it is hand-rolled; versions go through
//! `pep440_rs` because local labels (`2.5.1+cu124`) must order and compare correctly.

use std::str::FromStr;

use pep440_rs::Version;

/// A parsed wheel file name.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct WheelName {
    /// PEP 503-normalized distribution name ("torch", "nvidia-cudnn-cu12").
    pub name: String,
    pub version: Version,
    /// Optional build tag (starts with a digit).
    pub build: Option<String>,
    /// Dotted tag sets split apart: "py2.py3" → ["py2", "py3"].
    pub python_tags: Vec<String>,
    pub abi_tags: Vec<String>,
    pub platform_tags: Vec<String>,
}

/// Why a file name is not a wheel name; the message names the bad part.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub(crate) enum WheelNameError {
    #[error("`{0}` is not a wheel (no .whl suffix)")]
    NotAWheel(String),
    #[error("`{0}` has {1} dash-separated parts; a wheel name has 5 or 6")]
    WrongShape(String, usize),
    #[error("`{file}` has an invalid version `{version}`: {reason}")]
    BadVersion { file: String, version: String, reason: String },
    #[error("`{0}` has an empty name or tag")]
    EmptyPart(String),
    #[error("`{0}` has a build tag that does not start with a digit")]
    BadBuildTag(String),
}

impl WheelName {
    /// Parse a wheel file name such as `torch-2.5.1+cu124-cp311-cp311-win_amd64.whl`.
    pub(crate) fn parse(filename: &str) -> Result<WheelName, WheelNameError> {
        let stem = filename
            .strip_suffix(".whl")
            .or_else(|| filename.strip_suffix(".WHL"))
            .ok_or_else(|| WheelNameError::NotAWheel(filename.to_string()))?;
        let parts: Vec<&str> = stem.split('-').collect();
        let (name, version, build, py, abi, plat) = match parts.as_slice() {
            [n, v, p, a, pl] => (*n, *v, None, *p, *a, *pl),
            [n, v, b, p, a, pl] => (*n, *v, Some(*b), *p, *a, *pl),
            _ => return Err(WheelNameError::WrongShape(filename.to_string(), parts.len())),
        };
        if [name, version, py, abi, plat].iter().any(|s| s.is_empty()) || build.is_some_and(str::is_empty) {
            return Err(WheelNameError::EmptyPart(filename.to_string()));
        }
        if build.is_some_and(|b| !b.starts_with(|c: char| c.is_ascii_digit())) {
            return Err(WheelNameError::BadBuildTag(filename.to_string()));
        }
        let parsed = Version::from_str(version).map_err(|e| WheelNameError::BadVersion {
            file: filename.to_string(),
            version: version.to_string(),
            reason: e.to_string(),
        })?;
        let split = |s: &str| -> Result<Vec<String>, WheelNameError> {
            let tags: Vec<String> = s.split('.').map(str::to_string).collect();
            if tags.iter().any(String::is_empty) {
                return Err(WheelNameError::EmptyPart(filename.to_string()));
            }
            Ok(tags)
        };
        Ok(WheelName {
            name: normalize_name(name),
            version: parsed,
            build: build.map(str::to_string),
            python_tags: split(py)?,
            abi_tags: split(abi)?,
            platform_tags: split(plat)?,
        })
    }
}

/// PEP 503 normalization: runs of `-`, `_`, `.` become one `-`, lowercased.
pub(crate) fn normalize_name(name: &str) -> String {
    let mut out = String::with_capacity(name.len());
    let mut in_sep = false;
    for c in name.chars() {
        if matches!(c, '-' | '_' | '.') {
            if !in_sep {
                out.push('-');
            }
            in_sep = true;
        } else {
            out.extend(c.to_lowercase());
            in_sep = false;
        }
    }
    out
}

/// Decode `%XX` escapes (an href's last segment keeps `%2B` for `+`). Invalid escapes and
/// non-UTF-8 results are kept as written rather than guessed at.
pub(crate) fn percent_decode(s: &str) -> String {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%'
            && let (Some(h), Some(l)) = (bytes.get(i + 1).and_then(hex_val), bytes.get(i + 2).and_then(hex_val))
        {
            out.push(h * 16 + l);
            i += 3;
            continue;
        }
        out.push(bytes[i]);
        i += 1;
    }
    String::from_utf8(out).unwrap_or_else(|_| s.to_string())
}

fn hex_val(b: &u8) -> Option<u8> {
    match b {
        b'0'..=b'9' => Some(b - b'0'),
        b'a'..=b'f' => Some(b - b'a' + 10),
        b'A'..=b'F' => Some(b - b'A' + 10),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn v(s: &str) -> Version {
        Version::from_str(s).unwrap()
    }

    #[test]
    fn parses_pytorch_names() {
        let w = WheelName::parse("torch-2.5.1+cu124-cp311-cp311-win_amd64.whl").unwrap();
        assert_eq!(w.name, "torch");
        assert_eq!(w.version, v("2.5.1+cu124"));
        assert_eq!(w.version.to_string(), "2.5.1+cu124");
        assert!(w.version.is_local());
        assert_eq!(w.build, None);
        assert_eq!(w.python_tags, ["cp311"]);
        assert_eq!(w.abi_tags, ["cp311"]);
        assert_eq!(w.platform_tags, ["win_amd64"]);

        let w = WheelName::parse("torch-2.9.0+cu130-cp314-cp314t-manylinux_2_28_x86_64.whl").unwrap();
        assert_eq!(w.abi_tags, ["cp314t"]);
        assert_eq!(w.platform_tags, ["manylinux_2_28_x86_64"]);

        let w = WheelName::parse("torch-2.5.1-cp312-none-macosx_11_0_arm64.whl").unwrap();
        assert!(!w.version.is_local());
        assert_eq!(w.abi_tags, ["none"]);
    }

    #[test]
    fn parses_build_tags_dotted_sets_and_odd_names() {
        let w = WheelName::parse("Foo_Bar.baz-1.0-1local-py2.py3-none-any.whl").unwrap();
        assert_eq!(w.name, "foo-bar-baz");
        assert_eq!(w.build.as_deref(), Some("1local"));
        assert_eq!(w.python_tags, ["py2", "py3"]);
        assert_eq!(w.platform_tags, ["any"]);

        let w = WheelName::parse("numpy-2.1.0-cp312-cp312-manylinux_2_17_x86_64.manylinux2014_x86_64.whl").unwrap();
        assert_eq!(w.platform_tags, ["manylinux_2_17_x86_64", "manylinux2014_x86_64"]);

        let w = WheelName::parse("nvidia_cudnn_cu12-9.1.0.70-py3-none-manylinux2014_x86_64.whl").unwrap();
        assert_eq!(w.name, "nvidia-cudnn-cu12");
        assert_eq!(w.version, v("9.1.0.70"));

        let w = WheelName::parse("torch-2.6.0.dev20241112+cu124-cp310-cp310-linux_x86_64.whl").unwrap();
        assert!(w.version.is_dev());
    }

    #[test]
    fn rejects_malformed_names_with_a_reason() {
        let cases = [
            ("torch-2.5.1.tar.gz", "no .whl suffix"),
            ("torch-2.5.1-cp311-win_amd64.whl", "4 dash-separated parts"),
            ("a-b-c-d-e-f-g.whl", "7 dash-separated parts"),
            ("torch-two-cp311-cp311-win_amd64.whl", "invalid version `two`"),
            ("torch-1.0-x1-cp311-cp311-win_amd64.whl", "build tag"),
            ("torch-1.0--cp311-win_amd64.whl", "empty"),
            ("torch-1.0-cp311..cp312-cp311-any.whl", "empty"),
            (".whl", "1 dash-separated parts"),
            ("", "no .whl suffix"),
        ];
        for (name, want) in cases {
            let err = WheelName::parse(name).unwrap_err().to_string();
            assert!(err.contains(want), "{name}: {err}");
        }
    }

    #[test]
    fn local_versions_order_correctly() {
        assert!(v("2.5.1+cu124") > v("2.5.1"));
        assert!(v("2.10.0+cu128") > v("2.9.1+cu128"));
        assert!(v("2.6.0.dev20241112+cu124") < v("2.6.0+cu124"));
        assert_eq!(v("2.5.1+cu124").without_local(), v("2.5.1"));
    }

    #[test]
    fn normalizes_like_pep_503() {
        for (raw, want) in [
            ("torch", "torch"),
            ("Torch_Vision", "torch-vision"),
            ("a.-_b", "a-b"),
            ("nvidia_cuda_runtime_cu12", "nvidia-cuda-runtime-cu12"),
        ] {
            assert_eq!(normalize_name(raw), want);
        }
    }

    #[test]
    fn percent_decoding_is_lenient() {
        assert_eq!(percent_decode("torch-2.5.1%2Bcu124-x.whl"), "torch-2.5.1+cu124-x.whl");
        assert_eq!(percent_decode("100%"), "100%");
        assert_eq!(percent_decode("%zz%4"), "%zz%4");
        assert_eq!(percent_decode("%ff"), "%ff");
    }
}
