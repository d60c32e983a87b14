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
use url::Url;

use super::available::{DataSource, IndexSnapshot, VariantListing};
use super::cache::{CachedAnswer, Lookup, PageCache};
use super::index_url::{IndexUrl, is_loopback, redact_url as redact, scheme_allowed};
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
    /// The layout when it is known (a built-in mirror); None = detect it.
    pub layout: Option<IndexLayout>,
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
            max_redirects: MAX_REDIRECTS,
            max_concurrency: 8,
            max_page_bytes: 64 << 20,
            layout: None,
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

/// How an index lays out its wheels. The layout only changes how torchup finds the wheel
/// files; [`IndexClient::listing`] gives the same [`VariantListing`] for every one.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum IndexLayout {
    /// PEP 503 HTML simple index: `<base>/<variant>/<package>/` (download.pytorch.org).
    SimpleHtml,
    /// PEP 691 JSON simple index, same paths.
    SimpleJson,
    /// A directory of wheels per variant: `<base>/<variant>/` links the wheel files of every
    /// package (what users pass to `pip -f`).
    FlatPerVariant,
    /// One page links every wheel of every variant (the legacy `torch_stable.html`).
    StablePage,
    /// PyPI's own simple index: `<base>/<package>/`, no variant paths. On Linux each
    /// release's wheels are one CUDA variant (compat.toml `pypi_linux`); a listing for a
    /// variant holds the Linux wheels of the releases whose PyPI default it is.
    Pypi,
}

impl IndexLayout {
    pub fn as_str(self) -> &'static str {
        match self {
            IndexLayout::SimpleHtml => "simple index (HTML)",
            IndexLayout::SimpleJson => "simple index (JSON)",
            IndexLayout::FlatPerVariant => "flat wheel listing per variant",
            IndexLayout::StablePage => "single torch_stable.html page",
            IndexLayout::Pypi => "PyPI (Linux CUDA wheels)",
        }
    }
}

/// What a client has learned about its index so far.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct LayoutInfo {
    /// None until a page was fetched from the network (cached answers do not tell).
    pub layout: Option<IndexLayout>,
    /// Some(true) once a listing carried sha256 hashes, Some(false) once one had files but
    /// no hashes; None before any listing with files.
    pub hashes: Option<bool>,
}

/// A sha256 found for a wheel file, and which index published it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FoundHash {
    pub sha256: String,
    /// The index that publishes it (redacted URL).
    pub source: String,
}

/// A client for one index base URL. Cheap to share by reference; all methods take `&self`.
#[derive(Debug)]
pub struct IndexClient {
    opts: IndexOptions,
    index_url: IndexUrl,
    base: Url,
    http: reqwest::Client,
    cache: Option<PageCache>,
    /// Answers already had in this run, so discovery + snapshot never fetch a page twice.
    memo: Mutex<HashMap<String, (CachedAnswer, DataSource)>>,
    info: Mutex<LayoutInfo>,
    /// The layout, detected once (see `layout_for`).
    detected: tokio::sync::OnceCell<IndexLayout>,
}

enum PageKind<'a> {
    Base,
    Project {
        variant: &'a str,
        package: &'a str,
    },
    /// A page of wheels of any package (flat directory, torch_stable.html).
    Wheels,
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
        let index_url = IndexUrl::parse(&opts.base_url)?;
        let base = index_url.url().clone();
        let max_redirects = opts.max_redirects;
        let policy = redirect_policy(max_redirects);
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
        Ok(IndexClient {
            opts,
            index_url,
            base,
            http,
            cache,
            memo: Mutex::new(HashMap::new()),
            info: Mutex::new(LayoutInfo::default()),
            detected: tokio::sync::OnceCell::new(),
        })
    }

    pub fn options(&self) -> &IndexOptions {
        &self.opts
    }

    /// The base URL, normalized to end with `/` (credentials included: never print it).
    pub fn base_url(&self) -> &Url {
        &self.base
    }

    /// The validated index URL (prints with credentials masked).
    pub fn index_url(&self) -> &IndexUrl {
        &self.index_url
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
                Err(why) => {
                    if matches!(why, PageFailure::NotFound { .. }) {
                        snap.not_found.insert(IndexSnapshot::key(&variant, &package));
                    }
                    failures.entry(variant).or_default().push(format!("{package}: {why}"))
                }
            }
        }
        for (variant, mut reasons) in failures {
            reasons.sort();
            snap.failed.insert(variant, reasons.join("; "));
        }
        snap.source = merge_sources(&sources);
        snap
    }

    /// The wheels of `package` for `variant`, whatever the index's layout, and where the
    /// answer came from. A simple index is read at `<base>/<variant>/<package>/`; when that
    /// is 404 on an index whose layout is not known yet, `<base>/<variant>/` is tried as a
    /// flat wheel directory; a `….html` index URL is one page for every variant.
    pub async fn listing(&self, variant: &str, package: &str) -> Result<(VariantListing, DataSource), PageFailure> {
        let url = self.page_url(variant, package).map_err(|e| PageFailure::BadName(e.to_string()))?;
        let package = normalize_name(package);
        if self.index_url.is_page() {
            let base = self.base.clone();
            return self.wheels_listing(&base, variant, &package, IndexLayout::StablePage).await;
        }
        match self.layout_for(variant, &package).await? {
            IndexLayout::Pypi => self.pypi_listing(variant, &package).await,
            IndexLayout::FlatPerVariant => {
                let dir = self.variant_dir(variant)?;
                self.wheels_listing(&dir, variant, &package, IndexLayout::FlatPerVariant).await
            }
            _ => {
                let (answer, source) = self.answer(&url, PageKind::Project { variant, package: &package }).await?;
                match answer {
                    CachedAnswer::Listing { listing } => {
                        self.saw_listing(&listing);
                        Ok((listing, source))
                    }
                    CachedAnswer::NotFound => Err(PageFailure::NotFound { cached: source == DataSource::Cache }),
                    // Only a tampered cache file can hold these for a project URL.
                    _ => Err(PageFailure::NotAnIndex(PageError::NoLinks)),
                }
            }
        }
    }

    /// PyPI: `<base>/<package>/`, keeping the Linux wheels whose release has `variant` as
    /// its PyPI default (Windows/macOS wheels on PyPI are CPU builds: never listed).
    async fn pypi_listing(&self, variant: &str, package: &str) -> Result<(VariantListing, DataSource), PageFailure> {
        let url = self.base.join(&format!("{package}/")).map_err(|e| PageFailure::BadName(e.to_string()))?;
        let (answer, source) = self.answer(&url, PageKind::Project { variant: "pypi", package }).await?;
        let not_found = PageFailure::NotFound { cached: source == DataSource::Cache };
        let CachedAnswer::Listing { listing } = answer else { return Err(not_found) };
        let data = super::data::CompatData::bundled().map_err(|e| PageFailure::Network(e.to_string()))?;
        let files: Vec<_> = listing
            .files
            .into_iter()
            .filter(|f| f.platform_tag.contains("linux"))
            .filter(|f| data.pypi_linux_variant_of(package, &f.version) == Some(variant))
            .collect();
        if files.is_empty() {
            return Err(not_found);
        }
        let listing = VariantListing { variant: variant.to_string(), package: package.to_string(), files };
        self.set_layout(IndexLayout::Pypi);
        self.saw_listing(&listing);
        Ok((listing, source))
    }

    fn variant_dir(&self, variant: &str) -> Result<Url, PageFailure> {
        self.base.join(&format!("{variant}/")).map_err(|e| PageFailure::BadName(format!("invalid variant URL: {e}")))
    }

    /// The layout of a directory-style index: the hint, the one detected earlier (kept in
    /// the cache like a page), or detected once per client by the first caller (others
    /// wait) from its own page: a project page that exists means a simple index; a 404 there
    /// and a variant directory that links wheels mean a flat listing. Pages read here are
    /// memoized, so detection costs at most one extra request, once per TTL. When the
    /// caller's page cannot be read, that failure is its answer and the next caller retries.
    async fn layout_for(&self, variant: &str, package: &str) -> Result<IndexLayout, PageFailure> {
        if let Some(hint) = self.opts.layout {
            return Ok(hint);
        }
        let detect = || async {
            if let Some(known) = self.cached_layout() {
                return Ok(known);
            }
            let url = self.page_url(variant, package).map_err(|e| PageFailure::BadName(e.to_string()))?;
            let layout = match self.answer(&url, PageKind::Project { variant, package }).await? {
                (CachedAnswer::NotFound, _) => {
                    let dir = self.variant_dir(variant)?;
                    match self.answer(&dir, PageKind::Wheels).await {
                        Ok((CachedAnswer::Wheels { files }, _)) if !files.is_empty() => IndexLayout::FlatPerVariant,
                        _ => IndexLayout::SimpleHtml,
                    }
                }
                _ => IndexLayout::SimpleHtml,
            };
            self.store_layout(layout).await;
            Ok(layout)
        };
        self.detected.get_or_try_init(detect).await.copied()
    }

    fn layout_key(&self) -> String {
        format!("{}#layout", redact(&self.base))
    }

    fn cached_layout(&self) -> Option<IndexLayout> {
        let cache = self.cache.as_ref()?;
        let entry = match cache.lookup(&self.layout_key(), SystemTime::now()) {
            Lookup::Fresh(e) => e,
            Lookup::Stale(e) if self.opts.offline => e,
            _ => return None,
        };
        match entry.answer {
            CachedAnswer::Layout { layout } => Some(layout),
            _ => None,
        }
    }

    /// Remember the detected layout (the write ends with an fsync: off the async workers).
    async fn store_layout(&self, layout: IndexLayout) {
        if let Some(cache) = &self.cache
            && !self.opts.offline
        {
            let _ =
                cache.store_off_runtime(&self.layout_key(), CachedAnswer::Layout { layout }, SystemTime::now()).await;
        }
    }

    /// `package`'s wheels for `variant` from a page that links wheels directly.
    async fn wheels_listing(
        &self,
        page: &Url,
        variant: &str,
        package: &str,
        layout: IndexLayout,
    ) -> Result<(VariantListing, DataSource), PageFailure> {
        let (answer, source) = self.answer(page, PageKind::Wheels).await?;
        let not_found = PageFailure::NotFound { cached: source == DataSource::Cache };
        let CachedAnswer::Wheels { files } = answer else { return Err(not_found) };
        let one_page = layout == IndexLayout::StablePage;
        let files: Vec<_> = files
            .into_iter()
            .filter(|f| f.name == package)
            .filter(|f| !one_page || page::variant_of_file(f).as_deref() == Some(variant))
            .collect();
        if files.is_empty() {
            // The page exists but carries nothing of this package for this variant.
            return Err(not_found);
        }
        let listing = VariantListing { variant: variant.to_string(), package: package.to_string(), files };
        self.set_layout(layout);
        self.saw_listing(&listing);
        Ok((listing, source))
    }

    /// The layout detected so far and whether listings carry hashes.
    pub fn layout_info(&self) -> LayoutInfo {
        *self.info.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn set_layout(&self, layout: IndexLayout) {
        self.info.lock().unwrap_or_else(|p| p.into_inner()).layout = Some(layout);
    }

    fn saw_listing(&self, listing: &VariantListing) {
        if listing.files.is_empty() {
            return;
        }
        let hashed = listing.files.iter().any(|f| f.sha256.is_some());
        let mut info = self.info.lock().unwrap_or_else(|p| p.into_inner());
        info.hashes = Some(info.hashes.unwrap_or(false) || hashed);
    }

    /// The sha256 this index publishes for the wheel `filename` of `variant`, if any (the
    /// file name gives the package). For a mirror whose listing has no hashes, ask a second
    /// client for an index that publishes them (see [`hash_from`]).
    pub async fn hash_for(&self, variant: &str, filename: &str) -> Option<String> {
        let name = super::wheel_name::WheelName::parse(filename).ok()?;
        let (listing, _) = self.listing(variant, &name.name).await.ok()?;
        listing.files.into_iter().find(|f| f.filename == filename).and_then(|f| f.sha256)
    }

    /// Variants on this index: those the base page `<index-url>/` links to (mirrors and
    /// directory listings do; download.pytorch.org's base page lists packages instead),
    /// plus each name in `probe` whose `<variant>/torch/` page lists at least one wheel
    /// (see [`variant_guesses`]). This is how a cu134 the bundled data does not know is found.
    pub async fn discover_variants(&self, probe: &[String]) -> Discovery {
        let mut out = Discovery::default();
        if self.opts.layout == Some(IndexLayout::Pypi) {
            // PyPI has no variant paths (and its root page lists every project on PyPI).
            return out;
        }
        let mut sources = Vec::new();
        let mut found: Vec<String> = Vec::new();
        let kind = if self.index_url.is_page() { PageKind::Wheels } else { PageKind::Base };
        match self.answer(&self.base, kind).await {
            Ok((CachedAnswer::Wheels { files }, source)) => {
                // One page for every variant: its wheels name them.
                sources.push(source);
                found.extend(files.iter().filter_map(page::variant_of_file));
            }
            Ok((CachedAnswer::Variants { variants }, source)) => {
                sources.push(source);
                found.extend(variants);
            }
            Ok((CachedAnswer::NotFound, _)) => out.problems.push("index base page: not found (HTTP 404)".into()),
            Ok((CachedAnswer::Listing { .. } | CachedAnswer::Layout { .. }, _)) => {
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
                    Some(f) => {
                        let answer = parse(&f, &kind).map_err(PageFailure::NotAnIndex)?;
                        if matches!(kind, PageKind::Base) && page::links_to_project(&f.body, "torch") {
                            // A root that lists projects (download.pytorch.org/whl/) is a simple index.
                            if self.opts.layout.is_none() && self.detected.set(IndexLayout::SimpleHtml).is_ok() {
                                self.store_layout(IndexLayout::SimpleHtml).await;
                            }
                        }
                        if matches!(kind, PageKind::Project { .. }) && self.opts.layout != Some(IndexLayout::Pypi) {
                            self.set_layout(if is_json(&f) {
                                IndexLayout::SimpleJson
                            } else {
                                IndexLayout::SimpleHtml
                            });
                        }
                        answer
                    }
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

/// The first of `clients` (say the official index, then a simple-index mirror) that
/// publishes a sha256 for `filename`. None when no index does: the fetcher then checks the
/// wheel's own RECORD ("integrity checked, origin not verified").
pub async fn hash_from(clients: &[&IndexClient], variant: &str, filename: &str) -> Option<FoundHash> {
    for c in clients {
        if let Some(sha256) = c.hash_for(variant, filename).await {
            return Some(FoundHash { sha256, source: c.index_url().redacted() });
        }
    }
    None
}

/// Parse a fetched page by its Content-Type: PEP 691 JSON or (anything else) HTML.
fn is_json(f: &Fetched) -> bool {
    let mime = f.content_type.split(';').next().unwrap_or("").trim();
    mime == "application/json" || (mime.starts_with("application/vnd.pypi.simple.") && mime.ends_with("+json"))
}

fn parse(f: &Fetched, kind: &PageKind<'_>) -> Result<CachedAnswer, PageError> {
    let json = is_json(f);
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
        PageKind::Wheels => Ok(CachedAnswer::Wheels { files: page::wheels_from_html(&f.body, &f.final_url)? }),
    }
}

/// Names of CUDA variants that may appear after the newest known one: the next four minors
/// of its major and the first three of the next major (cu132 → cu133…cu136, cu140…cu142).
/// Probing them is a handful of small requests, cached like any page.
pub fn variant_guesses(known: &[String]) -> Vec<String> {
    let Some((major, minor)) = known.iter().filter_map(|v| crate::version::cuda_of_variant(v)).max() else {
        return vec![];
    };
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

#[cfg(test)]
fn parse_base_url(raw: &str) -> Result<Url, IndexError> {
    IndexUrl::parse(raw).map(|u| u.url().clone())
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

/// Redirects followed at most, by default.
pub(crate) const MAX_REDIRECTS: usize = 5;

/// Follow at most `max_redirects` redirects, never to plain http off loopback: the one
/// redirect rule for index pages and the mirror probe's wheel downloads.
pub(crate) fn redirect_policy(max_redirects: usize) -> reqwest::redirect::Policy {
    reqwest::redirect::Policy::custom(move |attempt| {
        if attempt.previous().len() > max_redirects {
            let msg = format!("more than {max_redirects} redirects");
            return attempt.error(msg);
        }
        if !scheme_allowed(attempt.url()) {
            let msg = format!("to {} (plain http is only allowed to loopback)", redact(attempt.url()));
            return attempt.error(msg);
        }
        attempt.follow()
    })
}

/// The innermost error message (the useful part: "Connection refused (os error 111)").
pub(crate) fn root_cause(e: &(dyn std::error::Error + 'static)) -> String {
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
