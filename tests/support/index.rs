//! A local PEP 503 index in the shape of download.pytorch.org/whl, on 127.0.0.1, for real pip.
//!
//! Serves a directory tree `<root>/<variant>/<file>.whl` as
//! `<base>/<variant>/` (package links), `<base>/<variant>/<pkg>/` (the project page in the
//! exact HTML of pytorch/test-infra's manage_v2.py: root-relative hrefs with `%2B` and a
//! `#sha256=` fragment) and the wheel files, where `<base>` is `http://127.0.0.1:PORT/whl`.
//! Records every request path; per-path faults (status codes, delays, garbage, redirects, a
//! connection cut or slowed mid-file). Stopped on drop. A layer over [`super::http`], which
//! does the HTTP, the byte ranges and the throttling: this file only maps a path to a page or a
//! wheel, and a fault to what the core should do.

use std::collections::HashMap;
use std::io::Read;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime};

use anyhow::Result;
use sha2::{Digest, Sha256};

use super::http::{Answer, Body, Ctx, HttpServer, Pace, Reply, Request, Rules, Span, lock, requested_span};

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

#[derive(Debug, Default)]
struct State {
    root: PathBuf,
    faults: Rules<Fault>,
    hashes: Mutex<HashMap<PathBuf, (SystemTime, u64, String)>>,
}

/// The running index. See the module docs.
pub struct IndexServer {
    state: Arc<State>,
    http: HttpServer,
}

impl std::fmt::Debug for IndexServer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("IndexServer").field("origin", &self.origin()).field("root", &self.state.root).finish()
    }
}

impl IndexServer {
    /// Serve `root` on 127.0.0.1 at a free port.
    pub fn start(root: impl Into<PathBuf>) -> Result<IndexServer> {
        let state = Arc::new(State { root: root.into(), ..Default::default() });
        let http = {
            let state = Arc::clone(&state);
            HttpServer::start("index-server", move |req, ctx| answer(&state, req, ctx))?
        };
        Ok(IndexServer { state, http })
    }

    /// `http://127.0.0.1:PORT/whl`: append `/<variant>` for pip's `--index-url`.
    pub fn base_url(&self) -> String {
        format!("{}/whl", self.origin())
    }

    /// `<base>/<variant>`, ready for `--index-url`.
    pub fn url(&self, variant: &str) -> String {
        format!("{}/whl/{variant}", self.origin())
    }

    /// `http://127.0.0.1:PORT`.
    pub fn origin(&self) -> &str {
        self.http.origin()
    }

    pub fn root(&self) -> &Path {
        &self.state.root
    }

    /// Every request so far, as percent-decoded paths without the query
    /// (`/whl/cu124/torch/`, `/whl/cu124/torch-2.5.1+cu124-cp311-cp311-linux_x86_64.whl`).
    pub fn requests(&self) -> Vec<String> {
        self.http.paths()
    }

    pub fn clear_requests(&self) {
        self.http.clear_requests();
    }

    /// Apply `fault` to every request for `path` (exact, or a prefix ending in `*`, matched
    /// against the decoded path as [`IndexServer::requests`] shows it).
    pub fn fault(&self, path: &str, fault: Fault) {
        self.state.faults.add(path, fault, None);
    }

    /// Like [`IndexServer::fault`] for the next `times` matching requests only (a transient error).
    pub fn fault_times(&self, path: &str, fault: Fault, times: usize) {
        self.state.faults.add(path, fault, Some(times));
    }

    pub fn clear_faults(&self) {
        self.state.faults.clear();
    }
}

/// The fault's answer, or the normal one; a successful body honours one byte range (pip's
/// resume), ignoring If-Range (this index sends no validators).
fn answer(state: &State, req: &Request, ctx: &Ctx) -> Answer {
    let path = req.path.as_str();
    let normal = || route(state, path);
    let (reply, pace) = match state.faults.take(path) {
        None => (normal(), Pace::default()),
        Some(Fault::CloseAfter(n)) => (normal(), Pace { close_after: Some(n as u64), ..Pace::default() }),
        Some(Fault::Throttle(bps)) => (normal(), Pace { bytes_per_sec: Some(bps.max(1)), ..Pace::default() }),
        Some(Fault::NotFound) => return text(404, "Not Found").into(),
        Some(Fault::ServerError) => return text(500, "Internal Server Error").into(),
        Some(Fault::Status(code)) => return text(code, "").into(),
        Some(Fault::Delay(d)) => {
            ctx.sleep(d);
            (normal(), Pace::default())
        }
        Some(Fault::Garbage) => {
            let len = normal().body.len().max(64);
            let junk: Vec<u8> = (0..len).map(|i| (i as u8).wrapping_mul(37).wrapping_add(0x8b)).collect();
            (octets(Body::Bytes(junk)), Pace::default())
        }
        Some(Fault::Redirect(to)) => return Reply::redirect(&to).into(),
    };
    let reply = reply.paced(pace);
    if reply.status != 200 {
        return reply.into();
    }
    match requested_span(req, reply.body.len(), |_| true) {
        Span::Part(a, b) => reply.partial(a, b).into(),
        Span::Whole | Span::Unsatisfiable => reply.into(),
    }
}

fn text(status: u16, body: &str) -> Reply {
    Reply::typed(status, "text/plain", body.as_bytes().to_vec())
}

fn html(body: String) -> Reply {
    Reply::typed(200, "text/html", body.into_bytes())
}

/// A wheel (or garbage in its place): 200, `application/octet-stream`, `Accept-Ranges`.
fn octets(body: Body) -> Reply {
    Reply::with_body(200, body).header("Content-Type", "application/octet-stream").header("Accept-Ranges", "bytes")
}

/// The normal answer for `path`.
fn route(state: &State, path: &str) -> Reply {
    let Some(rest) = path.strip_prefix("/whl") else {
        return text(404, "Not Found");
    };
    let parts: Vec<&str> = rest.split('/').filter(|s| !s.is_empty()).collect();
    match parts.as_slice() {
        [] => html(listing("variants", subdirs(&state.root).iter().map(|v| (format!("{v}/"), v.clone())).collect())),
        [variant] if !variant.ends_with(".whl") => {
            let dir = state.root.join(variant);
            if !dir.is_dir() {
                return text(404, "Not Found");
            }
            let mut names: Vec<String> = wheels_in(&dir).iter().map(|f| normalize(dist_name(f))).collect();
            names.sort();
            names.dedup();
            html(listing(variant, names.into_iter().map(|n| (format!("{n}/"), n)).collect()))
        }
        [variant, file] if file.ends_with(".whl") => {
            let p = state.root.join(variant).join(file);
            if !safe_component(variant) || !safe_component(file) {
                return text(404, "Not Found");
            }
            match std::fs::File::open(&p).and_then(|f| Ok((f.metadata()?.len(), f))) {
                Ok((len, file)) if p.is_file() => octets(Body::File { file, len }),
                _ => text(404, "Not Found"),
            }
        }
        [variant, pkg] => project_page(state, variant, pkg),
        _ => text(404, "Not Found"),
    }
}

fn safe_component(s: &str) -> bool {
    !s.contains("..") && !s.contains('\\')
}

fn project_page(state: &State, variant: &str, pkg: &str) -> Reply {
    if !safe_component(variant) || !safe_component(pkg) {
        return text(404, "Not Found");
    }
    let dir = state.root.join(variant);
    let want = normalize(pkg);
    let mut files: Vec<String> = wheels_in(&dir).into_iter().filter(|f| normalize(dist_name(f)) == want).collect();
    if files.is_empty() {
        return text(404, "Not Found");
    }
    files.sort();
    let mut out = String::from("<!DOCTYPE html>\n<html>\n  <body>\n");
    out.push_str(&format!("    <h1>Links for {want}</h1>\n"));
    for f in files {
        let fragment = match sha256_of(state, &dir.join(&f)) {
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

fn sha256_of(state: &State, path: &Path) -> Option<String> {
    let meta = std::fs::metadata(path).ok()?;
    let key = (meta.modified().ok()?, meta.len());
    if let Some((m, l, h)) = lock(&state.hashes).get(path)
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
    lock(&state.hashes).insert(path.to_path_buf(), (key.0, key.1, hex.clone()));
    Some(hex)
}
