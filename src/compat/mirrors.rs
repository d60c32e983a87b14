//! The built-in table of public PyTorch wheel sources (assets/mirrors.toml), official first,
//! each with its layout and the evidence for it. `--mirror auto` probes them (see
//! [`crate::compat::probe`]); `--mirror NAME` picks one by name.

use serde::Deserialize;

use super::data::Evidence;
use super::index::IndexLayout;
use super::index_url::IndexUrl;

/// The table shipped in the binary.
pub(crate) const BUNDLED_MIRRORS: &str = include_str!("../../assets/mirrors.toml");

/// One row of the table.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct MirrorSource {
    /// "official", "nju", "aliyun", "pypi": what `--mirror NAME` takes.
    pub name: String,
    /// "download.pytorch.org". The label, evidence and note document the table for its
    /// readers and are parsed only so `deny_unknown_fields` and the evidence labels check
    /// the file; torchup shows the name and the URL.
    #[allow(dead_code)]
    pub label: String,
    pub url: String,
    /// How it lays out its wheels (the index client's own layout names).
    pub layout: IndexLayout,
    #[allow(dead_code)]
    pub evidence: Evidence,
    /// Only offered on Linux (PyPI: CUDA wheels on Linux only).
    #[serde(default)]
    pub linux_only: bool,
    #[allow(dead_code)]
    pub note: String,
}

impl MirrorSource {
    pub(crate) fn index_url(&self) -> Result<IndexUrl, super::index::IndexError> {
        IndexUrl::parse(&self.url)
    }
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawTable {
    meta: Meta,
    source: Vec<MirrorSource>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Meta {
    #[allow(dead_code)]
    date: String,
}

/// Parse a table; the first row must be the official index, names unique, URLs valid.
pub(crate) fn parse_table(text: &str) -> Result<Vec<MirrorSource>, String> {
    let raw: RawTable = toml::from_str(text).map_err(|e| e.to_string())?;
    let _ = raw.meta;
    if raw.source.first().map(|s| s.name.as_str()) != Some("official") {
        return Err("the first source must be `official`".into());
    }
    let mut names = std::collections::BTreeSet::new();
    for s in &raw.source {
        if !names.insert(s.name.clone()) {
            return Err(format!("source `{}` is listed twice", s.name));
        }
        s.index_url().map_err(|e| format!("source `{}`: {e}", s.name))?;
    }
    Ok(raw.source)
}

/// The bundled table (parsed once; a broken table is a build bug caught by the tests).
pub(crate) fn bundled() -> &'static [MirrorSource] {
    static TABLE: std::sync::OnceLock<Vec<MirrorSource>> = std::sync::OnceLock::new();
    TABLE.get_or_init(|| parse_table(BUNDLED_MIRRORS).unwrap_or_default())
}

/// The sources offered on this machine, in the table's order: PyPI only on Linux, where its
/// torch wheels are CUDA builds.
pub(crate) fn offered(on_linux: bool) -> impl Iterator<Item = &'static MirrorSource> {
    bundled().iter().filter(move |s| !s.linux_only || on_linux)
}

/// The layout the table gives for this index URL, if it is one of its sources.
pub(crate) fn layout_of(url: &IndexUrl) -> Option<IndexLayout> {
    bundled().iter().find(|s| s.index_url().is_ok_and(|u| u == *url)).map(|s| s.layout)
}

/// A table row by name ("official", "nju", …).
pub(crate) fn by_name(name: &str) -> Option<&'static MirrorSource> {
    bundled().iter().find(|s| s.name.eq_ignore_ascii_case(name))
}

/// PyPI as a CUDA source: offered on Linux x86_64 when PyPI's own wheel of the planned torch
/// is the planned variant (torch 2.5.1 → CUDA 12.4). Never on Windows or macOS, where PyPI's
/// torch is CPU-only.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct PypiOffer {
    /// "PyPI (CUDA 12.4 build)".
    pub label: String,
    pub torch: String,
    pub variant: String,
    pub evidence: Evidence,
}

pub(crate) fn pypi_offer(
    data: &super::data::CompatData,
    os: crate::facts::Os,
    arch: &str,
    torch: &str,
    variant: &str,
) -> Option<PypiOffer> {
    let x86_64 = matches!(arch.to_ascii_lowercase().as_str(), "x86_64" | "amd64");
    if os != crate::facts::Os::Linux || !x86_64 {
        return None;
    }
    let (v, evidence) = data.pypi_linux_variant(torch)?;
    if v != variant {
        return None;
    }
    let cuda = super::data::CudaVersion::of_variant(v)?;
    Some(PypiOffer {
        label: format!("PyPI (CUDA {}.{} build)", cuda.major, cuda.minor),
        torch: torch.to_string(),
        variant: v.to_string(),
        evidence,
    })
}

#[cfg(test)]
mod tests {
    #[test]
    fn pypi_is_offered_on_linux_when_its_default_is_the_planned_build() {
        use crate::facts::Os;
        let data = crate::compat::data::CompatData::bundled().unwrap();
        let offer = super::pypi_offer(data, Os::Linux, "x86_64", "2.5.1", "cu124").unwrap();
        assert_eq!(offer.label, "PyPI (CUDA 12.4 build)");
        assert_eq!(offer.evidence, crate::compat::data::Evidence::Issue);
        assert_eq!(super::pypi_offer(data, Os::Linux, "x86_64", "2.5.1", "cu121"), None);
        assert_eq!(super::pypi_offer(data, Os::Windows, "AMD64", "2.5.1", "cu124"), None);
        assert_eq!(super::pypi_offer(data, Os::Macos, "arm64", "2.5.1", "cu124"), None);
        assert_eq!(data.pypi_linux_variant("2.15.0").map(|v| v.0), Some("cu132"));
        assert_eq!(data.pypi_linux_variant_of("torchvision", "0.20.1"), Some("cu124"));
    }

    use super::*;

    #[test]
    fn the_bundled_table_is_valid_and_official_first() {
        let t = parse_table(BUNDLED_MIRRORS).unwrap();
        assert_eq!(t[0].name, "official");
        assert_eq!(t[0].url, crate::compat::index_url::OFFICIAL_INDEX_URL);
        assert!(t.iter().any(|s| s.layout == IndexLayout::FlatPerVariant));
        assert!(by_name("pypi").is_some_and(|s| s.linux_only && s.layout == IndexLayout::Pypi));
        assert_eq!(bundled().len(), t.len());
    }

    #[test]
    fn broken_tables_are_refused() {
        let one = |name: &str, url: &str| {
            format!(
                "[meta]\ndate=\"x\"\n[[source]]\nname=\"{name}\"\nlabel=\"l\"\nurl=\"{url}\"\nlayout=\"simple-html\"\nevidence=\"SRC\"\nnote=\"n\"\n"
            )
        };
        assert!(parse_table(&one("nju", "https://m.example/whl")).unwrap_err().contains("official"));
        assert!(parse_table(&one("official", "http://m.example/whl")).unwrap_err().contains("plain http"));
        let twice = format!(
            "{}{}",
            one("official", "https://a.example"),
            one("official", "https://b.example")
                .split_once("[[source]]")
                .map(|(_, b)| format!("[[source]]{b}"))
                .unwrap()
        );
        assert!(parse_table(&twice).unwrap_err().contains("twice"));
    }
}
