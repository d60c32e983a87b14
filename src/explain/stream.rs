//! Bytes in, lines out: encoding sniffed from the first block, then streamed through the
//! decoder and split on `\n` into the [`Scanner`]. Used for files, stdin and the output of
//! `torchup explain -- CMD` alike.

use encoding_rs::{CoderResult, Decoder};

use super::decode::{self, Detected, NotText, SNIFF_BYTES};
use super::scan::{Excerpt, Scanner, Signatures};

/// Longest partial line held while waiting for its `\n` (longer lines are cut; the rest of
/// that line is skipped).
const MAX_PENDING: usize = 64 * 1024;

/// Incremental decoder + scanner. Feed bytes with [`push`](Self::push) in any chunking;
/// [`finish`](Self::finish) returns the excerpt.
pub struct LineStream<'a> {
    scanner: Scanner<'a>,
    /// Bytes held until the encoding is chosen.
    head: Vec<u8>,
    decoder: Option<(Detected, Decoder)>,
    pending: String,
    /// The current line is over [`MAX_PENDING`]: drop the rest of it.
    skipping: bool,
    bytes: u64,
}

impl<'a> LineStream<'a> {
    pub fn new(sigs: &'a Signatures) -> LineStream<'a> {
        LineStream {
            scanner: Scanner::new(sigs),
            head: Vec::new(),
            decoder: None,
            pending: String::new(),
            skipping: false,
            bytes: 0,
        }
    }

    /// The encoding chosen (after the first block or [`finish`](Self::finish)).
    pub fn detected(&self) -> Option<Detected> {
        self.decoder.as_ref().map(|(d, _)| *d)
    }

    pub fn push(&mut self, bytes: &[u8]) -> Result<(), NotText> {
        self.bytes += bytes.len() as u64;
        if self.decoder.is_none() {
            self.head.extend_from_slice(bytes);
            if self.head.len() < SNIFF_BYTES {
                return Ok(());
            }
            self.start()?;
            return Ok(());
        }
        self.decode(bytes, false);
        Ok(())
    }

    fn start(&mut self) -> Result<(), NotText> {
        let detected = decode::detect(&self.head)?;
        self.decoder = Some((detected, detected.decoder()));
        let head = std::mem::take(&mut self.head);
        self.decode(&head, false);
        Ok(())
    }

    fn decode(&mut self, mut bytes: &[u8], last: bool) {
        let Some((detected, mut decoder)) = self.decoder.take() else { return };
        let mut buf = String::with_capacity(bytes.len().min(64 * 1024) + 16);
        loop {
            let (result, read, _) = decoder.decode_to_string(bytes, &mut buf, last);
            bytes = &bytes[read..];
            self.take_lines(&buf);
            buf.clear();
            match result {
                CoderResult::InputEmpty => break,
                CoderResult::OutputFull => buf.reserve(bytes.len().min(64 * 1024) + 16),
            }
        }
        self.decoder = Some((detected, decoder));
    }

    fn take_lines(&mut self, chunk: &str) {
        let mut rest = chunk;
        while let Some(i) = rest.find('\n') {
            let (line, after) = rest.split_at(i);
            if self.skipping {
                self.skipping = false;
            } else {
                self.pending.push_str(line);
            }
            let full = std::mem::take(&mut self.pending);
            self.scanner.push_raw(&full);
            rest = &after[1..];
        }
        if !self.skipping {
            self.pending.push_str(rest);
            if self.pending.len() > MAX_PENDING {
                // Keep the start (it is what gets shown), skip to the next newline.
                let mut cut = MAX_PENDING;
                while !self.pending.is_char_boundary(cut) {
                    cut -= 1;
                }
                self.pending.truncate(cut);
                self.skipping = true;
            }
        }
    }

    /// The end of the input.
    pub fn finish(mut self) -> Result<(Excerpt, Detected, u64), NotText> {
        if self.decoder.is_none() {
            self.start()?;
        }
        self.decode(&[], true);
        if !self.pending.is_empty() {
            let full = std::mem::take(&mut self.pending);
            self.scanner.push_raw(&full);
        }
        // Invariant: start() above set the decoder.
        let detected = self.detected().expect("the encoding is chosen by now");
        Ok((self.scanner.finish(), detected, self.bytes))
    }
}
