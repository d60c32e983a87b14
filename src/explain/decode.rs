//! Bytes → text for logs whose encoding nobody wrote down.
//!
//! The encoding is chosen once, from the first block of the input, then the rest streams
//! through an `encoding_rs` decoder (no hand-written decoders):
//! - a byte-order mark wins (UTF-8, UTF-16LE from PowerShell 5.1's `>`, UTF-16BE);
//! - BOM-less UTF-16 is recognised by its NUL pattern (every other byte zero in ASCII text);
//! - valid UTF-8 stays UTF-8 (lines that were UTF-8 decoded as cp1252 are repaired later,
//!   see [`repair_mojibake`]);
//! - otherwise a Windows console code page: Shift_JIS (cp932) when it decodes cleanly into
//!   Japanese kana, GBK (cp936) when it decodes cleanly, windows-1252 as the last resort.
//!
//! Binary input (NUL bytes or many control characters that are not UTF-16) is refused
//! with [`NotText`] instead of producing garbage.

use encoding_rs::{Decoder, Encoding, GBK, SHIFT_JIS, UTF_8, UTF_16BE, UTF_16LE, WINDOWS_1252};

/// How many bytes the encoding is chosen from.
pub(crate) const SNIFF_BYTES: usize = 64 * 1024;

/// The input is not text.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("this is not text (binary data near byte {offset})")]
pub struct NotText {
    /// Where the first binary byte was seen.
    pub offset: usize,
}

/// The encoding chosen for an input, and why.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Detected {
    pub encoding: &'static Encoding,
    /// The input starts with a byte-order mark (the decoder skips it).
    pub bom: bool,
}

impl Detected {
    /// A decoder that streams the rest of the input (BOM handled).
    pub fn decoder(self) -> Decoder {
        if self.bom {
            self.encoding.new_decoder_with_bom_removal()
        } else {
            self.encoding.new_decoder_without_bom_handling()
        }
    }

    /// The encoding's name as people know it ("UTF-16LE", "GBK", "Shift_JIS").
    pub fn name(self) -> &'static str {
        self.encoding.name()
    }
}

/// Choose the encoding from the first bytes of the input.
pub(crate) fn detect(head: &[u8]) -> Result<Detected, NotText> {
    if let Some((encoding, _)) = Encoding::for_bom(head) {
        return Ok(Detected { encoding, bom: true });
    }
    if let Some(encoding) = bomless_utf16(head) {
        return Ok(Detected { encoding, bom: false });
    }
    if let Some(offset) = binary_at(head) {
        return Err(NotText { offset });
    }
    // A multi-byte character may be cut at the end of the sniffed block.
    let valid_utf8 = match std::str::from_utf8(head) {
        Ok(_) => true,
        Err(e) => e.error_len().is_none() && head.len() - e.valid_up_to() < 4,
    };
    if valid_utf8 {
        return Ok(Detected { encoding: UTF_8, bom: false });
    }
    // Judge whole lines only: a double-byte character may be cut at the end of the block.
    let trimmed = match head.iter().rposition(|b| *b == b'\n') {
        Some(i) => &head[..=i],
        None => head,
    };
    if decodes_cleanly(SHIFT_JIS, trimmed, has_kana) {
        return Ok(Detected { encoding: SHIFT_JIS, bom: false });
    }
    if decodes_cleanly(GBK, trimmed, |_| true) {
        return Ok(Detected { encoding: GBK, bom: false });
    }
    Ok(Detected { encoding: WINDOWS_1252, bom: false })
}

/// UTF-16 without a BOM: ASCII text has a zero in every other byte.
fn bomless_utf16(head: &[u8]) -> Option<&'static Encoding> {
    let n = head.len().min(4096) / 2 * 2;
    if n < 8 {
        return None;
    }
    let pairs = head[..n].chunks_exact(2);
    let total = pairs.len();
    let (even_zero, odd_zero) =
        pairs.fold((0, 0), |(e, o), p| (e + usize::from(p[0] == 0), o + usize::from(p[1] == 0)));
    // Mostly ASCII text: nearly every high byte is zero, nearly no low byte is.
    if odd_zero * 10 >= total * 9 && even_zero * 10 <= total {
        Some(UTF_16LE)
    } else if even_zero * 10 >= total * 9 && odd_zero * 10 <= total {
        Some(UTF_16BE)
    } else {
        None
    }
}

/// The offset of the first sign of binary data: a NUL byte, or a block where more than
/// one byte in ten is a control character other than tab, newline, CR, form feed and ESC.
fn binary_at(head: &[u8]) -> Option<usize> {
    if let Some(i) = head.iter().position(|b| *b == 0) {
        return Some(i);
    }
    let is_odd_control = |b: &u8| *b < 0x20 && !matches!(*b, b'\t' | b'\n' | b'\r' | 0x0c | 0x1b | 0x08);
    let controls = head.iter().filter(|b| is_odd_control(b)).count();
    if head.len() >= 32 && controls * 10 > head.len() {
        return head.iter().position(is_odd_control);
    }
    None
}

fn decodes_cleanly(encoding: &'static Encoding, bytes: &[u8], accept: impl Fn(&str) -> bool) -> bool {
    match encoding.decode_without_bom_handling_and_without_replacement(bytes) {
        Some(text) => accept(&text),
        None => false,
    }
}

/// Hiragana or full-width katakana: Japanese text, not GBK read as Shift_JIS (which turns
/// into half-width katakana).
fn has_kana(s: &str) -> bool {
    s.chars().any(|c| ('\u{3040}'..='\u{30ff}').contains(&c))
}

/// A line that is UTF-8 decoded as windows-1252 (`æ‰¾ä¸åˆ°` for `找不到`) turned back into
/// what was written. Lines without the tell-tale pairs, or that do not survive the round
/// trip, are returned unchanged.
pub(crate) fn repair_mojibake(line: &str) -> Option<String> {
    if !looks_like_mojibake(line) {
        return None;
    }
    let (bytes, _, unmappable) = WINDOWS_1252.encode(line);
    if unmappable {
        return None;
    }
    let (text, had_errors) = UTF_8.decode_without_bom_handling(&bytes);
    let replaced = text.chars().filter(|c| *c == '\u{fffd}').count();
    // Lossy copies drop the bytes cp1252 does not define (0x81, 0x8d, 0x8f, 0x90, 0x9d):
    // accept a repair that recovers clearly more than it loses.
    let recovered = text.chars().filter(|c| *c >= '\u{0800}').count();
    if !had_errors || replaced * 2 <= recovered { Some(text.into_owned()) } else { None }
}

/// A UTF-8 lead byte read as cp1252 (Â–ô) followed by a continuation byte read as cp1252
/// (0x80–0xBF: C1 controls, Latin-1 symbols, or cp1252's ‰ € ‚ ƒ „ … † ‡ ˆ Š ‹ Œ Ž ' ' " " • – — ˜ ™ š › œ ž Ÿ).
fn looks_like_mojibake(line: &str) -> bool {
    let continuation = |c: char| {
        ('\u{0080}'..='\u{00bf}').contains(&c)
            || matches!(
                c,
                '€' | '‚'
                    | 'ƒ'
                    | '„'
                    | '…'
                    | '†'
                    | '‡'
                    | 'ˆ'
                    | '‰'
                    | 'Š'
                    | '‹'
                    | 'Œ'
                    | 'Ž'
                    | '‘'
                    | '’'
                    | '“'
                    | '”'
                    | '•'
                    | '–'
                    | '—'
                    | '˜'
                    | '™'
                    | 'š'
                    | '›'
                    | 'œ'
                    | 'ž'
                    | 'Ÿ'
            )
    };
    let mut chars = line.chars().peekable();
    while let Some(c) = chars.next() {
        if ('\u{00c2}'..='\u{00f4}').contains(&c) && chars.peek().is_some_and(|n| continuation(*n)) {
            return true;
        }
    }
    false
}

#[cfg(test)]
mod tests {
    use super::*;

    fn encode(encoding: &'static Encoding, s: &str) -> Vec<u8> {
        let (bytes, _, unmappable) = encoding.encode(s);
        assert!(!unmappable, "{s} is not representable in {}", encoding.name());
        bytes.into_owned()
    }

    #[test]
    fn a_bom_decides() {
        let mut b = vec![0xff, 0xfe];
        b.extend("OSError: [WinError 126]".encode_utf16().flat_map(u16::to_le_bytes));
        let d = detect(&b).unwrap();
        assert_eq!((d.encoding, d.bom), (UTF_16LE, true));
        assert_eq!(detect(b"\xef\xbb\xbfhello").unwrap().encoding, UTF_8);
    }

    #[test]
    fn utf16_without_bom_is_recognised() {
        let b: Vec<u8> = "Traceback (most recent call last):".encode_utf16().flat_map(u16::to_le_bytes).collect();
        assert_eq!(detect(&b).unwrap().encoding, UTF_16LE);
        let b: Vec<u8> = "Traceback (most recent call last):".encode_utf16().flat_map(u16::to_be_bytes).collect();
        assert_eq!(detect(&b).unwrap().encoding, UTF_16BE);
    }

    #[test]
    fn console_code_pages_are_told_apart() {
        let zh =
            encode(GBK, "OSError: [WinError 126] 找不到指定的模块。 Error loading \"C:\\x\\torch\\lib\\c10.dll\"\n");
        assert_eq!(detect(&zh).unwrap().encoding, GBK);
        let ja = encode(SHIFT_JIS, "OSError: [WinError 126] 指定されたモジュールが見つかりません。\n");
        assert_eq!(detect(&ja).unwrap().encoding, SHIFT_JIS);
        let fr = encode(WINDOWS_1252, "OSError: [WinError 126] Le module spécifié est introuvable.\n");
        assert_eq!(detect(&fr).unwrap().encoding, WINDOWS_1252);
        assert_eq!(detect("déjà UTF-8 ✓".as_bytes()).unwrap().encoding, UTF_8);
    }

    #[test]
    fn binary_is_not_text() {
        let png = b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR";
        assert!(detect(png).is_err());
        let noise: Vec<u8> = (1u8..32).chain(b"abc".iter().copied()).cycle().take(400).collect();
        assert!(detect(&noise).is_err());
    }

    #[test]
    fn mojibake_is_repaired_and_latin_text_is_left_alone() {
        let (garbled, _) = {
            let bytes = "找不到指定的模块".as_bytes();
            let (s, _, _) = WINDOWS_1252.decode(bytes);
            (s.into_owned(), ())
        };
        assert_eq!(repair_mojibake(&garbled).as_deref(), Some("找不到指定的模块"));
        // The form: the undefined byte 0x8d already dropped on the way.
        let lossy = garbled.replace('\u{8d}', "");
        let repaired = repair_mojibake(&lossy).expect("repairs most of it");
        assert!(repaired.starts_with('找') && repaired.contains("指定的模块"), "{repaired}");
        assert_eq!(repair_mojibake("Le module spécifié est introuvable."), None);
        assert_eq!(repair_mojibake("plain ASCII"), None);
    }
}
