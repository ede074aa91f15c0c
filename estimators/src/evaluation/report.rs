//! Writing the evaluation's evidence: `results.csv`, `predictions.csv`, `summary.json`,
//! `summary.md`.

use super::{EvalError, Row};
use crate::metrics::mean_std;
use serde::Serialize;
use std::path::Path;

/// Mean and standard deviation (sample, n − 1; 0 for one value) of the metrics of one
/// (estimator, train size) over trials.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct SummaryRow {
    /// Estimator label.
    pub estimator: String,
    /// Training-set size.
    pub train_size: usize,
    /// Trials averaged.
    pub trials: usize,
    /// Kendall tau.
    pub kendall_tau_mean: f64,
    /// Its standard deviation.
    pub kendall_tau_std: f64,
    /// Spearman.
    pub spearman_mean: f64,
    /// Its standard deviation.
    pub spearman_std: f64,
    /// Pearson.
    pub pearson_mean: f64,
    /// Mean absolute error.
    pub mae_mean: f64,
    /// Root mean squared error.
    pub rmse_mean: f64,
    /// Precision at 10.
    pub precision_at_10_mean: f64,
    /// Precision at 20.
    pub precision_at_20_mean: f64,
    /// Fit wall time (s).
    pub fit_seconds_mean: f64,
    /// Its standard deviation.
    pub fit_seconds_std: f64,
    /// Fit CPU time of the fitting thread (s).
    pub fit_cpu_seconds_mean: f64,
    /// Query wall time per architecture (s).
    pub query_seconds_per_arch_mean: f64,
}

/// Aggregates rows per (estimator, train size), in the order estimators and sizes first appear.
pub fn summarise(rows: &[Row], estimators: &[String], sizes: &[usize]) -> Vec<SummaryRow> {
    let mut out = Vec::new();
    for e in estimators {
        for &n in sizes {
            let sel: Vec<&Row> = rows
                .iter()
                .filter(|r| &r.estimator == e && r.train_size == n)
                .collect();
            if sel.is_empty() {
                continue;
            }
            let col =
                |f: &dyn Fn(&Row) -> f64| mean_std(&sel.iter().map(|r| f(r)).collect::<Vec<_>>());
            let tau = col(&|r| r.metrics.kendall_tau);
            let sp = col(&|r| r.metrics.spearman);
            let fit = col(&|r| r.fit_seconds);
            out.push(SummaryRow {
                estimator: e.clone(),
                train_size: n,
                trials: sel.len(),
                kendall_tau_mean: tau.0,
                kendall_tau_std: tau.1,
                spearman_mean: sp.0,
                spearman_std: sp.1,
                pearson_mean: col(&|r| r.metrics.pearson).0,
                mae_mean: col(&|r| r.metrics.mae).0,
                rmse_mean: col(&|r| r.metrics.rmse).0,
                precision_at_10_mean: col(&|r| r.metrics.precision_at_10).0,
                precision_at_20_mean: col(&|r| r.metrics.precision_at_20).0,
                fit_seconds_mean: fit.0,
                fit_seconds_std: fit.1,
                fit_cpu_seconds_mean: col(&|r| r.fit_cpu_seconds).0,
                query_seconds_per_arch_mean: col(&|r| r.query_seconds_per_arch).0,
            });
        }
    }
    out
}

fn io(path: &Path) -> impl FnOnce(std::io::Error) -> EvalError + '_ {
    move |source| EvalError::Io {
        path: path.to_path_buf(),
        source,
    }
}

fn csv_err(path: &Path) -> impl FnOnce(csv::Error) -> EvalError + '_ {
    move |e| EvalError::Io {
        path: path.to_path_buf(),
        source: std::io::Error::other(e.to_string()),
    }
}

/// `results.csv`: one row per (trial, estimator, train size).
pub fn write_results(path: &Path, rows: &[Row]) -> Result<(), EvalError> {
    let mut w = csv::Writer::from_writer(Vec::new());
    w.write_record([
        "trial",
        "estimator",
        "train_size",
        "kendall_tau",
        "spearman",
        "pearson",
        "mae",
        "rmse",
        "precision_at_10",
        "precision_at_20",
        "fit_seconds",
        "fit_cpu_seconds",
        "query_seconds_per_arch",
    ])
    .map_err(csv_err(path))?;
    for r in rows {
        let m = &r.metrics;
        w.write_record([
            r.trial.to_string(),
            r.estimator.clone(),
            r.train_size.to_string(),
            m.kendall_tau.to_string(),
            m.spearman.to_string(),
            m.pearson.to_string(),
            m.mae.to_string(),
            m.rmse.to_string(),
            m.precision_at_10.to_string(),
            m.precision_at_20.to_string(),
            r.fit_seconds.to_string(),
            r.fit_cpu_seconds.to_string(),
            r.query_seconds_per_arch.to_string(),
        ])
        .map_err(csv_err(path))?;
    }
    let bytes = w.into_inner().map_err(|e| io(path)(e.into_error()))?;
    emprox_benchmarks::fsutil::write_atomic(path, &bytes).map_err(io(path))
}

/// `predictions.csv`: `trial,estimator,train_size,index,arch,true,predicted`.
pub fn write_predictions(
    path: &Path,
    rows: &[Row],
    arch: &dyn Fn(usize) -> String,
) -> Result<(), EvalError> {
    let mut w = csv::Writer::from_writer(Vec::new());
    w.write_record([
        "trial",
        "estimator",
        "train_size",
        "index",
        "arch",
        "true",
        "predicted",
    ])
    .map_err(csv_err(path))?;
    for r in rows {
        for ((&i, t), p) in r.test.iter().zip(&r.truth).zip(&r.predicted) {
            w.write_record([
                r.trial.to_string(),
                r.estimator.clone(),
                r.train_size.to_string(),
                i.to_string(),
                arch(i),
                t.to_string(),
                p.to_string(),
            ])
            .map_err(csv_err(path))?;
        }
    }
    let bytes = w.into_inner().map_err(|e| io(path)(e.into_error()))?;
    emprox_benchmarks::fsutil::write_atomic(path, &bytes).map_err(io(path))
}

/// The Markdown table of a summary.
pub fn markdown(summary: &[SummaryRow]) -> String {
    let mut s = String::from(
        "| estimator | n | trials | Kendall tau | Spearman | Pearson | P@10 | P@20 | MAE | fit s (wall) | fit s (CPU) | query s/arch |\n\
         |---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|\n",
    );
    for r in summary {
        s.push_str(&format!(
            "| {} | {} | {} | {:.3} ± {:.3} | {:.3} | {:.3} | {:.2} | {:.2} | {:.2} | {:.3} ± {:.3} | {:.3} | {:.1e} |\n",
            r.estimator,
            r.train_size,
            r.trials,
            r.kendall_tau_mean,
            r.kendall_tau_std,
            r.spearman_mean,
            r.pearson_mean,
            r.precision_at_10_mean,
            r.precision_at_20_mean,
            r.mae_mean,
            r.fit_seconds_mean,
            r.fit_seconds_std,
            r.fit_cpu_seconds_mean,
            r.query_seconds_per_arch_mean,
        ));
    }
    s
}

/// Writes `text` to `path` (through a temporary file and a rename).
pub fn write_text(path: &Path, text: &str) -> Result<(), EvalError> {
    emprox_benchmarks::fsutil::write_atomic(path, text.as_bytes()).map_err(io(path))
}
