//! Generic tabular benchmarks: a CSV table (plain or gzip) plus a [`TabularDescription`] give a
//! [`TabularSpace`] and a [`TabularEvaluator`], without code.
//!
//! ```no_run
//! use emprox_benchmarks::tabular::TabularBenchmark;
//! use emprox_benchmarks::{Evaluator, SearchSpace};
//! let b = TabularBenchmark::from_file("benchmarks/data/nb201_cifar10.tabular.toml".as_ref())?;
//! let mut rng = rand::rng();
//! let cell = b.space.sample(&mut rng);
//! let o = b.evaluator.evaluate(&cell, &mut rng).unwrap();
//! println!("{} {} {:?}", b.space.format(&cell), o.val_acc, b.evaluator.goal());
//! # Ok::<(), emprox_benchmarks::tabular::TabularError>(())
//! ```
//!
//! NAS-Bench-201 (`benchmarks/data/nb201_*.tabular.toml`) and the NAS-Bench-101 / -301 subsets
//! are instances; [`synthetic`] writes a GNN-like table for tests.

pub mod description;
pub mod error;
pub mod evaluator;
pub mod space;
pub mod synthetic;
pub mod table;

pub use description::{
    ArchColumn, Fidelity, FidelityLevel, Objective, SelectValue, TabularDescription, COLUMN_JOINER,
};
pub use error::TabularError;
pub use evaluator::TabularEvaluator;
pub use space::{TabCell, TabularSpace};
pub use table::{ColumnInfo, Dimension, TabularTable};

use std::path::{Path, PathBuf};
use std::sync::Arc;

/// A loaded tabular benchmark: the space and the evaluator over one shared table.
#[derive(Debug, Clone)]
pub struct TabularBenchmark {
    /// The search space (rows are the architectures).
    pub space: TabularSpace,
    /// The lookup evaluator.
    pub evaluator: TabularEvaluator,
}

impl TabularBenchmark {
    /// Loads the table a description names (`desc.data` as it stands: resolve relative paths
    /// first with [`TabularDescription::resolved`]).
    pub fn load(desc: &TabularDescription) -> Result<Self, TabularError> {
        let table = Arc::new(TabularTable::load(desc)?);
        Ok(Self::from_table(table))
    }

    /// Reads a description file and loads its table.
    pub fn from_file(path: &Path) -> Result<Self, TabularError> {
        Self::load(&TabularDescription::from_file(path)?)
    }

    /// Space and evaluator over a loaded table.
    pub fn from_table(table: Arc<TabularTable>) -> Self {
        Self {
            space: TabularSpace::new(table.clone()),
            evaluator: TabularEvaluator::new(table),
        }
    }

    /// The shared table.
    pub fn table(&self) -> &Arc<TabularTable> {
        self.space.table()
    }
}

/// The folder of the shipped data and descriptions (`benchmarks/data` of the source tree).
pub fn shipped_data_dir() -> PathBuf {
    PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/data"))
}

#[cfg(test)]
mod tests;
