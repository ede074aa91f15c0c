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

/// What the search signal ([`Outcome::val_acc`]) is: its metric's name, its goal and how a person
/// reads it. NAS-Bench-201 and trained networks: validation accuracy in percent
/// ([`Signal::accuracy`]); a table: its objective column, with the description's `label`,
/// `unit` and `decimals`; a command: the key of its result line.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Signal {
    /// The metric's name: `val_acc`, a table's objective column or a command's result key.
    pub metric: String,
    /// Maximised or minimised.
    pub goal: Goal,
    /// The test metric's name, where there is one (reported only).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub test: Option<String>,
    /// What the metric measures, for people (`accuracy`, `error`, `latency`): labels then read
    /// "validation accuracy" and "test accuracy". Absent: the metrics' own names.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub label: Option<String>,
    /// The unit, shown after labels (`%`, `ms`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub unit: Option<String>,
    /// Decimals shown for every value of the metric. Absent: chosen from the spread
    /// ([`decimals`]).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub decimals: Option<u8>,
}

impl Default for Signal {
    fn default() -> Self {
        Signal::accuracy()
    }
}

/// The most decimals a description may ask for (`decimals`).
pub const MAX_DECIMALS: u8 = 12;

impl Signal {
    /// Validation accuracy in percent, maximised (NAS-Bench-201, trained networks, the default).
    pub fn accuracy() -> Self {
        Signal {
            metric: "val_acc".into(),
            goal: Goal::Maximize,
            test: Some("test_acc".into()),
            label: Some("accuracy".into()),
            unit: Some("%".into()),
            decimals: None,
        }
    }

    /// The validation metric's label: "validation accuracy", or the metric's name.
    pub fn val_label(&self) -> String {
        match &self.label {
            Some(l) => format!("validation {l}"),
            None => self.metric.clone(),
        }
    }

    /// The test metric's label: "test accuracy", or the test metric's name.
    pub fn test_label(&self) -> String {
        match (&self.label, &self.test) {
            (Some(l), _) => format!("test {l}"),
            (None, Some(t)) => t.clone(),
            (None, None) => "test".into(),
        }
    }

    /// What the metric measures without "validation" or "test": `accuracy`, or the metric's
    /// name.
    pub fn quantity(&self) -> &str {
        self.label.as_deref().unwrap_or(&self.metric)
    }

    /// `text (unit)`, or `text` without a unit: an axis label.
    pub fn with_unit(&self, text: &str) -> String {
        match &self.unit {
            Some(u) => format!("{text} ({u})"),
            None => text.to_string(),
        }
    }

    /// Checks the display settings: a label and unit on one line, decimals in range.
    pub fn check(&self) -> Result<(), String> {
        for (key, v) in [("label", &self.label), ("unit", &self.unit)] {
            if let Some(v) = v {
                if v.is_empty() || v.chars().count() > 40 || v.chars().any(char::is_control) {
                    return Err(format!(
                        "`{key}` must be 1 to 40 characters on one line, got {v:?}"
                    ));
                }
            }
        }
        match self.decimals {
            Some(d) if d > MAX_DECIMALS => Err(format!(
                "`decimals` must be at most {MAX_DECIMALS}, got {d}"
            )),
            _ => Ok(()),
        }
    }

    /// `mean ± std` with the decimals of [`Signal::decimals`] or, where none is declared, of
    /// [`decimals`] (two significant digits of the spread).
    pub fn mean_std(&self, mean: f64, std: f64) -> String {
        let d = self.decimals_for(mean, std);
        if std.is_finite() {
            format!("{mean:.d$} ± {std:.d$}")
        } else {
            format!("{mean:.d$}")
        }
    }

    /// One value with the decimals `mean_std` would give it alone.
    pub fn value(&self, v: f64) -> String {
        let d = self.decimals_for(v, f64::NAN);
        format!("{v:.d$}")
    }

    /// The decimals for a mean and its spread: the declared ones, else [`decimals`].
    pub fn decimals_for(&self, mean: f64, std: f64) -> usize {
        self.decimals
            .map_or_else(|| decimals(mean, std), |d| d as usize)
    }
}

/// Decimals that show a mean with its spread: two significant digits of `std` (0.21 → 2,
/// 0.013 → 3, 2.5 → 1, 25 → 0) and the mean to the same place. Without a spread (zero, NaN:
/// one run, one value), four significant digits of the value (94.37 → 2, 0.8034 → 4). At most
/// [`MAX_DECIMALS`].
pub fn decimals(value: f64, std: f64) -> usize {
    let sig = |x: f64, digits: i32| -> usize {
        let place = x.abs().log10().floor() as i32;
        (digits - 1 - place).clamp(0, MAX_DECIMALS as i32) as usize
    };
    if std.is_finite() && std > 0.0 {
        sig(std, 2)
    } else if value.is_finite() && value != 0.0 {
        sig(value, 4)
    } else {
        2
    }
}

/// The folder of a run (`seed-<i>/`) where evaluators keep checkpoints of trainings that a
/// `[scheduler]` may promote.
pub const CHECKPOINT_DIR: &str = "checkpoints";

/// Where an evaluation belongs: the run folder and the query, for evaluators that keep files
/// per trial (the Slurm evaluator's job scripts, outputs and job ids).
#[derive(Debug, Clone, PartialEq)]
pub struct TrialContext {
    /// The run's folder (`seed-<i>`).
    pub dir: std::path::PathBuf,
    /// The 1-based query number, as journaled.
    pub query: u64,
    /// The fidelity to evaluate at, one of [`Evaluator::fidelities`] (`None`: the full one).
    pub fidelity: Option<f64>,
    /// Keep the trained weights in the run folder's [`WEIGHTS_DIR`] (`emprox run
    /// --keep-weights`), for evaluators that train a network; never changes the outcome.
    pub keep_weights: bool,
}

/// The folder of a run (`seed-<i>/`) where a training evaluator keeps the weights of the
/// networks it trained (`--keep-weights`).
pub const WEIGHTS_DIR: &str = "weights";

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

    /// Trial `trial` of `cell` (with the `rng` [`Evaluator::evaluate_trial`] was given) will
    /// never be continued: removes the files it kept for a promotion (a checkpoint), only
    /// those it wrote itself. A missing file is no error. The default keeps nothing.
    fn release(&self, trial: &TrialContext, cell: &C, rng: &mut dyn rand::RngCore) {
        let _ = (trial, cell, rng);
    }

    /// The fidelities [`Evaluator::evaluate_trial`] accepts in [`TrialContext::fidelity`],
    /// ascending, the full one last. Empty (the default): one fidelity, the full one.
    fn fidelities(&self) -> Vec<f64> {
        Vec::new()
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
    fn decimals_follow_the_spread() {
        assert_eq!(decimals(94.3, 0.21), 2);
        assert_eq!(decimals(0.803, 0.013), 3);
        assert_eq!(decimals(0.8, 0.0123), 3);
        assert_eq!(decimals(94.3, 2.5), 1);
        assert_eq!(decimals(1200.0, 25.0), 0);
        assert_eq!(decimals(0.8034, 0.0), 4);
        assert_eq!(decimals(94.37, f64::NAN), 2);
        assert_eq!(decimals(0.0, 0.0), 2);
        assert_eq!(decimals(1.0, 1e-300), MAX_DECIMALS as usize);
        // A table of fractions: the differences that matter stay visible.
        let s = Signal {
            metric: "acc".into(),
            label: None,
            unit: None,
            test: None,
            ..Signal::accuracy()
        };
        assert_eq!(s.mean_std(0.80312, 0.0112), "0.803 ± 0.011");
        assert_eq!(s.mean_std(94.301, 0.2111), "94.30 ± 0.21");
        let fixed = Signal {
            decimals: Some(4),
            ..s.clone()
        };
        assert_eq!(fixed.mean_std(0.80312, 0.0112), "0.8031 ± 0.0112");
        assert_eq!(fixed.value(2.0), "2.0000");
    }

    #[test]
    fn signal_labels() {
        let acc = Signal::accuracy();
        assert_eq!(acc.with_unit(&acc.val_label()), "validation accuracy (%)");
        assert_eq!(acc.test_label(), "test accuracy");
        let err = Signal {
            metric: "val_err".into(),
            goal: Goal::Minimize,
            test: Some("test_err".into()),
            label: None,
            unit: None,
            decimals: None,
        };
        assert_eq!(
            (err.val_label(), err.test_label()),
            ("val_err".into(), "test_err".into())
        );
        assert!(Signal {
            decimals: Some(13),
            ..err.clone()
        }
        .check()
        .is_err());
        assert!(Signal {
            label: Some("a\nb".into()),
            ..err.clone()
        }
        .check()
        .is_err());
        assert!(err.check().is_ok());
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
