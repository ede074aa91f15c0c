//! The `[benchmark]` table of experiment files, shared by searches and predictor evaluations.

use crate::error::DataError;
use crate::nb201::{Dataset, Nb201Data, NoiseModel};
use crate::tabular::{TabularBenchmark, TabularDescription, TabularError};
use serde::{Deserialize, Serialize};
use std::path::{Path, PathBuf};
use std::sync::Arc;

/// Which benchmark an experiment uses.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum BenchmarkKind {
    /// NAS-Bench-201 (the built-in table and cell space).
    #[serde(rename = "nasbench201")]
    NasBench201,
    /// Any table: a CSV file and a description of its columns.
    #[serde(rename = "tabular")]
    Tabular,
}

/// The `[benchmark]` table.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BenchmarkConfig {
    /// The benchmark: `nasbench201` or `tabular`.
    #[serde(rename = "type")]
    pub kind: BenchmarkKind,
    /// NAS-Bench-201's dataset: `cifar10`, `cifar100` or `imagenet16-120`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub dataset: Option<Dataset>,
    /// NAS-Bench-201: `mean` (default) or `sample` (one per-seed validation run at random).
    #[serde(default)]
    pub noise: NoiseModel,
    /// NAS-Bench-201: another copy of the table (`.csv` or `.csv.gz`); default: the shipped one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub data: Option<PathBuf>,
    /// Tabular: a description file (TOML) naming the table and its columns.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<PathBuf>,
    /// Tabular: the description written inline, as `[benchmark.table]`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub table: Option<TabularDescription>,
}

impl BenchmarkConfig {
    /// NAS-Bench-201's dataset (required there).
    pub fn dataset(&self) -> Result<Dataset, String> {
        self.dataset.ok_or_else(|| match self.kind {
            BenchmarkKind::NasBench201 => {
                "[benchmark] type = \"nasbench201\" needs `dataset` (cifar10, cifar100 or imagenet16-120)".to_string()
            }
            BenchmarkKind::Tabular => {
                "this command needs a NAS-Bench-201 benchmark (type = \"nasbench201\")".to_string()
            }
        })
    }

    /// Checks that the keys given apply to the benchmark's type.
    pub fn validate(&self) -> Result<(), String> {
        match self.kind {
            BenchmarkKind::NasBench201 => {
                self.dataset()?;
                if self.description.is_some() || self.table.is_some() {
                    return Err("[benchmark] `description` and [benchmark.table] apply to type = \"tabular\" only".into());
                }
            }
            BenchmarkKind::Tabular => {
                if self.dataset.is_some() || self.data.is_some() || self.noise != NoiseModel::Mean {
                    return Err("[benchmark] `dataset`, `data` and `noise` apply to type = \"nasbench201\" only; a tabular benchmark names its table in its description (select rows with `select`)".into());
                }
                if self.description.is_some() == self.table.is_some() {
                    return Err("[benchmark] type = \"tabular\" needs either `description = \"FILE.toml\"` or an inline [benchmark.table]".into());
                }
            }
        }
        Ok(())
    }

    /// Loads the NAS-Bench-201 table this config names (the shipped one is decoded once per
    /// process).
    pub fn load_nb201(&self) -> Result<Arc<Nb201Data>, DataError> {
        match &self.data {
            None => Nb201Data::shipped(),
            Some(p) => Nb201Data::load(p).map(Arc::new),
        }
    }

    /// The tabular description, its relative paths resolved: against the description file's
    /// folder, or (inline) against `base`, the experiment file's folder.
    pub fn tabular_description(&self, base: &Path) -> Result<TabularDescription, TabularError> {
        match (&self.description, &self.table) {
            (Some(p), _) => {
                let p = if p.is_relative() {
                    base.join(p)
                } else {
                    p.clone()
                };
                TabularDescription::from_file(&p)
            }
            (None, Some(t)) => {
                t.validate(base)?;
                Ok(t.clone().resolved(base))
            }
            (None, None) => Err(TabularError::Description {
                path: base.to_path_buf(),
                message: "no tabular description".into(),
            }),
        }
    }

    /// Makes the relative paths of a tabular benchmark absolute, against `base` (the experiment
    /// file's folder), so that the resolved configuration names the same files from anywhere.
    pub fn resolve_paths(&mut self, base: &Path) {
        let abs = |p: &mut PathBuf| {
            if p.is_relative() {
                let joined = base.join(&*p);
                *p = std::path::absolute(&joined).unwrap_or(joined);
            }
        };
        if let Some(d) = self.description.as_mut() {
            abs(d);
        }
        if let Some(t) = self.table.as_mut() {
            abs(&mut t.data);
        }
    }

    /// Loads the tabular benchmark this config describes.
    pub fn load_tabular(&self, base: &Path) -> Result<TabularBenchmark, TabularError> {
        TabularBenchmark::load(&self.tabular_description(base)?)
    }
}
