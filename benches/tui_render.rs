//! TUI benchmarks (docs/benchmarks.md, "tui"): first-frame time, frame time with 100 to
//! 100 000 lines in the log pane, ingest rate, and the log buffer's peak memory measured
//! with a counting allocator. Frames are encoded by the real crossterm backend into memory
//! (escape sequences and all), so only the terminal's own drawing is left out.
//!
//! Run: `cargo bench --bench tui_render` (add `-- --quick` for a short run).

#[path = "../tests/tui_support/mod.rs"]
mod tui_support;

use std::alloc::{GlobalAlloc, Layout, System};
use std::io::Write;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use ratatui::backend::CrosstermBackend;
use ratatui::layout::Rect;
use ratatui::{Terminal, TerminalOptions, Viewport};
use torchup::exec::Stream;
use torchup::install::InstallEvent;
use torchup::tui::widgets::log::{LineKind, LogBuffer};
use torchup::tui::{App, AppOptions, Mode, Msg, Theme, update};
use tui_support::Harness;

/// Counts live heap bytes and the peak since the last reset.
struct Counting;

static LIVE: AtomicUsize = AtomicUsize::new(0);
static PEAK: AtomicUsize = AtomicUsize::new(0);

unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        // SAFETY: forwarded unchanged to the system allocator.
        let p = unsafe { System.alloc(layout) };
        if !p.is_null() {
            let now = LIVE.fetch_add(layout.size(), Ordering::Relaxed) + layout.size();
            PEAK.fetch_max(now, Ordering::Relaxed);
        }
        p
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: forwarded unchanged to the system allocator.
        unsafe { System.dealloc(ptr, layout) };
        LIVE.fetch_sub(layout.size(), Ordering::Relaxed);
    }
}

#[global_allocator]
static ALLOC: Counting = Counting;

fn reset_peak() -> usize {
    let live = LIVE.load(Ordering::Relaxed);
    PEAK.store(live, Ordering::Relaxed);
    live
}

/// A sink that takes one frame's bytes, like a terminal's input buffer, and drops them
/// on flush (the end of each draw).
struct Sink(Vec<u8>);

impl Write for Sink {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        std::hint::black_box(&self.0);
        self.0.clear();
        Ok(())
    }
}

fn terminal(w: u16, h: u16) -> Terminal<CrosstermBackend<Sink>> {
    Terminal::with_options(
        CrosstermBackend::new(Sink(Vec::with_capacity(1 << 16))),
        TerminalOptions { viewport: Viewport::Fixed(Rect::new(0, 0, w, h)) },
    )
    .expect("an in-memory backend cannot fail")
}

/// A pip-like output line: mostly short, some long (URLs), a few very long.
fn pip_line(i: usize) -> String {
    match i % 50 {
        0 => format!(
            "  Downloading https://download.pytorch.org/whl/cu130/nvidia_cublas_cu13-13.0.0.19-py3-none-manylinux_2_27_x86_64.whl ({} MB)",
            i % 900
        ),
        1 => "x".repeat(2_000),
        _ => format!(
            "Requirement already satisfied: package-{i} in ./.venv/lib/python3.11/site-packages (from torch==2.9.1+cu130) ({i}.0)"
        ),
    }
}

fn stats(mut v: Vec<Duration>) -> (Duration, Duration, Duration) {
    v.sort();
    let p = |q: f64| v[((v.len() - 1) as f64 * q) as usize];
    (p(0.5), p(0.95), v[v.len() - 1])
}

fn us(d: Duration) -> String {
    format!("{:.0} µs", d.as_secs_f64() * 1e6)
}

fn first_frame(runs: usize) {
    let mut times = Vec::new();
    for _ in 0..runs {
        let t = Instant::now();
        let (app, _effects) = App::new(AppOptions {
            theme: Theme::FULL,
            mode: Mode::Wizard,
            size: (120, 40),
            python: None,
            index_url: tui_support::INDEX.into(),
            now: t,
        });
        let mut term = terminal(120, 40);
        term.draw(|f| torchup::tui::view::render(&app, f)).expect("in memory");
        times.push(t.elapsed());
    }
    let (p50, p95, max) = stats(times);
    println!(
        "first frame (App::new + first draw, 120x40, crossterm encoding): p50 {} p95 {} max {}",
        us(p50),
        us(p95),
        us(max)
    );
}

/// A Run screen with `n` lines in the log.
fn run_screen(n: usize) -> Harness {
    let mut h = Harness::wizard();
    h.go_run();
    h.events(tui_support::events_until_download());
    for i in 0..n {
        h.send(Msg::Install(InstallEvent::Line { index: 2, stream: Stream::Stdout, text: pip_line(i) }));
    }
    h
}

fn frame_times(n: usize, frames: usize, size: (u16, u16)) {
    let mut h = run_screen(n);
    h.send(Msg::Resize(size.0, size.1));
    let mut term = terminal(size.0, size.1);
    let mut times = Vec::with_capacity(frames);
    for i in 0..frames {
        // A new line each frame: the pane scrolls, so every frame really changes.
        update(
            &mut h.app,
            Msg::Install(InstallEvent::Line { index: 2, stream: Stream::Stdout, text: pip_line(n + i) }),
        );
        let t = Instant::now();
        term.draw(|f| torchup::tui::view::render(&h.app, f)).expect("in memory");
        times.push(t.elapsed());
    }
    let (p50, p95, max) = stats(times);
    println!(
        "frame, run screen {}x{}, {:>7} log lines (following, +1 line/frame): p50 {} p95 {} max {}",
        size.0,
        size.1,
        n,
        us(p50),
        us(p95),
        us(max)
    );
}

fn ingest(n: usize) {
    let mut h = run_screen(0);
    let events: Vec<Msg> = (0..n)
        .map(|i| Msg::Install(InstallEvent::Line { index: 2, stream: Stream::Stdout, text: pip_line(i) }))
        .collect();
    let t = Instant::now();
    for m in events {
        update(&mut h.app, m);
    }
    let el = t.elapsed();
    println!(
        "ingest {n} log lines through update: {:.1} ms ({:.2} M lines/s)",
        el.as_secs_f64() * 1e3,
        n as f64 / el.as_secs_f64() / 1e6
    );
}

fn memory(n: usize) {
    let lines: Vec<String> = (0..n).map(pip_line).collect();
    let input: usize = lines.iter().map(|l| l.len()).sum();
    let base = reset_peak();
    let mut log = LogBuffer::default();
    for l in &lines {
        log.push(LineKind::Stdout, l);
    }
    let peak = PEAK.load(Ordering::Relaxed) - base;
    let live = LIVE.load(Ordering::Relaxed) - base;
    println!(
        "log buffer, {n} lines ({:.1} MB of text pushed): peak {:.2} MB, retained {:.2} MB ({} lines kept, cap {}, {} B max per line), heap_bytes() {:.2} MB",
        input as f64 / 1e6,
        peak as f64 / 1e6,
        live as f64 / 1e6,
        log.len(),
        log.cap(),
        LogBuffer::MAX_LINE_BYTES,
        log.heap_bytes() as f64 / 1e6
    );
    drop(log);
    // The whole App through update: the run keeps nothing per line beyond the buffer.
    let mut h = run_screen(0);
    let base = reset_peak();
    for l in &lines {
        update(&mut h.app, Msg::Install(InstallEvent::Line { index: 2, stream: Stream::Stdout, text: l.clone() }));
    }
    let peak = PEAK.load(Ordering::Relaxed) - base;
    println!("whole App after {n} lines through update: peak +{:.2} MB over the App before the run", peak as f64 / 1e6);
}

fn main() {
    let quick = std::env::args().any(|a| a == "--quick");
    let frames = if quick { 50 } else { 500 };
    println!("torchup TUI benchmarks ({} build)", if cfg!(debug_assertions) { "debug" } else { "release" });
    first_frame(if quick { 10 } else { 100 });
    for n in [100, 10_000, 100_000] {
        frame_times(n, frames, (120, 40));
    }
    frame_times(100_000, frames, (80, 24));
    frame_times(100_000, frames, (250, 70));
    ingest(100_000);
    memory(100_000);
}
