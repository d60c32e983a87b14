//! The built-in table of public PyTorch wheel sources (assets/mirrors.toml), official first,
//! each with its layout and the evidence for it. `--mirror auto` probes them (see
//! [`crate::compat::probe`]); `--mirror NAME` picks one by name.

use serde::Deserialize;

use super::data::Evidence;
use super::index::IndexLayout;
use super::index_url::IndexUrl;

/// The table shipped in the binary.
pub const BUNDLED_MIRRORS: &str = include_str!("../../assets/mirrors.toml");

/// How a source lays out its wheels, as the table says.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum SourceLayout {
    SimpleHtml,
    SimpleJson,
    FlatPerVariant,
    StablePage,
    /// PyPI's own simple index: `<base>/<package>/`, no variant paths; each release's wheels
    /// are one CUDA variant on Linux (compat.toml `pypi_linux`).
    Pypi,
}

impl SourceLayout {
    /// The index client's layout (PyPI is read as a simple index of its own shape).
    pub fn index_layout(self) -> Option<IndexLayout> {
        match self {
            SourceLayout::SimpleHtml => Some(IndexLayout::SimpleHtml),
            SourceLayout::SimpleJson => Some(IndexLayout::SimpleJson),
            SourceLayout::FlatPerVariant => Some(IndexLayout::FlatPerVariant),
            SourceLayout::StablePage => Some(IndexLayout::StablePage),
            SourceLayout::Pypi => None,
        }
    }
}

/// One row of the table.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MirrorSource {
    /// "official", "nju", "aliyun", "pypi": what `--mirror NAME` takes.
    pub name: String,
    /// What the user sees: "download.pytorch.org".
    pub label: String,
    pub url: String,
    pub layout: SourceLayout,
    pub evidence: Evidence,
    /// Only offered on Linux (PyPI: CUDA wheels on Linux only).
    #[serde(default)]
    pub linux_only: bool,
    pub note: String,
}

impl MirrorSource {
    pub fn index_url(&self) -> Result<IndexUrl, super::index::IndexError> {
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
pub fn parse_table(text: &str) -> Result<Vec<MirrorSource>, String> {
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
pub fn bundled() -> &'static [MirrorSource] {
    static TABLE: std::sync::OnceLock<Vec<MirrorSource>> = std::sync::OnceLock::new();
    TABLE.get_or_init(|| parse_table(BUNDLED_MIRRORS).unwrap_or_default())
}

/// A table row by name ("official", "nju", …).
pub fn by_name(name: &str) -> Option<&'static MirrorSource> {
    bundled().iter().find(|s| s.name.eq_ignore_ascii_case(name))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_bundled_table_is_valid_and_official_first() {
        let t = parse_table(BUNDLED_MIRRORS).unwrap();
        assert_eq!(t[0].name, "official");
        assert_eq!(t[0].url, crate::compat::index_url::OFFICIAL_INDEX_URL);
        assert!(t.iter().any(|s| s.layout == SourceLayout::FlatPerVariant));
        assert!(by_name("pypi").is_some_and(|s| s.linux_only && s.layout == SourceLayout::Pypi));
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
