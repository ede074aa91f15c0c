//! SVG line plots (incumbent accuracy in the engine, Kendall tau in predictor evaluations): one
//! drawing routine for both.

use plotters::coord::ranged1d::ValueFormatter;
use plotters::coord::types::RangedCoordf64;
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

/// How a plot is laid out.
pub struct Axes<'a> {
    /// Caption.
    pub title: &'a str,
    /// X axis label.
    pub x_label: &'a str,
    /// Y axis label.
    pub y_label: &'a str,
    /// A logarithmic x axis (points at x <= 0 are left out).
    pub log_x: bool,
    /// Mark each point with a dot.
    pub markers: bool,
    /// The x and y ranges (default: the data's, the y range padded by 5%).
    pub range: Option<((f64, f64), (f64, f64))>,
}

/// Draws line series to an SVG file (linear axes, ranges from the data).
pub fn lines(
    path: &Path,
    title: &str,
    x_label: &str,
    y_label: &str,
    series: &[Series],
) -> Result<(), String> {
    plot(
        path,
        &Axes {
            title,
            x_label,
            y_label,
            log_x: false,
            markers: false,
            range: None,
        },
        series,
    )
}

/// The data's x and y ranges, the y range padded by 5% (None: nothing to plot).
fn data_range(series: &[Series], log_x: bool) -> Option<((f64, f64), (f64, f64))> {
    let pts = series.iter().flat_map(|s| s.points.iter().copied());
    let (mut x0, mut x1, mut y0, mut y1) = (f64::MAX, f64::MIN, f64::MAX, f64::MIN);
    for (x, y) in pts.chain(
        series
            .iter()
            .flat_map(|s| s.band.iter().flat_map(|b| [(b.0, b.1), (b.0, b.2)])),
    ) {
        if log_x && x <= 0.0 {
            continue;
        }
        x0 = x0.min(x);
        x1 = x1.max(x);
        y0 = y0.min(y);
        y1 = y1.max(y);
    }
    if x0 > x1 {
        return None;
    }
    if x1 <= x0 {
        x1 = x0 + 1.0;
    }
    let pad = ((y1 - y0) * 0.05).max(0.01);
    Some(((x0, x1), (y0 - pad, y1 + pad)))
}

/// Draws line series to an SVG file, laid out by `axes`; written through a temporary file and
/// a rename.
pub fn plot(path: &Path, axes: &Axes, series: &[Series]) -> Result<(), String> {
    let ((x0, x1), (y0, y1)) = axes
        .range
        .or_else(|| data_range(series, axes.log_x))
        .ok_or("nothing to plot")?;
    let e = |e: &dyn std::fmt::Display| format!("plot {}: {e}", path.display());
    let mut svg = String::new();
    {
        let root = SVGBackend::with_string(&mut svg, (800, 500)).into_drawing_area();
        root.fill(&WHITE).map_err(|x| e(&x))?;
        let mut builder = ChartBuilder::on(&root);
        builder
            .caption(axes.title, ("sans-serif", 20))
            .margin(12)
            .x_label_area_size(40)
            .y_label_area_size(60);
        if axes.log_x {
            let mut chart = builder
                .build_cartesian_2d((x0..x1).log_scale(), y0..y1)
                .map_err(|x| e(&x))?;
            draw(&mut chart, axes, series).map_err(|x| e(&x))?;
        } else {
            let mut chart = builder
                .build_cartesian_2d(x0..x1, y0..y1)
                .map_err(|x| e(&x))?;
            draw(&mut chart, axes, series).map_err(|x| e(&x))?;
        }
        root.present().map_err(|x| e(&x))?;
    }
    emprox_benchmarks::fsutil::write_atomic(path, svg.as_bytes()).map_err(|x| e(&x))
}

type DrawError = DrawingAreaErrorKind<<SVGBackend<'static> as DrawingBackend>::ErrorType>;

/// The mesh, the series (bands, lines, markers) and the legend.
fn draw<'a, 'b: 'a, X>(
    chart: &mut ChartContext<'a, SVGBackend<'b>, Cartesian2d<X, RangedCoordf64>>,
    axes: &Axes,
    series: &[Series],
) -> Result<(), DrawError>
where
    X: Ranged<ValueType = f64> + ValueFormatter<f64>,
{
    chart
        .configure_mesh()
        .x_desc(axes.x_label)
        .y_desc(axes.y_label)
        .draw()?;
    let shown = |x: f64| !axes.log_x || x > 0.0;
    for s in series {
        if !s.band.is_empty() {
            let band: Vec<_> = s.band.iter().filter(|b| shown(b.0)).collect();
            let mut poly: Vec<(f64, f64)> = band.iter().map(|b| (b.0, b.2)).collect();
            poly.extend(band.iter().rev().map(|b| (b.0, b.1)));
            chart.draw_series(std::iter::once(Polygon::new(
                poly,
                s.color.mix(0.2).filled(),
            )))?;
        }
        let color = s.color;
        let points: Vec<(f64, f64)> = s.points.iter().copied().filter(|p| shown(p.0)).collect();
        chart
            .draw_series(LineSeries::new(points.clone(), color.stroke_width(2)))?
            .label(s.label)
            .legend(move |(x, y)| {
                PathElement::new(vec![(x, y), (x + 20, y)], color.stroke_width(2))
            });
        if axes.markers {
            chart.draw_series(points.iter().map(|&p| Circle::new(p, 3, color.filled())))?;
        }
    }
    chart
        .configure_series_labels()
        .position(SeriesLabelPosition::LowerRight)
        .background_style(WHITE.mix(0.8))
        .border_style(BLACK)
        .draw()
}
