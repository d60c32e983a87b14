//! A download in progress: `<wheelhouse>/partial/<key>.part` plus a small JSON sidecar
//! `<key>.json` saying which URL it is, the server's validators (ETag / Last-Modified) and
//! how far each segment got. A new process reads the sidecar and continues with HTTP Range.
//!
//! The sidecar never claims more than was written: a segment's `done` is updated only after
//! its bytes were handed to the OS, and the sidecar is written after that (atomically, by
//! rename). A crash can lose recent progress, never invent it; the final SHA-256 check
//! catches anything else (a power cut after the sidecar but before the page cache).

use std::fs::File;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

/// Sidecar format; another value is treated as no sidecar (start over).
pub const PART_FORMAT: u32 = 1;

/// One byte range `[start, end)` of the file and how many of its bytes are on disk.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Segment {
    pub start: u64,
    /// Exclusive; None while the total size is unknown (one stream to the end).
    pub end: Option<u64>,
    pub done: u64,
}

impl Segment {
    /// The next byte to fetch.
    pub fn next(&self) -> u64 {
        self.start + self.done
    }

    pub fn is_complete(&self) -> bool {
        self.end.is_some_and(|e| self.next() >= e)
    }
}

/// What the sidecar records.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PartState {
    pub format: u32,
    /// The redacted URL the bytes came from.
    pub url: String,
    pub etag: Option<String>,
    pub last_modified: Option<String>,
    pub total: Option<u64>,
    pub segments: Vec<Segment>,
}

impl PartState {
    pub fn new(url: String) -> PartState {
        PartState { format: PART_FORMAT, url, etag: None, last_modified: None, total: None, segments: Vec::new() }
    }

    /// Bytes on disk.
    pub fn done(&self) -> u64 {
        self.segments.iter().map(|s| s.done).sum()
    }

    pub fn is_complete(&self) -> bool {
        !self.segments.is_empty() && self.segments.iter().all(Segment::is_complete)
    }

    /// The `If-Range` value that makes a server send the whole (new) file if it changed:
    /// a strong ETag, else Last-Modified. None: the server gave no validator.
    pub fn validator(&self) -> Option<&str> {
        match &self.etag {
            Some(e) if !e.starts_with("W/") => Some(e),
            _ => self.last_modified.as_deref(),
        }
    }

    /// Split `[0, total)` into `n` segments of nearly equal size.
    pub fn split(total: u64, n: usize) -> Vec<Segment> {
        let n = (n.max(1) as u64).min(total.max(1));
        let size = total.div_ceil(n);
        (0..n)
            .map(|i| Segment { start: i * size, end: Some(((i + 1) * size).min(total)), done: 0 })
            .filter(|s| s.end.is_some_and(|e| e > s.start) || total == 0)
            .collect()
    }

    /// Read a sidecar; None if missing, unreadable or another format.
    pub fn load(path: &Path) -> Option<PartState> {
        let text = std::fs::read_to_string(path).ok()?;
        let state: PartState = serde_json::from_str(&text).ok()?;
        (state.format == PART_FORMAT && state.consistent()).then_some(state)
    }

    /// Segments inside the file, non-overlapping, done within bounds.
    fn consistent(&self) -> bool {
        let mut prev_end = 0;
        for s in &self.segments {
            if s.start < prev_end {
                return false;
            }
            match (s.end, self.total) {
                (Some(e), Some(t)) if e > t || e < s.start || s.done > e - s.start => return false,
                (None, _) if self.segments.len() > 1 => return false,
                _ => {}
            }
            prev_end = s.end.unwrap_or(u64::MAX);
        }
        true
    }

    /// Write atomically: a temp file next to it, then rename.
    pub fn save(&self, path: &Path) -> std::io::Result<()> {
        let tmp = path.with_extension(format!("json.{}.tmp", std::process::id()));
        let json = serde_json::to_vec(self).map_err(std::io::Error::other)?;
        std::fs::write(&tmp, json)?;
        std::fs::rename(&tmp, path).inspect_err(|_| {
            let _ = std::fs::remove_file(&tmp);
        })
    }
}

/// Paths of one partial download.
#[derive(Debug, Clone)]
pub struct PartFiles {
    pub part: PathBuf,
    pub sidecar: PathBuf,
    pub lock: PathBuf,
}

impl PartFiles {
    pub fn new(dir: &Path, key: &str) -> PartFiles {
        PartFiles {
            part: dir.join(format!("{key}.part")),
            sidecar: dir.join(format!("{key}.json")),
            lock: dir.join(format!("{key}.lock")),
        }
    }

    /// Forget this download (after it moved into the store, or to start over).
    pub fn remove(&self) {
        let _ = std::fs::remove_file(&self.part);
        let _ = std::fs::remove_file(&self.sidecar);
    }
}

/// Write all of `buf` at `offset` without moving a shared cursor (segments write in parallel).
pub fn write_all_at(file: &File, buf: &[u8], offset: u64) -> std::io::Result<()> {
    #[cfg(unix)]
    {
        use std::os::unix::fs::FileExt;
        file.write_all_at(buf, offset)
    }
    #[cfg(windows)]
    {
        use std::os::windows::fs::FileExt;
        let (mut buf, mut offset) = (buf, offset);
        while !buf.is_empty() {
            let n = file.seek_write(buf, offset)?;
            if n == 0 {
                return Err(std::io::ErrorKind::WriteZero.into());
            }
            buf = &buf[n..];
            offset += n as u64;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn split_covers_the_file_exactly() {
        for (total, n) in [(100u64, 4usize), (10, 3), (3, 8), (1, 4), (64 << 20, 4)] {
            let segs = PartState::split(total, n);
            assert!(!segs.is_empty());
            assert_eq!(segs[0].start, 0);
            assert_eq!(segs.last().unwrap().end, Some(total));
            for w in segs.windows(2) {
                assert_eq!(w[0].end, Some(w[1].start));
            }
            assert!(segs.len() <= n);
        }
    }

    #[test]
    fn sidecar_round_trip_and_rejects() {
        let tmp = tempfile::tempdir().unwrap();
        let files = PartFiles::new(tmp.path(), "k");
        let mut st = PartState::new("https://h/a.whl".into());
        st.etag = Some("\"abc\"".into());
        st.total = Some(100);
        st.segments = PartState::split(100, 2);
        st.segments[0].done = 50;
        st.save(&files.sidecar).unwrap();
        let back = PartState::load(&files.sidecar).unwrap();
        assert_eq!(back, st);
        assert_eq!(back.done(), 50);
        assert!(!back.is_complete());
        assert_eq!(back.validator(), Some("\"abc\""));
        st.segments[1].done = 60; // more than the segment holds
        st.save(&files.sidecar).unwrap();
        assert!(PartState::load(&files.sidecar).is_none());
        std::fs::write(&files.sidecar, "{garbage").unwrap();
        assert!(PartState::load(&files.sidecar).is_none());
    }

    #[test]
    fn weak_etags_fall_back_to_last_modified() {
        let mut st = PartState::new("u".into());
        st.etag = Some("W/\"x\"".into());
        assert_eq!(st.validator(), None);
        st.last_modified = Some("Sun, 06 Dec 2026 04:00:00 GMT".into());
        assert_eq!(st.validator(), Some("Sun, 06 Dec 2026 04:00:00 GMT"));
    }

    #[test]
    fn positioned_writes() {
        let tmp = tempfile::tempdir().unwrap();
        let p = tmp.path().join("f");
        let f = File::create(&p).unwrap();
        write_all_at(&f, b"world", 6).unwrap();
        write_all_at(&f, b"hello ", 0).unwrap();
        assert_eq!(std::fs::read(&p).unwrap(), b"hello world");
    }
}
