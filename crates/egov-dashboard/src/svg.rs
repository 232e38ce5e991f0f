//! Charts as SVG written on the server: grouped bars or lines over labelled
//! categories, axis ticks in the reader's number format, a legend, and a
//! `<title>` per point for the exact value. No script, no library.

use crate::html::escape;
use crate::i18n::Lang;
use egov_model::format;
use std::fmt::Write as _;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Bars,
    Lines,
}

#[derive(Debug, Clone)]
pub struct Series {
    pub name: String,
    pub color: &'static str,
    /// One value per label; `None` is a gap (e.g. a rate with nothing to rate).
    pub values: Vec<Option<f64>>,
}

#[derive(Debug, Clone)]
pub struct Chart {
    /// Identifies the chart on the page (`data-chart`).
    pub id: String,
    pub kind: Kind,
    pub labels: Vec<String>,
    pub series: Vec<Series>,
    /// Values are fractions shown as percentages (axis 0–100%).
    pub percent: bool,
    /// Label every n-th category (1: all).
    pub label_every: usize,
}

pub const COLORS: [&str; 4] = ["#2563eb", "#16a34a", "#dc2626", "#9333ea"];

const WIDTH: f64 = 520.0;
const HEIGHT: f64 = 250.0;
const LEFT: f64 = 62.0;
const RIGHT: f64 = 12.0;
const TOP: f64 = 28.0;
const BOTTOM: f64 = 36.0;

/// 1, 2 or 5 times a power of ten, at least `max`.
fn nice_ceiling(max: f64) -> f64 {
    if max <= 0.0 || !max.is_finite() {
        return 1.0;
    }
    let power = 10f64.powf(max.log10().floor());
    for step in [1.0, 2.0, 5.0, 10.0] {
        if step * power >= max {
            return step * power;
        }
    }
    10.0 * power
}

fn tick_label(value: f64, percent: bool, lang: Lang) -> String {
    if percent {
        let whole = (value * 100.0).round() as u64;
        format!("{whole}%")
    } else {
        format::count(value.round().max(0.0) as u64, lang)
    }
}

fn value_label(value: f64, percent: bool, lang: Lang) -> String {
    if percent {
        format::percent(Some(value), lang)
    } else {
        format::count(value.round().max(0.0) as u64, lang)
    }
}

pub fn render(chart: &Chart, lang: Lang) -> String {
    let mut out = String::new();
    let n = chart.labels.len().max(1);
    let plot_w = WIDTH - LEFT - RIGHT;
    let plot_h = HEIGHT - TOP - BOTTOM;
    let max = chart
        .series
        .iter()
        .flat_map(|s| s.values.iter().flatten())
        .fold(0.0f64, |a, b| a.max(*b));
    // Four steps of a round size: whole numbers for counts.
    let step = if chart.percent {
        0.25
    } else {
        nice_ceiling(max / 4.0).max(1.0)
    };
    let top = step * 4.0;
    let y = |v: f64| TOP + plot_h - (v / top).clamp(0.0, 1.0) * plot_h;
    let slot = plot_w / n as f64;
    let x_center = |i: usize| LEFT + slot * (i as f64 + 0.5);
    let _ = write!(
        out,
        "<svg xmlns=\"http://www.w3.org/2000/svg\" data-chart=\"{}\" width=\"{WIDTH}\" height=\"{HEIGHT}\" \
         viewBox=\"0 0 {WIDTH} {HEIGHT}\" font-family=\"system-ui,Arial,sans-serif\" font-size=\"10\" role=\"img\">",
        escape(&chart.id)
    );
    // Grid and y axis.
    for tick in 0..=4 {
        let v = step * f64::from(tick);
        let yy = y(v);
        let _ = write!(
            out,
            "<line x1=\"{LEFT}\" x2=\"{:.1}\" y1=\"{yy:.1}\" y2=\"{yy:.1}\" stroke=\"#e5e7eb\"/>\
             <text x=\"{:.1}\" y=\"{:.1}\" text-anchor=\"end\" fill=\"#4b5563\">{}</text>",
            WIDTH - RIGHT,
            LEFT - 6.0,
            yy + 3.0,
            escape(&tick_label(v, chart.percent, lang))
        );
    }
    let _ = write!(
        out,
        "<line x1=\"{LEFT}\" x2=\"{LEFT}\" y1=\"{TOP}\" y2=\"{:.1}\" stroke=\"#9ca3af\"/>",
        TOP + plot_h
    );
    // Category labels.
    let every = chart.label_every.max(1);
    for (i, label) in chart.labels.iter().enumerate() {
        if i % every == 0 {
            let _ = write!(
                out,
                "<text x=\"{:.1}\" y=\"{:.1}\" text-anchor=\"middle\" fill=\"#4b5563\">{}</text>",
                x_center(i),
                TOP + plot_h + 14.0,
                escape(label)
            );
        }
    }
    match chart.kind {
        Kind::Bars => bars(&mut out, chart, slot, &x_center, &y, lang),
        Kind::Lines => lines(&mut out, chart, &x_center, &y, lang),
    }
    // Legend.
    let mut lx = LEFT;
    for series in &chart.series {
        let _ = write!(
            out,
            "<rect x=\"{lx:.1}\" y=\"8\" width=\"10\" height=\"10\" fill=\"{}\"/>\
             <text x=\"{:.1}\" y=\"17\" fill=\"#111827\">{}</text>",
            series.color,
            lx + 14.0,
            escape(&series.name)
        );
        lx += 24.0 + 6.0 * series.name.chars().count() as f64;
    }
    out.push_str("</svg>");
    out
}

fn bars(
    out: &mut String,
    chart: &Chart,
    slot: f64,
    x_center: &dyn Fn(usize) -> f64,
    y: &dyn Fn(f64) -> f64,
    lang: Lang,
) {
    let groups = chart.series.len().max(1);
    let width = (slot * 0.8 / groups as f64).max(1.0);
    let base = y(0.0);
    for (s, series) in chart.series.iter().enumerate() {
        for (i, value) in series.values.iter().enumerate() {
            let Some(value) = value else { continue };
            let x = x_center(i) - slot * 0.4 + width * s as f64;
            let top = y(*value);
            let label = chart.labels.get(i).map(String::as_str).unwrap_or("");
            let _ = write!(
                out,
                "<rect x=\"{x:.1}\" y=\"{top:.1}\" width=\"{width:.1}\" height=\"{:.1}\" fill=\"{}\" \
                 data-series=\"{}\" data-value=\"{value}\"><title>{} · {}: {}</title></rect>",
                (base - top).max(0.0),
                series.color,
                escape(&series.name),
                escape(label),
                escape(&series.name),
                escape(&value_label(*value, chart.percent, lang))
            );
        }
    }
}

fn lines(
    out: &mut String,
    chart: &Chart,
    x_center: &dyn Fn(usize) -> f64,
    y: &dyn Fn(f64) -> f64,
    lang: Lang,
) {
    for series in &chart.series {
        // A gap (no value) breaks the line.
        let mut path = String::new();
        let mut pen_down = false;
        for (i, value) in series.values.iter().enumerate() {
            match value {
                Some(v) => {
                    let command = if pen_down { 'L' } else { 'M' };
                    let _ = write!(path, "{command}{:.1},{:.1} ", x_center(i), y(*v));
                    pen_down = true;
                }
                None => pen_down = false,
            }
        }
        let _ = write!(
            out,
            "<path d=\"{}\" fill=\"none\" stroke=\"{}\" stroke-width=\"2\"/>",
            path.trim_end(),
            series.color
        );
        // Points to hover over, where there is room for them.
        if series.values.len() > 24 {
            continue;
        }
        for (i, value) in series.values.iter().enumerate() {
            let Some(value) = value else { continue };
            let label = chart.labels.get(i).map(String::as_str).unwrap_or("");
            let _ = write!(
                out,
                "<circle cx=\"{:.1}\" cy=\"{:.1}\" r=\"3\" fill=\"{}\" data-series=\"{}\" data-value=\"{value}\">\
                 <title>{} · {}: {}</title></circle>",
                x_center(i),
                y(*value),
                series.color,
                escape(&series.name),
                escape(label),
                escape(&series.name),
                escape(&value_label(*value, chart.percent, lang))
            );
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn axis_tops_are_round() {
        assert_eq!(nice_ceiling(2.5), 5.0);
        assert_eq!(nice_ceiling(0.0), 1.0);
        assert_eq!(nice_ceiling(7.0), 10.0);
        assert_eq!(nice_ceiling(1_116_511.0), 2_000_000.0);
        assert_eq!(nice_ceiling(450.0), 500.0);
    }

    #[test]
    fn a_chart_has_its_points_and_gaps() {
        let chart = Chart {
            id: "rates".into(),
            kind: Kind::Lines,
            labels: vec!["01".into(), "02".into(), "03".into()],
            series: vec![Series {
                name: "on <time>".into(),
                color: COLORS[0],
                values: vec![Some(0.5), None, Some(1.0)],
            }],
            percent: true,
            label_every: 1,
        };
        let svg = render(&chart, Lang::Vi);
        assert!(svg.starts_with("<svg"));
        assert!(svg.ends_with("</svg>"));
        assert_eq!(svg.matches("<circle").count(), 2);
        assert!(svg.contains("on &lt;time&gt;"));
        assert!(svg.contains("50,00%"));
        // The gap breaks the line: two moves.
        assert_eq!(svg.matches(" M").count() + svg.matches("\"M").count(), 2);
    }
}
