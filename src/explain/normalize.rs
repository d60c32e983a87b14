//! One raw line → the line a terminal would have shown: colour codes gone, `\r` progress
//! redraws resolved to what stayed on screen, tabs expanded, other control characters
//! dropped, and cp1252 mojibake repaired.

use super::decode::repair_mojibake;

/// Lines longer than this are cut (a minified JSON blob in a log is not an error message).
pub(crate) const MAX_LINE_CHARS: usize = 4096;

/// Clean one line (without its `\n`).
pub(crate) fn clean_line(raw: &str) -> String {
    let plain = strip_ansi(raw);
    // `\r` returns the cursor: what remains visible is the last non-empty segment.
    // (A Windows line ending leaves an empty last segment.)
    let shown = plain.rsplit('\r').find(|seg| !seg.trim().is_empty()).unwrap_or("");
    let mut out = String::with_capacity(shown.len());
    for c in shown.chars() {
        match c {
            '\t' => out.push_str("    "),
            // C0 controls go now; C1 controls (U+0080–U+009F) may be bytes of UTF-8 text
            // read as cp1252 and are needed by the repair below.
            c if c.is_control() && !('\u{80}'..='\u{9f}').contains(&c) => {}
            c => out.push(c),
        }
        if out.len() >= MAX_LINE_CHARS {
            break;
        }
    }
    let trimmed_len = out.trim_end().len();
    out.truncate(trimmed_len);
    let repaired = repair_mojibake(&out).unwrap_or(out);
    if repaired.chars().any(char::is_control) {
        repaired.chars().filter(|c| !c.is_control()).collect()
    } else {
        repaired
    }
}

/// Remove ANSI/VT escape sequences: CSI (`ESC [ … final`), OSC (`ESC ] … BEL` or
/// `ESC ] … ESC \`), and two-character escapes.
pub(crate) fn strip_ansi(s: &str) -> String {
    if !s.contains('\u{1b}') && !s.contains('\u{9b}') {
        return s.to_string();
    }
    let mut out = String::with_capacity(s.len());
    let mut chars = s.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '\u{1b}' => match chars.next() {
                Some('[') => skip_csi(&mut chars),
                Some(']') => skip_osc(&mut chars),
                // Character-set and other two-byte escapes: `ESC ( B`, `ESC =`.
                Some('(' | ')' | '*' | '+') => {
                    chars.next();
                }
                _ => {}
            },
            '\u{9b}' => skip_csi(&mut chars),
            c => out.push(c),
        }
    }
    out
}

fn skip_csi(chars: &mut std::iter::Peekable<std::str::Chars<'_>>) {
    // Parameters and intermediates, then one final byte in @..~.
    for c in chars.by_ref() {
        if ('@'..='~').contains(&c) {
            break;
        }
    }
}

fn skip_osc(chars: &mut std::iter::Peekable<std::str::Chars<'_>>) {
    while let Some(c) = chars.next() {
        match c {
            '\u{7}' => break,
            '\u{1b}' => {
                if chars.peek() == Some(&'\\') {
                    chars.next();
                }
                break;
            }
            _ => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn colours_are_removed() {
        assert_eq!(clean_line("\u{1b}[31;1mERROR\u{1b}[0m: boom"), "ERROR: boom");
        assert_eq!(clean_line("\u{1b}]0;title\u{7}text"), "text");
        assert_eq!(clean_line("\u{1b}]8;;http://x\u{1b}\\link\u{1b}]8;;\u{1b}\\"), "link");
    }

    #[test]
    fn carriage_returns_keep_what_stayed_on_screen() {
        assert_eq!(
            clean_line("  1%|#   | 1/100\r 50%|#####| 50/100\rERROR: Could not install"),
            "ERROR: Could not install"
        );
        assert_eq!(clean_line("RuntimeError: CUDA error\r"), "RuntimeError: CUDA error");
        assert_eq!(clean_line("\r\r"), "");
    }

    #[test]
    fn tabs_and_controls() {
        assert_eq!(clean_line("\tsize mismatch\u{8} for x  "), "    size mismatch for x");
    }

    #[test]
    fn long_lines_are_cut() {
        assert!(clean_line(&"x".repeat(100_000)).len() <= MAX_LINE_CHARS + 4);
    }
}
