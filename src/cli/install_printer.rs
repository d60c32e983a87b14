//! Plain-text rendering of install events on stderr: stage transitions, smoke chips,
//! diagnoses and, on a terminal, one live status line with a download bar, bytes, rate and
//! elapsed time. Off a terminal every output line is printed plainly (logs, CI).

use std::io::Write;
use std::time::{Duration, Instant};

use crate::describe;
use crate::install::{InstallEvent, StageInfo};

/// Prints events as they come.
pub(crate) struct Printer<W: Write> {
    out: W,
    live: bool,
    stages: Vec<StageInfo>,
    stage_started: Option<Instant>,
    download: Option<DownloadRate>,
    status_shown: bool,
    /// Off a terminal: the download and the tenth last logged.
    logged_tenth: Option<(String, u8)>,
    /// On a terminal: one bar per file and a total while torchup fetches.
    fetch_bars: Option<super::fetch_printer::FetchPrinter>,
}

/// Rate over the current download.
struct DownloadRate {
    label: String,
    started: Instant,
}

impl<W: Write> Printer<W> {
    /// `live`: stderr is a terminal, so a redrawn status line is fine.
    pub(crate) fn new(out: W, live: bool) -> Self {
        Printer {
            out,
            live,
            stages: Vec::new(),
            stage_started: None,
            download: None,
            status_shown: false,
            logged_tenth: None,
            fetch_bars: None,
        }
    }

    fn clear_status(&mut self) {
        if self.status_shown {
            let _ = write!(self.out, "\r\x1b[2K");
            self.status_shown = false;
        }
    }

    fn println(&mut self, text: &str) {
        self.clear_status();
        // pip's own lines may echo the index URL: mask credentials in everything shown.
        let _ = writeln!(self.out, "{}", crate::redact::redact_text(text));
    }

    pub(crate) fn event(&mut self, ev: &InstallEvent) {
        match ev {
            // On a terminal, bars per file (indicatif); otherwise the 10 % lines of `Progress`.
            InstallEvent::Fetch { event, .. } => {
                if self.live {
                    self.clear_status();
                    self.fetch_bars.get_or_insert_with(|| super::fetch_printer::FetchPrinter::new(true)).handle(event);
                }
            }
            InstallEvent::Stages(s) => self.stages = s.clone(),
            InstallEvent::StageStarted { index } => {
                self.stage_started = Some(Instant::now());
                self.download = None;
                let total = self.stages.len();
                let line = match self.stages.get(*index) {
                    Some(s) => format!("[{}/{}] {}: {}", index + 1, total, s.stage, s.summary),
                    None => format!("[{}] stage", index + 1),
                };
                self.println(&line);
            }
            InstallEvent::Line { text, .. } => {
                if !self.live && !text.trim().is_empty() {
                    self.println(&format!("    | {text}"));
                }
            }
            InstallEvent::Progress { label, done, total, .. } => self.progress(label, *done, *total),
            InstallEvent::StageFinished { ok, elapsed, .. } => {
                if let Some(mut bars) = self.fetch_bars.take() {
                    bars.finish();
                }
                let mark = if *ok { "done" } else { "FAILED" };
                self.println(&format!("      {mark} in {}", elapsed_text(*elapsed)));
            }
            InstallEvent::Smoke { expected, met, report, .. } => {
                let chips: Vec<String> =
                    report.checks.iter().map(|c| format!("{} {}", if c.ok { "✓" } else { "✗" }, c.name)).collect();
                self.println(&format!("      {}", expected.outcome(*met)));
                if !chips.is_empty() {
                    self.println(&format!("        {}", chips.join("  ")));
                }
            }
            InstallEvent::Diagnosis { diagnosis, .. } => {
                self.println(&format!("      ! {} {}", diagnosis.id, diagnosis.title));
                if !diagnosis.fix.is_empty() {
                    self.println(&format!("        fix: {}", diagnosis.fix));
                }
            }
            InstallEvent::Notice(text) => self.println(&format!("      → {text}")),
            InstallEvent::Finished(_) => self.clear_status(),
        }
        let _ = self.out.flush();
    }

    fn progress(&mut self, label: &str, done: u64, total: Option<u64>) {
        // The fetch draws its own bars.
        if self.fetch_bars.is_some() {
            return;
        }
        // Off a terminal: one line per tenth of the download, for logs.
        if !self.live {
            let Some(total) = total.filter(|t| *t > 0) else { return };
            let tenth = (done.min(total) * 10 / total) as u8;
            let (last_label, last_tenth) = self.logged_tenth.clone().unwrap_or_default();
            if last_label != label || tenth > last_tenth {
                self.logged_tenth = Some((label.to_string(), tenth));
                let _ = writeln!(
                    self.out,
                    "      {label}: {}% ({} of {})",
                    tenth * 10,
                    describe::bytes(done),
                    describe::bytes(total)
                );
            }
            return;
        }
        let now = Instant::now();
        if self.download.as_ref().is_none_or(|d| d.label != label) {
            self.download = Some(DownloadRate { label: label.to_string(), started: now });
        }
        let elapsed = self.stage_started.map(|s| now.duration_since(s)).unwrap_or_default();
        let rate_secs = self.download.as_ref().map(|d| now.duration_since(d.started).as_secs_f64()).unwrap_or(0.0);
        let line = status_line(label, done, total, rate_secs, elapsed, 100);
        let _ = write!(self.out, "\r\x1b[2K{line}");
        self.status_shown = true;
    }
}

/// One status line: label, bar, bytes, rate, elapsed; cut to `width` characters.
pub(crate) fn status_line(
    label: &str,
    done: u64,
    total: Option<u64>,
    rate_secs: f64,
    elapsed: Duration,
    width: usize,
) -> String {
    let mut s = format!("      {label}");
    if let Some(total) = total.filter(|t| *t > 0) {
        let frac = (done as f64 / total as f64).clamp(0.0, 1.0);
        let filled = (frac * 20.0).round() as usize;
        s.push_str(&format!(
            "  [{}{}] {} / {}",
            "#".repeat(filled),
            "-".repeat(20 - filled),
            describe::bytes(done),
            describe::bytes(total)
        ));
        if rate_secs > 0.5 && done > 0 {
            s.push_str(&format!("  {}/s", describe::bytes((done as f64 / rate_secs) as u64)));
        }
    }
    s.push_str(&format!("  {}", elapsed_text(elapsed)));
    s.chars().take(width).collect()
}

fn elapsed_text(d: Duration) -> String {
    let s = d.as_secs();
    if s >= 60 { format!("{}m{:02}s", s / 60, s % 60) } else { format!("{:.1}s", d.as_secs_f64()) }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn status_line_shows_bar_bytes_rate_and_time() {
        let l = status_line(
            "Downloading torch.whl (2.4 GB)",
            1_200_000_000,
            Some(2_400_000_000),
            10.0,
            Duration::from_secs(75),
            200,
        );
        assert!(l.contains("[##########----------]"), "{l}");
        assert!(l.contains("1.20 GB / 2.40 GB"), "{l}");
        assert!(l.contains("120.0 MB/s"), "{l}");
        assert!(l.ends_with("1m15s"), "{l}");
    }

    #[test]
    fn status_line_without_total_has_no_bar() {
        let l = status_line("Installing collected packages: torch", 0, None, 0.0, Duration::from_millis(2500), 200);
        assert_eq!(l, "      Installing collected packages: torch  2.5s");
    }

    #[test]
    fn plain_mode_prints_lines_and_stages() {
        let mut buf = Vec::new();
        {
            let mut p = Printer::new(&mut buf, false);
            p.event(&InstallEvent::Stages(vec![StageInfo {
                index: 0,
                stage: crate::install::stage::RunStage::Install,
                summary: "Install torch".into(),
            }]));
            p.event(&InstallEvent::StageStarted { index: 0 });
            p.event(&InstallEvent::Line {
                index: 0,
                stream: crate::exec::Stream::Stdout,
                text: "Collecting torch".into(),
            });
            p.event(&InstallEvent::StageFinished { index: 0, ok: true, elapsed: Duration::from_secs(3) });
        }
        let text = String::from_utf8(buf).unwrap();
        assert_eq!(text, "[1/1] install: Install torch\n    | Collecting torch\n      done in 3.0s\n");
    }
}
