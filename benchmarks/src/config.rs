//! The `[benchmark]` table of experiment files, shared by searches and predictor evaluations.

use crate::error::DataError;
use crate::nb201::{Dataset, Nb201Data, NoiseModel};
use serde::{Deserialize, Serialize};
use std::path::PathBuf;
use std::sync::Arc;

/// Which benchmark an experiment uses.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum BenchmarkKind {
    /// NAS-Bench-201 (tabular).
    #[serde(rename = "nasbench201")]
    NasBench201,
}

/// The `[benchmark]` table.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BenchmarkConfig {
    /// The benchmark (`nasbench201`).
    #[serde(rename = "type")]
    pub kind: BenchmarkKind,
    /// The dataset: `cifar10`, `cifar100` or `imagenet16-120`.
    pub dataset: Dataset,
    /// `mean` (default) or `sample` (one per-seed validation run at random).
    #[serde(default)]
    pub noise: NoiseModel,
    /// Another copy of the table (`.csv` or `.csv.gz`); default: the copy shipped in the binary.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub data: Option<PathBuf>,
}

impl BenchmarkConfig {
    /// Loads the table this config names (the shipped one is decoded once per process).
    pub fn load_nb201(&self) -> Result<Arc<Nb201Data>, DataError> {
        match &self.data {
            None => Nb201Data::shipped(),
            Some(p) => Nb201Data::load(p).map(Arc::new),
        }
    }
}
