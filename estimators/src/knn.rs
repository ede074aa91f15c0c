//! Distance-weighted k-nearest-neighbour regression, and `knn_onehot`, the control estimator that
//! runs it on the one-hot encoding instead of a learned embedding.

use crate::error::EstimatorError;
use crate::estimator::{check_fit_data, Estimator, FittedEstimator, Needs};
use emprox_benchmarks::seed::Rng;
use emprox_benchmarks::SearchSpace;

/// Below this distance a query counts as an exact match of a reference point.
pub const EXACT_MATCH: f64 = 1e-9;

/// Euclidean distance (accumulated in `f32`, as the references are).
fn distance(p: &[f32], q: &[f32]) -> f64 {
    let s: f32 = p.iter().zip(q).map(|(a, b)| (a - b) * (a - b)).sum();
    (s as f64).sqrt()
}

/// Distance-weighted kNN over fixed reference vectors (Euclidean; weights ∝ 1/distance).
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
pub struct Knn {
    /// Number of neighbours (capped at the reference-set size).
    pub k: usize,
    /// Reference vectors, all of the same length.
    pub points: Vec<Vec<f32>>,
    /// Their targets.
    pub targets: Vec<f64>,
}

impl Knn {
    /// A kNN regressor over `points` with `targets`.
    pub fn new(k: usize, points: Vec<Vec<f32>>, targets: Vec<f64>) -> Self {
        assert_eq!(points.len(), targets.len());
        Self { k, points, targets }
    }

    /// The prediction for one query. If the query equals reference points (distance below
    /// [`EXACT_MATCH`]), their mean target is returned, without dividing by zero.
    pub fn predict_one(&self, q: &[f32]) -> f64 {
        let mut d: Vec<(f64, usize)> = self
            .points
            .iter()
            .enumerate()
            .map(|(i, p)| (distance(p, q), i))
            .collect();
        d.sort_by(|a, b| a.0.total_cmp(&b.0).then(a.1.cmp(&b.1)));
        self.weighted(&d, self.k)
    }

    /// The distance-weighted mean target of the first `k` of `sorted` (distance, point) pairs,
    /// nearest first; the mean target of exact matches where there are any.
    fn weighted(&self, sorted: &[(f64, usize)], k: usize) -> f64 {
        let k = k.min(sorted.len()).max(1);
        let exact: Vec<f64> = sorted
            .iter()
            .take_while(|(dist, _)| *dist < EXACT_MATCH)
            .map(|(_, i)| self.targets[*i])
            .collect();
        if !exact.is_empty() {
            return exact.iter().sum::<f64>() / exact.len() as f64;
        }
        let (mut num, mut den) = (0.0, 0.0);
        for &(dist, i) in &sorted[..k] {
            num += self.targets[i] / dist;
            den += 1.0 / dist;
        }
        num / den
    }

    /// Leave-one-out predictions: for each k of `ks`, every reference point predicted from the
    /// others (as [`Knn::predict_one`] would with that k). Distances are computed once.
    pub fn leave_one_out(&self, ks: &[usize]) -> Vec<Vec<f64>> {
        let n = self.points.len();
        let neighbours: Vec<Vec<(f64, usize)>> = (0..n)
            .map(|i| {
                let mut d: Vec<(f64, usize)> = (0..n)
                    .filter(|&j| j != i)
                    .map(|j| (distance(&self.points[j], &self.points[i]), j))
                    .collect();
                d.sort_by(|a, b| a.0.total_cmp(&b.0).then(a.1.cmp(&b.1)));
                d
            })
            .collect();
        ks.iter()
            .map(|&k| neighbours.iter().map(|d| self.weighted(d, k)).collect())
            .collect()
    }

    /// Predictions for many queries.
    ///
    /// # Panics
    /// If there are no reference points; see [`Knn::try_predict`].
    pub fn predict(&self, queries: &[Vec<f32>]) -> Vec<f64> {
        queries.iter().map(|q| self.predict_one(q)).collect()
    }

    /// Predictions for many queries; an error, not a panic or NaN, when there are no reference
    /// points or a query or prediction is not finite.
    pub fn try_predict(&self, queries: &[Vec<f32>]) -> Result<Vec<f64>, EstimatorError> {
        if self.points.is_empty() && !queries.is_empty() {
            return Err(EstimatorError::Predict(
                "the kNN has no reference points".into(),
            ));
        }
        if let Some(i) = queries
            .iter()
            .position(|q| q.iter().any(|x| !x.is_finite()))
        {
            return Err(EstimatorError::Predict(format!(
                "query {i} has a non-finite coordinate"
            )));
        }
        let out = self.predict(queries);
        if let Some(i) = out.iter().position(|p| !p.is_finite()) {
            return Err(EstimatorError::Predict(format!(
                "prediction {i} is {} (non-finite reference data)",
                out[i]
            )));
        }
        Ok(out)
    }
}

emprox_benchmarks::params! {
    /// The `knn_onehot` table.
    pub struct KnnOneHotParams;
    /// kNN neighbours on the one-hot encoding
    k: usize = 10, emprox_benchmarks::params::Range::Int(1, 100_000);
}

impl KnnOneHotParams {
    /// The validated estimator.
    pub fn check(&self) -> Result<KnnOneHot, String> {
        self.check_ranges()?;
        Ok(KnnOneHot { k: self.k })
    }
}

/// `knn_onehot`: distance-weighted kNN on the space's one-hot encoding.
#[derive(Debug, Clone)]
pub struct KnnOneHot {
    /// Number of neighbours.
    pub k: usize,
}

struct FittedKnnOneHot(Knn);

impl<S: SearchSpace> Estimator<S> for KnnOneHot {
    fn name(&self) -> &'static str {
        "knn_onehot"
    }
    fn needs(&self) -> Needs {
        Needs {
            min_train_size: 1,
            unlabelled_archs: 0,
        }
    }
    fn fit(
        &self,
        space: &S,
        cells: &[S::Cell],
        targets: &[f64],
        _rng: &mut Rng,
    ) -> Result<Box<dyn FittedEstimator<S>>, EstimatorError> {
        check_fit_data(cells.len(), targets, Estimator::<S>::needs(self))?;
        let points = cells.iter().map(|c| space.one_hot(c)).collect();
        Ok(Box::new(FittedKnnOneHot(Knn::new(
            self.k,
            points,
            targets.to_vec(),
        ))))
    }
}

impl<S: SearchSpace> FittedEstimator<S> for FittedKnnOneHot {
    fn predict(&self, space: &S, cells: &[S::Cell]) -> Result<Vec<f64>, EstimatorError> {
        let q: Vec<Vec<f32>> = cells.iter().map(|c| space.one_hot(c)).collect();
        self.0.try_predict(&q)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn try_predict_reports_empty_references_and_non_finite_values() {
        let empty = Knn::new(3, vec![], vec![]);
        assert!(matches!(
            empty.try_predict(&[vec![0.0]]),
            Err(EstimatorError::Predict(_))
        ));
        assert_eq!(empty.try_predict(&[]).unwrap(), Vec::<f64>::new());
        let knn = Knn::new(1, vec![vec![1.0], vec![2.0]], vec![1.0, 2.0]);
        assert!(knn.try_predict(&[vec![f32::NAN]]).is_err());
        assert_eq!(knn.try_predict(&[vec![1.0]]).unwrap(), vec![1.0]);
    }

    #[test]
    fn weights_are_inverse_distance() {
        // Query at 0; neighbours at distance 1 (target 10) and 3 (target 40), third far away.
        let knn = Knn::new(
            2,
            vec![vec![1.0], vec![-3.0], vec![100.0]],
            vec![10.0, 40.0, 1000.0],
        );
        // (10/1 + 40/3) / (1 + 1/3) = 17.5
        assert!((knn.predict_one(&[0.0]) - 17.5).abs() < 1e-9);
        // k larger than the set: all three points.
        let all = Knn {
            k: 10,
            ..knn.clone()
        };
        let expect = (10.0 + 40.0 / 3.0 + 1000.0 / 100.0) / (1.0 + 1.0 / 3.0 + 0.01);
        assert!((all.predict_one(&[0.0]) - expect).abs() < 1e-9);
    }

    #[test]
    fn leave_one_out_equals_a_knn_without_the_point() {
        let points: Vec<Vec<f32>> = (0..9)
            .map(|i| vec![(i * 7 % 5) as f32, (i * 3 % 4) as f32 * 0.5])
            .collect();
        let targets: Vec<f64> = (0..9).map(|i| (i * i % 11) as f64).collect();
        let knn = Knn::new(1, points.clone(), targets.clone());
        let ks = [1, 3, 20];
        for (k, loo) in ks.iter().zip(knn.leave_one_out(&ks)) {
            for i in 0..9 {
                fn others<T: Clone>(v: &[T], i: usize) -> Vec<T> {
                    let keep = v.iter().enumerate().filter(|(j, _)| *j != i);
                    keep.map(|(_, x)| x.clone()).collect()
                }
                let without = Knn::new(*k, others(&points, i), others(&targets, i));
                assert_eq!(loo[i], without.predict_one(&points[i]), "k {k}, point {i}");
            }
        }
    }

    #[test]
    fn exact_match_returns_its_target_without_nan() {
        let knn = Knn::new(
            3,
            vec![vec![0.0, 1.0], vec![0.0, 1.0], vec![1.0, 0.0]],
            vec![50.0, 70.0, 10.0],
        );
        let p = knn.predict_one(&[0.0, 1.0]);
        assert!(p.is_finite());
        assert!((p - 60.0).abs() < 1e-9, "{p}");
    }
}
