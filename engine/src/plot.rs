//! SVG plots of incumbent accuracy.

use plotters::prelude::*;
use std::path::Path;

/// One line of a plot: label, colour and (x, y) points, with an optional band (low, high).
pub struct Series<'a> {
    /// Legend label.
    pub label: &'a str,
    /// Colour.
    pub color: RGBColor,
    /// Points.
    pub points: Vec<(f64, f64)>,
    /// Optional band around the line: (x, low, high).
    pub band: Vec<(f64, f64, f64)>,
}

/// Palette for several series.
pub const PALETTE: [RGBColor; 8] = [
    RGBColor(31, 119, 180),
    RGBColor(255, 127, 14),
    RGBColor(44, 160, 44),
    RGBColor(214, 39, 40),
    RGBColor(148, 103, 189),
    RGBColor(140, 86, 75),
    RGBColor(227, 119, 194),
    RGBColor(127, 127, 127),
];

/// Points drawn one by one (every evaluation), without a line.
pub struct Dots<'a> {
    /// Legend label.
    pub label: &'a str,
    /// Colour.
    pub color: RGBColor,
    /// Points.
    pub points: Vec<(f64, f64)>,
}

/// Draws line series to an SVG file (any x axis).
pub fn lines(
    path: &Path,
    title: &str,
    x_label: &str,
    y_label: &str,
    series: &[Series],
) -> Result<(), String> {
    draw(path, title, x_label, y_label, false, series, &[])
}

/// An optimisation history against queries, as Optuna's: `dots` (every evaluation) as points,
/// `series` (incumbents, with optional bands) as lines, ticks at whole queries only.
pub fn history(
    path: &Path,
    title: &str,
    y_label: &str,
    series: &[Series],
    dots: &[Dots],
) -> Result<(), String> {
    draw(path, title, "queries", y_label, true, series, dots)
}

/// Tick labels of an axis of whole numbers: non-integer ticks (rare: the tick count keeps the
/// step at one or more) stay unlabelled.
fn integer_label(x: &f64) -> String {
    if (x - x.round()).abs() < 1e-9 {
        format!("{x:.0}")
    } else {
        String::new()
    }
}

fn draw(
    path: &Path,
    title: &str,
    x_label: &str,
    y_label: &str,
    integer_x: bool,
    series: &[Series],
    dots: &[Dots],
) -> Result<(), String> {
    let pts = series
        .iter()
        .flat_map(|s| s.points.iter().copied())
        .chain(dots.iter().flat_map(|d| d.points.iter().copied()))
        .filter(|(x, y)| x.is_finite() && y.is_finite());
    let (mut x0, mut x1, mut y0, mut y1) = (f64::MAX, f64::MIN, f64::MAX, f64::MIN);
    for (x, y) in pts.chain(
        series
            .iter()
            .flat_map(|s| s.band.iter().flat_map(|b| [(b.0, b.1), (b.0, b.2)])),
    ) {
        x0 = x0.min(x);
        x1 = x1.max(x);
        y0 = y0.min(y);
        y1 = y1.max(y);
    }
    if x0 > x1 {
        return Err("nothing to plot".into());
    }
    if x1 <= x0 {
        x1 = x0 + 1.0;
    }
    // Whole-number axes: at most one tick per unit, so every label is a whole number.
    let x_ticks = if integer_x {
        ((x1 - x0).floor() as usize).clamp(1, 10)
    } else {
        10
    };
    let pad = ((y1 - y0) * 0.05).max(0.01);
    let e = |e: &dyn std::fmt::Display| format!("plot {}: {e}", path.display());
    let mut svg = String::new();
    {
        let root = SVGBackend::with_string(&mut svg, (800, 500)).into_drawing_area();
        root.fill(&WHITE).map_err(|x| e(&x))?;
        let mut chart = ChartBuilder::on(&root)
            .caption(title, ("sans-serif", 20))
            .margin(12)
            .x_label_area_size(40)
            .y_label_area_size(60)
            .build_cartesian_2d(x0..x1, (y0 - pad)..(y1 + pad))
            .map_err(|x| e(&x))?;
        let mut mesh = chart.configure_mesh();
        mesh.x_desc(x_label).y_desc(y_label).x_labels(x_ticks);
        if integer_x {
            mesh.x_label_formatter(&integer_label);
        }
        mesh.draw().map_err(|x| e(&x))?;
        for d in dots {
            let color = d.color;
            chart
                .draw_series(
                    d.points
                        .iter()
                        .map(|&p| Circle::new(p, 2, color.mix(0.5).filled())),
                )
                .map_err(|x| e(&x))?
                .label(d.label)
                .legend(move |(x, y)| Circle::new((x + 10, y), 3, color.mix(0.5).filled()));
        }
        for s in series {
            if !s.band.is_empty() {
                let mut poly: Vec<(f64, f64)> = s.band.iter().map(|b| (b.0, b.2)).collect();
                poly.extend(s.band.iter().rev().map(|b| (b.0, b.1)));
                chart
                    .draw_series(std::iter::once(Polygon::new(
                        poly,
                        s.color.mix(0.2).filled(),
                    )))
                    .map_err(|x| e(&x))?;
            }
            let color = s.color;
            chart
                .draw_series(LineSeries::new(
                    s.points.iter().copied(),
                    color.stroke_width(2),
                ))
                .map_err(|x| e(&x))?
                .label(s.label)
                .legend(move |(x, y)| {
                    PathElement::new(vec![(x, y), (x + 20, y)], color.stroke_width(2))
                });
        }
        chart
            .configure_series_labels()
            .position(SeriesLabelPosition::LowerRight)
            .background_style(WHITE.mix(0.8))
            .border_style(BLACK)
            .draw()
            .map_err(|x| e(&x))?;
        root.present().map_err(|x| e(&x))?;
    }
    // Rendered in memory, then written through a temporary file and a rename.
    emprox_benchmarks::fsutil::write_atomic(path, svg.as_bytes()).map_err(|x| e(&x))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The numbers of the text labels of an SVG.
    fn labels(svg: &str) -> Vec<f64> {
        svg.split("<text")
            .skip(1)
            .filter_map(|t| t.split('>').nth(1)?.split('<').next()?.trim().parse().ok())
            .collect()
    }

    #[test]
    fn query_axes_have_whole_number_ticks_and_points() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("h.svg");
        let incumbent = Series {
            label: "incumbent",
            color: PALETTE[0],
            points: vec![(1.0, 10.0), (2.0, 50.0), (3.0, 90.0)],
            band: vec![],
        };
        let dots = Dots {
            label: "each query",
            color: PALETTE[0],
            points: vec![(1.0, 10.0), (2.0, 50.0), (3.0, 20.0)],
        };
        history(&path, "t", "y", &[incumbent], &[dots]).unwrap();
        let svg = std::fs::read_to_string(&path).unwrap();
        let xs: Vec<f64> = labels(&svg)
            .into_iter()
            .filter(|x| (1.0..=3.0).contains(x))
            .collect();
        assert!(xs.contains(&2.0), "{xs:?}");
        assert!(
            xs.iter().all(|x| x.fract() == 0.0),
            "fractional query ticks: {xs:?}"
        );
        // Three evaluation points (and one legend marker).
        assert_eq!(svg.matches("<circle").count(), 4);
    }
}
