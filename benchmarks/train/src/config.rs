//! The training configuration (`[evaluator] type = "train"` in experiment files).

use crate::data::DataConfig;
pub use emprox_benchmarks::digest::{canonical_json, config_hash, sha256_hex};
use serde::{Deserialize, Serialize};

/// An image dataset shipped inside the repository.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ImageDataset {
    /// sklearn digits: 1,797 grey 8×8 images, 10 classes (default).
    #[default]
    Digits,
    /// 10,000 real MNIST images, grey 28×28, 10 classes.
    Mnist,
}

impl ImageDataset {
    /// The name used in experiment files and cache keys.
    pub fn name(self) -> &'static str {
        match self {
            ImageDataset::Digits => "digits",
            ImageDataset::Mnist => "mnist",
        }
    }
}

impl std::fmt::Display for ImageDataset {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

/// Which seed orders the training batches.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DataOrder {
    /// The batch order depends on the trial seed only: every architecture evaluated with the
    /// same seed sees the same batches, so their accuracies differ by architecture and weight
    /// initialisation alone (default).
    #[default]
    PerSeed,
    /// The batch order depends on the trial seed and the architecture.
    PerArch,
}

/// How candidates are trained. Every field has a default, so an empty table is valid.
///
/// Results are a pure function of (architecture, this config without `threads`, seed): the
/// weights are initialised and the batches ordered from seeded streams, never from candle's
/// thread-local RNG.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct TrainingConfig {
    /// `digits` (default) or `mnist`: the images that ship (`data` replaces them).
    pub dataset: ImageDataset,
    /// Your own images (an image folder, CIFAR binary batches, NumPy arrays; see
    /// [`crate::data`]); default: none, the shipped `dataset`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub data: Option<DataConfig>,
    /// Random crops (zero padding of an eighth of the side, 4 on 32×32) and horizontal flips of
    /// the training images, drawn from the trial seed (default false).
    pub augment: bool,
    /// Channels of the first stage, C (default 8; NAS-Bench-201 uses 16). Stages have C, 2C, 4C.
    pub channels: usize,
    /// Cells per stage, N (default 1; NAS-Bench-201 uses 5).
    pub cells_per_stage: usize,
    /// Training epochs (default 5).
    pub epochs: usize,
    /// Cheaper fidelities for a `[scheduler]`: epoch counts, ascending, each below `epochs`
    /// (default none). A promoted cell continues its training from the lower rung's checkpoint,
    /// under the learning-rate schedule of all `epochs`.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub fidelity_epochs: Vec<usize>,
    /// Mini-batch size (default 64). The last, smaller batch of an epoch is kept.
    pub batch_size: usize,
    /// Initial learning rate, decayed to 0 by a cosine schedule over all steps (default 0.1).
    pub lr: f64,
    /// SGD momentum (default 0.9).
    pub momentum: f64,
    /// Nesterov momentum (default true).
    pub nesterov: bool,
    /// L2 weight decay, applied to all parameters as in PyTorch's SGD (default 5e-4).
    pub weight_decay: f64,
    /// Label smoothing ε in [0, 1) (default 0: plain cross-entropy).
    pub label_smoothing: f64,
    /// Fraction of the images held out for validation: the search signal (default 0.2).
    pub val_fraction: f64,
    /// Fraction held out for testing: reported only (default 0.2). The rest trains.
    pub test_fraction: f64,
    /// Seed of the shuffle that splits the images into train/validation/test (default 0). It
    /// is fixed for an experiment, so every candidate and every seed uses the same split.
    pub split_seed: u64,
    /// Which seed orders the batches (default `per_seed`).
    pub data_order: DataOrder,
    /// Limit on the training images used per epoch, 0 = all (default 0). For quick tests.
    pub max_train_images: usize,
    /// Compute threads of one training (default 1). The worker pool runs each worker on its own
    /// pool of this many threads; does not change results and is not part of the cache key.
    pub threads: usize,
}

impl Default for TrainingConfig {
    fn default() -> Self {
        Self {
            dataset: ImageDataset::Digits,
            data: None,
            augment: false,
            channels: 8,
            cells_per_stage: 1,
            epochs: 5,
            fidelity_epochs: Vec::new(),
            batch_size: 64,
            lr: 0.1,
            momentum: 0.9,
            nesterov: true,
            weight_decay: 5e-4,
            label_smoothing: 0.0,
            val_fraction: 0.2,
            test_fraction: 0.2,
            split_seed: 0,
            data_order: DataOrder::PerSeed,
            max_train_images: 0,
            threads: 1,
        }
    }
}

/// A training configuration that does not make sense.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid training config: {field}: {reason}")]
pub struct TrainingConfigError {
    /// The offending field.
    pub field: &'static str,
    /// What is wrong and what is allowed.
    pub reason: String,
}

impl TrainingConfig {
    /// Checks every field; the error names the field and the allowed range.
    pub fn validate(&self) -> Result<(), TrainingConfigError> {
        let err = |field, reason: String| Err(TrainingConfigError { field, reason });
        if !(1..=256).contains(&self.channels) {
            return err(
                "channels",
                format!("must be in 1..=256, got {}", self.channels),
            );
        }
        if !(1..=16).contains(&self.cells_per_stage) {
            return err(
                "cells_per_stage",
                format!("must be in 1..=16, got {}", self.cells_per_stage),
            );
        }
        if let Some(w) = self
            .fidelity_epochs
            .iter()
            .chain([&self.epochs])
            .collect::<Vec<_>>()
            .windows(2)
            .find(|w| w[0] >= w[1] || *w[0] == 0)
        {
            return err(
                "fidelity_epochs",
                format!(
                    "must be in increasing order, from 1, each below `epochs` ({}), but {} comes before {}",
                    self.epochs, w[0], w[1]
                ),
            );
        }
        if !(1..=10_000).contains(&self.epochs) {
            return err(
                "epochs",
                format!("must be in 1..=10000, got {}", self.epochs),
            );
        }
        if !(1..=65_536).contains(&self.batch_size) {
            return err(
                "batch_size",
                format!("must be in 1..=65536, got {}", self.batch_size),
            );
        }
        if !(self.lr.is_finite() && self.lr > 0.0 && self.lr <= 10.0) {
            return err("lr", format!("must be in (0, 10], got {}", self.lr));
        }
        if !(self.momentum.is_finite() && (0.0..1.0).contains(&self.momentum)) {
            return err(
                "momentum",
                format!("must be in [0, 1), got {}", self.momentum),
            );
        }
        if self.nesterov && self.momentum == 0.0 {
            return err(
                "nesterov",
                "Nesterov momentum needs momentum > 0 (set nesterov = false)".into(),
            );
        }
        if !(self.weight_decay.is_finite() && (0.0..1.0).contains(&self.weight_decay)) {
            return err(
                "weight_decay",
                format!("must be in [0, 1), got {}", self.weight_decay),
            );
        }
        if !(self.label_smoothing.is_finite() && (0.0..1.0).contains(&self.label_smoothing)) {
            return err(
                "label_smoothing",
                format!("must be in [0, 1), got {}", self.label_smoothing),
            );
        }
        for (field, f) in [
            ("val_fraction", self.val_fraction),
            ("test_fraction", self.test_fraction),
        ] {
            if !(f.is_finite() && f > 0.0 && f < 1.0) {
                return err(field, format!("must be in (0, 1), got {f}"));
            }
        }
        if self.val_fraction + self.test_fraction > 0.9 {
            return err(
                "test_fraction",
                format!(
                    "val_fraction + test_fraction must leave at least 10% to train, got {} + {}",
                    self.val_fraction, self.test_fraction
                ),
            );
        }
        if let Some(d) = &self.data {
            d.validate().map_err(|reason| TrainingConfigError {
                field: "data",
                reason,
            })?;
        }
        if !(1..=64).contains(&self.threads) {
            return err(
                "threads",
                format!("must be in 1..=64, got {}", self.threads),
            );
        }
        Ok(())
    }

    /// The fidelities a `[scheduler]` may use: `fidelity_epochs` then `epochs` (empty without
    /// `fidelity_epochs`: one fidelity).
    pub fn fidelities(&self) -> Vec<f64> {
        if self.fidelity_epochs.is_empty() {
            return Vec::new();
        }
        self.fidelity_epochs
            .iter()
            .chain([&self.epochs])
            .map(|&e| e as f64)
            .collect()
    }

    /// The SHA-256 (hex) of the canonical JSON of every field that can change a result (all
    /// but `threads`), with `data_digest` (the content of a user's images) in place of the
    /// `data` paths. Part of the result-cache key and of the weights' seed. The keys added
    /// since the first release count only where they are set (`augment = true`, `data`), so
    /// the shipped configurations keep their hashes and results.
    pub fn hash_with(&self, data_digest: Option<&str>) -> String {
        let mut c = self.clone();
        c.threads = 1;
        let mut v = serde_json::to_value(&c).expect("a config serialises");
        let m = v.as_object_mut().expect("a table");
        if !self.augment {
            m.remove("augment");
        }
        if let (Some(d), Some(data)) = (data_digest, m.get_mut("data")) {
            let data = data.as_object_mut().expect("a table");
            data.remove("path");
            data.remove("labels");
            data.insert("sha256".into(), d.into());
        }
        config_hash(&v)
    }

    /// [`TrainingConfig::hash_with`] for the shipped images.
    pub fn hash(&self) -> String {
        self.hash_with(None)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn empty_table_gives_defaults_and_validates() {
        let c: TrainingConfig = serde_json::from_str("{}").unwrap();
        assert_eq!(c, TrainingConfig::default());
        c.validate().unwrap();
    }

    #[test]
    fn unknown_fields_and_bad_values_are_rejected() {
        assert!(serde_json::from_str::<TrainingConfig>(r#"{"epoch": 3}"#).is_err());
        assert!(serde_json::from_str::<TrainingConfig>(r#"{"dataset": "cifar"}"#).is_err());
        let bad = [
            TrainingConfig {
                channels: 0,
                ..Default::default()
            },
            TrainingConfig {
                lr: f64::NAN,
                ..Default::default()
            },
            TrainingConfig {
                momentum: 0.0,
                ..Default::default()
            },
            TrainingConfig {
                val_fraction: 0.5,
                test_fraction: 0.5,
                ..Default::default()
            },
            TrainingConfig {
                label_smoothing: 1.0,
                ..Default::default()
            },
        ];
        let fields: Vec<&str> = bad
            .iter()
            .map(|c| c.validate().unwrap_err().field)
            .collect();
        assert_eq!(
            fields,
            [
                "channels",
                "lr",
                "nesterov",
                "test_fraction",
                "label_smoothing"
            ]
        );
    }

    #[test]
    fn hash_is_stable_and_ignores_threads() {
        let a = TrainingConfig::default();
        let b = TrainingConfig {
            threads: 2,
            ..Default::default()
        };
        let c = TrainingConfig {
            epochs: 11,
            ..Default::default()
        };
        assert_eq!(a.hash(), b.hash());
        assert_ne!(a.hash(), c.hash());
        assert_eq!(a.hash().len(), 64);
    }
}
