//! `--mirror auto`: probe the wheel sources concurrently within a deadline (~3 s) and pick
//! the fastest that carries the chosen build.
//!
//! Per source: read its torch page for the variant (does it carry this torch for this
//! Python and platform?), then a ranged GET of that wheel for a window (~2 s, cut short at the
//! deadline) and count the bytes received — a slow link cannot deliver a fixed amount in
//! time, so it is measured as slow instead of timing out. A source is skipped, with the reason, when it hangs,
//! answers an error (403, …), serves HTML instead of a wheel, or publishes a sha256 that
//! differs from the official index's for the same file.

use std::time::{Duration, Instant};

use futures_util::future::join_all;
use pep440_rs::Version;
use reqwest::header::{CONTENT_TYPE, RANGE};

use super::available::WheelFile;
use super::index::{IndexClient, IndexLayout, IndexOptions, PageFailure, USER_AGENT};
use super::index_url::IndexUrl;
use super::tags::{InterpreterTags, compatible_files};

/// The build to look for.
#[derive(Debug, Clone)]
pub struct ProbeTarget {
    /// "cu124"
    pub variant: String,
    /// "2.5.1" (without a local label).
    pub torch: String,
    pub tags: InterpreterTags,
}

/// One source to probe.
#[derive(Debug, Clone)]
pub struct ProbeSource {
    /// "official", "aliyun", or "custom".
    pub name: String,
    pub url: IndexUrl,
    /// Known layout (skip detection), if any.
    pub layout: Option<IndexLayout>,
}

/// Time limits of a probe.
#[derive(Debug, Clone, Copy)]
pub struct ProbeOptions {
    /// Everything about one source (page + speed) ends by then.
    pub deadline: Duration,
    /// How long wheel bytes are counted.
    pub window: Duration,
}

impl Default for ProbeOptions {
    fn default() -> Self {
        ProbeOptions { deadline: Duration::from_secs(3), window: Duration::from_secs(2) }
    }
}

/// What one source showed.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct ProbeRow {
    pub name: String,
    /// Redacted.
    pub url: String,
    /// Some(true): its page lists the wheel; Some(false): it does not; None: unknown.
    pub carries: Option<bool>,
    /// Bytes of the wheel received in the window, and the rate.
    pub bytes: u64,
    pub mb_per_s: Option<f64>,
    /// The wheel file found, and its published sha256.
    pub file: Option<String>,
    pub sha256: Option<String>,
    /// Why it is not a candidate; None = usable.
    pub skipped: Option<String>,
}

impl ProbeRow {
    pub fn usable(&self) -> bool {
        self.carries == Some(true) && self.skipped.is_none()
    }
}

/// All rows (in the sources' order) and the pick.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct ProbeReport {
    pub rows: Vec<ProbeRow>,
    /// Index into `rows` of the fastest usable source.
    pub chosen: Option<usize>,
    pub elapsed_ms: u64,
}

impl ProbeReport {
    /// The table: source · carries it · MB/s · why skipped.
    pub fn table(&self) -> String {
        let w = self.rows.iter().map(|r| r.name.len()).max().unwrap_or(6).max(6);
        let mut out = format!("  {:<w$}  {:<10}  {:>8}  {}\n", "source", "carries it", "MB/s", "why skipped");
        for (i, r) in self.rows.iter().enumerate() {
            let mark = if self.chosen == Some(i) { "→" } else { " " };
            let carries = match r.carries {
                Some(true) => "yes",
                Some(false) => "no",
                None => "?",
            };
            let speed = r.mb_per_s.map(|m| format!("{m:.1}")).unwrap_or_else(|| "–".into());
            let why = r.skipped.as_deref().unwrap_or("");
            out.push_str(&format!("{mark} {:<w$}  {carries:<10}  {speed:>8}  {why}\n", r.name));
        }
        out
    }
}

/// Probe every source at once; the official one (named "official") is the sha256 reference.
pub async fn probe(sources: &[ProbeSource], target: &ProbeTarget, opts: ProbeOptions) -> ProbeReport {
    // Every HTTP client is built before the clock starts: building one reads the system's CA
    // store, which stalled the other sources' timed windows when each source built its own.
    let clients = WheelClients::new(sources);
    let index_clients: Vec<Result<IndexClient, String>> = sources.iter().map(|s| index_client(s, opts)).collect();
    let started = Instant::now();
    let ends = started + opts.deadline;
    let mut rows: Vec<ProbeRow> = join_all(sources.iter().zip(&index_clients).map(|(s, index)| {
        let clients = &clients;
        async move {
            let index = match index {
                Ok(c) => c,
                Err(why) => return ProbeRow { skipped: Some(why.clone()), ..empty_row(s) },
            };
            // `probe_one` stops measuring at `ends` by itself; this is the backstop for a
            // page that never arrives.
            let one = probe_one(s, index, target, opts, ends, clients);
            match tokio::time::timeout(opts.deadline + BACKSTOP_GRACE, one).await {
                Ok(row) => row,
                Err(_) => ProbeRow { skipped: Some(no_answer(opts.deadline)), ..empty_row(s) },
            }
        }
    }))
    .await;
    // Same bytes everywhere: a mirror's published sha256 must be the official one.
    let official = rows.iter().find(|r| r.name == "official").and_then(|r| r.sha256.clone().zip(r.file.clone()));
    if let Some((sha, file)) = official {
        for r in rows.iter_mut().filter(|r| r.name != "official" && r.skipped.is_none()) {
            if r.file.as_deref() == Some(file.as_str()) && r.sha256.as_ref().is_some_and(|s| *s != sha) {
                r.skipped = Some("sha256 differs from the official index".into());
            }
        }
    }
    let chosen = rows
        .iter()
        .enumerate()
        .filter(|(_, r)| r.usable())
        .max_by(|a, b| a.1.mb_per_s.unwrap_or(0.0).total_cmp(&b.1.mb_per_s.unwrap_or(0.0)))
        .map(|(i, _)| i);
    ProbeReport { rows, chosen, elapsed_ms: started.elapsed().as_millis() as u64 }
}

/// How long past the deadline the backstop waits for a source that is already measuring.
const BACKSTOP_GRACE: Duration = Duration::from_millis(250);

fn no_answer(deadline: Duration) -> String {
    format!("no answer within {:.1} s", deadline.as_secs_f64())
}

/// The HTTP clients of the speed measurement, built once per probe.
struct WheelClients {
    /// Proxies as configured.
    any: Result<reqwest::Client, String>,
    /// For a loopback index serving loopback wheels: never through a proxy. Built only when
    /// a source is on loopback (each build reads the CA store).
    loopback: Option<Result<reqwest::Client, String>>,
}

impl WheelClients {
    /// No timeouts of their own: `measure` cuts every wait at its window's end.
    fn new(sources: &[ProbeSource]) -> WheelClients {
        let build = |loopback: bool| {
            let mut builder = reqwest::Client::builder()
                .user_agent(USER_AGENT)
                .redirect(super::index::redirect_policy(super::index::MAX_REDIRECTS));
            if loopback {
                builder = builder.no_proxy();
            }
            builder.build().map_err(|e| e.to_string())
        };
        let loopback = sources.iter().any(|s| s.url.is_loopback()).then(|| build(true));
        WheelClients { any: build(false), loopback }
    }

    fn for_urls(&self, index: &IndexUrl, wheel: &url::Url) -> Result<&reqwest::Client, String> {
        let chosen = match &self.loopback {
            Some(loopback) if index.is_loopback() && super::index_url::is_loopback(wheel) => loopback,
            _ => &self.any,
        };
        chosen.as_ref().map_err(Clone::clone)
    }
}

fn empty_row(s: &ProbeSource) -> ProbeRow {
    ProbeRow {
        name: s.name.clone(),
        url: s.url.redacted(),
        carries: None,
        bytes: 0,
        mb_per_s: None,
        file: None,
        sha256: None,
        skipped: None,
    }
}

/// The index client of one source (its pages only; no cache: a probe reads what is served now).
fn index_client(s: &ProbeSource, opts: ProbeOptions) -> Result<IndexClient, String> {
    // Past the backstop: a page that never comes is the backstop's "no answer", worded once.
    let page_limit = opts.deadline + 2 * BACKSTOP_GRACE;
    IndexClient::new(IndexOptions {
        cache_dir: None,
        connect_timeout: page_limit,
        read_timeout: page_limit,
        page_timeout: page_limit,
        layout: s.layout,
        ..IndexOptions::new(s.url.expose())
    })
    .map_err(|e| e.to_string())
}

async fn probe_one(
    s: &ProbeSource,
    client: &IndexClient,
    target: &ProbeTarget,
    opts: ProbeOptions,
    ends: Instant,
    clients: &WheelClients,
) -> ProbeRow {
    let mut row = empty_row(s);
    let listing = match client.listing(&target.variant, "torch").await {
        Ok((l, _)) => l,
        Err(PageFailure::NotFound { .. }) => {
            row.carries = Some(false);
            row.skipped = Some(format!("does not carry {}", target.variant));
            return row;
        }
        Err(e) => {
            row.skipped = Some(e.to_string());
            return row;
        }
    };
    let Some(file) = wheel_for(&listing, target) else {
        row.carries = Some(false);
        row.skipped = Some(format!("no torch {}+{} wheel for this Python", target.torch, target.variant));
        return row;
    };
    row.carries = Some(true);
    row.file = Some(file.filename.clone());
    row.sha256 = file.sha256.clone();
    let until = (Instant::now() + opts.window).min(ends);
    match measure(clients, &s.url, &file.url, until).await {
        // Worded with the time the GET actually waited (its window, cut at the deadline).
        Ok(Measured::NoAnswer(waited)) => row.skipped = Some(format!("wheel: no answer within {waited:.1} s")),
        Ok(Measured::Bytes(0, waited)) => row.skipped = Some(format!("no wheel bytes within {waited:.1} s")),
        Ok(Measured::Bytes(bytes, secs)) => {
            row.bytes = bytes;
            row.mb_per_s = Some(bytes as f64 / 1e6 / secs.max(0.001));
        }
        Err(why) => row.skipped = Some(why),
    }
    row
}

/// The torch wheel of this version for this interpreter.
fn wheel_for<'a>(listing: &'a super::available::VariantListing, t: &'a ProbeTarget) -> Option<&'a WheelFile> {
    let want = t.torch.parse::<Version>().ok()?.without_local();
    compatible_files(listing, &t.tags).find(|f| f.version.parse::<Version>().is_ok_and(|v| v.without_local() == want))
}

/// What the timed GET of a wheel got.
enum Measured {
    /// No response head within these seconds.
    NoAnswer(f64),
    /// A head, and this many body bytes in these seconds (0: none arrived in time).
    Bytes(u64, f64),
}

/// Bytes of `url` received until `until` (ranged GET from byte 0), and the seconds spent.
async fn measure(clients: &WheelClients, index: &IndexUrl, url: &str, until: Instant) -> Result<Measured, String> {
    let parsed = url::Url::parse(url).map_err(|e| format!("bad wheel URL: {e}"))?;
    if !super::index_url::scheme_allowed(&parsed) {
        return Err("wheel URL is plain http to another host".into());
    }
    let http = clients.for_urls(index, &parsed)?;
    let started = Instant::now();
    let request = http.get(parsed).header(RANGE, "bytes=0-").send();
    let mut resp = match tokio::time::timeout(until.saturating_duration_since(started), request).await {
        Err(_) => return Ok(Measured::NoAnswer(started.elapsed().as_secs_f64())),
        Ok(sent) => sent.map_err(|e| short(&e))?,
    };
    let status = resp.status();
    if !status.is_success() {
        return Err(format!("wheel: HTTP {}", status.as_u16()));
    }
    let html = resp
        .headers()
        .get(CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|t| t.to_ascii_lowercase().starts_with("text/html"));
    let mut bytes: u64 = 0;
    let mut head: Vec<u8> = Vec::new();
    loop {
        let left = until.saturating_duration_since(Instant::now());
        if left.is_zero() {
            break;
        }
        match tokio::time::timeout(left, resp.chunk()).await {
            Err(_) => break,
            Ok(Err(e)) => return Err(short(&e)),
            Ok(Ok(None)) if bytes == 0 => return Err("wheel: empty response".into()),
            Ok(Ok(None)) => break,
            Ok(Ok(Some(chunk))) => {
                if head.len() < 4 {
                    head.extend_from_slice(&chunk[..chunk.len().min(4 - head.len())]);
                }
                bytes += chunk.len() as u64;
            }
        }
    }
    if html || head.first() == Some(&b'<') {
        return Err("serves HTML instead of a wheel".into());
    }
    if head.len() >= 4 && head != b"PK\x03\x04" {
        return Err("not a wheel (no zip header)".into());
    }
    Ok(Measured::Bytes(bytes, started.elapsed().as_secs_f64()))
}

fn short(e: &reqwest::Error) -> String {
    let mut cur: &dyn std::error::Error = e;
    while let Some(next) = cur.source() {
        cur = next;
    }
    if e.is_timeout() { "timed out".into() } else { cur.to_string() }
}
