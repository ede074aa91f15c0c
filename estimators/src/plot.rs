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

/// Points drawn one by one (every evaluation), without a line.
pub struct Dots<'a> {
    /// Legend label.
    pub label: &'a str,
    /// Colour.
    pub color: RGBColor,
    /// Points.
    pub points: Vec<(f64, f64)>,
}

/// How a plot is laid out.
#[derive(Clone, Copy)]
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
    /// The x axis counts whole things (queries): ticks at whole numbers only.
    pub integer_x: bool,
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
            integer_x: false,
            range: None,
        },
        series,
        &[],
    )
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
    plot(
        path,
        &Axes {
            title,
            x_label: "queries",
            y_label,
            log_x: false,
            markers: false,
            integer_x: true,
            range: None,
        },
        series,
        dots,
    )
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

/// The data's x and y ranges, the y range padded by 5% (None: nothing to plot).
fn data_range(series: &[Series], dots: &[Dots], log_x: bool) -> Option<((f64, f64), (f64, f64))> {
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

/// Draws line series and single points to an SVG file, laid out by `axes`; written through a
/// temporary file and a rename.
pub fn plot(path: &Path, axes: &Axes, series: &[Series], dots: &[Dots]) -> Result<(), String> {
    panels(
        path,
        &[Panel {
            axes: *axes,
            series,
            dots,
        }],
    )
}

/// One chart of a figure of several side by side.
pub struct Panel<'a> {
    /// Its layout.
    pub axes: Axes<'a>,
    /// Its lines.
    pub series: &'a [Series<'a>],
    /// Its points.
    pub dots: &'a [Dots<'a>],
}

/// Draws charts side by side (each 800 by 500) to one SVG file, written through a temporary
/// file and a rename.
pub fn panels(path: &Path, panels: &[Panel]) -> Result<(), String> {
    let e = |e: &dyn std::fmt::Display| format!("plot {}: {e}", path.display());
    let ranges = panels
        .iter()
        .map(|p| {
            p.axes
                .range
                .or_else(|| data_range(p.series, p.dots, p.axes.log_x))
                .ok_or("nothing to plot")
        })
        .collect::<Result<Vec<_>, _>>()?;
    let mut svg = String::new();
    {
        let width = 800 * panels.len().max(1) as u32;
        let root = SVGBackend::with_string(&mut svg, (width, 500)).into_drawing_area();
        root.fill(&WHITE).map_err(|x| e(&x))?;
        let areas = root.split_evenly((1, panels.len().max(1)));
        for ((area, p), ((x0, x1), (y0, y1))) in areas.iter().zip(panels).zip(ranges) {
            let mut builder = ChartBuilder::on(area);
            builder
                .caption(p.axes.title, ("sans-serif", 20))
                .margin(12)
                .x_label_area_size(40)
                .y_label_area_size(60);
            if p.axes.log_x {
                let mut chart = builder
                    .build_cartesian_2d((x0..x1).log_scale(), y0..y1)
                    .map_err(|x| e(&x))?;
                draw(&mut chart, &p.axes, p.series, p.dots).map_err(|x| e(&x))?;
            } else {
                let mut chart = builder
                    .build_cartesian_2d(x0..x1, y0..y1)
                    .map_err(|x| e(&x))?;
                draw(&mut chart, &p.axes, p.series, p.dots).map_err(|x| e(&x))?;
            }
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
    dots: &[Dots],
) -> Result<(), DrawError>
where
    X: Ranged<ValueType = f64> + ValueFormatter<f64>,
{
    let x_span = chart.x_range().end - chart.x_range().start;
    let mut mesh = chart.configure_mesh();
    mesh.x_desc(axes.x_label).y_desc(axes.y_label);
    if axes.integer_x {
        // At most one tick per unit, so every label is a whole number.
        mesh.x_labels((x_span.floor() as usize).clamp(1, 10))
            .x_label_formatter(&integer_label);
    }
    mesh.draw()?;
    let shown = |x: f64| !axes.log_x || x > 0.0;
    for d in dots {
        let color = d.color;
        chart
            .draw_series(
                d.points
                    .iter()
                    .filter(|p| shown(p.0))
                    .map(|&p| Circle::new(p, 2, color.mix(0.5).filled())),
            )?
            .label(d.label)
            .legend(move |(x, y)| Circle::new((x + 10, y), 3, color.mix(0.5).filled()));
    }
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
