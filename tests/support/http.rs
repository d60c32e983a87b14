//! The HTTP/1.1 core under the kit's servers ([`super::faults::FileServer`],
//! [`super::mirror::MirrorServer`], [`super::index::IndexServer`], and the route server of
//! tests/index_client.rs): each of them only maps a request to a [`Reply`]; this file does the
//! rest.
//!
//! - A listener on 127.0.0.1 at a free port, an accept loop, a thread per connection, one
//!   request per connection (`Connection: close`), stopped on drop ([`HttpServer`]). Plain std
//!   on purpose: pooled servers (tiny_http) stalled for seconds behind a concurrent client's
//!   idle keep-alive connections.
//! - The request head: the percent-decoded path without the query, and the headers
//!   ([`Request`]); every request recorded with its headers, the status answered and the body
//!   bytes sent ([`SeenRequest`]); the most connections served at once.
//! - Byte ranges: [`requested_span`] reads `Range` (one range: `a-b`, `a-`, `-n`) and `If-Range`;
//!   [`Reply::partial`] makes the 206.
//! - The body written in chunks: held to a rate per connection and/or a rate shared by all
//!   connections, cut after N bytes (a server dying mid-file), every byte inverted (a hash
//!   mismatch), a stall mid-body, a Content-Length that is not the body's ([`Pace`],
//!   [`Reply::claim`]).
//! - Saying nothing at all ([`Answer::Silence`]) and per-path fault rules ([`Rules`]).

use std::fs::File;
use std::io::{Read, Seek, SeekFrom, Write};
use std::net::{Shutdown, TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::thread::{self, JoinHandle};
use std::time::{Duration, Instant};

use anyhow::{Result, anyhow};

/// Lock, ignoring poison: a panic in a request thread must not take the whole test down.
pub fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

/// One request head.
#[derive(Debug, Clone)]
pub struct Request {
    /// Percent-decoded, without the query or fragment (`/whl/cu124/torch-2.5.1+cu124-….whl`).
    pub path: String,
    pub headers: Vec<(String, String)>,
}

impl Request {
    /// The first header of this name (case-insensitive), trimmed.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.iter().find(|(k, _)| k.eq_ignore_ascii_case(name)).map(|(_, v)| v.as_str())
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
    /// Every header, as sent.
    pub headers: Vec<(String, String)>,
}

impl SeenRequest {
    /// The first header of this name (case-insensitive), trimmed.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.iter().find(|(k, _)| k.eq_ignore_ascii_case(name)).map(|(_, v)| v.as_str())
    }
}

/// A reply body.
#[derive(Debug)]
pub enum Body {
    Bytes(Vec<u8>),
    File { file: File, len: u64 },
}

impl Body {
    pub fn len(&self) -> u64 {
        match self {
            Body::Bytes(b) => b.len() as u64,
            Body::File { len, .. } => *len,
        }
    }
}

/// A bandwidth shared by several connections: the instant it is next free.
#[derive(Debug)]
pub struct SharedRate {
    next: Mutex<Instant>,
}

impl Default for SharedRate {
    fn default() -> Self {
        SharedRate { next: Mutex::new(Instant::now()) }
    }
}

/// How the body goes out.
#[derive(Debug, Clone, Default)]
pub struct Pace {
    /// This connection held to this many bytes per second.
    pub bytes_per_sec: Option<u64>,
    /// All connections that share the rate held together to this many bytes per second.
    pub shared: Option<(Arc<SharedRate>, u64)>,
    /// Close after this many body bytes (the head still claims the full length).
    pub close_after: Option<u64>,
    /// Every byte inverted: the right length, the wrong content.
    pub invert: bool,
    /// After this many body bytes, flush and stall this long (a stalled transfer).
    pub pause_after: Option<(u64, Duration)>,
}

/// What to answer.
#[derive(Debug)]
pub struct Reply {
    pub status: u16,
    /// Header lines other than Content-Length and Connection, in order.
    pub headers: Vec<(String, String)>,
    pub body: Body,
    /// The inclusive byte range of `body` to send (None: all of it).
    span: Option<(u64, u64)>,
    /// Content-Length to claim instead of the real one.
    claim: Option<u64>,
    pub pace: Pace,
}

impl Reply {
    /// `status` with no body.
    pub fn empty(status: u16) -> Reply {
        Reply::bytes(status, Vec::new())
    }

    /// `status` with `body` (no Content-Type: add one with [`Reply::header`]).
    pub fn bytes(status: u16, body: Vec<u8>) -> Reply {
        Reply::with_body(status, Body::Bytes(body))
    }

    /// `status` with `content_type` and `body`.
    pub fn typed(status: u16, content_type: &str, body: Vec<u8>) -> Reply {
        Reply::bytes(status, body).header("Content-Type", content_type)
    }

    pub fn with_body(status: u16, body: Body) -> Reply {
        Reply { status, headers: Vec::new(), body, span: None, claim: None, pace: Pace::default() }
    }

    /// 302 to `to`.
    pub fn redirect(to: &str) -> Reply {
        Reply::empty(302).header("Location", to)
    }

    pub fn header(mut self, name: &str, value: &str) -> Reply {
        self.headers.push((name.into(), value.into()));
        self
    }

    /// The header's value, if set.
    pub fn header_value(&self, name: &str) -> Option<&str> {
        self.headers.iter().find(|(k, _)| k.eq_ignore_ascii_case(name)).map(|(_, v)| v.as_str())
    }

    /// 206 with bytes `start..=end` of the body and their `Content-Range`.
    pub fn partial(mut self, start: u64, end: u64) -> Reply {
        let total = self.body.len();
        self.status = 206;
        self.span = Some((start, end));
        self.header("Content-Range", &format!("bytes {start}-{end}/{total}"))
    }

    /// Claim this Content-Length, whatever the body is.
    pub fn claim(mut self, len: u64) -> Reply {
        self.claim = Some(len);
        self
    }

    pub fn paced(mut self, pace: Pace) -> Reply {
        self.pace = pace;
        self
    }
}

/// What to do with a request.
#[derive(Debug)]
pub enum Answer {
    Reply(Reply),
    /// Send nothing; close when the server stops or after this long (None: only when it stops).
    Silence(Option<Duration>),
}

impl From<Reply> for Answer {
    fn from(r: Reply) -> Answer {
        Answer::Reply(r)
    }
}

/// What a `Range` header asks of a body.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Span {
    /// No Range, or one that does not apply (If-Range no longer holds): the whole body, 200.
    Whole,
    /// One satisfiable range, inclusive.
    Part(u64, u64),
    /// A `bytes=` range this body cannot satisfy (or several ranges).
    Unsatisfiable,
}

/// The span `req` asks of a `len`-byte body; `If-Range` holds when `validator_holds` says so.
pub fn requested_span(req: &Request, len: u64, validator_holds: impl Fn(&str) -> bool) -> Span {
    let Some(range) = req.header("range") else { return Span::Whole };
    if let Some(v) = req.header("if-range")
        && !validator_holds(v)
    {
        return Span::Whole;
    }
    match parse_range(range, len) {
        Some((a, b)) => Span::Part(a, b),
        None if range.starts_with("bytes=") && len > 0 => Span::Unsatisfiable,
        None => Span::Whole,
    }
}

/// `bytes=a-b`, `bytes=a-`, `bytes=-n` (one range only) → inclusive (start, end).
pub fn parse_range(v: &str, len: u64) -> Option<(u64, u64)> {
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

/// A path pattern: exact, or a prefix ending in `*`.
fn matches(pattern: &str, path: &str) -> bool {
    match pattern.strip_suffix('*') {
        Some(prefix) => path.starts_with(prefix),
        None => pattern == path,
    }
}

#[derive(Debug)]
struct Rule<F> {
    pattern: String,
    fault: F,
    /// None = every time; Some(n) = the next n matching requests only.
    remaining: Option<usize>,
}

/// Per-path faults: the first live rule whose pattern matches a path wins.
#[derive(Debug)]
pub struct Rules<F> {
    rules: Mutex<Vec<Rule<F>>>,
}

impl<F> Default for Rules<F> {
    fn default() -> Self {
        Rules { rules: Mutex::new(Vec::new()) }
    }
}

impl<F: Clone> Rules<F> {
    /// Apply `fault` to requests whose path matches `pattern` (exact, or a prefix ending in
    /// `*`): every time (`times` None) or the next `times` only.
    pub fn add(&self, pattern: &str, fault: F, times: Option<usize>) {
        lock(&self.rules).push(Rule { pattern: pattern.into(), fault, remaining: times });
    }

    pub fn clear(&self) {
        lock(&self.rules).clear();
    }

    /// The fault for `path`, if any (counting one use of it).
    pub fn take(&self, path: &str) -> Option<F> {
        let mut rules = lock(&self.rules);
        let rule = rules.iter_mut().find(|r| r.remaining != Some(0) && matches(&r.pattern, path))?;
        if let Some(n) = rule.remaining.as_mut() {
            *n -= 1;
        }
        Some(rule.fault.clone())
    }
}

/// What request handlers share with the server: the stop flag and the counters.
#[derive(Debug, Default)]
pub struct Ctx {
    stop: AtomicBool,
    requests: Mutex<Vec<SeenRequest>>,
    /// Body bytes written so far (live, unlike `SeenRequest::sent`).
    sent: AtomicU64,
    /// Connections being served now, and the most at once.
    in_flight: AtomicUsize,
    max_in_flight: AtomicUsize,
}

impl Ctx {
    pub fn stopped(&self) -> bool {
        self.stop.load(Ordering::SeqCst)
    }

    /// Sleep until `t`, or less if the server stops.
    pub fn sleep_until(&self, t: Instant) {
        while !self.stopped() {
            let now = Instant::now();
            if now >= t {
                return;
            }
            thread::sleep((t - now).min(Duration::from_millis(10)));
        }
    }

    pub fn sleep(&self, d: Duration) {
        self.sleep_until(Instant::now() + d);
    }
}

type Handler = dyn Fn(&Request, &Ctx) -> Answer + Send + Sync;

/// A running server. See the module docs.
pub struct HttpServer {
    origin: String,
    ctx: Arc<Ctx>,
    accept: Option<JoinHandle<()>>,
}

impl HttpServer {
    /// Listen on 127.0.0.1 at a free port; `handler` answers every request. `name` names the
    /// threads.
    pub fn start(name: &str, handler: impl Fn(&Request, &Ctx) -> Answer + Send + Sync + 'static) -> Result<HttpServer> {
        let listener = TcpListener::bind("127.0.0.1:0").map_err(|e| anyhow!("cannot listen on 127.0.0.1: {e}"))?;
        let port = listener.local_addr()?.port();
        listener.set_nonblocking(true)?;
        let ctx = Arc::new(Ctx::default());
        let handler: Arc<Handler> = Arc::new(handler);
        let accept = {
            let ctx = Arc::clone(&ctx);
            let request_thread = format!("{name}-request");
            thread::Builder::new().name(name.into()).spawn(move || {
                while !ctx.stopped() {
                    match listener.accept() {
                        Ok((sock, _)) => {
                            let (ctx, handler) = (Arc::clone(&ctx), Arc::clone(&handler));
                            let _ = thread::Builder::new().name(request_thread.clone()).spawn(move || {
                                let now = ctx.in_flight.fetch_add(1, Ordering::SeqCst) + 1;
                                ctx.max_in_flight.fetch_max(now, Ordering::SeqCst);
                                serve(&ctx, &*handler, sock);
                                ctx.in_flight.fetch_sub(1, Ordering::SeqCst);
                            });
                        }
                        Err(_) => thread::sleep(Duration::from_millis(2)),
                    }
                }
            })?
        };
        Ok(HttpServer { origin: format!("http://127.0.0.1:{port}"), ctx, accept: Some(accept) })
    }

    /// `http://127.0.0.1:PORT`.
    pub fn origin(&self) -> &str {
        &self.origin
    }

    pub fn requests(&self) -> Vec<SeenRequest> {
        lock(&self.ctx.requests).clone()
    }

    /// The paths of [`HttpServer::requests`].
    pub fn paths(&self) -> Vec<String> {
        lock(&self.ctx.requests).iter().map(|r| r.path.clone()).collect()
    }

    /// Forget the requests so far and reset [`HttpServer::bytes_sent`].
    pub fn clear_requests(&self) {
        lock(&self.ctx.requests).clear();
        self.ctx.sent.store(0, Ordering::SeqCst);
    }

    /// Body bytes written to sockets so far, over all requests, counted as they are written
    /// (requests still in progress included).
    pub fn bytes_sent(&self) -> u64 {
        self.ctx.sent.load(Ordering::SeqCst)
    }

    /// Connections being served now.
    pub fn in_flight(&self) -> usize {
        self.ctx.in_flight.load(Ordering::SeqCst)
    }

    /// The most connections served at once so far.
    pub fn max_in_flight(&self) -> usize {
        self.ctx.max_in_flight.load(Ordering::SeqCst)
    }
}

impl Drop for HttpServer {
    fn drop(&mut self) {
        self.ctx.stop.store(true, Ordering::SeqCst);
        if let Some(t) = self.accept.take() {
            let _ = t.join();
        }
    }
}

fn read_request(sock: &mut TcpStream) -> Option<Request> {
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
    let headers =
        lines.filter_map(|l| l.split_once(':')).map(|(k, v)| (k.trim().to_string(), v.trim().to_string())).collect();
    let path = percent_decode(target.split(['?', '#']).next().unwrap_or(""));
    Some(Request { path, headers })
}

/// Read one request head, record it, answer it, close the connection.
fn serve(ctx: &Ctx, handler: &Handler, mut sock: TcpStream) {
    let _ = sock.set_nonblocking(false);
    let _ = sock.set_read_timeout(Some(Duration::from_secs(10)));
    let _ = sock.set_write_timeout(Some(Duration::from_secs(30)));
    let Some(req) = read_request(&mut sock) else { return };
    let index = {
        let mut reqs = lock(&ctx.requests);
        reqs.push(SeenRequest {
            path: req.path.clone(),
            range: req.header("range").map(str::to_string),
            if_range: req.header("if-range").map(str::to_string),
            authorization: req.header("authorization").map(str::to_string),
            status: 0,
            sent: 0,
            headers: req.headers.clone(),
        });
        reqs.len() - 1
    };
    let (status, sent) = match handler(&req, ctx) {
        Answer::Reply(reply) => write_reply(ctx, &mut sock, reply),
        Answer::Silence(limit) => {
            match limit.and_then(|d| Instant::now().checked_add(d)) {
                Some(until) => ctx.sleep_until(until),
                None => {
                    while !ctx.stopped() {
                        thread::sleep(Duration::from_millis(20));
                    }
                }
            }
            (0, 0)
        }
    };
    if let Some(r) = lock(&ctx.requests).get_mut(index) {
        r.status = status;
        r.sent = sent;
    }
    let _ = sock.flush();
    let _ = sock.shutdown(Shutdown::Both);
}

fn reason(status: u16) -> &'static str {
    match status {
        200 => "OK",
        206 => "Partial Content",
        302 => "Found",
        403 => "Forbidden",
        404 => "Not Found",
        416 => "Range Not Satisfiable",
        500 => "Internal Server Error",
        _ => "Status",
    }
}

/// Send the answer; returns (status, body bytes sent).
fn write_reply(ctx: &Ctx, sock: &mut TcpStream, reply: Reply) -> (u16, u64) {
    let Reply { status, headers, body, span, claim, pace } = reply;
    let (start, end) = match span {
        Some((a, b)) => (a, b + 1),
        None => (0, body.len()),
    };
    let mut head = format!("HTTP/1.1 {status} {}\r\n", reason(status));
    for (k, v) in &headers {
        head.push_str(&format!("{k}: {v}\r\n"));
    }
    head.push_str(&format!("Content-Length: {}\r\nConnection: close\r\n\r\n", claim.unwrap_or(end - start)));
    if sock.write_all(head.as_bytes()).is_err() {
        return (status, 0);
    }
    let mut source: Box<dyn Read> = match body {
        Body::Bytes(b) => Box::new(std::io::Cursor::new(b.get(start as usize..end as usize).unwrap_or(&[]).to_vec())),
        Body::File { mut file, .. } => {
            if file.seek(SeekFrom::Start(start)).is_err() {
                return (status, 0);
            }
            Box::new(file)
        }
    };
    let limit = pace.close_after.unwrap_or(u64::MAX).min(end - start);
    // Throttled bodies go out in chunks of a twentieth of a second (at most 16 KiB).
    let chunk = match pace.bytes_per_sec {
        Some(bps) => (bps / 20).clamp(1, 16 * 1024) as usize,
        None => 16 * 1024,
    };
    let started = Instant::now();
    let mut sent = 0u64;
    let mut buf = vec![0u8; chunk];
    while sent < limit && !ctx.stopped() {
        if let Some((at, pause)) = pace.pause_after
            && sent == at
        {
            let _ = sock.flush();
            ctx.sleep(pause);
        }
        let mut want = ((limit - sent) as usize).min(buf.len());
        if let Some((at, _)) = pace.pause_after
            && sent < at
        {
            want = want.min((at - sent) as usize);
        }
        let n = match source.read(&mut buf[..want]) {
            Ok(0) | Err(_) => break,
            Ok(n) => n,
        };
        if pace.invert {
            buf[..n].iter_mut().for_each(|b| *b = !*b);
        }
        if let Some((rate, bps)) = &pace.shared {
            let slot = Duration::from_secs_f64(n as f64 / (*bps).max(1) as f64);
            let at = {
                let mut next = lock(&rate.next);
                let at = (*next).max(Instant::now());
                *next = at + slot;
                at
            };
            ctx.sleep_until(at + slot);
        }
        if let Some(bps) = pace.bytes_per_sec {
            ctx.sleep_until(started + Duration::from_secs_f64((sent + n as u64) as f64 / bps.max(1) as f64));
        }
        if sock.write_all(&buf[..n]).is_err() {
            break;
        }
        sent += n as u64;
        ctx.sent.fetch_add(n as u64, Ordering::SeqCst);
    }
    (status, sent)
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
