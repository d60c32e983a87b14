//! The index client against real HTTP servers on 127.0.0.1 (a small std server started per test,
//! stopped on drop), serving recorded-style pages from tests/fixtures/index/.
//! Nothing here reaches the internet: absolute hrefs to other hosts are only parsed, and the
//! one redirect to a remote http host is refused before any connection is made.

mod support;

use std::path::Path;
use std::time::{Duration, Instant, SystemTime};

use pep440_rs::Version;
use torchup::compat::available::{DataSource, IndexSnapshot, VariantListing};
use torchup::compat::cache::{CACHE_FORMAT, CachedAnswer, CachedPage, PageCache, unix_secs};
use torchup::compat::index::page::listing_from_html;
use torchup::compat::index::{ACCEPT_VALUE, IndexClient, IndexError, IndexOptions, USER_AGENT, variant_guesses};
use torchup::compat::tags::{CpuArch, InterpreterTags, versions_for};
use torchup::facts::Os;

use support::http::{Answer, Ctx, HttpServer, Pace, Reply as HttpReply};

// ---------------------------------------------------------------------------------------
// The kit's std HTTP/1.1 server (tests/support/http.rs: a thread per connection, one request
// per connection) answering from a route. tiny_http 0.12 was tried first and dropped: its accept
// thread queues a burst of connections behind its 4 pooled threads, which idle keep-alive
// connections hold, so 4 of 8 concurrent requests were never served.

#[derive(Clone)]
enum Reply {
    Page {
        content_type: &'static str,
        body: Vec<u8>,
    },
    Status(u16),
    Redirect(String),
    /// Wait, then answer.
    Delay(Duration, Box<Reply>),
    /// Send the headers and half the body, then stall.
    StallBody(Duration, Vec<u8>),
}

struct Server {
    base: String,
    http: HttpServer,
}

impl Server {
    fn start(route: impl Fn(&str) -> Reply + Send + Sync + 'static) -> Server {
        let http = HttpServer::start("index-client-test", move |req, ctx| answer(route(&req.path), ctx))
            .expect("listen on 127.0.0.1");
        Server { base: http.origin().to_string(), http }
    }

    fn requests(&self) -> usize {
        self.http.requests().len()
    }

    fn requests_to(&self, path: &str) -> usize {
        self.http.paths().iter().filter(|p| *p == path).count()
    }

    fn paths(&self) -> Vec<String> {
        self.http.paths()
    }
}

fn answer(reply: Reply, ctx: &Ctx) -> Answer {
    match reply {
        Reply::Page { content_type, body } => HttpReply::typed(200, content_type, body),
        Reply::Status(code) => HttpReply::typed(code, "text/plain", format!("error {code}").into_bytes()),
        Reply::Redirect(to) => HttpReply::redirect(&to),
        Reply::Delay(d, inner) => {
            ctx.sleep(d);
            return answer(*inner, ctx);
        }
        Reply::StallBody(pause, body) => {
            let half = body.len() as u64 / 2;
            HttpReply::typed(200, "text/html", body).paced(Pace { pause_after: Some((half, pause)), ..Pace::default() })
        }
    }
    .into()
}

// ---------------------------------------------------------------------------------------
// Recorded-style pages (tests/fixtures/index/make_fixtures.py explains them).

const BASE_PAGE: &str = include_str!("fixtures/index/whl/index.html");
const PACKAGES_ONLY: &str = include_str!("fixtures/index/packages-only/index.html");
const CU124_TORCH: &str = include_str!("fixtures/index/whl/cu124/torch.html");
const CU124_TORCHVISION: &str = include_str!("fixtures/index/whl/cu124/torchvision.html");
const CU128_TORCH: &str = include_str!("fixtures/index/whl/cu128/torch.html");
const CPU_TORCH: &str = include_str!("fixtures/index/whl/cpu/torch.html");
const CU130_TORCH_JSON: &str = include_str!("fixtures/index/whl/cu130/torch.json");
const CU134_TORCH: &str = include_str!("fixtures/index/whl/cu134/torch.html");
const GARBAGE: &str = include_str!("fixtures/index/garbage.html");

fn html(s: &str) -> Reply {
    Reply::Page { content_type: "text/html", body: s.as_bytes().to_vec() }
}

/// The recorded index: what download.pytorch.org/whl serves, plus a base page listing
/// variants (as a mirror's directory listing does) and cu130 as PEP 691 JSON.
fn recorded(path: &str) -> Reply {
    match path {
        "/whl/" => html(BASE_PAGE),
        "/whl/cpu/torch/" => html(CPU_TORCH),
        "/whl/cu124/torch/" => html(CU124_TORCH),
        "/whl/cu124/torchvision/" => html(CU124_TORCHVISION),
        "/whl/cu128/torch/" => html(CU128_TORCH),
        "/whl/cu130/torch/" => Reply::Page {
            content_type: "application/vnd.pypi.simple.v1+json",
            body: CU130_TORCH_JSON.as_bytes().to_vec(),
        },
        "/whl/cu134/torch/" => html(CU134_TORCH),
        _ => Reply::Status(404),
    }
}

fn options(base: &str, cache: &Path) -> IndexOptions {
    IndexOptions {
        cache_dir: Some(cache.to_path_buf()),
        connect_timeout: Duration::from_secs(2),
        read_timeout: Duration::from_secs(3),
        page_timeout: Duration::from_secs(5),
        ..IndexOptions::new(base)
    }
}

fn client(base: &str, cache: &Path) -> IndexClient {
    IndexClient::new(options(base, cache)).unwrap()
}

fn strings(v: &[&str]) -> Vec<String> {
    v.iter().map(|s| s.to_string()).collect()
}

fn versions(listing: &VariantListing, tags: &InterpreterTags) -> Vec<String> {
    versions_for(listing, tags).iter().map(Version::to_string).collect()
}

fn linux(minor: u32) -> InterpreterTags {
    InterpreterTags::new(3, minor, Os::Linux, CpuArch::X86_64)
}

// ---------------------------------------------------------------------------------------

#[tokio::test]
async fn reads_many_versions_and_platforms_from_recorded_pages() {
    // Each answer takes 150 ms, so concurrent fetching shows as overlapping requests.
    let srv = Server::start(|p| Reply::Delay(Duration::from_millis(150), Box::new(recorded(p))));
    let cache = tempfile::tempdir().unwrap();
    let c = client(&format!("{}/whl", srv.base), cache.path());
    let snap = c.snapshot(&strings(&["cu124", "cu128", "cpu", "cu130"]), &["torch", "torchvision"]).await;
    assert_eq!(snap.source, Some(DataSource::Index));
    // Every page was asked for once, concurrently, with our Accept and User-Agent.
    assert_eq!(srv.requests(), 8, "{:?} {:?}", snap.failed, srv.paths());
    assert!(srv.http.max_in_flight() >= 2, "pages were fetched one by one");
    for s in srv.http.requests() {
        assert_eq!(s.header("accept"), Some(ACCEPT_VALUE));
        assert_eq!(s.header("user-agent"), Some(USER_AGENT));
        assert!(s.header("user-agent").is_some_and(|ua| ua.starts_with("torchup/")));
    }

    let cu124 = snap.listing("cu124", "torch").unwrap();
    assert_eq!(cu124.files.len(), 51);
    assert_eq!(
        versions(cu124, &linux(11)),
        ["2.6.0+cu124", "2.5.1+cu124", "2.5.0+cu124", "2.4.1+cu124", "2.4.0+cu124"]
    );
    assert_eq!(versions(cu124, &linux(13)), ["2.6.0+cu124", "2.5.1+cu124", "2.5.0+cu124"]);
    assert_eq!(versions(cu124, &linux(8)), ["2.4.1+cu124", "2.4.0+cu124"]);
    assert!(versions(cu124, &linux(14)).is_empty());
    let mut old_distro = linux(11);
    old_distro.glibc = Some((2, 17));
    assert_eq!(versions(cu124, &old_distro)[0], "2.5.1+cu124", "2.6.0 needs glibc 2.28");
    let mut free_threaded = linux(13);
    free_threaded.free_threaded = true;
    assert_eq!(versions(cu124, &free_threaded), ["2.6.0+cu124"]);

    // An absolute href to another host, with its sha256.
    let f = cu124.files.iter().find(|f| f.filename == "torch-2.5.1+cu124-cp311-cp311-linux_x86_64.whl").unwrap();
    assert_eq!(f.url, "https://download-r2.pytorch.org/whl/cu124/torch-2.5.1%2Bcu124-cp311-cp311-linux_x86_64.whl");
    assert_eq!(f.sha256.as_deref(), Some("1813227e303d8889ec11c7b305b0d7ebc3854531b15de6df84957cba5fe8b87e"));
    // A root-relative href without a checksum, resolved against the page URL.
    let f = cu124.files.iter().find(|f| f.filename == "torch-2.4.0+cu124-cp310-cp310-win_amd64.whl").unwrap();
    assert_eq!(f.url, format!("{}/whl/cu124/torch-2.4.0%2Bcu124-cp310-cp310-win_amd64.whl", srv.base));
    assert_eq!(f.sha256, None);

    let cu128 = snap.listing("cu128", "torch").unwrap();
    assert_eq!(cu128.files.len(), 96);
    let arm = InterpreterTags::new(3, 14, Os::Linux, CpuArch::Aarch64);
    assert_eq!(versions(cu128, &arm), ["2.9.1+cu128", "2.9.0+cu128"]);
    let win39 = InterpreterTags::new(3, 9, Os::Windows, CpuArch::X86_64);
    assert_eq!(versions(cu128, &win39), ["2.8.0+cu128", "2.7.1+cu128", "2.7.0+cu128"]);
    let win32 = InterpreterTags::new(3, 12, Os::Windows, CpuArch::X86);
    assert!(versions(cu128, &win32).is_empty(), "no 32-bit wheels");

    let cpu = snap.listing("cpu", "torch").unwrap();
    let mac = InterpreterTags::new(3, 12, Os::Macos, CpuArch::Aarch64);
    assert_eq!(versions(cpu, &mac), ["2.9.1", "2.8.0", "2.5.1"]);
    assert_eq!(versions(cpu, &linux(12)), ["2.9.1+cpu", "2.8.0+cpu", "2.5.1+cpu"]);

    // PEP 691 JSON: root-relative URLs resolved, hashes kept, the yanked file left out.
    let cu130 = snap.listing("cu130", "torch").unwrap();
    assert_eq!(versions(cu130, &linux(14)), ["2.9.1+cu130", "2.9.0+cu130"]);
    assert_eq!(versions(cu130, &linux(12)), ["2.9.1+cu130", "2.9.0+cu130"], "2.8.9 is yanked");
    let f =
        cu130.files.iter().find(|f| f.filename == "torch-2.9.1+cu130-cp314-cp314-manylinux_2_28_x86_64.whl").unwrap();
    assert_eq!(f.url, format!("{}/whl/cu130/torch-2.9.1%2Bcu130-cp314-cp314-manylinux_2_28_x86_64.whl", srv.base));
    assert_eq!(f.sha256.as_deref(), Some("1f824303cc61878c57faa5c1f4eaaaef4fba5a5878ad20e69b945974ce7e8513"));

    // torchvision exists only on cu124 here: the others are failed for torchvision only.
    let tv = snap.listing("cu124", "torchvision").unwrap();
    assert_eq!(versions(tv, &linux(12)), ["0.21.0+cu124", "0.20.1+cu124", "0.19.1+cu124"]);
    assert_eq!(snap.failed.get("cu128").map(String::as_str), Some("torchvision: not on the index (HTTP 404)"));
    assert!(!snap.failed.contains_key("cu124"));
    assert_eq!(snap.listings.len(), 5);
}

#[tokio::test]
async fn missing_variant_server_error_and_garbage_are_failed_not_fatal() {
    let srv = Server::start(|path| match path {
        "/whl/cu121/torch/" => Reply::Status(500),
        "/whl/cu118/torch/" => html(GARBAGE),
        "/whl/cu126/torch/" => html(""),
        p => recorded(p),
    });
    let cache = tempfile::tempdir().unwrap();
    let c = client(&format!("{}/whl/", srv.base), cache.path());
    let snap = c.snapshot(&strings(&["cu124", "cu999", "cu121", "cu118", "cu126"]), &["torch"]).await;
    assert_eq!(snap.source, Some(DataSource::Index));
    assert!(snap.listing("cu124", "torch").is_some());
    let failed: Vec<(&str, &str)> = snap.failed.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
    assert_eq!(
        failed,
        [
            ("cu118", "torch: no torch wheels on the page (not an index page?)"),
            ("cu121", "torch: HTTP 500"),
            ("cu126", "torch: not an index page (no links found)"),
            ("cu999", "torch: not on the index (HTTP 404)"),
        ]
    );
    // Failures other than 404 are not cached: a new client asks again.
    let again = client(&format!("{}/whl/", srv.base), cache.path());
    let before = srv.requests();
    let snap2 = again.snapshot(&strings(&["cu121", "cu118", "cu999"]), &["torch"]).await;
    assert_eq!(srv.requests() - before, 2, "500 and garbage refetched, the 404 came from the cache");
    assert_eq!(snap2.failed["cu999"], "torch: not on the index (HTTP 404, cached)");
}

/// The seconds in "timed out after 2.0s…" (the client words the real elapsed time).
fn timed_out_after(why: &str) -> f64 {
    let rest = why.split("timed out after ").nth(1).unwrap_or_else(|| panic!("not a timeout: {why}"));
    let secs: String = rest.chars().take_while(|c| c.is_ascii_digit() || *c == '.').collect();
    secs.parse().unwrap_or_else(|_| panic!("no seconds in: {why}"))
}

#[tokio::test]
async fn a_slow_server_times_out_quickly() {
    // The slow pages would take 60 s; the limit is 2 s. Bounds are wide: a loaded machine
    // answers late, but never anywhere near the slow pages.
    let srv = Server::start(|path| match path {
        "/whl/cu124/torch/" => Reply::Delay(Duration::from_secs(60), Box::new(html(CU124_TORCH))),
        "/whl/cu128/torch/" => Reply::StallBody(Duration::from_secs(60), CU128_TORCH.as_bytes().to_vec()),
        p => recorded(p),
    });
    let cache = tempfile::tempdir().unwrap();
    let opts =
        IndexOptions { page_timeout: Duration::from_secs(2), ..options(&format!("{}/whl", srv.base), cache.path()) };
    let c = IndexClient::new(opts).unwrap();
    let started = Instant::now();
    let snap = c.snapshot(&strings(&["cu124", "cu128", "cpu"]), &["torch"]).await;
    let took = started.elapsed();
    assert!(took < Duration::from_secs(20), "took {took:?}");
    for v in ["cu124", "cu128"] {
        let why = &snap.failed[v];
        assert!(why.starts_with("torch: timed out after "), "{v}: {why}");
        assert!((1.9..20.0).contains(&timed_out_after(why)), "{v}: {why}");
    }
    assert!(snap.listing("cpu", "torch").is_some(), "one slow page does not hold up the others");
    assert_eq!(snap.source, Some(DataSource::Index));
}

#[tokio::test]
async fn the_read_timeout_applies_between_reads() {
    let srv = Server::start(|p| match p {
        "/whl/cu128/torch/" => Reply::StallBody(Duration::from_secs(60), CU128_TORCH.as_bytes().to_vec()),
        p => recorded(p),
    });
    let cache = tempfile::tempdir().unwrap();
    let opts =
        IndexOptions { read_timeout: Duration::from_secs(1), ..options(&format!("{}/whl", srv.base), cache.path()) };
    let c = IndexClient::new(opts).unwrap();
    let started = Instant::now();
    let err = c.listing("cu128", "torch").await.unwrap_err().to_string();
    assert!(started.elapsed() < Duration::from_secs(20));
    assert!(err.starts_with("timed out after "), "{err}");
    assert!((0.9..20.0).contains(&timed_out_after(&err)), "{err}");
}

#[tokio::test]
async fn redirects_are_followed_and_hrefs_resolve_against_the_final_url() {
    let target = Server::start(recorded);
    let target_base = target.base.clone();
    let front = Server::start(move |path| match path.strip_prefix("/moved/") {
        Some(rest) => Reply::Redirect(format!("{target_base}/whl/{rest}")),
        None => Reply::Status(404),
    });
    let cache = tempfile::tempdir().unwrap();
    let c = client(&format!("{}/moved", front.base), cache.path());
    let (listing, source) = c.listing("cu128", "torch").await.unwrap();
    assert_eq!(source, DataSource::Index);
    assert_eq!(front.requests_to("/moved/cu128/torch/"), 1);
    assert_eq!(target.requests_to("/whl/cu128/torch/"), 1);
    // Root-relative hrefs point at the server that answered, not the one asked.
    let f = &listing.files[0];
    assert!(f.url.starts_with(&format!("{}/whl/cu128/torch-", target.base)), "{}", f.url);
    assert_ne!(target.base, front.base);
}

#[tokio::test]
async fn redirect_loops_and_redirects_to_remote_http_are_refused() {
    let srv = Server::start(|path| match path {
        "/whl/cu124/torch/" => Reply::Redirect("/whl/cu124/torch/".into()),
        // A downgrade to plain http on another host: refused before connecting.
        "/whl/cu128/torch/" => Reply::Redirect("http://mirror.invalid/whl/cu128/torch/".into()),
        p => recorded(p),
    });
    let cache = tempfile::tempdir().unwrap();
    let c = client(&format!("{}/whl", srv.base), cache.path());
    let snap = c.snapshot(&strings(&["cu124", "cu128", "cpu"]), &["torch"]).await;
    assert_eq!(snap.failed["cu124"], "torch: redirect refused: more than 5 redirects");
    assert_eq!(
        snap.failed["cu128"],
        "torch: redirect refused: to http://mirror.invalid/whl/cu128/torch/ (plain http is only allowed to loopback)"
    );
    assert_eq!(srv.requests_to("/whl/cu124/torch/"), 6);
    assert!(snap.listing("cpu", "torch").is_some());
}

#[tokio::test]
async fn a_cache_hit_makes_no_request() {
    let srv = Server::start(recorded);
    let cache = tempfile::tempdir().unwrap();
    let base = format!("{}/whl", srv.base);
    let first = client(&base, cache.path()).snapshot(&strings(&["cu124", "cu128"]), &["torch"]).await;
    assert_eq!(srv.requests(), 2);
    assert_eq!(first.source, Some(DataSource::Index));

    // A new client (a new torchup run) answers from the disk cache.
    let second = client(&base, cache.path()).snapshot(&strings(&["cu124", "cu128"]), &["torch"]).await;
    assert_eq!(srv.requests(), 2, "the cache was not used");
    assert_eq!(second.source, Some(DataSource::Cache));
    assert_eq!(second.listings, first.listings);

    // The same client never asks twice for a page within one run, even without a disk cache.
    let opts = IndexOptions { cache_dir: None, ..options(&base, cache.path()) };
    let c = IndexClient::new(opts).unwrap();
    let _ = c.snapshot(&strings(&["cpu"]), &["torch"]).await;
    let again = c.snapshot(&strings(&["cpu"]), &["torch"]).await;
    assert_eq!(srv.requests_to("/whl/cpu/torch/"), 1);
    assert_eq!(again.source, Some(DataSource::Index));

    // Another index URL is another cache key.
    let other = Server::start(recorded);
    let snap = client(&format!("{}/whl", other.base), cache.path()).snapshot(&strings(&["cu124"]), &["torch"]).await;
    assert_eq!(other.requests(), 1);
    assert_eq!(snap.source, Some(DataSource::Index));
}

/// Plant a cache entry as if it had been fetched `age` ago.
fn plant(cache: &Path, url: &str, answer: CachedAnswer, age: Duration) {
    let entry = CachedPage {
        format: CACHE_FORMAT,
        url: url.to_string(),
        fetched_at: unix_secs(SystemTime::now() - age),
        answer,
    };
    PageCache::new(cache, Duration::ZERO).write_entry(&entry).unwrap();
}

/// A listing unlike the server's, so a test can tell cache from network.
fn fake_listing(variant: &str) -> VariantListing {
    let page = url::Url::parse(&format!("https://old.example/whl/{variant}/torch/")).unwrap();
    let html = format!(
        r#"<a href="torch-1.0.0%2B{variant}-cp311-cp311-linux_x86_64.whl">torch-1.0.0+{variant}-cp311-cp311-linux_x86_64.whl</a>"#
    );
    listing_from_html(&html, &page, variant, "torch").unwrap()
}

#[tokio::test]
async fn an_expired_entry_is_refetched_and_replaced() {
    let srv = Server::start(recorded);
    let cache = tempfile::tempdir().unwrap();
    let base = format!("{}/whl", srv.base);
    let url = format!("{base}/cu124/torch/");
    plant(cache.path(), &url, CachedAnswer::Listing { listing: fake_listing("cu124") }, Duration::from_secs(7 * 3600));
    // Within a longer TTL the old entry is still fresh: no request.
    let long = IndexOptions { ttl: Duration::from_secs(8 * 3600), ..options(&base, cache.path()) };
    let snap = IndexClient::new(long).unwrap().snapshot(&strings(&["cu124"]), &["torch"]).await;
    assert_eq!(srv.requests(), 0);
    assert_eq!(snap.listing("cu124", "torch").unwrap().files.len(), 1);
    assert_eq!(snap.source, Some(DataSource::Cache));

    // With the default 6 h TTL it has expired: refetched, and the cache now holds the new page.
    let snap = client(&base, cache.path()).snapshot(&strings(&["cu124"]), &["torch"]).await;
    assert_eq!(srv.requests(), 1);
    assert_eq!(snap.source, Some(DataSource::Index));
    assert_eq!(snap.listing("cu124", "torch").unwrap().files.len(), 51);
    let snap = client(&base, cache.path()).snapshot(&strings(&["cu124"]), &["torch"]).await;
    assert_eq!(srv.requests(), 1);
    assert_eq!(snap.listing("cu124", "torch").unwrap().files.len(), 51);
}

#[tokio::test]
async fn a_corrupt_cache_file_is_ignored_and_rewritten() {
    let srv = Server::start(recorded);
    let cache = tempfile::tempdir().unwrap();
    let base = format!("{}/whl", srv.base);
    let url = format!("{base}/cu124/torch/");
    let path = PageCache::new(cache.path(), Duration::ZERO).path_for(&url);
    std::fs::write(&path, "{\"format\":1,\"url\":\"trunc").unwrap();
    let snap = client(&base, cache.path()).snapshot(&strings(&["cu124"]), &["torch"]).await;
    assert_eq!(srv.requests(), 1);
    assert_eq!(snap.listing("cu124", "torch").unwrap().files.len(), 51);
    let text = std::fs::read_to_string(&path).unwrap();
    assert!(serde_json::from_str::<CachedPage>(&text).is_ok(), "rewritten with a valid entry");
}

#[tokio::test]
async fn offline_uses_the_cache_even_expired_and_never_the_network() {
    let srv = Server::start(recorded);
    let cache = tempfile::tempdir().unwrap();
    let base = format!("{}/whl", srv.base);
    plant(
        cache.path(),
        &format!("{base}/cu124/torch/"),
        CachedAnswer::Listing { listing: fake_listing("cu124") },
        Duration::from_secs(30 * 24 * 3600),
    );
    plant(cache.path(), &format!("{base}/cu999/torch/"), CachedAnswer::NotFound, Duration::from_secs(60));
    let offline = IndexOptions { offline: true, ..options(&base, cache.path()) };
    let c = IndexClient::new(offline.clone()).unwrap();
    let snap = c.snapshot(&strings(&["cu124", "cu128", "cu999"]), &["torch"]).await;
    assert_eq!(srv.requests(), 0, "offline touched the network");
    assert_eq!(snap.source, Some(DataSource::Cache));
    assert_eq!(versions(snap.listing("cu124", "torch").unwrap(), &linux(11)), ["1.0.0+cu124"]);
    assert_eq!(snap.failed["cu128"], "torch: offline and not in the cache");
    assert_eq!(snap.failed["cu999"], "torch: not on the index (HTTP 404, cached)");

    // Offline with an empty cache: nothing learned, the planner uses bundled data.
    let empty = tempfile::tempdir().unwrap();
    let c = IndexClient::new(IndexOptions { cache_dir: Some(empty.path().into()), ..offline }).unwrap();
    let snap = c.snapshot(&strings(&["cu124"]), &["torch"]).await;
    assert_eq!(
        snap,
        IndexSnapshot {
            failed: [("cu124".to_string(), "torch: offline and not in the cache".to_string())].into(),
            ..IndexSnapshot::default()
        }
    );
    let d = c.discover_variants(&strings(&["cu134"])).await;
    assert!(d.variants.is_empty() && d.source.is_none());
    assert_eq!(srv.requests(), 0);
}

#[tokio::test]
async fn network_errors_are_failed_with_a_short_reason() {
    // A port that was just free: connection refused.
    let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let cache = tempfile::tempdir().unwrap();
    let c = client(&format!("http://127.0.0.1:{port}/whl"), cache.path());
    let snap = c.snapshot(&strings(&["cu124", "cu128"]), &["torch"]).await;
    assert_eq!(snap.source, None);
    for v in ["cu124", "cu128"] {
        let why = &snap.failed[v];
        assert!(why.starts_with("torch: could not connect: "), "{why}");
        assert!(!why.contains('\n'));
    }
    assert!(snap.listings.is_empty());
}

#[tokio::test]
async fn an_oversized_page_is_refused() {
    let srv = Server::start(recorded);
    let cache = tempfile::tempdir().unwrap();
    let opts = IndexOptions { max_page_bytes: 4096, ..options(&format!("{}/whl", srv.base), cache.path()) };
    let err = IndexClient::new(opts).unwrap().listing("cu124", "torch").await.unwrap_err();
    assert_eq!(err.to_string(), "page larger than 4096 bytes");
}

#[test]
fn plain_http_to_a_remote_host_is_refused() {
    for url in ["http://download.pytorch.org/whl", "http://192.168.1.10:8080/whl", "http://mirror.corp.example/pytorch"]
    {
        let err = IndexClient::new(IndexOptions::new(url)).unwrap_err();
        assert!(matches!(err, IndexError::InsecureHttp(_)), "{url}");
        let msg = err.to_string();
        assert!(msg.contains("use https:// or a mirror on https"), "{msg}");
        assert!(!msg.contains('\n'));
    }
    assert!(IndexClient::new(IndexOptions::new("https://download.pytorch.org/whl")).is_ok());
    assert!(IndexClient::new(IndexOptions::new("http://localhost:3141/whl")).is_ok());
    assert!(IndexClient::new(IndexOptions::new("http://[::1]:3141/whl")).is_ok());
}

#[tokio::test]
async fn discovery_finds_a_variant_the_bundled_data_does_not_know() {
    // A mirror whose base page lists its variant directories.
    let srv = Server::start(recorded);
    let cache = tempfile::tempdir().unwrap();
    let base = format!("{}/whl", srv.base);
    let d = client(&base, cache.path()).discover_variants(&[]).await;
    assert_eq!(d.variants, ["cpu", "cu118", "cu124", "cu128", "cu130", "cu134", "rocm6.2"]);
    assert_eq!(d.source, Some(DataSource::Index));
    assert!(d.problems.is_empty(), "{:?}", d.problems);

    // download.pytorch.org's base page lists packages only: the guesses find cu134.
    let real_like = Server::start(|path| match path {
        "/whl/" => html(PACKAGES_ONLY),
        p => recorded(p),
    });
    let base = format!("{}/whl", real_like.base);
    let known = strings(&["cpu", "cu118", "cu126", "cu128", "cu130", "cu132"]);
    let guesses = variant_guesses(&known);
    assert!(guesses.contains(&"cu134".to_string()));
    let cache = tempfile::tempdir().unwrap();
    let d = client(&base, cache.path()).discover_variants(&guesses).await;
    assert_eq!(d.variants, ["cu134"]);
    assert!(d.problems.is_empty(), "{:?}", d.problems);
    assert_eq!(real_like.requests(), 1 + guesses.len());

    // The next run learns the same from the cache (404s included) without a request, and
    // planning with the new variant reads its page from the same cache.
    let c = client(&base, cache.path());
    let d = c.discover_variants(&guesses).await;
    assert_eq!(d.variants, ["cu134"]);
    assert_eq!(d.source, Some(DataSource::Cache));
    let snap = c.snapshot(&d.variants, &["torch"]).await;
    assert_eq!(real_like.requests(), 1 + guesses.len());
    assert_eq!(versions(snap.listing("cu134", "torch").unwrap(), &linux(14)), ["2.12.0+cu134"]);
}

#[tokio::test]
async fn base_page_failure_is_a_problem_not_an_error() {
    let srv = Server::start(|path| match path {
        "/whl/" => Reply::Status(503),
        p => recorded(p),
    });
    let cache = tempfile::tempdir().unwrap();
    let d = client(&format!("{}/whl", srv.base), cache.path()).discover_variants(&strings(&["cu134", "cu135"])).await;
    assert_eq!(d.variants, ["cu134"]);
    assert_eq!(d.problems, ["index base page: HTTP 503"]);
}

/// Parse time of a large page (recorded in docs/benchmarks.md): ten times the biggest
/// recorded page. The bound is loose (debug build, shared 2-core machine); the number printed
/// is what goes in the docs.
#[test]
fn a_large_page_parses_quickly() {
    let mut body = String::from("<!DOCTYPE html>\n<html>\n  <body>\n    <h1>Links for torch</h1>\n");
    let mut count = 0;
    for minor in 0..40 {
        for py in 9..=14 {
            for plat in ["manylinux_2_28_x86_64", "manylinux_2_28_aarch64", "win_amd64", "linux_x86_64"] {
                let name = format!("torch-2.{minor}.0+cu128-cp3{py}-cp3{py}-{plat}.whl");
                let href = name.replace('+', "%2B");
                body.push_str(&format!(
                    "    <a href=\"https://download-r2.pytorch.org/whl/cu128/{href}#sha256={:064x}\" data-dist-info-metadata=\"sha256={:064x}\" data-core-metadata=\"sha256={:064x}\">{name}</a><br/>\n",
                    count, count, count
                ));
                count += 1;
            }
        }
    }
    body.push_str("  </body>\n</html>\n<!--TIMESTAMP 1754000000-->\n");
    let page = url::Url::parse("https://download.pytorch.org/whl/cu128/torch/").unwrap();
    let started = Instant::now();
    let listing = listing_from_html(&body, &page, "cu128", "torch").unwrap();
    let took = started.elapsed();
    assert_eq!(listing.files.len(), count);
    let all = versions_for(&listing, &linux(12));
    assert_eq!(all.len(), 40);
    eprintln!("parsed {count} anchors ({} KiB) in {took:?}", body.len() / 1024);
    assert!(took < Duration::from_secs(5), "took {took:?}");
}
