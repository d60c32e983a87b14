//! The frame around every screen: the step header, the key footer, bordered boxes and
//! centred pop-ups.

use ratatui::Frame;
use ratatui::layout::{Constraint, Flex, Layout, Rect};
use ratatui::style::Style;
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Clear, Paragraph};

use crate::tui::theme::Theme;

/// A bordered box with a title, in the theme's border glyphs.
pub(crate) fn boxed<'a>(title: impl Into<Line<'a>>, focused: bool, theme: &Theme) -> Block<'a> {
    let border = if focused { theme.focus_border() } else { theme.dim() };
    Block::bordered().border_set(theme.glyphs().border).border_style(border).title(title.into().style(theme.title()))
}

/// Where a step stands in the header.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum StepMark {
    Done,
    Current,
    Todo,
}

/// "torchup  ✓ Check › ● Choose › Review › Run › Result        linux x86_64"
pub(crate) fn header(frame: &mut Frame, area: Rect, steps: &[(&str, StepMark)], right: &str, theme: &Theme) {
    let g = theme.glyphs();
    let mut spans = vec![Span::styled(" torchup ", theme.accent().add_modifier(ratatui::style::Modifier::BOLD))];
    for (i, (name, mark)) in steps.iter().enumerate() {
        if i > 0 {
            spans.push(Span::styled(g.step_sep, theme.dim()));
        }
        match mark {
            StepMark::Done => {
                spans.push(Span::styled(format!("{} {name}", g.check), theme.ok()));
            }
            StepMark::Current => spans.push(Span::styled(format!(" {name} "), theme.selected())),
            StepMark::Todo => spans.push(Span::styled(name.to_string(), theme.dim())),
        }
    }
    let left = Line::from(spans);
    let [l, r] = Layout::horizontal([Constraint::Min(0), Constraint::Length(right.len() as u16 + 1)]).areas(area);
    frame.render_widget(Paragraph::new(left), l);
    frame.render_widget(Paragraph::new(Span::styled(right.to_string(), theme.dim())).right_aligned(), r);
}

/// The key footer: "↑↓ move  Enter continue  ? help  q quit", cut to fit.
pub(crate) fn footer(frame: &mut Frame, area: Rect, keys: &[(&str, &str)], theme: &Theme) {
    let mut spans = vec![Span::raw(" ")];
    let mut used = 1;
    for (k, what) in keys {
        let w = super::text::width(k) + 1 + super::text::width(what) + 2;
        if used + w > area.width as usize {
            break;
        }
        used += w;
        spans.push(Span::styled(k.to_string(), theme.key()));
        spans.push(Span::raw(format!(" {what}  ")));
    }
    frame.render_widget(Paragraph::new(Line::from(spans)), area);
}

/// A status line above the footer.
pub(crate) fn status(frame: &mut Frame, area: Rect, text: &str, style: Style, ellipsis: &str) {
    let text = super::text::truncate(text, area.width.saturating_sub(2) as usize, ellipsis);
    frame.render_widget(Paragraph::new(Span::styled(format!(" {text}"), style)), area);
}

/// A rectangle `w`×`h` centred in `area` (clamped to it).
pub(crate) fn centered(area: Rect, w: u16, h: u16) -> Rect {
    let [v] = Layout::vertical([Constraint::Length(h.min(area.height))]).flex(Flex::Center).areas(area);
    let [c] = Layout::horizontal([Constraint::Length(w.min(area.width))]).flex(Flex::Center).areas(v);
    c
}

/// A pop-up: clears its area and draws a focused box; returns the inner area.
pub(crate) fn popup(frame: &mut Frame, area: Rect, title: &str, theme: &Theme) -> Rect {
    frame.render_widget(Clear, area);
    let block = boxed(format!(" {title} "), true, theme);
    let inner = block.inner(area);
    frame.render_widget(block, area);
    inner
}

/// A button label: "[ Proceed ]", highlighted when selected.
pub(crate) fn button(label: &str, selected: bool, theme: &Theme) -> Span<'static> {
    if selected {
        Span::styled(format!("[ {label} ]"), theme.selected())
    } else {
        Span::styled(format!("[ {label} ]"), Style::new())
    }
}
