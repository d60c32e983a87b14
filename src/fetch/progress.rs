//! What a fetch tells its front end, and a pure aggregator of those events (per-file and
//! total bytes, rate over a sliding window, ETA) shared by the CLI printer and the TUI gauge.

use std::collections::{BTreeMap, VecDeque};
use std::time::{Duration, Instant};

/// One thing that happened during [`super::Fetcher::fetch_all`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FetchEvent {
    /// A transfer began; `resumed_from` bytes were already on disk from an earlier run.
    Started { file: String, total: Option<u64>, resumed_from: u64 },
    /// Bytes of `file` on disk so far (resumed bytes included).
    Progress { file: String, done: u64, total: Option<u64> },
    /// A stall, reset or server error; the transfer continues from where it was.
    Retrying { file: String, attempt: u32, why: String },
    /// The whole file matched its hash (or, without one, its RECORD).
    Verified { file: String, origin_verified: bool },
    /// Already in the wheelhouse: nothing downloaded.
    FromCache { file: String, size: u64 },
    /// In the wheelhouse now; `downloaded` bytes travelled in this run.
    Finished { file: String, size: u64, downloaded: u64 },
}

impl FetchEvent {
    pub fn file(&self) -> &str {
        match self {
            FetchEvent::Started { file, .. }
            | FetchEvent::Progress { file, .. }
            | FetchEvent::Retrying { file, .. }
            | FetchEvent::Verified { file, .. }
            | FetchEvent::FromCache { file, .. }
            | FetchEvent::Finished { file, .. } => file,
        }
    }
}

/// Where one file stands.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct FileProgress {
    pub done: u64,
    pub total: Option<u64>,
    /// Bytes that were on disk before this run (not counted in the rate).
    pub resumed_from: u64,
    pub retries: u32,
    pub finished: bool,
    pub from_cache: bool,
}

/// Aggregates [`FetchEvent`]s. Pure: time comes in through [`FetchProgress::update_at`].
#[derive(Debug, Clone)]
pub struct FetchProgress {
    files: BTreeMap<String, FileProgress>,
    /// (time, bytes transferred in this run) samples inside the window.
    samples: VecDeque<(Instant, u64)>,
    window: Duration,
}

impl Default for FetchProgress {
    fn default() -> Self {
        FetchProgress::new(Duration::from_secs(5))
    }
}

impl FetchProgress {
    /// `window`: how far back the rate looks (5 s by default).
    pub fn new(window: Duration) -> FetchProgress {
        FetchProgress { files: BTreeMap::new(), samples: VecDeque::new(), window }
    }

    pub fn update(&mut self, event: &FetchEvent) {
        self.update_at(event, Instant::now());
    }

    pub fn update_at(&mut self, event: &FetchEvent, now: Instant) {
        let f = self.files.entry(event.file().to_string()).or_default();
        match event {
            FetchEvent::Started { total, resumed_from, .. } => {
                f.total = *total;
                f.resumed_from = *resumed_from;
                f.done = *resumed_from;
            }
            FetchEvent::Progress { done, total, .. } => {
                f.done = (*done).max(f.done);
                if total.is_some() {
                    f.total = *total;
                }
            }
            FetchEvent::Retrying { attempt, .. } => f.retries = (*attempt).max(f.retries),
            FetchEvent::Verified { .. } => {}
            FetchEvent::FromCache { size, .. } => {
                *f = FileProgress {
                    done: *size,
                    total: Some(*size),
                    resumed_from: *size,
                    finished: true,
                    from_cache: true,
                    ..Default::default()
                };
            }
            FetchEvent::Finished { size, downloaded, .. } => {
                f.total = Some(*size);
                f.done = *size;
                f.resumed_from = size.saturating_sub(*downloaded);
                f.finished = true;
            }
        }
        let moved = self.transferred();
        self.samples.push_back((now, moved));
        while let Some(&(t, _)) = self.samples.front() {
            if now.duration_since(t) > self.window && self.samples.len() > 2 {
                self.samples.pop_front();
            } else {
                break;
            }
        }
    }

    pub fn file(&self, name: &str) -> Option<&FileProgress> {
        self.files.get(name)
    }

    pub fn files(&self) -> impl Iterator<Item = (&str, &FileProgress)> {
        self.files.iter().map(|(k, v)| (k.as_str(), v))
    }

    /// Bytes on disk over all files (resumed and cached included).
    pub fn done(&self) -> u64 {
        self.files.values().map(|f| f.done).sum()
    }

    /// Sum of the known sizes; None while some file's size is unknown.
    pub fn total(&self) -> Option<u64> {
        self.files.values().map(|f| f.total).sum()
    }

    /// Bytes that travelled in this run.
    pub fn transferred(&self) -> u64 {
        self.files.values().filter(|f| !f.from_cache).map(|f| f.done.saturating_sub(f.resumed_from)).sum()
    }

    /// Bytes per second over the sliding window; None until two samples are apart in time.
    pub fn rate(&self) -> Option<f64> {
        let (t0, b0) = *self.samples.front()?;
        let (t1, b1) = *self.samples.back()?;
        let dt = t1.duration_since(t0).as_secs_f64();
        (dt > 0.05).then(|| (b1.saturating_sub(b0)) as f64 / dt)
    }

    /// Time left at the current rate; None when unknown.
    pub fn eta(&self) -> Option<Duration> {
        let left = self.total()?.saturating_sub(self.done());
        if left == 0 {
            return Some(Duration::ZERO);
        }
        let rate = self.rate().filter(|r| *r > 0.0)?;
        Some(Duration::from_secs_f64(left as f64 / rate))
    }

    /// Fraction done in 0.0..=1.0, if the total is known.
    pub fn fraction(&self) -> Option<f64> {
        let total = self.total()?;
        Some(if total == 0 { 1.0 } else { (self.done() as f64 / total as f64).min(1.0) })
    }

    pub fn all_finished(&self) -> bool {
        !self.files.is_empty() && self.files.values().all(|f| f.finished)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ev_progress(file: &str, done: u64) -> FetchEvent {
        FetchEvent::Progress { file: file.into(), done, total: Some(1000) }
    }

    #[test]
    fn totals_rate_and_eta() {
        let t0 = Instant::now();
        let mut p = FetchProgress::new(Duration::from_secs(5));
        p.update_at(&FetchEvent::Started { file: "a".into(), total: Some(1000), resumed_from: 200 }, t0);
        p.update_at(&FetchEvent::Started { file: "b".into(), total: Some(1000), resumed_from: 0 }, t0);
        p.update_at(&FetchEvent::FromCache { file: "c".into(), size: 500 }, t0);
        assert_eq!(p.total(), Some(2500));
        assert_eq!(p.done(), 700);
        assert_eq!(p.transferred(), 0);
        assert_eq!(p.rate(), None);
        p.update_at(&ev_progress("a", 400), t0 + Duration::from_secs(1));
        p.update_at(&ev_progress("b", 200), t0 + Duration::from_secs(2));
        assert_eq!(p.transferred(), 400);
        // 400 bytes in 2 s.
        assert!((p.rate().unwrap() - 200.0).abs() < 1e-6);
        // 2500 - 1100 left at 200 B/s.
        assert_eq!(p.eta(), Some(Duration::from_secs(7)));
        assert!((p.fraction().unwrap() - 0.44).abs() < 1e-9);
        assert!(!p.all_finished());
    }

    #[test]
    fn window_slides() {
        let t0 = Instant::now();
        let mut p = FetchProgress::new(Duration::from_secs(2));
        p.update_at(&FetchEvent::Started { file: "a".into(), total: Some(10_000), resumed_from: 0 }, t0);
        // fast at first, then slow: the rate follows the recent past.
        p.update_at(&ev_progress("a", 5000), t0 + Duration::from_secs(1));
        for s in 2..=10 {
            p.update_at(&ev_progress("a", 5000 + (s - 1) * 10), t0 + Duration::from_secs(s));
        }
        assert!(p.rate().unwrap() < 20.0, "{:?}", p.rate());
    }

    #[test]
    fn finished_and_cached() {
        let t0 = Instant::now();
        let mut p = FetchProgress::default();
        p.update_at(&FetchEvent::Started { file: "a".into(), total: None, resumed_from: 0 }, t0);
        assert_eq!(p.total(), None);
        assert_eq!(p.eta(), None);
        p.update_at(&FetchEvent::Finished { file: "a".into(), size: 300, downloaded: 300 }, t0);
        p.update_at(&FetchEvent::FromCache { file: "b".into(), size: 100 }, t0);
        assert!(p.all_finished());
        assert_eq!(p.transferred(), 300);
        assert!(p.file("b").unwrap().from_cache);
        assert_eq!(p.eta(), Some(Duration::ZERO));
    }
}
