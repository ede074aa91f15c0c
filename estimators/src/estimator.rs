//! The estimator interface: fit on (architectures, accuracies), then score architectures.

use crate::error::EstimatorError;
use emprox_benchmarks::seed::Rng;
use emprox_benchmarks::SearchSpace;
use std::path::Path;

/// What an estimator needs besides the labelled architectures it is fitted on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Needs {
    /// Smallest number of labelled architectures `fit` accepts.
    pub min_train_size: usize,
    /// Unlabelled architectures the estimator samples from the space itself (0: none).
    pub unlabelled_archs: usize,
}

/// A performance estimator (object safe: `Box<dyn Estimator<Nb201Space>>`).
pub trait Estimator<S: SearchSpace>: Send + Sync {
    /// The estimator's type name (as in config files).
    fn name(&self) -> &'static str;
    /// Its declared data needs.
    fn needs(&self) -> Needs;
    /// Fits on `cells` with accuracies `targets` (same length), drawing all randomness from `rng`.
    fn fit(
        &self,
        space: &S,
        cells: &[S::Cell],
        targets: &[f64],
        rng: &mut Rng,
    ) -> Result<Box<dyn FittedEstimator<S>>, EstimatorError>;
    /// Fits again in a search, after `previous` (a fit of this estimator on fewer cells): a fresh
    /// [`Estimator::fit`] unless the estimator can start from the previous fit's state.
    fn refit(
        &self,
        space: &S,
        cells: &[S::Cell],
        targets: &[f64],
        rng: &mut Rng,
        previous: &dyn FittedEstimator<S>,
    ) -> Result<Box<dyn FittedEstimator<S>>, EstimatorError> {
        let _ = previous;
        self.fit(space, cells, targets, rng)
    }
}

/// A fitted estimator.
pub trait FittedEstimator<S: SearchSpace>: Send + Sync {
    /// Scores of `cells` (higher = better; for regressors, predicted accuracy), one per cell.
    fn predict(&self, space: &S, cells: &[S::Cell]) -> Result<Vec<f64>, EstimatorError>;
    /// Saves the model to a folder, where the estimator supports it.
    fn save(&self, dir: &Path) -> Result<(), EstimatorError> {
        let _ = dir;
        Err(EstimatorError::Unsupported(
            "this estimator cannot be saved".into(),
        ))
    }
    /// The fitted state for a warm [`Estimator::refit`], where the estimator has one.
    fn as_any(&self) -> Option<&dyn std::any::Any> {
        None
    }
}

/// Checks the common preconditions of `fit`.
pub(crate) fn check_fit_data(
    n_cells: usize,
    targets: &[f64],
    needs: Needs,
) -> Result<(), EstimatorError> {
    if n_cells != targets.len() {
        return Err(EstimatorError::Data(format!(
            "{n_cells} architectures but {} targets",
            targets.len()
        )));
    }
    if n_cells < needs.min_train_size.max(1) {
        return Err(EstimatorError::Data(format!(
            "{n_cells} architectures given, at least {} needed",
            needs.min_train_size.max(1)
        )));
    }
    if let Some(bad) = targets.iter().find(|t| !t.is_finite()) {
        return Err(EstimatorError::Data(format!("non-finite target {bad}")));
    }
    Ok(())
}

/// `targets` standardised to mean 0 and standard deviation 1 (the deviation floored at 1e-9, for
/// constant targets): `(mean, std, standardised)`, the first two to map predictions back.
pub(crate) fn standardise(targets: &[f64]) -> (f64, f64, Vec<f32>) {
    let n = targets.len() as f64;
    let mean = targets.iter().sum::<f64>() / n;
    let std = (targets.iter().map(|t| (t - mean).powi(2)).sum::<f64>() / n)
        .sqrt()
        .max(1e-9);
    let y = targets.iter().map(|t| ((t - mean) / std) as f32).collect();
    (mean, std, y)
}
