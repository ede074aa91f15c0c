//! The filter's acquisition: an ensemble of fitted estimators (`[filter] ensemble`) and how a
//! candidate's score is made from their predictions (`acquisition`): the mean, an upper
//! confidence bound, or BANANAS's independent Thompson sampling (one draw per candidate from a
//! Gaussian with the ensemble's mean and standard deviation).

use emprox_benchmarks::{seed, SearchSpace};
use emprox_estimators::{Estimator, EstimatorError, FittedEstimator};
use rand::seq::index::sample;
use rand_distr::{Distribution, StandardNormal};
use serde::{Deserialize, Serialize};

/// How a candidate is scored from the ensemble's predictions.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Acquisition {
    /// The ensemble's mean prediction (pure exploitation).
    #[default]
    Mean,
    /// Mean + `beta` × standard deviation.
    Ucb,
    /// One draw from N(mean, std²) per candidate.
    Thompson,
}

/// Share of the evaluated cells each member of an ensemble of two or more is fitted on (a
/// random subset, drawn per member and refit, so that kNN estimators differ too).
pub const MEMBER_SHARE: f64 = 0.8;

/// The most members an ensemble may have.
pub const MAX_ENSEMBLE: usize = 100;

/// Checks the ensemble size and `beta`.
pub fn validate(ensemble: usize, beta: f64) -> Result<(), String> {
    if !(1..=MAX_ENSEMBLE).contains(&ensemble) {
        return Err(format!(
            "[filter] ensemble must be in [1, {MAX_ENSEMBLE}], got {ensemble}"
        ));
    }
    if !(beta.is_finite() && beta >= 0.0) {
        return Err(format!("[filter] beta must be finite and >= 0, got {beta}"));
    }
    Ok(())
}

/// Fits `members` estimators for the `fit`-th refit of a filter with seed `filter_seed`, each
/// from the same member of `previous` (the last refit's ensemble, empty at first: see
/// [`Estimator::refit`]). One member is fitted on every cell with the stream named `fit` (the
/// filter without an ensemble, unchanged); several are fitted each on a random
/// [`MEMBER_SHARE`] of the cells (at least `min_train`), with streams `fit/member`.
#[allow(clippy::too_many_arguments)]
pub fn fit<S: SearchSpace>(
    estimator: &dyn Estimator<S>,
    previous: &[Box<dyn FittedEstimator<S>>],
    space: &S,
    cells: &[S::Cell],
    targets: &[f64],
    members: usize,
    filter_seed: u64,
    fit: u64,
    min_train: usize,
) -> Result<Vec<Box<dyn FittedEstimator<S>>>, EstimatorError> {
    let one = |m: usize, c: &[S::Cell], t: &[f64], rng: &mut seed::Rng| match previous.get(m) {
        Some(p) => estimator.refit(space, c, t, rng, p.as_ref()),
        None => estimator.fit(space, c, t, rng),
    };
    if members <= 1 {
        let mut rng = seed::stream(filter_seed, &fit.to_string());
        return Ok(vec![one(0, cells, targets, &mut rng)?]);
    }
    let n = cells.len();
    let size = ((n as f64 * MEMBER_SHARE).ceil() as usize)
        .max(min_train)
        .min(n);
    (0..members)
        .map(|m| {
            let mut rng = seed::stream(filter_seed, &format!("{fit}/{m}"));
            let mut pick = sample(&mut rng, n, size).into_vec();
            pick.sort_unstable();
            let c: Vec<S::Cell> = pick.iter().map(|&i| cells[i].clone()).collect();
            let t: Vec<f64> = pick.iter().map(|&i| targets[i]).collect();
            one(m, &c, &t, &mut rng)
        })
        .collect()
}

/// The members' mean prediction and (population) standard deviation for each cell.
pub fn predict<S: SearchSpace>(
    members: &[Box<dyn FittedEstimator<S>>],
    space: &S,
    cells: &[S::Cell],
) -> Result<(Vec<f64>, Vec<f64>), EstimatorError> {
    let preds = members
        .iter()
        .map(|m| m.predict(space, cells))
        .collect::<Result<Vec<_>, _>>()?;
    if preds.len() == 1 {
        let mean = preds.into_iter().next().expect("one member");
        return Ok((mean, vec![0.0; cells.len()]));
    }
    let k = preds.len() as f64;
    let (mut mean, mut std) = (
        Vec::with_capacity(cells.len()),
        Vec::with_capacity(cells.len()),
    );
    for i in 0..cells.len() {
        let m = preds.iter().map(|p| p[i]).sum::<f64>() / k;
        let v = preds.iter().map(|p| (p[i] - m).powi(2)).sum::<f64>() / k;
        mean.push(m);
        std.push(v.sqrt());
    }
    Ok((mean, std))
}

/// The acquisition value of each candidate (higher = evaluated first). Thompson sampling draws
/// from `rng`, one normal deviate per candidate in pool order.
pub fn acquire(
    acquisition: Acquisition,
    beta: f64,
    mean: &[f64],
    std: &[f64],
    rng: &mut seed::Rng,
) -> Vec<f64> {
    match acquisition {
        Acquisition::Mean => mean.to_vec(),
        Acquisition::Ucb => mean.iter().zip(std).map(|(m, s)| m + beta * s).collect(),
        Acquisition::Thompson => mean
            .iter()
            .zip(std)
            .map(|(m, s)| {
                let z: f64 = StandardNormal.sample(rng);
                m + s * z
            })
            .collect(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use emprox_benchmarks::nb201::{Nb201Data, Nb201Space};
    use emprox_estimators::EstimatorParams;

    #[test]
    fn acquisition_values() {
        let mean = [1.0, 2.0, 3.0];
        let std = [0.0, 1.0, 0.5];
        let mut rng = seed::stream(0, "t");
        assert_eq!(acquire(Acquisition::Mean, 2.0, &mean, &std, &mut rng), mean);
        assert_eq!(
            acquire(Acquisition::Ucb, 2.0, &mean, &std, &mut rng),
            [1.0, 4.0, 4.0]
        );
        // Thompson: a zero spread gives the mean; the draws have the ensemble's spread.
        let t = acquire(Acquisition::Thompson, 0.0, &mean, &std, &mut rng);
        assert_eq!(t[0], 1.0);
        assert_ne!(t[1], 2.0);
        let n = 20_000;
        let draws = acquire(
            Acquisition::Thompson,
            0.0,
            &vec![5.0; n],
            &vec![2.0; n],
            &mut rng,
        );
        let m = draws.iter().sum::<f64>() / n as f64;
        let sd = (draws.iter().map(|d| (d - m).powi(2)).sum::<f64>() / n as f64).sqrt();
        assert!(
            (m - 5.0).abs() < 0.05 && (sd - 2.0).abs() < 0.05,
            "{m} {sd}"
        );
        assert!(validate(1, 0.0).is_ok());
        assert!(validate(0, 1.0).is_err() && validate(101, 1.0).is_err());
        assert!(validate(5, -1.0).is_err() && validate(5, f64::NAN).is_err());
    }

    #[test]
    fn one_member_is_the_plain_fit_and_members_differ() {
        let space = Nb201Space::new(Nb201Data::shipped().unwrap());
        let est = EstimatorParams::KnnOnehot(Default::default())
            .build::<Nb201Space>()
            .unwrap();
        let mut rng = seed::stream(3, "cells");
        let cells: Vec<_> = (0..40).map(|_| space.sample(&mut rng)).collect();
        let targets: Vec<f64> = (0..40).map(|i| 80.0 + (i % 7) as f64).collect();
        let pool: Vec<_> = (0..30).map(|_| space.sample(&mut rng)).collect();
        let one = fit(est.as_ref(), &[], &space, &cells, &targets, 1, 9, 0, 1).unwrap();
        let plain = est
            .fit(&space, &cells, &targets, &mut seed::stream(9, "0"))
            .unwrap()
            .predict(&space, &pool)
            .unwrap();
        let (mean, std) = predict(&one, &space, &pool).unwrap();
        assert_eq!(mean, plain);
        assert!(std.iter().all(|s| *s == 0.0));
        let five = fit(est.as_ref(), &[], &space, &cells, &targets, 5, 9, 0, 1).unwrap();
        let (mean5, std5) = predict(&five, &space, &pool).unwrap();
        assert!(std5.iter().any(|s| *s > 0.0), "subsets differ");
        for (m, s) in mean5.iter().zip(&std5) {
            assert!((80.0..=86.0).contains(m) && *s <= 3.0, "{m} {s}");
        }
    }
}
