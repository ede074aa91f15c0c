//! `emprox train-one`: train one NAS-Bench-201 cell on shipped images, as the `train` evaluator
//! does, and print the JSON line the command and Slurm evaluators read. This is what a Slurm
//! job runs in `examples/slurm_digits_evolution.toml`: with the same training settings and
//! trial seed it gives the `train` evaluator's accuracies, bit for bit.

use crate::config::{apply_override, parse_toml, ConfigError};
use clap::Args;
use emprox_benchmarks::nb201::{Cell, Nb201Data};
use emprox_train::{TrainingConfig, TrainingEvaluator};
use std::path::Path;

/// Arguments of `emprox train-one`.
#[derive(Debug, Args)]
pub struct TrainOneArgs {
    /// The cell: an architecture string (`|nor_conv_3x3~0|+|...|`) or a NAS-Bench-201 index.
    #[arg(long)]
    pub arch: String,
    /// The trial seed (a search passes `{seed}`).
    #[arg(long, default_value_t = 0)]
    pub seed: u64,
    /// A training setting, as a key of `[evaluator.training]`, e.g. `--set epochs=5`.
    #[arg(long = "set", value_name = "KEY=VALUE")]
    pub set: Vec<String>,
}

/// A training that failed (diverged): exit code 1, after the `{"error": ...}` line.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct TrainingFailed(pub String);

/// The training settings given by `--set` pairs (the rest at their defaults).
pub fn training_config(set: &[String]) -> Result<TrainingConfig, ConfigError> {
    training_config_over(&TrainingConfig::default(), set, "train-one --set")
}

/// `base` with the `--set` pairs applied, checked as a `[evaluator.training]` table; errors
/// name `origin`.
pub fn training_config_over(
    base: &TrainingConfig,
    set: &[String],
    origin: &str,
) -> Result<TrainingConfig, ConfigError> {
    let mut table = toml::Table::try_from(base).map_err(|e| ConfigError(e.to_string()))?;
    for pair in set {
        apply_override(&mut table, pair)?;
    }
    let text = toml::to_string(&table).map_err(|e| ConfigError(e.to_string()))?;
    parse_toml(&text, Path::new(origin))
}

/// Runs `emprox train-one`.
pub fn train_one(args: &TrainOneArgs) -> anyhow::Result<()> {
    let cell = match args.arch.trim().parse::<usize>() {
        Ok(i) => Nb201Data::shipped()?
            .by_index(i)
            .map(|r| r.cell)
            .ok_or_else(|| {
                anyhow::anyhow!("index {i} is out of range: NAS-Bench-201 indices are 0..=15624")
            })?,
        Err(_) => Cell::parse(&args.arch)?,
    };
    let config = training_config(&args.set)?;
    let evaluator = TrainingEvaluator::new(config).map_err(|e| anyhow::anyhow!("{e}"))?;
    let line = match evaluator.evaluate_seed(&(&cell).into(), args.seed) {
        Ok(o) => {
            let mut m = serde_json::Map::new();
            m.insert("val_acc".into(), o.val_acc.into());
            m.insert("test_acc".into(), o.test_acc.into());
            m.insert("cost_seconds".into(), o.cost_seconds.into());
            for (k, v) in o.extras {
                m.insert(k, v.into());
            }
            Ok(serde_json::Value::Object(m))
        }
        Err(f) => Err(f.reason),
    };
    match line {
        Ok(v) => super::print_out(&format!("{v}\n"))?,
        Err(reason) => {
            super::print_out(&format!("{}\n", serde_json::json!({ "error": reason })))?;
            return Err(TrainingFailed(reason).into());
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn set_pairs_become_a_training_config() {
        let c = training_config(&["epochs=3".into(), "dataset=\"mnist\"".into()]).unwrap();
        assert_eq!(c.epochs, 3);
        assert_eq!(c.dataset.name(), "mnist");
        assert_eq!(c.channels, TrainingConfig::default().channels);
        let e = training_config(&["epoch=3".into()])
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("unknown field `epoch`") && e.contains("did you mean `epochs`"),
            "{e}"
        );
    }
}
