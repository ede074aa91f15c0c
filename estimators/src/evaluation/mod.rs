//! The predictor-evaluation protocol of NASLib (White et al. 2021) behind
//! `emprox eval-predictors`: per trial, sample train and test architectures, fit every estimator
//! on each training size, query the test set, and record rank correlations, errors, precision@k
//! and wall times, keeping the raw predictions and the exact splits.

pub mod plots;
pub mod report;
pub mod splits;

use crate::config::EstimatorConfig;
use crate::estimator::Estimator;
use crate::metrics::Metrics;
use emprox_benchmarks::config::BenchmarkConfig;
use emprox_benchmarks::nb201::{Dataset, Nb201Data, Nb201Space, NoiseModel};
use emprox_benchmarks::{seed, DataError, SearchSpace};
use rand::Rng as _;
use rayon::prelude::*;
use report::SummaryRow;
use serde::{Deserialize, Serialize};
use splits::{Split, SplitsFile};
use std::collections::{BTreeMap, HashSet};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Instant;
use thiserror::Error;

/// An estimator with its label in results.
pub type Labelled = (String, Box<dyn Estimator<Nb201Space>>);

/// A predictor-evaluation file.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PredictorEvalConfig {
    /// The benchmark whose validation accuracies are the targets.
    pub benchmark: BenchmarkConfig,
    /// The protocol.
    pub evaluation: EvaluationSettings,
    /// The estimators compared (`[[estimators]]`).
    pub estimators: Vec<EstimatorConfig>,
}

fn default_test_size() -> usize {
    200
}
fn default_trials() -> usize {
    20
}
fn default_jobs() -> usize {
    1
}

/// The `[evaluation]` table.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EvaluationSettings {
    /// Training-set sizes n (nested: the training set of a smaller n is a prefix of a larger).
    pub train_sizes: Vec<usize>,
    /// Test architectures per trial (default 200).
    #[serde(default = "default_test_size")]
    pub test_size: usize,
    /// Trials (seeds) per training size (default 20).
    #[serde(default = "default_trials")]
    pub trials: usize,
    /// More trials for some sizes, e.g. `trials_per_size = { 121 = 50 }`.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub trials_per_size: BTreeMap<String, usize>,
    /// Master seed (default 0).
    #[serde(default)]
    pub seed: u64,
    /// A `splits.json` to reuse instead of sampling (relative to the evaluation file).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub splits: Option<PathBuf>,
    /// Trials run at once (default 1). Above 1, fit and query times overlap and are flagged.
    #[serde(default = "default_jobs")]
    pub jobs: usize,
    /// Save the fitted models of trial 0 (where the estimator supports it) under `models/`.
    #[serde(default)]
    pub save_models: bool,
}

/// Why an evaluation failed.
#[derive(Debug, Error)]
pub enum EvalError {
    /// The file is inconsistent.
    #[error("{0}")]
    Config(String),
    /// The benchmark table could not be loaded.
    #[error(transparent)]
    Data(#[from] DataError),
    /// An estimator failed.
    #[error("estimator `{estimator}` (trial {trial}, n = {train_size}): {source}")]
    Estimator {
        /// Label.
        estimator: String,
        /// Trial.
        trial: usize,
        /// Training size.
        train_size: usize,
        /// Cause.
        #[source]
        source: crate::EstimatorError,
    },
    /// A file could not be read or written.
    #[error("{path}: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// Cause.
        #[source]
        source: std::io::Error,
    },
}

/// One (trial, estimator, train size) result with its raw predictions.
#[derive(Debug, Clone)]
pub struct Row {
    /// Trial.
    pub trial: usize,
    /// Estimator label.
    pub estimator: String,
    /// Training-set size.
    pub train_size: usize,
    /// Metrics on the test set.
    pub metrics: Metrics,
    /// Fit wall time (s).
    pub fit_seconds: f64,
    /// Fit CPU time of the fitting thread (s; NaN where unavailable): robust to other load.
    pub fit_cpu_seconds: f64,
    /// Query wall time per test architecture (s).
    pub query_seconds_per_arch: f64,
    /// Test architectures (NB201 indices).
    pub test: Vec<usize>,
    /// Their true validation accuracies.
    pub truth: Vec<f64>,
    /// The predictions.
    pub predicted: Vec<f64>,
}

impl EvaluationSettings {
    /// Trials run for training size `n`.
    pub fn trials_for(&self, n: usize) -> usize {
        self.trials_per_size
            .get(&n.to_string())
            .copied()
            .unwrap_or(self.trials)
    }

    fn max_trials(&self) -> usize {
        self.train_sizes
            .iter()
            .map(|&n| self.trials_for(n))
            .max()
            .unwrap_or(0)
    }
}

impl PredictorEvalConfig {
    /// Checks the file beyond its syntax and builds the estimators.
    pub fn validate(&self) -> Result<Vec<Labelled>, EvalError> {
        let e = &self.evaluation;
        let bad = |m: String| Err(EvalError::Config(m));
        if e.train_sizes.is_empty() || e.train_sizes.contains(&0) {
            return bad("`evaluation.train_sizes` must be a non-empty list of sizes >= 1".into());
        }
        if e.test_size == 0 || e.trials == 0 || e.jobs == 0 {
            return bad("`evaluation.test_size`, `trials` and `jobs` must be >= 1".into());
        }
        for (k, &v) in &e.trials_per_size {
            match k.parse::<usize>() {
                Ok(n) if e.train_sizes.contains(&n) && v >= 1 => {}
                _ => {
                    return bad(format!(
                        "`evaluation.trials_per_size`: `{k} = {v}` must name a size of train_sizes and give >= 1 trials"
                    ))
                }
            }
        }
        let max_n = *e.train_sizes.iter().max().expect("non-empty");
        // NB201 has 6,466 isomorphism classes; train and test never share one.
        if max_n + e.test_size > 6466 {
            return bad(format!(
                "largest train size {max_n} + test size {} exceeds the 6466 isomorphism classes of NAS-Bench-201",
                e.test_size
            ));
        }
        if self.estimators.is_empty() {
            return bad("no `[[estimators]]` given".into());
        }
        let mut labels = HashSet::new();
        let mut out = Vec::new();
        for (i, c) in self.estimators.iter().enumerate() {
            let label = c.label();
            if !labels.insert(label.clone()) {
                return bad(format!(
                    "two estimators are labelled `{label}`: give one a `name`"
                ));
            }
            let est = c.build::<Nb201Space>().map_err(|e| {
                EvalError::Config(format!("[[estimators]] table {} of the file: {e}", i + 1))
            })?;
            let min = est.needs().min_train_size;
            if e.train_sizes.iter().any(|&n| n < min) {
                return bad(format!(
                    "estimator `{label}` needs at least {min} training architectures"
                ));
            }
            out.push((label, est));
        }
        Ok(out)
    }
}

/// What a finished evaluation returns.
#[derive(Debug, Clone)]
pub struct Outcome {
    /// Per (estimator, train size) means and stds.
    pub summary: Vec<SummaryRow>,
    /// The Markdown table (also in `summary.md`).
    pub markdown: String,
}

/// CPU time consumed by the calling thread (s); NaN where the platform does not say.
pub fn thread_cpu_seconds() -> f64 {
    #[cfg(unix)]
    {
        let mut ts = libc::timespec {
            tv_sec: 0,
            tv_nsec: 0,
        };
        // SAFETY: clock_gettime writes into the timespec we own.
        if unsafe { libc::clock_gettime(libc::CLOCK_THREAD_CPUTIME_ID, &mut ts) } == 0 {
            return ts.tv_sec as f64 + ts.tv_nsec as f64 * 1e-9;
        }
    }
    f64::NAN
}

fn load_splits(path: &Path) -> Result<SplitsFile, EvalError> {
    let text = std::fs::read_to_string(path).map_err(|source| EvalError::Io {
        path: path.to_path_buf(),
        source,
    })?;
    serde_json::from_str(&text).map_err(|e| EvalError::Config(format!("{}: {e}", path.display())))
}

/// Runs the evaluation described by `cfg`, writing every output into `out`. `base` is the folder
/// of the evaluation file (for a relative `splits` path); `log` receives progress lines.
pub fn run(
    cfg: &PredictorEvalConfig,
    out: &Path,
    base: &Path,
    log: &(dyn Fn(&str) + Sync),
) -> Result<Outcome, EvalError> {
    let estimators = cfg.validate()?;
    let ev = &cfg.evaluation;
    let data: Arc<Nb201Data> = cfg.benchmark.load_nb201()?;
    let space = Nb201Space::new(data.clone());
    let dataset: Dataset = cfg.benchmark.dataset().map_err(EvalError::Config)?;
    let max_n = *ev.train_sizes.iter().max().expect("validated");
    let n_trials = ev.max_trials();
    let splits: Vec<Split> = match &ev.splits {
        Some(p) => {
            let p = if p.is_absolute() {
                p.clone()
            } else {
                base.join(p)
            };
            let f = load_splits(&p)?;
            if f.space != space.name() {
                return Err(EvalError::Config(format!(
                    "{}: splits are for space {:?}",
                    p.display(),
                    f.space
                )));
            }
            if f.trials.len() < n_trials {
                return Err(EvalError::Config(format!(
                    "{}: {} trials, {n_trials} needed",
                    p.display(),
                    f.trials.len()
                )));
            }
            for s in &f.trials[..n_trials] {
                splits::check(&space, s, max_n, ev.test_size)
                    .map_err(|m| EvalError::Config(format!("{}: {m}", p.display())))?;
            }
            f.trials[..n_trials].to_vec()
        }
        None => (0..n_trials)
            .map(|t| splits::sample(&space, ev.seed, t, max_n, ev.test_size))
            .collect(),
    };
    std::fs::create_dir_all(out).map_err(|source| EvalError::Io {
        path: out.to_path_buf(),
        source,
    })?;
    let splits_json = serde_json::to_string(&SplitsFile {
        space: space.name().into(),
        trials: splits.clone(),
    })
    .expect("splits serialise");
    report::write_text(&out.join("splits.json"), &splits_json)?;

    let truth_of = |i: usize| data.by_index(i).expect("index").metrics(dataset).val_acc;
    let run_trial = |split: &Split| -> Result<Vec<Row>, EvalError> {
        let t = split.trial;
        let trial_seed = seed::derive(ev.seed, &format!("trial-{t}"));
        let mut noise = seed::stream(trial_seed, "noise");
        let train_targets: Vec<f64> = split
            .train
            .iter()
            .map(|&i| {
                let m = data.by_index(i).expect("index").metrics(dataset);
                match cfg.benchmark.noise {
                    NoiseModel::Mean => m.val_acc,
                    NoiseModel::Sample => {
                        m.val_acc_runs[noise.random_range(0..m.val_acc_runs.len())]
                    }
                }
            })
            .collect();
        let train_cells: Vec<_> = split
            .train
            .iter()
            .map(|&i| space.cell_at(i).expect("index"))
            .collect();
        let test_cells: Vec<_> = split
            .test
            .iter()
            .map(|&i| space.cell_at(i).expect("index"))
            .collect();
        let truth: Vec<f64> = split.test.iter().map(|&i| truth_of(i)).collect();
        let mut rows = Vec::new();
        for &n in &ev.train_sizes {
            if t >= ev.trials_for(n) {
                continue;
            }
            for (label, est) in &estimators {
                let mut rng = seed::stream(trial_seed, &format!("{label}/n={n}"));
                let wrap = |source| EvalError::Estimator {
                    estimator: label.clone(),
                    trial: t,
                    train_size: n,
                    source,
                };
                let c0 = thread_cpu_seconds();
                let t0 = Instant::now();
                let fitted = est
                    .fit(&space, &train_cells[..n], &train_targets[..n], &mut rng)
                    .map_err(wrap)?;
                let fit_seconds = t0.elapsed().as_secs_f64();
                let fit_cpu_seconds = thread_cpu_seconds() - c0;
                let t1 = Instant::now();
                let predicted = fitted.predict(&space, &test_cells).map_err(wrap)?;
                let query = t1.elapsed().as_secs_f64() / test_cells.len() as f64;
                if ev.save_models && t == 0 {
                    let dir = out.join("models").join(format!("{label}-n{n}"));
                    match fitted.save(&dir) {
                        Ok(()) => log(&format!("saved {}", dir.display())),
                        Err(crate::EstimatorError::Unsupported(_)) => {}
                        Err(e) => return Err(wrap(e)),
                    }
                }
                let metrics = Metrics::compute(&truth, &predicted);
                log(&format!(
                    "trial {t:>3}  n={n:<5} {label:<14} tau {:>6.3}  fit {fit_seconds:>7.3}s",
                    metrics.kendall_tau
                ));
                rows.push(Row {
                    trial: t,
                    estimator: label.clone(),
                    train_size: n,
                    metrics,
                    fit_seconds,
                    fit_cpu_seconds,
                    query_seconds_per_arch: query,
                    test: split.test.clone(),
                    truth: truth.clone(),
                    predicted,
                });
            }
        }
        Ok(rows)
    };
    let per_trial: Vec<Result<Vec<Row>, EvalError>> = if ev.jobs > 1 {
        let pool = rayon::ThreadPoolBuilder::new()
            .num_threads(ev.jobs)
            .build()
            .map_err(|e| EvalError::Config(format!("thread pool: {e}")))?;
        pool.install(|| splits.par_iter().map(run_trial).collect())
    } else {
        splits.iter().map(run_trial).collect()
    };
    let mut rows = Vec::new();
    for r in per_trial {
        rows.extend(r?);
    }
    let labels: Vec<String> = estimators.iter().map(|e| e.0.clone()).collect();
    let summary = report::summarise(&rows, &labels, &ev.train_sizes);
    report::write_results(&out.join("results.csv"), &rows)?;
    report::write_predictions(&out.join("predictions.csv"), &rows, &|i| {
        space.format(&space.cell_at(i).expect("index"))
    })?;
    let json = serde_json::json!({
        "benchmark": cfg.benchmark,
        "evaluation": ev,
        "estimators": cfg.estimators,
        "timing": if ev.jobs > 1 { "overlapping: trials ran in parallel" } else { "one fit at a time" },
        "results": summary,
    });
    report::write_text(
        &out.join("summary.json"),
        &serde_json::to_string_pretty(&json).expect("summary serialises"),
    )?;
    let markdown = report::markdown(&summary);
    report::write_text(&out.join("summary.md"), &markdown)?;
    plots::write(out, &summary, &labels)?;
    Ok(Outcome { summary, markdown })
}
