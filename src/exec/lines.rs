//! Splitting raw child output into lines on `\n`, `\r` and `\r\n`, decoding lossily.

/// Incremental splitter: feed byte chunks, get complete lines out.
#[derive(Debug, Default)]
pub struct LineSplitter {
    buf: Vec<u8>,
    /// The previous chunk ended in `\r`; a leading `\n` belongs to it.
    pending_cr: bool,
}

impl LineSplitter {
    pub fn new() -> Self {
        Self::default()
    }

    /// Feed a chunk; returns `(line, ended_with_cr)` for every complete line.
    pub fn push(&mut self, chunk: &[u8]) -> Vec<(String, bool)> {
        let mut out = Vec::new();
        for &b in chunk {
            if self.pending_cr {
                self.pending_cr = false;
                if b == b'\n' {
                    // "\r\n" is one ordinary line end; the line was already emitted at '\r'.
                    if let Some(last) = out.last_mut() {
                        let (_, cr): &mut (String, bool) = last;
                        *cr = false;
                    }
                    continue;
                }
            }
            match b {
                b'\n' => out.push((self.take(), false)),
                b'\r' => {
                    out.push((self.take(), true));
                    self.pending_cr = true;
                }
                _ => self.buf.push(b),
            }
        }
        out
    }

    /// The unterminated rest, if any, at end of stream.
    pub fn finish(&mut self) -> Option<String> {
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
        let mut got = s.push(b"x\r");
        // the '\r' alone was reported as a redraw; the '\n' that follows does not add a line
        got.extend(s.push(b"\ny\n"));
        assert_eq!(got.iter().map(|l| l.0.as_str()).collect::<Vec<_>>(), vec!["x", "y"]);
    }

    #[test]
    fn invalid_utf8_is_decoded_lossily() {
        let mut s = LineSplitter::new();
        let got = s.push(b"caf\xe9\n");
        assert_eq!(got[0].0, "caf\u{fffd}");
    }
}
