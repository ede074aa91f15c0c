//! The tabular NAS-Bench-201 evaluator: a lookup in the shared table.

use super::cell::Cell;
use super::data::{Dataset, Nb201Data};
use crate::evaluator::{EvalFailure, Evaluator, Outcome};
use rand::Rng;
use serde::{Deserialize, Serialize};
use std::sync::Arc;

/// How the validation accuracy of a query is produced.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum NoiseModel {
    /// The mean over the benchmark's seeds (default).
    #[default]
    Mean,
    /// One of the per-seed validation runs, drawn at random, as a real training run would give.
    Sample,
}

/// Looks cells up in the NAS-Bench-201 table.
#[derive(Debug, Clone)]
pub struct Nb201Tabular {
    data: Arc<Nb201Data>,
    dataset: Dataset,
    noise: NoiseModel,
}

impl Nb201Tabular {
    /// An evaluator on `dataset` with the given noise model.
    pub fn new(data: Arc<Nb201Data>, dataset: Dataset, noise: NoiseModel) -> Self {
        Self {
            data,
            dataset,
            noise,
        }
    }

    /// The dataset queried.
    pub fn dataset(&self) -> Dataset {
        self.dataset
    }
}

impl Evaluator<Cell> for Nb201Tabular {
    fn evaluate(&self, cell: &Cell, rng: &mut dyn rand::RngCore) -> Result<Outcome, EvalFailure> {
        let m = self.data.record(cell).metrics(self.dataset);
        let val_acc = match self.noise {
            NoiseModel::Mean => m.val_acc,
            NoiseModel::Sample => m.val_acc_runs[rng.random_range(0..m.val_acc_runs.len())],
        };
        Ok(Outcome {
            val_acc,
            test_acc: Some(m.test_acc),
            cost_seconds: m.train_time_s,
            extras: self.known_metrics(cell),
        })
    }

    /// Parameters, FLOPs and the table's latency: known without training.
    fn known_metrics(&self, cell: &Cell) -> Vec<(String, f64)> {
        let m = self.data.record(cell).metrics(self.dataset);
        vec![
            ("params_m".into(), m.params_m),
            ("flops_m".into(), m.flops_m),
            ("latency_s".into(), m.latency_s),
        ]
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;

    #[test]
    fn mean_and_sampled_validation() {
        let data = Nb201Data::shipped().unwrap();
        let cell = data.by_index(0).unwrap().cell;
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(1);
        let mean = Nb201Tabular::new(data.clone(), Dataset::Cifar10, NoiseModel::Mean)
            .evaluate(&cell, &mut rng)
            .unwrap();
        assert!((mean.val_acc - 81.9827).abs() < 1e-9);
        assert!((mean.test_acc.unwrap() - 85.8633).abs() < 1e-9);
        assert!((mean.cost_seconds - 1444.22).abs() < 1e-9);
        let m = data.by_index(0).unwrap().metrics(Dataset::Cifar10);
        let known = Nb201Tabular::new(data.clone(), Dataset::Cifar10, NoiseModel::Mean)
            .known_metrics(&cell);
        assert_eq!(known, mean.extras, "the extras, without evaluating");
        assert_eq!(known[1], ("flops_m".to_string(), m.flops_m));
        let sampler = Nb201Tabular::new(data, Dataset::Cifar10, NoiseModel::Sample);
        let mut seen = std::collections::BTreeSet::new();
        for _ in 0..50 {
            let o = sampler.evaluate(&cell, &mut rng).unwrap();
            seen.insert((o.val_acc * 1e4) as i64);
            assert_eq!(o.test_acc, mean.test_acc, "test accuracy is never noised");
        }
        assert_eq!(seen.len(), 3, "the three seed runs 82.092, 81.616, 82.24");
    }
}
