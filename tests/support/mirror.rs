//! Mirrors of every layout on 127.0.0.1: a PEP 503 simple index, a flat directory of wheels
//! per variant (what users pass to `pip -f`), the single `torch_stable.html` page, and the
//! broken ones an `auto` probe must skip (hanging, 403, HTML instead of a wheel). In memory:
//! routes from path to reply; wheel bodies are bytes the test chooses. `Range: bytes=N-`
//! is honoured (206), as a probe's ranged GET expects. Stopped on drop.

use std::collections::HashMap;
use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::{self, JoinHandle};
use std::time::Duration;

use sha2::{Digest, Sha256};

/// How a mirror lays out its wheels.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Layout {
    /// `/whl/<variant>/<package>/` pages with `#sha256=` (download.pytorch.org's shape).
    Simple,
    /// `/pytorch-wheels/<variant>/` links every wheel, relative hrefs, no hashes.
    Flat,
    /// `/whl/torch_stable.html` links `<variant>/<file>` for every variant, no hashes.
    Stable,
    /// PyPI's shape: `/simple/<package>/` lists every release (no variant paths), files
    /// under `/packages/`, with `#sha256=`. The wheels' `variant` is ignored.
    Pypi,
}

/// How a mirror misbehaves.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Behaviour {
    Normal,
    /// Accepts the connection and never answers.
    Hang,
    /// 403 Forbidden for everything.
    Forbidden,
    /// Pages are right, but wheel URLs answer 200 text/html (a login or error page).
    HtmlForWheels,
}

/// One wheel to serve: (variant, file name, body).
#[derive(Debug, Clone)]
pub struct Wheel {
    pub variant: String,
    pub filename: String,
    pub body: Vec<u8>,
}

impl Wheel {
    pub fn new(variant: &str, filename: &str, body: &[u8]) -> Wheel {
        Wheel { variant: variant.into(), filename: filename.into(), body: body.to_vec() }
    }
    pub fn sha256(&self) -> String {
        Sha256::digest(&self.body).iter().map(|b| format!("{b:02x}")).collect()
    }
    fn package(&self) -> &str {
        self.filename.split('-').next().unwrap_or("")
    }
}

#[derive(Clone)]
struct Route {
    status: u16,
    content_type: &'static str,
    body: Vec<u8>,
}

struct Shared {
    routes: HashMap<String, Route>,
    behaviour: Behaviour,
    requests: Mutex<Vec<String>>,
    stop: AtomicBool,
}

/// A running mirror. See the module docs.
pub struct MirrorServer {
    origin: String,
    layout: Layout,
    shared: Arc<Shared>,
    accept: Option<JoinHandle<()>>,
}

impl MirrorServer {
    /// Serve `wheels` in `layout`, behaving as `behaviour`.
    pub fn start(layout: Layout, wheels: &[Wheel], behaviour: Behaviour) -> MirrorServer {
        let listener = TcpListener::bind("127.0.0.1:0").expect("listen on 127.0.0.1");
        let port = listener.local_addr().expect("local addr").port();
        listener.set_nonblocking(true).expect("nonblocking");
        let shared = Arc::new(Shared {
            routes: routes(layout, wheels),
            behaviour,
            requests: Mutex::default(),
            stop: AtomicBool::new(false),
        });
        let accept = {
            let shared = Arc::clone(&shared);
            thread::spawn(move || {
                while !shared.stop.load(Ordering::SeqCst) {
                    match listener.accept() {
                        Ok((sock, _)) => {
                            let shared = Arc::clone(&shared);
                            thread::spawn(move || serve(&shared, sock));
                        }
                        Err(_) => thread::sleep(Duration::from_millis(2)),
                    }
                }
            })
        };
        MirrorServer { origin: format!("http://127.0.0.1:{port}"), layout, shared, accept: Some(accept) }
    }

    /// The URL a user would pass as `--index-url` / `--mirror` for this layout.
    pub fn index_url(&self) -> String {
        match self.layout {
            Layout::Simple => format!("{}/whl", self.origin),
            Layout::Flat => format!("{}/pytorch-wheels", self.origin),
            Layout::Stable => format!("{}/whl/torch_stable.html", self.origin),
            Layout::Pypi => format!("{}/simple", self.origin),
        }
    }

    pub fn requests(&self) -> Vec<String> {
        self.shared.requests.lock().unwrap_or_else(|e| e.into_inner()).clone()
    }
}

impl Drop for MirrorServer {
    fn drop(&mut self) {
        self.shared.stop.store(true, Ordering::SeqCst);
        if let Some(t) = self.accept.take() {
            let _ = t.join();
        }
    }
}

fn html(body: String) -> Route {
    Route { status: 200, content_type: "text/html", body: body.into_bytes() }
}

fn page(title: &str, links: &[(String, String)]) -> String {
    let mut out = format!("<!DOCTYPE html>\n<html>\n  <body>\n    <h1>{title}</h1>\n");
    for (href, text) in links {
        out.push_str(&format!("    <a href=\"{href}\">{text}</a><br/>\n"));
    }
    out.push_str("  </body>\n</html>\n");
    out
}

fn routes(layout: Layout, wheels: &[Wheel]) -> HashMap<String, Route> {
    let mut r = HashMap::new();
    let mut variants: Vec<&str> = wheels.iter().map(|w| w.variant.as_str()).collect();
    variants.sort();
    variants.dedup();
    let enc = |f: &str| f.replace('+', "%2B");
    match layout {
        Layout::Simple => {
            let links: Vec<(String, String)> = variants.iter().map(|v| (format!("{v}/"), v.to_string())).collect();
            r.insert("/whl/".into(), html(page("variants", &links)));
            for v in &variants {
                let of_v: Vec<&Wheel> = wheels.iter().filter(|w| w.variant == *v).collect();
                let mut pkgs: Vec<&str> = of_v.iter().map(|w| w.package()).collect();
                pkgs.sort();
                pkgs.dedup();
                let links: Vec<(String, String)> = pkgs.iter().map(|p| (format!("{p}/"), p.to_string())).collect();
                r.insert(format!("/whl/{v}/"), html(page(v, &links)));
                for p in pkgs {
                    let links: Vec<(String, String)> = of_v
                        .iter()
                        .filter(|w| w.package() == p)
                        .map(|w| (format!("/whl/{v}/{}#sha256={}", enc(&w.filename), w.sha256()), w.filename.clone()))
                        .collect();
                    r.insert(format!("/whl/{v}/{p}/"), html(page(&format!("Links for {p}"), &links)));
                }
            }
            for w in wheels {
                r.insert(format!("/whl/{}/{}", w.variant, w.filename), wheel_route(w));
            }
        }
        Layout::Flat => {
            let links: Vec<(String, String)> = variants.iter().map(|v| (format!("{v}/"), format!("{v}/"))).collect();
            r.insert("/pytorch-wheels/".into(), html(page("Index of /pytorch-wheels/", &links)));
            for v in &variants {
                let mut links = vec![("../".to_string(), "../".to_string())];
                links.extend(wheels.iter().filter(|w| w.variant == *v).map(|w| (enc(&w.filename), w.filename.clone())));
                r.insert(
                    format!("/pytorch-wheels/{v}/"),
                    html(page(&format!("Index of /pytorch-wheels/{v}/"), &links)),
                );
            }
            for w in wheels {
                r.insert(format!("/pytorch-wheels/{}/{}", w.variant, w.filename), wheel_route(w));
            }
        }
        Layout::Pypi => {
            let mut pkgs: Vec<&str> = wheels.iter().map(|w| w.package()).collect();
            pkgs.sort();
            pkgs.dedup();
            for p in pkgs {
                let links: Vec<(String, String)> = wheels
                    .iter()
                    .filter(|w| w.package() == p)
                    .map(|w| (format!("/packages/{}#sha256={}", enc(&w.filename), w.sha256()), w.filename.clone()))
                    .collect();
                r.insert(format!("/simple/{p}/"), html(page(&format!("Links for {p}"), &links)));
            }
            for w in wheels {
                r.insert(format!("/packages/{}", w.filename), wheel_route(w));
            }
        }
        Layout::Stable => {
            let links: Vec<(String, String)> = wheels
                .iter()
                .map(|w| (format!("{}/{}", w.variant, enc(&w.filename)), format!("{}/{}", w.variant, w.filename)))
                .collect();
            r.insert("/whl/torch_stable.html".into(), html(page("", &links)));
            for w in wheels {
                r.insert(format!("/whl/{}/{}", w.variant, w.filename), wheel_route(w));
            }
        }
    }
    r
}

fn wheel_route(w: &Wheel) -> Route {
    Route { status: 200, content_type: "application/octet-stream", body: w.body.clone() }
}

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
    let head = String::from_utf8_lossy(&head).into_owned();
    let raw = head.lines().next().and_then(|l| l.split(' ').nth(1)).unwrap_or("/").to_string();
    let path = raw.replace("%2B", "+").replace("%2b", "+");
    shared.requests.lock().unwrap_or_else(|e| e.into_inner()).push(path.clone());
    let range_from = head
        .lines()
        .find_map(|l| l.to_ascii_lowercase().strip_prefix("range: bytes=").map(str::to_string))
        .and_then(|r| r.split('-').next().and_then(|n| n.trim().parse::<usize>().ok()));
    let route = match shared.behaviour {
        Behaviour::Hang => {
            while !shared.stop.load(Ordering::SeqCst) {
                thread::sleep(Duration::from_millis(20));
            }
            return;
        }
        Behaviour::Forbidden => {
            Route { status: 403, content_type: "text/html", body: b"<h1>403 Forbidden</h1>".to_vec() }
        }
        _ => match shared.routes.get(&path) {
            Some(r) if shared.behaviour == Behaviour::HtmlForWheels && path.ends_with(".whl") => {
                let _ = r;
                html("<html><body><a href=\"/login\">Please log in</a></body></html>".into())
            }
            Some(r) => r.clone(),
            None => Route { status: 404, content_type: "text/plain", body: b"Not Found".to_vec() },
        },
    };
    let (status, body) = match range_from {
        Some(from) if route.status == 200 && route.content_type == "application/octet-stream" => {
            (206, route.body.get(from..).unwrap_or(&[]).to_vec())
        }
        _ => (route.status, route.body),
    };
    let reason = match status {
        200 => "OK",
        206 => "Partial Content",
        403 => "Forbidden",
        404 => "Not Found",
        _ => "Status",
    };
    let head = format!(
        "HTTP/1.1 {status} {reason}\r\nContent-Type: {}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
        route.content_type,
        body.len()
    );
    let _ = sock.write_all(head.as_bytes());
    let _ = sock.write_all(&body);
    let _ = sock.flush();
}
