//! Tiny text templates for rule titles, explanations and fixes, so every word the user
//! reads lives in assets/diagnoses.toml.
//!
//! Syntax: `{name}` or `{1}` inserts a value; `{name|filter}` transforms it first
//! ([`Filter`]); `[[ … ]]` is an optional segment, dropped when any value inside is
//! missing or empty. Any other brace is literal text (PowerShell's `{ $_ }` needs no escape).

/// A value transformation usable in a placeholder.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Filter {
    /// torch/cuDriverGetVersion encoding: "12020" → "12.2" (major·1000 + minor·10).
    Cuda,
    /// Same encoding, major only: "12020" → "12".
    CudaMajor,
    /// sm number → compute capability: "86" → "8.6", "120" → "12.0", "sm_86" → "8.6".
    Cap,
    /// compute capability → sm name: "8.6" → "sm_86".
    Sm,
    /// CUDA version → wheel variant: "12.6" → "cu126" (first of several).
    Variant,
    /// Collapse the doubled backslashes of a Python repr: `C:\\Users` → `C:\Users`.
    Path,
    /// CUDA library file → the nvidia-* wheels that ship it: `libcudnn.so.9` →
    /// `nvidia-cudnn-cu12 (CUDA 12 builds) or …` (see [`super::cuda_libs`]).
    Wheel,
}

impl Filter {
    fn parse(name: &str) -> Option<Filter> {
        Some(match name {
            "cuda" => Filter::Cuda,
            "cuda_major" => Filter::CudaMajor,
            "cap" => Filter::Cap,
            "sm" => Filter::Sm,
            "variant" => Filter::Variant,
            "path" => Filter::Path,
            "wheel" => Filter::Wheel,
            _ => return None,
        })
    }

    /// None when the value does not have the expected shape.
    pub(crate) fn apply(self, value: &str) -> Option<String> {
        let v = value.trim();
        match self {
            Filter::Cuda => {
                let n: u32 = v.parse().ok()?;
                Some(format!("{}.{}", n / 1000, (n % 1000) / 10))
            }
            Filter::CudaMajor => {
                let n: u32 = v.parse().ok()?;
                Some((n / 1000).to_string())
            }
            Filter::Cap => {
                let digits = v.strip_prefix("sm_").unwrap_or(v).trim_end_matches(|c: char| c.is_ascii_alphabetic());
                let n: u32 = digits.parse().ok()?;
                Some(format!("{}.{}", n / 10, n % 10))
            }
            Filter::Sm => {
                let (major, minor) = crate::facts::parse_capability(v)?;
                Some(format!("sm_{major}{minor}"))
            }
            Filter::Variant => {
                let first = v.split_whitespace().next()?;
                let (major, minor) = first.split_once('.')?;
                let (major, minor): (u32, u32) = (major.parse().ok()?, minor.parse().ok()?);
                Some(format!("cu{major}{minor}"))
            }
            Filter::Path => {
                let mut out = v.to_string();
                while out.contains("\\\\") {
                    out = out.replace("\\\\", "\\");
                }
                Some(out)
            }
            Filter::Wheel => super::cuda_libs::generic_wheel(v),
        }
    }
}

#[derive(Debug, Clone, PartialEq)]
enum Piece {
    Text(String),
    Value { name: String, filter: Option<Filter> },
    Optional(Vec<Piece>),
}

/// A parsed template.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Template {
    pieces: Vec<Piece>,
}

impl Template {
    /// Parse; the error names what is wrong in one line.
    pub(crate) fn parse(src: &str) -> Result<Template, String> {
        let mut top: Vec<Piece> = Vec::new();
        let mut optional: Option<Vec<Piece>> = None;
        let mut text = String::new();
        let mut rest = src;
        while !rest.is_empty() {
            if let Some(after) = rest.strip_prefix("[[") {
                if optional.is_some() {
                    return Err("nested `[[` in a template".into());
                }
                flush(&mut text, &mut top);
                optional = Some(Vec::new());
                rest = after;
            } else if let Some(after) = rest.strip_prefix("]]") {
                let Some(mut inner) = optional.take() else {
                    return Err("`]]` without `[[` in a template".into());
                };
                flush(&mut text, &mut inner);
                top.push(Piece::Optional(inner));
                rest = after;
            } else if let Some((piece, len)) = placeholder(rest)? {
                flush(&mut text, optional.as_mut().unwrap_or(&mut top));
                optional.as_mut().unwrap_or(&mut top).push(piece);
                rest = &rest[len..];
            } else {
                // Invariant: `rest` is non-empty here.
                let c = rest.chars().next().unwrap_or_default();
                text.push(c);
                rest = &rest[c.len_utf8()..];
            }
        }
        if optional.is_some() {
            return Err("`[[` without `]]` in a template".into());
        }
        flush(&mut text, &mut top);
        Ok(Template { pieces: top })
    }

    /// Fill in values. A missing value outside `[[ ]]` renders as nothing (rule validation
    /// makes sure that only happens to optional values).
    pub(crate) fn render(&self, lookup: &dyn Fn(&str) -> Option<String>) -> String {
        let mut out = String::new();
        for piece in &self.pieces {
            match piece {
                Piece::Optional(inner) => {
                    let mut seg = String::new();
                    if inner.iter().all(|p| render_piece(p, lookup, &mut seg)) {
                        out.push_str(&seg);
                    }
                }
                other => {
                    render_piece(other, lookup, &mut out);
                }
            }
        }
        out.trim().to_string()
    }

    /// Names used outside optional segments (must always have a value).
    pub(crate) fn required_names(&self) -> Vec<&str> {
        self.pieces
            .iter()
            .filter_map(|p| match p {
                Piece::Value { name, .. } => Some(name.as_str()),
                _ => None,
            })
            .collect()
    }

    /// Names used inside optional segments.
    pub(crate) fn optional_names(&self) -> Vec<&str> {
        self.pieces
            .iter()
            .filter_map(|p| match p {
                Piece::Optional(inner) => Some(inner),
                _ => None,
            })
            .flatten()
            .filter_map(|p| match p {
                Piece::Value { name, .. } => Some(name.as_str()),
                _ => None,
            })
            .collect()
    }
}

fn flush(text: &mut String, into: &mut Vec<Piece>) {
    if !text.is_empty() {
        into.push(Piece::Text(std::mem::take(text)));
    }
}

/// `{name}` / `{name|filter}` / `{3}` at the start of `s`: the piece and its length.
/// Anything else starting with `{` is literal text.
fn placeholder(s: &str) -> Result<Option<(Piece, usize)>, String> {
    let Some(body_start) = s.strip_prefix('{') else { return Ok(None) };
    let Some(end) = body_start.find('}') else { return Ok(None) };
    let body = &body_start[..end];
    let (name, filter) = match body.split_once('|') {
        Some((n, f)) => (n, Some(f)),
        None => (body, None),
    };
    let is_name = !name.is_empty() && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_');
    if !is_name {
        return Ok(None);
    }
    let filter = match filter {
        None => None,
        Some(f) => Some(Filter::parse(f).ok_or_else(|| format!("unknown template filter `{f}` in `{{{body}}}`"))?),
    };
    Ok(Some((Piece::Value { name: name.to_string(), filter }, end + 2)))
}

/// Render one piece; false when it needed a value that is missing or empty.
fn render_piece(piece: &Piece, lookup: &dyn Fn(&str) -> Option<String>, out: &mut String) -> bool {
    match piece {
        Piece::Text(t) => {
            out.push_str(t);
            true
        }
        Piece::Value { name, filter } => match lookup(name).filter(|v| !v.is_empty()) {
            Some(v) => {
                // A value that does not fit the filter is shown as it came.
                let shown = filter.and_then(|f| f.apply(&v)).unwrap_or(v);
                out.push_str(&shown);
                true
            }
            None => false,
        },
        Piece::Optional(inner) => inner.iter().all(|p| render_piece(p, lookup, out)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn vars(pairs: &[(&str, &str)]) -> impl Fn(&str) -> Option<String> {
        let owned: Vec<(String, String)> = pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect();
        move |name: &str| owned.iter().find(|(k, _)| k == name).map(|(_, v)| v.clone())
    }

    #[test]
    fn filters_decode_versions() {
        assert_eq!(Filter::Cuda.apply("12020").as_deref(), Some("12.2"));
        assert_eq!(Filter::Cuda.apply("11040").as_deref(), Some("11.4"));
        assert_eq!(Filter::Cuda.apply("13000").as_deref(), Some("13.0"));
        assert_eq!(Filter::CudaMajor.apply("12020").as_deref(), Some("12"));
        assert_eq!(Filter::Cap.apply("86").as_deref(), Some("8.6"));
        assert_eq!(Filter::Cap.apply("sm_120").as_deref(), Some("12.0"));
        assert_eq!(Filter::Cap.apply("100a").as_deref(), Some("10.0"));
        assert_eq!(Filter::Sm.apply("8.6").as_deref(), Some("sm_86"));
        assert_eq!(Filter::Variant.apply("12.6").as_deref(), Some("cu126"));
        assert_eq!(Filter::Variant.apply("12.6 12.8").as_deref(), Some("cu126"));
        assert_eq!(Filter::Path.apply(r"C:\\Users\\me").as_deref(), Some(r"C:\Users\me"));
        assert_eq!(Filter::Cuda.apply("abc"), None);
    }

    #[test]
    fn optional_segments_drop_when_a_value_is_missing() {
        let t = Template::parse("driver {v}[[ (CUDA {c|cuda})]].").unwrap();
        assert_eq!(t.render(&vars(&[("v", "470"), ("c", "11040")])), "driver 470 (CUDA 11.4).");
        assert_eq!(t.render(&vars(&[("v", "470")])), "driver 470.");
        assert_eq!(t.required_names(), vec!["v"]);
        assert_eq!(t.optional_names(), vec!["c"]);
    }

    #[test]
    fn other_braces_are_text() {
        let t = Template::parse("Get-Process | Where-Object { $_.Id -gt 0 } {x}").unwrap();
        assert_eq!(t.render(&vars(&[("x", "ok")])), "Get-Process | Where-Object { $_.Id -gt 0 } ok");
    }

    #[test]
    fn bad_templates_are_errors() {
        assert!(Template::parse("[[ open").is_err());
        assert!(Template::parse("close ]]").is_err());
        assert!(Template::parse("[[ a [[ b ]] ]]").is_err());
        assert!(Template::parse("{x|nosuch}").unwrap_err().contains("nosuch"));
    }

    #[test]
    fn unfit_filter_value_shows_raw() {
        let t = Template::parse("{v|cuda}").unwrap();
        assert_eq!(t.render(&vars(&[("v", "n/a")])), "n/a");
    }
}
