//! Mirrors of every layout on 127.0.0.1: a PEP 503 simple index, a flat directory of wheels
//! per variant (what users pass to `pip -f`), the single `torch_stable.html` page, and the
//! broken ones an `auto` probe must skip (hanging, 403, HTML instead of a wheel). In memory:
//! routes from path to reply; wheel bodies are bytes the test chooses. A byte range of a
//! wheel is honoured (206), as a probe's ranged GET (`Range: bytes=0-`) expects. Stopped on
//! drop. A layer over [`super::http`]: this file only maps a layout to routes.

use std::collections::HashMap;
use std::time::Duration;

use sha2::{Digest, Sha256};

use super::http::{Answer, HttpServer, Pace, Reply, Request, Span, requested_span};

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
    /// Pages are right, but wheel URLs answer 200 with an empty body.
    EmptyWheels,
    /// Pages answer after this delay; wheels trickle at this many bytes per second.
    Slow(Duration, u64),
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

impl Route {
    fn reply(&self) -> Reply {
        Reply::typed(self.status, self.content_type, self.body.clone())
    }
}

/// A running mirror. See the module docs.
pub struct MirrorServer {
    layout: Layout,
    http: HttpServer,
}

impl MirrorServer {
    /// Serve `wheels` in `layout`, behaving as `behaviour`.
    pub fn start(layout: Layout, wheels: &[Wheel], behaviour: Behaviour) -> MirrorServer {
        let routes = routes(layout, wheels);
        let http = HttpServer::start("mirror-server", move |req, _| answer(&routes, behaviour, req))
            .expect("listen on 127.0.0.1");
        MirrorServer { layout, http }
    }

    /// The URL a user would pass as `--index-url` / `--mirror` for this layout.
    pub fn index_url(&self) -> String {
        let origin = self.http.origin();
        match self.layout {
            Layout::Simple => format!("{origin}/whl"),
            Layout::Flat => format!("{origin}/pytorch-wheels"),
            Layout::Stable => format!("{origin}/whl/torch_stable.html"),
            Layout::Pypi => format!("{origin}/simple"),
        }
    }

    pub fn requests(&self) -> Vec<String> {
        self.http.paths()
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

fn answer(routes: &HashMap<String, Route>, behaviour: Behaviour, req: &Request) -> Answer {
    let route = match behaviour {
        Behaviour::Hang => return Answer::Silence(None),
        Behaviour::Forbidden => {
            Route { status: 403, content_type: "text/html", body: b"<h1>403 Forbidden</h1>".to_vec() }
        }
        _ => match routes.get(&req.path) {
            Some(_) if behaviour == Behaviour::HtmlForWheels && req.path.ends_with(".whl") => {
                html("<html><body><a href=\"/login\">Please log in</a></body></html>".into())
            }
            Some(r) if behaviour == Behaviour::EmptyWheels && req.path.ends_with(".whl") => {
                Route { body: Vec::new(), ..r.clone() }
            }
            Some(r) => r.clone(),
            None => Route { status: 404, content_type: "text/plain", body: b"Not Found".to_vec() },
        },
    };
    let mut reply = route.reply();
    if route.status != 200 || route.content_type != "application/octet-stream" {
        if let Behaviour::Slow(delay, _) = behaviour {
            std::thread::sleep(delay);
        }
        return reply.into();
    }
    if let Behaviour::Slow(_, bps) = behaviour {
        reply = reply.paced(Pace { bytes_per_sec: Some(bps), ..Pace::default() });
    }
    match requested_span(req, route.body.len() as u64, |_| true) {
        Span::Part(a, b) => reply.partial(a, b).into(),
        Span::Whole | Span::Unsatisfiable => reply.into(),
    }
}
