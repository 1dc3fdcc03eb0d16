//! Bar charts drawn on the server as inline SVG: no script, no external asset, and they scale
//! to a phone's width (the `viewBox` keeps their proportions). Each bar carries a `<title>`
//! with its exact value, which browsers show on hover or long press.

use maud::{html, Markup};

const WIDTH: f64 = 640.0;
const HEIGHT: f64 = 220.0;
/// Room for the axis labels.
const LEFT: f64 = 52.0;
const BOTTOM: f64 = 30.0;
const TOP: f64 = 10.0;

/// One series of a stacked chart: a name (for the legend and titles) and a CSS class for its
/// colour (from the page's own style sheet).
pub struct Series<'a> {
    pub name: &'a str,
    pub class: &'a str,
    /// One value per label.
    pub values: Vec<f64>,
}

/// A stacked bar chart: one bar per label, the series stacked bottom to top; `format` writes
/// a value for the axis and the titles.
pub fn stacked_bars(
    title: &str,
    labels: &[String],
    series: &[Series<'_>],
    format: &dyn Fn(f64) -> String,
) -> Markup {
    let n = labels.len().max(1);
    let totals: Vec<f64> = (0..labels.len())
        .map(|i| series.iter().filter_map(|s| s.values.get(i)).sum())
        .collect();
    let max = nice_max(totals.iter().copied().fold(0.0, f64::max));
    let plot_w = WIDTH - LEFT - 4.0;
    let plot_h = HEIGHT - TOP - BOTTOM;
    let slot = plot_w / n as f64;
    let bar = (slot * 0.8).max(1.0);
    let y = |v: f64| TOP + plot_h - v / max * plot_h;
    // at most five date labels, whatever the period, so they stay legible on a phone
    let every = labels.len().div_ceil(5).max(1);
    html! {
        figure.chart {
            figcaption { (title) }
            svg viewBox=(format!("0 0 {WIDTH} {HEIGHT}")) role="img" aria-label=(title)
                xmlns="http://www.w3.org/2000/svg" {
                @for frac in [0.0, 0.5, 1.0] {
                    line.grid x1=(LEFT) x2=(WIDTH - 4.0) y1=(y(max * frac)) y2=(y(max * frac)) {}
                    text.axis x=(LEFT - 6.0) y=(y(max * frac) + 6.0) text-anchor="end" {
                        (format(max * frac))
                    }
                }
                @for (i, label) in labels.iter().enumerate() {
                    @let x = LEFT + slot * i as f64 + (slot - bar) / 2.0;
                    @for (s, below, v) in stack(series, i) {
                        rect class=(s.class) x=(x) y=(y(below + v)) width=(bar)
                            height=(y(below) - y(below + v)) {
                            title { (label) ": " (s.name) " " (format(v)) }
                        }
                    }
                    @if i % every == 0 {
                        text.axis x=(x + bar / 2.0) y=(HEIGHT - 6.0) text-anchor="middle" {
                            (label.get(5..).unwrap_or(label))
                        }
                    }
                }
            }
            @if series.len() > 1 {
                p.legend {
                    @for s in series {
                        span class=(format!("key {}", s.class)) {} " " (s.name) " "
                    }
                }
            }
        }
    }
}

/// The non-zero pieces of bar `i`: each series with the height stacked below it and its value.
fn stack<'s, 'a>(series: &'s [Series<'a>], i: usize) -> Vec<(&'s Series<'a>, f64, f64)> {
    let mut below = 0.0;
    let mut pieces = Vec::new();
    for s in series {
        let v = s.values.get(i).copied().unwrap_or(0.0);
        if v > 0.0 {
            pieces.push((s, below, v));
            below += v;
        }
    }
    pieces
}

/// A round number at or above `v` for the top of the axis (1 when there is nothing to show).
fn nice_max(v: f64) -> f64 {
    if v <= 0.0 || !v.is_finite() {
        return 1.0;
    }
    let magnitude = 10f64.powf(v.log10().floor());
    [1.0, 2.0, 2.5, 5.0, 10.0]
        .into_iter()
        .map(|m| m * magnitude)
        .find(|&m| m >= v)
        .unwrap_or(v)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn axes_end_on_round_numbers() {
        assert_eq!(nice_max(0.0), 1.0);
        assert_eq!(nice_max(7.0), 10.0);
        assert_eq!(nice_max(12.0), 20.0);
        assert_eq!(nice_max(240.0), 250.0);
    }

    #[test]
    fn a_chart_has_one_titled_bar_per_value_and_escapes_labels() {
        let labels = vec!["2026-11-01".to_string(), "2026-11-02".to_string()];
        let series = [Series {
            name: "<b>",
            class: "s0",
            values: vec![2.0, 0.0],
        }];
        let svg = stacked_bars("Requests", &labels, &series, &|v| format!("{v:.0}")).into_string();
        assert_eq!(svg.matches("<rect").count(), 1, "{svg}");
        assert!(svg.contains("&lt;b&gt;"));
        assert!(svg.contains("11-01"));
    }
}
