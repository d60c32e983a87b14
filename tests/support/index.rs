//! A local PEP 503 index in the shape of download.pytorch.org/whl, on 127.0.0.1, for real pip.
//!
//! Serves a directory tree `<root>/<variant>/<file>.whl` as
//! `<base>/<variant>/` (package links), `<base>/<variant>/<pkg>/` (the project page in the
//! exact HTML of pytorch/test-infra's manage_v2.py: root-relative hrefs with `%2B` and a
//! `#sha256=` fragment) and the wheel files, where `<base>` is `http://127.0.0.1:PORT/whl`.
//! Records every request path; per-path faults (status codes, delays, garbage, redirects).
//! Stopped on drop.

use std::collections::HashMap;
use std::io::Read;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::thread::{self, JoinHandle};
use std::time::{Duration, Instant, SystemTime};

use anyhow::{Result, anyhow};
use sha2::{Digest, Sha256};
use std::io::Write;
use std::net::{TcpListener, TcpStream};

/// What to do instead of (or before) serving a path normally.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Fault {
    /// 404 Not Found.
    NotFound,
    /// 500 Internal Server Error.
    ServerError,
    /// Any status code, empty body.
    Status(u16),
    /// Wait this long, then serve normally (provokes pip's read timeout with `--timeout`).
    Delay(Duration),
    /// 200 with bytes that are neither HTML nor a zip (same length as the real file, if any).
    Garbage,
    /// 302 to this location (a path on this server, or a full URL).
    Redirect(String),
    /// Serve normally but close the connection after this many body bytes (a server dying
    /// mid-file, a dropped Wi-Fi).
    CloseAfter(usize),
    /// Serve normally at this many bytes per second (a slow link; signals land mid-file).
    Throttle(u64),
}

#[derive(Debug)]
struct FaultRule {
    pattern: String,
    fault: Fault,
    /// None = every time; Some(n) = the next n matching requests only.
    remaining: Option<usize>,
}

impl FaultRule {
    fn matches(&self, path: &str) -> bool {
        match self.pattern.strip_suffix('*') {
            Some(prefix) => path.starts_with(prefix),
            None => self.pattern == path,
        }
    }
}

#[derive(Debug, Default)]
struct Shared {
    root: PathBuf,
    requests: Mutex<Vec<String>>,
    faults: Mutex<Vec<FaultRule>>,
    hashes: Mutex<HashMap<PathBuf, (SystemTime, u64, String)>>,
    stop: AtomicBool,
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    // A panic in a request thread must not take the whole test down with a poison error.
    m.lock().unwrap_or_else(|e| e.into_inner())
}

/// The running index. See the module docs.
pub struct IndexServer {
    origin: String,
    shared: Arc<Shared>,
    accept: Option<JoinHandle<()>>,
}

impl std::fmt::Debug for IndexServer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("IndexServer").field("origin", &self.origin).field("root", &self.shared.root).finish()
    }
}

impl IndexServer {
    /// Serve `root` on 127.0.0.1 at a free port.
    pub fn start(root: impl Into<PathBuf>) -> Result<IndexServer> {
        let root = root.into();
        // A plain std server, one thread and one request per connection: pooled servers
        // (tiny_http) stalled for seconds behind a concurrent client's idle connections.
        let listener = TcpListener::bind("127.0.0.1:0").map_err(|e| anyhow!("cannot listen on 127.0.0.1: {e}"))?;
        let port = listener.local_addr()?.port();
        listener.set_nonblocking(true)?;
        let shared = Arc::new(Shared { root, ..Default::default() });
        let accept = {
            let shared = Arc::clone(&shared);
            thread::Builder::new().name("index-server".into()).spawn(move || {
                while !shared.stop.load(Ordering::SeqCst) {
                    match listener.accept() {
                        Ok((sock, _)) => {
                            let shared = Arc::clone(&shared);
                            let _ =
                                thread::Builder::new().name("index-request".into()).spawn(move || serve(&shared, sock));
                        }
                        Err(_) => thread::sleep(Duration::from_millis(2)),
                    }
                }
            })?
        };
        Ok(IndexServer { origin: format!("http://127.0.0.1:{port}"), shared, accept: Some(accept) })
    }

    /// `http://127.0.0.1:PORT/whl`: append `/<variant>` for pip's `--index-url`.
    pub fn base_url(&self) -> String {
        format!("{}/whl", self.origin)
    }

    /// `<base>/<variant>`, ready for `--index-url`.
    pub fn url(&self, variant: &str) -> String {
        format!("{}/whl/{variant}", self.origin)
    }

    /// `http://127.0.0.1:PORT`.
    pub fn origin(&self) -> &str {
        &self.origin
    }

    pub fn root(&self) -> &Path {
        &self.shared.root
    }

    /// Every request so far, as percent-decoded paths without the query
    /// (`/whl/cu124/torch/`, `/whl/cu124/torch-2.5.1+cu124-cp311-cp311-linux_x86_64.whl`).
    pub fn requests(&self) -> Vec<String> {
        lock(&self.shared.requests).clone()
    }

    pub fn clear_requests(&self) {
        lock(&self.shared.requests).clear();
    }

    /// Apply `fault` to every request for `path` (exact, or a prefix ending in `*`, matched
    /// against the decoded path as [`IndexServer::requests`] shows it).
    pub fn fault(&self, path: &str, fault: Fault) {
        lock(&self.shared.faults).push(FaultRule { pattern: path.into(), fault, remaining: None });
    }

    /// Like [`IndexServer::fault`] for the next `times` matching requests only (a transient error).
    pub fn fault_times(&self, path: &str, fault: Fault, times: usize) {
        lock(&self.shared.faults).push(FaultRule { pattern: path.into(), fault, remaining: Some(times) });
    }

    pub fn clear_faults(&self) {
        lock(&self.shared.faults).clear();
    }
}

impl Drop for IndexServer {
    fn drop(&mut self) {
        self.shared.stop.store(true, Ordering::SeqCst);
        if let Some(t) = self.accept.take() {
            let _ = t.join();
        }
    }
}

/// Read one request head, answer it, close the connection.
fn serve(shared: &Shared, mut sock: TcpStream) {
    let _ = sock.set_nonblocking(false);
    let _ = sock.set_read_timeout(Some(Duration::from_secs(10)));
    let mut head = Vec::new();
    let mut buf = [0u8; 4096];
    while !head.windows(4).any(|w| w == b"\r\n\r\n") && head.len() < 65536 {
        match sock.read(&mut buf) {
            Ok(0) | Err(_) => return,
            Ok(n) => head.extend_from_slice(&buf[..n]),
        }
    }
    let head = String::from_utf8_lossy(&head);
    let url = head.lines().next().and_then(|l| l.split(' ').nth(1)).unwrap_or("/").to_string();
    let range = head.lines().find_map(|l| {
        let (k, v) = l.split_once(':')?;
        if !k.trim().eq_ignore_ascii_case("range") {
            return None;
        }
        let spec = v.trim().strip_prefix("bytes=")?;
        let (a, b) = spec.split_once('-')?;
        Some((a.trim().parse::<usize>().ok()?, b.trim().parse::<usize>().ok()))
    });
    let (reply, pace) = handle(shared, &url);
    let reply = match (reply, range) {
        (Reply::Bytes { status: 200, content_type, body }, Some((start, end))) if start < body.len() => {
            let end = end.map(|e| e.min(body.len() - 1)).unwrap_or(body.len() - 1);
            let total = body.len();
            Reply::Partial { content_type, body: body[start..=end].to_vec(), start, total }
        }
        (r, _) => r,
    };
    let _ = send(&mut sock, reply, pace, &shared.stop);
    let _ = sock.flush();
    let _ = sock.shutdown(std::net::Shutdown::Both);
}

/// How the body goes out: at once, or limited (bytes per second, bytes before closing).
#[derive(Debug, Clone, Copy, Default)]
struct Pace {
    bytes_per_sec: Option<u64>,
    close_after: Option<usize>,
}

fn handle(shared: &Shared, url: &str) -> (Reply, Pace) {
    let raw = url.to_string();
    let path = percent_decode(raw.split(['?', '#']).next().unwrap_or(""));
    lock(&shared.requests).push(path.clone());

    let fault = {
        let mut faults = lock(&shared.faults);
        let mut found = None;
        for rule in faults.iter_mut() {
            if rule.matches(&path) && rule.remaining != Some(0) {
                if let Some(n) = rule.remaining.as_mut() {
                    *n -= 1;
                }
                found = Some(rule.fault.clone());
                break;
            }
        }
        found
    };
    let normal = || route(shared, &path);
    let reply = match fault {
        Some(Fault::CloseAfter(n)) => return (normal(), Pace { close_after: Some(n), ..Pace::default() }),
        Some(Fault::Throttle(bps)) => return (normal(), Pace { bytes_per_sec: Some(bps.max(1)), ..Pace::default() }),
        None => normal(),
        Some(Fault::NotFound) => text(404, "Not Found"),
        Some(Fault::ServerError) => text(500, "Internal Server Error"),
        Some(Fault::Status(code)) => text(code, ""),
        Some(Fault::Delay(d)) => {
            let until = Instant::now() + d;
            while Instant::now() < until && !shared.stop.load(Ordering::SeqCst) {
                thread::sleep(Duration::from_millis(10).min(until.saturating_duration_since(Instant::now())));
            }
            normal()
        }
        Some(Fault::Garbage) => {
            let len = match normal() {
                Reply::Bytes { body, .. } => body.len().max(64),
                _ => 4096,
            };
            let junk: Vec<u8> = (0..len).map(|i| (i as u8).wrapping_mul(37).wrapping_add(0x8b)).collect();
            Reply::Bytes { status: 200, content_type: "application/octet-stream", body: junk }
        }
        Some(Fault::Redirect(to)) => Reply::Redirect(to),
    };
    (reply, Pace::default())
}

enum Reply {
    Bytes {
        status: u16,
        content_type: &'static str,
        body: Vec<u8>,
    },
    /// 206: `body` is bytes `start..` of a `total`-byte file.
    Partial {
        content_type: &'static str,
        body: Vec<u8>,
        start: usize,
        total: usize,
    },
    Redirect(String),
}

fn text(status: u16, body: &str) -> Reply {
    Reply::Bytes { status, content_type: "text/plain", body: body.as_bytes().to_vec() }
}

fn html(body: String) -> Reply {
    Reply::Bytes { status: 200, content_type: "text/html", body: body.into_bytes() }
}

fn send(sock: &mut TcpStream, reply: Reply, pace: Pace, stop: &AtomicBool) -> std::io::Result<()> {
    let (status, extra, body) = match reply {
        Reply::Bytes { status, content_type, body } => {
            let ranges = if content_type == "application/octet-stream" { "Accept-Ranges: bytes\r\n" } else { "" };
            (status, format!("Content-Type: {content_type}\r\n{ranges}"), body)
        }
        Reply::Partial { content_type, body, start, total } => {
            let end = start + body.len().saturating_sub(1);
            (
                206,
                format!(
                    "Content-Type: {content_type}\r\nAccept-Ranges: bytes\r\nContent-Range: bytes {start}-{end}/{total}\r\n"
                ),
                body,
            )
        }
        Reply::Redirect(to) => (302, format!("Location: {to}\r\n"), Vec::new()),
    };
    let reason = match status {
        200 => "OK",
        206 => "Partial Content",
        302 => "Found",
        404 => "Not Found",
        500 => "Internal Server Error",
        _ => "Status",
    };
    let head =
        format!("HTTP/1.1 {status} {reason}\r\n{extra}Content-Length: {}\r\nConnection: close\r\n\r\n", body.len());
    sock.write_all(head.as_bytes())?;
    let limit = pace.close_after.unwrap_or(body.len()).min(body.len());
    let Some(bps) = pace.bytes_per_sec else { return sock.write_all(&body[..limit]) };
    // Paced: a chunk every 50 ms, so a second holds `bps` bytes.
    let chunk = ((bps / 20).max(1)) as usize;
    let mut sent = 0;
    while sent < limit && !stop.load(Ordering::SeqCst) {
        let n = chunk.min(limit - sent);
        sock.write_all(&body[sent..sent + n])?;
        sent += n;
        thread::sleep(Duration::from_millis(50));
    }
    Ok(())
}

/// The normal answer for `path`.
fn route(shared: &Shared, path: &str) -> Reply {
    let Some(rest) = path.strip_prefix("/whl") else {
        return text(404, "Not Found");
    };
    let parts: Vec<&str> = rest.split('/').filter(|s| !s.is_empty()).collect();
    match parts.as_slice() {
        [] => html(listing("variants", subdirs(&shared.root).iter().map(|v| (format!("{v}/"), v.clone())).collect())),
        [variant] if !variant.ends_with(".whl") => {
            let dir = shared.root.join(variant);
            if !dir.is_dir() {
                return text(404, "Not Found");
            }
            let mut names: Vec<String> = wheels_in(&dir).iter().map(|f| normalize(dist_name(f))).collect();
            names.sort();
            names.dedup();
            html(listing(variant, names.into_iter().map(|n| (format!("{n}/"), n)).collect()))
        }
        [variant, file] if file.ends_with(".whl") => {
            let p = shared.root.join(variant).join(file);
            if !safe_component(variant) || !safe_component(file) {
                return text(404, "Not Found");
            }
            match std::fs::read(&p) {
                Ok(body) => Reply::Bytes { status: 200, content_type: "application/octet-stream", body },
                Err(_) => text(404, "Not Found"),
            }
        }
        [variant, pkg] => project_page(shared, variant, pkg),
        _ => text(404, "Not Found"),
    }
}

fn safe_component(s: &str) -> bool {
    !s.contains("..") && !s.contains('\\')
}

fn project_page(shared: &Shared, variant: &str, pkg: &str) -> Reply {
    if !safe_component(variant) || !safe_component(pkg) {
        return text(404, "Not Found");
    }
    let dir = shared.root.join(variant);
    let want = normalize(pkg);
    let mut files: Vec<String> = wheels_in(&dir).into_iter().filter(|f| normalize(dist_name(f)) == want).collect();
    if files.is_empty() {
        return text(404, "Not Found");
    }
    files.sort();
    let mut out = String::from("<!DOCTYPE html>\n<html>\n  <body>\n");
    out.push_str(&format!("    <h1>Links for {want}</h1>\n"));
    for f in files {
        let fragment = match sha256_of(shared, &dir.join(&f)) {
            Some(h) => format!("#sha256={h}"),
            None => String::new(),
        };
        out.push_str(&format!("    <a href=\"/whl/{variant}/{}{fragment}\">{f}</a><br/>\n", f.replace('+', "%2B")));
    }
    out.push_str("  </body>\n</html>\n<!--TIMESTAMP 1730419200-->\n");
    html(out)
}

fn listing(title: &str, links: Vec<(String, String)>) -> String {
    let mut out = String::from("<!DOCTYPE html>\n<html>\n  <body>\n");
    out.push_str(&format!("    <h1>Links for {title}</h1>\n"));
    for (href, text) in links {
        out.push_str(&format!("    <a href=\"{href}\">{text}</a><br/>\n"));
    }
    out.push_str("  </body>\n</html>\n");
    out
}

fn subdirs(root: &Path) -> Vec<String> {
    let mut out: Vec<String> = std::fs::read_dir(root)
        .into_iter()
        .flatten()
        .flatten()
        .filter(|e| e.path().is_dir())
        .filter_map(|e| e.file_name().into_string().ok())
        .collect();
    out.sort();
    out
}

fn wheels_in(dir: &Path) -> Vec<String> {
    std::fs::read_dir(dir)
        .into_iter()
        .flatten()
        .flatten()
        .filter_map(|e| e.file_name().into_string().ok())
        .filter(|n| n.ends_with(".whl"))
        .collect()
}

/// The distribution name of a wheel file name ("torch-2.5.1+cpu-...whl" -> "torch").
fn dist_name(file: &str) -> &str {
    file.split('-').next().unwrap_or(file)
}

/// PEP 503 normalisation: runs of `-`, `_`, `.` become `-`, lowercased.
pub fn normalize(name: &str) -> String {
    let mut out = String::with_capacity(name.len());
    let mut sep = false;
    for c in name.chars() {
        if matches!(c, '-' | '_' | '.') {
            sep = true;
        } else {
            if sep && !out.is_empty() {
                out.push('-');
            }
            sep = false;
            out.extend(c.to_lowercase());
        }
    }
    out
}

fn sha256_of(shared: &Shared, path: &Path) -> Option<String> {
    let meta = std::fs::metadata(path).ok()?;
    let key = (meta.modified().ok()?, meta.len());
    if let Some((m, l, h)) = lock(&shared.hashes).get(path)
        && (*m, *l) == key
    {
        return Some(h.clone());
    }
    let mut file = std::fs::File::open(path).ok()?;
    let mut hasher = Sha256::new();
    let mut buf = vec![0u8; 64 * 1024];
    loop {
        let n = file.read(&mut buf).ok()?;
        if n == 0 {
            break;
        }
        hasher.update(&buf[..n]);
    }
    let hex: String = hasher.finalize().iter().map(|b| format!("{b:02x}")).collect();
    lock(&shared.hashes).insert(path.to_path_buf(), (key.0, key.1, hex.clone()));
    Some(hex)
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
