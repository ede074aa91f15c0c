//! Evaluators turn a cell into an [`Outcome`].

use serde::{Deserialize, Serialize};

/// The result of evaluating one architecture.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Outcome {
    /// Validation accuracy in percent: the search signal.
    pub val_acc: f64,
    /// Test accuracy in percent: reported only, never used to choose.
    pub test_acc: f64,
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

/// Something that evaluates cells of a space.
pub trait Evaluator<C>: Send + Sync {
    /// Evaluates one cell. `rng` is the evaluator's own stream (for noise or training seeds).
    fn evaluate(&self, cell: &C, rng: &mut dyn rand::RngCore) -> Result<Outcome, EvalFailure>;
}
