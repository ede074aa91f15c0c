//! `mean`: the mean prediction of several estimators, usually of different types (a
//! heterogeneous ensemble). Their errors differ, so the mean ranks candidates better than most
//! members alone: in the search filter on NAS-Bench-201, EmProx and `knn_onehot` together find
//! the best-validation cell more often than either (docs/results.md).
//!
//! ```toml
//! [estimator]
//! type = "mean"
//! members = [{ type = "emprox", pretrain = 2000 }, { type = "knn_onehot" }]
//! ```

use crate::error::EstimatorError;
use crate::estimator::{Estimator, FittedEstimator, Needs};
use emprox_benchmarks::seed::{self, Rng};
use emprox_benchmarks::SearchSpace;
use rand::RngCore;

/// The mean of several fitted estimators.
pub struct MeanEstimator<S: SearchSpace> {
    members: Vec<Box<dyn Estimator<S>>>,
}

impl<S: SearchSpace> MeanEstimator<S> {
    /// The mean of `members` (checked by `MeanParams`, in the estimator registry, whose
    /// members are the registry's own parameter types).
    pub fn new(members: Vec<Box<dyn Estimator<S>>>) -> Self {
        Self { members }
    }
}

struct FittedMean<S: SearchSpace> {
    members: Vec<Box<dyn FittedEstimator<S>>>,
}

impl<S: SearchSpace + 'static> Estimator<S> for MeanEstimator<S> {
    fn name(&self) -> &'static str {
        "mean"
    }

    /// The largest training set any member needs, and the most unlabelled cells.
    fn needs(&self) -> Needs {
        let max = |f: fn(Needs) -> usize| self.members.iter().map(|m| f(m.needs())).max();
        Needs {
            min_train_size: max(|n| n.min_train_size).unwrap_or(0),
            unlabelled_archs: max(|n| n.unlabelled_archs).unwrap_or(0),
        }
    }

    /// Fits every member on the same cells, member `i` with the stream `i` of a seed drawn from
    /// `rng`.
    fn fit(
        &self,
        space: &S,
        cells: &[S::Cell],
        targets: &[f64],
        rng: &mut Rng,
    ) -> Result<Box<dyn FittedEstimator<S>>, EstimatorError> {
        let base = rng.next_u64();
        let members = self
            .members
            .iter()
            .enumerate()
            .map(|(i, m)| {
                m.fit(
                    space,
                    cells,
                    targets,
                    &mut seed::stream(base, &i.to_string()),
                )
            })
            .collect::<Result<Vec<_>, _>>()?;
        Ok(Box::new(FittedMean { members }))
    }
}

impl<S: SearchSpace + 'static> FittedEstimator<S> for FittedMean<S> {
    fn predict(&self, space: &S, cells: &[S::Cell]) -> Result<Vec<f64>, EstimatorError> {
        let mut sum = vec![0.0; cells.len()];
        for m in &self.members {
            for (s, p) in sum.iter_mut().zip(m.predict(space, cells)?) {
                *s += p;
            }
        }
        let k = self.members.len() as f64;
        Ok(sum.into_iter().map(|s| s / k).collect())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::knn::KnnOneHotParams;
    use crate::random::RandomParams;
    use emprox_benchmarks::nb201::{Nb201Data, Nb201Space};

    fn members() -> Vec<Box<dyn Estimator<Nb201Space>>> {
        vec![
            Box::new(KnnOneHotParams::default().check().unwrap()),
            Box::new(RandomParams::default().check().unwrap()),
        ]
    }

    #[test]
    fn the_mean_is_the_average_of_the_members_fitted_on_their_streams() {
        let space = Nb201Space::new(Nb201Data::shipped().unwrap());
        let cells: Vec<_> = (0..40).map(|i| space.cell_at(i * 371).unwrap()).collect();
        let targets: Vec<f64> = (0..40).map(|i| 80.0 + (i * 7 % 13) as f64).collect();
        let mean = MeanEstimator::new(members());
        let fitted = mean
            .fit(
                &space,
                &cells[..30],
                &targets[..30],
                &mut seed::stream(5, "m"),
            )
            .unwrap();
        let got = fitted.predict(&space, &cells[30..]).unwrap();
        // The same members fitted by hand on the streams the mean gives them.
        let base = seed::stream(5, "m").next_u64();
        let each: Vec<Vec<f64>> = members()
            .iter()
            .enumerate()
            .map(|(i, e)| {
                let f = e
                    .fit(
                        &space,
                        &cells[..30],
                        &targets[..30],
                        &mut seed::stream(base, &i.to_string()),
                    )
                    .unwrap();
                f.predict(&space, &cells[30..]).unwrap()
            })
            .collect();
        for (j, g) in got.iter().enumerate() {
            assert!((g - (each[0][j] + each[1][j]) / 2.0).abs() < 1e-12, "{j}");
        }
        assert_ne!(each[0], each[1]);
    }
}
