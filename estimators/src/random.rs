//! `random`: uniformly random scores, the sanity floor of every comparison.

use crate::error::EstimatorError;
use crate::estimator::{check_fit_data, Estimator, FittedEstimator, Needs};
use emprox_benchmarks::seed::Rng;
use emprox_benchmarks::SearchSpace;
use rand::{Rng as _, SeedableRng};
use std::sync::Mutex;

emprox_benchmarks::params! {
    /// The `random` table (no parameters).
    pub struct RandomParams;
}

impl RandomParams {
    /// The validated estimator.
    pub fn check(&self) -> Result<RandomEstimator, String> {
        self.check_ranges()?;
        Ok(RandomEstimator)
    }
}

/// Random scores (no learning).
#[derive(Debug, Clone, Default)]
pub struct RandomEstimator;

struct FittedRandom {
    rng: Mutex<Rng>,
}

impl<S: SearchSpace> Estimator<S> for RandomEstimator {
    fn name(&self) -> &'static str {
        "random"
    }
    fn needs(&self) -> Needs {
        Needs::default()
    }
    fn fit(
        &self,
        _space: &S,
        cells: &[S::Cell],
        targets: &[f64],
        rng: &mut Rng,
    ) -> Result<Box<dyn FittedEstimator<S>>, EstimatorError> {
        check_fit_data(cells.len(), targets, Estimator::<S>::needs(self))?;
        Ok(Box::new(FittedRandom {
            rng: Mutex::new(Rng::seed_from_u64(rng.random())),
        }))
    }
}

impl<S: SearchSpace> FittedEstimator<S> for FittedRandom {
    fn predict(&self, _space: &S, cells: &[S::Cell]) -> Result<Vec<f64>, EstimatorError> {
        let mut rng = self.rng.lock().expect("rng lock");
        Ok(cells.iter().map(|_| rng.random::<f64>()).collect())
    }
}
