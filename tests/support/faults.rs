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
//! Kept apart from `index.rs` (the PEP 503 index) on purpose: a download server needs byte
//! ranges and throttling that the index pages do not.

use std::io::{Read, Seek, SeekFrom, Write};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::thread::{self, JoinHandle};
use std::time::{Duration, Instant, UNIX_EPOCH};

use anyhow::{Result, anyhow};

/// What to do to a matching request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FileFault {
    /// 500 Internal Server Error.
    ServerError,
    /// Any status, empty body.
    Status(u16),
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

/// One request as the server saw it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SeenRequest {
    pub path: String,
    pub range: Option<String>,
    pub if_range: Option<String>,
    pub authorization: Option<String>,
    /// The status answered (0 when no answer was sent).
    pub status: u16,
    /// Body bytes sent.
    pub sent: u64,
}

#[derive(Debug)]
struct Rule {
    pattern: String,
    fault: FileFault,
    remaining: Option<usize>,
}

#[derive(Debug)]
struct Shared {
    root: PathBuf,
    requests: Mutex<Vec<SeenRequest>>,
    rules: Mutex<Vec<Rule>>,
    opts: Mutex<ServeOptions>,
    /// The instant the shared bandwidth is next free (total throttle).
    bucket: Mutex<Instant>,
    /// Body bytes written so far (live, unlike `SeenRequest::sent`).
    sent: AtomicU64,
    stop: AtomicBool,
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

/// The running server. See the module docs.
pub struct FileServer {
    origin: String,
    shared: Arc<Shared>,
    accept: Option<JoinHandle<()>>,
}

impl FileServer {
    /// Serve the files in `root` on 127.0.0.1 at a free port.
    pub fn start(root: impl Into<PathBuf>) -> Result<FileServer> {
        let listener = TcpListener::bind("127.0.0.1:0").map_err(|e| anyhow!("cannot listen on 127.0.0.1: {e}"))?;
        let port = listener.local_addr()?.port();
        listener.set_nonblocking(true)?;
        let shared = Arc::new(Shared {
            root: root.into(),
            requests: Mutex::default(),
            rules: Mutex::default(),
            opts: Mutex::new(ServeOptions::default()),
            bucket: Mutex::new(Instant::now()),
            sent: AtomicU64::new(0),
            stop: AtomicBool::new(false),
        });
        let accept = {
            let shared = Arc::clone(&shared);
            thread::Builder::new().name("file-server".into()).spawn(move || {
                while !shared.stop.load(Ordering::SeqCst) {
                    match listener.accept() {
                        Ok((sock, _)) => {
                            let shared = Arc::clone(&shared);
                            let _ =
                                thread::Builder::new().name("file-request".into()).spawn(move || serve(&shared, sock));
                        }
                        Err(_) => thread::sleep(Duration::from_millis(2)),
                    }
                }
            })?
        };
        Ok(FileServer { origin: format!("http://127.0.0.1:{port}"), shared, accept: Some(accept) })
    }

    /// `http://127.0.0.1:PORT/files/<name>`.
    pub fn url(&self, name: &str) -> String {
        format!("{}/files/{}", self.origin, name.replace('+', "%2B"))
    }

    pub fn origin(&self) -> &str {
        &self.origin
    }

    pub fn root(&self) -> &Path {
        &self.shared.root
    }

    pub fn set_options(&self, opts: ServeOptions) {
        *lock(&self.shared.opts) = opts;
    }

    /// Apply `fault` to every request whose path (`/files/<name>`) matches `pattern`
    /// (exact, or a prefix ending in `*`).
    pub fn fault(&self, pattern: &str, fault: FileFault) {
        lock(&self.shared.rules).push(Rule { pattern: pattern.into(), fault, remaining: None });
    }

    /// Like [`FileServer::fault`] for the next `times` matching requests only.
    pub fn fault_times(&self, pattern: &str, fault: FileFault, times: usize) {
        lock(&self.shared.rules).push(Rule { pattern: pattern.into(), fault, remaining: Some(times) });
    }

    pub fn clear_faults(&self) {
        lock(&self.shared.rules).clear();
    }

    pub fn requests(&self) -> Vec<SeenRequest> {
        lock(&self.shared.requests).clone()
    }

    /// Forget the requests so far and reset [`FileServer::bytes_sent`].
    pub fn clear_requests(&self) {
        lock(&self.shared.requests).clear();
        self.shared.sent.store(0, Ordering::SeqCst);
    }

    /// Body bytes written to sockets so far, over all requests, counted as they are written
    /// (requests still in progress included).
    pub fn bytes_sent(&self) -> u64 {
        self.shared.sent.load(Ordering::SeqCst)
    }
}

impl Drop for FileServer {
    fn drop(&mut self) {
        self.shared.stop.store(true, Ordering::SeqCst);
        if let Some(t) = self.accept.take() {
            let _ = t.join();
        }
    }
}

struct Head {
    path: String,
    range: Option<String>,
    if_range: Option<String>,
    authorization: Option<String>,
}

fn read_head(sock: &mut TcpStream) -> Option<Head> {
    let mut head = Vec::new();
    let mut buf = [0u8; 4096];
    while !head.windows(4).any(|w| w == b"\r\n\r\n") && head.len() < 65536 {
        match sock.read(&mut buf) {
            Ok(0) | Err(_) => return None,
            Ok(n) => head.extend_from_slice(&buf[..n]),
        }
    }
    let text = String::from_utf8_lossy(&head).into_owned();
    let mut lines = text.lines();
    let target = lines.next()?.split(' ').nth(1)?.to_string();
    let mut range = None;
    let mut if_range = None;
    let mut authorization = None;
    for line in lines {
        if let Some((k, v)) = line.split_once(':') {
            match k.trim().to_ascii_lowercase().as_str() {
                "range" => range = Some(v.trim().to_string()),
                "if-range" => if_range = Some(v.trim().to_string()),
                "authorization" => authorization = Some(v.trim().to_string()),
                _ => {}
            }
        }
    }
    let path = percent_decode(target.split(['?', '#']).next().unwrap_or(""));
    Some(Head { path, range, if_range, authorization })
}

fn serve(shared: &Shared, mut sock: TcpStream) {
    let _ = sock.set_nonblocking(false);
    let _ = sock.set_read_timeout(Some(Duration::from_secs(10)));
    let _ = sock.set_write_timeout(Some(Duration::from_secs(30)));
    let Some(head) = read_head(&mut sock) else { return };
    let index = {
        let mut reqs = lock(&shared.requests);
        reqs.push(SeenRequest {
            path: head.path.clone(),
            range: head.range.clone(),
            if_range: head.if_range.clone(),
            authorization: head.authorization.clone(),
            status: 0,
            sent: 0,
        });
        reqs.len() - 1
    };
    let fault = {
        let mut rules = lock(&shared.rules);
        let mut found = None;
        for rule in rules.iter_mut() {
            let hit = match rule.pattern.strip_suffix('*') {
                Some(prefix) => head.path.starts_with(prefix),
                None => rule.pattern == head.path,
            };
            if hit && rule.remaining != Some(0) {
                if let Some(n) = rule.remaining.as_mut() {
                    *n -= 1;
                }
                found = Some(rule.fault.clone());
                break;
            }
        }
        found
    };
    let opts = lock(&shared.opts).clone();
    let (status, sent) = answer(shared, &mut sock, &head, fault, &opts);
    if let Some(r) = lock(&shared.requests).get_mut(index) {
        r.status = status;
        r.sent = sent;
    }
    let _ = sock.flush();
    let _ = sock.shutdown(std::net::Shutdown::Both);
}

fn simple(sock: &mut TcpStream, status: u16, extra: &str) -> (u16, u64) {
    let _ = write!(sock, "HTTP/1.1 {status} Status\r\n{extra}Content-Length: 0\r\nConnection: close\r\n\r\n");
    (status, 0)
}

/// Send the answer; returns (status, body bytes sent).
fn answer(
    shared: &Shared,
    sock: &mut TcpStream,
    head: &Head,
    fault: Option<FileFault>,
    opts: &ServeOptions,
) -> (u16, u64) {
    match &fault {
        Some(FileFault::ServerError) => return simple(sock, 500, ""),
        Some(FileFault::Status(s)) => return simple(sock, *s, ""),
        Some(FileFault::RedirectLoop) => return simple(sock, 302, &format!("Location: {}\r\n", head.path)),
        Some(FileFault::NeverAnswer) => {
            let until = Instant::now() + Duration::from_secs(120);
            while Instant::now() < until && !shared.stop.load(Ordering::SeqCst) {
                thread::sleep(Duration::from_millis(20));
            }
            return (0, 0);
        }
        _ => {}
    }
    let Some(name) = head.path.strip_prefix("/files/").filter(|n| !n.contains("..") && !n.contains('/')) else {
        return simple(sock, 404, "");
    };
    let path = shared.root.join(name);
    let Ok(mut file) = std::fs::File::open(&path) else { return simple(sock, 404, "") };
    let Ok(meta) = file.metadata() else { return simple(sock, 404, "") };
    let len = meta.len();
    let mtime = meta.modified().ok().and_then(|t| t.duration_since(UNIX_EPOCH).ok()).unwrap_or_default();
    let etag = format!("\"{len:x}-{:x}\"", mtime.as_nanos());
    let last_modified = jiff::Timestamp::from_second(mtime.as_secs() as i64)
        .map(|t| t.strftime("%a, %d %b %Y %H:%M:%S GMT").to_string())
        .unwrap_or_default();

    let mut validators = String::new();
    if opts.etag {
        validators.push_str(&format!("ETag: {etag}\r\n"));
    }
    if opts.last_modified {
        validators.push_str(&format!("Last-Modified: {last_modified}\r\n"));
    }
    if opts.accept_ranges {
        validators.push_str("Accept-Ranges: bytes\r\n");
    }

    // Which bytes: the whole file, or a satisfiable single range whose If-Range still holds.
    let if_range_ok = match &head.if_range {
        None => true,
        Some(v) => (opts.etag && *v == etag) || (opts.last_modified && *v == last_modified),
    };
    let range = head
        .range
        .as_deref()
        .filter(|_| if_range_ok && fault != Some(FileFault::IgnoreRange))
        .and_then(|r| parse_range(r, len));
    if head.range.is_some() && range.is_none() && if_range_ok && fault != Some(FileFault::IgnoreRange) {
        let unsatisfiable = head.range.as_deref().is_some_and(|r| r.starts_with("bytes=")) && len > 0;
        if unsatisfiable {
            return simple(sock, 416, &format!("Content-Range: bytes */{len}\r\n"));
        }
    }
    let (status, start, end) = match range {
        Some((a, b)) => (206, a, b + 1),
        None => (200, 0, len),
    };
    let mut head_text = format!("HTTP/1.1 {status} {}\r\n", if status == 206 { "Partial Content" } else { "OK" });
    head_text.push_str("Content-Type: application/octet-stream\r\n");
    head_text.push_str(&validators);
    if status == 206 {
        head_text.push_str(&format!("Content-Range: bytes {start}-{}/{len}\r\n", end - 1));
    }
    let claimed = match &fault {
        Some(FileFault::ClaimLength(n)) => *n,
        _ => end - start,
    };
    head_text.push_str(&format!("Content-Length: {claimed}\r\nConnection: close\r\n\r\n"));
    if sock.write_all(head_text.as_bytes()).is_err() {
        return (status, 0);
    }
    if file.seek(SeekFrom::Start(start)).is_err() {
        return (status, 0);
    }
    let limit = match &fault {
        Some(FileFault::CloseAfter(n)) => (*n).min(end - start),
        _ => end - start,
    };
    let per_conn = match &fault {
        Some(FileFault::Throttle(bps)) => Some(*bps),
        _ => opts.per_connection_bps,
    };
    let wrong = fault == Some(FileFault::WrongBytes);
    let started = Instant::now();
    let mut sent = 0u64;
    let mut buf = vec![0u8; 16 * 1024];
    while sent < limit && !shared.stop.load(Ordering::SeqCst) {
        let want = ((limit - sent) as usize).min(buf.len());
        let n = match file.read(&mut buf[..want]) {
            Ok(0) | Err(_) => break,
            Ok(n) => n,
        };
        if wrong {
            buf[..n].iter_mut().for_each(|b| *b = !*b);
        }
        if let Some(total) = opts.total_bps {
            let slot = Duration::from_secs_f64(n as f64 / total as f64);
            let at = {
                let mut next = lock(&shared.bucket);
                let at = (*next).max(Instant::now());
                *next = at + slot;
                at
            };
            sleep_until(shared, at + slot);
        }
        if let Some(bps) = per_conn {
            sleep_until(shared, started + Duration::from_secs_f64((sent + n as u64) as f64 / bps as f64));
        }
        if sock.write_all(&buf[..n]).is_err() {
            break;
        }
        sent += n as u64;
        shared.sent.fetch_add(n as u64, Ordering::SeqCst);
    }
    (status, sent)
}

fn sleep_until(shared: &Shared, t: Instant) {
    while !shared.stop.load(Ordering::SeqCst) {
        let now = Instant::now();
        if now >= t {
            return;
        }
        thread::sleep((t - now).min(Duration::from_millis(50)));
    }
}

/// `bytes=a-b`, `bytes=a-`, `bytes=-n` (one range only) → inclusive (start, end).
fn parse_range(v: &str, len: u64) -> Option<(u64, u64)> {
    let spec = v.trim().strip_prefix("bytes=")?;
    if spec.contains(',') || len == 0 {
        return None;
    }
    let (a, b) = spec.split_once('-')?;
    let (a, b) = (a.trim(), b.trim());
    if a.is_empty() {
        let n: u64 = b.parse().ok()?;
        return (n > 0).then(|| (len.saturating_sub(n), len - 1));
    }
    let start: u64 = a.parse().ok()?;
    let end = if b.is_empty() { len - 1 } else { b.parse::<u64>().ok()?.min(len - 1) };
    (start <= end && start < len).then_some((start, end))
}

fn percent_decode(s: &str) -> String {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%'
            && i + 2 < bytes.len()
            && let Ok(hex) = std::str::from_utf8(&bytes[i + 1..i + 3])
            && let Ok(b) = u8::from_str_radix(hex, 16)
        {
            out.push(b);
            i += 3;
            continue;
        }
        out.push(bytes[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}
