//! Run results: the incumbent trajectory, per-run and aggregate `summary.json`.

use emprox_benchmarks::Signal;
use serde::{Deserialize, Serialize};

/// The best cell of a run (by its validation score, under the signal's goal).
///
/// `val_acc` and `test_acc` are the keys of the search signal and its test value whatever the
/// metric is (kept for compatibility): the summary's `objective` names the metric.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Best {
    /// Architecture string.
    pub arch: String,
    /// Benchmark index, where the space has one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub index: Option<u64>,
    /// Validation score (the search signal: accuracy in %, or the table's objective).
    pub val_acc: f64,
    /// Test score, reported only; null where the benchmark has no test value.
    pub test_acc: Option<f64>,
}

/// The incumbent after one query.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TrajectoryPoint {
    /// Query number.
    pub query: u64,
    /// Cumulative simulated seconds.
    pub sim_seconds: f64,
    /// Cumulative wall seconds spent fitting and querying the estimator (0 without a filter).
    pub estimator_seconds: f64,
    /// Index of the incumbent, where the space has one.
    pub index: Option<u64>,
    /// Architecture of the incumbent.
    pub arch: String,
    /// Incumbent validation accuracy (`best_val_acc` in `trajectory.csv`: `val_acc` is a
    /// query's own score in every file).
    #[serde(rename = "best_val_acc")]
    pub val_acc: f64,
    /// Incumbent test accuracy (`best_test_acc` in `trajectory.csv`); absent (an empty CSV
    /// field) where the benchmark has no test value.
    #[serde(rename = "best_test_acc")]
    pub test_acc: Option<f64>,
    /// Hypervolume of the evaluated cells by validation (several objectives only; see
    /// [`crate::objectives`]); absent, and no column, otherwise.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub hypervolume: Option<f64>,
    /// Hypervolume of the same non-dominated cells with their test values (reported only, never
    /// used by the search); absent, and no column, with one objective or without test values.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub test_hypervolume: Option<f64>,
}

/// The summary of one run.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RunSummary {
    /// Run number within the experiment (0-based; its folder is `seed-<run>`).
    pub run: u64,
    /// The run's seed (derived from the master seed).
    pub seed: u64,
    /// Queries made.
    pub queries: u64,
    /// Simulated training seconds spent.
    pub sim_seconds: f64,
    /// The best cell found, if any evaluation succeeded.
    pub best: Option<Best>,
    /// The query at which the final best was found.
    pub first_query_reaching_best: u64,
    /// Why the run stopped.
    pub stop_reason: crate::pipeline::stopping::StopReason,
    /// Failed evaluations.
    pub failed: u64,
    /// Wall seconds spent fitting the estimator (filtered runs).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub estimator_fit_seconds_total: Option<f64>,
    /// Wall seconds spent querying the estimator (filtered runs).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub estimator_query_seconds_total: Option<f64>,
    /// Several objectives: the run's final Pareto front (size, hypervolume).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub front: Option<FrontSummary>,
    /// With a `[scheduler]`: the fidelity whose trials alone may be the incumbent (`best`, the
    /// trajectory), the highest one; a cheaper fidelity's score never is.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub incumbent_fidelity: Option<f64>,
    /// With a `[scheduler]`: simulated training seconds spent at each fidelity, `[fidelity,
    /// seconds]` in the order first met.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub sim_seconds_by_fidelity: Vec<(f64, f64)>,
}

/// A run's final Pareto front (several objectives).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FrontSummary {
    /// Non-dominated evaluated cells (by validation; the rows of `pareto.csv` so marked).
    pub size: usize,
    /// Hypervolume of the evaluated cells by validation.
    pub hypervolume: f64,
    /// The same cells' hypervolume with their test values (reported only), where known.
    pub test_hypervolume: Option<f64>,
}

/// Mean and standard deviation of the incumbent's accuracy after a number of queries.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Checkpoint {
    /// Number of queries.
    pub queries: u64,
    /// Runs that reached this many queries.
    pub runs: usize,
    /// Mean incumbent test accuracy (null, read as NaN, where the benchmark has no test value).
    #[serde(deserialize_with = "null_as_nan")]
    pub mean_best_test_acc: f64,
    /// Standard deviation (sample) of the incumbent test accuracy.
    #[serde(deserialize_with = "null_as_nan")]
    pub std_best_test_acc: f64,
    /// Mean incumbent validation accuracy.
    #[serde(deserialize_with = "null_as_nan")]
    pub mean_best_val_acc: f64,
}

/// The aggregate `summary.json` of an experiment.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ExperimentSummary {
    /// Experiment name.
    pub experiment: String,
    /// Strategy name.
    pub strategy: String,
    /// Estimator filter, if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub estimator: Option<String>,
    /// Dataset name.
    pub dataset: String,
    /// The search signal: its metric, goal and display (absent in summaries written before
    /// it was recorded: validation accuracy, maximised).
    #[serde(default)]
    pub objective: Signal,
    /// The budget.
    pub budget: crate::config::Budget,
    /// One entry per run.
    pub runs: Vec<RunSummary>,
    /// Failed evaluations over all runs.
    #[serde(default)]
    pub failed: u64,
    /// Mean over runs of the best cell's test accuracy (null, read as NaN, when no run found
    /// any, or the benchmark has no test value).
    #[serde(deserialize_with = "null_as_nan")]
    pub mean_best_test_acc: f64,
    /// Standard deviation (sample) over runs of the best cell's test accuracy.
    #[serde(deserialize_with = "null_as_nan")]
    pub std_best_test_acc: f64,
    /// Mean over runs of the best validation accuracy.
    #[serde(deserialize_with = "null_as_nan")]
    pub mean_best_val_acc: f64,
    /// Incumbent accuracy after 10, 20, 50, 100, 150, ... queries.
    pub checkpoints: Vec<Checkpoint>,
}

impl ExperimentSummary {
    /// The best incumbent over the runs, by validation under the signal's goal (the first of
    /// equals), with its run.
    pub fn best(&self) -> Option<(&RunSummary, &Best)> {
        self.runs
            .iter()
            .filter_map(|r| r.best.as_ref().map(|b| (r, b)))
            .reduce(|a, b| {
                if self.objective.goal.better(b.1.val_acc, a.1.val_acc) {
                    b
                } else {
                    a
                }
            })
    }

    /// Mean and sample standard deviation over runs of the final fronts' hypervolume, its
    /// test counterpart (where every run has one) and the mean front size; `None` with one
    /// objective.
    pub fn fronts(&self) -> Option<Fronts> {
        let f: Vec<&FrontSummary> = self.runs.iter().filter_map(|r| r.front.as_ref()).collect();
        if f.is_empty() {
            return None;
        }
        let hv: Vec<f64> = f.iter().map(|x| x.hypervolume).collect();
        let test: Option<Vec<f64>> = f.iter().map(|x| x.test_hypervolume).collect();
        let sizes: Vec<f64> = f.iter().map(|x| x.size as f64).collect();
        Some(Fronts {
            hypervolume: mean_std(&hv),
            test_hypervolume: test.map(|t| mean_std(&t)),
            mean_size: mean_std(&sizes).0,
        })
    }
}

impl ExperimentSummary {
    /// Reads a `summary.json`; the error is one line naming the file.
    pub fn read(path: &std::path::Path) -> Result<ExperimentSummary, String> {
        let text = std::fs::read_to_string(path)
            .map_err(|e| format!("cannot read {}: {e}", path.display()))?;
        serde_json::from_str(&text)
            .map_err(|e| format!("{}: not an emprox summary: {e}", path.display()))
    }
}

/// Reads a run's `trajectory.csv`; the error is one line naming the file.
pub fn read_trajectory(path: &std::path::Path) -> Result<Vec<TrajectoryPoint>, String> {
    let mut r =
        csv::Reader::from_path(path).map_err(|e| format!("cannot read {}: {e}", path.display()))?;
    r.deserialize()
        .collect::<Result<_, _>>()
        .map_err(|e| format!("{}: not an emprox trajectory: {e}", path.display()))
}

/// The final fronts of an experiment's runs, over runs.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Fronts {
    /// Hypervolume by validation: mean and sample std.
    pub hypervolume: (f64, f64),
    /// With test values: mean and sample std.
    pub test_hypervolume: Option<(f64, f64)>,
    /// Mean number of non-dominated cells.
    pub mean_size: f64,
}

/// Reads a number, or null (how serde_json writes NaN) as NaN.
fn null_as_nan<'de, D: serde::Deserializer<'de>>(d: D) -> Result<f64, D::Error> {
    Ok(Option::<f64>::deserialize(d)?.unwrap_or(f64::NAN))
}

/// Mean and sample standard deviation (one definition, with the predictor metrics).
pub use emprox_estimators::metrics::mean_std;

/// Query counts at which the aggregate reports the incumbent.
pub fn checkpoint_queries(max: u64) -> Vec<u64> {
    let mut out: Vec<u64> = [10, 20, 50, 100, 150, 200, 300, 500, 1000]
        .into_iter()
        .filter(|&q| q < max)
        .collect();
    out.push(max);
    out
}

/// Builds the aggregate summary from the runs and their trajectories.
pub fn aggregate(
    experiment: &crate::config::Experiment,
    dataset: &str,
    objective: &Signal,
    estimator: Option<String>,
    runs: Vec<RunSummary>,
    trajectories: &[Vec<TrajectoryPoint>],
) -> ExperimentSummary {
    let tests: Vec<f64> = runs
        .iter()
        .filter_map(|r| r.best.as_ref().and_then(|b| b.test_acc))
        .collect();
    let vals: Vec<f64> = runs
        .iter()
        .filter_map(|r| r.best.as_ref().map(|b| b.val_acc))
        .collect();
    let (mean_test, std_test) = mean_std(&tests);
    let max_q = trajectories
        .iter()
        .map(|t| t.len() as u64)
        .max()
        .unwrap_or(0);
    let checkpoints = if max_q == 0 {
        vec![]
    } else {
        checkpoint_queries(max_q)
            .into_iter()
            .map(|q| {
                let pts: Vec<&TrajectoryPoint> = trajectories
                    .iter()
                    .filter_map(|t| t.get(q as usize - 1))
                    .collect();
                let t: Vec<f64> = pts.iter().filter_map(|p| p.test_acc).collect();
                let v: Vec<f64> = pts.iter().map(|p| p.val_acc).collect();
                let (m, s) = mean_std(&t);
                Checkpoint {
                    queries: q,
                    runs: pts.len(),
                    mean_best_test_acc: m,
                    std_best_test_acc: s,
                    mean_best_val_acc: mean_std(&v).0,
                }
            })
            .collect()
    };
    ExperimentSummary {
        experiment: experiment.name.clone(),
        strategy: experiment.strategy.name().to_string(),
        estimator,
        dataset: dataset.to_string(),
        objective: objective.clone(),
        budget: experiment.budget.clone(),
        failed: runs.iter().map(|r| r.failed).sum(),
        runs,
        mean_best_test_acc: mean_test,
        std_best_test_acc: std_test,
        mean_best_val_acc: mean_std(&vals).0,
        checkpoints,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mean_and_sample_std() {
        let (m, s) = mean_std(&[1.0, 2.0, 3.0, 4.0]);
        assert_eq!(m, 2.5);
        assert!((s - 1.2909944487358056).abs() < 1e-12);
        assert_eq!(mean_std(&[5.0]), (5.0, 0.0));
        assert_eq!(checkpoint_queries(150), vec![10, 20, 50, 100, 150]);
        assert_eq!(checkpoint_queries(120), vec![10, 20, 50, 100, 120]);
    }

    #[test]
    fn a_summary_without_any_success_reads_back() {
        let s = ExperimentSummary {
            experiment: "x".into(),
            strategy: "random".into(),
            estimator: None,
            dataset: "external".into(),
            objective: Signal::accuracy(),
            budget: crate::config::Budget::default(),
            failed: 3,
            runs: vec![],
            mean_best_test_acc: f64::NAN,
            std_best_test_acc: f64::NAN,
            mean_best_val_acc: f64::NAN,
            checkpoints: vec![],
        };
        let back: ExperimentSummary =
            serde_json::from_slice(&serde_json::to_vec(&s).unwrap()).unwrap();
        assert!(back.mean_best_test_acc.is_nan() && back.mean_best_val_acc.is_nan());
        assert_eq!(back.failed, 3);
    }
}
