//! Evaluators turn a cell into an [`Outcome`].

use serde::{Deserialize, Serialize};

/// The result of evaluating one architecture.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Outcome {
    /// The search signal: validation accuracy in percent for NAS-Bench-201 and trained networks;
    /// for a tabular benchmark, the objective column as it is in the table (its units, and
    /// maximised or minimised as [`Evaluator::goal`] says).
    pub val_acc: f64,
    /// Test accuracy (or the test column of a tabular benchmark): reported only, never used to
    /// choose. `None` where the benchmark has no test value.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub test_acc: Option<f64>,
    /// Cost of the evaluation in (simulated or real) training seconds.
    pub cost_seconds: f64,
    /// Extra metrics (params, FLOPs, latency), by name.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub extras: Vec<(String, f64)>,
}

/// Why an evaluation failed (training diverged, a command timed out, ...).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, thiserror::Error)]
#[error("{reason}")]
pub struct EvalFailure {
    /// Human-readable reason.
    pub reason: String,
    /// Cost spent before failing, in seconds.
    pub cost_seconds: f64,
}

/// Whether the search signal ([`Outcome::val_acc`]) is to be maximised or minimised.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Goal {
    /// Larger is better (accuracy).
    #[default]
    Maximize,
    /// Smaller is better (error, loss, latency).
    Minimize,
}

impl Goal {
    /// Whether `a` is strictly better than `b` under this goal (NaN is never better).
    pub fn better(self, a: f64, b: f64) -> bool {
        match self {
            Goal::Maximize => a > b,
            Goal::Minimize => a < b,
        }
    }

    /// Orders `a` and `b` so that the better value is the greater (for `max_by`/sorting).
    pub fn cmp(self, a: f64, b: f64) -> std::cmp::Ordering {
        match self {
            Goal::Maximize => a.total_cmp(&b),
            Goal::Minimize => b.total_cmp(&a),
        }
    }

    /// `maximize` or `minimize`.
    pub fn name(self) -> &'static str {
        match self {
            Goal::Maximize => "maximize",
            Goal::Minimize => "minimize",
        }
    }
}

/// Where an evaluation belongs: the run folder and the query, for evaluators that keep files
/// per trial (the Slurm evaluator's job scripts, outputs and job ids).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TrialContext {
    /// The run's folder (`seed-<i>`).
    pub dir: std::path::PathBuf,
    /// The 1-based query number, as journaled.
    pub query: u64,
}

/// Something that evaluates cells of a space.
pub trait Evaluator<C>: Send + Sync {
    /// Evaluates one cell. `rng` is the evaluator's own stream (for noise or training seeds).
    fn evaluate(&self, cell: &C, rng: &mut dyn rand::RngCore) -> Result<Outcome, EvalFailure>;

    /// Evaluates query `trial.query` of the run in `trial.dir`. The default ignores where the
    /// evaluation belongs ([`Evaluator::evaluate`]).
    fn evaluate_trial(
        &self,
        trial: &TrialContext,
        cell: &C,
        rng: &mut dyn rand::RngCore,
    ) -> Result<Outcome, EvalFailure> {
        let _ = trial;
        self.evaluate(cell, rng)
    }

    /// Whether [`Outcome::val_acc`] is maximised (the default: accuracies) or minimised.
    fn goal(&self) -> Goal {
        Goal::Maximize
    }

    /// The cell's metrics that are known without training it (parameters, FLOPs, a table's
    /// measured latencies), by name as in [`Outcome::extras`]: a lookup that evaluates nothing
    /// and reveals no accuracy. Empty (the default) when the evaluator knows none.
    fn known_metrics(&self, _cell: &C) -> Vec<(String, f64)> {
        Vec::new()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn goal_compares_both_ways() {
        assert!(Goal::Maximize.better(2.0, 1.0) && !Goal::Maximize.better(1.0, 2.0));
        assert!(Goal::Minimize.better(1.0, 2.0) && !Goal::Minimize.better(2.0, 1.0));
        assert!(!Goal::Maximize.better(f64::NAN, 1.0) && !Goal::Minimize.better(f64::NAN, 1.0));
        let best = |g: Goal| {
            [3.0, 1.0, 2.0]
                .into_iter()
                .max_by(|a, b| g.cmp(*a, *b))
                .unwrap()
        };
        assert_eq!((best(Goal::Maximize), best(Goal::Minimize)), (3.0, 1.0));
    }

    #[test]
    fn outcome_without_test_reads_old_and_new_json() {
        let o: Outcome = serde_json::from_str(r#"{"val_acc":1,"cost_seconds":0}"#).unwrap();
        assert_eq!(o.test_acc, None);
        let o: Outcome =
            serde_json::from_str(r#"{"val_acc":1,"test_acc":2,"cost_seconds":0}"#).unwrap();
        assert_eq!(o.test_acc, Some(2.0));
        assert!(!serde_json::to_string(&Outcome {
            test_acc: None,
            ..o
        })
        .unwrap()
        .contains("test_acc"));
    }
}
