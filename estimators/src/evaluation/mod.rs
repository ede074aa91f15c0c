//! The predictor-evaluation protocol of NASLib (White et al. 2021) behind
//! `emprox eval-predictors`: per trial, sample train and test architectures, fit every estimator
//! on each training size, query the test set, and record rank correlations, errors, precision@k
//! and wall times, keeping the raw predictions and the exact splits.

pub mod plots;
pub mod pools;
pub mod report;
pub mod splits;

use crate::config::EstimatorConfig;
use crate::estimator::Estimator;
use crate::metrics::Metrics;
use emprox_benchmarks::config::{BenchmarkConfig, Lookup, OpenError, WithLookup};
use emprox_benchmarks::workers::MAX_THREADS;
use emprox_benchmarks::{seed, DataError, Goal, SearchSpace};
use rayon::prelude::*;
use report::SummaryRow;
use serde::{Deserialize, Serialize};
use splits::{Split, SplitsFile};
use std::collections::{BTreeMap, HashMap, HashSet};
use std::path::{Path, PathBuf};
use std::time::Instant;
use thiserror::Error;

/// An estimator with its label in results.
pub type Labelled<S> = (String, Box<dyn Estimator<S>>);

/// A predictor-evaluation file.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PredictorEvalConfig {
    /// The benchmark whose validation scores are the targets (any `[benchmark]`, as in an
    /// experiment file; relative paths are against the evaluation file's folder).
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

/// The most trials of one training size (`trials` and each value of `trials_per_size`): every
/// trial's split is held in memory and written to `splits.json`.
pub const MAX_TRIALS: usize = 10_000;

/// The `[evaluation]` table.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EvaluationSettings {
    /// `naslib`, the default (`pools` is [`pools::PoolSettings`]).
    #[serde(default, skip_serializing_if = "pools::Protocol::is_naslib")]
    pub protocol: pools::Protocol,
    /// Training-set sizes n (nested: the training set of a smaller n is a prefix of a larger).
    pub train_sizes: Vec<usize>,
    /// Test architectures per trial (default 200).
    #[serde(default = "default_test_size")]
    pub test_size: usize,
    /// Trials (seeds) per training size (default 20; at most [`MAX_TRIALS`]).
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
    /// Trials run at once (default 1; at most [`MAX_THREADS`], one thread each). Above 1, fit
    /// and query times overlap and are flagged.
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
    /// The benchmark could not be opened.
    #[error(transparent)]
    Benchmark(#[from] OpenError),
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
    /// Test architectures (the benchmark's indices: NB201 index, row of the file).
    pub test: Vec<usize>,
    /// Their true validation scores (the noise-free lookup, in the objective's units).
    pub truth: Vec<f64>,
    /// The predictions (in the objective's units).
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
    /// Checks the file beyond its syntax: opens the benchmark (relative paths against `base`,
    /// the evaluation file's folder) and builds the estimators for its space. Gives the labels.
    pub fn validate(&self, base: &Path) -> Result<Vec<String>, EvalError> {
        self.check()?;
        self.benchmark.open_lookup(base, Validate(self))?
    }

    /// The checks that need no benchmark.
    fn check(&self) -> Result<(), EvalError> {
        let e = &self.evaluation;
        let bad = |m: String| Err(EvalError::Config(m));
        if e.train_sizes.is_empty() || e.train_sizes.contains(&0) {
            return bad("`evaluation.train_sizes` must be a non-empty list of sizes >= 1".into());
        }
        let sizes = &e.train_sizes;
        if let Some(n) =
            (1..sizes.len()).find_map(|i| sizes[..i].contains(&sizes[i]).then_some(sizes[i]))
        {
            return bad(format!(
                "`evaluation.train_sizes` holds {n} twice: each size is one row of the results"
            ));
        }
        if e.test_size == 0 || e.trials == 0 || e.jobs == 0 {
            return bad("`evaluation.test_size`, `trials` and `jobs` must be >= 1".into());
        }
        if e.jobs > MAX_THREADS {
            return bad(format!(
                "`evaluation.jobs` must be at most {MAX_THREADS} (one thread each), got {}",
                e.jobs
            ));
        }
        if e.trials > MAX_TRIALS {
            return bad(format!(
                "`evaluation.trials` must be at most {MAX_TRIALS}, got {}",
                e.trials
            ));
        }
        for (k, &v) in &e.trials_per_size {
            match k.parse::<usize>() {
                Ok(n) if e.train_sizes.contains(&n) && (1..=MAX_TRIALS).contains(&v) => {}
                _ => {
                    return bad(format!(
                        "`evaluation.trials_per_size`: `{k} = {v}` must name a size of train_sizes and give 1 to {MAX_TRIALS} trials"
                    ))
                }
            }
        }
        if self.estimators.is_empty() {
            return bad("no `[[estimators]]` given".into());
        }
        Ok(())
    }

    /// Builds the estimators for the space of `lookup`, checking that train and test sets fit in
    /// its isomorphism classes (train and test never share one).
    fn build<S: SearchSpace + 'static>(
        &self,
        lookup: &Lookup<S>,
    ) -> Result<Vec<Labelled<S>>, EvalError> {
        let e = &self.evaluation;
        let bad = |m: String| Err(EvalError::Config(m));
        let max_n = *e.train_sizes.iter().max().expect("checked non-empty");
        let classes = iso_classes(lookup);
        if max_n + e.test_size > classes {
            return bad(format!(
                "largest train size {max_n} + test size {} exceeds the {classes} isomorphism classes of {}",
                e.test_size,
                lookup.space.name()
            ));
        }
        let out = build_labelled::<S>(&self.estimators)?;
        for (label, est) in &out {
            let min = est.needs().min_train_size;
            if e.train_sizes.iter().any(|&n| n < min) {
                return bad(format!(
                    "estimator `{label}` needs at least {min} training architectures"
                ));
            }
        }
        Ok(out)
    }
}

/// Builds the `[[estimators]]` of a file for space `S`, with their labels (unique).
pub fn build_labelled<S: SearchSpace + 'static>(
    estimators: &[EstimatorConfig],
) -> Result<Vec<Labelled<S>>, EvalError> {
    let mut labels = HashSet::new();
    let mut out = Vec::new();
    for (i, c) in estimators.iter().enumerate() {
        let label = c.label();
        if !labels.insert(label.clone()) {
            return Err(EvalError::Config(format!(
                "two estimators are labelled `{label}`: give one a `name`"
            )));
        }
        let est = c.build::<S>().map_err(|e| {
            EvalError::Config(format!("[[estimators]] table {} of the file: {e}", i + 1))
        })?;
        out.push((label, est));
    }
    Ok(out)
}

/// The number of isomorphism classes of a looked-up space (counted over its cells).
pub fn iso_classes<S: SearchSpace>(lookup: &Lookup<S>) -> usize {
    lookup
        .cells
        .iter()
        .map(|c| lookup.space.iso_key(c))
        .collect::<HashSet<_>>()
        .len()
}

struct Validate<'a>(&'a PredictorEvalConfig);

impl WithLookup for Validate<'_> {
    type Output = Result<Vec<String>, EvalError>;
    fn with<S: SearchSpace + 'static>(self, lookup: Lookup<S>) -> Self::Output {
        Ok(self.0.build(&lookup)?.into_iter().map(|e| e.0).collect())
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
/// of the evaluation file (for relative `splits` and benchmark paths); `log` receives progress
/// lines.
///
/// Targets are the benchmark evaluator's validation scores (with its noise model); the truth of
/// a test architecture is the noise-free lookup. Estimators, like searches, maximise: for a
/// minimised objective, targets and truths are negated before fitting and scoring, so that a
/// good predictor has a positive rank correlation and precision@k counts the best (lowest)
/// architectures; `predictions.csv` is written in the objective's own units.
pub fn run(
    cfg: &PredictorEvalConfig,
    out: &Path,
    base: &Path,
    log: &(dyn Fn(&str) + Sync),
) -> Result<Outcome, EvalError> {
    cfg.check()?;
    cfg.benchmark.open_lookup(
        base,
        Run {
            cfg,
            out,
            base,
            log,
        },
    )?
}

struct Run<'a> {
    cfg: &'a PredictorEvalConfig,
    out: &'a Path,
    base: &'a Path,
    log: &'a (dyn Fn(&str) + Sync),
}

impl WithLookup for Run<'_> {
    type Output = Result<Outcome, EvalError>;
    fn with<S: SearchSpace + 'static>(self, lookup: Lookup<S>) -> Self::Output {
        run_on(self.cfg, &lookup, self.out, self.base, self.log)
    }
}

fn run_on<S: SearchSpace + 'static>(
    cfg: &PredictorEvalConfig,
    lookup: &Lookup<S>,
    out: &Path,
    base: &Path,
    log: &(dyn Fn(&str) + Sync),
) -> Result<Outcome, EvalError> {
    let estimators = cfg.build(lookup)?;
    let ev = &cfg.evaluation;
    let space = &lookup.space;
    // A space that does not index its cells (a declared space joined to a table) names each
    // labelled cell by its place among them.
    let indexed = lookup.cells.iter().all(|c| space.index(c).is_some());
    let by_index: HashMap<usize, S::Cell> = lookup
        .cells
        .iter()
        .enumerate()
        .map(|(p, c)| (space.index(c).map_or(p, |i| i as usize), c.clone()))
        .collect();
    let cell = |i: usize| by_index[&i].clone();
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
                splits::check(&|i| by_index.contains_key(&i), s, max_n, ev.test_size)
                    .map_err(|m| EvalError::Config(format!("{}: {m}", p.display())))?;
            }
            f.trials[..n_trials].to_vec()
        }
        None => (0..n_trials)
            .map(|t| {
                let cells = (!indexed).then_some(&lookup.cells[..]);
                splits::sample(space, cells, ev.seed, t, max_n, ev.test_size)
            })
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

    // Estimators maximise: a minimised objective is scored negated (and written back as it is).
    let sign = match lookup.evaluator.goal() {
        Goal::Maximize => 1.0,
        Goal::Minimize => -1.0,
    };
    let score = |e: &dyn emprox_benchmarks::Evaluator<S::Cell>,
                 c: &S::Cell,
                 rng: &mut dyn rand::RngCore|
     -> Result<f64, EvalError> {
        e.evaluate(c, rng).map(|o| sign * o.val_acc).map_err(|f| {
            EvalError::Config(format!(
                "{}: cannot look up {}: {f}",
                space.name(),
                space.format(c)
            ))
        })
    };
    let run_trial = |split: &Split| -> Result<Vec<Row>, EvalError> {
        let t = split.trial;
        let trial_seed = seed::derive(ev.seed, &format!("trial-{t}"));
        let mut noise = seed::stream(trial_seed, "noise");
        let train_cells: Vec<S::Cell> = split.train.iter().map(|&i| cell(i)).collect();
        let test_cells: Vec<S::Cell> = split.test.iter().map(|&i| cell(i)).collect();
        let train_targets = train_cells
            .iter()
            .map(|c| score(&*lookup.evaluator, c, &mut noise))
            .collect::<Result<Vec<f64>, _>>()?;
        let mut unused = seed::stream(trial_seed, "truth");
        let truth = test_cells
            .iter()
            .map(|c| score(&*lookup.noise_free, c, &mut unused))
            .collect::<Result<Vec<f64>, _>>()?;
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
                    .fit(space, &train_cells[..n], &train_targets[..n], &mut rng)
                    .map_err(wrap)?;
                let fit_seconds = t0.elapsed().as_secs_f64();
                let fit_cpu_seconds = thread_cpu_seconds() - c0;
                let t1 = Instant::now();
                let predicted = fitted.predict(space, &test_cells).map_err(wrap)?;
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
                    truth: truth.iter().map(|v| sign * v).collect(),
                    predicted: predicted.iter().map(|v| sign * v).collect(),
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
        space.format(&by_index[&i])
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
