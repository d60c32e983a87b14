//! Download progress on the command line: on a terminal, one indicatif bar per file plus a
//! total (bytes, rate, ETA); off a terminal nothing on stderr. In both cases a log line per
//! 10 % of each file (and when a file retries, comes from the cache or is verified) goes to
//! the log through `tracing`.

use std::collections::HashMap;
use std::time::Duration;

use indicatif::{MultiProgress, ProgressBar, ProgressDrawTarget, ProgressStyle};

use crate::describe;
use crate::fetch::{FetchEvent, FetchProgress};

/// Renders [`FetchEvent`]s. Feed it with [`FetchPrinter::handle`].
pub(crate) struct FetchPrinter {
    progress: FetchProgress,
    multi: MultiProgress,
    bars: HashMap<String, ProgressBar>,
    total: Option<ProgressBar>,
    /// Last 10 % step logged per file.
    logged: HashMap<String, u64>,
}

impl FetchPrinter {
    /// Bars on stderr when `tty`, else hidden.
    pub(crate) fn new(tty: bool) -> FetchPrinter {
        let target = if tty { ProgressDrawTarget::stderr_with_hz(10) } else { ProgressDrawTarget::hidden() };
        FetchPrinter {
            progress: FetchProgress::default(),
            multi: MultiProgress::with_draw_target(target),
            bars: HashMap::new(),
            total: None,
            logged: HashMap::new(),
        }
    }

    pub(crate) fn handle(&mut self, ev: &FetchEvent) {
        self.progress.update(ev);
        for line in self.log_lines(ev) {
            tracing::info!("{line}");
        }
        let file = ev.file().to_string();
        match ev {
            FetchEvent::Started { total, resumed_from, .. } => {
                let bar = self.bar(&file, *total);
                bar.set_position(*resumed_from);
                if *resumed_from > 0 {
                    bar.set_message(format!("{} (resumed)", short(&file)));
                }
            }
            FetchEvent::Progress { done, total, .. } => {
                let bar = self.bar(&file, *total);
                if let Some(t) = total {
                    bar.set_length(*t);
                }
                bar.set_position(*done);
            }
            FetchEvent::Retrying { attempt, why, .. } => {
                self.bar(&file, None).set_message(format!("{} (retry {attempt}: {why})", short(&file)));
            }
            FetchEvent::Verified { .. } => {
                self.bar(&file, None).set_message(format!("{} (verifying done)", short(&file)));
            }
            FetchEvent::FromCache { size, .. } => {
                let bar = self.bar(&file, Some(*size));
                bar.set_position(*size);
                bar.finish_with_message(format!("{} (from the wheelhouse)", short(&file)));
            }
            FetchEvent::Finished { size, .. } => {
                let bar = self.bar(&file, Some(*size));
                bar.set_length(*size);
                bar.set_position(*size);
                bar.finish_with_message(short(&file));
            }
        }
        self.update_total();
    }

    /// Leave the bars as they are (finished or not) and stop drawing.
    pub(crate) fn finish(&mut self) {
        for bar in self.bars.values() {
            if !bar.is_finished() {
                bar.abandon();
            }
        }
        if let Some(t) = &self.total {
            t.finish();
        }
    }

    /// The log lines an event is worth: every 10 % step of a file, retries, cache hits and
    /// the verification result. Pure apart from the printer's step memory.
    pub(crate) fn log_lines(&mut self, ev: &FetchEvent) -> Vec<String> {
        let file = ev.file();
        match ev {
            FetchEvent::Started { total, resumed_from, .. } => {
                let size = total.map(describe::bytes).unwrap_or_else(|| "unknown size".into());
                let step = total.filter(|t| *t > 0).map_or(0, |t| resumed_from * 10 / t);
                self.logged.insert(file.to_string(), step);
                if *resumed_from > 0 {
                    vec![format!("{file}: resuming at {} of {size}", describe::bytes(*resumed_from))]
                } else {
                    vec![format!("{file}: downloading {size}")]
                }
            }
            FetchEvent::Progress { done, total: Some(t), .. } if *t > 0 => {
                let step = (done * 10 / t).min(10);
                let last = self.logged.entry(file.to_string()).or_insert(0);
                if step > *last && step < 10 {
                    *last = step;
                    let rate =
                        self.progress.rate().map(|r| format!(", {}/s", describe::bytes(r as u64))).unwrap_or_default();
                    vec![format!(
                        "{file}: {}% ({} of {}{rate})",
                        step * 10,
                        describe::bytes(*done),
                        describe::bytes(*t)
                    )]
                } else {
                    vec![]
                }
            }
            FetchEvent::Progress { .. } => vec![],
            FetchEvent::Retrying { attempt, why, .. } => vec![format!("{file}: {why}; retry {attempt}")],
            FetchEvent::Verified { origin_verified: true, .. } => vec![format!("{file}: SHA-256 verified")],
            FetchEvent::Verified { origin_verified: false, .. } => {
                vec![format!("{file}: integrity checked (RECORD), origin not verified (no published hash)")]
            }
            FetchEvent::FromCache { size, .. } => {
                vec![format!("{file}: {} from the wheelhouse", describe::bytes(*size))]
            }
            FetchEvent::Finished { size, downloaded, .. } => {
                vec![format!(
                    "{file}: done, {} ({} downloaded now)",
                    describe::bytes(*size),
                    describe::bytes(*downloaded)
                )]
            }
        }
    }

    fn bar(&mut self, file: &str, total: Option<u64>) -> ProgressBar {
        if let Some(b) = self.bars.get(file) {
            return b.clone();
        }
        let bar = match total {
            Some(t) => ProgressBar::new(t),
            None => ProgressBar::new_spinner(),
        };
        bar.set_style(file_style());
        bar.set_message(short(file));
        bar.enable_steady_tick(Duration::from_millis(200));
        let bar = match &self.total {
            // Keep the total line last.
            Some(t) => self.multi.insert_before(t, bar),
            None => self.multi.add(bar),
        };
        self.bars.insert(file.to_string(), bar.clone());
        bar
    }

    fn update_total(&mut self) {
        if self.bars.len() < 2 {
            return;
        }
        let total = self.total.get_or_insert_with(|| {
            let t = self.multi.add(ProgressBar::new(0));
            t.set_style(file_style());
            t.set_message("total");
            t
        });
        if let Some(n) = self.progress.total() {
            total.set_length(n);
        }
        total.set_position(self.progress.done());
    }
}

/// One bar line: name, bar, bytes, rate, ETA (files and the total alike).
const TEMPLATE: &str = "{msg:40!} {bar:25} {bytes:>10}/{total_bytes:<10} {bytes_per_sec:>11} eta {eta}";

fn file_style() -> ProgressStyle {
    // A constant template indicatif accepts (checked by the tests); the fallback is never used.
    ProgressStyle::with_template(TEMPLATE).unwrap_or_else(|_| ProgressStyle::default_bar())
}

/// A wheel name short enough for a bar label: `torch-2.5.1+cu124-cp311-…`.
fn short(file: &str) -> String {
    if file.chars().count() <= 40 {
        file.to_string()
    } else {
        format!("{}…", file.chars().take(39).collect::<String>())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn templates_are_valid() {
        assert!(ProgressStyle::with_template(TEMPLATE).is_ok());
    }

    #[test]
    fn a_log_line_per_ten_percent() {
        let f = "torch.whl".to_string();
        let mut p = FetchPrinter::new(false);
        let mut logged = p.log_lines(&FetchEvent::Started { file: f.clone(), total: Some(1000), resumed_from: 250 });
        for done in (260..=1000).step_by(10) {
            logged.extend(p.log_lines(&FetchEvent::Progress { file: f.clone(), done, total: Some(1000) }));
        }
        logged.extend(p.log_lines(&FetchEvent::Finished { file: f.clone(), size: 1000, downloaded: 750 }));
        assert_eq!(logged.first().unwrap(), "torch.whl: resuming at 250 B of 1 kB");
        let steps: Vec<&String> = logged.iter().filter(|l| l.contains('%')).collect();
        assert_eq!(steps.len(), 7, "{logged:?}"); // 30 % .. 90 %
        assert!(steps[0].starts_with("torch.whl: 30% (300 B of 1 kB"));
        assert!(logged.last().unwrap().contains("done, 1 kB (750 B downloaded now)"));
    }

    #[test]
    fn hidden_bars_still_aggregate() {
        let mut p = FetchPrinter::new(false);
        p.handle(&FetchEvent::Started { file: "a.whl".into(), total: Some(100), resumed_from: 0 });
        p.handle(&FetchEvent::Progress { file: "a.whl".into(), done: 40, total: Some(100) });
        p.handle(&FetchEvent::FromCache { file: "b.whl".into(), size: 5 });
        p.finish();
        assert_eq!(p.progress.done(), 45);
        assert!(p.progress.file("b.whl").unwrap().from_cache);
        assert_eq!(p.bars.len(), 2);
        assert!(p.total.is_some(), "a total line once there are two files");
    }

    #[test]
    fn labels_are_short() {
        assert_eq!(short("a.whl"), "a.whl");
        assert_eq!(short(&"x".repeat(60)).chars().count(), 40);
    }
}
