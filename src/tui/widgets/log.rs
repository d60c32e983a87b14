//! The live log: a ring buffer with a fixed line count and a per-line length cap, so
//! memory stays bounded however much pip prints, and a view that renders only the
//! visible slice, so drawing costs the same with 100 lines or 100 000.
//! The full log is in the engine's log file; this is what fits on screen.

use std::collections::VecDeque;

use ratatui::Frame;
use ratatui::layout::Rect;
use ratatui::style::Style;
use ratatui::text::{Line, Span};
use ratatui::widgets::Paragraph;

use crate::tui::theme::Theme;
use crate::tui::widgets::text;

/// What a log line is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LineKind {
    Stdout,
    Stderr,
    /// "── install ──": a stage started.
    Marker,
    /// An engine notice.
    Notice,
}

/// One retained line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LogLine {
    pub kind: LineKind,
    pub text: String,
}

/// Bounded log storage. Lines are numbered from 0 for the whole run; the oldest are
/// dropped once `cap` lines are held.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LogBuffer {
    lines: VecDeque<LogLine>,
    cap: usize,
    /// Absolute number of `lines[0]`.
    first: u64,
}

impl Default for LogBuffer {
    fn default() -> Self {
        LogBuffer::with_capacity(LogBuffer::DEFAULT_CAP)
    }
}

impl LogBuffer {
    /// Lines kept on screen (the file has them all).
    pub const DEFAULT_CAP: usize = 5_000;
    /// Longer lines are cut (bytes, at a char boundary): a bound on memory per line.
    pub const MAX_LINE_BYTES: usize = 400;

    pub fn with_capacity(cap: usize) -> Self {
        let cap = cap.max(1);
        // Allocated once: the buffer never grows past `cap`.
        LogBuffer { lines: VecDeque::with_capacity(cap), cap, first: 0 }
    }

    pub fn push(&mut self, kind: LineKind, text: &str) {
        if self.lines.len() == self.cap {
            self.lines.pop_front();
            self.first += 1;
        }
        let text = clean(text);
        self.lines.push_back(LogLine { kind, text });
    }

    /// Absolute number of the first retained line.
    pub fn first(&self) -> u64 {
        self.first
    }

    /// One past the absolute number of the last line (= lines ever pushed).
    pub fn end(&self) -> u64 {
        self.first + self.lines.len() as u64
    }

    /// Lines retained.
    pub fn len(&self) -> usize {
        self.lines.len()
    }

    pub fn is_empty(&self) -> bool {
        self.lines.is_empty()
    }

    /// Lines dropped from the front so far.
    pub fn dropped(&self) -> u64 {
        self.first
    }

    pub fn cap(&self) -> usize {
        self.cap
    }

    /// The line with this absolute number, if still retained.
    pub fn get(&self, n: u64) -> Option<&LogLine> {
        let i = n.checked_sub(self.first)?;
        self.lines.get(usize::try_from(i).ok()?)
    }

    /// Heap bytes held (line structs plus their text): what the bound is about.
    pub fn heap_bytes(&self) -> usize {
        self.lines.capacity() * std::mem::size_of::<LogLine>()
            + self.lines.iter().map(|l| l.text.capacity()).sum::<usize>()
    }
}

/// Cut to the byte cap and drop control characters (a stray escape sequence from a
/// child must not reach the terminal).
fn clean(text: &str) -> String {
    let mut end = text.len().min(LogBuffer::MAX_LINE_BYTES);
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    let mut s: String =
        text[..end].chars().map(|c| if c == '\t' { ' ' } else { c }).filter(|c| !c.is_control()).collect();
    if end < text.len() {
        s.push('…');
    }
    s.shrink_to_fit();
    s
}

/// Where the log view is. Following: the newest lines are shown and new lines scroll in.
/// Otherwise `bottom` (absolute, exclusive) stays put while lines arrive.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LogScroll {
    pub follow: bool,
    pub bottom: u64,
}

impl Default for LogScroll {
    fn default() -> Self {
        LogScroll { follow: true, bottom: 0 }
    }
}

impl LogScroll {
    /// Scroll towards older lines by `n`, keeping at least a page visible.
    pub fn up(&mut self, log: &LogBuffer, n: u64, page: u64) {
        let bottom = if self.follow { log.end() } else { self.bottom };
        let min = (log.first() + page.min(log.len() as u64)).min(log.end());
        self.follow = false;
        self.bottom = bottom.saturating_sub(n).max(min);
    }

    /// Scroll towards newer lines; reaching the end follows the tail again.
    pub fn down(&mut self, log: &LogBuffer, n: u64) {
        if self.follow {
            return;
        }
        self.bottom = self.bottom.saturating_add(n);
        if self.bottom >= log.end() {
            self.follow = true;
        }
    }

    pub fn top(&mut self, log: &LogBuffer, page: u64) {
        self.follow = false;
        self.bottom = (log.first() + page.min(log.len() as u64)).min(log.end());
    }

    pub fn follow(&mut self) {
        self.follow = true;
    }

    /// The absolute range `[start, end)` shown in a pane `height` lines tall.
    pub fn window(&self, log: &LogBuffer, height: u64) -> (u64, u64) {
        let end = if self.follow { log.end() } else { self.bottom.clamp(log.first(), log.end()) };
        let start = end.saturating_sub(height).max(log.first());
        let end = (start + height).min(log.end());
        (start, end)
    }
}

/// Draw the visible slice of the log, long lines wrapped. Cost: O(height) lines are
/// looked at, never O(log length).
pub fn render(frame: &mut Frame, area: Rect, log: &LogBuffer, scroll: &LogScroll, theme: &Theme) {
    let lines: Vec<Line> = visible(log, scroll, area.width as usize, area.height as usize, theme).into();
    frame.render_widget(Paragraph::new(lines), area);
}

/// The screen lines for a pane `w`×`h`: wrapped log lines ending at the scroll position,
/// filled forward when the position is near the top.
fn visible(log: &LogBuffer, scroll: &LogScroll, w: usize, h: usize, theme: &Theme) -> VecDeque<Line<'static>> {
    let style = |kind: LineKind| match kind {
        LineKind::Stdout => Style::new(),
        LineKind::Stderr => theme.warn(),
        LineKind::Marker => theme.accent().add_modifier(ratatui::style::Modifier::BOLD),
        LineKind::Notice => theme.accent(),
    };
    let wrapped = |n: u64| -> Vec<Line<'static>> {
        log.get(n)
            .map(|l| {
                text::wrap_hard(&l.text, w, 2)
                    .into_iter()
                    .map(|piece| Line::from(Span::styled(piece, style(l.kind))))
                    .collect()
            })
            .unwrap_or_default()
    };
    let end = if scroll.follow { log.end() } else { scroll.bottom.clamp(log.first(), log.end()) };
    let mut out: VecDeque<Line<'static>> = VecDeque::with_capacity(h + 4);
    let mut n = end;
    while n > log.first() && out.len() < h {
        n -= 1;
        for l in wrapped(n).into_iter().rev() {
            out.push_front(l);
        }
    }
    while out.len() > h {
        out.pop_front();
    }
    let mut m = end;
    while out.len() < h && m < log.end() {
        for l in wrapped(m) {
            if out.len() < h {
                out.push_back(l);
            }
        }
        m += 1;
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn filled(n: usize, cap: usize) -> LogBuffer {
        let mut b = LogBuffer::with_capacity(cap);
        for i in 0..n {
            b.push(LineKind::Stdout, &format!("line {i}"));
        }
        b
    }

    #[test]
    fn ring_keeps_the_newest_lines() {
        let b = filled(25, 10);
        assert_eq!(b.len(), 10);
        assert_eq!(b.first(), 15);
        assert_eq!(b.end(), 25);
        assert_eq!(b.get(14), None);
        assert_eq!(b.get(15).map(|l| l.text.as_str()), Some("line 15"));
        assert_eq!(b.get(24).map(|l| l.text.as_str()), Some("line 24"));
        assert_eq!(b.get(25), None);
    }

    #[test]
    fn long_lines_are_cut_and_controls_dropped() {
        let mut b = LogBuffer::with_capacity(2);
        b.push(LineKind::Stdout, &"é".repeat(300));
        let l = &b.get(0).map(|l| l.text.clone()).unwrap_or_default();
        assert!(l.len() <= LogBuffer::MAX_LINE_BYTES + '…'.len_utf8());
        assert!(l.ends_with('…'));
        b.push(LineKind::Stdout, "a\x1b[31mred\tb");
        assert_eq!(b.get(1).map(|l| l.text.as_str()), Some("a[31mred b"));
    }

    #[test]
    fn memory_is_bounded_by_the_cap() {
        let mut b = LogBuffer::with_capacity(100);
        for _ in 0..10_000 {
            b.push(LineKind::Stdout, &"x".repeat(2_000));
        }
        let bound = 100 * (std::mem::size_of::<LogLine>() + LogBuffer::MAX_LINE_BYTES + 4);
        assert!(b.heap_bytes() <= bound, "{} > {bound}", b.heap_bytes());
    }

    #[test]
    fn following_shows_the_tail_and_scrolling_anchors() {
        let mut b = filled(100, 1000);
        let mut s = LogScroll::default();
        assert_eq!(s.window(&b, 10), (90, 100));
        s.up(&b, 5, 10);
        assert!(!s.follow);
        assert_eq!(s.window(&b, 10), (85, 95));
        // New lines do not move a scrolled view.
        b.push(LineKind::Stdout, "new");
        assert_eq!(s.window(&b, 10), (85, 95));
        s.up(&b, 1000, 10);
        assert_eq!(s.window(&b, 10), (0, 10));
        s.down(&b, 50);
        assert_eq!(s.window(&b, 10), (50, 60));
        s.down(&b, 1000);
        assert!(s.follow);
        assert_eq!(s.window(&b, 10), (91, 101));
    }

    fn texts(v: &VecDeque<Line>) -> Vec<String> {
        v.iter().map(|l| l.spans.iter().map(|s| s.content.as_ref()).collect()).collect()
    }

    #[test]
    fn visible_lines_wrap_from_the_bottom() {
        let t = Theme::MONO;
        let mut b = LogBuffer::with_capacity(100);
        b.push(LineKind::Stdout, "one");
        b.push(LineKind::Stdout, "two is long");
        b.push(LineKind::Stdout, "three");
        let s = LogScroll::default();
        assert_eq!(texts(&visible(&b, &s, 7, 3, &t)), vec!["two is", "  long", "three"]);
        assert_eq!(texts(&visible(&b, &s, 20, 5, &t)), vec!["one", "two is long", "three"]);
        // Scrolled to the top: the page is filled forward.
        let mut top = LogScroll::default();
        top.top(&b, 1);
        assert_eq!(texts(&visible(&b, &top, 20, 2, &t)), vec!["one", "two is long"]);
    }

    #[test]
    fn window_survives_dropped_lines() {
        let mut b = filled(10, 10);
        let mut s = LogScroll::default();
        s.up(&b, 5, 3);
        assert_eq!(s.window(&b, 3), (2, 5));
        for _ in 0..20 {
            b.push(LineKind::Stdout, "more");
        }
        // The anchored lines were dropped: the view clamps to what is retained.
        let (start, end) = s.window(&b, 3);
        assert_eq!(start, b.first());
        assert_eq!(end, b.first() + 3);
    }
}
