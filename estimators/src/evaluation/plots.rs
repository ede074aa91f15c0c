//! SVG plots of a summary: Kendall tau against training-set size and against fit time.

use super::report::SummaryRow;
use super::EvalError;
use plotters::prelude::*;
use std::path::Path;

fn plot_err(path: &Path, e: impl std::fmt::Display) -> EvalError {
    EvalError::Io {
        path: path.to_path_buf(),
        source: std::io::Error::other(e.to_string()),
    }
}

/// One line per estimator of `(x, tau)` over training sizes, on a log x axis.
fn lines(
    path: &Path,
    summary: &[SummaryRow],
    estimators: &[String],
    x_of: &dyn Fn(&SummaryRow) -> f64,
    x_desc: &str,
    caption: &str,
) -> Result<(), EvalError> {
    let xs: Vec<f64> = summary.iter().map(x_of).filter(|x| *x > 0.0).collect();
    if xs.is_empty() {
        return Ok(());
    }
    let x_min = xs.iter().copied().fold(f64::INFINITY, f64::min) * 0.8;
    let x_max = xs.iter().copied().fold(f64::NEG_INFINITY, f64::max) * 1.25;
    let y_min = summary
        .iter()
        .map(|r| r.kendall_tau_mean)
        .fold(0.0f64, f64::min)
        - 0.05;
    let y_max = summary
        .iter()
        .map(|r| r.kendall_tau_mean)
        .fold(0.0f64, f64::max)
        + 0.05;
    let mut svg = String::new();
    {
        let root = SVGBackend::with_string(&mut svg, (800, 520)).into_drawing_area();
        root.fill(&WHITE).map_err(|e| plot_err(path, e))?;
        let mut chart = ChartBuilder::on(&root)
            .caption(caption, ("sans-serif", 20))
            .margin(12)
            .x_label_area_size(40)
            .y_label_area_size(55)
            .build_cartesian_2d((x_min..x_max).log_scale(), y_min..y_max)
            .map_err(|e| plot_err(path, e))?;
        chart
            .configure_mesh()
            .x_desc(x_desc)
            .y_desc("Kendall tau (mean over trials)")
            .draw()
            .map_err(|e| plot_err(path, e))?;
        for (i, e) in estimators.iter().enumerate() {
            let color = Palette99::pick(i).to_rgba();
            let pts: Vec<(f64, f64)> = summary
                .iter()
                .filter(|r| &r.estimator == e && x_of(r) > 0.0)
                .map(|r| (x_of(r), r.kendall_tau_mean))
                .collect();
            chart
                .draw_series(LineSeries::new(pts.clone(), color.stroke_width(2)))
                .map_err(|e| plot_err(path, e))?
                .label(e.as_str())
                .legend(move |(x, y)| {
                    PathElement::new(vec![(x, y), (x + 20, y)], color.stroke_width(2))
                });
            chart
                .draw_series(pts.iter().map(|&p| Circle::new(p, 3, color.filled())))
                .map_err(|e| plot_err(path, e))?;
        }
        chart
            .configure_series_labels()
            .position(SeriesLabelPosition::LowerRight)
            .background_style(WHITE.mix(0.8))
            .border_style(BLACK)
            .draw()
            .map_err(|e| plot_err(path, e))?;
        root.present().map_err(|e| plot_err(path, e))?;
    }
    super::report::write_text(path, &svg)
}

/// Writes `tau_vs_n.svg` and `tau_vs_fit_time.svg` into `dir`.
pub fn write(dir: &Path, summary: &[SummaryRow], estimators: &[String]) -> Result<(), EvalError> {
    lines(
        &dir.join("tau_vs_n.svg"),
        summary,
        estimators,
        &|r| r.train_size as f64,
        "training-set size n",
        "Kendall tau vs training-set size",
    )?;
    lines(
        &dir.join("tau_vs_fit_time.svg"),
        summary,
        estimators,
        &|r| r.fit_seconds_mean,
        "mean fit time (s)",
        "Kendall tau vs fit time (points: training-set sizes)",
    )
}
