//! The report's charts: hand-written SVG, laid out here (so that the page shows the same bytes
//! for the same folder, and prints without its script), with hooks for the page's little
//! script: a group of points whose tooltips it shows, and series a legend turns on and off.
//!
//! Series differ by colour *and* by dash pattern and marker, so that a printed page or a
//! reader without colour tells them apart.

use std::fmt::Write as _;

/// Plot area: width and height of the whole SVG, and the margins around the axes.
const W: f64 = 760.0;
const H: f64 = 360.0;
const LEFT: f64 = 74.0;
const RIGHT: f64 = 16.0;
const TOP: f64 = 12.0;
const BOTTOM: f64 = 52.0;

/// Colours (the engine's plot palette) and, for the same series, dash patterns and markers.
const COLORS: [&str; 8] = [
    "#1f77b4", "#d62728", "#2ca02c", "#ff7f0e", "#9467bd", "#8c564b", "#e377c2", "#17becf",
];
const DASHES: [&str; 5] = ["", "7 4", "2 3", "9 3 2 3", "4 2"];
const MARKERS: [&str; 5] = ["circle", "square", "triangle", "diamond", "cross"];

/// A line with an optional band, and the faint lines of single runs behind it.
#[derive(Debug, Clone, Default)]
pub struct Line {
    /// Its legend entry.
    pub label: String,
    /// The line (none: only the faint runs, or only markers).
    pub points: Vec<(f64, f64)>,
    /// The band around it: (x, low, high).
    pub band: Vec<(f64, f64, f64)>,
    /// Faint lines behind it (one per run).
    pub faint: Vec<Vec<(f64, f64)>>,
    /// Markers only, no line (points that are not a curve, such as one value per run).
    pub markers_only: bool,
}

/// Points a tooltip explains: one element per point, in the order of `tips` (a point without a
/// y value, a failure, is a cross under the x axis).
#[derive(Debug, Clone, Default)]
pub struct Points {
    /// The group's class: what the page and its tests count.
    pub class: &'static str,
    /// Each point: x and y (y `None`: failed).
    pub xy: Vec<(f64, Option<f64>)>,
    /// Its tooltip, one string per point (lines separated by `\n`).
    pub tips: Vec<String>,
}

/// One chart.
#[derive(Debug, Clone, Default)]
pub struct Chart {
    /// The page-unique id (legend buttons and tooltips find the chart by it).
    pub id: String,
    /// Its heading.
    pub title: String,
    /// Axis labels, with units.
    pub x_label: String,
    /// See `x_label`.
    pub y_label: String,
    /// Ticks on whole numbers only (queries, runs).
    pub whole_x: bool,
    /// The lines, in legend order.
    pub lines: Vec<Line>,
    /// Points with tooltips, drawn over the lines.
    pub points: Option<Points>,
    /// A fixed y range (what lies outside is cut off); absent: the data's extent.
    pub y_range: Option<(f64, f64)>,
}

/// A value to SVG user units, with one decimal (enough on a 760-pixel chart, and small files).
fn px(v: f64) -> String {
    let r = (v * 10.0).round() / 10.0;
    if r == r.trunc() {
        format!("{}", r as i64)
    } else {
        format!("{r:.1}")
    }
}

/// Escapes text for HTML and SVG (element content and attribute values).
pub fn esc(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

/// Tick positions over `[lo, hi]` at a step of 1, 2 or 5 times a power of ten (at least 1 with
/// `whole`), and the decimals that show the step.
pub fn ticks(lo: f64, hi: f64, whole: bool) -> (Vec<f64>, usize) {
    let span = (hi - lo).max(f64::EPSILON);
    let raw = span / 6.0;
    let pow = 10f64.powf(raw.log10().floor());
    let mut step = [1.0, 2.0, 5.0, 10.0]
        .into_iter()
        .map(|m| m * pow)
        .find(|s| span / s <= 8.0)
        .unwrap_or(10.0 * pow);
    if whole {
        step = step.max(1.0).round();
    }
    let decimals = (-step.log10().floor()).max(0.0) as usize;
    let first = (lo / step).ceil() as i64;
    let last = (hi / step).floor() as i64;
    let t = (first..=last).map(|k| k as f64 * step).collect();
    (t, decimals)
}

/// The extent of some values, widened where it is a single value.
fn extent(values: impl Iterator<Item = f64>) -> Option<(f64, f64)> {
    let (lo, hi) = values
        .filter(|v| v.is_finite())
        .fold((f64::INFINITY, f64::NEG_INFINITY), |(a, b), v| {
            (a.min(v), b.max(v))
        });
    if lo > hi {
        return None;
    }
    if lo == hi {
        let d = if lo == 0.0 { 1.0 } else { lo.abs() * 0.01 };
        return Some((lo - d, hi + d));
    }
    Some((lo, hi))
}

impl Chart {
    /// The data's extent in x and y, padded a little in y.
    fn bounds(&self) -> ((f64, f64), (f64, f64)) {
        let mut xs = Vec::new();
        let mut ys = Vec::new();
        for l in &self.lines {
            for &(x, y) in l.points.iter().chain(l.faint.iter().flatten()) {
                xs.push(x);
                ys.push(y);
            }
            for &(x, a, b) in &l.band {
                xs.push(x);
                ys.extend([a, b]);
            }
        }
        if let Some(p) = &self.points {
            for &(x, y) in &p.xy {
                xs.push(x);
                ys.extend(y);
            }
        }
        let (mut x0, mut x1) = extent(xs.into_iter()).unwrap_or((0.0, 1.0));
        if self.lines.iter().any(|l| l.markers_only) {
            // Markers whole at the ends.
            let pad = (x1 - x0) * 0.04;
            (x0, x1) = (x0 - pad, x1 + pad);
        }
        let (lo, hi) = self
            .y_range
            .or_else(|| extent(ys.into_iter()))
            .unwrap_or((0.0, 1.0));
        let pad = (hi - lo) * 0.04;
        ((x0, x1), (lo - pad, hi + pad))
    }

    /// The chart as a `<figure>`: heading, SVG, legend buttons and the points' tooltips.
    pub fn html(&self) -> String {
        let ((x0, x1), (y0, y1)) = self.bounds();
        let sx = |x: f64| LEFT + (x - x0) / (x1 - x0) * (W - LEFT - RIGHT);
        let sy = |y: f64| H - BOTTOM - (y - y0) / (y1 - y0) * (H - TOP - BOTTOM);
        let path = |pts: &[(f64, f64)]| {
            let mut d = String::new();
            for (i, &(x, y)) in pts.iter().filter(|p| p.1.is_finite()).enumerate() {
                let _ = write!(
                    d,
                    "{}{} {}",
                    if i == 0 { "M" } else { "L" },
                    px(sx(x)),
                    px(sy(y))
                );
            }
            d
        };
        let id = esc(&self.id);
        let mut s = String::new();
        let _ = write!(
            s,
            "<figure class=\"chart\" id=\"{id}\"><figcaption>{}</figcaption>\
             <svg viewBox=\"0 0 {W} {H}\" role=\"img\" aria-label=\"{}\">",
            esc(&self.title),
            esc(&self.title)
        );
        // Axes, grid and tick labels.
        let (xt, xd) = ticks(x0, x1, self.whole_x);
        let (yt, yd) = ticks(y0, y1, false);
        s.push_str("<g class=\"axes\">");
        for &t in &yt {
            let y = px(sy(t));
            let _ = write!(
                s,
                "<line class=\"grid\" x1=\"{LEFT}\" x2=\"{}\" y1=\"{y}\" y2=\"{y}\"/>\
                 <text x=\"{}\" y=\"{y}\" text-anchor=\"end\" dy=\"4\">{t:.yd$}</text>",
                W - RIGHT,
                LEFT - 6.0
            );
        }
        for &t in &xt {
            let x = px(sx(t));
            let _ = write!(
                s,
                "<line class=\"tick\" x1=\"{x}\" x2=\"{x}\" y1=\"{}\" y2=\"{}\"/>\
                 <text x=\"{x}\" y=\"{}\" text-anchor=\"middle\">{t:.xd$}</text>",
                H - BOTTOM,
                H - BOTTOM + 5.0,
                H - BOTTOM + 18.0
            );
        }
        let _ = write!(
            s,
            "<path class=\"frame\" d=\"M{LEFT} {TOP}V{}H{}\"/>\
             <text class=\"label\" x=\"{}\" y=\"{}\" text-anchor=\"middle\">{}</text>\
             <text class=\"label\" transform=\"translate(16 {}) rotate(-90)\" \
             text-anchor=\"middle\">{}</text></g>",
            H - BOTTOM,
            W - RIGHT,
            px((LEFT + W - RIGHT) / 2.0),
            H - 8.0,
            esc(&self.x_label),
            px((TOP + H - BOTTOM) / 2.0),
            esc(&self.y_label)
        );
        let _ = write!(
            s,
            "<clipPath id=\"{id}-clip\"><rect x=\"{LEFT}\" y=\"{TOP}\" width=\"{}\" height=\"{}\"/>\
             </clipPath><g clip-path=\"url(#{id}-clip)\">",
            W - LEFT - RIGHT,
            H - TOP - BOTTOM
        );
        for (k, l) in self.lines.iter().enumerate() {
            let color = COLORS[k % COLORS.len()];
            let dash = DASHES[k % DASHES.len()];
            let _ = write!(s, "<g data-s=\"{k}\" stroke=\"{color}\" fill=\"{color}\">");
            if !l.band.is_empty() {
                let upper: Vec<(f64, f64)> = l.band.iter().map(|&(x, _, b)| (x, b)).collect();
                let lower: Vec<(f64, f64)> = l.band.iter().rev().map(|&(x, a, _)| (x, a)).collect();
                let d = path(&upper) + &path(&lower).replacen('M', "L", 1);
                let _ = write!(s, "<path class=\"band\" d=\"{d}Z\"/>");
            }
            for f in &l.faint {
                let _ = write!(s, "<path class=\"faint\" d=\"{}\"/>", path(f));
            }
            if !l.points.is_empty() && !l.markers_only {
                let _ = write!(
                    s,
                    "<path class=\"line\" d=\"{}\" stroke-dasharray=\"{dash}\"/>",
                    path(&l.points)
                );
            }
            // Markers: every point of a marker series, else about ten along the line.
            let every = if l.markers_only {
                1
            } else {
                (l.points.len() / 10).max(1)
            };
            let offset = if l.markers_only { 0 } else { k % every };
            for &(x, y) in l.points.iter().skip(offset).step_by(every) {
                if y.is_finite() {
                    s.push_str(&marker(k, sx(x), sy(y)));
                }
            }
            s.push_str("</g>");
        }
        if let Some(p) = &self.points {
            let _ = write!(s, "<g class=\"{}\" data-tips=\"{id}-tips\">", esc(p.class));
            for &(x, y) in &p.xy {
                match y {
                    Some(y) => {
                        let _ = write!(
                            s,
                            "<circle cx=\"{}\" cy=\"{}\" r=\"3\"/>",
                            px(sx(x)),
                            px(sy(y))
                        );
                    }
                    None => {
                        let (x, y) = (sx(x), H - BOTTOM - 6.0);
                        let _ = write!(
                            s,
                            "<path class=\"fail\" d=\"M{} {}l6 6m0-6l-6 6\"/>",
                            px(x - 3.0),
                            px(y - 3.0)
                        );
                    }
                }
            }
            s.push_str("</g>");
        }
        s.push_str("</g></svg>");
        if self.lines.iter().any(|l| !l.label.is_empty()) {
            s.push_str("<div class=\"legend\">");
            for (k, l) in self.lines.iter().enumerate() {
                let color = COLORS[k % COLORS.len()];
                let dash = DASHES[k % DASHES.len()];
                let line = if l.markers_only {
                    String::new()
                } else {
                    format!(
                        "<path d=\"M2 8H38\" stroke=\"{color}\" stroke-width=\"2\" \
                         stroke-dasharray=\"{dash}\"/>"
                    )
                };
                let _ = write!(
                    s,
                    "<button type=\"button\" data-chart=\"{id}\" data-s=\"{k}\" \
                     aria-pressed=\"true\"><svg width=\"40\" height=\"16\" stroke=\"{color}\" \
                     fill=\"{color}\">{line}{}</svg>{}</button>",
                    marker(k, 20.0, 8.0),
                    esc(&l.label)
                );
            }
            s.push_str("</div>");
        }
        if let Some(p) = &self.points {
            let json = serde_json::to_string(&p.tips).expect("strings serialise");
            // `</` cannot end the script early.
            let _ = write!(
                s,
                "<script type=\"application/json\" id=\"{id}-tips\">{}</script>",
                json.replace("</", "<\\/")
            );
        }
        s.push_str("</figure>\n");
        s
    }
}

/// The marker of series `k` at (x, y): shifted by one every round of dash patterns, so that no
/// two of the first 25 series share both their dash pattern and their marker.
fn marker(k: usize, x: f64, y: f64) -> String {
    let (x, y) = (px(x), px(y));
    match MARKERS[(k + k / DASHES.len()) % MARKERS.len()] {
        "circle" => format!("<circle class=\"mk\" cx=\"{x}\" cy=\"{y}\" r=\"3.5\"/>"),
        "square" => format!("<path class=\"mk\" d=\"M{x} {y}m-3.5-3.5h7v7h-7z\"/>"),
        "triangle" => format!("<path class=\"mk\" d=\"M{x} {y}m0-4.5l4 7h-8z\"/>"),
        "diamond" => format!("<path class=\"mk\" d=\"M{x} {y}m0-4.5l4.5 4.5-4.5 4.5-4.5-4.5z\"/>"),
        _ => format!("<path class=\"mk x\" d=\"M{x} {y}m-3.5-3.5l7 7m0-7l-7 7\"/>"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn query_ticks_are_whole_numbers() {
        let (t, d) = ticks(1.0, 5.0, true);
        assert_eq!(d, 0);
        assert!(t.iter().all(|v| v.fract() == 0.0), "{t:?}");
        assert_eq!(t, vec![1.0, 2.0, 3.0, 4.0, 5.0]);
        let (t, d) = ticks(90.12, 91.61, false);
        let shown: Vec<String> = t.iter().map(|v| format!("{v:.d$}")).collect();
        assert_eq!(
            shown,
            ["90.2", "90.4", "90.6", "90.8", "91.0", "91.2", "91.4", "91.6"]
        );
        let (t, _) = ticks(1.0, 150.0, true);
        assert_eq!(t, vec![20.0, 40.0, 60.0, 80.0, 100.0, 120.0, 140.0]);
    }

    #[test]
    fn series_differ_without_colour() {
        let style = |k: usize| (DASHES[k % DASHES.len()], marker(k, 0.0, 0.0));
        for a in 0..25 {
            for b in 0..a {
                assert_ne!(style(a), style(b), "series {a} and {b}");
            }
        }
    }

    #[test]
    fn points_keep_their_order_and_text_is_escaped() {
        let c = Chart {
            id: "c".into(),
            title: "a <b> & \"c\"".into(),
            points: Some(Points {
                class: "cells",
                xy: vec![(1.0, Some(2.0)), (2.0, None), (3.0, Some(1.0))],
                tips: vec!["x</script>".into(), "failed".into(), "z".into()],
            }),
            ..Chart::default()
        };
        let h = c.html();
        assert!(h.contains("a &lt;b&gt; &amp; &quot;c&quot;"), "{h}");
        let group = h.split("<g class=\"cells\"").nth(1).unwrap();
        let group = &group[..group.find("</g>").unwrap()];
        assert_eq!(group.matches("<circle").count(), 2);
        assert_eq!(group.matches("class=\"fail\"").count(), 1);
        assert!(h.contains(r#"["x<\/script>","failed","z"]"#), "{h}");
    }
}
