//! What this binary is: version, git commit, build date, bundled compat data version and
//! target — everything a bug report needs to name the build (`torchup --version`, `doctor`).
//! The values come from build.rs at compile time.

use serde::{Deserialize, Serialize};

/// The crate version ("0.1.0").
pub const VERSION: &str = env!("CARGO_PKG_VERSION");
/// The first 12 hex digits of the commit built, or "unknown" (a source tree without git).
pub const GIT_COMMIT: &str = env!("TORCHUP_GIT_COMMIT");
/// UTC build date, YYYY-MM-DD (`SOURCE_DATE_EPOCH` when set).
pub const BUILD_DATE: &str = env!("TORCHUP_BUILD_DATE");
/// `[meta] version` of the bundled assets/compat.toml.
pub const DATA_VERSION: &str = env!("TORCHUP_DATA_VERSION");
/// The Rust target triple ("x86_64-pc-windows-gnu").
pub const TARGET: &str = env!("TORCHUP_TARGET");

/// The text after "torchup " in `torchup --version`:
/// `0.1.0 (commit 7a4be3b1c0de, built 2026-12-06, compat data 2026.11.24, x86_64-unknown-linux-gnu)`.
pub const VERSION_LINE: &str = concat!(
    env!("CARGO_PKG_VERSION"),
    " (commit ",
    env!("TORCHUP_GIT_COMMIT"),
    ", built ",
    env!("TORCHUP_BUILD_DATE"),
    ", compat data ",
    env!("TORCHUP_DATA_VERSION"),
    ", ",
    env!("TORCHUP_TARGET"),
    ")"
);

/// The same facts as a document (the `build` object of `doctor --json`).
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct BuildInfo {
    pub version: String,
    pub commit: String,
    pub build_date: String,
    pub data_version: String,
    pub target: String,
}

impl BuildInfo {
    /// This binary's build.
    pub fn current() -> BuildInfo {
        BuildInfo {
            version: VERSION.into(),
            commit: GIT_COMMIT.into(),
            build_date: BUILD_DATE.into(),
            data_version: DATA_VERSION.into(),
            target: TARGET.into(),
        }
    }

    /// `commit 7a4be3b1c0de, built 2026-12-06, compat data 2026.11.24, x86_64-…` (empty
    /// for a document saved by a torchup that did not record its build).
    pub fn summary(&self) -> String {
        if self.commit.is_empty() {
            return String::new();
        }
        format!("commit {}, built {}, compat data {}, {}", self.commit, self.build_date, self.data_version, self.target)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::compat::data::CompatData;

    #[test]
    fn data_version_is_the_bundled_datas() {
        assert_eq!(DATA_VERSION, CompatData::bundled().unwrap().meta.version);
    }

    #[test]
    fn fields_have_their_formats() {
        assert!(
            GIT_COMMIT == "unknown" || (GIT_COMMIT.len() == 12 && GIT_COMMIT.chars().all(|c| c.is_ascii_hexdigit())),
            "{GIT_COMMIT}"
        );
        assert!(BUILD_DATE.parse::<jiff::civil::Date>().is_ok(), "{BUILD_DATE}");
        assert!(TARGET.contains('-'), "{TARGET}");
        let b = BuildInfo::current();
        assert_eq!(VERSION_LINE, format!("{} ({})", b.version, b.summary()));
        assert_eq!(BuildInfo::default().summary(), "");
    }
}
