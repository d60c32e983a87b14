//! The index URL: one validated type, owned by the engine, used by the CLI and the wizard
//! alike. https anywhere; plain http only to loopback (127.0.0.0/8, ::1, localhost); no other
//! scheme, no query or fragment. Credentials in it (`https://user:token@mirror/…`) are kept
//! for the HTTP client and pip, and masked whenever the URL is displayed (`Display`,
//! [`IndexUrl::redacted`], `Debug`).

use std::fmt;
use std::str::FromStr;

use url::{Host, Url};

use super::index::IndexError;

/// The default: the official PyTorch wheel index.
pub(crate) const OFFICIAL_INDEX_URL: &str = "https://download.pytorch.org/whl";

/// A validated index base URL (a simple index `…/whl`, a directory of per-variant wheel
/// listings, or a single `torch_stable.html` page).
#[derive(Clone, PartialEq, Eq)]
pub struct IndexUrl {
    /// Normalized: a directory URL ends with `/`; a page URL (`….html`) is kept as is.
    url: Url,
}

impl IndexUrl {
    /// Validate `raw`; the error is one line naming the fix.
    pub fn parse(raw: &str) -> Result<IndexUrl, IndexError> {
        let invalid = |reason: &str| IndexError::InvalidUrl { url: redact_str(raw), reason: reason.to_string() };
        let mut url = Url::parse(raw.trim()).map_err(|e| invalid(&e.to_string()))?;
        match url.scheme() {
            "https" => {}
            "http" if is_loopback(&url) => {}
            "http" => return Err(IndexError::InsecureHttp(redact_url(&url))),
            other => return Err(IndexError::UnsupportedScheme { url: redact_url(&url), scheme: other.to_string() }),
        }
        if url.host().is_none() {
            return Err(invalid("no host"));
        }
        if url.query().is_some() || url.fragment().is_some() {
            return Err(invalid("a query or fragment cannot be combined with variant paths"));
        }
        if !url.path().ends_with('/') && !is_page_path(url.path()) {
            let path = format!("{}/", url.path());
            url.set_path(&path);
        }
        Ok(IndexUrl { url })
    }

    /// The official index.
    pub fn official() -> IndexUrl {
        // An invariant: the constant is a valid https URL (tested).
        IndexUrl::parse(OFFICIAL_INDEX_URL).unwrap_or_else(|_| unreachable!("the official index URL is valid"))
    }

    /// The parsed URL, credentials included: for the HTTP client only.
    pub fn url(&self) -> &Url {
        &self.url
    }

    /// The URL with credentials, without a trailing `/`: what pip's argv (or the plan's
    /// `Request.index_url`) needs. Never print it; print `self` instead.
    pub fn expose(&self) -> String {
        self.url.as_str().trim_end_matches('/').to_string()
    }

    /// The URL fit for display, logs and stored documents: any credential masked.
    pub fn redacted(&self) -> String {
        redact_url(&self.url).trim_end_matches('/').to_string()
    }

    /// The URL carries a user name or password.
    pub fn has_credentials(&self) -> bool {
        !self.url.username().is_empty() || self.url.password().is_some()
    }

    /// A single listing page (`torch_stable.html`) rather than a directory of variants.
    pub fn is_page(&self) -> bool {
        is_page_path(self.url.path())
    }

    /// Plain http to this machine (a local mirror or a test index).
    pub fn is_loopback(&self) -> bool {
        is_loopback(&self.url)
    }

    /// When the URL names one variant's directory (`…/whl/cu124`, copied from a guide's
    /// `pip install … --index-url`, or a mirror's `…/pytorch-wheels/cu124/`): the index base
    /// above it, and that variant. torchup reads every variant from the base.
    pub fn split_variant(&self) -> Option<(IndexUrl, String)> {
        if self.is_page() {
            return None;
        }
        let segments: Vec<&str> = self.url.path_segments()?.filter(|s| !s.is_empty()).collect();
        let (last, parents) = segments.split_last()?;
        if !super::index::page::is_variant_name(last) {
            return None;
        }
        let mut base = self.url.clone();
        base.set_path(&format!("/{}", parents.iter().map(|p| format!("{p}/")).collect::<String>()));
        Some((IndexUrl { url: base }, last.to_string()))
    }
}

impl Default for IndexUrl {
    fn default() -> Self {
        IndexUrl::official()
    }
}

impl FromStr for IndexUrl {
    type Err = IndexError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        IndexUrl::parse(s)
    }
}

impl fmt::Display for IndexUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.redacted())
    }
}

impl fmt::Debug for IndexUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "IndexUrl({})", self.redacted())
    }
}

fn is_page_path(path: &str) -> bool {
    let last = path.rsplit('/').next().unwrap_or("");
    last.ends_with(".html") || last.ends_with(".htm")
}

/// https anywhere; http only to 127.0.0.0/8, ::1 or localhost.
pub(crate) fn scheme_allowed(url: &Url) -> bool {
    match url.scheme() {
        "https" => true,
        "http" => is_loopback(url),
        _ => false,
    }
}

pub(crate) fn is_loopback(url: &Url) -> bool {
    match url.host() {
        Some(Host::Domain(d)) => d.eq_ignore_ascii_case("localhost"),
        Some(Host::Ipv4(ip)) => ip.is_loopback(),
        Some(Host::Ipv6(ip)) => ip.is_loopback(),
        None => false,
    }
}

/// A URL fit for logs, errors and cache keys: any credential masked.
pub(crate) fn redact_url(url: &Url) -> String {
    crate::redact::redact_text(url.as_str()).into_owned()
}

fn redact_str(raw: &str) -> String {
    crate::redact::redact_text(raw).into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_variant_url_splits_into_its_base_and_variant() {
        let split = |raw: &str| IndexUrl::parse(raw).unwrap().split_variant().map(|(b, v)| (b.expose(), v));
        assert_eq!(
            split("https://download.pytorch.org/whl/cu124"),
            Some(("https://download.pytorch.org/whl".into(), "cu124".into()))
        );
        assert_eq!(
            split("https://tok:en@mirrors.aliyun.com/pytorch-wheels/cpu/"),
            Some(("https://tok:en@mirrors.aliyun.com/pytorch-wheels".into(), "cpu".into()))
        );
        assert_eq!(split("http://127.0.0.1:8080/rocm6.2"), Some(("http://127.0.0.1:8080".into(), "rocm6.2".into())));
        assert_eq!(split("https://download.pytorch.org/whl"), None);
        assert_eq!(split("https://download.pytorch.org/whl/torch_stable.html"), None);
        assert_eq!(split("https://pypi.org/simple"), None);
        assert_eq!(split("https://example.org/cuda"), None);
    }

    #[test]
    fn the_url_rules() {
        let ok = [
            ("https://download.pytorch.org/whl", "https://download.pytorch.org/whl"),
            ("https://mirror.example/pytorch/whl/", "https://mirror.example/pytorch/whl"),
            ("http://127.0.0.1:8080/whl", "http://127.0.0.1:8080/whl"),
            ("http://[::1]:9/whl", "http://[::1]:9/whl"),
            (
                "https://download.pytorch.org/whl/torch_stable.html",
                "https://download.pytorch.org/whl/torch_stable.html",
            ),
        ];
        for (raw, want) in ok {
            assert_eq!(IndexUrl::parse(raw).unwrap().expose(), want);
        }
        assert!(IndexUrl::parse("https://download.pytorch.org/whl/torch_stable.html").unwrap().is_page());
        assert!(!IndexUrl::official().is_page());
        assert_eq!(IndexUrl::official().expose(), OFFICIAL_INDEX_URL);
        for bad in ["http://mirror.example/whl", "ftp://m.example/", "https://m.example/whl?x=1", "nope"] {
            let e = IndexUrl::parse(bad).unwrap_err().to_string();
            assert!(!e.contains('\n') && e.contains("https"), "{bad}: {e}");
        }
    }

    #[test]
    fn credentials_are_kept_for_the_client_and_masked_for_display() {
        let u = IndexUrl::parse("https://me:t0ken@mirror.example/whl").unwrap();
        assert!(u.has_credentials());
        assert_eq!(u.expose(), "https://me:t0ken@mirror.example/whl");
        assert_eq!(u.to_string(), "https://me:***@mirror.example/whl");
        assert!(!format!("{u:?}").contains("t0ken"));
        let e = IndexUrl::parse("http://me:t0ken@mirror.example/whl").unwrap_err().to_string();
        assert!(!e.contains("t0ken"), "{e}");
        let e = IndexUrl::parse("https://me:t0ken@mirror.example/whl?q").unwrap_err().to_string();
        assert!(!e.contains("t0ken"), "{e}");
    }
}
