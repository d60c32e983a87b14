//! Text bars: a progress/VRAM gauge and the GPU-vs-CPU throughput chart, drawn with
//! glyphs so they degrade to `#`/`.` on ASCII consoles.

use ratatui::style::Style;
use ratatui::text::Span;

use crate::tui::theme::Theme;

/// A bar `width` cells wide, `frac` (0..=1) full.
pub(crate) fn bar(frac: f64, width: usize, fill: Style, theme: &Theme) -> Vec<Span<'static>> {
    let g = theme.glyphs();
    let frac = if frac.is_finite() { frac.clamp(0.0, 1.0) } else { 0.0 };
    let full = ((frac * width as f64).round() as usize).min(width);
    vec![Span::styled(g.bar_full.repeat(full), fill), Span::styled(g.bar_empty.repeat(width - full), theme.dim())]
}

/// Horizontal bars for labelled values, scaled to the largest: one line each.
/// Returns (label, bar spans, value text) rows ready to lay out.
pub(crate) fn chart_rows(
    values: &[(&str, f64)],
    width: usize,
    styles: &[Style],
    theme: &Theme,
) -> Vec<Vec<Span<'static>>> {
    let max = values.iter().map(|(_, v)| *v).fold(0.0_f64, f64::max);
    let label_w = values.iter().map(|(l, _)| l.len()).max().unwrap_or(0);
    values
        .iter()
        .enumerate()
        .map(|(i, (label, v))| {
            let frac = if max > 0.0 { v / max } else { 0.0 };
            let style = styles.get(i).copied().unwrap_or_default();
            let mut row = vec![Span::raw(format!("{label:<label_w$} "))];
            // At least one cell so a small but non-zero value stays visible.
            let cells = if *v > 0.0 { ((frac * width as f64).round() as usize).clamp(1, width) } else { 0 };
            row.push(Span::styled(theme.glyphs().bar_full.repeat(cells), style));
            row.push(Span::raw(" ".repeat(width - cells)));
            row.push(Span::raw(format!(" {}", gflops(*v))));
            row
        })
        .collect()
}

/// "1843 GFLOP/s", "95.2 GFLOP/s".
pub(crate) fn gflops(v: f64) -> String {
    if v >= 100.0 { format!("{v:.0} GFLOP/s") } else { format!("{v:.1} GFLOP/s") }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn text(spans: &[Span]) -> String {
        spans.iter().map(|s| s.content.as_ref()).collect()
    }

    #[test]
    fn bar_fills_proportionally() {
        let t = Theme { color: false, ascii: true };
        assert_eq!(text(&bar(0.5, 10, Style::new(), &t)), "#####.....");
        assert_eq!(text(&bar(2.0, 4, Style::new(), &t)), "####");
        assert_eq!(text(&bar(f64::NAN, 4, Style::new(), &t)), "....");
    }

    #[test]
    fn chart_scales_to_the_largest_and_keeps_small_values_visible() {
        let t = Theme { color: false, ascii: true };
        let rows = chart_rows(&[("GPU", 1800.0), ("CPU", 10.0)], 20, &[], &t);
        assert_eq!(text(&rows[0]), "GPU #################### 1800 GFLOP/s");
        assert_eq!(text(&rows[1]), "CPU #                    10.0 GFLOP/s");
    }
}
