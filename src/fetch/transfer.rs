//! Moving the bytes of one file into its `.part`: a fresh GET, or a resume with Range +
//! If-Range from the sidecar; big files in parallel ranged segments when the server accepts
//! ranges; stalls, resets and 5xx retried with exponential backoff from where they stopped.
//! Verification and the wheelhouse are the caller's job (mod.rs).

use std::fs::File;
use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use reqwest::StatusCode;
use reqwest::header::{ACCEPT_RANGES, CONTENT_RANGE, ETAG, HeaderMap, IF_RANGE, LAST_MODIFIED, RANGE};
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;
use url::Url;

use super::FetchOptions;
use super::error::{FetchError, status_hint};
use super::net::root_cause;
use super::partial::{PartFiles, PartState, Segment, write_all_at};
use super::progress::FetchEvent;

/// How many times a file may start over because the server changed it (or ignored Range).
const MAX_RESTARTS: u32 = 3;

/// One file's transfer. Borrowed pieces of the fetcher plus what this file needs.
pub(crate) struct Transfer<'a> {
    pub http: &'a reqwest::Client,
    pub url: Url,
    pub auth: Option<(String, Option<String>)>,
    pub redacted: String,
    pub file: String,
    pub opts: &'a FetchOptions,
    pub events: &'a mpsc::Sender<FetchEvent>,
    pub cancel: &'a CancellationToken,
    pub files: PartFiles,
    /// The caller will check a SHA-256: resuming without a validator is then safe.
    pub hash_known: bool,
}

/// Why one step stopped.
enum Step {
    /// Try again after a pause, from where it stopped.
    Retry(Why),
    /// The bytes on disk cannot be continued: start the whole file over.
    Restart(String),
    Fatal(FetchError),
}

#[derive(Debug, Clone)]
enum Why {
    Stall,
    Network(String),
    Status(u16),
    ClosedEarly,
}

impl Why {
    fn text(&self, stall: Duration) -> String {
        match self {
            Why::Stall => format!("no data for {}s", stall.as_secs_f64()),
            Why::Network(r) => r.clone(),
            Why::Status(s) => format!("HTTP {s}"),
            Why::ClosedEarly => "the server closed the connection early".into(),
        }
    }
}

/// State shared by the segments of one file.
struct Shared {
    part: File,
    state: Mutex<PartState>,
    last_save: Mutex<Instant>,
    last_event: Mutex<Instant>,
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    // A panicking segment must not poison the others; the state stays consistent per field.
    m.lock().unwrap_or_else(|e| e.into_inner())
}

impl Transfer<'_> {
    /// Fill the `.part` completely. Returns the bytes that travelled in this call.
    pub(super) async fn run(&self) -> Result<u64, FetchError> {
        let downloaded = AtomicU64::new(0);
        let no_ranges = AtomicBool::new(false);
        let mut restarts = 0;
        loop {
            match self.attempt(&downloaded, &no_ranges).await {
                Ok(()) => return Ok(downloaded.load(Ordering::Relaxed)),
                Err(Step::Restart(why)) if restarts < MAX_RESTARTS => {
                    restarts += 1;
                    tracing::info!("{}: starting over: {why}", self.file);
                    self.files.remove();
                    self.event(FetchEvent::Retrying { file: self.file.clone(), attempt: restarts, why }).await;
                }
                Err(Step::Restart(why)) => {
                    return Err(FetchError::Network { file: self.file.clone(), reason: why, attempts: restarts + 1 });
                }
                Err(Step::Retry(why)) => return Err(self.give_up(&why, self.opts.max_attempts)),
                Err(Step::Fatal(e)) => return Err(e),
            }
        }
    }

    async fn attempt(&self, downloaded: &AtomicU64, no_ranges: &AtomicBool) -> Result<(), Step> {
        let resumable = PartState::load(&self.files.sidecar).filter(|s| {
            s.url == self.redacted
                && !s.segments.is_empty()
                && (s.validator().is_some() || self.hash_known)
                && std::fs::metadata(&self.files.part).is_ok_and(|m| m.len() >= s.total.unwrap_or(0))
        });
        let (shared, first) = match resumable {
            Some(state) if !no_ranges.load(Ordering::Relaxed) => {
                let part = std::fs::OpenOptions::new()
                    .write(true)
                    .open(&self.files.part)
                    .map_err(|e| Step::Fatal(FetchError::write(&self.file, &self.files.part, &e)))?;
                self.check_space(state.total.map(|t| t - state.done()))?;
                let ev =
                    FetchEvent::Started { file: self.file.clone(), total: state.total, resumed_from: state.done() };
                tracing::info!("{}: resuming at {} bytes", self.file, state.done());
                self.event(ev).await;
                (self.shared(part, state), None)
            }
            _ => {
                self.files.remove();
                self.fresh(no_ranges).await?
            }
        };
        let result = self.run_segments(&shared, first, downloaded, no_ranges).await;
        self.save(&shared, true);
        result?;
        let state = lock(&shared.state).clone();
        if !state.is_complete() {
            return Err(Step::Retry(Why::ClosedEarly));
        }
        Ok(())
    }

    fn shared(&self, part: File, state: PartState) -> Shared {
        Shared {
            part,
            state: Mutex::new(state),
            last_save: Mutex::new(Instant::now()),
            last_event: Mutex::new(Instant::now()),
        }
    }

    /// A new download from byte 0: one GET, whose headers decide single stream or segments.
    async fn fresh(&self, no_ranges: &AtomicBool) -> Result<(Shared, Option<reqwest::Response>), Step> {
        let mut failures = 0;
        let resp = loop {
            match self.send(None, None).await {
                Ok(r) if r.status() == StatusCode::OK => break r,
                Ok(r) => match classify_status(r.status()) {
                    Step::Retry(why) => self.fail(&mut failures, why).await?,
                    other => return Err(self.with_url(other)),
                },
                Err(Step::Retry(why)) => self.fail(&mut failures, why).await?,
                Err(other) => return Err(other),
            }
        };
        let headers = resp.headers();
        let mut state = PartState::new(self.redacted.clone());
        state.total = resp.content_length();
        state.etag = header(headers, ETAG);
        state.last_modified = header(headers, LAST_MODIFIED);
        let ranges = header(headers, ACCEPT_RANGES).is_some_and(|v| v.eq_ignore_ascii_case("bytes"))
            && !no_ranges.load(Ordering::Relaxed);
        self.check_space(state.total)?;
        if let Some(dir) = self.files.part.parent() {
            std::fs::create_dir_all(dir).map_err(|e| Step::Fatal(FetchError::write(&self.file, dir, &e)))?;
        }
        let part = File::create(&self.files.part)
            .map_err(|e| Step::Fatal(FetchError::write(&self.file, &self.files.part, &e)))?;
        if let Some(total) = state.total {
            part.set_len(total).map_err(|e| Step::Fatal(FetchError::write(&self.file, &self.files.part, &e)))?;
        }
        state.segments = match state.total {
            Some(total)
                if ranges
                    && total >= self.opts.segment_threshold
                    && self.opts.connections > 1
                    && (state.validator().is_some() || self.hash_known) =>
            {
                PartState::split(total, self.opts.connections)
            }
            total => vec![Segment { start: 0, end: total, done: 0 }],
        };
        tracing::info!(
            "{}: {} bytes in {} segment(s) from {}",
            self.file,
            state.total.map_or("unknown".into(), |t| t.to_string()),
            state.segments.len(),
            self.redacted
        );
        self.event(FetchEvent::Started { file: self.file.clone(), total: state.total, resumed_from: 0 }).await;
        let shared = self.shared(part, state);
        self.save(&shared, true);
        Ok((shared, Some(resp)))
    }

    /// Every unfinished segment at once; the first (fresh) one may come with its response.
    async fn run_segments(
        &self,
        shared: &Shared,
        mut first: Option<reqwest::Response>,
        downloaded: &AtomicU64,
        no_ranges: &AtomicBool,
    ) -> Result<(), Step> {
        let n = lock(&shared.state).segments.len();
        let tasks: Vec<_> = (0..n)
            .map(|i| self.segment(shared, i, if i == 0 { first.take() } else { None }, downloaded, no_ranges))
            .collect();
        futures_util::future::try_join_all(tasks).await.map(|_| ())
    }

    async fn segment(
        &self,
        shared: &Shared,
        i: usize,
        mut resp: Option<reqwest::Response>,
        downloaded: &AtomicU64,
        no_ranges: &AtomicBool,
    ) -> Result<(), Step> {
        let mut failures = 0;
        loop {
            let seg = lock(&shared.state).segments[i];
            if seg.is_complete() {
                return Ok(());
            }
            let r = match resp.take() {
                Some(r) => r,
                None => match self.open_range(shared, i, no_ranges).await {
                    Ok(r) => r,
                    Err(Step::Retry(why)) => {
                        self.fail(&mut failures, why).await?;
                        continue;
                    }
                    Err(other) => return Err(other),
                },
            };
            let before = seg.done;
            let result = self.stream(shared, i, r, downloaded).await;
            let now = lock(&shared.state).segments[i];
            if now.done > before {
                failures = 0; // progress was made: the attempt budget starts again
            }
            match result {
                Ok(()) if now.end.is_none() => {
                    // One stream of unknown size ended: that was the whole file.
                    let mut st = lock(&shared.state);
                    st.segments[i].end = Some(now.next());
                    st.total = Some(now.next());
                    return Ok(());
                }
                Ok(()) if now.is_complete() => return Ok(()),
                Ok(()) => self.fail(&mut failures, Why::ClosedEarly).await?,
                Err(Step::Retry(why)) => self.fail(&mut failures, why).await?,
                Err(other) => return Err(other),
            }
        }
    }

    /// A Range request for the rest of segment `i`, guarded by If-Range.
    async fn open_range(&self, shared: &Shared, i: usize, no_ranges: &AtomicBool) -> Result<reqwest::Response, Step> {
        let (seg, validator, total) = {
            let st = lock(&shared.state);
            (st.segments[i], st.validator().map(str::to_string), st.total)
        };
        if no_ranges.load(Ordering::Relaxed) {
            // This server sends whole files only: a retry is a new download.
            return Err(Step::Restart("the server does not resume (Range ignored)".into()));
        }
        let from = seg.next();
        let range = match seg.end {
            Some(end) => format!("bytes={from}-{}", end - 1),
            None => format!("bytes={from}-"),
        };
        let resp = self.send(Some(range), validator.clone()).await?;
        match resp.status() {
            StatusCode::PARTIAL_CONTENT => {
                let got = header(resp.headers(), CONTENT_RANGE).and_then(|v| parse_content_range(&v));
                match got {
                    Some((start, _, t)) if start == from && (total.is_none() || t.is_none() || t == total) => Ok(resp),
                    _ => Err(Step::Restart("the server answered another byte range (the file changed?)".into())),
                }
            }
            StatusCode::OK => {
                // Either the file changed (If-Range did its job) or Range is not supported.
                let same = validator.is_some()
                    && (header(resp.headers(), ETAG) == lock(&shared.state).etag
                        || header(resp.headers(), LAST_MODIFIED) == lock(&shared.state).last_modified);
                if same || validator.is_none() {
                    no_ranges.store(true, Ordering::Relaxed);
                }
                Err(Step::Restart(if same {
                    "the server ignored the byte range and sent the whole file".into()
                } else {
                    "the file changed on the server".into()
                }))
            }
            StatusCode::RANGE_NOT_SATISFIABLE => Err(Step::Restart("the server refused the byte range".into())),
            s => Err(self.with_url(classify_status(s))),
        }
    }

    /// Copy a response body into segment `i` until the segment is full or the body ends.
    async fn stream(
        &self,
        shared: &Shared,
        i: usize,
        mut resp: reqwest::Response,
        downloaded: &AtomicU64,
    ) -> Result<(), Step> {
        loop {
            let chunk = tokio::select! {
                _ = self.cancel.cancelled() => return Err(Step::Fatal(FetchError::Cancelled)),
                r = tokio::time::timeout(self.opts.stall_timeout, resp.chunk()) => r,
            };
            let bytes = match chunk {
                Err(_) => return Err(Step::Retry(Why::Stall)),
                Ok(Err(e)) => return Err(Step::Retry(Why::Network(root_cause(&e)))),
                Ok(Ok(None)) => return Ok(()),
                Ok(Ok(Some(b))) => b,
            };
            let seg = lock(&shared.state).segments[i];
            let mut data = &bytes[..];
            if let Some(end) = seg.end {
                let room = end.saturating_sub(seg.next());
                if data.len() as u64 > room {
                    data = &data[..room as usize];
                }
            }
            write_all_at(&shared.part, data, seg.next())
                .map_err(|e| Step::Fatal(FetchError::write(&self.file, &self.files.part, &e)))?;
            let (done, total, complete) = {
                let mut st = lock(&shared.state);
                st.segments[i].done += data.len() as u64;
                (st.done(), st.total, st.segments[i].is_complete())
            };
            downloaded.fetch_add(data.len() as u64, Ordering::Relaxed);
            self.save(shared, false);
            self.progress(shared, done, total);
            if complete {
                return Ok(());
            }
        }
    }

    /// GET with optional Range/If-Range; the answer's headers must come within the stall time.
    async fn send(&self, range: Option<String>, if_range: Option<String>) -> Result<reqwest::Response, Step> {
        let mut req = self.http.get(self.url.clone());
        if let Some(r) = range {
            req = req.header(RANGE, r);
            if let Some(v) = if_range {
                req = req.header(IF_RANGE, v);
            }
        }
        if let Some((user, pass)) = &self.auth {
            req = req.basic_auth(user, pass.as_ref());
        }
        let r = tokio::select! {
            _ = self.cancel.cancelled() => return Err(Step::Fatal(FetchError::Cancelled)),
            r = tokio::time::timeout(self.opts.stall_timeout, req.send()) => r,
        };
        match r {
            Err(_) => Err(Step::Retry(Why::Stall)),
            Ok(Ok(resp)) => Ok(resp),
            Ok(Err(e)) if e.is_redirect() => {
                Err(Step::Fatal(FetchError::Redirect { file: self.file.clone(), reason: root_cause(&e) }))
            }
            Ok(Err(e)) if e.is_timeout() => Err(Step::Retry(Why::Stall)),
            Ok(Err(e)) => Err(Step::Retry(Why::Network(root_cause(&e)))),
        }
    }

    /// Count a failure; past the budget, the error; else a pause (cancellable) and a notice.
    async fn fail(&self, failures: &mut u32, why: Why) -> Result<(), Step> {
        *failures += 1;
        if *failures >= self.opts.max_attempts {
            return Err(Step::Fatal(self.give_up(&why, *failures)));
        }
        let text = why.text(self.opts.stall_timeout);
        tracing::info!("{}: {text}; retry {} of {}", self.file, failures, self.opts.max_attempts - 1);
        self.event(FetchEvent::Retrying { file: self.file.clone(), attempt: *failures, why: text }).await;
        let delay = self.opts.retry_delay.saturating_mul(1 << (*failures - 1).min(5)).min(Duration::from_secs(30));
        tokio::select! {
            _ = self.cancel.cancelled() => Err(Step::Fatal(FetchError::Cancelled)),
            _ = tokio::time::sleep(delay) => Ok(()),
        }
    }

    fn give_up(&self, why: &Why, attempts: u32) -> FetchError {
        let file = self.file.clone();
        match why {
            Why::Stall => FetchError::Stalled { file, secs: self.opts.stall_timeout.as_secs().max(1), attempts },
            Why::Status(status) => {
                FetchError::Http { file, url: self.redacted.clone(), status: *status, hint: status_hint(*status) }
            }
            other => FetchError::Network { file, reason: other.text(self.opts.stall_timeout), attempts },
        }
    }

    fn with_url(&self, step: Step) -> Step {
        match step {
            Step::Fatal(FetchError::Http { status, hint, .. }) => {
                Step::Fatal(FetchError::Http { file: self.file.clone(), url: self.redacted.clone(), status, hint })
            }
            other => other,
        }
    }

    /// Refuse to start when the disk cannot hold what is left to fetch.
    fn check_space(&self, needed: Option<u64>) -> Result<(), Step> {
        let (Some(needed), Some(dir)) = (needed, self.files.part.parent()) else { return Ok(()) };
        let _ = std::fs::create_dir_all(dir);
        match fs4::available_space(dir) {
            Ok(free) if free < needed => {
                Err(Step::Fatal(FetchError::DiskFull { file: self.file.clone(), dir: dir.to_path_buf(), needed, free }))
            }
            _ => Ok(()),
        }
    }

    /// Write the sidecar (at most once per `save_interval` unless `now`).
    fn save(&self, shared: &Shared, now: bool) {
        let mut last = lock(&shared.last_save);
        if !now && last.elapsed() < self.opts.save_interval {
            return;
        }
        *last = Instant::now();
        let state = lock(&shared.state).clone();
        if let Err(e) = state.save(&self.files.sidecar) {
            tracing::warn!("{}: cannot record the download state: {e}", self.file);
        }
    }

    fn progress(&self, shared: &Shared, done: u64, total: Option<u64>) {
        let mut last = lock(&shared.last_event);
        if last.elapsed() < self.opts.progress_interval && total != Some(done) {
            return;
        }
        *last = Instant::now();
        // Progress is droppable: a slow front end must never slow the download.
        let _ = self.events.try_send(FetchEvent::Progress { file: self.file.clone(), done, total });
    }

    async fn event(&self, ev: FetchEvent) {
        let _ = self.events.send(ev).await;
    }
}

fn classify_status(s: StatusCode) -> Step {
    let code = s.as_u16();
    if s.is_server_error() || code == 429 || code == 408 {
        Step::Retry(Why::Status(code))
    } else {
        Step::Fatal(FetchError::Http { file: String::new(), url: String::new(), status: code, hint: status_hint(code) })
    }
}

fn header(h: &HeaderMap, name: reqwest::header::HeaderName) -> Option<String> {
    h.get(name).and_then(|v| v.to_str().ok()).map(|s| s.trim().to_string()).filter(|s| !s.is_empty())
}

/// `bytes 100-199/1000` → (100, 199, Some(1000)); `bytes 100-199/*` → total None.
pub(crate) fn parse_content_range(v: &str) -> Option<(u64, u64, Option<u64>)> {
    let rest = v.trim().strip_prefix("bytes")?.trim_start();
    let (range, total) = rest.split_once('/')?;
    let (a, b) = range.split_once('-')?;
    let total = if total.trim() == "*" { None } else { Some(total.trim().parse().ok()?) };
    Some((a.trim().parse().ok()?, b.trim().parse().ok()?, total))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn content_range() {
        assert_eq!(parse_content_range("bytes 100-199/1000"), Some((100, 199, Some(1000))));
        assert_eq!(parse_content_range("bytes 0-0/*"), Some((0, 0, None)));
        assert_eq!(parse_content_range("items 0-1/2"), None);
        assert_eq!(parse_content_range("bytes x-1/2"), None);
    }
}
