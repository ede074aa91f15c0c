//! SVG plots of a summary: Kendall tau against training-set size and against fit time.

use super::report::SummaryRow;
use super::EvalError;
use crate::plot::{plot, Axes, Series};
use plotters::style::{Palette, Palette99, RGBColor};
use std::path::Path;

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
    let taus = summary.iter().map(|r| r.kendall_tau_mean);
    let y_min = taus.clone().fold(0.0f64, f64::min) - 0.05;
    let y_max = taus.fold(0.0f64, f64::max) + 0.05;
    let series: Vec<Series> = estimators
        .iter()
        .enumerate()
        .map(|(i, e)| {
            let (r, g, b) = Palette99::COLORS[i % Palette99::COLORS.len()];
            Series {
                label: e.as_str(),
                color: RGBColor(r, g, b),
                points: summary
                    .iter()
                    .filter(|r| &r.estimator == e && x_of(r) > 0.0)
                    .map(|r| (x_of(r), r.kendall_tau_mean))
                    .collect(),
                band: vec![],
            }
        })
        .collect();
    let axes = Axes {
        title: caption,
        x_label: x_desc,
        y_label: "Kendall tau (mean over trials)",
        log_x: true,
        markers: true,
        integer_x: false,
        range: Some(((x_min, x_max), (y_min, y_max))),
    };
    plot(path, &axes, &series, &[]).map_err(|e| EvalError::Io {
        path: path.to_path_buf(),
        source: std::io::Error::other(e),
    })
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
