//! Simple-index pages → wheel listings: PEP 503 HTML (download.pytorch.org's generator) and
//! PEP 691 JSON. Pure functions over text: no network, never panics on garbage.
//!
//! The HTML side is a small anchor scanner, not an HTML5 parser: the pages are
//! machine-generated (`<a href="...#sha256=..." data-...>file.whl</a><br/>`), and anything it
//! cannot read is skipped rather than guessed.

use std::collections::HashSet;

use url::Url;

use crate::compat::available::{VariantListing, WheelFile};
use crate::compat::wheel_name::{WheelName, normalize_name, percent_decode};

/// One `<a>` element: its attributes (names lowercased, values unescaped) and its text.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Anchor {
    pub attrs: Vec<(String, String)>,
    pub text: String,
}

impl Anchor {
    pub fn attr(&self, name: &str) -> Option<&str> {
        self.attrs.iter().find(|(k, _)| k == name).map(|(_, v)| v.as_str())
    }
}

/// The anchors of an HTML page and the `<base href>` if it has one.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Anchors {
    pub anchors: Vec<Anchor>,
    pub base_href: Option<String>,
}

/// Why a page could not be read as an index page.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PageError {
    #[error("not an index page (no links found)")]
    NoLinks,
    /// Links, but none to a wheel of the package: a portal or error page served with 200, or
    /// a project with nothing usable. Not cached; the planner uses bundled data instead.
    #[error("no {0} wheels on the page (not an index page?)")]
    NoWheels(String),
    #[error("not a PEP 691 page: {0}")]
    BadJson(String),
    #[error("unsupported simple API version {0} (torchup reads 1.x)")]
    ApiVersion(String),
}

/// Scan HTML for `<a ...>text</a>` and `<base href>`, skipping comments.
pub fn parse_anchors(html: &str) -> Anchors {
    let lower = html.to_ascii_lowercase();
    let lb = lower.as_bytes();
    let mut out = Anchors::default();
    let mut i = 0;
    while let Some(rel) = lower.get(i..).and_then(|s| s.find('<')) {
        let pos = i + rel;
        let rest = &lb[pos..];
        if rest.starts_with(b"<!--") {
            i = lower[pos + 4..].find("-->").map_or(lb.len(), |e| pos + 4 + e + 3);
            continue;
        }
        let tag = if starts_tag(rest, b"<a") {
            Some(2)
        } else if starts_tag(rest, b"<base") {
            Some(5)
        } else {
            None
        };
        let Some(name_len) = tag else {
            i = pos + 1;
            continue;
        };
        let (attrs, tag_end) = parse_attrs(html, pos + name_len);
        if name_len == 5 {
            if out.base_href.is_none()
                && let Some((_, v)) = attrs.iter().find(|(k, _)| k == "href")
            {
                out.base_href = Some(v.clone());
            }
            i = tag_end;
            continue;
        }
        // Text runs to `</a`; an unclosed anchor ends at the next tag.
        let close =
            lower[tag_end..].find("</a").or_else(|| lower[tag_end..].find('<')).map_or(lb.len(), |e| tag_end + e);
        let text = unescape(&strip_tags(html.get(tag_end..close).unwrap_or(""))).trim().to_string();
        out.anchors.push(Anchor { attrs, text });
        i = close.max(pos + 1);
    }
    out
}

/// `<a` or `<base` followed by whitespace, `>` or `/` (so `<abbr>` is not an anchor).
fn starts_tag(rest: &[u8], name: &[u8]) -> bool {
    rest.starts_with(name) && rest.get(name.len()).is_none_or(|b| b.is_ascii_whitespace() || *b == b'>' || *b == b'/')
}

/// Parse attributes from `start` (just after the tag name) to the closing `>`.
/// Returns them and the index just past the `>` (or the end of input).
fn parse_attrs(html: &str, start: usize) -> (Vec<(String, String)>, usize) {
    let b = html.as_bytes();
    let mut attrs = Vec::new();
    let mut j = start;
    loop {
        while j < b.len() && (b[j].is_ascii_whitespace() || b[j] == b'/') {
            j += 1;
        }
        if j >= b.len() {
            return (attrs, b.len());
        }
        if b[j] == b'>' {
            return (attrs, j + 1);
        }
        let name_start = j;
        while j < b.len() && !b[j].is_ascii_whitespace() && !matches!(b[j], b'=' | b'>' | b'/') {
            j += 1;
        }
        if j == name_start {
            // A stray `=`: skip it so the loop always advances.
            j += 1;
            continue;
        }
        let name = html.get(name_start..j).unwrap_or("").to_ascii_lowercase();
        let mut k = j;
        while k < b.len() && b[k].is_ascii_whitespace() {
            k += 1;
        }
        let mut value = String::new();
        if k < b.len() && b[k] == b'=' {
            k += 1;
            while k < b.len() && b[k].is_ascii_whitespace() {
                k += 1;
            }
            if k < b.len() && (b[k] == b'"' || b[k] == b'\'') {
                let quote = b[k];
                let vstart = k + 1;
                let vend = b[vstart..].iter().position(|c| *c == quote).map_or(b.len(), |e| vstart + e);
                value = unescape(html.get(vstart..vend).unwrap_or(""));
                j = (vend + 1).min(b.len());
            } else {
                let vstart = k;
                while k < b.len() && !b[k].is_ascii_whitespace() && b[k] != b'>' {
                    k += 1;
                }
                value = unescape(html.get(vstart..k).unwrap_or(""));
                j = k;
            }
        }
        attrs.push((name, value));
    }
}

/// Drop any tags inside an anchor's text (`<a href=x><b>file</b></a>`).
fn strip_tags(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let mut in_tag = false;
    for c in s.chars() {
        match c {
            '<' => in_tag = true,
            '>' if in_tag => in_tag = false,
            _ if !in_tag => out.push(c),
            _ => {}
        }
    }
    out
}

/// Decode the HTML character references these pages use; unknown ones stay as written.
pub fn unescape(s: &str) -> String {
    if !s.contains('&') {
        return s.to_string();
    }
    let mut out = String::with_capacity(s.len());
    let mut rest = s;
    while let Some(amp) = rest.find('&') {
        out.push_str(&rest[..amp]);
        let after = &rest[amp + 1..];
        let semi = after.find(';').filter(|&n| n <= 10);
        let decoded = semi.and_then(|n| {
            let entity = &after[..n];
            let c = match entity {
                "amp" => Some('&'),
                "lt" => Some('<'),
                "gt" => Some('>'),
                "quot" => Some('"'),
                "apos" => Some('\''),
                "nbsp" => Some('\u{a0}'),
                _ => {
                    let num = entity.strip_prefix('#')?;
                    let code = match num.strip_prefix(['x', 'X']) {
                        Some(hex) => u32::from_str_radix(hex, 16).ok()?,
                        None => num.parse::<u32>().ok()?,
                    };
                    char::from_u32(code)
                }
            };
            c.map(|c| (c, n))
        });
        match decoded {
            Some((c, n)) => {
                out.push(c);
                rest = &after[n + 1..];
            }
            None => {
                out.push('&');
                rest = after;
            }
        }
    }
    out.push_str(rest);
    out
}

/// A PEP 503 HTML project page → the wheels of `package`, hrefs resolved against the final
/// page URL (or its `<base href>`), `#sha256=` moved into `sha256`, yanked files left out.
pub fn listing_from_html(
    html: &str,
    page_url: &Url,
    variant: &str,
    package: &str,
) -> Result<VariantListing, PageError> {
    let parsed = parse_anchors(html);
    if parsed.anchors.is_empty() {
        return Err(PageError::NoLinks);
    }
    let base = parsed.base_href.as_deref().and_then(|b| page_url.join(b).ok()).unwrap_or_else(|| page_url.clone());
    let want = normalize_name(package);
    let mut files: Vec<WheelFile> = Vec::new();
    let mut seen: HashSet<String> = HashSet::new();
    for a in &parsed.anchors {
        if a.attr("data-yanked").is_some() {
            continue;
        }
        let Some(href) = a.attr("href") else { continue };
        if let Some(f) = wheel_file(&base, href, Some(&a.text), None, Some(&want))
            && seen.insert(f.filename.clone())
        {
            files.push(f);
        }
    }
    if files.is_empty() {
        return Err(PageError::NoWheels(want));
    }
    Ok(VariantListing { variant: variant.to_string(), package: want, files })
}

/// Every wheel a page links to, of any package: a flat directory of wheels (what users
/// pass to `pip -f`, e.g. a mirror's `…/pytorch-wheels/cu124/`) or the single legacy
/// `torch_stable.html` page. A page with links but no wheels gives an empty list (a simple
/// index's variant page links to projects, not wheels); a page without links is an error.
pub fn wheels_from_html(html: &str, page_url: &Url) -> Result<Vec<WheelFile>, PageError> {
    let parsed = parse_anchors(html);
    if parsed.anchors.is_empty() {
        return Err(PageError::NoLinks);
    }
    let base = parsed.base_href.as_deref().and_then(|b| page_url.join(b).ok()).unwrap_or_else(|| page_url.clone());
    let mut seen: HashSet<String> = HashSet::new();
    let mut files = Vec::new();
    for a in &parsed.anchors {
        if a.attr("data-yanked").is_some() {
            continue;
        }
        let Some(href) = a.attr("href") else { continue };
        if let Some(f) = wheel_file(&base, href, Some(&a.text), None, None)
            && seen.insert(f.url.clone())
        {
            files.push(f);
        }
    }
    Ok(files)
}

/// The page links to `project`'s page (`<a href="torch/">torch</a>`): a simple index root.
pub fn links_to_project(html: &str, project: &str) -> bool {
    parse_anchors(html).anchors.iter().any(|a| {
        let href = a.attr("href").unwrap_or("").split(['#', '?']).next().unwrap_or("").trim_end_matches('/');
        href.rsplit('/').next() == Some(project) || a.text.trim().trim_end_matches('/') == project
    })
}

/// The variant a wheel of a multi-variant page belongs to: the directory it sits in
/// (`…/cu124/torch-2.5.1%2Bcu124-….whl`), else its local label (`+cu124`).
pub fn variant_of_file(f: &WheelFile) -> Option<String> {
    let dir = Url::parse(&f.url).ok().and_then(|u| {
        let mut segs: Vec<String> = u.path_segments()?.map(percent_decode).collect();
        segs.pop();
        segs.pop().filter(|s| is_variant_name(s))
    });
    dir.or_else(|| f.version.split_once('+').map(|(_, l)| l.to_string()).filter(|l| is_variant_name(l)))
}

/// A PEP 691 JSON project page → the same listing as [`listing_from_html`].
pub fn listing_from_json(
    body: &str,
    page_url: &Url,
    variant: &str,
    package: &str,
) -> Result<VariantListing, PageError> {
    let doc: serde_json::Value = serde_json::from_str(body).map_err(|e| PageError::BadJson(e.to_string()))?;
    check_api_version(&doc)?;
    let list =
        doc.get("files").and_then(|f| f.as_array()).ok_or_else(|| PageError::BadJson("no `files` list".into()))?;
    let want = normalize_name(package);
    let mut files: Vec<WheelFile> = Vec::new();
    let mut seen: HashSet<String> = HashSet::new();
    for f in list {
        let yanked = match f.get("yanked") {
            Some(serde_json::Value::Bool(b)) => *b,
            Some(serde_json::Value::String(_)) => true,
            _ => false,
        };
        let (Some(url), false) = (f.get("url").and_then(|u| u.as_str()), yanked) else { continue };
        let name = f.get("filename").and_then(|n| n.as_str());
        let sha = f.get("hashes").and_then(|h| h.get("sha256")).and_then(|s| s.as_str());
        if let Some(w) = wheel_file(page_url, url, name, sha, Some(&want))
            && seen.insert(w.filename.clone())
        {
            files.push(w);
        }
    }
    if files.is_empty() {
        return Err(PageError::NoWheels(want));
    }
    Ok(VariantListing { variant: variant.to_string(), package: want, files })
}

fn check_api_version(doc: &serde_json::Value) -> Result<(), PageError> {
    if !doc.is_object() {
        return Err(PageError::BadJson("not a JSON object".into()));
    }
    match doc.get("meta").and_then(|m| m.get("api-version")).and_then(|v| v.as_str()) {
        Some(v) if v.split('.').next() != Some("1") => Err(PageError::ApiVersion(v.to_string())),
        _ => Ok(()),
    }
}

/// One link → a wheel of `want`, or None (not a wheel, another package, unusable URL).
fn wheel_file(base: &Url, href: &str, text: Option<&str>, sha: Option<&str>, want: Option<&str>) -> Option<WheelFile> {
    let mut url = base.join(href.trim()).ok()?;
    if !matches!(url.scheme(), "http" | "https") {
        return None;
    }
    let fragment_sha = url.fragment().and_then(|f| f.strip_prefix("sha256=")).map(str::to_string);
    url.set_fragment(None);
    let from_url = || url.path_segments().and_then(|mut s| s.next_back()).map(percent_decode);
    // torch_stable.html's anchor text is "cu121/torch-2.5.1%2Bcu121-….whl": keep the file part.
    let text = text.map(|t| percent_decode(t.trim().rsplit('/').next().unwrap_or("")));
    let (filename, parsed) = match text.filter(|t| !t.is_empty()).map(|t| {
        let w = WheelName::parse(&t);
        (t, w)
    }) {
        Some((t, Ok(w))) => (t, w),
        _ => {
            let name = from_url()?;
            let w = WheelName::parse(&name).ok()?;
            (name, w)
        }
    };
    if want.is_some_and(|w| parsed.name != w) {
        return None;
    }
    let sha256 = sha
        .map(str::to_string)
        .or(fragment_sha)
        .map(|s| s.to_ascii_lowercase())
        .filter(|s| crate::compat::available::is_sha256_hex(s));
    Some(WheelFile {
        filename,
        name: parsed.name,
        version: parsed.version.to_string(),
        python_tag: parsed.python_tags.join("."),
        abi_tag: parsed.abi_tags.join("."),
        platform_tag: parsed.platform_tags.join("."),
        url: url.to_string(),
        sha256,
    })
}

/// Variant directory names a base page links to (`cu128/`, `cpu/`, `rocm6.2/`), in a
/// stable order: cpu, cuda by version, then the rest by name.
pub fn variants_from_html(html: &str) -> Vec<String> {
    let names = parse_anchors(html).anchors.into_iter().filter_map(|a| {
        let from_text = a.text.trim().trim_end_matches('/').to_string();
        if is_variant_name(&from_text) {
            return Some(from_text);
        }
        let href = a.attr("href")?.split(['#', '?']).next()?.trim_end_matches('/');
        let last = href.rsplit('/').next()?.to_string();
        is_variant_name(&last).then_some(last)
    });
    sort_variants(names.collect())
}

/// A PEP 691 JSON root page (`{"projects":[{"name":..}]}`) → variant names among them.
pub fn variants_from_json(body: &str) -> Result<Vec<String>, PageError> {
    let doc: serde_json::Value = serde_json::from_str(body).map_err(|e| PageError::BadJson(e.to_string()))?;
    check_api_version(&doc)?;
    let projects = doc
        .get("projects")
        .and_then(|p| p.as_array())
        .ok_or_else(|| PageError::BadJson("no `projects` list".into()))?;
    let names = projects
        .iter()
        .filter_map(|p| p.get("name").and_then(|n| n.as_str()))
        .map(|n| n.trim_end_matches('/').to_string())
        .filter(|n| is_variant_name(n))
        .collect();
    Ok(sort_variants(names))
}

/// `cpu`, `xpu`, `cuNN`/`cuNNN`, `rocmX(.Y)*` — the directory names PyTorch publishes.
pub fn is_variant_name(s: &str) -> bool {
    if s == "cpu" || s == "xpu" {
        return true;
    }
    if s.starts_with("cu") {
        return crate::version::cuda_of_variant(s).is_some();
    }
    if let Some(v) = s.strip_prefix("rocm") {
        return !v.is_empty() && v.split('.').all(|p| !p.is_empty() && p.bytes().all(|b| b.is_ascii_digit()));
    }
    false
}

pub(crate) fn sort_variants(mut v: Vec<String>) -> Vec<String> {
    v.sort_by_key(|a| variant_order(a));
    v.dedup();
    v
}

fn variant_order(v: &str) -> (u8, (u32, u32), String) {
    match (v, crate::version::cuda_of_variant(v)) {
        ("cpu", _) => (0, (0, 0), String::new()),
        (_, Some(c)) => (1, c, String::new()),
        _ => (2, (0, 0), v.to_string()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn url(s: &str) -> Url {
        Url::parse(s).unwrap()
    }

    const PAGE: &str = r#"<!DOCTYPE html>
<html>
  <body>
    <h1>Links for torch</h1>
    <a href="https://download-r2.pytorch.org/whl/cu124/torch-2.5.1%2Bcu124-cp311-cp311-linux_x86_64.whl#sha256=AAAAaaaa0000111122223333444455556666777788889999aaaabbbbccccdddd" data-dist-info-metadata="sha256=1" data-core-metadata="sha256=1">torch-2.5.1+cu124-cp311-cp311-linux_x86_64.whl</a><br/>
    <a href="/whl/cu124/torch-2.5.1%2Bcu124-cp311-cp311-win_amd64.whl">torch-2.5.1+cu124-cp311-cp311-win_amd64.whl</a><br/>
    <A HREF='torch-2.4.0%2Bcu124-cp39-cp39-linux_x86_64.whl#md5=abc'>torch-2.4.0&#43;cu124-cp39-cp39-linux_x86_64.whl</A>
    <a href="/whl/cu124/torch-2.3.0%2Bcu124-cp39-cp39-linux_x86_64.whl" data-yanked="">torch-2.3.0+cu124-cp39-cp39-linux_x86_64.whl</a>
    <a href="/whl/cu124/torchvision-0.20.1%2Bcu124-cp39-cp39-linux_x86_64.whl">torchvision-0.20.1+cu124-cp39-cp39-linux_x86_64.whl</a>
    <a href="/whl/torch-2.5.1.tar.gz">torch-2.5.1.tar.gz</a>
    <a href="javascript:alert(1)">torch-9.9.9-cp39-cp39-linux_x86_64.whl</a>
    <!-- <a href="/hidden/torch-1.0-cp39-cp39-linux_x86_64.whl">torch-1.0-cp39-cp39-linux_x86_64.whl</a> -->
  </body>
</html>
<!--TIMESTAMP 1754000000-->"#;

    #[test]
    fn reads_the_pytorch_format() {
        let page = url("https://mirror.example/whl/cu124/torch/");
        let l = listing_from_html(PAGE, &page, "cu124", "torch").unwrap();
        let names: Vec<&str> = l.files.iter().map(|f| f.filename.as_str()).collect();
        assert_eq!(
            names,
            [
                "torch-2.5.1+cu124-cp311-cp311-linux_x86_64.whl",
                "torch-2.5.1+cu124-cp311-cp311-win_amd64.whl",
                "torch-2.4.0+cu124-cp39-cp39-linux_x86_64.whl",
            ]
        );
        let f = &l.files[0];
        assert_eq!(f.url, "https://download-r2.pytorch.org/whl/cu124/torch-2.5.1%2Bcu124-cp311-cp311-linux_x86_64.whl");
        assert_eq!(f.sha256.as_deref(), Some("aaaaaaaa0000111122223333444455556666777788889999aaaabbbbccccdddd"));
        assert_eq!((f.version.as_str(), f.python_tag.as_str()), ("2.5.1+cu124", "cp311"));
        // Root-relative: resolved against the page's host.
        assert_eq!(l.files[1].url, "https://mirror.example/whl/cu124/torch-2.5.1%2Bcu124-cp311-cp311-win_amd64.whl");
        assert_eq!(l.files[1].sha256, None);
        // Relative to the page directory; an md5 fragment is not a sha256.
        assert_eq!(
            l.files[2].url,
            "https://mirror.example/whl/cu124/torch/torch-2.4.0%2Bcu124-cp39-cp39-linux_x86_64.whl"
        );
        assert_eq!(l.files[2].sha256, None);
        assert_eq!(l.package, "torch");
        // Links, but none for the package asked for.
        assert_eq!(
            listing_from_html(PAGE, &page, "cu124", "torchaudio"),
            Err(PageError::NoWheels("torchaudio".into()))
        );
    }

    #[test]
    fn base_href_and_names_from_the_url() {
        let html = r#"<html><head><base href="https://files.example/pkgs/"></head>
            <a href="torch-2.5.1%2Bcpu-cp312-cp312-win_amd64.whl">download</a>"#;
        let l = listing_from_html(html, &url("https://mirror.example/cpu/torch/"), "cpu", "Torch").unwrap();
        assert_eq!(l.files.len(), 1);
        assert_eq!(l.files[0].filename, "torch-2.5.1+cpu-cp312-cp312-win_amd64.whl");
        assert_eq!(l.files[0].url, "https://files.example/pkgs/torch-2.5.1%2Bcpu-cp312-cp312-win_amd64.whl");
    }

    #[test]
    fn garbage_never_panics() {
        let page = url("https://mirror.example/whl/cu124/torch/");
        assert_eq!(listing_from_html("", &page, "cu124", "torch"), Err(PageError::NoLinks));
        assert_eq!(listing_from_html("<html>404 nope</html>", &page, "cu124", "torch"), Err(PageError::NoLinks));
        let nasty = [
            "<a",
            "<a ",
            "<a href",
            "<a href=",
            "<a href=\"",
            "<a href='x",
            "<a =>x</a>",
            "<a \"\">",
            "<!--",
            "<a><a><a>",
            "<a href=\"\u{1F600}\">\u{1F600}</a",
            "&",
            "&#;",
            "&#x110000;",
            "&#99999999999;",
            "<a href=&amp>&amp",
            "<base",
            "<base href=",
            "<abbr>torch-1.0-py3-none-any.whl</abbr>",
            "\u{0}<a\u{0}href=\u{0}>",
        ];
        for s in nasty {
            let _ = listing_from_html(s, &page, "cu124", "torch");
            let _ = variants_from_html(s);
        }
        // Every truncation of a real page, on char boundaries.
        for (i, _) in PAGE.char_indices() {
            let _ = listing_from_html(&PAGE[..i], &page, "cu124", "torch");
        }
        // Pseudo-random bytes (deterministic xorshift).
        let mut x: u64 = 0x9e3779b97f4a7c15;
        let alphabet = b"<>/=\"' &#;a!-hrefAb1.+%x\n";
        for _ in 0..500 {
            let s: String = (0..64)
                .map(|_| {
                    x ^= x << 13;
                    x ^= x >> 7;
                    x ^= x << 17;
                    alphabet[(x % alphabet.len() as u64) as usize] as char
                })
                .collect();
            let _ = listing_from_html(&s, &page, "cu124", "torch");
        }
    }

    #[test]
    fn unescapes_entities() {
        assert_eq!(unescape("a&amp;b&lt;&gt;&quot;&#39;&#x2B;&#43;"), "a&b<>\"'++");
        assert_eq!(unescape("&unknown; & &amp"), "&unknown; & &amp");
        assert_eq!(unescape("&#xD800;"), "&#xD800;");
    }

    #[test]
    fn json_pages() {
        let body = r#"{"meta":{"api-version":"1.1"},"name":"torch","files":[
            {"filename":"torch-2.9.0+cu130-cp314-cp314-manylinux_2_28_x86_64.whl","url":"../../files/torch-2.9.0%2Bcu130-cp314-cp314-manylinux_2_28_x86_64.whl","hashes":{"sha256":"ABABABABABABABABABABABABABABABABABABABABABABABABABABABABABABABAB"}},
            {"filename":"torch-2.8.0+cu130-cp314-cp314-manylinux_2_28_x86_64.whl","url":"https://x.example/t.whl","hashes":{},"yanked":"broken"},
            {"filename":"torch-2.7.0+cu130-cp313-cp313-win_amd64.whl","url":"https://x.example/u.whl","hashes":{},"yanked":false},
            {"filename":"not a wheel","url":"https://x.example/v"},
            {"url": 7}
        ]}"#;
        let l = listing_from_json(body, &url("https://m.example/simple/cu130/torch/"), "cu130", "torch").unwrap();
        assert_eq!(l.files.len(), 2);
        assert_eq!(
            l.files[0].url,
            "https://m.example/simple/files/torch-2.9.0%2Bcu130-cp314-cp314-manylinux_2_28_x86_64.whl"
        );
        assert_eq!(l.files[0].sha256.as_deref(), Some(&*"ab".repeat(32)));
        assert_eq!(l.files[1].version, "2.7.0+cu130");
        let page = url("https://m.example/");
        assert!(matches!(listing_from_json("{", &page, "a", "torch"), Err(PageError::BadJson(_))));
        assert!(matches!(listing_from_json("[]", &page, "a", "torch"), Err(PageError::BadJson(_))));
        assert!(matches!(
            listing_from_json(r#"{"meta":{"api-version":"2.0"},"files":[]}"#, &page, "a", "torch"),
            Err(PageError::ApiVersion(_))
        ));
    }

    #[test]
    fn variant_names_and_discovery() {
        for ok in ["cpu", "xpu", "cu118", "cu92", "cu134", "rocm6.2", "rocm6.2.4", "rocm7"] {
            assert!(is_variant_name(ok), "{ok}");
        }
        for bad in ["cu", "cu1234", "cuda", "rocm", "rocm6.", "torch", "nightly", "../cu124", ""] {
            assert!(!is_variant_name(bad), "{bad}");
        }
        let html = r#"<a href="cu128/">cu128/</a><a href="/whl/cu118/">cu118</a><a href="torch/">torch</a>
            <a href="https://m.example/whl/rocm6.2/">ROCm 6.2</a><a href="cpu/">cpu</a><a href="cu134/">cu134</a><a href="cu92/">x</a>"#;
        assert_eq!(variants_from_html(html), ["cpu", "cu92", "cu118", "cu128", "cu134", "rocm6.2"]);
        let json = r#"{"meta":{"api-version":"1.0"},"projects":[{"name":"cu126"},{"name":"torch"},{"name":"cpu"}]}"#;
        assert_eq!(variants_from_json(json).unwrap(), ["cpu", "cu126"]);
    }
}
