//! A scrollable document: pre-wrapped lines shown from an offset, with a scrollbar when
//! they do not fit. The screens build their lines with a known width, so the number of
//! lines is exact and scrolling clamps correctly.

use ratatui::Frame;
use ratatui::layout::{Margin, Rect};
use ratatui::text::Line;
use ratatui::widgets::{Paragraph, Scrollbar, ScrollbarOrientation, ScrollbarState};

use crate::tui::theme::Theme;

/// The largest useful offset for `len` lines in a pane `height` tall.
pub(crate) fn max_offset(len: usize, height: u16) -> u16 {
    u16::try_from(len.saturating_sub(height as usize)).unwrap_or(u16::MAX)
}

/// Draw `lines` from `offset` (clamped), with a scrollbar on the right edge when needed.
/// The lines must already fit `area.width - 1` (one column is kept for the scrollbar).
pub(crate) fn render(frame: &mut Frame, area: Rect, lines: Vec<Line<'static>>, offset: u16, theme: &Theme) {
    let len = lines.len();
    let offset = offset.min(max_offset(len, area.height));
    let start = offset as usize;
    let end = (start + area.height as usize).min(len);
    let visible: Vec<Line> = lines.into_iter().skip(start).take(end - start).collect();
    frame.render_widget(Paragraph::new(visible), area);
    if len > area.height as usize {
        let mut state = ScrollbarState::new(max_offset(len, area.height) as usize + 1).position(start);
        let bar = if theme.ascii {
            Scrollbar::new(ScrollbarOrientation::VerticalRight)
                .begin_symbol(Some("^"))
                .end_symbol(Some("v"))
                .track_symbol(Some("|"))
                .thumb_symbol("#")
        } else {
            Scrollbar::new(ScrollbarOrientation::VerticalRight).symbols(ratatui::symbols::scrollbar::VERTICAL)
        };
        frame.render_stateful_widget(
            bar.style(theme.dim()),
            area.inner(Margin { vertical: 0, horizontal: 0 }),
            &mut state,
        );
    }
}

/// Width available to text when a scrollbar may be drawn.
pub(crate) fn text_width(area: Rect) -> usize {
    area.width.saturating_sub(2) as usize
}
