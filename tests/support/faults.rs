//! A fault-injecting file server on 127.0.0.1 for the downloader's tests and benchmark.
//!
//! Serves `<root>/<name>` at `http://127.0.0.1:PORT/files/<name>` with HTTP Range
//! (`206` + `Content-Range`), `If-Range`, `ETag`, `Last-Modified` and `Accept-Ranges: bytes`
//! (each switchable), one request per connection (`Connection: close`). Per-path faults:
//! HTTP 500 or any status, close after N body bytes, wrong bytes, a redirect loop, never
//! answering, ignoring Range; bandwidth limits per connection and in total. Every request is
//! recorded with its Range and If-Range headers. Stopped on drop (threads check a stop flag;
//! "never answer" waits at most 120 s).
//!
//! A layer over [`super::http`], which does the HTTP, the ranges and the throttling: this file
//! only maps `/files/<name>` to a file and a fault to what the core should do.

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::{Duration, UNIX_EPOCH};

use anyhow::Result;

pub use super::http::SeenRequest;
use super::http::{Answer, Body, HttpServer, Pace, Reply, Request, Rules, SharedRate, Span, lock, requested_span};

/// What to do to a matching request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FileFault {
    /// 500 Internal Server Error.
    ServerError,
    /// Any status, empty body.
    Status(u16),
    /// Any status, empty body, held back until a `.part` file exists in this directory (at
    /// most 30 s): "fail only once another download has started writing", without betting
    /// on scheduling.
    StatusOnceAPartExists(u16, PathBuf),
    /// Send the head (full Content-Length) and this many body bytes, then close.
    CloseAfter(u64),
    /// The right length, wrong content (every byte inverted): a hash mismatch.
    WrongBytes,
    /// 302 to the same path, forever.
    RedirectLoop,
    /// Read the request, then send nothing (until the server stops, at most 120 s).
    NeverAnswer,
    /// Answer every request with `200` and the whole file, whatever Range says.
    IgnoreRange,
    /// Hold this connection to this many bytes per second.
    Throttle(u64),
    /// Claim this Content-Length (a huge file: the client's disk space check), send the real
    /// bytes, close.
    ClaimLength(u64),
}

/// Server-wide behaviour.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ServeOptions {
    pub accept_ranges: bool,
    pub etag: bool,
    pub last_modified: bool,
    /// Every connection held to this many bytes per second.
    pub per_connection_bps: Option<u64>,
    /// All connections together held to this many bytes per second.
    pub total_bps: Option<u64>,
}

impl Default for ServeOptions {
    fn default() -> Self {
        ServeOptions { accept_ranges: true, etag: true, last_modified: true, per_connection_bps: None, total_bps: None }
    }
}

struct State {
    root: PathBuf,
    rules: Rules<FileFault>,
    opts: Mutex<ServeOptions>,
    /// The bandwidth all connections share (`total_bps`).
    total: Arc<SharedRate>,
}

/// The running server. See the module docs.
pub struct FileServer {
    state: Arc<State>,
    http: HttpServer,
}

impl FileServer {
    /// Serve the files in `root` on 127.0.0.1 at a free port.
    pub fn start(root: impl Into<PathBuf>) -> Result<FileServer> {
        let state = Arc::new(State {
            root: root.into(),
            rules: Rules::default(),
            opts: Mutex::new(ServeOptions::default()),
            total: Arc::default(),
        });
        let http = {
            let state = Arc::clone(&state);
            HttpServer::start("file-server", move |req, _| answer(&state, req))?
        };
        Ok(FileServer { state, http })
    }

    /// `http://127.0.0.1:PORT/files/<name>`.
    pub fn url(&self, name: &str) -> String {
        format!("{}/files/{}", self.origin(), name.replace('+', "%2B"))
    }

    pub fn origin(&self) -> &str {
        self.http.origin()
    }

    pub fn root(&self) -> &Path {
        &self.state.root
    }

    pub fn set_options(&self, opts: ServeOptions) {
        *lock(&self.state.opts) = opts;
    }

    /// Apply `fault` to every request whose path (`/files/<name>`) matches `pattern`
    /// (exact, or a prefix ending in `*`).
    pub fn fault(&self, pattern: &str, fault: FileFault) {
        self.state.rules.add(pattern, fault, None);
    }

    /// Like [`FileServer::fault`] for the next `times` matching requests only.
    pub fn fault_times(&self, pattern: &str, fault: FileFault, times: usize) {
        self.state.rules.add(pattern, fault, Some(times));
    }

    pub fn clear_faults(&self) {
        self.state.rules.clear();
    }

    pub fn requests(&self) -> Vec<SeenRequest> {
        self.http.requests()
    }

    /// Connections being served now (a cancelled client's connections end at the server's
    /// next write).
    pub fn in_flight(&self) -> usize {
        self.http.in_flight()
    }

    /// Forget the requests so far and reset [`FileServer::bytes_sent`].
    pub fn clear_requests(&self) {
        self.http.clear_requests();
    }

    /// Body bytes written to sockets so far, over all requests, counted as they are written
    /// (requests still in progress included).
    pub fn bytes_sent(&self) -> u64 {
        self.http.bytes_sent()
    }
}

/// Poll `dir` until it holds a `.part` file or `limit` passes.
fn wait_for_a_part(dir: &Path, limit: Duration) {
    let start = std::time::Instant::now();
    let has_part = || {
        std::fs::read_dir(dir)
            .into_iter()
            .flatten()
            .flatten()
            .any(|e| e.file_name().to_string_lossy().ends_with(".part"))
    };
    while !has_part() && start.elapsed() < limit {
        std::thread::sleep(Duration::from_millis(5));
    }
    if !has_part() {
        // The test's own assertions then fail; this says why.
        eprintln!("file server: no .part appeared in {} within {limit:?}; answering anyway", dir.display());
    }
}

fn answer(state: &State, req: &Request) -> Answer {
    let fault = state.rules.take(&req.path);
    let opts = lock(&state.opts).clone();
    match &fault {
        Some(FileFault::ServerError) => return Reply::empty(500).into(),
        Some(FileFault::Status(s)) => return Reply::empty(*s).into(),
        Some(FileFault::StatusOnceAPartExists(s, dir)) => {
            wait_for_a_part(dir, Duration::from_secs(30));
            return Reply::empty(*s).into();
        }
        Some(FileFault::RedirectLoop) => return Reply::redirect(&req.path).into(),
        Some(FileFault::NeverAnswer) => return Answer::Silence(Some(Duration::from_secs(120))),
        _ => {}
    }
    let Some(name) = req.path.strip_prefix("/files/").filter(|n| !n.contains("..") && !n.contains('/')) else {
        return Reply::empty(404).into();
    };
    let Ok(file) = std::fs::File::open(state.root.join(name)) else { return Reply::empty(404).into() };
    let Ok(meta) = file.metadata() else { return Reply::empty(404).into() };
    let len = meta.len();
    let mtime = meta.modified().ok().and_then(|t| t.duration_since(UNIX_EPOCH).ok()).unwrap_or_default();
    let etag = format!("\"{len:x}-{:x}\"", mtime.as_nanos());
    let last_modified = jiff::Timestamp::from_second(mtime.as_secs() as i64)
        .map(|t| t.strftime("%a, %d %b %Y %H:%M:%S GMT").to_string())
        .unwrap_or_default();

    let mut reply = Reply::with_body(200, Body::File { file, len }).header("Content-Type", "application/octet-stream");
    if opts.etag {
        reply = reply.header("ETag", &etag);
    }
    if opts.last_modified {
        reply = reply.header("Last-Modified", &last_modified);
    }
    if opts.accept_ranges {
        reply = reply.header("Accept-Ranges", "bytes");
    }

    // Which bytes: the whole file, or a satisfiable single range whose If-Range still holds.
    let span = match fault {
        Some(FileFault::IgnoreRange) => Span::Whole,
        _ => requested_span(req, len, |v| (opts.etag && v == etag) || (opts.last_modified && v == last_modified)),
    };
    match span {
        Span::Whole => {}
        Span::Part(a, b) => reply = reply.partial(a, b),
        Span::Unsatisfiable => return Reply::empty(416).header("Content-Range", &format!("bytes */{len}")).into(),
    }
    if let Some(FileFault::ClaimLength(n)) = fault {
        reply = reply.claim(n);
    }
    reply
        .paced(Pace {
            bytes_per_sec: match fault {
                Some(FileFault::Throttle(bps)) => Some(bps),
                _ => opts.per_connection_bps,
            },
            shared: opts.total_bps.map(|bps| (Arc::clone(&state.total), bps)),
            close_after: match fault {
                Some(FileFault::CloseAfter(n)) => Some(n),
                _ => None,
            },
            invert: fault == Some(FileFault::WrongBytes),
            ..Pace::default()
        })
        .into()
}
