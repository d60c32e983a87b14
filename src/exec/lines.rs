//! Splitting raw child output into lines on `\n`, `\r` and `\r\n`, decoding lossily.

/// Incremental splitter: feed byte chunks, get complete lines out.
///
/// A line ending in `\r` is held back until the next byte arrives: a `\n` makes it an
/// ordinary line (`\r\n`, even when a read splits the pair), anything else makes it a
/// redraw. Emitting it early as a redraw would let a reader overwrite it: the line would be
/// lost whenever Windows output's `\r\n` straddles two reads.
#[derive(Debug, Default)]
pub struct LineSplitter {
    buf: Vec<u8>,
    /// A line that ended in `\r`, waiting for the next byte to say whether it was `\r\n`.
    pending_cr: Option<String>,
}

impl LineSplitter {
    pub fn new() -> Self {
        Self::default()
    }

    /// Feed a chunk; returns `(line, ended_with_cr)` for every complete line.
    pub fn push(&mut self, chunk: &[u8]) -> Vec<(String, bool)> {
        let mut out = Vec::new();
        for &b in chunk {
            if let Some(line) = self.pending_cr.take() {
                if b == b'\n' {
                    // "\r\n" is one ordinary line end.
                    out.push((line, false));
                    continue;
                }
                out.push((line, true));
            }
            match b {
                b'\n' => out.push((self.take(), false)),
                b'\r' => self.pending_cr = Some(self.take()),
                _ => self.buf.push(b),
            }
        }
        out
    }

    /// The unterminated rest, if any, at end of stream (a held `\r` line is complete).
    pub fn finish(&mut self) -> Option<String> {
        if let Some(line) = self.pending_cr.take() {
            return Some(line);
        }
        if self.buf.is_empty() { None } else { Some(self.take()) }
    }

    fn take(&mut self) -> String {
        let s = String::from_utf8_lossy(&self.buf).into_owned();
        self.buf.clear();
        s
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn splits_on_lf_cr_and_crlf() {
        let mut s = LineSplitter::new();
        let mut got = s.push(b"a\nb\r\nc\rd");
        got.extend(s.push(b"\ne"));
        assert_eq!(
            got,
            vec![("a".to_string(), false), ("b".to_string(), false), ("c".to_string(), true), ("d".to_string(), false)]
        );
        assert_eq!(s.finish(), Some("e".to_string()));
        assert_eq!(s.finish(), None);
    }

    #[test]
    fn crlf_split_across_chunks_is_one_line_end() {
        let mut s = LineSplitter::new();
        // A read ends between '\r' and '\n': nothing is decided yet.
        assert_eq!(s.push(b"x\r"), vec![]);
        // The '\n' makes "x" an ordinary line, not a redraw a reader would overwrite.
        let got = s.push(b"\ny\n");
        assert_eq!(got, vec![("x".to_string(), false), ("y".to_string(), false)]);
        assert_eq!(s.finish(), None);
    }

    #[test]
    fn a_redraw_is_known_when_the_next_byte_arrives() {
        let mut s = LineSplitter::new();
        assert_eq!(s.push(b"10%\r"), vec![]);
        assert_eq!(s.push(b"20%\r"), vec![("10%".to_string(), true)]);
        assert_eq!(s.finish(), Some("20%".to_string()));
    }

    #[test]
    fn invalid_utf8_is_decoded_lossily() {
        let mut s = LineSplitter::new();
        let got = s.push(b"caf\xe9\n");
        assert_eq!(got[0].0, "caf\u{fffd}");
    }
}
