//! A declared space joined to a table by key columns (`[benchmark.join]`): a member found in the
//! table gets its row's objective, test, cost and extras; a member not in it is a failed trial,
//! "not in the table".
//!
//! ```toml
//! [benchmark.join]
//! description = "benchmarks/data/nb201_cifar10.tabular.toml"   # a tabular description
//! key = { cell = "ops" }               # declared dimension → the table's architecture column
//! values = { cell = { none = "0", skip_connect = "1" } }       # optional: declared → table value
//! ```
//!
//! - **Keys.** Every dimension of the space names one architecture column of the table, and
//!   every architecture column is named. A column's positions are filled by the dimensions that
//!   name it, in declaration order, one position each (a `repeat` or a cell's edges several):
//!   the counts must agree. A conditional (`when`) dimension cannot be joined.
//! - **Values.** A declared value is looked up as itself, or as `values` maps it. A member with
//!   a value the column does not have, or whose combination is not a row, is not in the table.

use super::space::{DeclaredCell, DeclaredSpace, INACTIVE};
use crate::evaluator::{EvalFailure, Evaluator, Goal, Outcome};
use crate::tabular::{TabCell, TabularEvaluator, TabularTable};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::Arc;

/// The `[benchmark.join]` table (see [the module docs](self)).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct JoinConfig {
    /// The table's description file (`*.tabular.toml`).
    pub description: PathBuf,
    /// Declared dimension → the table's architecture column.
    pub key: BTreeMap<String, String>,
    /// Per dimension: declared value → the table's value (absent: the value itself).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub values: BTreeMap<String, BTreeMap<String, String>>,
}

/// The reason of a member the table does not have.
pub const NOT_IN_TABLE: &str = "not in the table";

/// A declared space's members looked up in a table.
#[derive(Debug, Clone)]
pub struct JoinedTable {
    lookup: TabularEvaluator,
    /// Per table dimension: the declared position filling it, and per declared value id the
    /// table's value id (`None`: the column has no such value).
    map: Vec<(usize, Vec<Option<u32>>)>,
    /// The number of positions of a member.
    positions: usize,
}

impl JoinedTable {
    /// Joins `space` to `table` by `config`; an error names the key (`key`, `values.cell`) and
    /// what is wrong.
    pub fn new(
        space: &DeclaredSpace,
        table: Arc<TabularTable>,
        config: &JoinConfig,
    ) -> Result<JoinedTable, String> {
        let dims: Vec<_> = space.dimensions().collect();
        let columns: Vec<&str> = table.columns().iter().map(|c| c.name.as_str()).collect();
        for (d, c) in &config.key {
            if !dims.iter().any(|x| x.name == d) {
                return Err(format!("`key`: {d:?} is not a dimension of the space"));
            }
            if !columns.contains(&c.as_str()) {
                return Err(format!(
                    "`key`: {c:?} is not an architecture column of the table {} ({})",
                    table.name(),
                    columns.join(", ")
                ));
            }
        }
        for d in config.values.keys() {
            if !config.key.contains_key(d) {
                return Err(format!("`values`: {d:?} is not joined in `key`"));
            }
        }
        let mut map = Vec::with_capacity(table.dimensions().len());
        for (ci, column) in table.columns().iter().enumerate() {
            // The declared positions filling this column, in declaration order.
            let mut filling: Vec<(usize, Vec<Option<u32>>)> = Vec::new();
            for d in dims
                .iter()
                .filter(|d| config.key.get(d.name) == Some(&column.name))
            {
                if d.conditional {
                    return Err(format!(
                        "`key`: dimension {:?} has a `when`: a conditional dimension cannot be \
                         joined",
                        d.name
                    ));
                }
                let given = config.values.get(d.name);
                if let Some(v) = given.and_then(|m| m.keys().find(|v| !d.values.contains(v))) {
                    return Err(format!(
                        "`values.{}`: {v:?} is not a value of the dimension ({})",
                        d.name,
                        d.values.join(", ")
                    ));
                }
                for p in d.first..d.first + d.len {
                    let t = column.dims.start + filling.len();
                    let ids: Vec<Option<u32>> = match table.dimensions().get(t) {
                        Some(td) if td.column == ci => d
                            .values
                            .iter()
                            .map(|v| td.id(given.and_then(|m| m.get(v)).unwrap_or(v)))
                            .collect(),
                        _ => Vec::new(),
                    };
                    filling.push((p, ids));
                }
            }
            if filling.is_empty() {
                return Err(format!(
                    "`key`: the table's architecture column {:?} is joined by no dimension",
                    column.name
                ));
            }
            if filling.len() != column.dims.len() {
                return Err(format!(
                    "`key`: column {:?} has {} positions, its dimensions {}",
                    column.name,
                    column.dims.len(),
                    filling.len()
                ));
            }
            if let Some((_, ids)) = filling
                .iter()
                .find(|(_, ids)| ids.iter().all(Option::is_none))
            {
                let t = &table.dimensions()[column.dims.start];
                return Err(format!(
                    "`values`: no value of the dimensions joined to column {:?} is one of the \
                     table's ({}); map them with `values` ({} declared values)",
                    column.name,
                    t.values.join(", "),
                    ids.len()
                ));
            }
            map.extend(filling);
        }
        if let Some(d) = dims.iter().find(|d| !config.key.contains_key(d.name)) {
            return Err(format!(
                "`key`: dimension {:?} names no column (every dimension must)",
                d.name
            ));
        }
        Ok(JoinedTable {
            lookup: TabularEvaluator::new(table),
            map,
            positions: dims.iter().map(|d| d.len).sum(),
        })
    }

    /// The table.
    pub fn table(&self) -> &Arc<TabularTable> {
        self.lookup.table()
    }

    /// The row of a member, if the table has it.
    pub fn row(&self, cell: &DeclaredCell) -> Option<usize> {
        let codes: Option<Vec<u32>> = self
            .map
            .iter()
            .map(|(p, ids)| match cell.0[*p] {
                INACTIVE => None,
                v => ids[v as usize],
            })
            .collect();
        self.table().find(&codes?)
    }

    /// The member of each row the space holds (a row with a value no declared value maps to has
    /// none), in row order.
    pub fn members(&self) -> Vec<(usize, DeclaredCell)> {
        let t = self.table();
        (0..t.len())
            .filter_map(|r| {
                let mut cell = DeclaredCell(vec![INACTIVE; self.positions]);
                for ((p, ids), &code) in self.map.iter().zip(t.row_codes(r)) {
                    cell.0[*p] = ids.iter().position(|&x| x == Some(code))? as u16;
                }
                Some((r, cell))
            })
            .collect()
    }
}

impl Evaluator<DeclaredCell> for JoinedTable {
    fn evaluate(
        &self,
        cell: &DeclaredCell,
        _rng: &mut dyn rand::RngCore,
    ) -> Result<Outcome, EvalFailure> {
        match self.row(cell) {
            Some(r) => Ok(self.lookup.outcome(&TabCell(r as u32))),
            None => Err(EvalFailure {
                reason: format!("{NOT_IN_TABLE} {}", self.table().name()),
                cost_seconds: 0.0,
            }),
        }
    }

    fn goal(&self) -> Goal {
        self.table().goal()
    }

    fn known_metrics(&self, cell: &DeclaredCell) -> Vec<(String, f64)> {
        self.row(cell)
            .map(|r| self.lookup.known_metrics(&TabCell(r as u32)))
            .unwrap_or_default()
    }
}
