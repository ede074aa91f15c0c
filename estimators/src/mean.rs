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

use crate::config::EstimatorParams;
use crate::error::EstimatorError;
use crate::estimator::{Estimator, FittedEstimator, Needs};
use emprox_benchmarks::params::{toml_value, ParamDoc, Range};
use emprox_benchmarks::seed::{self, Rng};
use emprox_benchmarks::SearchSpace;
use rand::RngCore;
use serde::{Deserialize, Serialize};

/// The most members a `mean` may have.
pub const MAX_MEMBERS: usize = 8;

/// The `mean` table.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct MeanParams {
    /// The estimators whose predictions are averaged (2 to [`MAX_MEMBERS`], any type but
    /// `mean`).
    pub members: Vec<EstimatorParams>,
}

impl Default for MeanParams {
    fn default() -> Self {
        Self {
            members: vec![
                EstimatorParams::Emprox(Default::default()),
                EstimatorParams::KnnOnehot(Default::default()),
            ],
        }
    }
}

impl MeanParams {
    /// Checks the members (count, no nesting).
    pub fn check_members(&self) -> Result<(), String> {
        if !(2..=MAX_MEMBERS).contains(&self.members.len()) {
            return Err(format!(
                "`members` must hold 2 to {MAX_MEMBERS} estimators, got {}",
                self.members.len()
            ));
        }
        if self
            .members
            .iter()
            .any(|m| matches!(m, EstimatorParams::Mean(_)))
        {
            return Err("`members` cannot hold another `mean`".into());
        }
        Ok(())
    }

    /// The validated estimator.
    pub fn check<S: SearchSpace + 'static>(&self) -> Result<MeanEstimator<S>, String> {
        self.check_members()?;
        let members = self
            .members
            .iter()
            .enumerate()
            .map(|(i, m)| {
                m.build::<S>().map_err(|e| match e {
                    EstimatorError::Config(msg) => format!("member {}: {msg}", i + 1),
                    other => format!("member {}: {other}", i + 1),
                })
            })
            .collect::<Result<Vec<_>, _>>()?;
        Ok(MeanEstimator { members })
    }

    /// The parameters for the search run with seed `run_seed` (each member's).
    pub fn for_run(&self, run_seed: u64) -> Self {
        Self {
            members: self.members.iter().map(|m| m.for_run(run_seed)).collect(),
        }
    }

    /// The key with its default, range and description.
    pub fn docs() -> Vec<ParamDoc> {
        vec![ParamDoc {
            name: "members",
            default: toml_value(&Self::default().members),
            range: Range::Any,
            doc: "estimators whose predictions are averaged (2-8, any type but mean)",
        }]
    }
}

/// The mean of several fitted estimators.
pub struct MeanEstimator<S: SearchSpace> {
    members: Vec<Box<dyn Estimator<S>>>,
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
    use emprox_benchmarks::nb201::{Nb201Data, Nb201Space};

    #[test]
    fn the_mean_is_the_average_of_the_members_fitted_on_their_streams() {
        let space = Nb201Space::new(Nb201Data::shipped().unwrap());
        let cells: Vec<_> = (0..40).map(|i| space.cell_at(i * 371).unwrap()).collect();
        let targets: Vec<f64> = (0..40).map(|i| 80.0 + (i * 7 % 13) as f64).collect();
        let members = vec![
            EstimatorParams::KnnOnehot(Default::default()),
            EstimatorParams::Random(Default::default()),
        ];
        let mean = MeanParams {
            members: members.clone(),
        }
        .check::<Nb201Space>()
        .unwrap();
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
        let each: Vec<Vec<f64>> = members
            .iter()
            .enumerate()
            .map(|(i, m)| {
                let e = m.build::<Nb201Space>().unwrap();
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

    #[test]
    fn members_are_checked() {
        let one = MeanParams {
            members: vec![EstimatorParams::KnnOnehot(Default::default())],
        };
        assert!(one.check_members().unwrap_err().contains("2 to 8"));
        let nested = MeanParams {
            members: vec![
                EstimatorParams::KnnOnehot(Default::default()),
                EstimatorParams::Mean(Default::default()),
            ],
        };
        assert!(nested
            .check_members()
            .unwrap_err()
            .contains("another `mean`"));
        assert!(MeanParams::default().check_members().is_ok());
    }
}
