//! The live PyTorch index client: which torch wheels `<index-url>/<variant>/<package>/`
//! really serves, fetched concurrently, cached on disk with a time to live.
//!
//! It never fails a plan: every page that cannot be had (offline and not cached, 404,
//! timeout, proxy or TLS error, garbage) becomes a short reason in
//! [`IndexSnapshot::failed`], and the planner falls back to the bundled data for it.
//! Plain http is refused except to loopback; there is no way to turn TLS checks off.

pub mod page;

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::path::PathBuf;
use std::sync::Mutex;
use std::time::{Duration, SystemTime};

use futures_util::StreamExt;
use reqwest::header::{ACCEPT, CONTENT_TYPE};
use url::{Host, Url};

use super::available::{DataSource, IndexSnapshot, VariantListing};
use super::cache::{CachedAnswer, Lookup, PageCache};
use super::wheel_name::normalize_name;
use page::PageError;

/// What we ask for: PEP 691 JSON if the index has it, else HTML (download.pytorch.org
/// serves only HTML).
pub const ACCEPT_VALUE: &str = "application/vnd.pypi.simple.v1+json, text/html;q=0.1";
/// Sent with every request.
pub const USER_AGENT: &str = concat!("torchup/", env!("CARGO_PKG_VERSION"));
/// How long a cached answer counts as fresh online.
pub const DEFAULT_TTL: Duration = Duration::from_secs(6 * 60 * 60);

/// How to reach the index and where to cache it. [`IndexOptions::new`] gives the defaults.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IndexOptions {
    /// `--index-url`, e.g. "https://download.pytorch.org/whl"; variants are `<base>/<variant>/`.
    pub base_url: String,
    /// `--offline`: answer from the cache (fresh or not) or not at all; never the network.
    pub offline: bool,
    /// Cache directory; None = no disk cache.
    pub cache_dir: Option<PathBuf>,
    /// Time to live of cached answers (online).
    pub ttl: Duration,
    /// TCP + TLS connect phase.
    pub connect_timeout: Duration,
    /// Longest silence between two reads.
    pub read_timeout: Duration,
    /// Total deadline for one page, redirects and body included.
    pub page_timeout: Duration,
    pub max_redirects: usize,
    /// Pages fetched at the same time.
    pub max_concurrency: usize,
    /// A page bigger than this is refused (the biggest real torch page is a few MB).
    pub max_page_bytes: usize,
}

impl IndexOptions {
    /// Defaults: cache in `paths::cache_dir()/index`, 6 h TTL, 5 s connect, 10 s read,
    /// 20 s per page, 5 redirects, 8 pages at once, 64 MiB per page.
    pub fn new(base_url: impl Into<String>) -> IndexOptions {
        IndexOptions {
            base_url: base_url.into(),
            offline: false,
            cache_dir: Some(crate::paths::cache_dir().join("index")),
            ttl: DEFAULT_TTL,
            connect_timeout: Duration::from_secs(5),
            read_timeout: Duration::from_secs(10),
            page_timeout: Duration::from_secs(20),
            max_redirects: 5,
            max_concurrency: 8,
            max_page_bytes: 64 << 20,
        }
    }
}

/// The index URL or the client itself is unusable; one line that names the fix.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum IndexError {
    #[error("invalid index URL `{url}`: {reason} (use e.g. --index-url https://download.pytorch.org/whl)")]
    InvalidUrl { url: String, reason: String },
    #[error(
        "refusing plain http index `{0}`: use https:// or a mirror on https (http is only allowed to 127.0.0.1, ::1 or localhost)"
    )]
    InsecureHttp(String),
    #[error("unsupported index URL scheme `{scheme}` in `{url}`: use https://")]
    UnsupportedScheme { url: String, scheme: String },
    #[error("invalid {what} name `{name}`: use letters, digits, `.`, `-` or `_` (e.g. cu124, torch)")]
    InvalidName { what: &'static str, name: String },
    #[error("could not start the HTTP client: {0}")]
    Client(String),
}

/// Why one page gave no listing: the short reason stored in [`IndexSnapshot::failed`].
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PageFailure {
    #[error("not on the index (HTTP 404{})", if *cached { ", cached" } else { "" })]
    NotFound { cached: bool },
    #[error("offline and not in the cache")]
    Offline,
    #[error("{0}")]
    BadName(String),
    #[error("HTTP {0}")]
    Status(u16),
    #[error("timed out after {0}")]
    Timeout(String),
    #[error("could not connect: {0}")]
    Connect(String),
    #[error("proxy error: {0}")]
    Proxy(String),
    #[error("redirect refused: {0}")]
    Redirect(String),
    #[error("network error: {0}")]
    Network(String),
    #[error("page larger than {0} bytes")]
    TooLarge(usize),
    #[error("{0}")]
    NotAnIndex(PageError),
}

/// Variant directories found on an index.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Discovery {
    /// cpu, cuda by version, then the rest; each once.
    pub variants: Vec<String>,
    /// Index if anything came live, Cache if all from the cache, None if nothing was learned.
    pub source: Option<DataSource>,
    /// Pages that could not be read (the base page, probes failing other than 404).
    pub problems: Vec<String>,
}

/// A client for one index base URL. Cheap to share by reference; all methods take `&self`.
#[derive(Debug)]
pub struct IndexClient {
    opts: IndexOptions,
    base: Url,
    http: reqwest::Client,
    cache: Option<PageCache>,
    /// Answers already had in this run, so discovery + snapshot never fetch a page twice.
    memo: Mutex<HashMap<String, (CachedAnswer, DataSource)>>,
}

enum PageKind<'a> {
    Base,
    Project { variant: &'a str, package: &'a str },
}

struct Fetched {
    final_url: Url,
    content_type: String,
    body: String,
}

impl IndexClient {
    /// Validate the base URL (https, or http to loopback only) and build the HTTP client.
    /// HTTPS_PROXY/NO_PROXY (and the OS proxy settings) apply, except to a loopback index.
    pub fn new(opts: IndexOptions) -> Result<IndexClient, IndexError> {
        let base = parse_base_url(&opts.base_url)?;
        let max_redirects = opts.max_redirects;
        let policy = reqwest::redirect::Policy::custom(move |attempt| {
            if attempt.previous().len() > max_redirects {
                let msg = format!("more than {max_redirects} redirects");
                return attempt.error(msg);
            }
            if !scheme_allowed(attempt.url()) {
                let msg = format!("to {} (plain http is only allowed to loopback)", redact(attempt.url()));
                return attempt.error(msg);
            }
            attempt.follow()
        });
        let mut builder = reqwest::Client::builder()
            .user_agent(USER_AGENT)
            .connect_timeout(opts.connect_timeout)
            .read_timeout(opts.read_timeout)
            .timeout(opts.page_timeout)
            .redirect(policy);
        if is_loopback(&base) {
            // A proxy cannot reach this machine's loopback; never send local traffic to it.
            builder = builder.no_proxy();
        }
        let http = builder.build().map_err(|e| IndexError::Client(root_cause(&e)))?;
        let cache = opts.cache_dir.as_ref().map(|d| PageCache::new(d, opts.ttl));
        Ok(IndexClient { opts, base, http, cache, memo: Mutex::new(HashMap::new()) })
    }

    pub fn options(&self) -> &IndexOptions {
        &self.opts
    }

    /// The base URL, normalized to end with `/`.
    pub fn base_url(&self) -> &Url {
        &self.base
    }

    /// `<base>/<variant>/<normalized package>/` (trailing slash kept, as PEP 503 wants).
    pub fn page_url(&self, variant: &str, package: &str) -> Result<Url, IndexError> {
        check_segment("variant", variant)?;
        let package = normalize_name(package);
        check_segment("package", &package)?;
        self.base
            .join(&format!("{variant}/{package}/"))
            .map_err(|e| IndexError::InvalidUrl { url: self.base.to_string(), reason: e.to_string() })
    }

    /// The listings of `packages` for each of `variants`, all pages fetched concurrently.
    /// A variant with a page that fails gets `failed[variant] = "<package>: <reason>"`
    /// (several failures joined with "; "); its other pages are still listed.
    pub async fn snapshot(&self, variants: &[String], packages: &[&str]) -> IndexSnapshot {
        let variants: BTreeSet<&str> = variants.iter().map(String::as_str).collect();
        let packages: BTreeSet<String> = packages.iter().map(|p| normalize_name(p)).collect();
        // Owned names: with borrowed ones the future is not `Send` (rustc's higher-ranked
        // closure limitation), and the wizard plans on a spawned task.
        let jobs: Vec<(String, String)> =
            variants.iter().flat_map(|v| packages.iter().map(move |p| (v.to_string(), p.clone()))).collect();
        let results: Vec<_> = futures_util::stream::iter(jobs)
            .map(|(v, p)| async move {
                let r = self.listing(&v, &p).await;
                (v, p, r)
            })
            .buffer_unordered(self.opts.max_concurrency.max(1))
            .collect()
            .await;
        let mut snap = IndexSnapshot::default();
        let mut sources = Vec::new();
        let mut failures: BTreeMap<String, Vec<String>> = BTreeMap::new();
        for (variant, package, result) in results {
            match result {
                Ok((listing, source)) => {
                    sources.push(source);
                    snap.insert(listing);
                }
                Err(why) => failures.entry(variant).or_default().push(format!("{package}: {why}")),
            }
        }
        for (variant, mut reasons) in failures {
            reasons.sort();
            snap.failed.insert(variant, reasons.join("; "));
        }
        snap.source = merge_sources(&sources);
        snap
    }

    /// One project page: its wheels and where the answer came from.
    pub async fn listing(&self, variant: &str, package: &str) -> Result<(VariantListing, DataSource), PageFailure> {
        let url = self.page_url(variant, package).map_err(|e| PageFailure::BadName(e.to_string()))?;
        let package = normalize_name(package);
        let (answer, source) = self.answer(&url, PageKind::Project { variant, package: &package }).await?;
        match answer {
            CachedAnswer::Listing { listing } => Ok((listing, source)),
            CachedAnswer::NotFound => Err(PageFailure::NotFound { cached: source == DataSource::Cache }),
            // Only a tampered cache file can hold this for a project URL.
            CachedAnswer::Variants { .. } => Err(PageFailure::NotAnIndex(PageError::NoLinks)),
        }
    }

    /// Variants on this index: those the base page `<index-url>/` links to (mirrors and
    /// directory listings do; download.pytorch.org's base page lists packages instead),
    /// plus each name in `probe` whose `<variant>/torch/` page lists at least one wheel
    /// (see [`variant_guesses`]). This is how a cu134 the bundled data does not know is found.
    pub async fn discover_variants(&self, probe: &[String]) -> Discovery {
        let mut out = Discovery::default();
        let mut sources = Vec::new();
        let mut found: Vec<String> = Vec::new();
        match self.answer(&self.base, PageKind::Base).await {
            Ok((CachedAnswer::Variants { variants }, source)) => {
                sources.push(source);
                found.extend(variants);
            }
            Ok((CachedAnswer::NotFound, _)) => out.problems.push("index base page: not found (HTTP 404)".into()),
            Ok((CachedAnswer::Listing { .. }, _)) => {
                out.problems.push("index base page: unexpected cache entry".into())
            }
            Err(why) => out.problems.push(format!("index base page: {why}")),
        }
        let to_probe: BTreeSet<String> = probe.iter().filter(|p| !found.contains(p)).cloned().collect();
        let results: Vec<_> = futures_util::stream::iter(to_probe)
            .map(|v| async move {
                let r = self.listing(&v, "torch").await;
                (v, r)
            })
            .buffer_unordered(self.opts.max_concurrency.max(1))
            .collect()
            .await;
        for (variant, result) in results {
            match result {
                Ok((listing, source)) => {
                    sources.push(source);
                    if !listing.files.is_empty() {
                        found.push(variant);
                    }
                }
                Err(PageFailure::NotFound { cached }) => {
                    sources.push(if cached { DataSource::Cache } else { DataSource::Index });
                }
                Err(why) => out.problems.push(format!("{variant}: {why}")),
            }
        }
        out.problems.sort();
        out.variants = page::sort_variants(found);
        out.source = merge_sources(&sources);
        out
    }

    /// Memo → cache → network, by the offline/TTL rules; stores what the network said.
    async fn answer(&self, url: &Url, kind: PageKind<'_>) -> Result<(CachedAnswer, DataSource), PageFailure> {
        let key = redact(url);
        if let Some(hit) = self.memo.lock().unwrap_or_else(|p| p.into_inner()).get(&key) {
            return Ok(hit.clone());
        }
        let now = SystemTime::now();
        let lookup = self.cache.as_ref().map_or(Lookup::Miss, |c| c.lookup(&key, now));
        let result = match lookup {
            Lookup::Fresh(e) => (e.answer, DataSource::Cache),
            // Offline, an expired answer from this index still beats none (docs/index-client.md).
            Lookup::Stale(e) if self.opts.offline => (e.answer, DataSource::Cache),
            _ if self.opts.offline => return Err(PageFailure::Offline),
            _ => {
                let answer = match self.fetch(url).await? {
                    None => CachedAnswer::NotFound,
                    Some(f) => parse(&f, &kind).map_err(PageFailure::NotAnIndex)?,
                };
                if let Some(cache) = &self.cache
                    && let Err(e) = cache.store_off_runtime(&key, answer.clone(), now).await
                {
                    tracing::warn!("could not write the index cache in {}: {e}", cache.dir().display());
                }
                (answer, DataSource::Index)
            }
        };
        self.memo.lock().unwrap_or_else(|p| p.into_inner()).insert(key, result.clone());
        Ok(result)
    }

    /// GET one page; Ok(None) on 404/410. The whole exchange is bounded by `page_timeout`.
    async fn fetch(&self, url: &Url) -> Result<Option<Fetched>, PageFailure> {
        let started = std::time::Instant::now();
        // Connect, read and page deadlines all surface as "timed out"; say how long it took.
        let classify = |e: reqwest::Error| classify(&e, started.elapsed());
        let max = self.opts.max_page_bytes;
        let work = async {
            let mut resp = self.http.get(url.clone()).header(ACCEPT, ACCEPT_VALUE).send().await.map_err(classify)?;
            let status = resp.status();
            if status.as_u16() == 404 || status.as_u16() == 410 {
                return Ok(None);
            }
            if !status.is_success() {
                return Err(PageFailure::Status(status.as_u16()));
            }
            if resp.content_length().is_some_and(|n| n > max as u64) {
                return Err(PageFailure::TooLarge(max));
            }
            let final_url = resp.url().clone();
            let content_type =
                resp.headers().get(CONTENT_TYPE).and_then(|v| v.to_str().ok()).unwrap_or("").to_ascii_lowercase();
            let mut body = Vec::new();
            while let Some(chunk) = resp.chunk().await.map_err(classify)? {
                if body.len() + chunk.len() > max {
                    return Err(PageFailure::TooLarge(max));
                }
                body.extend_from_slice(&chunk);
            }
            Ok(Some(Fetched { final_url, content_type, body: String::from_utf8_lossy(&body).into_owned() }))
        };
        match tokio::time::timeout(self.opts.page_timeout, work).await {
            Ok(r) => r,
            Err(_) => Err(PageFailure::Timeout(seconds(self.opts.page_timeout))),
        }
    }
}

/// Parse a fetched page by its Content-Type: PEP 691 JSON or (anything else) HTML.
fn parse(f: &Fetched, kind: &PageKind<'_>) -> Result<CachedAnswer, PageError> {
    let mime = f.content_type.split(';').next().unwrap_or("").trim();
    let json =
        mime == "application/json" || (mime.starts_with("application/vnd.pypi.simple.") && mime.ends_with("+json"));
    match kind {
        PageKind::Base => {
            let variants = if json { page::variants_from_json(&f.body)? } else { page::variants_from_html(&f.body) };
            Ok(CachedAnswer::Variants { variants })
        }
        PageKind::Project { variant, package } => {
            let listing = if json {
                page::listing_from_json(&f.body, &f.final_url, variant, package)?
            } else {
                page::listing_from_html(&f.body, &f.final_url, variant, package)?
            };
            Ok(CachedAnswer::Listing { listing })
        }
    }
}

/// Names of CUDA variants that may appear after the newest known one: the next four minors
/// of its major and the first three of the next major (cu132 → cu133…cu136, cu140…cu142).
/// Probing them is a handful of small requests, cached like any page.
pub fn variant_guesses(known: &[String]) -> Vec<String> {
    let Some((major, minor)) = known.iter().filter_map(|v| page::cuda_of_variant(v)).max() else { return vec![] };
    let mut out: Vec<String> = (minor + 1..=(minor + 4).min(9)).map(|m| format!("cu{major}{m}")).collect();
    out.extend((0..3).map(|m| format!("cu{}{m}", major + 1)));
    out.retain(|g| !known.contains(g));
    out
}

/// Index answers live (Index) if any page came from the network, else Cache if any came
/// from the cache, else nothing.
fn merge_sources(sources: &[DataSource]) -> Option<DataSource> {
    if sources.contains(&DataSource::Index) {
        Some(DataSource::Index)
    } else if sources.contains(&DataSource::Cache) {
        Some(DataSource::Cache)
    } else {
        None
    }
}

fn parse_base_url(raw: &str) -> Result<Url, IndexError> {
    let invalid = |reason: &str| IndexError::InvalidUrl { url: raw.to_string(), reason: reason.to_string() };
    let mut url = Url::parse(raw.trim()).map_err(|e| invalid(&e.to_string()))?;
    match url.scheme() {
        "https" => {}
        "http" if is_loopback(&url) => {}
        "http" => return Err(IndexError::InsecureHttp(redact(&url))),
        other => return Err(IndexError::UnsupportedScheme { url: redact(&url), scheme: other.to_string() }),
    }
    if url.host().is_none() {
        return Err(invalid("no host"));
    }
    if url.query().is_some() || url.fragment().is_some() {
        return Err(invalid("a query or fragment cannot be combined with variant paths"));
    }
    if !url.path().ends_with('/') {
        let path = format!("{}/", url.path());
        url.set_path(&path);
    }
    Ok(url)
}

/// https anywhere; http only to 127.0.0.0/8, ::1 or localhost.
fn scheme_allowed(url: &Url) -> bool {
    match url.scheme() {
        "https" => true,
        "http" => is_loopback(url),
        _ => false,
    }
}

fn is_loopback(url: &Url) -> bool {
    match url.host() {
        Some(Host::Domain(d)) => d.eq_ignore_ascii_case("localhost"),
        Some(Host::Ipv4(ip)) => ip.is_loopback(),
        Some(Host::Ipv6(ip)) => ip.is_loopback(),
        None => false,
    }
}

/// A URL fit for logs, errors and cache keys: any password replaced.
fn redact(url: &Url) -> String {
    let mut u = url.clone();
    if u.password().is_some() {
        let _ = u.set_password(Some("***"));
    }
    u.to_string()
}

fn check_segment(what: &'static str, name: &str) -> Result<(), IndexError> {
    let ok = !name.is_empty()
        && !name.starts_with('.')
        && name.bytes().all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'-' | b'_'));
    if ok { Ok(()) } else { Err(IndexError::InvalidName { what, name: name.to_string() }) }
}

/// A reqwest error as one short reason.
fn classify(e: &reqwest::Error, elapsed: Duration) -> PageFailure {
    let root = root_cause(e);
    if e.is_timeout() {
        PageFailure::Timeout(seconds(elapsed))
    } else if e.is_redirect() {
        PageFailure::Redirect(root)
    } else if format!("{e:?}").contains("Tunnel") || root.to_ascii_lowercase().contains("proxy") {
        PageFailure::Proxy(root)
    } else if e.is_connect() {
        PageFailure::Connect(root)
    } else {
        PageFailure::Network(root)
    }
}

/// "0.4s"
fn seconds(d: Duration) -> String {
    format!("{:.1}s", d.as_secs_f64())
}

/// The innermost error message (the useful part: "Connection refused (os error 111)").
fn root_cause(e: &(dyn std::error::Error + 'static)) -> String {
    let mut cur = e;
    while let Some(next) = cur.source() {
        cur = next;
    }
    cur.to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn opts(url: &str) -> IndexOptions {
        IndexOptions { cache_dir: None, ..IndexOptions::new(url) }
    }

    #[test]
    fn base_url_rules() {
        let ok = [
            ("https://download.pytorch.org/whl", "https://download.pytorch.org/whl/"),
            ("https://mirror.example/pytorch/whl/", "https://mirror.example/pytorch/whl/"),
            ("http://127.0.0.1:8080/whl", "http://127.0.0.1:8080/whl/"),
            ("http://127.3.4.5/whl", "http://127.3.4.5/whl/"),
            ("http://[::1]:9/whl", "http://[::1]:9/whl/"),
            ("http://LOCALHOST:9", "http://localhost:9/"),
        ];
        for (raw, want) in ok {
            assert_eq!(parse_base_url(raw).unwrap().as_str(), want);
        }
        let bad = [
            ("http://download.pytorch.org/whl", "use https:// or a mirror on https"),
            ("http://10.0.0.1/whl", "use https://"),
            ("http://localhost.evil.example/whl", "use https://"),
            ("ftp://mirror.example/whl", "unsupported index URL scheme `ftp`"),
            ("file:///srv/whl", "unsupported index URL scheme `file`"),
            ("download.pytorch.org/whl", "invalid index URL"),
            ("https://mirror.example/whl?token=1", "query or fragment"),
            ("", "invalid index URL"),
        ];
        for (raw, want) in bad {
            let err = parse_base_url(raw).unwrap_err().to_string();
            assert!(err.contains(want), "{raw}: {err}");
            assert!(!err.contains('\n'));
        }
        let err = parse_base_url("http://user:secret@mirror.example/whl").unwrap_err().to_string();
        assert!(!err.contains("secret"), "{err}");
    }

    #[tokio::test]
    async fn page_urls_are_normalized_and_checked() {
        let c = IndexClient::new(opts("https://download.pytorch.org/whl")).unwrap();
        assert_eq!(c.page_url("cu124", "torch").unwrap().as_str(), "https://download.pytorch.org/whl/cu124/torch/");
        assert_eq!(
            c.page_url("cpu", "Torch_Audio").unwrap().as_str(),
            "https://download.pytorch.org/whl/cpu/torch-audio/"
        );
        for bad in ["", "..", "../x", "cu124/../..", "a b", "cu?"] {
            assert!(c.page_url(bad, "torch").is_err(), "{bad}");
        }
        assert!(c.page_url("cu124", "../etc").is_err());
    }

    #[test]
    fn guesses_follow_the_newest_cuda() {
        let known: Vec<String> = ["cpu", "cu118", "cu126", "cu130", "cu132"].iter().map(|s| s.to_string()).collect();
        assert_eq!(variant_guesses(&known), ["cu133", "cu134", "cu135", "cu136", "cu140", "cu141", "cu142"]);
        let known: Vec<String> = ["cu128", "cu129"].iter().map(|s| s.to_string()).collect();
        assert_eq!(variant_guesses(&known), ["cu130", "cu131", "cu132"]);
        assert!(variant_guesses(&["cpu".to_string()]).is_empty());
    }

    #[test]
    fn sources_merge() {
        use DataSource::*;
        assert_eq!(merge_sources(&[]), None);
        assert_eq!(merge_sources(&[Cache, Cache]), Some(Cache));
        assert_eq!(merge_sources(&[Cache, Index]), Some(Index));
    }

    #[test]
    fn failures_read_as_one_short_line() {
        assert_eq!(PageFailure::NotFound { cached: false }.to_string(), "not on the index (HTTP 404)");
        assert_eq!(PageFailure::NotFound { cached: true }.to_string(), "not on the index (HTTP 404, cached)");
        assert_eq!(PageFailure::Offline.to_string(), "offline and not in the cache");
        assert_eq!(PageFailure::Status(500).to_string(), "HTTP 500");
        assert_eq!(PageFailure::NotAnIndex(PageError::NoLinks).to_string(), "not an index page (no links found)");
    }
}
