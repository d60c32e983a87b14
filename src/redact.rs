//! Credentials never leave through what torchup shows or stores. An index URL may carry
//! `user:token@`; every text that reaches a terminal, a log, a JSON document or a shown
//! command passes through [`redact_text`], so the secret reaches only the HTTP client that
//! fetches the wheels (and pip's argv/env when pip itself must read that index).

use std::borrow::Cow;

/// What replaces a secret.
pub(crate) const MASK: &str = "***";

/// `https://user:token@host/…` → `https://user:***@host/…`, and `https://token@host/…` →
/// `https://***@host/…`, for every URL in `text`. Text without credentials is returned as is.
pub(crate) fn redact_text(text: &str) -> Cow<'_, str> {
    if !text.contains("://") || !text.contains('@') {
        return Cow::Borrowed(text);
    }
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    let mut changed = false;
    while let Some(at) = rest.find("://") {
        let start = at + 3;
        out.push_str(&rest[..start]);
        let after = &rest[start..];
        // The authority ends at the path, query, fragment, or anything a URL cannot hold.
        let end = after
            .find(|c: char| matches!(c, '/' | '?' | '#' | '"' | '\'' | '<' | '>' | '`') || c.is_whitespace())
            .unwrap_or(after.len());
        let authority = &after[..end];
        match authority.rfind('@') {
            Some(sep) => {
                let userinfo = &authority[..sep];
                match userinfo.split_once(':') {
                    Some((user, _)) if !user.is_empty() => out.push_str(&format!("{user}:{MASK}")),
                    _ => out.push_str(MASK),
                }
                out.push_str(&authority[sep..]);
                changed = true;
            }
            None => out.push_str(authority),
        }
        rest = &after[end..];
    }
    out.push_str(rest);
    if changed { Cow::Owned(out) } else { Cow::Borrowed(text) }
}

/// Redact every string inside a JSON document (keys included).
pub(crate) fn redact_json(value: &mut serde_json::Value) {
    use serde_json::Value;
    match value {
        Value::String(s) => {
            if let Cow::Owned(r) = redact_text(s) {
                *s = r;
            }
        }
        Value::Array(items) => items.iter_mut().for_each(redact_json),
        Value::Object(map) => {
            let entries: Vec<(String, Value)> = std::mem::take(map).into_iter().collect();
            for (k, mut v) in entries {
                redact_json(&mut v);
                map.insert(redact_text(&k).into_owned(), v);
            }
        }
        _ => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn credentials_are_masked_wherever_a_url_appears() {
        let cases = [
            ("https://user:s3cret@mirror.example/whl/cu124", "https://user:***@mirror.example/whl/cu124"),
            ("https://tok3n@mirror.example/whl", "https://***@mirror.example/whl"),
            ("https://:pw@mirror.example", "https://***@mirror.example"),
            (
                "pip install torch --index-url 'https://u:p@h.example/whl/cu124' && echo https://a:b@c/x",
                "pip install torch --index-url 'https://u:***@h.example/whl/cu124' && echo https://a:***@c/x",
            ),
            ("https://h.example/whl/user@example.com", "https://h.example/whl/user@example.com"),
            ("mail me at a@b.example", "mail me at a@b.example"),
            ("no url here", "no url here"),
            ("\"https://u:p@h\"", "\"https://u:***@h\""),
        ];
        for (input, want) in cases {
            assert_eq!(redact_text(input), want, "{input}");
        }
    }

    #[test]
    fn json_documents_are_redacted_everywhere() {
        let mut v = serde_json::json!({
            "choice": {"index_url": "https://u:tok@m.example/whl/cu124"},
            "steps": [{"argv": ["python", "--index-url", "https://u:tok@m.example/whl/cu124"]}],
            "n": 3
        });
        redact_json(&mut v);
        let text = v.to_string();
        assert!(!text.contains("tok"), "{text}");
        assert!(text.contains("https://u:***@m.example/whl/cu124"));
    }
}
