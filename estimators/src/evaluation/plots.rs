//! SVG plots of a summary: Kendall tau against training-set size and against fit time.

use super::report::SummaryRow;
use super::EvalError;
use crate::plot::{plot, Axes, Series, PALETTE};
use std::path::Path;

/// The training sizes of a summary, in increasing order, once each.
fn sizes(summary: &[SummaryRow]) -> Vec<usize> {
    let mut n: Vec<usize> = summary.iter().map(|r| r.train_size).collect();
    n.sort_unstable();
    n.dedup();
    n
}

/// The y range of the taus with their spread, padded, always including 0.
fn tau_range(summary: &[SummaryRow], spread: bool) -> (f64, f64) {
    let sd = |r: &SummaryRow| if spread { r.kendall_tau_std } else { 0.0 };
    let lo = summary
        .iter()
        .map(|r| r.kendall_tau_mean - sd(r))
        .fold(0.0f64, f64::min);
    let hi = summary
        .iter()
        .map(|r| r.kendall_tau_mean + sd(r))
        .fold(0.0f64, f64::max);
    (lo - 0.05, hi + 0.05)
}

fn io(path: &Path) -> impl Fn(String) -> EvalError + '_ {
    move |e| EvalError::Io {
        path: path.to_path_buf(),
        source: std::io::Error::other(e),
    }
}

/// `tau_vs_n.svg`: per estimator, the mean tau at each training size ± one standard deviation
/// over trials as error bars; one tick per size, evenly spaced, labelled by the size.
fn tau_vs_n(path: &Path, summary: &[SummaryRow], estimators: &[String]) -> Result<(), EvalError> {
    let n = sizes(summary);
    if n.is_empty() {
        return Ok(());
    }
    let names: Vec<String> = n.iter().map(|x| x.to_string()).collect();
    let at = |size: usize| n.iter().position(|&x| x == size).expect("a size") as f64;
    let series: Vec<Series> = estimators
        .iter()
        .enumerate()
        .map(|(i, e)| {
            let rows: Vec<&SummaryRow> = summary.iter().filter(|r| &r.estimator == e).collect();
            Series {
                label: e.as_str(),
                color: PALETTE[i % PALETTE.len()],
                points: rows
                    .iter()
                    .map(|r| (at(r.train_size), r.kendall_tau_mean))
                    .collect(),
                band: rows
                    .iter()
                    .map(|r| {
                        let (m, s) = (r.kendall_tau_mean, r.kendall_tau_std);
                        (at(r.train_size), m - s, m + s)
                    })
                    .collect(),
            }
        })
        .collect();
    let last = (n.len() - 1) as f64;
    let axes = Axes {
        markers: true,
        error_bars: true,
        x_names: Some(&names),
        range: Some(((-0.3, last + 0.3), tau_range(summary, true))),
        ..Axes::new(
            "Kendall tau vs training-set size (± std over trials)",
            "training-set size n",
            "Kendall tau (mean over trials)",
        )
    };
    plot(path, &axes, &series, &[]).map_err(io(path))
}

/// `tau_vs_fit_time.svg`: per estimator, tau against its mean fit time, one point per
/// training size, on a log time axis.
fn tau_vs_fit_time(
    path: &Path,
    summary: &[SummaryRow],
    estimators: &[String],
) -> Result<(), EvalError> {
    let xs: Vec<f64> = summary
        .iter()
        .map(|r| r.fit_seconds_mean)
        .filter(|x| *x > 0.0)
        .collect();
    if xs.is_empty() {
        return Ok(());
    }
    let x_min = xs.iter().copied().fold(f64::INFINITY, f64::min) * 0.8;
    let x_max = xs.iter().copied().fold(f64::NEG_INFINITY, f64::max) * 1.25;
    let series: Vec<Series> = estimators
        .iter()
        .enumerate()
        .map(|(i, e)| Series {
            label: e.as_str(),
            color: PALETTE[i % PALETTE.len()],
            points: summary
                .iter()
                .filter(|r| &r.estimator == e && r.fit_seconds_mean > 0.0)
                .map(|r| (r.fit_seconds_mean, r.kendall_tau_mean))
                .collect(),
            band: vec![],
        })
        .collect();
    let axes = Axes {
        log_x: true,
        markers: true,
        range: Some(((x_min, x_max), tau_range(summary, false))),
        ..Axes::new(
            "Kendall tau vs fit time (points: training-set sizes)",
            "mean fit time (s)",
            "Kendall tau (mean over trials)",
        )
    };
    plot(path, &axes, &series, &[]).map_err(io(path))
}

/// Writes `tau_vs_n.svg` and `tau_vs_fit_time.svg` into `dir`.
pub fn write(dir: &Path, summary: &[SummaryRow], estimators: &[String]) -> Result<(), EvalError> {
    tau_vs_n(&dir.join("tau_vs_n.svg"), summary, estimators)?;
    tau_vs_fit_time(&dir.join("tau_vs_fit_time.svg"), summary, estimators)
}
