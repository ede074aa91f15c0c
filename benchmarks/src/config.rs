//! The `[benchmark]` table of experiment files, shared by searches and predictor evaluations.

use crate::declared::{DeclaredSpace, JoinConfig, JoinedTable, SpaceConfig};
use crate::error::DataError;
use crate::evaluator::Evaluator;
use crate::nb201::{Dataset, Nb201Data, Nb201Space, Nb201Tabular, NoiseModel};
use crate::space::SearchSpace;
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
    /// A declared space (`[benchmark.space]` or a space file): no table, evaluated by a command.
    #[serde(rename = "declared")]
    Declared,
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
    /// Tabular: a description file (TOML) naming the table and its columns; declared: a space
    /// file (`name`, `[[dimension]]`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<PathBuf>,
    /// Tabular: the description written inline, as `[benchmark.table]`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub table: Option<TabularDescription>,
    /// Declared: the space written inline, as `[benchmark.space]` with `[[benchmark.space.dimension]]`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub space: Option<SpaceConfig>,
    /// Declared: a table its members are looked up in, joined by key columns.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub join: Option<JoinConfig>,
}

impl BenchmarkConfig {
    /// NAS-Bench-201's dataset (required there).
    pub fn dataset(&self) -> Result<Dataset, String> {
        self.dataset.ok_or_else(|| match self.kind {
            BenchmarkKind::NasBench201 => {
                "[benchmark] type = \"nasbench201\" needs `dataset` (cifar10, cifar100 or imagenet16-120)".to_string()
            }
            BenchmarkKind::Tabular | BenchmarkKind::Declared => {
                "this command needs a NAS-Bench-201 benchmark (type = \"nasbench201\")".to_string()
            }
        })
    }

    /// Checks that the keys given apply to the benchmark's type.
    pub fn validate(&self) -> Result<(), String> {
        match self.kind {
            BenchmarkKind::NasBench201 => {
                self.dataset()?;
                if self.description.is_some()
                    || self.table.is_some()
                    || self.space.is_some()
                    || self.join.is_some()
                {
                    return Err("[benchmark] `description`, [benchmark.table], [benchmark.space] and [benchmark.join] apply to type = \"tabular\" or \"declared\" only".into());
                }
            }
            BenchmarkKind::Declared => {
                if self.dataset.is_some()
                    || self.data.is_some()
                    || self.noise != NoiseModel::Mean
                    || self.table.is_some()
                {
                    return Err("[benchmark] `dataset`, `data`, `noise` and [benchmark.table] do not apply to type = \"declared\" (a space of [[benchmark.space.dimension]] or a space file in `description`)".into());
                }
                self.declared_space()?;
            }
            BenchmarkKind::Tabular => {
                if self.space.is_some() || self.join.is_some() {
                    return Err(
                        "[benchmark.space] and [benchmark.join] apply to type = \"declared\" only"
                            .into(),
                    );
                }
                if self.dataset.is_some() || self.data.is_some() || self.noise != NoiseModel::Mean {
                    return Err("[benchmark] `dataset`, `data` and `noise` apply to type = \"nasbench201\" only; a tabular benchmark names its table in its description (select rows with `select`)".into());
                }
                if self.description.is_some() && self.table.is_some() {
                    return Err("[benchmark] type = \"tabular\" takes either `description = \"FILE.toml\"` or an inline [benchmark.table], not both".into());
                }
                if self.description.is_none() && self.table.is_none() {
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
        self.for_each_path(|p| {
            if p.is_relative() {
                let joined = base.join(&*p);
                *p = std::path::absolute(&joined).unwrap_or(joined);
            }
        });
    }

    /// Calls `f` on each file path of the table: a tabular or declared `description`, an inline
    /// table's `data`, a join's `description`.
    pub fn for_each_path(&mut self, mut f: impl FnMut(&mut PathBuf)) {
        if let Some(d) = self.description.as_mut() {
            f(d);
        }
        if let Some(t) = self.table.as_mut() {
            f(&mut t.data);
        }
        if let Some(j) = self.join.as_mut() {
            f(&mut j.description);
        }
    }

    /// The declared space: the space file of `description` (as it stands: resolve relative paths
    /// first with [`BenchmarkConfig::resolve_paths`]) or the inline `[benchmark.space]`. An error
    /// names the file or `[benchmark.space]`, and the dimension and key.
    pub fn declared_space(&self) -> Result<DeclaredSpace, String> {
        match (&self.description, &self.space) {
            (Some(_), Some(_)) => Err("[benchmark] type = \"declared\" takes either `description = \"FILE.toml\"` (a space file) or an inline [benchmark.space], not both".into()),
            (None, None) => Err("[benchmark] type = \"declared\" needs an inline [benchmark.space] with [[benchmark.space.dimension]] tables, or `description = \"FILE.toml\"` (a space file)".into()),
            (Some(p), None) => {
                let config = SpaceConfig::from_file(p)?;
                DeclaredSpace::new(&config).map_err(|e| {
                    let line = std::fs::read_to_string(p)
                        .ok()
                        .and_then(|t| e.line_in(&t, false))
                        .map(|l| format!("{l}:"))
                        .unwrap_or_default();
                    format!("{}{line} {e}", self.space_origin())
                })
            }
            (None, Some(s)) => DeclaredSpace::new(s).map_err(|e| format!("{} {e}", self.space_origin())),
        }
    }

    /// The table `[benchmark.join]` names, joined to `space` (`None` without one). An error
    /// names `[benchmark.join]` and the key, or the description file.
    pub fn joined_table(&self, space: &DeclaredSpace) -> Result<Option<JoinedTable>, OpenError> {
        let Some(j) = &self.join else {
            return Ok(None);
        };
        let table =
            crate::tabular::TabularTable::load(&TabularDescription::from_file(&j.description)?)?;
        JoinedTable::new(space, Arc::new(table), j)
            .map(Some)
            .map_err(|e| OpenError::Config(format!("[benchmark.join] {e}")))
    }

    /// Where the declared space is written, to start its errors: the space file or
    /// `[benchmark.space]`.
    pub fn space_origin(&self) -> String {
        match &self.description {
            Some(p) => format!("{}:", p.display()),
            None => "[benchmark.space]".into(),
        }
    }

    /// Loads the tabular benchmark this config describes.
    pub fn load_tabular(&self, base: &Path) -> Result<TabularBenchmark, TabularError> {
        TabularBenchmark::load(&self.tabular_description(base)?)
    }
}

/// A benchmark looked up in its table: every architecture, and how it scores.
pub struct Lookup<S: SearchSpace> {
    /// The space.
    pub space: S,
    /// Every cell of the space, in the benchmark's own order.
    pub cells: Vec<S::Cell>,
    /// The benchmark's evaluator, with its noise model (the targets a search or a predictor sees).
    pub evaluator: Arc<dyn Evaluator<S::Cell>>,
    /// The same evaluator without noise (the mean over seeds where the table has several): the
    /// truth against which predictions are scored.
    pub noise_free: Arc<dyn Evaluator<S::Cell>>,
}

/// Something to do with a looked-up benchmark of any space.
pub trait WithLookup {
    /// What it gives.
    type Output;
    /// Does it.
    fn with<S: SearchSpace + 'static>(self, lookup: Lookup<S>) -> Self::Output;
}

/// Why a benchmark could not be opened.
#[derive(Debug, thiserror::Error)]
pub enum OpenError {
    /// The `[benchmark]` table is inconsistent.
    #[error("{0}")]
    Config(String),
    /// The NAS-Bench-201 table could not be read.
    #[error(transparent)]
    Data(#[from] DataError),
    /// The tabular benchmark could not be loaded.
    #[error(transparent)]
    Tabular(#[from] TabularError),
}

impl BenchmarkConfig {
    /// Loads the benchmark (relative tabular paths against `base`) and hands its space, cells and
    /// lookup evaluators to `f`.
    pub fn open_lookup<F: WithLookup>(&self, base: &Path, f: F) -> Result<F::Output, OpenError> {
        if self.kind == BenchmarkKind::Declared {
            // A space file and a joined table, as the tabular paths, against `base`.
            let mut resolved = self.clone();
            resolved.resolve_paths(base);
            if resolved != *self {
                return resolved.open_lookup(base, f);
            }
        }
        self.validate().map_err(OpenError::Config)?;
        Ok(match self.kind {
            BenchmarkKind::NasBench201 => {
                let data = self.load_nb201()?;
                let dataset = self.dataset().map_err(OpenError::Config)?;
                let space = Nb201Space::new(data.clone());
                f.with(Lookup {
                    cells: space.all_cells(),
                    space,
                    evaluator: Arc::new(Nb201Tabular::new(data.clone(), dataset, self.noise)),
                    noise_free: Arc::new(Nb201Tabular::new(data, dataset, NoiseModel::Mean)),
                })
            }
            BenchmarkKind::Declared => {
                let space = self.declared_space().map_err(OpenError::Config)?;
                let Some(joined) = self.joined_table(&space)? else {
                    return Err(OpenError::Config(
                        "a declared space without [benchmark.join] has no table to look up: this command needs [benchmark] type = \"nasbench201\" or \"tabular\", or a [benchmark.join]".into(),
                    ));
                };
                let cells = joined.members().into_iter().map(|(_, c)| c).collect();
                let evaluator: Arc<dyn Evaluator<_>> = Arc::new(joined);
                f.with(Lookup {
                    cells,
                    space,
                    noise_free: evaluator.clone(),
                    evaluator,
                })
            }
            BenchmarkKind::Tabular => {
                let b = self.load_tabular(base)?;
                let evaluator: Arc<dyn Evaluator<_>> = Arc::new(b.evaluator);
                f.with(Lookup {
                    cells: b.space.all_cells().collect(),
                    space: b.space,
                    noise_free: evaluator.clone(),
                    evaluator,
                })
            }
        })
    }
}
