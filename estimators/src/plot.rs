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
    /// Categorical x: the points' x values are indices 0, 1, ... of these names, each a tick
    /// labelled by its name (training-set sizes, evenly spaced).
    pub x_names: Option<&'a [String]>,
    /// Bands drawn as error bars at each point instead of a shaded area.
    pub error_bars: bool,
    /// A marker at the last point of each line (where a curve ends).
    pub end_markers: bool,
}

impl<'a> Axes<'a> {
    /// Linear axes, ranges from the data, no markers.
    pub fn new(title: &'a str, x_label: &'a str, y_label: &'a str) -> Self {
        Axes {
            title,
            x_label,
            y_label,
            log_x: false,
            markers: false,
            integer_x: false,
            range: None,
            x_names: None,
            error_bars: false,
            end_markers: false,
        }
    }
}

/// Draws line series to an SVG file (linear axes, ranges from the data).
pub fn lines(
    path: &Path,
    title: &str,
    x_label: &str,
    y_label: &str,
    series: &[Series],
) -> Result<(), String> {
    plot(path, &Axes::new(title, x_label, y_label), series, &[])
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
            integer_x: true,
            ..Axes::new(title, "queries", y_label)
        },
        series,
        dots,
    )
}

/// A step line through `points` (sorted by x): each value holds until the next point, as an
/// incumbent does between the queries that improve it.
pub fn steps(points: &[(f64, f64)]) -> Vec<(f64, f64)> {
    let mut out = Vec::with_capacity(2 * points.len());
    for (i, &p) in points.iter().enumerate() {
        if let Some(&(_, prev)) = i.checked_sub(1).map(|j| &points[j]) {
            if prev != p.1 {
                out.push((p.0, prev));
            }
        }
        out.push(p);
    }
    out
}

/// Decimals for tick labels `step` apart: enough to tell neighbours apart (0.05 → 2, 2 → 0).
fn tick_decimals(step: f64) -> usize {
    if !(step.is_finite() && step > 0.0) {
        return 2;
    }
    (-(step.log10().floor()) as i64).clamp(0, 12) as usize
}

/// The corner of the plot area where the legend hides the fewest of `points` (x, y in the
/// axes' ranges): the legend takes about a third of the width and a fifth of the height per
/// three entries. Ties keep the order lower right, upper right, upper left, lower left.
fn legend_corner(
    points: &[(f64, f64)],
    (x0, x1): (f64, f64),
    (y0, y1): (f64, f64),
    entries: usize,
    log_x: bool,
) -> SeriesLabelPosition {
    let fx = |x: f64| {
        if log_x {
            (x.max(f64::MIN_POSITIVE).ln() - x0.ln()) / (x1.ln() - x0.ln())
        } else {
            (x - x0) / (x1 - x0)
        }
    };
    let (w, h) = (0.4, (0.08 * entries as f64 + 0.06).min(0.6));
    let corners = [
        (SeriesLabelPosition::LowerRight, 1.0 - w, 1.0, 0.0, h),
        (SeriesLabelPosition::UpperRight, 1.0 - w, 1.0, 1.0 - h, 1.0),
        (SeriesLabelPosition::UpperLeft, 0.0, w, 1.0 - h, 1.0),
        (SeriesLabelPosition::LowerLeft, 0.0, w, 0.0, h),
    ];
    let hidden = |&(_, xa, xb, ya, yb): &(SeriesLabelPosition, f64, f64, f64, f64)| {
        points
            .iter()
            .filter(|&&(x, y)| {
                let (u, v) = (fx(x), (y - y0) / (y1 - y0));
                (xa..=xb).contains(&u) && (ya..=yb).contains(&v)
            })
            .count()
    };
    let best = corners
        .iter()
        .min_by_key(|c| hidden(c))
        .expect("four corners");
    best.0.clone()
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
    let (xr, yr) = (chart.x_range(), chart.y_range());
    let x_span = xr.end - xr.start;
    let y_step = (yr.end - yr.start) / 10.0;
    let y_decimals = tick_decimals(y_step);
    let y_label = move |y: &f64| format!("{y:.y_decimals$}");
    let names = axes.x_names;
    let name_label = move |x: &f64| {
        let i = x.round();
        match names {
            Some(n) if (x - i).abs() < 1e-9 && i >= 0.0 && (i as usize) < n.len() => {
                n[i as usize].clone()
            }
            _ => String::new(),
        }
    };
    let mut mesh = chart.configure_mesh();
    mesh.x_desc(axes.x_label)
        .y_desc(axes.y_label)
        .y_label_formatter(&y_label);
    if let Some(n) = names {
        mesh.x_labels(n.len().max(2) * 2 + 1)
            .x_label_formatter(&name_label);
    } else if axes.integer_x {
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
        let band: Vec<_> = s.band.iter().filter(|b| shown(b.0)).collect();
        if axes.error_bars {
            let color = s.color;
            chart.draw_series(band.iter().map(|b| {
                ErrorBar::new_vertical(b.0, b.1, (b.1 + b.2) / 2.0, b.2, color.stroke_width(1), 8)
            }))?;
        } else if !band.is_empty() {
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
        } else if axes.end_markers {
            chart.draw_series(points.last().map(|&p| Circle::new(p, 4, color.filled())))?;
        }
    }
    let all: Vec<(f64, f64)> = series
        .iter()
        .flat_map(|s| {
            s.points
                .iter()
                .copied()
                .chain(s.band.iter().flat_map(|b| [(b.0, b.1), (b.0, b.2)]))
        })
        .chain(dots.iter().flat_map(|d| d.points.iter().copied()))
        .collect();
    let corner = legend_corner(
        &all,
        (xr.start, xr.end),
        (yr.start, yr.end),
        series.len() + dots.len(),
        axes.log_x,
    );
    chart
        .configure_series_labels()
        .position(corner)
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
    fn the_legend_goes_where_it_hides_no_data() {
        let (x, y) = ((0.0, 10.0), (0.0, 1.0));
        // An accuracy that rises to the upper right: the lower right is free.
        let rising: Vec<(f64, f64)> = (0..=10)
            .map(|i| (i as f64, 0.5 + i as f64 / 20.0))
            .collect();
        assert!(matches!(
            legend_corner(&rising, x, y, 2, false),
            SeriesLabelPosition::LowerRight
        ));
        // A minimised error falling to the lower right: not there.
        let falling: Vec<(f64, f64)> = rising.iter().map(|&(a, b)| (a, 1.0 - b)).collect();
        assert!(!matches!(
            legend_corner(&falling, x, y, 2, false),
            SeriesLabelPosition::LowerRight
        ));
    }

    #[test]
    fn steps_hold_each_value_until_the_next_point() {
        assert_eq!(
            steps(&[(1.0, 5.0), (3.0, 7.0), (4.0, 7.0)]),
            vec![(1.0, 5.0), (3.0, 5.0), (3.0, 7.0), (4.0, 7.0)]
        );
        assert_eq!(tick_decimals(0.05), 2);
        assert_eq!(tick_decimals(2.0), 0);
        assert_eq!(tick_decimals(0.002), 3);
    }

    #[test]
    fn named_x_ticks_label_every_category_and_error_bars_are_drawn() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("n.svg");
        let names: Vec<String> = ["10", "20", "50", "100", "200"].map(String::from).to_vec();
        let s = Series {
            label: "e",
            color: PALETTE[0],
            points: (0..5).map(|i| (i as f64, 0.1 * i as f64)).collect(),
            band: (0..5)
                .map(|i| (i as f64, 0.1 * i as f64 - 0.05, 0.1 * i as f64 + 0.05))
                .collect(),
        };
        let axes = Axes {
            x_names: Some(&names),
            error_bars: true,
            markers: true,
            range: Some(((-0.3, 4.3), (-0.1, 0.5))),
            ..Axes::new("t", "n", "tau")
        };
        plot(&path, &axes, &[s], &[]).unwrap();
        let svg = std::fs::read_to_string(&path).unwrap();
        let texts: Vec<&str> = svg
            .split("<text")
            .skip(1)
            .filter_map(|t| t.split('>').nth(1)?.split('<').next())
            .map(str::trim)
            .collect();
        for n in &names {
            assert!(texts.contains(&n.as_str()), "{n} not a tick: {texts:?}");
        }
        // Integer labels only on the x axis: no "2.5".
        assert!(!texts.contains(&"2.5"), "{texts:?}");
        // Five error bars (each a vertical line and two caps) besides the line and markers.
        assert!(svg.matches("<line").count() + svg.matches("<polyline").count() >= 5);
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
