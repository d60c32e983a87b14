//! What an index actually serves: the torch wheels per variant, as learned from
//! `<index-url>/<variant>/torch/` (live, cached, or absent when offline).
//! The planner refines the bundled data with this; it never needs the network itself.

use std::collections::{BTreeMap, BTreeSet};

use serde::{Deserialize, Serialize};

/// Where availability facts came from; plans say which.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum DataSource {
    /// The data file shipped in the binary.
    Bundled,
    /// Fetched from the index just now.
    Index,
    /// A cached index answer still within its time to live.
    Cache,
}

impl DataSource {
    pub fn as_str(self) -> &'static str {
        match self {
            DataSource::Bundled => "bundled",
            DataSource::Index => "index",
            DataSource::Cache => "cache",
        }
    }
}

/// One wheel file on an index page, its name parsed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct WheelFile {
    /// "torch-2.5.1+cu124-cp311-cp311-win_amd64.whl"
    pub filename: String,
    /// Distribution name, normalized ("torch").
    pub name: String,
    /// Full version with local label, "2.5.1+cu124".
    pub version: String,
    /// "cp311" (may be a dotted set such as "py2.py3").
    pub python_tag: String,
    /// "cp311", "none", "abi3", "cp313t".
    pub abi_tag: String,
    /// "win_amd64", "manylinux_2_28_x86_64", "linux_x86_64", ...
    pub platform_tag: String,
    /// Absolute URL (resolved against the page URL), without the fragment.
    pub url: String,
    pub sha256: Option<String>,
}

/// Whether `s` is a 64-character hex SHA-256 (any case): what an index's `#sha256=` must be,
/// and what the wheelhouse's file keys are.
pub(crate) fn is_sha256_hex(s: &str) -> bool {
    s.len() == 64 && s.bytes().all(|b| b.is_ascii_hexdigit())
}

/// The wheels of one package for one variant, as one index page listed them.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct VariantListing {
    /// "cu124"
    pub variant: String,
    /// "torch", "torchvision", "torchaudio"
    pub package: String,
    pub files: Vec<WheelFile>,
}

/// Everything learned from an index for one planning run.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
pub struct IndexSnapshot {
    /// Keyed by (variant, package).
    pub listings: BTreeMap<String, VariantListing>,
    /// Variants whose page could not be fetched (404 or error), with the reason.
    pub failed: BTreeMap<String, String>,
    /// Where this came from (Index or Cache); Bundled when empty.
    pub source: Option<DataSource>,
    /// Pages the index answered with 404/410 ("not on this index"), keyed like `listings`.
    /// Kept apart from `failed`: a 404 is an answer, a timeout is not.
    #[serde(default)]
    pub not_found: BTreeSet<String>,
}

impl IndexSnapshot {
    pub fn key(variant: &str, package: &str) -> String {
        format!("{variant}/{package}")
    }

    pub fn listing(&self, variant: &str, package: &str) -> Option<&VariantListing> {
        self.listings.get(&Self::key(variant, package))
    }

    /// The index answered 404/410 for this page.
    pub fn is_not_found(&self, variant: &str, package: &str) -> bool {
        self.not_found.contains(&Self::key(variant, package))
    }

    pub fn insert(&mut self, listing: VariantListing) {
        self.listings.insert(Self::key(&listing.variant, &listing.package), listing);
    }
}
