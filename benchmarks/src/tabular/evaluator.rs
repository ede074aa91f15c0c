//! The evaluator of a tabular benchmark: a lookup in the table.

use super::space::TabCell;
use super::table::TabularTable;
use crate::evaluator::{EvalFailure, Evaluator, Goal, Outcome};
use std::sync::Arc;

/// Looks cells up in a table: `val_acc` is the objective column (its units, compared with
/// [`Evaluator::goal`]), `test_acc` the test column (`None` without one), `cost_seconds` the
/// cost column (0 without one), `extras` the extra columns by name.
#[derive(Debug, Clone)]
pub struct TabularEvaluator {
    table: Arc<TabularTable>,
}

impl TabularEvaluator {
    /// An evaluator over a loaded table.
    pub fn new(table: Arc<TabularTable>) -> Self {
        Self { table }
    }

    /// The table behind the evaluator.
    pub fn table(&self) -> &Arc<TabularTable> {
        &self.table
    }

    /// The outcome of a cell (never fails: every cell is a row).
    pub fn outcome(&self, cell: &TabCell) -> Outcome {
        let t = &self.table;
        let r = cell.row();
        Outcome {
            val_acc: t.objective[r],
            test_acc: t.test.as_ref().map(|v| v[r]),
            cost_seconds: t.cost.as_ref().map_or(0.0, |v| v[r]),
            extras: self.extras(r),
        }
    }

    /// The extra columns of row `r`, by name.
    fn extras(&self, r: usize) -> Vec<(String, f64)> {
        let t = &self.table;
        t.extras.iter().map(|(n, v)| (n.clone(), v[r])).collect()
    }
}

impl Evaluator<TabCell> for TabularEvaluator {
    fn evaluate(
        &self,
        cell: &TabCell,
        _rng: &mut dyn rand::RngCore,
    ) -> Result<Outcome, EvalFailure> {
        if cell.row() >= self.table.len() {
            return Err(EvalFailure {
                reason: format!(
                    "row {} is not in the table {} ({} rows)",
                    cell.row(),
                    self.table.name(),
                    self.table.len()
                ),
                cost_seconds: 0.0,
            });
        }
        Ok(self.outcome(cell))
    }

    /// At a cheaper fidelity level: that level's objective, test and cost columns.
    fn evaluate_trial(
        &self,
        trial: &crate::evaluator::TrialContext,
        cell: &TabCell,
        rng: &mut dyn rand::RngCore,
    ) -> Result<Outcome, EvalFailure> {
        let mut o = self.evaluate(cell, rng)?;
        if let Some(f) = trial.fidelity {
            let (val, test, cost) =
                self.table
                    .at_level(f, cell.row())
                    .ok_or_else(|| EvalFailure {
                        reason: format!("the table {} has no fidelity {f}", self.table.name()),
                        cost_seconds: 0.0,
                    })?;
            (o.val_acc, o.test_acc, o.cost_seconds) = (val, test, cost);
        }
        Ok(o)
    }

    fn fidelities(&self) -> Vec<f64> {
        self.table.fidelities()
    }

    fn goal(&self) -> Goal {
        self.table.goal()
    }

    /// The extra columns (every one a measured cost, not a trained result).
    fn known_metrics(&self, cell: &TabCell) -> Vec<(String, f64)> {
        if cell.row() < self.table.len() {
            self.extras(cell.row())
        } else {
            Vec::new()
        }
    }
}
