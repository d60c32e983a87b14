//! Text helpers: word wrapping by display width, and human units.

use std::time::Duration;

use ratatui::style::Style;
use ratatui::text::{Line, Span};

/// Display width of a string in terminal cells.
pub(crate) fn width(s: &str) -> usize {
    Span::raw(s).width()
}

/// Wrap `text` into lines of at most `width` cells, breaking at spaces; words longer than
/// a line are split. Existing newlines are kept.
pub(crate) fn wrap(text: &str, width: usize) -> Vec<String> {
    let width = width.max(1);
    let mut out = Vec::new();
    for para in text.split('\n') {
        let mut line = String::new();
        let mut line_w = 0;
        for word in para.split(' ') {
            let mut word = word.to_string();
            let mut w = self::width(&word);
            // Split words that cannot fit on any line.
            while w > width {
                if line_w > 0 {
                    out.push(std::mem::take(&mut line));
                    line_w = 0;
                }
                let (head, tail) = split_at_width(&word, width);
                out.push(head);
                word = tail;
                w = self::width(&word);
            }
            let need = if line_w == 0 { w } else { line_w + 1 + w };
            if need > width && line_w > 0 {
                out.push(std::mem::take(&mut line));
                line_w = 0;
            }
            if line_w > 0 {
                line.push(' ');
                line_w += 1;
            }
            line.push_str(&word);
            line_w += w;
        }
        out.push(line);
    }
    out
}

/// Wrap into styled lines with a hanging indent: the first line starts with `first`,
/// the following ones with as many spaces.
pub(crate) fn wrap_styled(first: &str, text: &str, width: usize, style: Style) -> Vec<Line<'static>> {
    let indent = self::width(first);
    let body = width.saturating_sub(indent).max(10);
    wrap(text, body)
        .into_iter()
        .enumerate()
        .map(|(i, l)| {
            let lead = if i == 0 { first.to_string() } else { " ".repeat(indent) };
            Line::from(vec![Span::raw(lead), Span::styled(l, style)])
        })
        .collect()
}

/// Break `s` into pieces of at most `w` cells, at a space when one is in the second half
/// of the piece, else anywhere (URLs and paths have no spaces); pieces after the first are
/// indented by `indent` spaces.
pub(crate) fn wrap_hard(s: &str, w: usize, indent: usize) -> Vec<String> {
    let w = w.max(indent + 1);
    let mut out = Vec::new();
    let (head, mut rest) = take_line(s, w);
    out.push(head);
    while !rest.is_empty() {
        let (h, r) = take_line(&rest, w - indent);
        out.push(format!("{}{h}", " ".repeat(indent)));
        rest = r;
    }
    out
}

fn take_line(s: &str, w: usize) -> (String, String) {
    let (head, rest) = split_at_width(s, w);
    if rest.is_empty() || rest.starts_with(' ') {
        return (head, rest.trim_start_matches(' ').to_string());
    }
    match head.rfind(' ') {
        Some(i) if width(&head[..i]) >= w / 2 => (head[..i].to_string(), format!("{}{rest}", &head[i + 1..])),
        _ => (head, rest),
    }
}

/// Split at most `w` cells off the front of `s`.
fn split_at_width(s: &str, w: usize) -> (String, String) {
    let mut acc = 0;
    for (i, c) in s.char_indices() {
        let cw = width(c.encode_utf8(&mut [0; 4]));
        if acc + cw > w {
            return (s[..i].to_string(), s[i..].to_string());
        }
        acc += cw;
    }
    (s.to_string(), String::new())
}

/// Cut `s` to `w` cells, ending with `ellipsis` when cut.
pub(crate) fn truncate(s: &str, w: usize, ellipsis: &str) -> String {
    if width(s) <= w {
        return s.to_string();
    }
    let ew = width(ellipsis);
    let (head, _) = split_at_width(s, w.saturating_sub(ew));
    format!("{head}{ellipsis}")
}

/// A multi-line text (a smoke check's detail) on one line: its lines joined with "; ".
pub(crate) fn one_line(s: &str) -> String {
    s.lines().map(str::trim).filter(|l| !l.is_empty()).collect::<Vec<_>>().join("; ")
}

/// A transfer rate: "12.3 MB/s".
pub(crate) fn rate(bytes_per_sec: f64) -> String {
    format!("{}/s", crate::describe::bytes(bytes_per_sec.max(0.0) as u64))
}

/// A duration for humans: "0.4s", "42s", "3m 05s", "1h 02m".
pub(crate) fn duration(d: Duration) -> String {
    let s = d.as_secs();
    if d < Duration::from_secs(1) {
        format!("{:.1}s", d.as_secs_f64())
    } else if s < 60 {
        format!("{s}s")
    } else if s < 3600 {
        format!("{}m {:02}s", s / 60, s % 60)
    } else {
        format!("{}h {:02}m", s / 3600, (s % 3600) / 60)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn multi_line_details_become_one_line() {
        assert_eq!(one_line("cuDNN 9.1.0\nGPU 0: conv2d ok\n"), "cuDNN 9.1.0; GPU 0: conv2d ok");
        assert_eq!(one_line("plain"), "plain");
    }

    #[test]
    fn wraps_at_spaces_and_splits_long_words() {
        assert_eq!(wrap("aaa bbb ccc", 7), vec!["aaa bbb", "ccc"]);
        assert_eq!(wrap("abcdefghij", 4), vec!["abcd", "efgh", "ij"]);
        assert_eq!(wrap("a\nb", 10), vec!["a", "b"]);
        assert_eq!(wrap("", 5), vec![""]);
        for l in wrap("the quick brown fox jumps over the lazy dog again and again", 9) {
            assert!(width(&l) <= 9, "{l:?}");
        }
    }

    #[test]
    fn hard_wrap_indents_continuations() {
        assert_eq!(wrap_hard("abcdefgh", 4, 2), vec!["abcd", "  ef", "  gh"]);
        assert_eq!(wrap_hard("torchaudio 2.5.1+cpu", 16, 2), vec!["torchaudio", "  2.5.1+cpu"]);
        assert_eq!(wrap_hard("ab cdefghijkl", 8, 0), vec!["ab cdefg", "hijkl"]);
        assert_eq!(wrap_hard("abc", 4, 2), vec!["abc"]);
        assert_eq!(wrap_hard("", 4, 2), vec![""]);
    }

    #[test]
    fn truncates_by_cells() {
        assert_eq!(truncate("hello world", 8, "…"), "hello w…");
        assert_eq!(truncate("short", 8, "…"), "short");
        assert_eq!(truncate("日本語テキスト", 5, "~"), "日本~");
    }

    #[test]
    fn units() {
        assert_eq!(rate(12_300_000.0), "12.3 MB/s");
        assert_eq!(duration(Duration::from_millis(420)), "0.4s");
        assert_eq!(duration(Duration::from_secs(42)), "42s");
        assert_eq!(duration(Duration::from_secs(185)), "3m 05s");
        assert_eq!(duration(Duration::from_secs(3720)), "1h 02m");
    }
}
