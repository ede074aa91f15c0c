//! A zero-cost proxy for the filter (`[filter] proxy`): a metric known before training (a
//! benchmark's `known_metrics`: parameters, FLOPs, a table's measured latency) that is taken to be
//! larger for better cells (as the filter scores them: maximised). It serves the filter twice (`proxy_use`):
//!
//! - **warm-up** (Abdelfattah et al., "Zero-Cost Proxies for Lightweight NAS", ICLR 2021: the
//!   zero-cost warm-up of a search): while the estimator has no training set yet, each pool of
//!   the strategy's proposals is ranked by the proxy instead of being evaluated as proposed;
//! - **prior**: a least-squares line from the proxy to the (maximised) score is fitted on the
//!   evaluated cells at each refit, the estimator is fitted on what the line leaves (the
//!   residuals), and a candidate's prediction is the line at its proxy plus the estimator's
//!   prediction. A kNN estimator such as EmProx cannot extrapolate beyond the cells it has seen;
//!   the line can, and the estimator corrects it near the evaluated cells.
//!
//! On NAS-Bench-201 the parameter count is such a proxy: the best-validation cell of each of the
//! three datasets is in the top 3% of the space by parameters, its ten best in the top 11%.

use emprox_benchmarks::Evaluator;
use serde::{Deserialize, Serialize};
use std::sync::Arc;

/// What the filter uses the proxy for.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ProxyUse {
    /// Warm-up and prior.
    #[default]
    Both,
    /// Only to rank the warm-up's pools.
    Warmup,
    /// Only as the prior line under the estimator.
    Prior,
}

impl ProxyUse {
    /// Whether the warm-up's pools are ranked by the proxy.
    pub fn warmup(self) -> bool {
        matches!(self, ProxyUse::Both | ProxyUse::Warmup)
    }

    /// Whether the estimator is fitted over the proxy's line.
    pub fn prior(self) -> bool {
        matches!(self, ProxyUse::Both | ProxyUse::Prior)
    }
}

/// Checks the proxy `metric` against the metrics a benchmark knows before training (`None`: a
/// benchmark that knows none, e.g. one that trains).
pub fn check(metric: &str, known: Option<&[String]>) -> Result<(), String> {
    match known {
        Some(names) if names.iter().any(|n| n == metric) => Ok(()),
        Some(names) => Err(format!(
            "[filter] proxy: `{metric}` is not a metric this benchmark knows before training \
             (available: {})",
            if names.is_empty() {
                "none".to_string()
            } else {
                names.join(", ")
            }
        )),
        None => Err(format!(
            "[filter] proxy: this benchmark knows no metric before training (`{metric}` needs a \
             table lookup or the built-in nasbench201 lookup: params_m, flops_m, latency_s)"
        )),
    }
}

/// The proxy of one run: a known metric of each cell.
pub struct Proxy<C> {
    metric: String,
    usage: ProxyUse,
    known: Arc<dyn Evaluator<C>>,
}

impl<C> Proxy<C> {
    /// The proxy `metric` of `known`'s cells, used as `usage` says.
    pub fn new(metric: String, usage: ProxyUse, known: Arc<dyn Evaluator<C>>) -> Self {
        Self {
            metric,
            usage,
            known,
        }
    }

    /// What the proxy is used for.
    pub fn usage(&self) -> ProxyUse {
        self.usage
    }

    /// The proxy of each cell (NaN where the benchmark does not know it).
    pub fn values<'a>(&self, cells: impl IntoIterator<Item = &'a C>) -> Vec<f64>
    where
        C: 'a,
    {
        cells
            .into_iter()
            .map(|c| {
                self.known
                    .known_metrics(c)
                    .into_iter()
                    .find(|(n, _)| *n == self.metric)
                    .map_or(f64::NAN, |(_, v)| v)
            })
            .collect()
    }
}

/// `z` mapped linearly onto `[lo, hi]` (its smallest value to `lo`, its largest to `hi`; all to
/// the middle when they are equal; a value that is not finite to `lo`).
pub fn stretch(z: &[f64], (lo, hi): (f64, f64)) -> Vec<f64> {
    let finite = z.iter().copied().filter(|v| v.is_finite());
    let min = finite.clone().fold(f64::INFINITY, f64::min);
    let max = finite.fold(f64::NEG_INFINITY, f64::max);
    z.iter()
        .map(|&v| {
            if !v.is_finite() {
                lo
            } else if max > min {
                lo + (hi - lo) * (v - min) / (max - min)
            } else {
                (lo + hi) / 2.0
            }
        })
        .collect()
}

/// A least-squares line `y = a + b z`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Line {
    /// Intercept.
    pub a: f64,
    /// Slope.
    pub b: f64,
}

impl Line {
    /// The least-squares line through the finite pairs of `z` and `y`: flat at the mean of `y`
    /// when the `z` have no spread, zero when there are no finite pairs.
    pub fn fit(z: &[f64], y: &[f64]) -> Line {
        let pairs: Vec<(f64, f64)> = z
            .iter()
            .zip(y)
            .filter(|(a, b)| a.is_finite() && b.is_finite())
            .map(|(a, b)| (*a, *b))
            .collect();
        if pairs.is_empty() {
            return Line { a: 0.0, b: 0.0 };
        }
        let n = pairs.len() as f64;
        let mz = pairs.iter().map(|p| p.0).sum::<f64>() / n;
        let my = pairs.iter().map(|p| p.1).sum::<f64>() / n;
        let szz: f64 = pairs.iter().map(|p| (p.0 - mz).powi(2)).sum();
        let szy: f64 = pairs.iter().map(|p| (p.0 - mz) * (p.1 - my)).sum();
        let b = if szz > 1e-12 * n { szy / szz } else { 0.0 };
        Line { a: my - b * mz, b }
    }

    /// The line at `z` (the intercept where `z` is not finite).
    pub fn at(&self, z: f64) -> f64 {
        if z.is_finite() {
            self.a + self.b * z
        } else {
            self.a
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn line_fits_exact_points_and_degenerate_inputs() {
        let l = Line::fit(&[1.0, 2.0, 3.0], &[3.0, 5.0, 7.0]);
        assert!((l.a - 1.0).abs() < 1e-12 && (l.b - 2.0).abs() < 1e-12);
        assert_eq!(l.at(10.0), 21.0);
        // Least squares through noisy points: slope (cov / var).
        let l = Line::fit(&[0.0, 1.0, 2.0, 3.0], &[1.0, 0.0, 3.0, 2.0]);
        assert!((l.b - 0.6).abs() < 1e-12 && (l.a - 0.6).abs() < 1e-12);
        // No spread in z: flat at the mean.
        assert_eq!(Line::fit(&[2.0, 2.0], &[1.0, 3.0]), Line { a: 2.0, b: 0.0 });
        // Non-finite pairs are left out; none left: zero.
        assert_eq!(
            Line::fit(&[f64::NAN, 1.0, 2.0], &[5.0, 1.0, 2.0]),
            Line { a: 0.0, b: 1.0 }
        );
        assert_eq!(Line::fit(&[f64::NAN], &[1.0]), Line { a: 0.0, b: 0.0 });
        assert_eq!(Line { a: 1.0, b: 2.0 }.at(f64::NAN), 1.0);
    }

    #[test]
    fn stretch_maps_onto_the_range() {
        assert_eq!(
            stretch(&[1.0, 3.0, 2.0, f64::NAN], (80.0, 90.0)),
            vec![80.0, 90.0, 85.0, 80.0]
        );
        assert_eq!(stretch(&[2.0, 2.0], (-1.0, 1.0)), vec![0.0, 0.0]);
        assert!(stretch(&[], (0.0, 1.0)).is_empty());
    }

    #[test]
    fn check_names_the_available_metrics() {
        let names = vec!["params_m".to_string(), "flops_m".to_string()];
        assert!(check("params_m", Some(&names)).is_ok());
        let e = check("latency", Some(&names)).unwrap_err();
        assert!(
            e.contains("`latency`") && e.contains("params_m, flops_m"),
            "{e}"
        );
        assert!(check("params_m", None)
            .unwrap_err()
            .contains("knows no metric"));
    }

    #[test]
    fn usage_splits_warmup_and_prior() {
        assert!(ProxyUse::Both.warmup() && ProxyUse::Both.prior());
        assert!(ProxyUse::Warmup.warmup() && !ProxyUse::Warmup.prior());
        assert!(!ProxyUse::Prior.warmup() && ProxyUse::Prior.prior());
    }
}
