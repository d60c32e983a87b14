//! A child's captured output with a bound: pip can print megabytes (a verbose resolver run,
//! a build log), and the whole text is only kept for diagnosis. The head and the tail are
//! kept (the command line and the first error at the top, the final error at the bottom);
//! the middle is replaced by one line saying how much was left out.

/// Bytes kept at each end of a stream's output.
pub(super) const CAPTURE_EACH_END: usize = 2 * 1024 * 1024;

/// Collects a stream's bytes, keeping at most `2 * each_end` of them.
#[derive(Debug)]
pub(super) struct BoundedCapture {
    each_end: usize,
    head: Vec<u8>,
    /// The last bytes once the head is full (a ring, `tail_start` is its oldest byte).
    tail: Vec<u8>,
    tail_start: usize,
    dropped: u64,
}

impl BoundedCapture {
    pub(super) fn new(each_end: usize) -> Self {
        BoundedCapture { each_end, head: Vec::new(), tail: Vec::new(), tail_start: 0, dropped: 0 }
    }

    pub(super) fn push(&mut self, mut bytes: &[u8]) {
        let room = self.each_end.saturating_sub(self.head.len());
        let into_head = room.min(bytes.len());
        self.head.extend_from_slice(&bytes[..into_head]);
        bytes = &bytes[into_head..];
        for &b in bytes {
            if self.tail.len() < self.each_end {
                self.tail.push(b);
            } else if self.each_end > 0 {
                self.tail[self.tail_start] = b;
                self.tail_start = (self.tail_start + 1) % self.each_end;
                self.dropped += 1;
            } else {
                self.dropped += 1;
            }
        }
    }

    /// The text, decoded lossily, with a marker line where bytes were left out.
    pub(super) fn into_text(self) -> String {
        let mut bytes = self.head;
        if self.dropped > 0 {
            if !bytes.ends_with(b"\n") {
                bytes.push(b'\n');
            }
            bytes.extend_from_slice(format!("[torchup: {} bytes of output left out]\n", self.dropped).as_bytes());
        }
        bytes.extend_from_slice(&self.tail[self.tail_start..]);
        bytes.extend_from_slice(&self.tail[..self.tail_start]);
        String::from_utf8_lossy(&bytes).into_owned()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn short_output_is_kept_whole() {
        let mut c = BoundedCapture::new(8);
        c.push(b"abc");
        c.push(b"def\n");
        assert_eq!(c.into_text(), "abcdef\n");
    }

    #[test]
    fn long_output_keeps_head_and_tail_and_says_what_was_left_out() {
        let mut c = BoundedCapture::new(4);
        for chunk in [&b"HEAD"[..], b"middle-middle", b"TAIL"] {
            c.push(chunk);
        }
        assert_eq!(c.into_text(), "HEAD\n[torchup: 13 bytes of output left out]\nTAIL");
    }

    #[test]
    fn the_bound_holds_for_any_amount() {
        let mut c = BoundedCapture::new(1024);
        for _ in 0..1000 {
            c.push(&[b'x'; 1000]);
        }
        assert!(c.into_text().len() < 2 * 1024 + 100);
    }
}
